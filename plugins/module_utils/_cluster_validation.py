# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate an inventory and its kubeseed_* variables before any host is touched.

``validate_cluster`` takes the inventory groups and, per host, its address and the
kubeseed_* variables the user set; it returns every violation at once, each naming the
variable path (and the host or group when that is where the problem is), as
``path: what is wrong (what is expected)``.

Order of the checks: the forms an INI inventory or an AWX survey delivers (``'false'``,
``'6443'``) are converted the way Ansible's argument specs convert them; then types and
syntax (the JSON Schema and the Kubernetes rules for endpoints, certificate names, image
repositories and labels); cross-field and inventory checks only look at values whose type
is right, so a wrong type never turns into a Python error.
"""
from __future__ import annotations

import difflib
import ipaddress
import json
import re

from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_schema import (
    CLUSTER_SCHEMA,
    SUPPORTED_MINORS,
    TAINT_EFFECTS,
    cluster_defaults,
    host_scoped,
)
from ansible_collections.kubeseed.cluster.plugins.module_utils._apiserver_config import extra_args_problems as apiserver_args_problems
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubelet_config import extra_problems as kubelet_extra_problems
from ansible_collections.kubeseed.cluster.plugins.module_utils._registry_ca import certificate_problem, registry_ca_problems
from ansible_collections.kubeseed.cluster.plugins.module_utils._schema_validation import (
    format_path,
    is_cidr,
    is_ip,
    show,
    space_problem,
    string_problem,
    suggest,
    type_name,
    validate,
)

try:
    from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE
except ImportError:  # pragma: no cover - the same sets, for use without ansible-core
    BOOLEANS_TRUE = frozenset(('y', 'yes', 'on', '1', 'true', 't', 1, 1.0, True))
    BOOLEANS_FALSE = frozenset(('n', 'no', 'off', '0', 'false', 'f', 0, 0.0, False))

# Variables whose values are never shown in a message (a password inside): violations say where and what, not the value.
SECRET_VARIABLES = ('kubeseed_containerd_registry_credentials',)
CONTROL_PLANE = 'control_plane'
WORKERS = 'workers'
ETCD = 'etcd'

_DNS_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
_NODE_NAME = _DNS_SUBDOMAIN
_LABEL_NAME = re.compile(r'^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$')
_IMAGE_DOMAIN = re.compile(r'^([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)(\.([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?))*$')
_IMAGE_COMPONENT = re.compile(r'^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$')
_INTEGER_TEXT = re.compile(r'^-?(0|[1-9][0-9]*)$')
_BOOLEAN_FORMS = 'true or false (from an INI inventory or a survey also yes/no, on/off, 1/0, y/n, t/f)'

# kube-apiserver refuses a Service range with more than 20 host bits (--service-cluster-ip-range is too large);
# kubeadm needs the 10th address of it for the cluster DNS Service.
_SERVICE_MAX_HOST_BITS = 20
_SERVICE_MIN_HOST_BITS = 4
# kube-controller-manager (cidrset) gives each node an IPv6 range at most 16 bits longer than the cluster's.
_IPV6_NODE_MASK_MAX_DIFF = 16
_IPV4_NODE_MASK_MAX = 30
_MAX_LISTED = 6


# ---------------------------------------------------------------- small helpers ----

def _group(groups: dict, name: str) -> list:
    members = groups.get(name) or []
    return [str(h) for h in members] if isinstance(members, (list, tuple)) else []


def _names(items, limit: int = _MAX_LISTED) -> str:
    """'a, b, c' or 'a, b, c and 4 more' (messages stay short with large inventories)."""
    items = list(items)
    text = ', '.join(str(i) for i in items[:limit])
    return text + (' and %d more' % (len(items) - limit) if len(items) > limit else '')


def _merged(by_message: dict, host_count: int) -> list[str]:
    """One line per message; ' (on h1, h2)' when it holds for some of several hosts only."""
    messages = []
    for message, where in sorted(by_message.items()):
        if host_count > 1 and len(where) < host_count:
            message += ' (on %s)' % _names(where)
        messages.append(message)
    return messages


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _variable_of(message: str) -> str:
    """The variable a 'path: ...' message is about (kubeseed_node_labels for kubeseed_node_labels['a']: ...)."""
    match = re.match(r'^([A-Za-z_][A-Za-z0-9_]*)', message)
    return match.group(1) if match else ''


# ---------------------------------------------------------------- INI and survey strings ----

def as_boolean(value: object) -> tuple[bool, object]:
    """(True, converted) for what Ansible's boolean conversion accepts (True, 'false', 'Yes', 'on', 1 ...)."""
    if isinstance(value, bool):
        return True, value
    normalized = str.__str__(value).lower().strip() if isinstance(value, str) else value
    try:
        if normalized in BOOLEANS_TRUE:
            return True, True
        if normalized in BOOLEANS_FALSE:
            return True, False
    except TypeError:  # unhashable (a list or a mapping)
        pass
    return False, value


def as_integer(value: object) -> tuple[bool, object]:
    """(True, converted) for an integer or a string of one written plainly ('6443'; not '6443.0', '0x1A' or ' 6443')."""
    if _is_int(value):
        return True, value
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        return True, int(value)
    return False, value


def _conversion_problem(value: object, kind: str, default: object) -> str:
    """Why value is not a boolean/integer in any accepted form ('' when the caller should report the type instead)."""
    if not isinstance(value, (str, float)) or isinstance(value, bool):
        return ''
    if value == '':
        return "is empty (expected %s; remove the variable to use the default %s)" % (
            _BOOLEAN_FORMS if kind == 'boolean' else 'a whole number', show(default))
    problem = string_problem(value) or space_problem(value)
    if problem:
        return '%s %s (remove it)' % (show(value), problem)
    if kind == 'boolean':
        return '%s is not a boolean (use %s)' % (show(value), _BOOLEAN_FORMS)
    if isinstance(value, str) and re.fullmatch(r'-?0[0-9]+', value):
        return '%s has a leading zero (write %d)' % (show(value), int(value))
    if isinstance(value, float):
        return '%s is a decimal number, expected an integer such as %s' % (show(value), show(default))
    return '%s is not a whole number (expected an integer such as %s)' % (show(value), show(default))


def _schema_kind(name: str) -> str:
    spec = CLUSTER_SCHEMA['properties'].get(name) or {}
    return spec.get('type') if spec.get('type') in ('boolean', 'integer') else ''


