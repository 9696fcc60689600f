"""The microservices module and the apps playbook against a real API server: create, no-op, one change,
prune, check mode, diff without secrets, validation, rollout failure report, conflicts, state=absent."""
from __future__ import annotations

import base64
import json
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

SECRET = 'pa55-w0rd-never-shown'
NEW_SECRET = 'n3w-pa55-never-shown'


def services(replicas: int = 1, config_level: str = 'info', with_worker: bool = True, node_port: int | None = None) -> list:
    port = {'port': 80, 'targetPort': 8080}
    if node_port:
        port['nodePort'] = node_port  # cluster-wide: one test only
    out = [
        {'name': 'frontend', 'image': 'example.com/frontend:1', 'replicas': replicas,
         'ports': [port], 'service': {'type': 'NodePort'},
         'env': {'BACKEND_URL': 'http://backend'}, 'ingress': {'host': 'shop.example.com'}},
        {'name': 'backend', 'image': 'example.com/backend:1', 'ports': [{'port': 80, 'targetPort': 8080}],
         'config': {'LOG_LEVEL': config_level}, 'secrets': {'DB_PASSWORD': SECRET},
         'readiness': {'httpGet': {'path': '/healthz', 'port': 'http'}}, 'pdb': {'minAvailable': 1},
         'autoscaling': {'min': 1, 'max': 3}},
    ]
    if with_worker:
        # fields passed through as written: the API server takes them, and a re-run finds them still ours (managedFields)
        ssd = {'weight': 50, 'preference': {'matchExpressions': [{'key': 'disk', 'operator': 'In', 'values': ['ssd']}]}}
        out.append({'name': 'worker', 'image': 'example.com/worker:1', 'config': {'QUEUE': 'jobs'},
                    'affinity': {'nodeAffinity': {'preferredDuringSchedulingIgnoredDuringExecution': [ssd]}},
                    'topologySpread': [{'maxSkew': 1, 'topologyKey': 'topology.kubernetes.io/zone', 'whenUnsatisfiable': 'DoNotSchedule',
                                        'minDomains': 2, 'nodeTaintsPolicy': 'Honor'}]})
    return out


def actions(result: dict) -> dict:
    return {(o['kind'], o['name']): o['action'] for o in result['objects']}


def changed_objects(result: dict) -> set:
    return {k for k, a in actions(result).items() if a != 'unchanged'}


def test_create_noop_then_one_change(run, api):
    ns = 'it-create'
    first = run.module(services=services(node_port=30080), namespace=ns, set_name='shop')
    assert not first.get('failed'), first.get('msg')
    assert first['changed'] is True
    assert set(actions(first).values()) == {'created'}
    assert len(first['objects']) == 12  # 1 Namespace + 3 Deployments, 2 Services, 2 ConfigMaps, 1 Secret, HPA, PDB, Ingress
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    deploy = apps.read_namespaced_deployment('frontend', ns)
    assert deploy.metadata.labels['app.kubernetes.io/managed-by'] == 'kubeseed'
    assert deploy.metadata.labels['kubeseed.io/set'] == 'shop'
    assert any(f.manager == 'kubeseed' and f.operation == 'Apply' for f in deploy.metadata.managed_fields)
    assert core.read_namespaced_service('frontend', ns).spec.ports[0].node_port == 30080
    worker = apps.read_namespaced_deployment('worker', ns).spec.template.spec
    assert [(c.topology_key, c.when_unsatisfiable, c.min_domains) for c in worker.topology_spread_constraints] == [
        ('kubernetes.io/hostname', 'ScheduleAnyway', None), ('topology.kubernetes.io/zone', 'DoNotSchedule', 2)]
    assert worker.affinity.node_affinity.preferred_during_scheduling_ignored_during_execution[0].weight == 50
    secret = core.read_namespaced_secret('backend-secrets', ns)
    assert base64.b64decode(secret.data['DB_PASSWORD']).decode() == SECRET
    assert SECRET not in str(first)

    second = run.module(services=services(node_port=30080), namespace=ns, set_name='shop')
    assert second['changed'] is False, changed_objects(second)
    assert set(actions(second).values()) == {'unchanged'}
    assert len(second['objects']) == 11  # the namespace exists: not even looked at again

    third = run.module(services=services(replicas=2, node_port=30080), namespace=ns, set_name='shop')
    assert third['changed'] is True
    assert changed_objects(third) == {('Deployment', 'frontend')}
    assert apps.read_namespaced_deployment('frontend', ns).spec.replicas == 2


