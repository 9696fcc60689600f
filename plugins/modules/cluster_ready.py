#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: cluster_ready
short_description: Wait until the nodes of a run are Ready and the cluster's Deployments are available
version_added: 0.2.0
description:
  - Runs on a control plane with its admin kubeconfig and asks the API server, every two seconds, until every node of
    O(nodes) is Ready and every Deployment of O(deployments) and DaemonSet of O(daemonsets) is rolled out (the latest spec
    seen by its controller, every replica or pod updated and available, no old replica left), or O(timeout) passes.
  - "On timeout it fails and names each node that is not Ready with its conditions (for example
    C(w1: Ready=Unknown NodeStatusUnknown: Kubelet stopped posting node status.)), and each Deployment that is not available."
  - Read-only. In check mode it looks once and does not wait; what is not ready is reported as a warning, because a real run
    would first make the changes the check predicts (for example start a stopped kubelet).
author:
  - kubeseed maintainers (@kubeseed)
options:
  nodes:
    description: Names of the nodes that must be Ready (the nodes of the run).
    type: list
    elements: str
    required: true
  deployments:
    description: Deployments (C(namespace/name)) that must be rolled out, every replica updated and available.
    type: list
    elements: str
    default: []
  daemonsets:
    description: DaemonSets (C(namespace/name)) that must be rolled out, their pod updated and available on every node.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for all of them together.
    type: int
    default: 300
extends_documentation_fragment:
  - kubeseed.cluster.kubectl
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Looks once without waiting; reports what is not ready as a warning.
  diff_mode:
    support: none
    description: Changes nothing.
'''

EXAMPLES = r'''
- name: Wait for the nodes of this run and CoreDNS
  kubeseed.cluster.cluster_ready:
    nodes: "{{ ansible_play_hosts_all }}"
    deployments: [kube-system/coredns]
'''

RETURN = r'''
nodes:
  description: Every node of the cluster with its role, readiness and versions.
  returned: always
  type: list
  elements: dict
  sample: [{name: cp1, role: control-plane, ready: true, kubelet_version: v1.37.2, container_runtime: containerd://1.6.20}]
not_ready:
  description: Why each node of O(nodes) or Deployment of O(deployments) is not ready (empty when all are).
  returned: always
  type: list
  elements: str
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _cluster_ready as ready
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubectl import KUBECTL_ARG_SPEC, Kubectl

POLL_SECONDS = 2


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            'nodes': {'type': 'list', 'elements': 'str', 'required': True},
            'deployments': {'type': 'list', 'elements': 'str', 'default': []},
            'daemonsets': {'type': 'list', 'elements': 'str', 'default': []},
            **KUBECTL_ARG_SPEC,
            'timeout': {'type': 'int', 'default': 300},
        },
        supports_check_mode=True,
    )
    params = module.params
    for option in ('deployments', 'daemonsets'):
        for ref in params[option]:
            if ref.count('/') != 1:
                module.fail_json(msg='%s: %r is not namespace/name' % (option, ref))
    kubectl = Kubectl(module, params['kubeconfig'])
    if module.check_mode and kubectl.cluster_missing():
        module.exit_json(changed=False, nodes=[], not_ready=[], msg='no cluster yet (check mode): nothing to wait for')
    kubectl.require()
    get = kubectl.json

    deadline = time.monotonic() + max(params['timeout'], 0)
    while True:
        nodes, error = get('get', 'nodes')
        problems = ['API server: %s' % error] if nodes is None else ready.not_ready(nodes, params['nodes'])
        for kind, refs, check in (('deployment', params['deployments'], ready.deployment_problem),
                                  ('daemonset', params['daemonsets'], ready.daemonset_problem)):
            for ref in refs:
                namespace, name = ref.split('/')
                found, error = get('--namespace', namespace, 'get', kind, name)
                if found is None and error and 'NotFound' not in error:
                    problems.append('%s: %s' % (ref, error))
                else:
                    problem = check(found, ref)
                    if problem:
                        problems.append(problem)
        if not problems or module.check_mode or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    summaries = []
    for node in (nodes or {}).get('items') or []:
        summary = ready.node_summary(node)
        summary.pop('conditions')
        summaries.append(summary)
    result = {'changed': False, 'nodes': summaries, 'not_ready': problems}
    if problems and module.check_mode:
        module.warn('not ready now (a real run would first apply the predicted changes, then wait): ' + '; '.join(problems))
    elif problems:
        module.fail_json(msg='not ready after %ss:\n- %s' % (params['timeout'], '\n- '.join(problems)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
