# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge a cluster to a list of microservices: apply, prune, wait (the backend of the microservices module).

One client, one process: every object is server-side applied (field manager ``kubeseed``) by a small
thread pool, kind after kind (ConfigMaps and Secrets before the Deployments that use them).
``changed`` compares each object as the server returns it after the apply (or after a dry-run
apply in check mode) with the live object listed before, both without server-kept fields.

What is specific to the microservices is here: which objects (_microservices_render), which labels make the set, which
live objects may be pruned, and the order and failure rules of a run. Applying, deleting and waiting are generic
(_k8s_apply, _k8s_wait).
"""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_apply as apply
from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_rollback as rollback
from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_render as render
from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_summary as summary
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_wait import wait_rollouts


class ConvergeError(Exception):
    """A failure after which the result so far (objects, changed) is still reported."""

    def __init__(self, message: str, result: dict) -> None:
        super().__init__(message)
        self.result = result


def list_set(client, set_name: str, workers: int = 8, namespaces: list | None = None) -> dict:
    """Every live object that carries this set's labels, by (kind, namespace, name).

    Lists across all namespaces (so services moved out of a namespace are found too); with credentials that may
    only read some namespaces (403), lists in the given namespaces instead.
    """
    return apply.list_labelled(client, render.PRUNABLE_KINDS, render.set_selector(set_name), workers, namespaces)


def _report(result: dict, entries: list) -> None:
    """Add what happened to each object (and its diff) to the result."""
    for entry in entries:
        result['objects'].append(apply.summary(entry['key'], entry['action']))
        if 'diff' in entry:
            result['diff'].append(entry['diff'])


def converge(client, services: list, set_name: str, namespace: str = 'default', secrets: dict | None = None,
             state: str = 'present', prune: bool = True, create_namespaces: bool = True, force_conflicts: bool = False,
             check_mode: bool = False, want_diff: bool = False, wait: bool = True, wait_timeout: float = 300,
             field_manager: str = 'kubeseed', workers: int = 8, on_failure: str = 'keep') -> dict:
    """Apply every object of the services, prune what is no longer listed, wait for rollouts.

    Returns {changed, objects: [{kind, namespace, name, action}], diff: [...], rollouts: [...], rollbacks: [...],
    summary: [a row per service], summary_table: [text lines]} (see _microservices_summary). Raises ConvergeError (with
    the result so far, without the summary) when an apply, delete or rollout fails; with on_failure 'rollback', the
    Deployments that did not roll out are first returned to their previous revision and waited for (rollbacks says how).
    """
    desired = render.render_all(services, set_name, namespace, secrets, create_namespaces) if state == 'present' else []
    namespaces = [o for o in desired if o['kind'] == 'Namespace']
    objects = [o for o in desired if o['kind'] != 'Namespace']
    result = {'changed': False, 'objects': [], 'diff': [], 'rollouts': [], 'rollbacks': []}

    def fail(message: str) -> ConvergeError:
        result['changed'] = any(o['action'] != 'unchanged' for o in result['objects'])
        return ConvergeError(message, result)

    try:
        live = list_set(client, set_name, workers, sorted(set(o['metadata']['namespace'] for o in objects) | {namespace}))
        ns_results, missing_namespaces = apply.ensure_namespaces(client, namespaces, check_mode, field_manager)
    except K8sError as exc:
        raise fail(str(exc)) from exc
    result['objects'].extend(ns_results)

    applied, errors = apply.apply_objects(client, objects, live, render.KIND_ORDER, field_manager=field_manager, force=force_conflicts,
                                          dry_run=check_mode, want_diff=want_diff, workers=workers, missing_namespaces=missing_namespaces)
    _report(result, applied)
    if errors:
        raise fail('%d object(s) could not be applied:\n- %s' % (len(errors), '\n- '.join(errors)))

    doomed = []
    if prune or state == 'absent':
        desired_keys = set(render.object_key(o) for o in desired)
        doomed = render.select_prune(list(live.values()), desired_keys, set_name, field_manager)
        deleted, errors = apply.delete_objects(client, doomed, 'deleted' if state == 'absent' else 'pruned', dry_run=check_mode,
                                               want_diff=want_diff, workers=workers)
        _report(result, deleted)
        if errors:
            raise fail('%d object(s) could not be deleted:\n- %s' % (len(errors), '\n- '.join(errors)))

    result['changed'] = any(o['action'] != 'unchanged' for o in result['objects'])
    if wait and not check_mode and state == 'present':
        deployments = [e['after'] for e in applied if e['key'][0] == 'Deployment']
        rollouts, failures = wait_rollouts(client, deployments, wait_timeout, workers)
        result['rollouts'] = rollouts
        if failures:
            message = '%d of %d Deployment(s) did not roll out within %ss:\n%s' % (len(failures), len(deployments), wait_timeout,
                                                                                   '\n'.join(failures))
            if on_failure == 'rollback':
                failed = [e['after'] for e in applied if e['key'][0] == 'Deployment'
                          and not any(r['ready'] for r in rollouts if (r['namespace'], r['name']) == e['key'][1:])]
                message += '\n' + _roll_back(client, failed, desired, result, wait_timeout, field_manager, workers)
            raise fail(message)
    after = {entry['key']: entry['after'] for entry in applied}
    node = summary.NODE_PLACEHOLDER
    if any(o['kind'] == 'Service' and (o.get('spec') or {}).get('type') in ('NodePort', 'LoadBalancer') for o in after.values()):
        try:
            node = summary.node_address(client.list('Node'))
        except K8sError:
            pass  # credentials that may not list nodes: the URLs say <node>
    result['summary'] = summary.rows(after, result['objects'], result['rollouts'], node,
                                     {render.object_key(o): o for o in doomed})
    result['summary_table'] = summary.table(set_name, result['summary'], check_mode)
    return result


def _roll_back(client, failed: list, desired: list, result: dict, wait_timeout: float, field_manager: str, workers: int) -> str:
    """Return each failed Deployment to its previous revision, wait for those, and say what happened (result['rollbacks'])."""
    wanted = {render.object_key(o): o for o in desired}
    to_wait = []
    for live in failed:
        key = render.object_key(live)
        try:
            target, line = rollback.plan(client, wanted[key], client.get(*key) or live)
        except K8sError as exc:
            target, line = None, '%s: not rolled back: %s' % (render.describe(key), exc)
        if target is not None:
            entry = apply.apply_object(client, target, {}, field_manager, force=True)
            if 'error' in entry:
                target, line = None, '%s: not rolled back: %s' % (render.describe(key), entry['error'])
            else:
                to_wait.append(entry['after'])
        result['rollbacks'].append({'kind': 'Deployment', 'namespace': key[1], 'name': key[2], 'rolled_back': target is not None,
                                    'message': line})
    failures = []
    if to_wait:
        rollouts, failures = wait_rollouts(client, to_wait, wait_timeout, workers)
        ready = {(r['namespace'], r['name']): r['ready'] for r in rollouts}
        for entry in result['rollbacks']:
            if entry['rolled_back']:
                entry['available'] = ready.get((entry['namespace'], entry['name']), False)
                entry['message'] += ', available again' if entry['available'] else ', and that did not become available either'
    lines = ['Rolled back (on_failure: rollback):'] + ['- ' + e['message'] for e in result['rollbacks']] + failures
    return '\n'.join(lines)