def _convert_contract(user_vars: dict) -> tuple[dict, dict]:
    """Convert INI/survey strings of boolean and integer contract variables; return (values, {name: problem})."""
    converted, problems = dict(user_vars), {}
    defaults = cluster_defaults()
    for name, value in user_vars.items():
        kind = _schema_kind(name)
        if not kind:
            continue
        ok, result = as_boolean(value) if kind == 'boolean' else as_integer(value)
        if ok:
            converted[name] = result
            continue
        problem = _conversion_problem(value, kind, defaults.get(name))
        if problem:
            problems[name] = '%s: %s' % (name, problem)
    return converted, problems


# ---------------------------------------------------------------- syntax the schema cannot explain well ----

def _dns_name_problem(host: str, what: str) -> str:
    """'' for a lowercase DNS name (RFC 1123 subdomain, at most 253 characters), else what is wrong."""
    if len(host) > 253:
        return '%s is longer than 253 characters' % what
    if _DNS_SUBDOMAIN.fullmatch(host):
        return ''
    if host.endswith('.'):
        return "%s ends with '.' (remove it)" % what
    if _DNS_SUBDOMAIN.fullmatch(host.lower()):
        return '%s must be lowercase (use %s)' % (what, show(host.lower()))
    if '_' in host:
        return "%s contains '_' (DNS names use lowercase letters, digits, '-' and '.')" % what
    return "%s is not a valid DNS name or IP address (lowercase letters, digits, '-' and '.')" % what


def _port_problem(port: str) -> str:
    if port == '':
        return "ends with ':' but has no port (remove the ':' or add a port such as 6443)"
    if not port.isdigit() or not port.isascii():
        return 'has a port %s that is not a number (expected 1 to 65535)' % show(port)
    if not 0 < int(port) <= 65535:
        return 'has port %s, outside 1 to 65535' % port
    return ''


def endpoint_problem(value: str) -> str:
    """'' for '', host, host:port, IPv4[:port] or [IPv6][:port]; else what is wrong and how to write it."""
    if value == '':
        return ''
    example = '(write host or host:port, e.g. k8s-api.example.com:6443 or [fd00::10]:6443)'
    problem = string_problem(value) or space_problem(value)
    if problem:
        return '%s %s (remove it)' % (show(value), problem)
    if '://' in value:
        return '%s starts with a scheme %s' % (show(value), example.replace('(write', '(write no http(s)://; only'))
    if '/' in value:
        return '%s has a path %s' % (show(value), example)
    if value.startswith('['):
        match = re.fullmatch(r'^\[([^\]]*)\](?::(.*))?$', value)
        if not match:
            return '%s is not host or host:port %s' % (show(value), example)
        address, port = match.group(1), match.group(2)
        try:
            if ipaddress.ip_address(address).version != 6:
                return '%s puts an IPv4 address in brackets (brackets are for IPv6 only) %s' % (show(value), example)
        except ValueError:
            return '%s does not hold a valid IPv6 address in its brackets %s' % (show(value), example)
        return '%s %s' % (show(value), _port_problem(port)) if port is not None and _port_problem(port) else ''
    if value.count(':') > 1:
        if is_ip(value):
            address, _sep, last = value.rpartition(':')
            if last.isdigit() and len(last) >= 3 and is_ip(address) and 0 < int(last) <= 65535:
                return '%s is an IPv6 address without brackets (write [%s]:%s if %s is the port)' % (show(value), address, last, last)
            return '%s is an IPv6 address without brackets (write [%s] or [%s]:6443)' % (show(value), value, value)
        return '%s is not host or host:port %s' % (show(value), example)
    host, colon, port = value.partition(':')
    if colon and _port_problem(port):
        return '%s %s' % (show(value), _port_problem(port))
    if re.fullmatch(r'^[0-9.]+$', host):
        return '' if is_ip(host) else '%s is not a valid IPv4 address %s' % (show(value), example)
    problem = _dns_name_problem(host, 'host %s' % show(host))
    return '%s: %s' % (show(value), problem) if problem else ''


def san_problem(value: object) -> str:
    """'' for a DNS name (wildcard only as the leftmost label) or an IP address; else what is wrong."""
    if value is None:
        return 'is null (empty in YAML), expected a string (a DNS name or an IP address)'
    if not isinstance(value, str):
        return '%sis %s %s, expected a string (a DNS name or an IP address)' % (
            '' if isinstance(value, (dict, list)) else show(value) + ' ', 'an' if type_name(value)[0] in 'aeiou' else 'a', type_name(value))
    if value == '':
        return "'' should be non-empty (expected a DNS name or an IP address)"
    problem = string_problem(value) or space_problem(value)
    if problem:
        return '%s %s (remove it)' % (show(value), problem)
    if is_ip(value):
        return ''
    if '://' in value:
        return '%s starts with a scheme (certificate names are a bare DNS name or IP address, e.g. k8s-api.example.com)' % show(value)
    if '/' in value:
        return '%s has a path or a prefix length (list single DNS names or IP addresses)' % show(value)
    if value.startswith('[') or value.count(':') > 1:
        inner = value.split(']')[0].lstrip('[')
        if is_ip(inner):
            return '%s: write the IPv6 address without brackets or port (%s)' % (show(value), inner)
        return '%s is not a valid IP address or DNS name' % show(value)
    if ':' in value:
        return '%s has a port (certificate names never include one; write %s)' % (show(value), show(value.split(':')[0]))
    name = value[2:] if value.startswith('*.') else value
    if '*' in name:
        return '%s has a wildcard that is not the whole leftmost label (only *.example.com is allowed)' % show(value)
    if re.fullmatch(r'^[0-9.]+$', name):
        return '%s is not a valid IPv4 address' % show(value)
    problem = _dns_name_problem(name, 'it')
    return '%s: %s' % (show(value), problem) if problem else ''


