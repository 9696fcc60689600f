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
import stat
import tempfile


def write_atomic(path: str, chunks, mode: int, verify=None) -> str:
    """Write the byte chunks to path atomically with mode; return their sha256 (hex).

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


def converge(directories: list, files: list, dry_run: bool) -> dict:
    """Make directories (0755) and files ({path, content, mode as an octal string, hide_content}) as given.

    Returns {'changed_paths': [...], 'diff': [{before_header, after_header, before, after} per changed path]}; in dry run
    nothing is written and the answer is what a run would change. A file with hide_content shows no content in its diff.
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
            os.makedirs(path, mode=0o755, exist_ok=True)
    for spec in files:
        path, content, mode = spec['path'], spec['content'].encode('utf-8'), int(spec.get('mode') or '0644', 8)
        before, before_mode = _read(path)
        if before == content and before_mode == mode:
            continue
        changed.append(path)
        if spec.get('hide_content'):
            texts = ('(content hidden)\n' if before is not None else '', '(content hidden)\n')
        else:
            texts = (_text(before), _text(content))
        if before is not None and before == content:
            texts = ('mode %04o\n' % before_mode, 'mode %04o\n' % mode)
        diff.append({'before_header': path, 'after_header': path, 'before': texts[0], 'after': texts[1]})
        if not dry_run:
            write_atomic(path, [content], mode)
    return {'changed_paths': changed, 'diff': diff}
