# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the kubeadm_* modules do on a host: run kubeadm, never leaking tokens or keys into results."""
from __future__ import annotations

import functools
import json
import os
import re
import sys
import time
import traceback

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm as kubeadm
from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubelet_config as kubelet_config
from ansible_collections.kubeseed.cluster.plugins.module_utils._files import write_atomic
from ansible_collections.kubeseed.cluster.plugins.module_utils._upgrade import step_problem

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - depends on the host
    HAS_YAML = False

ADMIN_CONF = '/etc/kubernetes/admin.conf'
CA_CERT = '/etc/kubernetes/pki/ca.crt'
BIN_DIRS = ['/usr/local/bin', '/usr/bin']  # where the offline bundle and the distribution packages put kubeadm and kubectl
_BINARIES = {'kubeadm_path': 'kubeadm', 'kubectl_path': 'kubectl'}
_CERTIFICATE_KEY = re.compile(r'(?<![0-9a-f])[a-f0-9]{64}(?![0-9a-f])')


# The option of every module that runs kubeadm (documented by the kubeseed.cluster.kubeadm doc fragment).
KUBEADM_ARG_SPEC = {'kubeadm_path': {'type': 'path', 'default': 'kubeadm'}}


def redact(text: str, secrets=()) -> str:
    """text without the given secrets (in any form) and anything that looks like a token, a certificate key or a private key."""
    return kubeadm.redact(text, secrets)


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
    write_atomic(path, [content.encode('utf-8')], 0o600)
    return True


class Host:
    """One module run on a host: finds the binaries, runs kubeadm, and fails or returns with every secret redacted.

    Every string that leaves the module (msg, diff, command output, exception text) goes through redact() with the
    secrets this run knows: the no_log options it was given and the ones it generated.
    """

    def __init__(self, module, secret_options=()):
        self.module = module
        self.params = module.params
        self.secrets = [module.params[option] for option in secret_options if module.params.get(option)]
        self._paths = {}

    @property
    def name(self) -> str:
        return self.params.get('node_name') or 'this host'

    def keep_secret(self, value: str) -> str:
        """Remember a secret this run generated, so that no failure can show it."""
        if value:
            self.secrets.append(value)
        return value

    def redact(self, value, strict: bool = False):
        return kubeadm.redact_all(value, self.secrets, strict)

    def fail(self, msg: str, strict: bool = False, **result):
        """fail_json with everything redacted (strict: msg holds an exception text, which may quote a cut secret)."""
        for secret in self.secrets:  # belt and braces: Ansible masks these in whatever it prints
            self.module.no_log_values.update(kubeadm.secret_forms(secret))
        kwargs = self.redact(result)
        kwargs['msg'] = self.redact(msg, strict)
        if sys.exc_info()[0] is not None:  # else fail_json would show the pending exception's text unredacted
            kwargs['exception'] = self.redact(traceback.format_exc(), strict=True)
        self.module.fail_json(**kwargs)

    def binary(self, option: str) -> str:
        """The absolute path of kubeadm or kubectl (get_bin_path), or a clear failure naming it."""
        if option not in self._paths:
            configured = self.params.get(option) or _BINARIES[option]
            found = self.module.get_bin_path(configured, opt_dirs=BIN_DIRS)
            if not found:
                self.fail('%s was not found on %s (%s=%s; looked in %s and PATH). Install the Kubernetes binaries on it (the '
                          'kube_packages role does) or set %s to the path of %s.'
                          % (_BINARIES[option], self.name, option, configured, ', '.join(BIN_DIRS), option, _BINARIES[option]))
            self._paths[option] = found
        return self._paths[option]

    def tool(self, binary: str):
        """A run(args) for crictl or kubectl (None when not installed); looked up like kubeadm."""
        path = self.module.get_bin_path(binary, opt_dirs=BIN_DIRS)
        if not path:
            return None
        return lambda args: self.module.run_command([path] + list(args))

    def run(self, args: list, what: str, option: str = 'kubeadm_path', check: bool = True):
        """Run a binary (no secret ever goes in args: they are visible in ps and in Ansible's cmd); fail on errors if check."""
        rc, out, err = self.module.run_command([self.binary(option)] + args)
        if rc != 0 and check:
            self.fail_command(what, rc, out, err)
        return rc, out or '', err or ''

    def fail_command(self, what: str, rc: int, out: str, err: str, hint: str = ''):
        detail = self.redact((err or out or '').strip())[-3000:]
        self.fail('%s failed on %s (exit %d): %s%s' % (what, self.name, rc, detail, hint), rc=rc)


