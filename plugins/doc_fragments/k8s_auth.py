# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the modules that talk to a Kubernetes API server find it (argument spec: _k8s_client.AUTH_ARG_SPEC).

The same options and environment variables as kubernetes.core, so module_defaults and AWX credentials carry over.
"""
from __future__ import annotations


class ModuleDocFragment:
    """kubeseed.cluster.k8s_auth."""

    DOCUMENTATION = r'''
options:
  kubeconfig:
    description:
      - Path of the kubeconfig. Default is E(K8S_AUTH_KUBECONFIG), then C(~/.kube/config), then the in-cluster service account.
    type: path
  context:
    description: Kubeconfig context (default E(K8S_AUTH_CONTEXT), then the current context).
    type: str
  host:
    description: API server URL, instead of a kubeconfig (default E(K8S_AUTH_HOST)).
    type: str
  api_key:
    description: Bearer token for O(host) (default E(K8S_AUTH_API_KEY)).
    type: str
  validate_certs:
    description: Verify the API server certificate (default E(K8S_AUTH_VERIFY_SSL), then the kubeconfig).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description: CA certificate of the API server (default E(K8S_AUTH_SSL_CA_CERT), then the kubeconfig).
    type: path
'''
