#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: kubeadm_node_info
short_description: Tell whether a host is a cluster member, untouched, or half-initialised/half-joined
version_added: 0.1.0
description:
  - Reads the files kubeadm leaves on a node and returns C(absent), C(member) or C(partial). Changes nothing.
  - The roles use it to create join tokens only when some node needs to join, so that a re-run changes nothing.
author:
  - kubeseed maintainers (@kubeseed)
options:
  control_plane:
    description: Judge the host as a control plane (it also needs its API server manifest and admin.conf).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Read-only.
  diff_mode:
    support: none
    description: Read-only.
  platform:
    support: full
    platforms: posix
    description: Linux nodes.
'''

EXAMPLES = r'''
- name: Find out whether this worker has joined
  kubeseed.cluster.kubeadm_node_info:
  register: node
'''

RETURN = r'''
state:
  description: C(absent), C(member) or C(partial).
  returned: always
  type: str
  sample: member
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import node_info


def main():
    module = AnsibleModule(argument_spec=dict(control_plane=dict(type='bool', default=False)), supports_check_mode=True)
    module.exit_json(**node_info(module))


if __name__ == '__main__':
    main()
