# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cluster_ready's check of a kubelet's serving certificate: a real TLS handshake with a server on 127.0.0.1."""
from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.kubeseed.cluster.plugins.modules import cluster_ready


def _ca(tmp_path, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1)).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path / ('%s.crt' % name)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def _serve(tmp_path, ca_key, ca_cert, ip):
    """A TLS server on 127.0.0.1 whose certificate, signed by the CA, names ip; returns its port."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'system:node:w1')]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (tmp_path / 'server.crt').write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / 'server.key').write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / 'server.crt', tmp_path / 'server.key')
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen()

    def accept():
        while True:
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass
    threading.Thread(target=accept, daemon=True).start()
    return listener


def test_verify_accepts_only_the_cluster_ca_for_the_nodes_address(tmp_path):
    ca_key, ca_cert, ca_path = _ca(tmp_path, 'cluster-ca')
    _other_key, _other_cert, other_path = _ca(tmp_path, 'other-ca')
    listener = _serve(tmp_path, ca_key, ca_cert, '127.0.0.1')
    port = listener.getsockname()[1]
    try:
        assert cluster_ready._verify(str(ca_path), '127.0.0.1', port) == ''
        assert 'certificate verify failed' in cluster_ready._verify(str(other_path), '127.0.0.1', port)
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
    wrong_name = _serve(tmp_path, ca_key, ca_cert, '10.9.9.9')  # signed by the CA, but for another address
    try:
        assert "IP address mismatch" in cluster_ready._verify(str(ca_path), '127.0.0.1', wrong_name.getsockname()[1])
    finally:
        wrong_name.shutdown(socket.SHUT_RDWR)
        wrong_name.close()
    unused = socket.socket()
    unused.bind(('127.0.0.1', 0))
    free = unused.getsockname()[1]
    unused.close()
    assert 'Connection refused' in cluster_ready._verify(str(ca_path), '127.0.0.1', free)  # nothing listens: the error, not ''
