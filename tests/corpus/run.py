# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the new-user corpora: every file is one plausible input (mostly a mistake) and what the user meant.

    python tests/corpus/run.py [cluster|microservices ...] [-v]

A case passes when a valid input gives no problem, or an invalid one gives every expected problem
(substrings, each starting with its variable path); every problem of every case must also read
``path: what is wrong`` with no Python internals in it. Prints ``<corpus>: N passed, N failed`` and
exits non-zero when a case fails or a corpus is smaller than its minimum.
"""
from __future__ import annotations

import glob
import os
import re
import sys
import traceback

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MINIMUM = {'cluster': 100, 'microservices': 100}
MAX_LENGTH = 300
# A problem starts with its path: a variable, an indexed/dotted path into it, or 'inventory'.
PATH = re.compile(r"^(inventory|secrets(\.[^:\s]+)?|kubeseed_[a-z0-9_]+(\[[^\]]+\]|\.[^:\s\[]+)*)(: | \()")
# Python internals: a traceback, a class repr, Ansible's internal (tagged) type names, an object repr.
FORBIDDEN = re.compile(r"Traceback|<class|\b_?Ansible[A-Z]\w+|_AnsibleTagged|object at 0x")

DEFAULT_GROUPS = {'control_plane': ['cp1'], 'workers': ['w1', 'w2'], 'etcd': []}
DEFAULT_ADDRESSES = {'cp1': '192.168.50.10', 'w1': '192.168.50.11', 'w2': '192.168.50.12'}


def _role_options() -> dict:
    options: dict = {}
    for path in sorted(glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'argument_specs.yml'))):
        with open(path, encoding='utf-8') as handle:
            specs = (yaml.safe_load(handle) or {}).get('argument_specs') or {}
        for entry in specs.values():
            options.update((entry or {}).get('options') or {})
    return options


def problems_cluster(case_input: dict) -> list:
    from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_validation import validate_cluster
    groups = case_input.get('groups') or DEFAULT_GROUPS
    addresses = dict(DEFAULT_ADDRESSES, **(case_input.get('addresses') or {}))
    members = sorted({h for hosts in groups.values() for h in hosts or []})
    hosts = {}
    for host in members:
        host_vars = dict(case_input.get('vars') or {})
        host_vars.update((case_input.get('host_vars') or {}).get(host) or {})
        hosts[host] = {'address': addresses.get(host, host), 'vars': host_vars}
    return validate_cluster(groups, hosts, _role_options())


def problems_microservices(case_input: dict) -> list:
    from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_render as render
    from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_guard as guard
    problems = list(guard.unknown_variables(list(case_input)))
    problems += render.validate_services(case_input.get('kubeseed_microservices', []),
                                         case_input.get('kubeseed_microservices_namespace', 'default'),
                                         case_input.get('kubeseed_microservices_set', 'apps'),
                                         defaults=guard.hide_default_secrets(case_input.get('kubeseed_microservices_defaults')),
                                         extra_objects=case_input.get('kubeseed_microservices_extra_objects'))
    return problems


def check(kind: str, path: str) -> list:
    """Reasons this case fails (empty: it passes)."""
    with open(path, encoding='utf-8') as handle:
        case = yaml.safe_load(handle)
    if not isinstance(case, dict) or not isinstance(case.get('meant'), str) or 'input' not in case or 'expect' not in case:
        return ['the file needs meant (a string), input and expect']
    expect = case['expect'] or {}
    try:
        problems = (problems_cluster if kind == 'cluster' else problems_microservices)(case['input'] or {})
    except Exception:  # pylint: disable=broad-except
        return ['the validation raised:\n' + traceback.format_exc()]
    reasons = []
    for problem in problems:
        if not PATH.match(problem):
            reasons.append('problem does not start with its path: %r' % problem)
        if FORBIDDEN.search(problem):
            reasons.append('problem shows Python internals: %r' % problem)
        if len(problem) > MAX_LENGTH:
            reasons.append('problem is longer than %d characters: %r...' % (MAX_LENGTH, problem[:80]))
    if expect.get('valid'):
        if problems:
            reasons.append('valid input was refused: %s' % '; '.join(problems))
    else:
        wanted = expect.get('problems') or []
        if not problems:
            reasons.append('invalid input was accepted')
        if not wanted:
            reasons.append('an invalid case must list the problems it expects')
        for fragment in wanted:
            if not any(fragment in problem for problem in problems):
                reasons.append('expected a problem containing %r; got: %s' % (fragment, '; '.join(problems) or 'none'))
    return reasons


def main(argv: list) -> int:
    sys.path.insert(0, os.path.join(ROOT, '.ansible', 'collections'))
    verbose = '-v' in argv
    kinds = [a for a in argv if not a.startswith('-')] or ['cluster', 'microservices']
    ok = True
    for kind in kinds:
        files = sorted(glob.glob(os.path.join(HERE, kind, '*.yml')))
        passed = failed = 0
        for path in files:
            reasons = check(kind, path)
            if reasons:
                failed += 1
                print('FAIL %s/%s' % (kind, os.path.basename(path)))
                for reason in reasons:
                    print('    ' + reason.replace('\n', '\n    '))
            else:
                passed += 1
                if verbose:
                    print('ok   %s/%s' % (kind, os.path.basename(path)))
        short = len(files) < MINIMUM.get(kind, 1)
        note = ' (only %d cases, at least %d wanted)' % (len(files), MINIMUM[kind]) if short else ''
        print('%s corpus: %d passed, %d failed%s' % (kind, passed, failed, note))
        ok = ok and failed == 0 and not short
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
