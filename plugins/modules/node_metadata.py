#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: node_metadata
short_description: Converge the labels and taints kubeseed manages on Kubernetes nodes
version_added: 0.2.0
description:
  - Runs on a control plane with its admin kubeconfig. For each node of O(nodes) it sets the wanted labels and taints, removes
    those it set earlier that are no longer wanted, and leaves every other label and taint alone (the kubelet's labels, kubeadm's
    control-plane taint, the node controller's taints, what was set with C(kubectl)).
  - kubeseed owns a label or taint when it added it or changed its value, and records that on the node in the annotations
    C(kubeseed.io/labels) (label keys) and C(kubeseed.io/taints) (C(key:effect)). A wanted label or taint that is already there
    with the wanted value is not claimed, so removing it from O(nodes) later leaves it on the node.
  - Each node is changed with one JSON merge patch that carries the resourceVersion it was read at; when the node changed in
    between (409 Conflict), it is read again and the patch computed again, so taints added by others in between are kept.
  - A node of O(nodes) that is not registered with the API server is waited for up to O(timeout), then the module fails naming it.
  - In check mode the same patches are sent with C(--dry-run=server) (nothing is stored), nodes that are not registered yet are
    skipped (their join is the predicted change), and a host without C(kubectl) or without O(kubeconfig) (no cluster yet) changes
    nothing.
author:
  - kubeseed maintainers (@kubeseed)
options:
  nodes:
    description:
      - Node name -> C(labels) (a mapping of label key to value) and C(taints) (a list of C(key), C(value) (optional) and
        C(effect), one of C(NoSchedule), C(PreferNoSchedule), C(NoExecute); one taint per key and effect).
      - Every node listed is converged; an empty C(labels) or C(taints) removes the ones kubeseed set earlier. Nodes not listed
        are not touched.
    type: dict
    required: true
  timeout:
    description: Seconds to wait for the nodes of O(nodes) to be registered with the API server (not in check mode).
    type: int
    default: 60
extends_documentation_fragment:
  - kubeseed.cluster.kubectl
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    details: The patches are sent with C(--dry-run=server); nodes that have not joined yet are skipped.
  diff_mode:
    support: full
    details: The labels and taints of each changed node, before and after.
seealso:
  - module: kubeseed.cluster.cluster_ready
'''

EXAMPLES = r'''
- name: Labels and taints of two workers
  kubeseed.cluster.node_metadata:
    nodes:
      worker1:
        labels: {node.example.com/pool: batch}
        taints: [{key: dedicated, value: batch, effect: NoSchedule}]
      worker2:
        labels: {}
        taints: []
  delegate_to: "{{ groups['control_plane'][0] }}"
  run_once: true

- name: From the inventory (kubeseed_node_labels and kubeseed_node_taints of each host of the play)
  kubeseed.cluster.node_metadata:
    nodes: >-
      {% set ns = namespace(nodes={}) %}{% for host in ansible_play_hosts_all %}{% set ns.nodes = ns.nodes | combine({host:
      {'labels': hostvars[host].kubeseed_node_labels | default({}), 'taints': hostvars[host].kubeseed_node_taints | default([])}})
      %}{% endfor %}{{ ns.nodes }}
  delegate_to: "{{ groups['control_plane'][0] }}"
  run_once: true
'''

RETURN = r'''
changes:
  description: Node name -> what changed (or would change in check mode), one line each; only nodes that changed.
  returned: always
  type: dict
  sample: {worker1: ['label node.example.com/pool=batch added', 'taint dedicated=batch:NoSchedule added']}
not_registered:
  description: Nodes of O(nodes) that are not registered yet (check mode only; a real run waits for them or fails).
  returned: always
  type: list
  elements: str
  sample: [worker3]
'''

import json
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _node_metadata as meta
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubectl import KUBECTL_ARG_SPEC, Kubectl

POLL_SECONDS = 2
ATTEMPTS = 5
CONFLICT = 'the object has been modified'


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            'nodes': {'type': 'dict', 'required': True},
            **KUBECTL_ARG_SPEC,
            'timeout': {'type': 'int', 'default': 60},
        },
        supports_check_mode=True,
    )
    params = module.params
    wanted = params['nodes']
    problems = meta.input_problems(wanted)
    if problems:
        module.fail_json(msg='invalid nodes option:\n- ' + '\n- '.join(problems))
    kubectl = Kubectl(module, params['kubeconfig'])
    if module.check_mode and kubectl.cluster_missing():
        module.exit_json(changed=False, changes={}, not_registered=sorted(wanted),
                         msg='no cluster yet (check mode): the nodes get their labels and taints once they have joined')
    kubectl.require()
    call = kubectl.json

    deadline = time.monotonic() + max(params['timeout'], 0)
    while True:
        nodes, error = call('get', 'nodes')
        absent = meta.missing(nodes, wanted) if nodes is not None else []
        if (nodes is not None and not absent) or module.check_mode or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    if nodes is None and module.check_mode:
        module.warn('API server: %s; labels and taints not compared (a real run would first apply the predicted changes)' % error)
        module.exit_json(changed=False, changes={}, not_registered=sorted(wanted))
    if nodes is None:
        module.fail_json(msg='API server: %s' % error)
    if absent and not module.check_mode:
        module.fail_json(msg='not registered with the API server after %ss (their kubelet has not joined or is not running): %s'
                             % (params['timeout'], ', '.join(absent)))

    live = meta.by_name(nodes)
    changes, diffs = {}, []
    for name in sorted(set(wanted) - set(absent)):
        labels, taints = (wanted[name] or {}).get('labels') or {}, (wanted[name] or {}).get('taints') or []
        node = live[name]
        for attempt in range(ATTEMPTS):
            planned = meta.plan(node, labels, taints)
            if not planned['changed']:
                break
            args = ['patch', 'node', name, '--type', 'merge', '--patch', json.dumps(planned['patch'])]
            patched, error = call(*(args + (['--dry-run=server'] if module.check_mode else [])))
            if patched is not None:
                left = meta.plan(patched, labels, taints)['changes']
                if left:
                    module.fail_json(msg='node %s: still different after the patch: %s' % (name, '; '.join(left)), changes=changes)
                break
            if CONFLICT not in error or attempt == ATTEMPTS - 1:
                module.fail_json(msg='node %s: kubectl patch failed: %s' % (name, error), changes=changes)
            node, error = call('get', 'node', name)
            if node is None:
                module.fail_json(msg='node %s: %s' % (name, error), changes=changes)
        if planned['changed']:
            changes[name] = planned['changes']
            diffs.append(meta.diff(planned))
    result = {'changed': bool(changes), 'changes': changes, 'not_registered': absent}
    if module._diff and diffs:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
