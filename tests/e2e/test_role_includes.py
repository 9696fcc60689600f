"""The cluster roles included from a user's own playbooks (docs/examples), on bare lab hosts (1 control plane + 2 workers):
prepare the nodes only, then a cluster of two nodes with --limit, then the third joins with the add-worker example.

The tests run in file order and share one lab; each needs the one before.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import INVENTORY, ROOT, VENV_BIN, kubectl, playbook

EXAMPLES = ROOT / 'docs' / 'examples'
STATE: dict = {}


@pytest.fixture(scope='module')
def lab(lab_cluster):
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


def test_site_with_a_limit_builds_only_those_nodes(lab):
    if not STATE.get('prepared'):
        pytest.fail('needs test_prepare_nodes_only')
    run = playbook('site.yml', '-i', str(lab), '-l', 'ks-cp1,ks-w1')
    run.assert_ok()
    assert set(run.recap) == {'ks-cp1', 'ks-w1'}
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
