# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate an inventory and its kubeseed_* variables before any host is touched.

``validate_cluster`` takes the inventory groups and, per host, its address and the
kubeseed_* variables the user set; it returns every violation at once, each naming the
variable path (and the host or group when that is where the problem is).
"""
from __future__ import annotations

import ipaddress
import re

from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_schema import (
    CLUSTER_SCHEMA,
    SUPPORTED_MINORS,
    cluster_defaults,
    host_scoped,
)
from ansible_collections.kubeseed.cluster.plugins.module_utils._schema_validation import is_cidr, is_ip, validate

try:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
except ImportError:  # pragma: no cover - ansible-core < 2.11
    ArgumentSpecValidator = None

CONTROL_PLANE = 'control_plane'
WORKERS = 'workers'
ETCD = 'etcd'
_NODE_NAME = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')


def _group(groups: dict, name: str) -> list:
    return list(groups.get(name) or [])


def _merged(by_message: dict, host_count: int) -> list[str]:
    """One line per message; ' (on h1, h2)' when it holds for some of several hosts only."""
    messages = []
    for message, where in sorted(by_message.items()):
        if host_count > 1 and len(where) < host_count:
            message += ' (on %s)' % ', '.join(where)
        messages.append(message)
    return messages


def _schema_violations(hosts: dict) -> tuple[list[str], dict]:
    """Schema-check every host's variables; merge identical messages across hosts.

    Returns the messages and, per host, the effective variables (defaults + user values).
    """
    by_message: dict[str, list[str]] = {}
    effective = {}
    for host in sorted(hosts):
        user_vars = hosts[host].get('vars') or {}
        effective[host] = dict(cluster_defaults(), **user_vars)
        for message in validate(CLUSTER_SCHEMA, effective[host]):
            by_message.setdefault(message, []).append(host)
    return _merged(by_message, len(hosts)), effective


def _consistency(effective: dict) -> list[str]:
    """Cluster-wide variables must have one value on every host."""
    messages = []
    per_host_ok = host_scoped()
    for name in sorted(CLUSTER_SCHEMA['properties']):
        if name in per_host_ok:
            continue
        values: dict[str, list[str]] = {}
        for host in sorted(effective):
            values.setdefault(repr(effective[host].get(name)), []).append(host)
        if len(values) > 1:
            detail = '; '.join('%s on %s' % (value, ', '.join(where)) for value, where in values.items())
            messages.append('%s: differs between hosts (%s); it is cluster-wide: set it once, e.g. in group_vars/all' % (name, detail))
    return messages


def _inventory(groups: dict, cluster: dict) -> list[str]:
    messages = []
    control_planes = _group(groups, CONTROL_PLANE)
    workers = _group(groups, WORKERS)
    etcd = _group(groups, ETCD)
    if not control_planes:
        messages.append("inventory: group '%s' has no hosts; put the host(s) that run the control plane under "
                        "all.children.%s.hosts" % (CONTROL_PLANE, CONTROL_PLANE))
    for host in sorted(set(control_planes) & set(workers)):
        messages.append("inventory: host '%s' is in both groups '%s' and '%s'; keep it in one (set "
                        "kubeseed_control_plane_schedulable: true to run workloads on control planes)" % (host, CONTROL_PLANE, WORKERS))
    mode = cluster.get('kubeseed_etcd_mode')
    if mode == 'stacked':
        if control_planes and len(control_planes) % 2 == 0:
            messages.append("inventory: group '%s' has %d hosts (%s); stacked etcd needs an odd number of control planes "
                            "for quorum: use %d or %d" % (CONTROL_PLANE, len(control_planes), ', '.join(control_planes),
                                                          len(control_planes) - 1, len(control_planes) + 1))
        if etcd:
            messages.append("inventory: group '%s' has hosts (%s) but kubeseed_etcd_mode is 'stacked'; set kubeseed_etcd_mode: external "
                            "or remove the group" % (ETCD, ', '.join(etcd)))
    elif mode == 'external':
        if not etcd:
            messages.append("inventory: group '%s' has no hosts but kubeseed_etcd_mode is 'external'; add an odd number of etcd hosts "
                            "under all.children.%s.hosts" % (ETCD, ETCD))
        elif len(etcd) % 2 == 0:
            messages.append("inventory: group '%s' has %d hosts (%s); etcd needs an odd number of members for quorum"
                            % (ETCD, len(etcd), ', '.join(etcd)))
    if control_planes and not workers and cluster.get('kubeseed_control_plane_schedulable') is False:
        messages.append("inventory: group '%s' has no hosts and kubeseed_control_plane_schedulable is false, so no pod could run; "
                        "add workers or set kubeseed_control_plane_schedulable: true" % WORKERS)
    return messages


def _hosts(groups: dict, hosts: dict) -> list[str]:
    messages = []
    members = sorted(set(_group(groups, CONTROL_PLANE)) | set(_group(groups, WORKERS)) | set(_group(groups, ETCD)))
    for host in members:
        if not _NODE_NAME.match(host) or len(host) > 253:
            messages.append("inventory: host '%s' is not a valid Kubernetes node name; use lowercase letters, digits, '-' and '.' "
                            "(the inventory name becomes the node name)" % host)
    seen: dict[str, str] = {}
    for host in members:
        address = str((hosts.get(host) or {}).get('address') or host)
        if address in seen:
            messages.append("inventory: hosts '%s' and '%s' have the same address %s (ansible_host); each node needs its own"
                            % (seen[address], host, address))
        else:
            seen[address] = host
    return messages


def _networks(cluster: dict, hosts: dict, effective: dict) -> list[str]:
    messages = []
    named = {}
    for name in ('kubeseed_pod_subnet', 'kubeseed_service_subnet'):
        if is_cidr(cluster.get(name)):
            named[name] = ipaddress.ip_network(cluster[name])
    if len(named) == 2:
        pod, svc = named['kubeseed_pod_subnet'], named['kubeseed_service_subnet']
        if pod.version == svc.version and pod.overlaps(svc):
            messages.append('kubeseed_service_subnet: %s overlaps kubeseed_pod_subnet %s; choose networks that do not overlap'
                            % (svc, pod))
    for index, subnet in enumerate(cluster.get('kubeseed_node_subnets') or []):
        if not is_cidr(subnet):
            continue
        node_net = ipaddress.ip_network(subnet)
        for name, net in sorted(named.items()):
            if net.version == node_net.version and net.overlaps(node_net):
                messages.append('kubeseed_node_subnets[%d]: %s overlaps %s %s; pod and Service networks must not contain node addresses'
                                % (index, node_net, name, net))
    for host in sorted(hosts):
        for source, address in (('ansible_host', hosts[host].get('address')), ('kubeseed_node_ip', effective[host].get('kubeseed_node_ip'))):
            if not is_ip(address):
                continue
            ip = ipaddress.ip_address(address)
            for name, net in sorted(named.items()):
                if ip.version == net.version and ip in net:
                    messages.append('%s: %s address %s of host %s is inside %s %s; pod and Service networks must not contain node '
                                    'addresses' % (name, source, ip, host, name, net))
    pod = named.get('kubeseed_pod_subnet')
    mask = cluster.get('kubeseed_node_cidr_mask_size')
    if pod is not None and pod.version == 4 and isinstance(mask, int) and not isinstance(mask, bool) and mask <= pod.prefixlen:
        messages.append('kubeseed_node_cidr_mask_size: %d must be longer than the prefix of kubeseed_pod_subnet %s (/%d), '
                        'or each node could not get its own pod range' % (mask, pod, pod.prefixlen))
    return messages


def _settings(cluster: dict, groups: dict) -> list[str]:
    messages = []
    version = cluster.get('kubeseed_kubernetes_version')
    if isinstance(version, str) and re.match(r'^1\.[0-9]+\.[0-9]+$', version):
        minor = int(version.split('.')[1])
        if minor not in SUPPORTED_MINORS:
            messages.append('kubeseed_kubernetes_version: %s is not supported; kubeseed supports 1.%d to 1.%d'
                            % (version, SUPPORTED_MINORS[0], SUPPORTED_MINORS[-1]))
    if cluster.get('kubeseed_package_source') == 'offline' and cluster.get('kubeseed_offline_bundle_url') == '':
        messages.append("kubeseed_offline_bundle_url: is empty but kubeseed_package_source is 'offline'; set it to the http(s):// "
                        "or file:// URL of the bundle directory (the one holding manifest.json)")
    if len(_group(groups, CONTROL_PLANE)) > 1 and cluster.get('kubeseed_control_plane_endpoint') == '':
        messages.append('kubeseed_control_plane_endpoint: is empty but there are %d control planes; set it to the host[:port] of a '
                        'load balancer or virtual IP in front of them' % len(_group(groups, CONTROL_PLANE)))
    mtu = cluster.get('kubeseed_cni_mtu')
    if isinstance(mtu, int) and not isinstance(mtu, bool) and 0 < mtu < 576:
        messages.append('kubeseed_cni_mtu: %d is too small; use 0 (derive from the node interface) or 576 to 9216' % mtu)
    return messages


def _role_settings(hosts: dict, role_options: dict) -> tuple[list[str], dict]:
    """Check the role settings (kubeseed_<role>_* options of the roles' argument_specs) set in the inventory.

    Returns the messages and the hosts with only the contract variables left (the schema checks those).
    """
    contract = set(CLUSTER_SCHEMA['properties'])
    by_message: dict[str, list[str]] = {}
    remaining = {}
    for host in sorted(hosts):
        user_vars = dict(hosts[host].get('vars') or {})
        settings = {name: user_vars.pop(name) for name in list(user_vars) if name in role_options and name not in contract}
        remaining[host] = dict(hosts[host], vars=user_vars)
        if settings and ArgumentSpecValidator is not None:
            spec = {name: {k: v for k, v in role_options[name].items() if k in ('type', 'elements', 'choices')} for name in settings}
            for error in ArgumentSpecValidator(spec).validate(settings).errors:
                by_message.setdefault('%s (role setting, see the role\'s argument_specs)' % error, []).append(host)
    return _merged(by_message, len(hosts)), remaining


def validate_cluster(groups: dict, hosts: dict, role_options: dict | None = None) -> list[str]:
    """Return every violation found in the inventory and its variables (empty when valid).

    groups: {group name: [host, ...]} as in Ansible's ``groups``.
    hosts: {host: {'address': ansible_host or None, 'vars': {kubeseed_*: value set by the user}}}.
    role_options: {variable: argument_specs option} of the roles' own settings, allowed next to the contract variables.
    """
    members = set(_group(groups, CONTROL_PLANE)) | set(_group(groups, WORKERS)) | set(_group(groups, ETCD))
    checked = {host: hosts.get(host) or {} for host in sorted(members)}
    if not checked:
        return _inventory(groups, cluster_defaults())
    setting_messages, checked = _role_settings(checked, role_options or {})
    messages, effective = _schema_violations(checked)
    messages += setting_messages
    messages += _consistency(effective)
    first = sorted(_group(groups, CONTROL_PLANE) or checked)[0]
    cluster = effective[first]
    messages += _inventory(groups, cluster)
    messages += _hosts(groups, checked)
    messages += _networks(cluster, checked, effective)
    messages += _settings(cluster, groups)
    return messages
