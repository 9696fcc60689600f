"""Which nodes a removal takes, and what stops it before anything changes."""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils._drain import drain_blockers, evictable
from ansible_collections.kubeseed.cluster.plugins.module_utils._node_remove import plan_removal


def _node(name, ready=True, control_plane=False):
    labels = {'node-role.kubernetes.io/control-plane': ''} if control_plane else {}
    return {'metadata': {'name': name, 'labels': labels},
            'status': {'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'Unknown'}]}}


NODES = {'items': [_node('cp1', control_plane=True), _node('w1'), _node('w2', ready=False)]}
INVENTORY = ['cp1', 'w1', 'w2', 'w3']


def test_plan_keeps_the_order_and_reads_readiness_and_role():
    problems, plan = plan_removal(NODES, ['w2', 'w1'], INVENTORY, ['cp1'])
    assert problems == []
    found = [(p['name'], p['ready'], p['control_plane'], p['in_cluster']) for p in plan]
    assert found == [('w2', False, False, True), ('w1', True, False, True)]


def test_a_typo_removes_nothing_and_names_the_closest_node():
    problems, plan = plan_removal(NODES, ['w1', 'cpl'], INVENTORY, ['cp1'])
    assert plan == []
    assert len(problems) == 1 and 'kubeseed_remove_nodes[1]: cpl is neither' in problems[0] and 'did you mean cp1?' in problems[0]


def test_a_host_of_the_inventory_that_already_left_is_planned_as_gone():
    problems, plan = plan_removal(NODES, ['w3'], INVENTORY, ['cp1'])
    assert problems == [] and plan[0]['in_cluster'] is False


def test_empty_and_duplicate_and_blank_names_are_refused():
    assert 'empty' in plan_removal(NODES, [], INVENTORY, ['cp1'])[0][0]
    problems, _plan = plan_removal(NODES, ['w1', 'w1', ' '], INVENTORY, ['cp1'])
    assert any('listed twice' in p for p in problems) and any('not a node name' in p for p in problems)


def test_removing_every_control_plane_is_refused():
    problems, _plan = plan_removal(NODES, ['cp1'], INVENTORY, ['cp1'])
    assert problems and 'every control plane' in problems[0]


def test_drain_blockers_name_the_pods_a_budget_protects():
    output = ('evicting pod apps/web-1\n'
              'error when evicting pods/"web-1" -n "apps" (will retry after 5s): Cannot evict pod as it would violate the pod\'s '
              'disruption budget.\n'
              'error when evicting pods/"web-1" -n "apps" (will retry after 5s): Cannot evict pod as it would violate the pod\'s '
              'disruption budget.\n')
    assert drain_blockers(output) == ["apps/web-1: Cannot evict pod as it would violate the pod's disruption budget."]


def test_evictable_skips_daemonset_mirror_and_finished_pods():
    pods = {'items': [
        {'metadata': {'namespace': 'a', 'name': 'web', 'ownerReferences': [{'kind': 'ReplicaSet'}]}, 'status': {'phase': 'Running'}},
        {'metadata': {'namespace': 'kube-system', 'name': 'proxy', 'ownerReferences': [{'kind': 'DaemonSet'}]}, 'status': {}},
        {'metadata': {'namespace': 'kube-system', 'name': 'etcd-cp1', 'annotations': {'kubernetes.io/config.mirror': 'x'}}},
        {'metadata': {'namespace': 'a', 'name': 'job'}, 'status': {'phase': 'Succeeded'}},
        {'metadata': {'namespace': 'a', 'name': 'bare'}, 'status': {'phase': 'Pending'}},
    ]}
    assert evictable(pods) == ['a/bare', 'a/web']
