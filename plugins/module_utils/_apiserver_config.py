# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kube-apiserver settings kubeseed keeps on a running cluster (module apiserver_config): its extra flags
(kubeseed_apiserver_extra_args) and the extra names of its serving certificate (kubeseed_apiserver_cert_extra_sans).

kubeadm keeps both in the ClusterConfiguration of the ConfigMap kube-system/kubeadm-config (apiServer.extraArgs and
apiServer.certSANs) and writes each control plane's /etc/kubernetes/manifests/kube-apiserver.yaml and
/etc/kubernetes/pki/apiserver.crt from it at init, join and upgrade. On a running cluster kubeadm's documented procedure
(kubeadm-reconfigure) is: render the manifest and the certificate again from the changed configuration on each control
plane (`kubeadm init phase control-plane apiserver`, `kubeadm init phase certs apiserver`), one at a time, then update the
ConfigMap. Pure functions here, unit-tested; the I/O is in _apiserver_config_ops.
"""
from __future__ import annotations

import base64
import copy
import ipaddress
import re

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm import API_VERSION, CRI_SOCKET, _der_children, _der_length, extra_args

# Flags kubeadm or other kubeseed variables set: kubeseed_apiserver_extra_args cannot set them.
_CERTIFICATES = "kubeadm's certificates (playbooks/certificates.yml renews them)"
_ETCD = "kubeadm's stacked etcd"
RESERVED = {
    'advertise-address': "each control plane's own address (kubeseed_node_ip)",
    'secure-port': 'set kubeseed_apiserver_port',
    'service-cluster-ip-range': 'set kubeseed_service_subnet',
    'etcd-servers': _ETCD, 'etcd-cafile': _ETCD, 'etcd-certfile': _ETCD, 'etcd-keyfile': _ETCD,
    'client-ca-file': _CERTIFICATES, 'tls-cert-file': _CERTIFICATES, 'tls-private-key-file': _CERTIFICATES,
    'kubelet-client-certificate': _CERTIFICATES, 'kubelet-client-key': _CERTIFICATES,
    'proxy-client-cert-file': _CERTIFICATES, 'proxy-client-key-file': _CERTIFICATES,
    'requestheader-client-ca-file': _CERTIFICATES, 'requestheader-allowed-names': _CERTIFICATES,
    'service-account-key-file': _CERTIFICATES, 'service-account-signing-key-file': _CERTIFICATES,
    'service-account-issuer': 'the tokens of every running pod are signed for it',
    'enable-bootstrap-token-auth': 'kubeadm join authenticates with bootstrap tokens',
}
FLAG_PATTERN = r'^[a-z0-9][a-z0-9-]*$'
CONTAINER = 'kube-apiserver'
_SAN_OID = bytes.fromhex('0603551d11')  # OBJECT IDENTIFIER 2.5.29.17 (subjectAltName), DER-encoded with its tag and length


def extra_args_problems(extra) -> list:
    """What is wrong with kubeseed_apiserver_extra_args (the validation says it first; the module checks it again)."""
    if not isinstance(extra, dict):
        return ['kubeseed_apiserver_extra_args: must be a mapping of kube-apiserver flag names (without --) to values']
    problems = []
    for name in sorted(extra, key=str):
        if not isinstance(name, str) or not re.match(FLAG_PATTERN, name):
            problems.append('kubeseed_apiserver_extra_args: %r is not a kube-apiserver flag name; write it without the leading -- in '
                            'lowercase, e.g. audit-log-maxage' % (name,))
        elif name in RESERVED:
            problems.append('kubeseed_apiserver_extra_args.%s: kubeseed does not let this variable set it: %s' % (name, RESERVED[name]))
        elif isinstance(extra[name], (dict, list)) or extra[name] is None:
            problems.append('kubeseed_apiserver_extra_args.%s: the value must be a string, number or boolean (a list of values is one '
                            'string, comma-separated as the flag takes it)' % name)
    return problems


def merged(live: dict, sans: list, extra: dict) -> dict:
    """The live ClusterConfiguration with apiServer.certSANs and apiServer.extraArgs as the variables ask; the rest untouched."""
    new = copy.deepcopy(live or {})
    api = dict(new.get('apiServer') or {})
    for key, value in (('certSANs', list(sans or [])), ('extraArgs', extra_args(extra))):
        if value:
            api[key] = value
        else:
            api.pop(key, None)
    if api or 'apiServer' in new:
        new['apiServer'] = api
    return new


def _args_map(items) -> dict:
    return {item.get('name'): item.get('value') for item in items or [] if isinstance(item, dict)}


def cluster_changes(live: dict, new: dict) -> list:
    """One line per difference in apiServer.certSANs and apiServer.extraArgs between two ClusterConfigurations."""
    before, after = (live or {}).get('apiServer') or {}, (new or {}).get('apiServer') or {}
    changes = []
    old_sans, new_sans = list(before.get('certSANs') or []), list(after.get('certSANs') or [])
    if old_sans != new_sans:
        changes.append('apiServer.certSANs: %s -> %s' % (_show_list(old_sans), _show_list(new_sans)))
    changes += _flag_changes(_args_map(before.get('extraArgs')), _args_map(after.get('extraArgs')), 'apiServer.extraArgs ')
    return changes


def _show_list(items: list) -> str:
    return '[%s]' % ', '.join(items) if items else '(none)'


def _flag_changes(before: dict, after: dict, prefix: str) -> list:
    changes = []
    for name in sorted(set(before) | set(after), key=str):
        if name not in before:
            changes.append('%s--%s: set to %s' % (prefix, name, after[name]))
        elif name not in after:
            changes.append('%s--%s: removed (was %s)' % (prefix, name, before[name]))
        elif before[name] != after[name]:
            changes.append('%s--%s: %s -> %s' % (prefix, name, before[name], after[name]))
    return changes


def node_documents(cluster_config: dict, node_name: str, advertise_address: str, port: int, cert_dir: str = '') -> list:
    """InitConfiguration of this control plane and the ClusterConfiguration, for `kubeadm init phase ... --config`.

    cert_dir replaces certificatesDir (a private directory for a candidate certificate); empty keeps the cluster's.
    """
    cluster = copy.deepcopy(cluster_config)
    if cert_dir:
        cluster['certificatesDir'] = cert_dir
    init = {
        'apiVersion': cluster.get('apiVersion') or API_VERSION,
        'kind': 'InitConfiguration',
        'localAPIEndpoint': {'advertiseAddress': advertise_address, 'bindPort': int(port)},
        'nodeRegistration': {'name': node_name, 'criSocket': CRI_SOCKET},
    }
    return [init, cluster]


def command_flags(manifest: dict) -> dict:
    """{flag: value} of the kube-apiserver container's command in a static pod manifest ({} when there is none)."""
    for container in ((manifest or {}).get('spec') or {}).get('containers') or []:
        if isinstance(container, dict) and container.get('name') == CONTAINER:
            flags = {}
            for item in container.get('command') or []:
                if isinstance(item, str) and item.startswith('--'):
                    name, _sep, value = item[2:].partition('=')
                    flags[name] = value
            return flags
    return {}


