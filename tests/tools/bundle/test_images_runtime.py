"""The image tarballs work with the bundle's own container runtime and userland.

* every tarball imports with ``ctr -n k8s.io images import`` into a throw-away
  containerd (the bundle's own, runtime/containerd) under its name, with the
  manifest digest and the config (image id) the bundle manifest records;
* the kube-proxy image's iptables runs (its libraries and loader are inside).

Both need root (containerd, chroot); CI runs as root.
"""
from __future__ import annotations

import gzip
import json
import os
import pathlib
import subprocess
import tarfile
import time

import pytest

# Outside CI a non-root developer skips these; CI (root) always runs them and fails if it cannot.
pytestmark = pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get('CI'), reason='needs root (containerd, chroot)')


def _runtime(bundle_dir: pathlib.Path, manifest: dict, component: str) -> pathlib.Path:
    for item in manifest['files']:
        if item['kind'] == 'runtime' and item['component'] == component:
            return bundle_dir / item['path']
    pytest.fail(f'no runtime binary {component} in the bundle')
    return pathlib.Path()


@pytest.fixture(scope='module')
def containerd(bundle_dir: pathlib.Path, manifest: dict, tmp_path_factory: pytest.TempPathFactory):
    """A private containerd from the bundle's runtime binaries (own root, state and socket; CRI disabled)."""
    base = tmp_path_factory.mktemp('containerd')
    socket = base / 'run' / 'containerd.sock'
    config = base / 'config.toml'
    config.write_text(
        'version = 3\n'
        f'root = "{base / "root"}"\nstate = "{base / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"]\n'
        f'[grpc]\n  address = "{socket}"\n[ttrpc]\n  address = "{socket}.ttrpc"\n',
        encoding='utf-8',
    )
    with (base / 'containerd.log').open('wb') as log:
        proc = subprocess.Popen([str(_runtime(bundle_dir, manifest, 'containerd')), '--config', str(config)], stdout=log,
                                stderr=subprocess.STDOUT)
    ctr = [str(_runtime(bundle_dir, manifest, 'ctr')), '--address', str(socket), '-n', 'k8s.io']
    deadline = time.monotonic() + 30
    while subprocess.run([*ctr, 'version'], capture_output=True, check=False).returncode != 0:
        assert proc.poll() is None, (base / 'containerd.log').read_text(encoding='utf-8')
        assert time.monotonic() < deadline, 'containerd did not start in 30s'
        time.sleep(0.3)
    yield ctr
    proc.terminate()
    proc.wait(timeout=30)


def test_ctr_imports_every_image(containerd: list[str], bundle_dir: pathlib.Path, manifest: dict) -> None:
    for image in manifest['images']:
        proc = subprocess.run([*containerd, 'images', 'import', str(bundle_dir / image['file'])], capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == 0, f'{image["file"]}: {proc.stdout} {proc.stderr}'
    listing = subprocess.run([*containerd, 'images', 'ls'], capture_output=True, text=True, check=True).stdout.splitlines()[1:]
    digests = {line.split()[0]: line.split()[2] for line in listing if line.strip()}
    for image in manifest['images']:
        assert digests.get(image['name']) == image['digest'], f'{image["name"]}: containerd has {digests.get(image["name"])}'
        config = subprocess.run([*containerd, 'content', 'get', image['config_digest']], capture_output=True, check=False)
        assert config.returncode == 0, f'{image["name"]}: config {image["config_digest"]} not in the content store'


def test_kube_proxy_image_has_working_iptables(bundle_dir: pathlib.Path, manifest: dict, tmp_path: pathlib.Path) -> None:
    image = next(i for i in manifest['images'] if i['name'].rsplit('/', 1)[-1].startswith('kube-proxy:'))
    root = tmp_path / 'rootfs'
    with tarfile.open(bundle_dir / image['file']) as archive:
        image_manifest = json.load(archive.extractfile('blobs/' + image['digest'].replace(':', '/')))  # type: ignore[arg-type]
        blob = archive.extractfile('blobs/' + image_manifest['layers'][0]['digest'].replace(':', '/'))
        with tarfile.open(fileobj=gzip.GzipFile(fileobj=blob)) as layer:  # type: ignore[arg-type]
            layer.extractall(root, filter='tar')
    for tool in ('iptables', 'iptables-save', 'iptables-restore', 'ip6tables'):
        proc = subprocess.run(['chroot', str(root), f'/usr/sbin/{tool}', '--version'], capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode == 0 and 'nf_tables' in proc.stdout, f'{tool}: {proc.stdout} {proc.stderr}'
    proc = subprocess.run(['chroot', str(root), '/usr/local/bin/kube-proxy', '--version'], capture_output=True, text=True, timeout=30, check=False)
    assert proc.stdout.split() == ['Kubernetes', f'v{manifest["kubernetes_version"]}']
