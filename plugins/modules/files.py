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
  directory_mode:
    description:
      - Octal mode, as a quoted string, of the O(directories) this call creates (for example C('0700') for a directory that
        holds a kubeconfig); an existing directory keeps its mode.
    type: raw
    default: '0755'
extends_documentation_fragment:
  - kubeseed.cluster.files
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _files


def main() -> None:
    module = AnsibleModule(argument_spec=dict(_files.ARG_SPEC, directory_mode={'type': 'raw', 'default': '0755'}), supports_check_mode=True)
    problems = _files.mode_problems(module.params['files']) + [_files.mode_problem(module.params['directory_mode'], 'directory_mode')]
    if any(problems):
        module.fail_json(msg='; '.join(problem for problem in problems if problem))
    try:
        result = _files.converge(module.params['directories'], module.params['files'], module.check_mode,
                                 directory_mode=int(module.params['directory_mode'], 8))
    except (OSError, ValueError) as exc:
        module.fail_json(msg='%s' % exc)
    module.exit_json(changed=bool(result['changed_paths']), changed_paths=result['changed_paths'],
                     diff=result['diff'] if module._diff else [])  # pylint: disable=protected-access


if __name__ == '__main__':
    main()
