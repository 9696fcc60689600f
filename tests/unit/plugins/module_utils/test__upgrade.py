# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which upgrades kubeadm supports, and what is left to do per node, from what the cluster reports."""
from __future__ import annotations

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils._upgrade import CORDONED_ANNOTATION, plan, step_problem


@pytest.mark.parametrize('current, target', [('1.36.3', '1.36.3'), ('v1.36.1', '1.36.3'), ('1.36.3', '1.37.2'), ('v1.36.3', 'v1.37.0')])
def test_a_patch_or_the_next_minor_is_a_step(current, target):
    assert step_problem(current, target) is None


def test_a_downgrade_is_refused_with_the_way_back():
    problem = step_problem('1.37.2', '1.36.3')
    assert 'older than the cluster (1.37.2)' in problem and 'cannot downgrade' in problem and 'Set it back to 1.37.2' in problem
    assert 'cannot downgrade' in step_problem('1.37.2', '1.37.1')


def test_a_skipped_minor_is_refused_with_the_path():
    problem = step_problem('1.35.4', '1.37.2')
    assert 'skips a minor version (the cluster runs 1.35.4)' in problem
    assert '1.35.4 -> 1.36.x -> 1.37.x' in problem


def test_other_majors_and_non_releases_are_refused():
    assert 'another major version' in step_problem('1.37.2', '2.0.0')
    assert 'not a release version' in step_problem('1.37.2', '1.38.0-rc.1')
    assert 'not a release version' in step_problem('', '1.37.2')


