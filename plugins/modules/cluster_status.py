#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: cluster_status
short_description: What an operator reads first - nodes, pods that are not Ready and why, restarts, sets, resource use
version_added: 0.13.0
description:
  - Reads the cluster of a kubeconfig (from the controller, like M(kubeseed.cluster.microservices)) and returns its state as
    text lines (RV(report), for a terminal or an AWX job output) and as data (RV(status), for automation).
  - Nodes with their readiness, roles, kubelet version and problems (Ready not True, memory, disk or PID pressure, network
    unavailable, cordoned); pods that are not Ready with their reasons (waiting and terminated states, exit codes), latest
    events and the last log lines of the container that is not ready (of its previous run when it restarted); pods that are
    Ready but restarted, with their last exit; the Deployments of each kubeseed set (label C(kubeseed.io/set)); CPU and memory
    use of every node and pod when the metrics API answers (the C(metrics_server) add-on).
  - Read-only; never fails because the cluster is unhealthy (RV(healthy) says so), only when the API server cannot be read.
author:
  - kubeseed maintainers (@kubeseed)
options:
  namespaces:
    description: Only the pods and Deployments of these namespaces (nodes are always shown). Empty for every namespace.
    type: list
    elements: str
    default: []
  log_lines:
    description: Last log lines shown for each pod that is not Ready (at most ten pods are explained with events and logs).
    type: int
    default: 20
  retry_seconds:
    description: Seconds a request is retried while the API server does not answer.
    type: int
    default: 10
extends_documentation_fragment:
  - kubeseed.cluster.k8s_auth
  - kubeseed.cluster.attributes
attributes:
  check_mode:
    support: full
    description: Read-only, the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
requirements:
  - urllib3 where the module runs (a dependency of the kubernetes Python client)
'''

EXAMPLES = r'''
- name: The cluster's state
  kubeseed.cluster.cluster_status:
    kubeconfig: ~/.kube/kubeseed-kubeseed.conf
  register: state

- name: Show it
  ansible.builtin.debug:
    msg: "{{ state.report }}"
'''

RETURN = r'''
report:
  description: The state as lines of text.
  returned: success
  type: list
  elements: str
  sample: ["cluster: healthy; 3 of 3 node(s) Ready, 0 of 21 pod(s) not Ready"]
healthy:
  description: Every node Ready and every pod Ready (or completed).
  returned: success
  type: bool
status:
  description:
    - C(nodes) (name, ready, roles, version, problems, and with metrics cpu, cpu_percent, memory, memory_percent), C(pods)
      (total, not_ready with reasons, events, log_of, log; restarted with last_exit), C(sets) (set, deployments with replicas,
      available, updated), C(metrics) (whether the metrics API answered), C(healthy).
  returned: success
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_client as k8s
from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_status import gather, report


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            'namespaces': {'type': 'list', 'elements': 'str', 'default': []},
            'log_lines': {'type': 'int', 'default': 20},
            'retry_seconds': {'type': 'int', 'default': 10},
            **k8s.AUTH_ARG_SPEC,
        },
        supports_check_mode=True,
    )
    if not k8s.HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=str(k8s.KUBERNETES_IMPORT_ERROR))
    params = module.params
    if params['log_lines'] < 0 or params['retry_seconds'] < 0:
        module.fail_json(msg='log_lines and retry_seconds: must be 0 or more (got %d and %d)' % (params['log_lines'], params['retry_seconds']))
    try:
        client = k8s.Client(params['kubeconfig'], params['context'], params['host'], params['api_key'], params['validate_certs'],
                            params['ca_cert'], retry_seconds=params['retry_seconds'])
        status = gather(client, params['namespaces'], params['log_lines'])
    except k8s.K8sError as exc:
        module.fail_json(msg='the cluster could not be read: %s' % exc)
    module.exit_json(changed=False, healthy=status['healthy'], status=status, report=report(status))


if __name__ == '__main__':
    main()
