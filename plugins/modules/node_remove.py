#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: node_remove
short_description: Take nodes out of a kubeadm cluster (cordon, drain, delete the Node, remove a control plane's etcd member)
version_added: 0.3.0
description:
  - Runs on a control plane that stays in the cluster, with its admin kubeconfig.
  - Checks everything before it changes anything; every name of O(nodes) must be a node of the cluster or a host of
    O(inventory) (a name that is neither is refused with the closest name, and nothing is removed), the removal must leave
    a control plane, and the etcd members that stay must keep a quorum among the ones that answer.
  - Then, node after node, in the order given; a Ready node is cordoned and drained (PodDisruptionBudgets are honoured;
    pods of no controller are deleted; DaemonSet pods stay), bounded by O(drain_timeout), and on timeout the module fails
    naming the pods that could not be evicted and leaves the node cordoned. A node that is not Ready (its host is down)
    is not drained. Its Node object is deleted, and a control plane's etcd member is removed through etcd's JSON gateway
    on this host (U(https://127.0.0.1:2379), with the kubeadm health-check client certificate).
  - The host itself is not touched; M(kubeseed.cluster.node_reset) cleans it when it can be reached.
  - A node that already left the cluster is reported and left alone, so a second run changes nothing.
author:
  - kubeseed maintainers (@kubeseed)
options:
  nodes:
    description: Names of the nodes to remove (the inventory names, which kubeseed gives the nodes).
    type: list
    elements: str
    required: true
  inventory:
    description: Every host of the inventory's control plane and worker groups. A name of O(nodes) that is not a node of the
      cluster any more must be one of them (it is then only reported), otherwise it is refused as a typo.
    type: list
    elements: str
    default: []
  control_planes:
    description: The hosts of the inventory's control plane group (a node with the C(node-role.kubernetes.io/control-plane)
      label is a control plane too).
    type: list
    elements: str
    default: []
  host:
    description: The name of the node this module runs on; it may not be in O(nodes).
    type: str
    required: true
  drain_timeout:
    description: Seconds a drain may take per node (and the deletion of its Node object).
    type: int
    default: 300
  unreachable:
    description:
      - Nodes of O(nodes) whose host did not answer. They are not drained even while their Node still looks Ready (the
        control plane notices a lost node only after about 40 s), because an evicted pod there never finishes terminating
        and a drain would wait for its whole timeout. The pod garbage collector deletes their pods with the Node.
    type: list
    elements: str
    default: []
    version_added: 0.10.0
extends_documentation_fragment:
  - kubeseed.cluster.kubectl
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Checks everything and lists, per node, the pods a drain would evict and what would be deleted.
  diff_mode:
    support: none
    description: The result lists the actions per node.
'''

EXAMPLES = r'''
- name: Remove two workers
  kubeseed.cluster.node_remove:
    nodes: [w3, w4]
    inventory: "{{ groups['control_plane'] + groups['workers'] }}"
    control_planes: "{{ groups['control_plane'] }}"
    host: "{{ inventory_hostname }}"
'''

RETURN = r'''
nodes:
  description: What was done (or would be, in check mode) per node.
  returned: always
  type: list
  elements: dict
  sample: [{name: w3, control_plane: false, actions: [cordon and drain (1 pod(s) to evict), delete Node w3], pods: [apps/web-1]}]
remaining:
  description: The nodes of the cluster once the removal is done (in check mode, once it would be).
  returned: always
  type: list
  elements: str
etcd_members:
  description: Names of the etcd members before the removal (when a control plane is removed).
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubectl import KUBECTL_ARG_SPEC
from ansible_collections.kubeseed.cluster.plugins.module_utils._node_remove import Remover


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type='list', elements='str', required=True),
            inventory=dict(type='list', elements='str', default=[]),
            control_planes=dict(type='list', elements='str', default=[]),
            host=dict(type='str', required=True),
            drain_timeout=dict(type='int', default=300),
            unreachable=dict(type='list', elements='str', default=[]),
            **KUBECTL_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    module.exit_json(**Remover(module).run())


if __name__ == '__main__':
    main()