def node(name, kubelet, control_plane=False, ready=True, cordoned_for=None, unschedulable=False, runtime='containerd://2.4.2'):
    meta = {'name': name, 'labels': {'node-role.kubernetes.io/control-plane': ''} if control_plane else {},
            'annotations': {CORDONED_ANNOTATION: cordoned_for} if cordoned_for else {}}
    return {'metadata': meta, 'spec': {'unschedulable': True} if unschedulable or cordoned_for else {},
            'status': {'nodeInfo': {'kubeletVersion': 'v' + kubelet, 'containerRuntimeVersion': runtime},
                       'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}]}}


def nodes(*items):
    return {'items': list(items)}


def test_a_fresh_upgrade_plans_apply_then_every_node_in_inventory_order():
    problems, result = plan('v1.36.3', nodes(node('w2', '1.36.3'), node('cp1', '1.36.3', True), node('w1', '1.36.3')), '1.37.2',
                            ['cp1'], ['w1', 'w2'])
    assert problems == []
    assert result['apply'] is True and result['apply_on'] == 'cp1'
    assert result['control_planes'] == ['cp1'] and result['workers'] == ['w1', 'w2']
    assert result['actions'] == ['kubeadm upgrade apply v1.37.2 on cp1', 'upgrade cp1 (1.36.3 -> 1.37.2)', 'upgrade w1 (1.36.3 -> 1.37.2)',
                                 'upgrade w2 (1.36.3 -> 1.37.2)']


def test_an_interrupted_upgrade_plans_what_is_left():
    # cp1 and w1 done, w2 cordoned by the run that stopped after its kubelet restart, w3 not started
    items = nodes(node('cp1', '1.37.2', True), node('w1', '1.37.2'), node('w2', '1.37.2', cordoned_for='upgrade to 1.37.2'),
                  node('w3', '1.36.3'))
    problems, result = plan('v1.37.2', items, '1.37.2', ['cp1'], ['w1', 'w2', 'w3'])
    assert problems == [] and result['apply'] is False
    assert result['control_planes'] == [] and result['workers'] == ['w2', 'w3']
    assert result['actions'] == ['uncordon w2 (cordoned by an interrupted upgrade)', 'upgrade w3 (1.36.3 -> 1.37.2)']


def test_apply_left_to_do_runs_on_the_first_control_plane_even_when_its_kubelet_is_new():
    items = nodes(node('cp1', '1.37.2', True), node('cp2', '1.36.3', True), node('cp3', '1.36.3', True))
    _problems, result = plan('v1.36.3', items, '1.37.2', ['cp1', 'cp2', 'cp3'], [])
    assert result['control_planes'] == ['cp1', 'cp2', 'cp3'] and result['apply_on'] == 'cp1'


def test_a_finished_upgrade_plans_nothing_and_a_node_cordoned_by_hand_is_not_work():
    items = nodes(node('cp1', '1.37.2', True), node('w1', '1.37.2', unschedulable=True))
    problems, result = plan('v1.37.2', items, '1.37.2', ['cp1'], ['w1'])
    assert problems == [] and result['control_planes'] == [] and result['workers'] == [] and result['actions'] == []


def test_nodes_on_containerd_1_are_planned_for_a_runtime_replacement_at_the_target_version_and_with_it():
    items = nodes(node('cp1', '1.37.2', True, runtime='containerd://1.6.20'), node('w1', '1.37.2'),
                  node('w2', '1.37.2', runtime='containerd://1.6.20'))
    problems, result = plan('v1.37.2', items, '1.37.2', ['cp1'], ['w1', 'w2'], runtime_minimum='2.0.0')
    assert problems == [] and not result['apply']
    assert result['control_planes'] == ['cp1'] and result['workers'] == ['w2'] and result['runtime'] == ['cp1', 'w2']
    assert result['actions'] == ["drain cp1 and replace its runtime (containerd://1.6.20 -> the bundle's containerd)",
                                 "drain w2 and replace its runtime (containerd://1.6.20 -> the bundle's containerd)"]
    # with a Kubernetes upgrade, one drain does both; without runtime_minimum (a package runtime) nothing is replaced
    _problems, both = plan('v1.36.3', nodes(node('cp1', '1.36.3', True, runtime='containerd://1.6.20')), '1.37.2', ['cp1'], [],
                           runtime_minimum='2.0.0')
    assert both['actions'][1] == "upgrade cp1 (1.36.3 -> 1.37.2) and replace its runtime (containerd://1.6.20 -> the bundle's containerd)"
    _problems, none = plan('v1.37.2', items, '1.37.2', ['cp1'], ['w1', 'w2'])
    assert none['control_planes'] == [] and none['workers'] == [] and none['runtime'] == []
    problems, _result = plan('v1.37.2', items, '1.37.2', ['cp1'], ['w1', 'w2'], runtime_minimum='two')
    assert problems == ["runtime_minimum: 'two' is not a version (major.minor.patch)"]


def test_hosts_that_are_not_nodes_and_nodes_not_in_the_inventory_are_reported():
    items = nodes(node('cp1', '1.36.3', True), node('w1', '1.36.3'), node('old', '1.36.3'))
    _problems, result = plan('v1.36.3', items, '1.37.2', ['cp1'], ['w1', 'new'])
    assert result['workers'] == ['w1'] and result['not_nodes'] == ['new'] and result['not_in_inventory'] == ['old']


def test_a_node_newer_than_the_target_or_too_old_stops_the_plan():
    items = nodes(node('cp1', '1.36.3', True), node('w1', '1.37.2'), node('w2', '1.33.0'))
    problems, result = plan('v1.36.3', items, '1.36.3', ['cp1'], ['w1', 'w2'])
    assert result == {}
    assert problems == ['node w1 runs kubelet 1.37.2, newer than kubeseed_kubernetes_version 1.36.3; kubeadm cannot downgrade a node']
    problems, _result = plan('v1.36.3', nodes(node('cp1', '1.36.3', True), node('w2', '1.33.0')), '1.37.2', ['cp1'], ['w2'])
    assert problems == ['node w2 runs kubelet 1.33.0, more than 3 minor versions older than 1.37.2 (the version skew Kubernetes allows); '
                        'upgrade it step by step first']


def test_a_skipped_minor_stops_the_plan_and_the_first_control_plane_must_be_a_node():
    problems, result = plan('v1.35.4', nodes(node('cp1', '1.35.4', True)), '1.37.2', ['cp1'], [])
    assert result == {} and 'skips a minor version' in problems[0]
    problems, result = plan('v1.36.3', nodes(node('cp1', '1.36.3', True)), '1.37.2', ['cp9', 'cp1'], [])
    assert result == {} and problems[0].startswith("the first host of the inventory's control plane group (cp9) is not a node")
