"""Integration tests of the apps half against a real kube-apiserver (tools/localcp), driven through ansible-playbook.

The control plane has no kubelet: Deployments and ReplicaSets are created by the real controllers, pods stay
Pending. Tests therefore apply with ``wait: false``, except the one that asserts the rollout-timeout report.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'localcp'))

from pytest_localcp import kubeseed_control_plane  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


@pytest.fixture(scope='session')
def collections_path(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A collections path where kubeseed.cluster is this checkout (independent of `make link`)."""
    base = tmp_path_factory.mktemp('collections')
    (base / 'ansible_collections' / 'kubeseed').mkdir(parents=True)
    (base / 'ansible_collections' / 'kubeseed' / 'cluster').symlink_to(ROOT)
    return base


@pytest.fixture(scope='session')
def api(kubeseed_control_plane):  # noqa: F811  pylint: disable=redefined-outer-name
    """The kubernetes client on the local control plane (to look at and to tamper with the cluster)."""
    from kubernetes import config  # pylint: disable=import-outside-toplevel
    return config.new_client_from_config(str(kubeseed_control_plane.kubeconfig))


class Runner:
    """Runs the microservices module (or the apps playbook) with ansible-playbook and returns its registered result."""

    def __init__(self, workdir: pathlib.Path, collections: pathlib.Path, kubeconfig: pathlib.Path) -> None:
        self.workdir = workdir
        self.collections = collections
        self.kubeconfig = kubeconfig
        self.stdout = ''
        # An explicit inventory file: 'localhost,' in ANSIBLE_INVENTORY is split on the comma and the empty
        # second entry would make the working directory an inventory directory (whose executables get run).
        self.inventory = workdir / 'inventory.ini'
        self.inventory.write_text('localhost ansible_connection=local\n', encoding='utf-8')

    def _env(self) -> dict:
        env = dict(os.environ)
        env.update({'ANSIBLE_COLLECTIONS_PATH': str(self.collections), 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0',
                    'ANSIBLE_CONFIG': str(ROOT / 'ansible.cfg'), 'ANSIBLE_INVENTORY': str(self.inventory),
                    'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_PYTHON_INTERPRETER': sys.executable})
        env.pop('K8S_AUTH_KUBECONFIG', None)
        return env

    def module(self, *flags: str, **args) -> dict:
        """The registered result of one kubeseed.cluster.microservices task (its ansible-playbook output: .stdout)."""
        args.setdefault('kubeconfig', str(self.kubeconfig))
        args.setdefault('wait', False)
        out = self.workdir / ('result-%s.json' % uuid.uuid4().hex)
        play = [{'name': 'microservices', 'hosts': 'localhost', 'connection': 'local', 'gather_facts': False, 'tasks': [
            {'name': 'apply', 'kubeseed.cluster.microservices': args, 'register': 'r', 'ignore_errors': True},
            {'name': 'save', 'ansible.builtin.copy': {'content': '{{ r | to_json }}', 'dest': str(out), 'mode': '0600'},
             'check_mode': False, 'diff': False},
        ]}]
        path = self.workdir / ('play-%s.yml' % uuid.uuid4().hex)
        path.write_text(json.dumps(play), encoding='utf-8')
        proc = self.playbook(str(path), *flags)
        assert out.exists(), proc.stdout + proc.stderr
        self.stdout = proc.stdout
        return json.loads(out.read_text(encoding='utf-8'))

    def playbook(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), *args], cwd=self.workdir, env=self._env(),
                              capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope='session')
def run(kubeseed_control_plane, collections_path, tmp_path_factory) -> Runner:  # noqa: F811  pylint: disable=redefined-outer-name
    return Runner(tmp_path_factory.mktemp('plays'), collections_path, kubeseed_control_plane.kubeconfig)


def exists(read, *args) -> bool:
    """Whether the kubernetes client's read call finds the object (False on 404)."""
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel
    try:
        read(*args)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True
