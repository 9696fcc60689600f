#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: kubelet_config
short_description: Keep the KubeletConfiguration fields kubeseed manages on a running cluster
version_added: 0.2.0
description:
  - kubeadm keeps the cluster's kubelet configuration in the ConfigMap C(kube-system/kubelet-config) and writes each node's
    C(/var/lib/kubelet/config.yaml) from it at join and at C(kubeadm upgrade node). This module keeps the fields kubeseed manages
    (those of the workarounds and of C(kubeseed_kubelet_config)) in both, and only those; kubeadm's own fields and fields set
    by hand are left alone.
  - With O(scope=cluster) (on a control plane, with its admin kubeconfig) it compares the ConfigMap and, with O(apply=true),
    converges it and records every key it has ever set in its own ConfigMap C(kube-system/kubeseed-kubelet-config) (kubeadm
    owns its ConfigMap and may upload it again at an upgrade), so a key removed from the variables is removed everywhere.
    Role kubelet writes it last, once every node's kubelet runs with the new fields, so a configuration no kubelet accepted
    never reaches the nodes that join later.
  - With O(scope=node) it compares the node's file with the wanted fields (O(owned) names the keys to remove when not wanted).
    With O(apply=true) a differing file is written, the kubelet is restarted and its health endpoint waited for; a kubelet that
    does not come back healthy gets the previous file back and is restarted again, and the module fails naming the node, the
    changes and the kubelet's last log lines.
  - With O(cgroup_driver) and O(scope=node) it refuses a node in a cluster whose kubelet runs another cgroup driver (changing
    containerd's alone would leave the two disagreeing and the node's pods failing).
author:
  - kubeseed maintainers (@kubeseed)
options:
  scope:
    description: C(cluster) (the ConfigMap, on a control plane) or C(node) (this node's file).
    type: str
    choices: [cluster, node]
    required: true
  cgroup_v1:
    description: The cgroup v1 workaround is on (C(failCgroupV1 false)).
    type: bool
    default: false
  shared_disk:
    description: The shared-disk workaround is on (evictionHard nodefs and imagefs 0%, imageGCHighThresholdPercent 100).
    type: bool
    default: false
  serving_certificates:
    description: The kubelet asks the cluster CA for its serving certificate (C(serverTLSBootstrap true)).
    type: bool
    default: false
    version_added: 0.13.0
  extra:
    description: Further KubeletConfiguration fields (C(kubeseed_kubelet_config)); they win over the workarounds' fields.
    type: dict
    default: {}
  owned:
    description: With O(scope=node), the keys kubeseed has set on the cluster (the C(owned) return value of O(scope=cluster)).
    type: list
    elements: str
    default: []
  apply:
    description:
      - With O(scope=node), write a differing file and restart the kubelet; with O(scope=cluster), write the ConfigMap.
      - False only compares (nothing is reported changed; RV(differs) says whether there is something to change).
    type: bool
    default: false
  cgroup_driver:
    description: With O(scope=node), fail when the node's kubelet uses another cgroup driver. Empty, not checked.
    type: str
    default: ''
  path:
    description: The node's kubelet configuration file.
    type: path
    default: /var/lib/kubelet/config.yaml
  timeout:
    description: Seconds to wait for the restarted kubelet's health endpoint.
    type: int
    default: 90
extends_documentation_fragment:
  - kubeseed.cluster.kubectl
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    details: Compares and reports what a run would change; nothing is written or restarted.
  diff_mode:
    support: full
    details: The fields kubeseed manages, before and after.
seealso:
  - module: kubeseed.cluster.kubeadm_init
'''

EXAMPLES = r'''
- name: The cluster's kubelet configuration, compared (once, on the first control plane)
  kubeseed.cluster.kubelet_config:
    scope: cluster
    extra: {maxPods: 50}
  register: cluster_kubelet
  run_once: true

- name: This node's file, its kubelet restarted when it changed
  kubeseed.cluster.kubelet_config:
    scope: node
    extra: {maxPods: 50}
    owned: "{{ cluster_kubelet.owned }}"
    apply: true
  throttle: 1

- name: Then the cluster's copy, for the nodes that join later
  kubeseed.cluster.kubelet_config:
    scope: cluster
    extra: {maxPods: 50}
    apply: true
  run_once: true
'''

RETURN = r'''
changes:
  description: What changed (or would change in check mode, or differs when O(apply=false)), one line per field.
  returned: always
  type: list
  elements: str
  sample: ['maxPods: set to 50']
differs:
  description: The ConfigMap or file differs from the wanted fields (also when nothing was changed).
  returned: always
  type: bool
owned:
  description: With O(scope=cluster), every key kubeseed has set (its record after this run).
  returned: always
  type: list
  elements: str
  sample: [failCgroupV1, maxPods]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubelet_config_ops as ops
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubectl import KUBECTL_ARG_SPEC


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            'scope': {'type': 'str', 'choices': ['cluster', 'node'], 'required': True},
            'cgroup_v1': {'type': 'bool', 'default': False},
            'shared_disk': {'type': 'bool', 'default': False},
            'serving_certificates': {'type': 'bool', 'default': False},
            'extra': {'type': 'dict', 'default': {}},
            'owned': {'type': 'list', 'elements': 'str', 'default': []},
            'apply': {'type': 'bool', 'default': False},
            'cgroup_driver': {'type': 'str', 'default': ''},
            'path': {'type': 'path', 'default': '/var/lib/kubelet/config.yaml'},
            'timeout': {'type': 'int', 'default': 90},
            **KUBECTL_ARG_SPEC,
        },
        supports_check_mode=True,
    )
    result = ops.cluster(module) if module.params['scope'] == 'cluster' else ops.node(module)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
