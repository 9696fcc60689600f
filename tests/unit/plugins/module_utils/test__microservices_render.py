# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering, checksum, comparison, diff masking and prune selection of the apps half."""
from __future__ import annotations

import base64
import glob
import json
import os

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_render as render

FULL = {
    'name': 'api', 'image': 'shop/api:1', 'namespace': 'shop', 'replicas': 3,
    'ports': [{'port': 80, 'targetPort': 8080}, {'name': 'metrics', 'port': 9090, 'protocol': 'TCP', 'nodePort': 30090}],
    'command': ['/api'], 'args': ['--fast'], 'env': {'B': 2, 'A': True},
    'config': {'LOG_LEVEL': 'info'}, 'configMountPath': '/etc/api', 'secrets': {'DB_PASSWORD': 's3cr3t'},
    'resources': {'requests': {'cpu': '100m', 'memory': '64Mi'}, 'limits': {'cpu': 1}},
    'readiness': {'httpGet': {'port': 'http'}}, 'liveness': {'tcpSocket': {'port': 8080}, 'periodSeconds': 5},
    'service': {'type': 'NodePort', 'annotations': {'lb.example.com/x': 'y'}},
    'ingress': {'host': 'api.example.com', 'tlsSecret': 'api-tls', 'className': 'nginx'},
    'autoscaling': {'min': 2, 'max': 6}, 'pdb': {'maxUnavailable': 1},
    'labels': {'team': 'shop'}, 'annotations': {'example.com/owner': 'shop'}, 'podAnnotations': {'prometheus.io/scrape': 'true'},
    'serviceAccount': 'api-sa', 'createServiceAccount': True, 'strategy': {'type': 'RollingUpdate', 'maxSurge': 1},
}


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


def _by_kind(objects):
    return {o['kind']: o for o in objects}


def test_pods_spread_over_nodes_by_default_softly():
    """No spread given: one soft constraint on the node name over this service's pods of the same rollout; no tolerations
    (Kubernetes adds its 300 s)."""
    pod = _by_kind(render.render_service({'name': 'web', 'image': 'web:1', 'replicas': 2}, 'apps'))['Deployment']['spec']['template']['spec']
    assert pod['topologySpreadConstraints'] == [{
        'maxSkew': 1, 'topologyKey': 'kubernetes.io/hostname', 'whenUnsatisfiable': 'ScheduleAnyway',
        'labelSelector': {'matchLabels': {'app.kubernetes.io/name': 'web', 'kubeseed.io/set': 'apps'}}, 'matchLabelKeys': ['pod-template-hash']}]
    assert 'tolerations' not in pod


def test_spread_and_toleration_seconds_as_set():
    svc = {'name': 'web', 'image': 'web:1', 'spread': {'whenUnsatisfiable': 'DoNotSchedule', 'maxSkew': 2,
                                                       'topologyKey': 'topology.kubernetes.io/zone'}, 'tolerationSeconds': 30}
    pod = _by_kind(render.render_service(svc, 'apps'))['Deployment']['spec']['template']['spec']
    [constraint] = pod['topologySpreadConstraints']
    assert (constraint['whenUnsatisfiable'], constraint['maxSkew'], constraint['topologyKey']) == ('DoNotSchedule', 2, 'topology.kubernetes.io/zone')
    assert pod['tolerations'] == [
        {'key': 'node.kubernetes.io/not-ready', 'operator': 'Exists', 'effect': 'NoExecute', 'tolerationSeconds': 30},
        {'key': 'node.kubernetes.io/unreachable', 'operator': 'Exists', 'effect': 'NoExecute', 'tolerationSeconds': 30}]
    off = _by_kind(render.render_service(dict(svc, spread={'enabled': False}, tolerationSeconds=0), 'apps'))['Deployment']
    assert 'topologySpreadConstraints' not in off['spec']['template']['spec']
    assert {t['tolerationSeconds'] for t in off['spec']['template']['spec']['tolerations']} == {0}


def test_spread_mistakes_are_named():
    problems = render.validate_services([{'name': 'web', 'image': 'web:1', 'spread': {'whenUnsatisfiable': 'Never', 'maxSkew': 0},
                                          'tolerationSeconds': -1},
                                         {'name': 'api', 'image': 'api:1', 'topologySpreadConstraints': []}])
    text = '\n'.join(problems)
    assert 'kubeseed_microservices[0].spread.whenUnsatisfiable' in text and 'ScheduleAnyway' in text, text
    assert 'kubeseed_microservices[0].spread.maxSkew' in text, text
    assert 'kubeseed_microservices[0].tolerationSeconds' in text, text
    assert 'use spread' in text, text


def test_full_service_renders_every_kind_in_apply_order():
    objects = render.render_service(FULL, 'shop-set', 'default')
    assert [o['kind'] for o in objects] == ['ServiceAccount', 'ConfigMap', 'Secret', 'Deployment', 'Service',
                                            'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Ingress']
    for obj in objects:
        assert obj['metadata']['namespace'] == 'shop'
        assert obj['metadata']['labels'] == {'team': 'shop', 'app.kubernetes.io/managed-by': 'kubeseed',
                                             'kubeseed.io/set': 'shop-set', 'app.kubernetes.io/name': 'api'}
        assert obj['apiVersion'] == render.API_VERSIONS[obj['kind']]


def test_deployment():
    deploy = _by_kind(render.render_service(FULL, 'shop-set'))['Deployment']
    spec = deploy['spec']
    assert 'replicas' not in spec  # the HPA owns it
    assert spec['selector'] == {'matchLabels': {'app.kubernetes.io/name': 'api', 'kubeseed.io/set': 'shop-set'}}
    assert spec['strategy'] == {'type': 'RollingUpdate', 'rollingUpdate': {'maxSurge': 1}}
    pod = spec['template']
    assert set(spec['selector']['matchLabels'].items()) <= set(pod['metadata']['labels'].items())
    assert pod['metadata']['annotations']['prometheus.io/scrape'] == 'true'
    assert pod['spec']['serviceAccountName'] == 'api-sa'
    assert pod['spec']['volumes'] == [{'name': 'config', 'configMap': {'name': 'api-config'}}]
    (container,) = pod['spec']['containers']
    assert container['image'] == 'shop/api:1' and container['command'] == ['/api'] and container['args'] == ['--fast']
    assert container['env'] == [{'name': 'A', 'value': 'true'}, {'name': 'B', 'value': '2'}]
    assert container['envFrom'] == [{'configMapRef': {'name': 'api-config'}}, {'secretRef': {'name': 'api-secrets'}}]
    assert container['ports'] == [{'name': 'http', 'containerPort': 8080, 'protocol': 'TCP'},
                                  {'name': 'metrics', 'containerPort': 9090, 'protocol': 'TCP'}]
    assert container['resources'] == {'requests': {'cpu': '100m', 'memory': '64Mi'}, 'limits': {'cpu': '1'}}
    assert container['readinessProbe'] == {'httpGet': {'port': 'http', 'path': '/'}}
    assert container['livenessProbe'] == {'tcpSocket': {'port': 8080}, 'periodSeconds': 5}
    assert container['volumeMounts'] == [{'name': 'config', 'mountPath': '/etc/api', 'readOnly': True}]
    # The secret value is never in the Deployment, only its checksum.
    assert 's3cr3t' not in json.dumps(deploy)


