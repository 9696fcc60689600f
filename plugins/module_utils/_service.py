# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A systemd service converged in one call (module service): daemon-reload when systemd asks for it, enabled, started,
restarted when a configuration file is newer than the running process. Pure planning here; systemctl behind `run`."""
from __future__ import annotations

import glob
import os
import re
import time

PROPERTIES = ('LoadState', 'UnitFileState', 'ActiveState', 'SubState', 'ActiveEnterTimestampMonotonic', 'NeedDaemonReload',
              'MainPID', 'ExecStart')
# Where unit files and drop-ins live: one this call rewrote is read by systemd before anything else (a new unit file in
# /etc/systemd/system that overrides a package's in /lib is not a change systemd notices by itself: NeedDaemonReload stays no).
UNIT_DIRS = ('/etc/systemd/system/', '/run/systemd/system/', '/lib/systemd/system/', '/usr/lib/systemd/system/')
RUNNING = ('active', 'activating', 'reloading')  # as ansible.builtin.systemd_service counts a running service
ENABLED = ('enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated', 'linked', 'linked-runtime')


class ServiceError(Exception):
    """What went wrong, for the user (no secret ever passes through this module)."""


def parse_show(text: str) -> dict:
    """The KEY=value lines of `systemctl show --property=...`."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        if sep:
            out[key.strip()] = value.strip()
    return out


def started_at(show: dict, clock=time.time, monotonic=time.monotonic) -> float:
    """When the running process started, in unix seconds (0 when not known). systemd gives it on CLOCK_MONOTONIC in every
    version (its unix timestamp format needs systemd 251); this process's two clocks convert it."""
    try:
        micro = int(show.get('ActiveEnterTimestampMonotonic') or 0)
    except ValueError:
        return 0.0
    if micro <= 0:
        return 0.0
    return clock() - monotonic() + micro / 1e6


def _exe(pid: int) -> str:
    try:
        return os.readlink('/proc/%d/exe' % pid)
    except OSError:
        return ''


def stale_executable(show: dict, exe_of=_exe) -> str:
    """Why the running main process is not the program the unit starts ('' when it is, or when it cannot be told): its
    executable was replaced on disk (Linux shows it as '<path> (deleted)') or is another path than ExecStart's (the unit
    file changed to another program, e.g. a package's containerd replaced by the bundle's)."""
    try:
        pid = int(show.get('MainPID') or 0)
    except ValueError:
        return ''
    found = re.search(r'path=(\S+)', show.get('ExecStart') or '')
    if pid <= 0 or not found:
        return ''
    running = exe_of(pid)
    if not running:
        return ''
    if running.endswith(' (deleted)'):
        return 'its program %s was replaced on disk since it started' % running[:-len(' (deleted)')]
    wanted = found.group(1)
    if os.path.realpath(running) != os.path.realpath(wanted):
        return 'it runs %s, the unit starts %s' % (running, wanted)
    return ''


def newest_file(patterns: list) -> tuple:
    """(mtime, path) of the newest regular file matching the glob patterns (** crosses directories); (0, '') for none."""
    best = (0.0, '')
    for pattern in patterns:
        for path in glob.glob(pattern, recursive=True):
            try:
                if os.path.isfile(path):
                    best = max(best, (os.path.getmtime(path), path))
            except OSError:
                continue  # removed while looking
    return best


def plan(name: str, show: dict, *, enabled: bool, started: bool, restart: bool, newest: tuple, process_started: float,
         check_mode: bool, restart_reason: str = 'asked for (a file it runs with was replaced)', stale: str = '') -> list:
    """The actions ('daemon-reload', 'enable', 'start', 'restart') with the reason of each, in the order they run.

    A unit that is not loaded is an error in a real run; in check mode it is the package a run installs first, so the
    prediction is that a run starts it (when started) and enables it.
    """
    if show.get('LoadState') != 'loaded':
        if check_mode:
            wanted = [('enable', 'the unit is not installed yet (a run installs it first)')] if enabled else []
            if started:
                wanted.append(('start', 'the unit is not installed yet (a run installs it first)'))
            return wanted
        raise ServiceError('%s: systemd has no unit %s.service (LoadState %s): is its package installed? This task comes '
                           'after the one that installs it' % (name, name, show.get('LoadState') or 'unknown'))
    state = show.get('UnitFileState', '')
    if enabled and state.startswith('masked'):
        raise ServiceError('%s is masked (systemctl mask): it cannot be enabled or started; run `systemctl unmask %s` on the '
                           'host if it should run' % (name, name))
    actions = []
    if show.get('NeedDaemonReload') == 'yes':
        actions.append(('daemon-reload', 'a unit file or drop-in of %s changed on disk since systemd read it' % name))
    if enabled and state not in ENABLED:
        actions.append(('enable', 'it is %s' % (state or 'not enabled')))
    if not started:
        return actions
    if show.get('ActiveState') not in RUNNING:
        actions.append(('start', 'it is %s (%s)' % (show.get('ActiveState') or 'not running', show.get('SubState') or '?')))
    elif restart:
        actions.append(('restart', restart_reason))
    elif newest[0] > process_started > 0:
        actions.append(('restart', '%s is newer than the running process' % newest[1]))
    elif stale:
        actions.append(('restart', stale))
    return actions


