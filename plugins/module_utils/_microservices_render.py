# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions of the apps half: validate services, render their Kubernetes objects, and decide
what changed, what to prune and what a diff may show (never Secret values).

Nothing here talks to an API server; _microservices_ops does, with these results.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json

from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_schema import MICROSERVICES_SCHEMA
from ansible_collections.kubeseed.cluster.plugins.module_utils._schema_validation import validate

MANAGED_BY = 'app.kubernetes.io/managed-by'
MANAGER_VALUE = 'kubeseed'
SET_LABEL = 'kubeseed.io/set'
NAME_LABEL = 'app.kubernetes.io/name'
CHECKSUM_ANNOTATION = 'kubeseed.io/config-checksum'
ROOT = 'kubeseed_microservices'
HIDDEN = '<hidden>'
HIDDEN_CHANGED = '<hidden, changed>'

# Apply order: what pods need comes before the Deployments; kinds in the same phase are independent.
KIND_ORDER = ('Namespace', 'ServiceAccount', 'ConfigMap', 'Secret', 'Service', 'Deployment',
              'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Ingress')
API_VERSIONS = {
    'Namespace': 'v1', 'ServiceAccount': 'v1', 'ConfigMap': 'v1', 'Secret': 'v1', 'Service': 'v1',
    'Deployment': 'apps/v1', 'HorizontalPodAutoscaler': 'autoscaling/v2', 'PodDisruptionBudget': 'policy/v1',
    'Ingress': 'networking.k8s.io/v1',
}
# Kinds the prune and state=absent look at (never Namespace: deleting one deletes everything in it).
PRUNABLE_KINDS = tuple(k for k in KIND_ORDER if k != 'Namespace')


def _str(value: object) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def ownership_labels(set_name: str, name: str) -> dict:
    """Labels that mark an object as ours: managed by kubeseed, of this set, for this service."""
    return {MANAGED_BY: MANAGER_VALUE, SET_LABEL: set_name, NAME_LABEL: name}


def selector_labels(set_name: str, name: str) -> dict:
    """The (immutable) pod selector of a service's Deployment."""
    return {NAME_LABEL: name, SET_LABEL: set_name}


def set_selector(set_name: str) -> str:
    """Label selector (string form) of every object of a set."""
    return '%s=%s,%s=%s' % (MANAGED_BY, MANAGER_VALUE, SET_LABEL, set_name)


def checksum(config: dict | None, secrets: dict | None) -> str:
    """sha256 over the ConfigMap and Secret content: put on the pod template, a change rolls the pods."""
    payload = json.dumps({'config': {k: _str(v) for k, v in (config or {}).items()},
                          'secrets': {k: _str(v) for k, v in (secrets or {}).items()}}, sort_keys=True)
    return hashlib.sha256(payload.encode('utf-8')).hexdigest()


def object_key(obj: dict) -> tuple:
    """(kind, namespace, name) of an object; namespace is '' for cluster-scoped ones."""
    meta = obj.get('metadata') or {}
    return (obj.get('kind'), meta.get('namespace') or '', meta.get('name'))


def describe(key: tuple) -> str:
    """'Deployment shop/api' / 'Namespace shop'."""
    kind, namespace, name = key
    return '%s %s/%s' % (kind, namespace, name) if namespace else '%s %s' % (kind, name)


# ---------------------------------------------------------------- validation ----

