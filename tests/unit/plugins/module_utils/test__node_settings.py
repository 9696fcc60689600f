# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's swap, kernel features and sysctls compared with what Kubernetes needs (a fake root directory)."""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils import _node_settings as ops

MODULES = {'overlay': 'filesystem:overlay', 'br_netfilter': 'path:/proc/sys/net/bridge/bridge-nf-call-iptables'}
SYSCTLS = {'net.ipv4.ip_forward': 1, 'net.bridge.bridge-nf-call-iptables': 1}


def _host(tmp_path, files):
    for path, content in files.items():
        target = tmp_path / path.lstrip('/')
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding='utf-8')
    return ops.Host(str(tmp_path))


CONVERGED = {
    '/proc/swaps': 'Filename\tType\tSize\tUsed\tPriority\n',
    '/proc/filesystems': 'nodev\tsysfs\n\text4\nnodev\toverlay\n',
    '/proc/sys/net/bridge/bridge-nf-call-iptables': '1\n',
    '/proc/sys/net/ipv4/ip_forward': '1\n',
    '/etc/fstab': 'UUID=1 / ext4 defaults 0 1\n# /dev/vda2 none swap sw 0 0  (disabled by kubeseed)\n',
    '/etc/modules-load.d/kubeseed.conf': 'overlay\nbr_netfilter\n',
    '/etc/sysctl.d/99-kubeseed.conf': '# Managed by kubeseed (role node)\nnet.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\n',
}


def _plan(host, can_load=True):
    return ops.plan(host, True, MODULES, can_load, '/etc/modules-load.d/kubeseed.conf', SYSCTLS, '/etc/sysctl.d/99-kubeseed.conf')


def test_a_converged_node_has_no_difference(tmp_path):
    assert ops.describe(_plan(_host(tmp_path, CONVERGED))) == []


def test_runtime_drift_is_seen_not_only_file_changes(tmp_path):
    files = dict(CONVERGED)
    files['/proc/sys/net/ipv4/ip_forward'] = '0\n'        # set by hand: sysctl -w net.ipv4.ip_forward=0
    files['/proc/swaps'] += '/dev/vda2 partition\t1048572\t0\t-2\n'   # swapon -a
    planned = _plan(_host(tmp_path, files))
    assert ops.describe(planned) == ['swap: turn off /dev/vda2', 'sysctl net.ipv4.ip_forward: 0 -> 1']
    runtime = ops.diffs(planned)[-1]
    assert runtime['before'] == 'net.ipv4.ip_forward = 0\nswap = /dev/vda2\n' and runtime['after'] == 'net.ipv4.ip_forward = 1\nswap = off\n'


def test_bare_host_needs_everything(tmp_path):
    files = {'/proc/swaps': CONVERGED['/proc/swaps'], '/proc/filesystems': 'nodev\tsysfs\n', '/proc/sys/net/ipv4/ip_forward': '0\n',
             '/etc/fstab': 'UUID=1 / ext4 defaults 0 1\n/dev/vda2 none swap sw 0 0\n'}
    planned = _plan(_host(tmp_path, files))
    assert planned['modules'] == ['overlay', 'br_netfilter']
    assert planned['files']['/etc/fstab'][1] == CONVERGED['/etc/fstab']
    assert sorted(planned['files']) == ['/etc/fstab', '/etc/modules-load.d/kubeseed.conf', '/etc/sysctl.d/99-kubeseed.conf']
    assert planned['sysctls'] == {'net.ipv4.ip_forward': ('0', '1'), 'net.bridge.bridge-nf-call-iptables': (None, '1')}


def test_a_kernel_that_cannot_load_modules_needs_them_built_in(tmp_path):
    files = dict(CONVERGED)
    del files['/proc/sys/net/bridge/bridge-nf-call-iptables']
    planned = _plan(_host(tmp_path, files), can_load=False)
    assert planned['missing_builtin'] == ['br_netfilter'] and planned['modules'] == []
    assert '/etc/modules-load.d/kubeseed.conf' not in planned['files']


def test_the_files_are_byte_identical_to_what_earlier_releases_wrote(tmp_path):
    # nodes provisioned before this module must not see a change
    assert ops.sysctl_file(SYSCTLS) == CONVERGED['/etc/sysctl.d/99-kubeseed.conf']
    assert ops.modules_file(MODULES) == CONVERGED['/etc/modules-load.d/kubeseed.conf']
