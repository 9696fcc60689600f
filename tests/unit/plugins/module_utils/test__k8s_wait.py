# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout readiness, the wait with its deadline, and how a stuck Deployment is explained (an in-memory client).

The same against a real API server: tests/integration.
"""
from __future__ import annotations

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_wait as wait
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError


def _deploy(generation=2, observed=2, replicas=2, updated=2, total=2, available=2):
    return {'metadata': {'generation': generation}, 'spec': {'replicas': replicas},
            'status': {'observedGeneration': observed, 'updatedReplicas': updated, 'replicas': total, 'availableReplicas': available}}


def _live(name, namespace='shop', **counts):
    deploy = _deploy(**counts)
    deploy.update({'kind': 'Deployment', 'apiVersion': 'apps/v1'})
    deploy['metadata'].update({'name': name, 'namespace': namespace})
    deploy['spec']['selector'] = {'matchLabels': {'app.kubernetes.io/name': name}}
    return deploy


@pytest.mark.parametrize('deploy, done', [
    (_deploy(), True),
    (_deploy(observed=1), False),               # the controller has not seen the new spec yet
    (_deploy(updated=1), False),                # still rolling
    (_deploy(total=3), False),                  # an old pod is still there
    (_deploy(available=1), False),              # a new pod is not ready
    (_deploy(replicas=0, updated=0, total=0, available=0), True),
    ({'metadata': {'generation': 1}, 'spec': {'replicas': 1}}, False),  # no status at all yet
])
def test_rollout_done(deploy, done):
    assert wait.rollout_done(deploy) is done


def test_pod_reasons_name_the_cause():
    pod = {'status': {'phase': 'Pending', 'conditions': [
        {'type': 'PodScheduled', 'status': 'False', 'reason': 'Unschedulable', 'message': '0/3 nodes are available'}],
        'containerStatuses': [
            {'name': 'api', 'state': {'waiting': {'reason': 'ImagePullBackOff', 'message': 'not found'}}},
            {'name': 'side', 'state': {'running': {}}, 'restartCount': 4,
             'lastState': {'terminated': {'reason': 'Error', 'exitCode': 2}}}]}}
    assert wait._pod_reasons(pod) == [  # pylint: disable=protected-access
        'PodScheduled=False Unschedulable: 0/3 nodes are available',
        'container api waiting: ImagePullBackOff not found',
        'container side last exit: Error (exit code 2, 4 restarts)']
    assert wait._pod_reasons({'status': {'phase': 'Pending'}}) == ['phase Pending']  # pylint: disable=protected-access


def test_wait_polls_until_every_rollout_is_done(fake_client, monkeypatch):
    monkeypatch.setattr(wait, 'WAIT_POLL_SECONDS', 0)

    class Rolling(fake_client):
        def get(self, kind, namespace, name):
            live = super().get(kind, namespace, name)
            if len([c for c in self.calls if c[0] == 'get']) >= 3:
                live['status']['availableReplicas'] = 2
            return live

    client = Rolling([_live('api', available=0), _live('web')])
    summaries, failures = wait.wait_rollouts(client, [_live('web'), _live('api', available=0)], timeout=30, workers=1)
    assert failures == []
    assert summaries == [{'kind': 'Deployment', 'namespace': 'shop', 'name': 'api', 'ready': True, 'replicas': 2, 'available': 2},
                         {'kind': 'Deployment', 'namespace': 'shop', 'name': 'web', 'ready': True, 'replicas': 2, 'available': 2}]
    # web's status said it had rolled out already: only api was asked for
    assert {c[3] for c in client.calls if c[0] == 'get'} == {'api'}


def test_wait_stops_at_the_deadline_and_explains_what_is_not_done(fake_client):
    stuck = _live('api', updated=1, available=0)
    client = fake_client([stuck, _live('web')])
    # web is done, api is stuck, gone was deleted meanwhile (neither waited for nor reported)
    summaries, failures = wait.wait_rollouts(client, [stuck, _live('web'), _live('gone', available=0)], timeout=0, workers=4)
    assert summaries == [{'kind': 'Deployment', 'namespace': 'shop', 'name': 'api', 'ready': False, 'replicas': 2, 'available': 0},
                         {'kind': 'Deployment', 'namespace': 'shop', 'name': 'web', 'ready': True, 'replicas': 2, 'available': 2}]
    assert failures == ['Deployment shop/api: 1 of 2 replicas updated, 0 available\n  no pods (see the events of its ReplicaSets)']


def test_a_deployment_whose_pods_cannot_be_read_is_still_reported(fake_client):
    stuck = _live('api', available=0)
    client = fake_client([stuck], errors={('list', ('Pod', 'shop', 'app.kubernetes.io/name=api')): K8sError('forbidden', 403)})
    assert wait.wait_rollouts(client, [stuck], timeout=0)[1] == [
        'Deployment shop/api: not rolled out (and its pods could not be inspected: forbidden)']


def test_diagnose_shows_conditions_pods_and_the_latest_distinct_events(fake_client):
    deploy = _live('api', available=0)
    deploy['status']['conditions'] = [
        {'type': 'Available', 'status': 'True', 'reason': 'MinimumReplicasAvailable'},
        {'type': 'Progressing', 'status': 'True', 'reason': 'ProgressDeadlineExceeded', 'message': 'too slow'}]
    labels = {'app.kubernetes.io/name': 'api'}
    pod = {'kind': 'Pod', 'metadata': {'name': 'api-1', 'namespace': 'shop', 'labels': labels},
           'status': {'containerStatuses': [{'name': 'api', 'state': {'waiting': {'reason': 'ErrImagePull'}}}]}}
    replicaset = {'kind': 'ReplicaSet', 'metadata': {'name': 'api-rs', 'namespace': 'shop', 'labels': labels}}

    def event(name, when, involved, reason, message='m'):
        return {'kind': 'Event', 'metadata': {'name': name, 'namespace': 'shop'}, 'lastTimestamp': when, 'type': 'Warning',
                'reason': reason, 'message': message + '\n', 'involvedObject': {'kind': involved[0], 'name': involved[1]}}

    events = [event('e%d' % i, '2024-01-01T00:00:%02dZ' % i, ('Pod', 'api-1'), 'BackOff', 'again') for i in range(1, 10)]
    events += [event('rs', '2024-01-01T00:00:30Z', ('ReplicaSet', 'api-rs'), 'FailedCreate'),
               event('other', '2024-01-01T00:00:40Z', ('Pod', 'other-1'), 'Killing'),
               event('first', '2024-01-01T00:00:00Z', ('Deployment', 'api'), 'ScalingReplicaSet')]
    text = wait.diagnose(fake_client([pod, replicaset] + events), deploy)
    assert text.splitlines() == [
        'Deployment shop/api: 2 of 2 replicas updated, 0 available',
        '  condition Progressing=True ProgressDeadlineExceeded: too slow',
        '  pod api-1: container api waiting: ErrImagePull',
        '  event Warning ScalingReplicaSet Deployment/api: m',
        '  event Warning BackOff Pod/api-1: again',  # the same line nine times is shown once, where it last happened
        '  event Warning FailedCreate ReplicaSet/api-rs: m']


def test_diagnose_shows_the_latest_events_only(fake_client):
    events = [{'kind': 'Event', 'metadata': {'name': 'e%d' % i, 'namespace': 'shop', 'creationTimestamp': '2024-01-01T00:00:%02dZ' % i},
               'reason': 'R%d' % i, 'involvedObject': {'kind': 'Deployment', 'name': 'api'}} for i in range(12)]
    lines = wait.diagnose(fake_client(events), _live('api', available=0)).splitlines()
    assert lines[2:] == ['  event  R%d Deployment/api: ' % i for i in range(12 - wait.EVENTS_SHOWN, 12)]


def _job(name, state=None, **status):
    job = {'kind': 'Job', 'apiVersion': 'batch/v1', 'metadata': {'name': name, 'namespace': 'shop', 'uid': 'u-' + name}, 'status': dict(status)}
    if state:
        job['status']['conditions'] = [{'type': 'SuccessCriteriaMet', 'status': 'True'},
                                       {'type': state, 'status': 'True', 'reason': 'BackoffLimitExceeded' if state == 'Failed' else '',
                                        'message': 'Job has reached the specified backoff limit' if state == 'Failed' else ''}]
    return job


def test_job_state_reads_the_final_conditions_only():
    assert wait.job_state(_job('a')) == 'running'
    assert wait.job_state(_job('a', 'Complete')) == 'complete'
    assert wait.job_state(_job('a', 'Failed')) == 'failed'
    assert wait.job_state({'status': {'conditions': [{'type': 'Failed', 'status': 'False'}]}}) == 'running'


def test_a_failed_job_is_explained_with_its_pod_and_last_log_lines(fake_client):
    def pod(name, owner, exit_code, created):
        return {'kind': 'Pod', 'metadata': {'name': name, 'namespace': 'shop', 'creationTimestamp': created,
                                            'labels': {'batch.kubernetes.io/job-name': 'migrate-1'}, 'ownerReferences': [{'uid': owner}]},
                'spec': {'containers': [{'name': 'migrate'}]},
                'status': {'phase': 'Failed', 'containerStatuses': [{'name': 'migrate', 'state': {'terminated': {'reason': 'Error', 'exitCode': exit_code}}}]}}

    class Logs(fake_client):
        def log(self, namespace, pod_name, container, tail_lines=20, limit_bytes=4096):
            self.calls.append(('log', namespace, pod_name, container, tail_lines))
            return 'connecting to db\nERROR: relation "users" already exists\n'

    # a pod of an earlier Job of the same name (another uid) is not shown
    client = Logs([_job('migrate-1', 'Failed', failed=1), pod('migrate-1-abcde', 'u-migrate-1', 3, '2026-12-03T10:00:00Z'),
                   pod('migrate-1-old', 'u-before', 1, '2026-12-03T09:00:00Z')])
    summaries, failures = wait.wait_jobs(client, [client.objects[('Job', 'shop', 'migrate-1')]], timeout=5, workers=1)
    assert summaries == [{'kind': 'Job', 'namespace': 'shop', 'name': 'migrate-1', 'state': 'failed'}]
    assert failures[0].split('\n')[:5] == [
        'Job shop/migrate-1: failed: BackoffLimitExceeded Job has reached the specified backoff limit',
        '  pod migrate-1-abcde: container migrate terminated: Error (exit code 3)',
        '  pod migrate-1-abcde: last 2 log line(s):',
        '    | connecting to db',
        '    | ERROR: relation "users" already exists']
    assert 'migrate-1-old' not in failures[0]
    assert ('log', 'shop', 'migrate-1-abcde', 'migrate', wait.LOG_LINES) in client.calls


def test_jobs_are_waited_for_until_they_finish_or_the_deadline(fake_client, monkeypatch):
    client = fake_client([_job('a'), _job('b', 'Complete')])
    polls = []

    def finish(_seconds):  # the Job completes while the wait sleeps
        polls.append(1)
        client.objects[('Job', 'shop', 'a')] = _job('a', 'Complete')

    monkeypatch.setattr(wait.time, 'sleep', finish)
    summaries, failures = wait.wait_jobs(client, [_job('a'), _job('b', 'Complete')], timeout=30, workers=1)
    assert [s['state'] for s in summaries] == ['complete', 'complete'] and failures == [] and len(polls) == 1
    assert [c for c in client.calls if c[0] == 'get'] == [('get', 'Job', 'shop', 'a')] * 2  # b was already done: never polled
    summaries, failures = wait.wait_jobs(fake_client([_job('c', active=1)]), [_job('c', active=1)], timeout=0, workers=1)
    assert summaries[0]['state'] == 'running'
    assert failures[0].startswith('Job shop/c: not complete within 0s (1 pod(s) active, 0 failed)\n  no pods')


def _api_service(available=None, reason='', message=''):
    service = {'apiVersion': 'apiregistration.k8s.io/v1', 'kind': 'APIService', 'metadata': {'name': 'v1beta1.metrics.k8s.io'}}
    if available is not None:
        service['status'] = {'conditions': [{'type': 'Available', 'status': available, 'reason': reason, 'message': message}]}
    return service


def test_api_services_are_waited_for_until_available(fake_client, monkeypatch):
    monkeypatch.setattr(wait, 'WAIT_POLL_SECONDS', 0)

    class Coming(fake_client):
        def get(self, kind, namespace, name):
            live = super().get(kind, namespace, name)
            if len([c for c in self.calls if c[0] == 'get']) >= 3:
                live['status'] = {'conditions': [{'type': 'Available', 'status': 'True'}]}
            return live

    client = Coming([_api_service('False', 'MissingEndpoints', 'endpoints for service/metrics-server in "kube-system" have no addresses')])
    assert wait.wait_api_services(client, [_api_service()], timeout=30, workers=1) == []
    assert len([c for c in client.calls if c[0] == 'get']) == 3


def test_an_api_service_not_available_by_the_deadline_is_explained(fake_client):
    unavailable = _api_service('False', 'FailedDiscoveryCheck', 'failing or missing response from https://10.244.2.2:10250')
    client = fake_client([unavailable])
    assert wait.wait_api_services(client, [_api_service()], timeout=0) == [
        'APIService v1beta1.metrics.k8s.io: not Available (FailedDiscoveryCheck: failing or missing response from https://10.244.2.2:10250)']
    assert wait.wait_api_services(fake_client([_api_service()]), [_api_service()], timeout=0) == [
        'APIService v1beta1.metrics.k8s.io: not Available (no condition yet: the API server has not checked it yet)']
    assert not wait.api_service_available(_api_service('Unknown'))
