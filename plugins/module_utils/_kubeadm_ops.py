# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the kubeadm_* modules do on a host: run kubeadm, never leaking tokens or keys into results."""
from __future__ import annotations

import json
import os
import re
import tempfile
import time

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm as kubeadm

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - depends on the host
    HAS_YAML = False

ADMIN_CONF = '/etc/kubernetes/admin.conf'
CA_CERT = '/etc/kubernetes/pki/ca.crt'
_SECRETS = (
    re.compile(r'[a-z0-9]{6}\.[a-z0-9]{16}'),            # bootstrap tokens
    re.compile(r'\b[a-f0-9]{64}\b'),                       # certificate keys
)


def redact(text: str) -> str:
    """Remove anything that looks like a bootstrap token or a certificate key."""
    for pattern in _SECRETS:
        text = pattern.sub('<redacted>', text)
    return text


def render(documents: list) -> str:
    """Multi-document YAML (JSON documents are YAML too, so no YAML library is needed on the host)."""
    return ''.join('---\n%s\n' % json.dumps(doc, indent=2, sort_keys=True) for doc in documents)


def write_private(path: str, content: str, dry_run: bool = False) -> bool:
    """Write content with mode 0600 (atomically); return whether the file changed (or would, with dry_run)."""
    try:
        with open(path, encoding='utf-8') as handle:
            if handle.read() == content and (os.stat(path).st_mode & 0o777) == 0o600:
                return False
    except OSError:
        pass
    if dry_run:
        return True
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.kubeseed-')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(content)
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


def _run(module, argv: list, what: str, secret: bool = False):
    rc, out, err = module.run_command(argv)
    if rc != 0:
        detail = redact((err or out or '').strip())[-3000:]
        module.fail_json(msg='%s failed on %s (exit %d): %s' % (what, module.params.get('node_name') or 'this host', rc, detail))
    return out if not secret else out.strip()


def _ca_hash() -> str:
    with open(CA_CERT, encoding='ascii') as handle:
        return kubeadm.ca_cert_hash(handle.read())


def live_cluster_configuration(module) -> dict:
    """The ClusterConfiguration stored in kube-system/kubeadm-config."""
    out = _run(module, [module.params['kubectl_path'], '--kubeconfig', ADMIN_CONF, '-n', 'kube-system', 'get', 'configmap',
                        'kubeadm-config', '-o', 'jsonpath={.data.ClusterConfiguration}'], 'reading kubeadm-config')
    if not HAS_YAML:
        module.fail_json(msg='comparing the live cluster configuration needs PyYAML on %s (package python3-yaml)' % module.params['node_name'])
    return yaml.safe_load(out) or {}


def init(module) -> dict:
    """Initialise the first control plane once; afterwards compare the live configuration with the desired one."""
    params = module.params
    documents = kubeadm.init_documents(params)
    desired = kubeadm.cluster_configuration(params)
    state = kubeadm.node_state(kubeadm.host_exists, control_plane=True)
    result = {'changed': False, 'state_before': state, 'api_server_endpoint': kubeadm.endpoint(params), 'drift': []}

    if state == 'partial':
        module.fail_json(msg='%s holds a half-initialised control plane (kubelet.conf or manifests without admin.conf). Nothing was changed. '
                             'Inspect it, then run `kubeadm reset -f` on it and re-run the playbook.' % params['node_name'], **result)

    config_changed = write_private(params['config_path'], render(documents), dry_run=module.check_mode)
    if not module.check_mode:
        _run(module, [params['kubeadm_path'], 'config', 'validate', '--config', params['config_path']], 'kubeadm config validate')

    if state == 'absent':
        result['changed'] = True
        result['diff'] = {'before': '', 'after': render([desired]), 'after_header': 'ClusterConfiguration (new cluster)'}
        if module.check_mode:
            result['msg'] = 'would run kubeadm init on %s' % params['node_name']
            return result
        argv = [params['kubeadm_path'], 'init', '--config', params['config_path'], '--skip-token-print']
        started = time.monotonic()
        _run(module, argv, 'kubeadm init')
        result['kubeadm_seconds'] = round(time.monotonic() - started, 1)
        result['msg'] = 'initialised the control plane on %s' % params['node_name']
        result['ca_cert_hash'] = _ca_hash()
        return result

    live = live_cluster_configuration(module)
    result['drift'] = kubeadm.cluster_drift(desired, live)
    result['ca_cert_hash'] = _ca_hash()
    result['changed'] = config_changed
    if result['drift']:
        result['diff'] = {'before': render([live]), 'after': render([desired]), 'before_header': 'live ClusterConfiguration',
                          'after_header': 'desired ClusterConfiguration'}
        if module.check_mode:
            result['changed'] = True
            result['msg'] = 'the live cluster configuration differs from the variables: %s' % '; '.join(result['drift'])
            return result
        module.fail_json(msg='The cluster on %s was initialised with other settings than the variables now ask for; kubeadm cannot change '
                             'these by re-initialising, so nothing was changed: %s. Set the variables back to the live values, or '
                             'reconfigure the cluster deliberately.' % (params['node_name'], '; '.join(result['drift'])), **result)
    result['msg'] = 'the control plane on %s is initialised and matches the variables' % params['node_name']
    return result


