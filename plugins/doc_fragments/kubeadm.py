# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the modules that run kubeadm (argument spec: _kubeadm_ops.KUBEADM_ARG_SPEC)."""
from __future__ import annotations


class ModuleDocFragment:
    """kubeseed.cluster.kubeadm."""

    DOCUMENTATION = r'''
options:
  kubeadm_path:
    description:
      - kubeadm binary, a name or a path. It is looked up with C(get_bin_path) in C(/usr/local/bin), C(/usr/bin) and
        E(PATH); when it is missing the module fails naming it, before anything is changed.
    type: path
    default: kubeadm
'''
