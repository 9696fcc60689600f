# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers over one object: key, name in messages, comparison without server fields, diff without Secret values."""
from __future__ import annotations

import base64
import json

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_objects as objects

SECRET = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'db', 'namespace': 'shop'},
          'data': {'password': base64.b64encode(b'hunter2').decode('ascii')}}


def test_key_and_description():
    assert objects.object_key(SECRET) == ('Secret', 'shop', 'db')
    assert objects.describe(('Secret', 'shop', 'db')) == 'Secret shop/db'
    assert objects.describe(objects.object_key({'kind': 'Namespace', 'metadata': {'name': 'shop'}})) == 'Namespace shop'


def test_normalize_drops_what_the_server_keeps_and_nothing_else():
    live = {'kind': 'ConfigMap', 'metadata': {'name': 'a', 'resourceVersion': '7', 'uid': 'u', 'managedFields': [{}],
                                              'annotations': {'deployment.kubernetes.io/revision': '3'}},
            'data': {'k': 'v'}, 'status': {}}
    assert objects.normalize(live) == {'kind': 'ConfigMap', 'metadata': {'name': 'a'}, 'data': {'k': 'v'}}
    assert live['metadata']['resourceVersion'] == '7'  # the input is not modified
    assert objects.normalize(None) is None


def test_diff_never_shows_a_secret_value():
    changed = dict(SECRET, data={'password': base64.b64encode(b'swordfish').decode('ascii')})
    entry = objects.diff_entry(objects.object_key(SECRET), SECRET, changed)
    text = entry['before'] + entry['after']
    assert 'hunter2' not in text and 'swordfish' not in text and 'aHVudGVyMg' not in text
    assert objects.HIDDEN_CHANGED in entry['after'] and entry['before_header'] == 'Secret shop/db'
    plain = dict(SECRET, stringData={'token': True})
    assert objects.mask_secret(plain)['data']['token'] == objects.HIDDEN
    assert objects.scalar_text(True) == 'true' and objects.scalar_text(3) == '3'


def test_applied_hash_is_of_the_object_as_sent_without_itself():
    config = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'a', 'namespace': 'shop'}, 'data': {'k': 'v', 'j': 'w'}}
    marked = objects.with_applied_hash(config)
    digest = marked['metadata']['annotations'][objects.APPLIED_ANNOTATION]
    assert digest.startswith('sha256:') and len(digest) == 7 + 64
    assert 'annotations' not in config['metadata']  # the input is not modified
    assert objects.applied_hash(marked) == digest  # its own annotation is not part of it
    reordered = {'data': {'j': 'w', 'k': 'v'}, 'metadata': {'namespace': 'shop', 'name': 'a'}, 'kind': 'ConfigMap', 'apiVersion': 'v1'}
    assert objects.applied_hash(reordered) == digest
    assert objects.applied_hash(dict(config, data={'k': 'v', 'j': 'x'})) != digest
    other = objects.with_applied_hash(dict(config, metadata={'name': 'a', 'namespace': 'shop', 'annotations': {'team': 'x'}}))
    assert other['metadata']['annotations']['team'] == 'x' and objects.applied_hash(other) != digest


def test_the_applied_hash_of_a_secret_is_hidden_in_diffs():
    marked = objects.with_applied_hash(SECRET)
    entry = objects.diff_entry(objects.object_key(SECRET), None, marked)
    assert marked['metadata']['annotations'][objects.APPLIED_ANNOTATION] not in entry['after']
    assert '"%s": "%s"' % (objects.APPLIED_ANNOTATION, objects.HIDDEN) in entry['after']
    config = objects.with_applied_hash(dict(SECRET, kind='ConfigMap', data={'a': 'b'}))
    assert config['metadata']['annotations'][objects.APPLIED_ANNOTATION] in objects.diff_entry(('ConfigMap', 'shop', 'db'), None, config)['after']


