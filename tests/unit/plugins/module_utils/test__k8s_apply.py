# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generic apply, dry run, diff, listing and deleting of a set of objects (an in-memory client).

The same against a real API server: tests/integration.
"""
from __future__ import annotations

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_apply as apply
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_objects import APPLIED_ANNOTATION as APPLIED
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_objects import applied_hash, with_applied_hash

SELECTOR = 'app.kubernetes.io/managed-by=kubeseed,kubeseed.io/set=shop'
LABELS = {'app.kubernetes.io/managed-by': 'kubeseed', 'kubeseed.io/set': 'shop'}


def _obj(kind, name, namespace='shop', labels=None, **fields):
    obj = {'apiVersion': 'v1', 'kind': kind, 'metadata': {'name': name, 'labels': dict(LABELS if labels is None else labels)}}
    if namespace:
        obj['metadata']['namespace'] = namespace
    obj.update(fields)
    return obj


def test_parallel_keeps_the_order():
    assert apply.parallel(4, lambda item: item * item, list(range(20))) == [i * i for i in range(20)]
    assert apply.parallel(1, lambda item: item * item, [3, 4]) == [9, 16]
    assert apply.parallel(8, lambda item: item * item, []) == []


def test_parallel_reraises():
    def boom(item):
        raise K8sError('no %s' % item)
    with pytest.raises(K8sError, match='no 1'):
        apply.parallel(4, boom, [1, 2])


def test_list_labelled_lists_across_namespaces_by_key(fake_client):
    client = fake_client([_obj('ConfigMap', 'a'), _obj('ConfigMap', 'b', namespace='other'), _obj('ConfigMap', 'c', labels={}),
                          _obj('Secret', 's')])
    live = apply.list_labelled(client, ['ConfigMap', 'Service'], SELECTOR, workers=2)
    assert sorted(live) == [('ConfigMap', 'other', 'b'), ('ConfigMap', 'shop', 'a')]


def test_list_labelled_falls_back_to_the_namespaces_it_may_read(fake_client):
    # credentials that may not list across namespaces (403), only inside namespaces
    forbidden = {('list', (kind, None, SELECTOR)): K8sError('forbidden', 403) for kind in ('ConfigMap', 'Service')}
    client = fake_client([_obj('ConfigMap', 'x'), _obj('ConfigMap', 'x', namespace='web'), _obj('ConfigMap', 'x', namespace='other')],
                         errors=forbidden)
    live = apply.list_labelled(client, ['ConfigMap', 'Service'], SELECTOR, workers=1, namespaces=['shop', 'web'])
    assert list(live) == [('ConfigMap', 'shop', 'x'), ('ConfigMap', 'web', 'x')]
    assert client.calls[1:] == [('list', 'ConfigMap', 'shop', SELECTOR), ('list', 'ConfigMap', 'web', SELECTOR),
                                ('list', 'Service', 'shop', SELECTOR), ('list', 'Service', 'web', SELECTOR)]
    with pytest.raises(K8sError):
        apply.list_labelled(fake_client(errors=forbidden), ['ConfigMap'], SELECTOR, workers=1)


def test_ensure_namespaces_creates_only_missing_ones(fake_client):
    namespaces = [_obj('Namespace', 'shop', namespace=None), _obj('Namespace', 'new', namespace=None)]
    client = fake_client([namespaces[0]])
    assert apply.ensure_namespaces(client, namespaces, True, 'kubeseed') == (
        [{'kind': 'Namespace', 'namespace': '', 'name': 'new', 'action': 'created'}], {'new'})
    assert ('Namespace', '', 'new') not in client.objects
    assert apply.ensure_namespaces(client, namespaces, False, 'kubeseed') == (
        [{'kind': 'Namespace', 'namespace': '', 'name': 'new', 'action': 'created'}], set())
    assert ('Namespace', '', 'new') in client.objects
    assert [c for c in client.calls if c[0] == 'apply'] == [('apply', 'Namespace', '', 'new')]


def test_apply_object_says_what_changed(fake_client):
    same, old = _obj('ConfigMap', 'same', data={'a': '1'}), _obj('ConfigMap', 'old', data={'a': '1'})
    client = fake_client([same, old])
    live = apply.list_labelled(client, ['ConfigMap'], SELECTOR)
    # applied before the applied hash existed: it gains the annotation once
    first = apply.apply_object(client, same, live)
    assert first['action'] == 'configured' and first['after']['metadata']['annotations'][APPLIED] == applied_hash(same)
    live = apply.list_labelled(client, ['ConfigMap'], SELECTOR)
    calls = len(client.calls)
    assert apply.apply_object(client, same, live) == {'key': ('ConfigMap', 'shop', 'same'), 'action': 'unchanged', 'after': live[first['key']]}
    assert len(client.calls) == calls  # still what was applied: no request at all
    assert apply.apply_object(client, _obj('ConfigMap', 'old', data={'a': '2'}), live)['action'] == 'configured'
    created = apply.apply_object(client, _obj('ConfigMap', 'new'), live)
    assert (created['key'], created['action']) == (('ConfigMap', 'shop', 'new'), 'created')
    assert [(m['manager'], m['operation']) for m in created['after']['metadata']['managedFields']] == [('kubeseed', 'Apply')]
    assert 'diff' not in created


def test_an_object_changed_by_another_manager_is_applied_again(fake_client):
    client = fake_client()
    wanted = _obj('ConfigMap', 'a', data={'a': '1', 'b': '2'})
    apply.apply_object(client, wanted, {})
    # kubectl edit: the value changes and its field moves to kubectl's managedFields entry
    edited = client.objects[('ConfigMap', 'shop', 'a')]
    edited['data']['a'] = 'by hand'
    del edited['metadata']['managedFields'][0]['fieldsV1']['f:data']['f:a']
    edited['metadata']['managedFields'].append({'manager': 'kubectl-edit', 'operation': 'Update', 'fieldsV1': {'f:data': {'f:a': {}}}})
    live = apply.list_labelled(client, ['ConfigMap'], SELECTOR)
    entry = apply.apply_object(client, wanted, live, want_diff=True)
    assert entry['action'] == 'configured' and client.calls[-1] == ('apply', 'ConfigMap', 'shop', 'a')
    assert '"a": "by hand"' in entry['diff']['before'] and '"a": "1"' in entry['diff']['after']
    # another field manager's apply of the same object is not ours either
    assert apply.apply_object(client, wanted, live, field_manager='someone-else')['action'] == 'configured'


def test_apply_object_with_diff_shows_an_unlabelled_object_it_takes_over(fake_client):
    theirs = _obj('ConfigMap', 'theirs', labels={}, data={'a': '1'})
    client = fake_client([theirs])
    entry = apply.apply_object(client, _obj('ConfigMap', 'theirs', data={'a': '1'}), {}, want_diff=True)
    assert entry['action'] == 'configured'  # not in the set before
    assert entry['diff']['before_header'] == 'ConfigMap shop/theirs'
    assert '"a": "1"' in entry['diff']['before'] and 'kubeseed.io/set' not in entry['diff']['before']
    assert 'kubeseed.io/set' in entry['diff']['after']


def test_apply_object_dry_run(fake_client):
    client = fake_client()
    entry = apply.apply_object(client, _obj('ConfigMap', 'a'), {}, dry_run=True)
    assert entry['action'] == 'created' and client.objects == {}
    # in a namespace that does not exist yet the server cannot dry-run: reported as created, not sent
    entry = apply.apply_object(client, _obj('ConfigMap', 'b', namespace='new'), {}, dry_run=True, missing_namespaces={'new'})
    assert entry == {'key': ('ConfigMap', 'new', 'b'), 'action': 'created', 'after': with_applied_hash(_obj('ConfigMap', 'b', namespace='new'))}
    assert [c[3] for c in client.calls] == ['a']


@pytest.mark.parametrize('status, hint', [(409, True), (422, False)])
def test_apply_object_errors_name_the_object(fake_client, status, hint):
    client = fake_client(errors={('apply', ('ConfigMap', 'shop', 'a')): K8sError('PATCH x: %d refused' % status, status)})
    error = apply.apply_object(client, _obj('ConfigMap', 'a'), {})['error']
    assert error.startswith('ConfigMap shop/a: PATCH x: %d refused' % status)
    assert error.endswith('set force_conflicts to take them over)') is hint


def test_apply_objects_goes_kind_by_kind_and_collects_every_error(fake_client):
    objects = [_obj('Deployment', 'api'), _obj('Widget', 'w'), _obj('ConfigMap', 'b'), _obj('ConfigMap', 'bad'), _obj('Secret', 's')]
    client = fake_client(errors={('apply', ('ConfigMap', 'shop', 'bad')): K8sError('nope', 422)})
    applied, errors = apply.apply_objects(client, objects, {}, ('ConfigMap', 'Secret', 'Deployment'), workers=3)
    assert [e['key'][2] for e in applied] == ['b', 's', 'api', 'w']  # kinds not in the order come last
    assert errors == ['ConfigMap shop/bad: nope']
    assert [c[1] for c in client.calls] == ['ConfigMap', 'ConfigMap', 'Secret', 'Deployment', 'Widget']


def test_delete_objects(fake_client):
    here, gone, bad = _obj('ConfigMap', 'here', data={'a': '1'}), _obj('ConfigMap', 'gone'), _obj('Secret', 'bad')
    client = fake_client([here, bad], errors={('delete', ('Secret', 'shop', 'bad')): K8sError('nope', 500)})
    deleted, errors = apply.delete_objects(client, [here, gone, bad], 'pruned', dry_run=True, want_diff=True, workers=2)
    assert [(e['key'], e['action']) for e in deleted] == [(('ConfigMap', 'shop', 'here'), 'pruned')]  # gone already: not reported
    assert deleted[0]['diff']['after'] == '' and '"a": "1"' in deleted[0]['diff']['before']
    assert errors == ['Secret shop/bad: nope']
    assert ('ConfigMap', 'shop', 'here') in client.objects  # a dry run
    deleted, errors = apply.delete_objects(client, [here], workers=1)
    assert deleted == [{'key': ('ConfigMap', 'shop', 'here'), 'action': 'deleted'}] and errors == []
    assert ('ConfigMap', 'shop', 'here') not in client.objects


def test_summary():
    assert apply.summary(('Namespace', '', 'shop'), 'created') == {'kind': 'Namespace', 'namespace': '', 'name': 'shop', 'action': 'created'}
