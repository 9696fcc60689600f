#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: node_drain
short_description: Cordon and drain a node for maintenance, then wait for it and uncordon it
version_added: 0.4.0
description:
  - Runs on a control plane with its admin kubeconfig.
  - O(state=drained) cordons the node (and marks it with the annotation C(kubeseed.io/cordoned-for), O(reason)), then drains
    it with C(kubectl drain) (PodDisruptionBudgets honoured, DaemonSet pods stay, bounded by O(timeout); on timeout it fails
    naming the pods that could not be evicted and the node stays cordoned). A node that is not Ready is cordoned, not drained.
    A node someone else cordoned is drained but not marked, so it stays cordoned afterwards.
  - O(state=uncordoned) waits until the node is Ready and, with O(kubelet_version), until its kubelet reports that version
    (bounded by O(timeout)), then uncordons it if this module cordoned it.
  - C(changed) comes from the node (a cordon, pods to evict, a mark to remove).
author:
  - kubeseed maintainers (@kubeseed)
options:
  node:
    description: The node's name.
    type: str
    required: true
  state:
    description: C(drained) or C(uncordoned).
    type: str
    choices: [drained, uncordoned]
    required: true
  reason:
    description: Why it is cordoned (the annotation's value).
    type: str
    default: maintenance
  timeout:
    description: Seconds the drain, or the wait for the node, may take.
    type: int
    default: 300
  kubelet_version:
    description: With O(state=uncordoned), the version the node's kubelet must report before it is uncordoned.
    type: str
    default: ''
  cordoned_by_this_run:
    description: With O(state=uncordoned) in check mode, whether the O(state=drained) task of this run would have cordoned the
      node (check mode changed nothing, so the node itself cannot say).
    type: bool
    default: false
extends_documentation_fragment:
  - kubeseed.cluster.kubectl
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Reports the cordon, the pods a drain would evict, the uncordon; does not wait.
  diff_mode:
    support: none
    description: The result lists the actions.
'''

EXAMPLES = r'''
- name: Drain w1 for its upgrade
  kubeseed.cluster.node_drain:
    node: w1
    state: drained
    reason: upgrade to 1.37.2
  delegate_to: cp1
  register: drained

- name: Wait for w1's new kubelet, then uncordon it
  kubeseed.cluster.node_drain:
    node: w1
    state: uncordoned
    kubelet_version: 1.37.2
    cordoned_by_this_run: "{{ drained.changed }}"
  delegate_to: cp1
'''

RETURN = r'''
actions:
  description: What was done (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [cordon, 'drain (1 pod(s) to evict: apps/web-1)']
pods:
  description: The pods the drain evicts.
  returned: with O(state=drained) on a Ready node
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubectl import KUBECTL_ARG_SPEC
from ansible_collections.kubeseed.cluster.plugins.module_utils._upgrade import NodeSteps


def main():
    module = AnsibleModule(
        argument_spec=dict(
            node=dict(type='str', required=True),
            state=dict(type='str', choices=['drained', 'uncordoned'], required=True),
            reason=dict(type='str', default='maintenance'),
            timeout=dict(type='int', default=300),
            kubelet_version=dict(type='str', default=''),
            cordoned_by_this_run=dict(type='bool', default=False),
            **KUBECTL_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    steps = NodeSteps(module)
    module.exit_json(**(steps.drained() if module.params['state'] == 'drained' else steps.uncordoned()))


if __name__ == '__main__':
    main()
