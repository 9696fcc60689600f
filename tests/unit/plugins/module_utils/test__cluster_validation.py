# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster variable contract: a corpus of invalid inventories, each message naming its path."""
from __future__ import annotations

import copy
import random
import re

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_schema import CLUSTER_SCHEMA
from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_validation import validate_cluster

GROUPS = {'control_plane': ['cp1'], 'workers': ['w1', 'w2'], 'etcd': []}
HOSTS = {
    'cp1': {'address': '192.168.50.10', 'vars': {}},
    'w1': {'address': '192.168.50.11', 'vars': {}},
    'w2': {'address': '192.168.50.12', 'vars': {}},
}


PEM = '-----BEGIN CERTIFICATE-----\nMIIBhDCCASugAwIBAgIPJAX13bY3' + 'A' * 36 + '\n' + 'QUJD' * 16 + '\n-----END CERTIFICATE-----\n'
PRIVATE_KEY = '-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n'
PGP_KEY = ('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEaxM9nRYJKwYBBAHaRw8BAQdAN9QbyrSxyUqagBCzVMUPrKqLoJvVxftQ4WUR\n'
           'tA14IDx4QHguaW52YWxpZD6IkwQTFgoAOxYhBKX8zt==\n=o6Ks\n-----END PGP PUBLIC KEY BLOCK-----\n')


def run(cluster_vars=None, groups=None, hosts=None, host_vars=None):
    """Validate GROUPS/HOSTS with cluster_vars on every host and host_vars on some."""
    hosts = copy.deepcopy(hosts if hosts is not None else HOSTS)
    for spec in hosts.values():
        spec.setdefault('vars', {}).update(copy.deepcopy(cluster_vars or {}))
    for host, values in (host_vars or {}).items():
        hosts[host]['vars'].update(values)
    return validate_cluster(groups if groups is not None else GROUPS, hosts)


