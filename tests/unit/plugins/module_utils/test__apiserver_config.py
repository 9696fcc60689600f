# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API server settings kubeseed keeps on a running cluster: the merged ClusterConfiguration, what differs (flags,
names), the refused flags, the names of real certificates; and the restart wait of module apiserver_config against a
scripted crictl (container states and command lines as crictl prints them)."""
from __future__ import annotations

import json

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _apiserver_config as ac
from ansible_collections.kubeseed.cluster.plugins.module_utils import _apiserver_config_ops as ops
from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm as kubeadm

# written by kubeadm init phase certs apiserver on a lab control plane (RSA, long DER lengths)
KUBEADM_CERT = """-----BEGIN CERTIFICATE-----
MIIDhTCCAm2gAwIBAgIIbQAXHXsu0VUwDQYJKoZIhvcNAQELBQAwFTETMBEGA1UE
AxMKa3ViZXJuZXRlczAeFw0yNjEyMDIwNDU3MzNaFw0yNzEyMDIwNTAyMzNaMBkx
FzAVBgNVBAMTDmt1YmUtYXBpc2VydmVyMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A
MIIBCgKCAQEAnjGL6wDTTcu8SqpucoXTEt7r7MVA4D0j+F5RAvlNXPKnrCEmYObB
TxA/3FaXq4yec8wl41vQ6LDUe3vDM9Y4seGfoKzeM7EgZVOK8rC6Eq42Jr3aT8yU
BmHh3sjKmzYzHez5aR9FNip9eCtDcwPDc+lWcPLbGEj+CrBKULGKbZ0Cvie00x3Y
cA6PmKpMv2afPnEWMcvfusX6RRYaAeX0kiFObLVbLY06sYafYZtxJH7lK6W1skUo
41AVDp8fIJNyQTp/cuh/RT3d82e2AcRLKAUZeivNjpD73ZxVk3VVPCvGfbQpjop5
xRgMvu4tSDiAWvDIUJONRQ9k3VbUyG8WMwIDAQABo4HUMIHRMA4GA1UdDwEB/wQE
AwIFoDATBgNVHSUEDDAKBggrBgEFBQcDATAMBgNVHRMBAf8EAjAAMB8GA1UdIwQY
MBaAFObBP2cJz/rdt3FaHcvdX9RY+c6CMHsGA1UdEQR0MHKCBmtzLWNwMYIKa3Vi
ZXJuZXRlc4ISa3ViZXJuZXRlcy5kZWZhdWx0ghZrdWJlcm5ldGVzLmRlZmF1bHQu
c3ZjgiRrdWJlcm5ldGVzLmRlZmF1bHQuc3ZjLmNsdXN0ZXIubG9jYWyHBApgAAGH
BAp1AAswDQYJKoZIhvcNAQELBQADggEBALsOG2D786OmWP6yFdYqEoRQ9tvcckgW
HGq34oCr8u+w6IngPmpoKhhbTyO1Zww0Fg0nyWf5b7Ie7RJ8Gwb39/mW8m4BEl+h
Zw75JZNhKKclhno/AhUa9MpsJLURsy6cpUUevT8XXZBZn3R97lgDkB36bI67/du+
0L2+KY180DfBfaPX0oLuKGcxuk8C7H9PmlnSsYNFHy79hR4zvsK5dIrbwdIKwRlC
nYwxYpxk7O+RtOxrc3fDtldJx//hHpkGMrpkxnuWIzivYBRNbVvprIQTJbfqb6kn
Unoi6qKOhQI9Su/terKXch6ibu1H4eKTk197c7FfFcEI1P1MtSLoqck=
-----END CERTIFICATE-----"""
# openssl req -x509 -addext subjectAltName=DNS:kubernetes,DNS:api.example.test,IP:10.96.0.1,IP:fd00::1 (EC)
EC_CERT = """-----BEGIN CERTIFICATE-----
MIIBxzCCAW2gAwIBAgIUAcqtu9TcmMJxab/QvLxrjEshswIwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOa3ViZS1hcGlzZXJ2ZXIwHhcNMjYxMjAyMDUyMDE5WhcNMzYx
MTI5MDUyMDE5WjAZMRcwFQYDVQQDDA5rdWJlLWFwaXNlcnZlcjBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABKgEdbJ+wPET0zAycOc/ULbpBArweAPnD1ufhK/aJoZa
X3Ia/nNwqJ9+zl/Z1Meaj8c3zKDqbDeRAfPK5FC5CPKjgZIwgY8wHQYDVR0OBBYE
FIspbir64jtZor+iDRhzV934NqVBMB8GA1UdIwQYMBaAFIspbir64jtZor+iDRhz
V934NqVBMD8GA1UdEQQ4MDaCCmt1YmVybmV0ZXOCEGFwaS5leGFtcGxlLnRlc3SH
BApgAAGHEP0AAAAAAAAAAAAAAAAAAAEwDAYDVR0TAQH/BAIwADAKBggqhkjOPQQD
AgNIADBFAiAkkOQVdzq/VvvNsWUvgPCqDtVFk55cbj2qw3ieNL1pKAIhANeDunEa
XSjJI1iT79ssdphQ5nGQQzMqwWIV2+cUKC9a
-----END CERTIFICATE-----"""
# openssl req -x509 without subjectAltName
NO_SANS = """-----BEGIN CERTIFICATE-----
MIIBejCCAR+gAwIBAgIUBjANpRsDPh6bFpdLnVsntsA0Lo4wCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHbm8tc2FuczAeFw0yNjEyMDIwNTIwMTlaFw0zNjExMjkwNTIw
MTlaMBIxEDAOBgNVBAMMB25vLXNhbnMwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AAR9lXIkqVDQZu4nXy7tK0w84XpYwr8kG7OuMyZiN01qKNkwD96aY4ouM9xXPysJ
V3ZeurkyfqVRV9E4H4Tp17ymo1MwUTAdBgNVHQ4EFgQU8kAg5QcNtQSRLg1hWKWy
YYaExSswHwYDVR0jBBgwFoAU8kAg5QcNtQSRLg1hWKWyYYaExSswDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEA/Qs9cKxJzCbZyfDJ71kE0vgIyYPt
wlqPpY4Je5FgSaICIQDNMQsfkg6sblTnH1/iEu2XXj0gmp/HGWOZgQZXxyiGLA==
-----END CERTIFICATE-----"""

LIVE = {'apiVersion': 'kubeadm.k8s.io/v1beta4', 'kind': 'ClusterConfiguration', 'apiServer': {}, 'certificatesDir': '/etc/kubernetes/pki',
        'controllerManager': {'extraArgs': [{'name': 'node-cidr-mask-size', 'value': '24'}]}, 'kubernetesVersion': 'v1.37.2'}


def manifest(*flags, image='registry.k8s.io/kube-apiserver:v1.37.2'):
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'kube-apiserver', 'namespace': 'kube-system'},
            'spec': {'containers': [{'name': 'kube-apiserver', 'image': image, 'command': ['kube-apiserver'] + list(flags)}]}}


def test_certificate_names_of_real_certificates():
    assert ac.certificate_sans(KUBEADM_CERT) == ['DNS:ks-cp1', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc',
                                                 'DNS:kubernetes.default.svc.cluster.local', 'IP:10.117.0.11', 'IP:10.96.0.1']
    assert ac.certificate_sans(EC_CERT) == ['DNS:api.example.test', 'DNS:kubernetes', 'IP:10.96.0.1', 'IP:fd00::1']
    assert ac.certificate_sans(NO_SANS) == []
    with pytest.raises(ValueError):
        ac.certificate_sans('not a certificate')


def test_merged_sets_both_fields_and_removes_them_when_empty_leaving_the_rest():
    new = ac.merged(LIVE, ['api.example.test'], {'audit-log-maxage': 30, 'profiling': False})
    assert new['apiServer'] == {'certSANs': ['api.example.test'],
                                'extraArgs': [{'name': 'audit-log-maxage', 'value': '30'}, {'name': 'profiling', 'value': 'false'}]}
    assert {k: v for k, v in new.items() if k != 'apiServer'} == {k: v for k, v in LIVE.items() if k != 'apiServer'}
    assert LIVE['apiServer'] == {}  # a copy
    back = ac.merged(new, [], {})
    assert back == LIVE
    assert ac.cluster_changes(LIVE, new) == ['apiServer.certSANs: (none) -> [api.example.test]',
                                             'apiServer.extraArgs --audit-log-maxage: set to 30', 'apiServer.extraArgs --profiling: set to false']
    assert ac.cluster_changes(new, back)[-1] == 'apiServer.extraArgs --profiling: removed (was false)'
    assert ac.cluster_changes(new, new) == []


def test_kubeadm_init_renders_the_same_fields_and_drift_in_them_is_reconfigurable():
    params = {'kubernetes_version': '1.37.2', 'cluster_name': 'k', 'control_plane_endpoint': '', 'advertise_address': '10.0.0.1',
              'apiserver_port': 6443, 'image_repository': 'registry.k8s.io', 'pod_subnet': '10.244.0.0/16', 'service_subnet': '10.96.0.0/12',
              'cluster_domain': 'cluster.local', 'node_cidr_mask_size': 24, 'cert_extra_sans': ['api.example.test'],
              'apiserver_extra_args': {'profiling': False}}
    desired = kubeadm.cluster_configuration(params)
    assert desired['apiServer'] == ac.merged({}, ['api.example.test'], {'profiling': False})['apiServer']
    live = dict(desired, apiServer={'extraArgs': [{'name': 'audit-log-maxage', 'value': '30'}]})
    drift = kubeadm.cluster_drift(desired, live)
    # an added name, an added flag and a flag no longer wanted, all reconfigurable; nothing else
    assert drift == ['apiServer.certSANs: live (unset), desired [\'api.example.test\']',
                     'apiServer.extraArgs[audit-log-maxage]: live 30, desired (unset)',
                     'apiServer.extraArgs[profiling]: live (unset), desired false']
    assert all(kubeadm.reconfigurable(line) for line in drift)
    [fixed] = kubeadm.cluster_drift(desired, dict(desired, clusterName='other'))
    assert not kubeadm.reconfigurable(fixed)


@pytest.mark.parametrize('extra, problem', [
    ({'audit-log-maxage': 30, 'profiling': False, 'feature-gates': 'A=true,B=false'}, None),
    ({'--profiling': 'false'}, "'--profiling' is not a kube-apiserver flag name"),
    ({'Profiling': 'false'}, "'Profiling' is not a kube-apiserver flag name"),
    ({'secure-port': 7443}, 'kubeseed_apiserver_extra_args.secure-port: kubeseed does not let this variable set it: set kubeseed_apiserver_port'),
    ({'etcd-servers': 'https://x:2379'}, "stacked etcd"),
    ({'audit-policy-file': None}, 'the value must be a string, number or boolean'),
    ({'admission-control-config-file': ['a', 'b']}, 'the value must be a string, number or boolean'),
    ([], 'must be a mapping'),
])
def test_extra_args_problems(extra, problem):
    found = ac.extra_args_problems(extra)
    assert (found == []) if problem is None else (len(found) == 1 and problem in found[0]), found


def test_manifest_changes_name_flags_and_other_fields():
    live = manifest('--advertise-address=10.0.0.1', '--profiling=true', '--audit-log-maxage=7')
    new = manifest('--advertise-address=10.0.0.1', '--audit-log-maxage=30', '--feature-gates=A=true')
    assert ac.manifest_changes(live, new) == ['--audit-log-maxage: 7 -> 30', '--feature-gates: set to A=true', '--profiling: removed (was true)']
    assert ac.manifest_changes(live, live) == []
    moved = manifest('--advertise-address=10.0.0.1', '--profiling=false', image='registry.k8s.io/kube-apiserver:v1.37.3')
    assert ac.manifest_changes(live, moved) == ['--audit-log-maxage: removed (was 7)', '--profiling: true -> false']
    assert ac.other_differences(live, new) == []  # the flags alone
    assert ac.other_differences(live, moved) == [
        'spec.containers[0].image: registry.k8s.io/kube-apiserver:v1.37.2 -> registry.k8s.io/kube-apiserver:v1.37.3']
    many = dict(moved, metadata={'labels': {str(i): 'x' for i in range(7)}})
    assert len(ac.other_differences(live, many)) == 6 and ac.other_differences(live, many)[-1] == 'and 5 more'  # 7 labels, name, namespace, image
    assert ac.command_flags(new)['feature-gates'] == 'A=true'  # split at the first = only
    assert ac.container_argv(new) == ['kube-apiserver', '--advertise-address=10.0.0.1', '--audit-log-maxage=30', '--feature-gates=A=true']


def test_node_documents_carry_this_node_and_an_optional_certificate_directory():
    init, cluster = ac.node_documents(LIVE, 'cp2', '10.0.0.12', 6443, cert_dir='/tmp/x')
    assert init['kind'] == 'InitConfiguration' and init['localAPIEndpoint'] == {'advertiseAddress': '10.0.0.12', 'bindPort': 6443}
    assert init['nodeRegistration']['name'] == 'cp2' and cluster['certificatesDir'] == '/tmp/x'
    assert LIVE['certificatesDir'] == '/etc/kubernetes/pki'


# ---------------------------------------------------------------- the restart wait, against a scripted crictl ----

class _Module:
    def __init__(self):
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


class _Host:
    name = 'cp1'

    def __init__(self, readyz='ok'):
        self.module = _Module()
        self.readyz = readyz

    def tool(self, _binary):
        return lambda args: (0, self.readyz, '')

    @staticmethod
    def redact(text):
        return text


class _Crictl:
    """crictl ps/inspect/stop/logs from a script: states[i] is what `ps --all` shows at the i-th call (then the last one)."""

    def __init__(self, states, argv, logs='Error: unknown flag: --no-such-flag'):
        self.states, self.argv, self.logs, self.calls, self.stopped = states, argv, logs, 0, []

    def __call__(self, args):
        verb = args[2]
        if verb == 'ps':
            state = self.states[min(self.calls, len(self.states) - 1)]
            self.calls += 1
            return 0, json.dumps({'containers': [{'id': i, 'state': s, 'createdAt': str(n)} for n, (i, s) in enumerate(state)]}), ''
        if verb == 'inspect':
            return 0, json.dumps({'info': {'runtimeSpec': {'process': {'args': self.argv[args[-1]]}}}}), ''
        if verb == 'stop':
            self.stopped.append(args[5:])
            return 0, '', ''
        return 0, '', self.logs


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    clock = {'now': 0.0}
    monkeypatch.setattr(ops.time, 'sleep', lambda s: clock.__setitem__('now', clock['now'] + s))
    monkeypatch.setattr(ops.time, 'monotonic', lambda: clock['now'])


OLD, NEW = ['kube-apiserver', '--profiling=true'], ['kube-apiserver', '--profiling=false']
RUNNING, EXITED = 'CONTAINER_RUNNING', 'CONTAINER_EXITED'


def test_wait_stops_an_old_container_the_kubelet_keeps_and_accepts_only_the_new_command_line():
    before = [{'id': 'a', 'state': RUNNING}]
    crictl = _Crictl([[('a', RUNNING)]] * 3 + [[('a', EXITED), ('b', RUNNING)]], {'a': OLD, 'b': NEW})
    assert ops._wait(_Host(), crictl, before, NEW, '10.0.0.1:6443', 180, restart_now=False) == ''
    assert crictl.stopped == [['a']]  # after KUBELET_SECONDS, not at once


def test_wait_refuses_a_container_with_the_old_command_line():
    before = [{'id': 'a', 'state': RUNNING}]
    crictl = _Crictl([[('a', EXITED), ('b', RUNNING)]], {'a': OLD, 'b': OLD})
    problem = ops._wait(_Host(), crictl, before, NEW, None, 30, restart_now=False)
    assert problem.startswith('not healthy after 30s') and 'does not run the wanted command line' in problem


def test_wait_restarts_at_once_for_a_new_certificate_and_waits_for_readyz():
    before = [{'id': 'a', 'state': RUNNING}]
    crictl = _Crictl([[('a', RUNNING)], [('a', EXITED), ('b', RUNNING)]], {'b': OLD})
    assert ops._wait(_Host(), crictl, before, OLD, None, 180, restart_now=True) == ''
    assert crictl.stopped == [['a']]
    problem = ops._wait(_Host(readyz='[-]etcd failed'), _Crictl([[('a', EXITED), ('b', RUNNING)]], {'b': OLD}), before, OLD, None, 20,
                        restart_now=True)
    assert '/readyz: [-]etcd failed' in problem


def test_wait_fails_fast_when_the_new_container_keeps_exiting_and_shows_its_log():
    before = [{'id': 'a', 'state': RUNNING}]
    crictl = _Crictl([[('a', EXITED), ('b', EXITED), ('c', EXITED)]], {})
    problem = ops._wait(_Host(), crictl, before, NEW, None, 180, restart_now=False)
    assert problem == 'the new kube-apiserver container exited 2 times; its last log lines: Error: unknown flag: --no-such-flag'


def test_wait_counts_exits_the_kubelet_has_already_removed():
    """The kubelet keeps one dead container per pod container: exits seen one at a time still add up (seen on the lab:
    a refused flag waited for the whole timeout), and the log lines are read while the container is still there."""
    before = [{'id': 'a', 'state': RUNNING}]
    crictl = _Crictl([[('b', RUNNING)], [('b', EXITED)], [('b', EXITED)], [('c', RUNNING)], [('c', EXITED)]], {'b': OLD, 'c': OLD})
    problem = ops._wait(_Host(), crictl, before, NEW, None, 180, restart_now=False)
    assert problem == 'the new kube-apiserver container exited 2 times; its last log lines: Error: unknown flag: --no-such-flag'
    assert crictl.calls == 5  # at the second exit, not at the deadline


def test_wait_ends_when_a_crashed_container_is_not_started_again():
    """Seen on the lab: one exit, then no new container for minutes; the wait ends QUIET_AFTER_EXIT_SECONDS later."""
    crictl = _Crictl([[('b', RUNNING)], [('b', EXITED)], []], {'b': OLD})
    problem = ops._wait(_Host(), crictl, [{'id': 'a', 'state': RUNNING}], NEW, None, 180, restart_now=False)
    assert problem == ('the new kube-apiserver container exited and was not started again for 40s; its last log lines: '
                       'Error: unknown flag: --no-such-flag')
    assert ops.time.monotonic() < 60  # not the 180 s timeout
    # an exit because the previous container still held the port is waited out too
    crictl = _Crictl([[('b', RUNNING)], [('b', EXITED)], []], {'b': OLD}, logs='listen tcp 0.0.0.0:6443: bind: address already in use')
    problem = ops._wait(_Host(), crictl, [{'id': 'a', 'state': RUNNING}], NEW, None, 180, restart_now=False)
    assert problem.startswith('not healthy after 180s')
    # the rollback is patient: the previous API server gets the whole timeout
    crictl = _Crictl([[('b', RUNNING)], [('b', EXITED)], []], {'b': OLD})
    problem = ops._wait(_Host(), crictl, [{'id': 'a', 'state': RUNNING}], NEW, None, 180, restart_now=False, patient=True)
    assert problem.startswith('not healthy after 180s') and ops.time.monotonic() >= 180


def test_wait_gives_a_crashed_container_its_restart():
    """One exit followed by a new container that comes up (e.g. the old one still held the port) is no failure."""
    before = [{'id': 'a', 'state': RUNNING}]
    crictl = _Crictl([[('b', EXITED)]] * 8 + [[('c', RUNNING)]], {'c': NEW})
    assert ops._wait(_Host(), crictl, before, NEW, None, 180, restart_now=False) == ''


class _Exit(BaseException):  # like the SystemExit of fail_json, which _guarded lets pass
    pass


class _AnsibleModule:
    """What the ops read of AnsibleModule: params, check mode, diff, fail_json."""

    def __init__(self, **params):
        self.params = dict({'extra_args': {}, 'cert_extra_sans': [], 'node_name': 'cp1', 'advertise_address': '10.0.0.1',
                            'apiserver_port': 6443, 'apply': True, 'timeout': 10, 'kubeadm_path': 'kubeadm'}, **params)
        self.check_mode, self._diff, self.no_log_values = True, True, set()

    def fail_json(self, **kwargs):
        raise _Exit(kwargs['msg'])


@pytest.mark.parametrize('scope', ['node', 'cluster'])
def test_a_host_that_is_no_control_plane_yet_needs_no_yaml_library(monkeypatch, scope):
    """Check mode on bare hosts: role node installs python3-yaml later in the same run."""
    monkeypatch.setattr(ops, 'HAS_YAML', False)
    monkeypatch.setattr(ops.os.path, 'exists', lambda path: False)
    result = getattr(ops, scope)(_AnsibleModule())
    assert result['changed'] is False and result['differs'] is False
    monkeypatch.setattr(ops.os.path, 'exists', lambda path: True)  # a control plane: now it is needed, and said so
    with pytest.raises(_Exit, match='python3-yaml is missing on'):
        getattr(ops, scope)(_AnsibleModule())


def test_a_refused_flag_fails_before_anything_is_read():
    with pytest.raises(_Exit, match=r'kubeseed_apiserver_extra_args.secure-port: kubeseed does not let .*Nothing was changed'):
        ops.node(_AnsibleModule(extra_args={'secure-port': 7443}))


def test_wait_names_a_crictl_that_keeps_failing():
    def broken(args):
        return (1, '', 'connect: connection refused') if args[2] == 'ps' else (0, '', '')
    problem = ops._wait(_Host(), broken, [{'id': 'a', 'state': RUNNING}], NEW, None, 10, restart_now=False)
    assert problem == 'not healthy after 10s (crictl ps: connect: connection refused)'


def test_the_log_lines_of_a_failed_api_server_hold_no_token():
    """A failure shows the container's last log lines: a bootstrap token in them (e.g. a flag's value) is redacted."""
    from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import Host
    token = 'abcdef.0123456789abcdef'
    crictl = _Crictl([[]], {}, logs='Error: invalid value "%s" for flag --token-auth' % token)
    shown = ops._logs(Host(_AnsibleModule()), crictl, 'b')
    assert 'Error: invalid value' in shown and token not in shown and '0123456789abcdef' not in shown
