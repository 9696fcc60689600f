"""module_utils/_service: what a systemd service needs (daemon-reload, enable, start, restart), planned from systemctl's
answer and the files' age, then run. systemctl is faked here; the e2e (tests/e2e/test_cluster.py) stops containerd and
the kubelet on lab hosts and edits a drop-in, and checks the prediction, the healing run and the next run's changed=0."""
from __future__ import annotations

import os

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _service as service

RUNNING = {'LoadState': 'loaded', 'UnitFileState': 'enabled', 'ActiveState': 'active', 'SubState': 'running',
           'ActiveEnterTimestampMonotonic': '5000000000', 'NeedDaemonReload': 'no'}  # started 5000 s after boot


class FakeSystemd:
    """systemctl show/daemon-reload/enable/start/restart on one unit's properties; journalctl prints a line."""

    def __init__(self, props: dict, fail: str = '', start_fails: bool = False) -> None:
        self.props, self.fail, self.start_fails, self.calls = dict(props), fail, start_fails, []

    def __call__(self, argv: list) -> tuple:
        self.calls.append(' '.join(argv[:3]))
        if argv[0] == 'journalctl':
            return 0, 'containerd: failed to load plugin\n', ''
        verb = argv[1]
        if verb == self.fail:
            return 1, '', 'Failed to %s unit: Access denied' % verb
        if verb == 'show':
            assert argv[3].startswith('--property=') and 'ActiveEnterTimestampMonotonic' in argv[3]
            return 0, ''.join('%s=%s\n' % item for item in self.props.items()), ''
        if verb == 'daemon-reload':
            self.props['NeedDaemonReload'] = 'no'
            if self.props.get('LoadState') == 'not-found-until-reload':
                self.props['LoadState'] = 'loaded'
        elif verb == 'enable':
            self.props['UnitFileState'] = 'enabled'
        elif verb in ('start', 'restart'):
            self.props['ActiveState'], self.props['SubState'] = ('failed', 'failed') if self.start_fails else ('active', 'running')
            self.props['ActiveEnterTimestampMonotonic'] = '9000000000'
        return 0, '', ''


def converge(fake, **kwargs):
    # this process's clocks: unix 1_000_000 s now, 6000 s after boot, so the unit (5000 s after boot) started at unix 999_000
    return service.converge(fake, 'containerd', clock=lambda: 1_000_000.0, monotonic=lambda: 6000.0, **kwargs)


def test_a_running_enabled_unit_with_older_files_needs_nothing(tmp_path):
    config = tmp_path / 'config.toml'
    config.write_text('x')
    os.utime(config, (998_000, 998_000))
    fake = FakeSystemd(RUNNING)
    result = converge(fake, restart_if_newer=[str(tmp_path / '**' / '*.toml')])
    assert result['actions'] == [] and fake.calls == ['systemctl show containerd']


def test_a_file_newer_than_the_process_restarts_it_and_names_the_file(tmp_path):
    (tmp_path / 'certs.d' / 'mirror').mkdir(parents=True)
    older, newer = tmp_path / 'config.toml', tmp_path / 'certs.d' / 'mirror' / 'hosts.toml'
    for path, stamp in ((older, 998_000), (newer, 999_500)):
        path.write_text('x')
        os.utime(path, (stamp, stamp))
    fake = FakeSystemd(RUNNING)
    result = converge(fake, restart_if_newer=[str(tmp_path / '**' / '*.toml')])
    assert result['actions'] == ['restart: %s is newer than the running process' % newer]
    assert fake.calls == ['systemctl show containerd', 'systemctl restart containerd', 'systemctl show containerd']
    assert result['after']['active'] == 'active (restarted)' and result['before']['active'] == 'active (running)'


def test_check_mode_predicts_the_same_and_runs_nothing(tmp_path):
    newer = tmp_path / 'config.toml'
    newer.write_text('x')
    os.utime(newer, (999_500, 999_500))
    fake = FakeSystemd(dict(RUNNING, UnitFileState='disabled', NeedDaemonReload='yes'))
    result = converge(fake, restart_if_newer=[str(newer)], check_mode=True)
    assert [a.split(':')[0] for a in result['actions']] == ['daemon-reload', 'enable', 'restart']
    assert fake.calls == ['systemctl show containerd']


