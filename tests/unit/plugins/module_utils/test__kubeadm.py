# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm configuration rendering, drift comparison, node state detection, the CA hash and secret redaction.

Redaction is checked against tests/e2e/_secrets.py (an independent oracle of the forms a secret can take), which is
tested here too.
"""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm as kubeadm
from ansible_collections.kubeseed.cluster.tests.e2e import _secrets

PARAMS = {
    'kubernetes_version': '1.37.2', 'node_name': 'cp1', 'advertise_address': '192.168.50.10', 'cluster_name': 'lab',
    'cluster_domain': 'cluster.local', 'pod_subnet': '10.244.0.0/16', 'service_subnet': '10.96.0.0/12', 'node_cidr_mask_size': 24,
    'control_plane_endpoint': '', 'apiserver_port': 6443, 'cert_extra_sans': [], 'control_plane_schedulable': False,
    'image_repository': 'registry.k8s.io', 'cgroup_driver': 'systemd', 'cgroup_v1': False, 'conntrack_max_per_core_zero': False,
    'ignore_preflight_errors': [],
}


def by_kind(documents):
    return {doc['kind']: doc for doc in documents}


def test_init_documents_render_the_variables():
    docs = by_kind(kubeadm.init_documents(PARAMS))
    assert set(docs) == {'InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration', 'KubeProxyConfiguration'}
    cluster = docs['ClusterConfiguration']
    assert cluster['apiVersion'] == 'kubeadm.k8s.io/v1beta4'
    assert cluster['kubernetesVersion'] == 'v1.37.2'
    assert cluster['networking'] == {'podSubnet': '10.244.0.0/16', 'serviceSubnet': '10.96.0.0/12', 'dnsDomain': 'cluster.local'}
    assert cluster['controlPlaneEndpoint'] == '192.168.50.10:6443'
    assert cluster['controllerManager']['extraArgs'] == [{'name': 'node-cidr-mask-size', 'value': '24'}]
    init = docs['InitConfiguration']
    assert init['localAPIEndpoint'] == {'advertiseAddress': '192.168.50.10', 'bindPort': 6443}
    assert init['nodeRegistration']['kubeletExtraArgs'] == [{'name': 'node-ip', 'value': '192.168.50.10'}]
    assert 'taints' not in init['nodeRegistration'] and 'ignorePreflightErrors' not in init['nodeRegistration']
    assert 'failCgroupV1' not in docs['KubeletConfiguration']
    assert 'evictionHard' not in docs['KubeletConfiguration'] and 'imageGCHighThresholdPercent' not in docs['KubeletConfiguration']
    assert 'conntrack' not in docs['KubeProxyConfiguration']


def test_workarounds_and_options_change_only_their_fields():
    params = dict(PARAMS, cgroup_v1=True, conntrack_max_per_core_zero=True, shared_disk=True, control_plane_schedulable=True,
                  ignore_preflight_errors=['SystemVerification'], cert_extra_sans=['k8s.example.com'], cgroup_driver='cgroupfs')
    docs = by_kind(kubeadm.init_documents(params))
    assert docs['KubeletConfiguration']['failCgroupV1'] is False
    assert docs['KubeletConfiguration']['cgroupDriver'] == 'cgroupfs'
    assert docs['KubeletConfiguration']['evictionHard'] == {'memory.available': '100Mi', 'nodefs.available': '0%',
                                                            'nodefs.inodesFree': '0%', 'imagefs.available': '0%'}
    assert docs['KubeletConfiguration']['imageGCHighThresholdPercent'] == 100
    assert docs['KubeProxyConfiguration']['conntrack'] == {'maxPerCore': 0}
    assert docs['InitConfiguration']['nodeRegistration']['taints'] == []
    assert docs['InitConfiguration']['nodeRegistration']['ignorePreflightErrors'] == ['SystemVerification']
    assert docs['ClusterConfiguration']['apiServer'] == {'certSANs': ['k8s.example.com']}


@pytest.mark.parametrize('configured,expected', [
    ('lb.example.com', 'lb.example.com:6443'),
    ('lb.example.com:8443', 'lb.example.com:8443'),
    ('[fd00::1]', '[fd00::1]:6443'),
    ('[fd00::1]:7443', '[fd00::1]:7443'),
    ('', '192.168.50.10:6443'),
])
def test_endpoint(configured, expected):
    assert kubeadm.endpoint(dict(PARAMS, control_plane_endpoint=configured)) == expected


def test_join_documents_worker_and_control_plane():
    params = dict(PARAMS, api_server_endpoint='192.168.50.10:6443', token='abcdef.0123456789abcdef', ca_cert_hash='sha256:00',
                  control_plane=False, certificate_key=None, node_name='w1', advertise_address='192.168.50.11')
    (join,) = kubeadm.join_documents(params)
    assert join['discovery']['bootstrapToken'] == {'apiServerEndpoint': '192.168.50.10:6443', 'token': 'abcdef.0123456789abcdef',
                                                   'caCertHashes': ['sha256:00']}
    assert 'controlPlane' not in join
    (join,) = kubeadm.join_documents(dict(params, control_plane=True, certificate_key='ab' * 32))
    assert join['controlPlane'] == {'localAPIEndpoint': {'advertiseAddress': '192.168.50.11', 'bindPort': 6443}, 'certificateKey': 'ab' * 32}


def test_no_drift_when_live_matches_even_with_extra_live_fields():
    desired = kubeadm.cluster_configuration(PARAMS)
    live = dict(desired, etcd={'local': {'dataDir': '/var/lib/etcd'}}, certificatesDir='/etc/kubernetes/pki')
    assert kubeadm.cluster_drift(desired, live) == []


def test_drift_names_each_differing_field():
    desired = kubeadm.cluster_configuration(dict(PARAMS, pod_subnet='10.245.0.0/16', node_cidr_mask_size=25))
    live = kubeadm.cluster_configuration(PARAMS)
    assert kubeadm.cluster_drift(desired, live) == [
        'controllerManager.extraArgs[node-cidr-mask-size]: live 24, desired 25',
        'networking.podSubnet: live 10.244.0.0/16, desired 10.245.0.0/16',
    ]


def test_drift_of_an_unset_live_field():
    desired = kubeadm.cluster_configuration(dict(PARAMS, cert_extra_sans=['api.example.com']))
    live = kubeadm.cluster_configuration(PARAMS)
    assert kubeadm.cluster_drift(desired, live) == ["apiServer.certSANs: live (unset), desired ['api.example.com']"]


@pytest.mark.parametrize('files,control_plane,state', [
    ([], False, 'absent'),
    ([], True, 'absent'),
    (['/etc/kubernetes/kubelet.conf'], False, 'member'),
    (['/etc/kubernetes/kubelet.conf'], True, 'partial'),
    (['/etc/kubernetes/kubelet.conf', '/etc/kubernetes/manifests/kube-apiserver.yaml', '/etc/kubernetes/admin.conf'], True, 'member'),
    (['/etc/kubernetes/bootstrap-kubelet.conf'], False, 'partial'),
    (['/etc/kubernetes/pki/ca.crt'], False, 'partial'),
    (['/var/lib/kubelet/config.yaml'], False, 'partial'),
    (['/etc/kubernetes/manifests/etcd.yaml'], True, 'partial'),
])
def test_node_state(files, control_plane, state):
    assert kubeadm.node_state(lambda path: path in files, control_plane=control_plane) == state


def _der(tag: int, body: bytes) -> bytes:
    length = len(body)
    if length < 0x80:
        return bytes([tag, length]) + body
    raw = length.to_bytes((length.bit_length() + 7) // 8, 'big')
    return bytes([tag, 0x80 | len(raw)]) + raw + body


def test_ca_cert_hash_is_sha256_of_the_subject_public_key_info():
    spki = _der(0x30, _der(0x30, _der(0x06, b'\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01') + _der(0x05, b'')) + _der(0x03, b'\x00' + b'k' * 300))
    name = _der(0x30, _der(0x31, _der(0x30, _der(0x06, b'\x55\x04\x03') + _der(0x0c, b'kubernetes'))))
    tbs = _der(0x30, _der(0xA0, _der(0x02, b'\x02')) + _der(0x02, b'\x01') + _der(0x30, _der(0x06, b'\x2a')) + name
               + _der(0x30, _der(0x17, b'260101000000Z') * 2) + name + spki)
    cert = _der(0x30, tbs + _der(0x30, _der(0x06, b'\x2a')) + _der(0x03, b'\x00sig'))
    pem = '-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n' % base64.encodebytes(cert).decode()
    assert kubeadm.ca_cert_hash(pem) == 'sha256:' + hashlib.sha256(spki).hexdigest()


# Secrets ---------------------------------------------------------------------------------------------------------------

TOKEN = 'mark3r.s3cr3tm4rk3rv4lu'
CERT_KEY = 'deadbeef' * 8
CONTEXTS = ['%s', '--token %s', '--token=%s', 'token: %s', '  token: "%s"', '{"token": "%s"}', '--certificate-key %s',
            '--certificate-key=%s', 'certificateKey: %s', "{'certificateKey': '%s'}"]
ENCODINGS = {
    'plain': lambda text: text,
    'base64': lambda text: base64.b64encode(text.encode()).decode(),
    'base64 unpadded': lambda text: base64.b64encode(text.encode()).decode().rstrip('='),
    'urlsafe base64': lambda text: base64.urlsafe_b64encode(text.encode()).decode(),
    'base64 wrapped': lambda text: base64.encodebytes(text.encode()).decode(),
}


def _leaks(secret):
    """Every (description, text) where the secret is written in one of its forms, at every base64 alignment."""
    for context in CONTEXTS:
        for prefix in ('', 'k', 'ku', 'kub'):
            for name, encode in ENCODINGS.items():
                yield '%s of %r after %r' % (name, context, prefix), encode(prefix + context % secret + '\n' + 'x' * 40)


@pytest.mark.parametrize('known', [True, False], ids=['known', 'by shape'])
@pytest.mark.parametrize('secret', [TOKEN, CERT_KEY], ids=['token', 'certificate key'])
def test_redact_removes_every_form_of_a_secret(secret, known):
    for description, leak in _leaks(secret):
        text = 'kubeadm failed:\n%s\nerror execution phase preflight' % leak
        redacted = kubeadm.redact(text, [secret] if known else [])
        _secrets.assert_no_secret(redacted, [secret], description)
        assert redacted.startswith('kubeadm failed:\n') and redacted.endswith('\nerror execution phase preflight'), description


def test_redact_removes_a_known_secret_of_any_shape_and_a_token_secret_half():
    password = 'Pa55-word_of.any+shape'
    text = 'user %s\n%s\ntoken-secret: %s\nsecret half 0123456789abcdef\n' % (
        password, base64.b64encode(password.encode()).decode(), base64.b64encode(b'0123456789abcdef').decode())
    redacted = kubeadm.redact(text, [password, 'abcdef.0123456789abcdef'])
    _secrets.assert_no_secret(redacted, [password, 'abcdef.0123456789abcdef'], 'redacted text')
    assert kubeadm.redact('token-data: ' + base64.b64encode(b's3cr3tm4rk3rv4lu').decode()) == 'token-data: <redacted>'


def test_redact_removes_private_keys_and_kubeconfig_credentials():
    key = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIM4rk3rK3yB0dy\n-----END EC PRIVATE KEY-----'
    certificate = base64.b64encode(b'-----BEGIN CERTIFICATE-----').decode()
    kubeconfig = ('apiVersion: v1\nusers:\n- name: admin\n  user:\n    client-certificate-data: %s\n    client-key-data: %s\n'
                  '    token: eyJhbGciOiJSUzI1NiJ9.payload.signature\n') % (certificate, base64.b64encode(key.encode()).decode())
    redacted = kubeadm.redact('ca.key:\n%s\nkubeconfig:\n%s' % (key, kubeconfig))
    _secrets.assert_no_secret(redacted, ['MHcCAQEEIM4rk3rK3yB0dy', key, 'eyJhbGciOiJSUzI1NiJ9.payload.signature'], 'redacted text')
    assert '<redacted private key>' in redacted and 'client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t' in redacted


def test_redact_keeps_what_is_not_secret():
    text = ('failed to get token: connection refused\n'
            'kubeadm join 10.0.0.1:6443 --discovery-token-ca-cert-hash sha256:%s\n'
            'image registry.k8s.io/pause@sha256:%s\n'
            'bootstrap token "mark3r" not found; secret bootstrap-token-mark3r\n'
            'token-id: %s\n'
            '[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"\n'
            'certificate-authority-data: %s\n')
    text = text % ('ab' * 32, 'cd' * 32, base64.b64encode(b'mark3r').decode(), base64.b64encode(b'-----BEGIN CERTIFICATE-----\nMIIB').decode())
    assert kubeadm.redact(text) == text


def test_secret_forms_and_redact_all():
    assert kubeadm.secret_forms('') == [] and kubeadm.secret_forms('short') == []
    forms = kubeadm.secret_forms(TOKEN)
    assert TOKEN in forms and 's3cr3tm4rk3rv4lu' in forms and 'mark3r' not in forms
    assert base64.b64encode(TOKEN.encode()).decode() in forms and base64.b64encode(b's3cr3tm4rk3rv4lu').decode().rstrip('=') in forms
    result = {'msg': 'joined with --token %s' % TOKEN, 'items': [TOKEN, 3, None, True], TOKEN: ('x',), 'ca_cert_hash': 'sha256:' + 'ef' * 32}
    assert kubeadm.redact_all(result, [TOKEN]) == {
        'msg': 'joined with --token <redacted>', 'items': ['<redacted>', 3, None, True], '<redacted>': ('x',),
        'ca_cert_hash': 'sha256:' + 'ef' * 32}


# tests/e2e/_secrets.py, the oracle ---------------------------------------------------------------------------------------

def test_oracle_forms_of_a_token():
    named = dict((form, name) for name, form in _secrets.named_secret_forms(TOKEN))
    assert named[TOKEN] == 'raw value' and named['s3cr3tm4rk3rv4lu'] == 'token secret half'
    assert named[base64.b64encode(TOKEN.encode()).decode()] == 'base64 of the raw value'
    assert named[base64.b64encode(TOKEN.encode()).decode().rstrip('=')] == 'base64 without padding of the raw value'
    assert 'mark3r' not in named  # the id is not secret
    assert _secrets.secret_forms(TOKEN) == [form for _name, form in _secrets.named_secret_forms(TOKEN)]
    weird = 'a?>b?>c?>d'  # its base64 holds + and /, so the urlsafe forms differ
    assert base64.urlsafe_b64encode(weird.encode()).decode() in _secrets.secret_forms(weird)


@pytest.mark.parametrize('secret', [TOKEN, CERT_KEY, 'a?>b?>c?>d-any-secret'])
def test_oracle_finds_every_form_at_every_alignment(secret):
    for description, leak in _leaks(secret):
        assert _secrets.find_secret('first line\n' + leak, [secret]), description
    assert _secrets.find_secret('first line\nnothing here\n', [secret]) is None


def test_oracle_message_names_form_and_line_but_not_the_secret():
    text = 'a\nb\nc ' + base64.b64encode(('token: %s' % TOKEN).encode()).decode()
    with pytest.raises(AssertionError) as failure:
        _secrets.assert_no_secret(text, ['', CERT_KEY, TOKEN], 'site.yml -vvv output')
    message = str(failure.value)
    assert message.startswith('site.yml -vvv output: secret #2 (bootstrap token) found as the base64 of the raw value inside a longer '
                              'text (alignment ')
    assert message.endswith(' on line 3')
    assert all(form not in message for form in _secrets.secret_forms(TOKEN))
    wrapped = base64.encodebytes(('x' * 50 + 'certificateKey: ' + CERT_KEY).encode()).decode()
    assert '\n' in wrapped.strip() and 'certificate key' in _secrets.find_secret(wrapped, [CERT_KEY])
    _secrets.assert_no_secret(json.dumps({'msg': 'token: <redacted>', 'id': 'mark3r'}), [TOKEN, CERT_KEY], 'result')


@pytest.mark.parametrize('field, live, what', [
    ('networking', {'podSubnet': '10.245.0.0/16', 'serviceSubnet': '10.96.0.0/12', 'dnsDomain': 'cluster.local'},
     'fixed for the life of the cluster: keep the live value, or build a new cluster (playbooks/reset.yml, then site.yml)'),
    ('kubernetesVersion', 'v1.36.3', 'run playbooks/upgrade.yml'),
    ('controlPlaneEndpoint', 'lb.example.test:6443', 'put a new load balancer at that address'),
    ('imageRepository', 'mirror.example.test', 'kubeseed_containerd_registry_mirrors'),
    ('controllerManager', {'extraArgs': [{'name': 'node-cidr-mask-size', 'value': '25'}]}, "pod ranges were cut with it"),
])
def test_each_fixed_field_that_differs_comes_with_what_to_do(field, live, what):
    desired = kubeadm.cluster_configuration({
        'kubernetes_version': '1.37.2', 'cluster_name': 'k', 'control_plane_endpoint': '', 'advertise_address': '10.0.0.1',
        'apiserver_port': 6443, 'image_repository': 'registry.k8s.io', 'pod_subnet': '10.244.0.0/16', 'service_subnet': '10.96.0.0/12',
        'cluster_domain': 'cluster.local', 'node_cidr_mask_size': 24})
    [line] = kubeadm.cluster_drift(desired, dict(desired, **{field: live}))
    assert what in kubeadm.procedure(line), (line, kubeadm.procedure(line))
