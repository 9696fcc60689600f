# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The variable contract of the apps half (kubeseed_microservices*), as a JSON Schema (draft 2020-12).

Single source of truth: `make schemas` writes it to schemas/microservices.schema.json for editors,
the microservices role and module validate against it before anything is applied, and a unit test
checks that every role default equals the default declared here.

Keys inside one service follow the Kubernetes spelling (targetPort, nodePort, serviceAccount,
initialDelaySeconds ...) so that what a team writes reads like the object it becomes.
``x-hint`` says how to fix a value that does not match its pattern; ``x-aliases`` maps a key a new user writes
there by mistake (often the Kubernetes spelling, e.g. livenessProbe) to what to write instead.

Every pattern describes the whole string (the validator also refuses control and invisible characters).
Relations between fields (ports, probes, requests and limits, sizes, node ports) are checked in
_microservices_render.validate_services.
"""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_schema import CLUSTER_SCHEMA, REGISTRY_CREDENTIALS_ENTRY
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_pod_schema import AFFINITY_SCHEMA, K8S_DEFS, TOPOLOGY_SPREAD_CONSTRAINT_SCHEMA

INT32_MAX = 2147483647
NODE_PORT_RANGE = (30000, 32767)   # the API server's default --service-node-port-range
MAX_DATA_BYTES = 1024 * 1024       # a ConfigMap's or Secret's values together (MaxSecretSize)
MAX_ANNOTATION_BYTES = 256 * 1024  # every annotation key and value of one object together

DNS_LABEL = r'^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'          # RFC 1035 label: Service and Deployment names
DNS_LABEL_1123 = r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'   # RFC 1123 label: namespaces
DNS_SUBDOMAIN = r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'   # with maxLength 253
PATH_SEGMENT_NAME = r'^(?!\.\.?$)[^/%\s]+$'   # what any object's name must be (RBAC objects' names only that)
# Kinds whose names need only be path segments (Kubernetes' own ClusterRoles are system:...); every other kind's name is a DNS subdomain.
RBAC_KINDS = ('Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding')
# IANA service name: at most 15 lowercase letters, digits and single dashes, at least one letter.
PORT_NAME = r'^(?=.{1,15}$)(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
# Since Kubernetes 1.34 (RelaxedEnvironmentVariableValidation, GA): any printable ASCII character except '='.
ENV_NAME = r'^[ -<>-~]+$'
# ConfigMap and Secret keys: at most 253 of [-._a-zA-Z0-9], not '.' and not starting with '..'.
CONFIG_KEY = r'^(?!\.$)(?!\.\.)[-._a-zA-Z0-9]{1,253}$'
# A Kubernetes quantity: a decimal number with an optional SI, binary or exponent suffix (100m, 0.5, 128Mi, 1G, 1e3).
QUANTITY = r'^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$'
INT_OR_PERCENT = r'^[0-9]+%$'
_QUALIFIED_NAME = r'[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'
# Label key: an optional DNS subdomain prefix (at most 253) and '/', then a name of at most 63.
LABEL_KEY = r'^((?=[^/]{1,253}/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?' + _QUALIFIED_NAME
# Annotation keys are checked lowercased by the API server, so the prefix may hold capitals.
ANNOTATION_KEY = r'^((?=[^/]{1,253}/)[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*/)?' + _QUALIFIED_NAME
LABEL_VALUE = r'^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$'
HOSTNAME = r'^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
URL_PATH = r'^/\S*$'
ABSOLUTE_PATH = r'^/.*$'

# An image reference as containerd and the kubelet parse it (github.com/distribution/reference):
# [host[:port]/]path[:tag][@digest]. The first component is a registry host only when it has a '.' or a ':'
# or is localhost; the path is lowercase; a tag has at most 128 characters.
_DOMAIN_COMPONENT = r'(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
_REGISTRY = r'(?:{d}(?:\.{d})+(?::[0-9]+)?|{d}:[0-9]+|localhost|\[[0-9a-fA-F:]+\](?::[0-9]+)?)'.format(d=_DOMAIN_COMPONENT)
_PATH_COMPONENT = r'[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
# the keys of a mapping by registry host, with its port if any (registry.example.com:5000)
REGISTRY_HOST_NAMES = {'pattern': r'^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$'}
IMAGE_TAG = r'[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}'
IMAGE_DIGEST = r'(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})'
IMAGE = r'^(?:{r}/)?{p}(?:/{p})*(?::{t})?(?:@{g})?$'.format(r=_REGISTRY, p=_PATH_COMPONENT, t=IMAGE_TAG, g=IMAGE_DIGEST)
IMAGE_HINT = 'use [registry[:port]/]lowercase/path[:tag][@sha256:digest], no scheme, e.g. registry.example.com/team/api:1.4.2'
IMAGE_REGISTRY = r'^{r}(?:/{p})*$'.format(r=_REGISTRY, p=_PATH_COMPONENT)
IMAGE_REGISTRY_HINT = 'use registry-host[:port][/lowercase/path], no scheme and no tag, e.g. registry.example.com/team'

SERVICE_TYPES = ('ClusterIP', 'NodePort', 'LoadBalancer', 'Headless')
# Labels kubeseed sets on every object (ownership and the Deployment selector): a service cannot set them.
RESERVED_LABELS = ('app.kubernetes.io/managed-by', 'app.kubernetes.io/name', 'kubeseed.io/set')


def _int(description: str = '', minimum: int = 0, maximum: int = INT32_MAX, **extra) -> dict:
    out = {'type': 'integer', 'minimum': minimum, 'maximum': maximum}
    if description:
        out['description'] = description
    out.update(extra)
    return out


def _port_number(description: str) -> dict:
    return _int(description, 1, 65535)


def _port_ref(description: str) -> dict:
    return {'type': ['integer', 'string'], 'minimum': 1, 'maximum': 65535, 'pattern': PORT_NAME,
            'x-hint': 'use the number or the name of one of the ports (a name has at most 15 lowercase letters, digits and dashes)',
            'description': description}


def _int_or_percent(description: str) -> dict:
    return {'type': ['integer', 'string'], 'minimum': 0, 'maximum': INT32_MAX, 'pattern': INT_OR_PERCENT,
            'x-hint': 'use a whole number or a percentage such as 25%', 'description': description}


_KEY_HINTS = {
    ENV_NAME: 'environment variable names are printable ASCII characters other than =',
    CONFIG_KEY: 'keys are at most 253 letters, digits, -, _ and ., not . or starting with ..',
    LABEL_KEY: 'use an optional lowercase DNS prefix and / then at most 63 letters, digits, -, _ or .',
    ANNOTATION_KEY: 'use an optional DNS prefix and / then at most 63 letters, digits, -, _ or .',
    DNS_LABEL: 'use lowercase letters, digits and dashes, starting with a letter, at most 63 characters',
}


def _string_map(description: str, key_pattern: str = ANNOTATION_KEY, value: dict | None = None) -> dict:
    return {'type': 'object', 'description': description,
            'propertyNames': {'pattern': key_pattern, 'x-hint': _KEY_HINTS[key_pattern]},
            'additionalProperties': value or {'type': 'string'}}


_QUANTITY_HINT = 'use a Kubernetes quantity such as '
_RESOURCE_AMOUNTS = {
    'type': 'object', 'additionalProperties': False,
    'x-aliases': {'requests': 'resources.requests and resources.limits are siblings: resources: {requests: {...}, limits: {...}}',
                  'limits': 'resources.requests and resources.limits are siblings: resources: {requests: {...}, limits: {...}}'},
    'properties': {
        'cpu': {'type': ['string', 'number'], 'pattern': QUANTITY, 'minimum': 0,
                'x-hint': _QUANTITY_HINT + '100m or 0.5', 'description': 'CPU, e.g. 100m or 1.'},
        'memory': {'type': ['string', 'integer'], 'pattern': QUANTITY, 'minimum': 0,
                   'x-hint': _QUANTITY_HINT + '128Mi or 1Gi (not 1GB)', 'description': 'Memory in bytes, e.g. 128Mi.'},
        'ephemeral-storage': {'type': ['string', 'integer'], 'pattern': QUANTITY, 'minimum': 0,
                              'x-hint': _QUANTITY_HINT + '1Gi', 'description': 'Scratch disk in bytes, e.g. 1Gi.'},
    },
}

_PROBE = {
    'type': 'object', 'additionalProperties': False,
    'description': 'A container probe: exactly one of httpGet, tcpSocket, grpc, exec, plus optional timings (Kubernetes Probe fields). '
                   'The port may be any container port, exposed by the Service or not.',
    'x-aliases': {'path': 'put the path under httpGet: {httpGet: {path: /healthz, port: http}}',
                  'port': 'put the port under httpGet or tcpSocket: {tcpSocket: {port: 8080}}',
                  'command': 'put the command under exec: {exec: {command: [cat, /tmp/ready]}}',
                  'http': 'use httpGet: {httpGet: {path: /healthz, port: http}}',
                  'tcp': 'use tcpSocket: {tcpSocket: {port: 8080}}',
                  'timeout': 'use timeoutSeconds', 'period': 'use periodSeconds', 'initialDelay': 'use initialDelaySeconds'},
    'properties': {
        'httpGet': {'type': 'object', 'additionalProperties': False, 'required': ['port'], 'properties': {
            'path': {'type': 'string', 'pattern': URL_PATH, 'x-hint': 'start the path with / (no spaces)', 'default': '/'},
            'port': _port_ref('Container port (number or name).'),
            'scheme': {'enum': ['HTTP', 'HTTPS'], 'default': 'HTTP'},
        }},
        'tcpSocket': {'type': 'object', 'additionalProperties': False, 'required': ['port'], 'properties': {
            'port': _port_ref('Container port (number or name).')}},
        'grpc': {'type': 'object', 'additionalProperties': False, 'required': ['port'], 'properties': {
            'port': _port_number('Container port (a number).'),
            'service': {'type': 'string', 'description': 'gRPC health service name (default: the server).'}}},
        'exec': {'type': 'object', 'additionalProperties': False, 'required': ['command'], 'properties': {
            'command': {'type': 'array', 'minItems': 1, 'items': {'type': 'string'}}}},
        'initialDelaySeconds': _int(),
        'periodSeconds': _int(minimum=1),
        'timeoutSeconds': _int(minimum=1),
        'successThreshold': _int('Must be 1 for liveness.', minimum=1),
        'failureThreshold': _int(minimum=1),
    },
    'oneOf': [{'required': ['httpGet']}, {'required': ['tcpSocket']}, {'required': ['grpc']}, {'required': ['exec']}],
}

_SCALAR_NOTE = 'Values are strings: quote numbers and booleans ("8080", "0755", "true"), YAML would change them.'

_MOUNT_PATH = {'type': 'string', 'pattern': ABSOLUTE_PATH, 'x-hint': 'use an absolute path such as /var/cache/app'}
_EXTRA_CONTAINER = {
    'type': 'object', 'additionalProperties': False, 'required': ['name', 'image'],
    'x-aliases': {'volumeMounts': 'use mounts: {<volume>: /path}', 'environment': 'use env: {NAME: "value"}'},
    'properties': {
        'name': {'type': 'string', 'pattern': DNS_LABEL, 'x-hint': 'use lowercase letters, digits and dashes, starting with a letter, at most 63 '
                 'characters', 'description': 'Container name, unique in the pod (not the service name).'},
        'image': {'type': 'string', 'minLength': 1, 'pattern': IMAGE, 'x-hint': IMAGE_HINT,
                  'description': 'Container image (imageRegistry goes before one that names no registry, as for the service).'},
        'imagePullPolicy': {'enum': ['Always', 'IfNotPresent', 'Never']},
        'command': {'type': 'array', 'items': {'type': 'string'}},
        'args': {'type': 'array', 'items': {'type': 'string'}},
        'env': _string_map('Environment variables (name: value). ' + _SCALAR_NOTE, ENV_NAME),
        'resources': {'type': 'object', 'additionalProperties': False, 'properties': {'requests': _RESOURCE_AMOUNTS, 'limits': _RESOURCE_AMOUNTS}},
        'mounts': _string_map('Volumes of the service (volumes) mounted in this container: volume name: absolute path.', DNS_LABEL, _MOUNT_PATH),
    },
}

CRON_SCHEDULE = r'^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+( \S+){4})$'
# Job names get '-' and 10 hexadecimal digits of the Job's hash; a CronJob's Jobs get 11 characters from the controller.
JOB_NAME_MAX = 52
CRON_JOB_NAME_MAX = 52
# Settings of a Deployment entry that a job or cronJob entry does not have (defaults leave them out for those).
DEPLOYMENT_ONLY = ('replicas', 'ports', 'service', 'ingress', 'autoscaling', 'pdb', 'strategy', 'spread', 'topologySpread', 'readiness')

_JOB_RUN = {
    'backoffLimit': _int('Pods that may fail before the Job has failed.'),
    'activeDeadlineSeconds': _int('Seconds the Job may run in all before it is stopped and has failed.', 1),
}
JOB_SCHEMA = {
    'type': 'object', 'additionalProperties': False,
    'description': 'This entry is a one-off Job (e.g. a database migration) instead of a Deployment: its container runs once to '
                   'completion (restartPolicy Never). The Job is named <name>-<10 hex digits of its spec, config and secrets>, so it '
                   'runs again only when one of those changes; a Job that failed runs again on the next run. The last Job of each '
                   'entry is kept (older ones are pruned), with its pods and their logs.',
    'x-aliases': {'before': 'use runBefore: [<service>, ...]', 'runAfter': 'list the services that wait for it in runBefore',
                  'ttlSecondsAfterFinished': 'kubeseed keeps the last Job of each entry (that is how it knows it ran): not settable',
                  'restartPolicy': 'a job entry runs its pods with restartPolicy Never; use backoffLimit for retries'},
    'properties': dict(
        {'runBefore': {'type': 'array', 'uniqueItems': True, 'default': [],
                       'items': {'type': 'string', 'pattern': DNS_LABEL, 'x-hint': 'use the name of a service of this list'},
                       'description': 'Services (names of entries of this list) whose objects are applied only after this Job has '
                                      'completed: a release runs its migration first, and a migration that fails leaves those '
                                      'services as they were (its logs are in the failure). Waits even with wait false, up to '
                                      'wait_timeout.'}},
        backoffLimit=dict(_JOB_RUN['backoffLimit'], default=0,
                          description='Pods that may fail before the Job has failed (default 0: a failed migration fails the run at '
                                      'once, with its logs).'),
        activeDeadlineSeconds=_JOB_RUN['activeDeadlineSeconds']),
}
CRON_JOB_SCHEMA = {
    'type': 'object', 'additionalProperties': False, 'required': ['schedule'],
    'description': 'This entry is a CronJob instead of a Deployment: its container runs to completion on a schedule.',
    'x-aliases': {'cron': 'use schedule: "0 3 * * *"', 'timezone': 'use timeZone', 'concurrency': 'use concurrencyPolicy',
                  'runBefore': 'only a job entry runs before services', 'restartPolicy': 'its pods run with restartPolicy Never; use backoffLimit'},
    'properties': dict({
        'schedule': {'type': 'string', 'pattern': CRON_SCHEDULE,
                     'x-hint': 'use five cron fields (minute hour day-of-month month day-of-week) such as "0 3 * * *", or @daily',
                     'description': 'Cron schedule, e.g. "*/15 * * * *" or @hourly.'},
        'timeZone': {'type': 'string', 'pattern': r'^[A-Za-z][-+_/A-Za-z0-9]*$', 'x-hint': 'use an IANA time zone name such as Europe/Paris',
                     'description': "Time zone of the schedule (default: the controller manager's, usually UTC)."},
        'concurrencyPolicy': {'enum': ['Allow', 'Forbid', 'Replace'],
                              'description': 'When a run is due while the previous one still runs (Kubernetes default Allow).'},
        'suspend': {'type': 'boolean', 'description': 'Start no new runs (default false).'},
        'startingDeadlineSeconds': _int('Seconds after its time a missed run may still start.', 1),
        'successfulJobsHistoryLimit': _int('Finished Jobs kept (Kubernetes default 3).'),
        'failedJobsHistoryLimit': _int('Failed Jobs kept (Kubernetes default 1).'),
    }, **_JOB_RUN),
}

SERVICE_SCHEMA: dict = {
    'type': 'object',
    'title': 'one microservice',
    'description': 'One microservice: a Deployment plus, as needed, its Service, ConfigMap, Secret, Ingress, '
                   'HorizontalPodAutoscaler, PodDisruptionBudget and ServiceAccount; with job, a one-off Job (a migration), with '
                   'cronJob, a CronJob, each with its ConfigMap and Secret.',
    'additionalProperties': False,
    'required': ['name', 'image'],
    # Kubernetes (and docker-compose) spellings a new user writes, and where the setting lives here.
    'x-aliases': {
        'livenessProbe': 'use liveness (same fields as a Kubernetes livenessProbe)',
        'readinessProbe': 'use readiness (same fields as a Kubernetes readinessProbe)',
        'startupProbe': 'use startup (same fields as a Kubernetes startupProbe)',
        'initContainer': 'use initContainers: [{name: migrate, image: ...}]',
        'sidecar': 'use sidecars: [{name: proxy, image: ...}]',
        'volumeMounts': 'use volumes: {<name>: {mountPath: /path}} (emptyDir volumes shared with sidecars and init containers)',
        'minReadySeconds': 'put it in strategy: {minReadySeconds: 10}',
        'progressDeadlineSeconds': 'put it in strategy: {progressDeadlineSeconds: 600}',
        'serviceAccountName': 'use serviceAccount',
        'containerPort': 'use ports: [{port: <number>}] (targetPort when the Service port differs)',
        'containerPorts': 'use ports: [{port: <number>}]',
        'port': 'use ports: [{port: <number>}]',
        'nodePort': 'put it in the port: ports: [{port: 80, nodePort: 30080}]',
        'type': 'use service: {type: NodePort} (ClusterIP, NodePort, LoadBalancer or Headless)',
        'serviceType': 'use service: {type: NodePort} (ClusterIP, NodePort, LoadBalancer or Headless)',
        'host': 'use ingress: {host: app.example.com}',
        'hostname': 'use ingress: {host: app.example.com}',
        'minReplicas': 'use autoscaling: {min: 2, max: 5}',
        'maxReplicas': 'use autoscaling: {min: 2, max: 5}',
        'hpa': 'use autoscaling: {min: 2, max: 5}',
        'podDisruptionBudget': 'use pdb: {minAvailable: 1}',
        'topologySpreadConstraints': 'use spread: {whenUnsatisfiable: DoNotSchedule} (kubeseed writes the constraint), '
                                     'or topologySpread: [constraints as in Kubernetes] for more',
        'tolerations': 'use tolerationSeconds: <seconds> (how long pods stay on a node that is not ready or unreachable)',
        'environment': 'use env: {NAME: "value"}',
        'envVars': 'use env: {NAME: "value"}',
        'configMap': 'use config: {KEY: "value"}',
        'configmap': 'use config: {KEY: "value"}',
        'secret': 'use secrets: {KEY: "value"}',
        'cpu': 'use resources: {requests: {cpu: 100m}, limits: {cpu: 1}}',
        'memory': 'use resources: {requests: {memory: 128Mi}, limits: {memory: 256Mi}}',
        'limits': 'use resources: {limits: {...}}',
        'requests': 'use resources: {requests: {...}}',
        'jobs': 'give each job an entry of its own with job: {} (a one-off Job) or cronJob: {schedule: ...}',
        'cronJobs': 'give each one an entry of its own with cronJob: {schedule: "0 3 * * *"}',
        'cronjob': 'use cronJob: {schedule: "0 3 * * *"}',
        'kind': 'an entry is a Deployment; add job: {} for a one-off Job or cronJob: {schedule: ...} for a CronJob',
        'schedule': 'put it in cronJob: {schedule: "0 3 * * *"}',
        'runBefore': 'put it in job: {runBefore: [<service>]}',
        'backoffLimit': 'put it in job: {backoffLimit: 1} (or cronJob)',
        'tag': 'put the tag in image: registry.example.com/team/api:1.4.2',
        'version': 'put the version in image as its tag: registry.example.com/team/api:1.4.2',
    },
    'properties': {
        'name': {'type': 'string', 'pattern': DNS_LABEL, 'x-hint': 'use lowercase letters, digits and dashes, starting with a letter, at most 63 characters',
                 'description': 'Name of the Deployment, Service and every other object of this service.'},
        'image': {'type': 'string', 'minLength': 1, 'pattern': IMAGE, 'x-hint': IMAGE_HINT,
                  'description': 'Container image reference: [registry[:port]/]path[:tag][@sha256:digest], path in lowercase.'},
        'imageRegistry': {'type': 'string', 'pattern': IMAGE_REGISTRY, 'x-hint': IMAGE_REGISTRY_HINT,
                          'description': 'Registry (and path) put before an image that names no registry: api:1.4 becomes '
                                         '<imageRegistry>/api:1.4; an image with a registry host is left as it is. Usually set once '
                                         'in kubeseed_microservices_defaults, per environment.'},
        'imagePullPolicy': {'enum': ['Always', 'IfNotPresent', 'Never'], 'description': 'Kubernetes default when unset.'},
        'imagePullSecrets': {'type': 'array', 'uniqueItems': True,
                             'items': {'type': 'string', 'pattern': DNS_SUBDOMAIN, 'maxLength': 253, 'x-hint': 'use the name of a Secret'},
                             'description': 'Names of Secrets (type kubernetes.io/dockerconfigjson, made elsewhere, in the service\'s '
                                            'namespace) its pods pull images with, besides the set\'s own '
                                            '(kubeseed_microservices_registry_credentials).'},
        'namespace': {'type': 'string', 'pattern': DNS_LABEL_1123, 'x-hint': 'use lowercase letters, digits and dashes, at most 63 characters',
                      'description': 'Namespace of this service (default: kubeseed_microservices_namespace).'},
        'replicas': _int('Pod count (ignored when autoscaling is set: the HPA owns it).', default=1),
        'ports': {
            'type': 'array', 'default': [], 'description': 'Ports the container listens on; a Service is created when there is at least one.',
            'items': {
                'type': 'object', 'additionalProperties': False, 'required': ['port'],
                'x-aliases': {'containerPort': 'use targetPort (the container port; port is the Service port)',
                              'servicePort': 'use port (the Service port)', 'hostPort': 'host ports are not supported; use nodePort'},
                'properties': {
                    'name': {'type': 'string', 'pattern': PORT_NAME,
                             'x-hint': 'use at most 15 lowercase letters, digits and single dashes, with at least one letter',
                             'description': 'Port name (default: http for the first port, port-<port> for the others).'},
                    'port': _port_number('Service port.'),
                    'targetPort': _port_number('Container port (default: port).'),
                    'protocol': {'enum': ['TCP', 'UDP', 'SCTP'], 'default': 'TCP'},
                    'nodePort': _int('Fixed node port (NodePort and LoadBalancer services only; default: chosen by Kubernetes); '
                                     'unique in the cluster.', *NODE_PORT_RANGE),
                },
            },
        },
        'command': {'type': 'array', 'items': {'type': 'string'}, 'description': 'Container entrypoint (replaces the image ENTRYPOINT).'},
        'args': {'type': 'array', 'items': {'type': 'string'}, 'description': 'Container arguments (replaces the image CMD).'},
        'env': _string_map('Environment variables (name: value). ' + _SCALAR_NOTE, ENV_NAME),
        'config': _string_map('Configuration values (key: value) stored in the ConfigMap <name>-config and exported as environment '
                              'variables; a change rolls the pods. Use lookup("file", ...) for whole files; at most 1 MiB in all. '
                              + _SCALAR_NOTE, CONFIG_KEY),
        'configMountPath': {'type': 'string', 'pattern': ABSOLUTE_PATH, 'x-hint': 'use an absolute path such as /etc/app',
                            'description': 'Also mount the ConfigMap keys as files in this directory (needs config).'},
        'secrets': _string_map('Secret values (key: value) stored in the Secret <name>-secrets and exported as environment variables; '
                               'never logged or shown in a diff; a change rolls the pods; at most 1 MiB in all. ' + _SCALAR_NOTE,
                               CONFIG_KEY),
        'resources': {'type': 'object', 'additionalProperties': False,
                      'description': 'Container requests and limits; a request may not be above its limit.',
                      'x-aliases': {'cpu': 'put it under requests or limits: resources: {requests: {cpu: 100m}}',
                                    'memory': 'put it under requests or limits: resources: {limits: {memory: 256Mi}}'},
                      'properties': {'requests': _RESOURCE_AMOUNTS, 'limits': _RESOURCE_AMOUNTS}},
        'liveness': dict(_PROBE, description='Liveness probe: ' + _PROBE['description']),
        'readiness': dict(_PROBE, description='Readiness probe: ' + _PROBE['description']),
        'startup': dict(_PROBE, description='Startup probe (liveness and readiness wait until it succeeds; for slow starts): ' + _PROBE['description']),
        'volumes': {'type': 'object', 'description': 'Volumes of the pod, shared by the service container (at mountPath) and its sidecars and '
                                                     'init containers (their mounts): scratch space (emptyDir), deleted with the pod, or, with '
                                                     'persistent, a PersistentVolumeClaim <service>-<volume> that outlives its pods.',
                    'propertyNames': {'pattern': DNS_LABEL, 'x-hint': _KEY_HINTS[DNS_LABEL]},
                    'additionalProperties': {'type': 'object', 'additionalProperties': False, 'properties': {
                        'mountPath': dict(_MOUNT_PATH, description='Where the service container sees it (none: only its sidecars and init containers).'),
                        'medium': {'enum': ['Memory'], 'description': 'Memory: a tmpfs counted against the memory limit (default: the node disk).'},
                        'sizeLimit': {'type': ['string', 'integer'], 'pattern': QUANTITY, 'minimum': 0, 'x-hint': _QUANTITY_HINT + '1Gi',
                                      'description': 'The most it may hold, e.g. 1Gi.'},
                        'persistent': {
                            'type': 'object', 'additionalProperties': False, 'required': ['size'],
                            'description': 'Keep the data across pods: a PersistentVolumeClaim <service>-<volume> of the set, bound by the '
                                           'cluster\'s storage (the local_path_storage add-on: a directory on the node the first pod runs on, '
                                           'where every later pod then runs). Never pruned: a claim whose volume or service is removed is '
                                           'kept, with its data, and reported.',
                            'properties': {
                                'size': {'type': ['string', 'integer'], 'pattern': QUANTITY, 'minimum': 1, 'x-hint': _QUANTITY_HINT + '1Gi',
                                         'description': 'The storage requested, e.g. 1Gi (a larger size later needs a StorageClass that allows '
                                                        'expansion; a smaller one is refused by Kubernetes).'},
                                'storageClass': {'type': 'string', 'pattern': DNS_SUBDOMAIN, 'maxLength': 253,
                                                 'x-hint': 'use the name of a StorageClass (kubectl get storageclass)',
                                                 'description': 'StorageClass of the claim (default: the cluster\'s default one). Fixed once the '
                                                                'claim exists.'},
                                'accessMode': {'enum': ['ReadWriteOnce', 'ReadWriteOncePod', 'ReadWriteMany', 'ReadOnlyMany'],
                                               'default': 'ReadWriteOnce',
                                               'description': 'How pods may use it; ReadWriteOnce: pods on one node (local-path supports only '
                                                              'this one). Fixed once the claim exists.'},
                            }},
                    }}},
        'initContainers': {'type': 'array', 'items': _EXTRA_CONTAINER,
                           'description': 'Containers that run to completion, in order, before the service container starts (after the sidecars '
                                          'have started).'},
        'sidecars': {'type': 'array', 'items': _EXTRA_CONTAINER,
                     'description': 'Containers that run beside the service container for the life of the pod (Kubernetes native sidecars: '
                                    'init containers with restartPolicy Always, started before the init containers and the service, stopped '
                                    'after it).'},
        'job': dict(JOB_SCHEMA),
        'cronJob': dict(CRON_JOB_SCHEMA),
        'service': {'type': 'object', 'additionalProperties': False, 'description': 'The Service in front of the pods (only with ports).',
                    'properties': {
                        'type': {'enum': list(SERVICE_TYPES), 'default': 'ClusterIP', 'description': 'Headless is a ClusterIP: None Service.'},
                        'annotations': _string_map('Annotations of the Service only.'),
                    }},
        'ingress': {
            'type': 'object', 'additionalProperties': False, 'required': ['host'], 'description': 'An Ingress to the Service.',
            'x-aliases': {'hostname': 'use host', 'hosts': 'use host (one host name)', 'tls': 'use tlsSecret: <name of a kubernetes.io/tls Secret>',
                          'ingressClassName': 'use className', 'class': 'use className'},
            'properties': {
                'host': {'type': 'string', 'pattern': HOSTNAME, 'maxLength': 253, 'x-hint': 'use a lowercase DNS name such as api.example.com'},
                'path': {'type': 'string', 'pattern': URL_PATH, 'default': '/', 'x-hint': 'start the path with / (no spaces)'},
                'pathType': {'enum': ['Prefix', 'Exact', 'ImplementationSpecific'], 'default': 'Prefix'},
                'port': _port_ref('Service port to route to (default: the first port).'),
                'className': {'type': 'string', 'pattern': DNS_SUBDOMAIN, 'maxLength': 253, 'x-hint': 'use a lowercase DNS name',
                              'description': 'IngressClass name (default: the cluster default).'},
                'tlsSecret': {'type': 'string', 'pattern': DNS_SUBDOMAIN, 'maxLength': 253, 'x-hint': 'use the name of an existing kubernetes.io/tls Secret',
                              'description': 'TLS Secret for the host (HTTPS).'},
                'annotations': _string_map('Annotations of the Ingress only.'),
            }},
        'autoscaling': {
            'type': 'object', 'additionalProperties': False, 'required': ['max'],
            'description': 'HorizontalPodAutoscaler (autoscaling/v2) on CPU utilisation; needs resources.requests.cpu (or limits.cpu).',
            'x-aliases': {'minReplicas': 'use min', 'maxReplicas': 'use max', 'targetCPUUtilizationPercentage': 'use cpu',
                          'targetCPU': 'use cpu', 'cpuUtilization': 'use cpu', 'averageUtilization': 'use cpu'},
            'properties': {
                'min': _int(minimum=1, default=1),
                'max': _int(minimum=1),
                'cpu': _int('Target average CPU utilisation in percent of the request.', 1, 1000, default=80),
                'scaleDownSeconds': _int('Seconds the load must have stayed low before pods are removed (the scale-down '
                                         'stabilization window; Kubernetes\' default when unset: 300).', 0, 3600),
            }},
        'pdb': {'type': 'object', 'additionalProperties': False, 'description': 'PodDisruptionBudget: exactly one of minAvailable or maxUnavailable.',
                'properties': {'minAvailable': _int_or_percent('Pods that must stay up (a percentage at most 100%).'),
                               'maxUnavailable': _int_or_percent('Pods that may be down (a percentage at most 100%).')},
                'oneOf': [{'required': ['minAvailable']}, {'required': ['maxUnavailable']}]},
        'labels': _string_map('Extra labels on every object and pod of this service (not the ones kubeseed sets: %s). ' % ', '.join(RESERVED_LABELS)
                              + _SCALAR_NOTE, LABEL_KEY,
                              {'type': 'string', 'pattern': LABEL_VALUE, 'x-hint': 'label values have at most 63 letters, digits, -, _ or .'}),
        'annotations': _string_map('Extra annotations on every object of this service. ' + _SCALAR_NOTE),
        'podAnnotations': _string_map('Extra annotations on the pods only. ' + _SCALAR_NOTE),
        'serviceAccount': {'type': 'string', 'pattern': DNS_SUBDOMAIN, 'maxLength': 253, 'x-hint': 'use a lowercase DNS name',
                           'description': 'ServiceAccount the pods run as.'},
        'createServiceAccount': {'type': 'boolean', 'default': False, 'description': 'Create (and own) serviceAccount (default: it must exist).'},
        'spread': {
            'type': 'object', 'additionalProperties': False,
            'description': 'How the pods spread across nodes: one topologySpreadConstraint over the pods of this service and rollout '
                           '(matchLabelKeys pod-template-hash). Default, also when absent: soft (ScheduleAnyway), maxSkew 1, on '
                           'kubernetes.io/hostname, so that 2 or more replicas run on two nodes whenever two are schedulable and '
                           'still start when only one is. DoNotSchedule makes it hard (pods stay Pending rather than share a '
                           'node); enabled false leaves the pods to the scheduler alone.',
            'x-aliases': {'topologySpreadConstraints': 'use whenUnsatisfiable, maxSkew and topologyKey here (or topologySpread beside spread)',
                          'required': 'use whenUnsatisfiable: DoNotSchedule', 'hard': 'use whenUnsatisfiable: DoNotSchedule'},
            'properties': {
                'enabled': {'type': 'boolean', 'default': True},
                'whenUnsatisfiable': {'enum': ['ScheduleAnyway', 'DoNotSchedule'], 'default': 'ScheduleAnyway'},
                'maxSkew': _int('Most pods one node (topology domain) may have more than another.', 1, default=1),
                'topologyKey': {'type': 'string', 'pattern': LABEL_KEY, 'default': 'kubernetes.io/hostname',
                                'x-hint': 'use a node label key such as kubernetes.io/hostname or topology.kubernetes.io/zone',
                                'description': 'Node label whose values are the domains to spread over.'},
            }},
        'topologySpread': {'type': 'array', 'items': TOPOLOGY_SPREAD_CONSTRAINT_SCHEMA,
                           'description': 'More topologySpreadConstraints of the pods, as written in Kubernetes (e.g. over zones beside '
                                          "spread's hostnames), checked against the Kubernetes API schema; added after spread's "
                                          "constraint. A constraint without labelSelector counts this service's pods. One "
                                          'topologyKey and whenUnsatisfiable pair once (spread included); minDomains needs '
                                          'DoNotSchedule.'},
        'affinity': dict(AFFINITY_SCHEMA, description='Kubernetes pod affinity as written (nodeAffinity, podAffinity, podAntiAffinity), '
                                                      'checked against the Kubernetes API schema; it adds to spread.'),
        'tolerationSeconds': _int('Seconds the pods stay bound to a node that is not ready or unreachable before they are evicted and '
                                  'started on other nodes (tolerations of node.kubernetes.io/not-ready and unreachable, NoExecute). '
                                  "Absent: Kubernetes' 300. Lower moves pods off a dead node sooner, but a node that only blinks (a "
                                  'network hiccup, a kubelet restart) then costs restarts of its pods.', 0, 86400),
        'strategy': {'type': 'object', 'additionalProperties': False, 'description': 'Rollout strategy of the Deployment.',
                     'properties': {
                         'type': {'enum': ['RollingUpdate', 'Recreate'], 'default': 'RollingUpdate'},
                         'maxSurge': _int_or_percent('RollingUpdate only.'),
                         'maxUnavailable': _int_or_percent('RollingUpdate only; at most 100%; not 0 when maxSurge is 0.'),
                         'minReadySeconds': _int('Seconds a new pod must be ready before it counts as available (default 0).'),
                         'progressDeadlineSeconds': _int('Seconds a rollout may make no progress before the Deployment reports it failed '
                                                         '(default 600); more than minReadySeconds.', 1),
                     }},
    },
}

# Settings a service has alone: not in kubeseed_microservices_defaults (with what to do instead).
NOT_DEFAULTS = {
    'name': 'a name belongs to one service: set it in each entry of kubeseed_microservices',
    'image': 'an image belongs to one service; set imageRegistry here to put a registry before every image that names none',
    'namespace': 'use kubeseed_microservices_namespace for the namespace of every service',
    'secrets': 'secret values belong to one service: set them in its entry or in the secrets of the module (never in shared defaults)',
    'ingress': 'an Ingress host belongs to one service: set ingress in its entry',
    'serviceAccount': 'a ServiceAccount belongs to one service: set serviceAccount in its entry',
    'createServiceAccount': 'a ServiceAccount belongs to one service: set it in its entry',
    'job': 'whether an entry is a Job belongs to that entry: set job in it',
    'cronJob': 'whether an entry is a CronJob belongs to that entry: set cronJob in it',
}
DEFAULTS_SCHEMA: dict = {
    'type': 'object',
    'title': 'defaults of every microservice',
    'description': 'Merged under every service of kubeseed_microservices (the service wins): mappings (env, config, labels, '
                   'annotations, podAnnotations, resources and its requests and limits, service, spread, strategy, autoscaling) key '
                   'by key, everything else (replicas, ports, probes, pdb, command, args ...) as a whole. Typically set per '
                   'environment in the inventory group_vars (dev, staging, prod) while the list of services is shared.',
    'additionalProperties': False,
    'x-aliases': dict(SERVICE_SCHEMA['x-aliases'], **NOT_DEFAULTS),
    'properties': {k: v for k, v in SERVICE_SCHEMA['properties'].items() if k not in NOT_DEFAULTS},
    '$defs': K8S_DEFS,  # the Kubernetes types of affinity, when this schema is checked on its own
}

API_VERSION = r'^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?v[0-9]+((alpha|beta)[0-9]+)?$'
KIND = r'^[A-Z][A-Za-z0-9]{0,62}$'
EXTRA_OBJECT_SCHEMA: dict = {
    'type': 'object', 'title': 'one extra object', 'required': ['apiVersion', 'kind', 'metadata'],
    'description': 'A complete Kubernetes manifest; its fields other than apiVersion, kind and metadata are checked by the API server.',
    'x-aliases': {'api_version': 'use apiVersion', 'Kind': 'use kind', 'name': 'put it in metadata: {name: ...}',
                  'namespace': 'put it in metadata: {namespace: ...}'},
    'properties': {
        'apiVersion': {'type': 'string', 'pattern': API_VERSION, 'x-hint': 'use group/version such as networking.k8s.io/v1, or v1 for the core group'},
        'kind': {'type': 'string', 'pattern': KIND, 'x-hint': 'use the kind as Kubernetes spells it, such as NetworkPolicy'},
        'metadata': {
            'type': 'object', 'required': ['name'],
            'x-aliases': {'generateName': 'use name (a generated name could not be found again, so it could not be pruned)'},
            'properties': {
                # a path segment: RBAC objects may have colons (system:...); the other kinds' DNS names are checked by kind
                'name': {'type': 'string', 'pattern': PATH_SEGMENT_NAME, 'maxLength': 253,
                         'x-hint': 'use a lowercase DNS name (RBAC objects may also have colons)'},
                'namespace': {'type': 'string', 'pattern': DNS_LABEL_1123, 'x-hint': 'use lowercase letters, digits and dashes, at most 63 characters'},
                'labels': _string_map('Labels (not the ones kubeseed sets: %s).' % ', '.join(RESERVED_LABELS[:1] + RESERVED_LABELS[2:]), LABEL_KEY,
                                      {'type': 'string', 'pattern': LABEL_VALUE, 'x-hint': 'label values have at most 63 letters, digits, -, _ or .'}),
                'annotations': _string_map('Annotations.'),
            },
            'additionalProperties': False,
        },
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
        'kubeseed_microservices_defaults': {'$ref': '#/$defs/defaults', 'default': {}},
        'kubeseed_microservices_extra_objects': {
            'type': 'array', 'default': [], 'items': {'$ref': '#/$defs/extra_object'},
            'description': 'Kubernetes objects the schema of a service does not cover (a NetworkPolicy, a Role and its RoleBinding, a '
                           'custom resource ...), as complete manifests. Applied with the services (server-side apply, after a dry run '
                           'that checks every field against the API server\'s schema before anything is applied), labelled as objects '
                           'of the set, diffed (Secret values masked) and pruned like them when removed from this list. metadata.namespace '
                           'defaults to kubeseed_microservices_namespace for a namespaced kind.',
        },
        'kubeseed_microservices_registry_credentials': {
            'type': 'object', 'default': {},
            'propertyNames': REGISTRY_HOST_NAMES,
            'additionalProperties': REGISTRY_CREDENTIALS_ENTRY,
            'description': 'Credentials of private registries, by registry host (with its port if any): {username, password}. '
                           'They become one Secret <set>-registry-credentials (type kubernetes.io/dockerconfigjson) in each namespace '
                           'with pods of the set, and every pod of the set pulls its images with it (imagePullSecrets). Never shown: '
                           'not in messages, diffs or -vvv (keep the password in Ansible Vault). Adding or removing them changes '
                           'every pod template: the services roll once and jobs run again.',
        },
        'kubeseed_microservices_image_digests': {
            'type': 'boolean', 'default': False,
            'description': 'Resolve each image tag to its digest at the registry when the run applies it (image:tag@sha256:...): the '
                           'kubelet pulls that digest, and a tag moved at the registry reaches the pods only through a run, which '
                           'shows it. The registry is asked from the controller; an image that cannot be resolved fails the run '
                           'before anything is applied.',
        },
        'kubeseed_microservices_registry_ca': {
            'type': 'object', 'default': {},
            'propertyNames': REGISTRY_HOST_NAMES,
            'additionalProperties': {'type': 'string', 'minLength': 1},
            'description': 'CA certificates (PEM text) of registries by host[:port], trusted when kubeseed_microservices_image_digests '
                           'asks them; other registries are checked against the controller\'s CAs.',
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
        'kubeseed_microservices_allow_empty': {'type': 'boolean', 'default': False,
                                               'description': 'An empty kubeseed_microservices with prune would delete every object of the '
                                                              'set: refused unless this is true (so a misspelt or empty variable never '
                                                              'deletes a whole set).'},
        'kubeseed_microservices_create_namespaces': {'type': 'boolean', 'default': True,
                                                     'description': 'Create missing namespaces (they are never deleted).'},
        'kubeseed_microservices_wait': {'type': 'boolean', 'default': True, 'description': 'Wait until every Deployment has rolled out.'},
        'kubeseed_microservices_wait_timeout': {'type': 'integer', 'minimum': 1, 'default': 300, 'description': 'Seconds to wait for all rollouts together.'},
        'kubeseed_microservices_retry_seconds': {'type': 'integer', 'minimum': 0, 'maximum': 3600, 'default': 30,
                                                 'description': 'How long an outage of the API server (no answer, 429, 502-504, an etcd '
                                                                'leader election) is waited out, requests sent again with backoff; 0: '
                                                                'each request once.'},
        'kubeseed_microservices_on_failure': {'enum': ['keep', 'rollback'], 'default': 'keep',
                                              'description': 'When a Deployment does not roll out within the wait: keep leaves it as it is; '
                                                             'rollback returns it to the revision that served before, waits for that, and '
                                                             'still fails the run, naming what was rolled back.'},
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
    '$defs': dict({'service': SERVICE_SCHEMA, 'defaults': DEFAULTS_SCHEMA, 'extra_object': EXTRA_OBJECT_SCHEMA}, **K8S_DEFS),
}
