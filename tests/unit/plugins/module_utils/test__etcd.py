# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd backups: names, manifests, the initial cluster, metadata, retention, refusals; then real runs on loopback.

The loopback tests run the offline bundle's kubeadm (certificates), etcd, etcdctl and etcdutl on 127.0.0.1 only: a
member (and a three-member cluster) is snapshotted with _etcd.save, written to afterwards, stopped, restored with
_etcd.restore and started again; the first key must be back, the later one gone. Without a built bundle they are
skipped, except under CI=true, where they fail.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import pathlib
import random
import socket
import subprocess
import sys
import tarfile

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _etcd as etcd
from ansible_collections.kubeseed.cluster.plugins.module_utils._etcd_members import Members, removal_problem

ROOT = pathlib.Path(__file__).resolve().parents[4]
NOW = datetime.datetime(2026, 12, 1, 12, 0, 5, tzinfo=datetime.timezone.utc)
SHA = 'ab' * 32


def manifest(name: str, peer: str, data_dir: str, client: str = 'https://127.0.0.1:2379', pki: str = '/etc/kubernetes/pki/etcd',
             cluster: str = '', metrics: str = 'http://127.0.0.1:2381', image: str = 'registry.k8s.io/etcd:3.7.0-0') -> str:
    """An etcd static pod manifest shaped as kubeadm writes it (one --flag=value per line)."""
    flags = {
        'advertise-client-urls': client, 'cert-file': pki + '/server.crt', 'client-cert-auth': 'true', 'data-dir': data_dir,
        'initial-advertise-peer-urls': peer, 'initial-cluster': cluster or '%s=%s' % (name, peer), 'key-file': pki + '/server.key',
        'listen-client-urls': client, 'listen-metrics-urls': metrics, 'listen-peer-urls': peer, 'name': name,
        'peer-cert-file': pki + '/peer.crt', 'peer-client-cert-auth': 'true', 'peer-key-file': pki + '/peer.key',
        'peer-trusted-ca-file': pki + '/ca.crt', 'snapshot-count': '10000', 'trusted-ca-file': pki + '/ca.crt',
    }
    lines = ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: etcd', '  namespace: kube-system', 'spec:', '  containers:',
             '  - command:', '    - etcd'] + ['    - --%s=%s' % item for item in sorted(flags.items())]
    lines += ['    image: %s' % image, '    name: etcd', '  hostNetwork: true']
    return '\n'.join(lines) + '\n'


# names and manifests ---------------------------------------------------------------------------------------------------

def test_backup_names_carry_the_cluster_and_a_utc_stamp_and_sort_by_time():
    local = NOW.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    assert etcd.stamp(local) == '20261201T120005Z'
    name = etcd.backup_name('prod-eu', etcd.stamp(NOW))
    assert name == 'prod-eu-20261201T120005Z'
    assert etcd.stamp_of(name, 'prod-eu') == '20261201T120005Z'
    assert etcd.stamp_of(name, 'prod') is None  # prod's backups never include prod-eu's
    assert etcd.stamp_of('prod-eu-latest', 'prod-eu') is None
    assert etcd.stamp_of('prod.eu-20261201T120005Z', 'prod-eu') is None  # the name is matched literally, not as a pattern


def test_member_comes_from_the_kubeadm_manifest():
    text = manifest('cp2', 'https://10.0.0.12:2380', '/var/lib/etcd/', cluster='cp1=https://10.0.0.11:2380,cp2=https://10.0.0.12:2380')
    expected = {'name': 'cp2', 'peer_urls': ['https://10.0.0.12:2380'], 'data_dir': '/var/lib/etcd', 'version': '3.7.0'}
    assert etcd.member_of(text, 'etcd.yaml') == expected


def test_a_manifest_without_the_member_flags_is_refused_naming_them():
    with pytest.raises(etcd.BackupError, match=r'/m/etcd.yaml has no --name, --data-dir argument: it is not an etcd static pod manifest'):
        etcd.member_of('spec:\n  containers:\n  - command:\n    - etcd\n    - --initial-advertise-peer-urls=https://a:2380\n', '/m/etcd.yaml')


