# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install files from a kubeseed offline bundle: select them from the manifest, fetch only what differs, verify sha256.

The bundle builder (tools/bundle) imports this file as a plain module to write and check its manifest with the same
parser, so everything outside ``Source`` uses the standard library only.
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re

try:
    from ansible_collections.kubeseed.cluster.plugins.module_utils._files import write_atomic
except ImportError:  # the bundle builder imports this file (and _files beside it) as plain modules
    from _files import write_atomic  # type: ignore[no-redef]

MANIFEST = 'manifest.json'
# The manifest format: the builder writes it, parse_manifest() accepts only it.
SCHEMA = 1
FILE_TEXT_FIELDS = ('kind', 'component', 'version')


# The options of every module that reads a bundle (documented by the kubeseed.cluster.bundle doc fragment).
SOURCE_ARG_SPEC = {
    'url': {'type': 'str', 'required': True},
    'timeout': {'type': 'int', 'default': 300},
    'validate_certs': {'type': 'bool', 'default': True},
}


class BundleError(Exception):
    """A bundle problem the user has to fix (message says what)."""


def file_problem(entry) -> str | None:
    """What is wrong with one entry of a manifest's file list (None when nothing is)."""
    if not isinstance(entry, dict):
        return 'is not an object'
    path = entry.get('path')
    if (not isinstance(path, str) or not path or path.startswith('/') or path == MANIFEST
            or any(part in ('', '.', '..') for part in path.split('/'))):
        return 'path %r is not a relative path inside the bundle' % (path,)
    sha = entry.get('sha256')
    if not isinstance(sha, str) or not re.fullmatch(r'[0-9a-f]{64}', sha):
        return '(%s) sha256 %r is not 64 lowercase hex digits' % (path, sha)
    size = entry.get('size')
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        return '(%s) size %r is not a byte count' % (path, size)
    for key in FILE_TEXT_FIELDS:
        if not isinstance(entry.get(key), str) or not entry[key]:
            return '(%s) %s %r is not a non-empty string' % (path, key, entry.get(key))
    return None


def parse_manifest(text: str, url: str) -> dict:
    """The manifest of the bundle at url, checked: schema, and path, sha256, size, kind, component, version of every file."""
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise BundleError('%s/%s is not a kubeseed bundle manifest: %s' % (url, MANIFEST, exc)) from exc
    schema = manifest.get('schema') if isinstance(manifest, dict) else None
    if isinstance(schema, bool) or schema != SCHEMA or not isinstance(manifest.get('files'), list):
        raise BundleError('%s/%s is not a kubeseed bundle manifest (schema %d with a file list)' % (url, MANIFEST, SCHEMA))
    seen = set()
    for index, entry in enumerate(manifest['files']):
        problem = file_problem(entry)
        if problem is None and entry['path'] in seen:
            problem = '(%s) lists a path twice' % entry['path']
        if problem is not None:
            raise BundleError('%s/%s is not a kubeseed bundle manifest: files[%d] %s' % (url, MANIFEST, index, problem))
        seen.add(entry['path'])
    return manifest


def select(manifest: dict, items: list) -> list:
    """[(bundle path, sha256, destination path, mode)] for every manifest file under each item's prefix."""
    chosen = []
    for item in items:
        prefix = item['prefix']
        names = set(item.get('names') or [])
        matched = [f for f in manifest['files'] if f['path'].startswith(prefix) and f['path'] != prefix]
        if names:
            matched = [f for f in matched if posixpath.basename(f['path']) in names]
            absent = names - {posixpath.basename(f['path']) for f in matched}
            if absent:
                raise BundleError('the bundle has no %s under %s (kubernetes %s); a bundle built by an older tools/bundle lacks '
                                  'newer parts (runtime/ came with containerd 2): build it again with this collection\'s '
                                  'tools/bundle' % (', '.join(sorted(absent)), prefix, manifest.get('kubernetes_version')))
        if not matched:
            raise BundleError('the bundle has no files under %s' % prefix)
        for entry in matched:
            chosen.append((entry['path'], entry['sha256'], posixpath.join(item['dest'], posixpath.basename(entry['path'])), item['mode']))
    return chosen


def mode_problems(items: list) -> list:
    """'items[i].mode: ...' for every file mode that is not an octal string such as '0755' (YAML turns an unquoted 0755 into 493)."""
    problems = []
    for index, item in enumerate(items):
        mode = str(item.get('mode', '0644'))
        if not re.match(r'^0?[0-7]{3,4}$', mode):
            problems.append("items[%d].mode: %r is not an octal file mode; quote it, e.g. '0755' (an unquoted 0755 is read as 493)"
                            % (index, mode[:20]))
    return problems


def sha256_file(path: str) -> str | None:
    """Hex sha256 of a file, None when it cannot be read (missing, say)."""
    try:
        digest = hashlib.sha256()
        with open(path, 'rb') as handle:
            for block in iter(lambda: handle.read(1 << 20), b''):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None


CHECKSUM_CACHE = '/var/lib/kubeseed/bundle-files.json'


