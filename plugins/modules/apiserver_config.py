#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: apiserver_config
short_description: Keep the API server's extra flags and certificate names on a running cluster
version_added: 0.2.0
description:
  - kubeadm keeps the API server's extra flags (C(apiServer.extraArgs)) and the extra names of its serving certificate
    (C(apiServer.certSANs)) in the ClusterConfiguration of the ConfigMap C(kube-system/kubeadm-config), and writes each control
    plane's C(/etc/kubernetes/manifests/kube-apiserver.yaml) and C(/etc/kubernetes/pki/apiserver.crt) from it at init, join and
    upgrade. This module changes them on a running cluster the way kubeadm documents (reconfiguring a kubeadm cluster).
  - With O(scope=node) (on a control plane) kubeadm renders this node's manifest (C(kubeadm init phase control-plane apiserver
    --dry-run)) and signs a serving certificate with the cluster CA in a private temporary directory (C(kubeadm init phase
    certs apiserver)), both from the live ClusterConfiguration with the wanted flags and names, and they are compared with the
    node's files (the flags, the certificate's names). A manifest that differs in more than its flags (another image, as in an
    upgrade under way, or an edit by hand) is refused, naming the fields, before anything is changed.
  - With O(apply=true) a difference is put in place (the previous files are kept in
    C(/etc/kubernetes/kubeseed/apiserver-previous)), the API server restarted and waited for (a new container running the new
    command line, no old one, C(/readyz) answering ok, still so a few seconds later); an API server that does not come back
    healthy gets the previous files back and the module fails naming the node, the changes and its last log lines.
  - With O(scope=cluster) it compares the two fields in the ConfigMap and, with O(apply=true), writes them, so that a control
    plane joining later and C(kubeadm upgrade) keep them. Role apiserver writes it last, once every control plane runs with them.
author:
  - kubeseed maintainers (@kubeseed)
options:
  scope:
    description: C(node) (this control plane's manifest and certificate) or C(cluster) (the ConfigMap).
    type: str
    choices: [cluster, node]
    required: true
  extra_args:
    description:
      - Extra kube-apiserver flags (C(kubeseed_apiserver_extra_args)), names without the leading C(--); booleans are written
        C(true)/C(false). A flag kubeadm or another variable sets (for example C(secure-port), C(etcd-servers), the
        certificate files) is refused.
    type: dict
    default: {}
  cert_extra_sans:
    description: Extra names and addresses of the serving certificate (C(kubeseed_apiserver_cert_extra_sans)).
    type: list
    elements: str
    default: []
  node_name:
    description: With O(scope=node), this node's name (it is one of the certificate's names).
    type: str
    default: ''
  advertise_address:
    description: With O(scope=node), the address this control plane's API server advertises.
    type: str
    default: ''
  apiserver_port:
    description: The API server's port.
    type: int
    default: 6443
  apply:
    description:
      - With O(scope=node), put differing files in place and restart the API server; with O(scope=cluster), write the ConfigMap.
      - False only compares (nothing is reported changed; RV(differs) says whether there is something to change).
    type: bool
    default: false
  timeout:
    description: Seconds the restarted API server may take to answer C(/readyz) (then the previous files are put back).
    type: int
    default: 180
extends_documentation_fragment:
  - kubeseed.cluster.kubeadm
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    details: Renders and compares (in a temporary directory that is removed); nothing of the node or the cluster is changed.
  diff_mode:
    support: full
    details: The certificate's names and the API server's flags (or the two ClusterConfiguration fields), before and after.
notes:
  - Needs the node's admin kubeconfig C(/etc/kubernetes/admin.conf), C(kubectl), C(crictl) and C(python3-yaml).
seealso:
  - module: kubeseed.cluster.kubeadm_init
  - name: Reconfiguring a kubeadm cluster
    description: The procedure this module follows.
    link: https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-reconfigure/
'''

EXAMPLES = r'''
- name: This control plane's API server with the flags and names, restarted when they changed (one node at a time)
  kubeseed.cluster.apiserver_config:
    scope: node
    node_name: "{{ inventory_hostname }}"
    advertise_address: 10.0.0.11
    extra_args: {audit-log-maxage: 30}
    cert_extra_sans: [api.example.internal]
    apply: true
  throttle: 1

- name: Then the cluster's copy, for control planes that join later and for upgrades
  kubeseed.cluster.apiserver_config:
    scope: cluster
    extra_args: {audit-log-maxage: 30}
    cert_extra_sans: [api.example.internal]
    apply: true
  run_once: true
'''

RETURN = r'''
changes:
  description: What changed (or would change in check mode, or differs when O(apply=false)), one line per flag or field.
  returned: always
  type: list
  elements: str
  sample: ['--audit-log-maxage: set to 30', 'serving certificate names: +DNS:api.example.internal']
differs:
  description: The node's files or the ConfigMap differ from the wanted settings (also when nothing was changed).
  returned: always
  type: bool
restart_seconds:
  description: With O(scope=node), how long the API server took from the new files to healthy (for profiling).
  returned: when the node's API server was restarted
  type: float
  sample: 21.4
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _apiserver_config_ops as ops
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import KUBEADM_ARG_SPEC


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            'scope': {'type': 'str', 'choices': ['cluster', 'node'], 'required': True},
            'extra_args': {'type': 'dict', 'default': {}},
            'cert_extra_sans': {'type': 'list', 'elements': 'str', 'default': []},
            'node_name': {'type': 'str', 'default': ''},
            'advertise_address': {'type': 'str', 'default': ''},
            'apiserver_port': {'type': 'int', 'default': 6443},
            'apply': {'type': 'bool', 'default': False},
            'timeout': {'type': 'int', 'default': 180},
            **KUBEADM_ARG_SPEC,
        },
        required_if=[('scope', 'node', ('node_name', 'advertise_address'))],
        supports_check_mode=True,
    )
    result = ops.cluster(module) if module.params['scope'] == 'cluster' else ops.node(module)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
