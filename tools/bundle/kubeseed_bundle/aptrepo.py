"""A Debian package repository in the layout of the official Kubernetes one, made from a bundle's binaries.

``<out>/core:/stable:/v<minor>/deb/`` is a flat repository (``deb [signed-by=...] <url>/core:/stable:/v1.37/deb/ /``)
with the packages ``kubeadm``, ``kubelet``, ``kubectl`` (version ``1.37.2-<revision>``), ``cri-tools`` and
``kubernetes-cni`` (their own versions), ``Packages``/``Packages.gz``, ``Release`` with the SHA256 of both, the
signatures ``InRelease`` and ``Release.gpg`` and the public key ``Release.key``: what a company's mirror of
pkgs.k8s.io serves. The packages are laid out as the official ones (binaries in /usr/bin, the CNI plugins in
/opt/cni/bin, ``kubelet.service`` in /usr/lib/systemd/system from kubelet, kubeadm's drop-in ``10-kubeadm.conf``
from kubeadm) and their maintainer scripts behave the same: a first install of kubelet enables and starts it (it
restarts every few seconds until kubeadm configures it), an upgrade restarts a running kubelet, a removal stops it.

Several patch versions of one minor share its repository: each call adds the version's packages and rewrites the
indices over every package there. The .deb files are cached per bundle (``parts/aptdebs-<version>-<key>``); the
signing key is the one in ``gpg_home`` (an Ed25519 key made there if it holds none).
"""
from __future__ import annotations

import datetime
import gzip
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from .cache import Part, place, short_hash
from .errors import BundleError
from .manifest import MANIFEST
from .pins import ARCH
from .proc import capture
from .shared import parse_manifest

DEFAULT_REVISION = "1.1"
REVISION = 2  # bump to rebuild the cached packages (their contents or control files changed)
MAINTAINER = "kubeseed maintainers <kubeseed@kubeseed.invalid>"
KEY_UID = "kubeseed package mirror <mirror@kubeseed.invalid>"
# A fixed time for the files inside the packages: the same bundle gives the same .deb bytes.
SOURCE_DATE_EPOCH = "1767225600"  # 2026-01-01T00:00:00Z

KUBELET_SERVICE = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

KUBEADM_DROPIN = """\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the KUBELET_KUBEADM_ARGS variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort. Preferably, the user should use
# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. KUBELET_EXTRA_ARGS should be sourced from this file.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""

# kubelet: enabled and started on a first install (it waits for kubeadm in a restart loop), restarted when upgraded,
# stopped when removed; only where systemd runs (a chroot or an image build has none).
KUBELET_POSTINST = """\
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    if [ -z "$2" ]; then
        systemctl enable kubelet.service || true
        systemctl start kubelet.service || true
    else
        systemctl try-restart kubelet.service || true
    fi
fi
exit 0
"""
KUBELET_PRERM = """\
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    systemctl stop kubelet.service || true
fi
exit 0
"""
KUBELET_POSTRM = """\
#!/bin/sh
set -e
if [ "$1" = remove ] || [ "$1" = purge ]; then
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload || true
    fi
    if [ "$1" = purge ]; then
        rm -f /etc/systemd/system/multi-user.target.wants/kubelet.service
    fi
