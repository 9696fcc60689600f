#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: node_settings
short_description: Converge a node's swap, kernel features and sysctls in one call
version_added: 0.2.0
description:
  - Compares the running kernel and the files that persist its settings with what Kubernetes needs, and changes only what
    differs - swap (turned off now, and its C(/etc/fstab) lines commented out), kernel features (loaded with C(modprobe) and
    listed in O(modules_load_file), or required to be built in), and sysctls (set now, and written to O(sysctl_file)).
  - C(changed) and the C(changes) list come from that comparison, so check mode predicts runtime drift too, such as a sysctl
    changed by hand, swap turned on again or a module unloaded, and C(--diff) shows the files and the running values.
author:
  - kubeseed maintainers (@kubeseed)
options:
  swap_off:
    description: Turn swap off now and comment out the swap lines of C(/etc/fstab).
    type: bool
    default: true
  kernel_modules:
    description:
      - Kernel module name to how to see that its feature is there - C(filesystem:<name>) (listed in C(/proc/filesystems)),
        C(path:<file>) (exists), or empty (C(/sys/module/<name>) exists). A module built into the kernel counts as loaded.
    type: dict
    default: {}
  can_load_modules:
    description:
      - V(false) for kernels that cannot load modules; a missing feature then fails the task instead of being loaded, and
        O(modules_load_file) is not written.
    type: bool
    default: true
  modules_load_file:
    description: File that loads O(kernel_modules) at boot.
    type: path
    default: /etc/modules-load.d/kubeseed.conf
  sysctls:
    description: Sysctl name to value; set now and written to O(sysctl_file).
    type: dict
    default: {}
  sysctl_file:
    description: File that sets O(sysctls) at boot.
    type: path
    default: /etc/sysctl.d/99-kubeseed.conf
extends_documentation_fragment:
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Reads the running kernel and the files, reports every difference, changes nothing.
  diff_mode:
    support: full
    description: The files before and after, and the running sysctls and swap as C((running kernel)).
'''

EXAMPLES = r'''
- name: Swap off, overlay and br_netfilter, forwarding on
  kubeseed.cluster.node_settings:
    kernel_modules:
      overlay: filesystem:overlay
      br_netfilter: path:/proc/sys/net/bridge/bridge-nf-call-iptables
    sysctls:
      net.ipv4.ip_forward: 1
      net.bridge.bridge-nf-call-iptables: 1
'''

RETURN = r'''
changes:
  description: Each difference found (and, unless in check mode, fixed).
  returned: always
  type: list
  elements: str
  sample: ['sysctl net.ipv4.ip_forward: 0 -> 1', 'swap: turn off /dev/vda2']
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _files
from ansible_collections.kubeseed.cluster.plugins.module_utils import _node_settings as ops


def _write(path: str, content: str) -> None:
    # a file someone made stricter keeps its mode
    mode = (os.stat(path).st_mode & 0o7777) if os.path.exists(path) else 0o644
    _files.write_atomic(path, [content.encode('utf-8')], mode)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            'swap_off': {'type': 'bool', 'default': True},
            'kernel_modules': {'type': 'dict', 'default': {}},
            'can_load_modules': {'type': 'bool', 'default': True},
            'modules_load_file': {'type': 'path', 'default': '/etc/modules-load.d/kubeseed.conf'},
            'sysctls': {'type': 'dict', 'default': {}},
            'sysctl_file': {'type': 'path', 'default': '/etc/sysctl.d/99-kubeseed.conf'},
        },
        supports_check_mode=True,
    )
    params = module.params
    planned = ops.plan(ops.Host(), params['swap_off'], params['kernel_modules'], params['can_load_modules'], params['modules_load_file'],
                       params['sysctls'], params['sysctl_file'])
    if planned['missing_builtin']:
        module.fail_json(msg='kernel features %s are neither loaded nor built in, and this kernel cannot load modules '
                             '(kubeseed_workaround_no_kernel_modules); use a kernel with them built in' % ', '.join(planned['missing_builtin']))
    changes = ops.describe(planned)
    result = {'changed': bool(changes), 'changes': changes}
    if module._diff and changes:
        result['diff'] = ops.diffs(planned)
    if module.check_mode or not changes:
        module.exit_json(**result)

    if planned['swap_devices']:
        rc, _out, err = module.run_command([module.get_bin_path('swapoff', required=True), '-a'])
        if rc != 0:
            module.fail_json(msg='swapoff -a failed: %s' % err.strip(), **result)
    for name in planned['modules']:
        rc, _out, err = module.run_command([module.get_bin_path('modprobe', required=True), name])
        if rc != 0:
            module.fail_json(msg='modprobe %s failed: %s' % (name, err.strip()), **result)
    for path, (_before, after) in sorted(planned['files'].items()):
        _write(path, after)
    for key, (_now, wanted) in sorted(planned['sysctls'].items()):
        try:
            with open(ops.sysctl_path(key), 'w', encoding='utf-8') as handle:
                handle.write(wanted)
        except OSError as exc:
            module.fail_json(msg='sysctl %s: cannot set %s: %s' % (key, wanted, exc), **result)
    again = ops.plan(ops.Host(), params['swap_off'], params['kernel_modules'], params['can_load_modules'], params['modules_load_file'],
                     params['sysctls'], params['sysctl_file'])
    left = ops.describe(again)
    if left:
        module.fail_json(msg='still different after the change: %s' % '; '.join(left), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