def test_config_change_rolls_the_pods(run, api):
    ns = 'it-roll'
    first = run.module(services=services(), namespace=ns, set_name='shop')
    assert not first.get('failed'), first.get('msg')
    apps = client.AppsV1Api(api)
    before = apps.read_namespaced_deployment('backend', ns).spec.template.metadata.annotations['kubeseed.io/config-checksum']
    result = run.module(services=services(config_level='debug'), namespace=ns, set_name='shop')
    assert changed_objects(result) == {('ConfigMap', 'backend-config'), ('Deployment', 'backend')}
    after = apps.read_namespaced_deployment('backend', ns).spec.template.metadata.annotations['kubeseed.io/config-checksum']
    assert after != before
    # The real Deployment controller starts a second ReplicaSet: the pods roll.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sets = apps.list_namespaced_replica_set(ns, label_selector='app.kubernetes.io/name=backend').items
        if len(sets) >= 2:
            break
        time.sleep(0.5)
    assert len(sets) >= 2
    # A new secret value rolls them too, and is still never shown.
    rolled = run.module(services=services(config_level='debug'), secrets={'backend': {'DB_PASSWORD': NEW_SECRET}},
                        namespace=ns, set_name='shop')
    assert changed_objects(rolled) == {('Secret', 'backend-secrets'), ('Deployment', 'backend')}
    assert NEW_SECRET not in str(rolled)


def test_removed_service_is_pruned_and_lookalikes_survive(run, api):
    ns = 'it-prune'
    first = run.module(services=services(), namespace=ns, set_name='shop')
    assert not first.get('failed'), first.get('msg')
    core = client.CoreV1Api(api)
    labels = {'app.kubernetes.io/managed-by': 'kubeseed', 'kubeseed.io/set': 'shop', 'app.kubernetes.io/name': 'worker'}
    # Same labels, but created by someone else (kubectl-like create): not ours.
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name='lookalike', labels=labels), data={'a': 'b'}))
    # Ours in every way but of another set.
    other = run.module(services=[{'name': 'worker2', 'image': 'x:1', 'config': {'A': 'b'}}], namespace=ns, set_name='other-team')
    assert not other.get('failed'), other.get('msg')

    result = run.module(services=services(with_worker=False), namespace=ns, set_name='shop')
    assert not result.get('failed'), result.get('msg')
    assert {k for k, a in actions(result).items() if a == 'pruned'} == {('Deployment', 'worker'), ('ConfigMap', 'worker-config')}
    assert changed_objects(result) == {('Deployment', 'worker'), ('ConfigMap', 'worker-config')}
    apps = client.AppsV1Api(api)
    with pytest.raises(ApiException) as gone:
        apps.read_namespaced_deployment('worker', ns)
    assert gone.value.status == 404
    assert core.read_namespaced_config_map('lookalike', ns).data == {'a': 'b'}
    assert core.read_namespaced_config_map('worker2-config', ns).data == {'A': 'b'}
    assert apps.read_namespaced_deployment('worker2', ns)
    assert apps.read_namespaced_deployment('frontend', ns)
    again = run.module(services=services(with_worker=False), namespace=ns, set_name='shop')
    assert again['changed'] is False


def test_check_mode_predicts_without_acting(run, api):
    ns = 'it-check'
    predicted = run.module('--check', services=services(), namespace=ns, set_name='shop')
    assert not predicted.get('failed'), predicted.get('msg')
    assert predicted['changed'] is True
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException):
        core.read_namespace(ns)
    real = run.module(services=services(), namespace=ns, set_name='shop')
    assert actions(real) == actions(predicted)

    # Against existing objects the server-side dry-run sees exactly one change, and changes nothing.
    predicted = run.module('--check', services=services(replicas=3, with_worker=False), namespace=ns, set_name='shop')
    assert changed_objects(predicted) == {('Deployment', 'frontend'), ('Deployment', 'worker'), ('ConfigMap', 'worker-config')}
    assert actions(predicted)[('Deployment', 'worker')] == 'pruned'
    apps = client.AppsV1Api(api)
    assert apps.read_namespaced_deployment('frontend', ns).spec.replicas == 1
    assert apps.read_namespaced_deployment('worker', ns)
    noop = run.module('--check', services=services(), namespace=ns, set_name='shop')
    assert noop['changed'] is False