# (id, cluster-wide vars, expected path at the start of a message, fragment of that message)
INVALID_VARS = [
    ('pod-subnet-prefix', {'kubeseed_pod_subnet': '10.244.0.0/33'}, 'kubeseed_pod_subnet:', 'is not a valid CIDR'),
    ('pod-subnet-host-bits', {'kubeseed_pod_subnet': '10.244.1.0/16'}, 'kubeseed_pod_subnet:', 'is not a valid CIDR'),
    ('pod-subnet-no-prefix', {'kubeseed_pod_subnet': '10.244.0.0'}, 'kubeseed_pod_subnet:', 'is not a valid CIDR'),
    ('pod-subnet-type', {'kubeseed_pod_subnet': 24}, 'kubeseed_pod_subnet:', 'expected a string'),
    ('service-subnet', {'kubeseed_service_subnet': '10.96.0.0/40'}, 'kubeseed_service_subnet:', 'is not a valid CIDR'),
    ('subnets-overlap', {'kubeseed_service_subnet': '10.244.128.0/20'}, 'kubeseed_service_subnet:', 'overlaps kubeseed_pod_subnet'),
    ('node-subnet-overlap-pod', {'kubeseed_node_subnets': ['10.244.3.0/24']}, 'kubeseed_node_subnets[0]:', 'overlaps kubeseed_pod_subnet'),
    ('node-subnet-overlap-svc', {'kubeseed_node_subnets': ['192.168.50.0/24', '10.100.0.0/16']}, 'kubeseed_node_subnets[1]:',
     'overlaps kubeseed_service_subnet'),
    ('node-subnet-invalid', {'kubeseed_node_subnets': ['192.168.50.0/24', 'lan']}, 'kubeseed_node_subnets[1]:', 'is not a valid CIDR'),
    ('node-subnets-type', {'kubeseed_node_subnets': '192.168.50.0/24'}, 'kubeseed_node_subnets:', 'expected a list'),
    ('host-in-pod-net', {'kubeseed_pod_subnet': '192.168.0.0/16'}, 'kubeseed_pod_subnet:', 'ansible_host address 192.168.50.10'),
    ('mask-too-short', {'kubeseed_node_cidr_mask_size': 16}, 'kubeseed_node_cidr_mask_size:', 'must be longer than the prefix'),
    ('mask-range', {'kubeseed_node_cidr_mask_size': 31}, 'kubeseed_node_cidr_mask_size:', 'is too long for an IPv4 pod subnet'),
    ('mask-schema-range', {'kubeseed_node_cidr_mask_size': 129}, 'kubeseed_node_cidr_mask_size:', 'greater than the maximum of 128'),
    ('mask-equals-prefix', {'kubeseed_pod_subnet': '10.244.0.0/24'}, 'kubeseed_node_cidr_mask_size:', 'must be longer than the prefix'),
    ('mask-ipv6-default', {'kubeseed_pod_subnet': 'fd00:10:244::/56', 'kubeseed_service_subnet': 'fd00:10:96::/112'},
     'kubeseed_node_cidr_mask_size:', 'expected 57 to 72, e.g. 64'),
    ('mask-ipv6-too-long', {'kubeseed_pod_subnet': 'fd00:10:244::/48', 'kubeseed_service_subnet': 'fd00:10:96::/112',
                            'kubeseed_node_cidr_mask_size': 80}, 'kubeseed_node_cidr_mask_size:', 'more than 16 bits longer'),
    ('pod-subnet-too-few-ranges', {'kubeseed_pod_subnet': '10.244.0.0/23'}, 'kubeseed_pod_subnet:', 'holds only 2 node ranges'),
    ('service-subnet-too-large', {'kubeseed_service_subnet': '10.0.0.0/8'}, 'kubeseed_service_subnet:', 'at most 20 host bits (use /12'),
    ('service-subnet-v6-too-large', {'kubeseed_pod_subnet': 'fd00:10:244::/56', 'kubeseed_service_subnet': 'fd00:10:96::/64',
                                     'kubeseed_node_cidr_mask_size': 64}, 'kubeseed_service_subnet:', 'use /108 or longer'),
    ('service-subnet-too-small', {'kubeseed_service_subnet': '10.96.0.0/29'}, 'kubeseed_service_subnet:', 'is too small'),
    ('families-differ', {'kubeseed_service_subnet': 'fd00:10:96::/112'}, 'kubeseed_service_subnet:', 'use one IP family'),
    ('cidr-host-bits-hint', {'kubeseed_service_subnet': '10.96.0.1/12'}, 'kubeseed_service_subnet:', 'is not a valid CIDR'),
    ('version-leading-v', {'kubeseed_kubernetes_version': 'v1.37.2'}, 'kubeseed_kubernetes_version:', 'use the form 1.37.2'),
    ('version-short', {'kubeseed_kubernetes_version': '1.37'}, 'kubeseed_kubernetes_version:', 'use the form 1.37.2'),
    ('version-newline', {'kubeseed_kubernetes_version': '1.37.2\n'}, 'kubeseed_kubernetes_version:', 'ends with a newline'),
    ('version-zero-width', {'kubeseed_kubernetes_version': '1.37.2\u200b'}, 'kubeseed_kubernetes_version:',
     'ends with an invisible character U+200B'),
    ('version-leading-zero', {'kubeseed_kubernetes_version': '1.037.2'}, 'kubeseed_kubernetes_version:', 'use the form 1.37.2'),
    ('cluster-name-nbsp', {'kubeseed_cluster_name': 'prod\u00a0'}, 'kubeseed_cluster_name:', 'no-break space U+00A0'),
    ('pod-subnet-bom', {'kubeseed_pod_subnet': '\ufeff10.244.0.0/16'}, 'kubeseed_pod_subnet:', 'invisible character U+FEFF'),
    ('version-float', {'kubeseed_kubernetes_version': 1.37}, 'kubeseed_kubernetes_version:', 'expected a string'),
    ('version-unsupported', {'kubeseed_kubernetes_version': '1.28.4'}, 'kubeseed_kubernetes_version:', 'supports 1.34 to 1.37'),
    ('version-too-new', {'kubeseed_kubernetes_version': '1.40.0'}, 'kubeseed_kubernetes_version:', 'is not supported'),
    ('cluster-name', {'kubeseed_cluster_name': 'Prod_EU'}, 'kubeseed_cluster_name:', 'lowercase letters'),
    ('cluster-domain', {'kubeseed_cluster_domain': 'cluster..local'}, 'kubeseed_cluster_domain:', 'lowercase DNS domain'),
    ('endpoint-scheme', {'kubeseed_control_plane_endpoint': 'https://lb:6443'}, 'kubeseed_control_plane_endpoint:', 'host:port'),
    ('endpoint-path', {'kubeseed_control_plane_endpoint': 'lb.example.com:6443/'}, 'kubeseed_control_plane_endpoint:', 'has a path'),
    ('endpoint-port-range', {'kubeseed_control_plane_endpoint': 'lb.example.com:70000'}, 'kubeseed_control_plane_endpoint:',
     'outside 1 to 65535'),
    ('endpoint-port-zero', {'kubeseed_control_plane_endpoint': 'lb.example.com:0'}, 'kubeseed_control_plane_endpoint:', 'outside 1 to 65535'),
    ('endpoint-ipv6-bare', {'kubeseed_control_plane_endpoint': 'fd00::1'}, 'kubeseed_control_plane_endpoint:', 'without brackets'),
    ('endpoint-uppercase', {'kubeseed_control_plane_endpoint': 'LB.example.com'}, 'kubeseed_control_plane_endpoint:', 'lowercase'),
    ('endpoint-bad-ipv4', {'kubeseed_control_plane_endpoint': '192.168.50.300:6443'}, 'kubeseed_control_plane_endpoint:',
     'not a valid IPv4 address'),
    ('endpoint-in-service-net', {'kubeseed_control_plane_endpoint': '10.96.0.1:6443'}, 'kubeseed_control_plane_endpoint:',
     'is inside kubeseed_service_subnet'),
    ('endpoint-in-pod-net', {'kubeseed_control_plane_endpoint': '10.244.1.1'}, 'kubeseed_control_plane_endpoint:',
     'is inside kubeseed_pod_subnet'),
    ('endpoint-is-a-worker', {'kubeseed_control_plane_endpoint': '192.168.50.11:6443'}, 'kubeseed_control_plane_endpoint:',
     "host 'w1' of group 'workers'"),
    ('endpoint-port-not-api-port', {'kubeseed_control_plane_endpoint': '192.168.50.10:8443'}, 'kubeseed_control_plane_endpoint:',
     'differs from kubeseed_apiserver_port 6443'),
    ('san-scheme', {'kubeseed_apiserver_cert_extra_sans': ['https://lb.example.com']}, 'kubeseed_apiserver_cert_extra_sans[0]:',
     'starts with a scheme'),
    ('san-port', {'kubeseed_apiserver_cert_extra_sans': ['lb.example.com:6443']}, 'kubeseed_apiserver_cert_extra_sans[0]:', 'has a port'),
    ('san-wildcard-middle', {'kubeseed_apiserver_cert_extra_sans': ['api.*.example.com']}, 'kubeseed_apiserver_cert_extra_sans[0]:',
     'wildcard'),
    ('san-type', {'kubeseed_apiserver_cert_extra_sans': [6443]}, 'kubeseed_apiserver_cert_extra_sans[0]:', 'expected a string'),
    ('image-repository-scheme', {'kubeseed_image_repository': 'https://registry.example.com'}, 'kubeseed_image_repository:',
     'starts with a scheme'),
    ('image-repository-uppercase', {'kubeseed_image_repository': 'registry.example.com/MyTeam'}, 'kubeseed_image_repository:',
     'must be lowercase'),
    ('image-repository-tag', {'kubeseed_image_repository': 'registry.example.com/k8s:v1.37.2'}, 'kubeseed_image_repository:', 'has a tag'),
    ('image-repository-port', {'kubeseed_image_repository': 'registry.example.com:99999/k8s'}, 'kubeseed_image_repository:',
     'outside 1 to 65535'),
    ('label-key', {'kubeseed_node_labels': {'Node Pool': 'a'}}, 'kubeseed_node_labels:', 'is not a valid label key'),
    ('label-key-prefix', {'kubeseed_node_labels': {'Example.com/pool': 'a'}}, 'kubeseed_node_labels:', 'the prefix'),
    ('label-key-long', {'kubeseed_node_labels': {'p' * 64: 'a'}}, 'kubeseed_node_labels:', 'at most 63'),
    ('label-value', {'kubeseed_node_labels': {'pool': 'batch jobs'}}, 'kubeseed_node_labels.pool:', 'is not a valid label value'),
    ('label-value-bool', {'kubeseed_node_labels': {'gpu': True}}, 'kubeseed_node_labels.gpu:', 'put it in quotes'),
    ('label-value-long', {'kubeseed_node_labels': {'pool': 'a' * 64}}, 'kubeseed_node_labels.pool:', 'at most 63'),
    ('taints-mapping', {'kubeseed_node_taints': {'dedicated': 'gpu:NoSchedule'}}, 'kubeseed_node_taints:', 'is a mapping, expected a list'),
    ('taints-kubectl-text', {'kubeseed_node_taints': ['dedicated=gpu:NoSchedule']}, 'kubeseed_node_taints[0]:',
     '(write {key: dedicated, value: gpu, effect: NoSchedule})'),
    ('taint-effect-case', {'kubeseed_node_taints': [{'key': 'a', 'effect': 'noSchedule'}]}, 'kubeseed_node_taints[0].effect:',
     'case-sensitive: write NoSchedule'),
    ('taint-effect-unknown', {'kubeseed_node_taints': [{'key': 'a', 'effect': 'NoScheduleNoAdmit'}]}, 'kubeseed_node_taints[0].effect:',
     'is not one of: NoSchedule, PreferNoSchedule, NoExecute'),
    ('taint-no-effect', {'kubeseed_node_taints': [{'key': 'a', 'value': 'b'}]}, 'kubeseed_node_taints[0]:', 'has no effect'),
    ('taint-no-key', {'kubeseed_node_taints': [{'value': 'b', 'effect': 'NoSchedule'}]}, 'kubeseed_node_taints[0]:', 'has no key'),
    ('taint-key', {'kubeseed_node_taints': [{'key': 'Example.com/gpu', 'effect': 'NoSchedule'}]}, 'kubeseed_node_taints[0].key:',
     'the prefix'),
    ('taint-value-long', {'kubeseed_node_taints': [{'key': 'a', 'value': 'v' * 64, 'effect': 'NoSchedule'}]},
     'kubeseed_node_taints[0].value:', 'a taint value has at most 63'),
    ('taint-value-int', {'kubeseed_node_taints': [{'key': 'a', 'value': 1, 'effect': 'NoSchedule'}]}, 'kubeseed_node_taints[0].value:',
     'put it in quotes'),
    ('taint-toleration-field', {'kubeseed_node_taints': [{'key': 'a', 'operator': 'Exists', 'effect': 'NoSchedule'}]},
     'kubeseed_node_taints[0]:', 'belongs to tolerations'),
    ('taint-duplicate', {'kubeseed_node_taints': [{'key': 'a', 'effect': 'NoSchedule'}, {'key': 'a', 'value': 'b', 'effect': 'NoSchedule'}]},
     'kubeseed_node_taints[1]:', 'duplicates kubeseed_node_taints[0]'),
    ('apiserver-port', {'kubeseed_apiserver_port': 70000}, 'kubeseed_apiserver_port:', 'greater than the maximum of 65535'),
    ('apiserver-port-type', {'kubeseed_apiserver_port': 'six'}, 'kubeseed_apiserver_port:', 'is not a whole number'),
    ('apiserver-port-list', {'kubeseed_apiserver_port': [6443]}, 'kubeseed_apiserver_port:', 'is a list, expected an integer'),
    ('apiserver-port-float', {'kubeseed_apiserver_port': 6443.5}, 'kubeseed_apiserver_port:', 'expected an integer such as 6443'),
    ('apiserver-port-ini-range', {'kubeseed_apiserver_port': '70000'}, 'kubeseed_apiserver_port:', 'greater than the maximum of 65535'),
    ('apiserver-port-newline', {'kubeseed_apiserver_port': '6443\n'}, 'kubeseed_apiserver_port:', 'ends with a newline'),
    ('cni-mtu-empty-survey', {'kubeseed_cni_mtu': ''}, 'kubeseed_cni_mtu:', 'is empty'),
    ('schedulable-type', {'kubeseed_control_plane_schedulable': 'sometimes'}, 'kubeseed_control_plane_schedulable:',
     'is not a boolean (use true or false'),
    ('schedulable-null', {'kubeseed_control_plane_schedulable': None}, 'kubeseed_control_plane_schedulable:', 'expected a boolean'),
    ('etcd-mode', {'kubeseed_etcd_mode': 'internal'}, 'kubeseed_etcd_mode:', 'is not one of: stacked'),
    ('etcd-external-not-built', {'kubeseed_etcd_mode': 'external'}, 'kubeseed_etcd_mode:', 'is not one of: stacked'),
    ('cni-plugin', {'kubeseed_cni_plugin': 'weave'}, 'kubeseed_cni_plugin:', 'is not one of: bridge, none'),
    ('cni-mtu-small', {'kubeseed_cni_mtu': 100}, 'kubeseed_cni_mtu:', 'too small'),
    ('cni-mtu-big', {'kubeseed_cni_mtu': 65000}, 'kubeseed_cni_mtu:', 'greater than the maximum'),
    ('cni-flannel-not-yet', {'kubeseed_cni_plugin': 'flannel'}, 'kubeseed_cni_plugin:', 'is not one of: bridge, none'),
    ('runtime', {'kubeseed_container_runtime': 'docker'}, 'kubeseed_container_runtime:', 'is not one of: containerd'),
    ('cgroup-driver', {'kubeseed_containerd_cgroup_driver': 'systemd-v2'}, 'kubeseed_containerd_cgroup_driver:', 'is not one of'),
    ('mirror-url', {'kubeseed_containerd_registry_mirrors': {'docker.io': ['ftp://mirror']}},
     "kubeseed_containerd_registry_mirrors['docker.io'][0]:", 'is not a valid http://'),
    ('mirror-empty', {'kubeseed_containerd_registry_mirrors': {'docker.io': []}},
     "kubeseed_containerd_registry_mirrors['docker.io']:", 'should be non-empty'),
    ('mirror-type', {'kubeseed_containerd_registry_mirrors': ['docker.io']}, 'kubeseed_containerd_registry_mirrors:', 'expected a mapping'),
    ('registry-ca-text', {'kubeseed_containerd_registry_ca': {'r.corp:5443': 'registry-ca.crt'}},
     "kubeseed_containerd_registry_ca['r.corp:5443']:", 'is not a PEM certificate (give the PEM text'),
    ('registry-ca-key', {'kubeseed_containerd_registry_ca': {'r.corp:5443': PEM + PRIVATE_KEY}},
     "kubeseed_containerd_registry_ca['r.corp:5443']:", 'holds a private key'),
    ('registry-ca-base64', {'kubeseed_containerd_registry_ca': {'r.corp:5443': PEM.replace('MII', 'M=I')}},
     "kubeseed_containerd_registry_ca['r.corp:5443']:", 'its base64 does not decode'),
    ('registry-ca-type', {'kubeseed_containerd_registry_ca': {'https://r.corp': PEM, 'r.corp:5443': 5}},
     "kubeseed_containerd_registry_ca['r.corp:5443']:", 'expected the PEM text of a CA certificate'),
    ('registry-ca-host', {'kubeseed_containerd_registry_ca': {'https://r.corp': PEM}}, 'kubeseed_containerd_registry_ca:',
     "'https://r.corp' is not a registry host[:port]"),
    ('package-source', {'kubeseed_package_source': 'bundle'}, 'kubeseed_package_source:', 'is not one of: online, offline'),
    ('offline-without-url', {'kubeseed_package_source': 'offline'}, 'kubeseed_offline_bundle_url:', 'is empty but'),
    ('bundle-url', {'kubeseed_package_source': 'offline', 'kubeseed_offline_bundle_url': 'bundle/1.37.2'},
     'kubeseed_offline_bundle_url:', 'is not a valid http://'),
    ('online-url', {'kubeseed_online_repository_base_url': 'pkgs.k8s.io'}, 'kubeseed_online_repository_base_url:', 'is not a valid'),
    ('repository-ca-text', {'kubeseed_online_repository_ca': 'mirror-ca.crt'}, 'kubeseed_online_repository_ca:',
     'is not a PEM certificate (give the PEM text'),
    ('repository-ca-key', {'kubeseed_online_repository_ca': PEM + PRIVATE_KEY}, 'kubeseed_online_repository_ca:', 'holds a private key'),
    ('repository-ca-type', {'kubeseed_online_repository_ca': ['x']}, 'kubeseed_online_repository_ca:', 'expected a string'),
    ('repository-key-text', {'kubeseed_online_repository_key': 'Release.key'}, 'kubeseed_online_repository_key:',
     'is not an ASCII-armored OpenPGP public key'),
    ('repository-key-certificate', {'kubeseed_online_repository_key': PEM}, 'kubeseed_online_repository_key:',
     'is not an ASCII-armored OpenPGP public key'),
    ('repository-key-secret', {'kubeseed_online_repository_key': PGP_KEY.replace('PUBLIC KEY', 'PRIVATE KEY')},
     'kubeseed_online_repository_key:', 'holds a private key'),
    ('http-proxy', {'kubeseed_http_proxy': 'proxy:3128'}, 'kubeseed_http_proxy:', 'is not a valid http://'),
    ('no-proxy-type', {'kubeseed_no_proxy': '.example.com'}, 'kubeseed_no_proxy:', 'expected a list'),
    ('extra-sans-item', {'kubeseed_apiserver_cert_extra_sans': ['']}, 'kubeseed_apiserver_cert_extra_sans[0]:', 'should be non-empty'),
    ('workaround-type', {'kubeseed_workaround_cgroup_v1': 'maybe'}, 'kubeseed_workaround_cgroup_v1:', 'yes/no, on/off, 1/0'),
    ('typo', {'kubeseed_pod_subnett': '10.244.0.0/16'}, 'kubeseed_pod_subnett:', 'did you mean kubeseed_pod_subnet?'),
    ('image-repository', {'kubeseed_image_repository': ''}, 'kubeseed_image_repository:', 'should be non-empty'),
    ('addon-unknown', {'kubeseed_addons': {'metric_server': {}}}, 'kubeseed_addons:', 'metric_server'),
    ('addons-variable-typo', {'kubeseed_addon': {}}, 'kubeseed_addon:', 'did you mean kubeseed_addons?'),
    ('addon-null', {'kubeseed_addons': None}, 'kubeseed_addons:', 'expected a mapping'),
    ('addon-list', {'kubeseed_addons': ['metrics_server']}, 'kubeseed_addons:', 'expected a mapping'),
    ('addon-setting-unknown', {'kubeseed_addons': {'metrics_server': {'resolution': 15}}}, 'kubeseed_addons.metrics_server:',
     'resolution'),
    ('addon-resolution-small', {'kubeseed_addons': {'metrics_server': {'metric_resolution_seconds': 10}}},
     'kubeseed_addons.metrics_server.metric_resolution_seconds:', 'less than the minimum of 15'),
    ('addon-metrics-without-serving-certificates', {'kubeseed_kubelet_serving_certificates': False},
     'kubeseed_addons.metrics_server:', 'needs kubeseed_kubelet_serving_certificates: true'),
    ('storage-path-root', {'kubeseed_addons': {'local_path_storage': {'path': '/'}}}, 'kubeseed_addons.local_path_storage.path:',
     'use an absolute directory below /'),
    ('storage-path-dotdot', {'kubeseed_addons': {'local_path_storage': {'path': '/opt/../etc'}}},
     'kubeseed_addons.local_path_storage.path:', 'use an absolute directory below /'),
    ('storage-path-relative', {'kubeseed_addons': {'local_path_storage': {'path': 'volumes'}}},
     'kubeseed_addons.local_path_storage.path:', 'use an absolute directory below /'),
    ('storage-default-class', {'kubeseed_addons': {'local_path_storage': {'default_class': 'maybe'}}},
     'kubeseed_addons.local_path_storage.default_class:', 'expected a boolean'),
    ('storage-typo', {'kubeseed_addons': {'local_path_storage': {'pathh': '/data'}}}, 'kubeseed_addons.local_path_storage:', 'path'),
    ('serverTLSBootstrap-reserved', {'kubeseed_kubelet_config': {'serverTLSBootstrap': True}},
     'kubeseed_kubelet_config.serverTLSBootstrap:', 'set kubeseed_kubelet_serving_certificates'),
]


