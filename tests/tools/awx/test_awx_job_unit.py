"""tools/awx/awx_job.py: the pieces of an AWX-style job, and one real local job through ansible-runner."""
from __future__ import annotations

import json
import os
import pathlib
import stat
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / 'tools' / 'awx'))

import awx_job  # noqa: E402  pylint: disable=wrong-import-position

EE_BIN = ROOT / '.venv-ee' / 'bin'


def test_command_line_is_the_one_awx_builds():
    assert awx_job.build_cmdline('root') == ['-u', 'root']
    assert awx_job.build_cmdline() == []  # no machine credential, no -u
    assert awx_job.build_cmdline('ops', check=True, diff=True, limit='web', verbosity=3) == ['-u', 'ops', '--check', '--diff', '-l', 'web', '-vvv']
    assert awx_job.build_cmdline('ops', verbosity=9)[-1] == '-vvvvv'


def test_project_is_copied_without_git(tmp_path):
    project = tmp_path / 'project'
    (project / '.git' / 'objects').mkdir(parents=True)
    (project / 'playbooks').mkdir()
    (project / 'playbooks' / 'site.yml').write_text('---\n', encoding='utf-8')
    awx_job.copy_project(project, tmp_path / 'pdd' / 'project')
    assert (tmp_path / 'pdd' / 'project' / 'playbooks' / 'site.yml').exists()
    assert not (tmp_path / 'pdd' / 'project' / '.git').exists()
    with pytest.raises(awx_job.JobError):
        awx_job.copy_project(tmp_path / 'missing', tmp_path / 'other')


def test_collection_source_rewrites_only_the_named_requirement(tmp_path):
    requirements = tmp_path / 'requirements.yml'
    requirements.write_text(yaml.safe_dump({'collections': [{'name': 'kubeseed.cluster', 'version': '>=0.1.0', 'source': 'https://hub.invalid/'},
                                                            'other.collection']}), encoding='utf-8')
    tarball = tmp_path / 'kubeseed-cluster-0.1.0.tar.gz'
    tarball.write_bytes(b'')
    out = awx_job.requirements_with_sources(requirements, {'kubeseed.cluster': str(tarball)}, tmp_path / 'out.yml')
    data = yaml.safe_load(out.read_text(encoding='utf-8'))
    assert data['collections'] == [{'name': str(tarball), 'type': 'file'}, 'other.collection']
    with pytest.raises(awx_job.JobError, match='does not list missing.one'):
        awx_job.requirements_with_sources(requirements, {'missing.one': str(tarball)}, tmp_path / 'out2.yml')


def test_private_data_holds_secrets_0600_and_injects_the_kubeconfig(tmp_path):
    pdd = tmp_path / 'pdd'
    pdd.mkdir()
    inventory = tmp_path / 'hosts'
    inventory.write_text('localhost\n', encoding='utf-8')
    kubeconfig = tmp_path / 'kubeconfig'
    kubeconfig.write_text('apiVersion: v1\n', encoding='utf-8')
    key = tmp_path / 'id'
    key.write_text('KEY\n', encoding='utf-8')
    env = awx_job.write_private_data(pdd, inventory, {'tag': '1'}, key, kubeconfig, {'A': 'b'})
    assert env == {'A': 'b', 'K8S_AUTH_KUBECONFIG': str(pdd / 'credentials' / 'kubeconfig')}
    for path in (pdd / 'env' / 'extravars', pdd / 'env' / 'ssh_key', pdd / 'credentials' / 'kubeconfig'):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert yaml.safe_load((pdd / 'env' / 'extravars').read_text(encoding='utf-8')) == {'tag': '1'}
    assert (pdd / 'inventory' / 'hosts').read_text(encoding='utf-8') == 'localhost\n'


def test_caller_environment_does_not_leak_into_the_job(monkeypatch):
    monkeypatch.setenv('ANSIBLE_COLLECTIONS_PATH', '/checkout')
    monkeypatch.setenv('K8S_AUTH_KUBECONFIG', '/root/.kube/config')
    monkeypatch.setenv('KEEP_ME', '1')
    env = awx_job.job_base_env()
    assert 'ANSIBLE_COLLECTIONS_PATH' not in env and 'K8S_AUTH_KUBECONFIG' not in env and env['KEEP_ME'] == '1'


def _event(pdd, counter, event, **data):
    path = pdd / 'artifacts' / '1' / 'job_events' / ('%d-x.json' % counter)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({'event': event, 'counter': counter, 'event_data': data}), encoding='utf-8')


def test_events_give_stats_failures_changes_and_where_the_collection_was_loaded_from(tmp_path):
    root = str(tmp_path / 'requirements_collections' / 'ansible_collections' / 'kubeseed' / 'cluster')
    _event(tmp_path, 1, 'playbook_on_task_start', task_path=root + '/roles/node/tasks/main.yml:2')
    _event(tmp_path, 2, 'runner_on_failed', host='cp1', task='Join', task_path=root + '/roles/workers/tasks/main.yml:9')
    _event(tmp_path, 3, 'runner_on_failed', host='cp1', task='Ignored', ignore_errors=True)
    _event(tmp_path, 4, 'runner_on_ok', host='cp1', task='Write', res={'changed': True})
    _event(tmp_path, 5, 'runner_on_ok', host='cp1', task='Read', res={'changed': False})
    _event(tmp_path, 10, 'playbook_on_stats', changed={'cp1': 3}, ok={'cp1': 9}, failures={'cp1': 1})
    result = awx_job.read_events(tmp_path / 'artifacts' / '1', tmp_path)
    assert result['stats']['changed'] == {'cp1': 3} and result['stats']['failures'] == {'cp1': 1} and result['stats']['dark'] == {}
    assert result['failed_tasks'] == ['cp1: Join']
    assert result['changed_tasks'] == ['cp1: Write']
    assert result['collection_roots'] == ['<pdd>/requirements_collections/ansible_collections/kubeseed/cluster']