def test_diff_shows_changes_without_secret_values(run):
    ns = 'it-diff'
    created = run.module('--diff', services=services(), namespace=ns, set_name='shop')
    stdout = run.stdout
    assert not created.get('failed'), created.get('msg')
    assert SECRET not in stdout and base64.b64encode(SECRET.encode()).decode() not in stdout
    assert '"DB_PASSWORD": "<hidden>"' in stdout
    result = run.module('--diff', '--check', services=services(replicas=2), secrets={'backend': {'DB_PASSWORD': NEW_SECRET}},
                        namespace=ns, set_name='shop')
    stdout = run.stdout
    assert changed_objects(result) == {('Deployment', 'frontend'), ('Deployment', 'backend'), ('Secret', 'backend-secrets')}
    for value in (SECRET, NEW_SECRET):
        assert value not in stdout and value not in str(result)
        assert base64.b64encode(value.encode()).decode() not in stdout
    assert '--- before: Secret it-diff/backend-secrets' in stdout
    assert '-    "DB_PASSWORD": "<hidden>"' in stdout and '+    "DB_PASSWORD": "<hidden, changed>"' in stdout
    assert '-    "replicas": 1,' in stdout and '+    "replicas": 2,' in stdout
    assert '--- before: Deployment it-diff/frontend' in stdout
    assert 'kubeseed.io/config-checksum' in stdout  # the backend pods would roll


def test_validation_lists_every_problem_and_applies_nothing(run, api):
    bad = services()
    bad[0]['ports'][0]['port'] = 70000
    bad[2]['name'] = 'Worker'
    result = run.module(services=bad, namespace='it-invalid', set_name='shop')
    stdout = run.stdout
    assert result['failed'] is True
    assert 'kubeseed_microservices[0].ports[0].port: 70000 is greater than the maximum of 65535' in result['problems']
    assert any(p.startswith('kubeseed_microservices[2].name: ') for p in result['problems'])
    assert 'nothing was applied' in result['msg']
    assert SECRET not in stdout
    with pytest.raises(ApiException):
        client.CoreV1Api(api).read_namespace('it-invalid')


def test_rollout_timeout_reports_pod_reasons_and_events(run):
    result = run.module(services=[{'name': 'stuck', 'image': 'example.com/stuck:1'}], namespace='it-wait', set_name='shop',
                        wait=True, wait_timeout=10)
    assert result['failed'] is True
    assert result['changed'] is True  # it was applied; only the rollout failed
    msg = result['msg']
    assert '1 of 1 Deployment(s) did not roll out within 10s' in msg
    assert 'Deployment it-wait/stuck: 1 of 1 replicas updated, 0 available' in msg
    assert 'PodScheduled=False Unschedulable' in msg  # no node in this control plane
    assert 'event Warning FailedScheduling' in msg
    assert result['rollouts'] == [{'kind': 'Deployment', 'namespace': 'it-wait', 'name': 'stuck', 'ready': False, 'replicas': 1, 'available': 0}]


def test_conflict_with_another_field_manager(run, api):
    ns = 'it-conflict'
    first = run.module(services=services(with_worker=False), namespace=ns, set_name='shop')
    assert not first.get('failed'), first.get('msg')
    apps = client.AppsV1Api(api)
    # Someone changes the image behind our back (kubectl edit / set image).
    apps.patch_namespaced_deployment('frontend', ns, {'spec': {'template': {'spec': {'containers': [
        {'name': 'frontend', 'image': 'example.com/frontend:hotfix'}]}}}}, field_manager='kubectl-edit')
    refused = run.module(services=services(with_worker=False), namespace=ns, set_name='shop')
    assert refused['failed'] is True
    assert 'Deployment it-conflict/frontend' in refused['msg'] and 'conflict with "kubectl-edit"' in refused['msg']
    assert 'set force_conflicts to take them over' in refused['msg']
    assert apps.read_namespaced_deployment('frontend', ns).spec.template.spec.containers[0].image == 'example.com/frontend:hotfix'
    forced = run.module(services=services(with_worker=False), namespace=ns, set_name='shop', force_conflicts=True)
    assert not forced.get('failed'), forced.get('msg')
    assert changed_objects(forced) == {('Deployment', 'frontend')}
    assert apps.read_namespaced_deployment('frontend', ns).spec.template.spec.containers[0].image == 'example.com/frontend:1'


def test_state_absent_deletes_the_set_only(run, api):
    ns = 'it-absent'
    run.module(services=services(), namespace=ns, set_name='shop')
    run.module(services=[{'name': 'keep', 'image': 'x:1'}], namespace=ns, set_name='keep')
    result = run.module(state='absent', namespace=ns, set_name='shop')
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is True
    assert set(actions(result).values()) == {'deleted'}
    assert len(result['objects']) == 11
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    assert apps.read_namespaced_deployment('keep', ns)
    assert core.read_namespace(ns)  # namespaces are never deleted
    again = run.module(state='absent', namespace=ns, set_name='shop')
    assert again['changed'] is False and again['objects'] == []


