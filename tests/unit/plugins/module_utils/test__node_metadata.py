# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Labels and taints kubeseed manages on a node: what it adds, changes and removes, and what it never touches.

The plan's patch is applied with an independent JSON merge patch (RFC 7386, as the API server applies
`kubectl patch --type merge`), and the node it gives must be the plan's `after` and need no second change.
"""
from __future__ import annotations

import copy

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _node_metadata as meta

CP_TAINT = {'key': 'node-role.kubernetes.io/control-plane', 'effect': 'NoSchedule'}
KUBELET_LABELS = {'kubernetes.io/hostname': 'w1', 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
                  'beta.kubernetes.io/os': 'linux'}


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def node(labels=None, taints=None, annotations=None, name='w1', resource_version='100'):
    result = {'metadata': {'name': name, 'resourceVersion': resource_version,
                           'labels': dict(KUBELET_LABELS, **(labels or {})),
                           'annotations': dict({'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock'},
                                               **(annotations or {}))},
              'spec': {'podCIDR': '10.244.1.0/24'}}
    if taints:
        result['spec']['taints'] = taints
    return result


def converge(live, labels, taints):
    """Plan, apply the patch as the API server would, and check the result is the plan's 'after' and stable."""
    planned = meta.plan(live, labels, taints)
    after = merge_patch(live, planned['patch']) if planned['patch'] else copy.deepcopy(live)
    assert after['metadata']['labels'] == planned['after']['labels']
    assert (after['spec'].get('taints') or []) == planned['after']['taints']
    if planned['patch']:
        assert planned['patch']['metadata']['resourceVersion'] == live['metadata']['resourceVersion']
    after['metadata']['resourceVersion'] = str(int(live['metadata']['resourceVersion']) + 1)
    again = meta.plan(after, labels, taints)
    assert again['changed'] is False and again['patch'] is None and again['changes'] == [], again
    return planned, after


def test_nothing_wanted_and_nothing_owned_changes_nothing():
    live = node(taints=[CP_TAINT])
    planned = meta.plan(live, {}, [])
    assert planned['changed'] is False and planned['patch'] is None and planned['changes'] == []


def test_wanted_labels_and_taints_are_added_and_recorded_as_owned():
    live = node(taints=[CP_TAINT])
    planned, after = converge(live, {'node.example.com/pool': 'batch', 'tier': ''},
                              [{'key': 'dedicated', 'value': 'batch', 'effect': 'NoSchedule'}, {'key': 'gpu', 'effect': 'NoExecute'}])
    assert planned['changed'] is True
    assert planned['changes'] == ['label node.example.com/pool=batch added', 'label tier= added',
                                  'taint dedicated=batch:NoSchedule added', 'taint gpu:NoExecute added']
    assert after['metadata']['labels'] == dict(KUBELET_LABELS, **{'node.example.com/pool': 'batch', 'tier': ''})
    assert after['spec']['taints'] == [CP_TAINT, {'key': 'dedicated', 'value': 'batch', 'effect': 'NoSchedule'},
                                       {'key': 'gpu', 'effect': 'NoExecute'}]
    assert after['metadata']['annotations'][meta.LABELS_ANNOTATION] == 'node.example.com/pool,tier'
    assert after['metadata']['annotations'][meta.TAINTS_ANNOTATION] == 'dedicated:NoSchedule,gpu:NoExecute'
    assert after['metadata']['annotations']['kubeadm.alpha.kubernetes.io/cri-socket']  # others' annotations stay


def test_changed_values_are_changed_in_place():
    live = node(labels={'pool': 'a'}, taints=[{'key': 'dedicated', 'value': 'a', 'effect': 'NoSchedule'}, CP_TAINT],
                annotations={meta.LABELS_ANNOTATION: 'pool', meta.TAINTS_ANNOTATION: 'dedicated:NoSchedule'})
    planned, after = converge(live, {'pool': 'b'}, [{'key': 'dedicated', 'value': 'b', 'effect': 'NoSchedule'}])
    assert planned['changes'] == ["label pool=b changed from 'a'", 'taint dedicated=b:NoSchedule changed from dedicated=a:NoSchedule']
    assert after['spec']['taints'] == [{'key': 'dedicated', 'value': 'b', 'effect': 'NoSchedule'}, CP_TAINT]
    assert planned['patch']['metadata'].get('annotations') is None  # ownership unchanged


