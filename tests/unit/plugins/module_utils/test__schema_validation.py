# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared JSON Schema reporting: plain type names, short values, hidden secrets, whole-string patterns."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils._schema_validation import (
    show,
    string_problem,
    type_name,
    validate,
)

SCHEMA = {
    '$schema': 'https://json-schema.org/draft/2020-12/schema',
    'type': 'object',
    'additionalProperties': False,
    'properties': {
        'version': {'type': 'string', 'pattern': r'^1\.[0-9]+\.[0-9]+$', 'x-hint': 'use the form 1.37.2'},
        'name': {'type': 'string', 'pattern': '^[a-z]+$'},
        'path': {'type': 'string', 'pattern': '^/'},
        'net': {'type': 'string', 'format': 'cidr'},
        'port': {'type': 'integer', 'minimum': 1, 'maximum': 65535},
        'flag': {'type': 'boolean'},
        'items': {'type': 'array', 'items': {'type': 'string'}, 'minItems': 1},
        'mode': {'enum': ['a', 'b']},
        'choice': {'oneOf': [{'type': 'integer'}, {'type': 'string', 'pattern': '^[0-9]+%$', 'x-hint': 'use a percentage such as 25%'}]},
        'one': {'type': 'object', 'oneOf': [{'required': ['x']}, {'required': ['y']}]},
        'secrets': {'type': 'object', 'additionalProperties': {'type': 'string', 'pattern': '^[a-z]+$'}},
        'nested': {'type': 'object', 'properties': {'secrets': {'type': 'string'}}},
    },
}


class TaggedStr(str):
    """Stands in for ansible-core 2.19's _AnsibleTaggedStr."""

    def __repr__(self):
        return '_AnsibleTaggedStr(%s)' % str.__repr__(self)


class TaggedDict(dict):
    pass


class TaggedList(list):
    pass


@pytest.mark.parametrize('value, name', [
    ('x', 'string'), (TaggedStr('x'), 'string'), (1, 'integer'), (True, 'boolean'), (False, 'boolean'), (1.5, 'number'),
    ([], 'list'), (TaggedList(), 'list'), ({}, 'mapping'), (TaggedDict(), 'mapping'), (None, 'null'),
    (datetime.date(2024, 1, 1), 'date'),
])
def test_type_names_are_plain(value, name):
    assert type_name(value) == name


def test_tagged_values_are_shown_as_plain_values():
    assert show(TaggedStr('abc')) == "'abc'"
    assert show(TaggedDict(a=1, b=2)) == 'a mapping with keys a, b'
    assert show(TaggedList([1, 2, 3])) == 'a list of 3 items'
    assert show(True) == 'true' and show(None) == 'null'


def test_messages_never_name_python_or_ansible_classes():
    problems = validate(SCHEMA, {'version': TaggedDict(a=1), 'name': TaggedList(['x']), 'port': TaggedStr('6443'), 'flag': TaggedStr('yes')})
    assert problems == [
        "flag: 'yes' is a string, expected a boolean",
        'name: is a list, expected a string',
        "port: '6443' is a string, expected an integer",
        'version: is a mapping, expected a string',
    ]
    assert not any('Tagged' in p or '<class' in p or 'dict' in p for p in problems)


def test_long_values_are_cut_and_containers_never_printed_whole():
    problems = validate(SCHEMA, {'name': 'X' * 500, 'mode': {'k%d' % i: 'v' * 100 for i in range(50)}})
    assert all(len(p) < 200 for p in problems), problems
    assert any(p.startswith("name: 'XXX") and "'..." in p for p in problems)
    assert any(p.startswith('mode: ') and 'v' * 100 not in p for p in problems)


def test_fallback_messages_do_not_embed_the_instance():
    marker = 'MARKER' * 20
    problems = validate(SCHEMA, {'choice': [marker], 'one': {'z': marker}})
    assert problems and not any('MARKER' in p for p in problems), problems
    assert 'one: is not valid under any of the given schemas (set exactly one of x, y)' in problems


