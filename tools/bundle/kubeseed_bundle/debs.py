"""Debian packages from the host's apt: dependency closures, exact-version downloads and the flat apt index."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .cache import PART_REVISIONS, Part, cache_root, short_hash
from .errors import BundleError
from .proc import Progress, capture, run
from .shared import sha256_file


@dataclasses.dataclass(frozen=True)
class Deb:
    """One resolved Debian binary package (candidate version)."""

    name: str
    version: str
    filename: str
    sha256: str
    depends: tuple[tuple[str, ...], ...]
    required: bool

    @property
    def deb_file(self) -> str:
        """File name as ``apt-get download`` writes it (epoch colon is %3a)."""
        return Path(self.filename).name


def parse_depends(value: str) -> tuple[tuple[str, ...], ...]:
    """Parse a Depends field into groups of alternatives (names only)."""
    groups = []
    for group in value.split(","):
        names = tuple(re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alt).strip().split(":")[0] for alt in group.split("|"))
        names = tuple(name for name in names if name)
        if names:
            groups.append(names)
    return tuple(groups)


class Apt:
    """Resolves dependency closures with the host's apt (a Debian bookworm host)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.cache: dict[str, Deb | None] = {}
        self.providers: dict[str, list[str]] = {}
        if shutil.which("apt-cache") is None or shutil.which("apt-get") is None:
            raise BundleError("apt-get/apt-cache not found: build the bundle on Debian bookworm")
        release = Path("/etc/os-release").read_text(encoding="utf-8")
        if "VERSION_CODENAME=bookworm" not in release:
            raise BundleError("the .debs must come from Debian bookworm: build the bundle on a bookworm host")

    def update_if_stale(self) -> None:
        """Run apt-get update unless this builder did so in the last 6 hours (stamp in the cache)."""
        stamp = cache_root() / "work" / "apt-updated"
        if stamp.exists() and time.time() - stamp.stat().st_mtime < 6 * 3600:
            return
        self.progress.say("  apt-get update")
        run(["apt-get", "update", "-q"], progress=self.progress, label="apt-get update", log=cache_root() / "work" / "apt.log")
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()

    def show(self, names: Iterable[str]) -> None:
        """Load candidates of many packages with one apt-cache call (virtual ones become None)."""
        wanted = sorted({name for name in names if name not in self.cache})
        if not wanted:
            return
        out = capture(["apt-cache", "show", "--no-all-versions", *wanted])
        for stanza in out.split("\n\n"):
            fields: dict[str, str] = {}
            key = ""
            for line in stanza.splitlines():
                if line[:1].isspace() and key:
                    fields[key] += " " + line.strip()
                elif ":" in line:
                    key, _sep, value = line.partition(":")
                    fields[key] = value.strip()
            if "Package" not in fields or fields["Package"] in self.cache:
                continue
            depends = parse_depends(fields.get("Pre-Depends", "")) + parse_depends(fields.get("Depends", ""))
            required = fields.get("Essential") == "yes" or fields.get("Priority") == "required"
            self.cache[fields["Package"]] = Deb(fields["Package"], fields["Version"], fields["Filename"], fields["SHA256"], depends, required)
        for name in wanted:
            self.cache.setdefault(name, None)

    def provider(self, name: str) -> str | None:
        """First real package providing a virtual one."""
        proc = subprocess.run(["apt-cache", "showpkg", name], capture_output=True, text=True, check=False)
        text = proc.stdout.split("Reverse Provides:", 1)
        if len(text) < 2:
            return None
        for line in text[1].splitlines():
            if line.strip():
                return line.split()[0]
        return None

    def closure(self, roots: Iterable[str], present: frozenset[str], skip_required: bool,
                prefer: Mapping[str, str] | None = None) -> list[Deb]:
        """Dependency closure of ``roots`` (Depends + Pre-Depends, no Recommends).

        Packages in ``present`` (and, with ``skip_required``, Essential or
        Priority: required packages) are assumed installed: not shipped, not
        followed.  Roots are always shipped.  ``prefer`` maps an alternative
        to the one taken in its place (what debootstrap installs).
        """
        prefer = prefer or {}
        chosen: dict[str, Deb] = {}
        level = sorted(set(roots))
        root_set = set(level)
        while level:
            self.show(level)
            self.show(alt for name in level if self.cache.get(name) for group in self.cache[name].depends for alt in group)
            following: list[str] = []
            for name in level:
                deb = self.cache.get(name)
                if deb is None:
                    raise BundleError(f"Debian package {name} not found (apt-get update?)")
                if name in chosen or (name not in root_set and (name in present or (skip_required and deb.required))):
                    continue
                chosen[name] = deb
                for group in deb.depends:
                    if any(alt in chosen or alt in present or alt in following for alt in group):
                        continue
                    pick = next((prefer.get(alt, alt) for alt in group if self.cache.get(prefer.get(alt, alt)) is not None), None)
                    if pick is None:
                        pick = next((real for real in map(self.provider, group) if real), None)
                    if pick is None:
                        raise BundleError(f"cannot satisfy dependency {' | '.join(group)} of {name}")
                    following.append(pick)
            level = sorted(set(following) - set(chosen))
        return sorted(chosen.values(), key=lambda d: d.name)

    def download(self, debs: Sequence[Deb], part: Part, label: str) -> None:
        """Download exact versions into the part directory and check their sha256."""
        tmp = part.path.with_name(part.path.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        os.chmod(tmp, 0o755)
        run(
            ["apt-get", "download", "-q", *[f"{d.name}={d.version}" for d in debs]],
            progress=self.progress,
            label=label,
            log=cache_root() / "work" / f"{label.replace(' ', '-')}.log",
            cwd=tmp,
        )
        for deb in debs:
            path = tmp / deb.deb_file
            if not path.exists():
                candidates = list(tmp.glob(f"{deb.name}_*.deb"))
                if len(candidates) != 1:
                    raise BundleError(f"apt-get download did not produce {deb.deb_file}")
                candidates[0].rename(path)
            if sha256_file(path) != deb.sha256:
                raise BundleError(f"sha256 mismatch for {path}")
        if part.path.exists():
            shutil.rmtree(part.path)
        tmp.rename(part.path)


def deb_part(apt: Apt, name: str, debs: Sequence[Deb], label: str) -> Part:
    """Download (or reuse) a set of exact .deb versions."""
    part = Part(name, short_hash(name, PART_REVISIONS["debs"], [(d.name, d.version, d.sha256) for d in debs]))
    if part.done:
        apt.progress.say(f"  cached: {part.path}")
        return part
    apt.download(debs, part, label)
    part.mark_done({"debs": {d.deb_file: {"name": d.name, "version": d.version} for d in debs}})
    return part


def deb_control(path: Path) -> str:
    """The control file of a .deb (via dpkg-deb)."""
    return capture(["dpkg-deb", "-f", str(path)])


def write_packages_index(debdir: Path) -> None:
    """Write ``Packages`` and ``Packages.gz`` so the directory is a flat apt repository."""
    stanzas = []
    for path in sorted(debdir.glob("*.deb")):
        control = deb_control(path).rstrip("\n")
        data = path.read_bytes()
        stanzas.append(
            f"{control}\nFilename: ./{path.name}\nSize: {len(data)}\n"
            f"MD5sum: {hashlib.md5(data).hexdigest()}\nSHA256: {hashlib.sha256(data).hexdigest()}\n"
        )
    text = "\n".join(stanzas).encode()
    (debdir / "Packages").write_bytes(text)
    with gzip.GzipFile(debdir / "Packages.gz", "wb", mtime=0) as handle:
        handle.write(text)