@pytest.mark.parametrize('cluster_vars,path,fragment', [case[1:] for case in INVALID_VARS], ids=[case[0] for case in INVALID_VARS])
def test_invalid_variable_is_reported_with_its_path(cluster_vars, path, fragment):
    messages = run(cluster_vars)
    matching = [m for m in messages if m.startswith(path + ' ')]
    assert matching, 'no message for %s in %r' % (path, messages)
    assert any(fragment in m for m in matching), 'expected %r in %r' % (fragment, matching)


def test_corpus_is_large_enough():
    assert len(INVALID_VARS) + len(INVALID_INVENTORIES) >= 30


# (id, groups, hosts, cluster vars, fragment expected in a message)
INVALID_INVENTORIES = [
    ('no-control-plane', {'control_plane': [], 'workers': ['w1', 'w2']}, None, {}, "group 'control_plane' has no hosts"),
    ('missing-control-plane-group', {'workers': ['w1']}, None, {}, "group 'control_plane' has no hosts"),
    ('empty-inventory', {}, {}, {}, "group 'control_plane' has no hosts"),
    ('host-in-both', {'control_plane': ['cp1'], 'workers': ['cp1', 'w1']}, None, {},
     "host 'cp1' is in both groups 'control_plane' and 'workers'"),
    ('even-stacked', {'control_plane': ['cp1', 'w1'], 'workers': ['w2']}, None, {'kubeseed_control_plane_endpoint': 'lb:6443'},
     "group 'control_plane' has 2 hosts (cp1, w1); stacked etcd needs an odd number"),
    ('etcd-group-without-external-etcd', {'control_plane': ['cp1'], 'workers': ['w1'], 'etcd': ['e2']},
     dict(HOSTS, e2={'address': '192.168.50.13'}), {}, "external etcd is not supported yet"),
    ('etcd-group-with-stacked', {'control_plane': ['cp1'], 'workers': ['w1'], 'etcd': ['w2']}, None, {},
     "group 'etcd' has hosts (w2) but etcd runs on the control planes"),
    ('no-workers-not-schedulable', {'control_plane': ['cp1'], 'workers': []}, None, {}, "group 'workers' has no hosts"),
    ('ha-without-endpoint', {'control_plane': ['cp1', 'w1', 'w2'], 'workers': []}, None, {'kubeseed_control_plane_schedulable': True},
     'kubeseed_control_plane_endpoint: is empty but there are 3 control planes'),
    ('bad-node-name', {'control_plane': ['CP_1'], 'workers': ['w1']}, {'CP_1': {'address': '192.168.50.9'}, 'w1': {}}, {},
     "host 'CP_1' is not a valid Kubernetes node name"),
    ('duplicate-address', GROUPS, dict(HOSTS, w2={'address': '192.168.50.11'}), {}, "hosts 'w1' and 'w2' have the same address"),
]


