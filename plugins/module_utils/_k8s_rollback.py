# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Return a Deployment whose rollout failed to the revision that served before it (what `kubectl rollout undo` does),
by server-side apply with the caller's field manager, so that the next apply of the wanted object takes over again.
"""
from __future__ import annotations

import copy

from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_objects import describe, object_key

REVISION = 'deployment.kubernetes.io/revision'
TEMPLATE_HASH = 'pod-template-hash'


def _revision(obj: dict) -> int:
    try:
        return int(((obj.get('metadata') or {}).get('annotations') or {}).get(REVISION, 0))
    except (TypeError, ValueError):
        return 0


def previous_revision(deployment: dict, replicasets: list) -> tuple | None:
    """(revision, pod template) of the newest ReplicaSet of this Deployment older than its current revision; None when
    there is none (its first rollout). The template is as the ReplicaSet has it, without its pod-template-hash label."""
    meta = deployment.get('metadata') or {}
    current = _revision(deployment)
    owned = [rs for rs in replicasets
             if any(ref.get('kind') == 'Deployment' and ref.get('name') == meta.get('name')
                    for ref in (rs.get('metadata') or {}).get('ownerReferences') or [])]
    older = sorted(((_revision(rs), rs) for rs in owned if 0 < _revision(rs) < current), key=lambda pair: pair[0])
    if not older:
        return None
    revision, replicaset = older[-1]
    template = copy.deepcopy((replicaset.get('spec') or {}).get('template') or {})
    template_meta = template.setdefault('metadata', {})
    template_meta.pop('creationTimestamp', None)
    (template_meta.get('labels') or {}).pop(TEMPLATE_HASH, None)
    return revision, template


def rollback_object(wanted: dict, template: dict) -> dict:
    """The Deployment to apply: the wanted one (labels, selector, replicas, strategy) with the earlier pod template."""
    out = copy.deepcopy(wanted)
    out['spec']['template'] = template
    return out


def image_of(template: dict) -> str:
    """The first container's image of a pod template."""
    containers = (template.get('spec') or {}).get('containers') or [{}]
    return containers[0].get('image', '?')


def plan(client, wanted: dict, live: dict) -> tuple:
    """(object to apply, line for the report) for one failed Deployment; (None, line) when it cannot be rolled back."""
    key = object_key(wanted)
    selector = ','.join('%s=%s' % kv for kv in sorted((((live.get('spec') or {}).get('selector') or {}).get('matchLabels') or {}).items()))
    previous = previous_revision(live, client.list('ReplicaSet', key[1], label_selector=selector) if selector else [])
    if previous is None:
        return None, '%s: not rolled back: no earlier revision (its first rollout)' % describe(key)
    revision, template = previous
    return rollback_object(wanted, template), '%s: rolled back to revision %d (image %s)' % (describe(key), revision, image_of(template))
