# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tags resolved to digests: references, the registry's authentication dance and its failures (a scripted registry;
tests/integration/test_microservices_image_digests.py asks a real one)."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _image_digests as digests
from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_render as render

DIGEST = 'sha256:' + 'a' * 64
OTHER = 'sha256:' + 'b' * 64
PASSWORD = 'unit-pw-9f3k'


class Answer:
    def __init__(self, status: int, headers: dict | None = None, data: bytes = b'') -> None:
        self.status, self.headers, self.data = status, headers or {}, data


class Registry:
    """A pool manager whose answers come from a function of (method, url, headers); records the requests."""

    def __init__(self, answer) -> None:
        self.answer, self.sent = answer, []

    def request(self, method, url, headers=None, **_kwargs):
        self.sent.append((method, url, dict(headers or {})))
        result = self.answer(method, url, headers or {})
        if isinstance(result, Exception):
            raise result
        return result


def _resolver(answer, credentials=None):
    registry = Registry(answer)
    return digests.Resolver(credentials, pool_factory=lambda host: registry), registry


@pytest.mark.parametrize('image, expected', [
    ('nginx', ('docker.io', 'library/nginx', 'latest', '')),
    ('nginx:1.27', ('docker.io', 'library/nginx', '1.27', '')),
    ('team/app:2', ('docker.io', 'team/app', '2', '')),
    ('registry.example.com:5443/team/api:1.4', ('registry.example.com:5443', 'team/api', '1.4', '')),
    ('localhost/app', ('localhost', 'app', 'latest', '')),
    ('r.corp/a/b:1@' + DIGEST, ('r.corp', 'a/b', '1', DIGEST)),
    ('r.corp/a@' + DIGEST, ('r.corp', 'a', '', DIGEST)),
])
def test_references_are_split_as_a_pull_reads_them(image, expected):
    assert digests.split_reference(image) == expected


def test_an_anonymous_registry_answers_the_digest_of_the_tag_once_per_run():
    resolver, registry = _resolver(lambda m, u, h: Answer(200, {'Docker-Content-Digest': DIGEST}))
    assert resolver.digest('registry.example.com/team/api:1.4') == DIGEST
    assert resolver.digest('registry.example.com/team/api:1.4') == DIGEST
    [(method, url, headers)] = registry.sent
    assert (method, url) == ('HEAD', 'https://registry.example.com/v2/team/api/manifests/1.4')
    assert 'application/vnd.oci.image.index.v1+json' in headers['Accept'] and 'Authorization' not in headers
    # Docker Hub: its API host and the library/ prefix
    resolver, registry = _resolver(lambda m, u, h: Answer(200, {'Docker-Content-Digest': DIGEST}))
    resolver.digest('nginx:1.27')
    assert registry.sent[0][1] == 'https://registry-1.docker.io/v2/library/nginx/manifests/1.27'


def test_basic_authentication_uses_the_credentials_of_that_registry_only():
    good = 'Basic ' + base64.b64encode(('team:' + PASSWORD).encode()).decode()

    def answer(_method, _url, headers):
        if headers.get('Authorization') == good:
            return Answer(200, {'Docker-Content-Digest': DIGEST})
        return Answer(401, {'WWW-Authenticate': 'Basic realm="lab"'})
    credentials = {'r.corp:5443': {'username': 'team', 'password': PASSWORD}}
    resolver, registry = _resolver(answer, credentials)
    assert resolver.digest('r.corp:5443/team/api:1') == DIGEST
    assert [h.get('Authorization') for _m, _u, h in registry.sent] == [None, good]
    # another registry: no credentials sent, the fix named
    with pytest.raises(digests.DigestError) as err:
        resolver.digest('other.corp/team/api:1')
    assert str(err.value) == ('team/api:1 at other.corp: the registry asks for a username and password; add credentials for '
                              'other.corp to kubeseed_microservices_registry_credentials')
    # a wrong password: refused, said without the password
    wrong = {'r.corp:5443': {'username': 'team', 'password': 'not-' + PASSWORD}}
    resolver, _registry = _resolver(answer, wrong)
    with pytest.raises(digests.DigestError) as err:
        resolver.digest('r.corp:5443/team/api:1')
    assert "refused the credentials of kubeseed_microservices_registry_credentials['r.corp:5443'] (HTTP 401)" in str(err.value)
    assert PASSWORD not in str(err.value) and 'check the username and password' in str(err.value)


