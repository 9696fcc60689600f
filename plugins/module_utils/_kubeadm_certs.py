# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeadm certificates of a control plane: expiry report, renewal, and the restart of the static pods that load them.

How the expiry is read: `kubeadm certs check-expiration --output json`, not the files. kubeadm is the tool that renews,
so its report names exactly what `kubeadm certs renew <name>` accepts (super-admin.conf since 1.29, no etcd
certificates with an external etcd), finds the client certificates embedded in the kubeconfig files, and says which
certificates are missing (a joined control plane has no super-admin.conf) or signed by an external CA (no CA key on
the node: kubeadm cannot renew them). Reading the files ourselves would duplicate that knowledge for every kubeadm
version. The JSON (output.kubeadm.k8s.io/v1alpha3) gives an RFC 3339 expirationDate; days left are computed here from
it (residualTime is not used: its unit belongs to the output API version, seconds in v1alpha3, and the date needs no
interpretation). The command never blocks on a broken cluster: without a working API server kubeadm falls back to its
default configuration, so expired certificates can still be read and renewed.

How the static pods are restarted: a certificate is loaded when its process starts, so after a renewal the component
that uses it restarts: its running container is stopped with crictl and the kubelet starts a new one from the same
manifest (there is never a moment without a manifest, unlike moving it out and back). Only the components whose
certificates changed restart (CERTIFICATES maps each to its component; admin.conf, super-admin.conf and the etcd
healthcheck client are used by no static pod). The decision is a comparison, not a memory of this run: a component
restarts when its running container was created before the newest of its certificate files was written, so a run that
failed between the renewal and the restart (or a renewal done by hand) is completed by the next run, and a second run
restarts nothing. Every real run ends by waiting until this node's API server answers /readyz (also when nothing
restarted: with serial 1 a node that is not ready stops the play before the next one restarts anything).

Pure functions (parse, assess, plan) are unit-tested; the steps that run commands take a `run(args) -> (rc, out, err)`.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import socket
import time

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm as kubeadm
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import ADMIN_CONF, BIN_DIRS, Host

CERT_DIR = '/etc/kubernetes/pki'
KUBERNETES_DIR = '/etc/kubernetes'  # kubeadm's fixed directory of the kubeconfig files (no flag of check-expiration/renew moves it)
APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml'
# Where kubeadm writes this node's API endpoint (host:port, IPv6 in brackets) in the kube-apiserver manifest.
ENDPOINT_ANNOTATION = 'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint'
# The static pods that load certificates, in the order they restart (etcd first: the API server needs it).
STATIC_PODS = ('etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler')
POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace'
CONTAINER_NAME_LABEL = 'io.kubernetes.container.name'
STOP_GRACE_SECONDS = 30
POLL_SECONDS = 2
DAY = 86400
DOCS_CA_ROTATION = 'https://kubernetes.io/docs/tasks/tls/manual-rotation-of-ca-certificates/'

# kubeadm's certificate name (what `kubeadm certs renew` takes) -> (directory, file, static pod that loads it or None).
# 'pki' is cert_dir, 'kubeconfig' is /etc/kubernetes. kubelet.conf is not here: kubeadm leaves its certificate to the
# kubelet, which rotates it itself. A name kubeadm adds later restarts every static pod (the safe guess).
CERTIFICATES = {
    'admin.conf': ('kubeconfig', 'admin.conf', None),
    'super-admin.conf': ('kubeconfig', 'super-admin.conf', None),
    'controller-manager.conf': ('kubeconfig', 'controller-manager.conf', 'kube-controller-manager'),
    'scheduler.conf': ('kubeconfig', 'scheduler.conf', 'kube-scheduler'),
    'apiserver': ('pki', 'apiserver.crt', 'kube-apiserver'),
    'apiserver-etcd-client': ('pki', 'apiserver-etcd-client.crt', 'kube-apiserver'),
    'apiserver-kubelet-client': ('pki', 'apiserver-kubelet-client.crt', 'kube-apiserver'),
    'front-proxy-client': ('pki', 'front-proxy-client.crt', 'kube-apiserver'),
    'etcd-server': ('pki', 'etcd/server.crt', 'etcd'),
    'etcd-peer': ('pki', 'etcd/peer.crt', 'etcd'),
    'etcd-healthcheck-client': ('pki', 'etcd/healthcheck-client.crt', None),  # kubeadm's own etcd client, no pod's
}