DEPLOYMENT = {
    'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'api', 'namespace': 'shop', 'labels': {'app': 'api'}},
    'spec': {'replicas': 2, 'template': {'spec': {
        'containers': [{'name': 'api', 'image': 'shop/api:1', 'args': ['--port', '80'], 'ports': [{'containerPort': 80}],
                        'env': [{'name': 'A', 'value': '1'}]}],
        'volumes': [{'name': 'cache', 'emptyDir': {}}]}}},
}
# what the API server records for DEPLOYMENT applied (containers, env and volumes by name, ports by containerPort and
# the protocol it defaults, args atomic), with the hash annotation
FIELDS = {
    'f:metadata': {'f:labels': {'f:app': {}}, 'f:annotations': {'f:' + objects.APPLIED_ANNOTATION: {}}},
    'f:spec': {'f:replicas': {}, 'f:template': {'f:spec': {
        'f:containers': {'k:{"name":"api"}': {'.': {}, 'f:name': {}, 'f:image': {}, 'f:args': {},
                                              'f:ports': {'k:{"containerPort":80,"protocol":"TCP"}': {'.': {}, 'f:containerPort': {}}},
                                              'f:env': {'k:{"name":"A"}': {'.': {}, 'f:name': {}, 'f:value': {}}}}},
        'f:volumes': {'k:{"name":"cache"}': {'.': {}, 'f:name': {}, 'f:emptyDir': {}}}}}},
}


def _live(obj, fields, manager='kubeseed', **meta):
    live = objects.with_applied_hash(obj) if 'hash' not in meta else obj
    live = json.loads(json.dumps(live))
    live['metadata'].update(resourceVersion='9', **{k: v for k, v in meta.items() if k != 'hash'})
    for container in live['spec']['template']['spec']['containers']:
        for port in container.get('ports', []):
            port.setdefault('protocol', 'TCP')  # defaulted by the server
    live['metadata']['managedFields'] = [
        {'manager': manager, 'operation': 'Apply', 'apiVersion': obj['apiVersion'], 'fieldsType': 'FieldsV1', 'fieldsV1': fields},
        {'manager': 'kube-controller-manager', 'operation': 'Update', 'apiVersion': 'apps/v1', 'subresource': 'status',
         'fieldsV1': {'f:status': {}}}]
    return live


def test_still_applied_when_the_hash_matches_and_every_field_is_ours():
    marked = objects.with_applied_hash(DEPLOYMENT)
    assert objects.still_applied(marked, _live(DEPLOYMENT, FIELDS), 'kubeseed')
    assert not objects.still_applied(marked, None, 'kubeseed')
    assert not objects.still_applied(marked, _live(DEPLOYMENT, FIELDS, manager='kubectl'), 'kubeseed')
    assert not objects.still_applied(marked, _live(DEPLOYMENT, FIELDS, deletionTimestamp='2026-12-03T00:00:00Z'), 'kubeseed')
    # the object to apply differs from what the live one records: apply it
    changed = dict(DEPLOYMENT, spec=dict(DEPLOYMENT['spec'], replicas=3))
    assert not objects.still_applied(objects.with_applied_hash(changed), _live(DEPLOYMENT, FIELDS), 'kubeseed')
    # a live object without the annotation (applied before it existed, or the annotation removed)
    assert not objects.still_applied(marked, _live(DEPLOYMENT, FIELDS, hash=False), 'kubeseed')
    # an object without the annotation is never taken as applied
    assert not objects.still_applied(DEPLOYMENT, _live(DEPLOYMENT, FIELDS), 'kubeseed')
    # managed through another API version: not compared
    assert not objects.still_applied(dict(marked, apiVersion='apps/v2'), _live(DEPLOYMENT, FIELDS), 'kubeseed')


def _without(fields, *path):
    """fields without the entry at path, as the API server serializes them: a parent left without children is gone too."""
    out = json.loads(json.dumps(fields))
    nodes = [out]
    for step in path[:-1]:
        nodes.append(nodes[-1][step])
    del nodes[-1][path[-1]]
    for depth in range(len(nodes) - 1, 0, -1):
        if not nodes[depth]:
            del nodes[depth - 1][path[depth - 1]]
    return out


CONTAINER = ('f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"api"}')


