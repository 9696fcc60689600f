# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The page an operator reads first (module cluster_status, playbooks/status.yml): nodes and their conditions, pods that
are not Ready with their reasons, latest events and last log lines, pods that restarted, each microservices set's
Deployments, and resource use when the metrics API (metrics-server) answers. Read-only: a few list requests, then the
events and logs of the pods that are not Ready (at most MAX_EXPLAINED of them)."""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_wait import _events, _pod_reasons
from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_render import parse_quantity

SET_LABEL = 'kubeseed.io/set'
MAX_EXPLAINED = 10  # pods that are not Ready whose events and logs are read
MAX_LISTED = 30  # pods that restarted, listed
NODE_PROBLEMS = ('MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable')


def _condition(obj: dict, kind: str) -> dict:
    return next((c for c in (obj.get('status') or {}).get('conditions') or [] if c.get('type') == kind), {})


def _cpu(value) -> str:
    amount = parse_quantity(value)
    return '%dm' % round(amount[0] * 1000) if amount else '?'


def _memory(value) -> str:
    amount = parse_quantity(value)
    return '%dMi' % round(amount[0] / 2 ** 20) if amount else '?'


def _percent(used, allocatable) -> int | None:
    used, total = parse_quantity(used), parse_quantity(allocatable)
    if not used or not total or not total[0]:
        return None
    return int(round(used[0] * 100 / total[0]))


def _metrics(client, resource: str) -> dict | None:
    """{(namespace, name): usage} from metrics.k8s.io, or None when the metrics API does not answer."""
    try:
        payload = client.request('GET', '/apis/metrics.k8s.io/v1beta1/%s' % resource)[1]
    except K8sError:
        return None
    found = {}
    for item in payload.get('items') or []:
        meta = item.get('metadata') or {}
        if resource == 'nodes':
            found[('', meta.get('name'))] = item.get('usage') or {}
        else:
            usage: dict = {}
            for container in item.get('containers') or []:
                for key, value in (container.get('usage') or {}).items():
                    amount = parse_quantity(value)
                    if amount:
                        usage[key] = usage.get(key, 0) + amount[0]
            found[(meta.get('namespace'), meta.get('name'))] = usage
    return found


def _node(node: dict, usage: dict | None) -> dict:
    meta, status = node.get('metadata') or {}, node.get('status') or {}
    ready = _condition(node, 'Ready')
    problems = []
    if ready.get('status') != 'True':
        problems.append('Ready=%s %s: %s' % (ready.get('status', 'Unknown'), ready.get('reason', ''), ready.get('message', '')))
    for kind in NODE_PROBLEMS:
        cond = _condition(node, kind)
        if cond.get('status') == 'True':
            problems.append('%s %s: %s' % (kind, cond.get('reason', ''), cond.get('message', '')))
    if (node.get('spec') or {}).get('unschedulable'):
        problems.append('cordoned (unschedulable)')
    roles = sorted(k.split('/', 1)[1] for k in meta.get('labels') or {} if k.startswith('node-role.kubernetes.io/'))
    entry = {'name': meta.get('name'), 'ready': ready.get('status', 'Unknown'), 'roles': roles,
             'version': (status.get('nodeInfo') or {}).get('kubeletVersion', ''), 'problems': [p.strip() for p in problems]}
    if usage is not None:
        allocatable = status.get('allocatable') or {}
        entry.update(cpu=_cpu(usage.get('cpu')), cpu_percent=_percent(usage.get('cpu'), allocatable.get('cpu')),
                     memory=_memory(usage.get('memory')), memory_percent=_percent(usage.get('memory'), allocatable.get('memory')))
    return entry


def _restarts(pod: dict) -> int:
    statuses = (pod.get('status') or {}).get('containerStatuses') or []
    return sum(int(s.get('restartCount') or 0) for s in statuses)


def _last_exit(pod: dict) -> str:
    for cstat in (pod.get('status') or {}).get('containerStatuses') or []:
        last = (cstat.get('lastState') or {}).get('terminated')
        if last:
            return '%s %s (exit code %s) at %s' % (cstat.get('name'), last.get('reason', ''), last.get('exitCode'), last.get('finishedAt', '?'))
    return ''


def _pod_ready(pod: dict) -> bool:
    return _condition(pod, 'Ready').get('status') == 'True'


def _log(client, pod: dict, lines: int) -> tuple:
    """(which log, its last lines) of the pod's first container that is not ready: the previous one when it restarted."""
    meta = pod.get('metadata') or {}
    statuses = (pod.get('status') or {}).get('containerStatuses') or []
    failing = next((s for s in statuses if not s.get('ready')), None)
    if failing is None:
        return '', []
    name = failing.get('name')
    previous = bool((failing.get('lastState') or {}).get('terminated')) and 'running' not in (failing.get('state') or {})
    which = 'container %s%s' % (name, ' (previous run)' if previous else '')
    try:
        text = client.log(meta.get('namespace'), meta.get('name'), name, lines, previous=previous)
    except K8sError as exc:
        return which, ['its log could not be read: %s' % exc]
    return which, text.rstrip('\n').split('\n') if text.strip() else []


