# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeseed_microservices_extra_objects: manifests of any kind applied, pruned and diffed with the services of a set.

The kinds are not known in advance, so: each kind is looked up in the API server's discovery (a kind the cluster does
not serve is refused before anything is applied), every object that would be sent is first applied as a server-side
dry run with strict field validation (a misspelt field is refused before anything is applied), and the set records the
kinds of its extra objects in a ConfigMap (RECORD_NAME), so that an object whose kind was removed from the list
altogether is still found and pruned by the next run.
"""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_apply as apply
from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_render as render
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_objects import still_applied, with_applied_hash

RECORD_PREFIX = 'kubeseed-set-'
RECORD_SUFFIX = '-extra-kinds'


def record_name(set_name: str) -> str:
    """The name of the ConfigMap that records the kinds of a set's extra objects."""
    return RECORD_PREFIX + set_name + RECORD_SUFFIX


def place(client, extras: list, namespace: str, service_keys: set) -> list:
    """Look up each extra object's kind (discovery), give a namespaced one the default namespace, refuse a namespace on a
    cluster-scoped one and an object that is also one of a service. Returns the problems (each with its path)."""
    problems, seen = [], {}
    for index, obj in enumerate(extras):
        where = '%s[%d]' % (render.EXTRA_ROOT, index)
        meta = obj['metadata']
        try:
            namespaced = client.discover(obj['apiVersion'], obj['kind'])
        except K8sError as exc:
            if exc.status in (0, 401, 403) or exc.status >= 500:
                raise
            problems.append('%s: %s' % (where, exc))
            continue
        if namespaced and not meta.get('namespace'):
            meta['namespace'] = namespace
        elif not namespaced and meta.get('namespace'):
            problems.append('%s.metadata.namespace: %s is cluster-scoped: remove the namespace' % (where, obj['kind']))
            continue
        key = render.object_key(obj)
        if key in service_keys:
            problems.append('%s: %s is also an object of a service of kubeseed_microservices; give it another name'
                            % (where, render.describe(key)))
        elif key in seen:
            problems.append('%s: %s is already %s[%d]' % (where, render.describe(key), render.EXTRA_ROOT, seen[key]))
        seen.setdefault(key, index)
    return problems


def is_record(obj: dict, set_name: str) -> bool:
    """Whether a (live) object is the set's record of its extra kinds."""
    return obj.get('kind') == 'ConfigMap' and (obj.get('metadata') or {}).get('name') == record_name(set_name)


def recorded(live: dict, set_name: str) -> set:
    """(apiVersion, kind) pairs the set's record ConfigMaps name."""
    kinds = set()
    for obj in live.values():
        if is_record(obj, set_name):
            for line in ((obj.get('data') or {}).get('kinds') or '').splitlines():
                parts = line.split()
                if len(parts) == 2:
                    kinds.add((parts[0], parts[1]))
    return kinds


def kinds_to_list(client, extras: list, live: dict, set_name: str) -> list:
    """The (apiVersion, kind) pairs to list beyond the kinds every set has: those of the extra objects and those the record
    names (a recorded kind the cluster no longer serves has nothing left to prune, and is left out)."""
    wanted = set((o['apiVersion'], o['kind']) for o in extras) | recorded(live, set_name)
    served = []
    for api_version, kind in sorted(wanted):
        if kind in render.PRUNABLE_KINDS or kind == 'Namespace':
            continue
        try:
            client.discover(api_version, kind)
        except K8sError as exc:
            if exc.status in (0, 401, 403) or exc.status >= 500:
                raise
            continue
        served.append((api_version, kind))
    return served


def record(kinds: set, set_name: str, namespace: str) -> dict:
    """The record ConfigMap naming these (apiVersion, kind) pairs."""
    return {'apiVersion': 'v1', 'kind': 'ConfigMap',
            'metadata': {'name': record_name(set_name), 'namespace': namespace,
                         'labels': {render.MANAGED_BY: render.MANAGER_VALUE, render.SET_LABEL: set_name}},
            'data': {'kinds': ''.join('%s %s\n' % pair for pair in sorted(kinds))}}


def dry_run(client, extras: list, live: dict, field_manager: str, force: bool, workers: int) -> list:
    """A server-side dry run (strict field validation) of every extra object that would be sent and whose namespace exists:
    the API server's messages of those it refuses."""
    exists = {}

    def check(obj: dict) -> str | None:
        sent = with_applied_hash(obj)
        if still_applied(sent, live.get(render.object_key(obj)), field_manager):
            return None
        try:
            client.apply(sent, field_manager, force, dry_run=True)
        except K8sError as exc:
            if exc.status == 404 and not exists.get(obj['metadata'].get('namespace'), True):
                return None  # its namespace is created by this run: the apply itself checks it
            return '%s: %s%s' % (render.describe(render.object_key(obj)), exc, apply.CONFLICT_HINT if exc.status == 409 else '')
        return None

    for ns in set(o['metadata'].get('namespace') for o in extras if o['metadata'].get('namespace')):
        exists[ns] = client.get('Namespace', None, ns) is not None
    return [p for p in apply.parallel(workers, check, extras) if p]


def summary_row(extras: list, doomed: list, actions: list, extra_kinds: list) -> dict | None:
    """The release summary's row for the extra objects: how many there are, and what changed."""
    keys = set(render.object_key(o) for o in extras)
    gone = set(render.object_key(o) for o in doomed if o.get('kind') in extra_kinds)
    if not keys and not gone:
        return None
    changes = sorted('%s %s %s' % (a['kind'], a['name'], a['action']) for a in actions
                     if (a['kind'], a['namespace'], a['name']) in keys | gone and a['action'] != 'unchanged')
    return {'service': 'extra objects', 'namespace': '-', 'kind': 'extra', 'image': '-', 'ready': None,
            'endpoints': ['%d object(s)' % len(keys)], 'changes': changes}
