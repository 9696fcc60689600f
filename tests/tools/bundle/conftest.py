"""Fixtures for the offline bundle tests: the built bundle of the requested version.

The version is ``$KUBESEED_KUBERNETES_VERSION`` (default: the builder's
default).  The tests fail, not skip, when the bundle was not built.
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUNDLE_TOOL = ROOT / 'tools' / 'bundle' / 'bundle.py'
sys.path.insert(0, str(BUNDLE_TOOL.parent))

from kubeseed_bundle import pins, shared  # noqa: E402  pylint: disable=wrong-import-position


def _version_args() -> list[str]:
    version = os.environ.get('KUBESEED_KUBERNETES_VERSION')
    return ['--kubernetes-version', version] if version else []


@pytest.fixture(scope='session')
def requested_version() -> str:
    """The Kubernetes version under test, without the leading v (e.g. 1.37.2)."""
    return pins.normalize_version(os.environ.get('KUBESEED_KUBERNETES_VERSION') or pins.DEFAULT_VERSION)


@pytest.fixture(scope='session')
def bundle_dir() -> pathlib.Path:
    """The bundle directory for the current recipe; fails with the command to build it."""
    proc = subprocess.run([sys.executable, str(BUNDLE_TOOL), 'path', *_version_args()], capture_output=True, text=True, check=False)
    path = pathlib.Path(proc.stdout.strip())
    if proc.returncode != 0 or not (path / 'manifest.json').is_file():
        command = ' '.join(['python3', 'tools/bundle/bundle.py', 'build', *_version_args()])
        pytest.fail(f'offline bundle missing at {path}: run `{command}` first (or `make bundle`)')
    return path


@pytest.fixture(scope='session')
def manifest(bundle_dir: pathlib.Path) -> dict:
    """manifest.json, parsed by the collection's parser (plugins/module_utils/_bundle.py), which refuses a malformed one."""
    return shared.parse_manifest((bundle_dir / 'manifest.json').read_text(encoding='utf-8'), str(bundle_dir))
