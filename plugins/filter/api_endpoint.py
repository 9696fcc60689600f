# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The api_endpoint filter: the same endpoint string the kubeadm modules render (module_utils/_endpoint.py)."""
from __future__ import annotations

DOCUMENTATION = r'''
name: api_endpoint
short_description: The API server endpoint (host:port) of a cluster
version_added: 0.2.0
description:
  - The configured control-plane endpoint, with the API server port added when it has none; when none is configured,
    the given address (the first control plane's) and port. An IPv6 address is put in brackets.
  - The same rule as the C(controlPlaneEndpoint) that M(kubeseed.cluster.kubeadm_init) renders.
author:
  - kubeseed maintainers (@kubeseed)
options:
  _input:
    description: The configured endpoint (C(kubeseed_control_plane_endpoint)); may be empty.
    type: str
    required: true
  address:
    description: Address of the first control plane, used when no endpoint is configured.
    type: str
    required: true
  port:
    description: API server port.
    type: int
    required: true
'''

EXAMPLES = r'''
endpoint: "{{ kubeseed_control_plane_endpoint | kubeseed.cluster.api_endpoint('fd00::10', 6443) }}"
# -> '[fd00::10]:6443' when kubeseed_control_plane_endpoint is empty
'''

RETURN = r'''
_value:
  description: host:port.
  type: str
'''

from ansible_collections.kubeseed.cluster.plugins.module_utils._endpoint import api_endpoint


class FilterModule:
    """kubeseed.cluster.api_endpoint."""

    def filters(self):
        return {'api_endpoint': api_endpoint}
