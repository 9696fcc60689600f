# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kubeconfig_path filter: where the cluster playbook writes the admin kubeconfig (module_utils/_kubeconfig.py)."""
from __future__ import annotations

DOCUMENTATION = r'''
name: kubeconfig_path
short_description: Where the admin kubeconfig of a cluster is kept on the controller
version_added: 0.2.0
description:
  - The configured path (C(kubeseed_kubeconfig_dest)) when it is set, as given (the modules that use it expand its C(~)); else
    C(<home>/.kube/kubeseed-<cluster name>.conf).
  - The one rule for the C(control_plane) role, which writes the admin kubeconfig there, and the C(microservices) role,
    which looks for it there.
  - Filters run on the controller, so the default home is that of the user running ansible-playbook.
author:
  - kubeseed maintainers (@kubeseed)
options:
  _input:
    description: The configured path (C(kubeseed_kubeconfig_dest)); may be empty.
    type: str
    required: true
  cluster_name:
    description: Name of the cluster (C(kubeseed_cluster_name)).
    type: str
    required: true
  home:
    description: Home directory for the default path; the controller user's when not given.
    type: str
'''

EXAMPLES = r'''
kubeconfig: "{{ kubeseed_kubeconfig_dest | kubeseed.cluster.kubeconfig_path('prod') }}"
# -> '/home/me/.kube/kubeseed-prod.conf' when kubeseed_kubeconfig_dest is empty
'''

RETURN = r'''
_value:
  description: Path of the kubeconfig.
  type: str
'''

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeconfig import kubeconfig_path


class FilterModule:
    """kubeseed.cluster.kubeconfig_path."""

    def filters(self):
        return {'kubeconfig_path': kubeconfig_path}
