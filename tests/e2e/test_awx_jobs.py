"""docs/awx-project's job templates run the way AWX runs them (tools/awx/awx_job.py), on the cluster of the shared
1 control plane + 2 workers lab (built by tests/e2e/test_role_includes.py): each job in a fresh private data directory
with the project copied without .git and the collection installed from the project's collections/requirements.yml, as
the unprivileged kubeseed-runner user with the machine credential's key in an ssh-agent: the cluster job (nothing to
change on a converged cluster), then the apps job with the kubeconfig credential and survey answers, twice.

The tests run in file order; each needs the one before.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

from conftest import INVENTORY, ROOT, VENV_BIN, needs_cluster

EE_BIN = ROOT / '.venv-ee' / 'bin'
PROJECT = ROOT / 'docs' / 'awx-project'
JOB_USER = 'kubeseed-runner'
TOKEN = re.compile(r'\b[a-z0-9]{6}\.[a-z0-9]{16}\b')
STATE: dict = {}


@pytest.fixture(scope='module')
def lab(lab_cluster):
    """The shared 1 + 2 lab with its cluster."""
    needs_cluster()
    return lab_cluster


@pytest.fixture(scope='module')
def awx(lab, tmp_path_factory):
    """The AWX side: the published collection, the inventory AWX would hold for the lab, the machine credential."""
    work = tmp_path_factory.mktemp('awx')
    subprocess.run([str(VENV_BIN / 'ansible-galaxy'), 'collection', 'build', str(ROOT), '--output-path', str(work)],
                   check=True, capture_output=True, text=True)
    lab_hosts = yaml.safe_load((INVENTORY / 'hosts.yml').read_text(encoding='utf-8'))
    key = None
    for group in lab_hosts['all']['children'].values():
        for host in (group.get('hosts') or {}).values():
            key = host.pop('ansible_ssh_private_key_file')  # AWX: the machine credential, not a host variable
            host.pop('ansible_user')  # AWX: -u from the machine credential
    inventory = work / 'inventory'
    (inventory / 'group_vars' / 'all').mkdir(parents=True)
    (inventory / 'hosts.yml').write_text(yaml.safe_dump(lab_hosts), encoding='utf-8')
    (inventory / 'group_vars' / 'all' / 'lab.yml').write_text((INVENTORY / 'group_vars' / 'all' / 'lab.yml').read_text(encoding='utf-8'),
                                                              encoding='utf-8')
    # As in docs/awx-project/inventory: a job's home does not outlive the job, so no kubeconfig is fetched into it.
    (inventory / 'group_vars' / 'all' / 'awx.yml').write_text('kubeseed_control_plane_fetch_kubeconfig: false\n', encoding='utf-8')
    return {'work': work, 'tarball': next(work.glob('kubeseed-cluster-*.tar.gz')), 'inventory': inventory, 'key': key, 'jobs': iter(range(1, 100))}


def job(awx, playbook: str, *flags: str, survey: dict | None = None, kubeconfig: pathlib.Path | None = None,
        machine_credential: bool = False) -> tuple[dict, str]:
    ident = str(next(awx['jobs']))
    summary = awx['work'] / ('summary-%s.json' % ident)
    argv = [str(EE_BIN / 'python'), str(ROOT / 'tools' / 'awx' / 'awx_job.py'), '--project', str(PROJECT), '--playbook', playbook,
            '--inventory', str(awx['inventory']), '--run-as', JOB_USER,
            '--runner', str(EE_BIN / 'ansible-runner'), '--collection-source', 'kubeseed.cluster=%s' % awx['tarball'],
            '--ident', ident, '--summary', str(summary), *flags]
    if machine_credential:  # user root and the lab key, loaded into runner's ssh-agent
        argv += ['--user', 'root', '--ssh-key', awx['key']]
    if survey is not None:
        path = awx['work'] / ('extravars-%s.yml' % ident)
        path.write_text(yaml.safe_dump(survey), encoding='utf-8')
        argv += ['--extra-vars', str(path)]
    if kubeconfig:
        argv += ['--kubeconfig', str(kubeconfig)]
    lines = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(('PLAY [', 'TASK [', '[awx-job')):
                print('[awx job %s] %s' % (ident, line.strip().rstrip('*').strip()), flush=True)
        proc.wait()
    output = ''.join(lines)
    assert summary.exists(), output[-5000:]
    return json.loads(summary.read_text(encoding='utf-8')), output


def test_cluster_job_on_the_running_cluster_changes_nothing(awx):
    summary, output = job(awx, 'playbooks/cluster.yml', '-v', machine_credential=True)
    assert summary['status'] == 'successful', output[-6000:]
    assert summary['run_as'] == JOB_USER and summary['cmdline'] == ['-u', 'root', '-v']
    assert summary['collection_roots'] == ['<pdd>/requirements_collections/ansible_collections/kubeseed/cluster']
    assert {'ks-cp1', 'ks-w1', 'ks-w2'} <= set(summary['stats']['ok'])  # the job reached every node of the cluster
    assert summary['changed_total'] == 0, (summary['stats']['changed'], summary['changed_tasks'])
    assert not TOKEN.findall(output), 'something shaped like a bootstrap token is in the job output'
    print('cluster job on the running cluster: %.0fs' % summary['seconds'])
    STATE['cluster'] = summary


def test_apps_job_with_the_kubeconfig_credential_and_survey(awx, tmp_path):
    if 'cluster' not in STATE:
        pytest.fail('needs test_cluster_job_on_the_running_cluster_changes_nothing')
    # The admin creates the credential once from the control plane's admin.conf.
    kubeconfig = tmp_path / 'admin.conf'
    proc = subprocess.run(['ssh', '-i', awx['key'], '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
                           'root@10.117.0.11', 'cat /etc/kubernetes/admin.conf'], capture_output=True, text=True, timeout=30, check=True)
    fd = os.open(kubeconfig, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write(proc.stdout)
    survey = {'frontend_image_tag': '0.3.0', 'backend_image_tag': '0.3.0'}
    first, output = job(awx, 'playbooks/apps.yml', survey=survey, kubeconfig=kubeconfig)
    assert first['status'] == 'successful', output[-6000:]
    assert first['cmdline'] == []  # no machine credential on this job template
    assert first['changed_total'] > 0
    assert yaml.safe_load(proc.stdout)['users'][0]['user']['client-key-data'] not in output
    bundle = subprocess.run([str(VENV_BIN / 'python'), str(ROOT / 'tools' / 'bundle' / 'bundle.py'), 'path'], capture_output=True, text=True,
                            check=True).stdout.strip()
    deployments = json.loads(subprocess.run([os.path.join(bundle, 'bin', 'kubectl'), '--kubeconfig', str(kubeconfig), '-n', 'shop', 'get',
                                             'deployments', '-o', 'json'], capture_output=True, text=True, check=True).stdout)['items']
    available = {d['metadata']['name']: d['status'].get('availableReplicas', 0) for d in deployments}
    assert available == {'backend': 2, 'frontend': 1}
    second, output = job(awx, 'playbooks/apps.yml', survey=survey, kubeconfig=kubeconfig)
    assert second['status'] == 'successful', output[-6000:]
    assert second['changed_total'] == 0, (second['stats']['changed'], second['changed_tasks'])
    print('apps job: %.0fs, second job: %.0fs' % (first['seconds'], second['seconds']), file=sys.stderr)
