"""Day 2 on the shared 1 control plane + 2 workers lab, after the AWX jobs, in this order: add a worker with --limit,
remove it again while it is up (a typo first, then a PodDisruptionBudget that blocks its drain), remove a worker whose
host is down, tear the cluster down, and build it again with site.yml.

Each day-2 playbook runs with --check first (it predicts what the run then does), then for real, then again (changed=0);
each step ends with the cluster healthy: the nodes that should be there Ready, kube-system's pods Ready, the demo services
answering through their NodePort on every worker.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request

import yaml

from conftest import INVENTORY, LAB, ROOT, adhoc, changed_tasks, kubeconfig, kubectl, needs_cluster, playbook

REMOVE = 'playbooks/remove_node.yml'
NODE_REMOVE_TASK = 'kubeseed.cluster.remove_node : Take the nodes out of the cluster'
RESET_HOST_TASK = 'kubeseed.cluster.remove_node : Reset this host'
ROUTE_FILE_TASK = 'kubeseed.cluster.cni : CNI configuration, route list, route script and its unit for this node'


def _lab_up(workers: int) -> None:
    subprocess.run([*LAB, 'up', '--control-planes', '1', '--workers', str(workers)], cwd=ROOT, check=True)


def _address(host: str) -> str:
    hosts = yaml.safe_load((INVENTORY / 'hosts.yml').read_text(encoding='utf-8'))['all']['children']
    return {**hosts['control_plane']['hosts'], **hosts['workers']['hosts']}[host]['ansible_host']


def _nodes() -> dict:
    """{node: Ready status}"""
    items = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    return {n['metadata']['name']: [c['status'] for c in n['status']['conditions'] if c['type'] == 'Ready'][0] for n in items}


def _wait(what: str, condition, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, 'timed out after %ds waiting for %s' % (timeout, what)
        time.sleep(3)


def _demo_answers(host: str) -> bool:
    try:
        with urllib.request.urlopen('http://%s:30080/' % _address(host), timeout=5) as response:
            return response.status == 200 and 'frontend' in response.read().decode('utf-8', 'replace')
    except OSError:
        return False


def _healthy(nodes: list) -> None:
    """The nodes Ready (and no other), kube-system's pods Ready, the demo services available and answering on each worker."""
    _wait('nodes %s Ready' % nodes, lambda: _nodes() == {n: 'True' for n in nodes})

    def pods_ready():
        pods = json.loads(kubectl('-n', 'kube-system', 'get', 'pods', '-o', 'json').stdout)['items']
        return all(any(c['type'] == 'Ready' and c['status'] == 'True' for c in p['status'].get('conditions', [])) for p in pods
                   if p['spec'].get('nodeName') in nodes)

    _wait('kube-system pods Ready', pods_ready)

    def demo_available():
        deployments = json.loads(kubectl('-n', 'demo', 'get', 'deployments', '-o', 'json').stdout)['items']
        return deployments and all(d['status'].get('availableReplicas', 0) == d['spec']['replicas'] for d in deployments)

    _wait('demo deployments available', demo_available)
    for worker in (n for n in nodes if n.startswith('ks-w')):
        _wait('demo frontend answering on %s' % worker, lambda w=worker: _demo_answers(w), timeout=60)


def _on(host: str, script: str) -> str:
    proc = adhoc(host, 'ansible.builtin.shell', script)
    assert ' | CHANGED | rc=0 ' in proc.stdout, proc.stdout + proc.stderr
    return proc.stdout.split('(stdout) ', 1)[-1] if '(stdout) ' in proc.stdout else ''


def _changed(run) -> dict:
    return {h: r['changed'] for h, r in run.recap.items() if r['changed']}


def _remove(*nodes: str, extra: tuple = ()):
    return playbook(REMOVE, '-i', str(INVENTORY), '-e', json.dumps({'kubeseed_remove_nodes': list(nodes)}), *extra)


def test_add_a_worker_with_limit(lab_cluster):
    needs_cluster()
    _healthy(['ks-cp1', 'ks-w1', 'ks-w2'])
    _lab_up(3)
    run = playbook('site.yml', '-i', str(lab_cluster), '--limit', 'ks-w3')
    run.assert_ok()
    print('site.yml --limit ks-w3 (join): %.0fs' % run.seconds)
    _healthy(['ks-cp1', 'ks-w1', 'ks-w2', 'ks-w3'])


