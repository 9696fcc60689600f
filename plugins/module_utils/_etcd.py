# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd backups of a kubeadm cluster with stacked etcd: snapshot, restore, the control-plane static pods, the controller's copies.

On a control plane: ``etcdctl snapshot save`` from the local member with kubeadm's health-check client certificate, checked
with ``etcdutl snapshot status``, next to a tar.gz of /etc/kubernetes/pki and a metadata.json holding the sha256 of both.
A restore stops the control-plane static pods (their manifests are moved to a holding directory and the kubelet is waited
for), runs ``etcdutl snapshot restore`` into a new data directory beside the old one, renames the old one aside (it is
never deleted) and the new one into place, then puts the manifests back. etcdctl 3.6 and later cannot restore; etcdutl of
the same version does.

On the controller: the backups of a cluster in a directory, the checksums of their files, the choice of one to restore
and the retention by count.

Nothing here prints the PKI's private keys: the archive is written by Python, and command output in a failure is redacted.
"""
from __future__ import annotations

import datetime
import http.client
import difflib
import io
import json
import os
import re
import shutil
import socket
import ssl
import tarfile
import time

from ansible_collections.kubeseed.cluster.plugins.module_utils._bundle import sha256_file
from ansible_collections.kubeseed.cluster.plugins.module_utils._etcd_members import https_request
from ansible_collections.kubeseed.cluster.plugins.module_utils._files import write_atomic
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm import CRI_SOCKET, redact
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import BIN_DIRS

PKI_DIR = '/etc/kubernetes/pki'
ETCD_PKI_DIR = '/etc/kubernetes/pki/etcd'
LOCAL_ENDPOINT = 'https://127.0.0.1:2379'
MANIFESTS_DIR = '/etc/kubernetes/manifests'
# Outside the manifests directory: the kubelet must not see the held manifests at all.
HELD_DIR = '/etc/kubernetes/manifests-stopped-by-kubeseed'
# Stopped in this order, started in the reverse one (etcd first): every component that holds a cache of etcd's state.
CONTROL_PLANE_PODS = ('kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd')
SNAPSHOT_FILE = 'etcd-snapshot.db'
PKI_FILE = 'pki.tar.gz'
METADATA_FILE = 'metadata.json'
BACKUP_FILES = (SNAPSHOT_FILE, PKI_FILE)
FORMAT = 1
# etcd's advice for Kubernetes: move the revision far past anything a watcher has seen, and mark it compacted, so every
# informer relists instead of missing events (the same value on every member).
BUMP_REVISION = 1000000000
STAMP_FORMAT = '%Y%m%dT%H%M%SZ'
_STAMP = r'\d{8}T\d{6}Z'
_FLAG = re.compile(r'''^\s*-\s+["']?--([a-z0-9-]+)=(.*?)["']?\s*$''', re.M)
_ETCD_IMAGE = re.compile(r'''^\s*image:\s*["']?\S*?/etcd:v?([0-9]+\.[0-9]+\.[0-9]+)''', re.M)
_MEMBER_NAME = re.compile(r'[^\s,=]+')
_PEER_URL = re.compile(r'https?://[^\s,=/]+/?')


class BackupError(Exception):
    """A backup or restore problem: the message says what, where and what to do."""


# ---------------------------------------------------------------------------------------------------- pure logic ----

def stamp(now: datetime.datetime) -> str:
    """UTC timestamp used in backup names and renamed data directories, e.g. 20260101T120000Z."""
    return now.astimezone(datetime.timezone.utc).strftime(STAMP_FORMAT)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def backup_name(cluster_name: str, when: str) -> str:
    """<cluster name>-<UTC timestamp>: sorts by time within a cluster."""
    return '%s-%s' % (cluster_name, when)


def stamp_of(name: str, cluster_name: str) -> str | None:
    """The timestamp of a backup name of this cluster (None for another cluster's name or any other file)."""
    match = re.fullmatch(re.escape(cluster_name) + '-(' + _STAMP + ')', name)
    return match.group(1) if match else None


def manifest_flags(text: str) -> dict:
    """--flag=value arguments of a static pod manifest written by kubeadm (one per line)."""
    return dict(_FLAG.findall(text))


def member_of(text: str, path: str) -> dict:
    """This host's etcd member as its kubeadm static pod manifest declares it: name, peer URLs, data directory, version."""
    flags = manifest_flags(text)
    missing = ['--' + flag for flag in ('name', 'initial-advertise-peer-urls', 'data-dir') if not flags.get(flag)]
    if missing:
        raise BackupError('%s has no %s argument: it is not an etcd static pod manifest written by kubeadm (stacked etcd)'
                          % (path, ', '.join(missing)))
    image = _ETCD_IMAGE.search(text)
    return {'name': flags['name'], 'peer_urls': [url for url in flags['initial-advertise-peer-urls'].split(',') if url],
            'data_dir': os.path.normpath(flags['data-dir']), 'version': image.group(1) if image else ''}


def initial_cluster(members: list) -> str:
    """etcd's --initial-cluster for the restored cluster: name=peer URL of every member (sorted by name)."""
    if not members:
        raise BackupError('members: empty; a restore needs every control plane (name and peer_urls of each etcd member)')
    seen_names, seen_urls = set(), set()
    pairs = []
    for index, member in enumerate(members):
        name = member.get('name') if isinstance(member, dict) else None
        urls = member.get('peer_urls') if isinstance(member, dict) else None
        urls = [urls] if isinstance(urls, str) else list(urls or [])
        if not isinstance(name, str) or not _MEMBER_NAME.fullmatch(name):
            raise BackupError('members[%d]: name %r is not an etcd member name (no spaces, commas or "=")' % (index, name))
        if name in seen_names:
            raise BackupError('members[%d]: %s is listed twice; each control plane is one etcd member' % (index, name))
        if not urls:
            raise BackupError('members[%d] (%s): no peer_urls' % (index, name))
        for url in urls:
            if not isinstance(url, str) or not _PEER_URL.fullmatch(url):
                raise BackupError('members[%d] (%s): %r is not a peer URL such as https://10.0.0.1:2380' % (index, name, url))
            if url in seen_urls:
                raise BackupError('members[%d] (%s): peer URL %s is another member\'s too' % (index, name, url))
            seen_urls.add(url)
        seen_names.add(name)
        pairs.extend((name, url) for url in urls)
    return ','.join('%s=%s' % pair for pair in sorted(pairs))


def member_problem(member: dict, members: list) -> str | None:
    """Why this host's member does not match its entry of members (None when it does)."""
    entry = next((m for m in members if isinstance(m, dict) and m.get('name') == member['name']), None)
    if entry is None:
        return ('this host\'s etcd member %s (its static pod manifest says --name=%s) is not among the members of the restore (%s); '
                'every control plane must take part' % (member['name'], member['name'],
                                                        ', '.join(sorted(str(m.get('name')) for m in members if isinstance(m, dict)))))
    urls = entry.get('peer_urls')
    urls = [urls] if isinstance(urls, str) else list(urls or [])
    if sorted(urls) != sorted(member['peer_urls']):
        return ('members: %s has peer URLs %s, but its static pod manifest advertises %s'
                % (member['name'], ', '.join(urls), ', '.join(member['peer_urls'])))
    return None


def restore_paths(data_dir: str, when: str) -> tuple[str, str]:
    """(new data directory to restore into, name the current data directory is renamed to): siblings, one file system."""
    return '%s.kubeseed-restore-%s' % (data_dir, when), '%s.before-restore-%s' % (data_dir, when)


def restore_arguments(snapshot: str, member: dict, cluster: str, token: str, data_dir: str, bump_revision: int) -> list:
    """etcdutl arguments restoring snapshot into data_dir as this member of the new cluster."""
    args = ['snapshot', 'restore', snapshot, '--name', member['name'], '--initial-cluster', cluster,
            '--initial-cluster-token', token, '--initial-advertise-peer-urls', ','.join(member['peer_urls']), '--data-dir', data_dir]
    if bump_revision:
        args += ['--bump-revision', str(bump_revision), '--mark-compacted']
    return args


def snapshot_status(text: str) -> dict:
    """The output of ``etcdutl snapshot status -w json``: revision, keys, size, etcd hash and storage version."""
    try:
        data = json.loads(text)
        return {'revision': int(data['revision']), 'total_keys': int(data['totalKey']), 'total_size': int(data['totalSize']),
                'hash': int(data['hash']), 'storage_version': str(data.get('version', ''))}
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError('etcdutl snapshot status printed no status (%s: %s): %s' % (type(exc).__name__, exc, text.strip()[:300])) from None


def server_version(text: str) -> str:
    """The etcd server version from ``etcdctl endpoint status -w json``."""
    try:
        return str(json.loads(text)[0]['Status']['version'])
    except (ValueError, KeyError, IndexError, TypeError):
        raise BackupError('etcdctl endpoint status printed no server version: %s' % text.strip()[:300]) from None


def backup_metadata(*, name: str, cluster_name: str, kubernetes_version: str, etcd_version: str, created: str, node: str,
                    status: dict, files: dict) -> dict:
    """What metadata.json of a backup holds."""
    return {
        'format': FORMAT,
        'name': name,
        'created': created,
        'cluster_name': cluster_name,
        'kubernetes_version': normalize_version(kubernetes_version),
        'etcd_version': etcd_version,
        'node': node,
        'revision': status['revision'],
        'total_keys': status['total_keys'],
        'etcd_hash': status['hash'],
        'files': files,
    }


def normalize_version(version: str) -> str:
    version = str(version or '').strip()
    return version[1:] if version.startswith('v') else version


def metadata_problem(metadata) -> str | None:
    """What is wrong with a parsed metadata.json (None when it is a kubeseed backup's)."""
    if not isinstance(metadata, dict) or metadata.get('format') != FORMAT:
        return 'is not the metadata of a kubeseed etcd backup (format %d)' % FORMAT
    for key in ('name', 'created', 'cluster_name', 'kubernetes_version', 'etcd_version'):
        if not isinstance(metadata.get(key), str) or not metadata[key]:
            return 'has no %s' % key
    files = metadata.get('files')
    for name in BACKUP_FILES:
        record = files.get(name) if isinstance(files, dict) else None
        if not isinstance(record, dict) or not re.fullmatch(r'[0-9a-f]{64}', str(record.get('sha256'))) or not isinstance(record.get('size'), int):
            return 'has no sha256 and size of %s' % name
    return None


def read_backup(path: str) -> dict:
    """A backup directory: its name, path, metadata and, when it cannot be used, the problem."""
    entry = {'name': os.path.basename(os.path.normpath(path)), 'path': path, 'metadata': None, 'problem': None}
    meta_path = os.path.join(path, METADATA_FILE)
    try:
        with open(meta_path, encoding='utf-8') as handle:
            metadata = json.load(handle)
    except FileNotFoundError:
        entry['problem'] = 'has no %s (an interrupted backup)' % METADATA_FILE
        return entry
    except (OSError, ValueError) as exc:
        entry['problem'] = '%s cannot be read (%s)' % (METADATA_FILE, exc)
        return entry
    problem = metadata_problem(metadata)
    if problem:
        entry['problem'] = '%s %s' % (METADATA_FILE, problem)
    else:
        entry['metadata'] = metadata
    return entry


def list_backups(directory: str, cluster_name: str) -> list:
    """The backups of one cluster in a directory, newest first (those that cannot be used too, with their problem)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        when = stamp_of(name, cluster_name)
        path = os.path.join(directory, name)
        if when and os.path.isdir(path) and not os.path.islink(path):
            entry = read_backup(path)
            entry['stamp'] = when
            found.append(entry)
    return sorted(found, key=lambda e: e['stamp'], reverse=True)


def summary(entry: dict) -> dict:
    """A backup as the modules return it (no file contents)."""
    meta = entry.get('metadata') or {}
    return {'name': entry['name'], 'path': entry['path'], 'usable': entry.get('problem') is None, 'problem': entry.get('problem'),
            'created': meta.get('created'), 'kubernetes_version': meta.get('kubernetes_version'),
            'etcd_version': meta.get('etcd_version'), 'revision': meta.get('revision')}


def describe(backups: list, limit: int = 10) -> str:
    """One line per usable backup, newest first: what a user picks from."""
    usable = [b for b in backups if b.get('problem') is None]
    lines = ['%s (Kubernetes %s, etcd revision %s)' % (b['name'], b['metadata']['kubernetes_version'], b['metadata']['revision'])
             for b in usable[:limit]]
    if len(usable) > limit:
        lines.append('and %d older' % (len(usable) - limit))
    return '; '.join(lines)


def retention(backups: list, keep: int, protect=()) -> list:
    """The backups to remove so that the newest keep usable ones stay (keep 0: none is removed).

    Directories of interrupted runs (no usable metadata) older than the newest usable backup go too; a backup named in
    protect (the one just taken or chosen) is never removed.
    """
    if keep <= 0:
        return []
    usable = [b for b in backups if b.get('problem') is None]
    if not usable:
        return []
    newest = usable[0]['stamp']
    doomed = usable[keep:] + [b for b in backups if b.get('problem') is not None and b['stamp'] < newest]
    return sorted((b for b in doomed if b['name'] not in protect), key=lambda e: e['stamp'])


def choose(directory: str, cluster_name: str, wanted: str, backups: list | None = None) -> dict:
    """The backup named (or at the path) wanted; refuses an empty or unknown name with the backups there are."""
    backups = list_backups(directory, cluster_name) if backups is None else backups
    available = describe(backups)
    if not wanted:
        if not available:
            raise BackupError('kubeseed_restore_backup is empty and there is no backup of cluster %s in %s; take one with '
                              'playbooks/backup.yml, or give the path of a backup directory' % (cluster_name, directory))
        newest = next(b['name'] for b in backups if b['problem'] is None)
        raise BackupError('kubeseed_restore_backup is empty: name the backup to restore, e.g. -e kubeseed_restore_backup=%s. Backups of '
                          'cluster %s in %s, newest first: %s' % (newest, cluster_name, directory, available))
    is_path = os.sep in wanted or wanted.startswith('~') or wanted in ('.', '..')
    path = os.path.abspath(os.path.expanduser(wanted)) if is_path else os.path.join(directory, wanted)
    if not os.path.isdir(path):
        close = difflib.get_close_matches(os.path.basename(wanted), [b['name'] for b in backups], n=1)
        raise BackupError('kubeseed_restore_backup: %s is not a backup directory%s. Backups of cluster %s in %s: %s'
                          % (path, ' (did you mean %s?)' % close[0] if close else '', cluster_name, directory, available or 'none'))
    entry = read_backup(path)
    if entry['problem']:
        raise BackupError('kubeseed_restore_backup: the backup %s %s; it cannot be restored. Backups of cluster %s in %s: %s'
                          % (path, entry['problem'], cluster_name, directory, available or 'none'))
    return entry


def compatibility_problem(entry: dict, cluster_name: str, kubernetes_version: str | None) -> str | None:
    """Why a backup does not fit this cluster: another cluster name or another Kubernetes version (None when it fits)."""
    meta = entry['metadata']
    if meta['cluster_name'] != cluster_name:
        return ('the backup %s was taken from cluster %s, but this inventory\'s cluster is %s (kubeseed_cluster_name); nothing was '
                'touched. Restore a backup of %s, or run the restore with the inventory of cluster %s'
                % (entry['path'], meta['cluster_name'], cluster_name, cluster_name, meta['cluster_name']))
    wanted = normalize_version(kubernetes_version or '')
    if wanted and meta['kubernetes_version'] != wanted:
        return ('the backup %s holds the state of Kubernetes %s, but the cluster runs %s (kubeseed_kubernetes_version); nothing was '
                'touched. An API server reads only the storage versions it knows: restore it onto a cluster of Kubernetes %s (set '
                'kubeseed_kubernetes_version: %s and install that version), then upgrade; or restore a backup taken with %s'
                % (entry['path'], meta['kubernetes_version'], wanted, meta['kubernetes_version'], meta['kubernetes_version'], wanted))
    return None


def file_problems(entry: dict, checksum=sha256_file) -> list:
    """Every file of a backup whose size or sha256 differs from its metadata.json (empty when all match)."""
    problems = []
    for name in BACKUP_FILES:
        record = entry['metadata']['files'][name]
        path = os.path.join(entry['path'], name)
        try:
            size = os.path.getsize(path)
        except OSError:
            problems.append('%s is missing' % path)
            continue
        if size != record['size']:
            problems.append('%s has %d bytes, %s says %d' % (path, size, METADATA_FILE, record['size']))
        elif checksum(path) != record['sha256']:
            problems.append('%s does not have the sha256 %s records' % (path, METADATA_FILE))
    return problems


def file_record(path: str) -> dict:
    return {'path': path, 'sha256': sha256_file(path), 'size': os.path.getsize(path)}


def checksum_problem(path: str, sha256: str, checksum=sha256_file) -> str | None:
    got = checksum(path)
    if got is None:
        return '%s cannot be read' % path
    if got != sha256:
        return '%s does not have the sha256 of the backup (%s...): it was damaged or changed on the way' % (path, sha256[:12])
    return None


def missing_tool_message(tool: str, option: str, configured: str, host: str, etcd_version: str = '') -> str:
    """What to do when etcdctl, etcdutl or crictl is not on a host."""
    where = '%s was not found on %s (%s=%s; looked in %s and PATH).' % (tool, host, option, configured, ', '.join(BIN_DIRS))
    if tool == 'crictl':
        return where + (' It comes with the Kubernetes node packages (cri-tools) or the offline bundle: run the kube_packages role '
                        '(playbooks/cluster.yml --tags packages), or set %s.' % option)
    return where + (' With kubeseed_package_source: offline the kube_packages role installs etcdctl and etcdutl from the bundle on the '
                    'control planes (playbooks/cluster.yml --tags packages). The Kubernetes package repositories of '
                    'kubeseed_package_source: online have no etcd tools: install etcdctl and etcdutl of etcd %s (etcd\'s release '
                    'archive holds both) into /usr/local/bin on every control plane, or set %s.'
                    % (etcd_version or 'the version the cluster runs', option))


def running_pods(text: str) -> set:
    """Names of the containers in ``crictl ps -o json`` output."""
    try:
        return {c['metadata']['name'] for c in json.loads(text).get('containers') or []}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BackupError('crictl ps printed no container list: %s' % text.strip()[:300]) from None


def locate(component: str, manifests_dir: str, held_dir: str) -> str:
    """Where a static pod's manifest is: running (in the manifests directory), held, both or absent."""
    running = os.path.exists(os.path.join(manifests_dir, component + '.yaml'))
    held = os.path.exists(os.path.join(held_dir, component + '.yaml'))
    return {(True, False): 'running', (False, True): 'held', (True, True): 'both', (False, False): 'absent'}[(running, held)]


def wait_until(check, timeout: float, what: str, interval: float = 1.0, clock=time.monotonic, sleep=time.sleep) -> float:
    """Call check() -> (done, detail) until done or timeout seconds pass (then raise with the last detail); the seconds it took."""
    started = clock()
    while True:
        done, detail = check()
        if done:
            return round(clock() - started, 1)
        if clock() - started >= timeout:
            raise BackupError('%s: not within %d s (%s)' % (what, timeout, detail))
        sleep(interval)


# ------------------------------------------------------------------------------------------------- on the host ----

class Runner:
    """Runs the tools of one module run; a failure raises BackupError with the tool's output (redacted)."""

    def __init__(self, run_command, paths: dict) -> None:
        self.run_command = run_command
        self.paths = paths

    def __call__(self, tool: str, args: list, what: str) -> str:
        rc, out, err = self.run_command([self.paths[tool]] + [str(a) for a in args])
        if rc != 0:
            detail = redact((err or out or '').strip())[-2000:]
            raise BackupError('%s failed (exit %d): %s' % (what, rc, detail))
        return out or ''


def client_tls(etcd_pki_dir: str) -> list:
    """etcdctl's TLS arguments with kubeadm's etcd CA and health-check client certificate (which must be readable)."""
    files = {'--cacert': 'ca.crt', '--cert': 'healthcheck-client.crt', '--key': 'healthcheck-client.key'}
    args = []
    for flag, name in files.items():
        path = os.path.join(etcd_pki_dir, name)
        if not os.access(path, os.R_OK):
            raise BackupError('%s cannot be read: is this a control plane of a kubeadm cluster with stacked etcd (and the task run '
                              'with become)?' % path)
        args += [flag, path]
    return args


def write_pki_archive(pki_dir: str, dest: str) -> None:
    """A tar.gz of the PKI directory (private keys: mode 0600, never shown)."""
    if not os.path.isdir(pki_dir):
        raise BackupError('%s is not a directory: is this a kubeadm control plane?' % pki_dir)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:gz') as archive:
        archive.add(pki_dir, arcname='pki')
    write_atomic(dest, [buffer.getvalue()], 0o600)


def save(runner: Runner, dest: str, *, cluster_name: str, kubernetes_version: str, endpoint: str = LOCAL_ENDPOINT,
         etcd_pki_dir: str = ETCD_PKI_DIR, pki_dir: str = PKI_DIR, timeout: int = 300, now=None, node: str = '') -> dict:
    """Snapshot the etcd member at endpoint into dest/<cluster>-<UTC stamp>/ with the PKI archive and metadata.json.

    The directory is removed again when anything fails, so a directory holds a whole backup or nothing.
    """
    now = now or utcnow()
    name = backup_name(cluster_name, stamp(now))
    directory = os.path.join(dest, name)
    tls = client_tls(etcd_pki_dir)
    etcdctl = ['--endpoints', endpoint, '--dial-timeout', '10s', '--command-timeout', '%ds' % timeout] + tls
    os.makedirs(dest, mode=0o700, exist_ok=True)
    os.chmod(dest, 0o700)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        raise BackupError('%s exists already (a backup of the same second); run again' % directory) from None
    try:
        version = server_version(runner('etcdctl', etcdctl + ['endpoint', 'status', '-w', 'json'], 'etcdctl endpoint status'))
        snapshot = os.path.join(directory, SNAPSHOT_FILE)
        runner('etcdctl', etcdctl + ['snapshot', 'save', snapshot], 'etcdctl snapshot save')
        os.chmod(snapshot, 0o600)
        status = snapshot_status(runner('etcdutl', ['snapshot', 'status', snapshot, '-w', 'json'], 'etcdutl snapshot status'))
        archive = os.path.join(directory, PKI_FILE)
        write_pki_archive(pki_dir, archive)
        files = {SNAPSHOT_FILE: file_record(snapshot), PKI_FILE: file_record(archive)}
        metadata = backup_metadata(name=name, cluster_name=cluster_name, kubernetes_version=kubernetes_version, etcd_version=version,
                                   created=now.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
                                   node=node or socket.gethostname(), status=status,
                                   files={k: {'sha256': v['sha256'], 'size': v['size']} for k, v in files.items()})
        metadata_path = os.path.join(directory, METADATA_FILE)
        write_atomic(metadata_path, [(json.dumps(metadata, indent=2, sort_keys=True) + '\n').encode('utf-8')], 0o600)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return {'name': name, 'directory': directory, 'snapshot': files[SNAPSHOT_FILE], 'pki': files[PKI_FILE],
            'metadata_path': metadata_path, 'revision': status['revision'], 'etcd_version': version, 'metadata': metadata}


def restore(runner: Runner, snapshot: str, *, member: dict, members: list, token: str, bump_revision: int = BUMP_REVISION,
            now=None) -> dict:
    """Restore snapshot as this member of the new cluster: into a new directory beside the data directory, then swap.

    The old data directory is renamed <data dir>.before-restore-<stamp> and never deleted. etcd must be stopped.
    """
    cluster = initial_cluster(members)
    problem = member_problem(member, members)
    if problem:
        raise BackupError(problem)
    data_dir = member['data_dir']
    if os.path.ismount(data_dir):
        raise BackupError('%s is a mount point; kubeseed restores into a new directory beside it and renames both, which a mount '
                          'point does not allow. Restore by hand (see docs/backup-restore.md)' % data_dir)
    staging, aside = restore_paths(data_dir, stamp(now or utcnow()))
    for path in (staging, aside):
        if os.path.lexists(path):
            raise BackupError('%s exists already (a restore of the same second); run again' % path)
    try:
        runner('etcdutl', restore_arguments(snapshot, member, cluster, token, staging, bump_revision), 'etcdutl snapshot restore')
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = None
    if os.path.lexists(data_dir):
        os.rename(data_dir, aside)
        previous = aside
    os.rename(staging, data_dir)
    os.chmod(data_dir, 0o700)
    return {'data_dir': data_dir, 'previous_data_dir': previous, 'initial_cluster': cluster}


def _get(url: str, context: ssl.SSLContext, timeout: float) -> tuple[int, str]:
    return https_request(url, context, timeout, limit=4096)


def etcd_health(endpoint: str = LOCAL_ENDPOINT, etcd_pki_dir: str = ETCD_PKI_DIR, timeout: float = 5.0) -> tuple[bool, str]:
    """(healthy, detail) of etcd's /health at endpoint: true only when the member is in a cluster with a quorum."""
    try:
        context = ssl.create_default_context(cafile=os.path.join(etcd_pki_dir, 'ca.crt'))
        context.load_cert_chain(os.path.join(etcd_pki_dir, 'healthcheck-client.crt'), os.path.join(etcd_pki_dir, 'healthcheck-client.key'))
        status, body = _get(endpoint.rstrip('/') + '/health', context, timeout)
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return False, 'etcd at %s does not answer: %s' % (endpoint, getattr(exc, 'reason', exc))
    try:
        healthy = status == 200 and str(json.loads(body).get('health')).lower() == 'true'
    except (ValueError, AttributeError):
        healthy = False
    return healthy, 'etcd at %s answered %d: %s' % (endpoint, status, body.strip()[:200])


def apiserver_ready(url: str, ca_file: str, timeout: float = 5.0) -> tuple[bool, str]:
    """(ready, detail) of the local API server's /readyz, its certificate checked against the cluster CA.

    The host name is not checked (kubeadm's serving certificate does not name 127.0.0.1); 401 and 403 count as ready,
    for a cluster that refuses anonymous requests: the server answers.
    """
    try:
        context = ssl.create_default_context(cafile=ca_file)
        context.check_hostname = False
        status, body = _get(url, context, timeout)
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return False, 'the API server at %s does not answer: %s' % (url, getattr(exc, 'reason', exc))
    return status in (200, 401, 403), 'the API server at %s answered %d: %s' % (url, status, body.strip()[-300:])


# ---------------------------------------------------------------------------------------------- module glue ----

def _tools(module, names, etcd_version: str = '') -> Runner:
    """A Runner with the absolute path of each tool (get_bin_path); fails naming what to install."""
    paths = {}
    host = socket.gethostname()
    for name in names:
        option = name + '_path'
        configured = module.params.get(option) or name
        found = module.get_bin_path(configured, opt_dirs=BIN_DIRS)
        if not found:
            module.fail_json(msg=missing_tool_message(name, option, configured, host, etcd_version))
        paths[name] = found
    return Runner(module.run_command, paths)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding='utf-8') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _member(params: dict) -> dict:
    """This host's etcd member from its manifest, wherever it is (running or held)."""
    for directory in (params['manifests_dir'], params['held_dir']):
        path = os.path.join(directory, 'etcd.yaml')
        text = _read(path)
        if text is not None:
            return member_of(text, path)
    raise BackupError('there is no etcd static pod manifest in %s or %s on %s: kubeseed backs up and restores kubeadm clusters with '
                      'stacked etcd (etcd on every control plane) only' % (params['manifests_dir'], params['held_dir'], socket.gethostname()))


