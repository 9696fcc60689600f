# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm_certs main() on a fake control plane: kubeadm, crictl and kubectl answer like the real ones, and a renewal
rewrites the certificate file (like kubeadm) so the restart decision sees it.

Check mode predicts what the real run does; the real run renews, restarts and waits; the second run changes nothing;
failures say what, where and what to do, hold no key material and no traceback."""
from __future__ import annotations

import datetime
import json
import os
import time

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm_certs as certs
from ansible_collections.kubeseed.cluster.plugins.modules import kubeadm_certs
from ansible_collections.kubeseed.cluster.tests.unit.plugins.module_utils.test__kubeadm_certs import container, crictl_json, manifest

PRIVATE_KEY = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAm4rk3rPr1v4t3K3yB0dy\n-----END RSA PRIVATE KEY-----\n'
DAY = 86400


def _iso(seconds_from_now: float) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


class Node:
    """A fake control plane: certificate expiry per name, files in tmp, running static pods, a kubelet that restarts them."""

    def __init__(self, tmp_path, monkeypatch, capsys):
        self.tmp, self.capsys = tmp_path, capsys
        self.pki, self.etc = tmp_path / 'pki', tmp_path / 'etc'
        (self.pki / 'etcd').mkdir(parents=True)
        self.etc.mkdir()
        (self.etc / 'kube-apiserver.yaml').write_text(manifest())
        self.bin = tmp_path / 'bin'
        self.bin.mkdir()
        for name in ('kubeadm', 'crictl', 'kubectl'):
            (self.bin / name).write_text('#!/bin/sh\nexit 99\n')
            (self.bin / name).chmod(0o755)
        self.calls, self.returned = [], []
        hour_ago = time.time() - 3600
        self.expiry = {name: _iso(300 * DAY) for name in certs.CERTIFICATES}
        for name in certs.CERTIFICATES:
            path = certs.certificate_path(name, str(self.pki), str(self.etc))
            with open(path, 'w', encoding='utf-8') as handle:
                handle.write('certificate of %s\n' % name)
            os.utime(path, (hour_ago - 60, hour_ago - 60))
        self.ca_expiry = _iso(3000 * DAY)
        self.running = {pod: [('%s-1' % pod, int(hour_ago * 1e9))] for pod in certs.STATIC_PODS}
        self.readyz = [(0, 'ok', '')]
        self.kubeadm_override = {}
        monkeypatch.setattr(certs, 'KUBERNETES_DIR', str(self.etc))
        monkeypatch.setattr(certs, 'APISERVER_MANIFEST', str(self.etc / 'kube-apiserver.yaml'))
        monkeypatch.setattr(certs, 'BIN_DIRS', [str(self.bin)])
        monkeypatch.setattr(certs, 'POLL_SECONDS', 0)
        monkeypatch.setenv('PATH', str(self.bin))
        monkeypatch.setattr(warnings, '_global_warnings', type(warnings._global_warnings)())  # warnings are global to a process
        monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda module, argv, **kwargs: self._run(argv))
        for method in ('fail_json', 'exit_json'):
            monkeypatch.setattr(basic.AnsibleModule, method, self._recording(getattr(basic.AnsibleModule, method), method))

    def _recording(self, original, method):
        def record(module, *args, **kwargs):
            self.returned.append((method, dict(kwargs)))
            return original(module, *args, **kwargs)
        return record

    def _run(self, argv):
        self.calls.append([os.path.basename(argv[0])] + list(argv[1:]))
        tool, args = os.path.basename(argv[0]), list(argv[1:])
        if tool == 'kubeadm':
            return self._kubeadm(args)
        if tool == 'crictl':
            return self._crictl(args)
        if tool == 'kubectl':
            return self.readyz.pop(0) if len(self.readyz) > 1 else self.readyz[0]
        return 1, '', 'unexpected %s' % argv

    def _kubeadm(self, args):
        key = ' '.join(args[:3])
        if key in self.kubeadm_override:
            return self.kubeadm_override[key]
        if args[:2] == ['certs', 'check-expiration']:
            assert args[2:] == ['--cert-dir', str(self.pki), '--output', 'json']
            document = {'kind': 'CertificateExpirationInfo', 'apiVersion': 'output.kubeadm.k8s.io/v1alpha3',
                        'certificates': [{'name': name, 'expirationDate': date, 'residualTime': 1, 'externallyManaged': False,
                                          'caName': 'etcd-ca' if name.startswith('etcd') else 'ca', 'missing': False}
                                         for name, date in sorted(self.expiry.items())],
                        'certificateAuthorities': [{'name': ca, 'expirationDate': self.ca_expiry, 'residualTime': 1,
                                                    'externallyManaged': False, 'missing': False} for ca in ('ca', 'etcd-ca', 'front-proxy-ca')]}
            return 0, json.dumps(document, indent=4), '[check-expiration] Error reading configuration from the Cluster.\n'
        if args[:2] == ['certs', 'renew']:
            name = args[2]
            assert args[3:] == ['--cert-dir', str(self.pki)]
            self.expiry[name] = _iso(365 * DAY)
            path = certs.certificate_path(name, str(self.pki), str(self.etc))
            with open(path, 'w', encoding='utf-8') as handle:
                handle.write('renewed certificate of %s\n' % name)
            return 0, '%s renewed\n' % name, ''
        return 1, '', 'unexpected kubeadm %s' % args

    def _crictl(self, args):
        assert args[:2] == ['--runtime-endpoint', 'unix:///run/containerd/containerd.sock']
        if args[2] == 'ps':
            return 0, crictl_json(*[container(pod, cid, created) for pod, items in self.running.items() for cid, created in items]), ''
        if args[2] == 'stop':
            for pod, items in self.running.items():
                if any(cid in args[5:] for cid, _created in items):
                    self.running[pod] = [('%s-%d' % (pod, len(self.calls)), time.time_ns())]  # the kubelet's new container
            return 0, '', ''
        return 1, '', 'unexpected crictl %s' % args

    def main(self, **args):
        args.setdefault('kubeadm_path', str(self.bin / 'kubeadm'))
        args.setdefault('cert_dir', str(self.pki))
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                kubeadm_certs.main()
        printed = self.capsys.readouterr().out
        return json.loads(printed), printed

    def commands(self, tool, verb):
        return [call for call in self.calls if call[0] == tool and verb in call]


@pytest.fixture
def node(tmp_path, monkeypatch, capsys):
    return Node(tmp_path, monkeypatch, capsys)


def test_nothing_due_changes_nothing(node):
    result, _printed = node.main()
    assert result['changed'] is False and result['renewed'] == [] and result['restarted'] == []
    assert result['msg'].startswith('nothing to renew or restart on ')
    assert result['msg'].endswith(' (no renewable certificate has fewer than 30 days left)')
    assert node.commands('kubeadm', 'renew') == [] and node.commands('crictl', 'stop') == []
    assert len(node.commands('kubectl', 'get')) == 1  # this node's API server answers: the play may move on
    assert len(result['certificates']) == 11 and all(row['days_left'] in (299, 300) for row in result['certificates'])
    assert 'apiserver: ' in result['summary'][1] and '(not renewed)' in result['summary'][1]
    assert 'diff' not in result and 'warnings' not in result


def test_check_mode_predicts_the_real_run_and_the_second_run_changes_nothing(node):
    node.expiry.update({'apiserver': _iso(10 * DAY), 'scheduler.conf': _iso(2 * DAY), 'admin.conf': _iso(-DAY)})
    check, _printed = node.main(_ansible_check_mode=True, _ansible_diff=True)
    assert check['changed'] is True and 'warnings' not in check
    assert check['renewed'] == ['admin.conf', 'apiserver', 'scheduler.conf']
    assert check['restarted'] == ['kube-apiserver', 'kube-scheduler']
    assert check['msg'].startswith('would renew admin.conf, apiserver, scheduler.conf and restart kube-apiserver, kube-scheduler on ')
    assert 'apiserver: renewed (the new expiry is set by kubeadm' in check['diff']['after']
    assert node.commands('kubeadm', 'renew') == [] and node.commands('crictl', 'stop') == []

    real, _printed = node.main(_ansible_diff=True)
    assert real['changed'] is True
    assert real['renewed'] == check['renewed'] and real['restarted'] == check['restarted']
    assert [call[3] for call in node.commands('kubeadm', 'renew')] == ['admin.conf', 'apiserver', 'scheduler.conf']
    assert [call[6:] for call in node.commands('crictl', 'stop')] == [['kube-apiserver-1'], ['kube-scheduler-1']]
    assert node.commands('kubectl', 'get')[0][:5] == ['kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', '--server', 'https://192.0.2.10:6443']
    rows = {row['name']: row for row in real['certificates']}
    assert rows['apiserver']['days_left'] == 9 and rows['apiserver']['days_left_after'] in (364, 365)
    assert rows['admin.conf']['days_left'] == -1 and rows['admin.conf']['residual'] == 'expired'
    assert 'expires_after' not in rows['etcd-peer']
    assert 'apiserver: %s' % rows['apiserver']['expires_after'] in real['diff']['after']
    assert real['summary'][-1] == 'static pods restarted: kube-apiserver, kube-scheduler'

    again, _printed = node.main(_ansible_diff=True)
    assert again['changed'] is False and again['renewed'] == [] and again['restarted'] == []
    assert len(node.commands('kubeadm', 'renew')) == 3 and len(node.commands('crictl', 'stop')) == 2


def test_renew_all_renews_every_one_and_restarts_every_static_pod(node):
    result, _printed = node.main(renew='all')
    assert result['changed'] is True and result['renewed'] == sorted(certs.CERTIFICATES)
    assert result['restarted'] == list(certs.STATIC_PODS)
    assert [call[6:] for call in node.commands('crictl', 'stop')] == [['%s-1' % pod] for pod in certs.STATIC_PODS]


def test_a_pod_still_running_with_older_certificates_is_restarted_without_a_renewal(node):
    """A renewal by hand (or a run that failed before restarting) is completed: the file is newer than the container."""
    os.utime(node.etc / 'controller-manager.conf', None)
    check, _printed = node.main(_ansible_check_mode=True)
    assert check['changed'] is True and check['renewed'] == [] and check['restarted'] == ['kube-controller-manager']
    result, _printed = node.main()
    assert result['changed'] is True and result['renewed'] == [] and result['restarted'] == ['kube-controller-manager']
    assert result['msg'].startswith('renewed nothing and restarted kube-controller-manager on ')
    assert node.main()[0]['changed'] is False


def test_a_ca_close_to_its_expiry_is_a_warning_never_a_renewal(node):
    node.ca_expiry = _iso(20 * DAY)
    result, _printed = node.main()
    assert result['changed'] is False
    assert [json.dumps(warning).count('kubeadm never renews a CA') for warning in result['warnings']] == [1, 1, 1]


def test_without_crictl_nothing_is_renewed_and_the_message_says_what_to_do(node):
    (node.bin / 'crictl').unlink()
    node.expiry['apiserver'] = _iso(DAY)
    result, printed = node.main()
    assert result['failed'] is True
    assert 'cannot restart the static pods on ' in result['msg'] and 'so nothing was renewed: crictl is not installed' in result['msg']
    assert 'Install crictl (the kube_packages role does)' in result['msg']
    assert node.commands('kubeadm', 'renew') == [] and 'Traceback' not in printed and 'exception' not in result
    # in check mode it predicts from the renewals alone, and says why it cannot tell more
    check, _printed = node.main(_ansible_check_mode=True)
    assert check['restarted'] == ['kube-apiserver'] and 'crictl is not installed' in json.dumps(check['warnings'])


def test_a_static_pod_that_does_not_come_back_fails_with_node_component_and_advice(node, monkeypatch):
    node.expiry['etcd-server'] = _iso(DAY)
    monkeypatch.setattr(node, '_crictl', lambda args: (0, crictl_json(), '') if args[2] == 'ps' and node.commands('crictl', 'stop')
                        else Node._crictl(node, args))
    result, printed = node.main(wait_timeout=1)
    assert result['failed'] is True
    assert ' was stopped to load its renewed certificates, and the kubelet did not start it again within 1s' in result['msg']
    assert result['msg'].startswith('etcd on ') and 'journalctl -u kubelet' in result['msg']
    assert result['renewed'] == ['etcd-server'] and result['changed'] is True  # what happened before the failure is reported
    assert 'Traceback' not in printed


def test_an_api_server_that_does_not_answer_fails_clearly(node):
    node.expiry['apiserver'] = _iso(DAY)
    node.readyz = [(1, '', 'The connection to the server 192.0.2.10:6443 was refused - did you specify the right host or port?')]
    result, _printed = node.main(wait_timeout=1)
    assert result['failed'] is True
    assert '(192.0.2.10:6443) did not answer /readyz within 1s after the restart of kube-apiserver' in result['msg']
    assert 'was refused' in result['msg'] and 'before touching another control plane' in result['msg']
    assert result['restarted'] == ['kube-apiserver']
    # the re-run renews and restarts nothing, and still stops the play while the API server does not answer
    again, _printed = node.main(wait_timeout=1)
    assert again['failed'] is True and 'This run restarted nothing on ' in again['msg'] and again['changed'] is False
    assert len(node.commands('crictl', 'stop')) == 1
    node.readyz = [(0, 'ok', '')]
    assert node.main()[0]['changed'] is False


def test_kubeadm_failures_are_redacted_and_have_no_traceback(node):
    node.expiry['apiserver'] = _iso(DAY)
    node.kubeadm_override['certs renew apiserver'] = (1, '', 'error: reading %s\nclient-key-data: c2VjcmV0' % PRIVATE_KEY)
    result, printed = node.main()
    assert result['failed'] is True and result['msg'].startswith('kubeadm certs renew apiserver failed on ')
    assert 'MIIEpAIBAAKCAQEAm4rk3rPr1v4t3K3yB0dy' not in printed and 'BEGIN RSA PRIVATE KEY' not in printed
    assert 'Traceback' not in printed and 'exception' not in result
    node.kubeadm_override['certs check-expiration --cert-dir'] = (0, 'CERTIFICATE   EXPIRES\napiserver   Dec 01, 2027', '')
    result, printed = node.main()
    assert result['failed'] is True and 'did not report the certificates (it printed no JSON object)' in result['msg']
    assert 'kubeadm certs check-expiration --cert-dir %s' % node.pki in result['msg']


def test_an_unexpected_error_is_a_failure_not_a_traceback(node, monkeypatch):
    monkeypatch.setattr(certs, 'parse_expiration', lambda text: {}['certificates'])
    result, printed = node.main()
    assert result['failed'] is True and result['msg'].endswith(": KeyError: 'certificates'")
    assert result['msg'].startswith('kubeadm_certs failed on ')
    assert 'Traceback' not in result['msg']


def test_option_values_are_checked(node):
    result, _printed = node.main(renew_days=-1)
    assert result['failed'] is True and 'renew_days must be 0 or more' in result['msg']
    result, _printed = node.main(renew='some')
    assert result['failed'] is True and 'renew' in result['msg']
    missing = str(node.tmp / 'nope')
    result, _printed = node.main(kubeadm_path=missing)
    assert result['failed'] is True and 'kubeadm was not found on ' in result['msg'] and node.calls == []


def test_check_mode_looks_once_at_the_api_server_and_warns(node):
    node.readyz = [(1, '', 'The connection to the server 192.0.2.10:6443 was refused')]
    result, _printed = node.main(_ansible_check_mode=True, wait_timeout=60)
    assert result['changed'] is False and len(node.commands('kubectl', 'get')) == 1
    assert 'does not answer /readyz now (The connection to the server 192.0.2.10:6443 was refused)' in json.dumps(result['warnings'])