def test_minimal_service_has_defaults_and_no_extras():
    objects = render.render_service({'name': 'worker', 'image': 'w:1'}, 'apps', 'jobs')
    assert [o['kind'] for o in objects] == ['Deployment']
    spec = objects[0]['spec']
    assert spec['replicas'] == 1 and 'strategy' not in spec
    assert 'annotations' not in spec['template']['metadata']
    assert objects[0]['metadata']['namespace'] == 'jobs'


def test_service_types():
    svc = _by_kind(render.render_service(FULL, 's'))['Service']
    assert svc['spec']['type'] == 'NodePort'
    assert svc['spec']['ports'] == [{'name': 'http', 'port': 80, 'targetPort': 8080, 'protocol': 'TCP'},
                                    {'name': 'metrics', 'port': 9090, 'targetPort': 9090, 'protocol': 'TCP', 'nodePort': 30090}]
    assert svc['metadata']['annotations'] == {'example.com/owner': 'shop', 'lb.example.com/x': 'y'}
    headless = _by_kind(render.render_service({'name': 'db', 'image': 'db', 'ports': [{'port': 5432}], 'service': {'type': 'Headless'}}, 's'))
    assert headless['Service']['spec']['type'] == 'ClusterIP' and headless['Service']['spec']['clusterIP'] == 'None'
    assert _by_kind(render.render_service({'name': 'x', 'image': 'x', 'ports': [{'port': 1}]}, 's'))['Service']['spec']['type'] == 'ClusterIP'


def test_ingress_hpa_pdb_secret_configmap():
    objs = _by_kind(render.render_service(FULL, 's'))
    rule = objs['Ingress']['spec']['rules'][0]
    assert rule['host'] == 'api.example.com'
    assert rule['http']['paths'] == [{'path': '/', 'pathType': 'Prefix', 'backend': {'service': {'name': 'api', 'port': {'name': 'http'}}}}]
    assert objs['Ingress']['spec']['tls'] == [{'hosts': ['api.example.com'], 'secretName': 'api-tls'}]
    assert objs['Ingress']['spec']['ingressClassName'] == 'nginx'
    hpa = objs['HorizontalPodAutoscaler']['spec']
    assert (hpa['minReplicas'], hpa['maxReplicas']) == (2, 6)
    assert hpa['metrics'][0]['resource']['target'] == {'type': 'Utilization', 'averageUtilization': 80}
    assert 'behavior' not in hpa  # Kubernetes' defaults
    quick = _by_kind(render.render_service(dict(FULL, autoscaling={'max': 3, 'scaleDownSeconds': 15}), 's'))['HorizontalPodAutoscaler']
    assert quick['spec']['behavior'] == {'scaleDown': {'stabilizationWindowSeconds': 15}}
    assert objs['PodDisruptionBudget']['spec'] == {'maxUnavailable': 1, 'selector': {'matchLabels': {'app.kubernetes.io/name': 'api', 'kubeseed.io/set': 's'}}}
    assert objs['ConfigMap']['data'] == {'LOG_LEVEL': 'info'}
    assert objs['Secret']['data'] == {'DB_PASSWORD': base64.b64encode(b's3cr3t').decode()}
    numbered = _by_kind(render.render_service(dict(FULL, ingress={'host': 'a.b', 'port': 9090}), 's'))['Ingress']
    assert numbered['spec']['rules'][0]['http']['paths'][0]['backend']['service']['port'] == {'number': 9090}


def test_secrets_option_overrides_inline_secrets():
    objs = _by_kind(render.render_service(FULL, 's', secrets={'DB_PASSWORD': 'new', 'TOKEN': 't'}))
    assert objs['Secret']['data'] == {'DB_PASSWORD': base64.b64encode(b'new').decode(), 'TOKEN': base64.b64encode(b't').decode()}


def test_checksum_changes_with_config_or_secrets_and_only_then():
    base = render.checksum({'A': '1'}, {'S': 'x'})
    assert base == render.checksum({'A': 1}, {'S': 'x'})  # the same text in the ConfigMap
    assert base != render.checksum({'A': '2'}, {'S': 'x'})
    assert base != render.checksum({'A': '1'}, {'S': 'y'})
    assert base != render.checksum({'A': '1', 'B': ''}, {'S': 'x'})
    assert len(base) == 64 and 'x' not in base[:0]


def test_config_change_rolls_the_pods():
    def annotation(svc):
        return _by_kind(render.render_service(svc, 's'))['Deployment']['spec']['template']['metadata']['annotations'][render.CHECKSUM_ANNOTATION]
    assert annotation(FULL) != annotation(dict(FULL, config={'LOG_LEVEL': 'debug'}))
    assert annotation(FULL) != annotation(dict(FULL, secrets={'DB_PASSWORD': 'other'}))
    assert annotation(FULL) == annotation(dict(FULL, replicas=9))


def test_render_all_adds_namespaces_and_sorts_by_kind():
    services = [{'name': 'b', 'image': 'b', 'ports': [{'port': 80}]}, {'name': 'a', 'image': 'a', 'namespace': 'other', 'config': {'k': 'v'}}]
    objects = render.render_all(services, 's', 'main')
    assert [render.object_key(o) for o in objects] == [
        ('Namespace', '', 'main'), ('Namespace', '', 'other'), ('ConfigMap', 'other', 'a-config'),
        ('Service', 'main', 'b'), ('Deployment', 'main', 'b'), ('Deployment', 'other', 'a')]
    assert all(o['kind'] != 'Namespace' for o in render.render_all(services, 's', 'main', create_namespaces=False))
    assert render.render_all([], 's', 'main') == []


def _valid_corpus_cases() -> list:
    yaml = pytest.importorskip('yaml')
    cases = []
    for path in sorted(glob.glob(os.path.join(ROOT, 'tests', 'corpus', 'microservices', '*.yml'))):
        with open(path, encoding='utf-8') as handle:
            case = yaml.safe_load(handle)
        if (case.get('expect') or {}).get('valid'):
            cases.append((os.path.basename(path), case['input']))
    return cases


