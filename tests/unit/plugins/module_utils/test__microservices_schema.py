# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The microservices variable contract: invalid services, each reported at its path with its fix; wrong types
anywhere never raise; values under secrets never appear in a message."""
from __future__ import annotations

import copy
import datetime
import json
import os
import random
import re
from fractions import Fraction

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_render import parse_quantity, validate_services
from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_schema import IMAGE, MICROSERVICES_SCHEMA, SERVICE_SCHEMA
from ansible_collections.kubeseed.cluster.plugins.module_utils._schema_validation import validate

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))

GOOD = {
    'name': 'api', 'image': 'registry.example.com/shop/api:1.4.2', 'replicas': 2,
    'ports': [{'name': 'http', 'port': 80, 'targetPort': 8080}, {'port': 9090}],
    'env': {'LOG_LEVEL': 'info', 'WORKERS': '4', 'DEBUG': 'false'},
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
PATH = re.compile(r"^(secrets|kubeseed_microservices[a-z_]*)(\[[^\]]+\]|\.[^:\s\[]+)*: ")


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


def _entry(field: str, key: str, value: object) -> dict:
    """GOOD with one more key (that may hold dots) in one of its mappings."""
    svc = copy.deepcopy(GOOD)
    svc.setdefault(field, {})[key] = value
    return svc


def _well_formed(problems: list) -> None:
    for problem in problems:
        assert PATH.match(problem), problem
        assert len(problem) <= 300, problem
        assert 'Traceback' not in problem and '<class' not in problem and 'object at 0x' not in problem, problem


# (service, expected problem path, a word the message must contain)
INVALID = [
    (_with('name', 'Api'), 'kubeseed_microservices[0].name', 'lowercase'),
    (_with('name', '1api'), 'kubeseed_microservices[0].name', 'starting with a letter'),
    (_with('name', 'api\n'), 'kubeseed_microservices[0].name', 'ends with a newline'),
    (_with('name', 'a' * 64), 'kubeseed_microservices[0].name', 'at most 63'),
    (_with('name', 'DELETE'), 'kubeseed_microservices[0]', "'name' is a required property"),
    (_with('image', 'DELETE'), 'kubeseed_microservices[0]', "'image' is a required property"),
    (_with('image', 'nginx latest'), 'kubeseed_microservices[0].image', 'contains a space'),
    (_with('image', 'https://registry.example.com/shop/api:1'), 'kubeseed_microservices[0].image', 'write registry.example.com/shop/api:1'),
    (_with('image', 'registry.example.com/Shop/API:V1'), 'kubeseed_microservices[0].image', 'write registry.example.com/shop/api:V1'),
    (_with('image', 'Shop/api'), 'kubeseed_microservices[0].image', 'not a registry host'),
    (_with('image', 'api:' + 'x' * 129), 'kubeseed_microservices[0].image', 'a tag has at most 128'),
    (_with('image', 'api:-rc1'), 'kubeseed_microservices[0].image', 'invalid tag'),
    (_with('image', 'api@sha256:abc'), 'kubeseed_microservices[0].image', 'invalid digest'),
    (_with('image', 'shop//api'), 'kubeseed_microservices[0].image', 'empty path component'),
    (_with('image', 'registry.example.com/' + 'a' * 250 + ':1'), 'kubeseed_microservices[0].image', 'more than 255 characters'),
    (_with('image', 'my_registry:5000/api'), 'kubeseed_microservices[0].image', 'no scheme'),
    (_with('image', 'registry.example.com/api:1\u200b'), 'kubeseed_microservices[0].image', 'invisible character U+200B'),
    (_with('imagePullPolicy', 'Sometimes'), 'kubeseed_microservices[0].imagePullPolicy', 'is not one of'),
    (_with('namespace', 'Shop_NS'), 'kubeseed_microservices[0].namespace', 'lowercase'),
    (_with('replicas', -1), 'kubeseed_microservices[0].replicas', 'less than the minimum'),
    (_with('replicas', 2 ** 31), 'kubeseed_microservices[0].replicas', 'greater than the maximum of 2147483647'),
    (_with('replicas', '2'), 'kubeseed_microservices[0].replicas', 'write 2 without quotes'),
    (_with('replicas', 2.0), 'kubeseed_microservices[0].replicas', 'write 2'),
    (_with('ports.0.port', 70000), 'kubeseed_microservices[0].ports[0].port', 'greater than the maximum of 65535'),
    (_with('ports.0.port', 0), 'kubeseed_microservices[0].ports[0].port', 'less than the minimum of 1'),
    (_with('ports.0.targetPort', 'eighty'), 'kubeseed_microservices[0].ports[0].targetPort', 'expected an integer'),
    (_with('ports.0.protocol', 'HTTP'), 'kubeseed_microservices[0].ports[0].protocol', 'is not one of'),
    (_with('ports.0.nodePort', 8080), 'kubeseed_microservices[0].ports[0].nodePort', 'less than the minimum of 30000'),
    (_with('ports.0.nodePort', 32768), 'kubeseed_microservices[0].ports[0].nodePort', 'greater than the maximum of 32767'),
    (_with('ports.1', {'port': 9090, 'nodePort': 30080}, _with('ports.0.nodePort', 30080)),
     'kubeseed_microservices[0].ports[1].nodePort', '30080/TCP is already the node port of ports[0]'),
    (_with('ports.0.name', 'a-very-long-port-name'), 'kubeseed_microservices[0].ports[0].name', 'at most 15'),
    (_with('ports.0.name', 'web--api'), 'kubeseed_microservices[0].ports[0].name', 'single dashes'),
    (_with('ports.0.prot', 80), 'kubeseed_microservices[0].ports[0]', "did you mean 'port'"),
    (_with('ports.0.containerPort', 8080), 'kubeseed_microservices[0].ports[0]', 'use targetPort'),
    (_with('ports.1', {'port': 80, 'name': 'web'}), 'kubeseed_microservices[0].ports[1].port', 'already used by ports[0]'),
    (_with('ports.1', {'port': 81, 'name': 'http'}), 'kubeseed_microservices[0].ports[1].name', 'already the name of ports[0]'),
    (_with('ports.1', {'port': 443, 'targetPort': 8080}), 'kubeseed_microservices[0].ports[1].targetPort', 'already the target of ports[0]'),
    (_with('ports', 8080), 'kubeseed_microservices[0].ports', 'write ports: [{port: 8080}]'),
    (_with('ports', ['8080:80']), 'kubeseed_microservices[0].ports[0]', 'write {port: 8080, targetPort: 80}'),
    (_with('command', 'run.sh --fast'), 'kubeseed_microservices[0].command', 'write command: [run.sh, --fast]'),
    (_with('args', ['--port', 8080]), 'kubeseed_microservices[0].args[1]', 'quote it ("8080"'),
    (_with('env.MODE', 493), 'kubeseed_microservices[0].env.MODE', '"0755" if you wrote 0755'),
    (_with('env.VERSION', 1.1), 'kubeseed_microservices[0].env.VERSION', 'YAML turns 1.10 into 1.1'),
    (_with('env.ENABLED', True), 'kubeseed_microservices[0].env.ENABLED', 'quote it ("true"'),
    (_with('env.EMPTY', None), 'kubeseed_microservices[0].env.EMPTY', 'write "" for an empty value'),
    (_with('env.BAD=NAME', 'x'), 'kubeseed_microservices[0].env', 'other than ='),
    (_with('env.LIST', ['a']), 'kubeseed_microservices[0].env.LIST', 'is a list, expected a string'),
    (_with('env', [{'name': 'A', 'value': 'b'}]), 'kubeseed_microservices[0].env', 'write env: {NAME: "value", ...}'),
    (_with('config.bad key', 'x'), 'kubeseed_microservices[0].config', 'at most 253 letters'),
    (_with('config.PORT', 8080), 'kubeseed_microservices[0].config.PORT', 'quote it ("8080"'),
    (_entry('config', 'big', 'x' * (1024 * 1024 + 1)), 'kubeseed_microservices[0].config', 'a ConfigMap holds at most 1048576'),
    (_with('secrets.PASS', {'nested': 1}), 'kubeseed_microservices[0].secrets.PASS', '<hidden> is a mapping, expected a string'),
    (_with('secrets.PIN', 1234), 'kubeseed_microservices[0].secrets.PIN', '<hidden> is an integer; Kubernetes needs a string'),
    (_with('secrets', ['DB_PASSWORD=x']), 'kubeseed_microservices[0].secrets', '<hidden> is a list, expected a mapping'),
    (_with('resources.requests.cpu', '100 millicores'), 'kubeseed_microservices[0].resources.requests.cpu', 'quantity'),
    (_with('resources.limits.memory', '1GB'), 'kubeseed_microservices[0].resources.limits.memory', 'not 1GB'),
    (_with('resources.limits.memory', '128m'), 'kubeseed_microservices[0].resources.limits.memory', 'write 128Mi'),
    (_with('resources.limits.cpu', '500M'), 'kubeseed_microservices[0].resources.limits.cpu', 'did you mean 500m'),
    (_with('resources.requests.memory', '2Gi'), 'kubeseed_microservices[0].resources.requests.memory', 'more than the limit'),
    (_with('resources.requests.cpu', '1.5'), 'kubeseed_microservices[0].resources.requests.cpu', 'more than the limit 1'),
    (_with('resources.request', {}), 'kubeseed_microservices[0].resources', "did you mean 'requests'"),
    (_with('resources.cpu', '100m'), 'kubeseed_microservices[0].resources', 'put it under requests or limits'),
    (_with('readiness', {'periodSeconds': 5}), 'kubeseed_microservices[0].readiness', 'set exactly one of httpGet'),
    (_with('readiness', '/healthz'), 'kubeseed_microservices[0].readiness', '{httpGet: {path: /healthz, port: http}}'),
    (_with('readiness.httpGet.path', 'healthz'), 'kubeseed_microservices[0].readiness.httpGet.path', 'start the path with /'),
    (_with('readiness.httpGet.port', 'metrics'), 'kubeseed_microservices[0].readiness.httpGet.port', 'not the name of one of the ports'),
    (_with('readiness.httpGet.port', '8080'), 'kubeseed_microservices[0].readiness.httpGet.port', 'write 8080 without quotes'),
    (_with('liveness.periodSeconds', 0), 'kubeseed_microservices[0].liveness.periodSeconds', 'less than the minimum of 1'),
    (_with('liveness.timeoutSeconds', 0), 'kubeseed_microservices[0].liveness.timeoutSeconds', 'less than the minimum of 1'),
    (_with('liveness.successThreshold', 2), 'kubeseed_microservices[0].liveness.successThreshold', 'needs 1'),
    (_with('livenessProbe', {'tcpSocket': {'port': 8080}}), 'kubeseed_microservices[0]', 'use liveness'),
    (_with('service.type', 'External'), 'kubeseed_microservices[0].service.type', 'is not one of'),
    (_with('service', 'NodePort'), 'kubeseed_microservices[0].service', 'write service: {type: NodePort}'),
    (_with('ports.0.nodePort', 30080, _with('service.type', 'ClusterIP')), 'kubeseed_microservices[0].ports[0].nodePort',
     'only NodePort and LoadBalancer'),
    (_with('ingress.host', 'API.example.com'), 'kubeseed_microservices[0].ingress.host', 'lowercase DNS name'),
    (_with('ingress.host', 'DELETE'), 'kubeseed_microservices[0].ingress', "'host' is a required property"),
    (_with('ingress.path', 'api'), 'kubeseed_microservices[0].ingress.path', 'start the path with /'),
    (_with('ingress.path', '/api//v1'), 'kubeseed_microservices[0].ingress.path', 'may not contain //'),
    (_with('ingress.port', 'grpc'), 'kubeseed_microservices[0].ingress.port', 'neither the name nor the number'),
    (_with('ports', []), 'kubeseed_microservices[0].ingress', 'needs a Service'),
    (_with('autoscaling.max', 'DELETE'), 'kubeseed_microservices[0].autoscaling', "'max' is a required property"),
    (_with('autoscaling.min', 9), 'kubeseed_microservices[0].autoscaling.min', 'greater than max'),
    (_with('autoscaling.min', '2'), 'kubeseed_microservices[0].autoscaling.min', 'write 2 without quotes'),
    (_with('autoscaling.cpu', 0), 'kubeseed_microservices[0].autoscaling.cpu', 'less than the minimum of 1'),
    (_with('autoscaling', 5), 'kubeseed_microservices[0].autoscaling', '{min: 1, max: 5}'),
    (_with('autoscaling.maxReplicas', 5), 'kubeseed_microservices[0].autoscaling', 'use max'),
    (_with('pdb.maxUnavailable', 1), 'kubeseed_microservices[0].pdb', 'set only one of minAvailable, maxUnavailable'),
    (_with('pdb.minAvailable', '50 percent'), 'kubeseed_microservices[0].pdb.minAvailable', 'percentage such as 25%'),
    (_with('pdb.minAvailable', '150%'), 'kubeseed_microservices[0].pdb.minAvailable', 'more than 100%'),
    (_with('labels.team', 'shop team'), 'kubeseed_microservices[0].labels.team', 'label values'),
    (_with('labels.version', 1.1), 'kubeseed_microservices[0].labels.version', 'quote it'),
    (_with('labels.-bad', 'x'), 'kubeseed_microservices[0].labels', 'at most 63'),
    (_entry('labels', 'app.kubernetes.io/name', 'x'), 'kubeseed_microservices[0].labels', 'is set by kubeseed'),
    (_with('annotations.owner', 5), 'kubeseed_microservices[0].annotations.owner', 'quote it ("5"'),
    (_entry('annotations', 'big', 'x' * 300000), 'kubeseed_microservices[0].annotations', 'at most 262144'),
    (_with('serviceAccount', 'DELETE'), 'kubeseed_microservices[0].createServiceAccount', 'set serviceAccount'),
    (_with('createServiceAccount', 'yes'), 'kubeseed_microservices[0].createServiceAccount', 'write true without quotes'),
    (_with('strategy.type', 'BlueGreen'), 'kubeseed_microservices[0].strategy.type', 'is not one of'),
    (_with('strategy.type', 'Recreate'), 'kubeseed_microservices[0].strategy', 'only apply to type RollingUpdate'),
    (_with('strategy.maxSurge', '25'), 'kubeseed_microservices[0].strategy.maxSurge', 'write 25 without quotes (or 25%)'),
    (_with('strategy.maxSurge', 0), 'kubeseed_microservices[0].strategy', 'cannot both be 0'),
    (_with('strategy.maxUnavailable', '120%'), 'kubeseed_microservices[0].strategy.maxUnavailable', 'more than 100%'),
    (_with('replica', 3), 'kubeseed_microservices[0]', "did you mean 'replicas'"),
    (_with('configMountPath', 'etc/app'), 'kubeseed_microservices[0].configMountPath', 'absolute path'),
    (_with('config', 'DELETE', _with('configMountPath', '/etc/app')), 'kubeseed_microservices[0].configMountPath', 'nothing to mount'),
]

VALID = [
    _with('image', 'registry.example.com:5000/shop/api:1.4.2@sha256:' + 'a' * 64),
    _with('image', 'localhost:5000/api'),
    _with('image', 'nginx'),
    _with('image', 'REGISTRY.Example.com/shop/api:V1.0_rc-1'),
    _with('image', '[fd00::1]:5000/shop/api'),
    _with('image', 'registry.example.com/shop/api@sha256:' + 'b' * 64),
    _with('liveness', {'httpGet': {'path': '/healthz', 'port': 8081}}),   # a port the Service does not expose
    _with('readiness', {'tcpSocket': {'port': 7000}}),
    _with('readiness', {'grpc': {'port': 9000}}),
    _with('env.EMPTY', ''),
    _with('env.1ST', 'x'),              # env names: any printable ASCII but = (Kubernetes 1.34+)
    _entry('env', 'my.setting-name', 'x'),
    _with('env.MODE', '0755'),
    _with('resources.requests.cpu', '1e-1'),
    _with('resources.limits.memory', 1073741824),
    _with('resources.requests.memory', '1Gi'),  # equal to the limit
    _entry('annotations', 'Example.COM/Owner', 'shop'),
    _entry('labels', 'example.com/tier', ''),
    _entry('config', 'big', 'x' * (1024 * 1024 - 10)),
    _with('pdb', {'maxUnavailable': 0}),
]


def test_the_good_service_is_valid():
    assert validate_services([GOOD], 'shop') == []


@pytest.mark.parametrize('svc', VALID, ids=range(len(VALID)))
def test_valid_but_unusual_input_is_accepted(svc):
    assert validate_services([svc], 'shop') == []


def test_the_corpus_is_large_enough():
    assert len(INVALID) >= 100


@pytest.mark.parametrize('svc, path, words', INVALID, ids=['%02d-%s' % (i, case[1].split('[0]')[-1] or 'service') for i, case in enumerate(INVALID)])
def test_invalid_service_is_reported_at_its_path(svc, path, words):
    problems = validate_services([svc], 'shop')
    _well_formed(problems)
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
    other = _with('ports', [{'port': 80}], _with('service', {'type': 'ClusterIP'}))
    problems = validate_services([GOOD, other], 'shop')
    assert any(p.startswith('kubeseed_microservices[1].name: ') and 'already used by kubeseed_microservices[0]' in p for p in problems)
    assert validate_services([GOOD, dict(other, namespace='other')], 'shop') == []


def test_node_ports_are_unique_across_services_and_per_protocol_within_one():
    first = {'name': 'a', 'image': 'a:1', 'ports': [{'port': 53, 'nodePort': 30053}, {'port': 53, 'protocol': 'UDP', 'nodePort': 30053}],
             'service': {'type': 'NodePort'}}
    assert validate_services([first], 'shop') == []   # the same node port for TCP and UDP of one Service is fine
    second = {'name': 'b', 'image': 'b:1', 'namespace': 'other', 'ports': [{'port': 80, 'nodePort': 30053}], 'service': {'type': 'LoadBalancer'}}
    assert validate_services([first, second], 'shop') == [
        'kubeseed_microservices[1].ports[0].nodePort: 30053 is already the node port of kubeseed_microservices[0].ports[0]; '
        'a node port is used once in the whole cluster']


def test_a_probe_may_use_any_container_port_but_a_name_must_be_a_port_name():
    svc = {'name': 'a', 'image': 'a:1', 'ports': [{'port': 80, 'targetPort': 8080}],
           'readiness': {'httpGet': {'path': '/ready', 'port': 9901}}, 'liveness': {'tcpSocket': {'port': 'http'}}}
    assert validate_services([svc], 'shop') == []
    no_ports = {'name': 'a', 'image': 'a:1', 'liveness': {'httpGet': {'port': 8080}}}
    assert validate_services([no_ports], 'shop') == []
    named = dict(no_ports, liveness={'httpGet': {'port': 'http'}})
    assert validate_services([named], 'shop') == [
        "kubeseed_microservices[0].liveness.httpGet.port: 'http' is not the name of one of the ports (there are no ports: use a number)"]


def test_yaml_scalars_are_refused_where_kubernetes_needs_strings_with_the_quoting_fix():
    svc = {'name': 'api', 'image': 'registry.example.com/shop/api:1.4.2', 'env': {'MODE': 493}}
    assert validate_services([svc]) == [
        'kubeseed_microservices[0].env.MODE: 493 is an integer; Kubernetes needs a string: '
        'quote it ("493", or "0755" if you wrote 0755: YAML reads a leading 0 as octal; from a template: {{ x | string }})']
    svc = dict(svc, env={'DAY': datetime.date(2024, 1, 31), True: 'x'})
    assert validate_services([svc]) == [
        'kubeseed_microservices[0].env.DAY: 2024-01-31 is a date; Kubernetes needs a string: quote it ("2024-01-31")',
        'kubeseed_microservices[0].env: the key true is a boolean (YAML reads unquoted yes, no, on, off, true, false as booleans); '
        'names must be strings: quote the key']


def test_numbers_as_strings_say_to_drop_the_quotes():
    svc = {'name': 'api', 'image': 'a:1', 'replicas': '3', 'ports': [{'port': '8080'}]}
    assert validate_services([svc]) == [
        'kubeseed_microservices[0].ports[0].port: \'8080\' is a string, expected an integer: write 8080 without quotes; '
        'AWX survey answers and -e key=value are strings: use "{{ x | int }}"',
        'kubeseed_microservices[0].replicas: \'3\' is a string, expected an integer: write 3 without quotes; '
        'AWX survey answers and -e key=value are strings: use "{{ x | int }}"']


def test_secrets_for_an_unknown_service_are_reported():
    assert validate_services([GOOD], 'shop', secrets={'ghost': {'A': 'b'}}) == [
        "secrets.ghost: there is no service named 'ghost' to attach these secrets to"]


def test_not_a_list():
    assert validate_services({'name': 'api'}, 'shop') == [
        'kubeseed_microservices: is a single mapping, expected a list of services: put "- " before the first key of each service']
    for value in ('api', 8080, None, True):
        problems = validate_services(value, 'shop')
        assert problems and all(p.startswith('kubeseed_microservices: ') for p in problems), problems


def test_image_grammar():
    grammar = re.compile(IMAGE)
    for good in ('nginx', 'nginx:1.27', 'library/nginx', 'foo__bar/a-b.c_d', 'a--b', 'localhost/app', 'localhost:5000/app:1',
                 'registry.example.com:443/a/b/c:tag_1.0-x', 'app@sha256:' + 'f' * 64, 'app:1@sha512:' + '0' * 128):
        assert grammar.search(good), good
    for bad in ('Nginx', 'nginx:', 'nginx:.1', 'a___b', 'a/', '/a', 'a//b', 'app@sha256:' + 'F' * 64, 'app@md5:' + 'f' * 32,
                'http://registry.example.com/a', 'registry.example.com/a b', 'host_name:5000/a', 'a:' + 'x' * 129):
        assert not grammar.search(bad), bad


def test_quantities():
    assert parse_quantity('100m') == (Fraction(1, 10), 'm')
    assert parse_quantity('128Mi') == (128 * 2 ** 20, 'Mi')
    assert parse_quantity('1G')[0] == 10 ** 9
    assert parse_quantity('1e3')[0] == 1000
    assert parse_quantity('.5')[0] == Fraction(1, 2)
    assert parse_quantity(0.5)[0] == Fraction(1, 2)
    assert parse_quantity(2)[0] == 2
    for bad in ('1GB', '', 'm', '-1', '1 Gi', True, None, [], '1e999', float('inf')):
        assert parse_quantity(bad) is None, bad


def test_secret_size_counts_the_secrets_option_too():
    svc = {'name': 'api', 'image': 'a:1', 'secrets': {'A': 'x' * (600 * 1024)}}
    assert validate_services([svc]) == []
    problems = validate_services([svc], secrets={'api': {'B': 'y' * (600 * 1024)}})
    assert problems == ['kubeseed_microservices[0].secrets: the values hold 1228800 bytes; a Secret holds at most 1048576 (1 MiB)']


# ---------------------------------------------------------------- never a traceback ----

WRONG_VALUES = [None, True, False, 0, -1, 2 ** 40, 1.5, 3.0, float('nan'), '', 'x', 'NodePort', '8080', '8080:80', '/healthz', 'a\n',
                'A' * 500, [], ['x'], [1], [None], [{}], [['x']], {}, {'a': 1}, {'x': [1]}, {1: 'a'}, {True: None}, {None: {}},
                datetime.date(2024, 1, 1), datetime.datetime(2024, 1, 1, 12, 0), b'bytes', (1, 2), {'name': 'A', 'value': 'b'},
                [{'name': 'A', 'value': 'b'}], ['A=b'], {'port': 80}, {'httpGet': 'x'}]


def _schema_paths(schema: dict, prefix: tuple = ()) -> list:
    """Every path of a service the schema describes, with a list index 0 for arrays and one key for maps."""
    paths = []
    for key, sub in (schema.get('properties') or {}).items():
        paths.append(prefix + (key,))
        if sub.get('type') == 'object':
            paths.extend(_schema_paths(sub, prefix + (key,)))
            if isinstance(sub.get('additionalProperties'), dict):
                paths.append(prefix + (key, 'KEY'))
        if sub.get('type') == 'array':
            paths.append(prefix + (key, 0))
            if isinstance(sub.get('items'), dict) and sub['items'].get('type') == 'object':
                paths.extend(_schema_paths(sub['items'], prefix + (key, 0)))
    return paths


def _set(svc: dict, path: tuple, value: object) -> dict:
    svc = copy.deepcopy(svc)
    target = svc
    for part in path[:-1]:
        if isinstance(part, int):
            if not isinstance(target, list) or not target:
                return svc
            target = target[part]
        else:
            if not isinstance(target, dict):
                return svc
            if not isinstance(target.get(part), (dict, list)):
                target[part] = {}
            target = target[part]
    if isinstance(path[-1], int):
        if isinstance(target, list) and target:
            target[0] = value
    elif isinstance(target, dict):
        target[path[-1]] = value
    return svc


SCHEMA_PATHS = _schema_paths(SERVICE_SCHEMA)


def test_the_type_test_covers_every_field():
    assert len(SCHEMA_PATHS) > 60
    assert ('liveness', 'httpGet', 'port') in SCHEMA_PATHS and ('ports', 0, 'nodePort') in SCHEMA_PATHS and ('env', 'KEY') in SCHEMA_PATHS


@pytest.mark.parametrize('path', SCHEMA_PATHS, ids=['.'.join(str(p) for p in path) for path in SCHEMA_PATHS])
def test_a_wrong_type_anywhere_is_a_problem_with_a_path_never_an_exception(path):
    for value in WRONG_VALUES:
        svc = _set(GOOD, path, value)
        problems = validate_services([svc, GOOD], 'shop', 'apps', {'api': {'TOKEN': 'x'}})
        _well_formed(problems)


def _garbage(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.choice([None, True, False, 0, -7, 65536, 2 ** 31, 0.5, float('inf')])
    if kind == 1:
        return rng.choice(['', 'x', 'NodePort', 'http', '80', '100m', '1Gi', 'a:b', '/p', 'A B', '\n', '\u200b', '0755', 'yes'])
    if kind == 2:
        return rng.choice(list(SERVICE_SCHEMA['properties']) + ['port', 'httpGet', 'requests', 'min', 'max', 'type'])
    if kind == 3:
        return datetime.date(2020, 2, 29)
    if kind in (4, 5):
        return rng.randrange(-3, 70000)
    if kind == 6:
        return [_garbage(rng, depth + 1) for _item in range(rng.randrange(3))]
    keys = list(SERVICE_SCHEMA['properties']) + ['port', 'targetPort', 'nodePort', 'httpGet', 'tcpSocket', 'path', 'requests', 'limits',
                                                 'cpu', 'memory', 'min', 'max', 'type', 1, True, None]
    return {rng.choice(keys): _garbage(rng, depth + 1) for _key in range(rng.randrange(4))}


def test_random_nested_garbage_never_raises():
    rng = random.Random(18)
    for _round in range(600):
        svc = copy.deepcopy(GOOD)
        for _change in range(rng.randrange(1, 5)):
            svc = _set(svc, rng.choice(SCHEMA_PATHS), _garbage(rng))
        services = rng.choice([[svc], [svc, svc], [_garbage(rng), svc], _garbage(rng)])
        _well_formed(validate_services(services, rng.choice(['shop', 'Bad NS', None, 5]), 'apps', rng.choice([None, {}, {'api': _garbage(rng)}])))


# ---------------------------------------------------------------- secret values never shown ----

MARKER = 'MARKER-s3cr3t-value'
NUMBER = 987654321


@pytest.mark.parametrize('services, option', [
    ([{'name': 'api', 'image': 'a:1', 'secrets': [MARKER]}], None),
    ([{'name': 'api', 'image': 'a:1', 'secrets': MARKER}], None),
    ([{'name': 'api', 'image': 'a:1', 'secrets': 'PASSWORD=' + MARKER}], None),
    ([{'name': 'api', 'image': 'a:1', 'secrets': [{'name': 'PASSWORD', 'value': MARKER}]}], None),
    ([{'name': 'api', 'image': 'a:1', 'secrets': {'PASSWORD': NUMBER}}], None),
    ([{'name': 'api', 'image': 'a:1', 'secrets': {'PASSWORD': {'value': MARKER}}}], None),
    ([{'name': 'api', 'image': 'a:1', 'secrets': {'PASSWORD': [MARKER]}}], None),
    ([{'name': 'api', 'image': 'a:1', 'replicas': 'two', 'secrets': {'PASSWORD': MARKER + '\n'}}], None),   # valid value
    ([{'name': 'api', 'image': 'a:1', 'secrets': {'PASSWORD': 'x' * (1024 * 1024) + MARKER}}], None),
    ([{'image': 'a:1', 'secrets': {'PASSWORD': MARKER}}], None),                           # no name
    ([{'name': ['api'], 'image': 'a:1', 'secrets': {'PASSWORD': MARKER}}], None),
    ([{'name': 'api', 'image': 'a:1', 'secrets': {'P': MARKER}}, {'name': 'api', 'image': 'b:1', 'secrets': {'P': MARKER}}], None),
    ([{'name': 'api', 'image': 'a:1', 'secrets': {'bad key!': MARKER, '..x': MARKER, 2: MARKER, True: MARKER, None: MARKER}}], None),
    ([{'name': 'api', 'image': 'a:1', 'secret': {'PASSWORD': MARKER}}], None),              # alias
    ([{'name': 'api', 'image': 'a:1', 'Secrets': {'PASSWORD': MARKER}}], None),             # unknown setting
    ([{'name': 'api', 'image': 'a:1', 'env': {'secrets': MARKER}, 'config': {'secrets': {'x': MARKER}}}], None),
    ({'name': 'api', 'image': 'a:1', 'secrets': {'PASSWORD': MARKER}}, None),               # a mapping, not a list
    ([[{'name': 'api', 'image': 'a:1', 'secrets': {'PASSWORD': MARKER}}]], None),           # one level too deep
    ([{'secrets': {'PASSWORD': MARKER}}], None),                                            # no name, no image
    ([{'name': 'api', 'image': 'a:1'}], {'api': [MARKER]}),
    ([{'name': 'api', 'image': 'a:1'}], {'api': {'P': NUMBER, 'Q': [MARKER], 'bad key': MARKER, 2: MARKER}}),
    ([{'name': 'api', 'image': 'a:1'}], {'ghost': {'P': MARKER}}),
    ([{'name': 'api', 'image': 'a:1'}], {'api': {'P': 'x' * (1024 * 1024) + MARKER}}),
    ([{'name': 'api', 'image': 'a:1'}], MARKER),
])
def test_secret_values_never_appear_in_a_problem(services, option):
    problems = validate_services(services, 'shop', 'apps', option)
    assert problems
    _well_formed(problems)
    text = '\n'.join(problems)
    assert MARKER not in text and str(NUMBER) not in text, problems


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