_TIME = re.compile(r'(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|z|[+-]\d{2}:?\d{2})$')


class CertsError(Exception):
    """A failure with a message that says what, where and what to do (shown as is, no traceback)."""

    def __init__(self, msg: str, **result) -> None:
        super().__init__(msg)
        self.result = result


# ---------------------------------------------------------------- parsing ----

def parse_time(value) -> datetime.datetime | None:
    """An RFC 3339 time (kubeadm's expirationDate) as an aware UTC datetime; None when it is not one."""
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    offset = datetime.timedelta(0)
    if zone.upper() != 'Z':
        digits = zone[1:].replace(':', '')
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        offset = -offset if zone[0] == '-' else offset
    try:
        local = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return local - offset


def iso(moment: datetime.datetime | None) -> str | None:
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ') if moment else None


def parse_expiration(text: str) -> dict:
    """The JSON of `kubeadm certs check-expiration -o json` as {'certificates': [...], 'authorities': [...]}.

    Each entry: name, expires (aware datetime, None when missing), ca (the CA's name, certificates only),
    externally_managed, missing. Raises ValueError saying what is wrong with the text.
    """
    start, end = text.find('{'), text.rfind('}')
    try:
        document = json.loads(text[start:end + 1]) if 0 <= start < end else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ValueError('it printed no JSON object')
    if document.get('kind') != 'CertificateExpirationInfo':
        raise ValueError('its JSON is a %r, not a CertificateExpirationInfo' % document.get('kind'))
    parsed = {}
    for key, field in (('certificates', 'certificates'), ('authorities', 'certificateAuthorities')):
        entries = []
        for item in document.get(field) or []:
            name = item.get('name') if isinstance(item, dict) else None
            if not isinstance(name, str) or not name:
                raise ValueError('an entry of %s has no name: %r' % (field, item))
            missing = bool(item.get('missing'))
            expires = None if missing else parse_time(item.get('expirationDate'))
            if not missing and expires is None:
                raise ValueError('%s has no valid expirationDate: %r' % (name, item.get('expirationDate')))
            entry = {'name': name, 'expires': expires, 'externally_managed': bool(item.get('externallyManaged')), 'missing': missing}
            if key == 'certificates':
                entry['ca'] = item.get('caName') or ''
            entries.append(entry)
        parsed[key] = entries
    return parsed


