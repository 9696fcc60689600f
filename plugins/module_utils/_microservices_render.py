# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions of the apps half: validate services, render their Kubernetes objects, and decide
what changed, what to prune and what a diff may show (never Secret values).

Nothing here talks to an API server; _microservices_ops does, with these results.
"""
from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import json
import math
import re
from fractions import Fraction

from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_objects import (  # noqa: F401  pylint: disable=unused-import
    HIDDEN, HIDDEN_CHANGED, describe, diff_entry, mask_secret, normalize, object_key, scalar_text,
)
from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_schema import (
    CONFIG_KEY, CRON_JOB_NAME_MAX, DEFAULTS_SCHEMA, DEPLOYMENT_ONLY, DNS_SUBDOMAIN, IMAGE_DIGEST, IMAGE_TAG, INT_OR_PERCENT, JOB_NAME_MAX,
    MAX_ANNOTATION_BYTES, MAX_DATA_BYTES, MICROSERVICES_SCHEMA, PATH_SEGMENT_NAME, RBAC_KINDS, RESERVED_LABELS, SERVICE_SCHEMA)
from ansible_collections.kubeseed.cluster.plugins.module_utils._schema_validation import (
    format_path, show, string_problem, type_name, validate)

MANAGED_BY = 'app.kubernetes.io/managed-by'
MANAGER_VALUE = 'kubeseed'
SET_LABEL = 'kubeseed.io/set'
NAME_LABEL = 'app.kubernetes.io/name'
CHECKSUM_ANNOTATION = 'kubeseed.io/config-checksum'
ROOT = 'kubeseed_microservices'
DEFAULTS_ROOT = 'kubeseed_microservices_defaults'
EXTRA_ROOT = 'kubeseed_microservices_extra_objects'
# Mappings of kubeseed_microservices_defaults merged key by key under a service's own (the rest is taken whole).
MERGED_MAPPINGS = ('env', 'config', 'labels', 'annotations', 'podAnnotations', 'resources', 'service', 'spread', 'strategy', 'autoscaling')

# Apply order: what pods need comes before the Deployments; kinds in the same phase are independent.
KIND_ORDER = ('Namespace', 'ServiceAccount', 'ConfigMap', 'Secret', 'PersistentVolumeClaim', 'Service', 'Deployment', 'Job', 'CronJob',
              'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Ingress')
API_VERSIONS = {
    'Namespace': 'v1', 'ServiceAccount': 'v1', 'ConfigMap': 'v1', 'Secret': 'v1', 'PersistentVolumeClaim': 'v1', 'Service': 'v1',
    'Deployment': 'apps/v1', 'Job': 'batch/v1', 'CronJob': 'batch/v1', 'HorizontalPodAutoscaler': 'autoscaling/v2',
    'PodDisruptionBudget': 'policy/v1', 'Ingress': 'networking.k8s.io/v1',
}
JOB_HASH_DIGITS = 10
# Kinds the prune and state=absent look at (never Namespace: deleting one deletes everything in it).
PRUNABLE_KINDS = tuple(k for k in KIND_ORDER if k != 'Namespace')
# Kinds listed and compared like the others but never deleted by a prune or state=absent (their data would go with them):
# kept and reported instead.
KEPT_KINDS = ('PersistentVolumeClaim',)


_str = scalar_text


def ownership_labels(set_name: str, name: str) -> dict:
    """Labels that mark an object as ours: managed by kubeseed, of this set, for this service."""
    return {MANAGED_BY: MANAGER_VALUE, SET_LABEL: set_name, NAME_LABEL: name}


def selector_labels(set_name: str, name: str) -> dict:
    """The (immutable) pod selector of a service's Deployment."""
    return {NAME_LABEL: name, SET_LABEL: set_name}


def set_selector(set_name: str) -> str:
    """Label selector (string form) of every object of a set."""
    return '%s=%s,%s=%s' % (MANAGED_BY, MANAGER_VALUE, SET_LABEL, set_name)


def checksum(config: dict | None, secrets: dict | None) -> str:
    """sha256 over the ConfigMap and Secret content: put on the pod template, a change rolls the pods."""
    payload = json.dumps({'config': {k: _str(v) for k, v in (config or {}).items()},
                          'secrets': {k: _str(v) for k, v in (secrets or {}).items()}}, sort_keys=True)
    return hashlib.sha256(payload.encode('utf-8')).hexdigest()


# ---------------------------------------------------------------- validation ----
#
# Three passes, so that a wrong type is reported as such and never crashes a later check:
#   1. _Walk follows each service along its schema and reports what the schema alone would word badly or
#      miss: numbers and booleans YAML made of what Kubernetes needs as strings (env, config, labels ...),
#      numbers given as strings (AWX survey answers), non-string keys, Kubernetes spellings (livenessProbe),
#      and shorthands (ports: 8080, service: NodePort). It returns a copy in which those are what the user
#      meant, so that the schema does not report them twice.
#   2. The JSON Schema (every type, pattern and range), values under 'secrets' hidden.
#   3. _cross_checks: relations between fields, on the copy, each reading a field only when it has the
#      right type, and skipping fields already reported.

_HIDDEN_KEYS = ('secrets',)
_DROP = object()
_STRING_MAPS = ('env', 'config', 'secrets', 'labels', 'annotations', 'podAnnotations', 'mounts')
# What ansible-core's boolean() accepts as strings (INI inventories, AWX surveys, -e key=value).
_TRUE_WORDS = ('y', 'yes', 'on', '1', 'true', 't')
_FALSE_WORDS = ('n', 'no', 'off', '0', 'false', 'f')
_AWX_NOTE = 'AWX survey answers and -e key=value are strings: use "{{ x | int }}"'
_SCALARS = (bool, int, float, type(None), datetime.date)