def test_what_validation_accepts_renders_to_objects_of_strings():
    """Every valid case of the new-user corpus validates, renders, and gives Kubernetes text where it needs text."""
    cases = _valid_corpus_cases()
    assert len(cases) >= 15
    for name, given in cases:
        services = given['kubeseed_microservices']
        namespace, set_name = given.get('kubeseed_microservices_namespace', 'default'), given.get('kubeseed_microservices_set', 'apps')
        assert render.validate_services(services, namespace, set_name) == [], name
        objects = render.render_all(services, set_name, namespace)
        assert json.loads(json.dumps(objects)) == objects, name
        for obj in objects:
            meta = obj['metadata']
            assert all(isinstance(v, str) for v in list((meta.get('labels') or {}).values()) + list((meta.get('annotations') or {}).values())), name
            if obj['kind'] == 'ConfigMap':
                assert all(isinstance(v, str) for v in obj['data'].values()), name
            if obj['kind'] == 'Deployment':
                (container,) = obj['spec']['template']['spec']['containers']
                assert all(isinstance(e['name'], str) and isinstance(e['value'], str) for e in container.get('env', [])), name
                assert all(isinstance(a, str) for a in container.get('command', []) + container.get('args', [])), name


def test_validation_refuses_what_rendering_would_silently_stringify():
    """The renderer turns any scalar into text (_str); validation makes sure it is only ever given text."""
    for env in ({'MODE': 493}, {'ON': True}, {'EMPTY': None}, {'V': 1.1}):
        svc = {'name': 'api', 'image': 'registry.example.com/shop/api:1', 'env': env}
        problems = render.validate_services([svc])
        assert len(problems) == 1 and problems[0].startswith('kubeseed_microservices[0].env.') and 'Kubernetes needs a string' in problems[0]


# ---------------------------------------------------------------- comparison and diff ----

def _live(obj, **meta):
    out = json.loads(json.dumps(obj))
    out['metadata'].update({'resourceVersion': '42', 'uid': 'u', 'generation': 3, 'creationTimestamp': 't',
                            'managedFields': [{'manager': 'kubeseed', 'operation': 'Apply'}]}, **meta)
    out['status'] = {'replicas': 1}
    return out


def test_normalize_ignores_what_the_server_keeps():
    deploy = _by_kind(render.render_service(FULL, 's'))['Deployment']
    live = _live(deploy)
    live['metadata'].setdefault('annotations', {})['deployment.kubernetes.io/revision'] = '2'
    assert render.normalize(live) == render.normalize(deploy)
    changed = _live(deploy)
    changed['spec']['template']['spec']['containers'][0]['image'] = 'shop/api:2'
    assert render.normalize(changed) != render.normalize(deploy)
    assert render.normalize(None) is None


def test_diff_never_shows_secret_values():
    old = _by_kind(render.render_service(FULL, 's'))['Secret']
    new = _by_kind(render.render_service(FULL, 's', secrets={'DB_PASSWORD': 'n3w-pa55', 'TOKEN': 'tok3n'}))['Secret']
    entry = render.diff_entry(render.object_key(new), _live(old), new)
    text = json.dumps(entry)
    for value in ('s3cr3t', 'n3w-pa55', 'tok3n'):
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text
    assert json.loads(entry['before'])['data'] == {'DB_PASSWORD': '<hidden>'}
    assert json.loads(entry['after'])['data'] == {'DB_PASSWORD': '<hidden, changed>', 'TOKEN': '<hidden, changed>'}
    assert entry['before'] != entry['after']
    assert entry['before_header'] == 'Secret shop/api-secrets'


def test_diff_of_an_unchanged_secret_is_equal_and_of_a_new_one_is_hidden():
    secret = _by_kind(render.render_service(FULL, 's'))['Secret']
    same = render.diff_entry(render.object_key(secret), _live(secret), secret)
    assert same['before'] == same['after']
    created = render.diff_entry(render.object_key(secret), None, secret)
    assert created['before'] == '' and json.loads(created['after'])['data'] == {'DB_PASSWORD': '<hidden>'}
    string_data = {'kind': 'Secret', 'metadata': {'name': 'x'}, 'stringData': {'K': 'plain'}}
    assert 'plain' not in json.dumps(render.mask_secret(string_data))


def test_diff_of_other_kinds_shows_the_change():
    deploy = _by_kind(render.render_service(FULL, 's'))['Deployment']
    other = _by_kind(render.render_service(dict(FULL, image='shop/api:2'), 's'))['Deployment']
    entry = render.diff_entry(render.object_key(deploy), _live(deploy), other)
    assert '"image": "shop/api:1"' in entry['before'] and '"image": "shop/api:2"' in entry['after']
    assert 'resourceVersion' not in entry['before']


# ---------------------------------------------------------------- prune selection ----

def _obj(kind, name, labels, managers=(('kubeseed', 'Apply'),), namespace='shop', **meta):
    out = {'kind': kind, 'metadata': {'name': name, 'namespace': namespace, 'labels': labels,
                                      'managedFields': [{'manager': m, 'operation': op} for m, op in managers]}}
    out['metadata'].update(meta)
    return out


OURS = {'app.kubernetes.io/managed-by': 'kubeseed', 'kubeseed.io/set': 'shop', 'app.kubernetes.io/name': 'old'}


def test_prune_selects_only_our_objects_that_are_no_longer_desired():
    keep = _obj('Deployment', 'api', dict(OURS, **{'app.kubernetes.io/name': 'api'}))
    gone_deploy = _obj('Deployment', 'old', OURS)
    gone_cm = _obj('ConfigMap', 'old-config', OURS)
    other_set = _obj('Deployment', 'old2', dict(OURS, **{'kubeseed.io/set': 'other'}))
    lookalike = _obj('Deployment', 'fake', OURS, managers=(('kubectl-client-side-apply', 'Update'),))
    updated_only = _obj('Deployment', 'upd', OURS, managers=(('kubeseed', 'Update'),))
    no_manager_label = _obj('Deployment', 'nolabel', {'kubeseed.io/set': 'shop'})
    namespace = _obj('Namespace', 'shop', OURS, namespace=None)
    terminating = _obj('Service', 'dying', OURS, deletionTimestamp='now')
    live = [keep, gone_deploy, gone_cm, other_set, lookalike, updated_only, no_manager_label, namespace, terminating]
    doomed = render.select_prune(live, {('Deployment', 'shop', 'api')}, 'shop')
    # Dependents first: the Deployment goes before the ConfigMap it uses.
    assert [render.object_key(o) for o in doomed] == [('Deployment', 'shop', 'old'), ('ConfigMap', 'shop', 'old-config')]


def test_prune_with_another_field_manager():
    obj = _obj('Deployment', 'old', OURS, managers=(('ci', 'Apply'),))
    assert render.select_prune([obj], set(), 'shop') == []
    assert render.select_prune([obj], set(), 'shop', field_manager='ci') == [obj]


def test_nothing_is_pruned_when_everything_is_desired():
    objs = [_obj('Deployment', 'old', OURS), _obj('Service', 'old', OURS)]
    assert render.select_prune(objs, set(render.object_key(o) for o in objs), 'shop') == []


