# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Misspelt role variables, the empty-set guard and secret handling of the apps half."""
from __future__ import annotations

import json
import random

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_guard as guard


@pytest.mark.parametrize('name, suggestion', [
    ('kubeseed_microservice', 'kubeseed_microservices'),
    ('kubeseed_micro_services', 'kubeseed_microservices'),
    ('kubeseed_microservices_prun', 'kubeseed_microservices_prune'),
    ('kubeseed_microservices_namepsace', 'kubeseed_microservices_namespace'),
    ('kubeseed_microservice_set', 'kubeseed_microservices_set'),
    ('kubeseed_microservices_allow_empy', 'kubeseed_microservices_allow_empty'),
    ('kubeseed_microservcies', 'kubeseed_microservices'),
])
def test_misspelt_variable_is_refused_with_a_suggestion(name, suggestion):
    problems = guard.unknown_variables(['kubeseed_microservices', 'ansible_host', name])
    assert problems == [problems[0]] and problems[0].startswith('%s: unknown variable; did you mean %s?' % (name, suggestion))


def test_known_and_unrelated_variables_pass():
    names = list(guard.ROLE_VARIABLES) + list(guard.REGISTERED) + [
        'kubeseed_pod_subnet', 'kubeseed_cluster_name', 'kubeseed_kubeconfig_dest', 'kubeseed_node_labels', 'groups', 'my_services']
    assert guard.unknown_variables(names) == []


def test_a_micro_prefixed_name_far_from_any_is_still_refused():
    assert guard.unknown_variables(['kubeseed_microfrontends'])[0].startswith('kubeseed_microfrontends: unknown variable')


@pytest.mark.parametrize('services', [[], None, '', {}])
def test_empty_list_with_prune_needs_allow_empty(services):
    problems = guard.empty_set_problem(services, 'present', True, False, 'shop')
    assert len(problems) == 1 and problems[0].startswith("kubeseed_microservices: is empty, and with prune on that would delete every "
                                                         "object of set 'shop'")
    assert 'kubeseed_microservices_allow_empty: true' in problems[0]


@pytest.mark.parametrize('state, prune, allow_empty, services', [
    ('present', True, True, []),      # explicitly allowed
    ('absent', True, False, []),      # state absent says it
    ('present', False, False, []),    # nothing is deleted without prune
    ('present', True, False, [{'name': 'a', 'image': 'b'}]),
])
def test_empty_guard_lets_explicit_or_harmless_runs_through(state, prune, allow_empty, services):
    assert guard.empty_set_problem(services, state, prune, allow_empty, 'shop') == []


def test_split_and_join_secrets_survive_any_shape():
    weird = [{'image': 'x', 'secrets': ['marker']}, 'just a string', None, {'name': 'a', 'secrets': {'K': 'v'}}, {'name': 'b'}]
    stripped, secrets = guard.split_secrets(weird)
    assert secrets == [['marker'], None, None, {'K': 'v'}, None]
    assert all('secrets' not in s for s in stripped if isinstance(s, dict))
    assert guard.join_secrets(stripped, secrets) == weird
    assert guard.split_secrets('a string') == ('a string', [])
    assert guard.join_secrets({'not': 'a list'}, [1]) == {'not': 'a list'}


def test_secret_values_finds_every_scalar():
    assert guard.secret_values({'A': 'x', 'B': ['y', {'C': 12}], 'D': None, 'E': True}) == {'x', 'y', '12'}
    assert guard.secret_values('plain') == {'plain'}


def test_split_and_join_extra_secrets_survive_any_shape():
    secret = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 't'}, 'data': {'A': 'eA=='}, 'stringData': {'B': 'b'}}
    policy = {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'p'}, 'spec': {}}
    stripped, secrets = guard.split_extra_secrets([secret, policy, 'text', {'kind': 'Secret', 'metadata': {}}])
    assert stripped[0] == {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 't'}} and stripped[1] is policy
    assert secrets == [{'data': {'A': 'eA=='}, 'stringData': {'B': 'b'}}, None, None, None]
    assert guard.join_extra_secrets(stripped, secrets) == [secret, policy, 'text', {'kind': 'Secret', 'metadata': {}}]
    assert guard.split_extra_secrets('not a list') == ('not a list', [])
    assert guard.join_extra_secrets({'x': 1}, [None]) == {'x': 1}


def test_occurring_keeps_exactly_the_values_a_result_could_show():
    result = {'msg': 'Secret shop/a: the server said "pa\"ss" is bad', 'objects': [{'name': 'caf\u00e9-token'}], 'n': 4711,
              'args': {'key with s3cr3t inside': True}}
    values = {'pa"ss', 'caf\u00e9-token', '4711', 's3cr3t', 'not-there', 'line\nbreak'}
    assert guard.occurring(values, result) == {'pa"ss', 'caf\u00e9-token', '4711', 's3cr3t'}
    assert guard.occurring({'line\nbreak'}, ['a line\nbreak here']) == {'line\nbreak'}
    assert guard.occurring({b'bytes'}, {}) == {b'bytes'}  # anything but a string is kept


def test_occurring_in_finds_what_a_search_per_value_finds():
    """The one-pass search (a prefix tree of the values as a regular expression, used from 9 values on) against a plain
    search per value: values that are prefixes, suffixes and overlaps of one another, quotes, backslashes, newlines and
    non-ASCII, the empty string; a chain too deep for the expression and a value with a NUL fall back to the search."""
    rng = random.Random(20261204)
    alphabet = 'ab"\\\n\u00e9*'

    def word(length: int) -> str:
        return ''.join(rng.choice(alphabet) for unused in range(length))

    for unused in range(400):
        values = set(word(rng.randint(0, 6)) for unused in range(rng.randint(1, 40)))
        text = word(rng.randint(0, 60))
        assert guard.occurring_in(values, text) == set(v for v in values if v in text), (values, text)
        output = [text, {text[:5]: text[5:]}]
        escaped = json.dumps(output, ensure_ascii=False)
        assert guard.occurring(values, output) == set(v for v in values if json.dumps(v, ensure_ascii=False)[1:-1] in escaped)
    chain = set('a' * n for n in range(1, 3000))  # every length: a prefix tree 3,000 levels deep
    assert guard.occurring_in(chain, 'b' + 'a' * 20 + 'b') == set('a' * n for n in range(1, 21))
    nul = set('v%d' % n for n in range(20)) | {'x\x00y'}
    assert guard.occurring_in(nul, 'v3 x\x00y v17') == {'v3', 'v1', 'v17', 'x\x00y'}
    assert guard.occurring_in({5, 'v'}, 'nothing') == {5}
