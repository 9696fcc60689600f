#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: cni_bridge
short_description: Converge one node's bridge pod network in one call
version_added: 0.11.0
description:
  - Writes the bridge CNI configuration C(/etc/cni/net.d/10-kubeseed-bridge.conflist) (host-local addresses from the node's
    pod range, the given MTU or, with O(mtu=0), the MTU of the interface that carries O(address)) together with the
    O(files) the role renders (the route list, the route script C(/usr/local/sbin/kubeseed-pod-routes) and its unit),
    each only when it differs.
  - Then the unit C(kubeseed-pod-routes) enabled and active (it applies the routes at boot), the route script run now (it
    prints what it changes; in check mode, with C(--check), what it would), and containerd asked (C(crictl info)) whether
    it loaded the CNI configuration, restarted when it has not.
  - One module call for what took seven tasks; that is what a no-op re-run spends its time on.
author:
  - kubeseed maintainers (@kubeseed)
options:
  bridge:
    description: Name of the bridge on the node.
    type: str
    default: cni0
  mtu:
    description: MTU of the pod interfaces; 0 takes the MTU of the interface that carries O(address).
    type: int
    default: 0
  address:
    description: The node's address (the other nodes route its pod range to it).
    type: str
    required: true
  pod_range:
    description: This node's pod range (the Node's C(spec.podCIDR)).
    type: str
    required: true
extends_documentation_fragment:
  - kubeseed.cluster.files
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description:
      - Compares the files, reads the unit, runs the route script with C(--check) and asks containerd; changes nothing. A
        route script or unit file that a run would first write is not run or asked (its file's change is the prediction).
  diff_mode:
    support: full
    description: The files' content before and after, and the route unit's state.
notes:
  - Linux with iproute2, systemd and containerd (C(crictl)).
'''

EXAMPLES = r'''
- name: This node's pod network
  kubeseed.cluster.cni_bridge:
    address: 10.117.0.101
    pod_range: 10.244.2.0/24
    directories: [/etc/cni/net.d, /etc/kubeseed]
    files:
      - path: /etc/kubeseed/pod-routes
        content: "{{ lookup('ansible.builtin.template', 'pod-routes.j2') }}"
'''

RETURN = r'''
changed_paths:
  description: The directories created and files written (in check mode, those a run would write), in order.
  returned: always
  type: list
  elements: str
  sample: [/etc/cni/net.d/10-kubeseed-bridge.conflist]
mtu:
  description: The MTU in the CNI configuration.
  returned: always
  type: int
  sample: 1500
unit_actions:
  description: What was done to the route unit (in check mode, what a run would do), each with its reason.
  returned: always
  type: list
  elements: str
routes:
  description: The routes and rules the route script changed (in check mode, would change).
  returned: always
  type: list
  elements: str
  sample: [route 10.244.1.0/24 via 10.117.0.102]
containerd:
  description: containerd's restart and its reason when it had not loaded the CNI configuration, else empty.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _cni_bridge, _files, _service


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            'bridge': {'type': 'str', 'default': 'cni0'},
            'mtu': {'type': 'int', 'default': 0},
            'address': {'type': 'str', 'required': True},
            'pod_range': {'type': 'str', 'required': True},
            **_files.ARG_SPEC,
        },
        supports_check_mode=True,
    )
    params = module.params
    problems = _files.mode_problems(params['files'])
    if problems:
        module.fail_json(msg='; '.join(problems))
    crictl = module.get_bin_path('crictl', opt_dirs=['/usr/local/bin'])

    def run(argv: list) -> tuple:
        if argv[0] == 'crictl':
            if not crictl:
                return 127, '', 'crictl is not installed (the kube_packages role installs it)'
            argv = [crictl] + argv[1:]
        return module.run_command(argv, environ_update={'LC_ALL': 'C', 'SYSTEMD_PAGER': ''})

    try:
        result = _cni_bridge.converge(run, bridge=params['bridge'], mtu=params['mtu'], address=params['address'],
                                      pod_range=params['pod_range'], directories=params['directories'], files=params['files'],
                                      check_mode=module.check_mode)
    except (_cni_bridge.CniError, _service.ServiceError, OSError, ValueError) as exc:
        module.fail_json(msg='%s' % exc)
    changed = bool(result['changed_paths'] or result['unit_actions'] or result['routes'] or result['containerd'])
    module.exit_json(changed=changed, changed_paths=result['changed_paths'], mtu=result['mtu'], unit_actions=result['unit_actions'],
                     routes=result['routes'], containerd=result['containerd'],
                     diff=result['diff'] if module._diff else [])  # pylint: disable=protected-access


if __name__ == '__main__':
    main()