# the restored cluster --------------------------------------------------------------------------------------------------

MEMBERS = [{'name': 'cp2', 'peer_urls': ['https://10.0.0.12:2380']}, {'name': 'cp1', 'peer_urls': ['https://10.0.0.11:2380']},
           {'name': 'cp3', 'peer_urls': 'https://[fd00::13]:2380'}]


def test_initial_cluster_lists_every_member_sorted():
    assert etcd.initial_cluster(MEMBERS) == 'cp1=https://10.0.0.11:2380,cp2=https://10.0.0.12:2380,cp3=https://[fd00::13]:2380'
    assert etcd.initial_cluster(MEMBERS[:1]) == 'cp2=https://10.0.0.12:2380'
    two_urls = [{'name': 'a', 'peer_urls': ['https://10.0.0.1:2380', 'https://10.1.0.1:2380']}]
    assert etcd.initial_cluster(two_urls) == 'a=https://10.0.0.1:2380,a=https://10.1.0.1:2380'


@pytest.mark.parametrize('members, message', [
    ([], 'members: empty; a restore needs every control plane'),
    ([{'name': 'cp1', 'peer_urls': ['https://a:2380']}, {'name': 'cp1', 'peer_urls': ['https://b:2380']}], r'members\[1\]: cp1 is listed twice'),
    ([{'name': 'cp1', 'peer_urls': ['https://a:2380']}, {'name': 'cp2', 'peer_urls': ['https://a:2380']}],
     r"members\[1\] \(cp2\): peer URL https://a:2380 is another member's too"),
    ([{'name': 'cp 1', 'peer_urls': ['https://a:2380']}], r"members\[0\]: name 'cp 1' is not an etcd member name"),
    ([{'name': 'cp1=x', 'peer_urls': ['https://a:2380']}], r"members\[0\]: name 'cp1=x' is not"),
    ([{'name': 'cp1', 'peer_urls': []}], r'members\[0\] \(cp1\): no peer_urls'),
    ([{'name': 'cp1', 'peer_urls': ['10.0.0.1:2380']}], r"members\[0\] \(cp1\): '10.0.0.1:2380' is not a peer URL"),
    (['cp1'], r"members\[0\]: name None is not"),
])
def test_initial_cluster_refuses_what_etcd_would_misread(members, message):
    with pytest.raises(etcd.BackupError, match=message):
        etcd.initial_cluster(members)


def test_this_member_must_be_among_the_members_with_its_own_peer_urls():
    member = {'name': 'cp1', 'peer_urls': ['https://10.0.0.11:2380'], 'data_dir': '/var/lib/etcd'}
    assert etcd.member_problem(member, MEMBERS) is None
    assert 'etcd member cp4 (its static pod manifest says --name=cp4) is not among the members of the restore (cp1, cp2, cp3)' in \
        etcd.member_problem(dict(member, name='cp4'), MEMBERS)
    assert etcd.member_problem(dict(member, peer_urls=['https://10.9.9.9:2380']), MEMBERS) == \
        'members: cp1 has peer URLs https://10.0.0.11:2380, but its static pod manifest advertises https://10.9.9.9:2380'


def test_restore_arguments_follow_etcds_guidance_for_kubernetes():
    member = {'name': 'cp1', 'peer_urls': ['https://10.0.0.11:2380'], 'data_dir': '/var/lib/etcd'}
    staging, aside = etcd.restore_paths('/var/lib/etcd', '20261201T120005Z')
    assert (staging, aside) == ('/var/lib/etcd.kubeseed-restore-20261201T120005Z', '/var/lib/etcd.before-restore-20261201T120005Z')
    args = etcd.restore_arguments('/s.db', member, 'cp1=https://10.0.0.11:2380', 'tok', staging, etcd.BUMP_REVISION)
    assert args == ['snapshot', 'restore', '/s.db', '--name', 'cp1', '--initial-cluster', 'cp1=https://10.0.0.11:2380',
                    '--initial-cluster-token', 'tok', '--initial-advertise-peer-urls', 'https://10.0.0.11:2380', '--data-dir', staging,
                    '--bump-revision', '1000000000', '--mark-compacted']
    assert '--mark-compacted' not in etcd.restore_arguments('/s.db', member, 'c', 'tok', staging, 0)  # etcdutl refuses it without a bump