_QUANTITY = re.compile(r'([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?')
_QUANTITY_FACTORS = {
    '': Fraction(1), 'n': Fraction(1, 10 ** 9), 'u': Fraction(1, 10 ** 6), 'm': Fraction(1, 1000),
    'k': Fraction(10 ** 3), 'M': Fraction(10 ** 6), 'G': Fraction(10 ** 9), 'T': Fraction(10 ** 12), 'P': Fraction(10 ** 15),
    'E': Fraction(10 ** 18), 'Ki': Fraction(2 ** 10), 'Mi': Fraction(2 ** 20), 'Gi': Fraction(2 ** 30), 'Ti': Fraction(2 ** 40),
    'Pi': Fraction(2 ** 50), 'Ei': Fraction(2 ** 60),
}
_NOT_CPU_SUFFIXES = ('k', 'M', 'G', 'T', 'P', 'E', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei')
# Ingress paths of type Prefix or Exact that the API server refuses.
_BAD_PATH_PARTS = ('//', '/./', '/../', '%2f', '%2F')
_BAD_PATH_ENDS = ('/..', '/.')


def _a(kind: str) -> str:
    """'an integer', 'a list'."""
    return ('an ' if kind[:1] in 'aeiou' else 'a ') + kind


def _amount(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else '%g' % float(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _items(value: object) -> list:
    return value if isinstance(value, list) else []


def parse_quantity(value: object) -> tuple | None:
    """(amount as a Fraction, suffix) of a Kubernetes quantity (100m, 0.5, 128Mi, 1G, 1e3, 2), None when it is not one."""
    if _is_int(value):
        return Fraction(value), ''
    if isinstance(value, float):
        return (Fraction(repr(value)), '') if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    match = _QUANTITY.fullmatch(value)
    if not match:
        return None
    number, suffix = Fraction(match.group(1)), match.group(2) or ''
    if suffix[:1] in ('e', 'E'):
        exponent = int(suffix[1:])
        if abs(exponent) > 30:  # far beyond any real amount; not worth the arithmetic
            return None
        return number * Fraction(10) ** exponent, suffix
    return number * _QUANTITY_FACTORS[suffix], suffix


def _percent(value: object) -> int | None:
    if isinstance(value, str) and value.endswith('%') and value[:-1].isdigit():
        return int(value[:-1])
    return None


def _as_written(value: object) -> str:
    """How Kubernetes would most likely have wanted a YAML scalar: the text the renderer used to make of it."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if value is None:
        return ''
    return _str(value)


def _quote_fix(value: object, hidden: bool) -> str:
    """'<value> is an integer; Kubernetes needs a string: quote it ("...")' for a scalar that is not text.

    Most come from unquoted YAML; since ansible-core 2.19 a template of a number ("{{ port }}") is a number too.
    """
    kind = type_name(value)
    template = 'from a template: {{ x | string }}'
    if value is None:
        return 'is null (empty in YAML); Kubernetes needs a string: write "" for an empty value'
    if hidden:
        return '%s is %s; Kubernetes needs a string: quote the value (YAML reads 0755 as 493, 1.10 as 1.1, yes as true; %s)' % (
            HIDDEN, _a(kind), template)
    head = '%s is %s; Kubernetes needs a string: ' % (show(value), _a(kind))
    if isinstance(value, bool):
        return head + 'quote it ("%s" or the word you wrote: YAML reads yes, no, on, off as booleans; %s)' % (_str(value), template)
    if _is_int(value):
        if 8 <= value <= 0o7777 and value % 10:  # what a mode such as 0755 or 022 becomes (a round number rarely is one)
            return head + 'quote it ("%d", or "0%o" if you wrote 0%o: YAML reads a leading 0 as octal; %s)' % (value, value, value, template)
        return head + 'quote it ("%d"; %s)' % (value, template)
    if isinstance(value, float):
        return head + 'quote it as written, e.g. "%s" (YAML turns 1.10 into 1.1; %s)' % (_str(value), template)
    return head + 'quote it ("%s")' % _as_written(value)


def _key_fix(key: object) -> str:
    kind = type_name(key)
    what = 'the key %s is %s' % (show(key), _a(kind))
    if isinstance(key, bool):
        return what + ' (YAML reads unquoted yes, no, on, off, true, false as booleans); names must be strings: quote the key'
    if key is None:
        return what + ' (an empty key); names must be strings'
    return what + '; names must be strings: quote it ("%s")' % _as_written(key)


def _suggest_list(words: list) -> str:
    text = ', '.join(words[:4]) + (', ...' if len(words) > 4 else '')
    return text if len(text) <= 60 else text[:57] + '...'


def _compose_port(text: str) -> dict | None:
    """{port, targetPort, protocol} from a docker-compose style '8080', '8080:80' or '53/udp', else None."""
    match = re.fullmatch(r'\s*([0-9]{1,5})(?::([0-9]{1,5}))?(?:/(tcp|udp|sctp))?\s*', text, re.IGNORECASE)
    if not match:
        return None
    port = {'port': int(match.group(1))}
    if match.group(2):
        port['targetPort'] = int(match.group(2))
    if match.group(3):
        port['protocol'] = match.group(3).upper()
    return port


def _port_text(port: dict) -> str:
    return '{%s}' % ', '.join('%s: %s' % item for item in port.items())


def _shape_hint(field: str, value: object, schema: dict, hidden: bool) -> tuple | None:
    """(message, what the user meant or _DROP) for a container of the wrong kind that has a usual meaning, else None."""
    wanted = schema.get('type')
    if field == 'secrets' and wanted == 'object':
        if value is None:
            return 'is null (empty in YAML), expected a mapping of KEY: value: add entries or remove secrets', _DROP
        if not isinstance(value, dict):
            return '%s is %s, expected a mapping of KEY: value (values not shown)' % (HIDDEN, _a(type_name(value))), _DROP
        return None
    if wanted == 'object' and not isinstance(value, dict):
        if field == 'service' and isinstance(value, str):
            match = [t for t in schema['properties']['type']['enum'] if t.lower() == value.strip().lower()]
            if match:
                return '%s is a string, expected a mapping: write service: {type: %s}' % (show(value), match[0]), {'type': match[0]}
        if field in ('liveness', 'readiness') and isinstance(value, (str, int)) and not isinstance(value, bool):
            example = '{tcpSocket: {port: %s}}' % value if _is_int(value) else '{httpGet: {path: %s, port: http}}' % (
                value if isinstance(value, str) and value.startswith('/') and len(value) < 40 else '/healthz')
            return '%s is %s, expected a mapping such as %s' % (show(value), _a(type_name(value)), example), _DROP
        if field == 'autoscaling' and (isinstance(value, (bool, int, str))):
            top = value if _is_int(value) and value > 0 else 5
            return '%s is %s, expected a mapping such as {min: 1, max: %s}' % (show(value), _a(type_name(value)), top), _DROP
        if field == 'ingress' and isinstance(value, str):
            return '%s is a string, expected a mapping: write ingress: {host: %s}' % (show(value), _short_text(value)), {'host': value}
        if field in ('env', 'config') and isinstance(value, list):
            meant = {}
            for item in value:
                if isinstance(item, dict) and isinstance(item.get('name'), str):
                    meant[item['name']] = item.get('value', '')
                elif isinstance(item, str) and '=' in item:
                    name, _sep, text = item.partition('=')
                    meant[name] = text
            return 'is a list, expected a mapping of NAME: value: write %s: {NAME: "value", ...}' % field, meant
        if field in _STRING_MAPS and isinstance(value, str):
            return '%s is a string, expected a mapping of NAME: value, e.g. %s: {NAME: "value"}' % (show(value), field), _DROP
        if field == 'ports[]':
            port = {'port': value} if _is_int(value) else _compose_port(value) if isinstance(value, str) else None
            if port:
                return '%s is %s, expected a mapping: write %s' % (show(value), _a(type_name(value)), _port_text(port)), port
        return None
    if wanted == 'array' and not isinstance(value, list):
        if field == 'ports':
            port = {'port': value} if _is_int(value) else _compose_port(value) if isinstance(value, str) else None
            if port:
                return '%s is %s, expected a list of ports: write ports: [%s]' % (show(value), _a(type_name(value)), _port_text(port)), [port]
            if isinstance(value, dict) and 'port' in value:
                return 'is a mapping, expected a list of ports: write ports: [{port: ...}] (a - before each port)', [value]
        if field in ('command', 'args') and isinstance(value, str):
            words = value.split()
            return '%s is a string, expected a list: write %s: [%s]' % (show(value), field, _suggest_list(words)), words
        return None
    return None


def _short_text(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + '...'


class _Walk:
    """Pass 1 over one value along its schema: problems found, and the copy the schema then validates."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.problems = []

    def report(self, path: list, message: str) -> None:
        self.problems.append('%s: %s' % (format_path(self.root, path), message))

    def value(self, value: object, schema: dict | None, path: list, hidden: bool = False) -> object:
        if not isinstance(schema, dict):
            return value
        field = path[-1] if path and isinstance(path[-1], str) else (
            '%s[]' % path[-2] if len(path) > 1 and isinstance(path[-2], str) else '')
        hint = _shape_hint(field, value, schema, hidden)
        if hint:
            message, value = hint
            self.report(path, message)
            if value is _DROP:
                return _DROP
        if isinstance(value, dict) and schema.get('type') == 'object':
            return self.mapping(value, schema, path, hidden)
        if isinstance(value, list) and schema.get('type') == 'array':
            items = schema.get('items')
            return [self.value(item, items, path + [index], hidden) for index, item in enumerate(value)]
        return self.scalar(value, schema, path, hidden)

    def mapping(self, value: dict, schema: dict, path: list, hidden: bool) -> dict:
        properties = schema.get('properties') or {}
        extra = schema.get('additionalProperties')
        aliases = schema.get('x-aliases') or {}
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                if 'propertyNames' in schema:  # a name/value map: a non-string name would be passed on as is
                    self.report(path, _key_fix(key))
                    continue
                out[key] = item  # the schema reports it as an unknown setting
                continue
            if key in properties:
                sub = properties[key]
            elif isinstance(extra, dict):
                sub = extra
            elif key in aliases:
                self.report(path, '%s is not a known setting; %s' % (show(key), aliases[key]))
                target = re.match(r'use (\w+)(?: |$)', aliases[key])
                if target and target.group(1) in properties and target.group(1) not in value:
                    key, sub = target.group(1), properties[target.group(1)]
                else:
                    continue
            else:
                out[key] = item
                continue
            inner = self.value(item, sub, path + [key], hidden or key in _HIDDEN_KEYS)
            if inner is not _DROP:
                out[key] = inner
        return out

    def scalar(self, value: object, schema: dict, path: list, hidden: bool) -> object:
        wanted = schema.get('type')
        wanted = wanted if isinstance(wanted, list) else [wanted] if wanted else []
        shown = HIDDEN if hidden else show(value)
        if 'integer' in wanted and isinstance(value, str) and re.fullmatch(r'\s*[-+]?[0-9]{1,12}\s*', value) and not hidden:
            pattern = schema.get('pattern')
            if 'string' not in wanted or not (pattern and re.search(pattern, value)):
                number = int(value)
                alternative = ' (or %d%%)' % number if schema.get('pattern') == INT_OR_PERCENT else ''
                self.report(path, '%s is a string, expected an integer: write %d without quotes%s; %s' % (shown, number, alternative, _AWX_NOTE))
                return number
        if 'integer' in wanted and 'number' not in wanted and isinstance(value, float) and value.is_integer():
            self.report(path, '%s is a number with a decimal point, expected an integer: write %d' % (shown, int(value)))
            return int(value)
        if wanted == ['boolean'] and isinstance(value, str) and value.strip().lower() in _TRUE_WORDS + _FALSE_WORDS:
            meant = value.strip().lower() in _TRUE_WORDS
            self.report(path, '%s is a string, expected a boolean: write %s without quotes' % (shown, _str(meant)))
            return meant
        if wanted == ['string'] and isinstance(value, _SCALARS):
            in_map = len(path) >= 2 and path[-2] in _STRING_MAPS
            if value is None and not in_map:
                return value  # the schema says 'is null (empty in YAML), expected a string'
            meant = _as_written(value)
            pattern = schema.get('pattern')
            if pattern and not re.search(pattern, meant):
                return value  # quoting would not make it valid: the schema says what is expected
            self.report(path, _quote_fix(value, hidden))
            return meant
        return value


def _image_problem(image: str) -> str:
    """What is wrong with an image reference the grammar refused, with the fix; '' when nothing specific is known."""
    if image != image.strip():
        return ''  # the schema says 'starts/ends with a space (remove it)'
    if '://' in image:
        return '%s has a scheme (%s://); an image reference has none: write %s' % (
            show(image), _short_text(image.split('://', 1)[0]), _short_text(image.split('://', 1)[1]))
    if any(char.isspace() for char in image):
        return '%s contains a space; an image reference has none (a tag follows a colon: nginx:1.27)' % show(image)
    rest, at, digest = image.partition('@')
    if at and not re.fullmatch(IMAGE_DIGEST, digest):
        return '%s has an invalid digest: use @sha256: and 64 lowercase hexadecimal digits' % show(image)
    slash, colon = rest.rfind('/'), rest.rfind(':')
    name, tag = (rest[:colon], rest[colon:]) if colon > slash else (rest, '')
    if tag and not re.fullmatch(IMAGE_TAG, tag[1:]):
        if len(tag) > 129:
            return '%s has a tag of %d characters; a tag has at most 128' % (show(image), len(tag) - 1)
        return '%s has an invalid tag: letters, digits, _, . and -, not starting with . or -' % show(image)
    if len(name) > 255:
        return '%s has a name of %d characters; at most 255' % (show(image), len(name))
    host, _slash, path = name.partition('/')
    if not path or not ('.' in host or ':' in host or host == 'localhost'):
        host, path = '', name  # no registry: Docker Hub
    if any(not part for part in path.split('/')):
        return '%s has an empty path component (// or a / at the start or end)' % show(image)
    if path != path.lower():
        fixed = (host + '/' if host else '') + path.lower() + tag + at + digest
        first = path.split('/')[0]
        if not host and len(path.split('/')) > 1 and first != first.lower():
            return '%s starts with %s, which is not a registry host (no . or :), and a repository path is lowercase: write %s' % (
                show(image), show(first), _short_text(fixed))
        return '%s has capitals in its repository path, which is lowercase: write %s' % (show(image), _short_text(fixed))
    return ''


def _merge(default: object, own: object) -> object:
    """own over default: two mappings key by key (nested mappings too), anything else own as a whole."""
    if isinstance(default, dict) and isinstance(own, dict):
        out = dict(default)
        for key, value in own.items():
            out[key] = _merge(default.get(key), value) if key in default else value
        return out
    return own


def with_defaults(services: object, defaults: object) -> object:
    """Each service (a mapping) with kubeseed_microservices_defaults merged under it (see MERGED_MAPPINGS); other values as given."""
    if not isinstance(defaults, dict) or not defaults or not isinstance(services, list):
        return services
    merged = []
    for svc in services:
        if not isinstance(svc, dict):
            merged.append(svc)
            continue
        out = dict(svc)
        runs_once = 'job' in svc or 'cronJob' in svc
        for key, value in defaults.items():
            if runs_once and key in DEPLOYMENT_ONLY:
                continue  # a Job or CronJob has no replicas, ports, probes of readiness ...: those defaults are for Deployments
            if key not in svc:
                out[key] = copy.deepcopy(value)
            elif key in MERGED_MAPPINGS:
                out[key] = _merge(value, svc[key])
        merged.append(out)
    return merged


def validate_defaults(defaults: object) -> list:
    """Every problem of kubeseed_microservices_defaults, each as 'kubeseed_microservices_defaults.path: message'."""
    if defaults is None or defaults == {}:
        return []
    if not isinstance(defaults, dict):
        return ['%s: is %s, expected a mapping of service settings (for example {replicas: 2, imageRegistry: registry.example.com/team})'
                % (DEFAULTS_ROOT, _a(type_name(defaults)))]
    walk = _Walk(DEFAULTS_ROOT)
    clean = walk.mapping(defaults, DEFAULTS_SCHEMA, [], False)
    return sorted(set(walk.problems + validate(DEFAULTS_SCHEMA, clean, root=DEFAULTS_ROOT, hidden_keys=_HIDDEN_KEYS)))


def image_reference(svc: dict) -> str:
    """The service's image, with its imageRegistry before it when the image names no registry."""
    image, registry = svc['image'], svc.get('imageRegistry')
    first = image.split('/', 1)[0]
    names_registry = '/' in image and ('.' in first or ':' in first or first == 'localhost' or first.startswith('['))
    if not registry or names_registry:
        return image
    return registry.rstrip('/') + '/' + image


def validate_services(services: object, namespace: object = 'default', set_name: object = 'apps', secrets: object = None,
                      defaults: object = None, extra_objects: object = None) -> list:
    """Every problem of the services list at once, each as 'kubeseed_microservices[i].path: message'.

    With defaults (kubeseed_microservices_defaults), those are checked first on their own; when they are valid the
    services are checked with the defaults merged under them (with_defaults).
    Accepts any input (a string, a mapping, None, nested wrong types) and never raises; no message shows a
    value found under a 'secrets' key, or a value of the secrets argument.
    """
    problems = validate_defaults(defaults)
    if problems:
        return problems
    services = with_defaults(services, defaults)
    clean = services
    if isinstance(services, dict) and ('name' in services or 'image' in services):
        problems.append('%s: is a single mapping, expected a list of services: put "- " before the first key of each service' % ROOT)
        clean = []
    elif isinstance(services, list):
        clean = []
        for index, svc in enumerate(services):
            if isinstance(svc, dict):
                walk = _Walk(ROOT)
                clean.append(walk.mapping(svc, SERVICE_SCHEMA, [index], False))
                problems.extend(walk.problems)
            else:
                clean.append(svc)  # the schema says what it is and that a mapping is expected
    data = {ROOT: clean, ROOT + '_namespace': namespace, ROOT + '_set': set_name}
    if extra_objects not in (None, []):
        data[EXTRA_ROOT] = extra_objects
        problems.extend(_extra_problems(extra_objects, namespace if isinstance(namespace, str) else 'default'))
    reported = validate(MICROSERVICES_SCHEMA, data, hidden_keys=_HIDDEN_KEYS)
    for index, svc in enumerate(clean if isinstance(clean, list) else []):
        image = svc.get('image') if isinstance(svc, dict) else None
        where = '%s[%d].image: ' % (ROOT, index)
        if isinstance(image, str) and any(p.startswith(where) for p in reported) and not string_problem(image):
            specific = _image_problem(image)
            if specific:
                reported = [p for p in reported if not p.startswith(where)] + [where + specific]
    problems.extend(reported)
    if not isinstance(clean, list):
        return sorted(set(problems))

    flagged = set(p.split(': ', 1)[0] for p in problems)
    default_ns = namespace if isinstance(namespace, str) else 'default'
    names, node_ports = {}, {}
    for index, svc in enumerate(clean):
        if not isinstance(svc, dict):
            continue
        where = '%s[%d]' % (ROOT, index)
        name = _text(svc.get('name'))
        key = (_text(svc.get('namespace')) or default_ns, name)
        if name is not None and key in names:
            problems.append('%s.name: %s is already used by %s[%d] in namespace %s; names must be unique per namespace'
                            % (where, show(name), ROOT, names[key], key[0]))
        elif name is not None:
            names[key] = index
        problems.extend(_cross_checks(svc, where, flagged, _mapping(secrets).get(name) if name else None))
        for i, port in enumerate(_items(svc.get('ports'))):
            node_port = _mapping(port).get('nodePort')
            if not _is_int(node_port):
                continue
            owner = node_ports.setdefault(node_port, (index, i))
            if owner[0] != index:
                problems.append('%s.ports[%d].nodePort: %d is already the node port of %s[%d].ports[%d]; a node port is used once in the '
                                'whole cluster' % (where, i, node_port, ROOT, owner[0], owner[1]))
    problems.extend(_run_before_problems(clean, flagged))
    problems.extend(_secrets_option_problems(secrets, services))
    return sorted(set(problems))


def _extra_problems(extra: object, namespace: str) -> list:
    """What the schema cannot say about kubeseed_microservices_extra_objects: kinds kubeseed will not own, fields that are the
    cluster's, labels it sets, the same object twice."""
    problems, seen = [], {}
    for index, obj in enumerate(extra if isinstance(extra, list) else []):
        if not isinstance(obj, dict):
            continue
        where = '%s[%d]' % (EXTRA_ROOT, index)
        kind, meta = obj.get('kind'), _mapping(obj.get('metadata'))
        if kind == 'Namespace':
            problems.append('%s.kind: a Namespace is not an extra object (kubeseed never deletes one, so it could not be pruned): '
                            'kubeseed_microservices_create_namespaces creates the namespaces of the set' % where)
        if 'status' in obj:
            problems.append('%s.status: the status is written by the cluster, not applied: remove it' % where)
        for key in _mapping(meta.get('labels')):
            if key in RESERVED_LABELS and key != NAME_LABEL:
                problems.append('%s.metadata.labels: %s is set by kubeseed on every object of the set (ownership); use another key' % (where, show(key)))
        name = meta.get('name')
        if isinstance(kind, str) and kind not in RBAC_KINDS and isinstance(name, str) and re.match(PATH_SEGMENT_NAME, name) \
                and not re.match(DNS_SUBDOMAIN, name):
            problems.append('%s.metadata.name: %s is not valid for a %s (use a lowercase DNS name: letters, digits, - and .; only '
                            'RBAC objects may have colons)' % (where, show(name), kind))
        if isinstance(kind, str) and isinstance(name, str):
            key = (kind, meta.get('namespace') if isinstance(meta.get('namespace'), str) else namespace, name)
            if key in seen:
                problems.append('%s: %s %s is already %s[%d]' % (where, kind, name, EXTRA_ROOT, seen[key]))
            seen.setdefault(key, index)
    return problems


def render_extra(extra: list, set_name: str) -> list:
    """Each extra object (already validated) with the set's ownership labels, ready to apply (namespace defaulted later)."""
    out = []
    for obj in extra or []:
        obj = copy.deepcopy(obj)
        meta = obj['metadata']
        meta['labels'] = dict(meta.get('labels') or {}, **{MANAGED_BY: MANAGER_VALUE, SET_LABEL: set_name})
        out.append(obj)
    return out


def entry_kind(svc: dict) -> str:
    """What an entry becomes: 'Job' (it has job), 'CronJob' (cronJob) or 'Deployment'."""
    if 'job' in svc:
        return 'Job'
    return 'CronJob' if 'cronJob' in svc else 'Deployment'


def _run_before_problems(clean: list, flagged: set) -> list:
    """job.runBefore names services of the list (Deployments, not other jobs), never its own entry."""
    kinds = {}
    for svc in clean:
        if isinstance(svc, dict) and isinstance(svc.get('name'), str):
            kinds.setdefault(svc['name'], set()).add(entry_kind(svc))
    services = sorted(name for name, found in kinds.items() if 'Deployment' in found)
    problems = []
    for index, svc in enumerate(clean):
        if not isinstance(svc, dict) or not isinstance(svc.get('job'), dict):
            continue
        where = '%s[%d].job.runBefore' % (ROOT, index)
        if any(f == where or f.startswith(where + '[') for f in flagged):
            continue
        for i, name in enumerate(_items(svc['job'].get('runBefore'))):
            if not isinstance(name, str):
                continue
            if name == svc.get('name'):
                problems.append('%s[%d]: %s is this job itself; list the services that must wait for it' % (where, i, show(name)))
            elif 'Deployment' not in kinds.get(name, ()):
                what = 'a job or cronJob entry' if name in kinds else 'not the name of an entry of %s' % ROOT
                problems.append('%s[%d]: %s is %s; runBefore lists services (%s)'
                                % (where, i, show(name), what, ', '.join(services) or 'there are none'))
    return problems


def _secrets_option_problems(secrets: object, services: object) -> list:
    """The secrets argument ({service: {KEY: value}}): its shape and key names, never its values."""
    if secrets is None or secrets == {}:
        return []
    if not isinstance(secrets, dict):
        return ['secrets: %s is %s, expected a mapping of service name to {KEY: value} (values not shown)' % (HIDDEN, _a(type_name(secrets)))]
    known = set(svc.get('name') for svc in _items(services) if isinstance(svc, dict) and isinstance(svc.get('name'), str))
    problems = []
    for name, values in sorted(secrets.items(), key=lambda item: str(item[0])):
        where = format_path('secrets', [name])
        if name not in known:
            problems.append('%s: there is no service named %s to attach these secrets to' % (where, show(name)))
        if not isinstance(values, dict):
            problems.append('%s: %s is %s, expected a mapping of KEY: value (values not shown)' % (where, HIDDEN, _a(type_name(values))))
            continue
        for key, value in values.items():
            if not isinstance(key, str):
                problems.append('%s: %s' % (where, _key_fix(key)))
            elif not re.search(CONFIG_KEY, key) or string_problem(key):
                problems.append('%s: %s is not a valid key (%s)' % (where, show(key), 'keys are at most 253 letters, digits, -, _ and ., '
                                                                    'not . or starting with ..'))
            elif not isinstance(value, str):
                problems.append('%s: %s' % (format_path('secrets', [name, key]), _quote_fix(value, True) if isinstance(value, _SCALARS)
                                            else '%s is %s, expected a string (values not shown)' % (HIDDEN, _a(type_name(value)))))
    return problems


def _data_bytes(values: dict) -> int:
    return sum(len(v.encode('utf-8', 'surrogatepass')) for v in values.values() if isinstance(v, str))


def _annotation_bytes(*maps: dict) -> int:
    return sum(len(k.encode('utf-8', 'surrogatepass')) + len(v.encode('utf-8', 'surrogatepass'))
               for m in maps for k, v in m.items() if isinstance(k, str) and isinstance(v, str))


def _cross_checks(svc: dict, where: str, flagged: set, option_secrets: object = None) -> list:
    """What one JSON Schema cannot say: relations between the fields of one service.

    svc is the copy from pass 1: a field is read only when it has the right type, and a relation is not
    checked when one of its fields was already reported (flagged paths).
    """
    def bad(*fields: str) -> bool:
        for field in fields:
            path = where + field
            if any(f == path or f.startswith(path + '.') or f.startswith(path + '[') for f in flagged):
                return True
        return False

    problems = []
    if 'job' in svc and 'cronJob' in svc:
        problems.append('%s: has both job and cronJob; an entry is one Job or one CronJob: make two entries' % where)
    elif 'job' in svc or 'cronJob' in svc:
        field = 'job' if 'job' in svc else 'cronJob'
        for other in DEPLOYMENT_ONLY:
            if other in svc:
                problems.append('%s.%s: a %s entry runs to completion and has no %s (only a service entry, without %s, has it); remove it'
                                % (where, other, field, other, field))
        name = _text(svc.get('name'))
        longest = JOB_NAME_MAX if field == 'job' else CRON_JOB_NAME_MAX
        if name and not bad('.name') and len(name) > longest:
            problems.append('%s.name: %s has %d characters; a %s entry has at most %d (Kubernetes adds a suffix to the names of its Jobs)'
                            % (where, show(name), len(name), field, longest))
    image = _text(svc.get('image'))
    if image and not bad('.image') and len(re.sub(r'(:[^:/@]*)?(@.*)?$', '', image)) > 255:
        problems.append('%s.image: %s has a name of more than 255 characters (without tag and digest)' % (where, show(image)))
    ports = [(i, p) for i, p in enumerate(_items(svc.get('ports'))) if isinstance(p, dict)]
    names, numbers, containers, node_ports = {}, {}, {}, {}
    for i, port in ports:
        name = _text(port.get('name')) or ('http' if i == 0 else 'port-%s' % port.get('port'))
        if name in names:
            problems.append('%s.ports[%d].name: %s is already the name of ports[%d]' % (where, i, show(name), names[name]))
        names.setdefault(name, i)
        protocol = port.get('protocol', 'TCP') if isinstance(port.get('protocol', 'TCP'), str) else '?'
        number = port.get('port')
        repeated = _is_int(number) and (number, protocol) in numbers
        if repeated:
            problems.append('%s.ports[%d].port: %d/%s is already used by ports[%d]' % (where, i, number, protocol, numbers[(number, protocol)]))
        if _is_int(number):
            numbers.setdefault((number, protocol), i)
        target = port.get('targetPort', number)
        if _is_int(target) and _is_int(number) and not repeated:
            if (target, protocol) in containers:
                problems.append('%s.ports[%d].targetPort: container port %d/%s is already the target of ports[%d]; give each entry its own '
                                'container port' % (where, i, target, protocol, containers[(target, protocol)]))
            containers.setdefault((target, protocol), i)
        node_port = port.get('nodePort')
        if _is_int(node_port):
            if (node_port, protocol) in node_ports:
                problems.append('%s.ports[%d].nodePort: %d/%s is already the node port of ports[%d]'
                                % (where, i, node_port, protocol, node_ports[(node_port, protocol)]))
            node_ports.setdefault((node_port, protocol), i)
    service = _mapping(svc.get('service'))
    service_type = service.get('type', 'ClusterIP') if isinstance(service.get('type', 'ClusterIP'), str) else None
    for i, port in ports:
        if 'nodePort' in port and service_type and service_type not in ('NodePort', 'LoadBalancer') and not bad('.service'):
            problems.append('%s.ports[%d].nodePort: only NodePort and LoadBalancer services have node ports (service.type is %s)'
                            % (where, i, service_type))
    ports_broken = bad('.ports')
    if 'service' in svc and not ports and not ports_broken:
        problems.append('%s.service: a Service needs at least one entry in ports' % where)

    ingress = svc.get('ingress')
    if isinstance(ingress, dict):
        if not ports and not ports_broken:
            problems.append('%s.ingress: an Ingress needs a Service: add at least one entry in ports' % where)
        elif isinstance(ingress.get('port'), (str, int)) and not isinstance(ingress['port'], bool) and not ports_broken and \
                ingress['port'] not in set(names) | set(p.get('port') for _i, p in ports if _is_int(p.get('port'))):
            problems.append('%s.ingress.port: %s is neither the name nor the number of one of the ports' % (where, show(ingress['port'])))
        if service_type == 'Headless':
            problems.append('%s.ingress: an Ingress cannot route to a Headless service' % where)
        path = _text(ingress.get('path'))
        if path and ingress.get('pathType', 'Prefix') in ('Prefix', 'Exact') and not bad('.ingress.path') and \
                (any(part in path for part in _BAD_PATH_PARTS) or path.endswith(_BAD_PATH_ENDS)):
            problems.append('%s.ingress.path: %s may not contain //, /./, /../ or %%2f, nor end with /. or /.. (pathType Prefix and Exact)'
                            % (where, show(path)))

    for probe_name in ('liveness', 'readiness', 'startup'):
        probe = _mapping(svc.get(probe_name))
        for handler in ('httpGet', 'tcpSocket'):
            port = _mapping(probe.get(handler)).get('port')
            # A number is any container port (the Service need not expose it); a name must be one of the ports' names.
            if isinstance(port, str) and port not in names and not ports_broken and not bad('.%s.%s.port' % (probe_name, handler)):
                known = ', '.join(sorted(names)) if names else 'there are no ports: use a number'
                problems.append('%s.%s.%s.port: %s is not the name of one of the ports (%s)' % (where, probe_name, handler, show(port), known))
        if probe_name != 'readiness' and _is_int(probe.get('successThreshold')) and probe['successThreshold'] != 1:
            problems.append('%s.%s.successThreshold: %d is not allowed; a %s probe needs 1' % (where, probe_name, probe['successThreshold'], probe_name))

    volumes = _mapping(svc.get('volumes'))
    if 'config' in volumes and not bad('.volumes'):
        problems.append("%s.volumes.config: 'config' is the name of the ConfigMap's volume; use another name" % where)
    for volume, settings in sorted((k, v) for k, v in volumes.items() if isinstance(k, str)):
        settings = _mapping(settings)
        scratch = sorted(k for k in ('medium', 'sizeLimit') if k in settings)
        if settings.get('persistent') and scratch and not bad('.volumes.%s' % volume):
            problems.append('%s.volumes.%s: %s is for a scratch volume (emptyDir); a persistent one has its size in persistent.size: '
                            'remove %s' % (where, volume, ' and '.join(scratch), ' and '.join(scratch)))
        persistent = _mapping(settings.get('persistent'))
        if persistent.get('accessMode') == 'ReadWriteOncePod' and 'job' not in svc and 'cronJob' not in svc \
                and not bad('.volumes.%s.persistent.accessMode' % volume):
            at = '%s.volumes.%s.persistent.accessMode' % (where, volume)
            replicas = svc.get('replicas', 1)
            if svc.get('autoscaling') or (_is_int(replicas) and replicas > 1):
                problems.append('%s: ReadWriteOncePod lets one pod use the claim, and this service runs more than one (replicas or '
                                'autoscaling): use ReadWriteOnce (pods on one node) or one replica' % at)
            if _mapping(svc.get('strategy')).get('type') != 'Recreate':
                problems.append('%s: with ReadWriteOncePod a rolling update never finishes (the new pod cannot mount the claim while '
                                'the old one runs): set strategy: {type: Recreate}' % at)
    containers = {_text(svc.get('name')): 'the service container'}
    for field in ('sidecars', 'initContainers'):
        for i, extra in enumerate(_items(svc.get(field))):
            extra = _mapping(extra)
            name = _text(extra.get('name'))
            if name is not None and not bad('.%s[%d].name' % (field, i)):
                if name in containers:
                    problems.append('%s.%s[%d].name: %s is already the name of %s; container names are unique in a pod'
                                    % (where, field, i, show(name), containers[name]))
                else:
                    containers[name] = '%s[%d]' % (field, i)
            for volume in _mapping(extra.get('mounts')):
                if isinstance(volume, str) and volume not in volumes and not bad('.%s[%d].mounts' % (field, i)):
                    known = ', '.join(sorted(v for v in volumes if isinstance(v, str))) or 'there are none: declare it in volumes'
                    problems.append('%s.%s[%d].mounts.%s: not one of the volumes (%s)' % (where, field, i, volume, known))
    spread = _mapping(svc.get('spread'))
    pairs = {}
    spread_pair = (spread.get('topologyKey', 'kubernetes.io/hostname'), spread.get('whenUnsatisfiable', 'ScheduleAnyway'))
    if spread.get('enabled', True) is not False and all(isinstance(v, str) for v in spread_pair) and not bad('.spread'):
        pairs[spread_pair] = 'spread'
    for i, constraint in enumerate(_items(svc.get('topologySpread'))):
        constraint = _mapping(constraint)
        at = '.topologySpread[%d]' % i
        pair = (constraint.get('topologyKey'), constraint.get('whenUnsatisfiable'))
        if all(isinstance(v, str) for v in pair) and not bad(at):
            if pair in pairs:
                problems.append('%s%s: topologyKey %s with whenUnsatisfiable %s is already in %s; Kubernetes takes each pair once: '
                                'change one, or set spread: {enabled: false} and write all constraints here'
                                % (where, at, pair[0], pair[1], pairs[pair]))
            else:
                pairs[pair] = 'topologySpread[%d]' % i
        if 'minDomains' in constraint and constraint.get('whenUnsatisfiable') == 'ScheduleAnyway' and not bad(at):
            problems.append('%s%s.minDomains: needs whenUnsatisfiable DoNotSchedule (Kubernetes refuses it with ScheduleAnyway)' % (where, at))
    strategy = _mapping(svc.get('strategy'))
    ready, deadline = strategy.get('minReadySeconds'), strategy.get('progressDeadlineSeconds')
    if _is_int(ready) and _is_int(deadline) and deadline <= ready:
        problems.append('%s.strategy.progressDeadlineSeconds: %d must be more than minReadySeconds (%d)' % (where, deadline, ready))

    resources = _mapping(svc.get('resources'))
    requests, limits = _mapping(resources.get('requests')), _mapping(resources.get('limits'))
    parsed = {}
    for part, amounts in (('requests', requests), ('limits', limits)):
        for resource, amount in amounts.items():
            quantity = parse_quantity(amount)
            if quantity is None or not isinstance(resource, str) or bad('.resources.%s.%s' % (part, resource)):
                continue
            parsed[(part, resource)] = quantity[0]
            path = '%s.resources.%s.%s' % (where, part, resource)
            if resource in ('memory', 'ephemeral-storage') and quantity[0].denominator != 1:
                if quantity[1] == 'm':
                    problems.append('%s: %s is %s bytes (m means thousandths); for mebibytes write %sMi' % (
                        path, show(amount), _amount(quantity[0]), str(amount)[:-1]))
                else:
                    problems.append('%s: %s is not a whole number of bytes; use e.g. 512Mi or 1Gi' % (path, show(amount)))
            if resource == 'cpu' and quantity[1] in _NOT_CPU_SUFFIXES:
                problems.append('%s: %s is %s CPUs; did you mean %sm (thousandths of a CPU)?' % (
                    path, show(amount), _amount(quantity[0]), re.sub(r'[^0-9.]', '', str(amount)) or '100'))
    for resource in sorted(set(r for _p, r in parsed)):
        request, limit = parsed.get(('requests', resource)), parsed.get(('limits', resource))
        if request is not None and limit is not None and request > limit:
            problems.append('%s.resources.requests.%s: %s is more than the limit %s; a request may not be above its limit' % (
                where, resource, show(requests[resource]), show(limits[resource])))

    autoscaling = svc.get('autoscaling')
    if isinstance(autoscaling, dict):
        low, high = autoscaling.get('min', 1), autoscaling.get('max')
        if _is_int(low) and _is_int(high) and low > high:
            problems.append('%s.autoscaling.min: %d is greater than max (%d)' % (where, low, high))

    strategy = svc.get('strategy')
    if isinstance(strategy, dict):
        rolling = set(strategy) & {'maxSurge', 'maxUnavailable'}
        if strategy.get('type') == 'Recreate' and rolling:
            problems.append('%s.strategy: maxSurge and maxUnavailable only apply to type RollingUpdate' % where)
        surge, unavailable = strategy.get('maxSurge'), strategy.get('maxUnavailable')
        if _percent(unavailable) is not None and _percent(unavailable) > 100:
            problems.append('%s.strategy.maxUnavailable: %s is more than 100%%' % (where, show(unavailable)))
        if surge in (0, '0%') and unavailable in (0, '0%') and not isinstance(surge, bool) and not isinstance(unavailable, bool):
            problems.append('%s.strategy: maxSurge and maxUnavailable cannot both be 0 (the rollout could not progress)' % where)
    pdb = _mapping(svc.get('pdb'))
    for field in ('minAvailable', 'maxUnavailable'):
        if _percent(pdb.get(field)) is not None and _percent(pdb.get(field)) > 100:
            problems.append('%s.pdb.%s: %s is more than 100%%' % (where, field, show(pdb[field])))

    if svc.get('createServiceAccount') is True and not svc.get('serviceAccount') and not bad('.serviceAccount'):
        problems.append('%s.createServiceAccount: set serviceAccount to the name of the ServiceAccount to create' % where)
    if 'configMountPath' in svc and not _mapping(svc.get('config')) and not bad('.config'):
        problems.append('%s.configMountPath: there is nothing to mount: set config too (or remove configMountPath)' % where)
    for key in _mapping(svc.get('labels')):
        if key in RESERVED_LABELS:
            problems.append("%s.labels: %s is set by kubeseed on every object (ownership and the pod selector); use another key"
                            % (where, show(key)))

    config = _mapping(svc.get('config'))
    if _data_bytes(config) > MAX_DATA_BYTES:
        problems.append('%s.config: the values hold %d bytes; a ConfigMap holds at most %d (1 MiB): put large files in the image or a volume'
                        % (where, _data_bytes(config), MAX_DATA_BYTES))
    secret_data = dict(_mapping(svc.get('secrets')))
    secret_data.update(_mapping(option_secrets))
    if _data_bytes(secret_data) > MAX_DATA_BYTES:
        problems.append('%s: the values hold %d bytes; a Secret holds at most %d (1 MiB)' % (
            where + '.secrets' if 'secrets' in svc else format_path('secrets', [svc.get('name')]), _data_bytes(secret_data), MAX_DATA_BYTES))
    common = _mapping(svc.get('annotations'))
    for field, extra in (('annotations', {}), ('service.annotations', _mapping(service.get('annotations'))),
                         ('ingress.annotations', _mapping(_mapping(ingress).get('annotations'))),
                         ('podAnnotations', _mapping(svc.get('podAnnotations')))):
        size = _annotation_bytes(extra) + (_annotation_bytes(common) if field != 'podAnnotations' else 0)
        if size > MAX_ANNOTATION_BYTES and (extra or field == 'annotations'):
            problems.append('%s.%s: the annotations of one object hold %d bytes; Kubernetes allows at most %d (256 KiB)'
                            % (where, field, size, MAX_ANNOTATION_BYTES))
    return problems


# ---------------------------------------------------------------- rendering ----

def port_name(port: dict, index: int) -> str:
    """A port's name: its own, 'http' for the first one, 'port-<n>' for the others."""
    return port.get('name') or ('http' if index == 0 else 'port-%s' % port.get('port'))


def _meta(svc: dict, set_name: str, namespace: str, name: str | None = None, extra_annotations: dict | None = None) -> dict:
    labels = dict(svc.get('labels') or {})
    labels.update(ownership_labels(set_name, svc['name']))
    meta = {'name': name or svc['name'], 'namespace': namespace, 'labels': labels}
    annotations = dict(svc.get('annotations') or {})
    annotations.update(extra_annotations or {})
    if annotations:
        meta['annotations'] = annotations
    return meta


def _probe(probe: dict) -> dict:
    out = copy.deepcopy(probe)
    if 'httpGet' in out:
        out['httpGet'].setdefault('path', '/')
    return out


def _extra_container(extra: dict, svc: dict, sidecar: bool) -> dict:
    """One sidecar (a native one: restartPolicy Always) or init container of a service."""
    out = {'name': extra['name'], 'image': image_reference({'image': extra['image'], 'imageRegistry': svc.get('imageRegistry')})}
    for field in ('imagePullPolicy', 'command', 'args'):
        if field in extra:
            out[field] = extra[field]
    if sidecar:
        out['restartPolicy'] = 'Always'
    if extra.get('env'):
        out['env'] = [{'name': k, 'value': _str(v)} for k, v in sorted(extra['env'].items())]
    if extra.get('resources'):
        out['resources'] = {part: {k: _str(v) for k, v in amounts.items()} for part, amounts in extra['resources'].items()}
    if extra.get('mounts'):
        out['volumeMounts'] = [{'name': volume, 'mountPath': path} for volume, path in sorted(extra['mounts'].items())]
    return out


def render_service(svc: dict, set_name: str, default_namespace: str = 'default', secrets: dict | None = None,
                   pull_secret: str | None = None) -> list:
    """Every object of one (already validated) service, in apply order; with pull_secret, its pods pull their images with
    that Secret (imagePullSecrets, part of a Job's spec and so of its name)."""
    name = svc['name']
    namespace = svc.get('namespace') or default_namespace
    secrets = dict(svc.get('secrets') or {}, **(secrets or {}))
    config = svc.get('config') or {}
    ports = svc.get('ports') or []
    objects = []

    def add(kind: str, meta: dict, body: dict) -> None:
        obj = {'apiVersion': API_VERSIONS[kind], 'kind': kind, 'metadata': meta}
        obj.update(body)
        objects.append(obj)

    if svc.get('serviceAccount') and svc.get('createServiceAccount'):
        add('ServiceAccount', _meta(svc, set_name, namespace, svc['serviceAccount']), {})
    if config:
        add('ConfigMap', _meta(svc, set_name, namespace, name + '-config'), {'data': {k: _str(v) for k, v in sorted(config.items())}})
    if secrets:
        add('Secret', _meta(svc, set_name, namespace, name + '-secrets'), {
            'type': 'Opaque',
            'data': {k: base64.b64encode(_str(v).encode('utf-8')).decode('ascii') for k, v in sorted(secrets.items())}})

    for volume, settings in sorted((svc.get('volumes') or {}).items()):
        persistent = (settings or {}).get('persistent')
        if persistent:
            claim = {'accessModes': [persistent.get('accessMode', 'ReadWriteOnce')], 'resources': {'requests': {'storage': _str(persistent['size'])}}}
            if persistent.get('storageClass'):
                claim['storageClassName'] = persistent['storageClass']
            add('PersistentVolumeClaim', _meta(svc, set_name, namespace, '%s-%s' % (name, volume)), {'spec': claim})

    container = {'name': name, 'image': image_reference(svc)}
    for field in ('imagePullPolicy', 'command', 'args'):
        if field in svc:
            container[field] = svc[field]
    if svc.get('env'):
        container['env'] = [{'name': k, 'value': _str(v)} for k, v in sorted(svc['env'].items())]
    env_from = []
    if config:
        env_from.append({'configMapRef': {'name': name + '-config'}})
    if secrets:
        env_from.append({'secretRef': {'name': name + '-secrets'}})
    if env_from:
        container['envFrom'] = env_from
    if ports:
        container['ports'] = [{'name': port_name(p, i), 'containerPort': p.get('targetPort', p['port']), 'protocol': p.get('protocol', 'TCP')}
                              for i, p in enumerate(ports)]
    if svc.get('resources'):
        container['resources'] = {part: {k: _str(v) for k, v in amounts.items()} for part, amounts in svc['resources'].items()}
    if svc.get('liveness'):
        container['livenessProbe'] = _probe(svc['liveness'])
    if svc.get('readiness'):
        container['readinessProbe'] = _probe(svc['readiness'])
    if svc.get('startup'):
        container['startupProbe'] = _probe(svc['startup'])
    pod_spec = {'containers': [container]}
    pulls = ([pull_secret] if pull_secret else []) + [s for s in svc.get('imagePullSecrets') or [] if s != pull_secret]
    if pulls:
        pod_spec['imagePullSecrets'] = [{'name': s} for s in pulls]
    mounts, volumes = [], []
    if config and svc.get('configMountPath'):
        mounts.append({'name': 'config', 'mountPath': svc['configMountPath'], 'readOnly': True})
        volumes.append({'name': 'config', 'configMap': {'name': name + '-config'}})
    for volume, settings in sorted((svc.get('volumes') or {}).items()):
        settings = settings or {}
        if settings.get('persistent'):
            volumes.append({'name': volume, 'persistentVolumeClaim': {'claimName': '%s-%s' % (name, volume)}})
        else:
            empty_dir = {k: _str(settings[k]) for k in ('medium', 'sizeLimit') if k in settings}
            volumes.append({'name': volume, 'emptyDir': empty_dir})
        if settings.get('mountPath'):
            mounts.append({'name': volume, 'mountPath': settings['mountPath']})
    if mounts:
        container['volumeMounts'] = mounts
    if volumes:
        pod_spec['volumes'] = volumes
    # native sidecars first (they start before the init containers and run beside the service), then the init containers
    init = [_extra_container(c, svc, True) for c in svc.get('sidecars') or []] + [_extra_container(c, svc, False) for c in svc.get('initContainers') or []]
    if init:
        pod_spec['initContainers'] = init
    if svc.get('serviceAccount'):
        pod_spec['serviceAccountName'] = svc['serviceAccount']
    spread = svc.get('spread') or {}
    if spread.get('enabled', True):
        # counts only the pods of the same rollout (pod-template-hash), so a rolling update spreads its new pods too
        pod_spec['topologySpreadConstraints'] = [{
            'maxSkew': spread.get('maxSkew', 1), 'topologyKey': spread.get('topologyKey', 'kubernetes.io/hostname'),
            'whenUnsatisfiable': spread.get('whenUnsatisfiable', 'ScheduleAnyway'),
            'labelSelector': {'matchLabels': selector_labels(set_name, name)}, 'matchLabelKeys': ['pod-template-hash']}]
    for written in svc.get('topologySpread') or []:
        constraint = copy.deepcopy(written)
        constraint.setdefault('labelSelector', {'matchLabels': selector_labels(set_name, name)})
        pod_spec.setdefault('topologySpreadConstraints', []).append(constraint)
    if svc.get('affinity'):
        pod_spec['affinity'] = copy.deepcopy(svc['affinity'])
    if 'tolerationSeconds' in svc:
        pod_spec['tolerations'] = [{'key': key, 'operator': 'Exists', 'effect': 'NoExecute', 'tolerationSeconds': svc['tolerationSeconds']}
                                   for key in ('node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable')]

    pod_labels = dict(svc.get('labels') or {})
    pod_labels.update(ownership_labels(set_name, name))
    pod_annotations = dict(svc.get('podAnnotations') or {})
    if config or secrets:
        pod_annotations[CHECKSUM_ANNOTATION] = checksum(config, secrets)
    template_meta = {'labels': pod_labels}
    if pod_annotations:
        template_meta['annotations'] = pod_annotations
    if 'job' in svc or 'cronJob' in svc:
        pod_spec['restartPolicy'] = 'Never'
        pod_spec.pop('topologySpreadConstraints', None)
        add(*_run_once(svc, set_name, namespace, {'metadata': template_meta, 'spec': pod_spec}))
        return objects
    deploy_spec = {'selector': {'matchLabels': selector_labels(set_name, name)},
                   'template': {'metadata': template_meta, 'spec': pod_spec}}
    if not svc.get('autoscaling'):
        # With an HPA the replica count is the autoscaler's field: applying ours would fight it.
        deploy_spec['replicas'] = svc.get('replicas', 1)
    strategy = svc.get('strategy')
    if strategy:
        if {'type', 'maxSurge', 'maxUnavailable'} & set(strategy):
            deploy_spec['strategy'] = {'type': strategy.get('type', 'RollingUpdate')}
        rolling = {k: strategy[k] for k in ('maxSurge', 'maxUnavailable') if k in strategy}
        if rolling:
            deploy_spec['strategy']['rollingUpdate'] = rolling
        for field in ('minReadySeconds', 'progressDeadlineSeconds'):
            if field in strategy:
                deploy_spec[field] = strategy[field]
    add('Deployment', _meta(svc, set_name, namespace), {'spec': deploy_spec})

    if ports:
        service = svc.get('service') or {}
        stype = service.get('type', 'ClusterIP')
        spec = {'selector': selector_labels(set_name, name),
                'ports': []}
        for i, p in enumerate(ports):
            entry = {'name': port_name(p, i), 'port': p['port'], 'targetPort': p.get('targetPort', p['port']), 'protocol': p.get('protocol', 'TCP')}
            if 'nodePort' in p:
                entry['nodePort'] = p['nodePort']
            spec['ports'].append(entry)
        if stype == 'Headless':
            spec['type'] = 'ClusterIP'
            spec['clusterIP'] = 'None'
        else:
            spec['type'] = stype
        add('Service', _meta(svc, set_name, namespace, extra_annotations=service.get('annotations')), {'spec': spec})

    autoscaling = svc.get('autoscaling')
    if autoscaling:
        hpa_spec = {
            'scaleTargetRef': {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': name},
            'minReplicas': autoscaling.get('min', 1), 'maxReplicas': autoscaling['max'],
            'metrics': [{'type': 'Resource', 'resource': {'name': 'cpu', 'target': {
                'type': 'Utilization', 'averageUtilization': autoscaling.get('cpu', 80)}}}]}
        if 'scaleDownSeconds' in autoscaling:
            hpa_spec['behavior'] = {'scaleDown': {'stabilizationWindowSeconds': autoscaling['scaleDownSeconds']}}
        add('HorizontalPodAutoscaler', _meta(svc, set_name, namespace), {'spec': hpa_spec})
    if svc.get('pdb'):
        add('PodDisruptionBudget', _meta(svc, set_name, namespace), {'spec': dict(
            svc['pdb'], selector={'matchLabels': selector_labels(set_name, name)})})
    ingress = svc.get('ingress')
    if ingress and ports:
        port = ingress.get('port', port_name(ports[0], 0))
        if isinstance(port, int):
            backend_port = {'number': port}
        else:
            backend_port = {'name': port}
        spec = {'rules': [{'host': ingress['host'], 'http': {'paths': [{
            'path': ingress.get('path', '/'), 'pathType': ingress.get('pathType', 'Prefix'),
            'backend': {'service': {'name': name, 'port': backend_port}}}]}}]}
        if ingress.get('className'):
            spec['ingressClassName'] = ingress['className']
        if ingress.get('tlsSecret'):
            spec['tls'] = [{'hosts': [ingress['host']], 'secretName': ingress['tlsSecret']}]
        add('Ingress', _meta(svc, set_name, namespace, extra_annotations=ingress.get('annotations')), {'spec': spec})
    return objects


def job_name(name: str, spec: dict) -> str:
    """<name>-<JOB_HASH_DIGITS hex digits of the Job's spec>: a changed spec (or config or secrets) is a new Job."""
    text = json.dumps(spec, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    return '%s-%s' % (name, hashlib.sha256(text.encode('utf-8')).hexdigest()[:JOB_HASH_DIGITS])


def _run_once(svc: dict, set_name: str, namespace: str, template: dict) -> tuple:
    """(kind, metadata, body) of the Job or CronJob of a job or cronJob entry, around its pod template."""
    if 'job' in svc:
        job = svc.get('job') or {}
        spec = {'backoffLimit': job.get('backoffLimit', 0), 'template': template}
        if 'activeDeadlineSeconds' in job:
            spec['activeDeadlineSeconds'] = job['activeDeadlineSeconds']
        return 'Job', _meta(svc, set_name, namespace, job_name(svc['name'], spec)), {'spec': spec}
    cron = svc['cronJob']
    job_spec = {'template': template}
    for field in ('backoffLimit', 'activeDeadlineSeconds'):
        if field in cron:
            job_spec[field] = cron[field]
    spec = {k: cron[k] for k in ('schedule', 'timeZone', 'concurrencyPolicy', 'suspend', 'startingDeadlineSeconds',
                                 'successfulJobsHistoryLimit', 'failedJobsHistoryLimit') if k in cron}
    # no set labels on the Jobs the controller makes from it: they are the controller's, not this set's (never pruned by us)
    spec['jobTemplate'] = {'spec': job_spec}
    return 'CronJob', _meta(svc, set_name, namespace), {'spec': spec}


def registry_secret_name(set_name: str) -> str:
    """The Secret (type kubernetes.io/dockerconfigjson) of a set's registry credentials, in each namespace of its pods."""
    return set_name + '-registry-credentials'


def docker_config(credentials: dict) -> str:
    """The .dockerconfigjson value (base64) of validated registry credentials {registry: {username, password}}."""
    auths = {}
    for registry, entry in sorted(credentials.items()):
        pair = '%s:%s' % (entry['username'], entry['password'])
        auths[registry] = {'username': entry['username'], 'password': entry['password'],
                           'auth': base64.b64encode(pair.encode('utf-8')).decode('ascii')}
    text = json.dumps({'auths': auths}, sort_keys=True, separators=(',', ':'))
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def registry_hidden_values(credentials: object) -> set:
    """Every form of the registry passwords that could reach an output: each password (and any other value of an entry but
    its username, which is a name, hidden nowhere else either), each user:password in base64, and the whole Secret value."""
    hidden = set()
    if not isinstance(credentials, dict):
        return hidden
    for entry in credentials.values():
        if isinstance(entry, dict):
            for field, value in entry.items():
                if field != 'username' and isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value):
                    hidden.add(str(value))
            if isinstance(entry.get('username'), str) and isinstance(entry.get('password'), str):
                hidden.add(base64.b64encode(('%s:%s' % (entry['username'], entry['password'])).encode('utf-8')).decode('ascii'))
    if not registry_problems(credentials):
        hidden.add(docker_config(credentials))
    return hidden


def registry_usernames(credentials: object) -> set:
    """The usernames of registry credentials (names, shown like any name: not hidden unless also a secret value)."""
    if not isinstance(credentials, dict):
        return set()
    return {entry['username'] for entry in credentials.values()
            if isinstance(entry, dict) and isinstance(entry.get('username'), str) and entry['username']}


def no_log_leaves(value: object) -> set:
    """Every scalar value inside value, as a string (what Ansible hides of a no_log option)."""
    if isinstance(value, dict):
        return set().union(*(no_log_leaves(item) for item in value.values())) if value else set()
    if isinstance(value, (list, tuple, set)):
        return set().union(*(no_log_leaves(item) for item in value)) if value else set()
    if value is None or isinstance(value, bool) or str(value) == '':
        return set()
    return {str(value)}


REGISTRY_ROOT = 'kubeseed_microservices_registry_credentials'
_REGISTRY = re.compile(r'^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$')


def registry_problems(credentials: object) -> list:
    """What is wrong with registry credentials, each with its path; never a username or password value."""
    if credentials is None or credentials == {}:
        return []
    if not isinstance(credentials, dict):
        return ['%s: expected a mapping of registry: {username, password}, got %s' % (REGISTRY_ROOT, type_name(credentials))]
    problems = []
    for registry, entry in credentials.items():
        where = '%s.%s' % (REGISTRY_ROOT, registry)
        if not isinstance(registry, str) or not _REGISTRY.match(registry):
            problems.append('%s: %s is not a registry host (use the host of the images, with its port if any, such as '
                            'registry.example.com or registry.example.com:5000; no scheme, no path)' % (REGISTRY_ROOT, show(registry)))
            continue
        if not isinstance(entry, dict):
            problems.append('%s: expected a mapping {username, password}, got %s' % (where, type_name(entry)))
            continue
        for field in sorted(set(entry) - {'username', 'password'}):
            problems.append('%s: %s is not a known setting (username, password)' % (where, show(field)))
        for field in ('username', 'password'):
            if not isinstance(entry.get(field), str) or not entry.get(field):
                problems.append('%s.%s: a non-empty string is required%s' % (where, field, ' (its value is not shown)' if field in entry else ''))
    return problems


def render_all(services: list, set_name: str, default_namespace: str = 'default', secrets: dict | None = None,
               create_namespaces: bool = True, registry_credentials: dict | None = None) -> list:
    """Every object of every service (plus their namespaces when asked), sorted in apply order. With registry credentials,
    one Secret of them per namespace that has pods of the set, which those pods pull their images with."""
    secrets = secrets or {}
    pull_secret = registry_secret_name(set_name) if registry_credentials else None
    objects = []
    for svc in services:
        objects.extend(render_service(svc, set_name, default_namespace, secrets.get(svc['name']), pull_secret))
    if pull_secret:
        value = docker_config(registry_credentials)
        for namespace in sorted(set(o['metadata']['namespace'] for o in objects if o['kind'] in ('Deployment', 'Job', 'CronJob'))):
            objects.append({'apiVersion': 'v1', 'kind': 'Secret', 'type': 'kubernetes.io/dockerconfigjson',
                            'metadata': {'name': pull_secret, 'namespace': namespace, 'labels': ownership_labels(set_name, pull_secret)},
                            'data': {'.dockerconfigjson': value}})
    if create_namespaces:
        for namespace in sorted(set(o['metadata']['namespace'] for o in objects) | set([default_namespace] if services else [])):
            objects.append({'apiVersion': 'v1', 'kind': 'Namespace',
                            'metadata': {'name': namespace, 'labels': {MANAGED_BY: MANAGER_VALUE}}})
    return sorted(objects, key=lambda o: (KIND_ORDER.index(o['kind']), object_key(o)))


# ---------------------------------------------------------------- prune ----

def is_ours(obj: dict, set_name: str, field_manager: str = 'kubeseed') -> bool:
    """True only for an object we created for this set: both ownership labels AND our field manager applied it.

    Labels alone are not proof (anyone can copy them); managedFields record who applied what.
    """
    meta = obj.get('metadata') or {}
    labels = meta.get('labels') or {}
    if labels.get(MANAGED_BY) != MANAGER_VALUE or labels.get(SET_LABEL) != set_name:
        return False
    return any(entry.get('manager') == field_manager and entry.get('operation') == 'Apply'
               for entry in meta.get('managedFields') or [])


def select_kept(live: list, desired_keys: set, set_name: str, field_manager: str = 'kubeseed') -> list:
    """The keys of the live objects a prune would delete but keeps (KEPT_KINDS: a claim and its data), sorted."""
    return sorted(object_key(obj) for obj in live if object_key(obj)[0] in KEPT_KINDS and object_key(obj) not in desired_keys
                  and is_ours(obj, set_name, field_manager) and not (obj.get('metadata') or {}).get('deletionTimestamp'))


def select_prune(live: list, desired_keys: set, set_name: str, field_manager: str = 'kubeseed', extra_kinds: tuple | list = ()) -> list:
    """The live objects to delete: ours (see is_ours), of a prunable kind (or a kind of the set's extra objects), no longer desired.

    In reverse apply order: the extra objects' kinds (applied last) first.
    """
    doomed = []
    for obj in live:
        key = object_key(obj)
        if (key[0] in PRUNABLE_KINDS or key[0] in extra_kinds) and key[0] not in KEPT_KINDS and key not in desired_keys \
                and is_ours(obj, set_name, field_manager) and not (obj.get('metadata') or {}).get('deletionTimestamp'):
            doomed.append(obj)
    order = list(KIND_ORDER)
    return sorted(doomed, key=lambda o: (-(order.index(o['kind']) if o['kind'] in order else len(order)), object_key(o)))
