# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paths, credential lookup and retries of the small Kubernetes client (no API server needed)."""
from __future__ import annotations

import json
import time

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_client as k8s

KUBECONFIG = '''apiVersion: v1
kind: Config
clusters:
- {name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}
users:
- {name: u, user: {token: abc}}
- {name: v, user: {token: other}}
contexts:
- {name: one, context: {cluster: c, user: u}}
- {name: two, context: {cluster: c, user: v}}
current-context: one
'''


def test_resource_paths():
    assert k8s.resource_path('Deployment', 'shop', 'api') == '/apis/apps/v1/namespaces/shop/deployments/api'
    assert k8s.resource_path('Deployment') == '/apis/apps/v1/deployments'
    assert k8s.resource_path('Namespace', 'ignored', 'shop') == '/api/v1/namespaces/shop'
    assert k8s.resource_path('HorizontalPodAutoscaler', 'a') == '/apis/autoscaling/v2/namespaces/a/horizontalpodautoscalers'
    assert k8s.resource_path('Ingress', 'a', 'b') == '/apis/networking.k8s.io/v1/namespaces/a/ingresses/b'


def test_kubeconfig_lookup_order(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('K8S_AUTH_KUBECONFIG', raising=False)
    monkeypatch.delenv('KUBECONFIG', raising=False)
    assert k8s.find_kubeconfig() is None
    (tmp_path / '.kube').mkdir()
    (tmp_path / '.kube' / 'config').write_text(KUBECONFIG)
    assert k8s.find_kubeconfig() == str(tmp_path / '.kube' / 'config')
    monkeypatch.setenv('K8S_AUTH_KUBECONFIG', '/from/env')
    assert k8s.find_kubeconfig() == '/from/env'
    assert k8s.find_kubeconfig('/param') == '/param'


def test_kubeconfig_env_is_read_after_k8s_auth_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('K8S_AUTH_KUBECONFIG', raising=False)
    (tmp_path / 'kc').write_text(KUBECONFIG)
    monkeypatch.setenv('KUBECONFIG', str(tmp_path / 'kc'))
    assert k8s.find_kubeconfig() == str(tmp_path / 'kc')
    monkeypatch.setenv('K8S_AUTH_KUBECONFIG', '/from/env')
    assert k8s.find_kubeconfig() == '/from/env'


def test_client_uses_the_context_and_token(tmp_path, monkeypatch):
    pytest.importorskip('kubernetes')
    for name in ('K8S_AUTH_HOST', 'K8S_AUTH_API_KEY', 'K8S_AUTH_CONTEXT', 'K8S_AUTH_KUBECONFIG'):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / 'kc'
    path.write_text(KUBECONFIG)
    client = k8s.Client(str(path))
    assert client.host == 'https://127.0.0.1:1'
    assert client._headers(None)['Authorization'] == 'Bearer abc'  # pylint: disable=protected-access
    monkeypatch.setenv('K8S_AUTH_CONTEXT', 'two')
    assert k8s.Client(str(path))._headers(None)['Authorization'] == 'Bearer other'  # pylint: disable=protected-access


def test_missing_kubeconfig_says_what_to_do(tmp_path):
    pytest.importorskip('kubernetes')
    with pytest.raises(k8s.K8sError, match='does not exist: set kubeconfig'):
        k8s.Client(str(tmp_path / 'nope'))


def test_unreachable_server_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip('kubernetes')
    monkeypatch.delenv('K8S_AUTH_CONTEXT', raising=False)
    path = tmp_path / 'kc'
    path.write_text(KUBECONFIG)
    client = k8s.Client(str(path), timeout=2, retry_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(k8s.K8sError, match='cannot reach the Kubernetes API at https://127.0.0.1:1') as err:
        client.get('Namespace', None, 'default')
    assert 'sent again with backoff for retry_seconds=0.5' in str(err.value)
    assert client.retries >= 2 and client.outages == []  # refused, sent again, never answered
    assert time.monotonic() - started < 5
    # the outage has lasted retry_seconds: the next request is sent once (no second wait per object)
    started = time.monotonic()
    with pytest.raises(k8s.K8sError):
        client.get('Namespace', None, 'kube-system')
    assert time.monotonic() - started < 0.5


class FakeResponse:
    def __init__(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        self.status, self.reason, self.headers = status, 'reason', headers or {}
        self.data = json.dumps(body if body is not None else {}).encode()


class FakePool:
    """Answers from a script: a response, or an exception to raise; records what was sent."""

    def __init__(self, script: list) -> None:
        self.script, self.sent = list(script), []

    def request(self, method, url, **kwargs):
        self.sent.append((method, url, kwargs.get('retries')))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def _client(tmp_path, monkeypatch, script: list, retry_seconds: float = 10) -> k8s.Client:
    pytest.importorskip('kubernetes')
    monkeypatch.delenv('K8S_AUTH_CONTEXT', raising=False)
    path = tmp_path / 'kc'
    path.write_text(KUBECONFIG)
    client = k8s.Client(str(path), retry_seconds=retry_seconds)
    client.pool = FakePool(script)
    monkeypatch.setattr(k8s.time, 'sleep', lambda seconds: client.pool.sent.append(('sleep', round(seconds, 2), None)))
    return client


def test_an_api_server_that_restarts_throttles_or_changes_etcd_leader_is_waited_out(tmp_path, monkeypatch):
    urllib3 = pytest.importorskip('urllib3')
    refused = urllib3.exceptions.NewConnectionError(None, 'Connection refused')
    reset = urllib3.exceptions.ProtocolError('Connection aborted.', ConnectionResetError(104, 'reset'))
    ok = FakeResponse(200, {'metadata': {'name': 'default'}})
    client = _client(tmp_path, monkeypatch, [
        refused, reset, FakeResponse(503, {'message': 'apiserver is shutting down'}),
        FakeResponse(429, {'message': 'too many requests'}, {'Retry-After': '1'}),
        FakeResponse(500, {'message': 'etcdserver: leader changed'}), ok])
    assert client.get('Namespace', None, 'default') == {'metadata': {'name': 'default'}}
    waits = [step[1] for step in client.pool.sent if step[0] == 'sleep']
    assert waits == [0.2, 0.4, 0.8, 1.6, 2.0]  # doubling, Retry-After (1 s) below the pause, 2 s at most
    assert all(step[2] is False for step in client.pool.sent if step[0] != 'sleep')  # urllib3 itself never retries
    assert client.retries == 5
    assert len(client.outages) == 1 and client.outages[0][1:] == ('HTTP 500', 5)
    # a Retry-After longer than the pause is honoured
    client = _client(tmp_path, monkeypatch, [FakeResponse(429, {}, {'Retry-After': '3'}), ok])
    client.get('Namespace', None, 'default')
    assert [step[1] for step in client.pool.sent if step[0] == 'sleep'] == [3.0]


def test_answers_that_do_not_pass_are_not_sent_again(tmp_path, monkeypatch):
    urllib3 = pytest.importorskip('urllib3')
    for answer, status in ((FakeResponse(500, {'message': 'Internal error occurred: failed calling webhook'}), 500),
                           (FakeResponse(422, {'message': 'Deployment.apps "a" is invalid'}), 422),
                           (FakeResponse(403, {'message': 'forbidden'}), 403)):
        client = _client(tmp_path, monkeypatch, [answer])
        with pytest.raises(k8s.K8sError) as err:
            client.get('Namespace', None, 'default')
        assert err.value.status == status and len(client.pool.sent) == 1 and 'retry_seconds' not in str(err.value)
    bad_cert = urllib3.exceptions.SSLError('[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')
    client = _client(tmp_path, monkeypatch, [bad_cert])
    with pytest.raises(k8s.K8sError, match='CERTIFICATE_VERIFY_FAILED'):
        client.get('Namespace', None, 'default')
    assert len(client.pool.sent) == 1


def test_an_outage_longer_than_retry_seconds_fails_with_the_last_answer(tmp_path, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(k8s.time, 'monotonic', lambda: clock[0])
    client = _client(tmp_path, monkeypatch, [FakeResponse(503, {'message': 'unavailable'})] * 6 + [FakeResponse(200, {})], retry_seconds=5)

    def sleep(seconds):
        client.pool.sent.append(('sleep', seconds, None))
        clock[0] += seconds
    monkeypatch.setattr(k8s.time, 'sleep', sleep)
    with pytest.raises(k8s.K8sError) as err:
        client.apply({'kind': 'ConfigMap', 'apiVersion': 'v1', 'metadata': {'name': 'a', 'namespace': 'n'}})
    assert err.value.status == 503
    assert 'unavailable (still failing 5s after the first failure; sent again with backoff for retry_seconds=5)' in str(err.value)
    assert [step[1] for step in client.pool.sent if step[0] == 'sleep'] == [0.2, 0.4, 0.8, 1.6, pytest.approx(2.0)]  # the last: what is left
    assert client.get('ConfigMap', 'n', 'a') == {}  # the next answer ends the outage: it is recorded
    assert client.outages == [(5.0, 'HTTP 503', 5)]


def test_an_answer_to_a_request_sent_before_the_outage_began_does_not_end_it(tmp_path, monkeypatch):
    """Workers share the client: one's request is under way when the server dies, another's fails and starts the outage,
    then the first one's answer arrives. That answer says nothing about the server now: the outage goes on until a
    request sent after it began is answered (the integration test of api faults saw a 0.0 s outage then the real one)."""
    clock = [100.0]
    monkeypatch.setattr(k8s.time, 'monotonic', lambda: clock[0])
    client = _client(tmp_path, monkeypatch, [])

    def in_flight():
        """The answer to a request sent at 100.0, arriving after another worker's request found no answer at 100.5
        (what _send does for it: the outage begins, that worker waits to send again)."""
        clock[0] = 100.5
        assert client._retry_wait('no answer (NewConnectionError)', 0.2) == 0.2  # pylint: disable=protected-access
        return FakeResponse(200, {})
    client.pool.script = [in_flight, FakeResponse(200, {})]
    client.pool.request = _scripted(client.pool)
    assert client.get('Namespace', None, 'mine') == {}
    assert client.outages == [], 'ended by an answer sent before it began'
    clock[0] = 103.0
    assert client.get('Namespace', None, 'later') == {}  # sent after the outage began: ends it
    assert client.outages == [(2.5, 'no answer (NewConnectionError)', 1)]


def _scripted(pool):
    """pool.request where a callable step is called for the answer (so it can act as another thread meanwhile)."""
    def request(method, url, **kwargs):
        pool.sent.append((method, url, kwargs.get('retries')))
        step = pool.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step() if callable(step) else step
    return request


def test_retry_seconds_zero_sends_each_request_once(tmp_path, monkeypatch):
    client = _client(tmp_path, monkeypatch, [FakeResponse(503, {'message': 'unavailable'})], retry_seconds=0)
    with pytest.raises(k8s.K8sError, match='unavailable$'):
        client.get('Namespace', None, 'default')
    assert len(client.pool.sent) == 1


def test_readiness_names_the_failed_checks(tmp_path, monkeypatch):
    text = '[+]ping ok\n[-]etcd failed: reason withheld\n[+]informer-sync ok\n[-]etcd-readiness failed: reason withheld\nreadyz check failed'

    class Text(FakeResponse):
        def __init__(self, status, body):
            super().__init__(status)
            self.data = body.encode()

    client = _client(tmp_path, monkeypatch, [Text(500, text), Text(200, 'ok'), Text(403, 'forbidden'), Text(500, 'no detail')])
    assert client.readiness() == ['etcd', 'etcd-readiness']
    assert client.readiness() == []
    assert client.readiness() == []  # credentials that may not ask: cannot tell, the requests will
    assert client.readiness() == ['readyz: HTTP 500']
    assert client.pool.sent[0][1].endswith('/readyz?verbose')
