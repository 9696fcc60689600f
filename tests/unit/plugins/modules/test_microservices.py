# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's main(): validation before any cluster contact, and secret values never in its result."""
from __future__ import annotations

import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.parameters import PASS_VARS
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
        "kubeseed_microservices[1].name: 'Bad' is not valid (use lowercase letters, digits and dashes, starting with a letter, at most 63 characters)",
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


def test_empty_list_with_prune_is_refused_before_any_cluster_contact(capsys, tmp_path):
    result = _run(capsys, kubeconfig=str(tmp_path / 'does-not-exist'), services=[], set_name='shop')
    assert result['failed'] is True
    assert result['problems'][0].startswith("kubeseed_microservices: is empty, and with prune on that would delete every object of set 'shop'")
    # allow_empty says it was meant: then the cluster is contacted (and here, the kubeconfig is missing)
    allowed = _run(capsys, kubeconfig=str(tmp_path / 'does-not-exist'), services=[], set_name='shop', allow_empty=True)
    assert 'does not exist' in allowed['msg']


@pytest.mark.parametrize('services', ['api', {'name': 'api'}, 8080, [['api']], ['api'], [{'name': ['api'], 'image': {'a': 1}}]])
def test_any_wrong_type_is_a_problem_with_a_path_not_a_traceback(capsys, tmp_path, services):
    result = _run(capsys, kubeconfig=str(tmp_path / 'does-not-exist'), services=services)
    assert result['failed'] is True and result['problems'], result
    assert all(p.startswith('kubeseed_microservices') for p in result['problems']), result['problems']
    assert 'Traceback' not in json.dumps(result) and '<class' not in json.dumps(result)


@pytest.mark.parametrize('secrets', [
    ['%s' % SECRET],                          # a list instead of a mapping
    {'PASSWORD': SECRET, 'bad key!': SECRET},  # a key Kubernetes refuses
    {'PASSWORD': [SECRET]},                    # a value that is not a string
    {'PASSWORD': {'nested': SECRET}},
    {'PASSWORD': SECRET},                      # fine secrets, but the service has no name
])
def test_inline_secrets_never_appear_whatever_breaks(capsys, tmp_path, secrets):
    # what the action plugin sends: services without their secrets, and the secrets by position (no_log)
    result = _run(capsys, kubeconfig=str(tmp_path / 'does-not-exist'),
                  services=[{'image': 'registry.example.com/a:1', 'replicas': 'two'}, {'name': 'b', 'image': 'b:1'}],
                  service_secrets=[secrets, None])
    assert result['failed'] is True and result['problems']
    assert SECRET not in json.dumps(result)


def test_a_negative_retry_seconds_is_refused_before_any_cluster_contact(capsys, tmp_path):
    result = _run(capsys, kubeconfig=str(tmp_path / 'does-not-exist'), services=[{'name': 'api', 'image': 'a:1'}], retry_seconds=-5)
    assert result['failed'] is True and result['changed'] is False
    assert result['msg'] == 'retry_seconds (kubeseed_microservices_retry_seconds): -5 is negative; 0 sends each request once'