@pytest.mark.parametrize('state, action', [('inactive', 'start'), ('failed', 'start'), ('activating', None), ('active', None)])
def test_a_stopped_unit_is_started_and_a_start_is_not_followed_by_a_restart(tmp_path, state, action):
    newer = tmp_path / 'config.toml'
    newer.write_text('x')  # mtime now: newer than any process, but a stopped unit is started (and reads it)
    fake = FakeSystemd(dict(RUNNING, ActiveState=state, SubState='dead', ActiveEnterTimestampMonotonic='0'))
    result = converge(fake, restart_if_newer=[str(newer)])
    assert [a.split(':')[0] for a in result['actions']] == ([action] if action else [])


def test_restart_asked_for_restarts_a_running_unit_only():
    assert converge(FakeSystemd(RUNNING), restart=True)['actions'] == ['restart: asked for (a file it runs with was replaced)']
    stopped = converge(FakeSystemd(dict(RUNNING, ActiveState='inactive', SubState='dead')), restart=True)
    assert [a.split(':')[0] for a in stopped['actions']] == ['start']


def test_start_if_exists_only_enables_until_the_path_is_there(tmp_path):
    conf = tmp_path / 'kubelet.conf'
    fake = FakeSystemd(dict(RUNNING, UnitFileState='disabled', ActiveState='inactive', SubState='dead'))
    result = converge(fake, start_if_exists=str(conf), restart=True)
    assert [a.split(':')[0] for a in result['actions']] == ['enable'] and result['waits_for'] == str(conf)
    conf.write_text('x')
    assert [a.split(':')[0] for a in converge(FakeSystemd(dict(RUNNING, ActiveState='inactive')), start_if_exists=str(conf))['actions']] \
        == ['start']


def test_a_unit_that_is_not_installed_fails_a_run_but_is_predicted_in_check_mode():
    missing = dict(RUNNING, LoadState='not-found', UnitFileState='', ActiveState='inactive')
    with pytest.raises(service.ServiceError, match='no unit containerd.service .*is its package installed'):
        converge(FakeSystemd(missing))
    predicted = converge(FakeSystemd(missing), check_mode=True)
    assert [a.split(':')[0] for a in predicted['actions']] == ['enable', 'start']
    assert 'not installed yet' in predicted['actions'][1]


def test_a_unit_file_written_in_this_run_is_found_after_a_daemon_reload():
    fake = FakeSystemd(dict(RUNNING, LoadState='not-found-until-reload', UnitFileState='disabled', ActiveState='inactive'))
    result = converge(fake)
    assert [a.split(':')[0] for a in result['actions']] == ['enable', 'start']
    assert fake.calls[:3] == ['systemctl show containerd', 'systemctl daemon-reload', 'systemctl show containerd']


def test_a_masked_unit_is_refused_with_the_command_that_unmasks_it():
    with pytest.raises(service.ServiceError, match='systemctl unmask containerd'):
        converge(FakeSystemd(dict(RUNNING, UnitFileState='masked')))


def test_a_failing_systemctl_and_a_unit_that_does_not_stay_up_fail_with_its_log():
    with pytest.raises(service.ServiceError, match=r'`systemctl start containerd` failed \(rc 1\): Failed to start unit: Access denied'):
        converge(FakeSystemd(dict(RUNNING, ActiveState='inactive'), fail='start'))
    with pytest.raises(service.ServiceError, match='did not stay running after start: it is failed') as error:
        converge(FakeSystemd(dict(RUNNING, ActiveState='inactive'), start_fails=True))
    assert 'its last log lines:\ncontainerd: failed to load plugin' in str(error.value)