def validate_services(services: object, namespace: str = 'default', set_name: str = 'apps', secrets: dict | None = None) -> list:
    """Every problem of the services list at once, each as 'kubeseed_microservices[i].path: message'."""
    data = {ROOT: services, ROOT + '_namespace': namespace, ROOT + '_set': set_name}
    problems = validate(MICROSERVICES_SCHEMA, data)
    if not isinstance(services, list):
        return problems
    seen = {}
    for index, svc in enumerate(services):
        if not isinstance(svc, dict):
            continue
        where = '%s[%d]' % (ROOT, index)
        key = (svc.get('namespace') or namespace, svc.get('name'))
        if key in seen:
            problems.append('%s.name: %r is already used by %s[%d] in namespace %s; names must be unique per namespace'
                            % (where, key[1], ROOT, seen[key], key[0]))
        else:
            seen[key] = index
        problems.extend(_cross_checks(svc, where))
    for name in sorted(set(secrets or {}) - set(s.get('name') for s in services if isinstance(s, dict))):
        problems.append('secrets.%s: there is no service named %r to attach these secrets to' % (name, name))
    return sorted(set(problems))


def _cross_checks(svc: dict, where: str) -> list:
    """What one JSON Schema cannot say: relations between the fields of one service."""
    problems = []
    ports = [p for p in svc.get('ports') or [] if isinstance(p, dict)]
    names, numbers = {}, {}
    for i, port in enumerate(ports):
        pname = port_name(port, i)
        if pname in names:
            problems.append('%s.ports[%d].name: %r is already the name of ports[%d]' % (where, i, pname, names[pname]))
        names.setdefault(pname, i)
        number = (port.get('port'), port.get('protocol', 'TCP'))
        if number in numbers:
            problems.append('%s.ports[%d].port: %s/%s is already used by ports[%d]' % (where, i, number[0], number[1], numbers[number]))
        numbers.setdefault(number, i)
    service_type = (svc.get('service') or {}).get('type', 'ClusterIP')
    for i, port in enumerate(ports):
        if 'nodePort' in port and service_type not in ('NodePort', 'LoadBalancer'):
            problems.append('%s.ports[%d].nodePort: only NodePort and LoadBalancer services have node ports (service.type is %s)'
                            % (where, i, service_type))
    if svc.get('service') and not ports:
        problems.append('%s.service: a Service needs at least one entry in ports' % where)
    ingress = svc.get('ingress')
    if isinstance(ingress, dict):
        if not ports:
            problems.append('%s.ingress: an Ingress needs a Service: add at least one entry in ports' % where)
        elif 'port' in ingress and ingress['port'] not in set(names) | set(p.get('port') for p in ports):
            problems.append('%s.ingress.port: %r is neither the name nor the number of one of the ports' % (where, ingress['port']))
        if service_type == 'Headless':
            problems.append('%s.ingress: an Ingress cannot route to a Headless service' % where)
    target_ports = set(names) | set(p.get('targetPort', p.get('port')) for p in ports)
    for probe_name in ('liveness', 'readiness'):
        probe = svc.get(probe_name)
        if not isinstance(probe, dict):
            continue
        for handler in ('httpGet', 'tcpSocket'):
            port = (probe.get(handler) or {}).get('port')
            if isinstance(port, str) and port not in names:
                problems.append('%s.%s.%s.port: %r is not the name of one of the ports' % (where, probe_name, handler, port))
            elif isinstance(port, int) and ports and port not in target_ports:
                problems.append('%s.%s.%s.port: %d is not one of the container ports (%s)'
                                % (where, probe_name, handler, port, ', '.join(str(p) for p in sorted(x for x in target_ports if isinstance(x, int)))))
    autoscaling = svc.get('autoscaling')
    if isinstance(autoscaling, dict) and isinstance(autoscaling.get('max'), int) and autoscaling.get('min', 1) > autoscaling['max']:
        problems.append('%s.autoscaling.min: %s is greater than max (%s)' % (where, autoscaling.get('min', 1), autoscaling['max']))
    strategy = svc.get('strategy')
    if isinstance(strategy, dict) and strategy.get('type') == 'Recreate' and ({'maxSurge', 'maxUnavailable'} & set(strategy)):
        problems.append('%s.strategy: maxSurge and maxUnavailable only apply to type RollingUpdate' % where)
    if svc.get('createServiceAccount') and not svc.get('serviceAccount'):
        problems.append('%s.createServiceAccount: set serviceAccount to the name of the ServiceAccount to create' % where)
    return problems


