"""Unit tests of the bundle builder's pure logic (no build, no network)."""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / 'tools' / 'bundle'))

from kubeseed_bundle import build, cache, cli, debs, errors, gobuild, images, manifest, pins, shared  # noqa: E402  pylint: disable=wrong-import-position

KUBERNETES_GOMOD = """module k8s.io/kubernetes

go 1.26.0

require (
\tgithub.com/spf13/cobra v1.10.1
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
\tk8s.io/kubectl v0.0.0 // indirect
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/kubectl => ./staging/src/k8s.io/kubectl
\tk8s.io/sample-controller => ./staging/src/k8s.io/sample-controller
)
"""

ETCD_GOMOD = """module go.etcd.io/etcd/server/v3

go 1.26

require (
\tgo.etcd.io/etcd/api/v3 v3.7.0
\tgo.etcd.io/etcd/client/v3 v3.7.0
)

replace (
\tgo.etcd.io/etcd/api/v3 => ../api
\tgo.etcd.io/etcd/client/v3 => ../client/v3
)

replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY
"""


def test_derive_replaces_maps_staging_modules_to_their_v0_version() -> None:
    replaces = gobuild.derive_replaces(KUBERNETES_GOMOD, lambda module: 'v0.37.2')
    assert replaces == [('k8s.io/api', 'v0.37.2'), ('k8s.io/client-go', 'v0.37.2'), ('k8s.io/kubectl', 'v0.37.2')]


def test_derive_replaces_keeps_required_versions_and_skips_unrequired_paths() -> None:
    replaces = gobuild.derive_replaces(ETCD_GOMOD, None)
    assert replaces == [('go.etcd.io/etcd/api/v3', 'v3.7.0'), ('go.etcd.io/etcd/client/v3', 'v3.7.0')]


def test_parse_depends_keeps_alternatives_and_drops_versions() -> None:
    value = 'libc6 (>= 2.34), runc (>= 1.0.0~rc2~) | crun, debconf (>= 0.5) | debconf-2.0, libfoo:any'
    assert debs.parse_depends(value) == (('libc6',), ('runc', 'crun'), ('debconf', 'debconf-2.0'), ('libfoo',))


def test_kubernetes_ldflags_set_both_version_packages() -> None:
    flags = gobuild.kubernetes_ldflags('1.37.2', '2026-10-27T12:01:04Z')
    for pkg in ('k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'):
        assert f'-X {pkg}.gitVersion=v1.37.2' in flags
        assert f'-X {pkg}.gitMajor=1' in flags
        assert f'-X {pkg}.gitMinor=37' in flags
        assert f'-X {pkg}.buildDate=2026-10-27T12:01:04Z' in flags


def test_image_basename() -> None:
    assert images.image_basename('registry.k8s.io/coredns/coredns:v1.14.6') == 'coredns'
    assert images.image_basename('registry.k8s.io/etcd:3.7.0-0') == 'etcd'


def test_pins_and_version_normalisation() -> None:
    assert pins.pins_for('v1.37.2') == pins.PINS['1.37.2']
    with pytest.raises(errors.BundleError, match='not pinned'):
        pins.pins_for('1.20.0')


def test_bundle_dir_depends_on_version_and_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv('KUBESEED_CACHE', str(tmp_path))
    new = cache.bundle_dir(pins.PINS['1.37.2'])
    old = cache.bundle_dir(pins.PINS['1.36.3'])
    assert new.parent == old.parent == tmp_path / 'bundles'
    assert new.name.startswith('1.37.2-') and old.name.startswith('1.36.3-')
    assert len(new.name.split('-', 1)[1]) == 12
    assert new.name.split('-', 1)[1] != old.name.split('-', 1)[1]


def _fake_bundle(root: pathlib.Path) -> pathlib.Path:
    (root / 'bin').mkdir(parents=True)
    (root / 'bin' / 'tool').write_bytes(b'binary')
    files = [{'path': 'bin/tool', 'sha256': hashlib.sha256(b'binary').hexdigest(), 'size': 6, 'kind': 'binary', 'component': 'tool', 'version': '1'}]
    (root / 'manifest.json').write_text(json.dumps({'schema': 1, 'files': files}), encoding='utf-8')
    return root


