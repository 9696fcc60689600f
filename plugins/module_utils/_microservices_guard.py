# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guards of the apps half against the mistakes that delete or leak: a misspelt role variable (Ansible
ignores it, so the role would run with an empty list and prune the whole set), an empty list with prune,
and Secret values that must be taken out of everything that can be shown.
"""
from __future__ import annotations

import copy
import difflib
import json
import re

ROOT = 'kubeseed_microservices'
# Every variable the microservices role reads (roles/microservices/meta/argument_specs.yml; a contract test keeps
# them equal) and the one it registers.
ROLE_VARIABLES = (
    'kubeseed_microservices',
    'kubeseed_microservices_defaults',
    'kubeseed_microservices_extra_objects',
    'kubeseed_microservices_registry_credentials',
    'kubeseed_microservices_image_digests',
    'kubeseed_microservices_registry_ca',
    'kubeseed_microservices_namespace',
    'kubeseed_microservices_set',
    'kubeseed_microservices_state',
    'kubeseed_microservices_prune',
    'kubeseed_microservices_allow_empty',
    'kubeseed_microservices_create_namespaces',
    'kubeseed_microservices_wait',
    'kubeseed_microservices_wait_timeout',
    'kubeseed_microservices_retry_seconds',
    'kubeseed_microservices_force_conflicts',
    'kubeseed_microservices_on_failure',
    'kubeseed_microservices_kubeconfig',
    'kubeseed_microservices_context',
)
REGISTERED = ('kubeseed_microservices_result',)
# kubeseed_* variables whose name is close to one of ours but that belong to someone else.
_OTHERS_PREFIXES = ('kubeseed_cluster_', 'kubeseed_kubeconfig_')
_CUTOFF = 0.84


def unknown_variables(names: list) -> list:
    """'name: unknown variable; did you mean ...?' for every kubeseed_microservices* look-alike that is not ours.

    A name is ours to judge when it starts with 'kubeseed_micro' or is close to one of the role's variables.
    """
    known = set(ROLE_VARIABLES) | set(REGISTERED)
    problems = []
    for name in sorted(set(n for n in names if isinstance(n, str) and n.startswith('kubeseed_'))):
        if name in known or name.startswith(_OTHERS_PREFIXES):
            continue
        match = difflib.get_close_matches(name, ROLE_VARIABLES, n=1, cutoff=_CUTOFF)
        if not name.startswith('kubeseed_micro') and not match:
            continue
        if not match:
            match = difflib.get_close_matches(name, ROLE_VARIABLES, n=1, cutoff=0.5)
        problems.append('%s: unknown variable%s (Ansible would ignore it, and a role run without its real value could prune the '
                        'whole set; fix the name or remove it)' % (name, '; did you mean %s?' % match[0] if match else ''))
    return problems


def empty_set_problem(services: object, state: str, prune: bool, allow_empty: bool, set_name: str, root: str = ROOT,
                      allow_name: str = ROOT + '_allow_empty') -> list:
    """An empty service list with prune would delete every object of the set: only with an explicit allow_empty."""
    if state != 'present' or not prune or allow_empty:
        return []
    if services in (None, '') or (isinstance(services, (list, dict)) and not services):
        return ['%s: is empty, and with prune on that would delete every object of set %r; list the services, or set %s: true '
                'to really remove them all (or state: absent)' % (root, set_name, allow_name)]
    return []


def secret_values(value: object) -> set:
    """Every scalar inside a secrets value, as the strings Ansible must hide (keys are names, not secrets)."""
    found = set()
    if isinstance(value, dict):
        for item in value.values():
            found |= secret_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found |= secret_values(item)
    elif value is not None and not isinstance(value, bool):
        text = str(value)
        if text:
            found.add(text)
    return found


def split_secrets(services: object) -> tuple:
    """(services without their 'secrets', [each service's secrets or None]) for any input shape; never raises."""
    if not isinstance(services, list):
        return services, []
    stripped, secrets = [], []
    for svc in services:
        if isinstance(svc, dict) and 'secrets' in svc:
            svc = dict(svc)
            secrets.append(svc.pop('secrets'))
        else:
            secrets.append(None)
        stripped.append(svc)
    return stripped, secrets


def hide_default_secrets(defaults: object) -> object:
    """defaults without the values of a 'secrets' key (refused there by the validation, which then shows no value)."""
    if isinstance(defaults, dict) and 'secrets' in defaults:
        return dict(defaults, secrets='<hidden>')
    return defaults


def join_secrets(services: object, secrets: object) -> object:
    """services with each one's secrets back in place (the inverse of split_secrets)."""
    if not isinstance(services, list) or not isinstance(secrets, list):
        return services
    joined = []
    for index, svc in enumerate(services):
        if index < len(secrets) and secrets[index] is not None and isinstance(svc, dict):
            svc = dict(copy.copy(svc), secrets=secrets[index])
        joined.append(svc)
    return joined


SECRET_FIELDS = ('data', 'stringData')


def split_extra_secrets(extra: object) -> tuple:
    """(extra objects without the data and stringData of each Secret, [each one's {data, stringData} or None]); never raises."""
    if not isinstance(extra, list):
        return extra, []
    stripped, secrets = [], []
    for obj in extra:
        if isinstance(obj, dict) and obj.get('kind') == 'Secret' and any(f in obj for f in SECRET_FIELDS):
            obj = dict(obj)
            secrets.append({f: obj.pop(f) for f in SECRET_FIELDS if f in obj})
        else:
            secrets.append(None)
        stripped.append(obj)
    return stripped, secrets


def join_extra_secrets(extra: object, secrets: object) -> object:
    """extra objects with each Secret's data and stringData back in place (the inverse of split_extra_secrets)."""
    if not isinstance(extra, list) or not isinstance(secrets, list):
        return extra
    joined = []
    for index, obj in enumerate(extra):
        if index < len(secrets) and isinstance(secrets[index], dict) and isinstance(obj, dict):
            obj = dict(obj, **secrets[index])
        joined.append(obj)
    return joined


def occurring(values: set, output: object) -> set:
    """The values (strings to hide) that occur somewhere in output, a JSON-able result: the others cannot be shown by it.

    Ansible's remove_values compares every string of a result with every value to hide, which for 1,000 services (and
    their 1,000 secret values) costs seconds; handing it only the values that occur gives the same output. JSON escapes
    character by character, so a value occurs in a string (or key) of output exactly when its escaped form occurs in the
    escaped text. Anything but a string is kept.
    """
    return occurring_in(values, json.dumps(output, ensure_ascii=False, default=str),
                        lambda value: json.dumps(value, ensure_ascii=False)[1:-1])


def occurring_in(values: set, text: str, form=None) -> set:
    """The values that occur in text (each searched as form(value) when form is given); anything but a string is kept.

    One pass of a regular expression over text finds them all (a search per value costs the length of the text times the
    number of values: 0.7 s for 1,000 values in a 1 MB result). At every position a lookahead tries the values as a
    prefix tree and captures the longest that starts there; any value occurring at that position is a prefix of that one,
    so the values found are exactly those that occur in some capture.
    """
    keep = set(v for v in values if not isinstance(v, str))
    forms = {}
    for value in values:
        if isinstance(value, str):
            forms.setdefault(form(value) if form else value, []).append(value)
    if not forms:
        return keep
    found = None
    if len(forms) > 8 and not any('\x00' in f for f in forms):
        try:
            pattern = re.compile('(?=(%s))' % _prefix_tree_pattern(forms))
            captured = '\x00'.join(set(match.group(1) for match in pattern.finditer(text)))
            found = set(f for f in forms if f in captured)
        except (RecursionError, re.error, OverflowError):  # a pathological set: a search per value below
            found = None
    if found is None:
        found = set(f for f in forms if f in text)
    return keep.union(*(forms[f] for f in found))


def _prefix_tree_pattern(words) -> str:
    """A regular expression matching each of words, written as their prefix tree with the longer continuations first
    (greedy): it matches the longest word that starts at a position."""
    tree = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[''] = {}

    def pattern(node: dict) -> str:
        branches = []
        for char, child in sorted(node.items()):
            if not char:
                continue
            text = re.escape(char)
            while len(child) == 1 and '' not in child:  # a chain without a branch or an end: one literal
                (char, child), = child.items()
                text += re.escape(char)
            branches.append(text + pattern(child))
        if not branches:
            return ''
        body = branches[0] if len(branches) == 1 else '(?:%s)' % '|'.join(branches)
        return '(?:%s)?' % body if '' in node else body

    return pattern(tree)
