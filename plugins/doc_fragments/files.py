# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the modules that write a component's files in one call (argument spec: _files.ARG_SPEC)."""
from __future__ import annotations


class ModuleDocFragment:
    """kubeseed.cluster.files."""

    DOCUMENTATION = r'''
options:
  directories:
    description: Directories to create when missing (parents too), mode 0755. An existing directory is left as it is.
    type: list
    elements: path
    default: []
  files:
    description:
      - Files to write when their content or mode differ, each atomically (a temporary file renamed over the destination).
        The content is compared with the host's, so check mode predicts exactly what a run writes.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Destination.
        type: path
        required: true
      content:
        description: The whole content (text).
        type: str
        required: true
      mode:
        description: Octal mode as a quoted string (an unquoted 0644 is a YAML number and is refused).
        type: raw
        default: '0644'
      hidden_lines:
        description:
          - A regular expression (Python C(re.search)); lines of the file's old or new content where it finds something are
            shown as a mark in the diff, never as they are. For a file that held a secret line before (credentials that
            were then removed), the diff of the change shows everything else.
        type: str
        default: ''
notes:
  - The content is a module argument, so it is in the task's result and in C(-vvv) output. For a file that may hold
    credentials use C(no_log) on the task (it hides the diff too).
'''
