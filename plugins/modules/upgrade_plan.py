#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: upgrade_plan
short_description: Plan a kubeadm cluster upgrade from what the cluster reports (read-only)
version_added: 0.4.0
description:
  - Runs on a control plane with its admin kubeconfig. Reads the cluster's version (the ClusterConfiguration in
    C(kube-system/kubeadm-config)) and every Node's kubelet version, and refuses, before anything is changed, a downgrade, a
    skipped minor version, another major version, a node whose kubelet is newer than the target or further behind than
    Kubernetes' version skew allows.
  - Returns, in inventory order, the control planes and the workers that still need work (a kubelet older than the target, or
    cordoned by an earlier upgrade run that was interrupted), and whether C(kubeadm upgrade apply) is still to run; a
    finished upgrade plans nothing, an interrupted one plans what is left.
  - Does not run C(kubeadm upgrade plan), which asks the internet for releases.
author:
  - kubeseed maintainers (@kubeseed)
options:
  kubernetes_version:
    description: The target version, for example C(1.37.2).
    type: str
    required: true
  control_planes:
    description: The inventory's control planes, in order (C(kubeadm upgrade apply) runs on the first that is a node).
    type: list
    elements: str
    required: true
  workers:
    description: The inventory's workers, in order.
    type: list
    elements: str
    default: []
  runtime_minimum:
    description:
      - Nodes whose containerd is older than this version (their C(containerRuntimeVersion)) are in the plan even at the
        target's kubelet version; the upgrade drains them and replaces their runtime with the bundle's. Empty plans no
        runtime replacement.
    type: str
    default: ''
extends_documentation_fragment:
  - kubeseed.cluster.kubectl
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Read-only; plans the same in check mode.
  diff_mode:
    support: none
    description: Read-only.
'''

EXAMPLES = r'''
- name: What is left to upgrade
  kubeseed.cluster.upgrade_plan:
    kubernetes_version: 1.37.2
    control_planes: "{{ groups['control_plane'] }}"
    workers: "{{ groups['workers'] }}"
  register: plan
'''

RETURN = r'''
plan:
  description: The plan.
  returned: always
  type: dict
  contains:
    cluster_version:
      description: The cluster's version before the run.
      type: str
      sample: 1.36.3
    target:
      description: The target version.
      type: str
      sample: 1.37.2
    apply:
      description: Whether kubeadm upgrade apply is still to run.
      type: bool
    apply_on:
      description: The control plane it runs on.
      type: str
    control_planes:
      description: Control planes that need work, in inventory order.
      type: list
      elements: str
    workers:
      description: Workers that need work, in inventory order.
      type: list
      elements: str
    not_nodes:
      description: Hosts of the inventory that are not nodes of the cluster (left alone).
      type: list
      elements: str
    not_in_inventory:
      description: Nodes of the cluster the inventory does not list (left at their version).
      type: list
      elements: str
    runtime:
      description: Nodes of the plan whose containerd is older than O(runtime_minimum) (their runtime is replaced).
      type: list
      elements: str
    actions:
      description: What the upgrade does, in order.
      type: list
      elements: str
    nodes:
      description: Per node, its kubelet and container runtime versions, whether it is Ready, cordoned, marked by an upgrade, a control plane.
      type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubectl import KUBECTL_ARG_SPEC, Kubectl
from ansible_collections.kubeseed.cluster.plugins.module_utils._upgrade import plan

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - depends on the host
    HAS_YAML = False


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubernetes_version=dict(type='str', required=True),
            control_planes=dict(type='list', elements='str', required=True),
            workers=dict(type='list', elements='str', default=[]),
            runtime_minimum=dict(type='str', default=''),
            **KUBECTL_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    kubectl = Kubectl(module, module.params['kubeconfig'])
    if kubectl.cluster_missing():
        module.fail_json(msg='no cluster to upgrade: %s or kubectl is missing on this control plane (build the cluster with site.yml)'
                         % module.params['kubeconfig'])
    config, error = kubectl.json('--namespace', 'kube-system', 'get', 'configmap', 'kubeadm-config')
    nodes, error = (kubectl.json('get', 'nodes') if config else (None, error))
    if config is None or nodes is None:
        module.fail_json(msg='reading the cluster failed: %s' % error)
    if not HAS_YAML:
        module.fail_json(msg='reading the ClusterConfiguration needs PyYAML on this host (package python3-yaml)')
    try:
        cluster = yaml.safe_load((config.get('data') or {}).get('ClusterConfiguration') or '') or {}
    except yaml.YAMLError:
        module.fail_json(msg='the ClusterConfiguration in kube-system/kubeadm-config is not valid YAML')
    problems, result = plan(str(cluster.get('kubernetesVersion', '')), nodes, module.params['kubernetes_version'],
                            module.params['control_planes'], module.params['workers'], module.params['runtime_minimum'])
    if problems:
        module.fail_json(msg='nothing was changed:\n- ' + '\n- '.join(problems))
    work = result['actions']
    module.exit_json(changed=False, plan=result,
                     msg='Kubernetes %s -> %s: %s' % (result['cluster_version'], result['target'], '; '.join(work) or 'nothing to do'))


if __name__ == '__main__':
    main()