DRAIN_BLOCKER = '''
apiVersion: v1
kind: Namespace
metadata: {name: e2e-drain}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: pinned, namespace: e2e-drain}
spec:
  replicas: 1
  selector: {matchLabels: {app: pinned}}
  template:
    metadata: {labels: {app: pinned}}
    spec:
      nodeSelector: {kubernetes.io/hostname: ks-w3}
      containers:
      - {name: demo, image: 'kubeseed.local/demo:0.1.0', imagePullPolicy: Never, args: [serve, -name, pinned]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: pinned, namespace: e2e-drain}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: pinned}}
'''


def test_remove_a_worker_that_is_up(lab_cluster):
    """A typo removes nothing; a PodDisruptionBudget stops the drain and is named; then --check, the run, a re-run."""
    needs_cluster()
    kubectl('apply', '-f', '-', stdin=DRAIN_BLOCKER)
    kubectl('-n', 'e2e-drain', 'rollout', 'status', 'deployment/pinned', '--timeout=120s')
    w3_range = json.loads(kubectl('get', 'node', 'ks-w3', '-o', 'json').stdout)['spec']['podCIDR']
    assert ('%s via %s' % (w3_range, _address('ks-w3'))) in _on('ks-w1', 'ip route')

    typo = _remove('ks-w33')
    assert typo.rc != 0 and 'did you mean ks-w3?' in typo.output, typo.output[-3000:]
    assert _changed(typo) == {} and set(_nodes()) == {'ks-cp1', 'ks-w1', 'ks-w2', 'ks-w3'}

    blocked = _remove('ks-w3', extra=('-e', 'kubeseed_remove_drain_timeout=15'))
    assert blocked.rc != 0
    assert 'e2e-drain/pinned-' in blocked.output and 'disruption budget' in blocked.output, blocked.output[-3000:]
    node = json.loads(kubectl('get', 'node', 'ks-w3', '-o', 'json').stdout)
    assert node['spec'].get('unschedulable') is True  # left cordoned, still a node
    kubectl('-n', 'e2e-drain', 'delete', 'poddisruptionbudget', 'pinned')

    check = _remove('ks-w3', extra=('--check',))
    check.assert_ok()
    run = _remove('ks-w3')
    run.assert_ok()
    print('remove_node.yml ks-w3 (up): check %.0fs, run %.0fs' % (check.seconds, run.seconds))
    predicted, done = changed_tasks(check.output), changed_tasks(run.output)
    assert predicted[NODE_REMOVE_TASK + ' (check all, then per node cordon, drain, delete the Node, remove its etcd member)'] == ['ks-cp1']
    assert predicted[RESET_HOST_TASK + " (kubeadm reset, kubeseed's CNI files, routes and bridge, kube-proxy and CNI iptables chains)"] \
        == ['ks-w3']
    assert sorted(predicted[ROUTE_FILE_TASK]) == ['ks-cp1', 'ks-w1', 'ks-w2']
    # the run changed what the check predicted (and applied the route files the check saw change)
    assert {t: sorted(h) for t, h in done.items() if 'Apply the routes now' not in t} == {t: sorted(h) for t, h in predicted.items()}
    assert 'e2e-drain/pinned-' in run.output  # the drain evicted it

    assert set(_nodes()) == {'ks-cp1', 'ks-w1', 'ks-w2'}
    leftovers = _on('ks-w3', 'ls /etc/kubernetes/kubelet.conf /var/lib/kubelet/config.yaml /etc/cni/net.d /var/lib/cni 2>&1; '
                             'ip link show cni0 2>&1; iptables-save | grep -c -E "KUBE-|CNI-" || true; systemctl is-active kubelet || true')
    assert 'No such file' in leftovers and 'kubelet.conf' in leftovers, leftovers
    assert 'does not exist' in leftovers and leftovers.rstrip().endswith('inactive') and '\n0\n' in leftovers, leftovers
    assert w3_range not in _on('ks-w1', 'ip route')

    again = _remove('ks-w3')
    again.assert_ok()
    assert _changed(again) == {}, changed_tasks(again.output)
    check_again = _remove('ks-w3', extra=('--check',))
    check_again.assert_ok()
    assert _changed(check_again) == {}, changed_tasks(check_again.output)
    kubectl('delete', 'namespace', 'e2e-drain')
    _healthy(['ks-cp1', 'ks-w1', 'ks-w2'])


