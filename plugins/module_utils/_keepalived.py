# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API server's virtual IP (kubeseed_control_plane_vip) with keepalived: the configuration and the health check
kubeseed writes on each control plane, and the interface that carries the node's address.

How the address moves (VRRP, one instance, every control plane starts as BACKUP with the same base priority):
- the health check asks this node's API server for /readyz every CHECK_INTERVAL seconds; while it answers, the node's
  priority is BASE_PRIORITY + HEALTHY_WEIGHT, after CHECK_FALL failures BASE_PRIORITY;
- the holder with a failing API server advertises the lower priority and a node whose API server answers takes the
  address over (preemption only by a strictly higher priority: healthy nodes never take it from each other, so a node
  that comes back does not move it again);
- a holder that stops advertising (host down, keepalived stopped) loses it after 3 adverts plus the skew time.
"""
from __future__ import annotations

import ipaddress
import re

DIRECTORY = '/etc/keepalived'
CONFIG = DIRECTORY + '/keepalived.conf'
CHECK = DIRECTORY + '/kubeseed-apiserver-check'
CLUSTER_CA = '/etc/kubernetes/pki/ca.crt'
BASE_PRIORITY = 100
HEALTHY_WEIGHT = 50
ADVERT_INT = 1
CHECK_INTERVAL = 2
CHECK_TIMEOUT = 2
CHECK_FALL = 2
CHECK_RISE = 2


def failover_seconds() -> dict:
    """Upper bounds of the time the address needs to move, from the settings above (what docs/ha.md states).

    host_down: the backups declare the master dead after 3 adverts plus the skew time ((256 - priority) / 256 s).
    apiserver_down: CHECK_FALL failed checks (each at most the interval plus its timeout), then one advert.
    """
    skew = (256 - (BASE_PRIORITY + HEALTHY_WEIGHT)) / 256.0
    return {'host_down': round(3 * ADVERT_INT + skew, 1),
            'apiserver_down': float(CHECK_FALL * (CHECK_INTERVAL + CHECK_TIMEOUT) + ADVERT_INT)}


def interfaces(ip_addr: str) -> dict:
    """{interface: [addresses]} from the output of ``ip -o addr show`` (one line per address)."""
    found: dict = {}
    for line in ip_addr.splitlines():
        match = re.match(r'^\d+:\s+(\S+?)(@\S+)?\s+inet6?\s+(\S+)', line)
        if match:
            found.setdefault(match.group(1), []).append(match.group(3).split('/')[0])
    return found


def interface_for(ip_addr: str, address: str) -> str | None:
    """The interface that carries address (None when none does)."""
    want = ipaddress.ip_address(address)
    for name, addresses in interfaces(ip_addr).items():
        for have in addresses:
            try:
                if ipaddress.ip_address(have) == want:
                    return name
            except ValueError:
                continue
    return None


def holds(ip_addr: str, vip: str) -> bool:
    """True when this host has the virtual IP on one of its interfaces now."""
    return interface_for(ip_addr, vip) is not None


def config(*, node_name: str, vip: str, interface: str, router_id: int) -> str:
    """keepalived.conf: one VRRP instance (multicast on the interface) holding vip, tracking the health check."""
    prefix = 32 if ipaddress.ip_address(vip).version == 4 else 128
    return '\n'.join([
        '# Written by kubeseed.cluster (role ha_endpoint): the virtual IP of the API server. Changes here are overwritten.',
        'global_defs {',
        '    router_id %s' % node_name,
        '    script_user root',
        '    enable_script_security',
        '}',
        '',
        'vrrp_script kubeseed_apiserver {',
        '    script "%s"' % CHECK,
        '    interval %d' % CHECK_INTERVAL,
        '    timeout %d' % CHECK_TIMEOUT,
        '    fall %d' % CHECK_FALL,
        '    rise %d' % CHECK_RISE,
        '    weight %d' % HEALTHY_WEIGHT,
        '}',
        '',
        'vrrp_instance kubeseed_apiserver {',
        '    state BACKUP',
        '    interface %s' % interface,
        '    virtual_router_id %d' % router_id,
        '    priority %d' % BASE_PRIORITY,
        '    advert_int %d' % ADVERT_INT,
        '    virtual_ipaddress {',
        '        %s/%d dev %s' % (vip, prefix, interface),
        '    }',
        '    track_script {',
        '        kubeseed_apiserver',
        '    }',
        '}',
        '',
    ])


def check_script(*, node_address: str, port: int, ca: str = CLUSTER_CA) -> str:
    """The health check keepalived runs: exit 0 while this node's API server answers /readyz (verified with the cluster CA)."""
    host = node_address if ipaddress.ip_address(node_address).version == 4 else '[%s]' % node_address
    return '\n'.join([
        '#!/usr/bin/python3',
        '# Written by kubeseed.cluster (role ha_endpoint). keepalived runs it every %d s: exit 0 while the API server of this' % CHECK_INTERVAL,
        '# node answers /readyz; then this node may hold the virtual IP of the API server.',
        'import ssl',
        'import sys',
        'import urllib.error',
        'import urllib.request',
        '',
        "URL = 'https://%s:%d/readyz'" % (host, port),
        'try:',
        "    CONTEXT = ssl.create_default_context(cafile=%r)" % ca,
        '    OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=CONTEXT))',
        '    with OPENER.open(URL, timeout=%d) as RESPONSE:' % CHECK_TIMEOUT,
        '        sys.exit(0 if RESPONSE.status == 200 else 1)',
        'except urllib.error.HTTPError as EXC:',
        '    # 401 or 403: it answers, but anonymous requests are turned off (--anonymous-auth=false)',
        '    sys.exit(0 if EXC.code in (401, 403) else 1)',
        'except Exception:  # pylint: disable=broad-except  # no CA yet, no connection, a TLS error, a timeout',
        '    sys.exit(1)',
        '',
    ])


def files(*, node_name: str, node_address: str, vip: str, interface: str, router_id: int, port: int) -> list:
    """The files for _files.converge: the configuration (0644) and the health check (0755, root's only to write)."""
    return [{'path': CONFIG, 'content': config(node_name=node_name, vip=vip, interface=interface, router_id=router_id), 'mode': '0644'},
            {'path': CHECK, 'content': check_script(node_address=node_address, port=port), 'mode': '0755'}]