def token(module) -> dict:
    """Create a short-lived bootstrap token (and optionally upload the control-plane certificates)."""
    params = module.params
    result = {'changed': True}
    if module.check_mode:
        result['msg'] = 'would create a bootstrap token valid for %s' % params['ttl']
        return result
    out = _run(module, [params['kubeadm_path'], 'token', 'create', '--kubeconfig', ADMIN_CONF, '--ttl', params['ttl'],
                        '--description', params['description']], 'kubeadm token create', secret=True)
    result['token'] = out.splitlines()[-1].strip()
    if params['upload_certs']:
        out = _run(module, [params['kubeadm_path'], 'init', 'phase', 'upload-certs', '--upload-certs', '--kubeconfig', ADMIN_CONF],
                   'kubeadm init phase upload-certs', secret=True)
        keys = re.findall(r'\b[a-f0-9]{64}\b', out)
        if not keys:
            module.fail_json(msg='kubeadm init phase upload-certs printed no certificate key')
        result['certificate_key'] = keys[-1]
    result['ca_cert_hash'] = _ca_hash()
    result['msg'] = 'created a bootstrap token valid for %s' % params['ttl']
    return result


def join(module) -> dict:
    """Join this host (worker or control plane) unless it is a member; reset a half-joined one first."""
    params = module.params
    control_plane = params['control_plane']
    state = kubeadm.node_state(kubeadm.host_exists, control_plane=control_plane)
    result = {'changed': False, 'state_before': state}
    if state == 'member':
        result['msg'] = '%s is already a member' % params['node_name']
        return result
    if state == 'partial' and not params['recover_partial']:
        module.fail_json(msg='%s is half-joined (files from an earlier join are left); nothing was changed. Set recover_partial to reset it '
                             'with kubeadm reset first.' % params['node_name'], **result)
    missing = [name for name in ('token', 'ca_cert_hash', 'api_server_endpoint') if not params.get(name)]
    if control_plane and not params.get('certificate_key'):
        missing.append('certificate_key')
    result['changed'] = True
    if module.check_mode:
        result['msg'] = 'would %sjoin %s as a %s' % ('reset and ' if state == 'partial' else '', params['node_name'],
                                                     'control plane' if control_plane else 'worker')
        return result
    if missing:
        module.fail_json(msg='joining %s needs %s' % (params['node_name'], ', '.join(missing)))
    if state == 'partial':
        _run(module, [params['kubeadm_path'], 'reset', '--force', '--cri-socket', kubeadm.CRI_SOCKET], 'kubeadm reset')
        module.warn('%s was half-joined; it was reset with kubeadm reset before joining again' % params['node_name'])
    write_private(params['config_path'], render(kubeadm.join_documents(params)))
    started = time.monotonic()
    try:
        _run(module, [params['kubeadm_path'], 'join', '--config', params['config_path']], 'kubeadm join')
        result['kubeadm_seconds'] = round(time.monotonic() - started, 1)
    finally:
        os.unlink(params['config_path'])  # it holds the token and the certificate key
    result['msg'] = 'joined %s as a %s' % (params['node_name'], 'control plane' if control_plane else 'worker')
    return result


def node_info(module) -> dict:
    return {'changed': False, 'state': kubeadm.node_state(kubeadm.host_exists, control_plane=module.params['control_plane'])}