def container_argv(manifest: dict) -> list:
    """The command line the kube-apiserver container of a static pod manifest runs (command, then args)."""
    for container in ((manifest or {}).get('spec') or {}).get('containers') or []:
        if isinstance(container, dict) and container.get('name') == CONTAINER:
            return [str(item) for item in list(container.get('command') or []) + list(container.get('args') or [])]
    return []


def _without_command(manifest: dict) -> dict:
    stripped = copy.deepcopy(manifest or {})
    for container in (stripped.get('spec') or {}).get('containers') or []:
        if isinstance(container, dict) and container.get('name') == CONTAINER:
            container.pop('command', None)
    return stripped


def manifest_changes(live: dict | None, new: dict) -> list:
    """One line per flag of the kube-apiserver container that differs."""
    if live is None:
        return ['%s: written (there is none)' % CONTAINER]
    return _flag_changes(command_flags(live), command_flags(new), '')


def _paths(value, prefix: str = '') -> dict:
    if isinstance(value, dict):
        found = {}
        for key, item in value.items():
            found.update(_paths(item, '%s.%s' % (prefix, key) if prefix else str(key)))
        return found
    if isinstance(value, list):
        found = {}
        for index, item in enumerate(value):
            found.update(_paths(item, '%s[%d]' % (prefix, index)))
        return found
    return {prefix: value}


def other_differences(live: dict, new: dict, limit: int = 5) -> list:
    """The parts of the manifest other than the flags that differ ('spec.containers[0].image: a -> b'), at most limit."""
    before, after = _paths(_without_command(live)), _paths(_without_command(new))
    lines = ['%s: %s -> %s' % (path, before.get(path, '(none)'), after.get(path, '(none)'))
             for path in sorted(set(before) | set(after)) if before.get(path) != after.get(path)]
    return lines[:limit] + (['and %d more' % (len(lines) - limit)] if len(lines) > limit else [])


def _pem_der(pem: str) -> bytes:
    lines = (pem or '').strip().splitlines()
    try:
        start = lines.index('-----BEGIN CERTIFICATE-----')
        end = lines.index('-----END CERTIFICATE-----', start)
    except ValueError as error:
        raise ValueError('no PEM certificate') from error
    return base64.b64decode(''.join(lines[start + 1:end]))


def certificate_sans(pem: str) -> list:
    """The subjectAltName entries of a PEM certificate, sorted: ['DNS:kubernetes', 'IP:10.96.0.1', ...]."""
    der = _pem_der(pem)
    length, body = _der_length(der, 1)
    tbs = _der_children(der, body, body + length)[0]
    for tag, _start, end, content in _der_children(der, tbs[3], tbs[2]):
        if tag != 0xA3:  # [3] extensions
            continue
        extensions = _der_children(der, content, end)[0]  # SEQUENCE OF Extension
        for _tag, _start, ext_end, ext_body in _der_children(der, extensions[3], extensions[2]):
            parts = _der_children(der, ext_body, ext_end)
            if der[parts[0][1]:parts[0][2]] != _SAN_OID:
                continue
            value = parts[-1]  # OCTET STRING holding GeneralNames (after the optional critical flag)
            names = _der_children(der, value[3], value[2])[0]
            return sorted(_general_name(der[n_body:n_end], n_tag) for n_tag, _s, n_end, n_body in _der_children(der, names[3], names[2]))
    return []


def _general_name(raw: bytes, tag: int) -> str:
    if tag == 0x82:  # [2] dNSName
        return 'DNS:' + raw.decode('ascii', 'replace')
    if tag == 0x87:  # [7] iPAddress
        return 'IP:' + str(ipaddress.ip_address(raw))
    return 'other[%d]:%s' % (tag & 0x1F, raw.hex())
