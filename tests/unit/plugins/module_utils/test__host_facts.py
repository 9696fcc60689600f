"""module_utils/_host_facts: the preflight's host facts from os-release and /proc, named and valued as
ansible.builtin.setup gives them (the e2e runs the preflight on Debian 12 lab hosts; these cover the other names)."""
from __future__ import annotations

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _host_facts as facts

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
UBUNTU = 'NAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n'
ROCKY = 'NAME="Rocky Linux"\nVERSION_ID="9.4"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'
MINT = 'NAME="Linux Mint"\nVERSION_ID="21.3"\nID=linuxmint\nID_LIKE="ubuntu debian"\n'


@pytest.mark.parametrize('release, debian_version, expected', [
    (DEBIAN, '12.8\n', ('Debian', '12.8', '12', 'Debian')),
    (DEBIAN, 'trixie/sid\n', ('Debian', '12', '12', 'Debian')),
    (UBUNTU, 'trixie/sid\n', ('Ubuntu', '24.04', '24', 'Debian')),
    (ROCKY, '', ('Rocky', '9.4', '9', 'RedHat')),
    (MINT, '', ('Linux Mint', '21.3', '21', 'Debian')),
    ('', '', ('unknown', '', '', 'unknown')),
])
def test_the_distribution_as_setup_names_it(release, debian_version, expected):
    got = facts.distribution(facts.os_release(release), debian_version)
    assert (got['distribution'], got['distribution_version'], got['distribution_major_version'], got['os_family']) == expected


def test_cpus_and_memory_from_proc():
    files = {'/etc/os-release': DEBIAN, '/etc/debian_version': '12.8\n',
             '/proc/cpuinfo': 'processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nmodel name\t: x\n',
             '/proc/meminfo': 'MemTotal:       24683648 kB\nMemFree:        1 kB\n'}
    got = facts.gather(read=lambda path: files.get(path, ''))
    assert got['processor_vcpus'] == 2 and got['memtotal_mb'] == 24105 and got['distribution'] == 'Debian'
    assert got['architecture']  # platform.machine() of this machine


def test_this_machine_matches_what_its_os_release_says():
    """An independent look: the values against the files read here by other means (Python's platform module)."""
    import platform
    got = facts.gather()
    release = platform.freedesktop_os_release()
    assert got['distribution_major_version'] == release.get('VERSION_ID', '').split('.')[0]
    assert got['architecture'] == platform.uname().machine and got['memtotal_mb'] > 0 and got['processor_vcpus'] >= 1


def test_the_containerd_version_is_read_from_the_bundles_binary_first_then_the_packages():
    calls = []

    def run(outputs):
        def _run(argv):
            calls.append(argv[0])
            return outputs[argv[0]]
        return _run

    bundle = {'/usr/local/bin/containerd': (0, 'containerd github.com/containerd/containerd/v2 v2.4.2 kubeseed\n', '')}
    debian = {'/usr/bin/containerd': (0, 'containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1\n', '')}
    assert facts.containerd_version(run({**bundle, **debian}), exists=lambda path: True) == '2.4.2'
    assert calls == ['/usr/local/bin/containerd']
    assert facts.containerd_version(run(debian), exists=lambda path: path == '/usr/bin/containerd') == '1.6.20'
    assert facts.containerd_version(run(debian), exists=lambda path: False) == ''
    broken = {'/usr/bin/containerd': (127, '', 'cannot execute')}
    assert facts.containerd_version(run(broken), exists=lambda path: path == '/usr/bin/containerd') == 'unknown'


def test_the_distribution_package_version_is_the_installed_one_else_the_candidate():
    def run(out, rc=0):
        return lambda argv: (rc, out, '')
    assert facts.package_version(run('containerd:\n  Installed: (none)\n  Candidate: 1.6.20~ds1-1+b1\n'), 'containerd') == '1.6.20'
    assert facts.package_version(run('containerd:\n  Installed: 1:1.7.28-0ubuntu1\n  Candidate: 1:2.1.3-1\n'),
                                 'containerd') == '1.7.28'
    assert facts.package_version(run('containerd:\n  Installed: (none)\n  Candidate: (none)\n'), 'containerd') == ''
    assert facts.package_version(run('N: Unable to locate package containerd\n', rc=0), 'containerd') == ''
    assert facts.package_version(run('', rc=100), 'containerd') == ''

    def missing(argv):
        raise OSError('apt-cache: not found')
    assert facts.package_version(missing, 'containerd') == ''


@pytest.mark.parametrize('files, paths, expected', [
    # this machine's kind: overlay built in, cgroup v1, systemd
    ({'/proc/filesystems': 'nodev\tsysfs\nnodev\toverlay\n'}, {'/sys/fs/cgroup/memory', '/run/systemd/system'}, []),
    # overlay not loaded yet but a module of the running kernel; cgroup v2
    ({'/proc/filesystems': 'nodev\tsysfs\n', '/lib/modules/6.1.0-28-amd64/modules.dep':
      'kernel/fs/overlayfs/overlay.ko.xz:\nkernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz\n'},
     {'/sys/fs/cgroup/cgroup.controllers', '/run/systemd/system'}, []),
    ({'/proc/filesystems': 'nodev\tsysfs\n'}, {'/sys/fs/cgroup/memory', '/run/systemd/system'}, ['overlayfs']),
    ({'/proc/filesystems': 'nodev\toverlay\n'}, {'/run/systemd/system'}, ['cgroup']),
    ({'/proc/filesystems': 'nodev\toverlay\n'}, {'/sys/fs/cgroup/cgroup.controllers'}, ['systemd']),
    ({}, set(), ['overlayfs', 'cgroup', 'systemd']),
])
def test_what_containerd_needs_from_the_host(files, paths, expected):
    missing = facts.runtime_needs(read=lambda path: files.get(path, ''), exists=lambda path: path in paths,
                                  release=lambda: '6.1.0-28-amd64')
    assert len(missing) == len(expected)
    for sentence, word in zip(missing, expected):
        assert word in sentence


def test_this_machine_has_what_containerd_needs():
    # the machine the tests run on runs containers (the lab hosts): overlayfs and cgroups are there; systemd may not be
    # its init system (a container or a VM without it), so only the first two are asserted
    missing = facts.runtime_needs()
    assert not [sentence for sentence in missing if 'systemd' not in sentence]