def test_job_files_are_never_read_through_a_symlink(tmp_path):
    """The job user owns the artifacts; a planted symlink must not make root read another file into the summary."""
    secret = tmp_path / 'root-only'
    secret.write_text('secret', encoding='utf-8')
    (tmp_path / 'status').symlink_to(secret)
    assert awx_job.read_job_file(tmp_path / 'status') is None
    (tmp_path / 'rc').write_text('0', encoding='utf-8')
    assert awx_job.read_job_file(tmp_path / 'rc') == '0'
    events = tmp_path / 'artifacts' / '1' / 'job_events'
    events.mkdir(parents=True)
    (events / '1-abc.json').symlink_to(secret)
    (events / 'abc-partial.json').write_text('{', encoding='utf-8')  # runner's partial files are not events
    assert awx_job.read_events(tmp_path / 'artifacts' / '1', tmp_path)['stats'] == {}


def _job_argv(project, inventory, *extra):
    argv = [str(EE_BIN / 'python'), str(ROOT / 'tools' / 'awx' / 'awx_job.py'), '--project', str(project), '--inventory', str(inventory),
            '--runner', str(EE_BIN / 'ansible-runner'), '--quiet', *extra]
    if os.geteuid() == 0:
        argv += ['--run-as', 'kubeseed-runner']
    return argv


def test_a_job_past_its_timeout_is_stopped_and_reported(tmp_path):
    if not (EE_BIN / 'ansible-runner').exists():
        pytest.fail('.venv-ee is missing: run make ee-venv (make setup does)')
    (tmp_path / 'project').mkdir()
    (tmp_path / 'project' / 'slow.yml').write_text(yaml.safe_dump([{
        'name': 'slow', 'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
        'tasks': [{'name': 'longer than the timeout', 'ansible.builtin.command': 'sleep 120'}]}]), encoding='utf-8')
    inventory = tmp_path / 'hosts'
    inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % (EE_BIN / 'python'), encoding='utf-8')
    proc = subprocess.run(_job_argv(tmp_path / 'project', inventory, '--playbook', 'slow.yml', '--timeout', '3'),
                          capture_output=True, text=True, timeout=100, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    # Not stopped, the job would outlive the 100 s above (sleep 120) and fail the test with TimeoutExpired.
    assert summary['status'] == 'timeout', summary


def test_a_real_job_through_ansible_runner(tmp_path, request):
    """A project with .git, a survey answer and a kubeconfig credential: what the playbook sees is what AWX gives it."""
    if not (EE_BIN / 'ansible-runner').exists():
        pytest.fail('.venv-ee is missing: run make ee-venv (make setup does)')
    project = tmp_path / 'project'
    (project / '.git').mkdir(parents=True)
    (project / 'job.yml').write_text(yaml.safe_dump([{
        'name': 'job', 'hosts': 'localhost', 'connection': 'local', 'gather_facts': False, 'tasks': [
            {'name': 'no .git in the job', 'ansible.builtin.stat': {'path': '{{ playbook_dir }}/.git'}, 'register': 'git'},
            {'name': 'what the job gets', 'ansible.builtin.copy': {
                'dest': '{{ playbook_dir }}/../artifacts/seen.json', 'mode': '0600',
                'content': "{{ {'git': git.stat.exists, 'tag': tag, 'kubeconfig': lookup('env', 'K8S_AUTH_KUBECONFIG'),"
                           " 'home': lookup('env', 'HOME'), 'collections': lookup('env', 'ANSIBLE_COLLECTIONS_PATH')} | to_json }}"}},
            {'name': 'a change', 'ansible.builtin.command': 'true', 'changed_when': True},
        ]}]), encoding='utf-8')
    extravars = tmp_path / 'survey.yml'
    extravars.write_text('tag: "1.2.3"\n', encoding='utf-8')
    kubeconfig = tmp_path / 'kubeconfig'
    kubeconfig.write_text('apiVersion: v1\nkind: Config\n', encoding='utf-8')
    inventory = tmp_path / 'hosts'
    inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % (EE_BIN / 'python'), encoding='utf-8')
    argv = _job_argv(project, inventory, '--playbook', 'job.yml', '--extra-vars', str(extravars), '--kubeconfig', str(kubeconfig), '--keep')
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    pdd = pathlib.Path(summary['private_data_dir'])
    request.addfinalizer(lambda: subprocess.run(['rm', '-rf', str(pdd)], check=False))
    assert summary['status'] == 'successful' and summary['rc'] == 0
    assert summary['stats']['changed'] == {'localhost': 2} and summary['changed_total'] == 2  # the copy and the command
    seen = json.loads((pdd / 'artifacts' / 'seen.json').read_text(encoding='utf-8'))
    assert seen == {'git': False, 'tag': '1.2.3', 'kubeconfig': str(pdd / 'credentials' / 'kubeconfig'), 'home': str(pdd / 'home'),
                    'collections': str(pdd / 'requirements_collections')}
    if os.geteuid() == 0:
        assert (pdd / 'artifacts' / 'seen.json').stat().st_uid != 0  # written by the unprivileged job user
