"""playbooks/status.yml (role status, module cluster_status) against the real API server of tools/localcp.

It has a scheduler but no kubelet: a pod stays Pending (Unschedulable) with the scheduler's event, a Node made here never
posts its status, and no log can be read. A crashing pod's log and resource use from metrics-server are covered by the
unit tests only (the lab e2e of them failed in CI for a reason not yet found and was taken out).
"""
from __future__ import annotations

import json
import os
import time

from kubernetes import client


def _pending_pod(api) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace({'metadata': {'name': 'status-e2e'}})
    deadline = time.monotonic() + 60
    while not core.list_namespaced_service_account('status-e2e').items and time.monotonic() < deadline:
        time.sleep(0.5)  # the controller-manager creates the default service account the pod needs
    core.create_namespaced_pod('status-e2e', {
        'metadata': {'name': 'stuck'},
        'spec': {'containers': [{'name': 'app', 'image': 'kubeseed.local/demo:0.3.0'}], 'nodeSelector': {'no-such': 'node'}}})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the scheduler's verdict
        pod = core.read_namespaced_pod('stuck', 'status-e2e')
        if any(c.type == 'PodScheduled' and c.reason == 'Unschedulable' for c in pod.status.conditions or []):
            return
        time.sleep(1)
    raise AssertionError('the scheduler never said the pod is unschedulable')


def test_status_names_the_pod_that_cannot_start_and_writes_json(api, run, tmp_path):
    _pending_pod(api)
    try:
        target = tmp_path / 'status.json'
        proc = run.playbook(str(run.collections / 'ansible_collections' / 'kubeseed' / 'cluster' / 'playbooks' / 'status.yml'),
                            '-e', json.dumps({'kubeseed_status_kubeconfig': str(run.kubeconfig), 'kubeseed_status_json_file': str(target),
                                              'kubeseed_status_namespaces': ['status-e2e']}))
        out = proc.stdout
        assert proc.returncode == 0, out + proc.stderr
        assert 'cluster: NOT HEALTHY; 0 of 0 node(s) Ready, 1 of 1 pod(s) not Ready; no metrics API' in out, out
        assert 'pod status-e2e/stuck not Ready, 0 restart(s):' in out, out
        assert '    PodScheduled=False Unschedulable: no nodes available to schedule pods\n' in out, out  # the scheduler's reason
        assert 'event Warning FailedScheduling Pod/stuck:' in out, out
        assert 'changed=1 ' in out and 'failed=0' in out  # the JSON file written, nothing else
        assert oct(os.stat(target).st_mode & 0o777) == '0o600'
        data = json.loads(target.read_text(encoding='utf-8'))
        assert data['healthy'] is False and data['metrics'] is False and data['nodes'] == []
        assert [(p['namespace'], p['name'], p['node']) for p in data['pods']['not_ready']] == [('status-e2e', 'stuck', '')]
        # kubeseed_status_fail_unhealthy: the report first, then the run fails with its first line
        failing = run.playbook(str(run.collections / 'ansible_collections' / 'kubeseed' / 'cluster' / 'playbooks' / 'status.yml'),
                               '-e', json.dumps({'kubeseed_status_kubeconfig': str(run.kubeconfig), 'kubeseed_status_fail_unhealthy': True,
                                                 'kubeseed_status_namespaces': ['status-e2e']}))
        assert failing.returncode != 0 and 'changed=0 ' in failing.stdout
        assert failing.stdout.index('pod status-e2e/stuck not Ready') < failing.stdout.index('FAILED!')
        assert 'cluster: NOT HEALTHY' in failing.stdout[failing.stdout.index('FAILED!'):]
    finally:
        client.CoreV1Api(api).delete_namespace('status-e2e')


def test_status_of_an_api_server_that_does_not_answer_fails_with_the_reason(run, tmp_path):
    kubeconfig = tmp_path / 'dead.conf'
    kubeconfig.write_text(json.dumps({
        'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'dead',
        'clusters': [{'name': 'dead', 'cluster': {'server': 'https://127.0.0.1:1', 'insecure-skip-tls-verify': True}}],
        'contexts': [{'name': 'dead', 'context': {'cluster': 'dead', 'user': 'dead'}}],
        'users': [{'name': 'dead', 'user': {'token': 'not-a-real-token-f00d'}}]}), encoding='utf-8')
    os.chmod(kubeconfig, 0o600)
    play = str(run.collections / 'ansible_collections' / 'kubeseed' / 'cluster' / 'playbooks' / 'status.yml')
    proc = run.playbook(play, '-vvv', '-e', json.dumps({'kubeseed_status_kubeconfig': str(kubeconfig)}))
    assert proc.returncode != 0
    assert 'the cluster could not be read:' in proc.stdout, proc.stdout[-3000:]
    assert 'Traceback' not in proc.stdout + proc.stderr
    assert 'not-a-real-token-f00d' not in proc.stdout + proc.stderr
