#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: files
short_description: Converge several directories and files of a host in one call
version_added: 0.3.0
description:
  - Makes the directories (mode 0755) and writes the files whose content or mode differ, each atomically (a temporary file
    renamed over the destination), in one module call instead of one task per file. The roles render the content on the
    controller (for example with C(lookup('ansible.builtin.template', ...))) and converge a component's files together.
  - C(changed) and C(changed_paths) come from comparing the content and mode on the host with the given ones, so check mode
    predicts exactly what a run writes.
author:
  - kubeseed maintainers (@kubeseed)
options:
  directories:
    description: Directories to create when missing (parents too), mode 0755. An existing directory is left as it is.
    type: list
    elements: path
    default: []
  files:
    description: The files.
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
notes:
  - The content is a module argument, so it is in the task's result and in C(-vvv) output. For a file that may hold
    credentials use C(no_log) on the task (it hides the diff too).
extends_documentation_fragment:
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Compares and reports the paths a run would write; writes nothing.
  diff_mode:
    support: full
    description: Before and after of each changed file (content, or its mode when only that changes); none with C(no_log).
'''

EXAMPLES = r'''
- name: containerd's configuration files
  kubeseed.cluster.files:
    directories: [/etc/containerd, /etc/containerd/certs.d]
    files:
      - path: /etc/containerd/config.toml
        content: "{{ lookup('ansible.builtin.template', 'config.toml.j2') }}"
      - path: /etc/crictl.yaml
        content: "runtime-endpoint: unix:///run/containerd/containerd.sock\n"
  register: containerd_files

- name: Restart when the configuration changed
  ansible.builtin.systemd_service:
    name: containerd
    state: restarted
  when: "'/etc/containerd/config.toml' in containerd_files.changed_paths"
'''

RETURN = r'''
changed_paths:
  description: The directories created and files written (in check mode, those a run would create or write), in order.
  returned: always
  type: list
  elements: str
  sample: [/etc/containerd/config.toml]
'''

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _files


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            'directories': {'type': 'list', 'elements': 'path', 'default': []},
            'files': {'type': 'list', 'elements': 'dict', 'default': [], 'options': {
                'path': {'type': 'path', 'required': True},
                'content': {'type': 'str', 'required': True},
                'mode': {'type': 'raw', 'default': '0644'},
            }},
        },
        supports_check_mode=True,
    )
    for index, spec in enumerate(module.params['files']):
        if not isinstance(spec['mode'], str) or not re.fullmatch(r'0?[0-7]{3}', spec['mode']):
            module.fail_json(msg="files[%d].mode: %r is not an octal mode as a string; quote it, e.g. '0644' (YAML reads an unquoted "
                                 "0644 as the number 420)" % (index, spec['mode']))
    try:
        result = _files.converge(module.params['directories'], module.params['files'], module.check_mode)
    except (OSError, ValueError) as exc:
        module.fail_json(msg='%s' % exc)
    module.exit_json(changed=bool(result['changed_paths']), changed_paths=result['changed_paths'],
                     diff=result['diff'] if module._diff else [])  # pylint: disable=protected-access


if __name__ == '__main__':
    main()
