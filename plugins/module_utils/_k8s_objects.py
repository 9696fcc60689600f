# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers over one Kubernetes object, for every module that applies objects: its key, its name in messages,
the comparison without server-kept fields, a diff that never shows a Secret value, and whether a live object is still
what we last applied (so that an unchanged object needs no request at all)."""
from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json

HIDDEN = '<hidden>'
HIDDEN_CHANGED = '<hidden, changed>'
# On every applied object: the sha256 of the object as it was sent (without this annotation).
APPLIED_ANNOTATION = 'kubeseed.io/applied'


def scalar_text(value: object) -> str:
    """A value as Kubernetes stores it in a string map: booleans as true/false."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def object_key(obj: dict) -> tuple:
    """(kind, namespace, name) of an object; namespace is '' for cluster-scoped ones."""
    meta = obj.get('metadata') or {}
    return (obj.get('kind'), meta.get('namespace') or '', meta.get('name'))


def describe(key: tuple) -> str:
    """'Deployment shop/api' / 'Namespace shop'."""
    kind, namespace, name = key
    return '%s %s/%s' % (kind, namespace, name) if namespace else '%s %s' % (kind, name)


_VOLATILE_METADATA = ('managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid', 'selfLink', 'deletionTimestamp')


def normalize(obj: dict | None) -> dict | None:
    """An object without what the server changes by itself (status, resourceVersion, managedFields ...).

    Two normalized objects are equal exactly when an apply made no difference a user would care about.
    """
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop('status', None)
    meta = out.get('metadata') or {}
    for field in _VOLATILE_METADATA:
        meta.pop(field, None)
    annotations = meta.get('annotations')
    if annotations is not None:
        annotations.pop('deployment.kubernetes.io/revision', None)
        if not annotations:
            meta.pop('annotations')
    return out


def mask_secret(obj: dict | None, previous: dict | None = None) -> dict | None:
    """A copy of obj fit for a diff: every Secret value replaced by <hidden>, or by <hidden, changed> where it differs from previous's."""
    if obj is None or obj.get('kind') != 'Secret':
        return obj
    out = copy.deepcopy(obj)
    theirs = {}
    if previous:
        theirs = dict(previous.get('data') or {})
        theirs.update({k: base64.b64encode(scalar_text(v).encode('utf-8')).decode('ascii') for k, v in (previous.get('stringData') or {}).items()})
    mine = dict(out.get('data') or {})
    mine.update({k: base64.b64encode(scalar_text(v).encode('utf-8')).decode('ascii') for k, v in (out.pop('stringData', None) or {}).items()})
    if mine or 'data' in out:
        out['data'] = {k: (HIDDEN if previous is None or theirs.get(k) == v else HIDDEN_CHANGED) for k, v in sorted(mine.items())}
    annotations = (out.get('metadata') or {}).get('annotations') or {}
    annotations.pop('kubectl.kubernetes.io/last-applied-configuration', None)
    if APPLIED_ANNOTATION in annotations:
        # a hash of the Secret's data: no secret, but a fingerprint of it (a guessable value could be tried against it)
        annotations[APPLIED_ANNOTATION] = HIDDEN
    return out


def diff_entry(key: tuple, before: dict | None, after: dict | None) -> dict:
    """One Ansible diff (before/after as JSON text) for one object, without Secret values."""
    def text(obj: dict | None) -> str:
        return '' if obj is None else json.dumps(obj, indent=2, sort_keys=True) + '\n'
    before_n, after_n = normalize(before), normalize(after)
    return {'before_header': describe(key), 'after_header': describe(key),
            'before': text(mask_secret(before_n)), 'after': text(mask_secret(after_n, before_n))}


