# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What module kubelet_config does on a host: the ConfigMap through kubectl, the node's file, the kubelet's restart."""
from __future__ import annotations

import json
import os
import time

from ansible.module_utils.urls import open_url
from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubelet_config as kc
from ansible_collections.kubeseed.cluster.plugins.module_utils._files import write_atomic
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubectl import Kubectl

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - depends on the host
    HAS_YAML = False

CONFIG_MAP = ('kube-system', 'kubelet-config')
KEYS_CONFIG_MAP = ('kube-system', kc.KEYS_CONFIG_MAP)
POLL_SECONDS = 2
SETTLE_SECONDS = 4


def _wanted(module) -> dict:
    params = module.params
    problems = kc.extra_problems(params['extra'])
    if problems:
        module.fail_json(msg='; '.join(problems) + '. Nothing was changed.')
    return kc.fields(params['cgroup_v1'], params['shared_disk'], params['extra'], params['serving_certificates'])


def _diff(before: dict, after: dict, keys, header: str) -> dict:
    return {'before': yaml.safe_dump(kc.managed_view(before, keys), default_flow_style=False),
            'after': yaml.safe_dump(kc.managed_view(after, keys), default_flow_style=False),
            'before_header': '%s (the fields kubeseed manages)' % header, 'after_header': header}


def _require_yaml(module) -> None:
    if not HAS_YAML:
        module.fail_json(msg='python3-yaml is missing on this host (role node installs it)')


def cluster(module) -> dict:
    """Converge the ConfigMap kube-system/kubelet-config and kubeseed's record of the keys it owns."""
    wanted = _wanted(module)
    kubectl = Kubectl(module, module.params['kubeconfig'])
    if kubectl.cluster_missing():
        if module.check_mode:  # before kubeadm init: the init writes these fields, then a run records their keys
            return {'changed': bool(wanted) and module.params['apply'], 'differs': bool(wanted), 'changes': [], 'owned': sorted(wanted),
                    'msg': 'no cluster yet (check mode): kubeadm init writes the kubelet configuration, then its keys are recorded'}
        kubectl.require()
        module.fail_json(msg='no admin kubeconfig at %s: run this on an initialised control plane' % kubectl.kubeconfig)
    _require_yaml(module)
    live = _get(module, kubectl, CONFIG_MAP, required=True)
    record = _get(module, kubectl, KEYS_CONFIG_MAP, required=False)
    owned = kc.owned_keys(((record or {}).get('data') or {}).get('keys'))
    try:
        config = yaml.safe_load((live.get('data') or {}).get('kubelet') or '') or {}
    except yaml.YAMLError as exc:
        module.fail_json(msg='ConfigMap %s/%s: its kubelet configuration is not YAML: %s' % (CONFIG_MAP + (exc,)))
    new, changes = kc.converge(config, wanted, owned)
    new_owned = sorted(set(owned) | set(wanted))
    record_changed = new_owned != owned
    if record_changed:
        changes.append('keys kubeseed manages (ConfigMap %s/%s): %s' % (KEYS_CONFIG_MAP + (','.join(new_owned),)))
    result = {'changed': bool(changes) and module.params['apply'], 'differs': bool(changes), 'changes': changes, 'owned': new_owned}
    if result['changed'] and module._diff:
        result['diff'] = _diff(config, new, new_owned, 'ConfigMap %s/%s' % CONFIG_MAP)
    if not result['changed'] or module.check_mode:
        return result
    if new != config:
        # replace carries the resourceVersion it read: a concurrent change makes it fail instead of being overwritten
        _write(module, kubectl, 'replace', dict(live, data=dict(live.get('data') or {}, kubelet=yaml.safe_dump(new, default_flow_style=False))),
               changes)
    if record_changed:
        namespace, name = KEYS_CONFIG_MAP
        body = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'data': {'keys': ','.join(new_owned)},
                'metadata': {'name': name, 'namespace': namespace, 'labels': {'app.kubernetes.io/managed-by': 'kubeseed'}}}
        if record is not None:
            body['metadata']['resourceVersion'] = record['metadata']['resourceVersion']
        _write(module, kubectl, 'replace' if record is not None else 'create', body, changes)
    return result


def _get(module, kubectl, where: tuple, required: bool):
    namespace, name = where
    found, error = kubectl.json('get', 'configmap', name, '--namespace', namespace)
    if found is None and (required or 'NotFound' not in (error or '')):
        module.fail_json(msg='ConfigMap %s/%s: %s' % (namespace, name, error))
    return found


def _write(module, kubectl, verb: str, body: dict, changes: list) -> None:
    rc, out, err = module.run_command([kubectl.binary, '--kubeconfig', kubectl.kubeconfig, verb, '-f', '-'], data=json.dumps(body))
    if rc != 0:
        where = '%s/%s' % (body['metadata']['namespace'], body['metadata']['name'])
        module.fail_json(msg='ConfigMap %s: kubectl %s failed: %s' % (where, verb, (err or out).strip()[-1000:]), changes=changes)