def residual(seconds: float) -> str:
    """A short human duration like kubeadm's table: 9y, 364d, 20h, or expired."""
    if seconds <= 0:
        return 'expired'
    if seconds < 2 * DAY:
        return '%dh' % (seconds // 3600)
    if seconds < 730 * DAY:
        return '%dd' % (seconds // DAY)
    return '%dy' % (seconds // (365 * DAY))


def api_endpoint(manifest: str) -> str | None:
    """host:port of this node's API server from the kube-apiserver manifest kubeadm wrote (its annotation); None if absent."""
    match = re.search(r'^\s*%s:\s*["\']?([^"\'\s]+)' % re.escape(ENDPOINT_ANNOTATION), manifest or '', re.M)
    return match.group(1) if match else None


def parse_containers(text: str) -> dict:
    """`crictl ps --output json` -> {static pod: [{'id', 'created'}]}: its running containers in kube-system.

    created is the creation time in nanoseconds (crictl prints protobuf JSON: int64 as a string).
    """
    document = json.loads(text or '{}')
    found = {}
    for container in document.get('containers') or []:
        labels = container.get('labels') or {}
        name = labels.get(CONTAINER_NAME_LABEL) or (container.get('metadata') or {}).get('name')
        if labels.get(POD_NAMESPACE_LABEL, 'kube-system') != 'kube-system' or name not in STATIC_PODS:
            continue
        if container.get('state', 'CONTAINER_RUNNING') != 'CONTAINER_RUNNING':
            continue
        found.setdefault(name, []).append({'id': container['id'], 'created': int(container.get('createdAt') or 0)})
    return found


# --------------------------------------------------------------- deciding ----

def _describe(moment: datetime.datetime, now: datetime.datetime) -> dict:
    seconds = (moment - now).total_seconds()
    # whole days: 364.9 days left is 364; expired 1.5 days ago is -1 (the decision uses the seconds, not this)
    return {'expires': iso(moment), 'days_left': int(seconds / DAY), 'residual': residual(seconds), 'seconds': seconds}


def assess(info: dict, now: datetime.datetime, renew_days: int, renew_all: bool, node: str = 'this host') -> dict:
    """The report and the plan: every certificate with expires, days_left, residual and renew; every CA; warnings.

    A certificate is renewed when fewer than renew_days days are left (or always with renew_all), unless it is missing
    or signed by an external CA (kubeadm cannot renew those). CAs are never renewed: one with less than renew_days days
    left is a warning.
    """
    threshold = renew_days * DAY
    certificates, authorities, warnings = [], [], []
    for item in info['certificates']:
        row = {'name': item['name'], 'expires': None, 'days_left': None, 'residual': 'missing', 'ca': item['ca'],
               'externally_managed': item['externally_managed'], 'missing': item['missing'], 'renew': False}
        if not item['missing']:
            described = _describe(item['expires'], now)
            seconds = described.pop('seconds')
            row.update(described)
            row['renew'] = not item['externally_managed'] and (renew_all or seconds < threshold)
            if item['externally_managed'] and seconds < threshold:
                warnings.append('the certificate %s on %s expires %s (%s left) and is signed by an external CA (%s has no key on the '
                                'node): kubeadm cannot renew it; renew it with that CA' % (item['name'], node, row['expires'], row['residual'], item['ca']))
        certificates.append(row)
    for item in info['authorities']:
        row = {'name': item['name'], 'expires': None, 'days_left': None, 'residual': 'missing',
               'externally_managed': item['externally_managed'], 'missing': item['missing']}
        if not item['missing']:
            described = _describe(item['expires'], now)
            seconds = described.pop('seconds')
            row.update(described)
            if seconds < threshold:
                warnings.append('the certificate authority %s on %s %s %s (%s): kubeadm never renews a CA, and every certificate it '
                                'signed stops working with it; rotate it before then (%s)'
                                % (item['name'], node, 'expired' if seconds <= 0 else 'expires', row['expires'], row['residual'], DOCS_CA_ROTATION))
        authorities.append(row)
    return {'certificates': certificates, 'authorities': authorities, 'warnings': warnings,
            'renew': [row['name'] for row in certificates if row['renew']]}


def certificate_path(name: str, cert_dir: str, kubeconfig_dir: str = KUBERNETES_DIR) -> str | None:
    place = CERTIFICATES.get(name)
    if place is None:
        return None
    return os.path.join(cert_dir if place[0] == 'pki' else kubeconfig_dir, place[1])


def component_files(cert_dir: str, kubeconfig_dir: str = KUBERNETES_DIR) -> dict:
    """{static pod: [its certificate files]} (from CERTIFICATES)."""
    files = {component: [] for component in STATIC_PODS}
    for name, (_place, _file, component) in sorted(CERTIFICATES.items()):
        if component:
            files[component].append(certificate_path(name, cert_dir, kubeconfig_dir))
    return files


def components_for(names) -> list:
    """The static pods that load these certificates, in restart order (a name not in CERTIFICATES: all of them)."""
    wanted = set()
    for name in names:
        if name not in CERTIFICATES:
            return list(STATIC_PODS)
        if CERTIFICATES[name][2]:
            wanted.add(CERTIFICATES[name][2])
    return [component for component in STATIC_PODS if component in wanted]


def stale_components(containers: dict, mtimes: dict, files: dict) -> list:
    """The static pods whose running container was created before the newest of their certificate files was written.

    containers: {pod: [{'id', 'created' (ns)}]}; mtimes: {path: seconds} of the files that exist; files: component_files().
    """
    stale = []
    for component in STATIC_PODS:
        newest = max((mtimes[path] for path in files.get(component, []) if path in mtimes), default=None)
        created = [c['created'] for c in containers.get(component) or [] if c['created'] > 0]  # 0: the runtime did not say
        if newest is not None and created and min(created) < int(newest * 1e9):
            stale.append(component)
    return stale


def restart_plan(renewed, containers: dict | None, mtimes: dict, files: dict) -> list:
    """What restarts, in order: the pods of the renewed certificates and the stale ones, of those that run.

    containers None (crictl could not tell): the pods of the renewed certificates, as a prediction.
    """
    wanted = set(components_for(renewed)) | set(stale_components(containers or {}, mtimes, files))
    return [component for component in STATIC_PODS if component in wanted and (containers is None or containers.get(component))]


def summary(report: dict, renewed, restarted, check_mode: bool) -> list:
    """One line per certificate and CA for the role's report."""
    verb = 'would be renewed' if check_mode else 'renewed'
    lines = []
    for row in report['certificates']:
        if row['missing']:
            lines.append('%s: missing (not on this node)' % row['name'])
            continue
        state = verb if row['name'] in renewed else ('external CA, not renewable' if row['externally_managed'] else 'not renewed')
        after = ' -> %s' % row['expires_after'] if row.get('expires_after') else ''
        lines.append('%s: %s, %s days left (%s)%s' % (row['name'], row['expires'], row['days_left'], state, after))
    for row in report['authorities']:
        lines.append('CA %s: %s' % (row['name'], 'missing' if row['missing'] else '%s, %s days left (CAs are never renewed)'
                                    % (row['expires'], row['days_left'])))
    if restarted:
        lines.append('static pods %s: %s' % ('to restart' if check_mode else 'restarted', ', '.join(restarted)))
    return lines


def diff(report: dict, renewed, after: dict | None) -> dict:
    """before/after expiry of every certificate present (after None: check mode, the new date is kubeadm's to set)."""
    before_lines, after_lines = [], []
    for row in report['certificates']:
        if row['missing']:
            continue
        before_lines.append('%s: %s' % (row['name'], row['expires']))
        if row['name'] not in renewed:
            after_lines.append(before_lines[-1])
        elif after is None:
            after_lines.append('%s: renewed (the new expiry is set by kubeadm, one year by default)' % row['name'])
        else:
            after_lines.append('%s: %s' % (row['name'], after.get(row['name'])))
    return {'before': '\n'.join(before_lines) + '\n', 'after': '\n'.join(after_lines) + '\n',
            'before_header': 'certificate expiry', 'after_header': 'certificate expiry'}


# ---------------------------------------------------------------- actions ----

def read_expiration(run, cert_dir: str, node: str = 'this host') -> dict:
    """Run kubeadm certs check-expiration; the parsed report or CertsError."""
    rc, out, err = run(['certs', 'check-expiration', '--cert-dir', cert_dir, '--output', 'json'])
    if rc != 0:
        raise CertsError('kubeadm certs check-expiration failed on %s (exit %d): %s. Is it a kubeadm control plane, and is cert_dir (%s) '
                         'its certificate directory?' % (node, rc, (err or out or '').strip()[-2000:], cert_dir))
    try:
        return parse_expiration(out)
    except ValueError as error:
        raise CertsError('kubeadm certs check-expiration on %s did not report the certificates (%s); run it by hand to see why: '
                         'kubeadm certs check-expiration --cert-dir %s' % (node, error, cert_dir)) from None


def renew(run, names, cert_dir: str, node: str = 'this host') -> None:
    """kubeadm certs renew <name> for each name; CertsError naming those renewed before the failure."""
    done = []
    for name in names:
        rc, out, err = run(['certs', 'renew', name, '--cert-dir', cert_dir])
        if rc != 0:
            raise CertsError('kubeadm certs renew %s failed on %s (exit %d): %s. Renewed before it: %s. Fix the cause and re-run: the '
                             'certificates still due are renewed then, and the static pods that use renewed ones are restarted.'
                             % (name, node, rc, (err or out or '').strip()[-2000:], ', '.join(done) or 'none'), renewed=done)
        done.append(name)


def crictl_ps_args() -> list:
    return ['--runtime-endpoint', kubeadm.CRI_SOCKET, 'ps', '--output', 'json', '--state', 'running',
            '--label', '%s=kube-system' % POD_NAMESPACE_LABEL]


def list_containers(crictl) -> tuple:
    """({static pod: running containers}, None) or (None, why not)."""
    rc, out, err = crictl(crictl_ps_args())
    if rc != 0:
        return None, 'crictl ps failed (exit %d): %s' % (rc, (err or out or '').strip()[-500:])
    try:
        return parse_containers(out), None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        return None, 'crictl ps printed no container list (%s)' % error


def restart(crictl, components, before: dict, timeout: int, node: str = 'this host', clock=time.monotonic, sleep=time.sleep) -> list:
    """Stop each component's running container and wait until the kubelet runs a new one; the components restarted.

    A component with no running container is left to the kubelet (it starts it with the new certificates anyway).
    """
    restarted = []
    for component in components:
        old = [container['id'] for container in before.get(component) or []]
        if not old:
            continue
        rc, out, err = crictl(['--runtime-endpoint', kubeadm.CRI_SOCKET, 'stop', '--timeout', str(STOP_GRACE_SECONDS)] + old)
        if rc != 0:
            raise CertsError('stopping %s on %s to load its renewed certificates failed (crictl stop, exit %d): %s. The certificates are '
                             'renewed; re-run to restart it (or stop its container with crictl by hand).'
                             % (component, node, rc, (err or out or '').strip()[-500:]), restarted=restarted)
        deadline = clock() + timeout
        while True:
            current, _why = list_containers(crictl)
            if any(container['id'] not in old for container in (current or {}).get(component) or []):
                break
            if clock() >= deadline:
                raise CertsError('%s on %s was stopped to load its renewed certificates, and the kubelet did not start it again within %ds. '
                                 'The certificates are renewed (nothing to undo). Look at `crictl ps -a --name %s` and `journalctl -u kubelet` '
                                 'on %s, fix the cause, then re-run: components still running with old certificates are restarted then.'
                                 % (component, node, timeout, component, node), restarted=restarted)
            sleep(POLL_SECONDS)
        restarted.append(component)
    return restarted


def readyz_args(endpoint: str | None) -> list:
    args = ['--kubeconfig', ADMIN_CONF]
    if endpoint:
        args += ['--server', 'https://%s' % endpoint]  # this node's API server, not a load balancer in front of all of them
    return args + ['get', '--raw', '/readyz', '--request-timeout', '5s']


def wait_ready(kubectl, endpoint: str | None, timeout: int, node: str = 'this host', restarted=(), clock=time.monotonic,
               sleep=time.sleep) -> None:
    """Until this node's API server answers /readyz with ok, or CertsError after timeout seconds.

    Also asked when this run restarted nothing: with serial 1 a failure here stops the play before the next control plane
    restarts, so a re-run after a failed wait never moves on while this node's API server is still down.
    """
    deadline = clock() + timeout
    while True:
        rc, out, err = kubectl(readyz_args(endpoint))
        if rc == 0 and out.strip() == 'ok':
            return
        if clock() >= deadline:
            last = (err or out or '').strip().splitlines()
            where = '%s (%s)' % (node, endpoint or 'the server of %s' % ADMIN_CONF)
            answer = last[-1][-300:] if last else 'none'
            if restarted:
                raise CertsError('the API server on %s did not answer /readyz within %ds after the restart of %s (last answer: %s). The '
                                 'certificates are renewed. Look at `crictl ps -a` and `crictl logs` of kube-apiserver and etcd on %s, fix the '
                                 'cause and re-run before touching another control plane.' % (where, timeout, ', '.join(restarted), answer, node))
            raise CertsError('the API server on %s does not answer /readyz (waited %ds; last answer: %s). This run restarted nothing on %s; '
                             'it stops here so that no other control plane restarts while this one is not ready. Look at `crictl ps -a` '
                             'and `crictl logs` of kube-apiserver and etcd on %s, fix the cause and re-run.' % (where, timeout, answer, node, node))
        sleep(POLL_SECONDS)


# ----------------------------------------------------------------- module ----

def _mtimes(files: dict) -> dict:
    found = {}
    for paths in files.values():
        for path in paths:
            try:
                found[path] = os.stat(path).st_mtime
            except OSError:
                pass
    return found


def _read(path: str) -> str:
    try:
        with open(path, encoding='utf-8') as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return ''


class _Node(Host):
    """Host of _kubeadm_ops (binaries, redaction, failures) named after the machine in messages."""

    @property
    def name(self) -> str:
        return socket.gethostname() or 'this host'


class _Run:
    """One module run: what was read (report, containers, tools), then predict (check mode) or apply."""

    def __init__(self, host: _Node) -> None:
        module, params = host.module, host.params
        self.module, self.node = module, host.name
        self.cert_dir, self.timeout, self.renew_days = params['cert_dir'], params['wait_timeout'], params['renew_days']
        if self.renew_days < 0 or self.timeout < 1:
            raise CertsError('renew_days must be 0 or more and wait_timeout 1 or more (got %d and %d)' % (self.renew_days, self.timeout))
        kubeadm_path = host.binary('kubeadm_path')
        self.kubeadm = lambda args: module.run_command([kubeadm_path] + list(args))
        self.report = assess(read_expiration(self.kubeadm, self.cert_dir, self.node), datetime.datetime.now(datetime.timezone.utc),
                             self.renew_days, params['renew'] == 'all', self.node)
        for warning in self.report['warnings']:
            module.warn(warning)
        self.files = component_files(self.cert_dir, KUBERNETES_DIR)
        self.crictl, self.kubectl = host.tool('crictl'), host.tool('kubectl')
        self.containers, self.why = (list_containers(self.crictl) if self.crictl
                                     else (None, 'crictl is not installed (looked in %s and PATH)' % ', '.join(BIN_DIRS)))
        if self.containers is None and (module.check_mode or not self.report['renew']):
            module.warn('cannot tell which static pods run with older certificates on %s: %s' % (self.node, self.why))
        self.result = {'changed': False, 'certificates': self.report['certificates'], 'certificate_authorities': self.report['authorities'],
                       'renewed': [], 'restarted': []}

    def _nothing(self) -> str:
        return 'nothing to renew or restart on %s (no renewable certificate has fewer than %d days left)' % (self.node, self.renew_days)

    def _plan(self, renewed) -> list:
        return restart_plan(renewed, self.containers, _mtimes(self.files), self.files)

    def predict(self) -> dict:
        """Check mode: the renewals and restarts a real run would do, and one look at the API server."""
        if self.kubectl is not None and os.path.exists(APISERVER_MANIFEST):  # one look, no wait
            rc, out, err = self.kubectl(readyz_args(api_endpoint(_read(APISERVER_MANIFEST))))
            if rc != 0 or out.strip() != 'ok':
                self.module.warn('the API server on %s does not answer /readyz now (%s); a real run waits for it and fails if it does not'
                                 % (self.node, ((err or out or '').strip().splitlines() or ['no answer'])[-1][-300:]))
        planned, result = self.report['renew'], self.result
        restarts = self._plan(planned)
        result.update(changed=bool(planned or restarts), renewed=planned, restarted=restarts, summary=summary(self.report, planned, restarts, True))
        if planned:
            result['diff'] = diff(self.report, planned, None)
        result['msg'] = ('would renew %s and restart %s on %s' % (', '.join(planned) or 'nothing', ', '.join(restarts) or 'nothing', self.node)
                         if planned or restarts else self._nothing())
        return result

    def apply(self) -> dict:
        """Renew, compare the expiry before and after, restart what runs with older certificates, wait for the API server."""
        planned, result, node = self.report['renew'], self.result, self.node
        if self.containers is None and planned:
            raise CertsError('cannot restart the static pods on %s after the renewal, so nothing was renewed: %s. Install crictl (the '
                             'kube_packages role does) and make sure containerd runs, then re-run.' % (node, self.why), **result)
        if self.kubectl is None and (planned or self._plan([])):
            raise CertsError('kubectl is not installed on %s (looked in %s and PATH); it checks that the API server answers after the '
                             'static pods restart, so nothing was renewed. Install it (the kube_packages role does) and re-run.'
                             % (node, ', '.join(BIN_DIRS)), **result)
        renewed = self._renew(planned) if planned else []
        # after the renewal its files are newer than the running containers: the plan holds their pods
        restarts = self._plan(planned) if self.containers is not None else []
        if restarts:
            try:
                result['restarted'] = restart(self.crictl, restarts, self.containers, self.timeout, node)
            except CertsError as error:
                error.result = dict(result, restarted=error.result.get('restarted', []), changed=True)
                raise
        if self.kubectl is None:
            self.module.warn('kubectl is not installed on %s: cannot check that its API server answers /readyz' % node)
        elif result['restarted'] or os.path.exists(APISERVER_MANIFEST):
            try:
                wait_ready(self.kubectl, api_endpoint(_read(APISERVER_MANIFEST)), self.timeout, node, result['restarted'])
            except CertsError as error:
                error.result = dict(result, changed=bool(renewed or result['restarted']))
                raise
        result['changed'] = bool(renewed or result['restarted'])
        result['summary'] = summary(self.report, renewed, result['restarted'], False)
        result['msg'] = ('renewed %s and restarted %s on %s' % (', '.join(renewed) or 'nothing', ', '.join(result['restarted']) or 'nothing', node)
                         if result['changed'] else self._nothing())
        return result

    def _renew(self, planned) -> list:
        """kubeadm certs renew each planned one; the names whose expiry moved (the comparison behind changed)."""
        result = self.result
        try:
            renew(self.kubeadm, planned, self.cert_dir, self.node)
        except CertsError as error:
            error.result = dict(result, renewed=error.result.get('renewed', []), changed=bool(error.result.get('renewed')))
            raise
        after = {row['name']: row for row in assess(read_expiration(self.kubeadm, self.cert_dir, self.node),
                                                    datetime.datetime.now(datetime.timezone.utc), self.renew_days, False, self.node)['certificates']}
        renewed = []
        for row in self.report['certificates']:
            if row['name'] in planned:
                row['expires_after'] = after.get(row['name'], {}).get('expires')
                row['days_left_after'] = after.get(row['name'], {}).get('days_left')
                if row['expires_after'] != row['expires']:
                    renewed.append(row['name'])
                else:
                    self.module.warn('kubeadm certs renew %s succeeded on %s but its expiry did not move (%s)' % (row['name'], self.node, row['expires']))
        result['renewed'] = renewed
        result['diff'] = diff(self.report, renewed, {row['name']: row['expires_after'] for row in self.report['certificates'] if row['name'] in planned})
        return renewed


def run_module(module) -> dict:
    """The kubeadm_certs module: a result, or fail_json with what, where and what to do (redacted, no traceback)."""
    host = _Node(module)
    failure = None
    try:
        run = _Run(host)
        result = run.predict() if module.check_mode else run.apply()
    except CertsError as error:
        failure = error
    # any other error, redacted; SystemExit from fail_json is no Exception and passes through
    except Exception as error:  # pylint: disable=broad-except
        host.fail('kubeadm_certs failed on %s: %s: %s' % (host.name, type(error).__name__, error), strict=True)
    if failure is not None:
        host.fail(str(failure), **failure.result)
    if not module._diff:  # pylint: disable=protected-access
        result.pop('diff', None)
    return host.redact(result)
