# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API server's virtual IP: the interface of the node's address, keepalived's configuration and the health check."""
from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import sys
import threading

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _keepalived
from ansible_collections.kubeseed.cluster.plugins.module_utils._node_reset import KEEPALIVED_FILES, KEEPALIVED_MARKER

# `ip -o addr show` of a lab host (veth in a container: host0@if12) with the virtual IP on it
IP_ADDR = '''1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever
2: host0@if12    inet 10.117.0.11/24 brd 10.117.0.255 scope global host0\\       valid_lft forever preferred_lft forever
2: host0@if12    inet 10.117.0.10/32 scope global host0\\       valid_lft forever preferred_lft forever
2: host0@if12    inet6 fe80::1c2e:5ff:fe3a:1/64 scope link \\       valid_lft forever preferred_lft forever
3: cni0    inet 10.244.0.1/24 brd 10.244.0.255 scope global cni0\\       valid_lft forever preferred_lft forever
'''


def test_the_interface_that_carries_the_address():
    assert _keepalived.interfaces(IP_ADDR)['host0'] == ['10.117.0.11', '10.117.0.10', 'fe80::1c2e:5ff:fe3a:1']
    assert _keepalived.interface_for(IP_ADDR, '10.117.0.11') == 'host0'
    assert _keepalived.interface_for(IP_ADDR, '10.244.0.1') == 'cni0'
    assert _keepalived.interface_for(IP_ADDR, '10.117.0.12') is None
    assert _keepalived.holds(IP_ADDR, '10.117.0.10')
    assert not _keepalived.holds(IP_ADDR.replace('10.117.0.10/32', '10.117.0.99/32'), '10.117.0.10')


def test_configuration_holds_the_address_where_the_check_passes():
    text = _keepalived.config(node_name='ks-cp1', vip='10.117.0.10', interface='host0', router_id=51)
    assert text.startswith(KEEPALIVED_MARKER)  # what node_reset looks for before it removes the files
    assert '    state BACKUP\n' in text and 'nopreempt' not in text
    assert '    virtual_router_id 51\n' in text and '    interface host0\n' in text
    assert '        10.117.0.10/32 dev host0\n' in text
    assert 'script "/etc/keepalived/kubeseed-apiserver-check"' in text
    assert '    weight 50\n' in text and '    priority 100\n' in text
    assert text.count('{') == text.count('}')
    assert _keepalived.CONFIG in KEEPALIVED_FILES and _keepalived.CHECK in KEEPALIVED_FILES


def test_failover_bounds_follow_the_settings():
    bounds = _keepalived.failover_seconds()
    assert bounds == {'host_down': 3.4, 'apiserver_down': 9.0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_the_health_check_fails_when_nothing_answers(tmp_path):
    """The script keepalived runs, run here: nothing listens on the port (and there is no cluster CA) -> exit 1, quickly."""
    script = tmp_path / 'check'
    script.write_text(_keepalived.check_script(node_address='127.0.0.1', port=_free_port()))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ''


def test_the_health_check_of_an_ipv6_node_brackets_the_address():
    assert "URL = 'https://[fd00::11]:6443/readyz'" in _keepalived.check_script(node_address='fd00::11', port=6443)


def test_files_modes():
    files = _keepalived.files(node_name='n', node_address='10.0.0.2', vip='10.0.0.10', interface='eth0', router_id=7, port=6443)
    assert [(f['path'], f['mode']) for f in files] == [(_keepalived.CONFIG, '0644'), (_keepalived.CHECK, '0755')]
    assert 'virtual_router_id 7' in files[0]['content']


@pytest.fixture(name='certs', scope='module')
def _certs(tmp_path_factory):
    """Two self-signed certificates for 127.0.0.1 (openssl): the API server's and another CA's."""
    made = []
    for name in ('apiserver', 'other'):
        directory = tmp_path_factory.mktemp(name)
        key, cert = directory / 'key.pem', directory / 'cert.pem'
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout',
                        str(key), '-out', str(cert), '-days', '1', '-subj', '/CN=kube-apiserver', '-addext',
                        'subjectAltName=IP:127.0.0.1'], capture_output=True, check=True)
        made.append((key, cert))
    return made


def _https_server(key, cert, status: int):
    """An HTTPS server on 127.0.0.1 answering GET /readyz with status."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            self.send_response(status if self.path == '/readyz' else 404)
            self.end_headers()

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

    server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True).start()
    return server


def _check(tmp_path, port: int, ca) -> subprocess.CompletedProcess:
    script = tmp_path / 'check'
    script.write_text(_keepalived.check_script(node_address='127.0.0.1', port=port, ca=str(ca)))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30, check=False)


def test_the_health_check_passes_while_the_api_server_answers(tmp_path, certs):
    """The script against a real TLS server with the cluster CA: 200 and 401/403 (anonymous requests off) pass, 500 (not
    ready, e.g. etcd without quorum) fails, and so does a server whose certificate another CA signed."""
    (key, cert), (_other_key, other_cert) = certs
    for status, want in ((200, 0), (401, 0), (403, 0), (500, 1)):
        server = _https_server(key, cert, status)
        try:
            proc = _check(tmp_path, server.server_address[1], cert)
            assert (status, proc.returncode, proc.stderr) == (status, want, '')
            if status == 200:
                assert _check(tmp_path, server.server_address[1], other_cert).returncode == 1
        finally:
            server.shutdown()