# tool output -----------------------------------------------------------------------------------------------------------

def test_tool_output_is_parsed_or_refused_with_what_was_printed():
    assert etcd.snapshot_status('{"hash":3377694077,"revision":2,"totalKey":1,"totalSize":20480,"version":"3.7.0"}') == \
        {'revision': 2, 'total_keys': 1, 'total_size': 20480, 'hash': 3377694077, 'storage_version': '3.7.0'}
    with pytest.raises(etcd.BackupError, match='etcdutl snapshot status printed no status .*: nope'):
        etcd.snapshot_status('nope')
    assert etcd.server_version('[{"Endpoint":"https://127.0.0.1:2379","Status":{"version":"3.6.8"}}]') == '3.6.8'
    with pytest.raises(etcd.BackupError, match='no server version'):
        etcd.server_version('[]')
    assert etcd.running_pods('{"containers":[{"metadata":{"name":"etcd"}},{"metadata":{"name":"kube-apiserver"}}]}') == {'etcd', 'kube-apiserver'}
    assert etcd.running_pods('{"containers":[]}') == set()


def test_a_missing_tool_names_the_package_source_and_what_to_install():
    message = etcd.missing_tool_message('etcdutl', 'etcdutl_path', 'etcdutl', 'cp1', '3.7.0')
    assert message.startswith('etcdutl was not found on cp1 (etcdutl_path=etcdutl; looked in /usr/local/bin, /usr/bin and PATH).')
    assert 'kubeseed_package_source: offline the kube_packages role installs etcdctl and etcdutl from the bundle' in message
    assert 'kubeseed_package_source: online have no etcd tools: install etcdctl and etcdutl of etcd 3.7.0' in message
    assert 'cri-tools' in etcd.missing_tool_message('crictl', 'crictl_path', 'crictl', 'cp1')


def test_wait_until_returns_the_seconds_or_fails_with_the_last_detail():
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
    answers = iter([(False, 'a'), (False, 'b'), (True, 'c')])
    assert etcd.wait_until(lambda: next(answers), 10, 'x', interval=2, clock=lambda: now[0], sleep=sleep) == 4
    now[0] = 0.0
    with pytest.raises(etcd.BackupError, match=r'^etcd did not stop: not within 3 s \(still 4\.0\)$'):
        etcd.wait_until(lambda: (False, 'still %.1f' % now[0]), 3, 'etcd did not stop', interval=2, clock=lambda: now[0], sleep=sleep)


# the controller's backups ----------------------------------------------------------------------------------------------

def write_backup(directory: pathlib.Path, cluster: str, when: str, version: str = '1.37.2', corrupt: str = '', metadata: bool = True) -> pathlib.Path:
    path = directory / etcd.backup_name(cluster, when)
    path.mkdir(parents=True)
    files = {}
    for name in etcd.BACKUP_FILES:
        data = ('%s of %s' % (name, path.name)).encode()
        (path / name).write_bytes(data)
        files[name] = {'sha256': hashlib.sha256(data).hexdigest(), 'size': len(data)}
    if metadata:
        status = {'revision': 7, 'total_keys': 3, 'hash': 1}
        meta = etcd.backup_metadata(name=path.name, cluster_name=cluster, kubernetes_version=version, etcd_version='3.7.0',
                                    created='2026-12-01T12:00:00Z', node='cp1', status=status, files=files)
        (path / etcd.METADATA_FILE).write_text(json.dumps(meta), encoding='utf-8')
    if corrupt:
        (path / corrupt).write_bytes(b'X' * files[corrupt]['size'])
    return path