def test_verify_dir_accepts_a_matching_bundle(tmp_path: pathlib.Path) -> None:
    assert not manifest.verify_dir(_fake_bundle(tmp_path / 'b'))


def test_verify_dir_reports_corrupt_missing_and_unlisted_files(tmp_path: pathlib.Path) -> None:
    root = _fake_bundle(tmp_path / 'b')
    (root / 'bin' / 'tool').write_bytes(b'BINARY')
    (root / 'bin' / 'extra').write_bytes(b'x')
    assert manifest.verify_dir(root) == ['checksum mismatch: bin/tool', 'not in manifest: bin/extra']
    (root / 'bin' / 'tool').unlink()
    assert 'missing: bin/tool' in manifest.verify_dir(root)


def test_recipe_covers_the_builder_and_the_collection_parser_but_no_caches() -> None:
    names = [name for name, _path in cache.recipe_files()]
    assert 'bundle.py' in names and 'kubeseed_bundle/manifest.py' in names and 'go/go.mod' in names
    assert names[-1] == 'plugins/module_utils/_bundle.py'
    assert not [name for name in names if '__pycache__' in name or not name.endswith(('.py', '.go', '.mod', '.sum'))]


def test_the_builder_uses_the_collections_manifest_parser() -> None:
    root = pathlib.Path(__file__).resolve().parents[3]
    assert pathlib.Path(shared._bundle.__file__).resolve() == root / 'plugins' / 'module_utils' / '_bundle.py'
    assert shared.SCHEMA == shared._bundle.SCHEMA == 1
    assert shared.sha256_file(pathlib.Path(__file__)) == hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()
    with pytest.raises(errors.BundleError, match='cannot read'):
        shared.sha256_file(root / 'no-such-file')


def _staged(root: pathlib.Path) -> list[manifest.Entry]:
    (root / 'bin').mkdir(parents=True)
    (root / 'bin' / 'kubeadm').write_bytes(b'kubeadm')
    (root / 'debs').mkdir()
    (root / 'debs' / 'runc_1.1.5_amd64.deb').write_bytes(b'deb')
    return [
        manifest.Entry('bin/kubeadm', root / 'bin' / 'kubeadm', 'binary', 'kubeadm', '1.37.2'),
        manifest.Entry('debs/runc_1.1.5_amd64.deb', root / 'debs' / 'runc_1.1.5_amd64.deb', 'deb', 'runc', '1.1.5+ds1-1'),
    ]


def test_the_manifest_writer_output_is_accepted_by_the_collection(tmp_path: pathlib.Path) -> None:
    staging = tmp_path / 'staging'
    entries = _staged(staging)
    written = manifest.write_manifest(staging, pins=pins.PINS['1.37.2'], recipe='0' * 12, go_version='go1.26.8', entries=entries,
                                      images=[], app_images=[], addon_images=[], debs={'runc': '1.1.5+ds1-1'})
    parsed = shared._bundle.parse_manifest((staging / 'manifest.json').read_text(encoding='utf-8'), str(staging))
    assert parsed == written
    assert parsed['schema'] == shared._bundle.SCHEMA
    assert [(f['path'], f['size'], f['sha256']) for f in parsed['files']] == [
        ('bin/kubeadm', 7, hashlib.sha256(b'kubeadm').hexdigest()),
        ('debs/runc_1.1.5_amd64.deb', 3, hashlib.sha256(b'deb').hexdigest()),
    ]
    # the runtime's versions are the builder's pins (its own builds), not those of a Debian package
    assert parsed['components']['runc'] == pins.PINS['1.37.2'].runc and parsed['components']['containerd'] == pins.PINS['1.37.2'].containerd
    assert shared._bundle.missing_debs(parsed, 'installed runc 1.1.5+ds1-1\n') == []
    assert not manifest.verify_dir(staging)


