#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: kubeadm_init
short_description: Initialise the first control-plane node with kubeadm, once, and report configuration drift afterwards
version_added: 0.1.0
description:
  - Renders the kubeadm configuration (v1beta4 InitConfiguration and ClusterConfiguration, KubeletConfiguration,
    KubeProxyConfiguration) from the options, writes it with mode 0600 and checks it with C(kubeadm config validate).
  - Runs C(kubeadm init) only on a node that is not initialised yet.
  - On an initialised node, compares the live ClusterConfiguration (kube-system/kubeadm-config) with the desired one.
    A difference is reported as a change in check mode (with a diff) and as a clear failure otherwise, naming each field;
    the node is never re-initialised.
  - A half-initialised node (manifests or kubelet.conf without admin.conf) is refused with instructions; nothing is changed.
  - Whatever fails, bootstrap tokens, certificate keys and private keys that kubeadm or kubectl print are redacted from
    the message, the diff and the result (also in their base64 forms).
author:
  - kubeseed maintainers (@kubeseed)
options:
  kubernetes_version:
    description: Kubernetes version, for example C(1.37.2).
    type: str
    required: true
  node_name:
    description: Node name (the inventory name).
    type: str
    required: true
  advertise_address:
    description: Address the API server advertises and the kubelet uses as node IP.
    type: str
    required: true
  cluster_name:
    description: kubeadm clusterName.
    type: str
    default: kubeseed
  cluster_domain:
    description: DNS domain of Services.
    type: str
    default: cluster.local
  pod_subnet:
    description: Pod network.
    type: str
    default: 10.244.0.0/16
  service_subnet:
    description: Service network.
    type: str
    default: 10.96.0.0/12
  node_cidr_mask_size:
    description: Prefix length of each node's pod range.
    type: int
    default: 24
  control_plane_endpoint:
    description: Stable host[:port] of the API server; empty uses O(advertise_address) and O(apiserver_port).
    type: str
    default: ''
  apiserver_port:
    description: API server port.
    type: int
    default: 6443
  cert_extra_sans:
    description: Extra names and addresses in the API server certificate.
    type: list
    elements: str
    default: []
  control_plane_schedulable:
    description: Register the node without the control-plane taint.
    type: bool
    default: false
  image_repository:
    description: Registry of the control-plane images.
    type: str
    default: registry.k8s.io
  cgroup_driver:
    description: kubelet cgroup driver (must match the container runtime's).
    type: str
    choices: [systemd, cgroupfs]
    default: systemd
  cgroup_v1:
    description: Workaround for hosts with cgroup v1 only (kubelet failCgroupV1 false).
    type: bool
    default: false
  conntrack_max_per_core_zero:
    description: Workaround for hosts where nf_conntrack_max cannot be set (kube-proxy conntrack.maxPerCore 0).
    type: bool
    default: false
  shared_disk:
    description:
      - Workaround for nodes that share their disk with the machine running them (kubelet evictionHard nodefs and imagefs 0%,
        imageGCHighThresholdPercent 100).
    type: bool
    default: false
  serving_certificates:
    description:
      - The kubelets ask the cluster CA for their serving certificates (C(serverTLSBootstrap)); the requests need an approver
        (kubeseed_kubelet_serving_certificates deploys one).
    type: bool
    default: false
    version_added: 0.13.0
  kubelet_config:
    description:
      - Further KubeletConfiguration fields for the cluster (kubeseed_kubelet_config), written into the init configuration. On a
        running cluster they are kept by M(kubeseed.cluster.kubelet_config).
    type: dict
    default: {}
  apiserver_extra_args:
    description:
      - Extra kube-apiserver flags (kubeseed_apiserver_extra_args), names without the leading C(--), written into the init
        configuration. On a running cluster they, and O(cert_extra_sans), are kept by M(kubeseed.cluster.apiserver_config); a
        difference in them is reported in RV(reconfigurable) and does not fail the module.
    type: dict
    default: {}
  ignore_preflight_errors:
    description: kubeadm preflight checks to ignore.
    type: list
    elements: str
    default: []
  config_path:
    description: Where the rendered configuration is written (mode 0600).
    type: path
    default: /etc/kubernetes/kubeseed-init.yaml
  kubectl_path:
    description:
      - kubectl binary (reads the live configuration of an initialised node), looked up like O(kubeadm_path).
    type: path
    default: kubectl
requirements:
  - kubeadm and kubectl on the node; PyYAML (python3-yaml) on the node to compare the live configuration
extends_documentation_fragment:
  - kubeseed.cluster.kubeadm
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Predicts an init or reports drift without changing anything.
  diff_mode:
    support: full
    description: Shows the new or drifted ClusterConfiguration (it holds no secrets).
  platform:
    support: full
    platforms: posix
    description: Linux nodes.
'''

EXAMPLES = r'''
- name: Initialise the first control plane
  kubeseed.cluster.kubeadm_init:
    kubernetes_version: 1.37.2
    node_name: "{{ inventory_hostname }}"
    advertise_address: 192.168.50.10
    pod_subnet: 10.244.0.0/16
  register: init
'''

RETURN = r'''
kubeadm_seconds:
  description: How long C(kubeadm init) took (for profiling).
  returned: when it ran
  type: float
  sample: 41.3
state_before:
  description: C(absent) (not initialised), C(member) (initialised) or C(partial).
  returned: always
  type: str
  sample: absent
api_server_endpoint:
  description: host:port that nodes join.
  returned: always
  type: str
  sample: 192.168.50.10:6443
ca_cert_hash:
  description: Discovery hash of the cluster CA (sha256 of its public key).
  returned: when the node is initialised and not in check mode
  type: str
  sample: sha256:505b0d9c220ea244c72d69a342e9df564e5a9a4a518ce5c8ebed4d3b81029b38
drift:
  description: Fields whose live value differs from the desired one.
  returned: always
  type: list
  elements: str
  sample: ['networking.podSubnet: live 10.244.0.0/16, desired 10.245.0.0/16']
reconfigurable:
  description:
    - Differences in C(apiServer.certSANs) and C(apiServer.extraArgs), which M(kubeseed.cluster.apiserver_config) changes on a
      running cluster (role apiserver, next in C(site.yml)); they are not in RV(drift) and do not fail this module.
  returned: always
  type: list
  elements: str
  sample: ['apiServer.certSANs: live (unset), desired [api.example.internal]']
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import KUBEADM_ARG_SPEC, init


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubernetes_version=dict(type='str', required=True),
            node_name=dict(type='str', required=True),
            advertise_address=dict(type='str', required=True),
            cluster_name=dict(type='str', default='kubeseed'),
            cluster_domain=dict(type='str', default='cluster.local'),
            pod_subnet=dict(type='str', default='10.244.0.0/16'),
            service_subnet=dict(type='str', default='10.96.0.0/12'),
            node_cidr_mask_size=dict(type='int', default=24),
            control_plane_endpoint=dict(type='str', default=''),
            apiserver_port=dict(type='int', default=6443),
            cert_extra_sans=dict(type='list', elements='str', default=[]),
            control_plane_schedulable=dict(type='bool', default=False),
            image_repository=dict(type='str', default='registry.k8s.io'),
            cgroup_driver=dict(type='str', choices=['systemd', 'cgroupfs'], default='systemd'),
            cgroup_v1=dict(type='bool', default=False),
            conntrack_max_per_core_zero=dict(type='bool', default=False),
            shared_disk=dict(type='bool', default=False),
            serving_certificates=dict(type='bool', default=False),
            kubelet_config=dict(type='dict', default={}),
            apiserver_extra_args=dict(type='dict', default={}),
            ignore_preflight_errors=dict(type='list', elements='str', default=[]),
            config_path=dict(type='path', default='/etc/kubernetes/kubeseed-init.yaml'),
            **KUBEADM_ARG_SPEC,
            kubectl_path=dict(type='path', default='kubectl'),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**init(module))


if __name__ == '__main__':
    main()