@pytest.mark.parametrize('groups,hosts,cluster_vars,fragment', [case[1:] for case in INVALID_INVENTORIES],
                         ids=[case[0] for case in INVALID_INVENTORIES])
def test_invalid_inventory_names_group_and_host(groups, hosts, cluster_vars, fragment):
    messages = run(cluster_vars, groups=groups, hosts=hosts)
    assert any(m.startswith('inventory: ') or m.startswith('kubeseed_') for m in messages)
    assert any(fragment in m for m in messages), 'expected %r in %r' % (fragment, messages)


def test_defaults_are_valid():
    assert not run()


VALID = [
    {'kubeseed_kubernetes_version': '1.34.3', 'kubeseed_cni_plugin': 'none'},
    {'kubeseed_package_source': 'offline', 'kubeseed_offline_bundle_url': 'http://10.117.0.1:8080/1.37.2-abc'},
    {'kubeseed_package_source': 'offline', 'kubeseed_offline_bundle_url': 'file:///srv/bundles/1.37.2-abc'},
    {'kubeseed_pod_subnet': 'fd00:10:244::/56', 'kubeseed_service_subnet': 'fd00:10:96::/112', 'kubeseed_node_cidr_mask_size': 64},
    {'kubeseed_pod_subnet': 'fd00:10:244::/48', 'kubeseed_service_subnet': 'fd00:10:96::/108', 'kubeseed_node_cidr_mask_size': 64,
     'kubeseed_control_plane_endpoint': '[fd00::10]'},
    {'kubeseed_service_subnet': '10.96.0.0/12', 'kubeseed_pod_subnet': '172.16.0.0/12', 'kubeseed_node_cidr_mask_size': 26},
    {'kubeseed_control_plane_endpoint': 'k8s-api.example.com', 'kubeseed_apiserver_port': 443},
    {'kubeseed_control_plane_endpoint': '192.168.50.10:6443'},
    {'kubeseed_apiserver_cert_extra_sans': ['k8s-api.example.com', '*.k8s.example.com', '10.0.0.5', 'fd00::5', 'localhost']},
    {'kubeseed_image_repository': 'registry.example.com:5000/mirror/k8s'},
    {'kubeseed_image_repository': 'localhost:5000'},
    {'kubeseed_image_repository': 'Registry.Example.com/k8s'},
    {'kubeseed_image_repository': '[fd00::1]:5000/k8s'},
    {'kubeseed_node_labels': {'node-role.kubernetes.io/worker': '', 'pool': 'batch_1', 'example.com/Team.Name': 'A-b.c'}},
    {'kubeseed_node_taints': [{'key': 'dedicated', 'value': 'gpu', 'effect': 'NoSchedule'}, {'key': 'dedicated', 'effect': 'NoExecute'},
                              {'key': 'example.com/spot', 'value': '', 'effect': 'PreferNoSchedule'}]},
    {'kubeseed_containerd_registry_mirrors': {'docker.io': ['https://m1.example.com', 'http://m2:5000']}},
    {'kubeseed_containerd_registry_ca': {'r.corp:5443': PEM, 'mirror.corp': PEM + PEM}},
    {'kubeseed_online_repository_base_url': 'https://apt.corp:8443/k8s/core:/stable:', 'kubeseed_online_repository_ca': PEM,
     'kubeseed_online_repository_key': PGP_KEY},
    {'kubeseed_online_repository_key': PGP_KEY.replace('\n\n', '\nComment: corp mirror\n\n', 1)},
    {'kubeseed_https_proxy': 'http://proxy.example.com:3128', 'kubeseed_no_proxy': ['.corp']},
    {'kubeseed_workaround_cgroup_v1': True, 'kubeseed_workaround_no_kernel_modules': True, 'kubeseed_cni_mtu': 1400},
    {'kubeseed_control_plane_endpoint': '[fd00::1]:6443'},
]


