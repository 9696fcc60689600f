# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers over one Kubernetes object, for every module that applies objects: its key, its name in messages,
the comparison without server-kept fields, and a diff that never shows a Secret value."""
from __future__ import annotations

import base64
import copy
import json

HIDDEN = '<hidden>'
HIDDEN_CHANGED = '<hidden, changed>'


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
    return out


def diff_entry(key: tuple, before: dict | None, after: dict | None) -> dict:
    """One Ansible diff (before/after as JSON text) for one object, without Secret values."""
    def text(obj: dict | None) -> str:
        return '' if obj is None else json.dumps(obj, indent=2, sort_keys=True) + '\n'
    before_n, after_n = normalize(before), normalize(after)
    return {'before_header': describe(key), 'after_header': describe(key),
            'before': text(mask_secret(before_n)), 'after': text(mask_secret(after_n, before_n))}