def test_one_of_messages_say_what_is_expected():
    problems = validate(SCHEMA, {'choice': '25', 'one': {'x': 1, 'y': 2}})
    assert problems == ["choice: '25' is not valid under any of the given schemas (use a percentage such as 25%)",
                        'one: is valid under each of the alternatives (set only one of x, y)']


def test_values_below_a_hidden_key_are_never_printed():
    data = {'secrets': {'DB': 's3cr3t-VALUE!', 'OTHER': 12345}, 'nested': {'secrets': ['s3cr3t-VALUE!']}}
    problems = validate(SCHEMA, data, hidden_keys=('secrets',))
    assert problems == [
        'nested.secrets: <hidden> is a list, expected a string',
        'secrets.DB: <hidden> is not valid (expected a string matching ^[a-z]+$)',
        'secrets.OTHER: <hidden> is an integer, expected a string',
    ]
    assert not any('s3cr3t' in p or '12345' in p for p in problems)
    # Without hidden_keys the same call shows the values (the signature without it keeps working).
    assert any('12345' in p for p in validate(SCHEMA, data))


def test_root_prefixes_every_path():
    assert validate(SCHEMA, {'port': 0}, root='svc') == ['svc.port: 0 is less than the minimum of 1']


@pytest.mark.parametrize('value, problem', [
    ('1.37.2\n', 'ends with a newline'),
    ('1.37.2\r\n', 'contains a carriage return'),
    ('1.37.2\x00', 'ends with a NUL character'),
    ('1.37\u200b.2', 'contains an invisible character U+200B'),
    ('\ufeff1.37.2', 'starts with an invisible character U+FEFF'),
    ('1.37.2\u00a0', 'ends with a no-break space U+00A0'),
    ('1.37.2\t', 'ends with a tab'),
    ('1.37.2 ', 'ends with a space'),
    (' 1.37.2', 'starts with a space'),
])
def test_patterns_must_match_the_whole_string(value, problem):
    problems = validate(SCHEMA, {'version': value})
    assert len(problems) == 1 and problems[0].startswith('version: ') and problem in problems[0], problems
    assert 'use the form 1.37.2' in problems[0]


def test_prefix_patterns_still_work_and_refuse_invisible_characters():
    assert validate(SCHEMA, {'path': '/healthz'}) == []
    assert validate(SCHEMA, {'path': '/healthz\n'}) == ["path: '/healthz\\n' ends with a newline (remove it)"]


def test_formats_refuse_invisible_characters_with_the_reason():
    assert validate(SCHEMA, {'net': '10.244.0.0/16'}) == []
    assert validate(SCHEMA, {'net': '10.244.0.0/16\n'}) == [
        "net: '10.244.0.0/16\\n' ends with a newline (remove it; expected a valid CIDR (e.g. 10.244.0.0/16))"]


def test_string_problem():
    assert string_problem('plain text with spaces') == ''
    assert string_problem('a\nb') == 'contains a newline'
    assert string_problem(5) == ''


def test_unknown_top_level_key_and_unknown_nested_key():
    assert validate(SCHEMA, {'prot': 1}) == ['prot: unknown variable; did you mean port?']


def test_empty_list_and_null():
    assert validate(SCHEMA, {'items': [], 'name': None}) == [
        'items: is an empty list, should be non-empty (expected at least 1 item)',
        'name: is null (empty in YAML), expected a string',
    ]


def test_non_string_keys_do_not_crash():
    problems = validate(SCHEMA, {'secrets': {8080: 'x', True: 'y', None: 'z'}})
    assert problems == []  # keys are checked by propertyNames only when the schema has one
    problems = validate({'type': 'object', 'propertyNames': {'pattern': '^[a-z]+$'}}, {8080: 1, 'OK': 2})
    assert problems == ["(top level): 'OK' is not valid (expected a string matching ^[a-z]+$)"]
