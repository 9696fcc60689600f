"""Container images: what goes into each one, its root filesystem and packing it with imagepack (cached per image)."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

from .cache import PART_REVISIONS, Part, short_hash
from .proc import Progress, capture
from .shared import sha256_file

IMAGE_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclasses.dataclass
class ImageSpec:
    """What goes into one image: files (bundle path -> image path) and a config."""

    ref: str
    file: str
    component: str
    binary_version: str
    files: dict[str, Path]
    entrypoint: list[str]
    debs: list[Path] = dataclasses.field(default_factory=list)


def image_basename(ref: str) -> str:
    """``registry.k8s.io/coredns/coredns:v1.14.6`` -> ``coredns``."""
    return ref.rsplit(":", 1)[0].rsplit("/", 1)[-1]


def kubeadm_images(kubeadm: Path, version: str) -> list[str]:
    """Images kubeadm names for the version (never contacts the internet: version is set)."""
    out = capture([str(kubeadm), "config", "images", "list", "--kubernetes-version", f"v{version}"])
    return [line.strip() for line in out.splitlines() if line.strip()]


BASE_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/nsswitch.conf": "hosts: files dns\n",
}
IPTABLES_LINKS = {
    "usr/sbin/iptables": "iptables-nft",
    "usr/sbin/iptables-save": "iptables-nft-save",
    "usr/sbin/iptables-restore": "iptables-nft-restore",
    "usr/sbin/ip6tables": "ip6tables-nft",
    "usr/sbin/ip6tables-save": "ip6tables-nft-save",
    "usr/sbin/ip6tables-restore": "ip6tables-nft-restore",
}


def image_rootfs(spec: ImageSpec, root: Path) -> None:
    """Lay out the image's root filesystem in ``root``."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for rel, text in BASE_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    for deb in spec.debs:
        capture(["dpkg-deb", "-x", str(deb), str(root)])
    if spec.debs:
        for rel, target in IPTABLES_LINKS.items():
            link = root / rel
            if not link.exists() and (link.parent / target).exists():
                link.symlink_to(target)
        for rel in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian"):
            shutil.rmtree(root / rel, ignore_errors=True)
    for rel, source in spec.files.items():
        dest = root / rel.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
        os.chmod(dest, 0o755)


def pack_image(spec: ImageSpec, imagepack: Path, created: str, progress: Progress) -> tuple[Path, dict[str, str]]:
    """Pack (or reuse) one image; returns the tarball and imagepack's JSON."""
    inputs = sorted((rel, sha256_file(src)) for rel, src in spec.files.items())
    inputs += sorted((deb.name, sha256_file(deb)) for deb in spec.debs)
    key = short_hash(PART_REVISIONS["image"], spec.ref, spec.entrypoint, inputs, sha256_file(imagepack), created, BASE_FILES, IPTABLES_LINKS)
    part = Part(f"image-{image_basename(spec.ref)}", key)
    tarball = part.path / "image.tar"
    if part.done:
        progress.say(f"  cached: {spec.ref}")
        return tarball, {str(k): str(v) for k, v in part.meta().items()}
    if part.path.exists():
        shutil.rmtree(part.path)
    part.path.mkdir(parents=True)
    root = part.path / "rootfs"
    image_rootfs(spec, root)
    cmd = [str(imagepack), "-ref", spec.ref, "-tree", str(root), "-out", str(tarball), "-created", created, "-env", IMAGE_PATH_ENV]
    for element in spec.entrypoint:
        cmd += ["-entrypoint", element]
    progress.say(f"  packing {spec.ref}")
    result = json.loads(capture(cmd))
    shutil.rmtree(root)
    part.mark_done(result)
    return tarball, result
