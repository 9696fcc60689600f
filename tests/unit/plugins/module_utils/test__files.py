# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The atomic write and the several-files converge (real files in a temporary directory)."""
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _files


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_atomic_sets_mode_and_keeps_the_old_file_when_verify_refuses(tmp_path):
    path = tmp_path / 'sub' / 'f'
    digest = _files.write_atomic(str(path), [b'a', b'b'], 0o600)
    assert path.read_bytes() == b'ab' and _mode(path) == 0o600 and len(digest) == 64

    def refuse(_sha):
        raise ValueError('no')
    with pytest.raises(ValueError):
        _files.write_atomic(str(path), [b'other'], 0o644, refuse)
    assert path.read_bytes() == b'ab' and os.listdir(path.parent) == ['f']  # no temporary file left


def test_converge_predicts_then_writes_then_reports_nothing(tmp_path):
    conf, script, new_dir = tmp_path / 'etc' / 'a.conf', tmp_path / 'bin' / 'run', tmp_path / 'd'
    script.parent.mkdir()
    script.write_text('old\n')
    os.chmod(script, 0o644)
    files = [{'path': str(conf), 'content': 'x = 1\n', 'mode': '0644'},
             {'path': str(script), 'content': 'old\n', 'mode': '0755'},
             {'path': str(tmp_path / 'secret'), 'content': 'password\n', 'mode': '0600'}]
    dry = _files.converge([str(new_dir)], files, dry_run=True)
    assert dry['changed_paths'] == [str(new_dir), str(conf), str(script), str(tmp_path / 'secret')]
    assert not conf.exists() and not new_dir.exists() and _mode(script) == 0o644
    by_path = {d['after_header']: d for d in dry['diff']}
    assert by_path[str(conf)]['after'] == 'x = 1\n' and by_path[str(script)]['after'] == 'mode 0755\n'
    real = _files.converge([str(new_dir)], files, dry_run=False)
    assert real['changed_paths'] == dry['changed_paths']
    assert conf.read_text() == 'x = 1\n' and _mode(script) == 0o755 and _mode(tmp_path / 'secret') == 0o600 and new_dir.is_dir()
    assert _files.converge([str(new_dir)], files, dry_run=False) == {'changed_paths': [], 'diff': []}
    conf.write_text('x = 2\n')  # drift by hand
    again = _files.converge([], files, dry_run=True)
    assert again['changed_paths'] == [str(conf)] and again['diff'][0]['before'] == 'x = 2\n'


def test_a_file_where_a_directory_belongs_is_refused(tmp_path):
    (tmp_path / 'x').write_text('')
    with pytest.raises(ValueError, match='is not a directory'):
        _files.converge([str(tmp_path / 'x')], [], dry_run=True)


def test_a_mode_only_change_is_a_chmod_and_a_replaced_file_keeps_its_owner(tmp_path):
    path = tmp_path / 'conf'
    path.write_text('same\n')
    os.chmod(path, 0o600)
    os.utime(path, (1000, 1000))
    result = _files.converge([], [{'path': str(path), 'content': 'same\n', 'mode': '0644'}], dry_run=False)
    assert result['changed_paths'] == [str(path)] and result['diff'][0]['after'] == 'mode 0644\n'
    assert _mode(path) == 0o644 and os.stat(path).st_mtime == 1000  # not rewritten: containerd's restart check reads mtimes
    os.chown(path, 1234, 5678)
    _files.converge([], [{'path': str(path), 'content': 'new\n', 'mode': '0644'}], dry_run=False)
    assert path.read_text() == 'new\n' and (os.stat(path).st_uid, os.stat(path).st_gid) == (1234, 5678)


def test_directories_get_0755_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        _files.converge([str(tmp_path / 'a' / 'b')], [], dry_run=False)
    finally:
        os.umask(old)
    assert _mode(tmp_path / 'a' / 'b') == 0o755


def test_a_directory_is_created_with_the_mode_asked_for_and_an_existing_one_keeps_its_own(tmp_path):
    new, old = tmp_path / 'kube', tmp_path / 'old'
    old.mkdir(mode=0o755)
    os.chmod(old, 0o755)
    result = _files.converge([str(new), str(old)], [{'path': str(new / 'config'), 'content': 'x', 'mode': '0600'}], False,
                             directory_mode=0o700)
    assert result['changed_paths'] == [str(new), str(new / 'config')]
    assert (new.stat().st_mode & 0o777, old.stat().st_mode & 0o777, (new / 'config').stat().st_mode & 0o777) == (0o700, 0o755, 0o600)


def test_mode_problems_name_the_option_and_the_fix():
    assert _files.mode_problems([{'mode': '0644'}, {'mode': 420}, {'mode': '0o644'}]) == [
        "files[1].mode: 420 is not an octal mode as a string; quote it, e.g. '0644' (YAML reads an unquoted 0644 as the number 420)",
        "files[2].mode: '0o644' is not an octal mode as a string; quote it, e.g. '0644' (YAML reads an unquoted 0644 as the number 420)"]
    assert _files.mode_problem('0700', 'directory_mode') == '' and _files.mode_problem(448, 'directory_mode').startswith('directory_mode: 448')


def test_hidden_lines_never_reach_the_diff_old_or_new(tmp_path):
    """A hosts.toml that had credentials (an Authorization header) rewritten without them: the diff shows the change, and
    the old header only as a mark."""
    path = tmp_path / 'hosts.toml'
    path.write_text('server = "https://r"\n\n[header]\n  Authorization = "Basic c2VjcmV0"\n')
    files = [{'path': str(path), 'content': 'server = "https://r"\n', 'mode': '0644', 'hidden_lines': r'^\s*Authorization\s*='}]
    diff = _files.converge([], files, dry_run=True)['diff'][0]
    assert diff['before'] == 'server = "https://r"\n\n[header]\n<a line hidden (hidden_lines)>\n' and diff['after'] == 'server = "https://r"\n'
    assert 'c2VjcmV0' not in repr(diff)
    files[0]['hidden_lines'] = ''
    assert 'c2VjcmV0' in _files.converge([], files, dry_run=True)['diff'][0]['before']  # the option is what hides it


def test_a_hidden_lines_pattern_that_does_not_compile_is_named():
    problems = _files.mode_problems([{'path': '/x', 'content': '', 'mode': '0644', 'hidden_lines': '('}])
    assert len(problems) == 1 and problems[0].startswith('files[0].hidden_lines: not a regular expression')
