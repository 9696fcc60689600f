#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: kubeadm_upgrade
short_description: Upgrade a node's part of a kubeadm cluster (kubeadm upgrade apply or kubeadm upgrade node), once
version_added: 0.4.0
description:
  - With O(action=apply), on the first control plane, runs C(kubeadm upgrade apply v<version> --yes) unless the cluster's
    ClusterConfiguration (C(kube-system/kubeadm-config)) already holds that version. A downgrade or a skipped minor is refused
    before anything runs. kubeadm then upgrades this control plane's static pods (etcd included), the cluster's kube-proxy
    and CoreDNS, and the kubelet configuration.
  - With O(action=node), runs C(kubeadm upgrade node) on another control plane (when its kube-apiserver manifest or its kubelet
    is not at the version yet) or on a worker (when its kubelet is not).
  - The kubeadm binary must already be the target version (role C(kube_packages) installs it); otherwise the module fails
    before anything runs.
  - Returns whether the kubelet must be restarted (the version its running kubelet reports in the Node object, read with the
    node's own credentials, is not the target); the module itself does not restart it.
  - kubeadm's C(upgrade plan) is not used, because it asks the internet (dl.k8s.io) for releases; M(kubeseed.cluster.upgrade_plan)
    plans from the cluster instead.
author:
  - kubeseed maintainers (@kubeseed)
options:
  kubernetes_version:
    description: The target Kubernetes version, for example C(1.37.2).
    type: str
    required: true
  action:
    description: C(apply) on the first control plane, C(node) on every other node.
    type: str
    choices: [apply, node]
    required: true
  node_name:
    description: This node's name in the cluster.
    type: str
    required: true
  control_plane:
    description: Whether this node is a control plane (for O(action=node)).
    type: bool
    default: false
  ignore_preflight_errors:
    description: kubeadm preflight checks to ignore.
    type: list
    elements: str
    default: []
  init_config_path:
    description: With O(action=apply), the kubeadm configuration M(kubeseed.cluster.kubeadm_init) keeps on this host; its
      C(kubernetesVersion) is set to the target (only if the file exists).
    type: path
    default: /etc/kubernetes/kubeseed-init.yaml
  kubectl_path:
    description: kubectl binary (a name or a path), used to read the Node object.
    type: path
    default: kubectl
extends_documentation_fragment:
  - kubeseed.cluster.kubeadm
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Reads the cluster's and the node's versions and reports whether kubeadm would run and the kubelet be restarted.
  diff_mode:
    support: none
    description: The result names the versions before.
'''

EXAMPLES = r'''
- name: Upgrade the cluster on its first control plane
  kubeseed.cluster.kubeadm_upgrade:
    kubernetes_version: 1.37.2
    action: apply
    node_name: "{{ inventory_hostname }}"
  register: upgraded

- name: Restart the kubelet when it runs the old version
  ansible.builtin.systemd_service:
    name: kubelet
    state: restarted
    daemon_reload: true
  when: upgraded.restart_kubelet
'''

RETURN = r'''
restart_kubelet:
  description: Whether the running kubelet reports another version than the target (restart it to run the new binary).
  returned: always
  type: bool
kubelet_before:
  description: The version the running kubelet reported before the task.
  returned: always
  type: str
  sample: v1.36.3
cluster_before:
  description: The cluster's version (ClusterConfiguration) before the task.
  returned: when O(action=apply)
  type: str
  sample: v1.36.3
manifests_before:
  description: The version of this control plane's kube-apiserver static pod before the task.
  returned: when O(action=node) on a control plane
  type: str
kubeadm_seconds:
  description: How long kubeadm ran.
  returned: when it ran
  type: float
stdout_lines:
  description: kubeadm's C([upgrade...]) progress lines (the last 20).
  returned: when it ran
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import KUBEADM_ARG_SPEC, upgrade


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubernetes_version=dict(type='str', required=True),
            action=dict(type='str', choices=['apply', 'node'], required=True),
            node_name=dict(type='str', required=True),
            control_plane=dict(type='bool', default=False),
            ignore_preflight_errors=dict(type='list', elements='str', default=[]),
            kubectl_path=dict(type='path', default='kubectl'),
            init_config_path=dict(type='path', default='/etc/kubernetes/kubeseed-init.yaml'),
            **KUBEADM_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    module.exit_json(**upgrade(module))


if __name__ == '__main__':
    main()