def test_metadata_records_what_a_restore_checks():
    meta = etcd.backup_metadata(name='c-1', cluster_name='c', kubernetes_version='v1.37.2', etcd_version='3.7.0', created='t', node='cp1',
                                status={'revision': 9, 'total_keys': 2, 'hash': 5}, files={'x': {'sha256': SHA, 'size': 1}})
    assert meta == {'format': 1, 'name': 'c-1', 'created': 't', 'cluster_name': 'c', 'kubernetes_version': '1.37.2', 'etcd_version': '3.7.0',
                    'node': 'cp1', 'revision': 9, 'total_keys': 2, 'etcd_hash': 5, 'files': {'x': {'sha256': SHA, 'size': 1}}}
    assert etcd.metadata_problem(meta) == 'has no sha256 and size of etcd-snapshot.db'
    assert etcd.metadata_problem({'format': 2}) == 'is not the metadata of a kubeseed etcd backup (format 1)'


def test_listing_reads_only_this_clusters_backups_newest_first(tmp_path):
    write_backup(tmp_path, 'prod', '20261201T100000Z')
    write_backup(tmp_path, 'prod', '20261203T100000Z')
    write_backup(tmp_path, 'prod', '20261202T100000Z', metadata=False)
    write_backup(tmp_path, 'prod-eu', '20261204T100000Z')
    (tmp_path / 'notes.txt').write_text('mine')
    backups = etcd.list_backups(str(tmp_path), 'prod')
    assert [b['name'] for b in backups] == ['prod-20261203T100000Z', 'prod-20261202T100000Z', 'prod-20261201T100000Z']
    assert backups[1]['problem'] == 'has no metadata.json (an interrupted backup)'
    assert etcd.describe(backups) == 'prod-20261203T100000Z (Kubernetes 1.37.2, etcd revision 7); prod-20261201T100000Z (Kubernetes 1.37.2, etcd revision 7)'
    assert etcd.list_backups(str(tmp_path / 'none'), 'prod') == []


def test_retention_keeps_the_newest_usable_backups_and_drops_interrupted_older_runs():
    def entry(when, problem=None):
        return {'name': 'c-' + when, 'stamp': when, 'problem': problem, 'path': '/b/c-' + when}
    backups = [entry('5'), entry('4', 'has no metadata.json'), entry('3'), entry('2'), entry('1', 'broken'), entry('0')]
    assert [b['name'] for b in etcd.retention(backups, 2)] == ['c-0', 'c-1', 'c-2', 'c-4']
    assert [b['name'] for b in etcd.retention(backups, 2, protect={'c-2'})] == ['c-0', 'c-1', 'c-4']
    assert etcd.retention(backups, 0) == []  # 0 keeps everything
    assert [b['name'] for b in etcd.retention(backups, 10)] == ['c-1', 'c-4']
    newer_interrupted = [entry('9', 'has no metadata.json'), entry('5')]
    assert etcd.retention(newer_interrupted, 1) == []  # maybe a backup still being fetched: never removed
    assert etcd.retention([entry('4', 'broken')], 1) == []


def test_an_empty_choice_is_refused_with_the_backups_there_are(tmp_path):
    write_backup(tmp_path, 'prod', '20261201T100000Z')
    write_backup(tmp_path, 'prod', '20261203T100000Z')
    with pytest.raises(etcd.BackupError) as error:
        etcd.choose(str(tmp_path), 'prod', '')
    assert str(error.value) == (
        'kubeseed_restore_backup is empty: name the backup to restore, e.g. -e kubeseed_restore_backup=prod-20261203T100000Z. '
        'Backups of cluster prod in %s, newest first: prod-20261203T100000Z (Kubernetes 1.37.2, etcd revision 7); '
        'prod-20261201T100000Z (Kubernetes 1.37.2, etcd revision 7)' % tmp_path)
    with pytest.raises(etcd.BackupError, match='kubeseed_restore_backup is empty and there is no backup of cluster other in'):
        etcd.choose(str(tmp_path), 'other', '')


