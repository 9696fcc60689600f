# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge the labels and taints kubeseed manages on a Node: pure functions over `kubectl get node -o json` output.

kubeseed owns a label (a taint) when it added it or changed its value; it records the keys it owns in the node
annotation ``kubeseed.io/labels`` (the taints as ``key:effect`` in ``kubeseed.io/taints``), comma-separated and
sorted. A run sets the desired labels and taints, removes the owned ones that are no longer desired, and never
touches the others: those of the kubelet, kubeadm's control-plane taint, the node controller's, kubectl's. A
desired label or taint that is already there with the desired value was set by someone else: it is left as it is
and not claimed, so removing it from the variables later leaves it on the node.

The change is one JSON merge patch carrying the node's resourceVersion, so the API server refuses it (409
Conflict) when the node changed since it was read, and no taint added by someone else in between is dropped.
"""
from __future__ import annotations

LABELS_ANNOTATION = 'kubeseed.io/labels'
TAINTS_ANNOTATION = 'kubeseed.io/taints'
EFFECTS = ('NoSchedule', 'PreferNoSchedule', 'NoExecute')


# ---------------------------------------------------------------- input ----

def input_problems(nodes: object) -> list[str]:
    """What is wrong with the module's `nodes` option: {node: {labels: {key: value}, taints: [{key, value, effect}]}}."""
    if not isinstance(nodes, dict):
        return ['nodes: expected a mapping of node name to {labels, taints}']
    problems = []
    for name, wanted in nodes.items():
        where = 'nodes[%r]' % name
        if not isinstance(wanted, dict):
            problems.append('%s: expected a mapping with labels and taints' % where)
            continue
        unknown = sorted(str(k) for k in wanted if k not in ('labels', 'taints'))
        if unknown:
            problems.append('%s: unknown keys %s (expected labels and taints)' % (where, ', '.join(unknown)))
        labels = wanted.get('labels') or {}
        if not isinstance(labels, dict):
            problems.append('%s.labels: expected a mapping of label key to value' % where)
        else:
            for key, value in labels.items():
                if not isinstance(key, str) or not key or not isinstance(value, str):
                    problems.append('%s.labels: %r: %r must be a non-empty key and a string value' % (where, key, value))
        taints = wanted.get('taints') or []
        if not isinstance(taints, list):
            problems.append('%s.taints: expected a list of {key, value, effect}' % where)
            continue
        seen = set()
        for index, taint in enumerate(taints):
            path = '%s.taints[%d]' % (where, index)
            if not isinstance(taint, dict) or set(taint) - {'key', 'value', 'effect'}:
                problems.append('%s: expected a mapping with key, value (optional) and effect' % path)
                continue
            if not isinstance(taint.get('key'), str) or not taint['key']:
                problems.append('%s.key: expected a non-empty string' % path)
            if taint.get('value') is not None and not isinstance(taint['value'], str):
                problems.append('%s.value: expected a string' % path)
            if taint.get('effect') not in EFFECTS:
                problems.append('%s.effect: %r is not one of %s' % (path, taint.get('effect'), ', '.join(EFFECTS)))
            identity = taint_id(taint)
            if identity in seen:
                problems.append('%s: a second taint %s (one per key and effect)' % (path, identity))
            seen.add(identity)
    return problems


# ---------------------------------------------------------------- taints ----

def taint_id(taint: dict) -> str:
    """key:effect, what identifies a taint on a node."""
    return '%s:%s' % (taint.get('key'), taint.get('effect'))


def taint_text(taint: dict) -> str:
    """key=value:effect or key:effect, as kubectl writes a taint."""
    value = taint.get('value') or ''
    return '%s%s:%s' % (taint.get('key'), '=' + value if value else '', taint.get('effect'))


def _taint(taint: dict) -> dict:
    """A desired taint as the API writes it (no value key when the value is empty)."""
    result = {'key': taint['key'], 'effect': taint['effect']}
    if taint.get('value'):
        result['value'] = taint['value']
    return result


# ---------------------------------------------------------------- ownership ----

def owned(annotations: dict, name: str) -> list[str]:
    """The keys (key:effect) listed in an ownership annotation."""
    text = (annotations or {}).get(name) or ''
    return sorted({item.strip() for item in text.split(',') if item.strip()})


def _owned_text(items) -> str | None:
    """The annotation value for a set of owned keys (None: no annotation)."""
    return ','.join(sorted(items)) or None


# ---------------------------------------------------------------- the plan ----