def test_only_owned_labels_and_taints_are_removed():
    foreign_taint = {'key': 'maintenance', 'effect': 'NoSchedule'}
    live = node(labels={'pool': 'a', 'team': 'x', 'set-by-hand': 'y'},
                taints=[CP_TAINT, {'key': 'dedicated', 'value': 'a', 'effect': 'NoSchedule'}, foreign_taint,
                        {'key': 'node.kubernetes.io/unreachable', 'effect': 'NoExecute', 'timeAdded': '2026-11-25T10:00:00Z'}],
                annotations={meta.LABELS_ANNOTATION: 'pool,team', meta.TAINTS_ANNOTATION: 'dedicated:NoSchedule'})
    planned, after = converge(live, {}, [])
    assert planned['changes'] == ['label pool removed', 'label team removed', 'taint dedicated=a:NoSchedule removed']
    assert after['metadata']['labels'] == dict(KUBELET_LABELS, **{'set-by-hand': 'y'})
    assert after['spec']['taints'] == [CP_TAINT, foreign_taint,
                                       {'key': 'node.kubernetes.io/unreachable', 'effect': 'NoExecute', 'timeAdded': '2026-11-25T10:00:00Z'}]
    assert meta.LABELS_ANNOTATION not in after['metadata']['annotations']
    assert meta.TAINTS_ANNOTATION not in after['metadata']['annotations']
    assert planned['patch']['metadata']['labels'] == {'pool': None, 'team': None}


def test_removing_the_last_taint_removes_the_list():
    live = node(taints=[{'key': 'dedicated', 'effect': 'NoSchedule'}], annotations={meta.TAINTS_ANNOTATION: 'dedicated:NoSchedule'})
    planned, after = converge(live, {}, [])
    assert planned['patch']['spec'] == {'taints': None} and 'taints' not in after['spec']


def test_a_taint_with_the_same_key_and_another_effect_is_another_taint():
    live = node(taints=[{'key': 'dedicated', 'value': 'a', 'effect': 'NoExecute'}])
    planned, after = converge(live, {}, [{'key': 'dedicated', 'value': 'a', 'effect': 'NoSchedule'}])
    assert planned['changes'] == ['taint dedicated=a:NoSchedule added']
    assert after['spec']['taints'] == [{'key': 'dedicated', 'value': 'a', 'effect': 'NoExecute'},
                                       {'key': 'dedicated', 'value': 'a', 'effect': 'NoSchedule'}]
    assert after['metadata']['annotations'][meta.TAINTS_ANNOTATION] == 'dedicated:NoSchedule'


def test_what_others_set_with_the_wanted_value_is_left_unclaimed():
    # The user lists kubeadm's own control-plane taint and a kubelet label: nothing to change, and nothing claimed, so
    # removing them from the variables later never removes them from the node.
    live = node(taints=[CP_TAINT])
    planned = meta.plan(live, {'kubernetes.io/os': 'linux'}, [dict(CP_TAINT)])
    assert planned['changed'] is False
    later = meta.plan(live, {}, [])
    assert later['changed'] is False


def test_a_label_changed_by_hand_is_set_back_and_one_removed_by_hand_is_added_again():
    live = node(labels={'pool': 'by-hand'}, annotations={meta.LABELS_ANNOTATION: 'pool,zone', meta.TAINTS_ANNOTATION: 'gpu:NoSchedule'})
    planned, _after = converge(live, {'pool': 'batch', 'zone': 'a'}, [{'key': 'gpu', 'effect': 'NoSchedule'}])
    assert planned['changes'] == ["label pool=batch changed from 'by-hand'", 'label zone=a added', 'taint gpu:NoSchedule added']


def test_an_owned_label_removed_by_hand_and_no_longer_wanted_only_updates_the_record():
    live = node(annotations={meta.LABELS_ANNOTATION: 'pool'})
    planned, after = converge(live, {}, [])
    assert planned['changes'] == ['ownership records (annotations kubeseed.io/labels, kubeseed.io/taints) updated']
    assert planned['patch']['metadata']['annotations'] == {meta.LABELS_ANNOTATION: None}
    assert meta.LABELS_ANNOTATION not in after['metadata']['annotations']