def test_a_choice_by_name_or_path_is_found_and_an_unknown_one_gets_the_closest_name(tmp_path):
    path = write_backup(tmp_path, 'prod', '20261201T100000Z')
    assert etcd.choose(str(tmp_path), 'prod', path.name)['path'] == str(path)
    assert etcd.choose(str(tmp_path / 'elsewhere'), 'prod', str(path))['path'] == str(path)
    with pytest.raises(etcd.BackupError, match=r'is not a backup directory \(did you mean prod-20261201T100000Z\?\)\. Backups of cluster prod'):
        etcd.choose(str(tmp_path), 'prod', 'prod-20261201T100001Z')
    broken = write_backup(tmp_path, 'prod', '20261202T100000Z', metadata=False)
    with pytest.raises(etcd.BackupError, match='has no metadata.json .*; it cannot be restored'):
        etcd.choose(str(tmp_path), 'prod', broken.name)


def test_a_backup_of_another_cluster_or_kubernetes_version_is_refused_with_the_way_forward(tmp_path):
    other = etcd.read_backup(str(write_backup(tmp_path, 'staging', '20261201T100000Z')))
    assert 'was taken from cluster staging, but this inventory\'s cluster is prod (kubeseed_cluster_name); nothing was touched' in \
        etcd.compatibility_problem(other, 'prod', '1.37.2')
    older = etcd.read_backup(str(write_backup(tmp_path, 'prod', '20261201T100000Z', version='1.36.3')))
    problem = etcd.compatibility_problem(older, 'prod', 'v1.37.2')
    assert 'holds the state of Kubernetes 1.36.3, but the cluster runs 1.37.2 (kubeseed_kubernetes_version); nothing was touched' in problem
    assert 'restore it onto a cluster of Kubernetes 1.36.3 (set kubeseed_kubernetes_version: 1.36.3 and install that version), then upgrade' in problem
    assert etcd.compatibility_problem(older, 'prod', '1.36.3') is None
    assert etcd.compatibility_problem(older, 'prod', None) is None


def test_damaged_files_are_found_by_size_and_sha256(tmp_path):
    good = etcd.read_backup(str(write_backup(tmp_path, 'prod', '20261201T100000Z')))
    assert etcd.file_problems(good) == []
    bad = etcd.read_backup(str(write_backup(tmp_path, 'prod', '20261202T100000Z', corrupt=etcd.SNAPSHOT_FILE)))
    assert etcd.file_problems(bad) == ['%s/etcd-snapshot.db does not have the sha256 metadata.json records' % bad['path']]
    os.unlink(os.path.join(bad['path'], etcd.PKI_FILE))
    assert etcd.file_problems(bad)[1] == '%s/pki.tar.gz is missing' % bad['path']
    with pytest.raises(etcd.BackupError, match='is damaged, nothing was touched: .*etcd-snapshot.db does not have the sha256'):
        etcd.verified(str(tmp_path), 'prod', 'prod-20261202T100000Z', '1.37.2')
    snapshot = os.path.join(good['path'], etcd.SNAPSHOT_FILE)
    assert etcd.checksum_problem(snapshot, good['metadata']['files'][etcd.SNAPSHOT_FILE]['sha256']) is None
    assert 'does not have the sha256 of the backup (abababababab...)' in etcd.checksum_problem(snapshot, SHA)


def test_the_pki_archive_is_private(tmp_path):
    (tmp_path / 'pki' / 'etcd').mkdir(parents=True)
    (tmp_path / 'pki' / 'ca.key').write_text('-----BEGIN RSA PRIVATE KEY-----\nx\n')
    (tmp_path / 'pki' / 'etcd' / 'ca.crt').write_text('cert')
    etcd.write_pki_archive(str(tmp_path / 'pki'), str(tmp_path / 'out' / 'pki.tar.gz'))
    assert os.stat(tmp_path / 'out' / 'pki.tar.gz').st_mode & 0o777 == 0o600
    with tarfile.open(tmp_path / 'out' / 'pki.tar.gz') as archive:
        assert sorted(archive.getnames()) == ['pki', 'pki/ca.key', 'pki/etcd', 'pki/etcd/ca.crt']
    with pytest.raises(etcd.BackupError, match='is not a directory: is this a kubeadm control plane'):
        etcd.write_pki_archive(str(tmp_path / 'nothing'), str(tmp_path / 'x.tar.gz'))