def test_a_bearer_challenge_gets_a_pull_token_from_the_realm_with_the_credentials():
    basic = 'Basic ' + base64.b64encode(('robot:' + PASSWORD).encode()).decode()

    def answer(method, url, headers):
        if url.startswith('https://auth.corp/token'):
            assert method == 'GET' and headers.get('Authorization') == basic
            assert url == 'https://auth.corp/token?scope=repository%3Ateam%2Fapi%3Apull&service=r.corp', url
            return Answer(200, data=json.dumps({'token': 'tok-123'}).encode())
        if headers.get('Authorization') == 'Bearer tok-123':
            return Answer(200, {'Docker-Content-Digest': DIGEST})
        return Answer(401, {'WWW-Authenticate': 'Bearer realm="https://auth.corp/token",service="r.corp",scope="repository:team/api:pull"'})
    resolver, registry = _resolver(answer, {'r.corp': {'username': 'robot', 'password': PASSWORD}})
    assert resolver.digest('r.corp/team/api:3') == DIGEST
    assert [m for m, _u, _h in registry.sent] == ['HEAD', 'GET', 'HEAD']
    # a token realm that is not https would get the password in clear: refused
    resolver, registry = _resolver(lambda m, u, h: Answer(401, {'WWW-Authenticate': 'Bearer realm="http://auth.corp/token"'}),
                                   {'r.corp': {'username': 'robot', 'password': PASSWORD}})
    with pytest.raises(digests.DigestError, match='with a token service that is not https'):
        resolver.digest('r.corp/team/api:3')
    assert len(registry.sent) == 1


