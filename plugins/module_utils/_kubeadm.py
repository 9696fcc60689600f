# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm: configuration rendering, drift comparison, node state detection, CA hash.

Pure functions (no I/O beyond what callers pass in), unit-tested in tests/unit.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re

from ansible_collections.kubeseed.cluster.plugins.module_utils._endpoint import api_endpoint
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubelet_config import fields as kubelet_fields

API_VERSION = 'kubeadm.k8s.io/v1beta4'
KUBELET_API_VERSION = 'kubelet.config.k8s.io/v1beta1'
KUBE_PROXY_API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1'
CRI_SOCKET = 'unix:///run/containerd/containerd.sock'
PREFLIGHT_CGROUP_V1 = 'SystemVerification'


def flag_value(value) -> str:
    """A flag's value as a command line spells it (YAML booleans as true/false)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def _args(mapping: dict) -> list:
    """v1beta4 extraArgs: a list of {name, value}, sorted for stable output."""
    return [{'name': k, 'value': flag_value(v)} for k, v in sorted(mapping.items())]


def extra_args(mapping: dict) -> list:
    """extraArgs of a component (kubeseed_apiserver_extra_args): [{name, value}] sorted by name."""
    return _args(mapping or {})


def endpoint(params: dict) -> str:
    """controlPlaneEndpoint: the configured one (with the API port added) or this node's address (_endpoint, shared with the roles)."""
    return api_endpoint(params.get('control_plane_endpoint') or '', params['advertise_address'], params['apiserver_port'])


def _node_registration(params: dict, control_plane: bool) -> dict:
    registration = {
        'name': params['node_name'],
        'criSocket': CRI_SOCKET,
        'kubeletExtraArgs': _args({'node-ip': params['advertise_address']}),
    }
    ignored = list(params.get('ignore_preflight_errors') or [])
    if ignored:
        registration['ignorePreflightErrors'] = sorted(set(ignored))
    if control_plane and params.get('control_plane_schedulable'):
        registration['taints'] = []
    return registration


def cluster_configuration(params: dict) -> dict:
    """The ClusterConfiguration kubeadm stores in kube-system/kubeadm-config."""
    config = {
        'apiVersion': API_VERSION,
        'kind': 'ClusterConfiguration',
        'kubernetesVersion': 'v' + params['kubernetes_version'].lstrip('v'),
        'clusterName': params['cluster_name'],
        'controlPlaneEndpoint': endpoint(params),
        'imageRepository': params['image_repository'],
        'networking': {
            'podSubnet': params['pod_subnet'],
            'serviceSubnet': params['service_subnet'],
            'dnsDomain': params['cluster_domain'],
        },
        'controllerManager': {'extraArgs': _args({'node-cidr-mask-size': params['node_cidr_mask_size']})},
    }
    # the same two fields module apiserver_config keeps on a running cluster (_apiserver_config.merged)
    api = {}
    if params.get('cert_extra_sans'):
        api['certSANs'] = list(params['cert_extra_sans'])
    if params.get('apiserver_extra_args'):
        api['extraArgs'] = _args(params['apiserver_extra_args'])
    if api:
        config['apiServer'] = api
    return config


def kubelet_configuration(params: dict) -> dict:
    config = {
        'apiVersion': KUBELET_API_VERSION,
        'kind': 'KubeletConfiguration',
        'cgroupDriver': params['cgroup_driver'],
    }
    # the same fields module kubelet_config keeps on a running cluster
    config.update(kubelet_fields(bool(params.get('cgroup_v1')), bool(params.get('shared_disk')), params.get('kubelet_config') or {},
                                 bool(params.get('serving_certificates'))))
    return config


def kube_proxy_configuration(params: dict) -> dict:
    config = {'apiVersion': KUBE_PROXY_API_VERSION, 'kind': 'KubeProxyConfiguration', 'mode': 'iptables'}
    if params.get('conntrack_max_per_core_zero'):
        config['conntrack'] = {'maxPerCore': 0}
    return config