def _etcd_version_hint(manifests_dir: str = MANIFESTS_DIR, held_dir: str = HELD_DIR) -> str:
    for directory in (manifests_dir, held_dir):
        text = _read(os.path.join(directory, 'etcd.yaml'))
        if text:
            match = _ETCD_IMAGE.search(text)
            if match:
                return match.group(1)
    return ''


def snapshot_module(module) -> dict:
    """etcd_snapshot: save a backup on this host (check mode: checks the tools and certificates, saves nothing)."""
    params = module.params
    runner = _tools(module, ('etcdctl', 'etcdutl'), _etcd_version_hint())
    when = stamp(utcnow())
    name = backup_name(params['cluster_name'], when)
    try:
        if module.check_mode:
            client_tls(params['etcd_pki_dir'])
            return {'changed': True, 'name': name, 'directory': os.path.join(params['dest'], name),
                    'msg': 'would save an etcd snapshot of %s and an archive of %s into %s'
                           % (params['endpoint'], params['pki_dir'], os.path.join(params['dest'], name))}
        result = save(runner, params['dest'], cluster_name=params['cluster_name'], kubernetes_version=params['kubernetes_version'],
                      endpoint=params['endpoint'], etcd_pki_dir=params['etcd_pki_dir'], pki_dir=params['pki_dir'],
                      timeout=params['timeout'])
    except (BackupError, OSError) as exc:
        module.fail_json(msg='etcd snapshot on %s: %s' % (socket.gethostname(), exc))
    result.update(changed=True, msg='saved etcd revision %d (etcd %s, %d bytes) and the PKI archive into %s'
                  % (result['revision'], result['etcd_version'], result['snapshot']['size'], result['directory']))
    return result