def test_a_missing_tag_an_outage_and_an_untrusted_certificate_are_said_with_their_fix():
    resolver, _registry = _resolver(lambda m, u, h: Answer(404))
    with pytest.raises(digests.DigestError, match=r'^team/api:9 at r.corp: the registry has no such tag \(HTTP 404\); push it'):
        resolver.digest('r.corp/team/api:9')
    resolver, _registry = _resolver(lambda m, u, h: Answer(503))
    with pytest.raises(digests.DigestError, match='answered HTTP 503; run again when it answers'):
        resolver.digest('r.corp/team/api:9')
    urllib3 = pytest.importorskip('urllib3')
    bad_cert = urllib3.exceptions.MaxRetryError(None, '/v2/', urllib3.exceptions.SSLError(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)"))
    resolver, _registry = _resolver(lambda m, u, h: bad_cert)
    with pytest.raises(digests.DigestError) as err:
        resolver.digest('r.corp:5443/team/api:1')
    assert str(err.value) == ('team/api:1 at r.corp:5443: the registry r.corp:5443 presented a certificate this machine does '
                              'not trust (unable to get local issuer certificate); give its CA in kubeseed_microservices_registry_ca')
    refused = urllib3.exceptions.NewConnectionError(None, 'Connection refused')
    resolver, _registry = _resolver(lambda m, u, h: refused)
    with pytest.raises(digests.DigestError, match=r'^team/api:1 at r.corp: cannot reach the registry r.corp \(NewConnectionError\); '
                                                  r'run again when it answers$'):
        resolver.digest('r.corp/team/api:1')


def test_a_head_answer_without_the_digest_header_is_read_whole_and_hashed():
    manifest = b'{"schemaVersion": 2}'

    def answer(method, _url, _headers):
        return Answer(200, {}, b'' if method == 'HEAD' else manifest)
    resolver, registry = _resolver(answer)
    assert resolver.digest('r.corp/a:1') == 'sha256:' + hashlib.sha256(manifest).hexdigest()
    assert [m for m, _u, _h in registry.sent] == ['HEAD', 'GET']


def test_services_are_pinned_with_their_registry_prefix_sidecars_and_init_containers():
    answers = {'https://r.corp/v2/team/api/manifests/1': DIGEST, 'https://r.corp/v2/team/proxy/manifests/2': OTHER,
               'https://registry-1.docker.io/v2/library/busybox/manifests/1.36': DIGEST}

    def answer(_method, url, _headers):
        return Answer(200, {'Docker-Content-Digest': answers[url]}) if url in answers else Answer(404)
    resolver, registry = _resolver(answer)

    def reference(container, svc):  # what the module passes: the image a container runs, imageRegistry applied
        return render.image_reference({'image': container['image'], 'imageRegistry': svc.get('imageRegistry')})
    services = [
        {'name': 'api', 'image': 'api:1', 'imageRegistry': 'r.corp/team', 'sidecars': [{'name': 'proxy', 'image': 'r.corp/team/proxy:2'}],
         'initContainers': [{'name': 'wait', 'image': 'docker.io/library/busybox:1.36'}]},
        {'name': 'web', 'image': 'r.corp/team/web@' + OTHER},
        {'name': 'again', 'image': 'r.corp/team/api:1'},
    ]
    pinned, found = digests.pin_services(services, resolver, reference, workers=2)
    assert pinned[0]['image'] == 'r.corp/team/api:1@' + DIGEST
    assert pinned[0]['sidecars'] == [{'name': 'proxy', 'image': 'r.corp/team/proxy:2@' + OTHER}]
    assert pinned[0]['initContainers'] == [{'name': 'wait', 'image': 'docker.io/library/busybox:1.36@' + DIGEST}]
    assert pinned[1]['image'] == 'r.corp/team/web@' + OTHER and pinned[2]['image'] == 'r.corp/team/api:1@' + DIGEST
    assert found == {'r.corp/team/api:1': DIGEST, 'r.corp/team/proxy:2': OTHER, 'docker.io/library/busybox:1.36': DIGEST}
    assert len(registry.sent) == 3  # each image asked once
    assert services[0]['image'] == 'api:1'  # the input is left as it was
    # every image that cannot be resolved is named at once, and nothing is pinned
    with pytest.raises(digests.DigestError) as err:
        digests.pin_services([{'name': 'a', 'image': 'r.corp/team/gone:1'}, {'name': 'b', 'image': 'r.corp/team/lost:2'}],
                             resolver, reference)
    assert str(err.value).splitlines() == [
        '2 image(s) could not be resolved to a digest (kubeseed_microservices_image_digests); nothing was applied:',
        '- team/gone:1 at r.corp: the registry has no such tag (HTTP 404); push it, or correct the image',
        '- team/lost:2 at r.corp: the registry has no such tag (HTTP 404); push it, or correct the image']


def test_registry_cas_are_checked_by_path():
    pem = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n'
    assert digests.ca_problems({}) == []
    problems = digests.ca_problems({'https://r.corp': pem, 'r.corp:5443': 5, 'ok.corp': 'not a certificate'})
    assert any(p.startswith("kubeseed_microservices_registry_ca: 'https://r.corp' is not a registry host[:port]") for p in problems)
    assert any(p.startswith("kubeseed_microservices_registry_ca['ok.corp']: ") for p in problems), problems
    assert "kubeseed_microservices_registry_ca['r.corp:5443']: expected the PEM text of a CA certificate (a non-empty string)" in problems
    assert digests.ca_problems(['x']) == ['kubeseed_microservices_registry_ca: expected a mapping of registry host[:port] to the '
                                          'PEM text of its CA certificate']
