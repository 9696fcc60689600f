# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upgrading a kubeadm cluster: which version steps kubeadm supports, what is left to do per node, and the node steps
(cordon and drain, kubeadm upgrade apply/node, wait for the new kubelet, uncordon).

The plan is read from the cluster (the ClusterConfiguration's kubernetesVersion, each Node's kubelet version and whether
an earlier run cordoned it), so an interrupted upgrade is resumed by running it again, and a finished one changes nothing.
kubeadm's own `upgrade plan` is not used: it asks dl.k8s.io for the latest releases, which an air-gapped cluster cannot.
"""
from __future__ import annotations

import json
import re
import time

from ansible_collections.kubeseed.cluster.plugins.module_utils._drain import drain, evictable, ready

# Set on a node this collection cordoned for an upgrade, so that only those are uncordoned again (a node an operator
# cordoned by hand stays cordoned).
CORDONED_ANNOTATION = 'kubeseed.io/cordoned-for'
CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane'
_VERSION = re.compile(r'^v?(\d+)\.(\d+)\.(\d+)$')
# kubelets may be up to three minors older than the API server (Kubernetes' version skew policy)
KUBELET_SKEW = 3


def parse(version: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of 'v1.37.2' or '1.37.2'; None for anything else (pre-releases included)."""
    match = _VERSION.match((version or '').strip())
    return tuple(int(part) for part in match.groups()) if match else None


def show(version: tuple) -> str:
    return '%d.%d.%d' % version


def step_problem(current: str, target: str) -> str | None:
    """Why kubeadm cannot upgrade a cluster of version current to target (None when it can: the same version, a newer patch
    of the same minor, or any patch of the next minor)."""
    now, then = parse(current), parse(target)
    if now is None:
        return 'the cluster reports Kubernetes version %r, which is not a release version' % current
    if then is None:
        return 'kubeseed_kubernetes_version: %r is not a release version (like 1.37.2)' % target
    if then == now or (then[:2] == now[:2] and then[2] > now[2]) or (then[0] == now[0] and then[1] == now[1] + 1):
        return None
    if then < now:
        return ('kubeseed_kubernetes_version: %s is older than the cluster (%s); kubeadm cannot downgrade a cluster. Set it back to %s '
                '(or restore a backup taken before the upgrade with playbooks/restore.yml onto hosts of that version)'
                % (show(then), show(now), show(now)))
    if then[0] != now[0]:
        return 'kubeseed_kubernetes_version: %s is another major version than the cluster (%s); kubeadm cannot upgrade across it' % (
            show(then), show(now))
    path = ' -> '.join('1.%d.x' % minor for minor in range(now[1] + 1, then[1] + 1))
    return ('kubeseed_kubernetes_version: %s skips a minor version (the cluster runs %s); kubeadm upgrades one minor at a time: '
            'run playbooks/upgrade.yml once per step, %s -> %s, each with kubeseed_kubernetes_version (and the offline bundle) of '
            'that step' % (show(then), show(now), show(now), path))


def _node_facts(node: dict) -> dict:
    meta = node.get('metadata') or {}
    return {
        'kubelet': ((node.get('status') or {}).get('nodeInfo') or {}).get('kubeletVersion', '').lstrip('v'),
        'runtime': ((node.get('status') or {}).get('nodeInfo') or {}).get('containerRuntimeVersion', ''),
        'ready': ready(node),
        'unschedulable': bool((node.get('spec') or {}).get('unschedulable')),
        'cordoned_for': (meta.get('annotations') or {}).get(CORDONED_ANNOTATION, ''),
        'control_plane': CONTROL_PLANE_LABEL in (meta.get('labels') or {}),
    }


def runtime_below(runtime: str, minimum: str) -> bool:
    """Whether a node's containerRuntimeVersion (``containerd://1.6.20``) is a containerd older than minimum (``2.0.0``)."""
    if not minimum or not runtime.startswith('containerd://'):
        return False
    found = re.match(r'v?([0-9]+)\.([0-9]+)\.([0-9]+)', runtime[len('containerd://'):])
    return bool(found) and tuple(int(x) for x in found.groups()) < parse(minimum)


