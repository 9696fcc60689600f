# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The variable contract of the apps half (kubeseed_microservices*), as a JSON Schema (draft 2020-12).

Single source of truth: `make schemas` writes it to schemas/microservices.schema.json for editors,
the microservices role and module validate against it before anything is applied, and a unit test
checks that every role default equals the default declared here.

Keys inside one service follow the Kubernetes spelling (targetPort, nodePort, serviceAccount,
initialDelaySeconds ...) so that what a team writes reads like the object it becomes.
``x-hint`` says how to fix a value that does not match its pattern.
"""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_schema import CLUSTER_SCHEMA

DNS_LABEL = r'^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'          # RFC 1035 label: Service and Deployment names
DNS_LABEL_1123 = r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'   # RFC 1123 label: namespaces
DNS_SUBDOMAIN = r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
PORT_NAME = r'^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
ENV_NAME = r'^[-._a-zA-Z][-._a-zA-Z0-9]*$'
CONFIG_KEY = r'^[-._a-zA-Z0-9]+$'
QUANTITY = r'^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$'
INT_OR_PERCENT = r'^[0-9]+%$'
LABEL_KEY = r'^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'
LABEL_VALUE = r'^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$'
HOSTNAME = r'^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'

SERVICE_TYPES = ('ClusterIP', 'NodePort', 'LoadBalancer', 'Headless')


def _port_number(description: str) -> dict:
    return {'type': 'integer', 'minimum': 1, 'maximum': 65535, 'description': description}


def _port_ref(description: str) -> dict:
    return {'oneOf': [_port_number('port number'),
                      {'type': 'string', 'pattern': PORT_NAME, 'x-hint': 'use the name of one of the ports (at most 15 characters)'}],
            'description': description}


def _int_or_percent(description: str) -> dict:
    return {'oneOf': [{'type': 'integer', 'minimum': 0},
                      {'type': 'string', 'pattern': INT_OR_PERCENT, 'x-hint': 'use a whole number or a percentage such as 25%'}],
            'description': description}


_KEY_HINTS = {
    ENV_NAME: 'not a valid key: environment variable names are letters, digits, -, _ and ., not starting with a digit',
    CONFIG_KEY: 'not a valid key: use letters, digits, -, _ and . only',
    LABEL_KEY: 'not a valid key: use an optional DNS prefix and / then at most 63 letters, digits, -, _ or .',
}


def _string_map(description: str, key_pattern: str = LABEL_KEY, value: dict | None = None) -> dict:
    return {'type': 'object', 'description': description,
            'propertyNames': {'pattern': key_pattern, 'x-hint': _KEY_HINTS.get(key_pattern, 'use letters, digits, -, _ and .')},
            'additionalProperties': value or {'type': 'string'}}


_RESOURCE_AMOUNTS = {
    'type': 'object', 'additionalProperties': False,
    'properties': {
        'cpu': {'type': ['string', 'number'], 'pattern': QUANTITY, 'exclusiveMinimum': 0,
                'x-hint': 'use a Kubernetes quantity such as 100m or 0.5', 'description': 'CPU, e.g. 100m or 1.'},
        'memory': {'type': ['string', 'integer'], 'pattern': QUANTITY, 'exclusiveMinimum': 0,
                   'x-hint': 'use a Kubernetes quantity such as 128Mi or 1Gi', 'description': 'Memory, e.g. 128Mi.'},
        'ephemeral-storage': {'type': ['string', 'integer'], 'pattern': QUANTITY,
                              'x-hint': 'use a Kubernetes quantity such as 1Gi', 'description': 'Scratch disk, e.g. 1Gi.'},
    },
}

_PROBE = {
    'type': 'object', 'additionalProperties': False,
    'description': 'A container probe: exactly one of httpGet, tcpSocket, exec, plus optional timings (Kubernetes Probe fields).',
    'properties': {
        'httpGet': {'type': 'object', 'additionalProperties': False, 'required': ['port'], 'properties': {
            'path': {'type': 'string', 'pattern': '^/', 'x-hint': 'start the path with /', 'default': '/'},
            'port': _port_ref('Container port (number or name).'),
            'scheme': {'enum': ['HTTP', 'HTTPS'], 'default': 'HTTP'},
        }},
        'tcpSocket': {'type': 'object', 'additionalProperties': False, 'required': ['port'], 'properties': {
            'port': _port_ref('Container port (number or name).')}},
        'exec': {'type': 'object', 'additionalProperties': False, 'required': ['command'], 'properties': {
            'command': {'type': 'array', 'minItems': 1, 'items': {'type': 'string'}}}},
        'initialDelaySeconds': {'type': 'integer', 'minimum': 0},
        'periodSeconds': {'type': 'integer', 'minimum': 1},
        'timeoutSeconds': {'type': 'integer', 'minimum': 1},
        'successThreshold': {'type': 'integer', 'minimum': 1},
        'failureThreshold': {'type': 'integer', 'minimum': 1},
    },
    'oneOf': [{'required': ['httpGet']}, {'required': ['tcpSocket']}, {'required': ['exec']}],
}

SERVICE_SCHEMA: dict = {
    'type': 'object',
    'title': 'one microservice',
    'description': 'One microservice: a Deployment plus, as needed, its Service, ConfigMap, Secret, Ingress, '
                   'HorizontalPodAutoscaler, PodDisruptionBudget and ServiceAccount.',
    'additionalProperties': False,
    'required': ['name', 'image'],
    'properties': {
        'name': {'type': 'string', 'pattern': DNS_LABEL, 'x-hint': 'use lowercase letters, digits and dashes, starting with a letter, at most 63 characters',
                 'description': 'Name of the Deployment, Service and every other object of this service.'},
        'image': {'type': 'string', 'minLength': 1, 'pattern': r'^[^\s]+$',
                  'x-hint': 'an image reference has no spaces, e.g. registry.example.com/team/api:1.4.2',
                  'description': 'Container image reference.'},
        'imagePullPolicy': {'enum': ['Always', 'IfNotPresent', 'Never'], 'description': 'Kubernetes default when unset.'},
        'namespace': {'type': 'string', 'pattern': DNS_LABEL_1123, 'x-hint': 'use lowercase letters, digits and dashes, at most 63 characters',
                      'description': 'Namespace of this service (default: kubeseed_microservices_namespace).'},
        'replicas': {'type': 'integer', 'minimum': 0, 'default': 1, 'description': 'Pod count (ignored when autoscaling is set: the HPA owns it).'},
        'ports': {
            'type': 'array', 'default': [], 'description': 'Ports the container listens on; a Service is created when there is at least one.',
            'items': {'type': 'object', 'additionalProperties': False, 'required': ['port'], 'properties': {
                'name': {'type': 'string', 'pattern': PORT_NAME, 'x-hint': 'use at most 15 lowercase letters, digits and dashes, with at least one letter',
                         'description': 'Port name (default: http for the first port, port-<port> for the others).'},
                'port': _port_number('Service port.'),
                'targetPort': _port_number('Container port (default: port).'),
                'protocol': {'enum': ['TCP', 'UDP', 'SCTP'], 'default': 'TCP'},
                'nodePort': {'type': 'integer', 'minimum': 30000, 'maximum': 32767,
                             'description': 'Fixed node port (NodePort and LoadBalancer services only; default: chosen by Kubernetes).'},
            }},
        },
        'command': {'type': 'array', 'items': {'type': 'string'}, 'description': 'Container entrypoint (replaces the image ENTRYPOINT).'},
        'args': {'type': 'array', 'items': {'type': 'string'}, 'description': 'Container arguments (replaces the image CMD).'},
        'env': _string_map('Environment variables (name: value); numbers and booleans are turned into strings.', ENV_NAME,
                           {'type': ['string', 'number', 'boolean']}),
        'config': _string_map('Configuration values (key: value) stored in the ConfigMap <name>-config and exported as environment '
                              'variables; a change rolls the pods. Use lookup("file", ...) for whole files.', CONFIG_KEY,
                              {'type': ['string', 'number', 'boolean']}),
        'configMountPath': {'type': 'string', 'pattern': '^/', 'x-hint': 'use an absolute path such as /etc/app',
                            'description': 'Also mount the ConfigMap keys as files in this directory.'},
        'secrets': _string_map('Secret values (key: value) stored in the Secret <name>-secrets and exported as environment variables; '
                               'never logged or shown in a diff; a change rolls the pods.', CONFIG_KEY, {'type': ['string', 'number', 'boolean']}),
        'resources': {'type': 'object', 'additionalProperties': False, 'description': 'Container requests and limits.',
                      'properties': {'requests': _RESOURCE_AMOUNTS, 'limits': _RESOURCE_AMOUNTS}},
        'liveness': dict(_PROBE, description='Liveness probe: ' + _PROBE['description']),
        'readiness': dict(_PROBE, description='Readiness probe: ' + _PROBE['description']),
        'service': {'type': 'object', 'additionalProperties': False, 'description': 'The Service in front of the pods (only with ports).',
                    'properties': {
                        'type': {'enum': list(SERVICE_TYPES), 'default': 'ClusterIP', 'description': 'Headless is a ClusterIP: None Service.'},
                        'annotations': _string_map('Annotations of the Service only.'),
                    }},
        'ingress': {
            'type': 'object', 'additionalProperties': False, 'required': ['host'], 'description': 'An Ingress to the Service.',
            'properties': {
                'host': {'type': 'string', 'pattern': HOSTNAME, 'x-hint': 'use a lowercase DNS name such as api.example.com'},
                'path': {'type': 'string', 'pattern': '^/', 'default': '/', 'x-hint': 'start the path with /'},
                'pathType': {'enum': ['Prefix', 'Exact', 'ImplementationSpecific'], 'default': 'Prefix'},
                'port': _port_ref('Service port to route to (default: the first port).'),
                'className': {'type': 'string', 'pattern': DNS_SUBDOMAIN, 'description': 'IngressClass name (default: the cluster default).'},
                'tlsSecret': {'type': 'string', 'pattern': DNS_SUBDOMAIN, 'x-hint': 'use the name of an existing kubernetes.io/tls Secret',
                              'description': 'TLS Secret for the host (HTTPS).'},
                'annotations': _string_map('Annotations of the Ingress only.'),
            }},
        'autoscaling': {
            'type': 'object', 'additionalProperties': False, 'required': ['max'], 'description': 'HorizontalPodAutoscaler (autoscaling/v2).',
            'properties': {
                'min': {'type': 'integer', 'minimum': 1, 'default': 1},
                'max': {'type': 'integer', 'minimum': 1},
                'cpu': {'type': 'integer', 'minimum': 1, 'maximum': 1000, 'default': 80, 'description': 'Target average CPU utilisation in percent.'},
            }},
        'pdb': {'type': 'object', 'additionalProperties': False, 'description': 'PodDisruptionBudget: exactly one of minAvailable or maxUnavailable.',
                'properties': {'minAvailable': _int_or_percent('Pods that must stay up.'),
                               'maxUnavailable': _int_or_percent('Pods that may be down.')},
                'oneOf': [{'required': ['minAvailable']}, {'required': ['maxUnavailable']}]},
        'labels': _string_map('Extra labels on every object and pod of this service.', LABEL_KEY,
                              {'type': 'string', 'pattern': LABEL_VALUE, 'x-hint': 'label values have at most 63 letters, digits, -, _ or .'}),
        'annotations': _string_map('Extra annotations on every object of this service.'),
        'podAnnotations': _string_map('Extra annotations on the pods only.'),
        'serviceAccount': {'type': 'string', 'pattern': DNS_SUBDOMAIN, 'x-hint': 'use a lowercase DNS name',
                           'description': 'ServiceAccount the pods run as.'},
        'createServiceAccount': {'type': 'boolean', 'default': False, 'description': 'Create (and own) serviceAccount (default: it must exist).'},
        'strategy': {'type': 'object', 'additionalProperties': False, 'description': 'Rollout strategy of the Deployment.',
                     'properties': {
                         'type': {'enum': ['RollingUpdate', 'Recreate'], 'default': 'RollingUpdate'},
                         'maxSurge': _int_or_percent('RollingUpdate only.'),
                         'maxUnavailable': _int_or_percent('RollingUpdate only.'),
                     }},
    },
}

MICROSERVICES_SCHEMA: dict = {
    '$schema': 'https://json-schema.org/draft/2020-12/schema',
    '$id': 'https://kubeseed.invalid/schemas/microservices.schema.json',
    'title': 'kubeseed.cluster: microservices variables',
    'description': 'Variables of the microservices role (group_vars). Every variable is optional and has the default shown.',
    'type': 'object',
    # Other variables are not ours; an unknown kubeseed_microservices* one is a typo.
    'patternProperties': {'^(?!kubeseed_microservices)': {}},
    'additionalProperties': False,
    'properties': {
        'kubeseed_microservices': {
            'type': 'array', 'default': [], 'items': {'$ref': '#/$defs/service'},
            'description': 'The services to run. The cluster converges to exactly this list (services removed from it are pruned).',
        },
        'kubeseed_microservices_namespace': {
            'type': 'string', 'default': 'default', 'pattern': DNS_LABEL_1123,
            'x-hint': 'use lowercase letters, digits and dashes, at most 63 characters',
            'description': 'Namespace of every service that does not set its own.',
        },
        'kubeseed_microservices_set': {
            'type': 'string', 'default': 'apps', 'pattern': DNS_LABEL_1123,
            'x-hint': 'use lowercase letters, digits and dashes, at most 63 characters',
            'description': 'Name of this set of services (label kubeseed.io/set): prune and state=absent only touch objects of this set.',
        },
        'kubeseed_microservices_state': {'enum': ['present', 'absent'], 'default': 'present',
                                         'description': 'absent deletes every object of the set (never namespaces).'},
        'kubeseed_microservices_prune': {'type': 'boolean', 'default': True,
                                         'description': 'Delete objects of this set that are no longer in kubeseed_microservices.'},
        'kubeseed_microservices_create_namespaces': {'type': 'boolean', 'default': True,
                                                     'description': 'Create missing namespaces (they are never deleted).'},
        'kubeseed_microservices_wait': {'type': 'boolean', 'default': True, 'description': 'Wait until every Deployment has rolled out.'},
        'kubeseed_microservices_wait_timeout': {'type': 'integer', 'minimum': 1, 'default': 300, 'description': 'Seconds to wait for all rollouts together.'},
        'kubeseed_microservices_force_conflicts': {'type': 'boolean', 'default': False,
                                                   'description': 'Take over fields another field manager (kubectl edit, another tool) owns.'},
        'kubeseed_microservices_kubeconfig': {'type': 'string', 'default': '',
                                              'description': 'Kubeconfig path (empty: K8S_AUTH_KUBECONFIG, then the kubeconfig the cluster '
                                                             'playbook wrote (kubeseed_kubeconfig_dest), then ~/.kube/config, then in-cluster).'},
        # Contract variables of the cluster half that only locate the kubeconfig the cluster playbook wrote.
        'kubeseed_cluster_name': CLUSTER_SCHEMA['properties']['kubeseed_cluster_name'],
        'kubeseed_kubeconfig_dest': CLUSTER_SCHEMA['properties']['kubeseed_kubeconfig_dest'],
        'kubeseed_microservices_context': {'type': 'string', 'default': '', 'description': 'Kubeconfig context (empty: the current one).'},
    },
    '$defs': {'service': SERVICE_SCHEMA},
}