def image_repository_problem(value: str) -> str:
    """'' for registry[:port][/path] (kubeadm imageRepository), else what is wrong."""
    example = '(e.g. registry.k8s.io or registry.example.com:5000/k8s)'
    problem = string_problem(value) or space_problem(value)
    if problem:
        return '%s %s (remove it)' % (show(value), problem)
    if value == '':
        return "'' should be non-empty %s" % example
    if '://' in value:
        return '%s starts with a scheme (an image repository has none) %s' % (show(value), example)
    if '@' in value:
        return '%s has a digest (kubeadm adds the image names and tags) %s' % (show(value), example)
    if value.endswith('/'):
        return "%s ends with '/' (remove it)" % show(value)
    parts = value.split('/')
    first = parts[0]
    if '.' in first or ':' in first or first == 'localhost' or first.startswith('['):
        host, _sep, port = first.rpartition(':') if not first.endswith(']') else (first, '', '')
        if not _sep:
            host, port = first, None
        if host.startswith('[') and host.endswith(']'):
            if not is_ip(host[1:-1]):
                return '%s does not hold a valid IPv6 address in its brackets %s' % (show(value), example)
        elif not _IMAGE_DOMAIN.fullmatch(host):
            return '%s has an invalid registry host %s %s' % (show(value), show(host), example)
        if port is not None and _port_problem(port):
            if len(parts) == 1 and not port.isdigit():
                return '%s has a tag %s (kubeadm adds the tags; give only the registry and path) %s' % (
                    show(value), show(':' + port), example)
            return '%s: the registry %s' % (show(value), _port_problem(port))
        parts = parts[1:]
    for part in parts:
        if part == '':
            return "%s has an empty path component ('//')" % show(value)
        if ':' in part:
            return '%s has a tag %s (kubeadm adds the tags; give only the registry and path) %s' % (
                show(value), show(part[part.index(':'):]), example)
        if not _IMAGE_COMPONENT.fullmatch(part):
            if _IMAGE_COMPONENT.fullmatch(part.lower()):
                return '%s: the path %s must be lowercase' % (show(value), show(part))
            return ("%s: the path component %s is not valid (lowercase letters and digits, separated by '.', '_', '__' or '-') %s"
                    % (show(value), show(part), example))
    return ''


_PGP_PUBLIC_KEY = re.compile(r'^-----BEGIN PGP PUBLIC KEY BLOCK-----\n([^\n]+: [^\n]*\n)*\n[A-Za-z0-9+/=\n]+'
                             r'-----END PGP PUBLIC KEY BLOCK-----$')


def public_key_problem(value: str) -> str:
    """What is wrong with the text of an ASCII-armored OpenPGP public key, '' when nothing (a secret key is refused
    without echoing it)."""
    hint = ('give the ASCII-armored public key, -----BEGIN PGP PUBLIC KEY BLOCK----- ... -----END PGP PUBLIC KEY BLOCK----- '
            '(e.g. "{{ lookup(\'file\', \'Release.key\') }}"), or leave it empty to fetch <repository>/Release.key')
    if 'PRIVATE KEY' in value or 'SECRET KEY' in value:
        return 'holds a private key (only the public key belongs here; %s)' % hint
    if not _PGP_PUBLIC_KEY.match(value.strip().replace('\r\n', '\n')):
        return 'is not an ASCII-armored OpenPGP public key (%s)' % hint
    return ''


def label_key_problem(key: object, kind: str = 'label') -> str:
    """'' for a valid Kubernetes label key ([prefix/]name), else what is wrong (starting with 'key <key>').

    kind names what the key is for in the message (taint keys follow the same rules).
    """
    hint = "(an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)"
    if not isinstance(key, str):
        return 'key %s is %s %s; put it in quotes so YAML keeps it as text' % (
            show(key), 'an' if type_name(key)[0] in 'aeiou' else 'a', type_name(key))
    problem = string_problem(key) or space_problem(key)
    if problem:
        return 'key %s %s (remove it)' % (show(key), problem)
    parts = key.split('/')
    if len(parts) > 2:
        return "key %s has more than one '/' %s" % (show(key), hint)
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if prefix == '':
            return "key %s has an empty prefix before '/' %s" % (show(key), hint)
        if len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix):
            return 'key %s: the prefix %s must be a lowercase DNS name of at most 253 characters, e.g. node.example.com' % (
                show(key), show(prefix))
    if name == '':
        return 'key %s has an empty name %s' % (show(key), hint)
    if len(name) > 63:
        return 'key %s: the name after the prefix has %d characters, at most 63 are allowed' % (show(key), len(name))
    if not _LABEL_NAME.fullmatch(name):
        return 'key %s is not a valid %s key %s' % (show(key), kind, hint)
    return ''


def label_value_problem(value: object) -> str:
    """'' for a valid Kubernetes label value (empty, or at most 63 letters, digits, '-', '_', '.'), else what is wrong."""
    if isinstance(value, (bool, int, float)):
        return '%s is %s %s, expected a string (put it in quotes so YAML keeps it as text, e.g. "%s")' % (
            show(value), 'an' if type_name(value)[0] in 'aeiou' else 'a', type_name(value), show(value))
    if not isinstance(value, str):
        return '%s, expected a string' % ('is null (empty in YAML)' if value is None else 'is %s %s' % (
            'an' if type_name(value)[0] in 'aeiou' else 'a', type_name(value)))
    problem = string_problem(value) or space_problem(value)
    if problem:
        return '%s %s (remove it)' % (show(value), problem)
    if len(value) > 63:
        return '%s has %d characters (a label value has at most 63)' % (show(value), len(value))
    if value and not _LABEL_NAME.fullmatch(value):
        return "%s is not a valid label value (letters, digits, '-', '_' or '.', starting and ending with a letter or digit, or empty)" \
            % show(value)
    return ''


_TAINT_FIELDS = ('key', 'value', 'effect')
_TAINT_EXAMPLE = '{key: dedicated, value: gpu, effect: NoSchedule}'
_TOLERATION_FIELDS = ('operator', 'tolerationSeconds')
_KUBECTL_TAINT = re.compile(r'^([^=:\s]+)(=([^:\s]*))?:([A-Za-z]+)-?$')


def _taint_form(text: str) -> str:
    """The mapping to write for a taint given as kubectl's key=value:effect text, or the generic example."""
    match = _KUBECTL_TAINT.fullmatch(text)
    if not match:
        return _TAINT_EXAMPLE
    key, value, effect = match.group(1), match.group(3), match.group(4)
    return '{key: %s, %seffect: %s}' % (key, 'value: %s, ' % value if value else '', effect)


def _effect_problem(effect: object) -> str:
    choices = ', '.join(TAINT_EFFECTS)
    if effect is None:
        return 'is null (empty in YAML), expected one of: %s' % choices
    if not isinstance(effect, str):
        return '%sis %s %s, expected one of: %s' % (_scalar(effect), _a(effect), type_name(effect), choices)
    if effect in TAINT_EFFECTS:
        return ''
    problem = string_problem(effect) or space_problem(effect)
    if problem:
        return '%s %s (remove it)' % (show(effect), problem)
    same = [e for e in TAINT_EFFECTS if e.lower() == effect.replace('_', '').replace('-', '').lower()]
    if same:
        return '%s is not one of: %s (the effect is case-sensitive: write %s)' % (show(effect), choices, same[0])
    return '%s is not one of: %s' % (show(effect), choices)


