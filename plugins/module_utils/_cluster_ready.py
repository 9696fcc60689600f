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


def serving_problems(nodes_json: dict, expected: list, verify) -> list:
    """'name: why' for every expected node that is Ready but whose kubelet does not serve a certificate of the cluster CA for
    its InternalIP yet. verify(address, port) returns '' when the TLS handshake verifies, else the error (injected: the
    module connects, the unit tests do not)."""
    problems = []
    for node in nodes_json.get('items') or []:
        summary = node_summary(node)
        if summary['name'] not in expected or not summary['ready']:
            continue  # not_ready() reports it
        status = node.get('status') or {}
        address = next((a.get('address') for a in status.get('addresses') or [] if a.get('type') == 'InternalIP'), None)
        port = (((status.get('daemonEndpoints') or {}).get('kubeletEndpoint') or {}).get('Port')) or 10250
        if not address:
            problems.append('%s: no InternalIP address to check its kubelet\'s serving certificate at' % summary['name'])
            continue
        error = verify(address, port)
        if error:
            problems.append('%s: its kubelet (%s:%s) serves no certificate of the cluster CA yet (%s); its kubernetes.io/kubelet-serving '
                            'request waits for the approver: kubectl get csr; kubectl -n kube-system logs deploy/kubelet-serving-approver'
                            % (summary['name'], address, port, error))
    return problems


def deployment_problem(deployment: dict | None, ref: str, stranded: int = 0) -> str | None:
    """None when the Deployment is rolled out (its controller saw the latest spec, every replica runs it and is available),
    else why not. stranded: its replicas on nodes that are down and outside the run (see stranded_pods), counted as
    available: no run can make them so, and Kubernetes starts them elsewhere when it evicts them."""
    if deployment is None:
        return '%s: no such Deployment' % ref
    spec, status = deployment.get('spec') or {}, deployment.get('status') or {}
    wanted = spec.get('replicas', 1)
    if status.get('observedGeneration', 0) < (deployment.get('metadata') or {}).get('generation', 0):
        return '%s: its controller has not seen the latest change yet' % ref
    updated, available = status.get('updatedReplicas', 0), status.get('availableReplicas', 0) + stranded
    if updated < wanted:
        return '%s: %s of %s replicas updated' % (ref, updated, wanted)
    if available < wanted or status.get('replicas', 0) > wanted:
        old = ' (old ones still terminating)' if status.get('replicas', 0) > wanted else ''
        return '%s: %s of %s replicas available%s' % (ref, available, wanted, old)
    return None


def stranded_pods(pods_json: dict, nodes_json: dict, run_nodes: list) -> dict:
    """{node: number of pods} of the pods (not being deleted, not ready) that sit on nodes that are not Ready and not
    nodes of the run: a host that is down and left out of the run, whose pods wait for Kubernetes to evict them
    (tolerationSeconds, 300 s by default)."""
    down = set(s['name'] for s in (node_summary(n) for n in nodes_json.get('items') or []) if not s['ready']) - set(run_nodes)
    found = {}
    for pod in pods_json.get('items') or []:
        node = (pod.get('spec') or {}).get('nodeName')
        if node not in down or (pod.get('metadata') or {}).get('deletionTimestamp'):
            continue
        conditions = {c.get('type'): c.get('status') for c in (pod.get('status') or {}).get('conditions') or []}
        if conditions.get('Ready') != 'True':
            found[node] = found.get(node, 0) + 1
    return found


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


def _tolerates(tolerations: list, taint: dict) -> bool:
    """Whether one of the pod's tolerations matches the node's taint (Kubernetes' rules: effect empty or equal; Exists with
    no key matches every taint; Equal needs key and value)."""
    for toleration in tolerations or []:
        if toleration.get('effect') and toleration['effect'] != taint.get('effect'):
            continue
        if toleration.get('operator') == 'Exists':
            if not toleration.get('key') or toleration['key'] == taint.get('key'):
                return True
        elif toleration.get('key') == taint.get('key') and toleration.get('value', '') == taint.get('value', ''):
            return True
    return False


def eligible_nodes(nodes_json: dict, pod_spec: dict) -> list:
    """Names of the Ready, schedulable nodes the pod could run on: its nodeSelector matches and it tolerates every
    NoSchedule and NoExecute taint (affinity is not looked at)."""
    found = []
    selector = pod_spec.get('nodeSelector') or {}
    for node in nodes_json.get('items') or []:
        summary = node_summary(node)
        spec, labels = node.get('spec') or {}, (node.get('metadata') or {}).get('labels') or {}
        if not summary['ready'] or spec.get('unschedulable') or any(labels.get(k) != v for k, v in selector.items()):
            continue
        taints = [t for t in spec.get('taints') or [] if t.get('effect') in ('NoSchedule', 'NoExecute')]
        if all(_tolerates(pod_spec.get('tolerations'), taint) for taint in taints):
            found.append(summary['name'])
    return sorted(found)


def crowded(deployment: dict, pods_json: dict, nodes_json: dict, ref: str) -> str | None:
    """Why the Deployment's pods should be spread again: two or more run, all on one node, though two or more nodes could
    run them (kubeadm starts CoreDNS while the first control plane is the only node, and nothing moves its pods later).
    None when they are spread, or cannot be."""
    running = sorted((p.get('spec') or {}).get('nodeName') or '' for p in pods_json.get('items') or []
                     if (p.get('status') or {}).get('phase') == 'Running' and not (p.get('metadata') or {}).get('deletionTimestamp'))
    if len(running) < 2 or len(set(running)) > 1:
        return None
    pod_spec = (((deployment.get('spec') or {}).get('template') or {}).get('spec')) or {}
    nodes = eligible_nodes(nodes_json, pod_spec)
    if len(nodes) < 2:
        return None
    return '%s: all %d pods run on %s though %d nodes can run them (%s)' % (ref, len(running), running[0], len(nodes), ', '.join(nodes))
