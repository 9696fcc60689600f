#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: kubeadm_join
short_description: Join a worker or control-plane node with kubeadm, once, recovering a half-joined node
version_added: 0.1.0
description:
  - Does nothing on a node that is already a member (C(/etc/kubernetes/kubelet.conf), and for a control plane its
    API server manifest and admin.conf).
  - Joins a fresh node with a JoinConfiguration (v1beta4) written with mode 0600 and deleted right after the join, since it holds
    the token and the certificate key.
  - A node left half-joined by an interrupted join is reset with C(kubeadm reset) first when O(recover_partial) is true.
  - The token and the certificate key never go on the command line (visible in C(ps) and in a failed task's C(cmd)). When
    the join fails, they are redacted in any form (raw, after C(--token) or a C(token) key, base64) from the message and
    the command output the module reports.
author:
  - kubeseed maintainers (@kubeseed)
options:
  node_name:
    description: Node name (the inventory name).
    type: str
    required: true
  advertise_address:
    description: Node IP (and API server address for a control plane).
    type: str
    required: true
  api_server_endpoint:
    description: host:port of the cluster's API server.
    type: str
  token:
    description: Bootstrap token from M(kubeseed.cluster.kubeadm_token).
    type: str
  ca_cert_hash:
    description: Discovery hash of the cluster CA (C(sha256:...)).
    type: str
  control_plane:
    description: Join as an additional control plane.
    type: bool
    default: false
  certificate_key:
    description: Key of the uploaded control-plane certificates (control-plane joins).
    type: str
  apiserver_port:
    description: API server port of a joining control plane.
    type: int
    default: 6443
  control_plane_schedulable:
    description: Register a joining control plane without the control-plane taint.
    type: bool
    default: false
  ignore_preflight_errors:
    description: kubeadm preflight checks to ignore.
    type: list
    elements: str
    default: []
  recover_partial:
    description: Reset a half-joined node with C(kubeadm reset) before joining it.
    type: bool
    default: true
  config_path:
    description: Temporary JoinConfiguration path (removed after the join).
    type: path
    default: /etc/kubernetes/kubeseed-join.yaml
extends_documentation_fragment:
  - kubeseed.cluster.kubeadm
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Reports whether the node would join (or be reset and joined).
  diff_mode:
    support: none
    description: The join configuration holds secrets; nothing is shown.
  platform:
    support: full
    platforms: posix
    description: Linux nodes.
'''

EXAMPLES = r'''
- name: Join a worker
  kubeseed.cluster.kubeadm_join:
    node_name: "{{ inventory_hostname }}"
    advertise_address: 192.168.50.11
    api_server_endpoint: 192.168.50.10:6443
    token: "{{ join_secret.token }}"
    ca_cert_hash: "{{ join_secret.ca_cert_hash }}"
'''

RETURN = r'''
kubeadm_seconds:
  description: How long C(kubeadm join) took (for profiling).
  returned: when it ran
  type: float
  sample: 41.3
state_before:
  description: C(absent), C(member) or C(partial) before the task.
  returned: always
  type: str
  sample: absent
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import KUBEADM_ARG_SPEC, join


def main():
    module = AnsibleModule(
        argument_spec=dict(
            node_name=dict(type='str', required=True),
            advertise_address=dict(type='str', required=True),
            api_server_endpoint=dict(type='str'),
            token=dict(type='str', no_log=True),
            ca_cert_hash=dict(type='str'),
            control_plane=dict(type='bool', default=False),
            certificate_key=dict(type='str', no_log=True),
            apiserver_port=dict(type='int', default=6443),
            control_plane_schedulable=dict(type='bool', default=False),
            ignore_preflight_errors=dict(type='list', elements='str', default=[]),
            recover_partial=dict(type='bool', default=True),
            config_path=dict(type='path', default='/etc/kubernetes/kubeseed-join.yaml'),
            **KUBEADM_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    module.exit_json(**join(module))


if __name__ == '__main__':
    main()