def _wait_stopped(runner: Runner, names: list, timeout: int) -> float:
    def check():
        running = sorted(running_pods(runner('crictl', ['--runtime-endpoint', CRI_SOCKET, 'ps', '-o', 'json', '--namespace', '^kube-system$'],
                                             'crictl ps')) & set(names))
        return not running, 'still running: %s' % ', '.join(running)
    return wait_until(check, timeout, 'the kubelet did not stop %s; is the kubelet running (systemctl status kubelet)?' % ', '.join(names))


def _apiserver_url(params: dict) -> str:
    text = _read(os.path.join(params['manifests_dir'], 'kube-apiserver.yaml')) or ''
    flags = manifest_flags(text)
    address = flags.get('bind-address') or '127.0.0.1'
    address = '127.0.0.1' if address in ('0.0.0.0', '::', '') else address
    host = '[%s]' % address if ':' in address else address
    return 'https://%s:%s/readyz' % (host, flags.get('secure-port') or '6443')


def _ordered(components: list, reverse: bool = False) -> list:
    known = [c for c in CONTROL_PLANE_PODS if c in components] + [c for c in components if c not in CONTROL_PLANE_PODS]
    return list(reversed(known)) if reverse else known


def _locations(params: dict, components: list) -> dict:
    where = {c: locate(c, params['manifests_dir'], params['held_dir']) for c in components}
    for component, state in where.items():
        if state == 'absent':
            raise BackupError('there is no %s.yaml in %s or %s on %s: not a kubeadm control plane'
                              % (component, params['manifests_dir'], params['held_dir'], socket.gethostname()))
        if state == 'both':
            raise BackupError('%s.yaml is in both %s and %s on %s (an interrupted run?); keep the one you want and remove the other'
                              % (component, params['manifests_dir'], params['held_dir'], socket.gethostname()))
    return where


