#!/usr/bin/env python
"""kubeseed lab: real Linux hosts as systemd-nspawn machines on one controller.

`up` boots control-plane and worker hosts on a private bridge, serves the
offline bundle to them over that bridge and writes an Ansible inventory to
inventories/lab/. `down` removes everything `up` made. See docs/lab.md.

This file is only the entry point (also re-executed as `lab.py _exec` to boot a
host); the code is the package kubeseed_lab/ next to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

TOOL_DIR = str(Path(__file__).resolve().parent)
if TOOL_DIR not in sys.path:
    sys.path.insert(0, TOOL_DIR)

from kubeseed_lab.cli import main  # noqa: E402  pylint: disable=wrong-import-position

if __name__ == "__main__":
    sys.exit(main())