def test_set_selector_and_describe():
    assert render.set_selector('shop') == 'app.kubernetes.io/managed-by=kubeseed,kubeseed.io/set=shop'
    assert render.describe(('Deployment', 'shop', 'api')) == 'Deployment shop/api'
    assert render.describe(('Namespace', '', 'shop')) == 'Namespace shop'


DEFAULTS = {'imageRegistry': 'registry.dev.example.com/shop', 'replicas': 2, 'env': {'LOG_FORMAT': 'json', 'TZ': 'UTC'},
            'resources': {'requests': {'cpu': '100m', 'memory': '64Mi'}, 'limits': {'memory': '256Mi'}},
            'labels': {'env': 'dev'}, 'readiness': {'httpGet': {'path': '/ready', 'port': 'http'}},
            'strategy': {'maxUnavailable': 0}}


def test_defaults_merge_under_each_service_mappings_by_key_the_rest_whole():
    services = [{'name': 'api', 'image': 'api:1.4', 'env': {'TZ': 'Europe/Paris'}, 'resources': {'limits': {'memory': '1Gi'}},
                 'readiness': {'tcpSocket': {'port': 8080}}, 'ports': [{'port': 8080}]},
                {'name': 'web', 'image': 'docker.io/library/nginx:1.27', 'replicas': 5, 'strategy': {'maxSurge': 3}, 'ports': [{'port': 80}]}]
    merged = render.with_defaults(services, DEFAULTS)
    api, web = merged
    assert api['env'] == {'LOG_FORMAT': 'json', 'TZ': 'Europe/Paris'}
    assert api['resources'] == {'requests': {'cpu': '100m', 'memory': '64Mi'}, 'limits': {'memory': '1Gi'}}
    assert api['readiness'] == {'tcpSocket': {'port': 8080}}  # a probe is taken whole: never httpGet and tcpSocket mixed
    assert api['replicas'] == 2 and web['replicas'] == 5
    assert web['strategy'] == {'maxUnavailable': 0, 'maxSurge': 3}
    assert services[0]['env'] == {'TZ': 'Europe/Paris'} and 'replicas' not in services[0]  # the input is not modified
    merged[0]['labels']['x'] = 'y'
    assert DEFAULTS['labels'] == {'env': 'dev'}  # nor the defaults (each service has its own copy)
    assert render.with_defaults(services, {}) is services and render.with_defaults('x', DEFAULTS) == 'x'
    assert render.with_defaults([None, 'x'], DEFAULTS) == [None, 'x']
    objects = render.render_all(render.with_defaults(services, DEFAULTS), 'apps')
    images = {o['metadata']['name']: o['spec']['template']['spec']['containers'][0]['image'] for o in objects if o['kind'] == 'Deployment'}
    assert images == {'api': 'registry.dev.example.com/shop/api:1.4', 'web': 'docker.io/library/nginx:1.27'}
    assert not render.validate_services(services, defaults=DEFAULTS)


@pytest.mark.parametrize('image, registry, expected', [
    ('api:1', 'registry.example.com', 'registry.example.com/api:1'),
    ('team/api:1', 'registry.example.com:5000/base/', 'registry.example.com:5000/base/team/api:1'),
    ('registry.other.com/team/api:1', 'registry.example.com', 'registry.other.com/team/api:1'),
    ('localhost/api', 'registry.example.com', 'localhost/api'),
    ('host:5000/api', 'registry.example.com', 'host:5000/api'),
    ('api@sha256:' + 'a' * 64, 'registry.example.com', 'registry.example.com/api@sha256:' + 'a' * 64),
    ('api:1', None, 'api:1'),
])
def test_image_registry_goes_before_an_image_that_names_none(image, registry, expected):
    assert render.image_reference({'image': image, 'imageRegistry': registry}) == expected


def test_defaults_are_checked_on_their_own_first():
    services = [{'name': 'api', 'image': 'api:1'}]
    problems = render.validate_services(services, defaults={'replicas': 'two', 'imageRegistry': 'https://registry.example.com',
                                                            'name': 'x', 'env': {'A': 1}})
    assert any(p.startswith('kubeseed_microservices_defaults.replicas: ') for p in problems), problems
    assert any(p.startswith('kubeseed_microservices_defaults.imageRegistry: ') and 'registry-host[:port]' in p for p in problems), problems
    assert any(p.startswith("kubeseed_microservices_defaults: 'name' is not a known setting; a name belongs to one service") for p in problems), problems
    assert any(p.startswith('kubeseed_microservices_defaults.env.A: ') for p in problems), problems
    assert all(p.startswith('kubeseed_microservices_defaults') for p in problems)  # not reported again on every service
    assert render.validate_services(services, defaults=['replicas: 2']) == [
        'kubeseed_microservices_defaults: is a list, expected a mapping of service settings (for example {replicas: 2, imageRegistry: '
        'registry.example.com/team})']
    assert render.validate_services(services, defaults=None) == [] and render.validate_services(services, defaults={}) == []


def test_secrets_in_defaults_are_refused_without_their_values():
    from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_guard as guard  # pylint: disable=import-outside-toplevel
    hidden = guard.hide_default_secrets({'replicas': 2, 'secrets': {'DB_PASSWORD': 'pa55-in-defaults'}})
    assert hidden == {'replicas': 2, 'secrets': '<hidden>'}
    problems = render.validate_services([{'name': 'api', 'image': 'api:1'}], defaults=hidden)
    assert problems == ["kubeseed_microservices_defaults: 'secrets' is not a known setting; secret values belong to one service: set them "
                        "in its entry or in the secrets of the module (never in shared defaults)"]
    assert guard.hide_default_secrets(['x']) == ['x']


def test_a_problem_made_by_merging_is_reported_on_the_service():
    # the default request is above the service's own limit: only the merged service shows it
    problems = render.validate_services([{'name': 'api', 'image': 'api:1', 'resources': {'limits': {'cpu': '50m'}}}],
                                        defaults={'resources': {'requests': {'cpu': '100m'}}})
    assert len(problems) == 1 and problems[0].startswith('kubeseed_microservices[0].resources'), problems


ROLLOUT = {'name': 'api', 'image': 'shop/api:1', 'imageRegistry': 'registry.example.com', 'ports': [{'port': 80, 'targetPort': 8080}],
           'startup': {'httpGet': {'path': '/started', 'port': 'http'}, 'failureThreshold': 30, 'periodSeconds': 2},
           'strategy': {'maxSurge': 1, 'maxUnavailable': 0, 'minReadySeconds': 5, 'progressDeadlineSeconds': 120},
           'volumes': {'cache': {'mountPath': '/var/cache/api', 'sizeLimit': '1Gi'}, 'sockets': {'medium': 'Memory'}},
           'sidecars': [{'name': 'proxy', 'image': 'shop/proxy:2', 'args': ['--listen', '/run/sock/proxy'], 'mounts': {'sockets': '/run/sock'}}],
           'initContainers': [{'name': 'migrate', 'image': 'registry.other.com/tools/migrate:3', 'command': ['/migrate'], 'env': {'DRY': 'no'},
                               'mounts': {'cache': '/cache', 'sockets': '/run/sock'}, 'resources': {'limits': {'memory': '128Mi'}}}]}