@pytest.mark.parametrize('cluster_vars', VALID)
def test_valid_examples_pass(cluster_vars):
    assert run(cluster_vars) == []


def test_every_violation_is_reported_at_once():
    messages = run({'kubeseed_pod_subnet': '10.244.0.0/33', 'kubeseed_cni_plugin': 'weave', 'kubeseed_apiserver_port': 0},
                   groups={'control_plane': ['cp1', 'w1'], 'workers': ['w1', 'w2']})
    paths = {m.split(':')[0] for m in messages}
    assert {'kubeseed_pod_subnet', 'kubeseed_cni_plugin', 'kubeseed_apiserver_port', 'inventory'} <= paths


def test_per_host_violation_names_the_host():
    messages = run(host_vars={'w2': {'kubeseed_node_ip': '10.0.0.300'}})
    assert messages == ["kubeseed_node_ip: '10.0.0.300' is not a valid IPv4 or IPv6 address (or empty) (on w2)"]


def test_host_scoped_variables_may_differ():
    assert run(host_vars={'w1': {'kubeseed_node_ip': '192.168.50.11', 'kubeseed_node_labels': {'pool': 'a'},
                                 'kubeseed_node_taints': [{'key': 'pool', 'value': 'a', 'effect': 'NoSchedule'}]}}) == []


