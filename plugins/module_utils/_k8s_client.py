# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One small, thread-safe Kubernetes REST client: server-side apply, list, get, delete (the REST calls only).

Credentials come from the kubernetes Python library's own loaders (kubeconfig with contexts,
exec plugins and token refresh, or in-cluster), so every kubeconfig kubectl understands works.
The requests themselves go through one urllib3 pool shared by all threads: JSON in, JSON out,
no generated model classes (they cost more time than the API server for hundreds of objects).
What is done with these calls lives beside it: _k8s_apply (apply a set of objects, dry run, diff, prune) and
_k8s_wait (rollouts, and why one is stuck).
"""
from __future__ import annotations

import json
import os
import threading
import time
from urllib.parse import quote

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeconfig import resolve as resolve_kubeconfig

try:
    import urllib3
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the host
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

# kind -> (API path prefix, plural, namespaced)
RESOURCES = {
    'Namespace': ('/api/v1', 'namespaces', False),
    'Node': ('/api/v1', 'nodes', False),
    'ServiceAccount': ('/api/v1', 'serviceaccounts', True),
    'ConfigMap': ('/api/v1', 'configmaps', True),
    'Secret': ('/api/v1', 'secrets', True),
    'PersistentVolumeClaim': ('/api/v1', 'persistentvolumeclaims', True),
    'Service': ('/api/v1', 'services', True),
    'Pod': ('/api/v1', 'pods', True),
    'Event': ('/api/v1', 'events', True),
    'Deployment': ('/apis/apps/v1', 'deployments', True),
    'Job': ('/apis/batch/v1', 'jobs', True),
    'CronJob': ('/apis/batch/v1', 'cronjobs', True),
    'ReplicaSet': ('/apis/apps/v1', 'replicasets', True),
    'HorizontalPodAutoscaler': ('/apis/autoscaling/v2', 'horizontalpodautoscalers', True),
    'PodDisruptionBudget': ('/apis/policy/v1', 'poddisruptionbudgets', True),
    'Ingress': ('/apis/networking.k8s.io/v1', 'ingresses', True),
}


# Answers that pass (the API server restarting, throttling, an etcd leader election): sent again, within retry_seconds.
TRANSIENT_STATUS = (429, 502, 503, 504)
TRANSIENT_500 = ('etcdserver: leader changed', 'etcdserver: request timed out', 'etcdserver: too many requests',
                 'etcdserver: no leader', 'the server is currently unable to handle the request')
BACKOFF = (0.2, 2.0)  # first pause, longest pause (doubling)


def transient(status: int, message: str) -> bool:
    """Whether an HTTP answer says "try again" (not: the request is wrong)."""
    return status in TRANSIENT_STATUS or (status == 500 and any(part in message for part in TRANSIENT_500))


def _lasting(exc: Exception) -> bool:
    """A connection error that sending again does not cure: a certificate or host name that does not verify, a bad proxy or URL."""
    if isinstance(exc, urllib3.exceptions.SSLError):
        text = str(exc).lower()
        return 'certificate' in text or 'hostname' in text
    return isinstance(exc, (urllib3.exceptions.ProxyError, urllib3.exceptions.LocationParseError))


# The options of every module that talks to an API server (documented by the kubeseed.cluster.k8s_auth doc fragment).
AUTH_ARG_SPEC = {
    'kubeconfig': {'type': 'path'},
    'context': {'type': 'str'},
    'host': {'type': 'str'},
    'api_key': {'type': 'str', 'no_log': True},
    'validate_certs': {'type': 'bool', 'aliases': ['verify_ssl']},
    'ca_cert': {'type': 'path'},
}


class K8sError(Exception):
    """An API or connection error; str() says what failed (never a request body)."""

    def __init__(self, message: str, status: int = 0, reason: str = '') -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def resource_path(kind: str, namespace: str | None = None, name: str | None = None, resources: dict | None = None) -> str:
    """/apis/apps/v1/namespaces/shop/deployments/api (or the list path without a name / across namespaces).

    resources: the table to look the kind up in (default RESOURCES; a Client's also holds the kinds it discovered).
    """
    prefix, plural, namespaced = (RESOURCES if resources is None else resources)[kind]
    path = prefix
    if namespaced and namespace:
        path += '/namespaces/' + namespace
    path += '/' + plural
    if name:
        path += '/' + name
    return path


def api_prefix(api_version: str) -> str:
    """/api/v1 for v1, /apis/<group>/<version> otherwise."""
    return '/api/v1' if api_version == 'v1' else '/apis/' + api_version


def find_kubeconfig(kubeconfig: str | None = None) -> str | None:
    """The kubeconfig to use: the argument, then $K8S_AUTH_KUBECONFIG, then $KUBECONFIG or ~/.kube/config (None: in-cluster).

    The rule is _kubeconfig.resolve; the environment is read here, with the other K8S_AUTH_* variables.
    """
    return resolve_kubeconfig(kubeconfig, os.environ.get('K8S_AUTH_KUBECONFIG'), os.environ.get('KUBECONFIG'))


class Client:
    """A Kubernetes API client for one cluster, shareable between threads."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, host: str | None = None,
                 api_key: str | None = None, validate_certs: bool | None = None, ca_cert: str | None = None,
                 workers: int = 8, timeout: float = 60.0, retry_seconds: float = 30.0) -> None:
        if not HAS_KUBERNETES:
            raise K8sError('the kubernetes Python library is required: %s' % KUBERNETES_IMPORT_ERROR)
        cfg = k8s_client.Configuration()
        host = host or os.environ.get('K8S_AUTH_HOST')
        api_key = api_key or os.environ.get('K8S_AUTH_API_KEY')
        context = context or os.environ.get('K8S_AUTH_CONTEXT') or None
        if host:
            cfg.host = host
        else:
            path = find_kubeconfig(kubeconfig)
            try:
                if path:
                    if not os.path.exists(path):
                        raise K8sError('kubeconfig %s does not exist: set kubeconfig (or K8S_AUTH_KUBECONFIG) to the admin kubeconfig of the cluster' % path)
                    k8s_config.load_kube_config(config_file=path, context=context, client_configuration=cfg)
                else:
                    k8s_config.load_incluster_config(client_configuration=cfg)
            except K8sError:
                raise
            except Exception as exc:  # the loaders raise several types (ConfigException, ValueError, KeyError ...)
                raise K8sError('cannot load the Kubernetes credentials from %s: %s' % (path or 'the in-cluster service account', exc)) from exc
        if api_key:
            cfg.api_key = {'authorization': 'Bearer ' + api_key}
        ca_cert = ca_cert or os.environ.get('K8S_AUTH_SSL_CA_CERT')
        if ca_cert:
            cfg.ssl_ca_cert = ca_cert
        if validate_certs is None and os.environ.get('K8S_AUTH_VERIFY_SSL'):
            validate_certs = os.environ['K8S_AUTH_VERIFY_SSL'].lower() in ('1', 'true', 'yes', 'on')
        if validate_certs is not None:
            cfg.verify_ssl = validate_certs
        self.cfg = cfg
        # An outage (no answer, or answers that say try again) is waited out for retry_seconds from its first failure,
        # shared by every thread: once it is longer, each request is sent once and fails (no wait per object).
        self.retry_seconds = retry_seconds
        self._outage_since = None
        self._lock = threading.Lock()
        self._outage_reason, self._outage_retries = '', 0
        self.retries = 0          # requests sent again
        self.outages = []         # (seconds, last reason, requests sent again) of each outage that was waited out
        # kind -> (API path prefix, plural, namespaced): RESOURCES, and the kinds discover() found
        self.resources = dict(RESOURCES)
        self.host = cfg.host.rstrip('/')
        self.timeout = timeout
        pool_args = {'num_pools': 2, 'maxsize': max(workers, 1), 'block': True,
                     'cert_reqs': 'CERT_REQUIRED' if cfg.verify_ssl else 'CERT_NONE'}
        if cfg.ssl_ca_cert:
            pool_args['ca_certs'] = cfg.ssl_ca_cert
        if cfg.cert_file:
            pool_args['cert_file'] = cfg.cert_file
        if cfg.key_file:
            pool_args['key_file'] = cfg.key_file
        if getattr(cfg, 'tls_server_name', None):
            pool_args['server_hostname'] = cfg.tls_server_name
        if not cfg.verify_ssl:
            urllib3.disable_warnings()
        if getattr(cfg, 'proxy', None):
            self.pool = urllib3.ProxyManager(cfg.proxy, proxy_headers=getattr(cfg, 'proxy_headers', None), **pool_args)
        else:
            self.pool = urllib3.PoolManager(**pool_args)

    def _headers(self, content_type: str | None) -> dict:
        headers = {'Accept': 'application/json', 'User-Agent': 'kubeseed'}
        if content_type:
            headers['Content-Type'] = content_type
        # auth_settings() runs the token refresh hook (exec plugins, expiring tokens) and knows where the
        # loaders of every client version put the bearer token.
        for setting in self.cfg.auth_settings().values():
            if setting.get('in') == 'header' and setting.get('value'):
                headers[setting['key'].title()] = setting['value']
        return headers

    def _send(self, method: str, url: str, body: bytes | None = None, content_type: str | None = None):
        """The urllib3 response; a request that fails in a way that passes is sent again (see retry_seconds).

        Every request kubeseed sends may be sent twice (GET, LIST, server-side apply, DELETE of a named object).
        """
        pause = BACKOFF[0]
        while True:
            sent = time.monotonic()
            try:
                resp = self.pool.request(method, url, body=body, headers=self._headers(content_type), timeout=self.timeout, retries=False)
            except urllib3.exceptions.HTTPError as exc:  # refused, reset, timed out: the server may be restarting
                wait = None if _lasting(exc) else self._retry_wait('no answer (%s)' % type(exc).__name__, pause)
                if wait is None:
                    raise K8sError('cannot reach the Kubernetes API at %s: %s%s' % (self.host, exc, '' if _lasting(exc) else self._gave_up())) from exc
            else:
                message = resp.data[:2000].decode('utf-8', 'replace') if resp.status >= 500 else ''
                if not transient(resp.status, message):
                    self._answered(sent)
                    return resp
                reason = 'HTTP %d' % resp.status
                wait = self._retry_wait(reason, pause, resp.headers.get('Retry-After'))
                if wait is None:
                    return resp  # the caller reports the answer, with _gave_up's note
            time.sleep(wait)
            pause = min(pause * 2, BACKOFF[1])

    def _retry_wait(self, reason: str, pause: float, retry_after: str | None = None) -> float | None:
        """Seconds to wait before sending again, or None when the outage has lasted retry_seconds."""
        now = time.monotonic()
        with self._lock:
            if self._outage_since is None:
                self._outage_since, self._outage_retries = now, 0
            self._outage_reason = reason
            left = self._outage_since + self.retry_seconds - now
            if left <= 0:
                return None
            self.retries += 1
            self._outage_retries += 1
        if retry_after and retry_after.isdigit():
            pause = max(pause, float(retry_after))
        return min(pause, left)

    def _answered(self, sent: float) -> None:
        """A real answer to a request sent at `sent`: an outage that was waited out ends here, unless the request was sent
        before the outage began (another thread's answer that was under way when the server went down proves nothing:
        it split one outage into a 0-second one and the rest)."""
        if self._outage_since is not None:
            with self._lock:
                if self._outage_since is not None and sent >= self._outage_since:
                    self.outages.append((round(time.monotonic() - self._outage_since, 1), self._outage_reason, self._outage_retries))
                    self._outage_since = None

    def _gave_up(self) -> str:
        with self._lock:
            since = self._outage_since
        if since is None or not self.retry_seconds:
            return ''
        return ' (still failing %.0fs after the first failure; sent again with backoff for retry_seconds=%s)' % (
            time.monotonic() - since, self.retry_seconds)

    def request(self, method: str, path: str, query: dict | None = None, body: object = None,
                content_type: str | None = 'application/json') -> tuple:
        """(HTTP status, decoded JSON body); raises K8sError for any status >= 400."""
        url = self.host + path
        if query:
            url += '?' + '&'.join('%s=%s' % (k, quote(str(v), safe='')) for k, v in query.items() if v is not None)
        data = None if body is None else json.dumps(body).encode('utf-8')
        resp = self._send(method, url, data, content_type if data is not None else None)
        try:
            payload = json.loads(resp.data.decode('utf-8')) if resp.data else {}
        except ValueError:
            payload = {'message': resp.data.decode('utf-8', 'replace')[:500]}
        if resp.status >= 400:
            payload = payload if isinstance(payload, dict) else {}
            raise K8sError('%s %s: %s %s%s' % (method, path, resp.status, payload.get('message') or resp.reason,
                                               self._gave_up() if transient(resp.status, str(payload.get('message'))) else ''),
                           resp.status, payload.get('reason', ''))
        return resp.status, payload

    def readiness(self) -> list:
        """The checks the API server's /readyz?verbose reports failed ([] when it is ready, or when these credentials may
        not ask); an outage is waited out as for any request."""
        resp = self._send('GET', self.host + '/readyz?verbose')
        if resp.status == 200 or resp.status in (401, 403, 404):
            return []
        text = resp.data.decode('utf-8', 'replace')
        failed = [line[3:].split(' ')[0] for line in text.splitlines() if line.startswith('[-]')]
        return failed or ['readyz: HTTP %d' % resp.status]

    def path(self, kind: str, namespace: str | None = None, name: str | None = None) -> str:
        """resource_path for a kind of RESOURCES or one discover() found."""
        return resource_path(kind, namespace, name, self.resources)

    def discover(self, api_version: str, kind: str) -> bool:
        """Whether kind (of api_version) is namespaced, from the API server's discovery document (remembered).

        Raises K8sError when the cluster does not serve it, or when kubeseed already uses the kind in another version.
        """
        prefix = api_prefix(api_version)
        known = self.resources.get(kind)
        if known:
            if known[0] != prefix:
                version = 'v1' if known[0] == '/api/v1' else known[0][len('/apis/'):]
                raise K8sError('%s is applied in %s by kubeseed (one version per kind): write apiVersion: %s' % (kind, version, version), 400)
            return known[2]
        try:
            payload = self.request('GET', prefix)[1]
        except K8sError as exc:
            if exc.status == 404:
                raise K8sError('apiVersion %s is not served by this cluster (is the CustomResourceDefinition or API installed?)'
                               % api_version, 404) from exc
            raise
        for resource in payload.get('resources') or []:
            if resource.get('kind') == kind and '/' not in resource.get('name', ''):
                self.resources[kind] = (prefix, resource['name'], bool(resource.get('namespaced')))
                return self.resources[kind][2]
        served = sorted(set(r.get('kind') for r in payload.get('resources') or [] if r.get('kind') and '/' not in r.get('name', '')))
        raise K8sError('kind %s is not served in %s by this cluster (it serves %s)' % (kind, api_version, ', '.join(served[:12]) or 'none'), 404)

    def log(self, namespace: str, pod: str, container: str, tail_lines: int = 20, limit_bytes: int = 4096, previous: bool = False) -> str:
        """The last lines of a container's log (decoded leniently); previous: of its run before the last restart."""
        url = self.host + self.path('Pod', namespace, pod) + '/log?container=%s&tailLines=%d&limitBytes=%d%s' % (
            quote(container, safe=''), tail_lines, limit_bytes, '&previous=true' if previous else '')
        resp = self._send('GET', url)
        text = resp.data.decode('utf-8', 'replace')
        if resp.status >= 400:
            try:
                text = json.loads(text).get('message') or text
            except (ValueError, AttributeError):
                pass
            raise K8sError('GET log of pod %s/%s: %s %s' % (namespace, pod, resp.status, text[:300]), resp.status)
        return text

    def get(self, kind: str, namespace: str | None, name: str) -> dict | None:
        """The live object, or None when it does not exist."""
        try:
            return self.request('GET', self.path(kind, namespace, name))[1]
        except K8sError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None, field_selector: str | None = None) -> list:
        """Every object of a kind (in one namespace, or in all), with kind and apiVersion filled in."""
        query = {'labelSelector': label_selector, 'fieldSelector': field_selector}
        payload = self.request('GET', self.path(kind, namespace), query)[1]
        items = payload.get('items') or []
        api_version = payload.get('apiVersion', 'v1')
        for item in items:
            item.setdefault('kind', kind)
            item.setdefault('apiVersion', api_version)
        return items

    def apply(self, obj: dict, field_manager: str = 'kubeseed', force: bool = False, dry_run: bool = False) -> tuple:
        """Server-side apply of one object: (HTTP status, the object as the server has (or would have) it)."""
        meta = obj['metadata']
        query = {'fieldManager': field_manager, 'force': 'true' if force else None, 'dryRun': 'All' if dry_run else None,
                 'fieldValidation': 'Strict'}
        return self.request('PATCH', self.path(obj['kind'], meta.get('namespace'), meta['name']), query, obj,
                            content_type='application/apply-patch+yaml')

    def delete(self, kind: str, namespace: str | None, name: str, dry_run: bool = False) -> bool:
        """Delete (children in the background); False when it was already gone."""
        query = {'propagationPolicy': 'Background', 'dryRun': 'All' if dry_run else None}
        try:
            self.request('DELETE', self.path(kind, namespace, name), query)
        except K8sError as exc:
            if exc.status == 404:
                return False
            raise
        return True
