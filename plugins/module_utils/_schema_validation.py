# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON Schema validation that reports every violation at once, each naming its path.

Every message reads ``path: what is wrong (what is expected)``, e.g.
``kubeseed_pod_subnet: '10.244.0.0/33' is not a valid CIDR (e.g. 10.244.0.0/16)`` or
``kubeseed_microservices[2].ports[0].port: 70000 is greater than the maximum of 65535``.

Messages name types plainly (string, integer, number, boolean, list, mapping, null), never
print a mapping or a list whole, cut long strings, and print ``<hidden>`` instead of any
value found under a key named in ``hidden_keys`` (Secret data).

A ``pattern`` or ``format`` must hold for the whole string: a value with a trailing newline,
a NUL, a tab or an invisible character (U+200B, U+FEFF, U+00A0 ...) is refused even where
Python's ``re.search`` would match it (``$`` matches before a final newline).
"""
from __future__ import annotations

import datetime
import difflib
import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from urllib.parse import urlsplit

try:
    import jsonschema
    from jsonschema.exceptions import FormatError, ValidationError
    HAS_JSONSCHEMA = True
    JSONSCHEMA_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised only without the library
    HAS_JSONSCHEMA = False
    JSONSCHEMA_IMPORT_ERROR = exc

_IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')

URL_SCHEMES = ('http', 'https', 'file')

HIDDEN = '<hidden>'
MAX_VALUE_CHARS = 60

FORMAT_DESCRIPTIONS = {
    'cidr': 'a valid CIDR (e.g. 10.244.0.0/16)',
    'url': 'a valid http://, https:// or file:// URL',
    'optional-url': 'a valid http://, https:// or file:// URL (or empty)',
    'optional-ip': 'a valid IPv4 or IPv6 address (or empty)',
    'ip-address': 'a valid IPv4 or IPv6 address',
}

_CHAR_NAMES = {
    '\n': 'a newline',
    '\r': 'a carriage return',
    '\t': 'a tab',
    '\x00': 'a NUL character',
    '\u00a0': 'a no-break space U+00A0',
}
# Unicode categories that print as nothing (or as blank) and never belong in a name, version or address.
_INVISIBLE_CATEGORIES = frozenset(('Cc', 'Cf', 'Cs', 'Co', 'Cn', 'Zl', 'Zp', 'Zs'))


# ---------------------------------------------------------------- formats ----

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
        try:
            return bool(parts.hostname) and (parts.port is None or 0 < parts.port)
        except ValueError:  # a port that is not a number or above 65535
            return False
    if parts.scheme == 'file':
        return parts.path.startswith('/')
    return False


def suggest(name: str, known) -> str:
    """The known name closest to a misspelt one ('' when none is close): among the close ones, the one sharing most words."""
    known = [k for k in known if isinstance(k, str)]
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    if not close:
        return ''
    words = set(re.split(r'[_.-]', name))
    return max(close, key=lambda k: (len(words & set(re.split(r'[_.-]', k))), -close.index(k)))


def _checker() -> object:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks('cidr')(is_cidr)
    checker.checks('ip-address')(is_ip)
    checker.checks('url')(is_url)
    checker.checks('optional-url')(lambda v: v == '' or is_url(v))
    checker.checks('optional-ip')(lambda v: v == '' or is_ip(v))
    return checker


# ---------------------------------------------------------------- plain words for values ----

def type_name(value: object) -> str:
    """The plain name of a value's type: string, integer, number, boolean, list, mapping or null.

    Subclasses (ansible-core's tagged str/dict/list) get the name of what they behave as.
    """
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'integer'
    if isinstance(value, float):
        return 'number'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, Mapping):
        return 'mapping'
    if isinstance(value, (list, tuple, set, frozenset)):
        return 'list'
    if isinstance(value, datetime.datetime):
        return 'date and time'
    if isinstance(value, datetime.date):
        return 'date'
    if isinstance(value, (bytes, bytearray)):
        return 'binary value'
    return 'value of an unsupported type'


def _article(word: str) -> str:
    return 'an' if word[:1] in 'aeiou' else 'a'


def _short(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """repr() of a string, cut to about limit characters."""
    text = str.__str__(text)
    if len(text) > limit:
        return str.__repr__(text[:limit - 3]) + '...'
    return str.__repr__(text)


def show(value: object, hidden: bool = False) -> str:
    """A short, safe rendering of a value for a message.

    Scalars as the user wrote them (strings quoted and cut), containers by their type and keys or size,
    ``<hidden>`` when the value must not be printed.
    """
    if hidden:
        return HIDDEN
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, str):
        return _short(value)
    if isinstance(value, Mapping):
        if not value:
            return 'an empty mapping'
        keys = [str(k) if isinstance(k, str) else show(k) for k in list(value)[:5]]
        keys = [k if len(k) <= 30 else k[:27] + '...' for k in keys]
        more = ', ...' if len(value) > 5 else ''
        return 'a mapping with keys %s%s' % (', '.join(keys), more)
    if isinstance(value, (list, tuple, set, frozenset)):
        if not value:
            return 'an empty list'
        return 'a list of %d item%s' % (len(value), '' if len(value) == 1 else 's')
    if isinstance(value, datetime.date):
        return value.isoformat()
    return _article(type_name(value)) + ' ' + type_name(value)


def _subject(value: object, hidden: bool) -> str:
    """'<value>' for scalars, '' for containers (their type says enough); used as '<subject> is ...'."""
    if hidden or not isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return show(value, hidden) + ' '
    return ''


def string_problem(value: object) -> str:
    """'' when value is not a string or holds no control or invisible character; else what is wrong.

    e.g. 'ends with a newline', 'contains an invisible character U+200B', 'starts with a no-break space U+00A0'.
    """
    if not isinstance(value, str):
        return ''
    for index, char in enumerate(value):
        if char == ' ' or unicodedata.category(char) not in _INVISIBLE_CATEGORIES:
            continue
        name = _CHAR_NAMES.get(char) or ('an invisible character U+%04X' % ord(char))
        if index == len(value) - 1:
            where = 'ends with'
        elif index == 0:
            where = 'starts with'
        else:
            where = 'contains'
        return '%s %s' % (where, name)
    return ''


def space_problem(value: object) -> str:
    """'starts with a space' / 'ends with a space' for strings with leading or trailing blanks, else ''."""
    if not isinstance(value, str) or not value:
        return ''
    if value[-1] == ' ':
        return 'ends with a space'
    if value[0] == ' ':
        return 'starts with a space'
    return ''


# ---------------------------------------------------------------- paths ----

def format_path(root: str, path) -> str:
    """Render a jsonschema error path as ``root[2].ports[0].port`` / ``root['docker.io']``."""
    out = root
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += '[%d]' % part
        elif isinstance(part, str) and _IDENTIFIER.fullmatch(part) and len(part) <= MAX_VALUE_CHARS:
            out += ('.' if out else '') + str.__str__(part)
        elif isinstance(part, str):
            out += '[%s]' % _short(part)
        else:
            out += '[%s]' % show(part)
    return out


def _is_hidden(path, hidden_keys) -> bool:
    return bool(hidden_keys) and any(isinstance(part, str) and part in hidden_keys for part in path)


# ---------------------------------------------------------------- whole-string pattern and format ----

def _whole_string_pattern(validator, pattern, instance, _schema):
    """JSON Schema 'pattern', refusing strings with control or invisible characters that re.search would let through."""
    if not validator.is_type(instance, 'string'):
        return
    if not re.search(pattern, instance) or string_problem(instance):
        yield ValidationError('does not match %s' % pattern)


def _whole_string_format(validator, fmt, instance, _schema):
    """JSON Schema 'format' for strings (a value of another type gets its type error only), with the same whole-string rule."""
    if validator.format_checker is None or not validator.is_type(instance, 'string'):
        return
    if string_problem(instance):
        yield ValidationError('is not %s' % fmt)
        return
    try:
        validator.format_checker.check(instance, fmt)
    except FormatError:
        yield ValidationError('is not %s' % fmt)


def _validator_class(schema: dict):
    base = jsonschema.validators.validator_for(schema)
    return jsonschema.validators.extend(base, {'pattern': _whole_string_pattern, 'format': _whole_string_format})


# ---------------------------------------------------------------- messages ----

def _expected_types(expected) -> str:
    names = expected if isinstance(expected, list) else [expected]
    names = [{'object': 'mapping', 'array': 'list'}.get(name, name) for name in names]
    return '%s %s' % (_article(names[0]), ' or '.join(names))


def _alternatives_hint(error) -> str:
    """What a oneOf/anyOf expects, from the alternatives whose type the value has (or the types they accept)."""
    alternatives = error.validator_value if isinstance(error.validator_value, list) else []
    if alternatives and all(isinstance(a, dict) and set(a) == {'required'} for a in alternatives):
        keys = [k for a in alternatives for k in a['required']]
        return 'set exactly one of %s' % ', '.join(keys)
    hints = []
    types = []
    for alternative in alternatives:
        if not isinstance(alternative, dict):
            continue
        wanted = alternative.get('type')
        if wanted:
            types.extend(wanted if isinstance(wanted, list) else [wanted])
        if alternative.get('x-hint') and isinstance(error.instance, str) and wanted in ('string', None):
            hints.append(alternative['x-hint'])
    if hints:
        return '; '.join(hints)
    if types:
        return 'expected %s' % _expected_types(list(dict.fromkeys(types)))
    return 'see the documentation of this setting'


def _describe(error, known: list[str], hidden: bool = False) -> str:
    """A one-line, fix-oriented message for one jsonschema error (without its path)."""
    validator = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    what = _subject(value, hidden)
    in_key = 'propertyNames' in list(error.relative_schema_path)
    if in_key:  # the value is a key of the mapping at the path: names are not secret
        what = show(value) + ' '
    if validator in ('format', 'pattern') and string_problem(value):
        hint = schema.get('x-hint') or ('expected ' + FORMAT_DESCRIPTIONS[error.validator_value]
                                        if validator == 'format' and error.validator_value in FORMAT_DESCRIPTIONS else '')
        return '%s%s (remove it%s)' % (what, string_problem(value), '; ' + hint if hint else '')
    if validator == 'format':
        described = FORMAT_DESCRIPTIONS.get(error.validator_value, 'a valid ' + str(error.validator_value))
        if error.validator_value == 'cidr' and not hidden and isinstance(value, str) and '/' in value:
            try:
                network = ipaddress.ip_network(value, strict=False)
            except ValueError:
                network = None
            if network is not None:
                return '%sis not a valid CIDR (host bits are set; did you mean %s?)' % (what, network)
        return '%sis not %s' % (what, described)
    if validator == 'pattern':
        hint = schema.get('x-hint')
        blank = space_problem(value)
        if blank:
            return '%s%s (remove it%s)' % (what, blank, '; ' + hint if hint else '')
        if hint:
            return '%sis not valid (%s)' % (what, hint)
        return '%sis not valid (expected a string matching %s)' % (what, _short(error.validator_value, 120)[1:-1])
    if validator == 'enum':
        choices = ', '.join(show(v) if not isinstance(v, str) else str(v) for v in error.validator_value)
        return '%sis not one of: %s' % (what, choices)
    if validator == 'const':
        return '%sis not allowed here (expected %s)' % (what, show(error.validator_value))
    if validator == 'type':
        if value is None and not hidden:
            return 'is null (empty in YAML), expected %s' % _expected_types(error.validator_value)
        fix = ''
        if not hidden and error.validator_value == 'string' and isinstance(value, (bool, int, float)):
            fix = ' (put it in quotes so YAML keeps it as written)'
        elif not hidden and error.validator_value == 'array' and isinstance(value, str):
            fix = " (write a list: in YAML [a, b] or one '- item' per line; in an INI inventory ['a', 'b'])"
        return '%sis %s %s, expected %s%s' % (what, _article(type_name(value)), type_name(value), _expected_types(error.validator_value), fix)
    if validator == 'additionalProperties' and isinstance(value, Mapping):
        allowed = list(schema.get('properties', {}))
        patterns = [re.compile(p) for p in schema.get('patternProperties', {})]
        extras = sorted((k for k in value if k not in allowed and not any(isinstance(k, str) and p.search(k) for p in patterns)),
                        key=str)
        notes = []
        for extra in extras:
            match = suggest(extra, allowed or known) if isinstance(extra, str) else ''
            notes.append('%s is not a known setting%s' % (show(extra), '; did you mean %r?' % match if match else ''))
        if not notes:
            return 'has keys that are not allowed here'
        if allowed and len(allowed) <= 12:
            listed = '%s (known: %s)' % ('; '.join(notes), ', '.join(allowed))
            if len(listed) <= 240:  # several unknown keys: their notes alone (each has its suggestion)
                return listed
        return '; '.join(notes)
    if validator == 'required':  # jsonschema's message names the missing property (from the schema), never the value
        return error.message
    if validator in ('minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'):
        words = {'minimum': 'less than the minimum of', 'maximum': 'greater than the maximum of',
                 'exclusiveMinimum': 'less than or equal to the minimum of', 'exclusiveMaximum': 'greater than or equal to the maximum of'}
        return '%sis %s %s' % (what, words[validator], show(error.validator_value))
    if validator == 'multipleOf':
        return '%sis not a multiple of %s' % (what, show(error.validator_value))
    if validator == 'minLength':
        if value == '' and error.validator_value == 1:
            return "'' should be non-empty (expected a non-empty string)"
        return '%sis too short (%d characters, expected at least %d)' % (what, len(value), error.validator_value)
    if validator == 'maxLength':
        return '%sis too long (%d characters, expected at most %d)' % (what, len(value), error.validator_value)
    if validator == 'minItems':
        if not value:
            return 'is an empty list, should be non-empty (expected at least %d item%s)' % (
                error.validator_value, '' if error.validator_value == 1 else 's')
        return 'has %d items (expected at least %d)' % (len(value), error.validator_value)
    if validator == 'maxItems':
        return 'has %d items (expected at most %d)' % (len(value), error.validator_value)
    if validator == 'minProperties':
        return 'has %d keys (expected at least %d)' % (len(value), error.validator_value)
    if validator == 'maxProperties':
        return 'has %d keys (expected at most %d)' % (len(value), error.validator_value)
    if validator == 'uniqueItems':
        return 'has duplicate items (expected each item once)'
    if validator in ('oneOf', 'anyOf'):
        if validator == 'oneOf' and not error.context:  # more than one alternative matched
            present = [k for a in error.validator_value if isinstance(a, dict) and set(a) == {'required'} for k in a['required']
                       if isinstance(value, Mapping) and k in value]
            return '%sis valid under each of the alternatives (%s)' % (
                what, 'set only one of ' + ', '.join(present) if present else 'make it match exactly one')
        return '%sis not valid under any of the given schemas (%s)' % (what, _alternatives_hint(error))
    if validator == 'not':
        return '%sis not allowed here' % what
    if validator in ('dependentRequired', 'dependencies'):
        return error.message if isinstance(error.message, str) and len(error.message) < 200 else 'a required companion setting is missing'
    if validator in ('items', 'prefixItems', 'unevaluatedItems'):
        return 'has more items than allowed'
    if validator == 'unevaluatedProperties':
        return 'has keys that are not allowed here'
    if validator == 'contains':
        return 'has no item of the expected kind'
    return 'is not valid (%s)' % validator


def validate(schema: dict, data: object, root: str = '', hidden_keys=()) -> list[str]:
    """Validate data against schema; return every violation as 'path: message', sorted by path.

    root: prefix of every path (e.g. 'kubeseed_microservices' when data is the list itself).
    hidden_keys: names of mapping keys whose values must never be printed (e.g. ('secrets',)): a
    violation at or below such a key shows ``<hidden>`` instead of the value.
    """
    if not HAS_JSONSCHEMA:
        raise RuntimeError('the jsonschema Python library is required on the controller: %s' % JSONSCHEMA_IMPORT_ERROR)
    hidden_keys = frozenset(hidden_keys or ())
    validator = _validator_class(schema)(schema, format_checker=_checker())
    known = list(schema.get('properties', {}))
    messages = []
    for error in validator.iter_errors(data):
        path = list(error.absolute_path)
        if error.validator == 'additionalProperties' and not path and isinstance(error.instance, Mapping):
            # Unknown top-level keys: report each under its own name so the path is the variable.
            allowed = list(schema.get('properties', {}))
            patterns = [re.compile(p) for p in schema.get('patternProperties', {})]
            extras = [k for k in error.instance if k not in allowed and not any(isinstance(k, str) and p.search(k) for p in patterns)]
            for extra in sorted(extras, key=str):
                match = suggest(extra, allowed) if isinstance(extra, str) else ''
                name = str.__str__(extra) if isinstance(extra, str) and not string_problem(extra) and not root else format_path(root, [extra])
                messages.append('%s: unknown variable%s' % (name, '; did you mean %s?' % match if match else ''))
            continue
        where = format_path(root, path) or '(top level)'
        messages.append('%s: %s' % (where, _describe(error, known, _is_hidden(path, hidden_keys))))
    return sorted(set(messages))
