# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge a cluster to a list of microservices: apply, prune, wait (the backend of the microservices module).

One client, one process: every object is server-side applied (field manager ``kubeseed``) by a small
thread pool, kind after kind (ConfigMaps and Secrets before the Deployments that use them).
``changed`` compares each object as the server returns it after the apply (or after a dry-run
apply in check mode) with the live object listed before, both without server-kept fields.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_render as render
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError

WAIT_POLL_SECONDS = 1.0
EVENTS_SHOWN = 8


class ConvergeError(Exception):
    """A failure after which the result so far (objects, changed) is still reported."""

    def __init__(self, message: str, result: dict) -> None:
        super().__init__(message)
        self.result = result


def _parallel(workers: int, func, items: list) -> list:
    """func(item) for every item, in a thread pool; results in item order (exceptions re-raised in order)."""
    if not items:
        return []
    if workers <= 1 or len(items) == 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(func, items))


def list_set(client, set_name: str, workers: int = 8, namespaces: list | None = None) -> dict:
    """Every live object that carries this set's labels, by (kind, namespace, name).

    Lists across all namespaces (so services moved out of a namespace are found too); with credentials that may
    only read some namespaces (403), lists in the given namespaces instead.
    """
    selector = render.set_selector(set_name)
    try:
        lists = _parallel(workers, lambda kind: client.list(kind, label_selector=selector), list(render.PRUNABLE_KINDS))
    except K8sError as exc:
        if exc.status != 403 or not namespaces:
            raise
        pairs = [(kind, ns) for kind in render.PRUNABLE_KINDS for ns in namespaces]
        lists = _parallel(workers, lambda pair: client.list(pair[0], pair[1], label_selector=selector), pairs)
    return {render.object_key(obj): obj for items in lists for obj in items}


def _ensure_namespaces(client, namespaces: list, check_mode: bool, field_manager: str) -> tuple:
    """Create missing namespaces (never touch existing ones). (results, names that are missing in check mode)."""
    results, missing = [], set()
    for obj in namespaces:
        name = obj['metadata']['name']
        if client.get('Namespace', None, name) is not None:
            continue
        if check_mode:
            missing.add(name)
        else:
            client.apply(obj, field_manager)
        results.append({'kind': 'Namespace', 'namespace': '', 'name': name, 'action': 'created'})
    return results, missing


