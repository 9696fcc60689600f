# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The members of a kubeadm cluster's stacked etcd, through etcd's own JSON gateway (no etcdctl needed on the host).

etcd serves its v3 API as JSON over HTTPS next to gRPC (``--enable-grpc-gateway``, on by default in 3.4 to 3.7), so a
control plane asks its local member with the certificate kubeadm made for health checks, with nothing but Python's
standard library. Member IDs are uint64 numbers, which the gateway writes as decimal strings.
"""
from __future__ import annotations

import http.client
import json
import ssl
import time
import urllib.parse

PKI = '/etc/kubernetes/pki/etcd'
LOCAL = 'https://127.0.0.1:2379'


class EtcdError(Exception):
    """etcd did not answer, or refused."""


def https_request(url: str, context: ssl.SSLContext, timeout: float, method: str = 'GET', body: bytes | None = None,
                  limit: int = 1 << 20) -> tuple[int, str]:
    """(status, body text) of one HTTPS request with this TLS context. http.client, not urllib: never through a proxy of
    the host's environment (https_proxy), for requests that go to a node's own etcd or API server."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout, context=context)
    try:
        connection.request(method, (parts.path or '/') + ('?' + parts.query if parts.query else ''), body=body,
                           headers={'Content-Type': 'application/json'} if body is not None else {})
        response = connection.getresponse()
        return response.status, response.read(limit).decode('utf-8', 'replace')
    finally:
        connection.close()


class Members:
    """Member list, health and removal of one etcd cluster, asked at one client URL."""

    def __init__(self, endpoint: str = LOCAL, pki: str = PKI, timeout: float = 5.0) -> None:
        self.endpoint = endpoint.rstrip('/')
        self.pki = pki
        self.timeout = timeout
        self._context = None

    def context(self) -> ssl.SSLContext:
        if self._context is None:
            try:
                context = ssl.create_default_context(cafile='%s/ca.crt' % self.pki)
                context.load_cert_chain('%s/healthcheck-client.crt' % self.pki, '%s/healthcheck-client.key' % self.pki)
            except (OSError, ssl.SSLError) as exc:
                raise EtcdError('cannot read the etcd client certificate under %s (%s): is this a control plane of a cluster with stacked '
                                'etcd?' % (self.pki, exc.__class__.__name__)) from None
            self._context = context
        return self._context

    def call(self, path: str, body: dict, endpoint: str | None = None, timeout: float | None = None) -> dict:
        url = '%s%s' % ((endpoint or self.endpoint).rstrip('/'), path)
        try:
            status, text = https_request(url, self.context(), timeout or self.timeout, 'POST', json.dumps(body).encode('utf-8'))
        except (OSError, http.client.HTTPException) as exc:
            raise EtcdError('etcd at %s did not answer %s (%s)' % (endpoint or self.endpoint, path, exc)) from None
        if status != 200:
            raise EtcdError('etcd at %s answered %s to %s: %s' % (endpoint or self.endpoint, status, path, text[:300]))
        try:
            return json.loads(text or '{}')
        except ValueError:
            raise EtcdError('etcd at %s answered %s with something that is not JSON' % (endpoint or self.endpoint, path)) from None

    def list(self) -> list[dict]:
        """[{id, name, peer_urls, client_urls, learner}] of every member."""
        answer = self.call('/v3/cluster/member/list', {})
        return [member_summary(m) for m in answer.get('members') or []]

    def healthy(self, member: dict) -> bool:
        """Whether a member answers a status request at one of its client URLs."""
        for url in member.get('client_urls') or []:
            try:
                self.call('/v3/maintenance/status', {}, endpoint=url)
                return True
            except EtcdError:
                continue
        return False

    def leader(self) -> str:
        """The ID of the member that leads now, as this endpoint sees it ('0' while an election runs)."""
        return str(self.call('/v3/maintenance/status', {}).get('leader', '0'))

    def remove(self, member_id: str, timeout: float = 60.0, clock=time.monotonic, sleep=time.sleep) -> None:
        """Remove a member once another member leads: a proposal made while the members elect a new leader (the one to
        remove led and has just gone down) is lost and its request hangs, so wait for the election first."""
        deadline = clock() + timeout
        while True:
            try:
                leader = self.leader()
            except EtcdError:
                leader = '0'
            if leader not in ('0', '', str(member_id)):
                break
            if clock() >= deadline:
                raise EtcdError('no other member took the lead within %d s (the members that answer have no quorum?); nothing was '
                                'removed' % timeout)
            sleep(0.5)
        # a membership change is a raft commit across the members that answer: allow it longer than a read
        self.call('/v3/cluster/member/remove', {'ID': member_id}, timeout=max(30.0, self.timeout))


def member_summary(member: dict) -> dict:
    return {'id': str(member.get('ID', '')), 'name': member.get('name', ''), 'peer_urls': list(member.get('peerURLs') or []),
            'client_urls': list(member.get('clientURLs') or []), 'learner': bool(member.get('isLearner'))}


def quorum(size: int) -> int:
    """Members that must be healthy for a cluster of size members to work."""
    return size // 2 + 1


def removal_problem(members: list[dict], removing: list[str], healthy: dict) -> str | None:
    """Why removing the members named in removing would break etcd (None when it is safe).

    healthy: {member name: bool} for every member. etcd removes a member only with a quorum of the members it has now,
    removing never leaves no member, and the members that stay must still have a quorum among them once the others are
    gone (a 3-member cluster with one member down cannot lose a healthy one).
    """
    staying = [m for m in members if m['name'] not in removing]
    if not staying:
        return ('it would remove every etcd member (%s): a cluster needs at least one control plane; to tear the cluster down use '
                'playbooks/reset.yml' % ', '.join(sorted(m['name'] for m in members)))
    up_now = [m['name'] for m in members if healthy.get(m['name'])]
    if len(up_now) < quorum(len(members)):
        return ('etcd has no quorum now: %d of its %d members answer (%s) and %d must; bring members back before removing any'
                % (len(up_now), len(members), ', '.join(sorted(up_now)) or 'none', quorum(len(members))))
    up = [m['name'] for m in staying if healthy.get(m['name'])]
    need = quorum(len(staying))
    if len(up) < need:
        down = sorted(m['name'] for m in staying if not healthy.get(m['name']))
        return ('after removing %s, %d etcd member(s) stay (%s) and need %d healthy for a quorum, but only %d answer (down: %s); bring '
                'them back first, or remove the members that are down first'
                % (', '.join(sorted(removing)), len(staying), ', '.join(sorted(m['name'] for m in staying)), need, len(up),
                   ', '.join(down) or 'none'))
    return None
