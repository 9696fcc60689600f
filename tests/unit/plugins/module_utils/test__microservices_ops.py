# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of the converge loop: when a rollout is done, how a failing pod is described, list fallbacks.

The API-facing behaviour (apply, prune, wait, check mode) is tested against a real API server in tests/integration.
"""
from __future__ import annotations

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_ops as ops
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError


def _deploy(generation=2, observed=2, replicas=2, updated=2, total=2, available=2):
    return {'metadata': {'generation': generation}, 'spec': {'replicas': replicas},
            'status': {'observedGeneration': observed, 'updatedReplicas': updated, 'replicas': total, 'availableReplicas': available}}


@pytest.mark.parametrize('deploy, done', [
    (_deploy(), True),
    (_deploy(observed=1), False),               # the controller has not seen the new spec yet
    (_deploy(updated=1), False),                # still rolling
    (_deploy(total=3), False),                  # an old pod is still there
    (_deploy(available=1), False),              # a new pod is not ready
    (_deploy(replicas=0, updated=0, total=0, available=0), True),
    ({'metadata': {'generation': 1}, 'spec': {'replicas': 1}}, False),  # no status at all yet
])
def test_rollout_done(deploy, done):
    assert ops.rollout_done(deploy) is done


def test_pod_reasons_name_the_cause():
    pod = {'status': {'phase': 'Pending', 'conditions': [
        {'type': 'PodScheduled', 'status': 'False', 'reason': 'Unschedulable', 'message': '0/3 nodes are available'}],
        'containerStatuses': [
            {'name': 'api', 'state': {'waiting': {'reason': 'ImagePullBackOff', 'message': 'not found'}}},
            {'name': 'side', 'state': {'running': {}}, 'restartCount': 4,
             'lastState': {'terminated': {'reason': 'Error', 'exitCode': 2}}}]}}
    assert ops._pod_reasons(pod) == [  # pylint: disable=protected-access
        'PodScheduled=False Unschedulable: 0/3 nodes are available',
        'container api waiting: ImagePullBackOff not found',
        'container side last exit: Error (exit code 2, 4 restarts)']
    assert ops._pod_reasons({'status': {'phase': 'Pending'}}) == ['phase Pending']  # pylint: disable=protected-access


class _NamespacedOnly:
    """Credentials that may not list across namespaces (403), only inside 'shop'."""

    def __init__(self):
        self.calls = []

    def list(self, kind, namespace=None, label_selector=None):
        self.calls.append((kind, namespace, label_selector))
        if namespace is None:
            raise K8sError('forbidden', 403)
        return [{'kind': kind, 'metadata': {'name': 'x', 'namespace': namespace}}] if kind == 'Deployment' else []


def test_list_set_falls_back_to_the_namespaces_it_may_read():
    client = _NamespacedOnly()
    live = ops.list_set(client, 'shop', workers=1, namespaces=['shop'])
    assert list(live) == [('Deployment', 'shop', 'x')]
    assert all(call[2] == 'app.kubernetes.io/managed-by=kubeseed,kubeseed.io/set=shop' for call in client.calls)
    with pytest.raises(K8sError):
        ops.list_set(_NamespacedOnly(), 'shop', workers=1)
