"""manifest.json: writing it and checking a bundle directory against it, with the collection's parser (shared._bundle)."""
from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Sequence
from typing import Any
from pathlib import Path

from .cache import CLI, bundle_dir
from .errors import BundleError
from .pins import ARCH, DEB_SETS, HOST_DEBS, Pins, pins_for
from .shared import MANIFEST, SCHEMA, ManifestError, parse_manifest, sha256_file


@dataclasses.dataclass
class Entry:
    """A file to place in the bundle."""

    path: str
    source: Path
    kind: str
    component: str
    version: str


def write_manifest(
    staging: Path,
    *,
    pins: Pins,
    recipe: str,
    go_version: str,
    entries: Sequence[Entry],
    images: list[dict[str, Any]],
    app_images: list[dict[str, Any]],
    addon_images: list[dict[str, Any]],
    debs: dict[str, str],
) -> dict[str, Any]:
    """Write ``manifest.json`` for the files placed in ``staging``; ``debs`` maps host package names to versions."""
    manifest = {
        "schema": SCHEMA,
        "kubernetes_version": pins.kubernetes,
        "recipe": recipe,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "arch": ARCH,
        "go_version": go_version,
        "files": [
            {
                "path": e.path,
                "sha256": sha256_file(staging / e.path),
                "size": (staging / e.path).stat().st_size,
                "kind": e.kind,
                "component": e.component,
                "version": e.version,
            }
            for e in entries
        ],
        "images": images,
        "app_images": app_images,
        # images of the cluster's own workloads: the serving-certificate approver and the add-ons (role addons)
        "addon_images": addon_images,
        "debs": sorted(debs),
        "debs_install": list(HOST_DEBS),
        "debs_sets": {name: list(roots) for name, roots in sorted(DEB_SETS.items())},
        "components": {
            "kubernetes": pins.kubernetes,
            "etcd": pins.etcd,
            "coredns": pins.coredns,
            "containerd": pins.containerd,
            "runc": pins.runc,
            "crictl": pins.crictl,
            "cni_plugins": pins.cni_plugins,
            "pause": pins.pause,
            "metrics_server": pins.metrics_server,
            "local_path_provisioner": pins.local_path_provisioner,
        },
    }
    text = json.dumps(manifest, indent=2) + "\n"
    try:
        parse_manifest(text, str(staging))
    except ManifestError as exc:
        raise BundleError(f"the collection's parser (plugins/module_utils/_bundle.py) refuses the manifest the builder wrote: {exc}") from exc
    (staging / MANIFEST).write_text(text, encoding="utf-8")
    return manifest


def verify(version: str) -> list[str]:
    """Re-check every manifest entry of the bundle; return a list of problems."""
    pins = pins_for(version)
    final = bundle_dir(pins)
    manifest_path = final / MANIFEST
    if not manifest_path.exists():
        return [f"no bundle at {final}: run `python3 {CLI} build --kubernetes-version {pins.kubernetes}`"]
    return verify_dir(final)


def verify_dir(final: Path) -> list[str]:
    """Check files against manifest.json: a manifest the collection accepts, sha256, size, no missing and no unlisted files."""
    try:
        manifest = parse_manifest((final / MANIFEST).read_text(encoding="utf-8"), str(final))
    except ManifestError as exc:
        return [str(exc)]
    problems = []
    listed = set()
    for item in manifest["files"]:
        path = final / item["path"]
        listed.add(item["path"])
        if not path.is_file():
            problems.append(f"missing: {item['path']}")
        elif path.stat().st_size != item["size"] or sha256_file(path) != item["sha256"]:
            problems.append(f"checksum mismatch: {item['path']}")
    for path in final.rglob("*"):
        rel = str(path.relative_to(final))
        if path.is_file() and rel != MANIFEST and rel not in listed:
            problems.append(f"not in manifest: {rel}")
    return problems
