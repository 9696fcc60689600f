"""The apt repository made from the bundle (tools/bundle/kubeseed_bundle/aptrepo.py), read by the real apt.

The repository is served over HTTPS on loopback with a CA of the test's own; apt-get runs with its state, cache and
sources in the test's directory (never the machine's own lists), and must: verify the signed Release and find the
five packages at their versions, download them with the bytes of the bundle's binaries inside, and refuse a tampered
package list, a Release signed by another key and a server whose certificate its CA does not trust.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import http.server
import ipaddress
import os
import pathlib
import shutil
import ssl
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubeseed_bundle import aptrepo  # the conftest puts tools/bundle on sys.path


@pytest.fixture(scope='module', autouse=True)
def apt_and_gpg() -> None:
    """apt-get and gpg (scripts/system-deps.sh installs gpg): a skip elsewhere, a failure under CI, which runs every test."""
    missing = [tool for tool in ('apt-get', 'gpg', 'dpkg-deb') if shutil.which(tool) is None]
    if missing:
        if os.environ.get('CI'):
            pytest.fail('missing %s: run scripts/system-deps.sh (CI must run every test)' % ', '.join(missing))
        pytest.skip('needs %s (Debian)' % ', '.join(missing))


def make_ca(directory: pathlib.Path, name: str) -> tuple[pathlib.Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / f'{name}.crt'
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def make_server_cert(directory: pathlib.Path, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> tuple[pathlib.Path, pathlib.Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '127.0.0.1')]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = directory / 'server.crt', directory / 'server.key'
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


@pytest.fixture(scope='module')
def served(bundle_dir: pathlib.Path, tmp_path_factory: pytest.TempPathFactory):
    """The repository made from the bundle, served over HTTPS on loopback: (url of the minor's repository, paths)."""
    base = tmp_path_factory.mktemp('aptrepo')
    out, gpg_home, tls = base / 'www', base / 'gnupg', base / 'tls'
    tls.mkdir()
    repo = aptrepo.make_repository(bundle_dir, out, gpg_home)
    ca_path, ca_key, ca = make_ca(tls, 'mirror-ca')
    other_ca = make_ca(tls, 'other-ca')[0]
    cert, key = make_server_cert(tls, ca_key, ca)
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(QuietHandler, directory=str(out)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f'https://127.0.0.1:{server.server_address[1]}/{repo.relative_to(out).as_posix()}/'
    yield {'url': url, 'repo': repo, 'ca': ca_path, 'other_ca': other_ca, 'base': base, 'gpg_home': gpg_home}
    server.shutdown()


def apt(served: dict, name: str, *args: str, ca: pathlib.Path | None = None, key: pathlib.Path | None = None) -> subprocess.CompletedProcess:
    """apt-get (or apt-cache) with everything of its own under base/<name>: state, cache, sources, no system lists."""
    root = served['base'] / name
    for sub in ('lists/partial', 'archives/partial', 'parts', 'download'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / 'status').touch()
    key = key or served['repo'] / 'Release.key'
    (root / 'sources.list').write_text(f"deb [signed-by={key}] {served['url']} /\n", encoding='utf-8')
    options = ['-o', f'Dir::State::Lists={root}/lists', '-o', f'Dir::State::status={root}/status',
               '-o', f'Dir::Cache={root}', '-o', f'Dir::Cache::archives={root}/archives', '-o', 'Dir::Cache::pkgcache=',
               '-o', 'Dir::Cache::srcpkgcache=', '-o', f'Dir::Etc::SourceList={root}/sources.list',
               '-o', f'Dir::Etc::SourceParts={root}/parts', '-o', 'APT::Sandbox::User=root',
               '-o', f'Acquire::https::127.0.0.1::CaInfo={ca or served["ca"]}', '-o', 'Debug::NoLocking=1']
    return subprocess.run([args[0], *options, *args[1:]], cwd=root / 'download', capture_output=True, text=True, check=False,
                          timeout=300)


def test_apt_verifies_the_signed_repository_and_gets_the_bundle_binaries(served: dict, bundle_dir: pathlib.Path, manifest: dict) -> None:
    update = apt(served, 'good', 'apt-get', 'update')
    assert update.returncode == 0, update.stdout + update.stderr
    assert 'W:' not in update.stderr and 'E:' not in update.stderr, update.stderr
    kube = manifest['kubernetes_version']
    versions = {'kubeadm': f'{kube}-1.1', 'kubelet': f'{kube}-1.1', 'kubectl': f'{kube}-1.1',
                'cri-tools': f"{manifest['components']['crictl']}-1.1", 'kubernetes-cni': f"{manifest['components']['cni_plugins']}-1.1"}
    policy = apt(served, 'good', 'apt-cache', 'policy', *versions)
    for name, version in versions.items():
        assert f'{name}:\n  Installed: (none)\n  Candidate: {version}\n' in policy.stdout, policy.stdout
    depends = apt(served, 'good', 'apt-cache', 'show', 'kubeadm', 'kubelet').stdout
    assert f'Depends: kubelet (>= {kube.rsplit(".", 1)[0]}.0), kubectl' in depends and 'conntrack' in depends, depends
    download = apt(served, 'good', 'apt-get', 'download', *(f'{n}={v}' for n, v in versions.items()))
    assert download.returncode == 0, download.stdout + download.stderr
    debs = {p.name.split('_', 1)[0]: p for p in (served['base'] / 'good' / 'download').glob('*.deb')}
    assert sorted(debs) == sorted(versions)
    sums = {f['path']: f['sha256'] for f in manifest['files']}
    extract = served['base'] / 'extract'
    for name, deb in debs.items():
        listing = subprocess.run(['dpkg-deb', '-c', str(deb)], capture_output=True, text=True, check=True).stdout.splitlines()
        assert listing[0].startswith('drwxr-xr-x root/root') and listing[0].endswith(' ./'), listing[0]  # never a 0700 root
        (extract / name).mkdir(parents=True)
        subprocess.run(['dpkg-deb', '-x', str(deb), str(extract / name)], check=True)
        subprocess.run(['dpkg-deb', '-e', str(deb), str(extract / name / 'DEBIAN')], check=True)
    for name, path in (('kubeadm', 'usr/bin/kubeadm'), ('kubelet', 'usr/bin/kubelet'), ('kubectl', 'usr/bin/kubectl'),
                       ('cri-tools', 'usr/bin/crictl')):
        data = (extract / name / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sums[f"bin/{path.rsplit('/', 1)[-1]}"], path
    cni = sorted(p.name for p in (extract / 'kubernetes-cni' / 'opt/cni/bin').iterdir())
    assert cni == sorted(f['path'].split('/', 1)[1] for f in manifest['files'] if f['kind'] == 'cni')
    unit = (extract / 'kubelet' / 'usr/lib/systemd/system/kubelet.service').read_text(encoding='utf-8')
    assert 'ExecStart=/usr/bin/kubelet\n' in unit
    dropin = (extract / 'kubeadm' / 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf').read_text(encoding='utf-8')
    assert 'ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS' in dropin
    postinst = (extract / 'kubelet' / 'DEBIAN' / 'postinst').read_text(encoding='utf-8')
    assert 'systemctl enable kubelet.service' in postinst and 'try-restart kubelet.service' in postinst


def test_a_second_build_gives_the_same_packages(served: dict, bundle_dir: pathlib.Path) -> None:
    before = {p.name: p.read_bytes() for p in (served['repo'] / 'amd64').glob('*.deb')}
    packages = (served['repo'] / 'Packages').read_text(encoding='utf-8')
    aptrepo.make_repository(bundle_dir, served['repo'].parents[3], served['gpg_home'])
    assert {p.name: p.read_bytes() for p in (served['repo'] / 'amd64').glob('*.deb')} == before
    assert (served['repo'] / 'Packages').read_text(encoding='utf-8') == packages


def test_apt_refuses_a_tampered_package_list(served: dict) -> None:
    packages = served['repo'] / 'Packages'
    original = packages.read_bytes()
    gz = served['repo'] / 'Packages.gz'
    original_gz = gz.read_bytes()
    try:
        # a package list that points kubeadm at other bytes, served without a new signature
        tampered = original.replace(b'Package: kubeadm\n', b'Package: kubeadm\nX-Tampered: yes\n', 1)
        assert tampered != original
        packages.write_bytes(tampered)
        gz.unlink()
        update = apt(served, 'tampered', 'apt-get', 'update')
    finally:
        packages.write_bytes(original)
        gz.write_bytes(original_gz)
    assert update.returncode != 0
    assert 'Hash Sum mismatch' in update.stderr or 'File has unexpected size' in update.stderr, update.stderr
    assert 'Candidate: 1.' not in apt(served, 'tampered', 'apt-cache', 'policy', 'kubeadm').stdout


def test_apt_refuses_a_release_signed_by_another_key(served: dict, tmp_path: pathlib.Path) -> None:
    other_home = tmp_path / 'other-gnupg'
    fingerprint = aptrepo.ensure_key(other_home)
    other_key = tmp_path / 'other.asc'
    other_key.write_text(subprocess.run(['gpg', '--homedir', str(other_home), '--batch', '--armor', '--export', fingerprint],
                                        capture_output=True, text=True, check=True).stdout, encoding='utf-8')
    update = apt(served, 'other-key', 'apt-get', 'update', key=other_key)
    assert update.returncode != 0 or 'W:' in update.stderr, update.stderr
    assert 'NO_PUBKEY' in update.stderr and 'is not signed' in update.stderr, update.stderr
    assert 'Candidate: 1.' not in apt(served, 'other-key', 'apt-cache', 'policy', 'kubeadm').stdout


def test_apt_refuses_a_server_its_ca_does_not_trust(served: dict) -> None:
    update = apt(served, 'other-ca', 'apt-get', 'update', ca=served['other_ca'])
    assert update.returncode != 0 or 'W:' in update.stderr, update.stderr
    assert '127.0.0.1' in update.stderr and 'Certificate verification failed' in update.stderr, update.stderr