def restore_module(module) -> dict:
    """etcd_restore: stopped, restored or started on this host."""
    params = module.params
    state = params['state']
    host = socket.gethostname()
    components = _ordered(params['components'])
    try:
        member = _member(params)
        if state == 'stopped':
            # etcdutl is checked here too: stopping is a restore's first step, and a host without it would stay stopped.
            runner = _tools(module, ('crictl', 'etcdutl'), member['version'])
            return _stop(module, runner, components, member)
        if state == 'restored':
            runner = _tools(module, ('crictl', 'etcdutl'), member['version'])
            return _restore(module, runner, member)
        return _start(module, components, member)
    except (BackupError, OSError) as exc:
        module.fail_json(msg='etcd_restore (state %s) on %s: %s' % (state, host, exc))
    return {}  # not reached: fail_json exits


def _stop(module, runner: Runner, components: list, member: dict) -> dict:
    params = module.params
    where = _locations(params, components)
    moving = [c for c in components if where[c] == 'running']
    result = {'changed': bool(moving), 'member': member, 'moved': [os.path.join(params['held_dir'], c + '.yaml') for c in moving]}
    if module.check_mode:
        result['msg'] = ('would stop %s (manifests to %s)' % (', '.join(moving), params['held_dir']) if moving
                         else 'stopped already: %s' % ', '.join(components))
        return result
    if moving:
        os.makedirs(params['held_dir'], mode=0o700, exist_ok=True)
        for component in moving:
            os.rename(os.path.join(params['manifests_dir'], component + '.yaml'), os.path.join(params['held_dir'], component + '.yaml'))
    result['stop_seconds'] = _wait_stopped(runner, components, params['timeout'])
    result['msg'] = '%s stopped (manifests in %s)' % (', '.join(components), params['held_dir'])
    return result


