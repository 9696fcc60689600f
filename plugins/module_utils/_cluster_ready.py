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
    """None when the Deployment has all its replicas available, else why not."""
    if deployment is None:
        return '%s: no such Deployment' % ref
    wanted = (deployment.get('spec') or {}).get('replicas', 1)
    available = (deployment.get('status') or {}).get('availableReplicas', 0)
    if available >= wanted:
        return None
    return '%s: %s of %s replicas available' % (ref, available, wanted)