def converge(client, services: list, set_name: str, namespace: str = 'default', secrets: dict | None = None,
             state: str = 'present', prune: bool = True, create_namespaces: bool = True, force_conflicts: bool = False,
             check_mode: bool = False, want_diff: bool = False, wait: bool = True, wait_timeout: float = 300,
             field_manager: str = 'kubeseed', workers: int = 8) -> dict:
    """Apply every object of the services, prune what is no longer listed, wait for rollouts.

    Returns {changed, objects: [{kind, namespace, name, action}], diff: [...], rollouts: [...]}.
    Raises ConvergeError (with that result) when an apply, delete or rollout fails.
    """
    desired = render.render_all(services, set_name, namespace, secrets, create_namespaces) if state == 'present' else []
    namespaces = [o for o in desired if o['kind'] == 'Namespace']
    objects = [o for o in desired if o['kind'] != 'Namespace']
    result = {'changed': False, 'objects': [], 'diff': [], 'rollouts': []}

    def fail(message: str) -> ConvergeError:
        result['changed'] = any(o['action'] != 'unchanged' for o in result['objects'])
        return ConvergeError(message, result)

    try:
        live = list_set(client, set_name, workers, sorted(set(o['metadata']['namespace'] for o in objects) | {namespace}))
        ns_results, missing_namespaces = _ensure_namespaces(client, namespaces, check_mode, field_manager)
    except K8sError as exc:
        raise fail(str(exc)) from exc
    result['objects'].extend(ns_results)

    def apply_one(obj: dict) -> dict:
        key = render.object_key(obj)
        before = live.get(key)
        if before is None and want_diff:
            # Not labelled as ours (yet): it may still exist, created by someone else; show what it was.
            before = client.get(key[0], key[1], key[2])
        if check_mode and key[1] in missing_namespaces:
            # Its namespace does not exist yet, so the server cannot dry-run it: it would be created.
            after, status = obj, 201
        else:
            try:
                status, after = client.apply(obj, field_manager, force_conflicts, dry_run=check_mode)
            except K8sError as exc:
                hint = ''
                if exc.status == 409:
                    hint = ' (another field manager owns these fields: change them back there, or set force_conflicts to take them over)'
                return {'key': key, 'error': '%s: %s%s' % (render.describe(key), exc, hint)}
        changed = status == 201 or key not in live or render.normalize(before) != render.normalize(after)
        action = 'created' if status == 201 else ('configured' if changed else 'unchanged')
        entry = {'key': key, 'action': action, 'after': after}
        if want_diff and changed:
            entry['diff'] = render.diff_entry(key, before, after)
        return entry

    errors = []
    applied = []
    for kind in render.KIND_ORDER:
        batch = [o for o in objects if o['kind'] == kind]
        for entry in _parallel(workers, apply_one, batch):
            if 'error' in entry:
                errors.append(entry['error'])
                continue
            applied.append(entry)
            kind_, ns, name = entry['key']
            result['objects'].append({'kind': kind_, 'namespace': ns, 'name': name, 'action': entry['action']})
            if 'diff' in entry:
                result['diff'].append(entry['diff'])
    if errors:
        raise fail('%d object(s) could not be applied:\n- %s' % (len(errors), '\n- '.join(errors)))

    if prune or state == 'absent':
        desired_keys = set(render.object_key(o) for o in desired)
        doomed = render.select_prune(list(live.values()), desired_keys, set_name, field_manager)

        def delete_one(obj: dict) -> dict:
            key = render.object_key(obj)
            try:
                gone = client.delete(key[0], key[1], key[2], dry_run=check_mode)
            except K8sError as exc:
                return {'key': key, 'error': '%s: %s' % (render.describe(key), exc)}
            return {'key': key, 'action': 'deleted' if state == 'absent' else 'pruned', 'gone': gone, 'before': obj}

        for entry in _parallel(workers, delete_one, doomed):
            if 'error' in entry:
                errors.append(entry['error'])
                continue
            if not entry['gone']:
                continue
            kind_, ns, name = entry['key']
            result['objects'].append({'kind': kind_, 'namespace': ns, 'name': name, 'action': entry['action']})
            if want_diff:
                result['diff'].append(render.diff_entry(entry['key'], entry['before'], None))
        if errors:
            raise fail('%d object(s) could not be deleted:\n- %s' % (len(errors), '\n- '.join(errors)))

    result['changed'] = any(o['action'] != 'unchanged' for o in result['objects'])
    if wait and not check_mode and state == 'present':
        deployments = [e['after'] for e in applied if e['key'][0] == 'Deployment']
        rollouts, failures = wait_rollouts(client, deployments, wait_timeout, workers)
        result['rollouts'] = rollouts
        if failures:
            raise fail('%d of %d Deployment(s) did not roll out within %ss:\n%s'
                       % (len(failures), len(deployments), wait_timeout, '\n'.join(failures)))
    return result


# ---------------------------------------------------------------- rollouts ----

def rollout_done(deployment: dict) -> bool:
    """kubectl rollout status: the controller saw the latest spec, every replica is updated and available, no old ones left."""
    meta, spec, status = deployment.get('metadata') or {}, deployment.get('spec') or {}, deployment.get('status') or {}
    if status.get('observedGeneration', 0) < meta.get('generation', 0):
        return False
    wanted = spec.get('replicas', 1)
    updated = status.get('updatedReplicas', 0)
    return updated >= wanted and status.get('replicas', 0) <= updated and status.get('availableReplicas', 0) >= updated