# real runs on loopback -------------------------------------------------------------------------------------------------

TOOLS = ('kubeadm', 'etcd', 'etcdctl', 'etcdutl')


@pytest.fixture(scope='module')
def bundle_bin() -> pathlib.Path:
    """bin/ of the offline bundle of the current recipe (tools/bundle/bundle.py path)."""
    proc = subprocess.run([sys.executable, str(ROOT / 'tools' / 'bundle' / 'bundle.py'), 'path'], capture_output=True, text=True, check=False)
    path = pathlib.Path(proc.stdout.strip() or '/nonexistent') / 'bin'
    missing = [tool for tool in TOOLS if not (path / tool).is_file()]
    if proc.returncode != 0 or missing:
        reason = 'the offline bundle at %s lacks %s: build it with `make bundle` to run etcd on loopback' % (path.parent, ', '.join(missing))
        if os.environ.get('CI'):
            pytest.fail(reason + ' (CI must run these)')
        pytest.skip(reason)
    return path


HANDED_OUT: set = set()  # never the same port twice in a run (a port is only bound once etcd starts)


def free_port() -> int:
    """A free port on 127.0.0.1 below the kernel's ephemeral range: a port the kernel picked (bind to 0) can be taken, before
    etcd listens on it, as the source port of a connection (one member dialling its peers), and etcd then fails to start."""
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range', encoding='ascii') as handle:
            low = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _attempt in range(200):
        port = random.randint(max(1024, low - 12000), low - 1)
        if port in HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(('127.0.0.1', port))
            except OSError:
                continue
            HANDED_OUT.add(port)
            return port
    raise AssertionError('no free port below %d on 127.0.0.1' % low)


def run(argv: list) -> tuple:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return proc.returncode, proc.stdout, proc.stderr


class Loopback:
    """etcd members on 127.0.0.1 with certificates from the bundle's kubeadm, each described by a kubeadm-shaped manifest."""

    def __init__(self, bindir: pathlib.Path, work: pathlib.Path, names: list) -> None:
        self.bin, self.work = bindir, work
        self.pki = work / 'pki'
        # kubeadm refuses a loopback advertise address; this TEST-NET-1 address only ends up in the certificates (as in tools/localcp).
        config = work / 'kubeadm.yaml'
        config.write_text('apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 192.0.2.10\n'
                          'nodeRegistration:\n  name: loopback\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n'
                          'kubernetesVersion: v1.37.2\ncertificatesDir: %s\netcd:\n  local:\n    serverCertSANs: [127.0.0.1]\n'
                          '    peerCertSANs: [127.0.0.1]\n' % self.pki, encoding='utf-8')
        for phase in ('etcd-ca', 'etcd-server', 'etcd-peer', 'etcd-healthcheck-client'):
            rc, out, err = run([str(bindir / 'kubeadm'), 'init', 'phase', 'certs', phase, '--config', str(config)])
            assert rc == 0, out + err
        ports = {name: (free_port(), free_port(), free_port()) for name in names}
        peers = {name: 'https://127.0.0.1:%d' % ports[name][1] for name in names}
        cluster = ','.join('%s=%s' % item for item in peers.items())
        self.manifests, self.clients, self.procs = {}, {}, {}
        for name in names:
            self.clients[name] = 'https://127.0.0.1:%d' % ports[name][0]
            self.manifests[name] = manifest(name, peers[name], str(work / name / 'etcd'), client=self.clients[name], pki=str(self.pki / 'etcd'),
                                            cluster=cluster, metrics='http://127.0.0.1:%d' % ports[name][2])
            (work / name).mkdir()
        self.runner = etcd.Runner(run, {'etcdctl': str(bindir / 'etcdctl'), 'etcdutl': str(bindir / 'etcdutl')})

    def member(self, name: str) -> dict:
        return etcd.member_of(self.manifests[name], name)

    def start(self, *names: str) -> None:
        for name in names:
            flags = etcd.manifest_flags(self.manifests[name])
            flags.update({'initial-cluster-token': 'loopback', 'log-level': 'error', 'unsafe-no-fsync': 'true'})
            with open(self.work / name / 'etcd.log', 'ab') as log:
                self.procs[name] = subprocess.Popen([str(self.bin / 'etcd')] + ['--%s=%s' % item for item in flags.items()],
                                                    stdout=log, stderr=subprocess.STDOUT)
        for name in names:
            etcd.wait_until(lambda n=name: self._alive_and_healthy(n), 60, 'etcd %s' % name, interval=0.1)

    def _alive_and_healthy(self, name: str) -> tuple:
        assert self.procs[name].poll() is None, 'etcd %s exited: %s' % (name, (self.work / name / 'etcd.log').read_text()[-2000:])
        return etcd.etcd_health(self.clients[name], str(self.pki / 'etcd'), timeout=5)

    def stop(self) -> None:
        """Kill every member (a graceful stop hands leadership over and takes seconds; the restore replaces their data anyway)."""
        for proc in self.procs.values():
            proc.kill()
        for proc in self.procs.values():
            proc.wait(timeout=15)
        self.procs = {}

    def etcdctl(self, name: str, *args: str) -> str:
        return self.runner('etcdctl', ['--endpoints', self.clients[name], '--cacert', self.pki / 'etcd' / 'ca.crt',
                                       '--cert', self.pki / 'etcd' / 'healthcheck-client.crt',
                                       '--key', self.pki / 'etcd' / 'healthcheck-client.key'] + list(args), 'etcdctl ' + args[0])

    def keys(self, name: str) -> list:
        return self.etcdctl(name, 'get', '/kubeseed/', '--prefix', '--keys-only').split()


