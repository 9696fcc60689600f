# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which nodes of a run are not Ready, and why (from kubectl's JSON)."""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils import _cluster_ready as ready


def _node(name, ready_status='True', reason='KubeletReady', message='kubelet is posting ready status', labels=None, **pressure):
    conditions = [{'type': 'Ready', 'status': ready_status, 'reason': reason, 'message': message}]
    conditions += [{'type': k, 'status': v, 'reason': k + 'Reason', 'message': k + ' message'} for k, v in pressure.items()]
    return {'metadata': {'name': name, 'labels': labels or {}},
            'status': {'conditions': conditions, 'nodeInfo': {'kubeletVersion': 'v1.37.2', 'containerRuntimeVersion': 'containerd://1.6.20'}}}


def test_ready_nodes_give_no_problem_and_nodes_outside_the_run_are_ignored():
    nodes = {'items': [_node('cp1', labels={'node-role.kubernetes.io/control-plane': ''}), _node('w1'),
                       _node('w9', 'False', 'KubeletNotReady', 'container runtime network not ready')]}
    assert ready.not_ready(nodes, ['cp1', 'w1']) == []
    assert ready.node_summary(nodes['items'][0])['role'] == 'control-plane'


def test_not_ready_nodes_are_named_with_their_conditions():
    nodes = {'items': [_node('w1', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'),
                       _node('w2', 'False', 'KubeletNotReady', 'PLEG is not healthy', DiskPressure='True', MemoryPressure='False')]}
    assert ready.not_ready(nodes, ['w1', 'w2', 'w3']) == [
        'w1: Ready=Unknown NodeStatusUnknown: Kubelet stopped posting node status.',
        'w2: Ready=False KubeletNotReady: PLEG is not healthy; DiskPressure=True DiskPressureReason: DiskPressure message',
        'w3: not registered with the API server (its kubelet has not joined or is not running)',
    ]


def test_deployment_rolled_out():
    done = {'metadata': {'generation': 3}, 'spec': {'replicas': 2},
            'status': {'observedGeneration': 3, 'replicas': 2, 'updatedReplicas': 2, 'availableReplicas': 2}}
    assert ready.deployment_problem(done, 'kube-system/coredns') is None
    assert ready.deployment_problem({'spec': {'replicas': 2}, 'status': {}}, 'kube-system/coredns') == \
        'kube-system/coredns: 0 of 2 replicas updated'
    # kubeadm upgrade apply changed it: not seen yet, then half rolled, then an old replica still terminating
    assert ready.deployment_problem(dict(done, metadata={'generation': 4}), 'kube-system/coredns') == \
        'kube-system/coredns: its controller has not seen the latest change yet'
    assert ready.deployment_problem(dict(done, status=dict(done['status'], updatedReplicas=1)), 'kube-system/coredns') == \
        'kube-system/coredns: 1 of 2 replicas updated'
    assert ready.deployment_problem(dict(done, status=dict(done['status'], replicas=3)), 'kube-system/coredns') == \
        'kube-system/coredns: 2 of 2 replicas available (old ones still terminating)'
    assert ready.deployment_problem(None, 'kube-system/coredns') == 'kube-system/coredns: no such Deployment'


def test_daemonset_rolled_out():
    done = {'metadata': {'generation': 2},
            'status': {'observedGeneration': 2, 'desiredNumberScheduled': 4, 'updatedNumberScheduled': 4, 'numberAvailable': 4}}
    assert ready.daemonset_problem(done, 'kube-system/kube-proxy') is None
    assert ready.daemonset_problem(dict(done, status=dict(done['status'], updatedNumberScheduled=3)), 'kube-system/kube-proxy') == \
        'kube-system/kube-proxy: 3 of 4 pods updated, 4 available'
    assert ready.daemonset_problem(dict(done, metadata={'generation': 3}), 'kube-system/kube-proxy') == \
        'kube-system/kube-proxy: its controller has not seen the latest change yet'
    assert ready.daemonset_problem(None, 'kube-system/kube-proxy') == 'kube-system/kube-proxy: no such DaemonSet'


def _spread_node(name, ready=True, taints=(), unschedulable=False, labels=None):
    return {'metadata': {'name': name, 'labels': labels or {}},
            'spec': dict({'taints': list(taints)}, **({'unschedulable': True} if unschedulable else {})),
            'status': {'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}]}}


CONTROL_PLANE_TAINT = {'key': 'node-role.kubernetes.io/control-plane', 'effect': 'NoSchedule'}
# kubeadm's CoreDNS: tolerates the control-plane taint and CriticalAddonsOnly
COREDNS = {'spec': {'replicas': 2, 'template': {'spec': {'tolerations': [
    {'key': 'CriticalAddonsOnly', 'operator': 'Exists'}, {'key': 'node-role.kubernetes.io/control-plane', 'effect': 'NoSchedule'}]}}}}


def _pods(*nodes, phase='Running'):
    return {'items': [{'metadata': {}, 'spec': {'nodeName': n}, 'status': {'phase': phase}} for n in nodes]}


def test_coredns_on_the_first_control_plane_is_crowded_once_others_can_run_it():
    nodes = {'items': [_spread_node('cp1', taints=[CONTROL_PLANE_TAINT]), _spread_node('cp2', taints=[CONTROL_PLANE_TAINT]),
                       _spread_node('cp3', taints=[CONTROL_PLANE_TAINT], ready=False), _spread_node('w1', taints=[{'key': 'gpu', 'effect': 'NoSchedule'}])]}
    assert ready.eligible_nodes(nodes, COREDNS['spec']['template']['spec']) == ['cp1', 'cp2']
    assert ready.crowded(COREDNS, _pods('cp1', 'cp1'), nodes, 'kube-system/coredns') == \
        'kube-system/coredns: all 2 pods run on cp1 though 2 nodes can run them (cp1, cp2)'
    assert ready.crowded(COREDNS, _pods('cp1', 'cp2'), nodes, 'kube-system/coredns') is None  # spread
    assert ready.crowded(COREDNS, _pods('cp1', 'cp1', phase='Pending'), nodes, 'kube-system/coredns') is None  # not running
    alone = {'items': [_spread_node('cp1', taints=[CONTROL_PLANE_TAINT]), _spread_node('cp2', unschedulable=True), _spread_node('w1', ready=False)]}
    assert ready.crowded(COREDNS, _pods('cp1', 'cp1'), alone, 'kube-system/coredns') is None  # nowhere else to go


def test_tolerations_follow_kubernetes_rules():
    # pylint: disable=protected-access
    taint = {'key': 'dedicated', 'value': 'db', 'effect': 'NoSchedule'}
    assert ready._tolerates([{'operator': 'Exists'}], taint)
    assert ready._tolerates([{'key': 'dedicated', 'operator': 'Exists', 'effect': 'NoSchedule'}], taint)
    assert ready._tolerates([{'key': 'dedicated', 'value': 'db'}], taint)
    assert not ready._tolerates([{'key': 'dedicated', 'value': 'web'}], taint)
    assert not ready._tolerates([{'key': 'dedicated', 'operator': 'Exists', 'effect': 'NoExecute'}], taint)
    assert ready.eligible_nodes({'items': [_spread_node('a', labels={'zone': 'x'}), _spread_node('b')]}, {'nodeSelector': {'zone': 'x'}}) == ['a']


def _pod(node, ready_status='True', deleting=False):
    meta = {'name': 'coredns-%s' % node}
    if deleting:
        meta['deletionTimestamp'] = '2026-12-03T12:00:00Z'
    return {'metadata': meta, 'spec': {'nodeName': node}, 'status': {'conditions': [{'type': 'Ready', 'status': ready_status}]}}


def test_replicas_on_a_node_that_is_down_and_outside_the_run_count_as_available():
    nodes = {'items': [_node('cp1'), _node('w1'), _node('w2', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.')]}
    pods = {'items': [_pod('cp1'), _pod('w2', 'False'), _pod('w1', 'False')]}
    # w2 is down and not in the run: its unready pod is stranded; w1's unready pod is a real problem (w1 is in the run)
    assert ready.stranded_pods(pods, nodes, ['cp1', 'w1']) == {'w2': 1}
    assert ready.stranded_pods(pods, nodes, ['cp1', 'w1', 'w2']) == {}  # w2 in the run: it must become Ready itself
    # a pod already being deleted (evicted) is not counted; a Ready pod on a down node is not stranded yet
    assert ready.stranded_pods({'items': [_pod('w2', 'False', deleting=True), _pod('w2', 'True')]}, nodes, ['cp1']) == {}
    half = {'metadata': {'generation': 1}, 'spec': {'replicas': 2},
            'status': {'observedGeneration': 1, 'replicas': 2, 'updatedReplicas': 2, 'availableReplicas': 1}}
    assert ready.deployment_problem(half, 'kube-system/coredns') == 'kube-system/coredns: 1 of 2 replicas available'
    assert ready.deployment_problem(half, 'kube-system/coredns', stranded=1) is None
    none = dict(half, status=dict(half['status'], availableReplicas=0))
    assert ready.deployment_problem(none, 'kube-system/coredns', stranded=1) == 'kube-system/coredns: 1 of 2 replicas available'


def _addressed(name, ip, ready_status='True', port=None):
    node = _node(name, ready_status)
    node['status']['addresses'] = [{'type': 'InternalIP', 'address': ip}, {'type': 'Hostname', 'address': name}]
    if port:
        node['status']['daemonEndpoints'] = {'kubeletEndpoint': {'Port': port}}
    return node


def test_kubelets_without_a_serving_certificate_of_the_cluster_ca_are_named():
    nodes = {'items': [_addressed('cp1', '10.0.0.1'), _addressed('w1', '10.0.0.2', port=10251), _addressed('w2', '10.0.0.3', 'False'),
                       _addressed('w9', '10.0.0.9')]}
    asked = []

    def verify(address, port):
        asked.append((address, port))
        return '' if address == '10.0.0.1' else '[SSL: TLSV1_ALERT_INTERNAL_ERROR] tlsv1 alert internal error'

    problems = ready.serving_problems(nodes, ['cp1', 'w1', 'w2'], verify)
    # w2 is not Ready (not_ready names it), w9 is not a node of the run: neither is asked
    assert asked == [('10.0.0.1', 10250), ('10.0.0.2', 10251)]
    assert problems == ['w1: its kubelet (10.0.0.2:10251) serves no certificate of the cluster CA yet ([SSL: TLSV1_ALERT_INTERNAL_ERROR] '
                        'tlsv1 alert internal error); its kubernetes.io/kubelet-serving request waits for the approver: kubectl get csr; '
                        'kubectl -n kube-system logs deploy/kubelet-serving-approver']
    no_address = {'items': [_node('w1')]}
    assert ready.serving_problems(no_address, ['w1'], verify) == ["w1: no InternalIP address to check its kubelet's serving certificate at"]