def taint_problems(taints: object) -> list[str]:
    """Every problem of kubeseed_node_taints as 'path: what is wrong (what is expected)' (empty when valid).

    Complete for a list (the schema's messages about it are not shown when this finds one); a mapping or a
    string gets the form to write; other types are left to the schema.
    """
    name = 'kubeseed_node_taints'
    if isinstance(taints, dict):
        return ['%s: is a mapping, expected a list of taints, each %s' % (name, _TAINT_EXAMPLE)]
    if isinstance(taints, str):
        return ['%s: %sis a string, expected a list of taints (write [%s])' % (name, _scalar(taints), _taint_form(taints))]
    if not isinstance(taints, list):
        return []
    messages = []
    seen: dict[tuple, int] = {}
    for index, taint in enumerate(taints):
        path = '%s[%d]' % (name, index)
        if isinstance(taint, str):
            messages.append('%s: %sis a string, expected a mapping (write %s)' % (path, _scalar(taint), _taint_form(taint)))
            continue
        if not isinstance(taint, dict):
            what = 'is null (empty in YAML)' if taint is None else '%sis %s %s' % (_scalar(taint), _a(taint), type_name(taint))
            messages.append('%s: %s, expected a mapping such as %s' % (path, what, _TAINT_EXAMPLE))
            continue
        for field in sorted((k for k in taint if k not in _TAINT_FIELDS), key=str):
            if field in _TOLERATION_FIELDS:
                messages.append('%s: %s belongs to tolerations (on pods), not to taints (a taint has key, value and effect)'
                                % (path, show(field)))
            else:
                match = suggest(field, _TAINT_FIELDS) if isinstance(field, str) else ''
                messages.append('%s: %s is not a taint field%s (known: key, value, effect)'
                                % (path, show(field), '; did you mean %r?' % match if match else ''))
        if 'key' not in taint:
            messages.append('%s: has no key (add one, e.g. %s)' % (path, _TAINT_EXAMPLE))
        elif taint['key'] is None:
            messages.append('%s.key: is null (empty in YAML), expected a string such as dedicated or example.com/pool' % path)
        elif label_key_problem(taint['key'], 'taint'):
            messages.append('%s.key: %s' % (path, label_key_problem(taint['key'], 'taint')[len('key '):]))
        if 'value' in taint and label_value_problem(taint['value']):
            messages.append('%s.value: %s' % (path, label_value_problem(taint['value']).replace('label value', 'taint value')))
        if 'effect' not in taint:
            messages.append('%s: has no effect (add effect: %s)' % (path, ', '.join(TAINT_EFFECTS[:-1]) + ' or ' + TAINT_EFFECTS[-1]))
        elif _effect_problem(taint['effect']):
            messages.append('%s.effect: %s' % (path, _effect_problem(taint['effect'])))
        identity = (taint.get('key'), taint.get('effect'))
        if all(isinstance(part, str) for part in identity):
            if identity in seen:
                messages.append('%s: duplicates %s[%d] (key %s with effect %s); a node has one taint per key and effect (remove one)'
                                % (path, name, seen[identity], show(identity[0]), identity[1]))
            else:
                seen[identity] = index
    return messages


def _syntax(values: dict) -> dict:
    """{variable: [messages]} for the variables checked here beyond the schema (only when their type is right)."""
    found: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        found.setdefault(name, []).append(message)

    endpoint = values.get('kubeseed_control_plane_endpoint')
    if isinstance(endpoint, str) and endpoint_problem(endpoint):
        add('kubeseed_control_plane_endpoint', 'kubeseed_control_plane_endpoint: %s' % endpoint_problem(endpoint))
    sans = values.get('kubeseed_apiserver_cert_extra_sans')
    if isinstance(sans, list):
        for index, san in enumerate(sans):
            if san_problem(san):
                add('kubeseed_apiserver_cert_extra_sans', 'kubeseed_apiserver_cert_extra_sans[%d]: %s' % (index, san_problem(san)))
    repository = values.get('kubeseed_image_repository')
    if isinstance(repository, str) and image_repository_problem(repository):
        add('kubeseed_image_repository', 'kubeseed_image_repository: %s' % image_repository_problem(repository))
    cas = values.get('kubeseed_containerd_registry_ca')
    if isinstance(cas, dict):
        # the schema's messages for this variable give way to these: its key names are checked here too
        for problem in registry_ca_problems('kubeseed_containerd_registry_ca', cas):
            add('kubeseed_containerd_registry_ca', problem)
    repository_ca = values.get('kubeseed_online_repository_ca')
    if isinstance(repository_ca, str) and repository_ca and certificate_problem(repository_ca):
        add('kubeseed_online_repository_ca', 'kubeseed_online_repository_ca: %s' % certificate_problem(repository_ca))
    repository_key = values.get('kubeseed_online_repository_key')
    if isinstance(repository_key, str) and repository_key and public_key_problem(repository_key):
        add('kubeseed_online_repository_key', 'kubeseed_online_repository_key: %s' % public_key_problem(repository_key))
    labels = values.get('kubeseed_node_labels')
    if isinstance(labels, dict):
        for key, value in labels.items():
            if label_key_problem(key):
                add('kubeseed_node_labels', 'kubeseed_node_labels: %s' % label_key_problem(key))
            if label_value_problem(value):
                add('kubeseed_node_labels', '%s: %s' % (format_path('kubeseed_node_labels', [key]), label_value_problem(value)))
    for message in taint_problems(values.get('kubeseed_node_taints')):
        add('kubeseed_node_taints', message)
    kubelet = values.get('kubeseed_kubelet_config')
    if isinstance(kubelet, dict):
        for message in kubelet_extra_problems(kubelet):
            add('kubeseed_kubelet_config', message)
    apiserver_args = values.get('kubeseed_apiserver_extra_args')
    if isinstance(apiserver_args, dict):
        for message in apiserver_args_problems(apiserver_args):
            add('kubeseed_apiserver_extra_args', message)
    return found


# ---------------------------------------------------------------- per host: types and syntax ----

