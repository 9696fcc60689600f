# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What module apiserver_config does on a control plane: kubeadm renders, the node's files, the API server's restart, the
ConfigMap kube-system/kubeadm-config through kubectl."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

from ansible_collections.kubeseed.cluster.plugins.module_utils import _apiserver_config as ac
from ansible_collections.kubeseed.cluster.plugins.module_utils._files import write_atomic
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm import CRI_SOCKET
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_certs import api_endpoint, readyz_args
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import ADMIN_CONF, _guarded, render

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - depends on the host
    HAS_YAML = False

MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml'
PKI = '/etc/kubernetes/pki'
CERT, KEY = PKI + '/apiserver.crt', PKI + '/apiserver.key'
# The files as they were before the last change (outside the manifests directory, which the kubelet runs all of).
PREVIOUS_DIR = '/etc/kubernetes/kubeseed/apiserver-previous'
CONFIG_MAP = ('kube-system', 'kubeadm-config')
KUBERNETES_DIR = '/etc/kubernetes'
POLL_SECONDS = 2
SETTLE_SECONDS = 5
EXITS_TO_FAIL = 2  # a new container that exits once can be the old one still holding the port; twice is the flags
# an exit after which no new container starts for this long is the answer too: on the lab the kubelet, busy ending the
# previous pod, sometimes does not start the crashed one again within minutes (its own back-off is 10 s, then 20 s)
QUIET_AFTER_EXIT_SECONDS = 40
KUBELET_SECONDS = 3  # the kubelet sees a new manifest at once (inotify); after this an earlier container still running is stopped
STOP_GRACE_SECONDS = 5


def _check_input(host) -> None:
    problems = ac.extra_args_problems(host.params['extra_args'])
    if problems:
        host.fail('; '.join(problems) + '. Nothing was changed.')


def _require_yaml(host) -> None:
    """Only on a control plane: a host that is none yet (check mode before role node ran) has nothing to compare."""
    if not HAS_YAML:
        host.fail('python3-yaml is missing on %s (role node installs it)' % host.name)


def _config_map(host) -> tuple:
    """(the ConfigMap kube-system/kubeadm-config, its ClusterConfiguration as a dict)."""
    namespace, name = CONFIG_MAP
    _rc, out, _err = host.run(['--kubeconfig', ADMIN_CONF, '--namespace', namespace, 'get', 'configmap', name, '--output', 'json'],
                              'reading ConfigMap %s/%s' % CONFIG_MAP, option='kubectl_path')
    try:
        live = json.loads(out)
        config = yaml.safe_load((live.get('data') or {}).get('ClusterConfiguration') or '') or {}
    except (ValueError, yaml.YAMLError, AttributeError) as error:
        host.fail('the ClusterConfiguration in ConfigMap %s/%s read on %s cannot be read (%s); nothing was changed. Inspect it with '
                  'kubectl -n kube-system get configmap kubeadm-config -o yaml.' % (CONFIG_MAP + (host.name, type(error).__name__)))
    if not isinstance(config, dict):
        host.fail('the ClusterConfiguration in ConfigMap %s/%s read on %s is not a mapping; nothing was changed.' % (CONFIG_MAP + (host.name,)))
    return live, config


def _diff(before: dict, after: dict, header: str) -> dict:
    def view(config):
        api = (config or {}).get('apiServer') or {}
        return yaml.safe_dump({'apiServer': {k: api[k] for k in ('certSANs', 'extraArgs') if k in api}}, default_flow_style=False)
    return {'before': view(before), 'after': view(after), 'before_header': header, 'after_header': header}


@_guarded('apiserver_config')
def cluster(host) -> dict:
    """Compare (with apply, converge) apiServer.certSANs and apiServer.extraArgs in the ConfigMap kube-system/kubeadm-config."""
    module, params = host.module, host.params
    _check_input(host)
    if not os.path.exists(ADMIN_CONF):
        if module.check_mode:  # before kubeadm init, which writes them
            return {'changed': False, 'differs': False, 'changes': [], 'msg': 'no cluster yet: kubeadm init writes the API server settings'}
        host.fail('no admin kubeconfig at %s on %s: run this on an initialised control plane' % (ADMIN_CONF, host.name))
    _require_yaml(host)
    live, config = _config_map(host)
    new = ac.merged(config, params['cert_extra_sans'], params['extra_args'])
    changes = ac.cluster_changes(config, new)
    result = {'changed': bool(changes) and params['apply'], 'differs': bool(changes), 'changes': changes}
    if result['changed'] and module._diff:  # pylint: disable=protected-access
        result['diff'] = _diff(config, new, 'ConfigMap %s/%s' % CONFIG_MAP)
    if not result['changed'] or module.check_mode:
        return result
    # replace carries the resourceVersion it read: a concurrent change (kubeadm upgrade) makes it fail instead of being lost
    body = dict(live, data=dict(live.get('data') or {}, ClusterConfiguration=yaml.safe_dump(new, default_flow_style=False)))
    rc, out, err = module.run_command([host.binary('kubectl_path'), '--kubeconfig', ADMIN_CONF, 'replace', '-f', '-'], data=json.dumps(body))
    if rc != 0:
        host.fail('ConfigMap %s/%s: kubectl replace failed on %s: %s. Every control plane already runs with the new settings; run '
                  'again to record them.' % (CONFIG_MAP + (host.name, (err or out).strip()[-1000:])), **result)
    result['msg'] = 'recorded the API server settings in ConfigMap %s/%s' % CONFIG_MAP
    return result


