# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option of the modules that run kubectl on a control plane (argument spec: _kubectl.KUBECTL_ARG_SPEC)."""
from __future__ import annotations


class ModuleDocFragment:
    """kubeseed.cluster.kubectl."""

    DOCUMENTATION = r'''
options:
  kubeconfig:
    description: Admin kubeconfig on the host (kubeadm writes it on every control plane).
    type: path
    default: /etc/kubernetes/admin.conf
'''
