"""The shared 1 control plane + 2 workers lab from bare hosts: site.yml --check on the bare hosts, then the cluster roles
included from a user's own playbooks (docs/examples): prepare the nodes only, a cluster of two nodes with site.yml
--limit (with -vvv, checked for join tokens), then the third joins with the add-worker example and a full site.yml
has nothing left to do. The cluster it leaves is the one tests/e2e/test_cluster.py and test_awx_jobs.py use.

The tests run in file order; each needs the one before. (site.yml from bare hosts in one run is tested on the
3 control plane lab, tests/e2e/test_control_plane_join.py.)
"""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from _secrets import assert_no_secret
from conftest import INVENTORY, ROOT, VENV_BIN, adhoc as adhoc_module, changed_tasks, kubectl, playbook

EXAMPLES = ROOT / 'docs' / 'examples'
STATE: dict = {}
TOKEN = re.compile(r'\b[a-z0-9]{6}\.[a-z0-9]{16}\b')
SNAPSHOT = ("{ for d in /etc /usr/local /opt /var/cache/kubeseed /var/lib/kubelet /var/lib/containerd; do "
            "[ -d $d ] && find $d -xdev \\( -type f -o -type l \\) -print0 | sort -z | xargs -0r sha256sum; done; "
            "dpkg-query --show; systemctl list-unit-files --no-legend; "
            "sysctl net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables; cat /proc/swaps; } | sha256sum")


@pytest.fixture(scope='module')
def lab(lab_cluster):
    """The shared 1 + 2 lab (bare when this module starts)."""
    return lab_cluster


