# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm certificates: parsing kubeadm's and crictl's real output, the renewal and restart decisions, the restart and
wait steps with a fake crictl and kubectl, the timer's script, and a real PKI renewed by the bundle's kubeadm."""
from __future__ import annotations

import base64
import datetime
import json
import os
import pathlib
import re
import subprocess
import sys
import time

import jinja2
import pytest
import yaml

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm as kubeadm
from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm_certs as certs
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import ADMIN_CONF

ROOT = pathlib.Path(__file__).resolve().parents[4]
ROLE = ROOT / 'roles' / 'certificates'
NOW = datetime.datetime(2026, 12, 1, 19, 32, 43, tzinfo=datetime.timezone.utc)

# `kubeadm certs check-expiration -o json` of kubeadm v1.37.2 on a fresh PKI (a joined control plane: no super-admin.conf).
CHECK_EXPIRATION = '''{
    "kind": "CertificateExpirationInfo",
    "apiVersion": "output.kubeadm.k8s.io/v1alpha3",
    "certificates": [
        {"name": "admin.conf", "expirationDate": "2027-12-01T19:32:37Z", "residualTime": 31535994, "externallyManaged": false,
         "caName": "ca", "missing": false},
        {"name": "apiserver", "expirationDate": "2026-12-20T19:32:37Z", "residualTime": 1641594, "externallyManaged": false,
         "caName": "ca", "missing": false},
        {"name": "apiserver-etcd-client", "expirationDate": "2027-12-01T19:32:37Z", "residualTime": 31535994,
         "externallyManaged": false, "caName": "etcd-ca", "missing": false},
        {"name": "controller-manager.conf", "expirationDate": "2026-11-30T19:32:37Z", "residualTime": 0, "externallyManaged": false,
         "caName": "ca", "missing": false},
        {"name": "front-proxy-client", "expirationDate": "2026-12-05T19:32:37Z", "residualTime": 345594, "externallyManaged": true,
         "caName": "front-proxy-ca", "missing": false},
        {"name": "super-admin.conf", "expirationDate": null, "residualTime": 0, "externallyManaged": false, "missing": true}
    ],
    "certificateAuthorities": [
        {"name": "ca", "expirationDate": "2036-11-28T19:32:37Z", "residualTime": 315359994, "externallyManaged": false, "missing": false},
        {"name": "etcd-ca", "expirationDate": "2026-12-21T19:32:37Z", "residualTime": 1727994, "externallyManaged": false, "missing": false},
        {"name": "front-proxy-ca", "expirationDate": "2036-11-28T19:32:37Z", "residualTime": 315359994, "externallyManaged": true,
         "missing": false}
    ]
}
'''
# What kubeadm prints on stderr (and, for older versions, before the JSON) when the API server does not answer.
FALLBACK = ('[check-expiration] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...\n'
            '[check-expiration] Error reading configuration from the Cluster. Falling back to default configuration\n\n')


def manifest(endpoint: str = '192.0.2.10:6443') -> str:
    """The head of the kube-apiserver manifest kubeadm writes."""
    return ('apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    %s: %s\n  labels:\n    component: kube-apiserver\n'
            '    tier: control-plane\n  name: kube-apiserver\n  namespace: kube-system\nspec:\n  containers:\n  - command:\n'
            '    - kube-apiserver\n    - --advertise-address=192.0.2.10\n' % (certs.ENDPOINT_ANNOTATION, endpoint))


def container(component: str, cid: str, created_ns: int, namespace: str = 'kube-system', state: str = 'CONTAINER_RUNNING') -> dict:
    """One container as `crictl ps --output json` prints it (protobuf JSON: int64 as a string, default values emitted)."""
    return {
        'id': cid, 'podSandboxId': 'sandbox-' + cid, 'metadata': {'name': component, 'attempt': 0},
        'image': {'image': 'sha256:' + 'a' * 64, 'annotations': {}, 'userSpecifiedImage': '', 'runtimeHandler': ''},
        'imageRef': 'sha256:' + 'a' * 64, 'state': state, 'createdAt': str(created_ns),
        'labels': {'io.kubernetes.container.name': component, 'io.kubernetes.pod.name': '%s-cp1' % component,
                   'io.kubernetes.pod.namespace': namespace, 'io.kubernetes.pod.uid': 'uid-' + cid},
        'annotations': {'io.kubernetes.container.hash': '1a2b', 'io.kubernetes.container.restartCount': '0'}, 'imageId': '',
    }


def crictl_json(*containers) -> str:
    return json.dumps({'containers': list(containers)}, indent=2)


# ---------------------------------------------------------------- parsing ----

def test_parse_expiration_reads_kubeadm_json_even_after_its_fallback_message():
    info = certs.parse_expiration(FALLBACK + CHECK_EXPIRATION)
    names = [c['name'] for c in info['certificates']]
    assert names == ['admin.conf', 'apiserver', 'apiserver-etcd-client', 'controller-manager.conf', 'front-proxy-client', 'super-admin.conf']
    apiserver = info['certificates'][1]
    assert apiserver == {'name': 'apiserver', 'expires': datetime.datetime(2026, 12, 20, 19, 32, 37, tzinfo=datetime.timezone.utc),
                         'externally_managed': False, 'missing': False, 'ca': 'ca'}
    assert info['certificates'][-1]['missing'] and info['certificates'][-1]['expires'] is None
    assert [a['name'] for a in info['authorities']] == ['ca', 'etcd-ca', 'front-proxy-ca']


@pytest.mark.parametrize('text, why', [
    ('', 'no JSON'),
    ('Error: unknown flag: --output', 'no JSON'),
    ('{"kind": "Status"}', "'Status', not a CertificateExpirationInfo"),
    ('{"kind": "CertificateExpirationInfo", "certificates": [{"name": "apiserver", "expirationDate": "soon"}]}', 'no valid expirationDate'),
    ('{"kind": "CertificateExpirationInfo", "certificates": [{"expirationDate": "2027-01-01T00:00:00Z"}]}', 'has no name'),
])
def test_parse_expiration_refuses_what_is_not_a_report(text, why):
    with pytest.raises(ValueError, match=re.escape(why)):
        certs.parse_expiration(text)


@pytest.mark.parametrize('value, expected', [
    ('2027-12-01T19:32:37Z', datetime.datetime(2027, 12, 1, 19, 32, 37, tzinfo=datetime.timezone.utc)),
    ('2027-12-01T19:32:37.123456Z', datetime.datetime(2027, 12, 1, 19, 32, 37, tzinfo=datetime.timezone.utc)),
    ('2027-12-01T21:32:37+02:00', datetime.datetime(2027, 12, 1, 19, 32, 37, tzinfo=datetime.timezone.utc)),
    ('2027-12-01T17:32:37-0200', datetime.datetime(2027, 12, 1, 19, 32, 37, tzinfo=datetime.timezone.utc)),
    ('2027-02-30T00:00:00Z', None), ('Dec 01, 2027 19:32 UTC', None), (None, None), (31535994, None),
])
def test_parse_time(value, expected):
    assert certs.parse_time(value) == expected


@pytest.mark.parametrize('seconds, text', [(-5, 'expired'), (0, 'expired'), (3 * 3600, '3h'), (47 * 3600, '47h'),
                                           (364.9 * 86400, '364d'), (729 * 86400, '729d'), (3649 * 86400, '9y')])
def test_residual_reads_like_kubeadm_table(seconds, text):
    assert certs.residual(seconds) == text


def test_api_endpoint_from_the_manifest_annotation():
    assert certs.api_endpoint(manifest()) == '192.0.2.10:6443'
    assert certs.api_endpoint(manifest('"[fd00::10]:6443"')) == '[fd00::10]:6443'
    assert certs.api_endpoint('apiVersion: v1\nkind: Pod\n') is None
    assert certs.api_endpoint('') is None


def test_parse_containers_keeps_running_static_pods_of_kube_system_only():
    text = crictl_json(container('kube-apiserver', 'a1', 100), container('etcd', 'e1', 200),
                       container('etcd', 'w1', 300, namespace='shop'),                     # a workload's container named etcd
                       container('coredns', 'c1', 400),                                     # not a static pod with certificates
                       container('kube-scheduler', 's0', 50, state='CONTAINER_EXITED'))     # an earlier one
    assert certs.parse_containers(text) == {'kube-apiserver': [{'id': 'a1', 'created': 100}], 'etcd': [{'id': 'e1', 'created': 200}]}
    assert certs.parse_containers('{}') == {}
    assert certs.parse_containers(json.dumps({'containers': [dict(container('etcd', 'e2', 5), createdAt=7)]})) == {'etcd': [{'id': 'e2', 'created': 7}]}


# --------------------------------------------------------------- deciding ----

def test_assess_days_left_and_what_is_due():
    report = certs.assess(certs.parse_expiration(CHECK_EXPIRATION), NOW, 30, False, 'cp1')
    rows = {row['name']: row for row in report['certificates']}
    assert rows['admin.conf'] == {'name': 'admin.conf', 'expires': '2027-12-01T19:32:37Z', 'days_left': 364, 'residual': '364d', 'ca': 'ca',
                                  'externally_managed': False, 'missing': False, 'renew': False}
    assert (rows['apiserver']['days_left'], rows['apiserver']['residual'], rows['apiserver']['renew']) == (18, '18d', True)
    # expired a day and 6 s ago: -1 whole day, renewed
    assert (rows['controller-manager.conf']['days_left'], rows['controller-manager.conf']['residual'], rows['controller-manager.conf']['renew']) \
        == (-1, 'expired', True)
    # due, but its CA's key is elsewhere: reported and warned, not renewed
    assert rows['front-proxy-client']['renew'] is False and rows['front-proxy-client']['days_left'] == 3
    assert rows['super-admin.conf'] == {'name': 'super-admin.conf', 'expires': None, 'days_left': None, 'residual': 'missing', 'ca': '',
                                        'externally_managed': False, 'missing': True, 'renew': False}
    assert report['renew'] == ['apiserver', 'controller-manager.conf']
    assert [(a['name'], a['days_left']) for a in report['authorities']] == [('ca', 3649), ('etcd-ca', 19), ('front-proxy-ca', 3649)]
    assert len(report['warnings']) == 2
    external, ca = report['warnings']
    assert 'front-proxy-client on cp1' in external and 'kubeadm cannot renew it' in external
    assert 'certificate authority etcd-ca on cp1 expires 2026-12-21T19:32:37Z (19d)' in ca and 'never renews a CA' in ca
    assert certs.DOCS_CA_ROTATION in ca


def test_assess_renew_all_and_report_only():
    info = certs.parse_expiration(CHECK_EXPIRATION)
    assert certs.assess(info, NOW, 30, True)['renew'] == ['admin.conf', 'apiserver', 'apiserver-etcd-client', 'controller-manager.conf']
    report = certs.assess(info, NOW, 0, False)
    assert report['renew'] == ['controller-manager.conf']  # 0 days: only what has already expired
    assert report['warnings'] == []


def test_the_threshold_is_exact_to_the_second():
    info = {'certificates': [{'name': 'apiserver', 'expires': NOW + datetime.timedelta(days=30), 'externally_managed': False,
                              'missing': False, 'ca': 'ca'},
                             {'name': 'etcd-peer', 'expires': NOW + datetime.timedelta(days=30, seconds=-1), 'externally_managed': False,
                              'missing': False, 'ca': 'etcd-ca'}], 'authorities': []}
    report = certs.assess(info, NOW, 30, False)
    assert report['renew'] == ['etcd-peer']
    assert [row['days_left'] for row in report['certificates']] == [30, 29]


def test_every_certificate_of_kubeadm_is_mapped_to_a_file_and_a_static_pod():
    """The names kubeadm 1.37 renews (its `certs renew --help` list) are all in CERTIFICATES; kubelet.conf is the kubelet's."""
    renewable = ['admin.conf', 'apiserver', 'apiserver-etcd-client', 'apiserver-kubelet-client', 'controller-manager.conf',
                 'etcd-healthcheck-client', 'etcd-peer', 'etcd-server', 'front-proxy-client', 'scheduler.conf', 'super-admin.conf']
    assert sorted(certs.CERTIFICATES) == renewable
    files = certs.component_files('/pki', '/k')
    assert files == {
        'etcd': ['/pki/etcd/peer.crt', '/pki/etcd/server.crt'],
        'kube-apiserver': ['/pki/apiserver.crt', '/pki/apiserver-etcd-client.crt', '/pki/apiserver-kubelet-client.crt',
                           '/pki/front-proxy-client.crt'],
        'kube-controller-manager': ['/k/controller-manager.conf'],
        'kube-scheduler': ['/k/scheduler.conf'],
    }


