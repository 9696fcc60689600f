# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubectl drain's outcome, as the removal and the upgrade report it."""
from __future__ import annotations

import json

from ansible_collections.kubeseed.cluster.plugins.module_utils._drain import drain, ready

PDB_OUTPUT = ('evicting pod apps/web-1\nerror when evicting pods/"web-1" -n "apps" (will retry after 5s): Cannot evict pod as it would '
              "violate the pod's disruption budget.\nThere are pending pods in node \"w3\" when an error occurred: drain did not complete "
              'within 15s')


def _kubectl(drain_result, pods=None):
    """A kubectl that answers the drain with drain_result and `get pods` with the given pods (rc 1 when None)."""
    def run(*args):
        if args[0] == 'drain':
            return drain_result
        return (0, json.dumps({'items': pods}), '') if pods is not None else (1, '', 'error: the server is not answering')
    return run


def test_a_finished_drain_says_nothing_and_passes_the_flags():
    calls = []
    assert drain(lambda *args: calls.append(args) or (0, 'node/w1 drained', ''), 'w1', 60, 'kubeseed_upgrade_drain_timeout') is None
    assert calls == [('drain', 'w1', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--grace-period=-1', '--timeout=60s')]


def test_a_drain_stopped_by_a_budget_names_the_pod_the_variable_and_how_the_node_is_left():
    problem = drain(_kubectl((1, PDB_OUTPUT, 'error: unable to drain node "w3"'), []), 'w3', 15, 'kubeseed_upgrade_drain_timeout')
    assert problem.startswith('w3: the drain did not finish within 15 s (kubeseed_upgrade_drain_timeout); pods that could not be evicted: '
                              "apps/web-1: Cannot evict pod as it would violate the pod's disruption budget.")
    assert 'The node stays cordoned;' in problem
    left = drain(_kubectl((1, '', 'error: something else')), 'w3', 15, 'x', 'cordoned and in the cluster')
    assert 'kubectl said: error: something else' in left and 'The node stays cordoned and in the cluster;' in left
    assert 'terminating' not in problem + left


def test_a_drain_that_waited_for_a_pod_to_stop_names_the_pods_still_terminating():
    pods = [{'metadata': {'namespace': 'demo', 'name': 'web-2', 'deletionTimestamp': '2026-12-03T18:00:00Z'}},
            {'metadata': {'namespace': 'demo', 'name': 'web-1'}}]
    problem = drain(_kubectl((1, '', 'error when waiting for pod "web-2" in namespace "demo" to terminate: context deadline exceeded'), pods),
                    'w1', 60, 'kubeseed_upgrade_drain_timeout')
    assert 'kubectl said: error when waiting for pod "web-2"' in problem
    assert 'evicted but still terminating on the node: demo/web-2 (their containers did not stop: see the kubelet and containerd logs of w1)' \
        in problem and 'web-1' not in problem.split('terminating on the node')[1]


def test_ready_reads_the_ready_condition():
    assert ready({'status': {'conditions': [{'type': 'Ready', 'status': 'True'}]}})
    assert not ready({'status': {'conditions': [{'type': 'Ready', 'status': 'Unknown'}]}}) and not ready({})