fi
exit 0
"""
# kubeadm: the drop-in changes the kubelet's unit.
RELOAD_POSTINST = """\
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
exit 0
"""


def package_specs(manifest: dict, revision: str) -> list[dict]:
    """The five packages: name, version, files (bundle path or text -> path in the package), control fields, scripts."""
    kube = manifest["kubernetes_version"]
    minor = ".".join(kube.split(".")[:2])
    components = manifest["components"]
    cni = sorted(f["path"] for f in manifest["files"] if f["kind"] == "cni")
    return [
        {"name": "kubelet", "version": f"{kube}-{revision}",
         "files": [("bin/kubelet", "usr/bin/kubelet", 0o755), (KUBELET_SERVICE, "usr/lib/systemd/system/kubelet.service", 0o644)],
         "depends": "iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0), iproute2, socat, util-linux, mount, ebtables, ethtool, conntrack",
         "description": "Node agent for Kubernetes clusters\n The node agent of Kubernetes, the container cluster manager.",
         "scripts": {"postinst": KUBELET_POSTINST, "prerm": KUBELET_PRERM, "postrm": KUBELET_POSTRM}},
        {"name": "kubeadm", "version": f"{kube}-{revision}",
         "files": [("bin/kubeadm", "usr/bin/kubeadm", 0o755),
                   (KUBEADM_DROPIN, "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", 0o644)],
         "depends": f"kubelet (>= {minor}.0), kubectl (>= {minor}.0), kubernetes-cni (>= 1.2.0), cri-tools (>= {minor}.0)",
         "description": "Command-line utility for administering a Kubernetes cluster\n Bootstraps a Kubernetes cluster.",
         "scripts": {"postinst": RELOAD_POSTINST, "postrm": RELOAD_POSTINST.replace('"$1" = configure', '"$1" = remove')}},
        {"name": "kubectl", "version": f"{kube}-{revision}",
         "files": [("bin/kubectl", "usr/bin/kubectl", 0o755)], "depends": "",
         "description": "Command-line utility for interacting with a Kubernetes cluster\n Runs commands against clusters.",
         "scripts": {}},
        {"name": "cri-tools", "version": f"{components['crictl']}-{revision}",
         "files": [("bin/crictl", "usr/bin/crictl", 0o755)], "depends": "",
         "description": "Command-line utility for interacting with a container runtime\n crictl, a client of the CRI.",
         "scripts": {}},
        {"name": "kubernetes-cni", "version": f"{components['cni_plugins']}-{revision}",
         "files": [(path, f"opt/cni/bin/{path.rsplit('/', 1)[-1]}", 0o755) for path in cni], "depends": "",
         "description": "Binaries required to provision kubernetes container networking\n The CNI plugins.",
         "scripts": {}},
    ]


CONTAINERD_SERVICE = """\
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
LimitNOFILE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
"""
# containerd.io: enabled and started on a first install, restarted when upgraded (as Docker's package does).
CONTAINERD_POSTINST = KUBELET_POSTINST.replace("kubelet.service", "containerd.service")


def runtime_spec(manifest: dict) -> dict:
    """containerd.io, laid out as Docker's package of that name (what companies install containerd 2.x from on Debian):
    the bundle's containerd, its shim, ctr and runc in /usr/bin, the unit in /lib/systemd/system."""
    version = manifest["components"]["containerd"]
    return {"name": "containerd.io", "version": f"{version}-1",
            "files": [(f"runtime/{name}", f"usr/bin/{name}", 0o755) for name in ("containerd", "containerd-shim-runc-v2", "ctr", "runc")]
            + [(CONTAINERD_SERVICE, "lib/systemd/system/containerd.service", 0o644)],
            "depends": "", "conflicts": "containerd, runc",
            "description": "An open and reliable container runtime\n containerd and runc (the bundle's builds).",
            "scripts": {"postinst": CONTAINERD_POSTINST}}


def control_text(spec: dict, installed_kib: int) -> str:
    lines = [f"Package: {spec['name']}", f"Version: {spec['version']}", f"Architecture: {ARCH}",
             f"Maintainer: {MAINTAINER}", f"Installed-Size: {installed_kib}"]
    if spec["depends"]:
        lines.append(f"Depends: {spec['depends']}")
    if spec.get("conflicts"):
        lines += [f"Conflicts: {spec['conflicts']}", f"Replaces: {spec['conflicts']}"]
    lines += ["Section: admin", "Priority: optional", "Homepage: https://kubernetes.io", f"Description: {spec['description']}"]
    return "\n".join(lines) + "\n"


