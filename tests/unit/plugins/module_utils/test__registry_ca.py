# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of a registry CA mapping shared by the cluster's and the microservices' variables."""
from __future__ import annotations

import subprocess
import sys

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _registry_ca as registry_ca

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


def test_the_microservices_module_does_not_load_the_cluster_validation():
    """The microservices module is shipped with what it imports (and reads it on every run): the cluster's validation and
    what it needs (the kubeadm, API server and kubelet settings, 90 KB) are not among it."""
    code = ('import sys; import ansible_collections.kubeseed.cluster.plugins.modules.microservices; '
            'print(sorted(m.rsplit(".", 1)[-1] for m in sys.modules if m.startswith("ansible_collections.kubeseed.cluster.plugins.module_utils.")))')
    loaded = subprocess.run([sys.executable, '-c', code], check=True, capture_output=True, text=True).stdout
    assert '_registry_ca' in loaded
    for name in ('_cluster_validation', '_kubeadm', '_apiserver_config', '_kubelet_config'):
        assert "'%s'" % name not in loaded, loaded
