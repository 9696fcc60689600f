# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The microservices variable contract: a corpus of invalid services, each reported at its path."""
from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_render import validate_services
from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_schema import MICROSERVICES_SCHEMA
from ansible_collections.kubeseed.cluster.plugins.module_utils._schema_validation import validate

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))

GOOD = {
    'name': 'api', 'image': 'registry.example.com/shop/api:1.4.2', 'replicas': 2,
    'ports': [{'name': 'http', 'port': 80, 'targetPort': 8080}, {'port': 9090}],
    'env': {'LOG_LEVEL': 'info', 'WORKERS': 4, 'DEBUG': False},
    'config': {'app.yaml': 'a: 1'}, 'secrets': {'DB_PASSWORD': 'x'},
    'resources': {'requests': {'cpu': '100m', 'memory': '64Mi'}, 'limits': {'cpu': 1, 'memory': '1Gi'}},
    'readiness': {'httpGet': {'path': '/healthz', 'port': 'http'}, 'periodSeconds': 5},
    'liveness': {'tcpSocket': {'port': 8080}},
    'service': {'type': 'NodePort'}, 'ingress': {'host': 'api.example.com', 'tlsSecret': 'api-tls'},
    'autoscaling': {'min': 2, 'max': 5, 'cpu': 70}, 'pdb': {'minAvailable': '50%'},
    'labels': {'team': 'shop'}, 'annotations': {'example.com/owner': 'shop'},
    'serviceAccount': 'api', 'createServiceAccount': True,
    'strategy': {'type': 'RollingUpdate', 'maxSurge': '25%', 'maxUnavailable': 0},
}


def _with(path: str, value: object, base: dict | None = None) -> dict:
    """GOOD with one dotted path (list indexes as numbers) set to value; value DELETE removes it."""
    svc = copy.deepcopy(base or GOOD)
    parts = path.split('.')
    target = svc
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    last = parts[-1]
    if value == 'DELETE':
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return svc


