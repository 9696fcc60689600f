# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a node needs from its kernel, compared with what it has now: swap, kernel features, sysctls.

plan() reads the host (the running kernel and the files that persist the settings) and returns every
difference; apply() makes them. Check mode runs plan() only, so it predicts runtime drift (a sysctl changed
by hand, swap turned on again, a module unloaded) as precisely as file changes.
"""
from __future__ import annotations

import os
import re

SWAP_LINE = re.compile(r'^([^#\s]+\s+\S+\s+swap\s+.*)$')
SYSCTL_HEADER = '# Managed by kubeseed (role node)\n'


class Host:
    """The files of the host, under an optional root (tests point it at a directory)."""

    def __init__(self, root: str = '/') -> None:
        self.root = root

    def path(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip('/'))

    def read(self, path: str) -> str | None:
        try:
            with open(self.path(path), encoding='utf-8') as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def exists(self, path: str) -> bool:
        return os.path.exists(self.path(path))


def sysctl_path(key: str) -> str:
    return '/proc/sys/' + key.replace('.', '/')


def sysctl_value(value: object) -> str:
    if isinstance(value, bool):
        return '1' if value else '0'
    return str(value).strip()


def sysctl_file(sysctls: dict) -> str:
    return SYSCTL_HEADER + ''.join('%s = %s\n' % (key, sysctl_value(value)) for key, value in sysctls.items())


def modules_file(modules: dict) -> str:
    return ''.join('%s\n' % name for name in modules)


def fstab_without_swap(text: str) -> str:
    return '\n'.join(SWAP_LINE.sub(r'# \1  (disabled by kubeseed)', line) for line in text.split('\n'))


def feature_present(host: Host, name: str, spec: str, filesystems: list) -> bool:
    """A kernel feature is there when its sign is: a filesystem, a file, or /sys/module/<name> (built in counts)."""
    spec = spec or ''
    if spec.startswith('filesystem:'):
        return spec[len('filesystem:'):] in filesystems
    if spec.startswith('path:'):
        return host.exists(spec[len('path:'):])
    return host.exists('/sys/module/%s' % name)


def plan(host: Host, swap_off: bool, kernel_modules: dict, can_load_modules: bool, modules_load_file: str,
         sysctls: dict, sysctl_conf: str, fstab: str = '/etc/fstab') -> dict:
    """Every difference between the host and the wanted settings.

    Returns {'swap_devices': [...], 'fstab': new text or None, 'modules': [missing], 'missing_builtin': [...],
    'files': {path: (before, after)}, 'sysctls': {key: (now, wanted)}}.
    """
    out: dict = {'swap_devices': [], 'fstab': None, 'modules': [], 'missing_builtin': [], 'files': {}, 'sysctls': {}}
    if swap_off:
        swaps = (host.read('/proc/swaps') or '').splitlines()[1:]
        out['swap_devices'] = [line.split()[0] for line in swaps if line.strip()]
        before = host.read(fstab)
        if before is not None:
            after = fstab_without_swap(before)
            if after != before:
                out['files'][fstab] = (before, after)
    filesystems = [line.split()[-1] for line in (host.read('/proc/filesystems') or '').splitlines() if line.strip()]
    for name, spec in kernel_modules.items():
        if not feature_present(host, name, spec, filesystems):
            (out['modules'] if can_load_modules else out['missing_builtin']).append(name)
    if can_load_modules and kernel_modules:
        wanted = modules_file(kernel_modules)
        before = host.read(modules_load_file)
        if before != wanted:
            out['files'][modules_load_file] = (before, wanted)
    wanted = sysctl_file(sysctls)
    before = host.read(sysctl_conf)
    if before != wanted:
        out['files'][sysctl_conf] = (before, wanted)
    for key, value in sysctls.items():
        now = host.read(sysctl_path(key))
        now = None if now is None else now.strip()
        if now != sysctl_value(value):
            out['sysctls'][key] = (now, sysctl_value(value))
    return out


def describe(planned: dict) -> list:
    """One line per change, for the result and the check-mode report."""
    lines = []
    if planned['swap_devices']:
        lines.append('swap: turn off %s' % ', '.join(planned['swap_devices']))
    lines += ['kernel module %s: load' % name for name in planned['modules']]
    lines += ['file %s: %s' % (path, 'create' if before is None else 'update') for path, (before, _after) in sorted(planned['files'].items())]
    for key, (now, wanted) in sorted(planned['sysctls'].items()):
        lines.append('sysctl %s: %s -> %s' % (key, 'missing' if now is None else now, wanted))
    return lines


def diffs(planned: dict) -> list:
    """Ansible diff entries: each file, and the running values (sysctls, swap) as one pseudo-file."""
    out = [{'before_header': path, 'after_header': path, 'before': before or '', 'after': after}
           for path, (before, after) in sorted(planned['files'].items())]
    runtime_before = ''.join('%s = %s\n' % (k, 'missing' if now is None else now) for k, (now, _w) in sorted(planned['sysctls'].items()))
    runtime_after = ''.join('%s = %s\n' % (k, wanted) for k, (_n, wanted) in sorted(planned['sysctls'].items()))
    if planned['swap_devices']:
        runtime_before += 'swap = %s\n' % ', '.join(planned['swap_devices'])
        runtime_after += 'swap = off\n'
    if runtime_before or runtime_after:
        out.append({'before_header': '(running kernel)', 'after_header': '(running kernel)', 'before': runtime_before, 'after': runtime_after})
    return out