def converge(run, name: str, *, enabled: bool = True, started: bool = True, start_if_exists: str = '', restart: bool = False,
             restart_if_newer: list | None = None, check_mode: bool = False, clock=time.time, monotonic=time.monotonic,
             rewritten: list | None = None, check_replaced: bool = False, exe_of=_exe) -> dict:
    """Plan and (unless check_mode) apply. run(argv) -> (rc, stdout, stderr). ``rewritten``: files of the unit this call
    has just written (in check mode, would write): the running unit is restarted for them. ``check_replaced``: restart a
    process that does not run the unit's program (stale_executable)."""
    show = read(run, name)
    reloaded = []
    units = [path for path in rewritten or [] if path.startswith(UNIT_DIRS)]
    if units and show.get('LoadState') == 'loaded' and show.get('NeedDaemonReload') != 'yes':
        reloaded = [('daemon-reload', '%s rewritten' % ', '.join(units))]
        if not check_mode:
            rc, out, err = run(['systemctl', 'daemon-reload'])
            if rc != 0:
                raise ServiceError('%s: `systemctl daemon-reload` failed (rc %d): %s' % (name, rc, (err or out).strip()[-800:]))
            show = read(run, name)
    if show.get('LoadState') != 'loaded' and not check_mode:
        # a unit file this run has just written may be unknown to systemd until it reads its files again
        reload_rc, _out, _err = run(['systemctl', 'daemon-reload'])
        if reload_rc == 0:
            show = read(run, name)
    waits_for = ''
    if started and start_if_exists and not os.path.exists(start_if_exists):
        started, waits_for = False, start_if_exists
    reason = 'asked for (a file it runs with was replaced)'
    if rewritten and not restart:
        reason = '%s %s rewritten' % (', '.join(rewritten), 'was' if len(rewritten) == 1 else 'were')
    actions = plan(name, show, enabled=enabled, started=started, restart=(restart or bool(rewritten)) and started,
                   newest=newest_file(restart_if_newer or []), process_started=started_at(show, clock, monotonic),
                   check_mode=check_mode, restart_reason=reason,
                   stale=stale_executable(show, exe_of) if check_replaced and show.get('ActiveState') in RUNNING else '')
    before = summary(show)
    if not check_mode:
        for action, _reason in actions:
            argv = ['systemctl', 'daemon-reload'] if action == 'daemon-reload' else ['systemctl', action, name]
            rc, out, err = run(argv)
            if rc != 0:
                detail = (err or out).strip()[-800:]
                raise ServiceError('%s: `%s` failed (rc %d): %s%s' % (name, ' '.join(argv), rc, detail, journal(run, name)))
        if actions:
            show = read(run, name)
            if started and show.get('ActiveState') not in RUNNING:
                raise ServiceError('%s did not stay running after %s: it is %s (%s)%s' % (
                    name, ', '.join(action for action, _reason in actions), show.get('ActiveState'), show.get('SubState'), journal(run, name)))
    actions = reloaded + actions
    after = dict(before)
    for action, _reason in actions:
        if action == 'enable':
            after['enabled'] = 'enabled'
        elif action in ('start', 'restart'):
            after['active'] = 'active (%s)' % ('started' if action == 'start' else 'restarted')
    return {'actions': ['%s: %s' % item for item in actions], 'before': before, 'after': after,
            'waits_for': waits_for}


def state_diff(name: str, result: dict) -> list:
    """A diff entry of the unit's state before and after (none when no action), for a module's diff."""
    if not result['actions']:
        return []
    return [{'before_header': '%s.service' % name, 'after_header': '%s.service' % name,
             'before': ''.join('%s: %s\n' % item for item in sorted(result['before'].items())),
             'after': ''.join('%s: %s\n' % item for item in sorted(result['after'].items()))}]


def read(run, name: str) -> dict:
    rc, out, err = run(['systemctl', 'show', name, '--property=' + ','.join(PROPERTIES)])
    if rc != 0:
        raise ServiceError('%s: `systemctl show` failed (rc %d): %s' % (name, rc, (err or out).strip()[-800:]))
    return parse_show(out)


def summary(show: dict) -> dict:
    return {'loaded': show.get('LoadState', ''), 'enabled': show.get('UnitFileState', ''),
            'active': '%s (%s)' % (show.get('ActiveState', ''), show.get('SubState', ''))}


def journal(run, name: str) -> str:
    """The unit's last log lines, for an error message (empty when the journal cannot be read)."""
    rc, out, _err = run(['journalctl', '--unit', name, '--lines', '15', '--no-pager', '--output', 'cat'])
    return '\nits last log lines:\n' + out.strip()[-2000:] if rc == 0 and out.strip() else ''