# ---------------------------------------------------------------- rendering ----

def port_name(port: dict, index: int) -> str:
    """A port's name: its own, 'http' for the first one, 'port-<n>' for the others."""
    return port.get('name') or ('http' if index == 0 else 'port-%s' % port.get('port'))


def _meta(svc: dict, set_name: str, namespace: str, name: str | None = None, extra_annotations: dict | None = None) -> dict:
    labels = dict(svc.get('labels') or {})
    labels.update(ownership_labels(set_name, svc['name']))
    meta = {'name': name or svc['name'], 'namespace': namespace, 'labels': labels}
    annotations = dict(svc.get('annotations') or {})
    annotations.update(extra_annotations or {})
    if annotations:
        meta['annotations'] = annotations
    return meta


def _probe(probe: dict) -> dict:
    out = copy.deepcopy(probe)
    if 'httpGet' in out:
        out['httpGet'].setdefault('path', '/')
    return out


def render_service(svc: dict, set_name: str, default_namespace: str = 'default', secrets: dict | None = None) -> list:
    """Every object of one (already validated) service, in apply order."""
    name = svc['name']
    namespace = svc.get('namespace') or default_namespace
    secrets = dict(svc.get('secrets') or {}, **(secrets or {}))
    config = svc.get('config') or {}
    ports = svc.get('ports') or []
    objects = []

    def add(kind: str, meta: dict, body: dict) -> None:
        obj = {'apiVersion': API_VERSIONS[kind], 'kind': kind, 'metadata': meta}
        obj.update(body)
        objects.append(obj)

    if svc.get('serviceAccount') and svc.get('createServiceAccount'):
        add('ServiceAccount', _meta(svc, set_name, namespace, svc['serviceAccount']), {})
    if config:
        add('ConfigMap', _meta(svc, set_name, namespace, name + '-config'), {'data': {k: _str(v) for k, v in sorted(config.items())}})
    if secrets:
        add('Secret', _meta(svc, set_name, namespace, name + '-secrets'), {
            'type': 'Opaque',
            'data': {k: base64.b64encode(_str(v).encode('utf-8')).decode('ascii') for k, v in sorted(secrets.items())}})

    container = {'name': name, 'image': svc['image']}
    for field in ('imagePullPolicy', 'command', 'args'):
        if field in svc:
            container[field] = svc[field]
    if svc.get('env'):
        container['env'] = [{'name': k, 'value': _str(v)} for k, v in sorted(svc['env'].items())]
    env_from = []
    if config:
        env_from.append({'configMapRef': {'name': name + '-config'}})
    if secrets:
        env_from.append({'secretRef': {'name': name + '-secrets'}})
    if env_from:
        container['envFrom'] = env_from
    if ports:
        container['ports'] = [{'name': port_name(p, i), 'containerPort': p.get('targetPort', p['port']), 'protocol': p.get('protocol', 'TCP')}
                              for i, p in enumerate(ports)]
    if svc.get('resources'):
        container['resources'] = {part: {k: _str(v) for k, v in amounts.items()} for part, amounts in svc['resources'].items()}
    if svc.get('liveness'):
        container['livenessProbe'] = _probe(svc['liveness'])
    if svc.get('readiness'):
        container['readinessProbe'] = _probe(svc['readiness'])
    pod_spec = {'containers': [container]}
    if config and svc.get('configMountPath'):
        container['volumeMounts'] = [{'name': 'config', 'mountPath': svc['configMountPath'], 'readOnly': True}]
        pod_spec['volumes'] = [{'name': 'config', 'configMap': {'name': name + '-config'}}]
    if svc.get('serviceAccount'):
        pod_spec['serviceAccountName'] = svc['serviceAccount']

    pod_labels = dict(svc.get('labels') or {})
    pod_labels.update(ownership_labels(set_name, name))
    pod_annotations = dict(svc.get('podAnnotations') or {})
    if config or secrets:
        pod_annotations[CHECKSUM_ANNOTATION] = checksum(config, secrets)
    template_meta = {'labels': pod_labels}
    if pod_annotations:
        template_meta['annotations'] = pod_annotations
    deploy_spec = {'selector': {'matchLabels': selector_labels(set_name, name)},
                   'template': {'metadata': template_meta, 'spec': pod_spec}}
    if not svc.get('autoscaling'):
        # With an HPA the replica count is the autoscaler's field: applying ours would fight it.
        deploy_spec['replicas'] = svc.get('replicas', 1)
    strategy = svc.get('strategy')
    if strategy:
        deploy_spec['strategy'] = {'type': strategy.get('type', 'RollingUpdate')}
        rolling = {k: strategy[k] for k in ('maxSurge', 'maxUnavailable') if k in strategy}
        if rolling:
            deploy_spec['strategy']['rollingUpdate'] = rolling
    add('Deployment', _meta(svc, set_name, namespace), {'spec': deploy_spec})

    if ports:
        service = svc.get('service') or {}
        stype = service.get('type', 'ClusterIP')
        spec = {'selector': selector_labels(set_name, name),
                'ports': []}
        for i, p in enumerate(ports):
            entry = {'name': port_name(p, i), 'port': p['port'], 'targetPort': p.get('targetPort', p['port']), 'protocol': p.get('protocol', 'TCP')}
            if 'nodePort' in p:
                entry['nodePort'] = p['nodePort']
            spec['ports'].append(entry)
        if stype == 'Headless':
            spec['type'] = 'ClusterIP'
            spec['clusterIP'] = 'None'
        else:
            spec['type'] = stype
        add('Service', _meta(svc, set_name, namespace, extra_annotations=service.get('annotations')), {'spec': spec})

    autoscaling = svc.get('autoscaling')
    if autoscaling:
        add('HorizontalPodAutoscaler', _meta(svc, set_name, namespace), {'spec': {
            'scaleTargetRef': {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': name},
            'minReplicas': autoscaling.get('min', 1), 'maxReplicas': autoscaling['max'],
            'metrics': [{'type': 'Resource', 'resource': {'name': 'cpu', 'target': {
                'type': 'Utilization', 'averageUtilization': autoscaling.get('cpu', 80)}}}]}})
    if svc.get('pdb'):
        add('PodDisruptionBudget', _meta(svc, set_name, namespace), {'spec': dict(
            svc['pdb'], selector={'matchLabels': selector_labels(set_name, name)})})
    ingress = svc.get('ingress')
    if ingress and ports:
        port = ingress.get('port', port_name(ports[0], 0))
        if isinstance(port, int):
            backend_port = {'number': port}
        else:
            backend_port = {'name': port}
        spec = {'rules': [{'host': ingress['host'], 'http': {'paths': [{
            'path': ingress.get('path', '/'), 'pathType': ingress.get('pathType', 'Prefix'),
            'backend': {'service': {'name': name, 'port': backend_port}}}]}}]}
        if ingress.get('className'):
            spec['ingressClassName'] = ingress['className']
        if ingress.get('tlsSecret'):
            spec['tls'] = [{'hosts': [ingress['host']], 'secretName': ingress['tlsSecret']}]
        add('Ingress', _meta(svc, set_name, namespace, extra_annotations=ingress.get('annotations')), {'spec': spec})
    return objects


def render_all(services: list, set_name: str, default_namespace: str = 'default', secrets: dict | None = None,
               create_namespaces: bool = True) -> list:
    """Every object of every service (plus their namespaces when asked), sorted in apply order."""
    secrets = secrets or {}
    objects = []
    for svc in services:
        objects.extend(render_service(svc, set_name, default_namespace, secrets.get(svc['name'])))
    if create_namespaces:
        for namespace in sorted(set(o['metadata']['namespace'] for o in objects) | set([default_namespace] if services else [])):
            objects.append({'apiVersion': 'v1', 'kind': 'Namespace',
                            'metadata': {'name': namespace, 'labels': {MANAGED_BY: MANAGER_VALUE}}})
    return sorted(objects, key=lambda o: (KIND_ORDER.index(o['kind']), object_key(o)))


# ---------------------------------------------------------------- comparison, diff, prune ----

_VOLATILE_METADATA = ('managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid', 'selfLink', 'deletionTimestamp')


def normalize(obj: dict | None) -> dict | None:
    """An object without what the server changes by itself (status, resourceVersion, managedFields ...).

    Two normalized objects are equal exactly when an apply made no difference a user would care about.
    """
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop('status', None)
    meta = out.get('metadata') or {}
    for field in _VOLATILE_METADATA:
        meta.pop(field, None)
    annotations = meta.get('annotations')
    if annotations is not None:
        annotations.pop('deployment.kubernetes.io/revision', None)
        if not annotations:
            meta.pop('annotations')
    return out


def mask_secret(obj: dict | None, previous: dict | None = None) -> dict | None:
    """A copy of obj fit for a diff: every Secret value replaced by <hidden>, or by <hidden, changed> where it differs from previous's."""
    if obj is None or obj.get('kind') != 'Secret':
        return obj
    out = copy.deepcopy(obj)
    theirs = {}
    if previous:
        theirs = dict(previous.get('data') or {})
        theirs.update({k: base64.b64encode(_str(v).encode('utf-8')).decode('ascii') for k, v in (previous.get('stringData') or {}).items()})
    mine = dict(out.get('data') or {})
    mine.update({k: base64.b64encode(_str(v).encode('utf-8')).decode('ascii') for k, v in (out.pop('stringData', None) or {}).items()})
    if mine or 'data' in out:
        out['data'] = {k: (HIDDEN if previous is None or theirs.get(k) == v else HIDDEN_CHANGED) for k, v in sorted(mine.items())}
    annotations = (out.get('metadata') or {}).get('annotations') or {}
    annotations.pop('kubectl.kubernetes.io/last-applied-configuration', None)
    return out


def diff_entry(key: tuple, before: dict | None, after: dict | None) -> dict:
    """One Ansible diff (before/after as JSON text) for one object, without Secret values."""
    def text(obj: dict | None) -> str:
        return '' if obj is None else json.dumps(obj, indent=2, sort_keys=True) + '\n'
    before_n, after_n = normalize(before), normalize(after)
    return {'before_header': describe(key), 'after_header': describe(key),
            'before': text(mask_secret(before_n)), 'after': text(mask_secret(after_n, before_n))}


def is_ours(obj: dict, set_name: str, field_manager: str = 'kubeseed') -> bool:
    """True only for an object we created for this set: both ownership labels AND our field manager applied it.

    Labels alone are not proof (anyone can copy them); managedFields record who applied what.
    """
    meta = obj.get('metadata') or {}
    labels = meta.get('labels') or {}
    if labels.get(MANAGED_BY) != MANAGER_VALUE or labels.get(SET_LABEL) != set_name:
        return False
    return any(entry.get('manager') == field_manager and entry.get('operation') == 'Apply'
               for entry in meta.get('managedFields') or [])


def select_prune(live: list, desired_keys: set, set_name: str, field_manager: str = 'kubeseed') -> list:
    """The live objects to delete: ours (see is_ours), of a prunable kind, and no longer desired."""
    doomed = []
    for obj in live:
        key = object_key(obj)
        if key[0] in PRUNABLE_KINDS and key not in desired_keys and is_ours(obj, set_name, field_manager) \
                and not (obj.get('metadata') or {}).get('deletionTimestamp'):
            doomed.append(obj)
    return sorted(doomed, key=lambda o: (-KIND_ORDER.index(o['kind']), object_key(o)))