def test_remove_a_worker_whose_host_is_down(lab_cluster):
    """The cluster side is cleaned, the host is reported and skipped; the inventory still lists ks-w3 (removed, not a node)."""
    needs_cluster()
    subprocess.run([*LAB, 'stop', 'ks-w2'], cwd=ROOT, check=True)
    started = time.monotonic()
    _wait('ks-w2 NotReady', lambda: _nodes().get('ks-w2') not in (None, 'True'), timeout=120)
    print('ks-w2 NotReady %.0fs after its host stopped' % (time.monotonic() - started))
    run = _remove('ks-w2')
    run.assert_ok()
    print('remove_node.yml ks-w2 (down): %.0fs' % run.seconds)
    assert re.search(r'^ks-w2 +: ok=\d+ +changed=0 +unreachable=0 +failed=0 .* ignored=1', run.output, re.M), run.output[-1500:]
    assert 'ks-w2 did not answer' in run.output
    assert 'ks-w3 are in the inventory but not nodes of the cluster' in run.output
    assert 'no drain: the node is not Ready' in run.output
    _healthy(['ks-cp1', 'ks-w1'])  # the demo replicas that ran on ks-w2 run on ks-w1 now


def test_reset_refuses_without_the_cluster_name_then_tears_down_and_site_builds_again(lab_cluster):
    """The lab back to 1 + 2 (ks-w2 boots again with its old kubelet state and re-registers; ks-w3 goes)."""
    needs_cluster()
    _lab_up(2)
    reset = ['playbooks/reset.yml', '-i', str(lab_cluster)]
    refused = playbook(*reset)
    assert refused.rc != 0 and '-e kubeseed_reset_confirm=kubeseed' in refused.output and _changed(refused) == {}
    assert 'ks-cp1' in _nodes()

    check = playbook(*reset, '-e', 'kubeseed_reset_confirm=kubeseed', '--check')
    check.assert_ok()
    run = playbook(*reset, '-e', 'kubeseed_reset_confirm=kubeseed')
    run.assert_ok()
    print('reset.yml: check %.0fs, run %.0fs' % (check.seconds, run.seconds))
    assert _changed(check) == _changed(run) and set(_changed(run)) == {'ks-cp1', 'ks-w1', 'ks-w2'}, (_changed(check), _changed(run))
    for host in ('ks-cp1', 'ks-w1', 'ks-w2'):
        # nothing of the cluster left; the packages and containerd stay (the hosts are left prepared)
        left = _on(host, 'find /etc/kubernetes/manifests /etc/kubernetes/pki /var/lib/etcd /var/lib/cni /etc/cni/net.d -mindepth 1 '
                         '2>/dev/null | wc -l; iptables-save | grep -c -E "KUBE-|CNI-" || true; ls /usr/local/bin/kubeadm; '
                         'systemctl is-active containerd')
        assert left.split() == ['0', '0', '/usr/local/bin/kubeadm', 'active'], (host, left)
    assert not os.path.exists(kubeconfig())
    again = playbook(*reset, '-e', 'kubeseed_reset_confirm=kubeseed')
    again.assert_ok()
    assert _changed(again) == {}, changed_tasks(again.output)

    build = playbook('site.yml', '-i', str(lab_cluster))
    build.assert_ok()
    print('site.yml on the reset hosts: %.0fs' % build.seconds)
    _wait('a fresh cluster of 3 Ready nodes', lambda: _nodes() == {'ks-cp1': 'True', 'ks-w1': 'True', 'ks-w2': 'True'})
    assert 'demo' not in kubectl('get', 'namespaces', '-o', 'name').stdout  # a new cluster: nothing of the old one
