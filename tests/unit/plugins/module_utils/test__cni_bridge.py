"""module_utils/_cni_bridge: one node's pod network in one call. The commands (ip, systemctl, the route script, crictl) are
faked here; the e2e (tests/e2e/test_cluster.py) reads the MTU the pods get on the lab and runs pods across nodes, and the
remove-node e2e compares what check mode predicted with what the run changed."""
from __future__ import annotations

import json

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _cni_bridge as cni

LINKS = json.dumps([{'ifname': 'lo', 'mtu': 65536}, {'ifname': 'host0', 'mtu': 1450}])
UNIT = {'LoadState': 'loaded', 'UnitFileState': 'enabled', 'ActiveState': 'active', 'SubState': 'exited',
        'ActiveEnterTimestampMonotonic': '5000000000', 'NeedDaemonReload': 'no'}


class FakeHost:
    def __init__(self, links=LINKS, routes='', cni_status='OK', crictl_rc=0, unit=None):
        self.links, self.routes, self.cni_status, self.crictl_rc = links, routes, cni_status, crictl_rc
        self.unit = dict(unit or UNIT)
        self.calls = []

    def __call__(self, argv):
        self.calls.append(' '.join(argv))
        if argv[0] == 'ip':
            return 0, self.links, ''
        if argv[0] == 'systemctl' and argv[1] == 'show':
            return 0, ''.join('%s=%s\n' % item for item in self.unit.items()), ''
        if argv[0] == cni.ROUTE_SCRIPT:
            return 0, self.routes, ''
        if argv[0] == 'crictl':
            return self.crictl_rc, json.dumps({'lastCNILoadStatus': self.cni_status}), 'connection refused' if self.crictl_rc else ''
        return 0, '', ''


@pytest.fixture(name='paths')
def _paths(tmp_path, monkeypatch):
    monkeypatch.setattr(cni, 'CONFLIST', str(tmp_path / 'net.d' / '10-kubeseed-bridge.conflist'))
    monkeypatch.setattr(cni, 'ROUTE_UNIT_FILE', str(tmp_path / 'kubeseed-pod-routes.service'))
    monkeypatch.setattr(cni, 'ROUTE_SCRIPT', str(tmp_path / 'kubeseed-pod-routes'))
    return tmp_path


def _converge(host, paths, check_mode=False, mtu=0, routes_file='route 10.244.1.0/24 10.0.0.2\n'):
    files = [{'path': cni.ROUTE_SCRIPT, 'content': '#!/bin/sh\n', 'mode': '0755'},
             {'path': cni.ROUTE_UNIT_FILE, 'content': '[Unit]\n'},
             {'path': str(paths / 'pod-routes'), 'content': routes_file}]
    return cni.converge(host, bridge='cni0', mtu=mtu, address='10.0.0.1', pod_range='10.244.2.0/24',
                        directories=[str(paths / 'net.d')], files=files, check_mode=check_mode)


def test_the_configuration_is_valid_json_with_the_interface_mtu_not_the_loopbacks(paths):
    result = _converge(FakeHost(routes='changed: route 10.244.1.0/24 via 10.0.0.2\n'), paths)
    conf = json.loads((paths / 'net.d' / '10-kubeseed-bridge.conflist').read_text())
    assert conf['plugins'][0]['mtu'] == 1450 == result['mtu'] and conf['plugins'][0]['bridge'] == 'cni0'
    assert conf['plugins'][0]['ipam']['ranges'] == [[{'subnet': '10.244.2.0/24'}]]
    assert result['routes'] == ['route 10.244.1.0/24 via 10.0.0.2']
    assert (paths / 'kubeseed-pod-routes').stat().st_mode & 0o777 == 0o755


def test_a_second_call_changes_nothing_and_a_given_mtu_asks_no_interface(paths):
    _converge(FakeHost(), paths, mtu=1400)
    host = FakeHost()
    again = _converge(host, paths, mtu=1400)
    assert again['changed_paths'] == [] and again['unit_actions'] == [] and again['routes'] == [] and again['containerd'] == ''
    assert not any(call.startswith('ip ') for call in host.calls)


def test_check_mode_writes_nothing_and_does_not_run_a_script_a_run_would_first_write(paths):
    host = FakeHost()
    result = _converge(host, paths, check_mode=True)
    assert str(paths / 'pod-routes') in result['changed_paths'] and not (paths / 'pod-routes').exists()
    assert not any(call.startswith(str(paths / 'kubeseed-pod-routes')) or call.startswith('systemctl show') for call in host.calls)
    # once written, check mode runs the script with --check and reads the unit
    _converge(FakeHost(), paths)
    host = FakeHost(routes='changed: route 10.244.3.0/24 via 10.0.0.3\n')
    result = _converge(host, paths, check_mode=True, routes_file='route 10.244.3.0/24 10.0.0.3\n')
    assert '%s --check' % (paths / 'kubeseed-pod-routes') in host.calls and result['routes'] == ['route 10.244.3.0/24 via 10.0.0.3']
    assert (paths / 'pod-routes').read_text() == 'route 10.244.1.0/24 10.0.0.2\n'


def test_containerd_that_has_not_loaded_the_configuration_is_restarted(paths):
    host = FakeHost(cni_status='cni config load failed: no network config found in /etc/cni/net.d')
    result = _converge(host, paths)
    assert result['containerd'].startswith('restart: it has not loaded') and 'systemctl restart containerd' in host.calls
    predicted = FakeHost(cni_status='not loaded')
    assert _converge(predicted, paths, check_mode=True)['containerd'] and 'systemctl restart containerd' not in predicted.calls


def test_no_interface_with_the_address_and_an_unreachable_containerd_fail_with_what_to_do(paths):
    with pytest.raises(cni.CniError, match='no interface has the node address 10.0.0.1; set kubeseed_cni_mtu'):
        _converge(FakeHost(links=json.dumps([{'ifname': 'lo', 'mtu': 65536}])), paths)
    with pytest.raises(cni.CniError, match='crictl info.*is containerd running'):
        _converge(FakeHost(crictl_rc=1), paths)
    assert _converge(FakeHost(crictl_rc=1), paths, check_mode=True)['containerd'] == ''  # check mode: containerd may be stopped


def test_the_text_is_what_the_lab_nodes_carry_today():
    """The file as the role's template wrote it before this module (read from a lab node): no rewrite on upgrade."""
    expected = ('{\n  "cniVersion": "1.0.0",\n  "name": "kubeseed",\n  "plugins": [\n    {\n      "type": "bridge",\n'
                '      "bridge": "cni0",\n      "isGateway": true,\n      "ipMasq": false,\n      "hairpinMode": true,\n'
                '      "mtu": 1500,\n      "ipam": {\n        "type": "host-local",\n        "ranges": [[{"subnet": "10.244.2.0/24"}]],\n'
                '        "routes": [{"dst": "0.0.0.0/0"}]\n      }\n    },\n'
                '    {"type": "portmap", "capabilities": {"portMappings": true}}\n  ]\n}\n')
    assert cni.conflist('cni0', 1500, '10.244.2.0/24') == expected