def _restore(module, runner: Runner, member: dict) -> dict:
    params = module.params
    missing = [name for name in ('snapshot', 'snapshot_sha256', 'members', 'initial_cluster_token') if not params.get(name)]
    if missing:
        raise BackupError('state restored needs %s' % ', '.join(missing))
    cluster = initial_cluster(params['members'])
    problem = member_problem(member, params['members'])
    if problem:
        raise BackupError(problem)
    if os.path.ismount(member['data_dir']):
        raise BackupError('%s is a mount point; kubeseed restores into a new directory beside it and renames both, which a mount point '
                          'does not allow. Restore by hand (see docs/backup-restore.md)' % member['data_dir'])
    result = {'changed': True, 'member': member, 'initial_cluster': cluster, 'data_dir': member['data_dir']}
    present = os.path.exists(params['snapshot'])
    if present or not module.check_mode:
        problem = checksum_problem(params['snapshot'], params['snapshot_sha256'])
        if problem:
            raise BackupError(problem)
    if module.check_mode:
        staging, aside = restore_paths(member['data_dir'], stamp(utcnow()))
        result['msg'] = ('would restore %s%s as member %s of %s into %s (via %s), keeping the current data directory as %s'
                         % (params['snapshot'], '' if present else ' (not on the host yet: it is copied in a real run)', member['name'],
                            cluster, member['data_dir'], staging, aside))
        return result
    if locate('etcd', params['manifests_dir'], params['held_dir']) != 'held':
        raise BackupError('etcd is not stopped (its manifest is in %s): stop every control plane first (state stopped); a member '
                          'restored while others run would form a cluster of mixed state' % params['manifests_dir'])
    _wait_stopped(runner, ['etcd'], 1)
    result.update(restore(runner, params['snapshot'], member=member, members=params['members'], token=params['initial_cluster_token'],
                          bump_revision=params['bump_revision']))
    result['msg'] = ('restored %s as member %s into %s; the previous data directory is %s'
                     % (params['snapshot'], member['name'], result['data_dir'], result['previous_data_dir'] or 'none (there was none)'))
    return result