def test_a_registry_username_stays_visible_in_image_paths_and_the_password_is_hidden(capsys, tmp_path):
    """Ansible hides every value of a no_log option: the username 'team' of registry_credentials would become ******** in
    every image path (registry/team/app) of every message. The module shows usernames again, unless one is also a secret."""
    credentials = {'registry.example.com:5443': {'username': 'team', 'password': SECRET}}
    services = [{'name': 'api', 'image': 'registry.example.com:5443/team/api:1'}]
    # ansible-core 2.21 returns the invocation (what -vvv shows) only when the controller asks for it; 2.19 always does
    shown = {'_ansible_inject_invocation': True} if 'inject_invocation' in PASS_VARS else {}
    result = _run(capsys, kubeconfig=str(tmp_path / 'nope'), validate_only=True, registry_credentials=credentials, services=services,
                  **shown)
    args = result['invocation']['module_args']
    assert args['services'][0]['image'] == 'registry.example.com:5443/team/api:1', args['services']
    assert args['registry_credentials'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' and SECRET not in json.dumps(result)
    # a username that is also a secret value stays hidden
    same = _run(capsys, kubeconfig=str(tmp_path / 'nope'), validate_only=True, registry_credentials=credentials,
                secrets={'api': {'USER': 'team'}}, services=services, **shown)
    assert same['invocation']['module_args']['services'][0]['image'] == 'registry.example.com:5443/********/api:1'


def test_an_image_that_cannot_be_resolved_to_a_digest_fails_before_any_cluster_contact(capsys, tmp_path):
    """image_digests: the registry (here a closed port on loopback) is asked before the cluster; a refusal fails the run
    naming the image and its registry, with nothing applied and no password shown; a bad registry CA is a problem of
    the validation."""
    credentials = {'127.0.0.1:1': {'username': 'team', 'password': SECRET}}
    services = [{'name': 'api', 'image': '127.0.0.1:1/team/api:1'}, {'name': 'web', 'image': '127.0.0.1:1/team/web@sha256:' + 'c' * 64}]
    result = _run(capsys, kubeconfig=str(tmp_path / 'does-not-exist'), image_digests=True, registry_credentials=credentials,
                  services=services)
    assert result['failed'] is True and result['changed'] is False and result['objects'] == []
    assert result['msg'].splitlines() == [
        '1 image(s) could not be resolved to a digest (kubeseed_microservices_image_digests); nothing was applied:',
        '- team/api:1 at 127.0.0.1:1: cannot reach the registry 127.0.0.1:1 (NewConnectionError); run again when it answers']
    assert SECRET not in json.dumps(result)
    bad_ca = _run(capsys, kubeconfig=str(tmp_path / 'does-not-exist'), image_digests=True, registry_ca={'127.0.0.1:1': 'not a PEM'},
                  services=services)
    assert bad_ca['failed'] is True and bad_ca['problems'][0].startswith("kubeseed_microservices_registry_ca['127.0.0.1:1']: ")


def test_a_long_list_is_given_by_its_length_in_the_invocation(capsys, tmp_path):
    """The invocation repeats the arguments in every result (-vvv, a registered variable, an AWX job event): a list of
    more than 100 services is given by its length there, a shorter one in full."""
    shown = {'_ansible_inject_invocation': True} if 'inject_invocation' in PASS_VARS else {}
    for count, expected in ((100, list), (101, str)):
        services = [{'name': 'svc-%03d' % i, 'image': 'a:1'} for i in range(count)]
        result = _run(capsys, kubeconfig=str(tmp_path / 'nope'), validate_only=True, services=services, **shown)
        args = result['invocation']['module_args']
        assert isinstance(args['services'], expected), args['services']
    assert args['services'] == '101 entries (a list of more than 100 is not repeated in the invocation)'
    assert args['namespace'] == 'default' and args['validate_only'] is True


def test_the_logged_invocation_is_the_one_ansible_writes(capsys, tmp_path, monkeypatch):
    """The module's log of its invocation (syslog, journal) searches only the values to hide that occur in the arguments:
    the message must be the very one AnsibleModule writes, secret values hidden wherever they occur."""
    logged = []  # what reaches syslog, after AnsibleModule.log hid the values once more in the whole message
    monkeypatch.setattr(basic, 'has_journal', False)
    monkeypatch.setattr(microservices.AnsibleModule, '_log_to_syslog', lambda self, msg: logged.append(msg))
    services = [{'name': 'svc-%02d' % i, 'image': 'registry.example.com/team/app:%d' % i, 'env': {'NOTE': 'uses %s-%d here' % (SECRET, i)}}
                for i in range(30)]
    secrets = [{'TOKEN': '%s-%d' % (SECRET, i)} for i in range(30)] + [{'STAR': '** h'}, {'TEAM': 'team'}, {'ACROSS': 'False check_var'}]
    services += [{'name': n, 'image': 'a:1'} for n in ('star', 'team', 'across')]
    args = dict(kubeconfig=str(tmp_path / 'nope'), validate_only=True, services=services, service_secrets=secrets)
    _run(capsys, **args)
    monkeypatch.setattr(microservices._Module, '_log_invocation', microservices.AnsibleModule._log_invocation)
    _run(capsys, **args)
    assert len(logged) == 2 and logged[0] == logged[1], logged
    assert 'registry.example.com/********/app:3' in logged[0] and 'uses ********' in logged[0]
    assert SECRET not in logged[0] and '** h' not in logged[0] and 'False check_var' not in logged[0]
