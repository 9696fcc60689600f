# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side validation of the inventory and every kubeseed_* variable (see the module doc)."""
from __future__ import annotations

import glob
import os

import yaml
from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_validation import CONTROL_PLANE, ETCD, WORKERS, validate_cluster
from ansible_collections.kubeseed.cluster.plugins.module_utils._schema_validation import HAS_JSONSCHEMA

PREFIX = 'kubeseed_'
# Variables of the apps half and role-internal ones are validated elsewhere.
NOT_CLUSTER = ('kubeseed_microservices', 'kubeseed_apps_')


def _is_cluster_var(name: str) -> bool:
    return name.startswith(PREFIX) and not name.startswith(NOT_CLUSTER)


def _role_options() -> dict:
    """Every option of this collection's roles' argument_specs (role settings may be set in the inventory too)."""
    roles = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'roles')
    options: dict = {}
    for path in sorted(glob.glob(os.path.join(roles, '*', 'meta', 'argument_specs.yml'))):
        with open(path, encoding='utf-8') as handle:
            specs = (yaml.safe_load(handle) or {}).get('argument_specs') or {}
        for entry in specs.values():
            options.update((entry or {}).get('options') or {})
    return options


def _first_line(exc: Exception, limit: int = 200) -> str:
    """The first line of an error, cut to limit characters (the full text can hold a whole template)."""
    text = str(getattr(exc, 'message', '') or exc).strip()
    text = text.splitlines()[0] if text else 'an error without a message'
    return text if len(text) <= limit else text[:limit - 3] + '...'


class ActionModule(ActionBase):
    """Validate on the controller; never connects to a host."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        _unused, args = self.validate_argument_spec(argument_spec={
            'groups': {'type': 'list', 'elements': 'str', 'default': ['control_plane', 'workers', 'etcd']},
        })
        if not HAS_JSONSCHEMA:
            result.update(failed=True, msg='kubeseed.cluster.validate_cluster needs the jsonschema Python library on the controller '
                                           '(pip install jsonschema in the environment that runs ansible-playbook)')
            return result

        if len(args['groups']) != 3:
            result.update(failed=True, msg='groups: give the inventory groups of the control planes, the workers and the etcd members, '
                                           'in this order, e.g. [control_plane, workers, etcd] (got %s)' % args['groups'])
            return result
        if len(set(args['groups'])) != 3:
            result.update(failed=True, msg='kubeseed_control_plane_group, kubeseed_workers_group: they name the same group (the '
                                           'validation got groups %s); the control planes and the workers need a group each, '
                                           'e.g. control_plane and workers' % args['groups'])
            return result
        # the groups' roles are positional: the inventory may name them (kubeseed_control_plane_group, kubeseed_workers_group)
        names = dict(zip((CONTROL_PLANE, WORKERS, ETCD), args['groups']))
        inventory_groups = task_vars.get('groups', {})
        groups = {name: list(inventory_groups.get(name, [])) for name in args['groups']}
        hostvars = task_vars.get('hostvars', {})
        hosts = {}
        problems = []
        for host in sorted({h for members in groups.values() for h in members}):
            host_vars = hostvars[host]
            user_vars = {}
            for name in list(host_vars.keys()):
                if not _is_cluster_var(name):
                    continue
                try:
                    user_vars[name] = self._templar.template(host_vars[name])
                except AnsibleError as exc:
                    problems.append('%s: cannot be evaluated on host %s (%s)' % (name, host, _first_line(exc)))
            address = host_vars.get('ansible_host', host)
            hosts[host] = {'address': self._templar.template(address), 'vars': user_vars}

        # every group of the inventory: a group variable that names none of them is a typo
        all_groups = {name: list(members) for name, members in inventory_groups.items()}
        violations = problems + validate_cluster(all_groups, hosts, _role_options(), names)
        result['violations'] = violations
        result['hosts_checked'] = len(hosts)
        result['changed'] = False
        if violations:
            result['failed'] = True
            result['msg'] = ('%d problem(s) in the inventory or its variables; nothing was changed on any host:\n- %s'
                             % (len(violations), '\n- '.join(violations)))
        else:
            result['msg'] = 'inventory and variables are valid (%d hosts checked)' % len(hosts)
        return result