def init_documents(params: dict) -> list:
    """InitConfiguration, ClusterConfiguration, KubeletConfiguration, KubeProxyConfiguration."""
    init = {
        'apiVersion': API_VERSION,
        'kind': 'InitConfiguration',
        'localAPIEndpoint': {'advertiseAddress': params['advertise_address'], 'bindPort': params['apiserver_port']},
        'nodeRegistration': _node_registration(params, control_plane=True),
    }
    return [init, cluster_configuration(params), kubelet_configuration(params), kube_proxy_configuration(params)]


def join_documents(params: dict) -> list:
    """JoinConfiguration (worker or control plane) with token discovery. Holds secrets: write it 0600."""
    join = {
        'apiVersion': API_VERSION,
        'kind': 'JoinConfiguration',
        'discovery': {
            'bootstrapToken': {
                'apiServerEndpoint': params['api_server_endpoint'],
                'token': params['token'],
                'caCertHashes': [params['ca_cert_hash']],
            },
        },
        'nodeRegistration': _node_registration(params, control_plane=params['control_plane']),
    }
    if params['control_plane']:
        join['controlPlane'] = {
            'localAPIEndpoint': {'advertiseAddress': params['advertise_address'], 'bindPort': params['apiserver_port']},
            'certificateKey': params['certificate_key'],
        }
    return [join]


def _flatten(value, prefix: str = '') -> dict:
    """{'a': {'b': 1}, 'l': [{'name': 'x', 'value': '1'}]} -> {'a.b': 1, 'l.x': '1'} (name/value lists by name)."""
    flat = {}
    if isinstance(value, dict):
        for key, item in value.items():
            flat.update(_flatten(item, '%s.%s' % (prefix, key) if prefix else key))
    elif isinstance(value, list) and value and all(isinstance(i, dict) and set(i) == {'name', 'value'} for i in value):
        for item in value:
            flat['%s[%s]' % (prefix, item['name'])] = item['value']
    else:
        flat[prefix] = value
    return flat


# Fields a running cluster changes without re-initialising (module apiserver_config): drift in them is no failure.
RECONFIGURABLE = ('apiServer.certSANs', 'apiServer.extraArgs[')


def cluster_drift(desired: dict, live: dict) -> list:
    """Fields kubeseed sets whose live value differs: ['networking.podSubnet: live 10.244.0.0/16, desired ...']."""
    want = _flatten({k: v for k, v in desired.items() if k not in ('apiVersion', 'kind')})
    have = _flatten({k: v for k, v in (live or {}).items() if k not in ('apiVersion', 'kind')})
    drift = []
    for path in sorted(set(want) | {p for p in have if p.startswith(RECONFIGURABLE)}):
        if have.get(path) != want.get(path):
            drift.append('%s: live %s, desired %s' % (path, _show(have.get(path)), _show(want.get(path))))
    return drift


_NEW_CLUSTER = 'build a new cluster (playbooks/reset.yml, then site.yml)'
_REBUILD = 'keep the live value, or ' + _NEW_CLUSTER
# What to do about a field that differs on a running cluster (the first path prefix that matches).
PROCEDURES = (
    ('kubernetesVersion', 'run playbooks/upgrade.yml (one minor version at a time), which changes it on every node'),
    ('clusterName', 'the name is in every kubeconfig: keep the live value (kubeseed_cluster_name), or ' + _NEW_CLUSTER),
    ('controlPlaneEndpoint', "every kubeconfig and kubelet points at it and it is in the API server's certificate: keep the live "
                             'value (put a new load balancer at that address), or ' + _NEW_CLUSTER),
    ('imageRepository', 'set it back; to pull the images through another registry, set kubeseed_containerd_registry_mirrors'),
    ('networking.', 'pods, Services and DNS names were given out from it, so it is fixed for the life of the cluster: ' + _REBUILD),
    ('controllerManager.', "the nodes' pod ranges were cut with it, so it is fixed for the life of the cluster: " + _REBUILD),
)


def procedure(drift: str) -> str:
    """What to do about a line of cluster_drift."""
    for prefix, what in PROCEDURES:
        if drift.startswith(prefix):
            return what
    return 'set the variable back to the live value'


