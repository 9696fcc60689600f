"""The apps half the two other ways users run it, against the real local control plane:

- docs/examples/microservices-in-existing-playbook.yml: our role included into a user's playbook (a play with
  become: true, no inventory group of ours), with the cluster given only through $K8S_AUTH_KUBECONFIG;
- docs/awx-project's apps job template run the way AWX runs it (tools/awx/awx_job.py: fresh private data directory
  per job, project without .git, the collection installed from the project's collections/requirements.yml, survey
  answers as extra vars, the kubeconfig injected as a credential file + K8S_AUTH_KUBECONFIG, an unprivileged user).
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml
from kubernetes import client

ROOT = pathlib.Path(__file__).resolve().parents[2]
EE_BIN = ROOT / '.venv-ee' / 'bin'
AWX_JOB = ROOT / 'tools' / 'awx' / 'awx_job.py'
PROJECT = ROOT / 'docs' / 'awx-project'
JOB_USER = 'kubeseed-runner'


def test_microservices_role_in_an_existing_playbook(run, api, tmp_path):
    env = run._env()  # pylint: disable=protected-access
    env['K8S_AUTH_KUBECONFIG'] = str(run.kubeconfig)
    # A common inventory: ansible_become on `all` (the implicit localhost inherits it) on top of the play's become: true.
    inventory = tmp_path / 'hosts'
    inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n[all:vars]\nansible_become=true\n' % sys.executable,
                         encoding='utf-8')
    # become to another user: as root, becoming root is skipped; becoming nobody needs sudo, which this machine lacks.
    # So only tasks that really never become can pass. No kubelet on the local control plane: do not wait for pods.
    args = [str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), str(ROOT / 'docs' / 'examples' / 'microservices-in-existing-playbook.yml'),
            '-i', str(inventory), '-e', 'ansible_become_user=nobody', '-e', 'kubeseed_microservices_wait=false']
    first = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert '3 objects changed' in first.stdout, first.stdout
    deployment = client.AppsV1Api(api).read_namespaced_deployment('api', 'release')
    assert deployment.spec.template.spec.containers[0].image == 'registry.example.com/shop/api:2026.11'
    second = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stdout + second.stderr
    assert '0 objects changed' in second.stdout and 'changed=0' in second.stdout, second.stdout


def test_module_defaults_action_group_sets_the_kubeconfig_once(run, api, tmp_path):
    """group/kubeseed.cluster.k8s in module_defaults reaches the module (no kubeconfig parameter, no K8S_AUTH_* variable)."""
    play = [{'name': 'defaults', 'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
             'module_defaults': {'group/kubeseed.cluster.k8s': {'kubeconfig': str(run.kubeconfig)}},
             'tasks': [{'name': 'apply', 'kubeseed.cluster.microservices': {
                 'set_name': 'defaults', 'namespace': 'it-defaults', 'wait': False,
                 'services': [{'name': 'web', 'image': 'example.com/web:1'}]}}]}]
    path = tmp_path / 'play.yml'
    path.write_text(yaml.safe_dump(play), encoding='utf-8')
    env = run._env()  # pylint: disable=protected-access
    # Without the group default the module would fall back to ~/.kube/config or the in-cluster account, and fail.
    env['HOME'] = str(tmp_path)
    proc = subprocess.run([str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), str(path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert client.AppsV1Api(api).read_namespaced_deployment('web', 'it-defaults')


@pytest.fixture(scope='module')
def collection_tarball(tmp_path_factory) -> pathlib.Path:
    """The collection as it would be published to a Galaxy / Automation Hub (ansible-galaxy collection build)."""
    out = tmp_path_factory.mktemp('dist')
    subprocess.run([str(pathlib.Path(sys.executable).parent / 'ansible-galaxy'), 'collection', 'build', str(ROOT), '--output-path', str(out)],
                   check=True, capture_output=True, text=True)
    return next(out.glob('kubeseed-cluster-*.tar.gz'))


@pytest.fixture(scope='module')
def awx_job(collection_tarball, kubeseed_control_plane, tmp_path_factory):
    """Run one job of the apps job template; returns (summary, output)."""
    if os.geteuid() != 0 and os.environ.get('CI'):
        pytest.fail('AWX-style jobs run as the unprivileged %s user, which needs root to switch to' % JOB_USER)
    work = tmp_path_factory.mktemp('awx')
    counter = iter(range(1, 100))

    def job(survey: dict, *flags: str) -> tuple[dict, str]:
        ident = str(next(counter))
        extravars = work / ('extravars-%s.yml' % ident)
        # Survey answers plus the job template's extra vars (no kubelet on the local control plane: no rollout wait).
        extravars.write_text(yaml.safe_dump(dict(survey, kubeseed_microservices_wait=False)), encoding='utf-8')
        summary = work / ('summary-%s.json' % ident)
        argv = [str(EE_BIN / 'python'), str(AWX_JOB), '--project', str(PROJECT), '--playbook', 'playbooks/apps.yml',
                '--inventory', str(PROJECT / 'inventory'), '--extra-vars', str(extravars), '--kubeconfig', str(kubeseed_control_plane.kubeconfig),
                '--collection-source', 'kubeseed.cluster=%s' % collection_tarball, '--runner', str(EE_BIN / 'ansible-runner'),
                '--ident', ident, '--summary', str(summary), *flags]
        if os.geteuid() == 0:
            argv += ['--run-as', JOB_USER]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        assert summary.exists(), proc.stdout + proc.stderr
        return json.loads(summary.read_text(encoding='utf-8')), proc.stdout + proc.stderr

    return job


def _image(api, name: str) -> str:
    return client.AppsV1Api(api).read_namespaced_deployment(name, 'shop').spec.template.spec.containers[0].image


def test_awx_apps_job_then_a_second_job_changes_nothing(awx_job, api, kubeseed_control_plane):
    first, output = awx_job({'frontend_image_tag': '0.1.0', 'backend_image_tag': '0.1.0'})
    assert first['status'] == 'successful', output
    assert first['run_as'] == (JOB_USER if os.geteuid() == 0 else None)
    assert first['changed_total'] > 0, first
    # The roles and modules came from the collection the job installed, not from this checkout.
    assert first['collection_roots'] == ['<pdd>/requirements_collections/ansible_collections/kubeseed/cluster'], first
    assert _image(api, 'frontend') == 'kubeseed.local/demo:0.1.0'
    kubeconfig = yaml.safe_load(kubeseed_control_plane.kubeconfig.read_text(encoding='utf-8'))
    assert kubeconfig['users'][0]['user']['client-key-data'] not in output
    second, output = awx_job({'frontend_image_tag': '0.1.0', 'backend_image_tag': '0.1.0'})
    assert second['status'] == 'successful', output
    assert second['changed_total'] == 0, second


def test_awx_check_job_predicts_a_new_tag_and_a_run_job_applies_it(awx_job, api):
    check, output = awx_job({'frontend_image_tag': '0.2.0', 'backend_image_tag': '0.1.0'}, '--check', '--diff')
    assert check['status'] == 'successful', output
    assert check['cmdline'] == ['--check', '--diff']  # no machine credential: no -u
    assert check['changed_total'] > 0, check
    assert _image(api, 'frontend') == 'kubeseed.local/demo:0.1.0'
    run, output = awx_job({'frontend_image_tag': '0.2.0', 'backend_image_tag': '0.1.0'})
    assert run['status'] == 'successful', output
    assert run['changed_total'] > 0
    assert _image(api, 'frontend') == 'kubeseed.local/demo:0.2.0'
    assert _image(api, 'backend') == 'kubeseed.local/demo:0.1.0'


def test_awx_job_with_a_bad_survey_answer_fails_before_touching_the_cluster(awx_job, api):
    before = client.AppsV1Api(api).read_namespaced_deployment('backend', 'shop').metadata.resource_version
    bad, output = awx_job({'frontend_image_tag': '0.2.0', 'backend_image_tag': 'not a tag!'})
    assert bad['status'] == 'failed', output
    assert bad['stats']['failures'] == {'localhost': 1}, bad
    assert 'kubeseed_microservices[0].image' in output, output[-3000:]
    assert client.AppsV1Api(api).read_namespaced_deployment('backend', 'shop').metadata.resource_version == before
