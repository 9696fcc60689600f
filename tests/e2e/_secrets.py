# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leak checks for test output: every form a bootstrap token or a certificate key can take.

An oracle independent of the collection's redaction code (standard library only), used by e2e tests on playbook
output and by the unit tests of the kubeadm modules:

    secret_forms(value)                   -> list[str]: raw, base64 (standard and urlsafe, padded or not, and at any
                                            alignment inside a longer base64 text), and for a bootstrap token the same
                                            for its secret half (the part after the dot; the id is not secret)
    assert_no_secret(text, secrets, where) -> None, or AssertionError naming the secret's index and kind, the form found
                                            and the line number, never the secret itself

Contexts such as `--token X`, `--certificate-key X`, `token: X` or `certificateKey: X` contain the raw value, and base64
of any of them contains one of the aligned base64 forms, so every such form is covered.
"""
from __future__ import annotations

import base64
import re

TOKEN = re.compile(r'([a-z0-9]{6})\.([a-z0-9]{16})')
CERTIFICATE_KEY = re.compile(r'[a-f0-9]{64}')


def _aligned_base64(data: bytes, offset: int, urlsafe: bool) -> str:
    """The part of base64(prefix + data + suffix) fixed by data alone, for any prefix of length = offset (mod 3)."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    encoded = encode(b'\0' * offset + data).decode('ascii')
    start = -(-offset * 8 // 6)              # skip the characters that hold bits of the prefix
    end = (offset + len(data)) * 8 // 6      # drop the last character when it holds bits of the suffix
    return encoded[start:end]


def _forms_of(value: str, label: str) -> list:
    data = value.encode('utf-8')
    forms = [(label, value)]
    for urlsafe, name in ((False, 'base64'), (True, 'urlsafe base64')):
        encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode('ascii')
        forms.append(('%s of the %s' % (name, label), encoded))
        forms.append(('%s without padding of the %s' % (name, label), encoded.rstrip('=')))
        for offset in range(3):
            forms.append(('%s of the %s inside a longer text (alignment %d)' % (name, label, offset),
                          _aligned_base64(data, offset, urlsafe)))
    return forms


def kind(value: str) -> str:
    if TOKEN.fullmatch(value):
        return 'bootstrap token'
    if CERTIFICATE_KEY.fullmatch(value):
        return 'certificate key'
    return 'secret'


def named_secret_forms(value: str) -> list:
    """[(name of the form, form)], most specific first, without duplicates."""
    forms = _forms_of(value, 'raw value')
    token = TOKEN.fullmatch(value)
    if token:
        forms += _forms_of(token.group(2), 'token secret half')
    seen, unique = set(), []
    for name, form in forms:
        if form and form not in seen:
            seen.add(form)
            unique.append((name, form))
    return unique


def secret_forms(value: str) -> list:
    """Every string whose presence in an output means the secret leaked."""
    return [form for _name, form in named_secret_forms(value)]


def _line(text: str, position: int) -> int:
    return text.count('\n', 0, position) + 1


def find_secret(text: str, secrets) -> str | None:
    """A description of the first leak (secret index and kind, form, line), or None. Never the secret itself."""
    # base64 wrapped over several lines (base64(1) wraps at 76) is searched with whitespace removed too
    positions = [i for i, char in enumerate(text) if not char.isspace()]
    compact = ''.join(text[i] for i in positions)
    for index, secret in enumerate(secrets):
        if not secret:
            continue
        for name, form in named_secret_forms(str(secret)):
            where = text.find(form)
            if where < 0 and name != 'raw value':
                found = compact.find(form)
                where = positions[found] if found >= 0 else -1
            if where >= 0:
                return 'secret #%d (%s) found as the %s on line %d' % (index, kind(str(secret)), name, _line(text, where))
    return None


def assert_no_secret(text: str, secrets, where: str) -> None:
    """Fail when any form of any of the secrets is in text; the message names the form and the line, not the secret."""
    # pytest shows neither this frame nor its locals in a failure report
    __tracebackhide__ = True  # pylint: disable=unused-variable
    found = find_secret(text or '', list(secrets))
    if found:
        raise AssertionError('%s: %s' % (where, found)) from None


if __name__ == '__main__':  # a self-test: python tests/e2e/_secrets.py
    _token, _key = 'abcdef.0123456789abcdef', '0f' * 32
    for _secret, _context in ((_token, '--token %s'), (_token, 'token: %s'), (_key, '--certificate-key %s'),
                              (_key, 'certificateKey: %s')):
        for _prefix in ('', 'x', 'xy'):
            _blob = base64.b64encode((_prefix + _context % _secret + '\n').encode()).decode()
            assert find_secret('ok\n' + _blob, [_secret]), (_context, _prefix)
        assert 'line 2' in find_secret('ok\n' + _context % _secret, [_secret])
    assert find_secret('token: <redacted> abcdef', [_token, _key]) is None
    try:
        assert_no_secret('a\nb ' + _key, ['', _key], 'output')
    except AssertionError as error:
        assert _key not in str(error) and 'line 2' in str(error) and 'certificate key' in str(error), error
    else:
        raise SystemExit('assert_no_secret did not fail')
    print('ok')
