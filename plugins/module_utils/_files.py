# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files on a host: the one atomic write of the collection, and converging several files and directories in one call.

An atomic write goes to a temporary file in the destination's directory, gets its mode, then is renamed over the
destination, so a reader (containerd, systemd, the kubelet) never sees half a file and an interrupted run leaves the old
one. converge() compares content and mode first: nothing is written when both match.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile

# The options `directories` and `files` of the modules that write a component's files (files, service, cni_bridge);
# documented by the doc fragment kubeseed.cluster.files.
ARG_SPEC = {
    'directories': {'type': 'list', 'elements': 'path', 'default': []},
    'files': {'type': 'list', 'elements': 'dict', 'default': [], 'options': {
        'path': {'type': 'path', 'required': True},
        'content': {'type': 'str', 'required': True},
        'mode': {'type': 'raw', 'default': '0644'},
        'hidden_lines': {'type': 'str', 'default': ''},
    }},
}


def mode_problem(value, where: str) -> str:
    """Empty when value is an octal mode written as a string, else the problem with its option path and the fix."""
    if isinstance(value, str) and re.fullmatch(r'0?[0-7]{3}', value):
        return ''
    return "%s: %r is not an octal mode as a string; quote it, e.g. '0644' (YAML reads an unquoted 0644 as the number 420)" % (where, value)


def mode_problems(files: list) -> list:
    """The `mode` values of files that are not an octal mode written as a string, and the `hidden_lines` that are not a
    regular expression, each with its option path and the fix."""
    problems = [problem for problem in (mode_problem(spec.get('mode'), 'files[%d].mode' % index) for index, spec in enumerate(files)) if problem]
    for index, spec in enumerate(files):
        try:
            re.compile(spec.get('hidden_lines') or '')
        except re.error as exc:
            problems.append('files[%d].hidden_lines: not a regular expression (%s); give a Python re pattern, e.g. ^\\s*Authorization' % (index, exc))
    return problems


def write_atomic(path: str, chunks, mode: int, verify=None, owner=None) -> str:
    """Write the byte chunks to path atomically with mode (and owner: (uid, gid)); return their sha256 (hex).

    verify(sha256 hex) runs before the rename and may raise to refuse the content (the old file stays).
    """
    directory = os.path.dirname(path) or '.'
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.kubeseed-')
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, 'wb') as handle:
            for chunk in chunks:
                digest.update(chunk)
                handle.write(chunk)
        if verify is not None:
            verify(digest.hexdigest())
        os.chmod(tmp, mode)
        if owner is not None:
            os.chown(tmp, owner[0], owner[1])
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return digest.hexdigest()


def _read(path: str) -> tuple:
    """(content bytes or None when absent, mode bits or None)."""
    try:
        with open(path, 'rb') as handle:
            return handle.read(), stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None, None


def _text(data: bytes | None) -> str:
    if data is None:
        return ''
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        return '<%d bytes, not text>\n' % len(data)


def _hide(text: str, hidden) -> str:
    """The lines of text that the pattern hidden finds something in, replaced by a mark (their content never shown)."""
    if hidden is None:
        return text
    return ''.join('<a line hidden (hidden_lines)>\n' if hidden.search(line) else line for line in text.splitlines(True))


def converge(directories: list, files: list, dry_run: bool, directory_mode: int = 0o755) -> dict:
    """Make directories (``directory_mode`` when created; an existing one is left as it is) and files ({path, content, mode as an octal string}) as given.

    Returns {'changed_paths': [...], 'diff': [{before_header, after_header, before, after} per changed path]}; in dry run
    nothing is written and the answer is what a run would change. A file whose content is right but whose mode is not is
    only chmod-ed (its mtime, which e.g. containerd's restart check reads, stays); a replaced file keeps its owner and group.
    """
    changed, diff = [], []
    for path in directories:
        if os.path.isdir(path):
            continue
        if os.path.exists(path):
            raise ValueError('%s exists and is not a directory; remove it or choose another path' % path)
        changed.append(path)
        diff.append({'before_header': path, 'after_header': path, 'before': '(absent)\n', 'after': '(directory)\n'})
        if not dry_run:
            os.makedirs(path, mode=directory_mode, exist_ok=True)
            os.chmod(path, directory_mode)  # makedirs' mode is narrowed by the umask
    for spec in files:
        path, content, mode = spec['path'], spec['content'].encode('utf-8'), int(spec.get('mode') or '0644', 8)
        before, before_mode = _read(path)
        if before == content and before_mode == mode:
            continue
        changed.append(path)
        if before == content:
            diff.append({'before_header': path, 'after_header': path, 'before': 'mode %04o\n' % before_mode, 'after': 'mode %04o\n' % mode})
            if not dry_run:
                os.chmod(path, mode)
            continue
        hidden = re.compile(spec['hidden_lines']) if spec.get('hidden_lines') else None
        diff.append({'before_header': path, 'after_header': path, 'before': _hide(_text(before), hidden),
                     'after': _hide(_text(content), hidden)})
        if not dry_run:
            owner = os.stat(path) if before is not None else None
            write_atomic(path, [content], mode, owner=(owner.st_uid, owner.st_gid) if owner else None)
    return {'changed_paths': changed, 'diff': diff}