def test_taint_problems_replace_the_schema_messages_of_the_variable():
    messages = run(host_vars={'w1': {'kubeseed_node_taints': [{'key': 'a', 'effect': 'Never', 'tolerationSeconds': 30}]}})
    assert sorted(messages) == [
        "kubeseed_node_taints[0].effect: 'Never' is not one of: NoSchedule, PreferNoSchedule, NoExecute (on w1)",
        "kubeseed_node_taints[0]: 'tolerationSeconds' belongs to tolerations (on pods), not to taints (a taint has key, value and "
        "effect) (on w1)",
    ]


def test_cluster_wide_variable_must_not_differ_between_hosts():
    messages = run(host_vars={'w1': {'kubeseed_pod_subnet': '10.248.0.0/16'}})
    assert len(messages) == 1
    assert messages[0].startswith('kubeseed_pod_subnet: differs between hosts')
    assert "'10.248.0.0/16' on w1" in messages[0]


def test_node_ip_inside_service_network_is_reported():
    messages = run(host_vars={'w1': {'kubeseed_node_ip': '10.96.0.10'}})
    assert any(m.startswith('kubeseed_service_subnet:') and 'kubeseed_node_ip address 10.96.0.10 of host w1' in m for m in messages)


ROLE_OPTIONS = {
    'kubeseed_control_plane_fetch_kubeconfig': {'type': 'bool', 'default': True, 'description': 'x'},
    'kubeseed_control_plane_ready_timeout': {'type': 'int', 'default': 600},
    'kubeseed_containerd_cgroup_driver': {'type': 'str', 'choices': ['systemd', 'cgroupfs']},  # also a contract variable
}


def test_role_settings_in_the_inventory_are_allowed_and_type_checked():
    hosts = copy.deepcopy(HOSTS)
    for spec in hosts.values():
        spec['vars'] = {'kubeseed_control_plane_fetch_kubeconfig': False, 'kubeseed_control_plane_ready_timeout': '900'}
    assert validate_cluster(GROUPS, hosts, ROLE_OPTIONS) == []
    hosts['w1']['vars']['kubeseed_control_plane_ready_timeout'] = 'ten minutes'
    messages = validate_cluster(GROUPS, hosts, ROLE_OPTIONS)
    assert len(messages) == 1 and 'kubeseed_control_plane_ready_timeout' in messages[0] and '(on w1)' in messages[0], messages
    # Without the roles' options the same setting is an unknown variable (a typo), as before.
    assert any(m.startswith('kubeseed_control_plane_fetch_kubeconfig: unknown variable') for m in validate_cluster(GROUPS, hosts))


def test_contract_variables_stay_checked_by_the_schema_even_when_a_role_documents_them():
    messages = run({'kubeseed_containerd_cgroup_driver': 'nope'})
    hosts = copy.deepcopy(HOSTS)
    for spec in hosts.values():
        spec['vars'] = {'kubeseed_containerd_cgroup_driver': 'nope'}
    assert validate_cluster(GROUPS, hosts, ROLE_OPTIONS) == messages != []


# Strings as an INI inventory or an AWX survey deliver them: accepted where Ansible's own conversion accepts them.
INI_ACCEPTED = [
    {'kubeseed_control_plane_schedulable': 'false'},
    {'kubeseed_control_plane_schedulable': 'True', 'kubeseed_workaround_cgroup_v1': 'yes'},
    {'kubeseed_workaround_no_kernel_modules': 'on', 'kubeseed_workaround_restrict_oom_score_adj': '0'},
    {'kubeseed_workaround_conntrack_max_per_core_zero': 'n'},
    {'kubeseed_apiserver_port': '6443', 'kubeseed_node_cidr_mask_size': '24', 'kubeseed_cni_mtu': '1400'},
    {'kubeseed_control_plane_schedulable': 1},
]


