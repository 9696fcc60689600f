# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image tags resolved to digests at the registry (kubeseed_microservices_image_digests).

An image `registry/team/api:1.4` becomes `registry/team/api:1.4@sha256:...`: the kubelet pulls the digest, the tag stays
for the reader, and a tag moved at the registry changes the pod template (a check run shows it in its diff) instead of
reaching the nodes silently, one restarted pod at a time.

The registry is asked with the Docker Registry HTTP API v2 (HEAD of the manifest, the digest from Docker-Content-Digest),
anonymously first, then as its 401 asks: Basic with the credentials of kubeseed_microservices_registry_credentials, or a
Bearer token from the realm it names (with those credentials when there are some). No message holds a password or a token.
"""
from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import json
import re
from urllib.parse import urlencode

from ansible_collections.kubeseed.cluster.plugins.module_utils._registry_ca import registry_ca_problems

try:
    import urllib3
    HAS_URLLIB3 = True
except ImportError:  # pragma: no cover - urllib3 comes with the kubernetes client
    HAS_URLLIB3 = False

DOCKER_HUB = 'docker.io'
DOCKER_HUB_API = 'registry-1.docker.io'
# what a pull accepts: a multi-platform index first (its digest is what `image@digest` names for every platform)
ACCEPT = ', '.join((
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.docker.distribution.manifest.v2+json',
))
DIGEST = re.compile(r'^sha256:[a-f0-9]{64}$')
_CHALLENGE_PARAM = re.compile(r'([A-Za-z]+)="([^"]*)"')


def ca_problems(cas: object) -> list:
    """Each problem of kubeseed_microservices_registry_ca (registry host -> PEM text of a CA certificate) with its path."""
    root = 'kubeseed_microservices_registry_ca'
    if not isinstance(cas, dict):
        return ['%s: expected a mapping of registry host[:port] to the PEM text of its CA certificate' % root]
    return registry_ca_problems(root, cas)


class DigestError(Exception):
    """A tag that could not be resolved: the message names the image, the registry and what to do (never a secret)."""


def split_reference(image: str) -> tuple:
    """(registry host as written or docker.io, repository, tag, digest) of a valid image reference."""
    rest, _at, digest = image.partition('@')
    slash, colon = rest.rfind('/'), rest.rfind(':')
    name, tag = (rest[:colon], rest[colon + 1:]) if colon > slash else (rest, '')
    host, _slash, path = name.partition('/')
    if not path or not ('.' in host or ':' in host or host == 'localhost'):
        host, path = DOCKER_HUB, name
    if host in (DOCKER_HUB, 'index.docker.io') and '/' not in path:
        path = 'library/' + path
    return host, path, tag or ('' if digest else 'latest'), digest


def _api_host(host: str) -> str:
    return DOCKER_HUB_API if host in (DOCKER_HUB, 'index.docker.io') else host


def _credentials_for(host: str, credentials: dict) -> dict | None:
    names = (host,) if host not in (DOCKER_HUB, 'index.docker.io') else (DOCKER_HUB, 'index.docker.io', DOCKER_HUB_API)
    for name in names:
        entry = credentials.get(name)
        if isinstance(entry, dict) and entry.get('username') and entry.get('password'):
            return entry
    return None


def _challenge(header: str) -> tuple:
    """('basic'|'bearer'|'', {realm, service, scope ...}) of a WWW-Authenticate header."""
    scheme, _space, params = (header or '').strip().partition(' ')
    return scheme.lower(), dict((k.lower(), v) for k, v in _CHALLENGE_PARAM.findall(params))


class Resolver:
    """Resolves tags to digests; one answer per image per run (remembered)."""

    def __init__(self, credentials: dict | None = None, cas: dict | None = None, timeout: float = 15, pool_factory=None) -> None:
        self.credentials = credentials if isinstance(credentials, dict) else {}
        self.cas = cas if isinstance(cas, dict) else {}
        self.timeout = timeout
        self._pools = {}
        self._factory = pool_factory or self._pool_manager
        self._known = {}

    def _pool_manager(self, host: str):
        if not HAS_URLLIB3:
            raise DigestError('the Python package urllib3 (installed with the kubernetes client) is missing on the controller')
        args = {'cert_reqs': 'CERT_REQUIRED', 'timeout': urllib3.Timeout(total=self.timeout), 'retries': False}
        if self.cas.get(host):
            args['ca_cert_data'] = self.cas[host]
        return urllib3.PoolManager(**args)

    def _pool(self, host: str):
        if host not in self._pools:
            self._pools[host] = self._factory(host)
        return self._pools[host]

    def _request(self, host: str, method: str, url: str, headers: dict, where: str):
        try:
            return self._pool(host).request(method, url, headers=headers, redirect=False, retries=False)
        except Exception as exc:  # pylint: disable=broad-except  # urllib3's errors, whatever their class
            raise DigestError('%s: %s' % (where, self._unreachable(host, exc))) from None

    @staticmethod
    def _unreachable(host: str, exc: Exception) -> str:
        text = str(exc)
        if 'CERTIFICATE_VERIFY_FAILED' in text or 'certificate verify failed' in text or type(exc).__name__ == 'SSLError':
            reason = re.search(r'certificate verify failed: ([^(\')]*)', text)
            return ('the registry %s presented a certificate this machine does not trust (%s); give its CA in '
                    'kubeseed_microservices_registry_ca' % (host, (reason.group(1).strip() if reason else type(exc).__name__)))
        return 'cannot reach the registry %s (%s); run again when it answers' % (host, type(getattr(exc, 'reason', None) or exc).__name__)

    def digest(self, image: str) -> str:
        """The digest the registry serves for the image's tag (the image's own digest when it names one)."""
        host, path, tag, digest = split_reference(image)
        if digest:
            return digest
        key = (host, path, tag)
        if key not in self._known:
            self._known[key] = self._ask(host, path, tag)
        return self._known[key]

    def _ask(self, host: str, path: str, tag: str) -> str:
        api = _api_host(host)
        url = 'https://%s/v2/%s/manifests/%s' % (api, path, tag)
        where = '%s:%s at %s' % (path, tag, host)
        headers = {'Accept': ACCEPT, 'User-Agent': 'kubeseed'}
        resp = self._request(host, 'HEAD', url, headers, where)
        if resp.status == 401:
            headers['Authorization'] = self._authorization(host, api, path, resp.headers.get('WWW-Authenticate', ''), where)
            resp = self._request(host, 'HEAD', url, headers, where)
        if resp.status in (401, 403):
            entry = _credentials_for(host, self.credentials)
            return self._fail(where, 'the registry refused %s (HTTP %d)' % (
                'the credentials of kubeseed_microservices_registry_credentials[%r]' % host if entry else 'an anonymous pull',
                resp.status), 'check the username and password' if entry else
                'add credentials for %s to kubeseed_microservices_registry_credentials' % host)
        if resp.status == 404:
            return self._fail(where, 'the registry has no such tag (HTTP 404)', 'push it, or correct the image')
        if resp.status != 200:
            return self._fail(where, 'the registry answered HTTP %d' % resp.status, 'run again when it answers')
        found = resp.headers.get('Docker-Content-Digest', '')
        if not DIGEST.match(found):
            # some registries (and proxies) leave the header out of HEAD answers: the manifest's own sha256 is its digest
            body = self._request(host, 'GET', url, headers, where)
            if body.status != 200:
                return self._fail(where, 'the registry answered HTTP %d' % body.status, 'run again when it answers')
            found = body.headers.get('Docker-Content-Digest', '')
            if not DIGEST.match(found):
                found = 'sha256:' + hashlib.sha256(body.data).hexdigest()
        return found

    def _authorization(self, host: str, api: str, path: str, header: str, where: str) -> str:
        scheme, params = _challenge(header)
        entry = _credentials_for(host, self.credentials)
        basic = None
        if entry:
            basic = 'Basic ' + base64.b64encode(('%s:%s' % (entry['username'], entry['password'])).encode('utf-8')).decode('ascii')
        if scheme == 'basic':
            if basic is None:
                self._fail(where, 'the registry asks for a username and password',
                           'add credentials for %s to kubeseed_microservices_registry_credentials' % host)
            return basic
        if scheme == 'bearer' and params.get('realm', '').startswith('https://'):
            query = {'scope': params.get('scope') or 'repository:%s:pull' % path}
            if params.get('service'):
                query['service'] = params['service']
            realm = params['realm']
            token_host = realm.split('/', 3)[2]
            headers = {'User-Agent': 'kubeseed'}
            if basic:
                headers['Authorization'] = basic
            resp = self._request(host if token_host == api else token_host, 'GET',
                                 realm + ('&' if '?' in realm else '?') + urlencode(sorted(query.items())), headers, where)
            if resp.status != 200:
                self._fail(where, 'its token service %s refused a pull token (HTTP %d)' % (token_host, resp.status),
                           'check the credentials in kubeseed_microservices_registry_credentials[%r]' % host if entry else
                           'add credentials for %s to kubeseed_microservices_registry_credentials' % host)
            try:
                answer = json.loads(resp.data.decode('utf-8'))
                token = answer.get('token') or answer.get('access_token')
            except (ValueError, AttributeError, UnicodeDecodeError):
                token = None
            if not isinstance(token, str) or not token:
                self._fail(where, 'its token service %s gave no token' % token_host, 'check the registry')
            return 'Bearer ' + token
        what = 'the registry asks for an authentication kubeseed does not speak (%s%s)' % (
            scheme or 'none', ' with a token service that is not https' if scheme == 'bearer' else '')
        return self._fail(where, what, 'set kubeseed_microservices_image_digests: false for it, or write the image with its digest')

    @staticmethod
    def _fail(where: str, what: str, fix: str) -> str:
        raise DigestError('%s: %s; %s' % (where, what, fix))


def pin_services(services: list, resolver: Resolver, reference, workers: int = 8) -> tuple:
    """(services with every image pinned, {image: digest} of the images resolved). reference(container, svc) is the
    image a container runs (imageRegistry applied); every image is asked once, several at a time. Raises DigestError
    naming every image that could not be resolved (nothing is applied then)."""
    wanted = set()
    for svc in services:
        wanted.add(reference(svc, svc))
        for field in ('sidecars', 'initContainers'):
            for extra in svc.get(field) or []:
                wanted.add(reference(extra, svc))
    wanted = sorted(image for image in wanted if '@' not in image)
    found, failed = {}, []
    with concurrent.futures.ThreadPoolExecutor(max(1, min(workers, len(wanted) or 1))) as pool:
        futures = dict((pool.submit(resolver.digest, image), image) for image in wanted)
        for future in concurrent.futures.as_completed(futures):
            try:
                found[futures[future]] = future.result()
            except DigestError as exc:
                failed.append(str(exc))
    if failed:
        raise DigestError('\n- '.join(['%d image(s) could not be resolved to a digest (kubeseed_microservices_image_digests); '
                                       'nothing was applied:' % len(failed)] + sorted(failed)))
    pinned = []
    for svc in services:
        out = dict(svc, image=_pinned(reference(svc, svc), found))
        for field in ('sidecars', 'initContainers'):
            if svc.get(field):
                out[field] = [dict(extra, image=_pinned(reference(extra, svc), found)) for extra in svc[field]]
        pinned.append(out)
    return pinned, found


def _pinned(image: str, found: dict) -> str:
    return image if '@' in image else image + '@' + found[image]
