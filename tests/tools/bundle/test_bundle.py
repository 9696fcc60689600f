"""The built offline bundle matches its manifest, the requested version and kubeadm's image list."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import pathlib
import subprocess
import tarfile

import pytest

KUBERNETES_BINARIES = ('kubeadm', 'kubelet', 'kubectl', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy')
OTHER_BINARIES = ('etcd', 'etcdctl', 'etcdutl', 'crictl')
CNI_PLUGINS = ('bridge', 'host-local', 'loopback', 'portmap')
RUNTIME_BINARIES = ('containerd', 'containerd-shim-runc-v2', 'ctr', 'runc')
REQUIRED_DEBS = ('conntrack', 'socat', 'ebtables', 'ethtool', 'iptables')


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open('rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _run(*cmd: str) -> str:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f'{cmd} failed: {proc.stderr}'
    return proc.stdout


def test_manifest_schema(manifest: dict, requested_version: str) -> None:
    assert manifest['schema'] == 1
    assert manifest['kubernetes_version'] == requested_version
    for key in ('kubernetes_version', 'recipe', 'created', 'files', 'images', 'debs', 'components'):
        assert key in manifest, key
    for key in ('etcd', 'coredns', 'containerd', 'runc', 'crictl', 'cni_plugins'):
        assert manifest['components'][key], key
    for item in manifest['files']:
        assert set(item) >= {'path', 'sha256', 'size', 'kind', 'component', 'version'}, item
        kinds = {'binary', 'runtime', 'deb', 'image', 'app-image', 'addon-image', 'cni', 'index'}
        assert item['kind'] in kinds | {'deb-%s' % name for name in manifest['debs_sets']}, item
    # the package set ha (keepalived for the API server's virtual IP), apart from the host packages every node installs
    assert manifest['debs_sets'] == {'ha': ['keepalived']}
    ha = {item['component'] for item in manifest['files'] if item['kind'] == 'deb-ha'}
    assert 'keepalived' in ha and not ha & {item['component'] for item in manifest['files'] if item['kind'] == 'deb'}, ha
    app_files = {item['path'] for item in manifest['files'] if item['kind'] == 'app-image'}
    assert {image['file'] for image in manifest['app_images']} == app_files
    assert [image['name'] for image in manifest['app_images']] == ['kubeseed.local/demo:0.3.0']
    # the cluster's own workloads: the serving-certificate approver, metrics-server and local-path storage (the provisioner
    # and the bundle's volume helper), at the pinned versions
    addon_files = {item['path'] for item in manifest['files'] if item['kind'] == 'addon-image'}
    assert {image['file'] for image in manifest['addon_images']} == addon_files
    assert [image['name'] for image in manifest['addon_images']] == [
        'kubeseed.local/kubelet-serving-approver:0.1.0', 'registry.k8s.io/metrics-server/metrics-server:v%s' % manifest['components']['metrics_server'],
        'kubeseed.local/local-path-provisioner:v%s' % manifest['components']['local_path_provisioner'], 'kubeseed.local/local-path-helper:0.1.0']


def test_every_file_matches_its_checksum(bundle_dir: pathlib.Path, manifest: dict) -> None:
    listed = set()
    for item in manifest['files']:
        path = bundle_dir / item['path']
        listed.add(item['path'])
        assert path.is_file(), f'missing {item["path"]}'
        assert path.stat().st_size == item['size'], item['path']
        assert _sha256(path) == item['sha256'], f'checksum mismatch: {item["path"]}'
    on_disk = {str(p.relative_to(bundle_dir)) for p in bundle_dir.rglob('*') if p.is_file()}
    assert on_disk - listed == {'manifest.json'}, f'files not in the manifest: {sorted(on_disk - listed - {"manifest.json"})}'


def test_expected_files_are_listed(manifest: dict) -> None:
    paths = {item['path'] for item in manifest['files']}
    for name in KUBERNETES_BINARIES + OTHER_BINARIES:
        assert f'bin/{name}' in paths
    for name in CNI_PLUGINS:
        assert f'cni/{name}' in paths
    for name in RUNTIME_BINARIES:
        assert f'runtime/{name}' in paths
    debs = {item['component'] for item in manifest['files'] if item['kind'] == 'deb'}
    assert set(REQUIRED_DEBS) <= debs
    # the runtime is the bundle's own build (Debian's containerd 1.6 is too old for these Kubernetes versions)
    assert not debs & {'containerd', 'runc'}, debs
    assert set(manifest['debs']) == debs


@pytest.mark.parametrize('name', KUBERNETES_BINARIES)
def test_kubernetes_binary_versions(bundle_dir: pathlib.Path, requested_version: str, name: str) -> None:
    want = f'v{requested_version}'
    binary = str(bundle_dir / 'bin' / name)
    if name == 'kubeadm':
        assert _run(binary, 'version', '-o', 'short').strip() == want
    elif name == 'kubectl':
        info = json.loads(_run(binary, 'version', '--client', '-o', 'json'))
        assert info['clientVersion']['gitVersion'] == want
    else:
        assert _run(binary, '--version').split() == ['Kubernetes', want]


def test_other_binary_versions(bundle_dir: pathlib.Path, manifest: dict) -> None:
    components = manifest['components']
    assert f'etcd Version: {components["etcd"]}' in _run(str(bundle_dir / 'bin' / 'etcd'), '--version')
    assert f'etcdctl version: {components["etcd"]}' in _run(str(bundle_dir / 'bin' / 'etcdctl'), 'version')
    # etcdctl 3.6+ has no `snapshot restore`: the collection's restore runs etcdutl of the same version, with the flags it passes
    assert f'etcdutl version: {components["etcd"]}' in _run(str(bundle_dir / 'bin' / 'etcdutl'), 'version')
    restore_help = _run(str(bundle_dir / 'bin' / 'etcdutl'), 'snapshot', 'restore', '--help')
    for flag in ('--bump-revision', '--mark-compacted', '--initial-cluster-token', '--initial-advertise-peer-urls', '--data-dir'):
        assert flag in restore_help, flag
    assert _run(str(bundle_dir / 'bin' / 'crictl'), '--version').split()[-1].lstrip('v') == components['crictl']
    # containerd 2.x and runc with seccomp, static (they run on any glibc the hosts have)
    assert _run(str(bundle_dir / 'runtime' / 'containerd'), '--version').split()[2] == f'v{components["containerd"]}'
    assert _run(str(bundle_dir / 'runtime' / 'ctr'), '--version').split()[-1] == f'v{components["containerd"]}'
    runc = _run(str(bundle_dir / 'runtime' / 'runc'), '--version')
    assert runc.splitlines()[0] == f'runc version {components["runc"]}' and 'libseccomp: ' in runc, runc
    for name in RUNTIME_BINARIES:
        assert 'dynamically linked' not in _run('file', '-L', str(bundle_dir / 'runtime' / name)), name


def test_cni_plugin_versions(bundle_dir: pathlib.Path, manifest: dict) -> None:
    want = f'v{manifest["components"]["cni_plugins"]}'
    for plugin in CNI_PLUGINS:
        # Without CNI_COMMAND a plugin prints its "about" line: "CNI bridge plugin v1.10.0".
        proc = subprocess.run([str(bundle_dir / 'cni' / plugin)], env={}, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30, check=False)
        assert f'CNI {plugin} plugin {want}' in proc.stdout + proc.stderr, f'{plugin}: {proc.stdout} {proc.stderr}'


def test_image_list_matches_kubeadm(bundle_dir: pathlib.Path, manifest: dict, requested_version: str) -> None:
    out = _run(str(bundle_dir / 'bin' / 'kubeadm'), 'config', 'images', 'list', '--kubernetes-version', f'v{requested_version}')
    expected = [line.strip() for line in out.splitlines() if line.strip()]
    assert [image['name'] for image in manifest['images']] == expected
    files = {item['path']: item for item in manifest['files'] if item['kind'] == 'image'}
    assert set(files) == {image['file'] for image in manifest['images']}


def _blob(archive: tarfile.TarFile, digest: str) -> bytes:
    data = archive.extractfile('blobs/' + digest.replace(':', '/')).read()  # type: ignore[union-attr]
    assert f'sha256:{hashlib.sha256(data).hexdigest()}' == digest, f'blob {digest} does not match its digest'
    return data


def test_image_tarballs_are_oci_layouts_with_the_manifest_digests(bundle_dir: pathlib.Path, manifest: dict) -> None:
    for image in manifest['images'] + manifest['app_images']:
        with tarfile.open(bundle_dir / image['file']) as archive:
            index = json.load(archive.extractfile('index.json'))  # type: ignore[arg-type]
            assert len(index['manifests']) == 1
            descriptor = index['manifests'][0]
            assert descriptor['annotations']['io.containerd.image.name'] == image['name']
            assert descriptor['annotations']['org.opencontainers.image.ref.name'] == image['name'].rsplit(':', 1)[1]
            assert descriptor['digest'] == image['digest']
            image_manifest = json.loads(_blob(archive, image['digest']))
            assert image_manifest['config']['digest'] == image['config_digest']
            config = json.loads(_blob(archive, image['config_digest']))
            assert config['os'] == 'linux' and config['architecture'] == 'amd64'
            entrypoint = config['config']['Entrypoint']
            layer = _blob(archive, image_manifest['layers'][0]['digest'])
            with tarfile.open(fileobj=gzip.GzipFile(fileobj=io.BytesIO(layer))) as layer_tar:
                names = set(layer_tar.getnames())
            assert entrypoint[0].lstrip('/') in names, f'{image["name"]}: entrypoint {entrypoint} not in the layer'
            if image['name'].split('/')[-1].startswith('kube-proxy:'):
                assert {'usr/sbin/iptables', 'usr/sbin/iptables-restore', 'usr/sbin/xtables-nft-multi'} <= names


def test_pause_image_runs_and_stops_on_sigterm(bundle_dir: pathlib.Path, manifest: dict, tmp_path: pathlib.Path) -> None:
    image = next(i for i in manifest['images'] if i['name'].rsplit('/', 1)[-1].startswith('pause:'))
    with tarfile.open(bundle_dir / image['file']) as archive:
        image_manifest = json.loads(_blob(archive, image['digest']))
        layer = _blob(archive, image_manifest['layers'][0]['digest'])
    with tarfile.open(fileobj=gzip.GzipFile(fileobj=io.BytesIO(layer))) as layer_tar:
        layer_tar.extract('pause', tmp_path, filter='tar')
    with subprocess.Popen([str(tmp_path / 'pause')], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1)  # it pauses
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_verify_command(bundle_dir: pathlib.Path) -> None:
    root = pathlib.Path(__file__).resolve().parents[3]
    out = _run('python3', str(root / 'tools' / 'bundle' / 'bundle.py'), 'verify', '--kubernetes-version',
               json.loads((bundle_dir / 'manifest.json').read_text(encoding='utf-8'))['kubernetes_version'])
    assert out.startswith('ok: ')
