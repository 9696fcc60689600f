# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm_upgrade, node_drain and the version guard of kubeadm_node_info, run through main() against scripted
kubeadm/kubectl/kubelet answers (the lab e2e runs them for real: tests/e2e/test_lifecycle.py)."""
from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm_ops as ops
from ansible_collections.kubeseed.cluster.plugins.modules import kubeadm_node_info, kubeadm_upgrade, node_drain
from ansible_collections.kubeseed.cluster.tests.unit.plugins.modules.test_kubeadm_modules import Host, leaky

KUBELET_NODE = '--kubeconfig /etc/kubernetes/kubelet.conf get node'
ADMIN = '--kubeconfig /etc/kubernetes/admin.conf'


@pytest.fixture
def host(tmp_path, monkeypatch, capsys):
    fake = Host(tmp_path, monkeypatch, capsys)
    kubelet = tmp_path / 'bin' / 'kubelet'
    kubelet.write_text('#!/bin/sh\nexit 99\n')
    kubelet.chmod(0o755)
    monkeypatch.setenv('PATH', '%s:/usr/bin:/bin' % (tmp_path / 'bin'))
    monkeypatch.setattr(ops, 'BIN_DIRS', [str(tmp_path / 'bin')])
    return fake


def upgrade(host, action='node', check=False, **args):
    args = dict({'kubernetes_version': '1.37.2', 'action': action, 'node_name': 'w1', 'kubectl_path': host.bin['kubectl']}, **args)
    return host.main(kubeadm_upgrade, _ansible_check_mode=check, **args)


def test_apply_runs_when_the_cluster_is_older_and_asks_for_a_kubelet_restart(host):
    host.results[KUBELET_NODE] = (0, 'v1.36.3', '')
    host.results[ADMIN + ' -n kube-system get configmap'] = (0, json.dumps({'kubernetesVersion': 'v1.36.3'}), '')
    host.results['version -o short'] = (0, 'v1.37.2\n', '')
    host.results['upgrade apply'] = (0, '[upgrade/version] You have chosen to upgrade to "v1.37.2"\n[upgrade] SUCCESS!\nnoise\n', '')
    result, _printed = upgrade(host, 'apply', node_name='cp1', ignore_preflight_errors=['SystemVerification'],
                               init_config_path=str(host.tmp / 'absent.yaml'))
    assert result['changed'] is True and result['restart_kubelet'] is True and result['cluster_before'] == 'v1.36.3'
    assert host.calls[-1][1:] == ['upgrade', 'apply', 'v1.37.2', '--yes', '--ignore-preflight-errors=SystemVerification']
    assert result['stdout_lines'] == ['[upgrade/version] You have chosen to upgrade to "v1.37.2"', '[upgrade] SUCCESS!']


def test_apply_done_already_changes_nothing_and_runs_no_kubeadm(host):
    host.results[KUBELET_NODE] = (0, 'v1.37.2', '')
    host.results[ADMIN + ' -n kube-system get configmap'] = (0, json.dumps({'kubernetesVersion': 'v1.37.2'}), '')
    result, _printed = upgrade(host, 'apply', node_name='cp1', init_config_path=str(host.tmp / 'absent.yaml'))
    assert result['changed'] is False and result['restart_kubelet'] is False
    assert not [call for call in host.calls if call[0] == host.bin['kubeadm']]


@pytest.mark.parametrize('check', [False, True])
def test_apply_sets_the_version_in_kubeadm_inits_configuration(host, check):
    # site.yml after the upgrade must find the file as it would write it (changed=0)
    path = host.tmp / 'init.yaml'
    before = ops.render([{'kind': 'InitConfiguration'}, {'kind': 'ClusterConfiguration', 'kubernetesVersion': 'v1.36.3', 'x': 1}])
    ops.write_private(str(path), before)
    host.results[KUBELET_NODE] = (0, 'v1.37.2', '')
    host.results[ADMIN + ' -n kube-system get configmap'] = (0, json.dumps({'kubernetesVersion': 'v1.37.2'}), '')
    result, _printed = upgrade(host, 'apply', check, node_name='cp1', init_config_path=str(path))
    assert result['changed'] is True
    expected = before if check else ops.render([{'kind': 'InitConfiguration'},
                                                {'kind': 'ClusterConfiguration', 'kubernetesVersion': 'v1.37.2', 'x': 1}])
    assert path.read_text() == expected and (path.stat().st_mode & 0o777) == 0o600


def test_apply_refuses_a_skipped_minor_before_running_anything(host):
    host.results[KUBELET_NODE] = (0, 'v1.35.4', '')
    host.results[ADMIN + ' -n kube-system get configmap'] = (0, json.dumps({'kubernetesVersion': 'v1.35.4'}), '')
    result, _printed = upgrade(host, 'apply', node_name='cp1')
    assert result['failed'] is True and result['msg'].startswith('nothing was changed: kubeseed_kubernetes_version: 1.37.2 skips a minor')
    assert not [call for call in host.calls if call[0] == host.bin['kubeadm']]


def test_an_old_kubeadm_is_refused(host):
    host.results[KUBELET_NODE] = (0, 'v1.36.3', '')
    host.results['version -o short'] = (0, 'v1.36.3\n', '')
    result, _printed = upgrade(host)
    assert result['failed'] is True and result['msg'].startswith('kubeadm on w1 is v1.36.3, not v1.37.2: install the target')
    assert not [call for call in host.calls if call[1:3] == ['upgrade', 'node']]


def test_check_mode_predicts_kubeadm_and_the_restart_without_running_kubeadm(host):
    # check mode runs before the packages step has installed the target's kubeadm: the old one is no reason to fail
    host.results[KUBELET_NODE] = (0, 'v1.36.3', '')
    result, _printed = upgrade(host, check=True)
    assert result['changed'] is True and result['restart_kubelet'] is True and result['msg'] == 'would run kubeadm upgrade node on w1'
    assert not [call for call in host.calls if call[0] == host.bin['kubeadm']]


def test_a_worker_whose_kubelet_runs_the_target_needs_nothing(host):
    host.results[KUBELET_NODE] = (0, 'v1.37.2', '')
    result, _printed = upgrade(host)
    assert result['changed'] is False and result['restart_kubelet'] is False


def test_a_control_plane_with_old_manifests_is_upgraded_even_when_its_kubelet_is_new(host, monkeypatch):
    manifest = host.tmp / 'kube-apiserver.yaml'
    manifest.write_text('spec:\n  containers:\n  - command: [kube-apiserver]\n    image: registry.k8s.io/kube-apiserver:v1.36.3\n')
    monkeypatch.setattr(ops, 'APISERVER_MANIFEST', str(manifest))
    host.results[KUBELET_NODE] = (0, 'v1.37.2', '')
    host.results['version -o short'] = (0, 'v1.37.2\n', '')
    host.results['upgrade node'] = (0, '[upgrade] The control plane instance for this node was successfully upgraded!\n', '')
    result, _printed = upgrade(host, node_name='cp2', control_plane=True)
    assert result['changed'] is True and result['manifests_before'] == 'v1.36.3' and result['restart_kubelet'] is False


def test_a_failed_kubeadm_upgrade_leaks_nothing_and_says_how_to_resume(host):
    host.results[KUBELET_NODE] = (0, 'v1.36.3', '')
    host.results['version -o short'] = (0, 'v1.37.2\n', '')
    host.results['upgrade node'] = lambda argv: (1, leaky(argv), leaky(argv))
    result, printed = upgrade(host)
    assert result['failed'] is True and result['msg'].startswith('kubeadm upgrade node failed on w1 (exit 1): ')
    assert 'run playbooks/upgrade.yml again (it resumes)' in result['msg']
    host.assert_clean(printed)


def test_an_unreadable_node_is_a_clear_failure(host):
    host.results[KUBELET_NODE] = (1, '', 'Unauthorized')
    result, _printed = upgrade(host)
    assert result['failed'] is True and "cannot read Node w1 with the kubelet's credentials" in result['msg']


# the version guard of kubeadm_node_info --------------------------------------------------------------------------------

def main(host, module, **args):
    """main() of a module without kubeadm_path (the fake's main() adds it)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    printed = host.capsys.readouterr().out
    return json.loads(printed), printed


def node_info(host, **args):
    return main(host, kubeadm_node_info, **args)


@pytest.mark.parametrize('installed, wanted, says', [
    ('1.36.3', '1.37.2', 'To upgrade, run playbooks/upgrade.yml'),
    ('1.37.2', '1.36.3', 'kubeadm cannot downgrade'),
    ('1.35.4', '1.37.2', 'skips a minor version'),
])
def test_a_member_with_another_kubelet_is_refused(host, installed, wanted, says):
    host.files.add('/etc/kubernetes/kubelet.conf')
    host.results['--version'] = (0, 'Kubernetes v%s\n' % installed, '')
    result, _printed = node_info(host, kubernetes_version=wanted, node_name='w1')
    assert result['failed'] is True and result['kubelet_version'] == installed
    assert result['msg'].startswith('w1 is a node of a cluster with Kubernetes %s (its kubelet), and kubeseed_kubernetes_version is %s'
                                    % (installed, wanted))
    assert says in result['msg'] and 'nothing was changed' in result['msg']


def test_the_same_version_a_bare_host_or_the_upgrade_itself_pass(host):
    host.results['--version'] = (0, 'Kubernetes v1.36.3\n', '')
    result, _printed = node_info(host, kubernetes_version='1.37.2')  # not a member
    assert result['state'] == 'absent' and 'kubelet_version' not in result
    host.files.add('/etc/kubernetes/kubelet.conf')
    result, _printed = node_info(host, kubernetes_version='1.36.3')
    assert result.get('failed') is None and result['kubelet_version'] == '1.36.3'
    result, _printed = node_info(host, kubernetes_version='1.37.2', allow_version_change=True)
    assert result.get('failed') is None and result['kubelet_version'] == '1.36.3'


def test_a_node_whose_kubelet_runs_another_cgroup_driver_is_refused_a_bare_host_is_not(host, monkeypatch):
    from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubelet_config
    config = host.tmp / 'config.yaml'
    monkeypatch.setattr(_kubelet_config, 'NODE_CONFIG', str(config))
    result, _printed = node_info(host, cgroup_driver='cgroupfs', node_name='w1')  # no kubelet configuration: not a node yet
    assert result.get('failed') is None and result['kubelet_cgroup_driver'] == ''
    config.write_text('apiVersion: kubelet.config.k8s.io/v1beta1\nauthentication:\n  anonymous:\n    enabled: false\n'
                      'cgroupDriver: systemd\nkind: KubeletConfiguration\n')
    result, _printed = node_info(host, cgroup_driver='systemd')
    assert result.get('failed') is None and result['kubelet_cgroup_driver'] == 'systemd'
    result, _printed = node_info(host, cgroup_driver='cgroupfs', node_name='w1')
    assert result['failed'] is True
    assert result['msg'].startswith('w1: kubeseed_containerd_cgroup_driver: the kubelet of this node runs with cgroupDriver systemd (%s), '
                                    'the variables ask for cgroupfs' % config)
    assert 'nothing was changed' in result['msg'] and 'playbooks/remove_node.yml' in result['msg']
    result, _printed = node_info(host, node_name='w1')  # not asked: not read
    assert 'kubelet_cgroup_driver' not in result


@pytest.mark.parametrize('text, driver', [('cgroupDriver: cgroupfs\n', 'cgroupfs'), ("cgroupDriver: 'systemd'\n", 'systemd'),
                                          ('kind: KubeletConfiguration\n', ''), ('nested:\n  cgroupDriver: cgroupfs\n', '')])
def test_the_cgroup_driver_is_read_from_the_top_level_key_only(text, driver):
    from ansible_collections.kubeseed.cluster.plugins.module_utils._kubelet_config import cgroup_driver_in
    assert cgroup_driver_in(text) == driver


# node_drain --------------------------------------------------------------------------------------------------------------

def node_json(unschedulable=False, cordoned_for=None, ready=True, kubelet='v1.37.2'):
    return json.dumps({'metadata': {'name': 'w1', 'annotations': {'kubeseed.io/cordoned-for': cordoned_for} if cordoned_for else {}},
                       'spec': {'unschedulable': True} if unschedulable else {},
                       'status': {'nodeInfo': {'kubeletVersion': kubelet},
                                  'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}]}})


PODS = json.dumps({'items': [
    {'metadata': {'namespace': 'demo', 'name': 'web-1', 'ownerReferences': [{'kind': 'ReplicaSet'}]}, 'status': {'phase': 'Running'}},
    {'metadata': {'namespace': 'kube-system', 'name': 'kube-proxy-x', 'ownerReferences': [{'kind': 'DaemonSet'}]},
     'status': {'phase': 'Running'}}]})


def drain_module(host, state, check=False, **args):
    return main(host, node_drain, node='w1', state=state, _ansible_check_mode=check, kubeconfig='/etc/kubernetes/admin.conf', **args)


OTHERS = json.dumps({'items': [json.loads(node_json()), dict(json.loads(node_json()), metadata={'name': 'w2'})]})


def test_drained_cordons_with_the_mark_then_drains(host):
    host.results[ADMIN + ' get nodes'] = (0, OTHERS, '')
    host.results[ADMIN + ' get node w1'] = (0, node_json(), '')
    host.results[ADMIN + ' patch node w1'] = (0, '', '')
    host.results[ADMIN + ' get pods'] = (0, PODS, '')
    host.results[ADMIN + ' drain w1'] = (0, '', '')
    result, _printed = drain_module(host, 'drained', reason='upgrade to 1.37.2', timeout=60)
    assert result['changed'] is True and result['actions'] == ['cordon', 'drain (1 pod(s) to evict: demo/web-1)']
    patch = [call for call in host.calls if call[3:5] == ['patch', 'node']][0]
    assert json.loads(patch[-1]) == {'metadata': {'annotations': {'kubeseed.io/cordoned-for': 'upgrade to 1.37.2'}},
                                     'spec': {'unschedulable': True}}


def test_drained_in_check_mode_changes_nothing(host):
    host.results[ADMIN + ' get nodes'] = (0, OTHERS, '')
    host.results[ADMIN + ' get node w1'] = (0, node_json(), '')
    host.results[ADMIN + ' get pods'] = (0, PODS, '')
    result, _printed = drain_module(host, 'drained', check=True)
    assert result['changed'] is True and result['actions'][0] == 'cordon'
    assert not [call for call in host.calls if call[3] in ('patch', 'drain')]


def test_drained_again_with_nothing_left_changes_nothing_and_a_node_cordoned_by_hand_is_not_marked(host):
    host.results[ADMIN + ' get nodes'] = (0, OTHERS, '')
    host.results[ADMIN + ' get node w1'] = (0, node_json(unschedulable=True), '')
    host.results[ADMIN + ' get pods'] = (0, json.dumps({'items': []}), '')
    result, _printed = drain_module(host, 'drained')
    assert result['changed'] is False and result['actions'] == ['already cordoned by someone else: it stays cordoned afterwards']


def test_a_blocked_drain_fails_naming_the_pod(host):
    host.results[ADMIN + ' get nodes'] = (0, OTHERS, '')
    host.results[ADMIN + ' get node w1'] = (0, node_json(), '')
    host.results[ADMIN + ' patch node w1'] = (0, '', '')
    host.results[ADMIN + ' get pods'] = (0, PODS, '')
    host.results[ADMIN + ' drain w1'] = (1, 'error when evicting pods/"web-1" -n "demo" (will retry after 5s): Cannot evict pod as it '
                                            "would violate the pod's disruption budget.", 'error: drain did not complete')
    result, _printed = drain_module(host, 'drained', timeout=15)
    assert result['failed'] is True and 'demo/web-1: Cannot evict pod' in result['msg'] and 'kubeseed_upgrade_drain_timeout' in result['msg']


def test_the_only_schedulable_node_is_cordoned_not_drained(host):
    other = dict(json.loads(node_json(unschedulable=True)), metadata={'name': 'w2'})
    host.results[ADMIN + ' get nodes'] = (0, json.dumps({'items': [json.loads(node_json()), other]}), '')
    host.results[ADMIN + ' get node w1'] = (0, node_json(), '')
    host.results[ADMIN + ' patch node w1'] = (0, '', '')
    result, _printed = drain_module(host, 'drained')
    assert result['actions'] == ['cordon', 'no drain: no other node is Ready and schedulable, its pods would have nowhere to go']
    assert not [call for call in host.calls if call[3] in ('drain', 'get') and call[4:5] == ['pods']]


def test_uncordoned_waits_for_the_version_then_uncordons_only_what_it_cordoned(host, monkeypatch):
    answers = [node_json(True, 'upgrade', ready=False, kubelet='v1.36.3'), node_json(True, 'upgrade', kubelet='v1.36.3'),
               node_json(True, 'upgrade')]
    host.results[ADMIN + ' get node w1'] = lambda argv: (0, answers.pop(0) if len(answers) > 1 else answers[0], '')
    # the API server kubeadm just restarted fails a request now and then: retried until the timeout
    patches = [(1, '', 'net/http: TLS handshake timeout'), (0, '', '')]
    host.results[ADMIN + ' patch node w1'] = lambda argv: patches.pop(0) if len(patches) > 1 else patches[0]
    monkeypatch.setattr('time.sleep', lambda seconds: None)
    result, _printed = drain_module(host, 'uncordoned', kubelet_version='1.37.2', timeout=60)
    assert result['changed'] is True and result['actions'] == ['uncordon']
    patch = [call for call in host.calls if call[3:5] == ['patch', 'node']]
    assert len(patch) == 2 and json.loads(patch[-1][-1]) == {'metadata': {'annotations': {'kubeseed.io/cordoned-for': None}},
                                                             'spec': {'unschedulable': None}}
    host.results[ADMIN + ' get node w1'] = (0, node_json(unschedulable=True), '')
    result, _printed = drain_module(host, 'uncordoned', kubelet_version='1.37.2')
    assert result['changed'] is False  # cordoned by someone else: left so


def test_uncordoned_times_out_naming_the_version(host, monkeypatch):
    host.results[ADMIN + ' get node w1'] = (0, node_json(True, 'upgrade', kubelet='v1.36.3'), '')
    clock = iter(range(0, 1000, 50))
    monkeypatch.setattr('time.monotonic', lambda: next(clock))
    monkeypatch.setattr('time.sleep', lambda seconds: None)
    result, _printed = drain_module(host, 'uncordoned', kubelet_version='1.37.2', timeout=100)
    assert result['failed'] is True and 'its kubelet reports 1.36.3, not 1.37.2' in result['msg'] and 'stays cordoned' in result['msg']


def test_uncordoned_in_check_mode_predicts_the_uncordon_of_this_run_without_waiting(host):
    host.results[ADMIN + ' get node w1'] = (0, node_json(kubelet='v1.36.3'), '')
    result, _printed = drain_module(host, 'uncordoned', check=True, kubelet_version='1.37.2', cordoned_by_this_run=True)
    assert result['changed'] is True and 'waited' not in result
    result, _printed = drain_module(host, 'uncordoned', check=True, kubelet_version='1.37.2')
    assert result['changed'] is False
