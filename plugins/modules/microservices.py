#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: microservices
short_description: Converge a Kubernetes cluster to a list of microservices in one batch
version_added: 0.1.0
description:
  - Renders every object of every service (Deployment, Service, ConfigMap, Secret, Ingress, HorizontalPodAutoscaler,
    PodDisruptionBudget, ServiceAccount) and applies them in one process with one client, by server-side apply
    with the field manager O(field_manager).
  - "Validates O(services) against the JSON Schema C(schemas/microservices.schema.json) first and reports every
    violation at once with its path, for example C(kubeseed_microservices[2].ports[0].port: 70000 is greater than the maximum of 65535);
    nothing is applied then."
  - Every object carries the labels C(app.kubernetes.io/managed-by=kubeseed) and C(kubeseed.io/set=<set_name>).
    Objects of the set that are no longer listed are deleted (O(prune)); an object is only ever deleted when it has both
    labels and was applied by O(field_manager), so objects kubeseed did not create are never touched. Namespaces are never deleted.
  - The pod template carries a checksum of the service's config and secrets, so a changed value rolls its pods.
  - C(changed) compares each object the API server returns after the apply with the live object before it.
    In check mode the same comparison is made with a server-side dry-run apply (C(dryRun=All)), so nothing is changed.
  - Every object carries the annotation C(kubeseed.io/applied), the sha256 of the object as it was applied. An object whose
    live copy records the same hash and whose fields are all still owned by the last apply of O(field_manager) is unchanged
    without any request, so a run with nothing to change sends one list per kind and no write (in check mode no dry run).
    A field someone else changed or removed (C(kubectl edit), C(kubectl scale)) is no longer owned by O(field_manager),
    so that object is applied again and reported. The annotation of a Secret is shown as C(<hidden>) in diffs.
  - Waits for all Deployments concurrently (O(wait), O(wait_timeout)); when one does not roll out it fails with the
    reasons of its pods (for example C(ImagePullBackOff), C(Unschedulable)) and its latest events.
  - The result's C(invocation) (what C(-vvv) and a registered variable show of the arguments) gives a list of more than 100
    O(services) or O(extra_objects) by its length instead of repeating it.
author:
  - kubeseed maintainers (@kubeseed)
