"""The published schema, the role defaults and argument_specs agree with the contract in module_utils."""
from __future__ import annotations

import subprocess
import sys

import yaml

from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_schema import CLUSTER_SCHEMA, cluster_defaults


def test_published_schemas_are_current(root):
    result = subprocess.run([sys.executable, str(root / 'scripts' / 'gen-schemas.py'), '--check'], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout


def _roles(root):
    return sorted(p for p in (root / 'roles').iterdir() if p.is_dir())


def test_role_defaults_of_contract_variables_equal_the_schema_default(root):
    defaults = cluster_defaults()
    for role in _roles(root):
        path = role / 'defaults' / 'main.yml'
        values = yaml.safe_load(path.read_text(encoding='utf-8')) or {} if path.exists() else {}
        for name, value in values.items():
            if name in defaults:
                assert value == defaults[name], '%s: %s default %r differs from the contract %r' % (path, name, value, defaults[name])


def test_every_role_variable_is_documented_in_argument_specs(root):
    for role in _roles(root):
        specs = yaml.safe_load((role / 'meta' / 'argument_specs.yml').read_text(encoding='utf-8'))['argument_specs']
        documented = {name for entry in specs.values() for name in (entry.get('options') or {})}
        path = role / 'defaults' / 'main.yml'
        values = yaml.safe_load(path.read_text(encoding='utf-8')) or {} if path.exists() else {}
        missing = sorted(set(values) - documented)
        assert not missing, '%s: defaults not in meta/argument_specs.yml: %s' % (role.name, missing)
        for entry in specs.values():
            for name, option in (entry.get('options') or {}).items():
                if name in values and 'default' in option:
                    assert option['default'] == values[name], '%s: %s argument_specs default differs from defaults/main.yml' % (role.name, name)


def test_public_role_variables_are_prefixed(root):
    for role in _roles(root):
        path = role / 'defaults' / 'main.yml'
        values = yaml.safe_load(path.read_text(encoding='utf-8')) or {} if path.exists() else {}
        for name in values:
            assert name.startswith('kubeseed_'), '%s: %s is not prefixed kubeseed_' % (role.name, name)


def test_example_group_vars_only_use_contract_variables(root):
    known = set(CLUSTER_SCHEMA['properties'])
    for path in sorted((root / 'inventories' / 'example' / 'group_vars').rglob('*.yml')):
        values = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
        unknown = sorted(n for n in values if n.startswith('kubeseed_') and n not in known)
        assert not unknown, '%s: %s' % (path, unknown)