def reconfigurable(drift: str) -> bool:
    """Whether a line of cluster_drift is about a field module apiserver_config changes on a running cluster."""
    return drift.startswith(RECONFIGURABLE)


def _show(value) -> str:
    return '(unset)' if value is None else str(value)


CONTROL_PLANE_FILES = ('/etc/kubernetes/manifests/kube-apiserver.yaml', '/etc/kubernetes/admin.conf')
KUBELET_CONF = '/etc/kubernetes/kubelet.conf'
PARTIAL_MARKERS = (
    '/etc/kubernetes/bootstrap-kubelet.conf',
    '/etc/kubernetes/pki/ca.crt',
    '/etc/kubernetes/manifests/kube-apiserver.yaml',
    '/etc/kubernetes/manifests/etcd.yaml',
    '/var/lib/kubelet/config.yaml',
)


def node_state(exists, control_plane: bool) -> str:
    """'absent' (never joined), 'member' (joined as asked) or 'partial' (a half-done init/join left files behind).

    exists: a callable path -> bool (os.path.exists on the host).
    """
    if exists(KUBELET_CONF) and (not control_plane or all(exists(p) for p in CONTROL_PLANE_FILES)):
        return 'member'
    if exists(KUBELET_CONF) or any(exists(p) for p in PARTIAL_MARKERS):
        return 'partial'
    return 'absent'


