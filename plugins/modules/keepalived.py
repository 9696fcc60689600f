#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: keepalived
short_description: Write the keepalived configuration that holds the API server's virtual IP on a control plane
version_added: 0.10.0
description:
  - Finds the interface that carries the node's address (C(ip -o addr show)), unless O(interface) names one, and writes
    C(/etc/keepalived/keepalived.conf) (one VRRP instance, multicast on that interface, every control plane a BACKUP
    with the same priority) and C(/etc/keepalived/kubeseed-apiserver-check) (the health check keepalived runs every 2 s,
    which asks the node's API server for C(/readyz), verified with the cluster CA). Each file is written only when it differs.
  - While its API server answers, a node's priority is 150, else 100, so the address stays on or moves to a node whose
    API server answers; healthy nodes never take it from each other.
  - Starting and restarting keepalived is the job of M(kubeseed.cluster.service) (the role C(ha_endpoint) runs both).
author:
  - kubeseed maintainers (@kubeseed)
options:
  vip:
    description: The virtual IPv4 address (C(kubeseed_control_plane_vip)).
    type: str
    required: true
  node_name:
    description: This control plane's name (keepalived's router_id, seen in its log).
    type: str
    required: true
  node_address:
    description: This node's address; the API server answers the health check there and its interface carries the virtual IP.
    type: str
    required: true
  interface:
    description: The interface for the virtual IP and the VRRP adverts; empty, the one that carries O(node_address).
    type: str
    default: ''
  router_id:
    description: VRRP virtual router id (1 to 255); unique among the VRRP users of the network.
    type: int
    default: 51
  apiserver_port:
    description: The port of this node's API server.
    type: int
    default: 6443
extends_documentation_fragment:
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Reports the files a run would write, writes none.
  diff_mode:
    support: full
    description: The files' content before and after (they hold no secret).
notes:
  - Linux with iproute2 (C(ip)).
'''

EXAMPLES = r'''
- name: keepalived's files for the virtual IP 10.117.0.10
  kubeseed.cluster.keepalived:
    vip: 10.117.0.10
    node_name: ks-cp1
    node_address: 10.117.0.11
  register: vip_files
'''

RETURN = r'''
changed_paths:
  description: The directory and files written (in check mode, those a run would write).
  returned: always
  type: list
  elements: str
  sample: [/etc/keepalived/keepalived.conf]
interface:
  description: The interface the virtual IP is configured on.
  returned: always
  type: str
  sample: eth0
holds_vip:
  description: Whether this node has the virtual IP now.
  returned: always
  type: bool
'''

import ipaddress

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _files
from ansible_collections.kubeseed.cluster.plugins.module_utils import _keepalived


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            'vip': {'type': 'str', 'required': True},
            'node_name': {'type': 'str', 'required': True},
            'node_address': {'type': 'str', 'required': True},
            'interface': {'type': 'str', 'default': ''},
            'router_id': {'type': 'int', 'default': 51},
            'apiserver_port': {'type': 'int', 'default': 6443},
        },
        supports_check_mode=True,
    )
    params = module.params
    for name in ('vip', 'node_address'):
        try:
            ipaddress.ip_address(params[name])
        except ValueError:
            module.fail_json(msg='%s: %r is not an IP address' % (name, params[name]))
    if not 1 <= params['router_id'] <= 255:
        module.fail_json(msg='router_id: %d is not a VRRP router id; use 1 to 255' % params['router_id'])
    ip = module.get_bin_path('ip')
    if not ip:
        module.fail_json(msg='%s: ip (iproute2) is not installed; keepalived needs it' % params['node_name'])
    rc, out, err = module.run_command([ip, '-o', 'addr', 'show'], environ_update={'LC_ALL': 'C'})
    if rc != 0:
        module.fail_json(msg='ip -o addr show failed: %s' % err.strip())
    interface = params['interface']
    # the interface must carry an address (VRRP adverts leave from it): one without any is refused like a missing one
    if interface and interface not in _keepalived.interfaces(out):
        module.fail_json(msg="kubeseed_control_plane_vip_interface: %s has no interface %s with an address; leave it empty to use "
                             "the one that carries %s" % (params['node_name'], interface, params['node_address']))
    interface = interface or _keepalived.interface_for(out, params['node_address'])
    if not interface:
        module.fail_json(msg='%s: no interface has the address %s (kubeseed_node_ip or ansible_host); set kubeseed_node_ip to an '
                             'address of this host, or kubeseed_control_plane_vip_interface' % (params['node_name'], params['node_address']))
    wanted = _keepalived.files(node_name=params['node_name'], node_address=params['node_address'], vip=params['vip'],
                               interface=interface, router_id=params['router_id'], port=params['apiserver_port'])
    try:
        result = _files.converge([_keepalived.DIRECTORY], wanted, module.check_mode)
    except (OSError, ValueError) as exc:
        module.fail_json(msg='%s' % exc)
    module.exit_json(changed=bool(result['changed_paths']), changed_paths=result['changed_paths'], interface=interface,
                     holds_vip=_keepalived.holds(out, params['vip']),
                     diff=result['diff'] if module._diff else [])  # pylint: disable=protected-access


if __name__ == '__main__':
    main()
