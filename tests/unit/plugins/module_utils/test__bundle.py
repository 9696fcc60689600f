# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline bundle: manifest selection, fetch planning, checksum refusal, missing packages."""
from __future__ import annotations

import hashlib
import io
import json
import os

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _bundle as bundle

MANIFEST = {
    'schema': 1, 'kubernetes_version': '1.37.2',
    'files': [
        {'path': 'bin/kubeadm', 'sha256': 'a' * 64, 'size': 1, 'kind': 'binary', 'component': 'kubeadm', 'version': '1.37.2'},
        {'path': 'bin/kubelet', 'sha256': 'b' * 64, 'size': 2, 'kind': 'binary', 'component': 'kubelet', 'version': '1.37.2'},
        {'path': 'cni/bridge', 'sha256': 'c' * 64, 'size': 3, 'kind': 'cni', 'component': 'bridge', 'version': '1.10.0'},
        {'path': 'debs/runc_1.1.5_amd64.deb', 'sha256': 'd' * 64, 'size': 4, 'kind': 'deb', 'component': 'runc', 'version': '1.1.5+ds1-1'},
        {'path': 'debs/conntrack_1.4.7_amd64.deb', 'sha256': 'e' * 64, 'size': 0, 'kind': 'deb', 'component': 'conntrack',
         'version': '1:1.4.7-1+b2'},
    ],
}


def test_parse_rejects_what_is_not_a_manifest():
    with pytest.raises(bundle.BundleError, match='not a kubeseed bundle manifest'):
        bundle.parse_manifest('{"schema": 2, "files": []}', 'http://x')
    with pytest.raises(bundle.BundleError, match='not a kubeseed bundle manifest'):
        bundle.parse_manifest('<html>', 'http://x')
    with pytest.raises(bundle.BundleError, match=r'http://x/manifest.json is not a kubeseed bundle manifest \(schema 1 with a file list\)'):
        bundle.parse_manifest('{"schema": true, "files": []}', 'http://x')
    with pytest.raises(bundle.BundleError, match='not a kubeseed bundle manifest'):
        bundle.parse_manifest('[1]', 'http://x')
    assert bundle.parse_manifest(json.dumps(MANIFEST), 'http://x')['kubernetes_version'] == '1.37.2'
    assert bundle.SCHEMA == MANIFEST['schema']


@pytest.mark.parametrize('change, problem', [
    ({'path': '/etc/passwd'}, "files[1] path '/etc/passwd' is not a relative path inside the bundle"),
    ({'path': 'bin/../../etc/passwd'}, 'is not a relative path inside the bundle'),
    ({'path': 'manifest.json'}, 'is not a relative path inside the bundle'),
    ({'path': 'bin/kubeadm'}, 'files[1] (bin/kubeadm) lists a path twice'),
    ({'sha256': 'B' * 64}, "files[1] (bin/kubelet) sha256 'BBBB"),
    ({'sha256': 'b' * 63}, 'is not 64 lowercase hex digits'),
    ({'size': -1}, 'files[1] (bin/kubelet) size -1 is not a byte count'),
    ({'size': '2'}, 'is not a byte count'),
    ({'size': None}, 'is not a byte count'),
    ({'kind': ''}, "files[1] (bin/kubelet) kind '' is not a non-empty string"),
    ({'version': None}, 'version None is not a non-empty string'),
])
def test_parse_checks_every_file_entry(change, problem):
    files = [dict(entry) for entry in MANIFEST['files']]
    files[1].update(change)
    files[1] = {key: value for key, value in files[1].items() if value is not None}
    with pytest.raises(bundle.BundleError) as refused:
        bundle.parse_manifest(json.dumps(dict(MANIFEST, files=files)), 'http://x')
    assert str(refused.value).startswith('http://x/manifest.json is not a kubeseed bundle manifest: files[')
    assert problem in str(refused.value)


def test_sha256_file_is_none_for_a_missing_file(tmp_path):
    (tmp_path / 'f').write_bytes(b'data')
    assert bundle.sha256_file(str(tmp_path / 'f')) == hashlib.sha256(b'data').hexdigest()
    assert bundle.sha256_file(str(tmp_path / 'missing')) is None


def test_select_by_prefix_and_names():
    chosen = bundle.select(MANIFEST, [{'prefix': 'bin/', 'names': ['kubelet'], 'dest': '/usr/local/bin', 'mode': '0755'},
                                      {'prefix': 'cni/', 'names': [], 'dest': '/opt/cni/bin', 'mode': '0755'}])
    assert chosen == [('bin/kubelet', 'b' * 64, '/usr/local/bin/kubelet', '0755'), ('cni/bridge', 'c' * 64, '/opt/cni/bin/bridge', '0755')]


