# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is the cluster ready for the nodes of a run: pure functions over `kubectl get -o json` output."""
from __future__ import annotations

# Conditions whose normal status is False: shown when True. Ready is shown when not True.
PRESSURE = ('MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable')


def node_summary(node: dict) -> dict:
    meta, status = node.get('metadata') or {}, node.get('status') or {}
    conditions = {c.get('type'): c for c in status.get('conditions') or []}
    info = status.get('nodeInfo') or {}
    labels = meta.get('labels') or {}
    return {
        'name': meta.get('name'),
        'ready': (conditions.get('Ready') or {}).get('status') == 'True',
        'role': 'control-plane' if 'node-role.kubernetes.io/control-plane' in labels else 'worker',
        'kubelet_version': info.get('kubeletVersion', ''),
        'container_runtime': info.get('containerRuntimeVersion', ''),
        'conditions': conditions,
    }


def not_ready(nodes_json: dict, expected: list) -> list:
    """'name: why' for every expected node that is not Ready (missing ones included)."""
    by_name = {s['name']: s for s in (node_summary(n) for n in nodes_json.get('items') or [])}
    problems = []
    for name in expected:
        summary = by_name.get(name)
        if summary is None:
            problems.append('%s: not registered with the API server (its kubelet has not joined or is not running)' % name)
            continue
        if summary['ready']:
            continue
        details = []
        ready = summary['conditions'].get('Ready')
        if ready is None:
            details.append('no Ready condition yet')
        else:
            details.append('Ready=%s %s: %s' % (ready.get('status'), ready.get('reason', ''), (ready.get('message') or '').strip()))
        for kind in PRESSURE:
            cond = summary['conditions'].get(kind)
            if cond and cond.get('status') == 'True':
                details.append('%s=True %s: %s' % (kind, cond.get('reason', ''), (cond.get('message') or '').strip()))
        problems.append('%s: %s' % (name, '; '.join(details)))
    return problems


def deployment_problem(deployment: dict | None, ref: str) -> str | None:
    """None when the Deployment is rolled out (its controller saw the latest spec, every replica runs it and is available),
    else why not."""
    if deployment is None:
        return '%s: no such Deployment' % ref
    spec, status = deployment.get('spec') or {}, deployment.get('status') or {}
    wanted = spec.get('replicas', 1)
    if status.get('observedGeneration', 0) < (deployment.get('metadata') or {}).get('generation', 0):
        return '%s: its controller has not seen the latest change yet' % ref
    updated, available = status.get('updatedReplicas', 0), status.get('availableReplicas', 0)
    if updated < wanted:
        return '%s: %s of %s replicas updated' % (ref, updated, wanted)
    if available < wanted or status.get('replicas', 0) > wanted:
        old = ' (old ones still terminating)' if status.get('replicas', 0) > wanted else ''
        return '%s: %s of %s replicas available%s' % (ref, available, wanted, old)
    return None


def daemonset_problem(daemonset: dict | None, ref: str) -> str | None:
    """None when the DaemonSet is rolled out (the latest spec seen, on every node it should run on, and available), else why not."""
    if daemonset is None:
        return '%s: no such DaemonSet' % ref
    status = daemonset.get('status') or {}
    if status.get('observedGeneration', 0) < (daemonset.get('metadata') or {}).get('generation', 0):
        return '%s: its controller has not seen the latest change yet' % ref
    wanted = status.get('desiredNumberScheduled', 0)
    updated, available = status.get('updatedNumberScheduled', 0), status.get('numberAvailable', 0)
    if updated < wanted or available < wanted:
        return '%s: %s of %s pods updated, %s available' % (ref, updated, wanted, available)
    return None
