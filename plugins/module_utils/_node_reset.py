# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Take a host out of Kubernetes: what kubeadm and kubeseed's cluster roles left on it, and nothing else.

Looks first (kubeadm's files, kubeseed's CNI configuration, route unit and routes, the CNI bridge and its address
store, the iptables chains of kube-proxy and the CNI plugins), then removes only what it found, so a second run
finds nothing and changes nothing. The host stays prepared: packages, containerd, its images, the kubelet unit and the
node settings stay, and site.yml can join it again. Rules of other software in the same iptables tables stay too: a
table is rewritten without the KUBE-* and CNI-* chains, the rules that jump to them, and kubeseed's masquerade rule.
"""
from __future__ import annotations

import glob
import ipaddress
import json
import os
import re
import shutil

CRI_SOCKET = 'unix:///run/containerd/containerd.sock'
KUBEADM_STATE = ('/etc/kubernetes/kubelet.conf', '/etc/kubernetes/bootstrap-kubelet.conf', '/etc/kubernetes/admin.conf',
                 '/etc/kubernetes/super-admin.conf', '/etc/kubernetes/controller-manager.conf', '/etc/kubernetes/scheduler.conf',
                 '/etc/kubernetes/pki', '/var/lib/kubelet/config.yaml', '/var/lib/kubelet/pki', '/var/lib/etcd/member')
ROUTE_UNIT = 'kubeseed-pod-routes.service'
CNI_FILES = ('/etc/cni/net.d/10-kubeseed-bridge.conflist', '/etc/kubeseed/pod-routes', '/usr/local/sbin/kubeseed-pod-routes',
             '/etc/systemd/system/' + ROUTE_UNIT, '/etc/systemd/system/multi-user.target.wants/' + ROUTE_UNIT)
# keepalived's files for the API server's virtual IP (role ha_endpoint, module_utils/_keepalived); the configuration only
# when kubeseed wrote it (its first line), so that a keepalived of someone else is left alone.
KEEPALIVED_CONFIG = '/etc/keepalived/keepalived.conf'
KEEPALIVED_FILES = (KEEPALIVED_CONFIG, '/etc/keepalived/kubeseed-apiserver-check')
KEEPALIVED_MARKER = '# Written by kubeseed.cluster (role ha_endpoint)'
CNI_STATE = '/var/lib/cni'
ETCD_DATA = '/var/lib/etcd'  # kubeadm's stacked etcd data directory
MASQUERADE_COMMENT = 'kubeseed-pod-masquerade'
SAVE_COMMANDS = ('iptables-save', 'ip6tables-save', 'iptables-legacy-save', 'ip6tables-legacy-save')
_OURS = re.compile(r'^(KUBE-|CNI-)')


def kubeadm_state(root: str = '/') -> list[str]:
    """kubeadm's files on the host (a static pod manifest counts too)."""
    # kubeadm reset leaves an empty pki directory behind: only files count
    found = [p for p in KUBEADM_STATE if os.path.lexists(_at(root, p)) and not (os.path.isdir(_at(root, p)) and not os.listdir(_at(root, p)))]
    found += sorted(p[len(root.rstrip('/')):] if root != '/' else p for p in glob.glob(_at(root, '/etc/kubernetes/manifests/*.yaml')))
    return found


def keepalived_files(root: str = '/') -> list[str]:
    """kubeseed's keepalived files on the host: none unless the configuration is the one kubeseed wrote."""
    try:
        with open(_at(root, KEEPALIVED_CONFIG), encoding='utf-8', errors='replace') as handle:
            ours = handle.readline().startswith(KEEPALIVED_MARKER)
    except OSError:
        return []
    return [p for p in KEEPALIVED_FILES if os.path.lexists(_at(root, p))] if ours else []


def _at(root: str, path: str) -> str:
    return path if root == '/' else os.path.join(root, path.lstrip('/'))


