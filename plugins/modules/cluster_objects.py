#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: cluster_objects
short_description: Server-side apply of cluster objects with kubectl on a control plane
version_added: 0.4.0
description:
  - Runs on a control plane with its admin kubeconfig (no Python Kubernetes client needed on the host). C(changed) comes from
    C(kubectl diff --server-side); only then are the objects applied with C(kubectl apply --server-side) under
    O(field_manager), which owns the fields it sets (conflicts with other managers are forced).
  - For the cluster's own objects the roles keep (for example the PodDisruptionBudget of CoreDNS); services go through
    M(kubeseed.cluster.microservices). Secrets are refused (kubectl's diff, which the module returns, would show their data).
author:
  - kubeseed maintainers (@kubeseed)
options:
  objects:
    description: The objects (full manifests).
    type: list
    elements: dict
    required: true
  field_manager:
    description: Field manager of the apply.
    type: str
    default: kubeseed
extends_documentation_fragment:
  - kubeseed.cluster.kubectl
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: The server-side diff only; before the cluster exists the creation is the predicted change.
  diff_mode:
    support: full
    description: kubectl's diff.
'''

EXAMPLES = r'''
- name: CoreDNS keeps one pod through a drain
  kubeseed.cluster.cluster_objects:
    objects:
      - apiVersion: policy/v1
        kind: PodDisruptionBudget
        metadata: {name: coredns, namespace: kube-system}
        spec: {maxUnavailable: 1, selector: {matchLabels: {k8s-app: kube-dns}}}
'''

RETURN = r'''
objects:
  description: The objects, as C(Kind namespace/name).
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubectl import KUBECTL_ARG_SPEC, Kubectl, apply_objects


def main():
    module = AnsibleModule(
        argument_spec=dict(
            objects=dict(type='list', elements='dict', required=True),
            field_manager=dict(type='str', default='kubeseed'),
            **KUBECTL_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    module.exit_json(**apply_objects(Kubectl(module, module.params['kubeconfig']), module.params['objects'],
                                     module.params['field_manager'], module.check_mode))


if __name__ == '__main__':
    main()
