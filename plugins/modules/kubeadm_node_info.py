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
  - With O(kubernetes_version), also guards a live node against a change of its Kubernetes version outside an upgrade.
  - The roles use it to create join tokens only when some node needs to join, so that a re-run changes nothing.
author:
  - kubeseed maintainers (@kubeseed)
options:
  control_plane:
    description: Judge the host as a control plane (it also needs its API server manifest and admin.conf).
    type: bool
    default: false
  kubernetes_version:
    description:
      - The Kubernetes version the playbook installs. When set and the host is a node of a cluster (or half-joined) whose kubelet
        binary is another version, the module fails and says how to upgrade (a newer patch or the next minor) or why not (a
        downgrade, a skipped minor); the packages of a live node are only changed by C(playbooks/upgrade.yml).
    type: str
    default: ''
  allow_version_change:
    description: Do not refuse another version (the upgrade sets it, for the node it is upgrading).
    type: bool
    default: false
  cgroup_driver:
    description:
      - The cgroup driver the variables ask for (C(kubeseed_containerd_cgroup_driver)). When set and the host is a node whose
        kubelet runs with another one (C(/var/lib/kubelet/config.yaml)), the module fails and says what to do; changing it
        on a running node would leave containerd and the kubelet disagreeing.
    type: str
    default: ''
  node_name:
    description: The node's name, for the messages.
    type: str
    default: ''
  host_facts:
    description:
      - Also return, as host facts, the operating system (C(distribution), C(distribution_version),
        C(distribution_major_version), C(os_family)), C(architecture), C(processor_vcpus) and C(memtotal_mb), named and
        valued as M(ansible.builtin.setup) names them, from C(/etc/os-release) and C(/proc) (the preflight checks read them;
        no fact gathering needed).
    type: bool
    default: false
  containerd_version:
    description:
      - Also return RV(containerd_version), the version of the containerd this host has (the offline bundle's in
        C(/usr/local/bin) first, then a package's in C(/usr/bin)), so that the runtime checks need no other call, and
        RV(containerd_host_missing), what containerd 2.x needs from the host and it lacks.
    type: bool
    default: false
  containerd_package:
    description:
      - Also return RV(containerd_package_version), the version of this distribution package (installed, else the
        candidate the package manager would install; Debian family, C(apt-cache policy)). Empty to skip.
    type: str
    default: ''
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
kubelet_version:
  description: The version of the kubelet binary, when O(kubernetes_version) is set and the host is not C(absent).
  returned: when checked
  type: str
  sample: 1.36.3
ansible_facts:
  description: The host facts, with O(host_facts).
  returned: when O(host_facts) is true
  type: dict
  sample: {distribution: Debian, distribution_version: '12.8', distribution_major_version: '12', os_family: Debian,
           architecture: x86_64, processor_vcpus: 2, memtotal_mb: 24105}
containerd_version:
  description: The version of the host's containerd (major.minor.patch), empty when none is installed, C(unknown) when it
    does not say.
  returned: when O(containerd_version) is true
  type: str
  sample: 2.4.2
containerd_host_missing:
  description: What containerd 2.x needs from the host and it lacks (overlayfs, a cgroup hierarchy, systemd as init), one
    sentence each; empty when it has all of it.
  returned: when O(containerd_version) is true
  type: list
  elements: str
  sample: []
containerd_package_version:
  description: The version (major.minor.patch) of the O(containerd_package) package installed, else the candidate; empty
    when unknown.
  returned: when O(containerd_package) is set
  type: str
  sample: 1.6.20
kubelet_cgroup_driver:
  description: The cgroup driver of the node's kubelet configuration, empty on a host that is not a node yet.
  returned: when O(cgroup_driver) is set
  type: str
  sample: systemd
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _host_facts
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import node_info


def main():
    module = AnsibleModule(
        argument_spec=dict(
            control_plane=dict(type='bool', default=False),
            kubernetes_version=dict(type='str', default=''),
            allow_version_change=dict(type='bool', default=False),
            cgroup_driver=dict(type='str', default=''),
            node_name=dict(type='str', default=''),
            host_facts=dict(type='bool', default=False),
            containerd_version=dict(type='bool', default=False),
            containerd_package=dict(type='str', default=''),
        ),
        supports_check_mode=True,
    )
    facts = {'ansible_facts': _host_facts.gather()} if module.params['host_facts'] else {}
    if module.params['containerd_version']:
        facts['containerd_version'] = _host_facts.containerd_version(module.run_command)
        facts['containerd_host_missing'] = _host_facts.runtime_needs()
    if module.params['containerd_package']:
        facts['containerd_package_version'] = _host_facts.package_version(module.run_command, module.params['containerd_package'])
    module.exit_json(**node_info(module), **facts)


if __name__ == '__main__':
    main()
