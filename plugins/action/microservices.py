# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of kubeseed.cluster.microservices: refuse misspelt role variables, take every service's
inline ``secrets`` out of ``services`` (and the data of every Secret of ``extra_objects``) into the module's no_log options,
and hide the values of ``secrets`` given in ``defaults`` (refused there), before the module runs.

Nothing here is templated from the secret values and nothing raises on a malformed list: a broken entry
(no name, secrets given as a list) reaches the module's validation, which reports it by path without values.
"""
from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_guard as guard


class ActionModule(ActionBase):
    """Check the role's variables (check_variables), move inline secrets, run the module."""

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        args = dict(self._task.args)
        if args.pop('check_variables', False) in (True, 'true', 'True', 'yes', 1):
            problems = guard.unknown_variables(list(task_vars))
            if problems:
                message = '%d problem(s) in the microservices variables; nothing was applied:\n- %s' % (len(problems), '\n- '.join(problems))
                result.update(failed=True, changed=False, problems=problems, msg=message)
                return result
        if 'defaults' in args:
            # secrets are refused in the defaults; their values must not reach the module's arguments (shown by -vvv)
            args['defaults'] = guard.hide_default_secrets(args['defaults'])
        extra, extra_secrets = guard.split_extra_secrets(args.get('extra_objects', []))
        if any(entry is not None for entry in extra_secrets):
            args['extra_objects'] = extra
            args['extra_secrets'] = extra_secrets
        services, inline = guard.split_secrets(args.get('services', []))
        if any(entry is not None for entry in inline):
            args['services'] = services
            args['service_secrets'] = inline
        result.update(self._execute_module(module_name='kubeseed.cluster.microservices', module_args=args, task_vars=task_vars))
        return result