def test_the_manifest_writer_refuses_what_the_collection_would_refuse(tmp_path: pathlib.Path) -> None:
    staging = tmp_path / 'staging'
    entries = _staged(staging) + [manifest.Entry('bin/kubeadm', staging / 'bin' / 'kubeadm', 'binary', 'kubeadm', '1.37.2')]
    with pytest.raises(errors.BundleError, match=r'refuses the manifest.*files\[2\] \(bin/kubeadm\) lists a path twice'):
        manifest.write_manifest(staging, pins=pins.PINS['1.37.2'], recipe='0' * 12, go_version='go1.26.8', entries=entries,
                                images=[], app_images=[], addon_images=[], debs={})
    assert not (staging / 'manifest.json').exists()


def test_verify_refuses_a_wrong_schema_as_the_collection_does(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv('KUBESEED_CACHE', str(tmp_path))
    root = _fake_bundle(cache.bundle_dir(pins.PINS['1.37.2']))
    text = (root / 'manifest.json').read_text(encoding='utf-8').replace('"schema": 1', '"schema": 2')
    (root / 'manifest.json').write_text(text, encoding='utf-8')
    with pytest.raises(shared._bundle.BundleError) as refused:
        shared._bundle.parse_manifest(text, str(root))
    assert 'is not a kubeseed bundle manifest (schema 1 with a file list)' in str(refused.value)
    assert manifest.verify_dir(root) == [str(refused.value)]
    assert cli.main(['verify', '--kubernetes-version', '1.37.2']) == 1
    out, err = capsys.readouterr()
    assert not out and err == f'{refused.value}\n'


def test_path_command_fails_when_not_built(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv('KUBESEED_CACHE', str(tmp_path))
    assert cli.main(['path', '--kubernetes-version', '1.37.2']) == 1
    out, err = capsys.readouterr()
    assert out.strip().startswith(str(tmp_path / 'bundles' / '1.37.2-'))
    assert 'bundle.py build' in err


def test_the_roles_name_the_images_the_bundle_holds() -> None:
    """The addons role's metrics-server and local-path-provisioner versions, its volume helper image and the control_plane
    role's approver image are the bundle's."""
    import yaml  # pylint: disable=import-outside-toplevel
    repo = pathlib.Path(__file__).resolve().parents[3]
    addons = yaml.safe_load((repo / 'roles' / 'addons' / 'vars' / 'main.yml').read_text(encoding='utf-8'))
    assert {p.metrics_server for p in pins.PINS.values()} == {addons['__kubeseed_addons_metrics_server_version']}
    assert {p.local_path_provisioner for p in pins.PINS.values()} == {addons['__kubeseed_addons_local_path_provisioner_version']}
    assert addons['__kubeseed_addons_volume_helper_image'] == pins.VOLUME_HELPER_IMAGE
    control_plane = yaml.safe_load((repo / 'roles' / 'control_plane' / 'defaults' / 'main.yml').read_text(encoding='utf-8'))
    assert control_plane['kubeseed_kubelet_serving_approver_image'] == pins.APPROVER_IMAGE


def test_go_tools_pass_their_unit_tests() -> None:
    """go test of the bundle's own Go programs (the approver's checks of a serving-certificate request among them)."""
    import shutil  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel
    if shutil.which('go') is None:
        if gobuild.os.environ.get('CI'):
            pytest.fail('no go command on PATH: CI must run the Go unit tests')
        pytest.skip('no go command on PATH')
    proc = subprocess.run(['go', 'test', './...'], cwd=gobuild.GO_TOOLS_DIR, capture_output=True, text=True, check=False,
                          env=dict(gobuild.os.environ, CGO_ENABLED='0', GOFLAGS='-buildvcs=false'))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'ok  \tkubeseed.local/bundletools/cmd/approver' in proc.stdout
    assert 'ok  \tkubeseed.local/bundletools/cmd/volumehelper' in proc.stdout


def test_the_versions_stable_name_follows_the_bundle_built_last(tmp_path: pathlib.Path) -> None:
    first, second = tmp_path / '1.37.2-aaaaaaaaaaaa', tmp_path / '1.37.2-bbbbbbbbbbbb'
    first.mkdir()
    second.mkdir()
    build.point_stable_name(first)
    assert os.readlink(tmp_path / '1.37.2') == first.name and (tmp_path / '1.37.2').resolve() == first
    build.point_stable_name(second)
    assert (tmp_path / '1.37.2').resolve() == second
    build.point_stable_name(second)  # the same: nothing left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ['1.37.2', first.name, second.name]
