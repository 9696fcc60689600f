# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The etcd modules' main() on a fake control plane in tmp_path: manifests, a crictl that answers like a kubelet that
runs what the manifests directory holds, an etcdutl that makes a data directory, and the controller's backup directory."""
from __future__ import annotations

import hashlib
import json
import os
import sys

import pytest

from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubeseed.cluster.plugins.modules import etcd_backups, etcd_restore, etcd_snapshot
from ansible_collections.kubeseed.cluster.tests.unit.plugins.module_utils.test__etcd import manifest, write_backup

PODS = ('etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler')

CRICTL = '''#!%s
import json, os, sys
manifests = os.environ['FAKE_MANIFESTS']
running = [f[:-5] for f in sorted(os.listdir(manifests)) if f.endswith('.yaml')]
print(json.dumps({'containers': [{'metadata': {'name': name}} for name in running]}))
'''
ETCDUTL = '''#!%s
import os, sys
with open(os.environ['FAKE_LOG'], 'a') as log:
    log.write(' '.join(sys.argv[1:]) + '\\n')
data_dir = sys.argv[sys.argv.index('--data-dir') + 1]
os.makedirs(os.path.join(data_dir, 'member', 'snap'))
'''


class Node:
    """A control plane in tmp_path: /etc/kubernetes/manifests with the four static pods, a data directory, tools."""

    def __init__(self, tmp_path, monkeypatch, capsys):
        self.tmp, self.capsys = tmp_path, capsys
        self.manifests, self.held = tmp_path / 'manifests', tmp_path / 'held'
        self.data_dir = tmp_path / 'var' / 'etcd'
        (self.data_dir / 'member' / 'snap').mkdir(parents=True)
        (self.data_dir / 'member' / 'snap' / 'db').write_text('old state')
        self.manifests.mkdir()
        for pod in PODS:
            text = manifest('cp1', 'https://10.0.0.11:2380', str(self.data_dir)) if pod == 'etcd' else \
                'spec:\n  containers:\n  - command:\n    - %s\n    - --secure-port=6443\n' % pod
            (self.manifests / (pod + '.yaml')).write_text(text)
        self.bin = tmp_path / 'bin'
        self.bin.mkdir()
        for name, script in (('crictl', CRICTL), ('etcdutl', ETCDUTL)):
            (self.bin / name).write_text(script % sys.executable)
            (self.bin / name).chmod(0o755)
        self.log = tmp_path / 'etcdutl.log'
        monkeypatch.setenv('FAKE_MANIFESTS', str(self.manifests))
        monkeypatch.setenv('FAKE_LOG', str(self.log))
        monkeypatch.setattr(warnings, '_global_warnings', type(warnings._global_warnings)())
        self.snapshot = tmp_path / 'snapshot.db'
        self.snapshot.write_bytes(b'snapshot bytes')
        self.sha = hashlib.sha256(b'snapshot bytes').hexdigest()

    def main(self, module, **args) -> dict:
        if module is etcd_restore:
            args = dict({'manifests_dir': str(self.manifests), 'held_dir': str(self.held), 'crictl_path': str(self.bin / 'crictl'),
                         'etcdutl_path': str(self.bin / 'etcdutl'), 'timeout': 5}, **args)
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
        return json.loads(self.capsys.readouterr().out)

    def pods(self, where) -> list:
        return sorted(f[:-5] for f in os.listdir(where)) if where.exists() else []

    def restore_args(self, **args) -> dict:
        return dict({'state': 'restored', 'snapshot': str(self.snapshot), 'snapshot_sha256': self.sha, 'initial_cluster_token': 'prod-restore-1',
                     'members': [{'name': 'cp1', 'peer_urls': ['https://10.0.0.11:2380']}, {'name': 'cp2', 'peer_urls': ['https://10.0.0.12:2380']}]},
                    **args)


@pytest.fixture
def node(tmp_path, monkeypatch, capsys):
    return Node(tmp_path, monkeypatch, capsys)


