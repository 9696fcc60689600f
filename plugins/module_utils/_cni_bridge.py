# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One node's bridge pod network converged in one call (module cni_bridge): the pod MTU from the node's interface, the
CNI configuration and the route files, the route unit, the routes applied, containerd's CNI status. Commands run behind
`run`, so the planning is testable without a host."""
from __future__ import annotations

import json

from ansible_collections.kubeseed.cluster.plugins.module_utils import _files, _service

CONFLIST = '/etc/cni/net.d/10-kubeseed-bridge.conflist'
ROUTE_UNIT = 'kubeseed-pod-routes'
ROUTE_UNIT_FILE = '/etc/systemd/system/kubeseed-pod-routes.service'
ROUTE_SCRIPT = '/usr/local/sbin/kubeseed-pod-routes'


class CniError(Exception):
    """What went wrong, for the user."""


def conflist(bridge: str, mtu: int, pod_range: str) -> str:
    """The bridge CNI configuration (host-local addresses from the node's pod range, portmap for hostPort)."""
    return ('{\n'
            '  "cniVersion": "1.0.0",\n'
            '  "name": "kubeseed",\n'
            '  "plugins": [\n'
            '    {\n'
            '      "type": "bridge",\n'
            '      "bridge": %s,\n'
            '      "isGateway": true,\n'
            '      "ipMasq": false,\n'
            '      "hairpinMode": true,\n'
            '      "mtu": %d,\n'
            '      "ipam": {\n'
            '        "type": "host-local",\n'
            '        "ranges": [[{"subnet": %s}]],\n'
            '        "routes": [{"dst": "0.0.0.0/0"}]\n'
            '      }\n'
            '    },\n'
            '    {"type": "portmap", "capabilities": {"portMappings": true}}\n'
            '  ]\n'
            '}\n') % (json.dumps(bridge), mtu, json.dumps(pod_range))


def interface_mtu(run, address: str) -> int:
    """The MTU of the interface that carries ``address`` (not the loopback's, when the address is on lo too); 0 for none."""
    rc, out, err = run(['ip', '-json', 'address', 'show', 'to', address])
    if rc != 0:
        raise CniError('`ip -json address show to %s` failed (rc %d): %s' % (address, rc, (err or out).strip()[-400:]))
    try:
        links = json.loads(out or '[]')
    except ValueError as exc:
        raise CniError('`ip -json address show to %s` printed no JSON (%s); is iproute2 older than 4.13?' % (address, exc)) from exc
    return next((int(link['mtu']) for link in links if link.get('ifname') != 'lo' and link.get('mtu')), 0)


def converge(run, *, bridge: str, mtu: int, address: str, pod_range: str, directories: list, files: list,
             check_mode: bool) -> dict:
    """Plan and (unless check_mode) apply; run(argv) -> (rc, stdout, stderr). ``files``: the route list, the route script
    and its unit (rendered by the role); the CNI configuration is added here, with the MTU found on the host when 0."""
    found = 0
    if mtu == 0:
        found = interface_mtu(run, address)
        if not found:
            raise CniError('the pod MTU is to be taken from the node\'s interface (kubeseed_cni_mtu: 0), but no interface has the '
                           'node address %s; set kubeseed_cni_mtu to the MTU of the nodes\' network' % address)
    written = _files.converge(directories, [{'path': CONFLIST, 'content': conflist(bridge, mtu or found, pod_range)}] + list(files),
                              check_mode)
    changed = written['changed_paths']
    result = {'changed_paths': changed, 'diff': list(written['diff']), 'mtu': mtu or found, 'unit_actions': [], 'routes': [],
              'containerd': ''}
    # In check mode a unit file or script that a run would first write is not asked about (its file's change is the
    # prediction).
    if not (check_mode and ROUTE_UNIT_FILE in changed):
        unit = _service.converge(run, ROUTE_UNIT, check_mode=check_mode)
        result['unit_actions'] = unit['actions']
        result['diff'] += _service.state_diff(ROUTE_UNIT, unit)
    if not (check_mode and ROUTE_SCRIPT in changed):
        # the script prints "changed: ..." for each route or rule it changes; with --check for each it would
        rc, out, err = run([ROUTE_SCRIPT] + (['--check'] if check_mode else []))
        if rc != 0:
            raise CniError('%s failed (rc %d): %s' % (ROUTE_SCRIPT, rc, (err or out).strip()[-800:]))
        result['routes'] = [line.split('changed:', 1)[1].strip() for line in out.splitlines() if line.startswith('changed:')]
    # containerd watches /etc/cni/net.d, but where that watch misses the new file (seen in containers) the node stays
    # NotReady: ask containerd whether it loaded the configuration, and restart it when not.
    rc, out, err = run(['crictl', 'info'])
    if rc != 0:
        if not check_mode:
            raise CniError('`crictl info` failed (rc %d): %s; is containerd running?' % (rc, (err or out).strip()[-400:]))
        # in check mode containerd may be stopped (the containerd role then predicts its start)
        return result
    try:
        status = json.loads(out).get('lastCNILoadStatus', 'OK')
    except ValueError:
        status = 'OK'  # an answer without JSON says nothing about the CNI configuration
    if status != 'OK':
        result['containerd'] = 'restart: it has not loaded the CNI configuration (%s)' % str(status)[:300]
        if not check_mode:
            rc, out, err = run(['systemctl', 'restart', 'containerd'])
            if rc != 0:
                raise CniError('`systemctl restart containerd` failed (rc %d): %s' % (rc, (err or out).strip()[-400:]))
    return result