def plan(node: dict, labels: dict, taints: list) -> dict:
    """What to change on one node so that it carries `labels` and `taints`, kubeseed's earlier ones that are no longer
    wanted are gone, and everything else stays.

    Returns {name, changed, patch (a JSON merge patch, None when unchanged), changes (one line each), before and after
    ({labels, taints} of the whole node)}.
    """
    meta = node.get('metadata') or {}
    annotations = meta.get('annotations') or {}
    live_labels = dict(meta.get('labels') or {})
    live_taints = list((node.get('spec') or {}).get('taints') or [])
    labels = dict(labels or {})
    wanted_taints = [_taint(t) for t in taints or []]
    changes = []

    # Labels: set the wanted ones (claiming those added or changed), remove the owned ones no longer wanted.
    owned_labels = set(owned(annotations, LABELS_ANNOTATION))
    new_labels = dict(live_labels)
    label_patch = {}
    keep_labels = set()
    for key in sorted(labels):
        if live_labels.get(key) == labels[key]:
            if key in owned_labels:
                keep_labels.add(key)
            continue
        changes.append('label %s=%s %s' % (key, labels[key], 'added' if key not in live_labels else 'changed from %r' % live_labels[key]))
        new_labels[key] = labels[key]
        label_patch[key] = labels[key]
        keep_labels.add(key)
    for key in sorted(owned_labels - set(labels)):
        if key in live_labels:
            changes.append('label %s removed' % key)
            del new_labels[key]
            label_patch[key] = None

    # Taints: the live list in its order, a wanted one replacing the taint of its key and effect, owned ones no
    # longer wanted dropped, others kept as they are; wanted ones that are not there yet appended.
    owned_taints = set(owned(annotations, TAINTS_ANNOTATION))
    wanted = {taint_id(t): t for t in wanted_taints}
    new_taints, keep_taints, present = [], set(), set()
    for taint in live_taints:
        identity = taint_id(taint)
        present.add(identity)
        if identity in wanted:
            desired = wanted[identity]
            if (taint.get('value') or '') == (desired.get('value') or ''):
                new_taints.append(taint)
                if identity in owned_taints:
                    keep_taints.add(identity)
            else:
                changes.append('taint %s changed from %s' % (taint_text(desired), taint_text(taint)))
                new_taints.append(desired)
                keep_taints.add(identity)
        elif identity in owned_taints:
            changes.append('taint %s removed' % taint_text(taint))
        else:
            new_taints.append(taint)
    for identity, desired in wanted.items():
        if identity not in present:
            changes.append('taint %s added' % taint_text(desired))
            new_taints.append(desired)
            keep_taints.add(identity)

    patch: dict = {}
    annotation_patch = {}
    for name, after in ((LABELS_ANNOTATION, keep_labels), (TAINTS_ANNOTATION, keep_taints)):
        if _owned_text(after) != annotations.get(name):
            annotation_patch[name] = _owned_text(after)
    if label_patch or annotation_patch:
        patch['metadata'] = {}
        if label_patch:
            patch['metadata']['labels'] = label_patch
        if annotation_patch:
            patch['metadata']['annotations'] = annotation_patch
    if new_taints != live_taints:
        patch['spec'] = {'taints': new_taints or None}
    if patch and meta.get('resourceVersion'):
        patch.setdefault('metadata', {})['resourceVersion'] = meta['resourceVersion']
    if not changes and patch:
        changes.append('ownership records (annotations %s, %s) updated' % (LABELS_ANNOTATION, TAINTS_ANNOTATION))
    return {
        'name': meta.get('name'),
        'changed': bool(patch),
        'patch': patch or None,
        'changes': changes,
        'before': {'labels': live_labels, 'taints': live_taints},
        'after': {'labels': new_labels, 'taints': new_taints},
    }


# ---------------------------------------------------------------- reporting ----

def _text(state: dict) -> str:
    lines = ['labels:']
    lines += ['  %s: %s' % (key, state['labels'][key]) for key in sorted(state['labels'])] or ['  {}']
    lines.append('taints:')
    lines += ['  - %s' % taint_text(taint) for taint in state['taints']] or ['  []']
    return '\n'.join(lines) + '\n'


def diff(planned: dict) -> dict:
    """Ansible's diff of one node: its labels and taints before and after."""
    return {'before_header': 'node %s' % planned['name'], 'after_header': 'node %s' % planned['name'],
            'before': _text(planned['before']), 'after': _text(planned['after'])}


def missing(nodes_json: dict, names) -> list[str]:
    """The names that are not registered nodes."""
    registered = {(n.get('metadata') or {}).get('name') for n in (nodes_json or {}).get('items') or []}
    return sorted(name for name in names if name not in registered)


def by_name(nodes_json: dict) -> dict:
    """{node name: node} of a `kubectl get nodes -o json` answer."""
    return {(n.get('metadata') or {}).get('name'): n for n in (nodes_json or {}).get('items') or []}
