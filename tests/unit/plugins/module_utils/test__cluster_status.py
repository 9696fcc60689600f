# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status report (module cluster_status) from an in-memory cluster; the same against a real API server in
tests/integration/test_cluster_status.py."""
from __future__ import annotations

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _cluster_status as cs
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError


def _node(name, ready='True', pressure=None, cordoned=False, role=None):
    conditions = [{'type': 'Ready', 'status': ready, 'reason': 'KubeletReady' if ready == 'True' else 'NodeStatusUnknown',
                   'message': 'kubelet is posting ready status' if ready == 'True' else 'Kubelet stopped posting node status.'}]
    if pressure:
        conditions.append({'type': pressure, 'status': 'True', 'reason': 'KubeletHas' + pressure, 'message': 'kubelet has ' + pressure})
    labels = {'kubernetes.io/hostname': name}
    if role:
        labels['node-role.kubernetes.io/%s' % role] = ''
    return {'kind': 'Node', 'metadata': {'name': name, 'labels': labels}, 'spec': {'unschedulable': True} if cordoned else {},
            'status': {'conditions': conditions, 'nodeInfo': {'kubeletVersion': 'v1.37.2'},
                       'allocatable': {'cpu': '2', 'memory': '4Gi'}}}


def _pod(name, namespace='demo', ready=True, restarts=0, waiting=None, last_exit=None, phase='Running', node='w1'):
    status = {'name': 'app', 'ready': ready, 'restartCount': restarts,
              'state': {'waiting': {'reason': waiting, 'message': 'back-off 40s restarting failed container'}} if waiting else {'running': {}}}
    if last_exit:
        status['lastState'] = {'terminated': {'reason': 'Error', 'exitCode': last_exit, 'finishedAt': '2026-12-03T15:00:00Z'}}
    return {'kind': 'Pod', 'metadata': {'name': name, 'namespace': namespace}, 'spec': {'nodeName': node},
            'status': {'phase': phase, 'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}],
                       'containerStatuses': [status]}}


def _deploy(name, set_name, replicas=2, available=2, namespace='demo'):
    labels = {'kubeseed.io/set': set_name} if set_name else {}
    return {'kind': 'Deployment', 'metadata': {'name': name, 'namespace': namespace, 'labels': labels}, 'spec': {'replicas': replicas},
            'status': {'availableReplicas': available, 'updatedReplicas': replicas}}


@pytest.fixture
def cluster(fake_client):
    class Cluster(fake_client):
        metrics = None
        logs: dict = {}

        def request(self, method, path, query=None, body=None, content_type=None):
            self._call('request', (method, path))
            if self.metrics is None:
                raise K8sError('GET %s: 404 the server could not find the requested resource' % path, 404)
            return 200, {'items': self.metrics.get(path.rsplit('/', 1)[1], [])}

        def log(self, namespace, pod, container, tail_lines=20, limit_bytes=4096, previous=False):
            self._call('log', (namespace, pod, container, previous))
            if (namespace, pod) not in self.logs:
                raise K8sError('GET log of pod %s/%s: 404 not found' % (namespace, pod), 404)
            return '\n'.join(self.logs[(namespace, pod)].split('\n')[-tail_lines:]) + '\n'
    return Cluster


def test_a_healthy_cluster_without_metrics(cluster):
    client = cluster([_node('cp1', role='control-plane'), _node('w1'), _pod('web-1'), _pod('web-2', node='w2'),
                      _pod('migrate-x', ready=False, phase='Succeeded'), _deploy('web', 'demo'), _deploy('coredns', None)])
    status = cs.gather(client, [])
    assert status['healthy'] and not status['metrics']
    assert [(n['name'], n['ready'], n['roles'], n['problems']) for n in status['nodes']] == [
        ('cp1', 'True', ['control-plane'], []), ('w1', 'True', [], [])]
    assert status['pods'] == {'total': 3, 'not_ready': [], 'restarted': []}
    assert status['sets'] == [{'set': 'demo', 'deployments': [{'namespace': 'demo', 'name': 'web', 'replicas': 2, 'available': 2, 'updated': 2}]}]
    lines = cs.report(status)
    assert lines[0] == 'cluster: healthy; 2 of 2 node(s) Ready, 0 of 3 pod(s) not Ready; no metrics API (resource use needs the metrics_server add-on)'
    assert lines[1].split() == ['NODE', 'READY', 'ROLES', 'VERSION', 'PROBLEMS']
    assert lines[2].split() == ['cp1', 'True', 'control-plane', 'v1.37.2', '-']
    assert lines[-1] == 'set demo: 1 of 1 Deployment(s) available: demo/web 2/2'
    assert not [c for c in client.calls if c[0] == 'log']  # nothing to explain: no log read


def test_a_crashing_pod_is_explained_with_its_reasons_events_and_previous_log(cluster):
    crashing = _pod('api-1', ready=False, restarts=4, waiting='CrashLoopBackOff', last_exit=2)
    event = {'kind': 'Event', 'metadata': {'name': 'api-1.1', 'namespace': 'demo'}, 'type': 'Warning', 'reason': 'BackOff',
             'message': 'Back-off restarting failed container app', 'lastTimestamp': '2026-12-03T15:00:01Z',
             'involvedObject': {'kind': 'Pod', 'name': 'api-1'}}
    client = cluster([_node('w1'), _node('w2', ready='Unknown', pressure='DiskPressure', cordoned=True), crashing, event,
                      _pod('web-1', restarts=1, last_exit=137), _deploy('api', 'demo', available=1)])
    client.logs = {('demo', 'api-1'): 'starting\nflag provided but not defined: -nope  \nusage: demo serve'}
    status = cs.gather(client, [], log_lines=2)
    assert not status['healthy']
    w2 = status['nodes'][1]
    assert w2['problems'] == ['Ready=Unknown NodeStatusUnknown: Kubelet stopped posting node status.',
                              'DiskPressure KubeletHasDiskPressure: kubelet has DiskPressure', 'cordoned (unschedulable)']
    explained = status['pods']['not_ready'][0]
    assert explained['reasons'] == ['container app waiting: CrashLoopBackOff back-off 40s restarting failed container',
                                    'container app last exit: Error (exit code 2, 4 restarts)']
    assert explained['events'] == ['event Warning BackOff Pod/api-1: Back-off restarting failed container app']
    assert explained['log_of'] == 'container app (previous run)'
    assert explained['log'] == ['flag provided but not defined: -nope  ', 'usage: demo serve']  # as logged
    assert ('log', 'demo', 'api-1', 'app', True) in client.calls  # the previous run's log: the current one is empty while it waits
    assert status['pods']['restarted'] == [{'namespace': 'demo', 'name': 'web-1', 'node': 'w1', 'restarts': 1,
                                            'last_exit': 'app Error (exit code 137) at 2026-12-03T15:00:00Z'}]
    text = '\n'.join(cs.report(status))
    assert text.startswith('cluster: NOT HEALTHY; 1 of 2 node(s) Ready, 1 of 2 pod(s) not Ready')
    assert 'pod demo/api-1 not Ready on w1, 4 restart(s):' in text
    assert '    last 2 log line(s) of container app (previous run):\n      | flag provided but not defined: -nope\n      | usage: demo serve' in text
    assert '  demo/web-1: 1 restart(s), last app Error (exit code 137)' in text
    assert 'set demo: 0 of 1 Deployment(s) available: demo/api 1/2' in text


def test_a_log_that_cannot_be_read_and_namespaces(cluster):
    client = cluster([_node('w1'), _pod('api-1', ready=False, waiting='ContainerCreating'), _pod('other', namespace='shop', ready=False)])
    status = cs.gather(client, ['demo'])
    assert [p['name'] for p in status['pods']['not_ready']] == ['api-1']  # shop is not asked for
    assert status['pods']['not_ready'][0]['log_of'] == 'container app'  # never ran before: its current log
    assert status['pods']['not_ready'][0]['log'] == ['its log could not be read: GET log of pod demo/api-1: 404 not found']


def test_resource_use_from_the_metrics_api(cluster):
    client = cluster([_node('w1'), _pod('web-1', restarts=1, last_exit=1)])
    client.metrics = {'nodes': [{'metadata': {'name': 'w1'}, 'usage': {'cpu': '182400000n', 'memory': '748576Ki'}}],
                      'pods': [{'metadata': {'name': 'web-1', 'namespace': 'demo'},
                                'containers': [{'usage': {'cpu': '2000000n', 'memory': '8Mi'}}, {'usage': {'cpu': '1m', 'memory': '4Mi'}}]}]}
    status = cs.gather(client, [])
    assert status['metrics']
    restarted = status['pods']['restarted'][0]
    assert (restarted['cpu'], restarted['memory']) == ('3m', '12Mi')  # its containers summed
    node = status['nodes'][0]
    assert (node['cpu'], node['cpu_percent'], node['memory'], node['memory_percent']) == ('182m', 9, '731Mi', 18)
    lines = cs.report(status)
    assert lines[1].split() == ['NODE', 'READY', 'ROLES', 'VERSION', 'CPU', 'MEMORY', 'PROBLEMS']
    assert lines[2].split() == ['w1', 'True', '-', 'v1.37.2', '182m', '(9%)', '731Mi', '(18%)', '-']
    assert lines[4] == '  demo/web-1: 1 restart(s), last app Error (exit code 1) at 2026-12-03T15:00:00Z; using 3m CPU, 12Mi memory'
