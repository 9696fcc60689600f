# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The converge of a set of microservices: what it reports, prunes and refuses (an in-memory client).

The generic pieces have their own tests (test__k8s_apply.py, test__k8s_wait.py); the API-facing behaviour
(apply, prune, wait, check mode) is tested against a real API server in tests/integration.
"""
from __future__ import annotations

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_ops as ops
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError

SELECTOR = 'app.kubernetes.io/managed-by=kubeseed,kubeseed.io/set=shop'
SERVICES = [{'name': 'api', 'image': 'a:1', 'config': {'A': '1'}}, {'name': 'web', 'image': 'w:1', 'namespace': 'web', 'ports': [{'port': 80}]}]


def _actions(result):
    return [(o['kind'], o['namespace'], o['name'], o['action']) for o in result['objects']]


def _converge(client, services=None, **options):
    options = dict({'wait': False, 'workers': 2}, **options)
    return ops.converge(client, SERVICES if services is None else services, 'shop', 'shop', **options)


def test_list_set_falls_back_to_the_namespaces_it_may_read(fake_client):
    # credentials that may not list across namespaces (403), only inside 'shop'
    forbidden = {('list', (kind, None, SELECTOR)): K8sError('forbidden', 403) for kind in ops.render.PRUNABLE_KINDS}
    deploy = {'kind': 'Deployment', 'metadata': {'name': 'x', 'namespace': 'shop', 'labels': {
        'app.kubernetes.io/managed-by': 'kubeseed', 'kubeseed.io/set': 'shop'}}}
    client = fake_client([deploy], errors=forbidden)
    live = ops.list_set(client, 'shop', workers=1, namespaces=['shop'])
    assert list(live) == [('Deployment', 'shop', 'x')]
    assert all(call[3] == SELECTOR for call in client.calls)
    with pytest.raises(K8sError):
        ops.list_set(fake_client(errors=forbidden), 'shop', workers=1)


def test_converge_creates_then_changes_nothing(fake_client):
    client = fake_client()
    result = _converge(client, want_diff=True)
    assert result['changed'] is True
    assert _actions(result) == [('Namespace', '', 'shop', 'created'), ('Namespace', '', 'web', 'created'),
                                ('ConfigMap', 'shop', 'api-config', 'created'), ('Service', 'web', 'web', 'created'),
                                ('Deployment', 'shop', 'api', 'created'), ('Deployment', 'web', 'web', 'created')]
    assert [d['after_header'] for d in result['diff']] == ['ConfigMap shop/api-config', 'Service web/web', 'Deployment shop/api',
                                                           'Deployment web/web']
    assert result['rollouts'] == []
    again = _converge(client, want_diff=True)
    assert again['changed'] is False and again['diff'] == []
    assert {o['action'] for o in again['objects']} == {'unchanged'}


def test_check_mode_changes_nothing_and_says_what_would_be_created(fake_client):
    client = fake_client()
    result = _converge(client, check_mode=True)
    assert result['changed'] is True and {o['action'] for o in result['objects']} == {'created'}
    assert client.objects == {}


def test_prune_and_absent_delete_only_what_is_ours_and_no_longer_listed(fake_client):
    client = fake_client()
    _converge(client)
    client.objects[('ConfigMap', 'shop', 'theirs')] = {'kind': 'ConfigMap', 'metadata': {
        'name': 'theirs', 'namespace': 'shop', 'labels': {'app.kubernetes.io/managed-by': 'kubeseed', 'kubeseed.io/set': 'shop'}}}
    result = _converge(client, SERVICES[:1], want_diff=True)
    # in reverse apply order: the Deployment before the Service
    assert [o for o in _actions(result) if o[3] != 'unchanged'] == [('Deployment', 'web', 'web', 'pruned'),
                                                                    ('Service', 'web', 'web', 'pruned')]
    assert [d['after'] for d in result['diff']] == ['', '']
    assert _actions(_converge(client, SERVICES[:1], prune=False)) == [('ConfigMap', 'shop', 'api-config', 'unchanged'),
                                                                      ('Deployment', 'shop', 'api', 'unchanged')]
    result = _converge(client, [], state='absent')
    assert _actions(result) == [('Deployment', 'shop', 'api', 'deleted'), ('ConfigMap', 'shop', 'api-config', 'deleted')]
    assert sorted(client.objects) == [('ConfigMap', 'shop', 'theirs'), ('Namespace', '', 'shop'), ('Namespace', '', 'web')]


def test_every_failed_apply_is_reported_with_what_was_done(fake_client):
    client = fake_client(errors={('apply', ('ConfigMap', 'shop', 'api-config')): K8sError('conflict', 409),
                                 ('apply', ('Deployment', 'web', 'web')): K8sError('invalid', 422)})
    with pytest.raises(ops.ConvergeError) as caught:
        _converge(client)
    assert str(caught.value) == ('2 object(s) could not be applied:\n'
                                 '- ConfigMap shop/api-config: conflict (another field manager owns these fields: change them back there,'
                                 ' or set force_conflicts to take them over)\n'
                                 '- Deployment web/web: invalid')
    partial = caught.value.result
    assert partial['changed'] is True
    assert _actions(partial)[-2:] == [('Service', 'web', 'web', 'created'), ('Deployment', 'shop', 'api', 'created')]


def test_a_failed_delete_or_list_is_reported(fake_client):
    client = fake_client()
    _converge(client)
    client.errors[('delete', ('Service', 'web', 'web'))] = K8sError('busy', 500)
    with pytest.raises(ops.ConvergeError, match=r'^1 object\(s\) could not be deleted:\n- Service web/web: busy$') as caught:
        _converge(client, SERVICES[:1])
    assert ('Deployment', 'web', 'web', 'pruned') in _actions(caught.value.result)
    client.errors[('list', ('Deployment', None, SELECTOR))] = K8sError('down', 503)
    with pytest.raises(ops.ConvergeError, match='^down$') as caught:
        _converge(client)
    assert caught.value.result == {'changed': False, 'objects': [], 'diff': [], 'rollouts': [], 'rollbacks': [], 'jobs': []}


def test_rollouts_that_do_not_finish_fail_the_converge(fake_client):
    with pytest.raises(ops.ConvergeError, match=r'^2 of 2 Deployment\(s\) did not roll out within 0s:\nDeployment shop/api: ') as caught:
        _converge(fake_client(), wait=True, wait_timeout=0)
    assert caught.value.result['rollouts'] == [
        {'kind': 'Deployment', 'namespace': 'shop', 'name': 'api', 'ready': False, 'replicas': 1, 'available': 0},
        {'kind': 'Deployment', 'namespace': 'web', 'name': 'web', 'ready': False, 'replicas': 1, 'available': 0}]
    assert _converge(fake_client(), wait=True, check_mode=True)['rollouts'] == []


def test_a_failed_rollout_is_rolled_back_and_still_fails(fake_client, monkeypatch):
    import copy  # pylint: disable=import-outside-toplevel

    def rollouts(client, deployments, timeout, workers=8):  # the new release never comes up; a rollback does
        back = [d for d in deployments if d['spec']['template']['spec']['containers'][0]['image'] == 'a:0']
        summaries = [{'kind': 'Deployment', 'namespace': d['metadata']['namespace'], 'name': d['metadata']['name'], 'ready': d in back,
                      'replicas': 1, 'available': 1 if d in back else 0} for d in deployments]
        return summaries, ['Deployment %s/%s: 0 available' % (d['metadata']['namespace'], d['metadata']['name']) for d in deployments if d not in back]

    class Server(fake_client):
        """Keeps a Deployment's revision annotation (the controller's) and counts it up when the pod template changes."""

        def apply(self, obj, field_manager='kubeseed', force=False, dry_run=False):
            before = self.objects.get(ops.render.object_key(obj))
            status, after = super().apply(obj, field_manager, force, dry_run)
            if obj['kind'] == 'Deployment' and not dry_run:
                revision = int(((before or {}).get('metadata', {}).get('annotations') or {}).get('deployment.kubernetes.io/revision', 0))
                if before is None or before['spec']['template'] != obj['spec']['template']:
                    revision += 1
                self.objects[ops.render.object_key(obj)]['metadata'].setdefault('annotations', {})['deployment.kubernetes.io/revision'] = str(revision)
            return status, after

    monkeypatch.setattr(ops, 'wait_rollouts', rollouts)
    client = Server()
    _converge(client)  # the first release: nothing to go back to
    old = copy.deepcopy(client.objects[('Deployment', 'shop', 'api')]['spec']['template'])
    old['spec']['containers'][0]['image'] = 'a:0'
    client.objects[('ReplicaSet', 'shop', 'api-1')] = {
        'kind': 'ReplicaSet', 'metadata': {'name': 'api-1', 'namespace': 'shop', 'annotations': {'deployment.kubernetes.io/revision': '1'},
                                           'ownerReferences': [{'kind': 'Deployment', 'name': 'api'}],
                                           'labels': client.objects[('Deployment', 'shop', 'api')]['spec']['selector']['matchLabels']},
        'spec': {'template': old}}
    services = [dict(SERVICES[0], image='a:2'), SERVICES[1]]
    with pytest.raises(ops.ConvergeError) as caught:
        _converge(client, services, wait=True, on_failure='rollback')
    message = str(caught.value)
    assert message.startswith('2 of 2 Deployment(s) did not roll out within 300s:')
    assert '- Deployment shop/api: rolled back to revision 1 (image a:0), available again' in message
    assert '- Deployment web/web: not rolled back: no earlier revision (its first rollout)' in message
    assert [(r['name'], r['rolled_back']) for r in caught.value.result['rollbacks']] == [('api', True), ('web', False)]
    assert client.objects[('Deployment', 'shop', 'api')]['spec']['template']['spec']['containers'][0]['image'] == 'a:0'
    # keep (the default) leaves the failed release in place
    with pytest.raises(ops.ConvergeError) as kept:
        _converge(client, services, wait=True)
    assert 'Rolled back' not in str(kept.value) and kept.value.result['rollbacks'] == []


RELEASE = [{'name': 'api', 'image': 'a:2', 'config': {'A': '1'}}, {'name': 'web', 'image': 'w:1'},
           {'name': 'migrate', 'image': 'a:2', 'args': ['migrate'], 'job': {'runBefore': ['api']}}]


def _finish_jobs(state):
    """A wait_jobs stand-in: every Job ends in state (the job controller and kubelet are not here)."""
    waited = []

    def finish(client, jobs, timeout, workers=8):
        running = [j for j in jobs if ops.job_state(j) == 'running']  # as the real wait: a finished Job costs no request
        if running:
            waited.append(sorted(j['metadata']['name'] for j in running))
        summaries = [{'kind': 'Job', 'namespace': j['metadata']['namespace'], 'name': j['metadata']['name'],
                      'state': state if j in running else ops.job_state(j)} for j in jobs]
        return summaries, ['Job %s: failed\n    | ERROR: migration 7' % s['name'] for s in summaries if s['state'] != 'complete']
    return finish, waited


def test_a_job_runs_before_the_services_that_wait_for_it(fake_client, monkeypatch):
    finish, waited = _finish_jobs('complete')
    monkeypatch.setattr(ops, 'wait_jobs', finish)
    client = fake_client()
    applied = []
    original = client.apply

    def record(obj, *args, **kwargs):
        applied.append((obj['kind'], obj['metadata']['name'], len(waited)))
        return original(obj, *args, **kwargs)

    client.apply = record
    result = _converge(client, RELEASE)
    job = next(name for kind, name, _w in applied if kind == 'Job')
    # web and the job first, then (after one wait) what belongs to api
    assert [(k, n) for k, n, w in applied if w == 0] == [('Namespace', 'shop'), ('Deployment', 'web'), ('Job', job)]
    assert [(k, n) for k, n, w in applied if w == 1] == [('ConfigMap', 'api-config'), ('Deployment', 'api')]
    assert result['jobs'] == [{'kind': 'Job', 'namespace': 'shop', 'name': job, 'state': 'complete'}]
    assert [r for r in result['summary'] if r['service'] == 'migrate'][0]['ready'] == 'complete'
    assert result['summary_table'][0] == 'set shop: 2 service(s), 1 job(s), 3 changed'
    # the same release again: the Job is there and complete, nothing runs again
    client.objects[('Job', 'shop', job)]['status'] = {'conditions': [{'type': 'Complete', 'status': 'True'}]}
    again = _converge(client, RELEASE)
    assert again['changed'] is False and len(waited) == 1
    # a new release: a new Job, the old one pruned after the services are applied
    release = [dict(s, image='a:3') if s['name'] in ('api', 'migrate') else s for s in RELEASE]
    newer = _converge(client, release)
    assert ('Job', 'shop', job, 'pruned') in _actions(newer) and len(waited) == 2 and waited[1] != [job]


def test_a_failed_job_leaves_the_services_that_wait_for_it_untouched_and_runs_again_next_time(fake_client, monkeypatch):
    finish, waited = _finish_jobs('failed')
    monkeypatch.setattr(ops, 'wait_jobs', finish)
    client = fake_client()
    _converge(client, RELEASE[:2])
    before = client.objects[('Deployment', 'shop', 'api')]
    release = [dict(s, image='a:3') if s['name'] == 'api' else s for s in RELEASE]
    with pytest.raises(ops.ConvergeError, match=r"^1 of 1 Job\(s\) that run before services did not complete, so these were not applied \(they "
                                                r"run as before\): Deployment shop/api\nJob migrate-\w+: failed\n    \| ERROR: migration 7$") as caught:
        _converge(client, release)
    assert client.objects[('Deployment', 'shop', 'api')] == before
    job = [k for k in client.objects if k[0] == 'Job'][0]
    assert ('Job', 'shop', job[2], 'created') in _actions(caught.value.result) and caught.value.result['changed'] is True
    # the Job failed: check mode says it would run again, a real run deletes it and runs it again
    client.objects[job]['status'] = {'conditions': [{'type': 'Failed', 'status': 'True'}]}
    assert ('Job', 'shop', job[2], 'rerun') in _actions(_converge(client, release, check_mode=True))
    assert client.objects[job]['status'] and len(waited) == 1  # check mode: still the failed one, not waited for
    monkeypatch.setattr(ops, 'wait_jobs', _finish_jobs('complete')[0])
    result = _converge(client, release)
    assert ('Job', 'shop', job[2], 'rerun') in _actions(result) and ('Deployment', 'shop', 'api', 'configured') in _actions(result)
    assert ('delete', ) + job in client.calls and 'status' not in client.objects[job]


class _Discovering:
    """A served-kinds table for the in-memory client: discover() as the API server's discovery answers it."""

    SERVED = {('networking.k8s.io/v1', 'NetworkPolicy'): True, ('rbac.authorization.k8s.io/v1', 'ClusterRole'): False,
              ('v1', 'ConfigMap'): True, ('v1', 'Secret'): True}

    def discover(self, api_version, kind):
        self.calls.append(('discover', api_version, kind))
        if (api_version, kind) not in self.SERVED:
            raise K8sError('kind %s is not served in %s by this cluster' % (kind, api_version), 404)
        return self.SERVED[(api_version, kind)]