def plan(cluster_version: str, nodes_json: dict, target: str, control_planes: list, workers: list,
         runtime_minimum: str = '') -> tuple[list[str], dict]:
    """(problems, plan) for an upgrade to target.

    control_planes and workers: the inventory's groups, in order. The plan lists, in that order, the control planes and the
    workers that still need work (an older kubelet, a containerd older than runtime_minimum whose runtime the upgrade
    replaces, or cordoned by an earlier run of the upgrade); 'apply' says whether `kubeadm upgrade apply` is still to run
    (on the first control plane of the plan).
    """
    target = (target or '').strip().lstrip('v')
    current = (cluster_version or '').strip().lstrip('v')
    problems = []
    problem = step_problem(current, target)
    if problem:
        return [problem], {}
    if runtime_minimum and parse(runtime_minimum) is None:
        return ['runtime_minimum: %r is not a version (major.minor.patch)' % runtime_minimum], {}
    nodes = {(n.get('metadata') or {}).get('name'): _node_facts(n) for n in nodes_json.get('items') or []}
    then = parse(target)
    for name, facts in sorted(nodes.items()):
        kubelet = parse(facts['kubelet'])
        if kubelet is None:
            problems.append('node %s reports kubelet version %r, which is not a release version' % (name, facts['kubelet']))
        elif kubelet > then:
            problems.append('node %s runs kubelet %s, newer than kubeseed_kubernetes_version %s; kubeadm cannot downgrade a node'
                            % (name, show(kubelet), target))
        elif kubelet[0] != then[0] or then[1] - kubelet[1] > KUBELET_SKEW:
            problems.append('node %s runs kubelet %s, more than %d minor versions older than %s (the version skew Kubernetes '
                            'allows); upgrade it step by step first' % (name, show(kubelet), KUBELET_SKEW, target))
    cluster_cps = [name for name, facts in nodes.items() if facts['control_plane']]
    if not control_planes or control_planes[0] not in nodes:
        problems.append('the first host of the inventory\'s control plane group (%s) is not a node of the cluster (control planes: %s); '
                        'the upgrade runs kubeadm upgrade apply and every drain from it: put a control plane of the cluster first'
                        % (control_planes[0] if control_planes else 'none', ', '.join(sorted(cluster_cps)) or 'none'))
    if problems:
        return problems, {}

    def pending(name: str) -> bool:
        facts = nodes[name]
        return facts['kubelet'] != target or bool(facts['cordoned_for']) or runtime_below(facts['runtime'], runtime_minimum)

    in_cluster = [name for name in control_planes if name in nodes]
    cps = [name for name in in_cluster if pending(name)]
    apply = current != target
    if apply and in_cluster[0] not in cps:  # kubeadm upgrade apply runs on the first control plane, whatever its kubelet
        cps.insert(0, in_cluster[0])
    result = {
        'cluster_version': current,
        'target': target,
        'apply': apply,
        'apply_on': in_cluster[0] if in_cluster else '',
        'control_planes': cps,
        'workers': [name for name in workers if name in nodes and name not in control_planes and pending(name)],
        'not_nodes': [name for name in control_planes + workers if name not in nodes],
        'not_in_inventory': sorted(name for name in nodes if name not in control_planes + workers),
        'nodes': nodes,
    }
    result['runtime'] = [name for name in cps + result['workers'] if runtime_below(nodes[name]['runtime'], runtime_minimum)]

    def action(name: str) -> str:
        facts = nodes[name]
        runtime = (' and replace its runtime (%s -> the bundle\'s containerd)' % facts['runtime']
                   if name in result['runtime'] else '')
        if facts['kubelet'] != target:
            return 'upgrade %s (%s -> %s)%s' % (name, facts['kubelet'], target, runtime)
        if runtime:
            return 'drain %s%s' % (name, runtime)
        return 'uncordon %s (cordoned by an interrupted upgrade)' % name

    result['actions'] = (['kubeadm upgrade apply v%s on %s' % (target, result['apply_on'])] if apply else []) + [
        action(name) for name in cps + result['workers']]
    return problems, result