def _schema_violations(hosts: dict) -> tuple[list[str], dict]:
    """Check every host's variables; merge identical messages across hosts.

    Returns the messages and, per host, the effective variables (defaults + user values, INI strings converted).
    """
    by_message: dict[str, list[str]] = {}
    effective = {}
    for host in sorted(hosts):
        user_vars = hosts[host].get('vars') or {}
        converted, conversion = _convert_contract(user_vars)
        effective[host] = dict(cluster_defaults(), **converted)
        checked = {name: value for name, value in effective[host].items() if name not in conversion}
        syntax = _syntax(checked)
        messages = [m for m in validate(CLUSTER_SCHEMA, checked, hidden_keys=SECRET_VARIABLES) if _variable_of(m) not in syntax]
        messages += list(conversion.values()) + [m for found in syntax.values() for m in found]
        for message in messages:
            by_message.setdefault(message, []).append(host)
    return _merged(by_message, len(hosts)), effective


def _whole(value: object) -> str:
    """A value as one comparable text (mappings by sorted keys; keys of mixed types, which cannot be sorted, as repr)."""
    try:
        return json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _consistency(effective: dict) -> list[str]:
    """Cluster-wide variables must have one value on every host."""
    messages = []
    per_host_ok = host_scoped()
    for name in sorted(CLUSTER_SCHEMA['properties']):
        if name in per_host_ok:
            continue
        # compared whole (show() gives a mapping by its keys only: two that differ inside would look alike)
        groups: dict[str, tuple[str, list[str]]] = {}
        for host in sorted(effective):
            value = effective[host].get(name)
            groups.setdefault(_whole(value), (show(value), []))[1].append(host)
        values = dict(groups.values()) if len({shown for shown, _where in groups.values()}) == len(groups) else {}
        if len(groups) > 1 and (name in SECRET_VARIABLES or not values):
            why = 'its values are not shown' if name in SECRET_VARIABLES else 'the values differ inside'
            messages.append('%s: differs between hosts (%s; %s); it is cluster-wide: set it once, e.g. in group_vars/all'
                            % (name, '; '.join(_names(where, 3) for _shown, where in list(groups.values())[:3]), why))
            continue
        if len(values) > 1:
            detail = '; '.join('%s on %s' % (value, _names(where, 3)) for value, where in list(values.items())[:3])
            if len(values) > 3:
                detail += '; %d more values' % (len(values) - 3)
            messages.append('%s: differs between hosts (%s); it is cluster-wide: set it once, e.g. in group_vars/all' % (name, detail))
    return messages


# ---------------------------------------------------------------- inventory ----

def _inventory(groups: dict, cluster: dict, names: dict) -> list[str]:
    """groups is keyed by role (CONTROL_PLANE, WORKERS, ETCD); names gives each role's inventory group name."""
    messages = []
    control_planes = _group(groups, CONTROL_PLANE)
    workers = _group(groups, WORKERS)
    etcd = _group(groups, ETCD)
    if not control_planes:
        messages.append("inventory: group '%s' has no hosts; put the host(s) that run the control plane under "
                        "all.children.%s.hosts" % (names[CONTROL_PLANE], names[CONTROL_PLANE]))
    for host in sorted(set(control_planes) & set(workers)):
        messages.append("inventory: host %s is in both groups '%s' and '%s'; keep it in one (set "
                        "kubeseed_control_plane_schedulable: true to run workloads on control planes)" % (show(host), names[CONTROL_PLANE], names[WORKERS]))
    mode = cluster.get('kubeseed_etcd_mode')
    if mode == 'stacked':
        if control_planes and len(control_planes) % 2 == 0:
            messages.append("inventory: group '%s' has %d hosts (%s); stacked etcd needs an odd number of control planes "
                            "for quorum: use %d or %d" % (names[CONTROL_PLANE], len(control_planes), _names(control_planes),
                                                          len(control_planes) - 1, len(control_planes) + 1))
    if etcd:
        messages.append("inventory: group '%s' has hosts (%s) but etcd runs on the control planes (stacked; external etcd is "
                        "not supported yet); remove the group" % (names[ETCD], _names(etcd)))
    if control_planes and not workers and cluster.get('kubeseed_control_plane_schedulable') is False:
        messages.append("inventory: group '%s' has no hosts and kubeseed_control_plane_schedulable is false, so no pod could run; "
                        "add workers or set kubeseed_control_plane_schedulable: true" % names[WORKERS])
    return messages


def _address_of(hosts: dict, host: str) -> object:
    return (hosts.get(host) or {}).get('address') or host


def _hosts(groups: dict, hosts: dict, effective: dict) -> list[str]:
    messages = []
    members = sorted(set(_group(groups, CONTROL_PLANE)) | set(_group(groups, WORKERS)) | set(_group(groups, ETCD)))
    for host in members:
        if not _NODE_NAME.fullmatch(host) or len(host) > 253:
            hint = ' (use %s)' % show(host.lower()) if _NODE_NAME.fullmatch(host.lower()) and len(host) <= 253 else ''
            messages.append("inventory: host %s is not a valid Kubernetes node name%s; use lowercase letters, digits, '-' and '.' "
                            "(the inventory name becomes the node name)" % (show(host), hint))
        address = _address_of(hosts, host)
        problem = string_problem(address) or space_problem(address)
        if problem:
            messages.append('inventory: host %s has ansible_host %s that %s (remove it)' % (show(host), show(address), problem))
    seen: dict[str, str] = {}
    for host in members:
        address = str(_address_of(hosts, host))
        key = str(ipaddress.ip_address(address)) if is_ip(address) else address
        if key in seen:
            messages.append("inventory: hosts %s and %s have the same address %s (ansible_host); each node needs its own"
                            % (show(seen[key]), show(host), address))
        else:
            seen[key] = host
    node_ips: dict[str, str] = {}
    for host in members:
        node_ip = (effective.get(host) or {}).get('kubeseed_node_ip')
        if not is_ip(node_ip):
            continue
        key = str(ipaddress.ip_address(node_ip))
        if key in node_ips:
            messages.append('kubeseed_node_ip: hosts %s and %s both use %s; each node needs its own address'
                            % (show(node_ips[key]), show(host), key))
        else:
            node_ips[key] = host
    return messages


# ---------------------------------------------------------------- networks ----

def _network(cluster: dict, name: str):
    return ipaddress.ip_network(cluster[name]) if is_cidr(cluster.get(name)) else None