class _Render:
    """kubeadm's rendering of this control plane's manifest and serving certificate from a ClusterConfiguration, in a private
    temporary directory (it holds a copy of the CA key while it exists)."""

    def __init__(self, host, config: dict) -> None:
        self.host, self.params = host, host.params
        # beside the cluster's keys (root's only), removed at the end; mode 0700
        self.tmp = tempfile.mkdtemp(prefix='.kubeseed-apiserver-', dir=KUBERNETES_DIR)
        self.config = config

    def _documents(self, name: str, cert_dir: str = '') -> str:
        path = os.path.join(self.tmp, name)
        docs = ac.node_documents(self.config, self.params['node_name'], self.params['advertise_address'], self.params['apiserver_port'], cert_dir)
        write_atomic(path, [render(docs).encode('utf-8')], 0o600)
        return path

    def manifest(self) -> str:
        """The kube-apiserver manifest kubeadm writes for this node (`init phase control-plane apiserver --dry-run`)."""
        out_dir = os.path.join(self.tmp, 'manifests')
        os.mkdir(out_dir, 0o700)
        config = self._documents('manifest.yaml')
        rc, out, err = self.host.module.run_command(
            [self.host.binary('kubeadm_path'), 'init', 'phase', 'control-plane', 'apiserver', '--config', config, '--dry-run'],
            environ_update={'KUBEADM_INIT_DRYRUN_DIR': out_dir})
        if rc != 0:
            self.host.fail_command('kubeadm init phase control-plane apiserver --dry-run', rc, out, err,
                                   hint='. Nothing was changed; check kubeseed_apiserver_extra_args.')
        return _read(os.path.join(out_dir, 'kube-apiserver.yaml'))

    def certificate(self) -> str:
        """A serving certificate kubeadm signs for this node with the CA (`init phase certs apiserver`); its directory."""
        pki = os.path.join(self.tmp, 'pki')
        os.mkdir(pki, 0o700)
        for name in ('ca.crt', 'ca.key'):
            shutil.copy2(os.path.join(PKI, name), os.path.join(pki, name))
        config = self._documents('certs.yaml', cert_dir=pki)
        self.host.run(['init', 'phase', 'certs', 'apiserver', '--config', config], 'kubeadm init phase certs apiserver')
        return pki

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _read(path: str) -> str:
    with open(path, encoding='utf-8') as handle:
        return handle.read()


def _sans(host, path: str) -> list:
    try:
        return ac.certificate_sans(_read(path))
    except (OSError, ValueError, IndexError) as error:
        host.fail('cannot read the names of %s on %s (%s); nothing was changed.' % (path, host.name, error))
        raise  # unreachable: fail exits


@_guarded('apiserver_config')
def node(host) -> dict:
    """Compare (with apply, converge) this control plane's kube-apiserver manifest and serving certificate."""
    module, params = host.module, host.params
    _check_input(host)
    if not os.path.exists(MANIFEST) or not os.path.exists(ADMIN_CONF):  # not a control plane yet: init or join writes both
        return {'changed': False, 'differs': False, 'changes': [], 'msg': '%s is not a control plane yet' % host.name}
    _require_yaml(host)
    _live, config = _config_map(host)
    renderer = _Render(host, ac.merged(config, params['cert_extra_sans'], params['extra_args']))
    try:
        live_text = _read(MANIFEST)
        new_text = renderer.manifest()
        live_manifest, new_manifest = yaml.safe_load(live_text) or {}, yaml.safe_load(new_text) or {}
        others = ac.other_differences(live_manifest, new_manifest)
        if others:  # e.g. another image: an upgrade under way, or an edit by hand; kubeseed changes the flags only
            host.fail('the kube-apiserver manifest on %s (%s) differs from what kubeadm renders from the cluster configuration in more '
                      'than its flags: %s. Nothing was changed. If an upgrade is under way, finish it (playbooks/upgrade.yml); if the '
                      'manifest was edited by hand, undo that (kubeseed keeps the flags in kubeseed_apiserver_extra_args).'
                      % (host.name, MANIFEST, '; '.join(others)))
        changes = ac.manifest_changes(live_manifest, new_manifest)
        pki = renderer.certificate()
        live_sans, new_sans = _sans(host, CERT), _sans(host, os.path.join(pki, 'apiserver.crt'))
        if live_sans != new_sans:
            changes.append('serving certificate names: %s' % ', '.join(
                ['+' + n for n in new_sans if n not in live_sans] + ['-' + n for n in live_sans if n not in new_sans]))
        result = {'changed': bool(changes) and params['apply'], 'differs': bool(changes), 'changes': changes}
        if changes and module._diff:  # pylint: disable=protected-access
            result['diff'] = {'before': '\n'.join(['names: ' + ', '.join(live_sans)] + _flag_lines(live_text)) + '\n',
                              'after': '\n'.join(['names: ' + ', '.join(new_sans)] + _flag_lines(new_text)) + '\n',
                              'before_header': '%s on %s (flags) and %s (names)' % (MANIFEST, host.name, CERT),
                              'after_header': 'as kubeadm renders them from the variables'}
        if not result['changed'] or module.check_mode:
            return result
        started = time.monotonic()
        _apply(host, changes, live_text, new_text if new_manifest != live_manifest else None, pki if live_sans != new_sans else None)
        result['restart_seconds'] = round(time.monotonic() - started, 1)
        result['msg'] = 'the API server on %s runs with the new settings: %s' % (host.name, '; '.join(changes))
        return result
    finally:
        renderer.close()