class NodeSteps:
    """Cordon and drain a node before its upgrade, then wait for its new kubelet and uncordon it (run with the admin
    kubeconfig on a control plane)."""

    def __init__(self, module) -> None:
        self.module = module
        self.params = module.params
        self.binary = module.get_bin_path('kubectl', required=True, opt_dirs=['/usr/local/bin', '/usr/bin'])

    def kubectl(self, *args: str) -> tuple[int, str, str]:
        return self.module.run_command([self.binary, '--kubeconfig', self.params['kubeconfig'], *args])

    def node(self, deadline: float | None = None) -> dict:
        """The Node object; with a deadline, errors until then are retried (an API server that kubeadm just restarted refuses
        or forbids requests until its caches are warm)."""
        while True:
            rc, out, err = self.kubectl('get', 'node', self.params['node'], '--output', 'json')
            if rc == 0:
                return json.loads(out)
            if deadline is None or time.monotonic() > deadline:
                self.module.fail_json(msg='node %s: kubectl get node failed: %s' % (self.params['node'], err.strip()))
            time.sleep(2)

    def patch(self, unschedulable: bool, annotation: str | None, deadline: float | None = None) -> None:
        """Cordon (with the mark) or uncordon (without it) in one request; with a deadline, errors until then are retried."""
        body = {'metadata': {'annotations': {CORDONED_ANNOTATION: annotation}}, 'spec': {'unschedulable': unschedulable or None}}
        while True:
            rc, _out, err = self.kubectl('patch', 'node', self.params['node'], '--type', 'merge', '--patch', json.dumps(body))
            if rc == 0:
                return
            if deadline is None or time.monotonic() > deadline:
                self.module.fail_json(msg='node %s: kubectl patch node failed: %s' % (self.params['node'], err.strip()))
            time.sleep(2)

    def elsewhere(self) -> bool:
        """Whether another node is Ready and schedulable (a single-node cluster's pods cannot move: its drain would only stop
        them, or wait forever on a PodDisruptionBudget)."""
        rc, out, err = self.kubectl('get', 'nodes', '--output', 'json')
        if rc != 0:
            self.module.fail_json(msg='node %s: kubectl get nodes failed: %s' % (self.params['node'], err.strip()))
        others = [_node_facts(n) for n in json.loads(out).get('items') or [] if (n.get('metadata') or {}).get('name') != self.params['node']]
        return any(o['ready'] and not o['unschedulable'] for o in others)

    def drained(self) -> dict:
        name, facts = self.params['node'], _node_facts(self.node())
        result = {'changed': False, 'actions': []}
        if not facts['unschedulable']:
            result['changed'] = True
            result['actions'].append('cordon')
            if not self.module.check_mode:
                self.patch(True, self.params['reason'])
        elif not facts['cordoned_for']:
            result['actions'].append('already cordoned by someone else: it stays cordoned afterwards')
        if not facts['ready']:
            result['actions'].append('no drain: the node is not Ready, its pods cannot stop gracefully')
        elif not self.elsewhere():
            result['actions'].append('no drain: no other node is Ready and schedulable, its pods would have nowhere to go')
        else:
            rc, out, err = self.kubectl('get', 'pods', '--all-namespaces', '--field-selector', 'spec.nodeName=%s' % name,
                                        '--output', 'json')
            if rc != 0:
                self.module.fail_json(msg='node %s: kubectl get pods failed: %s' % (name, err.strip()), **result)
            pods = evictable(json.loads(out))
            result['pods'] = pods
            if pods:
                result['changed'] = True
                result['actions'].append('drain (%d pod(s) to evict: %s)' % (len(pods), ', '.join(pods)))
                if not self.module.check_mode:
                    problem = drain(self.kubectl, name, self.params['timeout'], 'kubeseed_upgrade_drain_timeout')
                    if problem:
                        self.module.fail_json(msg=problem, **result)
        result['msg'] = '%s: %s' % (name, ', '.join(result['actions']) or 'cordoned and drained already')
        return result

    def uncordoned(self) -> dict:
        name, version = self.params['node'], (self.params['kubelet_version'] or '').lstrip('v')
        result = {'changed': False, 'actions': []}
        deadline = time.monotonic() + self.params['timeout']
        facts = _node_facts(self.node(None if self.module.check_mode else deadline))
        if not self.module.check_mode:
            while not facts['ready'] or (version and facts['kubelet'] != version):
                if time.monotonic() > deadline:
                    self.module.fail_json(msg='node %s is not back after its upgrade within %d s: %s. It stays cordoned; see `journalctl -u '
                                              'kubelet` on it, then run the playbook again' % (
                                                  name, self.params['timeout'], 'not Ready' if not facts['ready'] else
                                                  'its kubelet reports %s, not %s' % (facts['kubelet'], version)))
                time.sleep(2)
                facts = _node_facts(self.node(deadline))
            result['waited'] = True
        if facts['cordoned_for'] or (self.module.check_mode and self.params['cordoned_by_this_run']):
            result['changed'] = True
            result['actions'].append('uncordon')
            if not self.module.check_mode:
                self.patch(False, None, deadline)
        result['msg'] = '%s: %s' % (name, 'uncordoned' if result['changed'] else 'schedulable (nothing to uncordon)')
        return result