# (service, expected problem path, a word the message must contain)
INVALID = [
    (_with('name', 'Api'), 'kubeseed_microservices[0].name', 'lowercase'),
    (_with('name', '1api'), 'kubeseed_microservices[0].name', 'starting with a letter'),
    (_with('name', 'DELETE'), 'kubeseed_microservices[0]', "'name' is a required property"),
    (_with('image', 'DELETE'), 'kubeseed_microservices[0]', "'image' is a required property"),
    (_with('image', 'nginx latest'), 'kubeseed_microservices[0].image', 'no spaces'),
    (_with('imagePullPolicy', 'Sometimes'), 'kubeseed_microservices[0].imagePullPolicy', 'is not one of'),
    (_with('namespace', 'Shop_NS'), 'kubeseed_microservices[0].namespace', 'lowercase'),
    (_with('replicas', -1), 'kubeseed_microservices[0].replicas', 'less than the minimum'),
    (_with('replicas', '2'), 'kubeseed_microservices[0].replicas', 'expected an integer'),
    (_with('ports.0.port', 70000), 'kubeseed_microservices[0].ports[0].port', 'greater than the maximum of 65535'),
    (_with('ports.0.port', 0), 'kubeseed_microservices[0].ports[0].port', 'less than the minimum of 1'),
    (_with('ports.0.targetPort', 'eighty'), 'kubeseed_microservices[0].ports[0].targetPort', 'expected an integer'),
    (_with('ports.0.protocol', 'HTTP'), 'kubeseed_microservices[0].ports[0].protocol', 'is not one of'),
    (_with('ports.0.nodePort', 8080), 'kubeseed_microservices[0].ports[0].nodePort', 'less than the minimum of 30000'),
    (_with('ports.0.name', 'a-very-long-port-name'), 'kubeseed_microservices[0].ports[0].name', 'at most 15'),
    (_with('ports.0.prot', 80), 'kubeseed_microservices[0].ports[0]', "did you mean 'port'"),
    (_with('ports.1', {'port': 80, 'name': 'web'}), 'kubeseed_microservices[0].ports[1].port', 'already used by ports[0]'),
    (_with('ports.1', {'port': 81, 'name': 'http'}), 'kubeseed_microservices[0].ports[1].name', 'already the name of ports[0]'),
    (_with('command', 'run.sh'), 'kubeseed_microservices[0].command', 'expected a list'),
    (_with('env.1BAD', 'x'), 'kubeseed_microservices[0].env', 'not a valid key'),
    (_with('env.LIST', ['a']), 'kubeseed_microservices[0].env.LIST', 'expected a string or number or boolean'),
    (_with('config.bad key', 'x'), 'kubeseed_microservices[0].config', 'not a valid key'),
    (_with('secrets.PASS', {'nested': 1}), 'kubeseed_microservices[0].secrets.PASS', 'expected a string or number or boolean'),
    (_with('resources.requests.cpu', '100 millicores'), 'kubeseed_microservices[0].resources.requests.cpu', 'quantity'),
    (_with('resources.limits.memory', '1GB'), 'kubeseed_microservices[0].resources.limits.memory', 'quantity'),
    (_with('resources.request', {}), 'kubeseed_microservices[0].resources', "did you mean 'requests'"),
    (_with('readiness', {'periodSeconds': 5}), 'kubeseed_microservices[0].readiness', 'is not valid under any of the given schemas'),
    (_with('readiness.httpGet.path', 'healthz'), 'kubeseed_microservices[0].readiness.httpGet.path', 'start the path with /'),
    (_with('readiness.httpGet.port', 'metrics'), 'kubeseed_microservices[0].readiness.httpGet.port', 'not the name of one of the ports'),
    (_with('liveness.tcpSocket.port', 1234), 'kubeseed_microservices[0].liveness.tcpSocket.port', 'not one of the container ports'),
    (_with('liveness.periodSeconds', 0), 'kubeseed_microservices[0].liveness.periodSeconds', 'less than the minimum of 1'),
    (_with('service.type', 'External'), 'kubeseed_microservices[0].service.type', 'is not one of'),
    (_with('ports.0.nodePort', 30080, _with('service.type', 'ClusterIP')), 'kubeseed_microservices[0].ports[0].nodePort',
     'only NodePort and LoadBalancer'),
    (_with('ingress.host', 'API.example.com'), 'kubeseed_microservices[0].ingress.host', 'lowercase DNS name'),
    (_with('ingress.host', 'DELETE'), 'kubeseed_microservices[0].ingress', "'host' is a required property"),
    (_with('ingress.path', 'api'), 'kubeseed_microservices[0].ingress.path', 'start the path with /'),
    (_with('ingress.port', 'grpc'), 'kubeseed_microservices[0].ingress.port', 'neither the name nor the number'),
    (_with('ports', []), 'kubeseed_microservices[0].ingress', 'needs a Service'),
    (_with('autoscaling.max', 'DELETE'), 'kubeseed_microservices[0].autoscaling', "'max' is a required property"),
    (_with('autoscaling.min', 9), 'kubeseed_microservices[0].autoscaling.min', 'greater than max'),
    (_with('autoscaling.cpu', 0), 'kubeseed_microservices[0].autoscaling.cpu', 'less than the minimum of 1'),
    (_with('pdb.maxUnavailable', 1), 'kubeseed_microservices[0].pdb', 'is valid under each of'),
    (_with('pdb.minAvailable', '50 percent'), 'kubeseed_microservices[0].pdb.minAvailable', 'is not valid under any'),
    (_with('labels.team', 'shop team'), 'kubeseed_microservices[0].labels.team', 'label values'),
    (_with('labels.-bad', 'x'), 'kubeseed_microservices[0].labels', 'not a valid key'),
    (_with('annotations.owner', 5), 'kubeseed_microservices[0].annotations.owner', 'expected a string'),
    (_with('serviceAccount', 'DELETE'), 'kubeseed_microservices[0].createServiceAccount', 'set serviceAccount'),
    (_with('strategy.type', 'BlueGreen'), 'kubeseed_microservices[0].strategy.type', 'is not one of'),
    (_with('strategy.type', 'Recreate'), 'kubeseed_microservices[0].strategy', 'only apply to type RollingUpdate'),
    (_with('strategy.maxSurge', '25'), 'kubeseed_microservices[0].strategy.maxSurge', 'is not valid under any'),
    (_with('replica', 3), 'kubeseed_microservices[0]', "did you mean 'replicas'"),
    (_with('configMountPath', 'etc/app'), 'kubeseed_microservices[0].configMountPath', 'absolute path'),
]


