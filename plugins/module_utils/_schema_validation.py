# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON Schema validation that reports every violation at once, each naming its path.

Messages look like ``kubeseed_pod_subnet: '10.244.0.0/33' is not a valid CIDR (e.g. 10.244.0.0/16)``
or ``microservices[2].ports[0].port: 70000 is greater than the maximum of 65535``.
"""
from __future__ import annotations

import difflib
import ipaddress
import re
from urllib.parse import urlsplit

try:
    import jsonschema
    HAS_JSONSCHEMA = True
    JSONSCHEMA_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised only without the library
    HAS_JSONSCHEMA = False
    JSONSCHEMA_IMPORT_ERROR = exc

_IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')

URL_SCHEMES = ('http', 'https', 'file')

FORMAT_DESCRIPTIONS = {
    'cidr': 'a valid CIDR (e.g. 10.244.0.0/16)',
    'url': 'a valid http://, https:// or file:// URL',
    'optional-url': 'a valid http://, https:// or file:// URL (or empty)',
    'optional-ip': 'a valid IPv4 or IPv6 address (or empty)',
    'ip-address': 'a valid IPv4 or IPv6 address',
}


def is_cidr(value: object) -> bool:
    """True for a network in CIDR notation whose host bits are zero (10.244.0.0/16, fd00::/64)."""
    if not isinstance(value, str) or '/' not in value:
        return False
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return True


def is_ip(value: object) -> bool:
    """True for a single IPv4 or IPv6 address."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_url(value: object) -> bool:
    """True for an http(s) URL with a host, or a file URL with an absolute path."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    if parts.scheme in ('http', 'https'):
        return bool(parts.hostname)
    if parts.scheme == 'file':
        return parts.path.startswith('/')
    return False


def _checker() -> object:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks('cidr')(is_cidr)
    checker.checks('ip-address')(is_ip)
    checker.checks('url')(is_url)
    checker.checks('optional-url')(lambda v: v == '' or is_url(v))
    checker.checks('optional-ip')(lambda v: v == '' or is_ip(v))
    return checker


def format_path(root: str, path) -> str:
    """Render a jsonschema error path as ``root[2].ports[0].port`` / ``root['docker.io']``."""
    out = root
    for part in path:
        if isinstance(part, int):
            out += '[%d]' % part
        elif _IDENTIFIER.match(part):
            out += ('.' if out else '') + part
        else:
            out += '[%r]' % part
    return out


def _type_name(value: object) -> str:
    names = {bool: 'boolean', int: 'integer', float: 'number', str: 'string', list: 'list', dict: 'mapping', type(None): 'null'}
    return names.get(type(value), type(value).__name__)


def _describe(error, known: list[str]) -> str:
    """A one-line, fix-oriented message for one jsonschema error (without its path)."""
    validator = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    if validator == 'format':
        return '%r is not %s' % (value, FORMAT_DESCRIPTIONS.get(error.validator_value, 'a valid ' + str(error.validator_value)))
    if validator == 'pattern':
        hint = schema.get('x-hint')
        return '%r is not valid: %s' % (value, hint) if hint else '%r does not match %s' % (value, error.validator_value)
    if validator == 'enum':
        return '%r is not one of: %s' % (value, ', '.join(str(v) for v in error.validator_value))
    if validator == 'type':
        expected = error.validator_value
        expected = ' or '.join(expected) if isinstance(expected, list) else expected
        wanted = {'object': 'mapping', 'array': 'list'}.get(expected, expected)
        article = 'an' if wanted[:1] in 'aeiou' else 'a'
        return '%r is a %s, expected %s %s' % (value, _type_name(value), article, wanted)
    if validator == 'additionalProperties' and isinstance(value, dict):
        allowed = list(schema.get('properties', {}))
        extras = sorted(set(value) - set(allowed))
        notes = []
        for extra in extras:
            match = difflib.get_close_matches(extra, allowed or known, n=1)
            notes.append('%r is not a known setting%s' % (extra, '; did you mean %r?' % match[0] if match else ''))
        return '; '.join(notes) if notes else error.message
    if validator == 'propertyNames':
        return '%r is not a valid key here' % (value,)
    return error.message


def validate(schema: dict, data: object, root: str = '') -> list[str]:
    """Validate data against schema; return every violation as 'path: message', sorted by path."""
    if not HAS_JSONSCHEMA:
        raise RuntimeError('the jsonschema Python library is required on the controller: %s' % JSONSCHEMA_IMPORT_ERROR)
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema, format_checker=_checker())
    known = list(schema.get('properties', {}))
    messages = []
    for error in validator.iter_errors(data):
        path = list(error.absolute_path)
        if error.validator == 'additionalProperties' and not path and isinstance(error.instance, dict):
            # Unknown top-level keys: report each under its own name so the path is the variable.
            allowed = list(schema.get('properties', {}))
            patterns = [re.compile(p) for p in schema.get('patternProperties', {})]
            extras = [k for k in error.instance if k not in allowed and not any(p.search(k) for p in patterns)]
            for extra in sorted(extras):
                match = difflib.get_close_matches(extra, allowed, n=1)
                messages.append('%s: unknown variable%s' % (
                    format_path(root, [extra]), '; did you mean %s?' % match[0] if match else ''))
            continue
        messages.append('%s: %s' % (format_path(root, path) or '(top level)', _describe(error, known)))
    return sorted(set(messages))
