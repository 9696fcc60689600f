# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cordon and drain a node with kubectl, shared by the node removal and the upgrade: which pods a drain evicts, and which
ones stopped it (a PodDisruptionBudget, mostly), named so that the user knows what to relax."""
from __future__ import annotations

import json
import re

_BLOCKED = re.compile(r'evicting pod "?([^"\s]+)"?[^:]*: (.*)')
_CANNOT_EVICT = re.compile(r'error when evicting pods/"?([^"\s]+)"? -n "?([^"\s]+)"?[^:]*: (.*)')


def ready(node: dict) -> bool:
    """Whether a Node object's Ready condition is True."""
    return any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in (node.get('status') or {}).get('conditions') or [])


def drain_blockers(output: str) -> list[str]:
    """'namespace/pod: why' for every pod kubectl drain could not evict (a PodDisruptionBudget, mostly)."""
    blockers = []
    for line in output.splitlines():
        match = _CANNOT_EVICT.search(line)
        if match:
            entry = '%s/%s: %s' % (match.group(2), match.group(1), match.group(3).strip())
        else:
            match = _BLOCKED.search(line)
            if not match:
                continue
            entry = '%s: %s' % (match.group(1), match.group(2).strip())
        if entry not in blockers:
            blockers.append(entry)
    return blockers


def evictable(pods_json: dict) -> list[str]:
    """'namespace/name' of the pods a drain evicts: not those of a DaemonSet, not static (mirror) pods, not finished ones."""
    names = []
    for pod in pods_json.get('items') or []:
        meta = pod.get('metadata') or {}
        if any(o.get('kind') == 'DaemonSet' for o in meta.get('ownerReferences') or []):
            continue
        if 'kubernetes.io/config.mirror' in (meta.get('annotations') or {}):
            continue
        if (pod.get('status') or {}).get('phase') in ('Succeeded', 'Failed'):
            continue
        names.append('%s/%s' % (meta.get('namespace'), meta.get('name')))
    return sorted(names)


def drain(run, name: str, timeout: int, timeout_variable: str, left: str = 'cordoned') -> str | None:
    """Drain a node with `kubectl drain` (PodDisruptionBudgets honoured, DaemonSet pods stay, pods of no controller and
    emptyDir data go); None when it finished, else why not, naming the pods that could not be evicted.

    run: a function taking kubectl's arguments and returning (rc, stdout, stderr); left: how the node is left on a timeout.
    """
    rc, out, err = run('drain', name, '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--grace-period=-1',
                       '--timeout=%ds' % timeout)
    if rc == 0:
        return None
    blockers = drain_blockers(out + '\n' + err)
    said = 'pods that could not be evicted: ' + '; '.join(blockers) if blockers else \
        'kubectl said: ' + ((err.strip() or out.strip()).splitlines() or ['nothing'])[-1]
    terminating = still_terminating(run, name)
    if terminating:
        said += ('; evicted but still terminating on the node: %s (their containers did not stop: see the kubelet and '
                 'containerd logs of %s)' % (', '.join(terminating), name))
    return ('%s: the drain did not finish within %d s (%s); %s. The node stays %s; relax the PodDisruptionBudget or '
            'scale the workload, or raise the timeout, then run the playbook again' % (name, timeout, timeout_variable, said, left))


def still_terminating(run, name: str) -> list[str]:
    """'namespace/name' of the pods on a node whose deletion was asked for (evicted) but which are still there; [] when
    they cannot be listed (the drain's own message is then all there is)."""
    rc, out, _err = run('get', 'pods', '--all-namespaces', '--field-selector', 'spec.nodeName=%s' % name, '-o', 'json')
    if rc != 0:
        return []
    try:
        pods = json.loads(out)
    except ValueError:
        return []
    return sorted('%s/%s' % (p['metadata'].get('namespace'), p['metadata'].get('name'))
                  for p in pods.get('items') or [] if (p.get('metadata') or {}).get('deletionTimestamp'))