def test_the_good_service_is_valid():
    assert validate_services([GOOD], 'shop') == []


def test_the_corpus_is_large_enough():
    assert len(INVALID) >= 30


@pytest.mark.parametrize('svc, path, words', INVALID, ids=['%02d-%s' % (i, case[1].split('[0]')[-1] or 'service') for i, case in enumerate(INVALID)])
def test_invalid_service_is_reported_at_its_path(svc, path, words):
    problems = validate_services([svc], 'shop')
    matching = [p for p in problems if p.startswith(path + ': ')]
    assert matching, 'no problem at %s in %s' % (path, problems)
    assert any(words in p for p in matching), matching


def test_every_problem_is_reported_at_once_with_its_index():
    bad = [GOOD, _with('ports.0.port', 70000), _with('name', 'Bad'), _with('replicas', -1)]
    problems = validate_services(bad, 'shop')
    assert 'kubeseed_microservices[1].ports[0].port: 70000 is greater than the maximum of 65535' in problems
    assert any(p.startswith('kubeseed_microservices[2].name: ') for p in problems)
    assert any(p.startswith('kubeseed_microservices[3].replicas: ') for p in problems)
    assert not any(p.startswith('kubeseed_microservices[0]') for p in problems)


def test_duplicate_names_in_one_namespace_are_reported():
    problems = validate_services([GOOD, dict(GOOD)], 'shop')
    assert any(p.startswith('kubeseed_microservices[1].name: ') and 'already used by kubeseed_microservices[0]' in p for p in problems)
    other_ns = dict(GOOD, namespace='other')
    assert validate_services([GOOD, other_ns], 'shop') == []


def test_secrets_for_an_unknown_service_are_reported():
    assert validate_services([GOOD], 'shop', secrets={'ghost': {'A': 'b'}}) == [
        "secrets.ghost: there is no service named 'ghost' to attach these secrets to"]


def test_not_a_list():
    assert validate_services({'name': 'api'}, 'shop') == ["kubeseed_microservices: {'name': 'api'} is a mapping, expected a list"]


def test_unknown_role_variable_is_a_typo():
    problems = validate(MICROSERVICES_SCHEMA, {'kubeseed_microservices_namespce': 'x', 'ansible_user': 'root'})
    assert problems == ['kubeseed_microservices_namespce: unknown variable; did you mean kubeseed_microservices_namespace?']


def test_role_defaults_match_the_schema():
    yaml = pytest.importorskip('yaml')
    with open(os.path.join(ROOT, 'roles', 'microservices', 'defaults', 'main.yml'), encoding='utf-8') as handle:
        defaults = yaml.safe_load(handle)
    declared = {name: spec['default'] for name, spec in MICROSERVICES_SCHEMA['properties'].items()}
    assert defaults == declared
    assert validate(MICROSERVICES_SCHEMA, defaults) == []


def test_role_argument_specs_document_every_variable():
    yaml = pytest.importorskip('yaml')
    with open(os.path.join(ROOT, 'roles', 'microservices', 'meta', 'argument_specs.yml'), encoding='utf-8') as handle:
        options = yaml.safe_load(handle)['argument_specs']['main']['options']
    assert set(options) == set(MICROSERVICES_SCHEMA['properties'])
    for name, spec in options.items():
        assert spec['default'] == MICROSERVICES_SCHEMA['properties'][name]['default'], name
        assert spec['description'], name


def test_published_schema_is_up_to_date():
    with open(os.path.join(ROOT, 'schemas', 'microservices.schema.json'), encoding='utf-8') as handle:
        assert json.load(handle) == json.loads(json.dumps(MICROSERVICES_SCHEMA))
