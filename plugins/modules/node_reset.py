#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: node_reset
short_description: Remove what kubeadm and kubeseed's cluster roles left on a host, so that it can join a cluster again
version_added: 0.3.0
description:
  - Looks for kubeadm's files, kubeseed's CNI configuration, route unit and routes to other nodes' pod ranges, the CNI bridge
    and its address leases, and the iptables chains of kube-proxy and the CNI plugins (C(KUBE-*), C(CNI-*)) with kubeseed's
    masquerade rule, in both iptables backends. Then removes only what it found; a second run finds nothing and changes nothing.
  - First of all, on a control plane with the API server's virtual IP (role C(ha_endpoint)), stops and disables keepalived
    and removes its configuration and health check, so that the address moves before this API server stops; only when
    the configuration is the one kubeseed wrote. The keepalived package stays.
  - Runs C(kubeadm reset --force) without its C(remove-etcd-member) phase (M(kubeseed.cluster.node_remove) removes a control
    plane's etcd member from the cluster side first; when a whole cluster is reset there is no etcd left to tell).
  - The host stays prepared; packages, containerd and its images, the kubelet unit (enabled, stopped until a join) and the
    node settings stay. Other software's rules in the same iptables tables stay too.
author:
  - kubeseed maintainers (@kubeseed)
options:
  node_name:
    description: The host's name, for messages.
    type: str
    required: true
  pod_subnet:
    description: The cluster's pod network; routes via a gateway into it are kubeseed's and are removed.
    type: str
    required: true
  bridge_name:
    description: The bridge interface of the C(bridge) CNI.
    type: str
    default: cni0
extends_documentation_fragment:
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Lists what a run would remove.
  diff_mode:
    support: none
    description: The result lists the actions.
'''

EXAMPLES = r'''
- name: Reset a node that left the cluster
  kubeseed.cluster.node_reset:
    node_name: "{{ inventory_hostname }}"
    pod_subnet: 10.244.0.0/16
'''

RETURN = r'''
actions:
  description: What was removed (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [kubeadm reset (found /etc/kubernetes/kubelet.conf), delete interface cni0, 'iptables: remove the KUBE-*, CNI-* chains of table nat']
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils._node_reset import Resetter


def main():
    module = AnsibleModule(
        argument_spec=dict(
            node_name=dict(type='str', required=True),
            pod_subnet=dict(type='str', required=True),
            bridge_name=dict(type='str', default='cni0'),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**Resetter(module).run())


if __name__ == '__main__':
    main()