def _guarded(name: str, secret_options=(), returns_secrets=()):
    """Run an operation with a Host; any failure is redacted, and so is every result field but returns_secrets."""
    def decorate(operation):
        @functools.wraps(operation)
        def run(module) -> dict:
            host = Host(module, secret_options)
            try:
                result = operation(host)
            # any error, redacted; SystemExit from fail_json is no Exception and passes through
            except Exception as error:  # pylint: disable=broad-except
                host.fail('%s failed on %s: %s: %s' % (name, host.name, type(error).__name__, error), strict=True)
            kept = {key: result.pop(key) for key in returns_secrets if key in result}
            result = host.redact(result)
            result.update(kept)
            return result
        return run
    return decorate


def _ca_hash(host: Host) -> str:
    try:
        with open(CA_CERT, encoding='ascii') as handle:
            return kubeadm.ca_cert_hash(handle.read())
    except (OSError, ValueError, IndexError) as error:
        host.fail('cannot read the cluster CA certificate %s on %s (%s); is it an initialised control plane?'
                  % (CA_CERT, host.name, error))


def live_cluster_configuration(host: Host) -> dict:
    """The ClusterConfiguration stored in kube-system/kubeadm-config."""
    _rc, out, _err = host.run(['--kubeconfig', ADMIN_CONF, '-n', 'kube-system', 'get', 'configmap', 'kubeadm-config',
                               '-o', 'jsonpath={.data.ClusterConfiguration}'], 'reading kubeadm-config', option='kubectl_path')
    if not HAS_YAML:
        host.fail('comparing the live cluster configuration needs PyYAML on %s (package python3-yaml)' % host.name)
    problem = None
    try:
        live = yaml.safe_load(out) or {}
    except yaml.YAMLError as error:  # its text quotes the offending line: report where, not what
        mark = getattr(error, 'problem_mark', None)
        problem = '%s%s' % (getattr(error, 'problem', None) or type(error).__name__,
                            ' at line %d, column %d' % (mark.line + 1, mark.column + 1) if mark else '')
    if problem is not None:
        host.fail('the ClusterConfiguration in kube-system/kubeadm-config read on %s is not valid YAML (%s); nothing was changed. '
                  'Inspect it with kubectl -n kube-system get configmap kubeadm-config -o yaml.' % (host.name, problem))
    if not isinstance(live, dict):
        host.fail('the ClusterConfiguration in kube-system/kubeadm-config read on %s is not a mapping; nothing was changed.' % host.name)
    return live


@_guarded('kubeadm_init')
def init(host: Host) -> dict:
    """Initialise the first control plane once; afterwards compare the live configuration with the desired one."""
    module, params = host.module, host.params
    documents = kubeadm.init_documents(params)
    desired = kubeadm.cluster_configuration(params)
    state = kubeadm.node_state(kubeadm.host_exists, control_plane=True)
    result = {'changed': False, 'state_before': state, 'api_server_endpoint': kubeadm.endpoint(params), 'drift': [], 'reconfigurable': []}

    if state == 'partial':
        host.fail('%s holds a half-initialised control plane (kubelet.conf or manifests without admin.conf). Nothing was changed. '
                  'Inspect it, then run `kubeadm reset -f` on it and re-run the playbook.' % params['node_name'], **result)

    config_changed = write_private(params['config_path'], render(documents), dry_run=module.check_mode)
    if not module.check_mode:
        host.run(['config', 'validate', '--config', params['config_path']], 'kubeadm config validate')

    if state == 'absent':
        result['changed'] = True
        result['diff'] = {'before': '', 'after': render([desired]), 'after_header': 'ClusterConfiguration (new cluster)'}
        if module.check_mode:
            result['msg'] = 'would run kubeadm init on %s' % params['node_name']
            return result
        started = time.monotonic()
        host.run(['init', '--config', params['config_path'], '--skip-token-print'], 'kubeadm init')
        result['kubeadm_seconds'] = round(time.monotonic() - started, 1)
        result['msg'] = 'initialised the control plane on %s' % params['node_name']
        result['ca_cert_hash'] = _ca_hash(host)
        return result

    live = live_cluster_configuration(host)
    drift = kubeadm.cluster_drift(desired, live)
    # the API server's flags and names: role apiserver (module apiserver_config) changes them on a running cluster
    result['reconfigurable'] = [line for line in drift if kubeadm.reconfigurable(line)]
    result['drift'] = [line for line in drift if not kubeadm.reconfigurable(line)]
    result['ca_cert_hash'] = _ca_hash(host)
    result['changed'] = config_changed
    if result['drift']:
        result['diff'] = {'before': render([live]), 'after': render([desired]), 'before_header': 'live ClusterConfiguration',
                          'after_header': 'desired ClusterConfiguration'}
        if module.check_mode:
            result['changed'] = True
            result['msg'] = 'the live cluster configuration differs from the variables: %s' % '; '.join(result['drift'])
            return result
        host.fail('The cluster on %s was initialised with other settings than the variables now ask for, and kubeadm cannot change '
                  'them by initialising again, so nothing was changed: %s.' % (
                      params['node_name'], '; '.join('%s (%s)' % (line, kubeadm.procedure(line)) for line in result['drift'])), **result)
    result['msg'] = 'the control plane on %s is initialised and matches the variables' % params['node_name']
    if result['reconfigurable']:
        result['msg'] += ' (the API server settings that differ are changed next, one control plane at a time: %s)' % '; '.join(
            result['reconfigurable'])
    return result