def test_select_names_what_the_bundle_lacks():
    with pytest.raises(bundle.BundleError, match='no kubectl under bin/ .*build it again'):
        bundle.select(MANIFEST, [{'prefix': 'bin/', 'names': ['kubectl', 'kubelet'], 'dest': '/x', 'mode': '0755'}])
    with pytest.raises(bundle.BundleError, match='no files under images/'):
        bundle.select(MANIFEST, [{'prefix': 'images/', 'names': [], 'dest': '/x', 'mode': '0644'}])


def test_plan_fetches_missing_and_different_files_only(tmp_path):
    same = tmp_path / 'same'
    same.write_bytes(b'same')
    os.chmod(same, 0o755)
    wrong_mode = tmp_path / 'mode'
    wrong_mode.write_bytes(b'mode')
    os.chmod(wrong_mode, 0o644)
    chosen = [
        ('bin/same', hashlib.sha256(b'same').hexdigest(), str(same), '0755'),
        ('bin/mode', hashlib.sha256(b'mode').hexdigest(), str(wrong_mode), '0755'),
        ('bin/other', hashlib.sha256(b'new').hexdigest(), str(same), '0755'),
        ('bin/missing', 'f' * 64, str(tmp_path / 'missing'), '0755'),
    ]
    fetch, modes = bundle.plan(chosen)
    assert [f[0] for f in fetch] == ['bin/other', 'bin/missing']
    assert [m[0] for m in modes] == ['bin/mode']


def test_install_refuses_a_download_with_another_checksum(tmp_path):
    dest = tmp_path / 'kubeadm'
    dest.write_bytes(b'old')
    with pytest.raises(bundle.BundleError, match='checksum mismatch for http://x/bin/kubeadm'):
        bundle.install(io.BytesIO(b'tampered'), hashlib.sha256(b'expected').hexdigest(), str(dest), '0755', 'http://x/bin/kubeadm')
    assert dest.read_bytes() == b'old'
    assert [p.name for p in tmp_path.iterdir()] == ['kubeadm']


def test_install_writes_with_mode(tmp_path):
    dest = tmp_path / 'sub' / 'kubeadm'
    bundle.install(io.BytesIO(b'binary'), hashlib.sha256(b'binary').hexdigest(), str(dest), '0755', 'x')
    assert dest.read_bytes() == b'binary'
    assert os.stat(dest).st_mode & 0o777 == 0o755


def test_missing_debs_compares_name_and_exact_version():
    query = 'installed runc 1.1.5+ds1-1\nconfig-files conntrack 1:1.4.7-1+b2\ninstalled socat 1.7.4.4-2\n'
    assert [f['component'] for f in bundle.missing_debs(MANIFEST, query)] == ['conntrack']
    query = 'installed runc 1.1.4\ninstalled conntrack 1:1.4.7-1+b2\n'
    assert [f['component'] for f in bundle.missing_debs(MANIFEST, query)] == ['runc']
    assert bundle.missing_debs(MANIFEST, 'installed runc 1.1.5+ds1-1\ninstalled conntrack 1:1.4.7-1+b2\n') == []


def test_missing_debs_of_a_set_only_when_asked():
    """keepalived (set ha) is installed on the hosts that ask for the set, with the host packages; a bundle built before
    the set existed is refused with what to do."""
    keepalived = {'path': 'debs/keepalived_2.2.7_amd64.deb', 'sha256': 'f' * 64, 'size': 5, 'kind': 'deb-ha', 'component': 'keepalived',
                  'version': '1:2.2.7-1+b2'}
    manifest = dict(MANIFEST, files=MANIFEST['files'] + [keepalived])
    query = 'installed runc 1.1.5+ds1-1\ninstalled conntrack 1:1.4.7-1+b2\n'
    assert bundle.missing_debs(manifest, query) == []
    assert [f['component'] for f in bundle.missing_debs(manifest, query, ('ha',))] == ['keepalived']
    assert [f['component'] for f in bundle.missing_debs(manifest, 'installed runc 1.1.5+ds1-1\n', ('ha',))] == ['conntrack', 'keepalived']
    assert bundle.missing_debs(manifest, query + 'installed keepalived 1:2.2.7-1+b2\n', ('ha',)) == []
    with pytest.raises(bundle.BundleError, match=r'has no packages of the set ha; it was built before the set existed: build it again'):
        bundle.missing_debs(MANIFEST, query, ('ha',))