def _read_node_config(module, path: str):
    try:
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    _require_yaml(module)  # only a node in a cluster needs it (a bare host gets python3-yaml from role node later)
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        module.fail_json(msg='%s is not YAML: %s' % (path, exc))
        raise  # unreachable: fail_json exits


def node(module) -> dict:
    """Compare (and with apply, converge) this node's kubelet configuration file; restart the kubelet when it changed."""
    params = module.params
    wanted = _wanted(module)
    path = params['path']
    config = _read_node_config(module, path)
    if config is None:  # not in a cluster yet: kubeadm init or join writes the file from the cluster's configuration
        return {'changed': False, 'differs': False, 'changes': [], 'owned': [], 'msg': '%s: not in a cluster yet' % path}
    problem = kc.cgroup_driver_problem(str(config.get('cgroupDriver') or ''), params['cgroup_driver'], path)
    if problem:
        module.fail_json(msg=problem)
    new, changes = kc.converge(config, wanted, params['owned'])
    result = {'changed': False, 'differs': bool(changes), 'changes': changes, 'owned': list(params['owned'])}
    if not changes or not params['apply']:
        return result
    result['changed'] = True
    if module._diff:
        result['diff'] = _diff(config, new, set(params['owned']) | set(wanted), path)
    if module.check_mode:
        return result
    with open(path, 'rb') as handle:
        previous = handle.read()
    mode = os.stat(path).st_mode & 0o7777
    write_atomic(path, [yaml.safe_dump(new, default_flow_style=False).encode('utf-8')], mode)
    problem = _restart_and_wait(module, new, params['timeout'])
    if problem:
        write_atomic(path, [previous], mode)
        back = _restart_and_wait(module, config, params['timeout'])
        module.fail_json(msg=(
            'the kubelet did not come back healthy with the new configuration (%s): %s. The previous %s was put back and the '
            'kubelet restarted (%s); fix kubeseed_kubelet_config and run again. Its last log lines: %s'
            % ('; '.join(changes), problem, path, 'healthy again' if not back else 'still not healthy: ' + back, _journal(module))),
            changes=changes)
    return result


def _healthz_url(config: dict) -> str:
    address = config.get('healthzBindAddress') or '127.0.0.1'
    if address in ('0.0.0.0', '::'):
        address = '127.0.0.1'
    return 'http://%s:%s/healthz' % ('[%s]' % address if ':' in address else address, config.get('healthzPort') or 10248)


def _unit(module) -> dict:
    """The kubelet unit's MainPID and NRestarts (systemd's count of the restarts it did itself)."""
    _rc, out, _err = module.run_command(['systemctl', 'show', 'kubelet', '--property=MainPID', '--property=NRestarts'])
    return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)


def _healthy(url: str) -> str:
    """'' when the kubelet answers ok, else why not."""
    try:
        response = open_url(url, timeout=3, use_proxy=False)  # the kubelet's health endpoint on this host
        body = response.read(200).decode('utf-8', 'replace').strip()
        return '' if body == 'ok' else 'healthz answered %r' % body
    except Exception as exc:  # noqa: BLE001 - any failure to answer is "not healthy"
        return 'healthz: %s' % exc


def _restart_and_wait(module, config: dict, timeout: int) -> str:
    """Restart the kubelet, wait until it answers healthz and still runs a few seconds later; '' or the problem."""
    rc, out, err = module.run_command(['systemctl', 'restart', 'kubelet'])
    if rc != 0:
        return 'systemctl restart kubelet: %s' % (err or out).strip()[-300:]
    started = _unit(module)
    url = _healthz_url(config)
    deadline = time.monotonic() + max(timeout, 1)
    problem = 'not checked'
    while time.monotonic() < deadline:
        if _unit(module).get('NRestarts') != started.get('NRestarts'):
            return 'the kubelet exited after the restart (systemd restarted it)'
        problem = _healthy(url)
        if not problem:
            time.sleep(SETTLE_SECONDS)  # a kubelet that exits on its configuration can answer once before it does
            now = _unit(module)
            problem = _healthy(url)
            if not problem and now == started and now.get('MainPID') not in (None, '', '0'):
                return ''
            problem = problem or 'the kubelet exited after the restart'
        time.sleep(POLL_SECONDS)
    return 'not healthy after %ss (%s)' % (max(timeout, 1), problem)


def _journal(module) -> str:
    rc, out, _err = module.run_command(['journalctl', '--unit', 'kubelet', '--lines', '8', '--no-pager', '--output', 'cat'])
    return ' | '.join(line.strip() for line in out.splitlines()[-8:])[-1500:] if rc == 0 else '(journalctl failed)'
