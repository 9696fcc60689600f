# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for Deployments to roll out, and say why one did not: its replica counts, each pod's reasons
(Unschedulable, ImagePullBackOff, crash loops with their exit codes) and its latest events.

All Deployments are polled together (GETs in a small thread pool) until one shared deadline.
"""
from __future__ import annotations

import time

from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_apply import describe, object_key, parallel
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError

WAIT_POLL_SECONDS = 1.0
EVENTS_SHOWN = 8


def rollout_done(deployment: dict) -> bool:
    """kubectl rollout status: the controller saw the latest spec, every replica is updated and available, no old ones left."""
    meta, spec, status = deployment.get('metadata') or {}, deployment.get('spec') or {}, deployment.get('status') or {}
    if status.get('observedGeneration', 0) < meta.get('generation', 0):
        return False
    wanted = spec.get('replicas', 1)
    updated = status.get('updatedReplicas', 0)
    return updated >= wanted and status.get('replicas', 0) <= updated and status.get('availableReplicas', 0) >= updated


def _poll(client, objects: list, finished, timeout: float, workers: int) -> tuple:
    """GET the objects that are not finished(obj) yet, all together, every WAIT_POLL_SECONDS until one deadline.

    (finished objects, the others as last seen), both by key; one already finished costs no request, one gone is dropped.
    """
    pending = {object_key(o): o for o in objects}
    done = {key: pending.pop(key) for key, o in list(pending.items()) if finished(o)}
    deadline = time.monotonic() + timeout
    while pending:
        for key, live in zip(list(pending), parallel(workers, lambda k: client.get(k[0], k[1], k[2]), list(pending))):
            if live is None:
                pending.pop(key)
                continue
            pending[key] = live
            if finished(live):
                done[key] = pending.pop(key)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(min(WAIT_POLL_SECONDS, max(deadline - time.monotonic(), 0)))
    return done, pending


def wait_rollouts(client, deployments: list, timeout: float, workers: int = 8) -> tuple:
    """Wait for all Deployments at once. (rollout summaries, failure descriptions of those not done by the deadline).

    deployments are the objects as the server returned them (an apply, a list): one whose status already says it has
    rolled out is done without a request; the others are polled. A summary is {kind, namespace, name, ready, replicas
    (desired), available}.
    """
    done, pending = _poll(client, deployments, rollout_done, timeout, workers)
    summaries = []
    for key in sorted(set(done) | set(pending)):
        live = done.get(key) or pending[key]
        summaries.append({'kind': 'Deployment', 'namespace': key[1], 'name': key[2], 'ready': key in done,
                          'replicas': (live.get('spec') or {}).get('replicas', 1), 'available': (live.get('status') or {}).get('availableReplicas', 0)})
    failures = []
    for key, live in sorted(pending.items()):
        try:
            failures.append(diagnose(client, live))
        except K8sError as exc:
            failures.append('%s: not rolled out (and its pods could not be inspected: %s)' % (describe(key), exc))
    return summaries, failures


def _pod_reasons(pod: dict) -> list:
    """Why a pod is not ready: its False conditions and its containers' states, else its phase."""
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
    return '\n'.join(lines + _events(client, namespace, names))


def _events(client, namespace: str, names: set) -> list:
    """The latest events of the named objects of a namespace, as indented lines (repeats once, at their latest place)."""
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
    return shown[-EVENTS_SHOWN:]


# ---------------------------------------------------------------- Jobs ----

LOG_LINES = 20
PODS_SHOWN = 3


def api_service_available(api_service: dict) -> bool:
    """An aggregated API's APIService says Available (the API server reaches the service behind it)."""
    return any(c.get('type') == 'Available' and c.get('status') == 'True'
               for c in (api_service.get('status') or {}).get('conditions') or [])