def _flag_lines(manifest_text: str) -> list:
    flags = ac.command_flags(yaml.safe_load(manifest_text) or {})
    return ['--%s=%s' % (name, flags[name]) for name in sorted(flags)]


def _apply(host, changes: list, live_text: str, new_text: str | None, pki: str | None) -> None:
    """Keep the previous files, put the new ones in place, restart the API server and wait for it; roll back on failure."""
    params = host.params
    crictl = host.tool('crictl')
    if crictl is None:
        host.fail('crictl is not installed on %s (the kube_packages role installs it); it restarts and watches the API server, so '
                  'nothing was changed.' % host.name)
    os.makedirs(PREVIOUS_DIR, mode=0o700, exist_ok=True)
    os.chmod(PREVIOUS_DIR, 0o700)
    saved = {}
    for path in (MANIFEST, CERT, KEY):
        with open(path, 'rb') as handle:
            saved[path] = (handle.read(), os.stat(path).st_mode & 0o7777)
        write_atomic(os.path.join(PREVIOUS_DIR, os.path.basename(path)), [saved[path][0]], 0o600)
    target = yaml.safe_load(new_text or live_text) or {}
    endpoint = api_endpoint(new_text or live_text)
    before = _containers(crictl)
    if pki is not None:  # the key first: a certificate beside a key it does not match would fail the next start
        write_atomic(KEY, [_read(os.path.join(pki, 'apiserver.key')).encode('ascii')], 0o600)
        write_atomic(CERT, [_read(os.path.join(pki, 'apiserver.crt')).encode('ascii')], saved[CERT][1])
    if new_text is not None:
        write_atomic(MANIFEST, [new_text.encode('utf-8')], saved[MANIFEST][1])  # the kubelet replaces the pod
    problem = _wait(host, crictl, before, ac.container_argv(target), endpoint, params['timeout'], restart_now=new_text is None)
    if not problem:
        return
    # roll back: the previous files, the API server restarted with them and waited for
    now = _containers(crictl)
    for path, (content, mode) in saved.items():
        write_atomic(path, [content], mode)
    back = _wait(host, crictl, now, ac.container_argv(yaml.safe_load(live_text) or {}), api_endpoint(live_text), params['timeout'],
                 restart_now=new_text is None, patient=True)
    host.fail('the API server on %s did not come back healthy with the new settings (%s): %s. The previous manifest and certificate '
              'were put back (%s); nothing else was changed and no other control plane was touched. Fix kubeseed_apiserver_extra_args '
              'or kubeseed_apiserver_cert_extra_sans and run again.'
              % (host.name, '; '.join(changes), problem, 'the API server is healthy again' if not back else 'still not healthy: ' + back),
              changes=changes, changed=True)  # the API server was restarted (twice), whatever else was undone


def _containers(crictl) -> list:
    """Every kube-apiserver container on this node ({id, state}), newest first."""
    rc, out, err = crictl(['--runtime-endpoint', CRI_SOCKET, 'ps', '--all', '--name', '^%s$' % ac.CONTAINER, '--output', 'json'])
    if rc != 0:
        return [{'error': (err or out or '').strip()[-300:]}]
    try:
        found = json.loads(out).get('containers') or []
    except ValueError:
        return [{'error': 'crictl ps printed no JSON'}]
    found.sort(key=lambda c: int(c.get('createdAt') or 0), reverse=True)
    return [{'id': c.get('id'), 'state': c.get('state')} for c in found]


