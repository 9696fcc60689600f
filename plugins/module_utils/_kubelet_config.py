# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The KubeletConfiguration fields kubeseed manages on a running cluster (module kubelet_config).

kubeadm keeps the cluster's kubelet configuration in the ConfigMap kube-system/kubelet-config (joins and `kubeadm upgrade
node` write each node's /var/lib/kubelet/config.yaml from it); kubeseed writes its fields into both, and only its fields:
those of the workarounds and of kubeseed_kubelet_config. The keys kubeseed has ever set are recorded in its own ConfigMap
kube-system/kubeseed-kubelet-config (data.keys, a union that never shrinks; not in kubeadm's ConfigMap, which kubeadm
owns and may upload again at an upgrade), so a key removed from the variables is removed from kubeadm's ConfigMap and from
every node, also from a node a previous run did not reach. Everything else (kubeadm's own fields, a field set by hand) is
left as it is.
"""
from __future__ import annotations

import copy
import json
import re

# Set by kubeseed from other variables or by kubeadm itself: kubeseed_kubelet_config cannot set them.
RESERVED = {
    'apiVersion': 'the document header, written by kubeadm',
    'kind': 'the document header, written by kubeadm',
    'cgroupDriver': 'set kubeseed_containerd_cgroup_driver (containerd and the kubelet must use the same driver)',
    'failCgroupV1': 'set kubeseed_workaround_cgroup_v1',
    'clusterDomain': 'set kubeseed_cluster_domain (kubeadm derives it)',
    'clusterDNS': 'kubeadm derives it from kubeseed_service_subnet',
    'staticPodPath': "kubeadm's control-plane static pods are read from there",
    'authentication': "kubeadm's client-certificate and webhook authentication of the kubelet's API",
    'authorization': "kubeadm's webhook authorization of the kubelet's API",
    'serverTLSBootstrap': 'set kubeseed_kubelet_serving_certificates (the approver of the certificates goes with it)',
}
KEY_PATTERN = r'^[a-z][A-Za-z0-9]*$'
KEYS_CONFIG_MAP = 'kubeseed-kubelet-config'  # in kube-system, data.keys: the keys kubeseed has set, comma-separated
# The lab's workaround for nodes that share the disk of the machine running them (see kubeseed_workaround_shared_disk).
SHARED_DISK_FIELDS = {
    # every signal named: a partial evictionHard leaves the unnamed ones unset (memory keeps the kubelet's default)
    'evictionHard': {'memory.available': '100Mi', 'nodefs.available': '0%', 'nodefs.inodesFree': '0%', 'imagefs.available': '0%'},
    'imageGCHighThresholdPercent': 100,
}


NODE_CONFIG = '/var/lib/kubelet/config.yaml'  # written by kubeadm init/join on each node
_CGROUP_DRIVER = re.compile(r'^cgroupDriver:[ \t]*["\']?([A-Za-z0-9_-]+)', re.M)


def cgroup_driver_in(text: str) -> str:
    """The top-level cgroupDriver of a kubelet configuration file ('' when it names none); no YAML parser needed, so a
    host without python3-yaml can be asked (kubeadm writes the key at the top level, unquoted)."""
    match = _CGROUP_DRIVER.search(text or '')
    return match.group(1) if match else ''


def cgroup_driver_problem(live: str, wanted: str, path: str = NODE_CONFIG) -> str | None:
    """Why a node in a cluster cannot take another cgroup driver, or None."""
    if not wanted or not live or live == wanted:
        return None
    return ('kubeseed_containerd_cgroup_driver: the kubelet of this node runs with cgroupDriver %s (%s), the variables ask for %s. '
            'Changing it on a running node would leave containerd and the kubelet disagreeing, so nothing was changed. Set it back '
            'to %s, or move the node: remove it (playbooks/remove_node.yml), then run site.yml with the new driver to join it '
            'again.' % (live, path, wanted, live))


def fields(cgroup_v1: bool, shared_disk: bool, extra: dict, serving_certificates: bool = False) -> dict:
    """The KubeletConfiguration fields kubeseed sets: the workarounds', serverTLSBootstrap (kubeseed_kubelet_serving_certificates:
    the kubelet asks the cluster CA for its serving certificate instead of signing its own), then kubeseed_kubelet_config
    (which wins)."""
    wanted: dict = {}
    if serving_certificates:
        wanted['serverTLSBootstrap'] = True
    if cgroup_v1:
        wanted['failCgroupV1'] = False
    if shared_disk:
        wanted.update(copy.deepcopy(SHARED_DISK_FIELDS))
    wanted.update(copy.deepcopy(extra or {}))
    return wanted


def extra_problems(extra) -> list:
    """What is wrong with kubeseed_kubelet_config (the validation says it first; the module checks it again)."""
    if not isinstance(extra, dict):
        return ['kubeseed_kubelet_config: must be a mapping of KubeletConfiguration field names to values']
    problems = []
    for key in sorted(extra, key=str):
        if key in RESERVED:
            problems.append('kubeseed_kubelet_config.%s: kubeseed does not let this variable set it: %s' % (key, RESERVED[key]))
        elif not isinstance(key, str) or not re.match(KEY_PATTERN, key):
            problems.append('kubeseed_kubelet_config: %r is not a KubeletConfiguration field name; use the field name in camelCase as '
                            'the KubeletConfiguration reference spells it, e.g. maxPods' % (key,))
    return problems


def owned_keys(record: str | None) -> list:
    """The keys recorded (comma-separated); [] when there is no record."""
    return sorted({k.strip() for k in (record or '').split(',') if k.strip()})


def converge(config: dict, wanted: dict, owned: list) -> tuple:
    """(new config, changes): wanted fields set, owned fields that are no longer wanted removed, the rest untouched."""
    new = copy.deepcopy(config or {})
    changes = []
    for key in sorted(wanted):
        if key not in new:
            changes.append('%s: set to %s' % (key, _show(wanted[key])))
        elif new[key] != wanted[key]:
            changes.append('%s: %s -> %s' % (key, _show(new[key]), _show(wanted[key])))
        new[key] = copy.deepcopy(wanted[key])
    for key in sorted(set(owned) - set(wanted)):
        if key in new:
            changes.append('%s: removed (was %s; the kubelet default applies)' % (key, _show(new[key])))
            del new[key]
    return new, changes


def managed_view(config: dict, keys) -> dict:
    """Only the given keys of a configuration (for a diff that shows what kubeseed manages, not the whole file)."""
    return {k: config[k] for k in sorted(keys) if k in (config or {})}


def _show(value) -> str:
    return json.dumps(value, sort_keys=True)