def test_apps_playbook_standalone_with_the_role(run, api, tmp_path):
    vars_file = tmp_path / 'apps.yml'
    vars_file.write_text('\n'.join([
        'kubeseed_microservices_kubeconfig: %s' % run.kubeconfig,
        'kubeseed_microservices_namespace: it-role',
        'kubeseed_microservices_set: team',
        'kubeseed_microservices_wait: false',
        'kubeseed_microservices:',
        '  - name: api',
        '    image: example.com/api:1',
        '    ports: [{port: 80, targetPort: 8080}]',
        '    secrets: {TOKEN: %s}' % SECRET,
        '',
    ]), encoding='utf-8')
    playbook = str(run.collections / 'ansible_collections' / 'kubeseed' / 'cluster' / 'playbooks' / 'apps.yml')
    first = run.playbook(playbook, '-e', '@%s' % vars_file, '--diff')
    assert first.returncode == 0, first.stdout + first.stderr
    assert 'changed=1' in first.stdout and SECRET not in first.stdout
    assert client.AppsV1Api(api).read_namespaced_deployment('api', 'it-role')
    second = run.playbook(playbook, '-e', '@%s' % vars_file)
    assert second.returncode == 0, second.stdout + second.stderr
    assert 'changed=0' in second.stdout
    bad = run.playbook(playbook, '-e', '@%s' % vars_file, '-e', '{"kubeseed_microservices": [{"name": "x", "image": "y", "replicas": -1}]}')
    assert bad.returncode != 0
    assert 'kubeseed_microservices[0].replicas: -1 is less than the minimum of 0' in bad.stdout


def _applies(api) -> int:
    """Server-side applies the API server has served since it started (its own apiserver_request_total counter)."""
    resp = api.call_api('GET', api.configuration.host + '/metrics')
    resp.read()
    assert resp.status == 200, resp.status
    total = 0.0
    for line in resp.data.decode('utf-8').splitlines():
        if line.startswith('apiserver_request_total{') and 'verb="APPLY"' in line:
            total += float(line.rsplit(' ', 1)[1])
    return int(total)


def test_a_noop_sends_no_write_and_a_field_taken_away_is_applied_again(run, api):
    ns = 'it-noop'
    first = run.module(services=services(), namespace=ns, set_name='shop')
    assert not first.get('failed'), first.get('msg')
    core = client.CoreV1Api(api)
    config = core.read_namespaced_config_map('backend-config', ns)
    assert config.metadata.annotations['kubeseed.io/applied'].startswith('sha256:')
    secret = core.read_namespaced_secret('backend-secrets', ns)
    assert secret.metadata.annotations['kubeseed.io/applied'] not in str(first)  # a fingerprint of the Secret: never shown

    applies = _applies(api)
    assert applies > 0  # the counter does count this run's applies
    for flags in ((), ('--check', '--diff')):
        again = run.module(*flags, services=services(), namespace=ns, set_name='shop')
        assert again['changed'] is False, changed_objects(again)
        assert _applies(api) == applies, flags  # not one apply, not even a dry run

    # Someone removes a key of the ConfigMap by hand: the field is no longer ours, the next run puts it back.
    core.patch_namespaced_config_map('backend-config', ns, [{'op': 'remove', 'path': '/data/LOG_LEVEL'}], field_manager='kubectl-edit')
    predicted = run.module('--check', '--diff', services=services(), namespace=ns, set_name='shop')
    assert changed_objects(predicted) == {('ConfigMap', 'backend-config')}
    assert 'LOG_LEVEL' not in (core.read_namespaced_config_map('backend-config', ns).data or {})
    repaired = run.module(services=services(), namespace=ns, set_name='shop')
    assert changed_objects(repaired) == {('ConfigMap', 'backend-config')}
    assert core.read_namespaced_config_map('backend-config', ns).data['LOG_LEVEL'] == 'info'
    assert _applies(api) == applies + 2  # the dry run and the apply of that one object
    assert run.module(services=services(), namespace=ns, set_name='shop')['changed'] is False
    assert _applies(api) == applies + 2