def _start(module, components: list, member: dict) -> dict:
    params = module.params
    where = _locations(params, components)
    moving = [c for c in _ordered(components, reverse=True) if where[c] == 'held']
    result = {'changed': bool(moving), 'member': member, 'moved': [os.path.join(params['manifests_dir'], c + '.yaml') for c in moving]}
    if module.check_mode:
        result['msg'] = ('would start %s (manifests back to %s)' % (', '.join(moving), params['manifests_dir']) if moving
                         else 'running already: %s' % ', '.join(components))
        return result
    for component in moving:
        os.rename(os.path.join(params['held_dir'], component + '.yaml'), os.path.join(params['manifests_dir'], component + '.yaml'))
    try:
        os.rmdir(params['held_dir'])  # only when empty: other held manifests stay
    except OSError:
        pass
    if params['wait']:
        if 'etcd' in components:
            result['etcd_seconds'] = wait_until(lambda: etcd_health(params['endpoint'], params['etcd_pki_dir']), params['timeout'],
                                                'etcd did not become healthy (it needs a quorum: are the other members started?)')
        if 'kube-apiserver' in components:
            url = _apiserver_url(params)
            result['apiserver_seconds'] = wait_until(lambda: apiserver_ready(url, os.path.join(params['pki_dir'], 'ca.crt')),
                                                     params['timeout'], 'the API server did not become ready')
    answered = [what for name, what in (('etcd', 'etcd is healthy'), ('kube-apiserver', 'the API server answers')) if name in components]
    result['msg'] = ('started %s' % ', '.join(moving) if moving else 'running already: %s' % ', '.join(components)) + \
        ('; %s' % ' and '.join(answered) if params['wait'] and answered else '')
    return result