def test_source_reads_manifest_and_fetches_verified_files_from_a_file_url(tmp_path):
    served = tmp_path / 'bundle'
    (served / 'bin').mkdir(parents=True)
    (served / 'bin' / 'kubeadm').write_bytes(b'kubeadm binary')
    manifest = dict(MANIFEST, files=[{'path': 'bin/kubeadm', 'sha256': hashlib.sha256(b'kubeadm binary').hexdigest(), 'size': 14,
                                      'kind': 'binary', 'component': 'kubeadm', 'version': '1.37.2'}])
    (served / 'manifest.json').write_text(json.dumps(manifest), encoding='utf-8')
    source = bundle.Source('file://%s/' % served, timeout=5, validate_certs=True)
    assert source.manifest()['files'][0]['path'] == 'bin/kubeadm'
    source.fetch('bin/kubeadm', manifest['files'][0]['sha256'], str(tmp_path / 'out' / 'kubeadm'), '0755')
    assert (tmp_path / 'out' / 'kubeadm').read_bytes() == b'kubeadm binary'
    with pytest.raises(bundle.BundleError, match='checksum mismatch'):
        source.fetch('bin/kubeadm', 'f' * 64, str(tmp_path / 'out' / 'other'), '0755')


def test_source_names_the_url_it_cannot_read(tmp_path):
    source = bundle.Source('file://%s' % (tmp_path / 'missing'), timeout=5, validate_certs=True)
    with pytest.raises(bundle.BundleError, match='cannot read file://.*/missing/manifest.json.*kubeseed_offline_bundle_url'):
        source.manifest()


def test_file_modes_must_be_octal_strings():
    from ansible_collections.kubeseed.cluster.plugins.module_utils._bundle import mode_problems
    assert mode_problems([{'mode': '0755'}, {'mode': '644'}, {}]) == []
    problems = mode_problems([{'mode': '493'}, {'mode': 'rwxr-xr-x'}, {'mode': '0755'}])
    assert [p.split(':')[0] for p in problems] == ['items[0].mode', 'items[1].mode']
    assert "quote it, e.g. '0755'" in problems[0]


def test_the_checksum_cache_hashes_a_file_once_and_again_after_any_change(tmp_path):
    """No-op runs read no binary whose stat is unchanged; a write, a chmod or a replacement is seen (ctime) and hashed."""
    path, store = tmp_path / 'kubelet', str(tmp_path / 'cache' / 'bundle-files.json')
    path.write_bytes(b'kubelet v1')
    sha = hashlib.sha256(b'kubelet v1').hexdigest()
    cache = bundle.ChecksumCache(store)
    assert cache(str(path)) == sha and cache.hashed == 1
    cache.save()
    assert oct(os.stat(store).st_mode & 0o777) == '0o644'

    again = bundle.ChecksumCache(store)
    assert again(str(path)) == sha and again.hashed == 0  # read from the cache: the file was not opened
    assert not again.dirty

    path.write_bytes(b'kubelet v2')  # same size, rewritten in place: ctime (and mtime) move
    assert bundle.ChecksumCache(store)(str(path)) == hashlib.sha256(b'kubelet v2').hexdigest()
    cache = bundle.ChecksumCache(store)
    cache(str(path))
    cache.save()
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns))  # atime only: ctime moves, so it is hashed again (never a wrong answer)
    changed = bundle.ChecksumCache(store)
    assert changed(str(path)) == hashlib.sha256(b'kubelet v2').hexdigest() and changed.hashed == 1
    assert bundle.ChecksumCache(store)(str(tmp_path / 'missing')) is None


def test_a_broken_cache_file_is_ignored_and_plan_uses_the_cache(tmp_path):
    store = tmp_path / 'bundle-files.json'
    store.write_text('{not json')
    dest = tmp_path / 'kubeadm'
    dest.write_bytes(b'x')
    dest.chmod(0o755)
    cache = bundle.ChecksumCache(str(store))
    sha = hashlib.sha256(b'x').hexdigest()
    assert bundle.plan([('bin/kubeadm', sha, str(dest), '0755')], checksum=cache) == ([], [])
    # a lying cache entry for an unchanged stat is believed: the stat is the contract (as git's index); a wrong sha there
    # makes the file be fetched again, never kept wrongly
    cache.entries[str(dest)]['sha256'] = '0' * 64
    assert bundle.plan([('bin/kubeadm', sha, str(dest), '0755')], checksum=cache)[0] == [('bin/kubeadm', sha, str(dest), '0755')]