def pod_routes(routes_json: list, pod_subnet: str) -> list[str]:
    """Destinations of routes via a gateway into the pod network (kubeseed's routes to other nodes' pod ranges)."""
    try:
        network = ipaddress.ip_network(pod_subnet, strict=False)
    except ValueError:
        return []
    found = []
    for route in routes_json:
        dst, gateway = route.get('dst'), route.get('gateway')
        if not gateway or not dst or '/' not in dst:
            continue
        try:
            if ipaddress.ip_network(dst, strict=False).subnet_of(network):
                found.append(dst)
        except (ValueError, TypeError):
            continue
    return found


def _rule_is_ours(line: str) -> bool:
    words = line.split()
    if len(words) > 1 and _OURS.match(words[1]):
        return True  # a rule in one of our chains
    for flag in ('-j', '-g', '--jump', '--goto'):
        if flag in words:
            at = words.index(flag)
            if at + 1 < len(words) and _OURS.match(words[at + 1]):
                return True
    return MASQUERADE_COMMENT in line


def strip_iptables(saved: str) -> dict:
    """{table: the table's iptables-restore input without our chains and rules} for every table that has some."""
    tables, current, lines, dirty = {}, None, [], False
    for line in saved.splitlines():
        if line.startswith('*'):
            current, lines, dirty = line[1:].strip(), [line], False
        elif current is None or line.startswith('#'):
            continue
        elif line == 'COMMIT':
            lines.append(line)
            if dirty:
                tables[current] = '\n'.join(lines) + '\n'
            current = None
        elif line.startswith(':'):
            if _OURS.match(line[1:]):
                dirty = True
            else:
                lines.append(line)
        elif line.startswith('-A ') and _rule_is_ours(line):
            dirty = True
        else:
            lines.append(line)
    return tables