def test_the_start_time_comes_from_the_monotonic_clock():
    assert service.started_at({'ActiveEnterTimestampMonotonic': '5000000000'}, lambda: 1_000_000.0, lambda: 6000.0) == 999_000.0
    assert service.started_at({'ActiveEnterTimestampMonotonic': '0'}) == 0.0
    assert service.started_at({'ActiveEnterTimestampMonotonic': 'n/a'}) == 0.0
    assert service.parse_show('LoadState=loaded\nActiveState=active\nnoise\n') == {'LoadState': 'loaded', 'ActiveState': 'active'}


def test_files_rewritten_by_the_same_call_restart_a_running_unit_and_are_named():
    result = converge(FakeSystemd(RUNNING), rewritten=['/etc/containerd/config.toml'])
    assert result['actions'] == ['restart: /etc/containerd/config.toml was rewritten']
    stopped = converge(FakeSystemd(dict(RUNNING, ActiveState='inactive', SubState='dead')), rewritten=['/a', '/b'])
    assert [a.split(':')[0] for a in stopped['actions']] == ['start']  # a start reads them anyway
    waiting = converge(FakeSystemd(dict(RUNNING, ActiveState='inactive')), rewritten=['/a'], start_if_exists='/nonexistent/kubelet.conf')
    assert waiting['actions'] == []  # not started before the path exists, so not restarted either


class ReloadingSystemd(FakeSystemd):
    """A package's unit is loaded (ExecStart /usr/bin/containerd); daemon-reload reads the new unit file in /etc."""

    def __call__(self, argv: list) -> tuple:
        if argv[:2] == ['systemctl', 'daemon-reload']:
            self.props['ExecStart'] = '{ path=/usr/local/bin/containerd ; argv[]=/usr/local/bin/containerd ; ignore_errors=no }'
        return super().__call__(argv)


def test_a_rewritten_unit_file_is_read_before_the_restart_even_when_systemd_does_not_ask_for_a_reload():
    props = dict(RUNNING, MainPID='496', ExecStart='{ path=/usr/bin/containerd ; argv[]=/usr/bin/containerd ; ignore_errors=no }')
    fake = ReloadingSystemd(props)
    result = converge(fake, rewritten=['/etc/systemd/system/containerd.service'], exe_of=lambda pid: '/usr/bin/containerd')
    assert fake.calls == ['systemctl show containerd', 'systemctl daemon-reload', 'systemctl show containerd',
                          'systemctl restart containerd', 'systemctl show containerd']
    assert result['actions'][0] == 'daemon-reload: /etc/systemd/system/containerd.service rewritten'
    assert result['actions'][1].startswith('restart: ')
    # check mode predicts both and runs neither
    predicted = ReloadingSystemd(props)
    result = converge(predicted, rewritten=['/etc/systemd/system/containerd.service'], check_mode=True,
                      exe_of=lambda pid: '/usr/bin/containerd')
    assert [a.split(':')[0] for a in result['actions']] == ['daemon-reload', 'restart'] and predicted.calls == ['systemctl show containerd']


@pytest.mark.parametrize('running, reason', [
    ('/usr/bin/containerd', 'it runs /usr/bin/containerd, the unit starts /usr/local/bin/containerd'),
    ('/usr/local/bin/containerd (deleted)', 'its program /usr/local/bin/containerd was replaced on disk since it started'),
    ('/usr/local/bin/containerd', ''),
    ('', ''),
])
def test_a_process_that_does_not_run_the_units_program_is_restarted(running, reason):
    props = dict(RUNNING, MainPID='1658', ExecStart='{ path=/usr/local/bin/containerd ; argv[]=/usr/local/bin/containerd }')
    assert service.stale_executable(props, lambda pid: running) == reason
    fake = FakeSystemd(props)
    result = converge(fake, check_replaced=True, exe_of=lambda pid: running)
    assert result['actions'] == (['restart: %s' % reason] if reason else [])
    # only when asked (the kubelet's binary is replaced by an upgrade, which restarts it itself after kubeadm)
    assert converge(FakeSystemd(props), exe_of=lambda pid: running)['actions'] == []
    assert service.stale_executable(dict(props, MainPID='0'), lambda pid: '/usr/bin/containerd') == ''
