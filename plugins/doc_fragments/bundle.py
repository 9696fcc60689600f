# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the modules that read a kubeseed offline bundle (argument spec: _bundle.SOURCE_ARG_SPEC)."""
from __future__ import annotations


class ModuleDocFragment:
    """kubeseed.cluster.bundle."""

    DOCUMENTATION = r'''
options:
  url:
    description: URL of the bundle directory (the one holding C(manifest.json)); http, https or file.
    type: str
    required: true
  timeout:
    description: Timeout of each download in seconds.
    type: int
    default: 300
  validate_certs:
    description: Verify TLS certificates of an https bundle URL.
    type: bool
    default: true
'''