@_guarded('kubeadm_token', returns_secrets=('token', 'certificate_key'))
def token(host: Host) -> dict:
    """Create a short-lived bootstrap token (and optionally upload the control-plane certificates).

    The token and the key are returned only in their own fields; no message, failure or other field can hold them.
    A token whose certificate upload failed is deleted again, so a failed run leaves no usable token behind.
    """
    module, params = host.module, host.params
    result = {'changed': True}
    if module.check_mode:
        result['msg'] = 'would create a bootstrap token valid for %s' % params['ttl']
        return result
    ca_cert_hash = _ca_hash(host)  # before creating anything
    _rc, out, _err = host.run(['token', 'create', '--kubeconfig', ADMIN_CONF, '--ttl', params['ttl'],
                               '--description', params['description']], 'kubeadm token create')
    created = [line.strip() for line in out.splitlines() if kubeadm.TOKEN_PATTERN.fullmatch(line.strip())]
    for value in created:
        host.keep_secret(value)
    if not created:
        host.fail('kubeadm token create on %s printed no bootstrap token: %s' % (host.name, host.redact(out.strip())[-3000:]))
    result['token'] = created[-1]
    if params['upload_certs']:
        rc, out, err = host.run(['init', 'phase', 'upload-certs', '--upload-certs', '--kubeconfig', ADMIN_CONF],
                                'kubeadm init phase upload-certs', check=False)
        keys = _CERTIFICATE_KEY.findall(out) if rc == 0 else []
        for key in keys:
            host.keep_secret(key)
        if not keys:
            hint = '; ' + _delete_token(host, result['token'])
            if rc != 0:
                host.fail_command('kubeadm init phase upload-certs', rc, out, err, hint=hint)
            host.fail('kubeadm init phase upload-certs on %s printed no certificate key%s' % (host.name, hint))
        result['certificate_key'] = keys[-1]
    if not module.no_log:
        module.warn('the result of kubeadm_token holds a bootstrap token%s: set no_log: true on the task that registers it'
                    % (' and a certificate key' if params['upload_certs'] else ''))
    result['ca_cert_hash'] = ca_cert_hash
    result['msg'] = 'created a bootstrap token valid for %s' % params['ttl']
    return result


def _delete_token(host: Host, value: str) -> str:
    """Delete a token this run created (by its id, which is not secret); say what happened."""
    token_id = value.split('.', 1)[0]
    rc, _out, _err = host.run(['token', 'delete', '--kubeconfig', ADMIN_CONF, token_id], 'kubeadm token delete', check=False)
    if rc == 0:
        return 'the bootstrap token %s created by this run was deleted' % token_id
    return 'the bootstrap token %s created by this run could not be deleted; it expires after %s' % (token_id, host.params['ttl'])


