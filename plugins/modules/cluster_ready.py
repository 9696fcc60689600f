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
  - A Deployment replica that sits on a node which is not Ready and is not one of O(nodes) (a host that is down and out
    of the run) counts as available, with a warning and in RV(stranded) - no run can bring it back, and Kubernetes starts
    it elsewhere when it evicts it (the pods' C(tolerationSeconds), 300 s by default), so the run does not wait for that.
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
  spread:
    description:
      - Deployments (C(namespace/name), also in O(deployments)) whose pods must not all run on one node when two or more
        Ready, schedulable nodes can run them (their nodeSelector and tolerations allow it). Once they are available, such
        a Deployment is restarted (its pod template gets the annotation C(kubeseed.io/spread-at)) and waited for, so that its
        anti-affinity places the new pods on different nodes; C(changed) then. kubeadm starts CoreDNS while the first
        control plane is the only node, and nothing moves its pods when more nodes join.
      - In check mode the restart is predicted, not made.
    type: list
    elements: str
    default: []
    version_added: 0.10.0
  serving_ca:
    description:
      - CA certificate (a path on the host) the kubelets' serving certificates must verify against
        (kubeseed_kubelet_serving_certificates). Each node of O(nodes) that is Ready is then also waited for until a TLS
        handshake with its kubelet (its InternalIP, the kubelet port) verifies with it, for that address. Empty - not checked.
    type: str
    default: ''
    version_added: 0.13.0
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
spread:
  description: What O(spread) restarted, and why (in check mode, what it would restart).
  returned: always
  type: list
  elements: str
  sample: ['kube-system/coredns: all 2 pods run on cp1 though 3 nodes can run them (cp1, cp2, cp3)']
  version_added: 0.10.0
stranded:
  description: Deployments of O(deployments) counted as available though some replicas are on nodes that are down and
    outside O(nodes), and where.
  returned: always
  type: list
  elements: str
  sample: ['kube-system/coredns: 1 replica on w2 (not Ready, not a node of this run) until Kubernetes starts it elsewhere']
  version_added: 0.12.0
not_ready:
  description: Why each node of O(nodes) or Deployment of O(deployments) is not ready (empty when all are).
  returned: always
  type: list
  elements: str
'''

import json
import socket
import ssl
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
            'spread': {'type': 'list', 'elements': 'str', 'default': []},
            'serving_ca': {'type': 'str', 'default': ''},
            **KUBECTL_ARG_SPEC,
            'timeout': {'type': 'int', 'default': 300},
        },
        supports_check_mode=True,
    )
    params = module.params
    for option in ('deployments', 'daemonsets', 'spread'):
        for ref in params[option]:
            if ref.count('/') != 1:
                module.fail_json(msg='%s: %r is not namespace/name' % (option, ref))
    kubectl = Kubectl(module, params['kubeconfig'])
    if module.check_mode and kubectl.cluster_missing():
        module.exit_json(changed=False, nodes=[], not_ready=[], spread=[], msg='no cluster yet (check mode): nothing to wait for')
    kubectl.require()
    get = kubectl.json

    deadline = time.monotonic() + max(params['timeout'], 0)
    nodes, problems, stranded = _wait(module, get, params, deadline)
    spread = [] if problems else _spread(module, kubectl, get, params['spread'], nodes)
    if spread and not module.check_mode:
        nodes, problems, stranded = _wait(module, get, dict(params, deployments=params['spread'], daemonsets=[]), deadline)
    summaries = []
    for node in (nodes or {}).get('items') or []:
        summary = ready.node_summary(node)
        summary.pop('conditions')
        summaries.append(summary)
    result = {'changed': bool(spread), 'nodes': summaries, 'not_ready': problems, 'spread': spread, 'stranded': stranded}
    for note in stranded:
        module.warn(note)
    if problems and module.check_mode:
        module.warn('not ready now (a real run would first apply the predicted changes, then wait): ' + '; '.join(problems))
    elif problems:
        module.fail_json(msg='not ready after %ss:\n- %s' % (params['timeout'], '\n- '.join(problems)), **result)
    module.exit_json(**result)


def _spread(module, kubectl, get, refs: list, nodes: dict) -> list:
    """Restart (in check mode: name) each Deployment of refs whose pods all run on one node though more could run them."""
    done = []
    for ref in refs:
        namespace, name = ref.split('/')
        deployment, error = get('--namespace', namespace, 'get', 'deployment', name)
        if deployment is None:
            module.fail_json(msg='spread: %s: %s' % (ref, error))
        selector = ','.join('%s=%s' % item for item in sorted(((deployment.get('spec') or {}).get('selector') or {}).get('matchLabels', {}).items()))
        pods, error = get('--namespace', namespace, 'get', 'pods', '--selector', selector)
        if pods is None:
            module.fail_json(msg='spread: %s: %s' % (ref, error))
        why = ready.crowded(deployment, pods, nodes, ref)
        if why is None:
            continue
        done.append(why)
        if module.check_mode:
            continue
        patch = {'spec': {'template': {'metadata': {'annotations': {'kubeseed.io/spread-at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}}}}}
        rc, _out, err = module.run_command([kubectl.binary, '--kubeconfig', kubectl.kubeconfig, '--namespace', namespace, 'patch',
                                            'deployment', name, '--type', 'merge', '--patch', json.dumps(patch)])
        if rc != 0:
            module.fail_json(msg='spread: restarting %s failed: %s' % (ref, err.strip()), spread=done, changed=False)
    return done


def _wait(module, get, params: dict, deadline: float) -> tuple:
    """(the nodes, what is not ready) once everything is ready, at the deadline, or at once in check mode."""
    while True:
        nodes, error = get('get', 'nodes')
        problems = ['API server: %s' % error] if nodes is None else ready.not_ready(nodes, params['nodes'])
        if nodes is not None and params['serving_ca']:
            problems += ready.serving_problems(nodes, params['nodes'], lambda address, port: _verify(params['serving_ca'], address, port))
        stranded = []
        for kind, refs, check in (('deployment', params['deployments'], ready.deployment_problem),
                                  ('daemonset', params['daemonsets'], ready.daemonset_problem)):
            for ref in refs:
                namespace, name = ref.split('/')
                found, error = get('--namespace', namespace, 'get', kind, name)
                if found is None and error and 'NotFound' not in error:
                    problems.append('%s: %s' % (ref, error))
                    continue
                problem = check(found, ref)
                if problem and kind == 'deployment' and found and nodes is not None:
                    # replicas on a node that is down and not in this run: no run can help them, Kubernetes evicts them
                    on_down = _stranded(get, found, namespace, nodes, params['nodes'])
                    if on_down and not check(found, ref, sum(on_down.values())):
                        problem = None
                        stranded.append('%s: %s on %s (not Ready, not a node of this run) until Kubernetes starts %s elsewhere'
                                        % (ref, _replicas(sum(on_down.values())), ', '.join(sorted(on_down)),
                                           'it' if sum(on_down.values()) == 1 else 'them'))
                if problem:
                    problems.append(problem)
        if not problems or module.check_mode or time.monotonic() >= deadline:
            return nodes, problems, stranded
        time.sleep(POLL_SECONDS)


def _verify(ca_path: str, address: str, port: int) -> str:
    """'' when the kubelet at address:port serves a certificate of the CA for that address, else why not."""
    try:
        context = ssl.create_default_context(cafile=ca_path)
        with socket.create_connection((address, port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=address):
                return ''
    except (OSError, ssl.SSLError, ValueError) as exc:
        return str(exc) or type(exc).__name__


def _replicas(count: int) -> str:
    return '1 replica' if count == 1 else '%d replicas' % count


def _stranded(get, deployment: dict, namespace: str, nodes: dict, run_nodes: list) -> dict:
    """ready.stranded_pods of the Deployment's pods ({} when they cannot be listed)."""
    labels = ((deployment.get('spec') or {}).get('selector') or {}).get('matchLabels') or {}
    if not labels:
        return {}
    pods, _error = get('--namespace', namespace, 'get', 'pods', '--selector', ','.join('%s=%s' % item for item in sorted(labels.items())))
    return ready.stranded_pods(pods, nodes, run_nodes) if pods is not None else {}


if __name__ == '__main__':
    main()
