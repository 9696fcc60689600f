"""pytest fixture: a session-scoped local Kubernetes control plane from the offline bundle.

Use it from any test directory::

    # conftest.py
    import pathlib, sys
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[N] / 'tools' / 'localcp'))
    from pytest_localcp import kubeseed_control_plane  # noqa: F401  (re-exported fixture)

The fixture yields a ``LocalControlPlane``: ``.kubeconfig`` (admin, 0600) and
``.server``.  It fails (never skips) when the bundle was not built.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcp import LocalControlPlane, LocalCPError


@pytest.fixture(scope='session')
def kubeseed_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane]:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler on 127.0.0.1, stopped after the session."""
    plane = LocalControlPlane(tmp_path_factory.mktemp('localcp'), tie_to_parent=True)
    try:
        plane.up()
    except LocalCPError as exc:
        pytest.fail(f'local control plane did not start: {exc}')
    try:
        yield plane
    finally:
        plane.down()