@_guarded('kubeadm_join', secret_options=('token', 'certificate_key'))
def join(host: Host) -> dict:
    """Join this host (worker or control plane) unless it is a member; reset a half-joined one first.

    The token and the certificate key go to kubeadm in a 0600 JoinConfiguration, never on the command line, and the file
    is removed whatever happens.
    """
    module, params = host.module, host.params
    control_plane = params['control_plane']
    state = kubeadm.node_state(kubeadm.host_exists, control_plane=control_plane)
    result = {'changed': False, 'state_before': state}
    if state == 'member':
        result['msg'] = '%s is already a member' % params['node_name']
        return result
    if state == 'partial' and not params['recover_partial']:
        host.fail('%s is half-joined (files from an earlier join are left); nothing was changed. Set recover_partial to reset it '
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
        host.fail('joining %s needs %s' % (params['node_name'], ', '.join(missing)))
    if state == 'partial':
        host.run(['reset', '--force', '--cri-socket', kubeadm.CRI_SOCKET], 'kubeadm reset')
        module.warn('%s was half-joined; it was reset with kubeadm reset before joining again' % params['node_name'])
    host.binary('kubeadm_path')  # a missing kubeadm fails before the secrets are written
    started = time.monotonic()
    try:
        write_private(params['config_path'], render(kubeadm.join_documents(params)))
        host.run(['join', '--config', params['config_path']], 'kubeadm join')
        result['kubeadm_seconds'] = round(time.monotonic() - started, 1)
    finally:
        try:
            os.unlink(params['config_path'])  # it holds the token and the certificate key
        except FileNotFoundError:
            pass
    result['msg'] = 'joined %s as a %s' % (params['node_name'], 'control plane' if control_plane else 'worker')
    return result


_KUBELET_VERSION = re.compile(r'Kubernetes (v\d+\.\d+\.\d+)')


def node_info(module) -> dict:
    """The node's kubeadm state; with kubernetes_version, refuse a member whose kubelet binary is another version (site.yml
    must never swap the binaries of a live node: playbooks/upgrade.yml does that, node by node, drained)."""
    params = module.params
    result = {'changed': False, 'state': kubeadm.node_state(kubeadm.host_exists, control_plane=params['control_plane'])}
    if params.get('cgroup_driver'):
        try:
            with open(kubelet_config.NODE_CONFIG, encoding='utf-8') as handle:
                result['kubelet_cgroup_driver'] = kubelet_config.cgroup_driver_in(handle.read())
        except FileNotFoundError:
            result['kubelet_cgroup_driver'] = ''
        except OSError as exc:
            module.fail_json(msg='%s: %s' % (kubelet_config.NODE_CONFIG, exc), **result)
        problem = kubelet_config.cgroup_driver_problem(result['kubelet_cgroup_driver'], params['cgroup_driver'], kubelet_config.NODE_CONFIG)
        if problem:
            module.fail_json(msg='%s: %s' % (params.get('node_name') or 'this host', problem), **result)
    wanted = (params.get('kubernetes_version') or '').lstrip('v')
    if not wanted or result['state'] == 'absent':
        return result
    kubelet = module.get_bin_path('kubelet', opt_dirs=BIN_DIRS)
    if kubelet is None:
        return result
    rc, out, _err = module.run_command([kubelet, '--version'])
    match = _KUBELET_VERSION.search(out or '') if rc == 0 else None
    result['kubelet_version'] = match.group(1).lstrip('v') if match else ''
    if result['kubelet_version'] and result['kubelet_version'] != wanted and not params.get('allow_version_change'):
        problem = step_problem(result['kubelet_version'], wanted)
        module.fail_json(msg='%s is a node of a cluster with Kubernetes %s (its kubelet), and kubeseed_kubernetes_version is %s: this '
                             'playbook does not change the version of a live node, and nothing was changed. %s' % (
                                 params.get('node_name') or 'this host', result['kubelet_version'], wanted,
                                 problem or 'To upgrade, run playbooks/upgrade.yml (node by node, drained).'), **result)
    return result


APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml'
_IMAGE_TAG = re.compile(r'^\s*image:\s*\S+/kube-apiserver:(v[0-9A-Za-z.+-]+)\s*$', re.M)


def _manifest_version(host: Host) -> str:
    """The version of this control plane's kube-apiserver static pod (its image tag), '' when there is none."""
    try:
        with open(APISERVER_MANIFEST, encoding='utf-8') as handle:
            match = _IMAGE_TAG.search(handle.read())
    except OSError:
        return ''
    return match.group(1) if match else ''


def _running_kubelet(host: Host) -> str:
    """The version the running kubelet reports in this node's Node object (read with the node's own credentials)."""
    rc, out, err = host.run(['--kubeconfig', kubeadm.KUBELET_CONF, 'get', 'node', host.params['node_name'],
                             '--output', 'jsonpath={.status.nodeInfo.kubeletVersion}'], 'reading the Node',
                            option='kubectl_path', check=False)
    if rc != 0:
        host.fail('cannot read Node %s with the kubelet\'s credentials (%s): %s. Is it a node of the cluster, and is its API server '
                  'reachable?' % (host.name, kubeadm.KUBELET_CONF, (err or out).strip()[-500:]))
    return out.strip()


def _init_config_at(path: str, target: str, dry_run: bool) -> bool:
    """Set kubernetesVersion in the kubeadm configuration kubeadm_init keeps on the first control plane (so that site.yml
    after the upgrade finds it as it would write it); whether it changed. A file kubeadm_init did not write is left alone."""
    try:
        with open(path, encoding='utf-8') as handle:
            documents = [json.loads(part) for part in handle.read().split('---\n') if part.strip()]
    except (OSError, ValueError):
        return False
    changed = False
    for document in documents:
        if isinstance(document, dict) and document.get('kind') == 'ClusterConfiguration' and document.get('kubernetesVersion') != target:
            document['kubernetesVersion'] = target
            changed = True
    return write_private(path, render(documents), dry_run) if changed else False


@_guarded('kubeadm_upgrade')
def upgrade(host: Host) -> dict:
    """`kubeadm upgrade apply` (the first control plane) or `kubeadm upgrade node` (the others, and workers), when the node
    still needs it; says whether the kubelet must be restarted to run the new version."""
    module, params = host.module, host.params
    target = 'v' + params['kubernetes_version'].lstrip('v')
    action = params['action']
    running = _running_kubelet(host)
    result = {'changed': False, 'action': action, 'kubelet_before': running, 'restart_kubelet': running != target}
    if action == 'apply':
        live = live_cluster_configuration(host).get('kubernetesVersion', '')
        result['cluster_before'] = live
        needed = live != target
        if needed:
            problem = step_problem(live, target)
            if problem:
                host.fail('nothing was changed: ' + problem, **result)
        args = ['upgrade', 'apply', target, '--yes']
    elif params['control_plane']:
        result['manifests_before'] = _manifest_version(host)
        needed = result['manifests_before'] != target or running != target
        args = ['upgrade', 'node']
    else:
        needed = running != target
        args = ['upgrade', 'node']
    args += ['--ignore-preflight-errors=%s' % ','.join(params['ignore_preflight_errors'])] if params['ignore_preflight_errors'] else []
    if not needed:
        if action == 'apply' and _init_config_at(params['init_config_path'], target, module.check_mode):
            result['changed'] = True
            result['msg'] = '%s: kubeadm upgrade apply done already; %s set to %s' % (host.name, params['init_config_path'], target)
            return result
        result['msg'] = '%s: %s done already' % (host.name, ' '.join(args[:2]))
        return result
    result['changed'] = True
    if module.check_mode:  # the packages step of this run installs the target's kubeadm only in a real run
        result['msg'] = 'would run kubeadm %s on %s' % (' '.join(args[:3] if action == 'apply' else args[:2]), host.name)
        return result
    _rc, out, _err = host.run(['version', '-o', 'short'], 'kubeadm version')
    if out.strip() != target:
        host.fail('kubeadm on %s is %s, not %s: install the target version\'s packages first (role kube_packages); nothing was '
                  'changed' % (host.name, out.strip() or 'unknown', target), **dict(result, changed=False))
    started = time.monotonic()
    rc, out, err = host.run(args, 'kubeadm %s' % ' '.join(args[:2]), check=False)
    result['kubeadm_seconds'] = round(time.monotonic() - started, 1)
    result['stdout_lines'] = [line for line in host.redact(out).splitlines() if line.startswith('[upgrade')][-20:]
    if rc != 0:
        host.fail_command('kubeadm %s' % ' '.join(args[:2]), rc, out, err,
                          hint='. The node stays cordoned; kubeadm rolls back a control plane it could not upgrade. Fix the cause, '
                               'then run playbooks/upgrade.yml again (it resumes)')
    if action == 'apply':
        _init_config_at(params['init_config_path'], target, False)
    result['msg'] = 'ran kubeadm %s on %s in %.0f s' % (' '.join(args[:2]), host.name, result['kubeadm_seconds'])
    return result