def test_stopped_holds_every_manifest_waits_for_the_kubelet_and_returns_the_member(node):
    predicted = node.main(etcd_restore, state='stopped', _ansible_check_mode=True)
    assert predicted['changed'] is True and node.pods(node.manifests) == sorted(PODS)  # check mode moves nothing
    assert predicted['member'] == {'name': 'cp1', 'peer_urls': ['https://10.0.0.11:2380'], 'data_dir': str(node.data_dir), 'version': '3.7.0'}
    result = node.main(etcd_restore, state='stopped')
    assert result['changed'] is True and node.pods(node.manifests) == [] and node.pods(node.held) == sorted(PODS)
    assert oct(os.stat(node.held).st_mode & 0o777) == '0o700'
    assert result['member']['name'] == 'cp1' and 'stop_seconds' in result
    again = node.main(etcd_restore, state='stopped')
    assert again['changed'] is False and again['member'] == result['member']  # read from the held manifest


def test_stopped_refuses_a_host_without_etcdutl_before_stopping_anything(node):
    result = node.main(etcd_restore, state='stopped', etcdutl_path=str(node.tmp / 'nowhere' / 'etcdutl'))
    assert result['failed'] is True and node.pods(node.held) == []
    assert 'etcdutl was not found on' in result['msg'] and 'kubeseed_package_source: online' in result['msg']
    assert 'install etcdctl and etcdutl of etcd 3.7.0' in result['msg']


def test_a_host_without_stacked_etcd_is_refused(node):
    os.unlink(node.manifests / 'etcd.yaml')
    result = node.main(etcd_restore, state='stopped')
    assert result['failed'] is True and 'there is no etcd static pod manifest in' in result['msg'] and 'stacked etcd' in result['msg']


def test_restored_refuses_while_etcd_runs_here(node):
    result = node.main(etcd_restore, **node.restore_args())
    assert result['failed'] is True and 'etcd is not stopped' in result['msg'] and 'mixed state' in result['msg']
    assert not node.log.exists() and (node.data_dir / 'member' / 'snap' / 'db').read_text() == 'old state'


def test_restored_checks_the_snapshot_before_anything(node):
    node.main(etcd_restore, state='stopped')
    result = node.main(etcd_restore, **node.restore_args(snapshot_sha256='00' * 32))
    assert result['failed'] is True and 'does not have the sha256 of the backup (000000000000...)' in result['msg']
    assert not node.log.exists()
    result = node.main(etcd_restore, **node.restore_args(members=[{'name': 'cp2', 'peer_urls': ['https://10.0.0.12:2380']}]))
    assert result['failed'] is True and 'etcd member cp1 (its static pod manifest says --name=cp1) is not among the members' in result['msg']


def test_restored_swaps_in_a_new_data_directory_and_keeps_the_old_one(node):
    node.main(etcd_restore, state='stopped')
    predicted = node.main(etcd_restore, _ansible_check_mode=True, **node.restore_args())
    assert predicted['changed'] is True and 'would restore' in predicted['msg'] and not node.log.exists()
    result = node.main(etcd_restore, **node.restore_args())
    assert result['changed'] is True and result['data_dir'] == str(node.data_dir)
    assert result['initial_cluster'] == 'cp1=https://10.0.0.11:2380,cp2=https://10.0.0.12:2380'
    previous = result['previous_data_dir']
    assert previous.startswith(str(node.data_dir) + '.before-restore-')
    assert (node.tmp / 'var' / os.path.basename(previous) / 'member' / 'snap' / 'db').read_text() == 'old state'
    assert os.listdir(node.data_dir / 'member' / 'snap') == [] and oct(os.stat(node.data_dir).st_mode & 0o777) == '0o700'
    args = node.log.read_text().split()
    assert args[:3] == ['snapshot', 'restore', str(node.snapshot)] and args[args.index('--name') + 1] == 'cp1'
    assert args[args.index('--initial-cluster-token') + 1] == 'prod-restore-1' and args[-3:] == ['--bump-revision', '1000000000', '--mark-compacted']
    assert args[args.index('--data-dir') + 1].startswith(str(node.data_dir) + '.kubeseed-restore-')
    assert sorted(os.listdir(node.tmp / 'var')) == sorted(['etcd', os.path.basename(previous)])  # no staging directory left