def test_startup_probe_rollout_timings_volumes_sidecars_and_init_containers():
    assert not render.validate_services([ROLLOUT])
    deploy = _by_kind(render.render_service(ROLLOUT, 'apps'))['Deployment']
    spec, pod = deploy['spec'], deploy['spec']['template']['spec']
    assert spec['strategy'] == {'type': 'RollingUpdate', 'rollingUpdate': {'maxSurge': 1, 'maxUnavailable': 0}}
    assert (spec['minReadySeconds'], spec['progressDeadlineSeconds']) == (5, 120)
    main = pod['containers'][0]
    assert main['startupProbe'] == {'httpGet': {'path': '/started', 'port': 'http'}, 'failureThreshold': 30, 'periodSeconds': 2}
    assert main['volumeMounts'] == [{'name': 'cache', 'mountPath': '/var/cache/api'}]
    assert pod['volumes'] == [{'name': 'cache', 'emptyDir': {'sizeLimit': '1Gi'}}, {'name': 'sockets', 'emptyDir': {'medium': 'Memory'}}]
    assert pod['initContainers'] == [
        {'name': 'proxy', 'image': 'registry.example.com/shop/proxy:2', 'args': ['--listen', '/run/sock/proxy'], 'restartPolicy': 'Always',
         'volumeMounts': [{'name': 'sockets', 'mountPath': '/run/sock'}]},
        {'name': 'migrate', 'image': 'registry.other.com/tools/migrate:3', 'command': ['/migrate'], 'env': [{'name': 'DRY', 'value': 'no'}],
         'resources': {'limits': {'memory': '128Mi'}},
         'volumeMounts': [{'name': 'cache', 'mountPath': '/cache'}, {'name': 'sockets', 'mountPath': '/run/sock'}]}]
    # only the timings: no strategy block (Kubernetes' RollingUpdate default stays)
    timings = _by_kind(render.render_service({'name': 'w', 'image': 'w:1', 'strategy': {'minReadySeconds': 3}}, 'apps'))['Deployment']['spec']
    assert 'strategy' not in timings and timings['minReadySeconds'] == 3


@pytest.mark.parametrize('change, problem', [
    ({'startup': {'tcpSocket': {'port': 'metrics'}}}, "kubeseed_microservices[0].startup.tcpSocket.port: 'metrics' is not the name of one of the ports (http)"),
    ({'startup': {'exec': {'command': ['true']}, 'successThreshold': 2}},
     'kubeseed_microservices[0].startup.successThreshold: 2 is not allowed; a startup probe needs 1'),
    ({'strategy': {'minReadySeconds': 30, 'progressDeadlineSeconds': 30}},
     'kubeseed_microservices[0].strategy.progressDeadlineSeconds: 30 must be more than minReadySeconds (30)'),
    ({'sidecars': [{'name': 'api', 'image': 'x:1'}]},
     "kubeseed_microservices[0].sidecars[0].name: 'api' is already the name of the service container; container names are unique in a pod"),
    ({'sidecars': [{'name': 'a', 'image': 'x:1'}], 'initContainers': [{'name': 'a', 'image': 'y:1'}]},
     "kubeseed_microservices[0].initContainers[0].name: 'a' is already the name of sidecars[0]; container names are unique in a pod"),
    ({'initContainers': [{'name': 'm', 'image': 'x:1', 'mounts': {'data': '/data'}}]},
     'kubeseed_microservices[0].initContainers[0].mounts.data: not one of the volumes (there are none: declare it in volumes)'),
    ({'volumes': {'config': {'mountPath': '/x'}}},
     "kubeseed_microservices[0].volumes.config: 'config' is the name of the ConfigMap's volume; use another name"),
    ({'sidecars': [{'name': 'p', 'image': 'x:1', 'mounts': {'cache': 'relative/path'}}], 'volumes': {'cache': {}}},
     'kubeseed_microservices[0].sidecars[0].mounts.cache: '),
    ({'volumes': {'cache': {'sizeLimit': '1GB'}}}, 'kubeseed_microservices[0].volumes.cache.sizeLimit: '),
    ({'initContainers': [{'name': 'm'}]}, 'kubeseed_microservices[0].initContainers[0]: '),
    ({'startupProbe': {'exec': {'command': ['true']}}}, "kubeseed_microservices[0]: 'startupProbe' is not a known setting; use startup"),
])
def test_rollout_control_mistakes_are_named(change, problem):
    svc = {'name': 'api', 'image': 'api:1', 'ports': [{'port': 80}]}
    svc.update(change)
    problems = render.validate_services([svc])
    assert any(p.startswith(problem) for p in problems), problems


JOBS = [{'name': 'api', 'image': 'shop/api:2', 'ports': [{'port': 80}]},
        {'name': 'migrate', 'image': 'shop/api:2', 'args': ['migrate'], 'config': {'DB': 'db'}, 'secrets': {'P': 'x'},
         'job': {'runBefore': ['api'], 'activeDeadlineSeconds': 600}},
        {'name': 'report', 'image': 'report:1',
         'cronJob': {'schedule': '0 3 * * *', 'timeZone': 'Europe/Paris', 'concurrencyPolicy': 'Forbid', 'successfulJobsHistoryLimit': 1,
                     'backoffLimit': 2}}]


def _by_kind(objects):
    return {o['kind']: o for o in objects}


def test_a_job_entry_is_a_job_named_by_its_spec_that_runs_once():
    objects = render.render_all(render.with_defaults(JOBS, {'replicas': 3, 'readiness': {'tcpSocket': {'port': 80}}, 'labels': {'team': 'shop'}}), 'shop')
    jobs = [o for o in objects if o['kind'] == 'Job']
    assert len(jobs) == 1 and not [o for o in objects if o['kind'] == 'Deployment' and o['metadata']['name'] == 'migrate']
    job = jobs[0]
    assert job['metadata']['name'] == render.job_name('migrate', job['spec']) and len(job['metadata']['name']) == len('migrate') + 11
    assert job['metadata']['labels'] == {'team': 'shop', **render.ownership_labels('shop', 'migrate')}
    assert job['spec']['backoffLimit'] == 0 and job['spec']['activeDeadlineSeconds'] == 600 and 'selector' not in job['spec']
    pod = job['spec']['template']['spec']
    assert pod['restartPolicy'] == 'Never' and 'topologySpreadConstraints' not in pod
    assert pod['containers'][0]['envFrom'] == [{'configMapRef': {'name': 'migrate-config'}}, {'secretRef': {'name': 'migrate-secrets'}}]
    assert 'readinessProbe' not in pod['containers'][0]  # defaults for Deployments (replicas, readiness ...) are not a job's
    # the name changes with the spec, the config and the secrets; not with the Job's own annotations

    def name(**change):
        entry = dict(JOBS[1], **change)
        return next(o for o in render.render_service(entry, 'shop') if o['kind'] == 'Job')['metadata']['name']
    same = name()
    assert name(annotations={'a': 'b'}) == same
    assert len({same, name(args=['migrate', '--all']), name(config={'DB': 'other'}), name(secrets={'P': 'y'})}) == 4