def applied_hash(obj: dict) -> str:
    """'sha256:<hex>' of an object as it is sent, without APPLIED_ANNOTATION (keys sorted, compact JSON)."""
    body = obj
    annotations = (obj.get('metadata') or {}).get('annotations')
    if annotations is not None and APPLIED_ANNOTATION in annotations:
        # copies of the two levels changed (the rest is only read)
        body = dict(obj, metadata=dict(obj['metadata'], annotations={k: v for k, v in annotations.items() if k != APPLIED_ANNOTATION}))
        if not body['metadata']['annotations']:
            body['metadata'].pop('annotations')
    text = json.dumps(body, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    return 'sha256:' + hashlib.sha256(text.encode('utf-8')).hexdigest()


def with_applied_hash(obj: dict) -> dict:
    """A copy of obj that carries its applied_hash in APPLIED_ANNOTATION (metadata and its annotations copied, the rest shared:
    neither is changed afterwards)."""
    meta = dict(obj.get('metadata') or {})
    meta['annotations'] = dict(meta.get('annotations') or {}, **{APPLIED_ANNOTATION: applied_hash(obj)})
    return dict(obj, metadata=meta)


@functools.lru_cache(maxsize=4096)
def _item_keys(key_json: str) -> dict | None:
    """The keys of a 'k:{...}' entry of managedFields ({'name': 'api'}), None when it is not one (cached: the same few
    entries come back in every object of a set; callers only read the mapping)."""
    try:
        keys = json.loads(key_json[2:])
    except ValueError:
        return None
    return keys if isinstance(keys, dict) and keys else None


def _names(keys: dict | None, item: object, defaults_allowed: bool) -> bool:
    """Whether an entry's keys name this list item (a key the item leaves to the server's default counts with defaults_allowed)."""
    if keys is None or not isinstance(item, dict) or not any(k in item for k in keys):
        return False
    return all(item[k] == v if k in item else defaults_allowed for k, v in keys.items())


def _owns(value: object, fields: object, live: object) -> bool:
    """Whether a managedFields fieldsV1 node covers every field of value (a dict, a list or a scalar), live being the
    live object's value at the same place.

    An entry with no children is a field owned as one value: a scalar, or an atomic map or list, which must then also
    be what live holds (a map or list whose items were all taken away would look the same).
    """
    if not isinstance(fields, dict):
        return False
    entries = [k for k in fields if k != '.']
    if isinstance(value, (dict, list)) and not entries:
        return live == value  # an atomic map (a Service's selector) or list, or an empty one
    if isinstance(value, dict):
        live = live if isinstance(live, dict) else {}
        return all(_owns(item, fields.get('f:' + key), live.get(key)) for key, item in value.items())
    if isinstance(value, list):
        live_items = live if isinstance(live, list) else []
        for item in value:
            if isinstance(item, dict):
                nodes = [k for k in entries if k.startswith('k:') and _names(_item_keys(k), item, True)]
                if len(nodes) != 1:
                    return False
                keys = _item_keys(nodes[0])
                matches = [i for i in live_items if _names(keys, i, False)]
                if len(matches) != 1 or not _owns(item, fields[nodes[0]], matches[0]):
                    return False
            elif 'v:' + json.dumps(item, separators=(',', ':')) not in fields:
                return False
        return True
    return True


def still_applied(obj: dict, live: dict | None, field_manager: str) -> bool:
    """Whether applying obj (which carries its applied hash) would change nothing on live.

    True only when live records that very hash and field_manager's last apply still owns every field obj sets: another
    manager that changed one of those fields (kubectl edit, scale, a forced apply) took it over, and that is drift.
    """
    if live is None:
        return False
    meta, live_meta = obj.get('metadata') or {}, live.get('metadata') or {}
    wanted = (meta.get('annotations') or {}).get(APPLIED_ANNOTATION)
    if not wanted or (live_meta.get('annotations') or {}).get(APPLIED_ANNOTATION) != wanted or live_meta.get('deletionTimestamp'):
        return False
    ours = [m.get('fieldsV1') for m in live_meta.get('managedFields') or []
            if m.get('manager') == field_manager and m.get('operation') == 'Apply' and not m.get('subresource')
            and m.get('apiVersion') == obj.get('apiVersion')]
    if len(ours) != 1:
        return False
    body = {k: v for k, v in obj.items() if k not in ('apiVersion', 'kind')}
    body['metadata'] = {k: v for k, v in meta.items() if k not in ('name', 'namespace')}
    return _owns(body, ours[0], live)
