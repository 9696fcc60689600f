# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which kubeconfig, in one place: where the cluster playbook writes the admin kubeconfig (the roles, through the
kubeseed.cluster.kubeconfig_path filter) and which file a Kubernetes-facing module loads (_k8s_client.find_kubeconfig).

Pure functions: the caller passes the values of the environment variables, so that the module that reads them
(_k8s_client, with every other K8S_AUTH_* variable) is the one place that names them.
"""
from __future__ import annotations

import os

DEFAULT_KUBECONFIG = '~/.kube/config'


def kubeconfig_path(dest: str, cluster_name: str, home: str | None = None) -> str:
    """Where the cluster playbook writes the admin kubeconfig on the controller, and where the microservices role looks for it.

    dest (kubeseed_kubeconfig_dest) when set, as given (the modules that use it expand its ~); else
    <home>/.kube/kubeseed-<cluster name>.conf, home being the current user's home directory when not given
    (the filter runs on the controller, so that is the home of the user running ansible-playbook).
    """
    if dest:
        return dest
    if home is None:
        home = os.path.expanduser('~')
    return '%s/.kube/kubeseed-%s.conf' % (home, cluster_name)


def resolve(kubeconfig: str | None = None, auth_kubeconfig: str | None = None, kubeconfig_env: str | None = None) -> str | None:
    """The kubeconfig a module loads (~ expanded), or None for the in-cluster service account.

    The first that is set of: kubeconfig (the module option), auth_kubeconfig ($K8S_AUTH_KUBECONFIG); else the first that exists
    of: the first file of kubeconfig_env ($KUBECONFIG), ~/.kube/config.
    """
    for candidate in (kubeconfig, auth_kubeconfig):
        if candidate:
            return os.path.expanduser(candidate)
    for candidate in ((kubeconfig_env or '').split(os.pathsep)[0], DEFAULT_KUBECONFIG):
        if candidate:
            path = os.path.expanduser(candidate)
            if os.path.exists(path):
                return path
    return None