@pytest.fixture
def loopback(bundle_bin, tmp_path):
    clusters = []

    def make(*names):
        clusters.append(Loopback(bundle_bin, tmp_path, list(names)))
        return clusters[-1]
    yield make
    for cluster in clusters:
        cluster.stop()


def test_a_single_member_is_saved_restored_and_serves_the_snapshot(loopback, tmp_path):
    etcd_ = loopback('cp1')
    etcd_.start('cp1')
    etcd_.etcdctl('cp1', 'put', '/kubeseed/before', 'kept')
    result = etcd.save(etcd_.runner, str(tmp_path / 'backups'), cluster_name='loop', kubernetes_version='1.37.2', endpoint=etcd_.clients['cp1'],
                       etcd_pki_dir=str(etcd_.pki / 'etcd'), pki_dir=str(etcd_.pki), now=NOW, node='cp1')
    etcd_.etcdctl('cp1', 'put', '/kubeseed/after', 'lost')
    etcd_.stop()

    directory = tmp_path / 'backups' / 'loop-20261201T120005Z'
    assert result['directory'] == str(directory) and result['name'] == 'loop-20261201T120005Z'
    assert sorted(os.listdir(directory)) == ['etcd-snapshot.db', 'metadata.json', 'pki.tar.gz']
    assert {oct(os.stat(directory / f).st_mode & 0o777) for f in os.listdir(directory)} == {'0o600'}
    assert os.stat(directory).st_mode & 0o777 == 0o700
    meta = json.loads((directory / 'metadata.json').read_text())
    assert meta == result['metadata'] and meta['etcd_version'] == '3.7.0' and meta['revision'] == result['revision'] >= 2
    assert meta['files']['etcd-snapshot.db']['sha256'] == hashlib.sha256((directory / 'etcd-snapshot.db').read_bytes()).hexdigest()
    assert etcd.verified(str(tmp_path / 'backups'), 'loop', result['name'], '1.37.2')['metadata'] == meta

    member = etcd_.member('cp1')
    restored = etcd.restore(etcd_.runner, result['snapshot']['path'], member=member, members=[member], token='loop-restore-1', now=NOW)
    assert restored['previous_data_dir'] == member['data_dir'] + '.before-restore-20261201T120005Z'
    assert os.path.isdir(os.path.join(restored['previous_data_dir'], 'member'))  # the old data stays, renamed
    etcd_.start('cp1')
    assert etcd_.keys('cp1') == ['/kubeseed/before']
    status = json.loads(etcd_.etcdctl('cp1', 'endpoint', 'status', '-w', 'json'))
    assert status[0]['Status']['header']['revision'] > etcd.BUMP_REVISION  # bumped: watchers relist instead of missing events
    with pytest.raises(etcd.BackupError, match='required revision has been compacted'):
        etcd_.etcdctl('cp1', 'get', '/kubeseed/before', '--rev', str(meta['revision']))