@pytest.mark.parametrize('cluster_vars', INI_ACCEPTED)
def test_ini_and_survey_strings_are_accepted_as_ansible_converts_them(cluster_vars):
    assert run(cluster_vars) == []


def test_ini_boolean_counts_in_cross_checks():
    assert run({'kubeseed_control_plane_schedulable': 'true'}, groups={'control_plane': ['cp1'], 'workers': []}) == []
    messages = run({'kubeseed_control_plane_schedulable': 'no'}, groups={'control_plane': ['cp1'], 'workers': []})
    assert any("group 'workers' has no hosts" in m for m in messages), messages


def test_ini_string_and_yaml_value_on_different_hosts_are_the_same_value():
    assert run(host_vars={'w1': {'kubeseed_apiserver_port': '6443'}, 'w2': {'kubeseed_control_plane_schedulable': 'false'}}) == []


def test_every_message_starts_with_a_path_and_is_short():
    messages = run({'kubeseed_pod_subnet': {'a': 1}, 'kubeseed_cluster_name': 'x' * 1000, 'kubeseed_no_proxy': {'k': 'v' * 500},
                    'kubeseed_node_labels': ['a'], 'kubeseed_apiserver_cert_extra_sans': 'a,b', 'kubeseed_cni_mtu': None,
                    'kubeseed_image_repository': 'X' * 400})
    assert len(messages) >= 7
    for message in messages:
        assert re.match(r'^[A-Za-z_][A-Za-z0-9_]*(\[[^]]+\]|\.[A-Za-z0-9_]+)*: ', message), message
        assert len(message) <= 300 and '<class' not in message and 'Ansible' not in message, message


def test_role_setting_messages_name_the_variable_and_the_forms():
    hosts = copy.deepcopy(HOSTS)
    for spec in hosts.values():
        spec['vars'] = {'kubeseed_control_plane_fetch_kubeconfig': 'maybe', 'kubeseed_control_plane_ready_timeout': 600.5}
    messages = validate_cluster(GROUPS, hosts, ROLE_OPTIONS)
    assert sorted(messages) == [
        "kubeseed_control_plane_fetch_kubeconfig: 'maybe' is not a boolean (use true or false (from an INI inventory or a survey also "
        "yes/no, on/off, 1/0, y/n, t/f)) (role setting, see the role's argument_specs)",
        "kubeseed_control_plane_ready_timeout: 600.5 is a decimal number, expected an integer such as 600 (role setting, see the "
        "role's argument_specs)",
    ]


class TaggedStr(str):
    """Stands in for ansible-core 2.19's tagged strings."""

    def __repr__(self):
        return '_AnsibleTaggedStr(%s)' % str.__repr__(self)


GARBAGE = [None, True, False, 0, -1, 1.10, 10 ** 20, '', ' ', 'x' * 400, '1.37.2\n', '\u200b', '\x00', TaggedStr('yes'),
           TaggedStr('10.96.0.0/12'), [], [None], [{'a': 1}], ['x' * 300], {}, {'k': None}, {1: 2}, {'k' * 300: 'v' * 300},
           {True: [1]}, '[fd00::1]:99999', 'https://x', '10.244.0.0/16', 'fd00::/8', '*', '::', '0.0.0.0/0']


def test_garbage_in_every_variable_never_raises_and_reads_well():
    rng = random.Random(18)
    names = sorted(CLUSTER_SCHEMA['properties']) + sorted(ROLE_OPTIONS) + ['kubeseed_typo', 'kubeseed_node_label']
    path = re.compile(r'^(inventory|kubeseed_[a-z0-9_]+(\[[^\]]+\]|\.[^:\s\[]+)*)(: | \()')
    for _round in range(400):
        cluster_vars = {name: rng.choice(GARBAGE) for name in rng.sample(names, rng.randrange(1, 8))}
        host_vars = {rng.choice(['cp1', 'w1', 'w2']): {rng.choice(names): rng.choice(GARBAGE)}}
        hosts = copy.deepcopy(HOSTS)
        hosts['w2']['address'] = rng.choice(['192.168.50.12', '192.168.50.11', None, '10.96.0.1', 'fd00::1', 'w2.example.com\n'])
        for spec in hosts.values():
            spec['vars'] = dict(cluster_vars)
        for host, values in host_vars.items():
            hosts[host]['vars'].update(values)
        groups = rng.choice([GROUPS, {'control_plane': ['cp1', 'w1'], 'workers': ['w2']}, {'control_plane': ['cp1'], 'workers': ['cp1', 'w1']}])
        for message in validate_cluster(groups, hosts, ROLE_OPTIONS):
            assert path.match(message), message
            assert len(message) <= 300 and '<class' not in message and 'Tagged' not in message and 'Ansible' not in message, message


# ---- renamed inventory groups (kubeseed_control_plane_group, kubeseed_workers_group) ----


def test_renamed_groups_are_validated_under_their_names():
    names = {'control_plane': 'masters', 'workers': 'nodes', 'etcd': 'etcd'}
    groups = {'masters': ['cp1'], 'nodes': ['w1', 'w2'], 'control_plane': [], 'workers': []}
    cluster = {'kubeseed_control_plane_group': 'masters', 'kubeseed_workers_group': 'nodes'}
    hosts = copy.deepcopy(HOSTS)
    for spec in hosts.values():
        spec['vars'].update(cluster)
    assert validate_cluster(groups, hosts, None, names) == []
    # the same inventory with the default names finds no control plane
    assert any("group 'control_plane' has no hosts" in m for m in validate_cluster(groups, hosts))
    # messages name the user's groups
    groups['masters'] = ['cp1', 'w1']
    messages = validate_cluster(groups, hosts, None, names)
    assert any("host 'w1' is in both groups 'masters' and 'nodes'" in m for m in messages), messages
    assert any("group 'masters' has 2 hosts" in m for m in messages), messages
    missing = validate_cluster({'nodes': ['w1']}, hosts, None, names)
    assert missing[0] == "kubeseed_control_plane_group: the inventory has no group 'masters'; name one of its groups", missing
    assert any(m.startswith("inventory: group 'masters' has no hosts") for m in missing), missing


