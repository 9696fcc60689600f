"""Smoke tests of the local control plane: a real API server with working controllers, and a clean stop."""
from __future__ import annotations

import os
import pathlib
import stat
import subprocess
import sys
import time

import pytest
from kubernetes import client, config

from localcp import COMPONENTS, LocalControlPlane, pid_alive, port_in_use

TOOL = pathlib.Path(__file__).resolve().parents[3] / 'tools' / 'localcp' / 'localcp.py'


def _poll(what: str, check, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f'timed out after {timeout:.0f}s waiting for {what}')
    return None


def test_deployment_gets_a_replicaset(kubeseed_control_plane: LocalControlPlane) -> None:
    api = config.new_client_from_config(str(kubeseed_control_plane.kubeconfig))
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    namespace = 'localcp-smoke'
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    labels = {'app': 'smoke'}
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name='smoke'),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name='main', image='registry.k8s.io/pause:3.10.2')]),
            ),
        ),
    )
    apps.create_namespaced_deployment(namespace, deployment)

    def replicaset():
        items = apps.list_namespaced_replica_set(namespace, label_selector='app=smoke').items
        owned = [rs for rs in items if any(ref.kind == 'Deployment' and ref.name == 'smoke' for ref in rs.metadata.owner_references or [])]
        return owned[0] if owned else None

    rs = _poll('the Deployment controller to create a ReplicaSet', replicaset)
    assert rs.spec.replicas == 1
    # The ReplicaSet controller creates the Pod (it stays Pending: there is no node).
    pods = _poll('the ReplicaSet controller to create a Pod', lambda: core.list_namespaced_pod(namespace, label_selector='app=smoke').items)
    assert pods[0].metadata.owner_references[0].name == rs.metadata.name


def test_a_killed_component_is_started_again_with_the_same_command(tmp_path: pathlib.Path) -> None:
    """kill() (SIGKILL: its port refuses at once), start() and revive() from a second process, as the CLI would: the
    state file keeps every component's pid, so running() and down() still find them all."""
    plane = LocalControlPlane(tmp_path / 'cp')
    plane.up()
    ports = plane.ports
    try:
        other = LocalControlPlane(tmp_path / 'cp')  # another process's view: knows only the state file
        other.kill('kube-apiserver')
        assert not port_in_use(int(plane.ports['apiserver']))
        assert other.start('kube-apiserver') < 60
        fresh = LocalControlPlane(tmp_path / 'cp')
        assert pid_alive(int(fresh.load_state()['pids']['kube-apiserver']), 'kube-apiserver')
        fresh.revive()  # the controller manager may have exited: the API server went away while it started its controllers
        assert fresh.running() and set(fresh.load_state()['pids']) == set(COMPONENTS)
    finally:
        LocalControlPlane(tmp_path / 'cp').down()
    assert not any(port_in_use(int(port)) for port in ports.values())


def test_cli_up_and_down_leave_nothing_behind(tmp_path: pathlib.Path) -> None:
    state = tmp_path / 'cp'
    up = subprocess.run([sys.executable, str(TOOL), 'up', '--dir', str(state)], capture_output=True, text=True, timeout=300, check=False)
    plane = LocalControlPlane(state)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert '[localcp] kube-apiserver ready' in up.stdout
        kubeconfig = pathlib.Path(subprocess.run([sys.executable, str(TOOL), 'kubeconfig', '--dir', str(state)], capture_output=True,
                                                 text=True, timeout=60, check=True).stdout.strip())
        assert stat.S_IMODE(os.stat(kubeconfig).st_mode) == 0o600
        assert plane.running()
        pids = dict(plane.load_state()['pids'])
        ports = dict(plane.load_state()['ports'])
        assert set(pids) == set(COMPONENTS)
        assert all(port_in_use(int(port)) for port in ports.values())
    finally:
        down = subprocess.run([sys.executable, str(TOOL), 'down', '--dir', str(state)], capture_output=True, text=True, timeout=120, check=False)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not any(pid_alive(int(pid), name) for name, pid in pids.items())
    assert not any(port_in_use(int(port)) for port in ports.values())
    assert not (state / 'localcp.json').exists()


def test_components_die_with_a_killed_test_process(tmp_path: pathlib.Path) -> None:
    state = tmp_path / 'cp'
    code = ('import pathlib, sys, time\n'
            f'sys.path.insert(0, {str(TOOL.parent)!r})\n'
            'from localcp import LocalControlPlane\n'
            f'LocalControlPlane(pathlib.Path({str(state)!r}), tie_to_parent=True).up()\n'
            'print("UP", flush=True)\n'
            'time.sleep(600)\n')
    with subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            _poll('the child to start a control plane', lambda: 'UP' in child.stdout.readline(), timeout=180)
            plane = LocalControlPlane(state)
            pids = dict(plane.load_state()['pids'])
            ports = dict(plane.load_state()['ports'])
            assert plane.running()
        finally:
            child.kill()
    _poll('every component to exit after its parent was killed',
          lambda: not any(pid_alive(int(pid), name) for name, pid in pids.items()), timeout=30)
    _poll('the ports to be free', lambda: not any(port_in_use(int(port)) for port in ports.values()), timeout=10)
