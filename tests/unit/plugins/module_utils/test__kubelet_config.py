# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kubelet fields kubeseed manages: what it sets, what it removes (only keys it has owned), what it never touches; and
the node side of module kubelet_config on a real file, with a kubelet stand-in behind a real health endpoint."""
from __future__ import annotations

import http.server
import json
import threading

import pytest
import yaml

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm as kubeadm
from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubelet_config as kc
from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubelet_config_ops as ops

KUBEADM_FILE = {'apiVersion': 'kubelet.config.k8s.io/v1beta1', 'kind': 'KubeletConfiguration', 'cgroupDriver': 'systemd',
                'clusterDNS': ['10.96.0.10'], 'clusterDomain': 'cluster.local', 'staticPodPath': '/etc/kubernetes/manifests',
                'rotateCertificates': True}


def test_fields_are_the_workarounds_then_the_variable_which_wins():
    assert kc.fields(False, False, {}) == {}
    assert kc.fields(True, False, {}) == {'failCgroupV1': False}
    shared = kc.fields(False, True, {})
    assert shared['imageGCHighThresholdPercent'] == 100 and shared['evictionHard']['imagefs.available'] == '0%'
    mine = kc.fields(False, True, {'evictionHard': {'memory.available': '200Mi'}, 'maxPods': 50})
    assert mine['evictionHard'] == {'memory.available': '200Mi'} and mine['maxPods'] == 50
    shared['evictionHard']['nodefs.available'] = '50%'  # a copy: the module's constant is not changed through it
    assert kc.SHARED_DISK_FIELDS['evictionHard']['nodefs.available'] == '0%'
    assert kc.fields(False, False, {}, serving_certificates=True) == {'serverTLSBootstrap': True}
    assert 'serverTLSBootstrap' not in kc.fields(False, False, {})  # off: an owned key, so removed from a running cluster
    assert kc.extra_problems({'serverTLSBootstrap': True}) == [
        'kubeseed_kubelet_config.serverTLSBootstrap: kubeseed does not let this variable set it: set '
        'kubeseed_kubelet_serving_certificates (the approver of the certificates goes with it)']


def test_kubeadm_init_writes_the_same_fields():
    params = {'cgroup_driver': 'systemd', 'cgroup_v1': True, 'shared_disk': False, 'kubelet_config': {'maxPods': 50}}
    config = kubeadm.kubelet_configuration(params)
    assert config['failCgroupV1'] is False and config['maxPods'] == 50 and config['cgroupDriver'] == 'systemd'
    assert 'serverTLSBootstrap' not in config
    assert kubeadm.kubelet_configuration(dict(params, serving_certificates=True))['serverTLSBootstrap'] is True


def test_converge_sets_wanted_removes_only_owned_and_keeps_the_rest():
    live = dict(KUBEADM_FILE, maxPods=200, serializeImagePulls=False, podPidsLimit=100)
    new, changes = kc.converge(live, {'maxPods': 50, 'imageGCHighThresholdPercent': 90}, owned=['maxPods', 'serializeImagePulls'])
    assert new['maxPods'] == 50 and new['imageGCHighThresholdPercent'] == 90
    assert 'serializeImagePulls' not in new  # owned, no longer wanted: removed
    assert new['podPidsLimit'] == 100  # set by someone else: kept
    assert {k: v for k, v in new.items() if k in KUBEADM_FILE} == KUBEADM_FILE
    assert changes == ['imageGCHighThresholdPercent: set to 90', 'maxPods: 200 -> 50',
                       'serializeImagePulls: removed (was false; the kubelet default applies)']
    assert live['maxPods'] == 200  # the input is not changed
    again, none = kc.converge(new, {'maxPods': 50, 'imageGCHighThresholdPercent': 90}, owned=['maxPods', 'serializeImagePulls'])
    assert none == [] and again == new


def test_reserved_and_malformed_keys_are_refused_with_the_variable_to_use():
    problems = kc.extra_problems({'cgroupDriver': 'cgroupfs', 'max-pods': 5, 'maxPods': 5, 'MaxPods': 1})
    assert problems[0].startswith("kubeseed_kubelet_config: 'MaxPods' is not a KubeletConfiguration field name")
    assert any(p.startswith('kubeseed_kubelet_config.cgroupDriver: ') and 'kubeseed_containerd_cgroup_driver' in p for p in problems)
    assert any("'max-pods'" in p for p in problems) and len(problems) == 3
    assert kc.extra_problems({'maxPods': 5, 'evictionHard': {'memory.available': '1Gi'}}) == []
    assert kc.extra_problems(['maxPods']) == ['kubeseed_kubelet_config: must be a mapping of KubeletConfiguration field names to values']


def test_owned_keys_read_from_the_annotation():
    assert kc.owned_keys(None) == [] and kc.owned_keys('') == []
    assert kc.owned_keys('maxPods, failCgroupV1,,maxPods') == ['failCgroupV1', 'maxPods']


# ---------------------------------------------------------------- the node side, on a real file ----

class Failed(Exception):
    pass


class Health(http.server.BaseHTTPRequestHandler):
    answer = 'ok'

    def do_GET(self):  # noqa: N802 - http.server's name
        body = self.answer.encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def healthz():
    server = http.server.HTTPServer(('127.0.0.1', 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    Health.answer = 'ok'


class Module:
    """The parts of AnsibleModule the node side uses; systemctl and journalctl answered by a stand-in kubelet unit."""

    def __init__(self, params, check_mode=False, crash_on=None):
        self.params = dict({'cgroup_v1': False, 'shared_disk': False, 'serving_certificates': False, 'extra': {}, 'owned': [], 'apply': False,
                            'cgroup_driver': '', 'timeout': 10}, **params)
        self.check_mode, self._diff = check_mode, True
        self.calls, self.pid, self.restarts, self.crash_on = [], 100, 0, crash_on

    def run_command(self, argv, **_kwargs):
        self.calls.append(argv[:2])
        if argv[:2] == ['systemctl', 'restart']:
            self.pid += 1
            with open(self.params['path'], encoding='utf-8') as handle:
                crashing = self.crash_on is not None and self.crash_on in handle.read()
            Health.answer = 'crashed' if crashing else 'ok'
            return 0, '', ''
        if argv[:2] == ['systemctl', 'show']:
            return 0, 'MainPID=%d\nNRestarts=%d\n' % (self.pid, self.restarts), ''
        if argv[0] == 'journalctl':
            return 0, 'E invalid configuration: maxPods must not be negative\n', ''
        raise AssertionError(argv)

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])


def _file(tmp_path, server, **extra):
    path = tmp_path / 'config.yaml'
    path.write_text(yaml.safe_dump(dict(KUBEADM_FILE, healthzPort=server.server_address[1], **extra)), encoding='utf-8')
    path.chmod(0o644)
    return path


def test_node_compares_without_changing_then_applies_and_restarts_once(tmp_path, healthz, monkeypatch):
    monkeypatch.setattr(ops, 'SETTLE_SECONDS', 0)
    path = _file(tmp_path, healthz)
    before = path.read_text(encoding='utf-8')
    planned = ops.node(Module({'path': str(path), 'extra': {'maxPods': 50}}))
    assert planned['differs'] and not planned['changed'] and planned['changes'] == ['maxPods: set to 50']
    check = Module({'path': str(path), 'extra': {'maxPods': 50}, 'apply': True}, check_mode=True)
    predicted = ops.node(check)
    assert predicted['changed'] and 'maxPods: 50' in predicted['diff']['after'] and check.calls == []
    assert path.read_text(encoding='utf-8') == before
    module = Module({'path': str(path), 'extra': {'maxPods': 50}, 'apply': True})
    applied = ops.node(module)
    assert applied['changed'] and ['systemctl', 'restart'] in module.calls
    written = yaml.safe_load(path.read_text(encoding='utf-8'))
    assert written['maxPods'] == 50 and written['staticPodPath'] == '/etc/kubernetes/manifests' and oct(path.stat().st_mode & 0o777) == '0o644'
    again = Module({'path': str(path), 'extra': {'maxPods': 50}, 'apply': True})
    assert ops.node(again)['changed'] is False and again.calls == []


def test_a_kubelet_that_does_not_come_back_gets_its_previous_file(tmp_path, healthz, monkeypatch):
    monkeypatch.setattr(ops, 'SETTLE_SECONDS', 0)
    monkeypatch.setattr(ops, 'POLL_SECONDS', 0.2)
    path = _file(tmp_path, healthz)
    before = path.read_text(encoding='utf-8')
    module = Module({'path': str(path), 'extra': {'maxPods': -5}, 'apply': True, 'timeout': 1}, crash_on='maxPods')
    with pytest.raises(Failed) as failed:
        ops.node(module)
    message = str(failed.value)
    assert 'did not come back healthy' in message and 'maxPods: set to -5' in message and 'healthy again' in message
    assert 'maxPods must not be negative' in message
    assert path.read_text(encoding='utf-8') == before
    assert [c for c in module.calls if c == ['systemctl', 'restart']] == [['systemctl', 'restart']] * 2


def test_a_cgroup_driver_change_on_a_node_in_a_cluster_is_refused(tmp_path, healthz, monkeypatch):
    path = _file(tmp_path, healthz)
    with pytest.raises(Failed) as failed:
        ops.node(Module({'path': str(path), 'cgroup_driver': 'cgroupfs'}))
    assert 'runs with cgroupDriver systemd' in str(failed.value) and 'nothing was changed' in str(failed.value)
    assert ops.node(Module({'path': str(path), 'cgroup_driver': 'systemd'}))['differs'] is False
    # not in a cluster yet: nothing to compare, nothing refused (kubeadm writes the file), and no python3-yaml needed (a bare
    # host in check mode does not have it yet)
    monkeypatch.setattr(ops, 'HAS_YAML', False)
    assert ops.node(Module({'path': str(tmp_path / 'absent.yaml'), 'cgroup_driver': 'cgroupfs'}))['changed'] is False
    with pytest.raises(Failed, match='python3-yaml is missing'):
        ops.node(Module({'path': str(path), 'cgroup_driver': 'systemd'}))


def test_reserved_fields_fail_the_module_before_anything(tmp_path, healthz):
    path = _file(tmp_path, healthz)
    with pytest.raises(Failed) as failed:
        ops.node(Module({'path': str(path), 'extra': {'clusterDNS': ['10.0.0.10']}, 'apply': True}))
    assert 'kubeseed_kubelet_config.clusterDNS' in str(failed.value) and 'Nothing was changed' in str(failed.value)
    assert json.loads(json.dumps(yaml.safe_load(path.read_text(encoding='utf-8'))))['clusterDNS'] == ['10.96.0.10']


# ---------------------------------------------------------------- the cluster side, kubectl answered ----

class ClusterModule(Module):
    """kubectl answered from two ConfigMaps: kubeadm's kubelet-config and kubeseed's record (None: not created yet)."""

    def __init__(self, params, config_map, record=None, check_mode=False):
        super().__init__(params, check_mode=check_mode)
        self.objects = {'kubelet-config': config_map, kc.KEYS_CONFIG_MAP: record}
        self.written = []

    def get_bin_path(self, _name):
        return '/usr/local/bin/kubectl'

    def run_command(self, argv, data=None, **_kwargs):
        if argv[3:5] == ['get', 'configmap']:
            found = self.objects[argv[5]]
            return (0, json.dumps(found), '') if found is not None else (1, '', 'Error from server (NotFound): configmaps not found')
        if argv[3] in ('replace', 'create'):
            self.written.append((argv[3], json.loads(data)))
            return 0, '', ''
        raise AssertionError(argv)


def _config_map(config):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'kubelet-config', 'namespace': 'kube-system', 'resourceVersion': '7'},
            'data': {'kubelet': yaml.safe_dump(config)}}


def _record(keys):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': kc.KEYS_CONFIG_MAP, 'namespace': 'kube-system', 'resourceVersion': '9'},
            'data': {'keys': keys}}


def test_cluster_compares_then_writes_fields_and_the_keys_it_owns(tmp_path):
    kubeconfig = tmp_path / 'admin.conf'
    kubeconfig.write_text('apiVersion: v1\n', encoding='utf-8')
    params = {'kubeconfig': str(kubeconfig), 'extra': {'maxPods': 50}}
    live = _config_map(dict(KUBEADM_FILE, serializeImagePulls=False))
    compare = ClusterModule(dict(params), live, _record('serializeImagePulls'))
    compared = ops.cluster(compare)
    assert compared['differs'] and not compared['changed'] and compare.written == []
    assert compared['owned'] == ['maxPods', 'serializeImagePulls']
    write = ClusterModule(dict(params, apply=True), live, _record('serializeImagePulls'))
    written = ops.cluster(write)
    assert written['changed'] and written['changes'] == [
        'maxPods: set to 50', 'serializeImagePulls: removed (was false; the kubelet default applies)',
        'keys kubeseed manages (ConfigMap kube-system/kubeseed-kubelet-config): maxPods,serializeImagePulls']
    (verb, config_map), (record_verb, record) = write.written
    assert verb == 'replace' and config_map['metadata']['resourceVersion'] == '7'  # a concurrent change fails the replace
    assert yaml.safe_load(config_map['data']['kubelet']) == dict(KUBEADM_FILE, maxPods=50)
    assert record_verb == 'replace' and record['metadata']['resourceVersion'] == '9' and record['data'] == {'keys': 'maxPods,serializeImagePulls'}
    settled = ClusterModule(dict(params, apply=True), config_map, record)
    assert ops.cluster(settled)['changed'] is False and settled.written == []


def test_cluster_creates_its_record_after_kubeadm_init_or_after_an_upgrade_rewrote_kubeadm_s_config_map(tmp_path):
    kubeconfig = tmp_path / 'admin.conf'
    kubeconfig.write_text('apiVersion: v1\n', encoding='utf-8')
    fresh = ClusterModule({'kubeconfig': str(kubeconfig), 'cgroup_v1': True, 'apply': True}, _config_map(dict(KUBEADM_FILE, failCgroupV1=False)))
    result = ops.cluster(fresh)
    assert result['changed'] and [verb for verb, _body in fresh.written] == ['create']  # kubeadm's ConfigMap already matches
    assert fresh.written[0][1]['data'] == {'keys': 'failCgroupV1'}


def test_cluster_in_check_mode_before_init_predicts_the_keys_record(tmp_path, monkeypatch):
    monkeypatch.setattr(ops, 'HAS_YAML', False)  # a bare host before role node installed python3-yaml
    before_init = {'kubeconfig': str(tmp_path / 'absent.conf'), 'extra': {}, 'cgroup_v1': True, 'apply': True}
    assert ops.cluster(ClusterModule(dict(before_init), {}, check_mode=True))['changed'] is True
    assert ops.cluster(ClusterModule(dict(before_init, cgroup_v1=False), {}, check_mode=True))['changed'] is False