def test_a_persistent_volume_claim_is_applied_once_and_kept_with_its_data_when_its_service_goes(run, api):
    """A persistent volume is a claim of the set (applied before the Deployment that mounts it; a re-run sends nothing);
    removing the service prunes its Deployment but keeps the claim, warning with its name; so does state=absent."""
    ns = 'it-volumes'
    db = {'name': 'db', 'image': 'example.com/db:1', 'volumes': {'data': {'mountPath': '/var/lib/db', 'persistent': {'size': '64Mi'}}}}
    web = {'name': 'web', 'image': 'example.com/web:1'}
    first = run.module(services=[db, web], namespace=ns, set_name='stateful')
    assert not first.get('failed'), first.get('msg')
    assert actions(first)[('PersistentVolumeClaim', 'db-data')] == 'created'
    core = client.CoreV1Api(api)
    claim = core.read_namespaced_persistent_volume_claim('db-data', ns)
    assert claim.spec.access_modes == ['ReadWriteOnce'] and claim.spec.resources.requests == {'storage': '64Mi'}
    deployment = client.AppsV1Api(api).read_namespaced_deployment('db', ns)
    assert deployment.spec.template.spec.volumes[0].persistent_volume_claim.claim_name == 'db-data'
    again = run.module(services=[db, web], namespace=ns, set_name='stateful')
    assert again['changed'] is False, changed_objects(again)

    pruned = run.module(services=[web], namespace=ns, set_name='stateful', prune=True)
    assert not pruned.get('failed'), pruned.get('msg')
    assert actions(pruned)[('Deployment', 'db')] == 'pruned' and ('PersistentVolumeClaim', 'db-data') not in actions(pruned)
    kept = 'PersistentVolumeClaim %s/db-data: kept with its data (delete it with kubectl when the data may go)' % ns
    assert pruned['kept'] == [kept] and kept in pruned['warnings']
    assert core.read_namespaced_persistent_volume_claim('db-data', ns)
    absent = run.module(state='absent', namespace=ns, set_name='stateful')
    assert not absent.get('failed'), absent.get('msg')
    assert actions(absent) == {('Deployment', 'web'): 'deleted'} and absent['kept'] == [kept]
    assert core.read_namespaced_persistent_volume_claim('db-data', ns)


def test_registry_credentials_become_a_pull_secret_that_no_output_shows(run, api):
    """kubeseed_microservices_registry_credentials: one dockerconfigjson Secret per namespace, every pod pulls with it; the
    password (and its base64 forms) is in no output of -vvv --diff, also not when the credentials are malformed; without
    them again the Secret is pruned and the pods pull as before."""
    ns = 'it-registry'
    password = 'reg-pa55-w0rd-never-shown'
    credentials = {'registry.example.com:5000': {'username': 'ci', 'password': password}}
    svc = [{'name': 'api', 'image': 'registry.example.com:5000/shop/api:1'}]
    forms = (password, base64.b64encode(('ci:' + password).encode()).decode())

    first = run.module('-vvv', '--diff', services=svc, namespace=ns, set_name='private', registry_credentials=credentials)
    assert not first.get('failed'), first.get('msg')
    assert actions(first)[('Secret', 'private-registry-credentials')] == 'created'
    assert not any(form in run.stdout for form in forms)
    core = client.CoreV1Api(api)
    secret = core.read_namespaced_secret('private-registry-credentials', ns)
    assert secret.type == 'kubernetes.io/dockerconfigjson'
    assert json.loads(base64.b64decode(secret.data['.dockerconfigjson']))['auths']['registry.example.com:5000']['password'] == password
    pod = client.AppsV1Api(api).read_namespaced_deployment('api', ns).spec.template.spec
    assert [ref.name for ref in pod.image_pull_secrets] == ['private-registry-credentials']
    again = run.module('-vvv', '--diff', services=svc, namespace=ns, set_name='private', registry_credentials=credentials)
    assert again['changed'] is False and not any(form in run.stdout for form in forms)

    bad = run.module('-vvv', services=svc, namespace=ns, set_name='private',
                     registry_credentials={'registry.example.com:5000': {'username': 'ci', 'password': password, 'token': password}})
    assert bad.get('failed') and "'token' is not a known setting" in bad['msg'], bad.get('msg')
    assert not any(form in run.stdout for form in forms)

    plain = run.module('--diff', services=svc, namespace=ns, set_name='private')
    assert not plain.get('failed'), plain.get('msg')
    assert actions(plain)[('Secret', 'private-registry-credentials')] == 'pruned'
    assert client.AppsV1Api(api).read_namespaced_deployment('api', ns).spec.template.spec.image_pull_secrets is None