def test_a_cron_job_entry_is_a_cron_job_with_its_schedule_and_limits():
    cron = _by_kind(render.render_service(JOBS[2], 'shop'))['CronJob']
    assert cron['metadata']['name'] == 'report'
    assert cron['spec'] == {'schedule': '0 3 * * *', 'timeZone': 'Europe/Paris', 'concurrencyPolicy': 'Forbid', 'successfulJobsHistoryLimit': 1,
                            'jobTemplate': {'spec': {'backoffLimit': 2, 'template': cron['spec']['jobTemplate']['spec']['template']}}}
    assert cron['spec']['jobTemplate']['spec']['template']['spec']['restartPolicy'] == 'Never'


def test_job_entries_are_checked_with_their_paths():
    assert render.validate_services(JOBS) == []
    bad = [dict(JOBS[0]), {'name': 'migrate', 'image': 'a:1', 'replicas': 2, 'ports': [{'port': 80}],
                           'job': {'runBefore': ['api', 'nope', 'report', 'migrate'], 'ttlSecondsAfterFinished': 5}},
           {'name': 'report', 'image': 'a:1', 'cronJob': {'schedule': 'every day'}},
           {'name': 'both', 'image': 'a:1', 'job': {}, 'cronJob': {'schedule': '@daily'}},
           {'name': 'x' * 53, 'image': 'a:1', 'job': {}}, {'name': 'api2', 'image': 'a:1', 'schedule': '@daily'}]
    problems = render.validate_services(bad)
    assert problems == sorted([
        'kubeseed_microservices[1].job: \'ttlSecondsAfterFinished\' is not a known setting; kubeseed keeps the last Job of each entry '
        '(that is how it knows it ran): not settable',
        'kubeseed_microservices[1].job.runBefore[1]: \'nope\' is not the name of an entry of kubeseed_microservices; runBefore lists services (api, api2)',
        'kubeseed_microservices[1].job.runBefore[2]: \'report\' is a job or cronJob entry; runBefore lists services (api, api2)',
        'kubeseed_microservices[1].job.runBefore[3]: \'migrate\' is this job itself; list the services that must wait for it',
        'kubeseed_microservices[1].ports: a job entry runs to completion and has no ports (only a service entry, without job, has it); remove it',
        'kubeseed_microservices[1].replicas: a job entry runs to completion and has no replicas (only a service entry, without job, has it); remove it',
        'kubeseed_microservices[2].cronJob.schedule: \'every day\' is not valid (use five cron fields (minute hour day-of-month month day-of-week) '
        'such as "0 3 * * *", or @daily)',
        'kubeseed_microservices[3]: has both job and cronJob; an entry is one Job or one CronJob: make two entries',
        'kubeseed_microservices[4].name: \'%s\' has 53 characters; a job entry has at most 52 (Kubernetes adds a suffix to the names of its Jobs)' % ('x' * 53),
        'kubeseed_microservices[5]: \'schedule\' is not a known setting; put it in cronJob: {schedule: "0 3 * * *"}',
    ]), problems


def test_affinity_is_passed_through_and_checked_against_the_kubernetes_schema():
    anti = {'podAntiAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': [
        {'topologyKey': 'kubernetes.io/hostname', 'labelSelector': {'matchLabels': {'app': 'db'}}}]}}
    assert render.validate_services([{'name': 'a', 'image': 'a:1', 'affinity': anti}]) == []
    deploy = _by_kind(render.render_service({'name': 'a', 'image': 'a:1', 'affinity': anti}, 'shop'))['Deployment']
    assert deploy['spec']['template']['spec']['affinity'] == anti
    assert 'topologySpreadConstraints' in deploy['spec']['template']['spec']  # it adds to spread
    terms = [{'matchExpressions': [{'key': 'disk', 'operator': 'in', 'values': ['ssd']}]}]
    bad = {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': terms}},
           'podAntiAffinity': {'preferredDuringSchedulingIgnoredDuringExecution': [{'weight': '50', 'podAffinityTerm': {'labelSelectr': {}}}]}}
    where = 'kubeseed_microservices[0].affinity.'
    assert render.validate_services([{'name': 'a', 'image': 'a:1', 'affinity': bad}]) == [
        where + 'nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: '
                "'in' is not one of: In, NotIn, Exists, DoesNotExist, Gt, Lt",
        where + "podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm: 'labelSelectr' is not a known setting; "
                "did you mean 'labelSelector'? (known: labelSelector, matchLabelKeys, mismatchLabelKeys, namespaceSelector, namespaces, topologyKey)",
        where + "podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm: 'topologyKey' is a required property",
        where + "podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: '50' is a string, expected an integer"]
    assert render.validate_services([], defaults={'affinity': {'nodeAffinity': {'x': 1}}}) == [
        "kubeseed_microservices_defaults.affinity.nodeAffinity: 'x' is not a known setting (known: preferredDuringSchedulingIgnoredDuringExecution, "
        "requiredDuringSchedulingIgnoredDuringExecution)"]


def test_topology_spread_is_passed_through_after_spread_and_checked():
    zones = {'maxSkew': 1, 'topologyKey': 'topology.kubernetes.io/zone', 'whenUnsatisfiable': 'DoNotSchedule', 'minDomains': 2}
    own = {'maxSkew': 2, 'topologyKey': 'rack', 'whenUnsatisfiable': 'ScheduleAnyway', 'labelSelector': {'matchLabels': {'tier': 'web'}}}
    svc = {'name': 'a', 'image': 'a:1', 'topologySpread': [zones, own]}
    assert render.validate_services([svc]) == []
    constraints = _by_kind(render.render_service(svc, 'shop'))['Deployment']['spec']['template']['spec']['topologySpreadConstraints']
    assert [c['topologyKey'] for c in constraints] == ['kubernetes.io/hostname', 'topology.kubernetes.io/zone', 'rack']
    assert constraints[1]['labelSelector'] == constraints[0]['labelSelector']  # absent: this service's pods
    assert constraints[2]['labelSelector'] == {'matchLabels': {'tier': 'web'}}  # as written
    assert svc['topologySpread'][0] == zones and 'labelSelector' not in zones  # the input is not changed
    alone = {'name': 'a', 'image': 'a:1', 'spread': {'enabled': False}, 'topologySpread': [dict(zones, topologyKey='kubernetes.io/hostname')]}
    assert render.validate_services([alone]) == []
    spec = _by_kind(render.render_service(alone, 'shop'))['Deployment']['spec']['template']['spec']
    assert [c['whenUnsatisfiable'] for c in spec['topologySpreadConstraints']] == ['DoNotSchedule']


