# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release summary of one converge of a set: a row per service (image, pods available of desired, where it
answers, what changed), as data and as a text table. Pure: the converge gives it the objects and a node address.
"""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_wait import job_state
from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_render import NAME_LABEL

NODE_PLACEHOLDER = '<node>'


def node_address(nodes: list) -> str:
    """The InternalIP (else any address) of the first Ready node (else of the first node); NODE_PLACEHOLDER without nodes."""
    def ready(node: dict) -> bool:
        return any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in (node.get('status') or {}).get('conditions') or [])

    for node in sorted(nodes, key=lambda n: (not ready(n), (n.get('metadata') or {}).get('name') or '')):
        addresses = (node.get('status') or {}).get('addresses') or []
        for wanted in ('InternalIP', 'ExternalIP', None):
            for address in addresses:
                if (wanted is None or address.get('type') == wanted) and address.get('address'):
                    return address['address']
    return NODE_PLACEHOLDER


def endpoints(service: dict | None, ingress: dict | None, node: str = NODE_PLACEHOLDER) -> list:
    """Where a service answers: its DNS name and ports in the cluster, node ports, load balancer and Ingress URLs."""
    out = []
    if service:
        meta, spec = service.get('metadata') or {}, service.get('spec') or {}
        dns = '%s.%s.svc' % (meta.get('name'), meta.get('namespace'))
        balancers = [i.get('ip') or i.get('hostname') for i in ((service.get('status') or {}).get('loadBalancer') or {}).get('ingress') or []]
        for port in spec.get('ports') or []:
            out.append('%s:%s' % (dns, port.get('port')))
            if port.get('nodePort'):
                out.append('http://%s:%s' % (node, port['nodePort']))
            out.extend('http://%s:%s' % (address, port.get('port')) for address in balancers if address)
    if ingress:
        spec = ingress.get('spec') or {}
        scheme = 'https' if spec.get('tls') else 'http'
        for rule in spec.get('rules') or []:
            for path in ((rule.get('http') or {}).get('paths') or []):
                out.append('%s://%s%s' % (scheme, rule.get('host'), path.get('path') or '/'))
    return out


def _service_of(obj: dict) -> str | None:
    return ((obj.get('metadata') or {}).get('labels') or {}).get(NAME_LABEL)


def _first_image(template: dict) -> str:
    containers = ((template or {}).get('spec') or {}).get('containers') or [{}]
    return containers[0].get('image', '-')


def rows(objects: dict, actions: list, rollouts: list, node: str = NODE_PLACEHOLDER, gone: dict | None = None,
         jobs: list | None = None) -> list:
    """One row per service: {service, namespace, kind, image, ready (available/desired, or None when unknown), endpoints, changes}.

    kind is Deployment, Job or CronJob (the entries with job or cronJob); a Job's ready is its state (complete, failed,
    running: as waited for in jobs, else from its status), a CronJob's endpoints are its schedule.

    objects: the set's objects as they are (or would be) after the run, by (kind, namespace, name); actions: the
    converge's result entries (kind, namespace, name, action); gone: the objects it pruned or deleted, as they were;
    rollouts: the rollout summaries when the run waited. A service whose objects are all gone has a row with its changes.
    """
    gone = gone or {}
    waited = {(r['namespace'], r['name']): r for r in rollouts}
    job_states = {(j['namespace'], j['name']): j['state'] for j in jobs or []}
    by_service = {}
    for key, obj in objects.items():
        name = _service_of(obj)
        if name:
            by_service.setdefault((key[1], name), {})[key[0]] = obj
    changes = {}
    for entry in actions:
        key = (entry['kind'], entry['namespace'], entry['name'])
        obj = objects.get(key) or gone.get(key)
        name = _service_of(obj) if obj else None
        if entry['action'] != 'unchanged' and name:
            changes.setdefault((entry['namespace'], name), []).append('%s %s' % (entry['kind'], entry['action']))
    out = []
    for namespace, name in sorted(set(by_service) | set(changes)):
        kinds = by_service.get((namespace, name), {})
        deployment = kinds.get('Deployment')
        image, ready, kind, where = '-', None, 'Deployment', endpoints(kinds.get('Service'), kinds.get('Ingress'), node)
        if 'Job' in kinds:
            job = kinds['Job']
            kind, image = 'Job', _first_image((job.get('spec') or {}).get('template'))
            ready = job_states.get((namespace, job['metadata']['name']))
            if ready is None and 'status' in job:
                ready = job_state(job)
            where = ['job ' + job['metadata']['name']]
        elif 'CronJob' in kinds:
            spec = kinds['CronJob'].get('spec') or {}
            kind, image = 'CronJob', _first_image(((spec.get('jobTemplate') or {}).get('spec') or {}).get('template'))
            where = ['schedule %s%s' % (spec.get('schedule'), ' (suspended)' if spec.get('suspend') else '')]
        elif deployment:
            containers = (((deployment.get('spec') or {}).get('template') or {}).get('spec') or {}).get('containers') or [{}]
            image = containers[0].get('image', '-')
            rollout = waited.get((namespace, name))
            if rollout:
                ready = '%d/%d' % (rollout['available'], rollout['replicas'])
            elif 'status' in deployment:
                ready = '%d/%d' % ((deployment['status'] or {}).get('availableReplicas', 0), (deployment.get('spec') or {}).get('replicas', 1))
        out.append({'service': name, 'namespace': namespace, 'kind': kind, 'image': image, 'ready': ready, 'endpoints': where,
                    'changes': sorted(changes.get((namespace, name), []))})
    return out


def table(set_name: str, summary: list, check_mode: bool = False) -> list:
    """The summary as text lines: a title, then aligned columns SERVICE, IMAGE, READY, ENDPOINTS, CHANGES."""
    changed = sum(1 for row in summary if row['changes'])
    runs = sum(1 for row in summary if row.get('kind') in ('Job', 'CronJob'))
    services = sum(1 for row in summary if row.get('kind', 'Deployment') == 'Deployment')
    counted = '%d service(s)' % services + (', %d job(s)' % runs if runs else '')
    title = 'set %s: %s, %d %s' % (set_name, counted, changed, 'would change (check mode)' if check_mode else 'changed')
    header = ('SERVICE', 'IMAGE', 'READY', 'ENDPOINTS', 'CHANGES')
    lines = [(('%s/%s' % (row['namespace'], row['service'])) if row.get('kind') != 'extra' else row['service'], row['image'], row['ready'] or '-',
              ', '.join(row['endpoints']) or '-', ', '.join(row['changes']) or 'unchanged') for row in summary]
    widths = [max(len(str(line[i])) for line in [header] + lines) for i in range(len(header) - 1)]
    text = [title]
    for line in [header] + lines:
        text.append('  '.join(str(cell).ljust(widths[i]) for i, cell in enumerate(line[:-1])) + '  ' + str(line[-1]))
    return text