def test_started_puts_the_manifests_back_etcd_first(node):
    node.main(etcd_restore, state='stopped')
    first = node.main(etcd_restore, state='started', components=['etcd'], wait=False)
    assert first['changed'] is True and node.pods(node.manifests) == ['etcd'] and first['moved'] == [str(node.manifests / 'etcd.yaml')]
    rest = node.main(etcd_restore, state='started', components=['kube-scheduler', 'kube-apiserver', 'kube-controller-manager', 'etcd'], wait=False)
    assert rest['changed'] is True and node.pods(node.manifests) == sorted(PODS) and not node.held.exists()
    assert [os.path.basename(p) for p in rest['moved']] == ['kube-scheduler.yaml', 'kube-controller-manager.yaml', 'kube-apiserver.yaml']
    assert node.main(etcd_restore, state='started', wait=False)['changed'] is False


def test_a_manifest_in_both_places_is_refused(node):
    node.held.mkdir()
    (node.held / 'etcd.yaml').write_text((node.manifests / 'etcd.yaml').read_text())
    result = node.main(etcd_restore, state='started', wait=False)
    assert result['failed'] is True and 'etcd.yaml is in both' in result['msg']


def test_snapshot_names_what_to_install_when_etcdctl_is_missing(node):
    result = node.main(etcd_snapshot, cluster_name='prod', kubernetes_version='1.37.2', etcdctl_path=str(node.tmp / 'none' / 'etcdctl'))
    assert result['failed'] is True and result['msg'].startswith('etcdctl was not found on ')
    assert 'set etcdctl_path' in result['msg']


def test_snapshot_check_mode_needs_the_client_certificate_and_saves_nothing(node):
    args = {'cluster_name': 'prod', 'kubernetes_version': '1.37.2', 'etcdctl_path': str(node.bin / 'etcdutl'), 'etcdutl_path': str(node.bin / 'etcdutl'),
            'dest': str(node.tmp / 'backup'), 'etcd_pki_dir': str(node.tmp / 'pki' / 'etcd'), '_ansible_check_mode': True}
    result = node.main(etcd_snapshot, **args)
    assert result['failed'] is True and result['msg'].endswith('pki/etcd/ca.crt cannot be read: is this a control plane of a kubeadm cluster '
                                                               'with stacked etcd (and the task run with become)?')
    (node.tmp / 'pki' / 'etcd').mkdir(parents=True)
    for name in ('ca.crt', 'healthcheck-client.crt', 'healthcheck-client.key'):
        (node.tmp / 'pki' / 'etcd' / name).write_text('x')
    result = node.main(etcd_snapshot, **args)
    assert result['changed'] is True and result['name'].startswith('prod-') and not (node.tmp / 'backup').exists()


def test_backups_verify_the_choice_and_keep_the_newest(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(warnings, '_global_warnings', type(warnings._global_warnings)())
    for when in ('20261201T100000Z', '20261202T100000Z', '20261203T100000Z'):
        write_backup(tmp_path, 'prod', when)

    def main(**args):
        with patch_module_args(dict({'path': str(tmp_path), 'cluster_name': 'prod'}, **args)):
            with pytest.raises(SystemExit):
                etcd_backups.main()
        return json.loads(capsys.readouterr().out)

    refused = main(select='')
    assert refused['failed'] is True and refused['msg'].startswith('kubeseed_restore_backup is empty: name the backup to restore')
    chosen = main(select='prod-20261201T100000Z', kubernetes_version='1.37.2', keep=1, _ansible_check_mode=True)
    assert chosen['backup']['snapshot']['path'] == str(tmp_path / 'prod-20261201T100000Z' / 'etcd-snapshot.db')
    assert chosen['removed'] == [str(tmp_path / 'prod-20261202T100000Z')] and chosen['changed'] is True  # the chosen one stays
    assert len(os.listdir(tmp_path)) == 3  # check mode
    pruned = main(keep=2)
    assert pruned['removed'] == [str(tmp_path / 'prod-20261201T100000Z')] and sorted(os.listdir(tmp_path)) == ['prod-20261202T100000Z', 'prod-20261203T100000Z']
    assert main(keep=2)['changed'] is False
    other = main(select='prod-20261203T100000Z', kubernetes_version='1.36.3')
    assert other['failed'] is True and 'holds the state of Kubernetes 1.37.2, but the cluster runs 1.36.3' in other['msg']
