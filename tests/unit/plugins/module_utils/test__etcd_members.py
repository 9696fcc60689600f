"""Quorum rules for removing etcd members."""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils._etcd_members import member_summary, quorum, removal_problem


def _members(*names):
    return [{'id': str(i), 'name': n, 'peer_urls': [], 'client_urls': []} for i, n in enumerate(names, 1)]


def test_quorum_sizes():
    assert [quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_removing_one_of_three_healthy_members_is_safe():
    assert removal_problem(_members('a', 'b', 'c'), ['c'], {'a': True, 'b': True, 'c': True}) is None


def test_removing_the_dead_member_of_three_is_safe():
    assert removal_problem(_members('a', 'b', 'c'), ['c'], {'a': True, 'b': True, 'c': False}) is None


def test_removing_a_healthy_member_when_another_is_down_is_refused():
    problem = removal_problem(_members('a', 'b', 'c'), ['b'], {'a': True, 'b': True, 'c': False})
    assert problem and 'down: c' in problem and 'need 2 healthy' in problem


def test_without_quorum_now_nothing_is_removed():
    problem = removal_problem(_members('a', 'b', 'c'), ['c'], {'a': True, 'b': False, 'c': False})
    assert problem and 'no quorum now' in problem and '1 of its 3' in problem


def test_removing_every_member_is_refused():
    problem = removal_problem(_members('a'), ['a'], {'a': True})
    assert problem and 'every etcd member' in problem and 'reset.yml' in problem


def test_member_summary_reads_the_gateway_json():
    assert member_summary({'ID': '12345678901234567890', 'name': 'cp1', 'peerURLs': ['https://10.0.0.1:2380'],
                           'clientURLs': ['https://10.0.0.1:2379']}) == {
        'id': '12345678901234567890', 'name': 'cp1', 'peer_urls': ['https://10.0.0.1:2380'], 'client_urls': ['https://10.0.0.1:2379'],
        'learner': False}
