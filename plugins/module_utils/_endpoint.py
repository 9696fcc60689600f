# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API server endpoint string (host:port), in one place for the modules (kubeadm configuration) and the roles
(the kubeseed.cluster.api_endpoint filter): an IPv6 address gets brackets, a configured endpoint without a port gets
the API server port."""
from __future__ import annotations


def host_port(host: str, port: int) -> str:
    """'10.0.0.1:6443', '[fd00::1]:6443', 'lb.example.com:6443' (an already bracketed IPv6 address is kept)."""
    host = str(host).strip()
    if ':' in host and not host.startswith('['):
        host = '[%s]' % host
    return '%s:%d' % (host, int(port))


def has_port(endpoint: str) -> bool:
    """True for 'lb:6443' and '[fd00::1]:6443'; False for 'lb', '[fd00::1]' and a bare IPv6 address."""
    if endpoint.startswith('['):
        return ':' in endpoint.rsplit(']', 1)[-1]
    return endpoint.count(':') == 1


def api_endpoint(configured: str, address: str, port: int) -> str:
    """The configured endpoint (with the port added when it has none), else the first control plane's address and port."""
    configured = (configured or '').strip()
    if configured:
        return configured if has_port(configured) else host_port(configured.strip('[]'), port)
    return host_port(address, port)
