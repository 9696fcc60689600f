"""Makes tools/localcp importable and provides the ``kubeseed_control_plane`` fixture."""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / 'tools' / 'localcp'))

from pytest_localcp import kubeseed_control_plane  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