def test_a_field_another_manager_took_over_is_drift():
    marked = objects.with_applied_hash(DEPLOYMENT)
    for path in [('f:spec', 'f:replicas'),  # kubectl scale
                 ('f:metadata', 'f:labels', 'f:app'),  # a label edited by hand
                 CONTAINER + ('f:image',),  # kubectl set image
                 CONTAINER + ('f:args',),  # an atomic list
                 CONTAINER + ('f:env', 'k:{"name":"A"}', 'f:value'),
                 CONTAINER + ('f:env',),  # every item of the list
                 CONTAINER + ('f:ports', 'k:{"containerPort":80,"protocol":"TCP"}'),
                 ('f:spec', 'f:template', 'f:spec', 'f:volumes', 'k:{"name":"cache"}', 'f:emptyDir'),
                 ('f:metadata', 'f:annotations')]:
        assert not objects.still_applied(marked, _live(DEPLOYMENT, _without(FIELDS, *path)), 'kubeseed'), path


def test_a_list_item_taken_away_is_drift_even_when_its_entry_looks_atomic():
    # `kubectl edit` removed the env item: our entry for env has no item left
    marked = objects.with_applied_hash(DEPLOYMENT)
    fields = _without(FIELDS, *CONTAINER + ('f:env', 'k:{"name":"A"}'))
    live = _live(DEPLOYMENT, fields)
    live['spec']['template']['spec']['containers'][0]['env'] = []
    assert not objects.still_applied(marked, live, 'kubeseed')
    live['spec']['template']['spec']['containers'][0]['env'] = [{'name': 'B', 'value': '2'}]
    assert not objects.still_applied(marked, live, 'kubeseed')


def test_list_items_are_found_by_their_keys_and_set_values_by_value():
    owns = objects._owns  # pylint: disable=protected-access
    assert owns([{'name': 'a', 'port': 1}], {'k:{"name":"a"}': {'f:name': {}, 'f:port': {}}}, [{'name': 'a', 'port': 1}])
    assert not owns([{'name': 'a'}], {'k:{"name":"b"}': {'f:name': {}}}, [{'name': 'a'}])
    # the live list lost the item
    assert not owns([{'name': 'a'}], {'k:{"name":"a"}': {'f:name': {}}}, [])
    # a key the item leaves to the server's default (protocol) still names it; a different value does not
    tcp = {'k:{"containerPort":80,"protocol":"TCP"}': {'f:containerPort': {}}}
    assert owns([{'containerPort': 80}], tcp, [{'containerPort': 80, 'protocol': 'TCP'}])
    assert not owns([{'containerPort': 80, 'protocol': 'UDP'}], tcp, [{'containerPort': 80, 'protocol': 'UDP'}])
    # two entries that both could be the item: not decided here, so applied again
    assert not owns([{'containerPort': 80}], dict(tcp, **{'k:{"containerPort":80,"protocol":"UDP"}': {'f:containerPort': {}}}),
                    [{'containerPort': 80, 'protocol': 'TCP'}, {'containerPort': 80, 'protocol': 'UDP'}])
    assert owns(['a', 'b'], {'v:"a"': {}, 'v:"b"': {}}, ['a', 'b'])
    assert not owns(['a', 'c'], {'v:"a"': {}, 'v:"b"': {}}, ['a', 'b'])
    # atomic: owned as one value, and live holds that value
    assert owns(['x', 'y'], {}, ['x', 'y'])
    assert not owns(['x', 'y'], {}, ['x'])
    assert not owns(['x'], None, ['x'])
    assert not owns([{'name': 'a'}], {'k:not json': {}}, [{'name': 'a'}])
    assert not owns([{'name': 'a'}], {'k:[1]': {}}, [{'name': 'a'}])


def test_an_atomic_map_is_owned_as_one_value():
    owns = objects._owns  # pylint: disable=protected-access
    selector = {'app': 'api', 'set': 'shop'}
    assert owns(selector, {}, dict(selector))  # a Service's spec.selector: f:selector {}
    assert not owns(selector, {}, {'app': 'api'})
    assert owns({}, {}, {})  # emptyDir: {}