def test_topology_spread_mistakes_are_refused_at_their_paths():
    where = 'kubeseed_microservices[0].topologySpread'
    same = {'maxSkew': 1, 'topologyKey': 'kubernetes.io/hostname', 'whenUnsatisfiable': 'ScheduleAnyway'}
    problems = render.validate_services([{'name': 'a', 'image': 'a:1', 'topologySpread': [
        same, dict(same, topologyKey='zone', minDomains=2), dict(same, whenUnsatisfiable='never', maxSkew=0),
        {'topologyKey': 'zone', 'whenUnsatisfiable': 'DoNotSchedule', 'maxSkew': 1, 'labelSelecter': {}}, dict(same, topologyKey='zone')]}])
    assert problems == [
        where + '[0]: topologyKey kubernetes.io/hostname with whenUnsatisfiable ScheduleAnyway is already in spread; Kubernetes takes each '
                'pair once: change one, or set spread: {enabled: false} and write all constraints here',
        where + '[1].minDomains: needs whenUnsatisfiable DoNotSchedule (Kubernetes refuses it with ScheduleAnyway)',
        where + "[2].maxSkew: 0 is less than the minimum of 1",
        where + "[2].whenUnsatisfiable: 'never' is not one of: DoNotSchedule, ScheduleAnyway",
        where + "[3]: 'labelSelecter' is not a known setting; did you mean 'labelSelector'? (known: labelSelector, matchLabelKeys, maxSkew, "
                "minDomains, nodeAffinityPolicy, nodeTaintsPolicy, topologyKey, whenUnsatisfiable)",
        where + '[4]: topologyKey zone with whenUnsatisfiable ScheduleAnyway is already in topologySpread[1]; Kubernetes takes each '
                'pair once: change one, or set spread: {enabled: false} and write all constraints here',
    ], problems
    assert render.validate_services([{'name': 'a', 'image': 'a:1', 'job': {}, 'topologySpread': [same]}])[0].startswith(
        'kubeseed_microservices[0].topologySpread: a job entry runs to completion')


def test_a_persistent_volume_is_a_claim_of_the_set_mounted_by_the_pod():
    svc = {'name': 'db', 'image': 'db:1', 'namespace': 'shop',
           'volumes': {'data': {'mountPath': '/var/lib/db', 'persistent': {'size': '1Gi'}},
                       'archive': {'persistent': {'size': 2147483648, 'storageClass': 'fast.ssd', 'accessMode': 'ReadWriteMany'}},
                       'tmp': {'mountPath': '/tmp'}}}
    assert not render.validate_services([svc])
    objects = render.render_service(svc, 'shop')
    claims = [o for o in objects if o['kind'] == 'PersistentVolumeClaim']
    assert [c['metadata']['name'] for c in claims] == ['db-archive', 'db-data']
    assert claims[1]['spec'] == {'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': '1Gi'}}}
    assert claims[0]['spec'] == {'accessModes': ['ReadWriteMany'], 'resources': {'requests': {'storage': '2147483648'}},
                                 'storageClassName': 'fast.ssd'}
    assert claims[1]['metadata']['labels']['kubeseed.io/set'] == 'shop' and claims[1]['metadata']['namespace'] == 'shop'
    pod = _by_kind(objects)['Deployment']['spec']['template']['spec']
    assert pod['volumes'] == [{'name': 'archive', 'persistentVolumeClaim': {'claimName': 'db-archive'}},
                              {'name': 'data', 'persistentVolumeClaim': {'claimName': 'db-data'}}, {'name': 'tmp', 'emptyDir': {}}]
    assert pod['containers'][0]['volumeMounts'] == [{'name': 'data', 'mountPath': '/var/lib/db'}, {'name': 'tmp', 'mountPath': '/tmp'}]
    # claims are applied before the Deployment that mounts them
    kinds = [o['kind'] for o in objects]
    assert kinds.index('PersistentVolumeClaim') < kinds.index('Deployment')


@pytest.mark.parametrize('volume, problem', [
    ({'persistent': {'size': '1Gi'}, 'sizeLimit': '1Gi'},
     'kubeseed_microservices[0].volumes.data: sizeLimit is for a scratch volume (emptyDir); a persistent one has its size in persistent.size'),
    ({'persistent': {}}, 'kubeseed_microservices[0].volumes.data.persistent:'),
    ({'persistent': {'size': 'lots'}}, 'kubeseed_microservices[0].volumes.data.persistent.size:'),
    ({'persistent': {'size': '1Gi', 'accessMode': 'ReadWriteAll'}}, 'kubeseed_microservices[0].volumes.data.persistent.accessMode:'),
    ({'persistent': {'size': '1Gi', 'storageClass': 'Fast_SSD'}}, 'kubeseed_microservices[0].volumes.data.persistent.storageClass:'),
    ({'persistent': {'size': '1Gi', 'class': 'fast'}}, 'kubeseed_microservices[0].volumes.data.persistent:'),
])
def test_persistent_volume_mistakes_are_named(volume, problem):
    problems = render.validate_services([{'name': 'db', 'image': 'db:1', 'volumes': {'data': volume}}])
    assert any(p.startswith(problem) for p in problems), problems


def test_a_claim_is_never_pruned_but_kept_and_reported():
    claim = _obj('PersistentVolumeClaim', 'db-data', OURS)
    gone = _obj('Deployment', 'db', OURS)
    others = _obj('PersistentVolumeClaim', 'other-data', dict(OURS, **{'kubeseed.io/set': 'other'}))
    assert render.select_prune([claim, gone, others], set(), 'shop') == [gone]
    assert render.select_kept([claim, gone, others], set(), 'shop') == [('PersistentVolumeClaim', 'shop', 'db-data')]
    assert render.select_kept([claim], {('PersistentVolumeClaim', 'shop', 'db-data')}, 'shop') == []


