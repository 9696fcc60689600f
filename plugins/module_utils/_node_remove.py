# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Take nodes out of a cluster from a control plane that stays: check everything first, then cordon, drain, delete the
Node and remove a control plane's etcd member, one node after the other.

Nothing is done unless every requested name is known (a node of the cluster, or a host of the inventory that is no
longer one) and the removal leaves a control plane and an etcd quorum: a typo removes nothing.
"""
from __future__ import annotations

import difflib

from ansible_collections.kubeseed.cluster.plugins.module_utils._drain import drain, evictable, ready
from ansible_collections.kubeseed.cluster.plugins.module_utils._etcd_members import EtcdError, Members, removal_problem
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubectl import Kubectl

CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane'


def plan_removal(nodes_json: dict, requested: list, inventory: list, control_planes: list) -> tuple[list[str], list[dict]]:
    """(problems, plan): one entry per requested name, in the order given, or the problems that stop everything.

    inventory: every host of the inventory's control plane and worker groups; control_planes: those of the control plane group.
    """
    cluster = {(n.get('metadata') or {}).get('name'): n for n in nodes_json.get('items') or []}
    problems, plan, seen = [], [], set()
    if not requested:
        return ['kubeseed_remove_nodes: empty; name the nodes to remove, e.g. -e \'{"kubeseed_remove_nodes": ["w3"]}\' (nothing was '
                'changed)'], []
    for index, name in enumerate(requested):
        if not isinstance(name, str) or not name.strip():
            problems.append('kubeseed_remove_nodes[%d]: %r is not a node name' % (index, name))
            continue
        if name in seen:
            problems.append('kubeseed_remove_nodes[%d]: %s is listed twice' % (index, name))
            continue
        seen.add(name)
        node = cluster.get(name)
        if node is None and name not in inventory:
            close = difflib.get_close_matches(name, sorted(set(cluster) | set(inventory)), n=1, cutoff=0.5)
            problems.append('kubeseed_remove_nodes[%d]: %s is neither a node of the cluster nor a host of the inventory%s (nodes: %s)'
                            % (index, name, '; did you mean %s?' % close[0] if close else '', ', '.join(sorted(cluster)) or 'none'))
            continue
        labels = ((node or {}).get('metadata') or {}).get('labels') or {}
        plan.append({'name': name, 'in_cluster': node is not None, 'ready': bool(node) and ready(node),
                     'control_plane': CONTROL_PLANE_LABEL in labels or name in control_planes})
    if problems:
        return problems, []
    cps = [n for n, node in cluster.items() if CONTROL_PLANE_LABEL in ((node.get('metadata') or {}).get('labels') or {})]
    if cps and not set(cps) - {p['name'] for p in plan}:
        problems.append('kubeseed_remove_nodes: it names every control plane (%s); a cluster needs one, to tear it down use '
                        'playbooks/reset.yml' % ', '.join(sorted(cps)))
    return problems, plan


class Remover:
    """One module run: check, then remove node after node (or in check mode say what would be done)."""

    def __init__(self, module) -> None:
        self.module = module
        self.params = module.params
        self.kubectl = Kubectl(module, self.params['kubeconfig'])
        self.etcd = Members(timeout=5.0)
        self.result: dict = {'changed': False, 'nodes': [], 'etcd_members': [], 'remaining': []}

    def fail(self, msg: str) -> None:
        self.module.fail_json(msg=msg, **self.result)

    def kubectl_json(self, *args: str):
        answer, error = self.kubectl.json(*args)
        if answer is None:
            self.fail('kubectl %s on %s failed: %s' % (' '.join(args), self.params['host'], error))
        return answer

    def kubectl_run(self, *args: str) -> tuple[int, str, str]:
        return self.module.run_command([self.kubectl.binary, '--kubeconfig', self.kubectl.kubeconfig, *args])

    def check(self) -> tuple[list[dict], list[dict]]:
        """The plan and the etcd members to remove, or fail before anything is changed."""
        self.kubectl.require()
        nodes = self.kubectl_json('get', 'nodes')
        problems, plan = plan_removal(nodes, self.params['nodes'], self.params['inventory'], self.params['control_planes'])
        self.result['remaining'] = sorted({(n.get('metadata') or {}).get('name') for n in nodes.get('items') or []}
                                          - {p['name'] for p in plan})
        if problems:
            self.fail('nothing was removed:\n- ' + '\n- '.join(problems))
        if self.params['host'] in {p['name'] for p in plan}:
            self.fail('nothing was removed: %s runs the removal and is in kubeseed_remove_nodes; run it from a control plane that stays'
                      % self.params['host'])
        removing_cp = [p['name'] for p in plan if p['control_plane']]
        if not removing_cp:
            return plan, []
        try:
            members = self.etcd.list()
            self.result['etcd_members'] = [m['name'] for m in members]
            leaving = [m for m in members if m['name'] in removing_cp]
            healthy = {m['name']: self.etcd.healthy(m) for m in members}
        except EtcdError as exc:
            self.fail('nothing was removed: the etcd members could not be listed from %s (%s); removing a control plane needs a healthy '
                      'etcd' % (self.params['host'], exc))
        problem = removal_problem(members, [m['name'] for m in leaving], healthy)
        if problem:
            self.fail('nothing was removed: ' + problem)
        return plan, leaving

    def run(self) -> dict:
        plan, leaving = self.check()
        member_of = {m['name']: m for m in leaving}
        for entry in plan:
            report = {'name': entry['name'], 'control_plane': entry['control_plane'], 'actions': []}
            self.result['nodes'].append(report)
            if entry['in_cluster']:
                self.remove_node(entry, report)
            if entry['name'] in member_of:
                report['actions'].append('remove etcd member %s' % entry['name'])
                self.result['changed'] = True
                if not self.module.check_mode:
                    try:
                        self.etcd.remove(member_of[entry['name']]['id'])
                    except EtcdError as exc:
                        self.fail('%s: the Node is deleted but its etcd member could not be removed (%s); run the playbook again' %
                                  (entry['name'], exc))
            if not report['actions']:
                report['actions'].append('nothing: not a node of the cluster any more')
        removed = [r['name'] for r in self.result['nodes'] if r['actions'][0] != 'nothing: not a node of the cluster any more']
        self.result['msg'] = ('%s %s' % ('would remove' if self.module.check_mode else 'removed', ', '.join(removed)) if removed
                              else 'nothing to remove: %s already left the cluster' % ', '.join(p['name'] for p in plan))
        return self.result

    def remove_node(self, entry: dict, report: dict) -> None:
        name = entry['name']
        self.result['changed'] = True
        if entry['ready'] and name not in self.params['unreachable']:
            pods = evictable(self.kubectl_json('get', 'pods', '--all-namespaces', '--field-selector', 'spec.nodeName=%s' % name))
            report['pods'] = pods
            report['actions'].append('cordon and drain (%d pod(s) to evict%s)' % (len(pods), ': ' + ', '.join(pods) if pods else ''))
            if not self.module.check_mode:
                self.drain(name)
        else:
            why = 'its host did not answer' if name in self.params['unreachable'] else 'the node is not Ready'
            report['actions'].append('no drain: %s, its pods cannot stop gracefully (the pod garbage collector deletes them once '
                                     'the Node is gone)' % why)
        report['actions'].append('delete Node %s' % name)
        if not self.module.check_mode:
            rc, _out, err = self.kubectl_run('delete', 'node', name, '--ignore-not-found', '--wait=true',
                                             '--timeout=%ds' % self.params['drain_timeout'])
            if rc != 0:
                self.fail('%s: kubectl delete node failed: %s' % (name, err.strip()))

    def drain(self, name: str) -> None:
        problem = drain(self.kubectl_run, name, self.params['drain_timeout'], 'kubeseed_remove_drain_timeout', 'cordoned and in the cluster')
        if problem:
            self.fail(problem)