class ChecksumCache:
    """The sha256 of installed bundle files, remembered with each file's stat (size, mtime, ctime, inode), as git's index
    does: a file whose stat is unchanged since it was hashed is not read again (a no-op run otherwise reads every binary,
    hundreds of MB per host). Any write, chmod or replacement of a file changes its ctime (which no tool can set back),
    so a file changed by hand is hashed again and found different. Only a run that installs writes the cache."""

    def __init__(self, path: str = CHECKSUM_CACHE) -> None:
        self.path, self.hashed, self.dirty = path, 0, False
        try:
            with open(path, encoding='utf-8') as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            data = {}
        self.entries = data if isinstance(data, dict) else {}

    @staticmethod
    def _key(st: os.stat_result) -> list:
        return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]

    def __call__(self, dest: str) -> str | None:
        try:
            key = self._key(os.stat(dest))
        except OSError:
            return None
        entry = self.entries.get(dest)
        if isinstance(entry, dict) and entry.get('stat') == key and isinstance(entry.get('sha256'), str):
            return entry['sha256']
        self.hashed += 1
        sha = sha256_file(dest)
        if sha is not None:
            self.record(dest, sha, key)
        return sha

    def record(self, dest: str, sha: str, key: list | None = None) -> None:
        """Remember dest's sha256 (just verified) with its current stat."""
        try:
            key = key or self._key(os.stat(dest))
        except OSError:
            return
        if self.entries.get(dest) != {'stat': key, 'sha256': sha}:
            self.entries[dest] = {'stat': key, 'sha256': sha}
            self.dirty = True

    def save(self) -> None:
        if self.dirty:
            write_atomic(self.path, [json.dumps(self.entries, sort_keys=True, indent=0).encode('utf-8')], 0o644)
            self.dirty = False


def plan(chosen: list, checksum=sha256_file) -> tuple[list, list]:
    """Split into (files to fetch because missing or different, files whose mode alone differs)."""
    fetch, modes = [], []
    for path, sha, dest, mode in chosen:
        if checksum(dest) != sha:
            fetch.append((path, sha, dest, mode))
        elif (os.stat(dest).st_mode & 0o7777) != int(mode, 8):
            modes.append((path, sha, dest, mode))
    return fetch, modes


def install(stream, sha: str, dest: str, mode: str, source: str) -> None:
    """Copy a download stream to dest atomically, refusing it if its sha256 is not the manifest's."""
    def verify(got: str) -> None:
        if got != sha:
            raise BundleError('checksum mismatch for %s: got sha256 %s, the manifest says %s; the bundle is damaged or was '
                              'changed after it was built' % (source, got, sha))
    write_atomic(dest, iter(lambda: stream.read(1 << 20), b''), int(mode, 8), verify)


def missing_debs(manifest: dict, dpkg_query: str, sets: tuple = ()) -> list:
    """Manifest .deb entries whose package is not installed at exactly that version: the host packages (kind ``deb``)
    and those of each named set (kind ``deb-<set>``, e.g. ``deb-ha``: keepalived for the API server's virtual IP).

    dpkg_query: output of ``dpkg-query --show --showformat '${db:Status-Status} ${Package} ${Version}\\n'``.
    """
    kinds = {'deb'} | {'deb-%s' % name for name in sets}
    absent = sorted(name for name in sets if not any(f.get('kind') == 'deb-%s' % name for f in manifest['files']))
    if absent:
        raise BundleError('the bundle (Kubernetes %s) has no packages of the set %s; it was built before the set existed: '
                          'build it again (tools/bundle/bundle.py build)' % (manifest.get('kubernetes_version'), ', '.join(absent)))
    installed = set()
    for line in dpkg_query.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == 'installed':
            installed.add((parts[1], parts[2]))
    return [f for f in manifest['files'] if f.get('kind') in kinds and (f['component'], f['version']) not in installed]


class Source:
    """A bundle reached over http(s) or file://: its manifest, and downloads checked against it."""

    def __init__(self, url: str, timeout: int, validate_certs: bool) -> None:
        self.url = url.rstrip('/')
        self.timeout = timeout
        self.validate_certs = validate_certs

    def _open(self, path: str):
        # Imported here: the bundle builder imports this file without Ansible (AnsiballZ still finds and ships it).
        from ansible.module_utils.urls import open_url
        try:
            return open_url('%s/%s' % (self.url, path), timeout=self.timeout, validate_certs=self.validate_certs)
        except Exception as exc:  # pylint: disable=broad-except  # open_url raises many types for network errors
            raise BundleError('cannot read %s/%s: %s (check kubeseed_offline_bundle_url and that this host reaches it)'
                              % (self.url, path, exc)) from exc

    def manifest(self) -> dict:
        with self._open(MANIFEST) as response:
            return parse_manifest(response.read().decode('utf-8'), self.url)

    def fetch(self, path: str, sha: str, dest: str, mode: str) -> None:
        """Download one bundle file to dest, refusing it unless its sha256 is the manifest's."""
        with self._open(path) as response:
            install(response, sha, dest, mode, '%s/%s' % (self.url, path))