def _subnet_sizes(pod, svc, mask, node_count: int) -> list[str]:
    messages = []
    if svc is not None:
        host_bits = svc.max_prefixlen - svc.prefixlen
        if host_bits > _SERVICE_MAX_HOST_BITS:
            messages.append('kubeseed_service_subnet: %s is too large; kube-apiserver accepts at most %d host bits (use /%d or longer, '
                            'e.g. %s)' % (svc, _SERVICE_MAX_HOST_BITS, svc.max_prefixlen - _SERVICE_MAX_HOST_BITS,
                                          '10.96.0.0/12' if svc.version == 4 else 'fd00:10:96::/112'))
        elif host_bits < _SERVICE_MIN_HOST_BITS:
            messages.append('kubeseed_service_subnet: %s is too small; the cluster DNS Service uses its 10th address (use /%d or shorter)'
                            % (svc, svc.max_prefixlen - _SERVICE_MIN_HOST_BITS))
    if pod is None or not _is_int(mask):
        return messages
    if pod.version == 4:
        if mask > _IPV4_NODE_MASK_MAX:
            messages.append('kubeseed_node_cidr_mask_size: %d is too long for an IPv4 pod subnet (expected %d to %d, e.g. 24)'
                            % (mask, max(pod.prefixlen + 1, 8), _IPV4_NODE_MASK_MAX))
            return messages
        longest = _IPV4_NODE_MASK_MAX
    else:
        longest = min(pod.prefixlen + _IPV6_NODE_MASK_MAX_DIFF, 128)
    if mask <= pod.prefixlen and pod.prefixlen >= longest:
        messages.append('kubeseed_pod_subnet: %s is too small to give each node its own pod range; use a shorter prefix, e.g. %s'
                        % (pod, '10.244.0.0/16' if pod.version == 4 else 'fd00:10:244::/56'))
    elif mask <= pod.prefixlen:
        example = min(max(24 if pod.version == 4 else 64, pod.prefixlen + 2), longest)
        messages.append('kubeseed_node_cidr_mask_size: %d must be longer than the prefix of kubeseed_pod_subnet %s (/%d), '
                        'or each node could not get its own pod range (expected %d to %d, e.g. %d, or a shorter pod subnet prefix)'
                        % (mask, pod, pod.prefixlen, pod.prefixlen + 1, longest, example))
    elif pod.version == 6 and mask > longest:
        messages.append('kubeseed_node_cidr_mask_size: %d is more than %d bits longer than the prefix of the IPv6 kubeseed_pod_subnet %s; '
                        'kube-controller-manager refuses that (expected %d to %d, or a shorter pod subnet prefix)'
                        % (mask, _IPV6_NODE_MASK_MAX_DIFF, pod, pod.prefixlen + 1, longest))
    elif node_count and 2 ** min(mask - pod.prefixlen, 24) < node_count:
        messages.append('kubeseed_pod_subnet: %s holds only %d node ranges of /%d but the inventory has %d nodes; use a shorter prefix '
                        'or a longer kubeseed_node_cidr_mask_size' % (pod, 2 ** (mask - pod.prefixlen), mask, node_count))
    return messages


def _endpoint_host(cluster: dict):
    """The IP address of kubeseed_control_plane_endpoint (None when empty, a name or invalid) and its port (None when absent)."""
    value = cluster.get('kubeseed_control_plane_endpoint')
    if not isinstance(value, str) or not value or endpoint_problem(value):
        return None, None
    if value.startswith('['):
        address, _sep, port = value[1:].partition(']')
        port = port[1:] if port.startswith(':') else None
    else:
        address, sep, port = value.partition(':')
        port = port if sep else None
    return (ipaddress.ip_address(address) if is_ip(address) else None), (int(port) if port else None)


def _endpoint(cluster: dict, groups: dict, hosts: dict, named: dict, names: dict) -> list[str]:
    messages = []
    address, port = _endpoint_host(cluster)
    if address is None:
        return messages
    for name, net in sorted(named.items()):
        if address.version == net.version and address in net:
            messages.append('kubeseed_control_plane_endpoint: %s is inside %s %s; the endpoint must be an address outside the pod and '
                            'Service networks (a load balancer, a virtual IP or a control plane)' % (address, name, net))
    addresses = {}
    for group in (WORKERS, ETCD):
        for host in _group(groups, group):
            addresses.setdefault(str(_address_of(hosts, host)), (host, names[group]))
    owner = addresses.get(str(address))
    if owner and owner[0] not in _group(groups, CONTROL_PLANE):
        messages.append("kubeseed_control_plane_endpoint: %s is the address of host %s of group '%s', which runs no API server; use "
                        'a load balancer, a virtual IP or a control plane address' % (address, show(owner[0]), owner[1]))
    api_port = cluster.get('kubeseed_apiserver_port')
    control_planes = {str(_address_of(hosts, h)): h for h in _group(groups, CONTROL_PLANE)}
    if port is not None and _is_int(api_port) and port != api_port and str(address) in control_planes:
        messages.append('kubeseed_control_plane_endpoint: port %d differs from kubeseed_apiserver_port %d, but %s is control plane %s '
                        'itself, where the API server listens on %d; use %s:%d or a load balancer'
                        % (port, api_port, address, show(control_planes[str(address)]), api_port,
                           address if address.version == 4 else '[%s]' % address, api_port))
    return messages


def _networks(cluster: dict, groups: dict, hosts: dict, effective: dict, names: dict) -> list[str]:
    messages = []
    named = {}
    for name in ('kubeseed_pod_subnet', 'kubeseed_service_subnet'):
        network = _network(cluster, name)
        if network is not None:
            named[name] = network
    pod, svc = named.get('kubeseed_pod_subnet'), named.get('kubeseed_service_subnet')
    if pod is not None and svc is not None:
        if pod.version != svc.version:
            messages.append('kubeseed_service_subnet: %s is IPv%d but kubeseed_pod_subnet %s is IPv%d; use one IP family for both '
                            '(dual-stack is not supported)' % (svc, svc.version, pod, pod.version))
        elif pod.overlaps(svc):
            messages.append('kubeseed_service_subnet: %s overlaps kubeseed_pod_subnet %s; choose networks that do not overlap'
                            % (svc, pod))
    node_subnets = cluster.get('kubeseed_node_subnets')
    for index, subnet in enumerate(node_subnets if isinstance(node_subnets, list) else []):
        if not is_cidr(subnet):
            continue
        node_net = ipaddress.ip_network(subnet)
        for name, net in sorted(named.items()):
            if net.version == node_net.version and net.overlaps(node_net):
                messages.append('kubeseed_node_subnets[%d]: %s overlaps %s %s; pod and Service networks must not contain node addresses'
                                % (index, node_net, name, net))
    for host in sorted(hosts):
        for source, address in (('ansible_host', hosts[host].get('address')), ('kubeseed_node_ip', effective[host].get('kubeseed_node_ip'))):
            if not is_ip(address):
                continue
            ip = ipaddress.ip_address(address)
            for name, net in sorted(named.items()):
                if ip.version == net.version and ip in net:
                    messages.append('%s: %s address %s of host %s is inside %s %s; pod and Service networks must not contain node '
                                    'addresses' % (name, source, ip, host, name, net))
    node_count = len(set(_group(groups, CONTROL_PLANE)) | set(_group(groups, WORKERS)))
    messages += _subnet_sizes(pod, svc, cluster.get('kubeseed_node_cidr_mask_size'), node_count)
    messages += _endpoint(cluster, groups, hosts, named, names)
    messages += _vip(cluster, groups, hosts, named, names)
    return messages