EXTRA = [{'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'deny'}, 'spec': {'podSelector': {}}},
         {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'shop-reader'}, 'rules': []}]


def test_extra_objects_are_owned_recorded_and_pruned_even_when_their_kind_leaves_the_list(fake_client):
    client = type('Client', (_Discovering, fake_client), {})()
    result = _converge(client, SERVICES[:1], extra_objects=EXTRA)
    assert ('NetworkPolicy', 'shop', 'deny', 'created') in _actions(result)  # namespaced: the set's namespace
    assert ('ClusterRole', '', 'shop-reader', 'created') in _actions(result)
    record = client.objects[('ConfigMap', 'shop', 'kubeseed-set-shop-extra-kinds')]
    assert record['data'] == {'kinds': 'networking.k8s.io/v1 NetworkPolicy\nrbac.authorization.k8s.io/v1 ClusterRole\n'}
    assert client.objects[('NetworkPolicy', 'shop', 'deny')]['metadata']['labels'] == {
        'app.kubernetes.io/managed-by': 'kubeseed', 'kubeseed.io/set': 'shop'}
    assert [r for r in result['summary'] if r['kind'] == 'extra'] == [
        {'service': 'extra objects', 'namespace': '-', 'kind': 'extra', 'image': '-', 'ready': None, 'endpoints': ['2 object(s)'],
         'changes': ['ClusterRole shop-reader created', 'NetworkPolicy deny created']}]
    assert result['summary_table'][0] == 'set shop: 1 service(s), 2 changed'  # the extra objects' row is not a service
    again = _converge(client, SERVICES[:1], extra_objects=EXTRA)
    assert again['changed'] is False
    # the ClusterRole's kind is no longer in the list at all: found through the record, pruned, and the record follows
    pruned = _converge(client, SERVICES[:1], extra_objects=EXTRA[:1])
    assert [a for a in _actions(pruned) if a[3] != 'unchanged'] == [('ConfigMap', 'shop', 'kubeseed-set-shop-extra-kinds', 'configured'),
                                                                    ('ClusterRole', '', 'shop-reader', 'pruned')]
    assert client.objects[('ConfigMap', 'shop', 'kubeseed-set-shop-extra-kinds')]['data'] == {'kinds': 'networking.k8s.io/v1 NetworkPolicy\n'}
    assert _converge(client, SERVICES[:1], extra_objects=EXTRA[:1])['changed'] is False  # the record written once
    last = _converge(client, SERVICES[:1], extra_objects=[])
    assert [a for a in _actions(last) if a[3] != 'unchanged'] == [('NetworkPolicy', 'shop', 'deny', 'pruned'),
                                                                  ('ConfigMap', 'shop', 'kubeseed-set-shop-extra-kinds', 'pruned')]
    assert len(last['objects']) == len(set(_actions(last)))  # each object once
    assert not [k for k in client.objects if k[0] in ('NetworkPolicy', 'ClusterRole') or k[2].startswith('kubeseed-set-')]


