# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An in-memory stand-in for _k8s_client.Client, for the code that drives one (apply, prune, wait) without an API server."""
from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_apply import object_key as _key


def fields_v1(value):
    """The managedFields fieldsV1 of an applied value, as the API server writes it: maps by field, lists of maps with a
    name by key (associative, like containers and env), other lists as one value (atomic)."""
    if isinstance(value, dict):
        return {'f:' + k: fields_v1(v) for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(i, dict) and 'name' in i for i in value):
        return {'k:' + json.dumps({'name': i['name']}, separators=(',', ':')): dict(fields_v1(i), **{'.': {}}) for i in value}
    return {}


def applied_fields(obj):
    """fieldsV1 of an applied object: without apiVersion, kind and metadata's name and namespace (the server does not list them)."""
    body = {k: v for k, v in obj.items() if k not in ('apiVersion', 'kind', 'status')}
    body['metadata'] = {k: v for k, v in obj['metadata'].items() if k not in ('name', 'namespace', 'managedFields', 'resourceVersion')}
    return fields_v1(body)


class FakeClient:
    """Objects by (kind, namespace, name); server-side apply replaces an object and records the field manager with
    the fields it set (managedFields with fieldsV1, as the API server does).

    errors: {(verb, key): exception (a K8sError)} raised by that call; list errors use the key (kind, namespace or None).
    """

    def __init__(self, objects=(), errors=None):
        self.objects = {_key(o): copy.deepcopy(o) for o in objects}
        self.errors = dict(errors or {})
        self.calls = []

    def _call(self, verb: str, key: tuple) -> None:
        self.calls.append((verb,) + key)
        if (verb, key) in self.errors:
            raise self.errors[(verb, key)]

    def get(self, kind, namespace, name):
        key = (kind, namespace or '', name)
        self._call('get', key)
        return copy.deepcopy(self.objects.get(key))

    def list(self, kind, namespace=None, label_selector=None, field_selector=None):
        self._call('list', (kind, namespace, label_selector))
        wanted = dict(pair.split('=', 1) for pair in label_selector.split(',')) if label_selector else {}
        found = []
        for key, obj in sorted(self.objects.items()):
            labels = obj['metadata'].get('labels') or {}
            if key[0] == kind and namespace in (None, key[1]) and all(labels.get(k) == v for k, v in wanted.items()):
                found.append(copy.deepcopy(obj))
        return found

    def apply(self, obj, field_manager='kubeseed', force=False, dry_run=False):
        key = _key(obj)
        self._call('apply', key)
        after = copy.deepcopy(obj)
        after['metadata']['managedFields'] = [{'manager': field_manager, 'operation': 'Apply', 'apiVersion': obj.get('apiVersion'),
                                               'fieldsType': 'FieldsV1', 'fieldsV1': applied_fields(obj)}]
        after['metadata']['resourceVersion'] = str(len(self.calls))
        status = 200 if key in self.objects else 201
        if not dry_run:
            self.objects[key] = copy.deepcopy(after)
        return status, after

    def delete(self, kind, namespace, name, dry_run=False):
        key = (kind, namespace or '', name)
        self._call('delete', key)
        if key not in self.objects:
            return False
        if not dry_run:
            del self.objects[key]
        return True


@pytest.fixture
def fake_client():
    """FakeClient(objects=(), errors=None)."""
    return FakeClient