def _argv(crictl, container_id: str):
    """The command line a container runs (crictl inspect), or None."""
    rc, out, _err = crictl(['--runtime-endpoint', CRI_SOCKET, 'inspect', '--output', 'json', container_id])
    try:
        return json.loads(out)['info']['runtimeSpec']['process']['args'] if rc == 0 else None
    except (ValueError, KeyError, TypeError):
        return None


def _wait(host, crictl, before: list, argv: list, endpoint: str | None, timeout: int, restart_now: bool, patient: bool = False) -> str:
    """'' once a kube-apiserver container started after the change runs the wanted command line, no earlier one runs, /readyz
    answers ok and all that still holds a few seconds later; else the problem (with its last log lines when the new container
    keeps exiting).

    The kubelet gives a replaced static pod its whole grace period (30 s: the API server does not exit sooner on SIGTERM); an
    earlier container still running after KUBELET_SECONDS is stopped here (SIGTERM, killed after STOP_GRACE_SECONDS). An API
    server that keeps the same manifest (a new certificate only) is stopped at once, and the kubelet starts it again.
    patient (the rollback to the files that ran before): an exit not followed by a new container within
    QUIET_AFTER_EXIT_SECONDS does not end the wait; the previous API server gets the whole timeout to come back.
    """
    old = {c.get('id') for c in before}
    kubectl = host.tool('kubectl')
    started = time.monotonic()
    deadline = started + max(timeout, 1)
    problem, settled, stopped = 'no new kube-apiserver container yet', None, set()
    last_exit = started
    exits = {}  # every new container seen exited: its last log lines, read at once (the kubelet soon removes all but the last)
    while time.monotonic() < deadline:
        listed = _containers(crictl)
        containers = [c for c in listed if 'error' not in c]
        if not containers and listed:  # crictl itself failed: say so if that lasts until the deadline
            problem = 'crictl ps: %s' % listed[0]['error']
        fresh = [c for c in containers if c.get('id') not in old]
        for container in reversed(fresh):  # oldest first, so the last one read is the newest
            if container.get('state') == 'CONTAINER_EXITED' and container['id'] not in exits:
                exits[container['id']] = _logs(host, crictl, container['id'])
                last_exit = time.monotonic()
        running = [c for c in fresh if c.get('state') == 'CONTAINER_RUNNING']
        if len(exits) >= EXITS_TO_FAIL and not running:
            return 'the new kube-apiserver container exited %d times; its last log lines: %s' % (len(exits), list(exits.values())[-1])
        port_held = 'address already in use' in list(exits.values())[-1] if exits else False  # the old one still had the port
        if exits and not running and not patient and not port_held and time.monotonic() - last_exit >= QUIET_AFTER_EXIT_SECONDS:
            return ('the new kube-apiserver container exited and was not started again for %ds; its last log lines: %s'
                    % (QUIET_AFTER_EXIT_SECONDS, list(exits.values())[-1]))
        earlier = [c['id'] for c in containers if c.get('id') in old and c.get('state') == 'CONTAINER_RUNNING']
        if earlier and not set(earlier) <= stopped and (restart_now or time.monotonic() - started >= KUBELET_SECONDS):
            _stop(host, crictl, earlier)
            stopped.update(earlier)
        if running and not earlier and _argv(crictl, running[0]['id']) == argv:
            rc, out, err = kubectl(readyz_args(endpoint)) if kubectl else (1, '', 'kubectl is not installed')
            if rc == 0 and out.strip() == 'ok':
                if settled == running[0]['id']:
                    return ''
                settled = running[0]['id']
                time.sleep(SETTLE_SECONDS)  # an API server that exits on its flags can answer once before it does
                continue
            problem = '/readyz: %s' % ((err or out or '').strip().splitlines() or ['no answer'])[-1][-300:]
        elif running:
            problem = 'the new kube-apiserver container does not run the wanted command line yet'
        settled = None
        time.sleep(POLL_SECONDS)
    return 'not healthy after %ss (%s)' % (max(timeout, 1), problem)


def _stop(host, crictl, ids: list) -> None:
    rc, out, err = crictl(['--runtime-endpoint', CRI_SOCKET, 'stop', '--timeout', str(STOP_GRACE_SECONDS)] + list(ids))
    if rc != 0:
        host.module.warn('crictl stop of the API server on %s failed: %s' % (host.name, (err or out or '').strip()[-300:]))


def _logs(host, crictl, container_id: str) -> str:
    rc, out, err = crictl(['--runtime-endpoint', CRI_SOCKET, 'logs', '--tail', '6', container_id])
    text = '%s\n%s' % (out or '', err or '') if rc == 0 else '(crictl logs failed)'
    return host.redact(' | '.join(line.strip() for line in text.splitlines() if line.strip())[-1500:])