def test_three_members_are_restored_into_one_new_cluster(loopback, tmp_path):
    etcd_ = loopback('cp1', 'cp2', 'cp3')
    etcd_.start('cp1', 'cp2', 'cp3')
    old_ids = {m['ID'] for m in json.loads(etcd_.etcdctl('cp1', 'member', 'list', '-w', 'json'))['members']}
    etcd_.etcdctl('cp2', 'put', '/kubeseed/before', 'kept')
    result = etcd.save(etcd_.runner, str(tmp_path / 'backups'), cluster_name='loop', kubernetes_version='1.37.2', endpoint=etcd_.clients['cp1'],
                       etcd_pki_dir=str(etcd_.pki / 'etcd'), pki_dir=str(etcd_.pki), now=NOW)
    etcd_.etcdctl('cp3', 'put', '/kubeseed/after', 'lost')
    etcd_.stop()

    members = [etcd_.member(name) for name in ('cp1', 'cp2', 'cp3')]
    for member in members:
        etcd.restore(etcd_.runner, result['snapshot']['path'], member=member, members=members, token='loop-restore-3', now=NOW)
    etcd_.start('cp1', 'cp2', 'cp3')
    for name in ('cp1', 'cp2', 'cp3'):
        assert etcd_.keys(name) == ['/kubeseed/before'], name
    listed = json.loads(etcd_.etcdctl('cp2', 'member', 'list', '-w', 'json'))['members']
    assert sorted(m['name'] for m in listed) == ['cp1', 'cp2', 'cp3']
    assert not {m['ID'] for m in listed} & old_ids  # a new cluster: no member of the old one could join it
    etcd_.etcdctl('cp3', 'put', '/kubeseed/new', 'written after the restore')  # it has a quorum and takes writes
    assert etcd_.keys('cp1') == ['/kubeseed/before', '/kubeseed/new']


def test_members_through_the_json_gateway_list_check_and_remove_without_losing_quorum(loopback):
    """node_remove's view of etcd (module_utils/_etcd_members) against three real members. The leader goes down (the hard
    case: its removal must wait for the new election); removing a healthy member is then refused, removing the dead
    leader is not, and the gateway removes it."""
    etcd_ = loopback('cp1', 'cp2', 'cp3')
    etcd_.start('cp1', 'cp2', 'cp3')
    listed = Members(etcd_.clients['cp1'], str(etcd_.pki / 'etcd'), timeout=10).list()
    assert sorted(m['name'] for m in listed) == ['cp1', 'cp2', 'cp3'] and all(m['id'].isdigit() for m in listed)
    by_id = {m['id']: m['name'] for m in listed}
    dead = by_id[Members(etcd_.clients['cp1'], str(etcd_.pki / 'etcd'), timeout=10).leader()]
    asker = next(n for n in ('cp1', 'cp2', 'cp3') if n != dead)
    members = Members(etcd_.clients[asker], str(etcd_.pki / 'etcd'), timeout=10)
    assert all(members.healthy(m) for m in listed)
    etcd_.procs[dead].kill()
    etcd_.procs[dead].wait(timeout=15)
    healthy = {m['name']: members.healthy(m) for m in listed}
    assert healthy == {n: n != dead for n in ('cp1', 'cp2', 'cp3')}
    assert 'need 2 healthy' in removal_problem(listed, [asker], healthy)
    assert removal_problem(listed, [dead], healthy) is None
    members.remove(next(m['id'] for m in listed if m['name'] == dead))
    assert sorted(m['name'] for m in members.list()) == sorted(n for n in ('cp1', 'cp2', 'cp3') if n != dead)
