#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: service
short_description: Converge a systemd service in one call, restarting it when its configuration is newer than the process
version_added: 0.9.0
description:
  - Reads the unit once (C(systemctl show)), then runs only what is needed, in this order. C(systemctl daemon-reload)
    when systemd says a unit file or drop-in changed on disk since it read it. C(enable) when the unit is not enabled.
    C(start) when it is not running. C(restart) when it runs and O(restart) is true or one of the O(restart_if_newer)
    files is newer than the running process (so a configuration written by a run that then failed still gets loaded by
    the next run, which a handler would lose), or, with O(restart_if_replaced), when the running process is not the
    program the unit starts.
  - One module call instead of the four or five tasks (unit state, start, find, start time, restart) this takes with
    C(ansible.builtin.systemd_service), C(find) and C(command); that is what a no-op re-run spends its time on.
  - With O(files) (and O(directories)), the unit's own files (its unit file, drop-ins, configuration) are written first, in the
    same call, and a running unit is restarted when one of them was rewritten (unless O(restart_when_files_change) is
    false); a rewritten unit file or drop-in is read by systemd (C(daemon-reload)) first, also when systemd does not ask
    for it (a new unit file in C(/etc/systemd/system) overriding a package's). In check mode the files a run would write
    count as rewritten.
  - After a start or restart the service must be running, else the task fails with the unit's last log lines.
  - C(changed) comes from the unit's state read on the host; check mode predicts the same actions and runs none. In check
    mode a unit that is not installed yet (its package is installed earlier in the same run) is predicted to be enabled
    and started.
author:
  - kubeseed maintainers (@kubeseed)
options:
  name:
    description: The unit, without C(.service).
    type: str
    required: true
  enabled:
    description: Enable the unit at boot.
    type: bool
    default: true
  started:
    description: Start the unit when it is not running (C(false) leaves it as it is).
    type: bool
    default: true
  start_if_exists:
    description:
      - Start (and restart) the unit only once this path exists; until then it is only enabled. For the kubelet, which has
        no configuration before C(kubeadm init) or C(kubeadm join) and is started by kubeadm.
    type: path
  restart:
    description: Restart the running unit (for example because the run replaced its binary). Ignored while it is not running.
    type: bool
    default: false
  restart_if_newer:
    description:
      - Glob patterns (C(**) crosses directories) of the files the unit reads at start; the running unit is restarted when
        the newest of them is newer than the process.
    type: list
    elements: str
    default: []
  restart_if_replaced:
    description:
      - Restart the running unit when its process is not the program the unit starts - its executable was replaced on
        disk since it started, or the unit now starts another path (for example the bundle's containerd in place of a
        package's). C(false) for a unit whose caller restarts it itself at the right moment (the kubelet in an upgrade).
    type: bool
    default: false
  restart_when_files_change:
    description:
      - Restart the running unit when this call rewrote one of its O(files). C(false) for a caller that restarts the unit
        itself later (C(playbooks/upgrade.yml) restarts the kubelet after C(kubeadm upgrade)).
    type: bool
    default: true
extends_documentation_fragment:
  - kubeseed.cluster.files
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Reads the unit and the files, reports the actions a run would take, takes none.
  diff_mode:
    support: full
    description: The files' before and after, and the unit's enabled and active state before and after.
notes:
  - systemd only (C(systemctl), C(journalctl)).
'''

EXAMPLES = r'''
- name: containerd running with its current configuration
  kubeseed.cluster.service:
    name: containerd
    restart_if_newer: [/etc/containerd/**/*.toml, /etc/systemd/system/containerd.service.d/*.conf]

- name: The kubelet's unit written, enabled, and running once the node is in a cluster
  kubeseed.cluster.service:
    name: kubelet
    start_if_exists: /etc/kubernetes/kubelet.conf
    restart: "{{ kubelet_binary is changed }}"
    directories: [/etc/systemd/system/kubelet.service.d]
    files:
      - path: /etc/systemd/system/kubelet.service
        content: "{{ lookup('ansible.builtin.template', 'kubelet.service.j2') }}"
'''

RETURN = r'''
actions:
  description: What was done (in check mode, what a run would do), each with its reason.
  returned: always
  type: list
  elements: str
  sample: ['restart: /etc/containerd/config.toml is newer than the running process']
changed_paths:
  description: The directories created and files written (in check mode, those a run would create or write), in order.
  returned: always
  type: list
  elements: str
  sample: [/etc/containerd/config.toml]
state:
  description: The unit's state before the run (C(loaded), C(enabled), C(active)).
  returned: always
  type: dict
  sample: {loaded: loaded, enabled: enabled, active: active (running)}
waits_for:
  description: The O(start_if_exists) path when it does not exist (the unit was not started), else empty.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _files, _service


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            'name': {'type': 'str', 'required': True},
            'enabled': {'type': 'bool', 'default': True},
            'started': {'type': 'bool', 'default': True},
            'start_if_exists': {'type': 'path'},
            'restart': {'type': 'bool', 'default': False},
            'restart_if_newer': {'type': 'list', 'elements': 'str', 'default': []},
            'restart_if_replaced': {'type': 'bool', 'default': False},
            'restart_when_files_change': {'type': 'bool', 'default': True},
            **_files.ARG_SPEC,
        },
        supports_check_mode=True,
    )
    params = module.params
    problems = _files.mode_problems(params['files'])
    if problems:
        module.fail_json(msg='; '.join(problems))
    if not module.get_bin_path('systemctl'):
        module.fail_json(msg='%s: systemctl is not on this host: the service module needs systemd' % params['name'])
    try:
        written = _files.converge(params['directories'], params['files'], module.check_mode)
    except (OSError, ValueError) as exc:
        module.fail_json(msg='%s: %s' % (params['name'], exc))
    file_paths = [spec['path'] for spec in params['files']]
    rewritten = [path for path in written['changed_paths'] if path in file_paths] if params['restart_when_files_change'] else []

    def run(argv: list) -> tuple:
        return module.run_command(argv, environ_update={'LC_ALL': 'C', 'SYSTEMD_PAGER': ''})

    try:
        result = _service.converge(run, params['name'], enabled=params['enabled'], started=params['started'],
                                   start_if_exists=params['start_if_exists'] or '', restart=params['restart'],
                                   restart_if_newer=params['restart_if_newer'], check_mode=module.check_mode,
                                   rewritten=rewritten, check_replaced=params['restart_if_replaced'])
    except _service.ServiceError as exc:
        module.fail_json(msg='%s' % exc, changed_paths=written['changed_paths'])
    diff = written['diff'] + _service.state_diff(params['name'], result)
    module.exit_json(changed=bool(result['actions'] or written['changed_paths']), actions=result['actions'], state=result['before'],
                     waits_for=result['waits_for'], changed_paths=written['changed_paths'],
                     diff=diff if module._diff else [])  # pylint: disable=protected-access


if __name__ == '__main__':
    main()