@pytest.mark.parametrize('names, pods', [
    ([], []),
    (['admin.conf', 'super-admin.conf', 'etcd-healthcheck-client'], []),  # used by no static pod: nothing restarts
    (['scheduler.conf', 'apiserver'], ['kube-apiserver', 'kube-scheduler']),
    (['etcd-peer', 'controller-manager.conf', 'front-proxy-client'], ['etcd', 'kube-apiserver', 'kube-controller-manager']),
    (['admin.conf', 'new-in-kubeadm-1.40'], ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']),  # unknown: all
])
def test_components_for_renewed_certificates(names, pods):
    assert certs.components_for(names) == pods


FILES = certs.component_files('/pki', '/k')


def test_a_static_pod_is_stale_when_its_container_is_older_than_a_certificate_file():
    containers = {'etcd': [{'id': 'e', 'created': 2_000_000_000_000_000_000}],
                  'kube-apiserver': [{'id': 'a', 'created': 1_000_000_000_000_000_000}],
                  'kube-scheduler': [{'id': 's', 'created': 1_500_000_000_000_000_000}]}
    mtimes = {'/pki/etcd/server.crt': 1_900_000_000.0, '/pki/apiserver.crt': 900_000_000.0, '/pki/front-proxy-client.crt': 1_200_000_000.5,
              '/k/scheduler.conf': 1_400_000_000.0, '/k/controller-manager.conf': 1_900_000_000.0}
    # etcd and the scheduler started after their files; the API server before front-proxy-client was rewritten;
    # the controller manager's file is new but it runs no container here (nothing to restart)
    assert certs.stale_components(containers, mtimes, FILES) == ['kube-apiserver']
    assert certs.stale_components(containers, {}, FILES) == []
    # a runtime that gives no creation time never makes a pod restart on every run
    assert certs.stale_components({'kube-apiserver': [{'id': 'a', 'created': 0}]}, mtimes, FILES) == []


def test_restart_plan_is_the_renewed_pods_and_the_stale_ones_that_run():
    running = {pod: [{'id': pod, 'created': 10 ** 19}] for pod in certs.STATIC_PODS if pod != 'etcd'}  # external etcd: no etcd pod
    assert certs.restart_plan([], running, {}, FILES) == []
    assert certs.restart_plan(['etcd-server', 'scheduler.conf'], running, {}, FILES) == ['kube-scheduler']
    stale = dict(running, **{'kube-controller-manager': [{'id': 'old', 'created': 1}]})
    assert certs.restart_plan(['apiserver'], stale, {'/k/controller-manager.conf': 5.0}, FILES) == ['kube-apiserver', 'kube-controller-manager']
    # crictl could not tell what runs: the pods of the renewed certificates, as a prediction
    assert certs.restart_plan(['etcd-server', 'scheduler.conf'], None, {}, FILES) == ['etcd', 'kube-scheduler']


def test_summary_and_diff_show_dates_never_keys():
    report = certs.assess(certs.parse_expiration(CHECK_EXPIRATION), NOW, 30, False)
    lines = certs.summary(report, ['apiserver', 'controller-manager.conf'], ['kube-apiserver', 'kube-controller-manager'], True)
    assert lines[:2] == ['admin.conf: 2027-12-01T19:32:37Z, 364 days left (not renewed)',
                         'apiserver: 2026-12-20T19:32:37Z, 18 days left (would be renewed)']
    assert 'front-proxy-client: 2026-12-05T19:32:37Z, 3 days left (external CA, not renewable)' in lines
    assert 'super-admin.conf: missing (not on this node)' in lines
    assert 'CA etcd-ca: 2026-12-21T19:32:37Z, 19 days left (CAs are never renewed)' in lines
    assert lines[-1] == 'static pods to restart: kube-apiserver, kube-controller-manager'
    predicted = certs.diff(report, ['apiserver'], None)
    assert 'apiserver: 2026-12-20T19:32:37Z\n' in predicted['before'] and 'apiserver: renewed (' in predicted['after']
    assert 'super-admin.conf' not in predicted['before']
    done = certs.diff(report, ['apiserver'], {'apiserver': '2027-12-01T19:40:00Z'})
    assert 'apiserver: 2027-12-01T19:40:00Z\n' in done['after'] and 'admin.conf: 2027-12-01T19:32:37Z\n' in done['after']


# ---------------------------------------------------------------- actions ----

class FakeCri:
    """crictl against a fake node: `stop` ends containers, and the kubelet starts a new one after `delay` more `ps` calls."""

    def __init__(self, containers: dict, delay: int = 1, stop_rc: int = 0, restarts: bool = True):
        self.containers = {pod: list(ids) for pod, ids in containers.items()}
        self.delay, self.stop_rc, self.restarts = delay, stop_rc, restarts
        self.calls, self.pending, self.serial = [], [], 0

    def __call__(self, args):
        self.calls.append(list(args))
        assert args[:2] == ['--runtime-endpoint', kubeadm.CRI_SOCKET]
        if args[2] == 'stop':
            if self.stop_rc:
                return self.stop_rc, '', 'rpc error: code = Unavailable'
            for pod, ids in self.containers.items():
                if set(args[5:]) & set(ids):
                    self.containers[pod] = [i for i in ids if i not in args[5:]]
                    self.pending.append([pod, self.delay])
            return 0, '\n'.join(args[5:]), ''
        assert args[2:] == ['ps', '--output', 'json', '--state', 'running', '--label', 'io.kubernetes.pod.namespace=kube-system']
        for item in self.pending:
            item[1] -= 1
            if item[1] < 0 and self.restarts:
                self.serial += 1
                self.containers[item[0]].append('%s-new%d' % (item[0], self.serial))
        self.pending = [item for item in self.pending if item[1] >= 0 or not self.restarts]
        return 0, crictl_json(*[container(pod, cid, 10 ** 18) for pod, ids in self.containers.items() for cid in ids]), ''

    def stopped(self):
        return [call[5:] for call in self.calls if call[2] == 'stop']


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_restart_stops_each_pod_in_order_and_waits_for_its_new_container():
    cri, clock = FakeCri({'etcd': ['e1'], 'kube-apiserver': ['a1'], 'kube-scheduler': ['s1']}, delay=2), Clock()
    before = certs.parse_containers(cri(certs.crictl_ps_args())[1])
    done = certs.restart(cri, ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'], before, 60, 'cp1', clock, clock.sleep)
    assert done == ['etcd', 'kube-apiserver', 'kube-scheduler']  # the controller manager runs no container: the kubelet starts it
    assert cri.stopped() == [['e1'], ['a1'], ['s1']]
    assert [c[2:5] for c in cri.calls if c[2] == 'stop'][0] == ['stop', '--timeout', str(certs.STOP_GRACE_SECONDS)]
    assert cri.containers == {'etcd': ['etcd-new1'], 'kube-apiserver': ['kube-apiserver-new2'], 'kube-scheduler': ['kube-scheduler-new3']}
    assert clock.now == 3 * 2 * certs.POLL_SECONDS


def test_restart_fails_clearly_when_the_kubelet_does_not_start_the_pod_again():
    cri, clock = FakeCri({'etcd': ['e1'], 'kube-apiserver': ['a1']}, restarts=False), Clock()
    before = certs.parse_containers(cri(certs.crictl_ps_args())[1])
    with pytest.raises(certs.CertsError) as failed:
        certs.restart(cri, ['etcd', 'kube-apiserver'], before, 10, 'cp1', clock, clock.sleep)
    message = str(failed.value)
    assert message.startswith('etcd on cp1 was stopped to load its renewed certificates, and the kubelet did not start it again within 10s')
    assert 'journalctl -u kubelet' in message and 're-run' in message
    assert failed.value.result == {'restarted': []} and cri.stopped() == [['e1']]  # the API server was not touched
    assert 10 <= clock.now <= 10 + certs.POLL_SECONDS


def test_restart_fails_clearly_when_crictl_cannot_stop():
    cri, clock = FakeCri({'kube-apiserver': ['a1']}, stop_rc=1), Clock()
    with pytest.raises(certs.CertsError, match=r'stopping kube-apiserver on cp1 .* \(crictl stop, exit 1\): rpc error'):
        certs.restart(cri, ['kube-apiserver'], {'kube-apiserver': [{'id': 'a1', 'created': 1}]}, 10, 'cp1', clock, clock.sleep)


def test_wait_ready_asks_this_node_api_server_until_ok():
    answers = [(1, '', 'The connection to the server 192.0.2.10:6443 was refused'), (1, '', 'Error from server (InternalError): etcd'),
               (0, 'ok', '')]
    calls, clock = [], Clock()

    def kubectl(args):
        calls.append(args)
        return answers[len(calls) - 1]
    certs.wait_ready(kubectl, '192.0.2.10:6443', 60, 'cp1', ['kube-apiserver'], clock, clock.sleep)
    assert calls[0] == ['--kubeconfig', ADMIN_CONF, '--server', 'https://192.0.2.10:6443', 'get', '--raw', '/readyz', '--request-timeout', '5s']
    assert len(calls) == 3
    assert certs.readyz_args(None)[:3] == ['--kubeconfig', ADMIN_CONF, 'get']  # no annotation: admin.conf's server


def test_wait_ready_fails_with_the_last_answer():
    clock = Clock()
    with pytest.raises(certs.CertsError) as failed:
        certs.wait_ready(lambda args: (1, '', 'line1\nError from server: etcdserver: request timed out'), '[fd00::10]:6443', 7, 'cp2',
                         ['etcd', 'kube-apiserver'], clock, clock.sleep)
    message = str(failed.value)
    assert message.startswith('the API server on cp2 ([fd00::10]:6443) did not answer /readyz within 7s after the restart of etcd, kube-apiserver')
    assert 'last answer: Error from server: etcdserver: request timed out' in message and 'before touching another control plane' in message


def test_wait_ready_is_a_gate_when_nothing_restarted():
    """A re-run after a failed wait restarts nothing, and must still stop the play while the API server is down."""
    clock = Clock()
    with pytest.raises(certs.CertsError) as failed:
        certs.wait_ready(lambda args: (1, '', 'connection refused'), None, 5, 'cp1', [], clock, clock.sleep)
    message = str(failed.value)
    assert message.startswith('the API server on cp1 (the server of /etc/kubernetes/admin.conf) does not answer /readyz (waited 5s; '
                              'last answer: connection refused). This run restarted nothing on cp1; it stops here')


def test_read_expiration_and_renew_failures_say_what_and_where():
    with pytest.raises(certs.CertsError, match=r'kubeadm certs check-expiration failed on cp1 \(exit 1\): boom\. Is it a kubeadm'):
        certs.read_expiration(lambda args: (1, '', 'boom'), '/pki', 'cp1')
    with pytest.raises(certs.CertsError, match=r'did not report the certificates \(it printed no JSON object\)'):
        certs.read_expiration(lambda args: (0, 'CERTIFICATE  EXPIRES', ''), '/pki', 'cp1')
    calls = []

    def run(args):
        calls.append(args)
        return (1, '', 'error: open /pki/ca.key: no such file') if args[2] == 'scheduler.conf' else (0, 'renewed', '')
    with pytest.raises(certs.CertsError) as failed:
        certs.renew(run, ['apiserver', 'scheduler.conf', 'etcd-peer'], '/pki', 'cp1')
    assert 'kubeadm certs renew scheduler.conf failed on cp1 (exit 1): error: open /pki/ca.key' in str(failed.value)
    assert 'Renewed before it: apiserver.' in str(failed.value) and failed.value.result == {'renewed': ['apiserver']}
    assert calls == [['certs', 'renew', 'apiserver', '--cert-dir', '/pki'], ['certs', 'renew', 'scheduler.conf', '--cert-dir', '/pki']]


# ------------------------------------------------------- the timer's script ----

def _render(template: str, **variables) -> str:
    """A role template rendered like Ansible's template lookup, with the role's defaults (jinja2 and PyYAML are in
    tests/unit/requirements.txt, so `ansible-test units` has them too)."""
    defaults = yaml.safe_load((ROLE / 'defaults' / 'main.yml').read_text(encoding='utf-8'))
    environment = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)  # Ansible's template lookup trims blocks
    return environment.from_string((ROLE / 'templates' / template).read_text(encoding='utf-8')).render(**dict(defaults, **variables))


def test_the_timer_script_follows_the_module_rules():
    """One set of rules: the script names the same static pods in the same order, socket, labels, annotation and kubeconfig."""
    script = _render('kubeseed-certs-renew.sh.j2')
    assert 'for component in %s; do' % ' '.join(certs.STATIC_PODS) in script
    assert kubeadm.CRI_SOCKET in script and ADMIN_CONF in script and certs.APISERVER_MANIFEST in script
    assert '--label %s=kube-system' % certs.POD_NAMESPACE_LABEL in script and '"%s=$1"' % certs.CONTAINER_NAME_LABEL in script
    assert certs.ENDPOINT_ANNOTATION.replace('.', r'\.').replace('/', r'\/') in script
    assert 'stop --timeout %d' % certs.STOP_GRACE_SECONDS in script
    assert 'timeout=300\n' in script


def test_the_timer_day_spreads_the_control_planes():
    groups = {'control_plane': ['cp1', 'cp2', 'cp3']}
    days = [re.search(r'OnCalendar=(.*)', _render('kubeseed-certs-renew.timer.j2', groups=groups, inventory_hostname=host)).group(1)
            for host in ('cp1', 'cp2', 'cp3', 'elsewhere')]
    assert days == ['*-*-01 03:00:00', '*-*-02 03:00:00', '*-*-03 03:00:00', '*-*-01 03:00:00']
    assert 'TimeoutStartSec=1920' in _render('kubeseed-certs-renew.service.j2')


FAKE_CRICTL = r'''#!/bin/sh
# fake crictl: containers are files $STATE/<component> holding ids; stop replaces an id with <id>x (the kubelet's restart)
echo "crictl $*" >> "$STATE/calls"
shift 2  # --runtime-endpoint <socket>
case "$1" in
  ps) for arg; do case "$arg" in io.kubernetes.container.name=*) name=${arg#*=} ;; esac; done
      [ -f "$STATE/$name" ] && cat "$STATE/$name"; exit 0 ;;
  stop) shift 3
        for id; do for f in "$STATE"/etcd "$STATE"/kube-*; do [ -f "$f" ] && sed -i "s/^$id\$/${id}x/" "$f"; done; done ;;
esac
'''


def test_the_timer_script_renews_restarts_in_order_and_waits(tmp_path):
    state, bin_dir = tmp_path / 'state', tmp_path / 'bin'
    state.mkdir()
    bin_dir.mkdir()
    for name, body in (('crictl', FAKE_CRICTL), ('kubeadm', '#!/bin/sh\necho "kubeadm $*" >> "$STATE/calls"\n'),
                       ('kubectl', '#!/bin/sh\necho "kubectl $*" >> "$STATE/calls"\necho ok\n'),
                       ('sleep', '#!/bin/sh\nexit 0\n')):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    for component, ids in (('etcd', 'e1\n'), ('kube-apiserver', 'a1\n'), ('kube-scheduler', 's1\ns2\n')):
        (state / component).write_text(ids)
    (tmp_path / 'kube-apiserver.yaml').write_text(manifest('"[fd00::10]:6443"'))
    script = tmp_path / 'renew'
    script.write_text(_render('kubeseed-certs-renew.sh.j2').replace(certs.APISERVER_MANIFEST, str(tmp_path / 'kube-apiserver.yaml')))
    env = {'PATH': '%s:/usr/bin:/bin' % bin_dir, 'STATE': str(state)}
    result = subprocess.run(['/bin/sh', str(script)], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    calls = (state / 'calls').read_text().splitlines()
    assert calls[0] == 'kubeadm certs renew all'
    assert [c.split(' stop ')[1] for c in calls if ' stop ' in c] == ['--timeout 30 e1', '--timeout 30 a1', '--timeout 30 s1 s2']
    assert calls[-1] == 'kubectl --kubeconfig /etc/kubernetes/admin.conf --server https://[fd00::10]:6443 get --raw /readyz --request-timeout 5s'
    assert 'kube-controller-manager: no running container' in result.stdout
    assert result.stdout.strip().endswith("the API server answers /readyz")
    # a static pod that does not come back fails the service (no new id), within the timeout
    (bin_dir / 'crictl').write_text(FAKE_CRICTL.replace('sed -i', 'true'))
    (state / 'calls').unlink()
    fast = tmp_path / 'renew-fast'
    fast.write_text(script.read_text().replace('timeout=300', 'timeout=0'))
    result = subprocess.run(['/bin/sh', str(fast)], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert 'etcd was stopped to load its renewed certificates and the kubelet did not start it again within 0s' in result.stderr


# ----------------------------------------------------- a real PKI, real kubeadm ----

def _bundle_kubeadm() -> str | None:
    """The offline bundle's kubeadm (tools/bundle/bundle.py path), or None when the bundle was not built."""
    try:
        proc = subprocess.run([sys.executable, str(ROOT / 'tools' / 'bundle' / 'bundle.py'), 'path'], capture_output=True, text=True,
                              timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    path = pathlib.Path(proc.stdout.strip() or '/nonexistent') / 'bin' / 'kubeadm'
    return str(path) if proc.returncode == 0 and os.access(path, os.X_OK) else None


def _openssl_enddate(pem: bytes) -> str:
    return subprocess.run(['openssl', 'x509', '-noout', '-enddate'], input=pem, capture_output=True, check=True).stdout.decode().strip()


def _enddates(etc: pathlib.Path) -> dict:
    """NotAfter of every leaf certificate file and kubeconfig client certificate, read with openssl (not with the code under test)."""
    dates = {}
    for path in sorted((etc / 'pki').rglob('*.crt')):
        dates[str(path.relative_to(etc))] = _openssl_enddate(path.read_bytes())
    for path in sorted(etc.glob('*.conf')):
        data = re.search(r'client-certificate-data:\s*(\S+)', path.read_text()).group(1)
        dates[path.name] = _openssl_enddate(base64.b64decode(data))
    return dates


def test_real_pki_is_reported_and_renewed_by_the_bundle_kubeadm(tmp_path):
    """kubeadm generates a PKI and kubeconfigs in a temp root; check and renew run against it; openssl sees NotAfter move.

    kubeadm reads the kubeconfig files from /etc/kubernetes only, so it runs chrooted into the temp dir (--rootfs, root
    needed): the host's own /etc/kubernetes is never touched. Its API endpoint is 127.0.0.1:1 (refused at once: no traffic).
    """
    binary = _bundle_kubeadm()
    missing = None if binary else 'the offline bundle is not built (make bundle), so there is no kubeadm 1.37.2 to run'
    if binary and os.geteuid() != 0:
        missing = 'needs root: kubeadm --rootfs chroots into the temp PKI'
    if missing:
        if os.environ.get('CI'):
            pytest.fail(missing)
        pytest.skip(missing)
    root = tmp_path / 'root'
    etc = root / 'etc' / 'kubernetes'
    etc.mkdir(parents=True)
    (root / 'kubeadm.yaml').write_text(
        'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint: {advertiseAddress: 192.0.2.10, bindPort: 6443}\n'
        'nodeRegistration: {name: cp1}\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n'
        'kubernetesVersion: v1.37.2\nclusterName: kubeseed\ncontrolPlaneEndpoint: 127.0.0.1:1\n')

    def run(args):
        # --kubeconfig to a file that does not exist: kubeadm then takes its default configuration at once instead of first
        # trying the cluster's (0.4 s per call against the refused endpoint; the certificates are the same either way)
        proc = subprocess.run([binary, *args, '--rootfs', str(root), '--kubeconfig', '/absent.conf'], capture_output=True, text=True,
                              timeout=60, check=False)
        return proc.returncode, proc.stdout, proc.stderr
    for phase in ('certs', 'kubeconfig'):
        proc = subprocess.run([binary, 'init', 'phase', phase, 'all', '--config', '/kubeadm.yaml', '--rootfs', str(root)], capture_output=True,
                              text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
    generated = _enddates(etc)
    assert 'admin.conf' in generated and 'pki/apiserver.crt' in generated

    info = certs.read_expiration(run, certs.CERT_DIR, 'cp1')
    report = certs.assess(info, datetime.datetime.now(datetime.timezone.utc), 100000, False, 'cp1')
    assert report['renew'] == sorted(certs.CERTIFICATES)  # every one kubeadm 1.37 manages is found and due
    assert all(not row['missing'] and 364 <= row['days_left'] <= 365 for row in report['certificates'])
    assert [a['name'] for a in report['authorities']] == ['ca', 'etcd-ca', 'front-proxy-ca']
    assert len(report['warnings']) == 3  # every CA has fewer than 100000 days left
    assert certs.assess(info, datetime.datetime.now(datetime.timezone.utc), 30, False)['renew'] == []

    time.sleep(1.1)  # NotAfter has a one-second resolution
    certs.renew(run, report['renew'], certs.CERT_DIR, 'cp1')
    after = {row['name']: row for row in certs.assess(certs.read_expiration(run, certs.CERT_DIR), datetime.datetime.now(datetime.timezone.utc),
                                                      30, False)['certificates']}
    renewed = _enddates(etc)
    for name in certs.CERTIFICATES:
        path = certs.certificate_path(name, str(etc / 'pki'), str(etc))
        key = str(pathlib.Path(path).relative_to(etc))
        assert renewed[key] != generated[key], name  # openssl: NotAfter moved
        assert after[name]['expires'] != {r['name']: r for r in report['certificates']}[name]['expires'], name
    for ca in ('pki/ca.crt', 'pki/etcd/ca.crt', 'pki/front-proxy-ca.crt'):
        assert renewed[ca] == generated[ca]  # CAs are never renewed
    # the renewed files are newer than a container created before the renewal: exactly the pods that load them restart
    files = certs.component_files(str(etc / 'pki'), str(etc))
    mtimes = {path: os.stat(path).st_mtime for paths in files.values() for path in paths}
    running = {pod: [{'id': pod, 'created': int((time.time() - 60) * 1e9)}] for pod in certs.STATIC_PODS}
    assert certs.restart_plan([], running, mtimes, files) == list(certs.STATIC_PODS)
    fresh = {pod: [{'id': pod, 'created': time.time_ns()}] for pod in certs.STATIC_PODS}
    assert certs.restart_plan([], fresh, mtimes, files) == []
