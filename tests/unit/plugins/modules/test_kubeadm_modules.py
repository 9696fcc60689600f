# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kubeadm modules' main(), run against a fake kubeadm that fails and echoes every secret it can.

Each failure path is run with marker secrets; the kwargs given to fail_json/exit_json (before Ansible's own masking)
and the JSON the module prints must hold no form of them (raw, --token X, token: X, --certificate-key X,
certificateKey: X, base64 of each, a token's secret half). The oracle is tests/e2e/_secrets.py, not the module's code.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm as kubeadm
from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm_ops as ops
from ansible_collections.kubeseed.cluster.plugins.modules import kubeadm_init, kubeadm_join, kubeadm_node_info, kubeadm_token
from ansible_collections.kubeseed.cluster.tests.e2e._secrets import assert_no_secret
from ansible_collections.kubeseed.cluster.tests.unit.plugins.module_utils.test__kubeadm import _der

TOKEN = 'mark3r.s3cr3tm4rk3rv4lu'                      # bootstrap-token shaped marker
CERT_KEY = 'deadbeef' * 8                               # 64-hex certificate-key shaped marker
PRIVATE_KEY_BODY = 'MIIEpAIBAAKCAQEAm4rk3rPr1v4t3K3yB0dy'  # the CA key / a kubeconfig's client key
PRIVATE_KEY = '-----BEGIN RSA PRIVATE KEY-----\n%s\n-----END RSA PRIVATE KEY-----\n' % PRIVATE_KEY_BODY
MARKERS = [TOKEN, CERT_KEY, PRIVATE_KEY_BODY]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def leaky(argv: list, secrets=(TOKEN, CERT_KEY)) -> str:
    """What a failing kubeadm could print: its command line, its config, and every form of the secrets."""
    lines = ['I0101 running: %s' % ' '.join(argv)]
    if '--config' in argv:
        with open(argv[argv.index('--config') + 1], encoding='utf-8') as handle:
            config = handle.read()
        lines += [config, b64(config)]
    for secret in secrets:
        contexts = ['--token %s' % secret, '--token=%s' % secret, 'token: %s' % secret, '"token": "%s"' % secret,
                    '--certificate-key %s' % secret, 'certificateKey: %s' % secret, secret]
        lines += contexts + [b64(context) for context in contexts]
        if kubeadm.TOKEN_PATTERN.fullmatch(secret):
            token_id, token_secret = secret.split('.')
            lines += ['token-id: %s' % b64(token_id), 'token-secret: %s' % b64(token_secret), token_secret]
    lines += [PRIVATE_KEY, 'client-key-data: %s' % b64(PRIVATE_KEY), 'error execution phase: it failed']
    return '\n'.join(lines)


def ca_pem() -> tuple:
    spki = _der(0x30, _der(0x30, _der(0x06, b'\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01') + _der(0x05, b'')) + _der(0x03, b'\x00' + b'k' * 300))
    name = _der(0x30, _der(0x31, _der(0x30, _der(0x06, b'\x55\x04\x03') + _der(0x0c, b'kubernetes'))))
    tbs = _der(0x30, _der(0xA0, _der(0x02, b'\x02')) + _der(0x02, b'\x01') + _der(0x30, _der(0x06, b'\x2a')) + name
               + _der(0x30, _der(0x17, b'260101000000Z') * 2) + name + spki)
    cert = _der(0x30, tbs + _der(0x30, _der(0x06, b'\x2a')) + _der(0x03, b'\x00sig'))
    pem = '-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n' % base64.encodebytes(cert).decode()
    return pem, 'sha256:' + hashlib.sha256(spki).hexdigest()


class Host:
    """The fake host: files that exist, a kubeadm and kubectl in tmp_path, and scripted command results."""

    def __init__(self, tmp_path, monkeypatch, capsys):
        self.tmp, self.capsys = tmp_path, capsys
        self.files = set()
        self.calls, self.returned = [], []
        self.results = {}  # first words after the binary -> (rc, out, err) or a callable(argv)
        self.bin = {}
        for name in ('kubeadm', 'kubectl'):
            path = tmp_path / 'bin' / name
            path.parent.mkdir(exist_ok=True)
            path.write_text('#!/bin/sh\nexit 99\n')
            path.chmod(0o755)
            self.bin[name] = str(path)
        pem, self.ca_hash = ca_pem()
        (tmp_path / 'ca.crt').write_text(pem)
        monkeypatch.setattr(ops, 'CA_CERT', str(tmp_path / 'ca.crt'))
        monkeypatch.setattr(kubeadm, 'host_exists', lambda path: path in self.files)
        monkeypatch.setattr(warnings, '_global_warnings', type(warnings._global_warnings)())  # warnings are global to a process
        monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda module, argv, **kwargs: self._run_command(argv))
        for method in ('fail_json', 'exit_json'):
            monkeypatch.setattr(basic.AnsibleModule, method, self._recording(getattr(basic.AnsibleModule, method), method))

    def _recording(self, original, method):
        def record(module, *args, **kwargs):
            self.returned.append((method, dict(kwargs, msg=args[0]) if args else dict(kwargs)))
            return original(module, *args, **kwargs)
        return record

    def _run_command(self, argv):
        self.calls.append(list(argv))
        for words, answer in self.results.items():
            if argv[1:1 + len(words.split())] == words.split():
                return answer(argv) if callable(answer) else answer
        return 1, '', 'unexpected command %s' % argv

    def main(self, module, **args):
        args.setdefault('kubeadm_path', self.bin['kubeadm'])
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
        printed = self.capsys.readouterr().out
        return json.loads(printed), printed

    def assert_clean(self, printed: str, markers=None, keep=()):
        """No marker in what the module handed to fail_json/exit_json (keep: result fields meant to hold a secret).

        Besides every form the oracle knows, no 16-character piece of a marker either (a cut secret is a leak too).
        """
        markers = MARKERS if markers is None else markers
        assert self.returned, 'the module returned nothing'
        output = json.loads(printed)
        texts = [('%s kwargs' % method, json.dumps({key: value for key, value in kwargs.items() if key not in keep}))
                 for method, kwargs in self.returned]
        texts.append(('module output', json.dumps({key: value for key, value in output.items() if key not in keep})))
        for where, text in texts:
            assert_no_secret(text, markers, where)
            for index, marker in enumerate(markers):
                pieces = [i for i in range(len(marker) - 15) if marker[i:i + 16] in text]
                assert not pieces, '%s: a piece of marker #%d (from character %d) is in it' % (where, index, pieces[0])


@pytest.fixture
def host(tmp_path, monkeypatch, capsys):
    return Host(tmp_path, monkeypatch, capsys)


INIT = {'kubernetes_version': '1.37.2', 'node_name': 'cp1', 'advertise_address': '192.168.50.10'}
JOIN = {'node_name': 'w1', 'advertise_address': '192.168.50.11', 'api_server_endpoint': '192.168.50.10:6443',
        'token': TOKEN, 'ca_cert_hash': 'sha256:' + 'ab' * 32}
CONTROL_PLANE = ('/etc/kubernetes/kubelet.conf', '/etc/kubernetes/manifests/kube-apiserver.yaml', '/etc/kubernetes/admin.conf')


# kubeadm_join ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('control_plane', [False, True])
def test_join_failure_echoing_config_and_secrets_leaks_nothing(host, control_plane):
    config = str(host.tmp / 'join.yaml')
    host.results['join'] = lambda argv: (1, leaky(argv), leaky(argv))
    args = dict(JOIN, config_path=config, control_plane=control_plane)
    if control_plane:
        args['certificate_key'] = CERT_KEY
    result, printed = host.main(kubeadm_join, **args)
    assert result['failed'] is True
    assert result['msg'].startswith('kubeadm join failed on w1 (exit 1): ')
    assert 'error execution phase: it failed' in result['msg']
    assert host.calls[-1] == [host.bin['kubeadm'], 'join', '--config', config]  # no secret on the command line
    assert not os.path.exists(config)  # the file holding the secrets is gone after a failure too
    host.assert_clean(printed)


def test_join_passes_the_secrets_in_a_0600_file_only(host):
    config = str(host.tmp / 'join.yaml')
    seen = {}

    def join(argv):
        seen['mode'] = os.stat(config).st_mode & 0o777
        with open(config, encoding='utf-8') as handle:
            seen['text'] = handle.read()
        return 0, '', ''
    host.results['join'] = join
    result, printed = host.main(kubeadm_join, **dict(JOIN, config_path=config, control_plane=True, certificate_key=CERT_KEY))
    assert result['changed'] is True and result['msg'] == 'joined w1 as a control plane'
    assert seen['mode'] == 0o600 and TOKEN in seen['text'] and CERT_KEY in seen['text']
    assert all(TOKEN not in ' '.join(call) and CERT_KEY not in ' '.join(call) for call in host.calls)
    assert not os.path.exists(config)
    host.assert_clean(printed)


def test_join_reset_failure_of_a_half_joined_node_leaks_nothing(host):
    host.files.add('/etc/kubernetes/bootstrap-kubelet.conf')
    host.results['reset'] = lambda argv: (1, '', leaky(argv))
    result, printed = host.main(kubeadm_join, **dict(JOIN, config_path=str(host.tmp / 'join.yaml')))
    assert result['failed'] is True and result['msg'].startswith('kubeadm reset failed on w1 (exit 1): ')
    assert not os.path.exists(host.tmp / 'join.yaml')
    host.assert_clean(printed)


def test_join_exception_holding_the_config_leaks_nothing(host):
    def explode(argv):
        with open(argv[-1], encoding='utf-8') as handle:
            raise RuntimeError('cannot run %s with %s' % (argv, handle.read() + leaky(argv)))
    host.results['join'] = explode
    config = str(host.tmp / 'join.yaml')
    result, printed = host.main(kubeadm_join, **dict(JOIN, config_path=config, control_plane=True, certificate_key=CERT_KEY))
    assert result['failed'] is True
    assert result['msg'].startswith('kubeadm_join failed on w1: RuntimeError: cannot run')
    method, kwargs = host.returned[-1]
    assert method == 'fail_json' and 'RuntimeError' in kwargs['exception']  # the traceback is kept, redacted
    assert not os.path.exists(config)
    host.assert_clean(printed)


def test_join_without_kubeadm_fails_clearly_before_writing_secrets(host):
    config = str(host.tmp / 'join.yaml')
    missing = str(host.tmp / 'bin' / 'no-kubeadm')
    result, printed = host.main(kubeadm_join, **dict(JOIN, config_path=config, kubeadm_path=missing))
    assert result['failed'] is True
    assert result['msg'].startswith('kubeadm was not found on w1 (kubeadm_path=%s; looked in /usr/local/bin, /usr/bin and PATH)' % missing)
    assert 'set kubeadm_path' in result['msg']
    assert host.calls == [] and not os.path.exists(config)
    host.assert_clean(printed)


def test_join_finds_kubeadm_in_path(host, monkeypatch):
    monkeypatch.setattr(ops, 'BIN_DIRS', [])
    monkeypatch.setenv('PATH', os.path.dirname(host.bin['kubeadm']))
    host.results['join'] = (0, '', '')
    args = dict(JOIN, config_path=str(host.tmp / 'join.yaml'), kubeadm_path='kubeadm')
    result, _printed = host.main(kubeadm_join, **args)
    assert result['changed'] is True and host.calls[0][0] == host.bin['kubeadm']


def test_join_check_mode_on_a_bare_host_needs_no_kubeadm(host):
    result, _printed = host.main(kubeadm_join, _ansible_check_mode=True,
                                 **dict(JOIN, config_path=str(host.tmp / 'join.yaml'), kubeadm_path=str(host.tmp / 'nope')))
    assert result['changed'] is True and result['msg'] == 'would join w1 as a worker' and host.calls == []


# kubeadm_token ---------------------------------------------------------------------------------------------------------

def test_token_create_failure_leaks_nothing(host):
    host.results['token create'] = lambda argv: (1, leaky(argv), leaky(argv))
    result, printed = host.main(kubeadm_token)
    assert result['failed'] is True and result['msg'].startswith('kubeadm token create failed on this host (exit 1): ')
    host.assert_clean(printed)


def test_token_create_output_without_a_token_is_a_clear_failure(host):
    host.results['token create'] = lambda argv: (0, 'W0101 something odd\n' + leaky(argv, [CERT_KEY]), '')
    result, printed = host.main(kubeadm_token)
    assert result['failed'] is True and result['msg'].startswith('kubeadm token create on this host printed no bootstrap token: ')
    host.assert_clean(printed)


def test_upload_certs_failure_leaks_neither_secret_and_deletes_the_token(host):
    host.results['token create'] = (0, 'W0101 a warning\n%s\n' % TOKEN, '')
    host.results['init phase upload-certs'] = lambda argv: (1, leaky(argv), leaky(argv))
    host.results['token delete'] = (0, 'bootstrap token "mark3r" deleted', '')
    result, printed = host.main(kubeadm_token, upload_certs=True)
    assert result['failed'] is True
    assert result['msg'].startswith('kubeadm init phase upload-certs failed on this host (exit 1): ')
    assert result['msg'].endswith('; the bootstrap token mark3r created by this run was deleted')
    assert host.calls[-1] == [host.bin['kubeadm'], 'token', 'delete', '--kubeconfig', ops.ADMIN_CONF, 'mark3r']
    host.assert_clean(printed)


def test_upload_certs_without_a_key_says_so_and_leaks_nothing(host):
    host.results['token create'] = (0, TOKEN + '\n', '')
    host.results['init phase upload-certs'] = lambda argv: (0, leaky(argv, [TOKEN]), '')
    host.results['token delete'] = (1, '', 'cannot delete')
    result, printed = host.main(kubeadm_token, upload_certs=True, ttl='10m')
    assert result['failed'] is True
    assert result['msg'] == ('kubeadm init phase upload-certs on this host printed no certificate key; the bootstrap token mark3r '
                             'created by this run could not be deleted; it expires after 10m')
    host.assert_clean(printed)


def test_token_success_returns_the_secrets_only_in_their_fields(host):
    host.results['token create'] = (0, TOKEN + '\n', '')
    host.results['init phase upload-certs'] = (0, '[upload-certs] Using certificate key:\n%s\n' % CERT_KEY, '')
    result, printed = host.main(kubeadm_token, upload_certs=True)
    assert result['token'] == TOKEN and result['certificate_key'] == CERT_KEY and result['ca_cert_hash'] == host.ca_hash
    assert result['msg'] == 'created a bootstrap token valid for 15m'
    assert 'holds a bootstrap token and a certificate key: set no_log: true on the task' in json.dumps(result['warnings'])
    host.assert_clean(printed, keep=('token', 'certificate_key'))


def test_token_task_with_no_log_gets_no_warning(host):
    host.results['token create'] = (0, TOKEN + '\n', '')
    result, _printed = host.main(kubeadm_token, _ansible_no_log=True)
    assert result['token'] == TOKEN and not result.get('warnings')


def test_token_without_a_readable_ca_creates_no_token(host, monkeypatch):
    monkeypatch.setattr(ops, 'CA_CERT', str(host.tmp / 'missing-ca.crt'))
    result, _printed = host.main(kubeadm_token)
    assert result['failed'] is True and result['msg'].startswith('cannot read the cluster CA certificate %s' % ops.CA_CERT)
    assert host.calls == []


def test_token_without_kubeadm_fails_clearly(host):
    result, _printed = host.main(kubeadm_token, kubeadm_path='kubeadm-is-not-installed')
    assert result['failed'] is True
    assert result['msg'].startswith('kubeadm was not found on this host (kubeadm_path=kubeadm-is-not-installed; ')


# kubeadm_init ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('step', ['config validate', 'init'])
def test_init_failures_leak_nothing(host, step):
    host.results['config validate'] = (0, '', '')
    host.results[step] = lambda argv: (1, leaky(argv), leaky(argv))
    result, printed = host.main(kubeadm_init, config_path=str(host.tmp / 'init.yaml'), **INIT)
    assert result['failed'] is True and result['msg'].startswith('kubeadm %s failed on cp1 (exit 1): ' % step)
    host.assert_clean(printed)


def test_init_reading_the_live_configuration_fails_without_leaking(host):
    host.files.update(CONTROL_PLANE)
    host.results['config validate'] = (0, '', '')
    host.results['--kubeconfig'] = lambda argv: (1, '', leaky(argv))
    result, printed = host.main(kubeadm_init, kubectl_path=host.bin['kubectl'], config_path=str(host.tmp / 'init.yaml'), **INIT)
    assert result['failed'] is True and result['msg'].startswith('reading kubeadm-config failed on cp1 (exit 1): ')
    assert host.calls[-1][0] == host.bin['kubectl']
    host.assert_clean(printed)


def _live_configuration(pod_subnet: str) -> dict:
    """The ClusterConfiguration kubeadm-config would hold for INIT with this pod network."""
    return kubeadm.cluster_configuration(dict(INIT, cluster_name='kubeseed', cluster_domain='cluster.local', pod_subnet=pod_subnet,
                                              service_subnet='10.96.0.0/12', node_cidr_mask_size=24, control_plane_endpoint='',
                                              apiserver_port=6443, image_repository='registry.k8s.io'))


@pytest.mark.parametrize('check_mode', [False, True])
def test_init_drift_diff_of_a_live_configuration_holding_secrets_leaks_nothing(host, check_mode):
    host.files.update(CONTROL_PLANE)
    live = _live_configuration(pod_subnet='10.245.0.0/16')
    live['apiServer'] = {'extraArgs': [{'name': 'token', 'value': TOKEN}, {'name': 'certificate-key', 'value': CERT_KEY}],
                         'certificateKey': CERT_KEY, 'note': b64('token: %s' % TOKEN)}
    host.results['config validate'] = (0, '', '')
    host.results['--kubeconfig'] = (0, json.dumps(live), '')
    result, printed = host.main(kubeadm_init, kubectl_path=host.bin['kubectl'], config_path=str(host.tmp / 'init.yaml'),
                                _ansible_check_mode=check_mode, **INIT)
    assert result['drift'] == ['networking.podSubnet: live 10.245.0.0/16, desired 10.244.0.0/16']
    assert result.get('failed', False) is not check_mode
    assert 'certificateKey' in result['diff']['before'] and result['ca_cert_hash'] == host.ca_hash  # the CA hash is not redacted
    host.assert_clean(printed)


@pytest.mark.parametrize('bad_line', ['token: %s: x' % TOKEN, 'certificateKey: %s: x' % CERT_KEY])
def test_init_unreadable_live_configuration_leaks_nothing(host, bad_line):
    # PyYAML's error text quotes the offending line: the guard must redact it (msg and traceback)
    host.files.update(CONTROL_PLANE)
    host.results['config validate'] = (0, '', '')
    host.results['--kubeconfig'] = (0, 'clusterName: lab\n%s\n' % bad_line, '')
    result, printed = host.main(kubeadm_init, kubectl_path=host.bin['kubectl'], config_path=str(host.tmp / 'init.yaml'), **INIT)
    host.assert_clean(printed)
    assert result['failed'] is True
    assert result['msg'].startswith('the ClusterConfiguration in kube-system/kubeadm-config read on cp1 is not valid YAML '
                                    '(mapping values are not allowed here at line 2, column ')


def test_an_exception_quoting_a_cut_piece_of_a_secret_leaks_no_piece(host):
    # e.g. a library error that shortens the line it quotes; the piece is no known form, so the oracle alone cannot see it
    host.files.update(CONTROL_PLANE)
    host.results['config validate'] = lambda argv: (_x for _x in ()).throw(
        ValueError('bad input near "... %s" and "%s ..."' % (CERT_KEY[-40:], TOKEN[:12])))
    result, printed = host.main(kubeadm_init, kubectl_path=host.bin['kubectl'], config_path=str(host.tmp / 'init.yaml'), **INIT)
    assert result['msg'] == 'kubeadm_init failed on cp1: ValueError: bad input near "... <redacted>" and "<redacted> ..."'
    assert CERT_KEY[-40:] not in host.returned[-1][1]['exception'] and TOKEN[:12] not in host.returned[-1][1]['exception']
    host.assert_clean(printed)
    host.assert_clean(printed)


def test_init_without_kubectl_on_a_member_fails_clearly(host):
    host.files.update(CONTROL_PLANE)
    host.results['config validate'] = (0, '', '')
    result, _printed = host.main(kubeadm_init, kubectl_path=str(host.tmp / 'nope'), config_path=str(host.tmp / 'init.yaml'), **INIT)
    assert result['failed'] is True and result['msg'].startswith('kubectl was not found on cp1 (kubectl_path=')


def test_init_check_mode_on_a_bare_host_needs_no_binaries(host):
    result, _printed = host.main(kubeadm_init, kubeadm_path=str(host.tmp / 'nope'), config_path=str(host.tmp / 'init.yaml'),
                                 _ansible_check_mode=True, **INIT)
    assert result['changed'] is True and result['msg'] == 'would run kubeadm init on cp1' and host.calls == []


# kubeadm_node_info -----------------------------------------------------------------------------------------------------

def test_node_info_reports_the_state(host):
    host.files.add('/etc/kubernetes/kubelet.conf')
    with patch_module_args({}):
        with pytest.raises(SystemExit):
            kubeadm_node_info.main()
    assert json.loads(host.capsys.readouterr().out)['state'] == 'member'


@pytest.mark.parametrize('check_mode', [False, True])
def test_init_api_server_flags_and_names_that_differ_are_left_to_role_apiserver(host, check_mode):
    host.files.update(CONTROL_PLANE)
    live = _live_configuration(pod_subnet='10.244.0.0/16')
    live['apiServer'] = {'certSANs': ['old.example.test'], 'extraArgs': [{'name': 'profiling', 'value': 'false'}]}
    host.results['config validate'] = (0, '', '')
    host.results['--kubeconfig'] = (0, json.dumps(live), '')
    result, printed = host.main(kubeadm_init, kubectl_path=host.bin['kubectl'], config_path=str(host.tmp / 'init.yaml'),
                                _ansible_check_mode=check_mode, **INIT)
    assert not result.get('failed') and result['drift'] == []
    assert result['reconfigurable'] == ["apiServer.certSANs: live ['old.example.test'], desired (unset)",
                                        'apiServer.extraArgs[profiling]: live false, desired (unset)']
    assert 'changed next, one control plane at a time' in result['msg']
    host.assert_clean(printed)