def _vip(cluster: dict, groups: dict, hosts: dict, named: dict, names: dict) -> list[str]:
    """kubeseed_control_plane_vip: an IPv4 address outside the pod and Service networks, no host's, the endpoint's if that is an IP."""
    value = cluster.get('kubeseed_control_plane_vip')
    if not isinstance(value, str) or not is_ip(value):
        return []
    vip, messages = ipaddress.ip_address(value), []
    if vip.version != 4:
        return ['kubeseed_control_plane_vip: %s is an IPv6 address; the virtual IP is IPv4 only (keepalived VRRP version 2 as '
                'tested); put an IPv6 load balancer in kubeseed_control_plane_endpoint instead' % vip]
    for name, net in sorted(named.items()):
        if vip.version == net.version and vip in net:
            messages.append('kubeseed_control_plane_vip: %s is inside %s %s; use a free address on the control planes\' network'
                            % (vip, name, net))
    for group in (CONTROL_PLANE, WORKERS, ETCD):
        for host in _group(groups, group):
            if str(_address_of(hosts, host)) == str(vip):
                messages.append("kubeseed_control_plane_vip: %s is the address of host %s of group '%s'; the virtual IP must be a "
                                'free address that no host has' % (vip, show(host), names[group]))
    address, _port = _endpoint_host(cluster)
    if address is not None and address != vip:
        messages.append('kubeseed_control_plane_endpoint: %s is not kubeseed_control_plane_vip %s, so nothing would use the virtual '
                        'IP; leave the endpoint empty (the virtual IP is the endpoint) or give a DNS name of the virtual IP'
                        % (address, vip))
    return messages


# ---------------------------------------------------------------- settings ----

def _settings(cluster: dict, groups: dict) -> list[str]:
    messages = []
    version = cluster.get('kubeseed_kubernetes_version')
    if isinstance(version, str) and re.fullmatch(r'^1\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$', version):
        minor = int(version.split('.')[1])
        if minor not in SUPPORTED_MINORS:
            messages.append('kubeseed_kubernetes_version: %s is not supported; kubeseed supports 1.%d to 1.%d'
                            % (version, SUPPORTED_MINORS[0], SUPPORTED_MINORS[-1]))
    if cluster.get('kubeseed_package_source') == 'offline' and cluster.get('kubeseed_offline_bundle_url') == '':
        messages.append("kubeseed_offline_bundle_url: is empty but kubeseed_package_source is 'offline'; set it to the http(s):// "
                        "or file:// URL of the bundle directory (the one holding manifest.json)")
    if cluster.get('kubeseed_containerd_source') == 'bundle' and cluster.get('kubeseed_offline_bundle_url') == '':
        messages.append("kubeseed_offline_bundle_url: is empty but kubeseed_containerd_source is 'bundle'; set it to the URL of a "
                        "bundle (its runtime/ files are containerd and runc), or use kubeseed_containerd_source: package")
    if len(_group(groups, CONTROL_PLANE)) > 1 and cluster.get('kubeseed_control_plane_endpoint') == '' \
            and cluster.get('kubeseed_control_plane_vip') == '':
        messages.append('kubeseed_control_plane_endpoint: is empty but there are %d control planes; set kubeseed_control_plane_vip '
                        'to a free address on their network (kubeseed runs keepalived for it), or set this to the host[:port] of '
                        'your load balancer in front of them' % len(_group(groups, CONTROL_PLANE)))
    mtu = cluster.get('kubeseed_cni_mtu')
    if _is_int(mtu) and 0 < mtu < 576:
        messages.append('kubeseed_cni_mtu: %d is too small; use 0 (derive from the node interface) or 576 to 9216' % mtu)
    addons = cluster.get('kubeseed_addons')
    if isinstance(addons, dict) and 'metrics_server' in addons and cluster.get('kubeseed_kubelet_serving_certificates') is False:
        messages.append('kubeseed_addons.metrics_server: needs kubeseed_kubelet_serving_certificates: true (metrics-server '
                        'verifies the kubelets\' certificates against the cluster CA; self-signed ones fail); turn that on, or '
                        'leave metrics_server out of kubeseed_addons')
    return messages


# ---------------------------------------------------------------- role settings (argument_specs) ----

_ANSIBLE_TYPES = {'str': 'string', 'path': 'string', 'int': 'integer', 'bool': 'boolean', 'list': 'list', 'dict': 'mapping',
                  'float': 'number'}


def role_setting_problem(name: str, value: object, option: dict) -> tuple[str, object]:
    """('', converted value) when value fits the argument_specs option (as Ansible converts it), else (message, value)."""
    kind = option.get('type') or 'str'
    if kind == 'raw' or kind not in _ANSIBLE_TYPES:
        return '', value
    wanted = _ANSIBLE_TYPES[kind]
    article = 'an' if wanted[0] in 'aeiou' else 'a'
    default = option.get('default')
    if value is None:
        return '%s: is null (empty in YAML), expected %s %s (remove the variable to use the default %s)' % (
            name, article, wanted, show(default)), value
    if kind == 'bool':
        ok, value = as_boolean(value)
        if not ok:
            problem = _conversion_problem(value, 'boolean', default)
            return '%s: %s' % (name, problem or '%sis %s %s, expected a boolean (%s)' % (
                _scalar(value), _a(value), type_name(value), _BOOLEAN_FORMS)), value
    elif kind == 'int':
        ok, value = as_integer(value)
        if not ok:
            problem = _conversion_problem(value, 'integer', default)
            return '%s: %s' % (name, problem or '%sis %s %s, expected an integer' % (_scalar(value), _a(value), type_name(value))), value
    elif kind == 'float':
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return '%s: %sis %s %s, expected a number' % (name, _scalar(value), _a(value), type_name(value)), value
    elif type_name(value) != wanted:
        fix = ' (put it in quotes so YAML keeps it as written)' if wanted == 'string' and isinstance(value, (int, float)) else ''
        if wanted == 'list' and isinstance(value, str):
            fix = " (write a list: in YAML [a, b], in an INI inventory ['a', 'b'])"
        return '%s: %sis %s %s, expected %s %s%s' % (name, _scalar(value), _a(value), type_name(value), article, wanted, fix), value
    elif kind in ('str', 'path'):
        problem = string_problem(value)
        if problem:
            return '%s: %s %s (remove it)' % (name, show(value), problem), value
    if kind == 'list' and option.get('elements') in _ANSIBLE_TYPES:
        element = _ANSIBLE_TYPES[option['elements']]
        for index, item in enumerate(value):
            if type_name(item) != element:
                return '%s[%d]: %sis %s %s, expected %s %s' % (name, index, _scalar(item), _a(item), type_name(item),
                                                               'an' if element[0] in 'aeiou' else 'a', element), value
    choices = option.get('choices')
    if choices and value not in choices:
        return '%s: %s is not one of: %s' % (name, show(value), ', '.join(str(c) for c in choices)), value
    return '', value