options:
  services:
    description:
      - The services, as described by the C($defs.service) schema in C(schemas/microservices.schema.json)
        (see the C(microservices) role's C(kubeseed_microservices) variable).
      - "Any value is accepted here and checked by that schema, so a wrong type is reported with its path
        (C(kubeseed_microservices[0].ports: 8080 is an integer, expected a list)) instead of failing the argument parsing."
      - An entry with C(job) is a one-off Job (with C(job.runBefore), applied and completed before the services it names),
        one with C(cronJob) a CronJob; see C(docs/microservices.md).
      - A service's C(secrets) may be given inline; the action plugin moves them into O(service_secrets) before the module
        runs, so they are hidden in every output like O(secrets).
    type: raw
    default: []
  extra_objects:
    description:
      - Complete Kubernetes manifests of kinds the service schema does not cover (the role's C(kubeseed_microservices_extra_objects)),
        applied, diffed and pruned with the set; each kind is looked up in the API server's discovery and each object that would
        be sent is first applied as a server-side dry run with strict field validation, so a problem is refused before anything
        is applied.
      - The C(data) and C(stringData) of a Secret are moved by the action plugin into O(extra_secrets), hidden in every output.
    type: raw
    default: []
  extra_secrets:
    description:
      - Set by the action plugin (the C(data) and C(stringData) of each Secret of O(extra_objects), in order); not set it by hand.
    type: list
    elements: raw
    default: []
  registry_credentials:
    description:
      - Credentials of private registries, by registry host (with its port if any) - C({username, password}).
      - Rendered as one Secret C(<set_name>-registry-credentials) of type C(kubernetes.io/dockerconfigjson) in each namespace with
        pods of the set; every pod of the set gets it in C(imagePullSecrets). Pruned with the set when removed.
      - Never shown - not in messages, diffs, results or C(-vvv) (each password, each C(user:password) in base64 and the Secret's
        value are hidden).
    type: raw
    default: {}
  image_digests:
    description:
      - Resolve each image's tag to its digest at the registry and apply C(image:tag@digest) (the role's
        C(kubeseed_microservices_image_digests)). The kubelet pulls that digest, so a tag moved at the registry reaches the
        pods only through a run, which reports it (a check run shows it in its diff) and rolls the services (and runs the jobs
        again) whose image moved.
      - The registry is asked from where the module runs (Docker Registry HTTP API v2, anonymous, Basic with O(registry_credentials)
        or a Bearer token from the registry's token service). Images that name a digest are left as written.
      - An image that cannot be resolved (registry unreachable, unknown tag, refused credentials, untrusted certificate) fails the
        run before anything is applied, naming every such image and the fix.
    type: bool
    default: false
  registry_ca:
    description:
      - CA certificates (PEM) to trust for registries, by registry host (with its port if any), when O(image_digests) asks them;
        other registries are checked against the system's CAs (the role's C(kubeseed_microservices_registry_ca)).
    type: dict
    default: {}
  secrets:
    description:
      - "Secret values by service name, for example C({api: {DB_PASSWORD: s3cr3t}}); merged over each service's inline C(secrets)."
      - Stored in the Secret C(<service>-secrets); never logged, never returned and never shown in a diff.
    type: dict
    default: {}
  defaults:
    description:
      - "Settings merged under every service of O(services) (the role's C(kubeseed_microservices_defaults)), for example
        C({imageRegistry: registry.example.com/team, replicas: 2, resources: {requests: {cpu: 100m}}}): the service's own value wins;
        the mappings C(env), C(config), C(labels), C(annotations), C(podAnnotations), C(resources), C(service), C(spread),
        C(strategy) and C(autoscaling) are merged key by key (nested mappings too), every other setting is taken whole."
      - Described by the C($defs.defaults) schema in C(schemas/microservices.schema.json) and validated first, each problem at
        C(kubeseed_microservices_defaults.<path>). C(name), C(image), C(namespace), C(secrets), C(ingress) and the service
        account belong to one service and are refused here (the values of C(secrets) are hidden before the module runs).
    type: raw
    default: {}
  service_secrets:
    description:
      - Each service's inline C(secrets), by position in O(services) (V(null) for a service without). Set by the action plugin
        from the inline C(secrets) of O(services); rarely set by hand.
    type: list
    elements: raw
    default: []
  allow_empty:
    description:
      - With O(state=present) and O(prune), an empty O(services) would delete every object of the set. That is refused unless
        this is V(true), so that a misspelt or empty variable never deletes a whole set. O(state=absent) needs no such flag.
    type: bool
    default: false
  check_variables:
    description:
      - Refuse the task when a C(kubeseed_microservices*) variable of the host is not one of the C(microservices) role's variables
        (a misspelt C(kubeseed_microservice) would otherwise be ignored, and the role would run with an empty list).
        Checked on the controller by the action plugin, before the module runs. The role sets it.
    type: bool
    default: false
  set_name:
    description:
      - Name of this set of services (label C(kubeseed.io/set)). O(prune) and O(state=absent) only touch objects of this set.
    type: str
    default: apps
  namespace:
    description: Namespace of every service that does not set its own.
    type: str
    default: default
  state:
    description:
      - V(present) applies the services (and prunes, see O(prune)); V(absent) deletes every object of the set.
    type: str
    choices: [present, absent]
    default: present
  prune:
    description: Delete the objects of this set that O(services) no longer produce.
    type: bool
    default: true
  create_namespaces:
    description: Create missing namespaces (labelled C(app.kubernetes.io/managed-by=kubeseed); they are never deleted).
    type: bool
    default: true
  force_conflicts:
    description: Take over fields that another field manager owns (server-side apply C(force=true)); otherwise such a conflict fails.
    type: bool
    default: false
  wait:
    description: Wait until every Deployment has rolled out (not in check mode).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for all rollouts together.
    type: int
    default: 300
  retry_seconds:
    description:
      - How long a failure that passes is waited out - the API server not answering (refused, reset, timed out, as when it is
        restarting, or the endpoint moves to another control plane), throttling (429), 502-504, and 500 from an etcd leader
        election. The request is sent again after 0.2 s, doubling to 2 s (or the server's C(Retry-After)); every request
        kubeseed sends may be sent twice (reads, server-side apply, delete by name).
      - One outage counts once for all requests in flight; after it lasted O(retry_seconds) each request is sent once more
        and fails (an object not applied is named in the message, the run fails, the next run converges). V(0) sends each
        request once. Outages that were waited out are returned in RV(api_outages) and warned about.
    type: int
    default: 30
  on_failure:
    description:
      - What happens to a Deployment that did not roll out within O(wait_timeout). V(keep) leaves it as it is.
      - V(rollback) returns it to the revision that served before (the newest earlier ReplicaSet's pod template, applied by
        O(field_manager)), waits for that as long again, and still fails the run, naming each Deployment rolled back, to which
        revision and image, and whether it became available (RV(rollbacks)). A Deployment on its first rollout has nothing to
        return to and is left. The next run applies the wanted release again unless it was fixed.
    type: str
    choices: [keep, rollback]
    default: keep
  field_manager:
    description: Server-side apply field manager; also what marks an object as created by this module.
    type: str
    default: kubeseed
  validate_only:
    description: Only validate O(services) and O(secrets) (all problems at once); contact no cluster.
    type: bool
    default: false
  workers:
    description: Concurrent API requests.
    type: int
    default: 8
extends_documentation_fragment:
  - kubeseed.cluster.k8s_auth
  - kubeseed.cluster.attributes
requirements:
  - kubernetes >= 24.2 (Python library) where the module runs
  - jsonschema >= 4.18 where the module runs
attributes:
  check_mode:
    support: full
    description: Server-side dry-run of every apply and delete; reports exactly what a real run would change.
  diff_mode:
    support: full
    description: One diff per changed, created or deleted object; Secret values are replaced by C(<hidden>) or C(<hidden, changed>).
  action:
    support: full
    description: An action plugin checks the variables and moves inline secrets into a no_log option, then runs the module.
notes:
  - "Run it where the cluster is reachable, usually on the controller (C(delegate_to: localhost) or a play on localhost)."
seealso:
  - module: kubernetes.core.k8s
'''

EXAMPLES = r'''
- name: Run the shop services
  kubeseed.cluster.microservices:
    kubeconfig: ~/.kube/kubeseed-prod.conf
    set_name: shop
    namespace: shop
    services:
      - name: api
        image: registry.example.com/shop/api:1.4.2
        replicas: 2
        ports: [{port: 80, targetPort: 8080}]
        config: {LOG_LEVEL: info}
        readiness: {httpGet: {path: /healthz, port: http}}
      - name: web
        image: registry.example.com/shop/web:2.0.0
        ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
        service: {type: NodePort}
        env: {API_URL: http://api}
    secrets:
      api: {DB_PASSWORD: "{{ vault_db_password }}"}

- name: Remove every object of the set
  kubeseed.cluster.microservices:
    set_name: shop
    state: absent
'''

RETURN = r'''
image_digests:
  description: With O(image_digests), each image resolved and the digest the registry serves for it (what the pods run).
  returned: when O(image_digests) resolved an image
  type: dict
  sample: {"registry.example.com/shop/api:1.4.2": "sha256:3b7c..."}
api_outages:
  description: Each time the API server failed in a way that passes and was waited out (O(retry_seconds)) - seconds from the
    first failure to the next answer, the last failure (such as V(HTTP 503)) and how many
    requests were sent again.
  returned: when there was one
  type: list
  elements: dict
  sample: [{seconds: 3.4, reason: no answer (NewConnectionError), requests_sent_again: 12}]
objects:
  description: Every object applied or deleted, with what happened to it (V(created), V(configured), V(unchanged), V(pruned), V(deleted)).
  returned: always
  type: list
  elements: dict
  sample: [{kind: Deployment, namespace: shop, name: api, action: configured}]
kept:
  description: The PersistentVolumeClaims of the set (persistent volumes) that a prune or O(state=absent) would have deleted but
    kept, with their data (each also a warning); delete them with kubectl when the data may go.
  returned: with O(prune) or O(state=absent)
  type: list
  elements: str
  sample: ['PersistentVolumeClaim shop/db-data: kept with its data (delete it with kubectl when the data may go)']
rollouts:
  description: The Deployments waited for, whether each rolled out, its desired replicas and how many were available.
  returned: when O(wait) and not in check mode
  type: list
  elements: dict
  sample: [{kind: Deployment, namespace: shop, name: api, ready: true, replicas: 2, available: 2}]
jobs:
  description: The Jobs (entries with C(job)) waited for, and how each ended (V(complete), V(failed), V(running) when not finished in time).
  returned: when a Job was waited for
  type: list
  elements: dict
  sample: [{kind: Job, namespace: shop, name: migrate-3f9a1c0b7e, state: complete}]
rollbacks:
  description: With O(on_failure=rollback), each Deployment that did not roll out, whether it was rolled back, and how.
  returned: when a rollout failed with O(on_failure=rollback)
  type: list
  elements: dict
  sample: [{kind: Deployment, namespace: shop, name: api, rolled_back: true, available: true,
            message: "Deployment shop/api: rolled back to revision 3 (image registry.example.com/shop/api:1.4.1), available again"}]
summary:
  description:
    - The release summary, a row per service of the set (and per service pruned or deleted by this run) - its image, its pods
      available of desired (V(null) when not known, as in check mode for a new service), where it answers (its DNS name and
      ports in the cluster, node port URLs on a Ready node's address, load balancer and Ingress URLs) and what changed.
  returned: success
  type: list
  elements: dict
  sample:
    - service: web
      namespace: shop
      image: registry.example.com/shop/web:2.0.1
      ready: 2/2
      endpoints: [web.shop.svc:80, "http://10.117.0.11:30080", "https://shop.example.com/"]
      changes: [Deployment configured]
summary_table:
  description: RV(summary) as aligned text lines under a title (the microservices role prints it at the end of a run).
  returned: success
  type: list
  elements: str
problems:
  description: Every validation problem of O(services), each with its path (the run fails and nothing is applied).
  returned: on validation failure
  type: list
  elements: str
'''

import time
import traceback

from ansible.module_utils.basic import PASSWORD_MATCH, AnsibleModule, missing_required_lib
from ansible.module_utils.common.warnings import get_deprecations, get_warnings

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_client as k8s
from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_guard as guard
from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_ops as ops
from ansible_collections.kubeseed.cluster.plugins.module_utils import _image_digests as digests
from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_render as render
from ansible_collections.kubeseed.cluster.plugins.module_utils._schema_validation import HAS_JSONSCHEMA, JSONSCHEMA_IMPORT_ERROR


# The invocation (what -vvv and a registered result show of the arguments) gives a longer list of services or extra objects
# by its length: 1,000 services would be 470 KB in every result, its -vvv output and an AWX job event, and seconds of
# encoding, hiding and decoding for the run; they are in the inventory that was given.
LIST_OPTIONS = ('services', 'extra_objects')
INVOCATION_LIST_LIMIT = 100
NO_LOG_OPTIONS = ('secrets', 'service_secrets', 'extra_secrets', 'api_key', 'registry_credentials')


class _Module(AnsibleModule):
    """AnsibleModule whose log of the invocation (syslog or journal) checks only the values to hide that occur in the
    arguments: the same message, without a search of the whole text (470 KB for 1,000 services) per secret value."""

    def _log_invocation(self):
        values = self.no_log_values
        # the message as AnsibleModule._log_invocation writes it, before its hiding: every argument in order after the
        # target's log info, NOT_LOGGING_PARAMETER for a no_log option and NOT_LOGGING_PASSWORD for a name like a password's
        shown = []
        for name, value in self.params.items():
            no_log = self.argument_spec.get(self.aliases.get(name, name), {}).get('no_log')
            if no_log is None and PASSWORD_MATCH.search(name):
                value = 'NOT_LOGGING_PASSWORD'
            elif self.boolean(no_log):
                value = 'NOT_LOGGING_PARAMETER'
            shown.append('%s=%s' % (name, value))
        logged = '%s Invoked with %s' % (getattr(self, '_target_log_info', None) or '', ' '.join(shown))
        # a value with a '*' could also appear where the hiding put ******** (next to what was there): kept
        self.no_log_values = guard.occurring_in(values, logged) | set(v for v in values if isinstance(v, str) and '*' in v)
        try:
            super()._log_invocation()
        finally:
            self.no_log_values = values


def _leave(module: AnsibleModule, failed: bool, **result) -> None:
    """exit_json (or fail_json) with the values to hide narrowed to those that occur in what is returned (the same output,
    without seconds of remove_values for a large set: see _microservices_guard.occurring)."""
    # the no_log options as the placeholder remove_values would put in each of their values (so theirs need no search)
    hidden = dict((name, 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' if value else value) for name, value in module.params.items() if name in NO_LOG_OPTIONS)
    shown = dict(module.params, **hidden)
    for name in LIST_OPTIONS:
        if isinstance(shown.get(name), list) and len(shown[name]) > INVOCATION_LIST_LIMIT:
            shown[name] = '%d entries (a list of more than %d is not repeated in the invocation)' % (len(shown[name]), INVOCATION_LIST_LIMIT)
    result.setdefault('invocation', {'module_args': shown})
    module.no_log_values = guard.occurring(module.no_log_values, [result, get_warnings(), get_deprecations()])
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


def main() -> None:
    """Validate, converge, exit."""
    module = _Module(
        argument_spec={
            'services': {'type': 'raw', 'default': []},
            'defaults': {'type': 'raw', 'default': {}},
            'extra_objects': {'type': 'raw', 'default': []},
            'extra_secrets': {'type': 'list', 'elements': 'raw', 'default': [], 'no_log': True},
            'secrets': {'type': 'dict', 'default': {}, 'no_log': True},
            'registry_credentials': {'type': 'raw', 'default': {}, 'no_log': True},
            'image_digests': {'type': 'bool', 'default': False},
            'registry_ca': {'type': 'dict', 'default': {}},
            'service_secrets': {'type': 'list', 'elements': 'raw', 'default': [], 'no_log': True},
            'allow_empty': {'type': 'bool', 'default': False},
            'check_variables': {'type': 'bool', 'default': False},
            'set_name': {'type': 'str', 'default': 'apps'},
            'namespace': {'type': 'str', 'default': 'default'},
            'state': {'type': 'str', 'default': 'present', 'choices': ['present', 'absent']},
            'prune': {'type': 'bool', 'default': True},
            'create_namespaces': {'type': 'bool', 'default': True},
            'force_conflicts': {'type': 'bool', 'default': False},
            'wait': {'type': 'bool', 'default': True},
            'wait_timeout': {'type': 'int', 'default': 300},
            'retry_seconds': {'type': 'int', 'default': 30},
            'on_failure': {'type': 'str', 'default': 'keep', 'choices': ['keep', 'rollback']},
            'field_manager': {'type': 'str', 'default': 'kubeseed'},
            'validate_only': {'type': 'bool', 'default': False},
            'workers': {'type': 'int', 'default': 8},
            **k8s.AUTH_ARG_SPEC,
        },
        supports_check_mode=True,
    )
    if not k8s.HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=str(k8s.KUBERNETES_IMPORT_ERROR))
    if not HAS_JSONSCHEMA:
        module.fail_json(msg=missing_required_lib('jsonschema'), exception=str(JSONSCHEMA_IMPORT_ERROR))
    params = module.params
    given = guard.join_secrets(params['services'], params['service_secrets'])
    # Every secret value is hidden from every output (result, message, diff, -vvv), whatever its shape or validity.
    for svc in given if isinstance(given, list) else []:
        if isinstance(svc, dict):
            module.no_log_values.update(guard.secret_values(svc.get('secrets')))
    module.no_log_values.update(guard.secret_values(params['secrets']))
    extra = guard.join_extra_secrets(params['extra_objects'], params['extra_secrets'])
    for obj in extra if isinstance(extra, list) else []:
        if isinstance(obj, dict) and obj.get('kind') == 'Secret':
            for field in guard.SECRET_FIELDS:
                module.no_log_values.update(guard.secret_values(obj.get(field)))
    module.no_log_values.update(render.registry_hidden_values(params['registry_credentials']))
    # Ansible hid every value of the no_log option registry_credentials, its usernames too: a username is a name (often a
    # word of image paths too, e.g. registry.corp/team/app), shown again unless it is also the value of a secret
    secret = set().union(*(render.no_log_leaves(params[name]) for name, spec in module.argument_spec.items()
                           if spec.get('no_log') and name != 'registry_credentials'))
    secret |= render.registry_hidden_values(params['registry_credentials'])
    module.no_log_values.difference_update(render.registry_usernames(params['registry_credentials']) - secret)
    for values in params['secrets'].values():
        if not isinstance(values, dict):
            module.fail_json(msg='secrets: each entry must be a mapping of key: value for one service')

    services = given if params['state'] == 'present' else []
    listed = given or (extra if params['state'] == 'present' else [])  # extra objects alone are a set too
    problems = guard.empty_set_problem(listed, params['state'], params['prune'], params['allow_empty'], params['set_name'],
                                       allow_name='kubeseed_microservices_allow_empty (module option allow_empty)')
    if not problems:
        problems = render.validate_services(services, params['namespace'], params['set_name'], params['secrets'], params['defaults'],
                                            extra if params['state'] == 'present' else [])
        problems += render.registry_problems(params['registry_credentials'])
        problems += digests.ca_problems(params['registry_ca'])
    if problems:
        merged = params['defaults'] and any(p.startswith(render.ROOT + '[') for p in problems)
        note = ' (each service checked with kubeseed_microservices_defaults merged under it)' if merged else ''
        _leave(module, True, msg='%d problem(s) in the microservices%s; nothing was applied:\n- %s' % (len(problems), note, '\n- '.join(problems)),
               problems=problems)
    if params['validate_only']:
        _leave(module, False, changed=False, objects=[], msg='%d service(s) are valid' % len(services))
    if params['retry_seconds'] < 0:
        _leave(module, True, msg='retry_seconds (kubeseed_microservices_retry_seconds): %d is negative; 0 sends each request once'
               % params['retry_seconds'], changed=False)
    pinned = {}
    if params['image_digests'] and services:
        resolver = digests.Resolver(params['registry_credentials'], params['registry_ca'])
        try:
            services, pinned = digests.pin_services(render.with_defaults(services, params['defaults']), resolver, _image_of,
                                                    params['workers'])
        except digests.DigestError as exc:
            _leave(module, True, msg=str(exc), changed=False, objects=[])
    client = None
    try:
        client = k8s.Client(params['kubeconfig'], params['context'], params['host'], params['api_key'],
                            params['validate_certs'], params['ca_cert'], workers=params['workers'], retry_seconds=params['retry_seconds'])
        _wait_ready(module, client, params['retry_seconds'])
        result = ops.converge(client, render.with_defaults(services, params['defaults']), params['set_name'], params['namespace'],
                              params['secrets'], params['state'],
                              params['prune'], params['create_namespaces'], params['force_conflicts'], module.check_mode,
                              module._diff, params['wait'], params['wait_timeout'], params['field_manager'], params['workers'],
                              params['on_failure'], extra, params['registry_credentials'] or None)
    except ops.ConvergeError as exc:
        partial = exc.result
        _leave(module, True, msg=str(exc), changed=partial['changed'], objects=partial['objects'], rollouts=partial['rollouts'],
               rollbacks=partial['rollbacks'], jobs=partial['jobs'], **_outages(module, client))
    except k8s.K8sError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc(), **_outages(module, client))
    for kept in result.get('kept') or []:
        module.warn(kept)
    diff = result.pop('diff')
    if module._diff and diff:
        result['diff'] = diff
    if pinned:
        result['image_digests'] = pinned
    _leave(module, False, **dict(result, **_outages(module, client)))


def _image_of(container: dict, svc: dict) -> str:
    """The image a container of svc runs (the service's imageRegistry before an image that names no registry)."""
    return render.image_reference({'image': container['image'], 'imageRegistry': svc.get('imageRegistry')})


ETCD_LOST = ('the API server at %s reports etcd not ready (%s) after %ds: etcd has lost its quorum (more than half of its '
             'members, one per control plane, are down or cut off) or cannot be reached, so nothing can be read or applied. '
             'Nothing was applied. Start the control planes that are down (their etcd members rejoin by themselves); when '
             'they cannot come back, restore a backup (playbooks/restore.yml, docs/backup-restore.md). Then run this again.')


def _wait_ready(module: AnsibleModule, client: k8s.Client, seconds: int) -> None:
    """Wait up to seconds for the API server's /readyz; fail at once when etcd is still not ready then (a quorum lost makes
    every request hang for a minute), else go on with a warning (the requests say what does not work)."""
    deadline = time.monotonic() + seconds
    while True:
        failed = client.readiness()
        if not failed or time.monotonic() >= deadline:
            break
        time.sleep(1)
    if any(check.startswith('etcd') for check in failed):
        _leave(module, True, msg=ETCD_LOST % (client.host, ', '.join(failed), seconds), changed=False, objects=[])
    if failed:
        module.warn('the API server at %s is not ready (%s failed); applying anyway' % (client.host, ', '.join(failed)))


def _outages(module: AnsibleModule, client: k8s.Client | None) -> dict:
    """{api_outages: [...]} and a warning when the API server failed for a while and was waited out; {} otherwise."""
    if client is None or not client.outages:
        return {}
    outages = [{'seconds': seconds, 'reason': reason, 'requests_sent_again': again} for seconds, reason, again in client.outages]
    module.warn('the Kubernetes API at %s failed for a while and was waited out: %s'
                % (client.host, '; '.join('%.1fs (%s, %d request(s) sent again)' % (o['seconds'], o['reason'], o['requests_sent_again'])
                                          for o in outages)))
    return {'api_outages': outages}


if __name__ == '__main__':
    main()