def gather(client, namespaces: list, log_lines: int = 20) -> dict:
    """The cluster's state as a plain dict (the module's RV(status))."""
    node_usage = _metrics(client, 'nodes')
    pod_usage = _metrics(client, 'pods') if node_usage is not None else None
    nodes = [_node(n, None if node_usage is None else node_usage.get(('', (n.get('metadata') or {}).get('name')), {}))
             for n in sorted(client.list('Node'), key=lambda n: (n.get('metadata') or {}).get('name', ''))]
    pods = [p for p in client.list('Pod') if not namespaces or (p.get('metadata') or {}).get('namespace') in namespaces]
    pods.sort(key=lambda p: ((p.get('metadata') or {}).get('namespace', ''), (p.get('metadata') or {}).get('name', '')))
    not_ready, restarted = [], []
    for pod in pods:
        meta, status = pod.get('metadata') or {}, pod.get('status') or {}
        if status.get('phase') == 'Succeeded' or meta.get('deletionTimestamp'):
            continue
        entry = {'namespace': meta.get('namespace'), 'name': meta.get('name'), 'node': (pod.get('spec') or {}).get('nodeName') or '',
                 'restarts': _restarts(pod)}
        if not _pod_ready(pod):
            entry['reasons'] = _pod_reasons(pod)
            not_ready.append((entry, pod))
        elif entry['restarts']:
            entry['last_exit'] = _last_exit(pod)
            restarted.append(entry)
        usage = (pod_usage or {}).get((meta.get('namespace'), meta.get('name')))
        if usage:
            entry['cpu'] = '%dm' % round(usage.get('cpu', 0) * 1000)
            entry['memory'] = '%dMi' % round(usage.get('memory', 0) / 2 ** 20)
    for entry, pod in not_ready[:MAX_EXPLAINED]:
        try:
            entry['events'] = [e.strip() for e in _events(client, entry['namespace'], {entry['name']})]
        except K8sError as exc:
            entry['events'] = ['events could not be read: %s' % exc]
        entry['log_of'], entry['log'] = _log(client, pod, log_lines)
    sets: dict = {}
    for deploy in client.list('Deployment'):
        meta, spec, status = deploy.get('metadata') or {}, deploy.get('spec') or {}, deploy.get('status') or {}
        if SET_LABEL not in (meta.get('labels') or {}) or (namespaces and meta.get('namespace') not in namespaces):
            continue
        sets.setdefault((meta.get('labels') or {}).get(SET_LABEL), []).append({
            'namespace': meta.get('namespace'), 'name': meta.get('name'), 'replicas': spec.get('replicas', 1),
            'available': status.get('availableReplicas', 0), 'updated': status.get('updatedReplicas', 0)})
    bad_nodes = [n for n in nodes if n['ready'] != 'True']
    return {
        'healthy': not bad_nodes and not not_ready,
        'metrics': node_usage is not None,
        'nodes': nodes,
        'pods': {'total': len(pods), 'not_ready': [e for e, _pod in not_ready], 'restarted': restarted[:MAX_LISTED]},
        'sets': [{'set': name, 'deployments': sorted(items, key=lambda d: (d['namespace'], d['name']))} for name, items in sorted(sets.items())],
    }


def _usage(amount, percent) -> str:
    if not amount:
        return '-'
    return amount if percent is None else '%s (%d%%)' % (amount, percent)


def _pod_usage(pod: dict) -> str:
    return '; using %s CPU, %s memory' % (pod['cpu'], pod['memory']) if 'cpu' in pod else ''


def _table(rows: list) -> list:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return ['  ' + '  '.join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def report(status: dict) -> list:
    """The status as lines of text for a terminal or an AWX job output."""
    nodes = status['nodes']
    ready = sum(1 for n in nodes if n['ready'] == 'True')
    lines = ['cluster: %s; %d of %d node(s) Ready, %d of %d pod(s) not Ready%s' % (
        'healthy' if status['healthy'] else 'NOT HEALTHY', ready, len(nodes), len(status['pods']['not_ready']), status['pods']['total'],
        '' if status['metrics'] else '; no metrics API (resource use needs the metrics_server add-on)')]
    header = ['NODE', 'READY', 'ROLES', 'VERSION'] + (['CPU', 'MEMORY'] if status['metrics'] else []) + ['PROBLEMS']
    rows = [header]
    for node in nodes:
        row = [node['name'], node['ready'], ','.join(node['roles']) or '-', node['version']]
        if status['metrics']:
            row += [_usage(node.get('cpu'), node.get('cpu_percent')), _usage(node.get('memory'), node.get('memory_percent'))]
        rows.append(row + ['; '.join(node['problems']) or '-'])
    lines += _table(rows) if nodes else ['  (no nodes)']
    for pod in status['pods']['not_ready']:
        where = ' on %s' % pod['node'] if pod['node'] else ''
        lines.append('pod %s/%s not Ready%s, %d restart(s)%s:' % (pod['namespace'], pod['name'], where, pod['restarts'], _pod_usage(pod)))
        lines += ['    %s' % reason for reason in pod['reasons']]
        lines += ['    %s' % event for event in pod.get('events') or []]
        if pod.get('log_of'):
            lines.append('    last %d log line(s) of %s%s' % (len(pod['log']), pod['log_of'], ':' if pod['log'] else ''))
            # no trailing blanks: a line that ends in one makes the job output show the whole report as one quoted string
            lines += [('      | %s' % line).rstrip() for line in pod['log']]
    if status['pods']['restarted']:
        lines.append('pods Ready that restarted:')
        lines += ['  %s/%s: %d restart(s), last %s%s' % (p['namespace'], p['name'], p['restarts'], p['last_exit'] or '?', _pod_usage(p))
                  for p in status['pods']['restarted']]
    for kset in status['sets']:
        deploys = kset['deployments']
        done = sum(1 for d in deploys if d['available'] >= d['replicas'])
        lines.append('set %s: %d of %d Deployment(s) available: %s' % (
            kset['set'], done, len(deploys), ', '.join('%s/%s %d/%d' % (d['namespace'], d['name'], d['available'], d['replicas'])
                                                       for d in deploys)))
    return [line.rstrip() for line in lines]
