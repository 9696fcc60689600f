"""Code the builder shares with the collection: ``plugins/module_utils/_bundle.py``.

That file reads bundles on the target hosts (the ``bundle_files`` and
``bundle_debs`` modules); the builder imports it as a plain module so the
manifest it writes and checks is parsed by the very code the hosts run.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .errors import BundleError

TOOL_DIR = Path(__file__).resolve().parent.parent  # tools/bundle
REPO = TOOL_DIR.parent.parent
MODULE_UTILS = REPO / "plugins" / "module_utils"
COLLECTION_BUNDLE = MODULE_UTILS / "_bundle.py"

if str(MODULE_UTILS) not in sys.path:
    sys.path.append(str(MODULE_UTILS))

import _bundle  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

SCHEMA = _bundle.SCHEMA
MANIFEST = _bundle.MANIFEST
parse_manifest = _bundle.parse_manifest
ManifestError = _bundle.BundleError


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file that must exist (the collection's implementation, which returns None when it cannot read)."""
    digest = _bundle.sha256_file(str(path))
    if digest is None:
        raise BundleError(f"cannot read {path}")
    return digest