def _der_length(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    return int.from_bytes(data[pos + 1:pos + 1 + count], 'big'), pos + 1 + count


def _der_children(data: bytes, start: int, end: int) -> list:
    """(tag, start of element, end of element) for each element of a constructed value."""
    children = []
    pos = start
    while pos < end:
        tag = data[pos]
        length, body = _der_length(data, pos + 1)
        children.append((tag, pos, body + length, body))
        pos = body + length
    return children


def ca_cert_hash(pem: str) -> str:
    """kubeadm's discovery hash: sha256 of the CA certificate's SubjectPublicKeyInfo ('sha256:<hex>')."""
    body = ''.join(line for line in pem.strip().splitlines() if line and not line.startswith('-----'))
    der = base64.b64decode(body)
    length, body_start = _der_length(der, 1)
    tbs = _der_children(der, body_start, body_start + length)[0]  # tbsCertificate
    fields = _der_children(der, tbs[3], tbs[2])
    if fields and fields[0][0] == 0xA0:  # explicit [0] version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    _tag, spki_start, spki_end, _body = fields[5]
    return 'sha256:' + hashlib.sha256(der[spki_start:spki_end]).hexdigest()


def host_exists(path: str) -> bool:
    return os.path.exists(path)


# Secrets -----------------------------------------------------------------------------------------------------------
# Bootstrap tokens, certificate keys, private keys (the CA key, a kubeconfig's client key) and bearer tokens must never
# leave a module in a message, a diff, an exception or a result field other than the one meant to carry them.
# redact() removes the values the module knows (and their base64 forms) and anything shaped like one of them.

REDACTED = '<redacted>'
TOKEN_PATTERN = re.compile(r'([a-z0-9]{6})\.([a-z0-9]{16})')
_PRIVATE_KEY = re.compile(r'-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)', re.S)
_SHAPES = (
    TOKEN_PATTERN,                                                   # bootstrap tokens
    re.compile(r'(?<!sha256:)(?<![0-9a-f])[a-f0-9]{64,}'),         # certificate keys (not sha256: hashes)
)
# The value after a flag or a key that holds a secret: --token X, --certificate-key=X, token: X, "certificateKey": "X",
# client-key-data: X, token-secret: X (the data of a bootstrap token Secret). Keys count at the start of a line (YAML),
# after { or , (flow mappings) or quoted (JSON, Python), not in prose ("failed to get token: connection refused").
_FLAG_VALUE = re.compile(r'((?<![\w-])--(?:token|discovery-token|tls-bootstrap-token|certificate-key)(?:=|\s+)["\']?)([^\s"\',{}\[\]<]+)')
_KEY_VALUE = re.compile(r'((?:^[ \t-]*|[{,][ \t]*|(?<![\w-])(?=["\']))["\']?(?:token|certificateKey|certificate_key|client-key-data|token-secret)'
                        r'["\']?[ \t]*[:=][ \t]*["\']?)([^\s"\',{}\[\]<]+)', re.M)
# Exception texts may quote a cut piece of their input (PyYAML shows a shortened line): there, a piece of a token or
# of a long hex string is redacted too.
_PIECES = (
    re.compile(r'[a-z0-9]{6}\.[a-z0-9]{1,16}'),
    re.compile(r'(?<!sha256:)(?<![0-9a-f])[a-f0-9]{16,}'),
)
# a base64 run, with the following lines when they hold nothing else (base64(1) and PEM wrap long values)
_BASE64_RUN = re.compile(r'[A-Za-z0-9+/_-]{16,}={0,2}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/_-]{4,}={0,2}(?=[ \t]*(?:\r?\n|$)))*')
_MIN_SECRET = 6  # shorter known values are not redacted (they would garble every message)


def secret_forms(value: str) -> list:
    """The strings under which a known secret can appear: the value, a bootstrap token's secret half, base64 of each.

    A token's id (before the dot) is not secret: kubeadm prints it and names the token's Secret after it.
    """
    if not value or len(value) < _MIN_SECRET:
        return []
    raw = [value]
    match = TOKEN_PATTERN.fullmatch(value)
    if match:
        raw.append(match.group(2))
    forms = []
    for item in raw:
        data = item.encode('utf-8')
        for encoded in (base64.b64encode(data), base64.urlsafe_b64encode(data)):
            text = encoded.decode('ascii')
            forms.extend((text, text.rstrip('=')))
        forms.append(item)
    return sorted(set(forms), key=len, reverse=True)


def _b64decode(run: str):
    run = re.sub(r'\s+', '', run).rstrip('=')
    if len(run) % 4 == 1:
        run = run[:-1]
    run += '=' * (-len(run) % 4)
    decoded = []
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            decoded.append(decode(run).decode('latin-1'))
        except ValueError:  # binascii.Error is a ValueError
            continue
    return decoded


def _holds_secret(text: str, forms: list) -> bool:
    if 'PRIVATE KEY' in text or any(form in text for form in forms):
        return True
    if any(shape.search(text) for shape in _SHAPES):
        return True
    # the data of a bootstrap token Secret: token-secret is base64 of the 16-character secret half alone
    return re.fullmatch(r'[a-z0-9]{16}', text.strip()) is not None


def _redact_base64(text: str, forms: list) -> str:
    def replace(match):
        run = match.group(0)
        if any(_holds_secret(decoded, forms) for decoded in _b64decode(run)):
            return REDACTED
        lines = run.splitlines()
        if len(lines) > 1:  # a wrapped block that does not decode as a whole: judge each line
            return '\n'.join(_redact_base64(line, forms) if len(line.strip()) >= 16 else line for line in lines)
        return run
    return _BASE64_RUN.sub(replace, text)


def redact(text: str, secrets=(), strict: bool = False) -> str:
    """text without the known secrets (any form), private keys, tokens, certificate keys and secret-holding values.

    strict (for exception texts, which may quote a cut piece of their input): also pieces of tokens and hex strings.
    """
    if not isinstance(text, str) or not text:
        return text
    forms = [form for secret in secrets if secret for form in secret_forms(str(secret))]
    text = _PRIVATE_KEY.sub('<redacted private key>', text)
    text = _redact_base64(text, forms)
    for form in sorted(set(forms), key=len, reverse=True):
        text = text.replace(form, REDACTED)
    text = _FLAG_VALUE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _KEY_VALUE.sub(lambda m: m.group(1) + REDACTED, text)
    for shape in _SHAPES + (_PIECES if strict else ()):
        text = shape.sub(REDACTED, text)
    return text


def redact_all(value, secrets=(), strict: bool = False):
    """redact() applied to every string of a result (dict keys included), keeping its shape."""
    if isinstance(value, str):
        return redact(value, secrets, strict)
    if isinstance(value, dict):
        return {redact_all(k, secrets, strict): redact_all(v, secrets, strict) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_all(v, secrets, strict) for v in value)
    return value