def wait_rollouts(client, deployments: list, timeout: float, workers: int = 8) -> tuple:
    """Wait for all Deployments at once. (rollout summaries, failure descriptions of those not done by the deadline)."""
    pending = {render.object_key(d): d for d in deployments}
    done = {}
    deadline = time.monotonic() + timeout
    while pending:
        for key, live in zip(list(pending), _parallel(workers, lambda k: client.get(k[0], k[1], k[2]), list(pending))):
            if live is None:
                pending.pop(key)
                continue
            pending[key] = live
            if rollout_done(live):
                done[key] = pending.pop(key)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(min(WAIT_POLL_SECONDS, max(deadline - time.monotonic(), 0)))
    summaries = [{'kind': 'Deployment', 'namespace': k[1], 'name': k[2], 'ready': k in done} for k in sorted(set(done) | set(pending))]
    failures = []
    for key, live in sorted(pending.items()):
        try:
            failures.append(diagnose(client, live))
        except K8sError as exc:
            failures.append('%s: not rolled out (and its pods could not be inspected: %s)' % (render.describe(key), exc))
    return summaries, failures


def _pod_reasons(pod: dict) -> list:
    status = pod.get('status') or {}
    reasons = []
    for cond in status.get('conditions') or []:
        if cond.get('status') == 'False' and cond.get('reason'):
            reasons.append('%s=False %s: %s' % (cond.get('type'), cond.get('reason'), cond.get('message', '')))
    for cstat in (status.get('initContainerStatuses') or []) + (status.get('containerStatuses') or []):
        state = cstat.get('state') or {}
        last = (cstat.get('lastState') or {}).get('terminated')
        if 'waiting' in state:
            reasons.append('container %s waiting: %s %s' % (cstat.get('name'), state['waiting'].get('reason', ''), state['waiting'].get('message', '')))
        elif 'terminated' in state:
            term = state['terminated']
            reasons.append('container %s terminated: %s (exit code %s)' % (cstat.get('name'), term.get('reason', ''), term.get('exitCode')))
        if last:
            reasons.append('container %s last exit: %s (exit code %s, %s restarts)'
                           % (cstat.get('name'), last.get('reason', ''), last.get('exitCode'), cstat.get('restartCount', 0)))
    return [r.strip() for r in reasons] or ['phase %s' % status.get('phase', 'unknown')]


def diagnose(client, deployment: dict) -> str:
    """Why a Deployment is not rolled out: its replica counts, each pod's reasons, and the latest events."""
    meta, spec, status = deployment['metadata'], deployment.get('spec') or {}, deployment.get('status') or {}
    namespace, name = meta['namespace'], meta['name']
    selector = ','.join('%s=%s' % kv for kv in sorted(((spec.get('selector') or {}).get('matchLabels') or {}).items()))
    lines = ['Deployment %s/%s: %s of %s replicas updated, %s available' % (
        namespace, name, status.get('updatedReplicas', 0), spec.get('replicas', 1), status.get('availableReplicas', 0))]
    for cond in status.get('conditions') or []:
        if cond.get('status') != 'True' or cond.get('reason') == 'ProgressDeadlineExceeded':
            lines.append('  condition %s=%s %s: %s' % (cond.get('type'), cond.get('status'), cond.get('reason', ''), cond.get('message', '')))
    pods = client.list('Pod', namespace, label_selector=selector) if selector else []
    names = {name}
    for pod in pods[:5]:
        pod_name = pod['metadata']['name']
        names.add(pod_name)
        for reason in _pod_reasons(pod):
            lines.append('  pod %s: %s' % (pod_name, reason))
    if not pods:
        lines.append('  no pods (see the events of its ReplicaSets)')
    replicasets = client.list('ReplicaSet', namespace, label_selector=selector) if selector else []
    names.update(rs['metadata']['name'] for rs in replicasets)
    events = [e for e in client.list('Event', namespace) if (e.get('involvedObject') or {}).get('name') in names]
    events.sort(key=lambda e: e.get('lastTimestamp') or e.get('eventTime') or (e.get('metadata') or {}).get('creationTimestamp') or '')
    shown = []
    for event in events:
        involved = event.get('involvedObject') or {}
        line = '  event %s %s %s/%s: %s' % (event.get('type', ''), event.get('reason', ''), involved.get('kind', ''), involved.get('name', ''),
                                            (event.get('message') or '').strip())
        if line in shown:
            shown.remove(line)
        shown.append(line)
    return '\n'.join(lines + shown[-EVENTS_SHOWN:])