@pytest.mark.parametrize('kind, name, problem', [
    ('ClusterRole', 'system:metrics-server', None),
    ('ClusterRoleBinding', 'system:metrics-server', None),
    ('RoleBinding', 'metrics-server:auth-reader', None),
    ('ConfigMap', 'system:settings', "kubeseed_microservices_extra_objects[0].metadata.name: 'system:settings' is not valid for a ConfigMap"),
    ('NetworkPolicy', 'Allow-All', "kubeseed_microservices_extra_objects[0].metadata.name: 'Allow-All' is not valid for a NetworkPolicy"),
    ('ClusterRole', '..', "kubeseed_microservices_extra_objects[0].metadata.name: '..' is not valid"),
    ('Role', 'a/b', "kubeseed_microservices_extra_objects[0].metadata.name: 'a/b' is not valid"),
])
def test_extra_object_names_may_have_colons_only_for_rbac_kinds(kind, name, problem):
    api_version = 'rbac.authorization.k8s.io/v1' if 'Role' in kind else ('v1' if kind == 'ConfigMap' else 'networking.k8s.io/v1')
    problems = render.validate_services([], extra_objects=[{'apiVersion': api_version, 'kind': kind, 'metadata': {'name': name}}])
    if problem is None:
        assert problems == []
    else:
        assert any(p.startswith(problem) for p in problems), problems


REGISTRY = {'registry.example.com:5000': {'username': 'ci', 'password': 'reg-pa55-never-shown'}}


def test_registry_credentials_are_one_secret_per_namespace_that_every_pod_pulls_with():
    services = [{'name': 'api', 'image': 'registry.example.com:5000/api:1', 'namespace': 'shop'},
                {'name': 'migrate', 'image': 'registry.example.com:5000/api:1', 'namespace': 'shop', 'job': {}},
                {'name': 'report', 'image': 'r:1', 'namespace': 'reports', 'cronJob': {'schedule': '0 3 * * *'}}]
    objects = render.render_all(services, 'shop', registry_credentials=REGISTRY)
    secrets = [o for o in objects if o['kind'] == 'Secret']
    assert [(s['metadata']['namespace'], s['metadata']['name'], s['type']) for s in secrets] == [
        ('reports', 'shop-registry-credentials', 'kubernetes.io/dockerconfigjson'), ('shop', 'shop-registry-credentials', 'kubernetes.io/dockerconfigjson')]
    config = json.loads(base64.b64decode(secrets[0]['data']['.dockerconfigjson']))
    assert config == {'auths': {'registry.example.com:5000': {'username': 'ci', 'password': 'reg-pa55-never-shown',
                                                              'auth': base64.b64encode(b'ci:reg-pa55-never-shown').decode()}}}
    assert secrets[0]['metadata']['labels']['kubeseed.io/set'] == 'shop'
    pods = [o['spec']['template']['spec'] for o in objects if o['kind'] in ('Deployment', 'Job')]
    pods.append([o for o in objects if o['kind'] == 'CronJob'][0]['spec']['jobTemplate']['spec']['template']['spec'])
    assert [p['imagePullSecrets'] for p in pods] == [[{'name': 'shop-registry-credentials'}]] * 3
    # without credentials: no Secret, no imagePullSecrets, and the Job is another one (its spec changed)
    plain = render.render_all(services, 'shop')
    assert not [o for o in plain if o['kind'] == 'Secret'] and 'imagePullSecrets' not in _by_kind(plain)['Deployment']['spec']['template']['spec']
    assert _by_kind(plain)['Job']['metadata']['name'] != _by_kind(objects)['Job']['metadata']['name']
    hidden = render.registry_hidden_values(REGISTRY)
    assert {'reg-pa55-never-shown', base64.b64encode(b'ci:reg-pa55-never-shown').decode(), secrets[0]['data']['.dockerconfigjson']} <= hidden
    # the username is a name: hiding "ci" would mask those two letters in every word of the output
    assert 'ci' not in hidden


@pytest.mark.parametrize('credentials, problem', [
    ('ci:secret', 'kubeseed_microservices_registry_credentials: expected a mapping of registry: {username, password}, got string'),
    ({'https://registry.example.com/v2': {'username': 'ci', 'password': 'x'}},
     "kubeseed_microservices_registry_credentials: 'https://registry.example.com/v2' is not a registry host"),
    ({'registry.example.com': 'ci:pa55-hidden'}, 'kubeseed_microservices_registry_credentials.registry.example.com: expected a mapping'),
    ({'registry.example.com': {'username': 'ci'}}, 'kubeseed_microservices_registry_credentials.registry.example.com.password: a non-empty string'),
    ({'registry.example.com': {'username': 'ci', 'password': 12345}},
     'kubeseed_microservices_registry_credentials.registry.example.com.password: a non-empty string is required (its value is not shown)'),
    ({'registry.example.com': {'username': 'ci', 'password': 'pa55-hidden', 'email': 'a@b'}},
     "kubeseed_microservices_registry_credentials.registry.example.com: 'email' is not a known setting"),
])
def test_registry_credential_mistakes_are_named_without_their_values(credentials, problem):
    problems = render.registry_problems(credentials)
    assert any(p.startswith(problem) for p in problems), problems
    assert not any('pa55' in p or '12345' in p or 'ci:secret' in p for p in problems), problems


def test_a_read_write_once_pod_claim_needs_one_pod_and_a_recreate_rollout():
    volume = {'data': {'mountPath': '/data', 'persistent': {'size': '1Gi', 'accessMode': 'ReadWriteOncePod'}}}
    at = 'kubeseed_microservices[0].volumes.data.persistent.accessMode: '
    problems = render.validate_services([{'name': 'db', 'image': 'db:1', 'replicas': 2, 'volumes': volume}])
    assert [p[len(at):].split(' (')[0].split(':')[0] for p in problems] == [
        'ReadWriteOncePod lets one pod use the claim, and this service runs more than one', 'with ReadWriteOncePod a rolling update never finishes'], problems
    assert not render.validate_services([{'name': 'db', 'image': 'db:1', 'strategy': {'type': 'Recreate'}, 'volumes': volume}])
    assert not render.validate_services([{'name': 'once', 'image': 'db:1', 'job': {}, 'volumes': volume}])


def test_a_service_may_name_pull_secrets_made_elsewhere_besides_the_sets_own():
    svc = {'name': 'api', 'image': 'api:1', 'imagePullSecrets': ['team-pull', 'shop-registry-credentials']}
    assert not render.validate_services([svc])
    mine = _by_kind(render.render_all([svc], 'shop', registry_credentials=REGISTRY))['Deployment']['spec']['template']['spec']
    assert mine['imagePullSecrets'] == [{'name': 'shop-registry-credentials'}, {'name': 'team-pull'}]
    alone = _by_kind(render.render_all([svc], 'other'))['Deployment']['spec']['template']['spec']
    assert alone['imagePullSecrets'] == [{'name': 'team-pull'}, {'name': 'shop-registry-credentials'}]
    problems = render.validate_services([dict(svc, imagePullSecrets=['Team_Pull'])])
    assert any(p.startswith('kubeseed_microservices[0].imagePullSecrets[0]:') for p in problems), problems