def test_extra_objects_the_cluster_does_not_serve_or_refuses_apply_nothing(fake_client):
    class Refusing(_Discovering, fake_client):
        def apply(self, obj, field_manager='kubeseed', force=False, dry_run=False):
            if obj['kind'] == 'NetworkPolicy' and 'podSelektor' in obj['spec']:
                self.calls.append(('apply', obj['kind'], obj['metadata']['namespace'], obj['metadata']['name']))
                raise K8sError('PATCH ...: 400 .spec.podSelektor: field not declared in schema', 400)
            return super().apply(obj, field_manager, force, dry_run)

    client = Refusing()
    unknown = [dict(EXTRA[0], apiVersion='networking.k8s.io/v2'), dict(EXTRA[1], metadata={'name': 'r', 'namespace': 'shop'})]
    with pytest.raises(ops.ConvergeError, match=r'^2 problem\(s\) in kubeseed_microservices_extra_objects; nothing was applied:\n'
                                                r'- kubeseed_microservices_extra_objects\[0\]: kind NetworkPolicy is not served in networking.k8s.io/v2 '
                                                r'by this cluster\n- kubeseed_microservices_extra_objects\[1\].metadata.namespace: ClusterRole is '
                                                r'cluster-scoped: remove the namespace$'):
        _converge(client, SERVICES[:1], extra_objects=unknown)
    clash = [{'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'api-config'}}]
    with pytest.raises(ops.ConvergeError, match=r'\[0\]: ConfigMap shop/api-config is also an object of a service'):
        _converge(client, SERVICES[:1], extra_objects=clash)
    misspelt = [dict(EXTRA[0], spec={'podSelektor': {}})]
    with pytest.raises(ops.ConvergeError, match=r'^1 object\(s\) of kubeseed_microservices_extra_objects were refused by the API server; '
                                                r'nothing was applied:\n- NetworkPolicy shop/deny: PATCH ...: 400 .spec.podSelektor: field '
                                                r'not declared in schema$'):
        _converge(client, SERVICES[:1], extra_objects=misspelt)
    assert client.objects == {} and not [c for c in client.calls if c[0] == 'delete']
