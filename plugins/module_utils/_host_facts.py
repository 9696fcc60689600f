# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The few host facts the preflight checks read (operating system, architecture, CPUs, memory), named and valued as
ansible.builtin.setup names them, read from /etc/os-release and /proc in the module call that checks the node anyway:
a no-op re-run then needs no fact gathering."""
from __future__ import annotations

import os
import platform
import re

# os-release ID -> the distribution name ansible.builtin.setup gives, and its os_family
DISTRIBUTIONS = {'debian': 'Debian', 'ubuntu': 'Ubuntu', 'rhel': 'RedHat', 'rocky': 'Rocky', 'almalinux': 'AlmaLinux',
                 'centos': 'CentOS', 'fedora': 'Fedora', 'ol': 'OracleLinux', 'amzn': 'Amazon', 'sles': 'SLES',
                 'opensuse-leap': 'openSUSE Leap'}
FAMILIES = {'Debian': 'Debian', 'Ubuntu': 'Debian', 'RedHat': 'RedHat', 'Rocky': 'RedHat', 'AlmaLinux': 'RedHat', 'CentOS': 'RedHat',
            'Fedora': 'RedHat', 'OracleLinux': 'RedHat', 'Amazon': 'RedHat', 'SLES': 'Suse', 'openSUSE Leap': 'Suse'}


def os_release(text: str) -> dict:
    """KEY=value lines of /etc/os-release, quotes removed."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition('=')
        if sep and key and not key.startswith('#'):
            out[key] = value.strip().strip('"\'')
    return out


def distribution(release: dict, debian_version: str = '') -> dict:
    """distribution, distribution_version, distribution_major_version and os_family from os-release (and, on Debian, the
    point release in /etc/debian_version)."""
    ident = release.get('ID', '').lower()
    name = DISTRIBUTIONS.get(ident) or release.get('NAME') or ident or 'unknown'
    version = release.get('VERSION_ID', '')
    if name == 'Debian' and debian_version.strip()[:1].isdigit():
        version = debian_version.strip()
    like = release.get('ID_LIKE', '').lower().split()
    family = FAMILIES.get(name) or ('Debian' if 'debian' in like else 'RedHat' if {'rhel', 'fedora'} & set(like) else name)
    return {'distribution': name, 'distribution_version': version, 'distribution_major_version': version.split('.')[0],
            'os_family': family}


def _read(path: str) -> str:
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            return handle.read()
    except OSError:
        return ''


def gather(read=_read) -> dict:
    """The facts of this host."""
    release = os_release(read('/etc/os-release') or read('/usr/lib/os-release'))
    facts = distribution(release, read('/etc/debian_version'))
    cpus = sum(1 for line in read('/proc/cpuinfo').splitlines() if line.split(':')[0].strip() == 'processor')
    memory = next((int(line.split()[1]) // 1024 for line in read('/proc/meminfo').splitlines() if line.startswith('MemTotal:')), 0)
    facts.update({'architecture': platform.machine(), 'processor_vcpus': cpus or os.cpu_count() or 0, 'memtotal_mb': memory})
    return facts


# Where the containerd a node runs is: the offline bundle's (role containerd) first, then a distribution package's.
CONTAINERD_BINARIES = ('/usr/local/bin/containerd', '/usr/bin/containerd')


def containerd_version(run, exists=os.path.exists) -> str:
    """The version (major.minor.patch) of the containerd this host would run, '' when none is installed.

    run(argv) -> (rc, stdout, stderr). ``containerd --version`` prints e.g. ``containerd github.com/containerd/containerd/v2
    v2.4.2 <revision>`` (Debian: ``... 1.6.20~ds1 1.6.20~ds1-1+b1``)."""
    for path in CONTAINERD_BINARIES:
        if exists(path):
            rc, out, _err = run([path, '--version'])
            found = re.search(r' v?([0-9]+\.[0-9]+\.[0-9]+)', out) if rc == 0 else None
            return found.group(1) if found else 'unknown'
    return ''


def package_version(run, package: str) -> str:
    """The upstream version (major.minor.patch) of the distribution's ``package``: the installed one, else the one the
    package manager would install; '' when neither is known (no apt-cache, an unknown package, another package manager).

    ``apt-cache policy containerd`` prints e.g. ``Installed: (none)`` and ``Candidate: 1.6.20~ds1-1+b1`` (an epoch
    ``1:`` may come first)."""
    try:
        rc, out, _err = run(['apt-cache', 'policy', package])
    except OSError:
        return ''
    if rc != 0:
        return ''
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.strip().partition(':')
        if sep and key in ('Installed', 'Candidate'):
            fields[key] = value.strip()
    for key in ('Installed', 'Candidate'):
        found = re.match(r'(?:[0-9]+:)?([0-9]+\.[0-9]+\.[0-9]+)', fields.get(key, ''))
        if found:
            return found.group(1)
    return ''


def runtime_needs(read=_read, exists=os.path.exists, release=platform.release) -> list:
    """What containerd 2.x needs from a host and this host lacks, one sentence each (none: an empty list): overlayfs
    (its snapshotter; loaded or a module of the running kernel), a cgroup hierarchy (v1 or v2) and systemd as the
    init system (its unit)."""
    missing = []
    filesystems = [line.split()[-1] for line in read('/proc/filesystems').splitlines() if line.strip()]
    # not loaded yet on a bare host is fine when the kernel has it as a module (the node role loads it)
    modules = '/lib/modules/%s/' % release()
    if 'overlay' not in filesystems and not any(
            re.search(r'(^|/)overlay\.ko', read(modules + name), re.M) for name in ('modules.dep', 'modules.builtin')):
        missing.append('the kernel has no overlayfs (not in /proc/filesystems, no overlay module in %s): containerd\'s '
                       'overlayfs snapshotter needs it; use a kernel with overlayfs' % modules)
    if not (exists('/sys/fs/cgroup/cgroup.controllers') or exists('/sys/fs/cgroup/memory')
            or exists('/sys/fs/cgroup/cpu,cpuacct') or exists('/sys/fs/cgroup/cpu')):
        missing.append('no cgroup hierarchy is mounted under /sys/fs/cgroup (neither v2 nor the v1 controllers): '
                       'containers need cgroups')
    if not exists('/run/systemd/system'):
        missing.append('systemd is not the init system (/run/systemd/system is missing): the containerd and kubelet '
                       'units need it')
    return missing
