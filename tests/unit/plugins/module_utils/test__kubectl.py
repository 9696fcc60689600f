# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""apply_objects: changed from kubectl's server-side diff, applied only then, nothing applied in check mode."""
from __future__ import annotations

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubectl import apply_objects

PDB = {'apiVersion': 'policy/v1', 'kind': 'PodDisruptionBudget', 'metadata': {'name': 'coredns', 'namespace': 'kube-system'},
       'spec': {'maxUnavailable': 1}}


class Failed(Exception):
    pass


class Module:
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def run_command(self, argv, data=None):
        self.calls.append((argv[3], data))
        return self.answers[argv[3]]

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])


class Kubectl:
    def __init__(self, module, missing=False):
        self.module, self.binary, self.kubeconfig, self.missing = module, '/usr/local/bin/kubectl', '/etc/kubernetes/admin.conf', missing

    def cluster_missing(self):
        return self.missing


@pytest.mark.parametrize('check_mode', [False, True])
def test_a_difference_is_a_change_applied_only_in_a_real_run(check_mode):
    module = Module({'diff': (1, '+  maxUnavailable: 1', ''), 'apply': (0, 'serverside-applied', '')})
    result = apply_objects(Kubectl(module), [PDB], 'kubeseed', check_mode)
    assert result['changed'] is True and result['objects'] == ['PodDisruptionBudget kube-system/coredns']
    assert [verb for verb, _data in module.calls] == (['diff'] if check_mode else ['diff', 'apply'])
    assert '"maxUnavailable": 1' in module.calls[0][1]


def test_no_difference_changes_nothing():
    module = Module({'diff': (0, '', '')})
    assert apply_objects(Kubectl(module), [PDB], 'kubeseed', False)['changed'] is False
    assert [verb for verb, _data in module.calls] == ['diff']


def test_a_failed_diff_or_apply_says_which_objects():
    with pytest.raises(Failed, match='kubectl diff of PodDisruptionBudget kube-system/coredns failed: forbidden'):
        apply_objects(Kubectl(Module({'diff': (2, '', 'forbidden')})), [PDB], 'kubeseed', False)
    with pytest.raises(Failed, match='kubectl apply of PodDisruptionBudget kube-system/coredns failed: conflict'):
        apply_objects(Kubectl(Module({'diff': (1, 'x', ''), 'apply': (1, '', 'conflict')})), [PDB], 'kubeseed', False)


def test_before_the_cluster_exists_check_mode_predicts_the_creation_and_a_run_fails():
    assert apply_objects(Kubectl(Module({}), missing=True), [PDB], 'kubeseed', True)['changed'] is True
    with pytest.raises(Failed, match='no cluster to apply'):
        apply_objects(Kubectl(Module({}), missing=True), [PDB], 'kubeseed', False)


def test_a_secret_is_refused_before_kubectl_runs():
    module = Module({})
    secret = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'x', 'namespace': 'kube-system'}, 'data': {'k': 'bWFya2Vy'}}
    with pytest.raises(Failed, match='does not apply Secrets') as failed:
        apply_objects(Kubectl(module), [PDB, secret], 'kubeseed', False)
    assert module.calls == [] and 'bWFya2Vy' not in str(failed.value)
