"""The microservices module while the real kube-apiserver crashes (SIGKILL) and comes back: the outage is waited out
(retry_seconds) and reported, or, when it lasts longer, the run fails naming what was not applied and the next run
converges. On a local control plane of its own (set `faults`, namespace it-faults)."""
from __future__ import annotations

import re
import threading
import time

import pytest
from kubernetes import client, config
from localcp import LocalControlPlane

NS, SET = 'it-faults', 'faults'


@pytest.fixture(scope='module')
def plane(tmp_path_factory):
    """A local control plane of this module's own: its API server and etcd are killed here, and what that leaves (a
    controller manager that exited, watches that went stale after etcd came back) must not reach the other tests."""
    own = LocalControlPlane(tmp_path_factory.mktemp('faults-cp'), tie_to_parent=True)
    own.up()
    yield own
    own.down()


@pytest.fixture(scope='module')
def api(plane):  # pylint: disable=redefined-outer-name
    return config.new_client_from_config(str(plane.kubeconfig))


@pytest.fixture
def run(run, plane):  # pylint: disable=redefined-outer-name
    """The session's runner, its module calls sent to this module's control plane."""
    module = run.module

    def on_plane(*flags, **args):
        args.setdefault('kubeconfig', str(plane.kubeconfig))
        return module(*flags, **args)
    run.module = on_plane
    yield run
    run.module = module


def services(level: str, count: int = 120) -> list:
    # no pods (replicas 0): each change makes 120 new ReplicaSets, and pods for them would keep the shared control plane's
    # controllers busy for minutes after this module (the next tests wait for controllers)
    return [{'name': 'svc%03d' % i, 'image': 'example.com/svc:1', 'replicas': 0, 'ports': [{'port': 80, 'targetPort': 8080}],
             'config': {'LEVEL': level, 'INDEX': str(i)}} for i in range(count)]


def levels(api) -> dict:
    items = client.CoreV1Api(api).list_namespaced_config_map(NS, label_selector='kubeseed.io/set=' + SET).items
    return {item.metadata.name: (item.data or {}).get('LEVEL') for item in items}


def in_background(run, **args) -> tuple:
    """Run the module in a thread: (thread, {'result': ...} once done). The API server is killed and started by the
    test's own thread (localcp ties its components to the thread that starts them)."""
    out = {}
    thread = threading.Thread(target=lambda: out.update(result=run.module(**args)), daemon=True)
    thread.start()
    return thread, out


def kill_when_applying(plane, api, level: str) -> int:
    """Kill the API server as soon as one ConfigMap has the new level (the run is applying); how many had it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            now = levels(api)
        except Exception:  # pylint: disable=broad-except
            now = {}
        applied = sum(value == level for value in now.values())
        if applied:
            plane.kill()
            return applied
        time.sleep(0.05)
    raise AssertionError('the run applied nothing within 120 s')


def test_an_api_server_that_is_down_or_crashes_during_a_run_is_waited_out(run, api, plane):  # pylint: disable=redefined-outer-name
    # down before the run starts, back a few seconds later
    plane.kill()
    thread, out = in_background(run, services=services('info'), namespace=NS, set_name=SET)
    time.sleep(6)
    plane.start()
    thread.join()
    first = out['result']
    assert not first.get('failed'), first.get('msg')
    assert set(o['action'] for o in first['objects']) == {'created'}
    assert len(first['api_outages']) == 1 and first['api_outages'][0]['reason'].startswith('no answer'), first['api_outages']
    assert first['api_outages'][0]['seconds'] > 1
    assert any('failed for a while and was waited out' in w for w in first.get('warnings', [])), first.get('warnings')
    assert set(levels(api).values()) == {'info'} and len(levels(api)) == 120

    # killed while the run applies a change to every service, started again 3 s later
    thread, out = in_background(run, services=services('debug'), namespace=NS, set_name=SET)
    applied = kill_when_applying(plane, api, 'debug')
    time.sleep(3)
    ready = plane.start()
    thread.join()
    second = out['result']
    assert not second.get('failed'), second.get('msg')
    assert second['api_outages'] and second['api_outages'][0]['seconds'] >= 2, second['api_outages']
    assert set(levels(api).values()) == {'debug'}, 'not every ConfigMap was applied'
    print('killed after %d ConfigMaps were applied; API server ready %.1fs after its start; outages %s' % (applied, ready, second['api_outages']))

    third = run.module(services=services('debug'), namespace=NS, set_name=SET)
    assert third['changed'] is False and 'api_outages' not in third


def test_an_outage_longer_than_retry_seconds_fails_naming_the_objects_then_converges(run, api, plane):  # pylint: disable=redefined-outer-name
    run.module(services=services('info'), namespace=NS, set_name=SET)
    thread, out = in_background(run, services=services('warn'), namespace=NS, set_name=SET, retry_seconds=2)
    try:
        kill_when_applying(plane, api, 'warn')
        thread.join()
    finally:
        plane.start()
    failed = out['result']
    assert failed.get('failed') is True
    # which objects are left depends on how far the run got before the kill (on a loaded machine every ConfigMap may be
    # applied before the poll above sees one): the message names objects of the set, whatever their kind
    named = re.search(r'- (ConfigMap|Deployment|Service) it-faults/svc[0-9]{3}:', failed['msg'])
    assert 'could not be applied' in failed['msg'] and named, failed['msg']
    assert 'still failing' in failed['msg'] and 'retry_seconds=2' in failed['msg'], failed['msg']
    assert 'Traceback' not in failed['msg']
    healed = run.module(services=services('warn'), namespace=NS, set_name=SET)
    assert not healed.get('failed'), healed.get('msg')
    assert set(levels(api).values()) == {'warn'}
    assert run.module(services=services('warn'), namespace=NS, set_name=SET)['changed'] is False


def test_etcd_down_fails_fast_saying_so_and_applies_nothing(run, api, plane):  # pylint: disable=redefined-outer-name
    """etcd gone (as when a quorum is lost): every request would hang for a minute; the module asks /readyz first, waits
    retry_seconds for etcd, then fails with what to do. With etcd back the run converges."""
    run.module(services=services('info'), namespace=NS, set_name=SET)
    plane.kill('etcd')
    try:
        started = time.monotonic()
        failed = run.module(services=services('error'), namespace=NS, set_name=SET, retry_seconds=3)
        seconds = time.monotonic() - started
    finally:
        plane.start('etcd')
    assert failed.get('failed') is True and failed['changed'] is False and failed['objects'] == []
    assert 'reports etcd not ready (etcd, etcd-readiness) after 3s: etcd has lost its quorum' in failed['msg'], failed['msg']
    assert 'Nothing was applied' in failed['msg'] and 'playbooks/restore.yml' in failed['msg']
    assert seconds < 40, 'took %.0fs: a request hung instead of the readiness check failing fast' % seconds
    print('etcd down: the run failed after %.1fs (ansible-playbook included)' % seconds)
    healed = run.module(services=services('error'), namespace=NS, set_name=SET)
    assert not healed.get('failed'), healed.get('msg')
    assert set(levels(api).values()) == {'error'}
