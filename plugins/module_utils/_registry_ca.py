# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of a registry's CA certificate given as PEM text, shared by the cluster's kubeseed_containerd_registry_ca and the
microservices' kubeseed_microservices_registry_ca.

A module of its own so that the microservices module does not carry (and import) the cluster's validation.
"""
from __future__ import annotations

import base64
import binascii
import re

from ansible_collections.kubeseed.cluster.plugins.module_utils._schema_validation import format_path

_REGISTRY_HOST = re.compile(r'^[A-Za-z0-9.-]+(:[0-9]+)?$')
_PEM_CERTIFICATE = re.compile(r'-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----')


def registry_ca_problems(root: str, cas: dict) -> list:
    """Each problem of a mapping of registry host[:port] to the PEM text of its CA (kubeseed_containerd_registry_ca, and
    the microservices' kubeseed_microservices_registry_ca), with its path under root."""
    problems = []
    for key, value in cas.items():
        if not isinstance(key, str) or not _REGISTRY_HOST.match(key):
            problems.append('%s: %r is not a registry host[:port] (e.g. registry.example.com:5000, without a scheme or a path)'
                            % (root, key))
        if not isinstance(value, str) or not value:
            problems.append('%s: expected the PEM text of a CA certificate (a non-empty string)' % format_path(root, [key]))
        elif certificate_problem(value):
            problems.append('%s: %s' % (format_path(root, [key]), certificate_problem(value)))
    return problems


def certificate_problem(text: str) -> str:
    """What is wrong with the PEM text of a CA certificate, '' when nothing: one or more CERTIFICATE blocks of base64
    (a private key or anything else beside them is refused: it would be written where every node can read it)."""
    hint = ('give the PEM text of the CA certificate, -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE----- '
            '(e.g. "{{ lookup(\'file\', \'registry-ca.crt\') }}")')
    if 'PRIVATE KEY' in text:
        return 'holds a private key (never put a key here: only the CA certificate; %s)' % hint
    blocks = _PEM_CERTIFICATE.findall(text)
    rest = _PEM_CERTIFICATE.sub('', text).strip()
    if not blocks or rest:
        return 'is not a PEM certificate (%s)' % hint
    for block in blocks:
        try:
            base64.b64decode(''.join(block.split()), validate=True)
        except (ValueError, binascii.Error):
            return 'is not a PEM certificate: its base64 does not decode (%s)' % hint
    return ''
