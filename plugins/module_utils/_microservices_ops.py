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

import time

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_apply as apply
from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_rollback as rollback
from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_extra as extra
from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_render as render
from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_summary as summary
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_wait import job_state, wait_api_services, wait_jobs, wait_rollouts

GONE_POLL_SECONDS = 0.5
GONE_TIMEOUT = 60


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
             field_manager: str = 'kubeseed', workers: int = 8, on_failure: str = 'keep', extra_objects: list | None = None,
             registry_credentials: dict | None = None) -> dict:
    """Apply every object of the services, prune what is no longer listed, wait for rollouts.

    Returns {changed, objects: [{kind, namespace, name, action}], diff: [...], rollouts: [...], rollbacks: [...],
    summary: [a row per service], summary_table: [text lines]} (see _microservices_summary). Raises ConvergeError (with
    the result so far, without the summary) when an apply, delete or rollout fails; with on_failure 'rollback', the
    Deployments that did not roll out are first returned to their previous revision and waited for (rollbacks says how).
    """
    desired = render.render_all(services, set_name, namespace, secrets, create_namespaces, registry_credentials) if state == 'present' else []
    extras = render.render_extra(extra_objects, set_name) if state == 'present' else []
    result = {'changed': False, 'objects': [], 'diff': [], 'rollouts': [], 'rollbacks': [], 'jobs': []}

    def fail(message: str) -> ConvergeError:
        result['changed'] = any(o['action'] != 'unchanged' for o in result['objects'])
        return ConvergeError(message, result)

    try:
        problems = extra.place(client, extras, namespace, set(render.object_key(o) for o in desired))
        if problems:
            raise fail('%d problem(s) in %s; nothing was applied:\n- %s' % (len(problems), render.EXTRA_ROOT, '\n- '.join(problems)))
        if create_namespaces:
            desired = _with_namespaces(desired, extras)
        desired_namespaces = sorted(set(o['metadata'].get('namespace') for o in desired + extras if o['metadata'].get('namespace')) | {namespace})
        live = list_set(client, set_name, workers, desired_namespaces)
        served = extra.kinds_to_list(client, extras, live, set_name)
        extra_kinds = sorted(set(kind for _version, kind in served))
        if extra_kinds:
            live.update(apply.list_labelled(client, extra_kinds, render.set_selector(set_name), workers, desired_namespaces))
        # the record names every kind that may have objects of the set until a prune has removed them (see below)
        wanted_kinds = set((o['apiVersion'], o['kind']) for o in extras if o['kind'] not in render.PRUNABLE_KINDS)
        recorded_kinds = wanted_kinds | set(served) if state == 'present' else set()
        if recorded_kinds:
            desired.append(extra.record(recorded_kinds, set_name, namespace))
        if not check_mode:
            problems = extra.dry_run(client, extras, live, field_manager, force_conflicts, workers)
            if problems:
                raise fail('%d object(s) of %s were refused by the API server; nothing was applied:\n- %s'
                           % (len(problems), render.EXTRA_ROOT, '\n- '.join(problems)))
        desired += extras
        namespaces = [o for o in desired if o['kind'] == 'Namespace']
        objects = [o for o in desired if o['kind'] != 'Namespace']
        ns_results, missing_namespaces = apply.ensure_namespaces(client, namespaces, check_mode, field_manager)
    except K8sError as exc:
        raise fail(str(exc)) from exc
    result['objects'].extend(ns_results)

    rerun_keys = set()

    def apply_all(batch: list) -> list:
        entries, errors = apply.apply_objects(client, batch, live, render.KIND_ORDER, field_manager=field_manager, force=force_conflicts,
                                              dry_run=check_mode, want_diff=want_diff, workers=workers,
                                              missing_namespaces=missing_namespaces)
        for entry in entries:
            if entry['key'] in rerun_keys and entry['action'] == 'created':
                entry['action'] = 'rerun'
        _report(result, entries)
        if errors:
            raise fail('%d object(s) could not be applied:\n- %s' % (len(errors), '\n- '.join(errors)))
        return entries

    gates = _gates(services if state == 'present' else [], namespace)
    held_names = set(name for names in gates.values() for name in names)
    held = [o for o in objects if _entry_of(o) in held_names and o['kind'] not in ('Job', 'CronJob')]
    first = [o for o in objects if not (_entry_of(o) in held_names and o['kind'] not in ('Job', 'CronJob'))]
    try:
        reruns, rerun_keys = _rerun_failed_jobs(client, first, live, check_mode, want_diff)
    except K8sError as exc:
        raise fail(str(exc)) from exc
    _report(result, reruns)
    predicted = set(entry['key'] for entry in reruns)
    applied = reruns + apply_all([o for o in first if render.object_key(o) not in predicted])
    if held:
        gating = [e['after'] for e in applied if e['key'][0] == 'Job' and (e['key'][1], _entry_of(e['after'])) in gates]
        if gating and not check_mode:
            summaries, failures = wait_jobs(client, gating, wait_timeout, workers)
            result['jobs'].extend(summaries)
            if failures:
                waiting = sorted(set(render.describe(render.object_key(o)) for o in held if o['kind'] == 'Deployment'))
                raise fail('%d of %d Job(s) that run before services did not complete, so these were not applied (they run as '
                           'before): %s\n%s' % (len(failures), len(gating), ', '.join(waiting) or 'their objects', '\n'.join(failures)))
        applied += apply_all(held)

    doomed = []
    if prune or state == 'absent':
        desired_keys = set(render.object_key(o) for o in desired)
        doomed = render.select_prune(list(live.values()), desired_keys, set_name, field_manager, extra_kinds)
        result['kept'] = ['%s: kept with its data (delete it with kubectl when the data may go)' % render.describe(key)
                          for key in render.select_kept(list(live.values()), desired_keys, set_name, field_manager)]
        action = 'deleted' if state == 'absent' else 'pruned'
        records = [o for o in doomed if extra.is_record(o, set_name)]
        deleted, errors = apply.delete_objects(client, [o for o in doomed if not extra.is_record(o, set_name)], action,
                                               dry_run=check_mode, want_diff=want_diff, workers=workers)
        _report(result, deleted)
        if errors:
            raise fail('%d object(s) could not be deleted:\n- %s' % (len(errors), '\n- '.join(errors)))
        # pruned: the record now names only the kinds of the extra objects (or goes, with the last of them)
        if recorded_kinds and recorded_kinds != wanted_kinds:
            now = next(e for e in applied if e['key'][0] == 'ConfigMap' and extra.is_record(e['after'], set_name))
            reported = next(o for o in result['objects'] if (o['kind'], o['namespace'], o['name']) == now['key'])
            if wanted_kinds:
                entries, errors = apply.apply_objects(client, [extra.record(wanted_kinds, set_name, namespace)], live,
                                                      field_manager=field_manager, force=force_conflicts, dry_run=check_mode,
                                                      want_diff=want_diff, workers=1)
                if errors:
                    raise fail('%d object(s) could not be applied:\n- %s' % (len(errors), '\n- '.join(errors)))
                now['after'] = entries[0]['after']
                if reported['action'] == 'unchanged':
                    reported['action'] = now['action'] = 'configured'
                    result['diff'].extend(e['diff'] for e in entries if 'diff' in e)
            else:
                result['objects'].remove(reported)
                records.append(now['after'])
        gone, errors = apply.delete_objects(client, records, action, dry_run=check_mode, want_diff=want_diff, workers=workers)
        _report(result, gone)
        if errors:
            raise fail('%d object(s) could not be deleted:\n- %s' % (len(errors), '\n- '.join(errors)))

    result['changed'] = any(o['action'] != 'unchanged' for o in result['objects'])
    if wait and not check_mode and state == 'present':
        deployments = [e['after'] for e in applied if e['key'][0] == 'Deployment']
        rollouts, failures = wait_rollouts(client, deployments, wait_timeout, workers)
        result['rollouts'] = rollouts
        waited = set((j['namespace'], j['name']) for j in result['jobs'])
        jobs = [e['after'] for e in applied if e['key'][0] == 'Job' and e['key'][1:] not in waited]
        if jobs:
            summaries, job_failures = wait_jobs(client, jobs, wait_timeout, workers)
            result['jobs'].extend(summaries)
            if job_failures and not failures:
                raise fail('%d of %d Job(s) did not complete:\n%s' % (len(job_failures), len(jobs), '\n'.join(job_failures)))
            failures += job_failures
        if failures:
            message = '%d of %d Deployment(s) did not roll out within %ss:\n%s' % (len(failures), len(deployments), wait_timeout,
                                                                                   '\n'.join(failures))
            if on_failure == 'rollback':
                failed = [e['after'] for e in applied if e['key'][0] == 'Deployment'
                          and not any(r['ready'] for r in rollouts if (r['namespace'], r['name']) == e['key'][1:])]
                message += '\n' + _roll_back(client, failed, desired, result, wait_timeout, field_manager, workers)
            raise fail(message)
        # an aggregated API (an extra object, e.g. metrics-server's) is waited for until the API server serves it
        api_services = [e['after'] for e in applied if e['key'][0] == 'APIService']
        unavailable = wait_api_services(client, api_services, wait_timeout, workers) if api_services else []
        if unavailable:
            raise fail('%d of %d APIService(s) not Available within %ss:\n%s'
                       % (len(unavailable), len(api_services), wait_timeout, '\n'.join(unavailable)))
    after = {entry['key']: entry['after'] for entry in applied}
    node = summary.NODE_PLACEHOLDER
    if any(o['kind'] == 'Service' and (o.get('spec') or {}).get('type') in ('NodePort', 'LoadBalancer') for o in after.values()):
        try:
            node = summary.node_address(client.list('Node'))
        except K8sError:
            pass  # credentials that may not list nodes: the URLs say <node>
    result['summary'] = summary.rows(after, result['objects'], result['rollouts'], node,
                                     {render.object_key(o): o for o in doomed}, result['jobs'])
    row = extra.summary_row(extras, doomed, result['objects'], extra_kinds)
    if row:
        result['summary'].append(row)
    result['summary_table'] = summary.table(set_name, result['summary'], check_mode)
    return result


