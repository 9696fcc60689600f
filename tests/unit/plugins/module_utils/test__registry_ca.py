# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of a registry CA mapping shared by the cluster's and the microservices' variables."""
from __future__ import annotations

import ast
import pathlib

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _registry_ca as registry_ca

ROOT = pathlib.Path(__file__).resolve().parents[4]
PEM = '-----BEGIN CERTIFICATE-----\nMIIBhDCCASugAwIBAgIPJAX13bY3' + 'A' * 36 + '\n' + 'QUJD' * 16 + '\n-----END CERTIFICATE-----\n'


@pytest.mark.parametrize('cas, expected', [
    ({}, []),
    ({'r.corp:5443': PEM, 'mirror.corp': PEM + PEM}, []),
    ({'https://r.corp': PEM}, ["my_var: 'https://r.corp' is not a registry host[:port] (e.g. registry.example.com:5000, without a "
                               "scheme or a path)"]),
    ({'r.corp': ''}, ["my_var['r.corp']: expected the PEM text of a CA certificate (a non-empty string)"]),
    ({'r.corp': 5}, ["my_var['r.corp']: expected the PEM text of a CA certificate (a non-empty string)"]),
])
def test_each_problem_is_named_by_its_path_under_the_root(cas, expected):
    assert registry_ca.registry_ca_problems('my_var', cas) == expected


@pytest.mark.parametrize('text, start', [
    (PEM, ''),
    ('registry-ca.crt', 'is not a PEM certificate (give the PEM text'),
    (PEM + '-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n', 'holds a private key'),
    (PEM.replace('MII', 'M=I'), 'is not a PEM certificate: its base64 does not decode'),
    (PEM + 'trailing words', 'is not a PEM certificate (give the PEM text'),
])
def test_certificate_problem(text, start):
    problem = registry_ca.certificate_problem(text)
    assert problem.startswith(start) and bool(problem) == bool(start), problem


def _shipped(path: pathlib.Path, seen: set) -> set:
    """The collection's module_utils a file imports, and theirs (what Ansible puts in a module's zip), by name."""
    prefix = 'ansible_collections.kubeseed.cluster.plugins.module_utils.'
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        if isinstance(node, ast.ImportFrom) and node.module == prefix[:-1]:
            names = [prefix + alias.name for alias in node.names]
        names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            if name.startswith(prefix) and name[len(prefix):] not in seen:
                seen.add(name[len(prefix):])
                _shipped(ROOT / 'plugins' / 'module_utils' / (name[len(prefix):] + '.py'), seen)
    return seen


def test_the_microservices_module_does_not_ship_the_cluster_validation():
    """The microservices module is shipped with the module_utils it imports (and compiles them on every run): the cluster's
    validation and what it needs (the kubeadm, API server and kubelet settings, 90 KB) are not among them."""
    shipped = _shipped(ROOT / 'plugins' / 'modules' / 'microservices.py', set())
    assert {'_registry_ca', '_image_digests', '_microservices_render', '_k8s_client'} <= shipped, shipped
    assert not shipped & {'_cluster_validation', '_kubeadm', '_apiserver_config', '_kubelet_config'}, shipped
    # the cluster's validation itself does reach them (the walk follows imports)
    assert {'_registry_ca', '_kubeadm', '_kubelet_config'} <= _shipped(ROOT / 'plugins' / 'module_utils' / '_cluster_validation.py', set())