def adhoc(pattern: str, command: str) -> dict:
    """{host: stdout} of one command on lab hosts (ansible ad-hoc)."""
    proc = subprocess.run([str(VENV_BIN / 'ansible'), '-i', str(INVENTORY), pattern, '-o', '-m', 'ansible.builtin.shell', '-a', command],
                          cwd=ROOT, capture_output=True, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.ansible' / 'collections'), ANSIBLE_NOCOLOR='1'))
    out = {}
    for line in proc.stdout.splitlines():
        host, rest = line.split(' | ', 1) if ' | ' in line else (line, '')
        out[host.strip()] = rest.split('(stdout) ', 1)[-1] if '(stdout)' in rest else rest
    return out


def changed(run) -> dict:
    return {h: r['changed'] for h, r in run.recap.items() if r['changed']}


def _snapshots(inventory) -> dict:
    """{host: sha256 of every file under /etc, /usr/local, ..., the package list, the unit files, the sysctls kubeseed sets, swap}."""
    proc = adhoc_module('control_plane:workers', 'ansible.builtin.shell', SNAPSHOT, inventory)
    found = dict(re.findall(r'^(\S+) \| CHANGED \| rc=0 \| \(stdout\) ([0-9a-f]{64})', proc.stdout, re.M))
    assert len(found) == 3, proc.stdout + proc.stderr
    return found


def test_check_mode_on_bare_hosts_predicts_and_changes_nothing(lab):
    before = _snapshots(lab)
    run = playbook('site.yml', '-i', str(lab), '--check', '--diff')
    print('check mode on bare hosts: %.0fs' % run.seconds)
    run.assert_ok()
    assert {h for h, r in run.recap.items() if r['changed']} == {'ks-cp1', 'ks-w1', 'ks-w2'}
    predicted = changed_tasks(run.output)
    # the add-ons a run would install (no cluster to compare them with yet), once, on the controller
    assert predicted['kubeseed.cluster.addons : The add-ons a run would install once the cluster exists'] == ['ks-cp1']
    for task in ('kubeseed.cluster.node : Swap off, kernel features and sysctls, now and across reboots',
                 'kubeseed.cluster.node : Install the bundle\'s Debian packages that are missing (checked against the manifest)',
                 'kubeseed.cluster.kube_packages : Install binaries (etcdctl and etcdutl on control planes), CNI plugins and images from the '
                 'bundle (checked against the manifest)'):
        assert sorted(set(predicted.get(task, []))) == ['ks-cp1', 'ks-w1', 'ks-w2'], (task, predicted)
    assert predicted['kubeseed.cluster.control_plane : Initialise the first control plane (once; afterwards compare the live configuration)'] \
        == ['ks-cp1']
    assert sorted(predicted['kubeseed.cluster.workers : Join as a worker']) == ['ks-w1', 'ks-w2']
    assert _snapshots(lab) == before, 'check mode changed a file, a package, a unit or a sysctl on a bare host'


def test_prepare_nodes_only(lab):
    first = playbook(str(EXAMPLES / 'prepare-nodes.yml'), '-i', str(lab))
    first.assert_ok()
    assert set(changed(first)) == {'ks-cp1', 'ks-w1', 'ks-w2'}
    second = playbook(str(EXAMPLES / 'prepare-nodes.yml'), '-i', str(lab))
    second.assert_ok()
    assert changed(second) == {}
    versions = adhoc('all', 'kubeadm version -o short; systemctl is-active containerd; test -e /etc/kubernetes/kubelet.conf && echo joined || echo bare')
    for host in ('ks-cp1', 'ks-w1', 'ks-w2'):
        assert 'v1.37.2' in versions[host] and 'active' in versions[host] and 'bare' in versions[host], versions
    STATE['prepared'] = True


def test_site_with_a_limit_builds_only_those_nodes(lab, tmp_path_factory):
    if not STATE.get('prepared'):
        pytest.fail('needs test_prepare_nodes_only')
    run = playbook('-vvv', 'site.yml', '-i', str(lab), '-l', 'ks-cp1,ks-w1', log=tmp_path_factory.mktemp('e2e') / 'site-limit-vvv.log')
    print('site.yml -l ks-cp1,ks-w1 on prepared hosts: %.0fs' % run.seconds)
    run.assert_ok()
    assert set(run.recap) == {'ks-cp1', 'ks-w1'}
    # No join token in any form in the -vvv output (init, and the join of ks-w1)
    tokens = adhoc_module('control_plane', 'ansible.builtin.command', 'kubeadm token list --kubeconfig /etc/kubernetes/admin.conf', lab)
    live = TOKEN.findall(tokens.stdout)
    assert live, 'expected the join token created by the run to be listed: %s' % tokens.stdout
    assert_no_secret(run.output, live, 'site.yml -vvv output')
    assert not TOKEN.findall(run.output), 'something shaped like a bootstrap token is in the -vvv output'
    # The validation still ran first although localhost is outside the limit.
    assert 'TASK [kubeseed.cluster.preflight : Validate the inventory' in run.output
    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    assert sorted(n['metadata']['name'] for n in nodes) == ['ks-cp1', 'ks-w1']
    STATE['two_nodes'] = True


def test_add_worker_example_joins_the_third_node(lab):
    if not STATE.get('two_nodes'):
        pytest.fail('needs test_site_with_a_limit_builds_only_those_nodes')
    first = playbook(str(EXAMPLES / 'add-worker.yml'), '-i', str(lab), '-e', 'kubeseed_new_workers=ks-w2')
    first.assert_ok()
    assert 'ks-w2' in changed(first)
    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    ready = {n['metadata']['name']: [c['status'] for c in n['status']['conditions'] if c['type'] == 'Ready'][0] for n in nodes}
    assert ready == {'ks-cp1': 'True', 'ks-w1': 'True', 'ks-w2': 'True'}
    # The nodes already there learned the route to the new node's pod range.
    w2_range = [n['spec']['podCIDR'] for n in nodes if n['metadata']['name'] == 'ks-w2'][0]
    routes = adhoc('ks-cp1,ks-w1', 'ip route show %s' % w2_range)
    assert all('via 10.117.0.' in routes[h] for h in ('ks-cp1', 'ks-w1')), routes
    second = playbook(str(EXAMPLES / 'add-worker.yml'), '-i', str(lab), '-e', 'kubeseed_new_workers=ks-w2')
    second.assert_ok()
    assert changed(second) == {}
    # And the full site.yml agrees: nothing left to do.
    site = playbook('site.yml', '-i', str(lab))
    site.assert_ok()
    assert changed(site) == {}