class Resetter:
    """One module run on a host."""

    def __init__(self, module) -> None:
        self.module = module
        self.params = module.params
        self.actions: list[str] = []

    def run_ok(self, argv: list, what: str, data: str | None = None) -> str:
        rc, out, err = self.module.run_command(argv, data=data, binary_data=data is not None)
        if rc != 0:
            self.module.fail_json(msg='%s on %s failed (rc %d): %s; the host is partly reset, run the playbook again once fixed'
                                  % (what, self.params['node_name'], rc, (err or out).strip()[-500:]), actions=self.actions, changed=True)
        return out

    def look(self) -> dict:
        found = {'kubeadm': kubeadm_state(), 'files': [p for p in CNI_FILES if os.path.lexists(p)], 'keepalived': keepalived_files(),
                 'cni_state': os.path.isdir(CNI_STATE) and bool(os.listdir(CNI_STATE)), 'bridge': False, 'routes': [], 'iptables': {}}
        ip = self.module.get_bin_path('ip')
        if ip:
            rc, _out, _err = self.module.run_command([ip, 'link', 'show', 'dev', self.params['bridge_name']])
            found['bridge'] = rc == 0
            rc, out, _err = self.module.run_command([ip, '-json', 'route', 'show'])
            if rc == 0 and out.strip():
                found['routes'] = pod_routes(json.loads(out), self.params['pod_subnet'])
        found['iptables'] = self.iptables()
        return found

    def iptables(self) -> dict:
        """{restore command: {table: its input without our chains}} for both backends (kube-proxy's image may use the other one)."""
        found = {}
        for save in SAVE_COMMANDS:
            binary = self.module.get_bin_path(save)
            if not binary:
                continue
            rc, out, _err = self.module.run_command([binary])
            if rc == 0:
                tables = strip_iptables(out)
                if tables:
                    found[save.replace('-save', '-restore')] = tables
        return found

    def run(self) -> dict:
        found = self.look()
        if found['keepalived']:
            # first: the virtual IP moves to another control plane before this API server stops
            self.actions.append("stop and disable keepalived (the API server's virtual IP)")
            self.actions += ['remove %s' % p for p in found['keepalived']]
        if found['kubeadm']:
            self.actions.append('kubeadm reset (found %s)' % ', '.join(found['kubeadm'][:4] + (['...'] if len(found['kubeadm']) > 4 else [])))
        if any(p.endswith(ROUTE_UNIT) for p in found['files']):
            self.actions.append('stop and disable %s' % ROUTE_UNIT)
        self.actions += ['remove %s' % p for p in found['files']]
        self.actions += ['remove route to %s' % r for r in found['routes']]
        if found['bridge']:
            self.actions.append('delete interface %s' % self.params['bridge_name'])
        if found['cni_state']:
            self.actions.append('remove %s (pod address leases)' % CNI_STATE)
        for restore, tables in sorted(found['iptables'].items()):
            self.actions += ['%s: remove the KUBE-*, CNI-* chains and kubeseed rules of table %s' % (restore[:-len('-restore')], t)
                             for t in sorted(tables)]
        result = {'changed': bool(self.actions), 'actions': list(self.actions)}
        if not self.actions:
            result['msg'] = 'nothing of Kubernetes is left on %s' % self.params['node_name']
            return result
        result['msg'] = '%s %s: %s' % ('would reset' if self.module.check_mode else 'reset', self.params['node_name'], '; '.join(self.actions))
        if self.module.check_mode:
            return result
        self.apply(found)
        return result

    def apply(self, found: dict) -> None:
        systemctl = self.module.get_bin_path('systemctl')
        if found['keepalived']:
            if systemctl:
                self.run_ok([systemctl, 'disable', '--now', 'keepalived'], 'systemctl disable --now keepalived')
            for path in found['keepalived']:
                os.unlink(path)
        if found['kubeadm']:
            kubeadm = self.module.get_bin_path('kubeadm')
            if not kubeadm:
                self.module.fail_json(msg='%s has kubeadm files (%s) but no kubeadm binary; install the Kubernetes packages again (site.yml '
                                          '--tags packages) or remove them by hand' % (self.params['node_name'], ', '.join(found['kubeadm'])))
            # the etcd member (of a control plane) is removed from the cluster side first (node_remove), or the whole cluster goes
            self.run_ok([kubeadm, 'reset', '--force', '--cri-socket', CRI_SOCKET, '--skip-phases', 'remove-etcd-member'], 'kubeadm reset')
            # that skipped phase is also where kubeadm empties the stacked etcd's data directory: do it here, as it would
            if os.path.isdir(ETCD_DATA):
                for entry in os.listdir(ETCD_DATA):
                    path = os.path.join(ETCD_DATA, entry)
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path)
                    else:
                        os.unlink(path)
        if systemctl and any(p.endswith(ROUTE_UNIT) for p in found['files']):
            self.module.run_command([systemctl, 'disable', '--now', ROUTE_UNIT])
        for path in found['files']:
            if os.path.lexists(path):
                os.unlink(path)
        if systemctl and found['files']:
            self.module.run_command([systemctl, 'daemon-reload'])
        ip = self.module.get_bin_path('ip')
        for route in found['routes']:
            self.run_ok([ip, 'route', 'del', route], 'ip route del %s' % route)
        if found['bridge']:
            self.run_ok([ip, 'link', 'delete', 'dev', self.params['bridge_name']], 'ip link delete %s' % self.params['bridge_name'])
        if found['cni_state']:
            shutil.rmtree(CNI_STATE)
        # read again: kubeadm reset stopped kube-proxy, and another program may have changed its own rules meanwhile
        for restore, tables in sorted(self.iptables().items()):
            binary = self.module.get_bin_path(restore, required=True)
            for table in sorted(tables):
                # the whole table again, without our chains: atomic, and the rules of other software stay
                self.run_ok([binary, '--table', table], '%s of table %s' % (restore, table), data=tables[table])