def build_deb(bundle: Path, spec: dict, out: Path) -> None:
    """One .deb with dpkg-deb (owned by root, fixed timestamps)."""
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".deb-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # the package's ./ (a temporary directory is 0700)
        size = 0
        for source, dest, mode in spec["files"]:
            target = root / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            if "\n" in source:
                target.write_text(source, encoding="utf-8")
            else:
                shutil.copyfile(bundle / source, target)
            target.chmod(mode)
            size += target.stat().st_size
        (root / "DEBIAN").mkdir()
        (root / "DEBIAN" / "control").write_text(control_text(spec, (size + 1023) // 1024), encoding="utf-8")
        for name, text in spec["scripts"].items():
            script = root / "DEBIAN" / name
            script.write_text(text, encoding="utf-8")
            script.chmod(0o755)
        for path in root.rglob("*"):
            os.utime(path, (int(SOURCE_DATE_EPOCH), int(SOURCE_DATE_EPOCH)), follow_symlinks=False)
        env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
        tmp_deb = out.with_name(out.name + ".tmp")
        capture(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(tmp_deb)], env=env)
        tmp_deb.replace(out)


def cached_debs(bundle: Path, manifest: dict, revision: str, say=print, specs: list | None = None) -> list[Path]:
    """The packages of one bundle, built once (cached by the sha256 of the files they hold and this builder)."""
    specs = package_specs(manifest, revision) if specs is None else specs
    sums = {f["path"]: f["sha256"] for f in manifest["files"]}
    builder = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    contents = [(s["name"], s["version"], [(sums.get(src, src), dst, mode) for src, dst, mode in s["files"]]) for s in specs]
    key = short_hash(REVISION, revision, builder, contents)
    part = Part(f"aptdebs-{manifest['kubernetes_version']}", key)
    names = [f"{s['name']}_{s['version']}_{ARCH}.deb" for s in specs]
    if not part.done:
        if part.path.exists():
            shutil.rmtree(part.path)
        part.path.mkdir(parents=True)
        for spec, name in zip(specs, names):
            say(f"package {name} ...")
            build_deb(bundle, spec, part.path / name)
        part.mark_done({"packages": names})
    return [part.path / name for name in names]


def ensure_key(gpg_home: Path) -> str:
    """The fingerprint of the signing key in gpg_home, made there (Ed25519, no passphrase) when it holds none."""
    gpg_home.mkdir(parents=True, exist_ok=True)
    gpg_home.chmod(0o700)
    base = ["gpg", "--homedir", str(gpg_home), "--batch", "--with-colons"]
    listing = capture(base + ["--list-secret-keys"])
    if not any(line.startswith("fpr:") for line in listing.splitlines()):
        capture(["gpg", "--homedir", str(gpg_home), "--batch", "--passphrase", "", "--quick-gen-key", KEY_UID, "ed25519",
                 "sign", "never"])
        listing = capture(base + ["--list-secret-keys"])
    fingerprints = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
    if not fingerprints:
        raise BundleError(f"no signing key in {gpg_home}")
    return fingerprints[0]


def deb_fields(deb: Path) -> str:
    """The control paragraph of a .deb, as dpkg-deb prints it (no trailing blank line)."""
    return capture(["dpkg-deb", "-f", str(deb)]).rstrip("\n")


def file_hashes(path: Path) -> dict[str, str]:
    data = path.read_bytes()
    return {"MD5sum": hashlib.md5(data).hexdigest(), "SHA1": hashlib.sha1(data).hexdigest(),  # nosec - index fields
            "SHA256": hashlib.sha256(data).hexdigest(), "Size": str(len(data))}


def write_indices(repo: Path, fingerprint: str, gpg_home: Path, now: datetime.datetime | None = None) -> None:
    """Packages, Packages.gz, Release (SHA256 of both), InRelease, Release.gpg and Release.key of a flat repository."""
    paragraphs = []
    for deb in sorted((repo / ARCH).glob("*.deb")):
        sums = file_hashes(deb)
        paragraphs.append(deb_fields(deb) + f"\nFilename: ./{ARCH}/{deb.name}\nSize: {sums['Size']}\nMD5sum: {sums['MD5sum']}"
                          f"\nSHA1: {sums['SHA1']}\nSHA256: {sums['SHA256']}")
    packages = "\n\n".join(paragraphs) + "\n"
    (repo / "Packages").write_text(packages, encoding="utf-8")
    (repo / "Packages.gz").write_bytes(gzip.compress(packages.encode(), mtime=0))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    release = ["Origin: kubeseed", "Label: kubeseed package mirror", f"Architectures: {ARCH}",
               f"Date: {now.strftime('%a, %d %b %Y %H:%M:%S UTC')}", "MD5Sum:"]
    indices = ["Packages", "Packages.gz"]
    hashes = {name: file_hashes(repo / name) for name in indices}
    release += [f" {hashes[n]['MD5sum']} {hashes[n]['Size']:>16} {n}" for n in indices]
    release.append("SHA256:")
    release += [f" {hashes[n]['SHA256']} {hashes[n]['Size']:>16} {n}" for n in indices]
    (repo / "Release").write_text("\n".join(release) + "\n", encoding="utf-8")
    gpg = ["gpg", "--homedir", str(gpg_home), "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "",
           "--local-user", fingerprint, "--digest-algo", "SHA256"]
    capture(gpg + ["--clearsign", "--output", str(repo / "InRelease"), str(repo / "Release")])
    capture(gpg + ["--armor", "--detach-sign", "--output", str(repo / "Release.gpg"), str(repo / "Release")])
    (repo / "Release.key").write_text(capture(["gpg", "--homedir", str(gpg_home), "--batch", "--armor", "--export", fingerprint]),
                                      encoding="utf-8")


def repository_dir(out: Path, kubernetes_version: str) -> Path:
    """Where the minor's repository lies under out (as pkgs.k8s.io lays it out)."""
    return out / "core:" / "stable:" / f"v{'.'.join(kubernetes_version.split('.')[:2])}" / "deb"


def link_into(repo: Path, debs: list[Path]) -> None:
    """Hard-link (or copy) the packages into repo/<arch>/, replacing a file of the same name with other bytes."""
    (repo / ARCH).mkdir(parents=True, exist_ok=True)
    for deb in debs:
        dest = repo / ARCH / deb.name
        if dest.exists() and dest.stat().st_ino == deb.stat().st_ino:
            continue
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.unlink(missing_ok=True)
        place(deb, tmp)
        tmp.replace(dest)


def make_host_repository(bundle: Path, out: Path, gpg_home: Path, say=print) -> Path:
    """<out>/debian/: a flat repository of the bundle's host packages (conntrack, socat, ..., and the package sets) and of
    containerd.io (its runtime, packaged as Docker's repository does), signed with the same key: the Debian (and Docker)
    mirror a company's hosts already have, for a lab whose hosts reach no mirror."""
    try:
        manifest = parse_manifest((bundle / MANIFEST).read_text(encoding="utf-8"), str(bundle))
    except OSError as exc:
        raise BundleError(f"cannot read the bundle's manifest in {bundle}: {exc}") from exc
    repo = out / "debian"
    link_into(repo, [bundle / f["path"] for f in manifest["files"] if f["kind"] == "deb" or f["kind"].startswith("deb-")]
              + cached_debs(bundle, manifest, "", say, specs=[runtime_spec(manifest)]))
    write_indices(repo, ensure_key(gpg_home), gpg_home)
    say(f"repository {repo}: {len(list((repo / ARCH).glob('*.deb')))} host packages")
    return repo


def make_repository(bundle: Path, out: Path, gpg_home: Path, revision: str = DEFAULT_REVISION, say=print) -> Path:
    """Add the bundle's packages to the minor's repository under out and sign its indices; return its directory."""
    try:
        manifest = parse_manifest((bundle / MANIFEST).read_text(encoding="utf-8"), str(bundle))
    except OSError as exc:
        raise BundleError(f"cannot read the bundle's manifest in {bundle}: {exc}") from exc
    if not revision or any(c not in "0123456789.~+" for c in revision) or not revision[0].isdigit():
        raise BundleError(f"package revision {revision!r}: digits and dots (such as 1.1)")
    repo = repository_dir(out, manifest["kubernetes_version"])
    link_into(repo, cached_debs(bundle, manifest, revision, say))
    write_indices(repo, ensure_key(gpg_home), gpg_home)
    say(f"repository {repo}: {', '.join(sorted(p.name for p in (repo / ARCH).glob('*.deb')))}")
    return repo
