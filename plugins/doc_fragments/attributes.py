# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes every module of the collection documents (each module states its own support levels)."""
from __future__ import annotations


class ModuleDocFragment:
    """kubeseed.cluster.attributes and kubeseed.cluster.attributes.platform."""

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode and report what a real run would change, without changing anything.
  diff_mode:
    description: Returns details of what changed (or would change in check mode) when run with C(--diff).
'''

    PLATFORM = r'''
options: {}
attributes:
  platform:
    support: full
    platforms: posix
    description: Linux hosts (tested on Debian bookworm).
'''
