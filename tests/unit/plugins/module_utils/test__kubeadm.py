# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm configuration rendering, drift comparison, node state detection and the CA hash."""
from __future__ import annotations

import base64
import hashlib

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm as kubeadm

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
    assert 'conntrack' not in docs['KubeProxyConfiguration']


def test_workarounds_and_options_change_only_their_fields():
    params = dict(PARAMS, cgroup_v1=True, conntrack_max_per_core_zero=True, control_plane_schedulable=True,
                  ignore_preflight_errors=['SystemVerification'], cert_extra_sans=['k8s.example.com'], cgroup_driver='cgroupfs')
    docs = by_kind(kubeadm.init_documents(params))
    assert docs['KubeletConfiguration']['failCgroupV1'] is False
    assert docs['KubeletConfiguration']['cgroupDriver'] == 'cgroupfs'
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
