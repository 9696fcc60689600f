# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's main(): validation before any cluster contact, and secret values never in its result."""
from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubeseed.cluster.plugins.modules import microservices

SECRET = 'unit-test-s3cr3t-value'


def _run(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            microservices.main()
    return json.loads(capsys.readouterr().out)


def test_validation_reports_every_problem_and_contacts_nothing(capsys, tmp_path):
    result = _run(capsys, kubeconfig=str(tmp_path / 'does-not-exist'), services=[
        {'name': 'api', 'image': 'a:1', 'ports': [{'port': 70000}], 'secrets': {'PASSWORD': SECRET}},
        {'name': 'Bad', 'image': 'b:1', 'replicas': -1}])
    assert result['failed'] is True
    assert result['problems'] == [
        'kubeseed_microservices[0].ports[0].port: 70000 is greater than the maximum of 65535',
        "kubeseed_microservices[1].name: 'Bad' is not valid: use lowercase letters, digits and dashes, starting with a letter, at most 63 characters",
        'kubeseed_microservices[1].replicas: -1 is less than the minimum of 0',
    ]
    assert result['msg'].startswith('3 problem(s) in the microservices; nothing was applied:')
    assert SECRET not in json.dumps(result)


def test_validate_only_accepts_a_valid_list_without_a_cluster(capsys, tmp_path):
    result = _run(capsys, kubeconfig=str(tmp_path / 'does-not-exist'), validate_only=True,
                  services=[{'name': 'api', 'image': 'a:1'}], secrets={'api': {'TOKEN': SECRET}})
    assert result.get('failed') is not True and result['changed'] is False
    assert SECRET not in json.dumps(result)


def test_missing_kubeconfig_is_a_clear_failure(capsys, tmp_path):
    result = _run(capsys, kubeconfig=str(tmp_path / 'nope'), services=[{'name': 'api', 'image': 'a:1'}])
    assert result['failed'] is True
    assert 'does not exist: set kubeconfig (or K8S_AUTH_KUBECONFIG)' in result['msg']