def _scalar(value: object) -> str:
    return '' if isinstance(value, (dict, list, tuple)) else show(value) + ' '


def _a(value: object) -> str:
    return 'an' if type_name(value)[0] in 'aeiou' else 'a'


def _role_settings(hosts: dict, role_options: dict) -> tuple[list[str], dict]:
    """Check the role settings (kubeseed_<role>_* options of the roles' argument_specs) set in the inventory.

    Returns the messages and the hosts with only the contract variables left (the schema checks those).
    """
    contract = set(CLUSTER_SCHEMA['properties'])
    by_message: dict[str, list[str]] = {}
    remaining = {}
    for host in sorted(hosts):
        user_vars = dict(hosts[host].get('vars') or {})
        settings = {name: user_vars.pop(name) for name in list(user_vars) if name in role_options and name not in contract}
        remaining[host] = dict(hosts[host], vars=user_vars)
        for name in sorted(settings):
            message = role_setting_problem(name, settings[name], role_options[name] or {})[0]
            if message:
                by_message.setdefault(message + " (role setting, see the role's argument_specs)", []).append(host)
    return _merged(by_message, len(hosts)), remaining


def _missing_groups(groups: dict, names: dict) -> list[str]:
    """A renamed group that the inventory does not have is a typo (with the control planes schedulable, a misspelt workers
    group would otherwise build a cluster without its workers, silently)."""
    messages = []
    for variable, role in (('kubeseed_control_plane_group', CONTROL_PLANE), ('kubeseed_workers_group', WORKERS)):
        name = names[role]
        if name != role and name not in groups:
            close = difflib.get_close_matches(name, [g for g in groups if g not in ('all', 'ungrouped')], n=1)
            messages.append('%s: the inventory has no group %s%s; name one of its groups' % (
                variable, show(name), ' (did you mean %s?)' % show(close[0]) if close else ''))
    return messages


def _group_names(cluster: dict, names: dict) -> list[str]:
    """The hosts' kubeseed_*_group must be the names the controller used to find them (the plays run on those)."""
    messages = []
    for variable, role in (('kubeseed_control_plane_group', CONTROL_PLANE), ('kubeseed_workers_group', WORKERS)):
        value = cluster.get(variable)
        if isinstance(value, str) and value != names[role]:
            messages.append("%s: the hosts have %s but the controller (localhost) has %s, and the playbooks run on the controller's "
                            "group; set it once for all hosts and the controller: in group_vars/all or with -e"
                            % (variable, show(value), show(names[role])))
    return messages


# ---------------------------------------------------------------- entry point ----

_UNKNOWN = re.compile(r'^(kubeseed_[A-Za-z0-9_]+): unknown variable(; did you mean \S+\?)?(?P<hosts>.*)$', re.S)


def _suggest_among(message: str, role_options: dict) -> str:
    """An unknown variable's suggestion taken from the contract and the roles' settings (kubeseed_remove_node: did you
    mean kubeseed_remove_nodes, not a contract variable that merely looks alike)."""
    match = _UNKNOWN.match(message)
    if not match:
        return message
    close = suggest(match.group(1), list(CLUSTER_SCHEMA['properties']) + sorted(role_options))
    return '%s: unknown variable%s%s' % (match.group(1), '; did you mean %s?' % close if close else '', match.group('hosts'))


def validate_cluster(groups: dict, hosts: dict, role_options: dict | None = None, names: dict | None = None) -> list[str]:
    """Return every violation found in the inventory and its variables (empty when valid).

    groups: {group name: [host, ...]} as in Ansible's ``groups``.
    hosts: {host: {'address': ansible_host or None, 'vars': {kubeseed_*: value set by the user}}}.
    role_options: {variable: argument_specs option} of the roles' own settings, allowed next to the contract variables.
    names: the inventory group name of the control planes, workers and etcd members ({CONTROL_PLANE: 'masters', ...});
    default: the names themselves (kubeseed_control_plane_group and kubeseed_workers_group as the controller sees them).
    """
    names = {**{CONTROL_PLANE: CONTROL_PLANE, WORKERS: WORKERS, ETCD: ETCD}, **(names or {})}
    groups = groups if isinstance(groups, dict) else {}
    missing = _missing_groups(groups, names)
    groups = {role: list(groups.get(names[role]) or []) for role in (CONTROL_PLANE, WORKERS, ETCD)}
    members = set(_group(groups, CONTROL_PLANE)) | set(_group(groups, WORKERS)) | set(_group(groups, ETCD))
    checked = {host: (hosts or {}).get(host) or {} for host in sorted(members)}
    if not checked:
        return missing + _inventory(groups, cluster_defaults(), names)
    setting_messages, checked = _role_settings(checked, role_options or {})
    messages, effective = _schema_violations(checked)
    messages = [_suggest_among(m, role_options or {}) for m in messages] + setting_messages
    messages += _consistency(effective)
    first = sorted(_group(groups, CONTROL_PLANE) or checked)[0]
    cluster = effective[first]
    messages += missing + _group_names(effective[first], names)
    messages += _inventory(groups, cluster, names)
    messages += _hosts(groups, checked, effective)
    messages += _networks(cluster, groups, checked, effective, names)
    messages += _settings(cluster, groups)
    return messages
