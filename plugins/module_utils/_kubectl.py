# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubectl with a node's admin kubeconfig, for the modules that run on a control plane (cluster_ready, node_metadata)."""
from __future__ import annotations

import json
import os


class Kubectl:
    """`kubectl --kubeconfig <path> ... --output json` through the module's run_command."""

    def __init__(self, module, kubeconfig: str) -> None:
        self.module = module
        self.kubeconfig = kubeconfig
        self.binary = module.get_bin_path('kubectl')

    def cluster_missing(self) -> bool:
        """True before kubeadm init (no kubectl or no admin kubeconfig yet): check mode then has nothing to look at."""
        return self.binary is None or not os.path.exists(self.kubeconfig)

    def require(self) -> None:
        if self.binary is None:
            self.module.fail_json(msg='kubectl is not installed on this host (role kube_packages installs it)')

    def json(self, *args: str) -> tuple:
        """(parsed output, None) or (None, why not)."""
        rc, out, err = self.module.run_command([self.binary, '--kubeconfig', self.kubeconfig, *args, '--output', 'json'])
        if rc != 0:
            return None, err.strip()
        try:
            return json.loads(out), None
        except ValueError:
            return None, 'kubectl printed no JSON'