def test_second_pass_is_idempotent_and_a_full_cycle_returns_the_node_as_it_was():
    live = node(taints=[CP_TAINT])
    labels, taints = {'kubeseed.io/e2e': 'yes'}, [{'key': 'kubeseed.io/e2e', 'value': 'x', 'effect': 'PreferNoSchedule'}]
    _planned, applied = converge(live, labels, taints)
    _planned, removed = converge(applied, {}, [])
    assert removed['metadata']['labels'] == live['metadata']['labels']
    assert removed['metadata']['annotations'] == live['metadata']['annotations']
    assert removed['spec'] == live['spec']


def test_a_node_without_labels_annotations_or_taints():
    live = {'metadata': {'name': 'w1', 'resourceVersion': '7'}, 'spec': {}}
    planned, after = converge(live, {'pool': 'a'}, [{'key': 'k', 'value': '', 'effect': 'NoSchedule'}])
    assert after['metadata']['labels'] == {'pool': 'a'}
    assert after['spec']['taints'] == [{'key': 'k', 'effect': 'NoSchedule'}]  # an empty value is no value, as the API writes it
    assert planned['changes'] == ['label pool=a added', 'taint k:NoSchedule added']


def test_check_mode_and_a_real_run_compute_the_same_plan():
    """The module sends the same patch in both (with --dry-run=server in check mode): the plan depends only on the node."""
    live = node(labels={'old': '1'}, annotations={meta.LABELS_ANNOTATION: 'old'})
    first, second = meta.plan(copy.deepcopy(live), {'new': '2'}, []), meta.plan(copy.deepcopy(live), {'new': '2'}, [])
    assert first == second
    assert first['patch'] == {'metadata': {'labels': {'new': '2', 'old': None}, 'annotations': {meta.LABELS_ANNOTATION: 'new'},
                                           'resourceVersion': '100'}}


def test_diff_shows_labels_and_taints_before_and_after():
    live = node(taints=[CP_TAINT])
    planned = meta.plan(live, {'pool': 'a'}, [{'key': 'dedicated', 'value': 'a', 'effect': 'NoSchedule'}])
    shown = meta.diff(planned)
    assert shown['before_header'] == shown['after_header'] == 'node w1'
    assert '  pool: a\n' not in shown['before'] and '  pool: a\n' in shown['after']
    assert shown['before'].endswith('taints:\n  - node-role.kubernetes.io/control-plane:NoSchedule\n')
    assert shown['after'].endswith('taints:\n  - node-role.kubernetes.io/control-plane:NoSchedule\n  - dedicated=a:NoSchedule\n')


def test_missing_and_by_name():
    nodes = {'items': [node(name='cp1'), node(name='w1')]}
    assert meta.missing(nodes, ['w2', 'cp1', 'w1', 'w3']) == ['w2', 'w3']
    assert sorted(meta.by_name(nodes)) == ['cp1', 'w1']


@pytest.mark.parametrize('nodes,fragment', [
    ([], 'nodes: expected a mapping'),
    ({'w1': []}, "nodes['w1']: expected a mapping"),
    ({'w1': {'label': {}}}, 'unknown keys label'),
    ({'w1': {'labels': ['a']}}, "nodes['w1'].labels: expected a mapping"),
    ({'w1': {'labels': {'a': 1}}}, 'a string value'),
    ({'w1': {'taints': {'k': 'NoSchedule'}}}, "nodes['w1'].taints: expected a list"),
    ({'w1': {'taints': [{'key': 'k', 'effect': 'noschedule'}]}}, "taints[0].effect: 'noschedule' is not one of"),
    ({'w1': {'taints': [{'key': 'k'}]}}, 'taints[0].effect: None is not one of'),
    ({'w1': {'taints': [{'key': '', 'effect': 'NoSchedule'}]}}, 'taints[0].key: expected a non-empty string'),
    ({'w1': {'taints': [{'key': 'k', 'effect': 'NoSchedule', 'operator': 'Exists'}]}}, 'taints[0]: expected a mapping with key'),
    ({'w1': {'taints': [{'key': 'k', 'effect': 'NoSchedule'}, {'key': 'k', 'value': 'v', 'effect': 'NoSchedule'}]}},
     'taints[1]: a second taint k:NoSchedule'),
])
def test_input_problems(nodes, fragment):
    problems = meta.input_problems(nodes)
    assert any(fragment in p for p in problems), problems


def test_valid_input_has_no_problem():
    assert meta.input_problems({'w1': {'labels': {'a': ''}, 'taints': [{'key': 'k', 'value': None, 'effect': 'NoExecute'}]},
                                'w2': {'labels': {}, 'taints': []}, 'w3': {}}) == []