def backups_module(module) -> dict:
    """etcd_backups: list the backups of a cluster on the controller, verify one, remove the oldest."""
    params = module.params
    directory = params['path']
    try:
        backups = list_backups(directory, params['cluster_name'])
        result = {'changed': False, 'backups': [summary(b) for b in backups], 'removed': []}
        protect = set()
        if params['select'] is not None:
            entry = verified(directory, params['cluster_name'], params['select'], params['kubernetes_version'], backups)
            meta = entry['metadata']
            result['backup'] = dict(summary(entry), metadata=meta,
                                    **{key: dict(meta['files'][name], path=os.path.join(entry['path'], name))
                                       for key, name in (('snapshot', SNAPSHOT_FILE), ('pki', PKI_FILE))})
            protect.add(entry['name'])
        doomed = retention(backups, params['keep'], protect)
        if not module.check_mode:
            for entry in doomed:
                shutil.rmtree(entry['path'])
    except (BackupError, OSError) as exc:
        module.fail_json(msg=str(exc))
        raise  # not reached: fail_json exits
    result.update(changed=bool(doomed), removed=[b['path'] for b in doomed])
    kept = len([b for b in backups if b['problem'] is None]) - len([b for b in doomed if b['problem'] is None])
    removal = '; %s %d older' % ('would remove' if module.check_mode else 'removed', len(doomed)) if doomed else ''
    result['msg'] = '%d backup(s) of %s in %s%s' % (kept, params['cluster_name'], directory, removal)
    return result


def verified(directory: str, cluster_name: str, wanted: str, kubernetes_version: str | None, backups: list | None = None) -> dict:
    """The chosen backup once it fits this cluster and every file has its recorded size and sha256; refuses otherwise."""
    entry = choose(directory, cluster_name, wanted, backups)
    problem = compatibility_problem(entry, cluster_name, kubernetes_version)
    if problem:
        raise BackupError(problem)
    problems = file_problems(entry)
    if problems:
        raise BackupError('the backup %s is damaged, nothing was touched: %s. Restore another backup' % (entry['path'], '; '.join(problems)))
    return entry