def wait_api_services(client, api_services: list, timeout: float, workers: int = 8) -> list:
    """Wait until every APIService is Available; the descriptions of those that are not by the deadline (with the reason
    and message of their Available condition: e.g. FailedDiscoveryCheck, the service has no ready endpoints)."""
    _done, pending = _poll(client, api_services, api_service_available, timeout, workers)
    failures = []
    for key, live in sorted(pending.items()):
        condition = next((c for c in (live.get('status') or {}).get('conditions') or [] if c.get('type') == 'Available'), {})
        reason = condition.get('reason') or 'no condition yet'
        message = condition.get('message') or 'the API server has not checked it yet'
        failures.append('%s: not Available (%s: %s)' % (describe(key), reason, message))
    return failures


def job_state(job: dict) -> str:
    """'complete', 'failed' or 'running', from the Job's final conditions."""
    for cond in (job.get('status') or {}).get('conditions') or []:
        if cond.get('status') == 'True' and cond.get('type') in ('Complete', 'Failed'):
            return cond['type'].lower()
    return 'running'


def wait_jobs(client, jobs: list, timeout: float, workers: int = 8) -> tuple:
    """Wait until every Job has completed or failed. (summaries, failure descriptions with pod reasons and logs).

    A summary is {kind: Job, namespace, name, state: complete/failed/running (not finished by the deadline)}.
    """
    done, pending = _poll(client, jobs, lambda job: job_state(job) != 'running', timeout, workers)
    every = {**done, **pending}
    summaries = [{'kind': 'Job', 'namespace': key[1], 'name': key[2], 'state': job_state(every[key])} for key in sorted(every)]
    failures = []
    for key in sorted(every):
        if job_state(every[key]) == 'complete':
            continue
        try:
            failures.append(diagnose_job(client, every[key], timeout))
        except K8sError as exc:
            failures.append('%s: %s (and its pods could not be inspected: %s)' % (describe(key), job_state(every[key]), exc))
    return summaries, failures


def diagnose_job(client, job: dict, timeout: float) -> str:
    """Why a Job did not complete: its condition, each of its latest pods' reasons and last log lines, its events."""
    meta, status = job['metadata'], job.get('status') or {}
    namespace, name = meta['namespace'], meta['name']
    state = job_state(job)
    if state == 'failed':
        cond = next(c for c in status.get('conditions') or [] if c.get('type') == 'Failed' and c.get('status') == 'True')
        head = 'failed: %s %s' % (cond.get('reason', ''), cond.get('message', ''))
    else:
        head = 'not complete within %ss (%s pod(s) active, %s failed)' % (timeout, status.get('active', 0), status.get('failed', 0))
    lines = ['Job %s/%s: %s' % (namespace, name, head.strip())]
    uid = meta.get('uid')
    pods = [p for p in client.list('Pod', namespace, label_selector='batch.kubernetes.io/job-name=' + name)
            if not uid or any(ref.get('uid') == uid for ref in (p.get('metadata') or {}).get('ownerReferences') or [])]
    pods.sort(key=lambda p: (p.get('metadata') or {}).get('creationTimestamp') or '')
    names = {name}
    for pod in pods[-PODS_SHOWN:]:
        pod_name = pod['metadata']['name']
        names.add(pod_name)
        for reason in _pod_reasons(pod):
            lines.append('  pod %s: %s' % (pod_name, reason))
        containers = ((pod.get('spec') or {}).get('containers') or [{}])
        ran = any('terminated' in (c.get('state') or {}) or 'running' in (c.get('state') or {})
                  for c in (pod.get('status') or {}).get('containerStatuses') or [])
        if ran and containers[0].get('name'):
            try:
                text = client.log(namespace, pod_name, containers[0]['name'], LOG_LINES)
            except K8sError as exc:
                lines.append('  pod %s: its log could not be read: %s' % (pod_name, exc))
                continue
            logged = text.rstrip('\n').split('\n') if text.strip() else []
            lines.append('  pod %s: last %d log line(s)%s' % (pod_name, len(logged), ':' if logged else ''))
            lines.extend('    | ' + line for line in logged)
    if not pods:
        lines.append('  no pods')
    return '\n'.join(lines + _events(client, namespace, names))