def test_group_names_on_the_hosts_must_be_the_controllers():
    """Set in group_vars/masters only, the playbooks (which read it on the controller) would run on another group."""
    names = {'control_plane': 'masters', 'workers': 'workers', 'etcd': 'etcd'}
    groups = {'masters': ['cp1'], 'workers': ['w1', 'w2']}
    hosts = copy.deepcopy(HOSTS)
    messages = validate_cluster(groups, hosts, None, names)
    assert any(m.startswith("kubeseed_control_plane_group: the hosts have 'control_plane' but the controller (localhost) has 'masters'")
               for m in messages), messages
    for spec in hosts.values():
        spec['vars']['kubeseed_control_plane_group'] = 'masters'
    assert validate_cluster(groups, hosts, None, names) == []


@pytest.mark.parametrize('value', ['1masters', 'mas-ters', '', 'a b'])
def test_group_name_variables_must_be_group_names(value):
    messages = run({'kubeseed_workers_group': value})
    assert any(m.startswith('kubeseed_workers_group:') for m in messages), messages


def test_a_misspelt_group_name_is_refused_even_when_the_workers_group_may_be_empty():
    """kubeseed_workers_group: nodez with schedulable control planes would build a cluster without its workers."""
    names = {'control_plane': 'control_plane', 'workers': 'nodez', 'etcd': 'etcd'}
    groups = {'all': ['cp1', 'w1', 'w2'], 'control_plane': ['cp1'], 'nodes': ['w1', 'w2']}
    hosts = copy.deepcopy(HOSTS)
    for spec in hosts.values():
        spec['vars'].update({'kubeseed_workers_group': 'nodez', 'kubeseed_control_plane_schedulable': True})
    messages = validate_cluster(groups, hosts, None, names)
    assert "kubeseed_workers_group: the inventory has no group 'nodez' (did you mean 'nodes'?); name one of its groups" in messages
    # the default names may be absent (a cluster of control planes only has no workers group)
    assert not any('has no group' in m for m in validate_cluster({'control_plane': ['cp1']}, hosts))


def test_an_unknown_variable_is_matched_against_the_role_settings_too():
    """kubeseed_remove_node (singular) is the remove_node role's setting misspelt, not a look-alike of a contract variable."""
    options = {'kubeseed_remove_nodes': {'type': 'list', 'elements': 'str', 'default': []}}
    hosts = {'cp1': {'address': '10.0.0.1', 'vars': {'kubeseed_remove_node': ['w3']}}}
    hosts['w1'] = {'address': '10.0.0.2', 'vars': {}}
    problems = validate_cluster({'control_plane': ['cp1'], 'workers': ['w1']}, hosts, options)
    assert problems == ['kubeseed_remove_node: unknown variable; did you mean kubeseed_remove_nodes? (on cp1)']


@pytest.mark.parametrize('credentials, fragments', [
    ({'r.corp:5443': 'team:Hunter2-secret'}, ["kubeseed_containerd_registry_credentials['r.corp:5443']: <hidden> is a string, expected a mapping"]),
    ({'r.corp:5443': {'username': 'team', 'pasword': 'Hunter2-secret'}},
     ["kubeseed_containerd_registry_credentials['r.corp:5443']:", 'password']),
    ({'r.corp:5443': {'username': 'team', 'password': ['Hunter2-secret']}},
     ["kubeseed_containerd_registry_credentials['r.corp:5443'].password: <hidden> is a list, expected a string"]),
    ({'https://r.corp': {'username': 'team', 'password': 'Hunter2-secret'}}, ['kubeseed_containerd_registry_credentials:']),
])
def test_registry_credentials_problems_never_show_the_password(credentials, fragments):
    messages = run({'kubeseed_containerd_registry_credentials': credentials})
    assert messages and all(fragment in ' '.join(messages) for fragment in fragments), messages
    assert 'Hunter2' not in repr(messages)


def test_registry_credentials_that_differ_between_hosts_are_named_without_their_values():
    good = {'r.corp:5443': {'username': 'team', 'password': 'Hunter2-secret'}}
    assert run({'kubeseed_containerd_registry_credentials': good}) == []
    messages = run({'kubeseed_containerd_registry_credentials': good},
                   host_vars={'w1': {'kubeseed_containerd_registry_credentials': {'r.corp:5443': {'username': 'team', 'password': 'Other-secret'}}}})
    assert len(messages) == 1 and messages[0].startswith('kubeseed_containerd_registry_credentials: differs between hosts (')
    assert 'its values are not shown' in messages[0] and 'w1' in messages[0]
    assert 'secret' not in messages[0].replace('differs', '')


def test_a_cluster_wide_mapping_that_differs_inside_between_hosts_is_reported():
    messages = run({'kubeseed_containerd_registry_ca': {'r.corp:5443': PEM}},
                   host_vars={'w1': {'kubeseed_containerd_registry_ca': {'r.corp:5443': PEM + PEM}}})
    assert len(messages) == 1 and messages[0].startswith('kubeseed_containerd_registry_ca: differs between hosts ('), messages
    assert 'the values differ inside' in messages[0] and 'w1' in messages[0]


def test_a_mapping_with_keys_of_mixed_types_on_some_hosts_is_compared_without_raising():
    """Keys that cannot be sorted together (an int from a YAML typo beside names) still compare: named, never a traceback."""
    messages = run({'kubeseed_kubelet_config': {}}, host_vars={'w1': {'kubeseed_kubelet_config': {1: 'x', 'maxPods': 5}}})
    assert any(m.startswith('kubeseed_kubelet_config: differs between hosts (') for m in messages), messages
    assert any('1 is not a KubeletConfiguration field name' in m for m in messages), messages
