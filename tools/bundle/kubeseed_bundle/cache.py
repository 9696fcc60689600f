"""Where builds live: the cache root, cached parts keyed by their inputs, the bundle directory keyed by the recipe."""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from .pins import Pins
from .shared import COLLECTION_BUNDLE, REPO, TOOL_DIR

CLI = TOOL_DIR / "bundle.py"
RECIPE_SUFFIXES = frozenset({".py", ".go", ".mod", ".sum"})

# Bumping a revision rebuilds only that part (the key of every part includes it).
PART_REVISIONS = {
    "kubernetes": 1,
    "etcd": 1,
    "coredns": 1,
    "crictl": 1,
    "cni": 1,
    "tools": 1,
    "metrics": 1,
    "local": 1,
    "containerd": 1,
    "runc": 1,
    "debs": 1,
    "image": 1,
}


def cache_root() -> Path:
    """Return the cache root (``$KUBESEED_CACHE`` or ``~/.cache/kubeseed``)."""
    value = os.environ.get("KUBESEED_CACHE")
    return Path(value) if value else Path.home() / ".cache" / "kubeseed"


def short_hash(*parts: object) -> str:
    """Return a 12 character hash of JSON-serialisable parts."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def recipe_files() -> list[tuple[str, Path]]:
    """(name, path) of the builder's source files under tools/bundle, then of the collection's _bundle.py (it parses the manifest)."""
    # Sources only: caches, editor files or test output never change the recipe.
    files = [
        (str(path.relative_to(TOOL_DIR)), path)
        for path in sorted(TOOL_DIR.rglob("*"))
        if path.is_file() and path.suffix in RECIPE_SUFFIXES and "__pycache__" not in path.parts
    ]
    return files + [(str(COLLECTION_BUNDLE.relative_to(REPO)), COLLECTION_BUNDLE)]


def recipe_hash(pins: Pins) -> str:
    """Hash the builder's own source files, the collection's manifest parser and the version pins."""
    digest = hashlib.sha256()
    for name, path in recipe_files():
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(json.dumps(pins.as_dict(), sort_keys=True).encode())
    return digest.hexdigest()[:12]


def bundle_dir(pins: Pins) -> Path:
    """Return the final bundle directory for the pins and the current recipe."""
    return cache_root() / "bundles" / f"{pins.kubernetes}-{recipe_hash(pins)}"


@dataclasses.dataclass
class Part:
    """A cached build output directory; ``done`` marks it complete."""

    name: str
    key: str

    @property
    def path(self) -> Path:
        """Directory of the part."""
        return cache_root() / "parts" / f"{self.name}-{self.key}"

    @property
    def done(self) -> bool:
        """True when the part finished building."""
        return (self.path / ".done").exists()

    def mark_done(self, meta: dict[str, object]) -> None:
        """Record completion and metadata."""
        (self.path / ".done").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def meta(self) -> dict[str, object]:
        """Metadata written by ``mark_done``."""
        return json.loads((self.path / ".done").read_text(encoding="utf-8"))


def place(source: Path, dest: Path) -> None:
    """Hard-link (same file system) or copy a file into the staging bundle."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """One build at a time per cache (builds share work directories and two cores)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".build.lock").open("w", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[bundle] waiting for another build in {root} to finish ...", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
