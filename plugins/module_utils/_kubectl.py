# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubectl with a node's admin kubeconfig, for the modules that run on a control plane (cluster_ready, node_metadata,
cluster_objects)."""
from __future__ import annotations

import json
import os

# The option of every module that runs kubectl with the admin kubeconfig (documented by the kubeseed.cluster.kubectl fragment).
KUBECTL_ARG_SPEC = {'kubeconfig': {'type': 'path', 'default': '/etc/kubernetes/admin.conf'}}


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


def _documents(objects: list) -> str:
    return ''.join('---\n%s\n' % json.dumps(obj, sort_keys=True) for obj in objects)


def apply_objects(kubectl: Kubectl, objects: list, field_manager: str, check_mode: bool) -> dict:
    """Server-side apply of objects (their fields this manager owns), with `changed` from `kubectl diff --server-side`."""
    names = ['%s %s/%s' % (o.get('kind'), (o.get('metadata') or {}).get('namespace', ''), (o.get('metadata') or {}).get('name'))
             for o in objects]
    result = {'changed': False, 'objects': names}
    secrets = [name for name, obj in zip(names, objects) if obj.get('kind') == 'Secret']
    if secrets:  # kubectl diff prints their data, and the diff is returned: Secrets go through the microservices module
        kubectl.module.fail_json(msg='cluster_objects does not apply Secrets (its diff would show their data): %s; nothing was changed'
                                 % ', '.join(secrets), **result)
    if kubectl.cluster_missing():  # before kubeadm init: creating them is what a run would do
        if not check_mode:
            kubectl.module.fail_json(msg='no cluster to apply %s to: kubectl or %s is missing on this host' % (
                ', '.join(result['objects']), kubectl.kubeconfig), **result)
        result['changed'] = True
        return result
    text = _documents(objects)
    base = [kubectl.binary, '--kubeconfig', kubectl.kubeconfig]
    rc, out, err = kubectl.module.run_command(base + ['diff', '--server-side', '--field-manager', field_manager, '--force-conflicts',
                                                      '-f', '-'], data=text)
    if rc > 1:
        kubectl.module.fail_json(msg='kubectl diff of %s failed: %s' % (', '.join(result['objects']), (err or out).strip()[-2000:]),
                                 **result)
    result['changed'] = rc == 1
    if result['changed']:
        result['diff'] = {'prepared': out}
        if not check_mode:
            rc, out, err = kubectl.module.run_command(base + ['apply', '--server-side', '--field-manager', field_manager,
                                                              '--force-conflicts', '-f', '-'], data=text)
            if rc != 0:
                kubectl.module.fail_json(msg='kubectl apply of %s failed: %s' % (', '.join(result['objects']),
                                                                                 (err or out).strip()[-2000:]), **result)
    return result