def _with_namespaces(desired: list, extras: list) -> list:
    """desired with a Namespace object for each namespace of the extra objects that it does not create yet."""
    have = set(o['metadata']['name'] for o in desired if o['kind'] == 'Namespace')
    wanted = sorted(set(o['metadata']['namespace'] for o in extras if o['metadata'].get('namespace')) - have)
    added = [{'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': ns, 'labels': {render.MANAGED_BY: render.MANAGER_VALUE}}}
             for ns in wanted]
    return added + desired


def _entry_of(obj: dict) -> str | None:
    """The name of the kubeseed_microservices entry an object belongs to (its app.kubernetes.io/name label)."""
    return ((obj.get('metadata') or {}).get('labels') or {}).get(render.NAME_LABEL)


def _gates(services: list, namespace: str) -> dict:
    """{(namespace, job entry name): [names of the services that wait for it]} from each job entry's runBefore."""
    gates = {}
    for svc in services:
        job = svc.get('job')
        if isinstance(job, dict) and job.get('runBefore'):
            gates[(svc.get('namespace') or namespace, svc['name'])] = list(job['runBefore'])
    return gates


def _rerun_failed_jobs(client, objects: list, live: dict, check_mode: bool, want_diff: bool) -> tuple:
    """A wanted Job that exists and has failed is deleted (waited gone) to run again; in check mode it is only reported.

    Returns (the entries of the Jobs that would run again in check mode ({key, action: rerun, after}), the keys of the
    Jobs deleted in a real run: gone from live afterwards, the apply creates them again).
    """
    entries, deleted = [], set()
    for obj in objects:
        key = render.object_key(obj)
        if key[0] != 'Job' or key not in live or job_state(live[key]) != 'failed':
            continue
        if check_mode:
            entry = {'key': key, 'action': 'rerun', 'after': live.pop(key)}
            if want_diff:
                entry['diff'] = render.diff_entry(key, entry['after'], None)
            entries.append(entry)
            continue
        client.delete(*key)
        deadline = time.monotonic() + GONE_TIMEOUT
        while client.get(*key) is not None:
            if time.monotonic() >= deadline:
                raise K8sError('%s failed before and was deleted to run again, but it was still there after %ds'
                               % (render.describe(key), GONE_TIMEOUT))
            time.sleep(GONE_POLL_SECONDS)
        live.pop(key)
        deleted.add(key)
    return entries, deleted


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
