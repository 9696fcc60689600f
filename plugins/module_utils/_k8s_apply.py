# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a set of Kubernetes objects and delete the ones no longer wanted, through a _k8s_client.Client.

Generic: the caller decides which objects, which label selector finds its set, in which kind order to apply and
which live objects may go. This module server-side applies them (a server-side dry run in check mode) in a small
thread pool, says for each what happened by comparing the object the server returns with the live one listed
before (both without server-kept fields), builds the diffs (never with a Secret value), and deletes.

Every object carries the hash of what was applied (_k8s_objects.APPLIED_ANNOTATION). A listed object that records
the hash of the object to apply, and whose fields are all still owned by our field manager's apply, is unchanged
without a request: a no-op run sends one LIST per kind and no write. A field another manager changed is no longer
ours (the server moves its ownership), so that object is applied again and reported.

An object's key is (kind, namespace, name), namespace '' for a cluster-scoped one; a result entry is
{kind, namespace, name, action}.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_client import K8sError
from ansible_collections.kubeseed.cluster.plugins.module_utils._k8s_objects import (
    describe, diff_entry, normalize, object_key, still_applied, with_applied_hash)

CONFLICT_HINT = ' (another field manager owns these fields: change them back there, or set force_conflicts to take them over)'


def parallel(workers: int, func, items: list) -> list:
    """func(item) for every item, in a thread pool; results in item order (exceptions re-raised in order)."""
    if not items:
        return []
    if workers <= 1 or len(items) == 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(func, items))


def summary(key: tuple, action: str) -> dict:
    """The result entry of one object: {kind, namespace, name, action}."""
    kind, namespace, name = key
    return {'kind': kind, 'namespace': namespace, 'name': name, 'action': action}


def list_labelled(client, kinds: list, selector: str, workers: int = 8, namespaces: list | None = None) -> dict:
    """Every live object of these kinds that matches the label selector, by key.

    Lists across all namespaces (so objects moved out of a namespace are found too); with credentials that may
    only read some namespaces (403), lists in the given namespaces instead.
    """
    try:
        lists = parallel(workers, lambda kind: client.list(kind, label_selector=selector), list(kinds))
    except K8sError as exc:
        if exc.status != 403 or not namespaces:
            raise
        pairs = [(kind, ns) for kind in kinds for ns in namespaces]
        lists = parallel(workers, lambda pair: client.list(pair[0], pair[1], label_selector=selector), pairs)
    return {object_key(obj): obj for items in lists for obj in items}


def ensure_namespaces(client, namespaces: list, dry_run: bool, field_manager: str) -> tuple:
    """Create missing namespaces (never touch existing ones). (result entries, names that are missing in a dry run)."""
    results, missing = [], set()
    for obj in namespaces:
        name = obj['metadata']['name']
        if client.get('Namespace', None, name) is not None:
            continue
        if dry_run:
            missing.add(name)
        else:
            client.apply(obj, field_manager)
        results.append(summary(('Namespace', '', name), 'created'))
    return results, missing


def apply_object(client, obj: dict, live: dict, field_manager: str = 'kubeseed', force: bool = False, dry_run: bool = False,
                 want_diff: bool = False, missing_namespaces: set | frozenset = frozenset()) -> dict:
    """Server-side apply of one object (a server-side dry run with dry_run), compared with live (the listed objects, by key).

    The object is sent with its applied hash; when the listed object is still what that hash says (still_applied),
    nothing is sent and it is unchanged.
    Returns {key, action: created/configured/unchanged, after: the object as the server has (or would have) it,
    diff: when want_diff and it changed}, or {key, error} when the server refused it.
    """
    obj = with_applied_hash(obj)
    key = object_key(obj)
    before = live.get(key)
    if still_applied(obj, before, field_manager):
        return {'key': key, 'action': 'unchanged', 'after': before}
    if before is None and want_diff:
        # Not labelled as ours (yet): it may still exist, created by someone else; show what it was.
        before = client.get(key[0], key[1], key[2])
    if dry_run and key[1] in missing_namespaces:
        # Its namespace does not exist yet, so the server cannot dry-run it: it would be created.
        after, status = obj, 201
    else:
        try:
            status, after = client.apply(obj, field_manager, force, dry_run=dry_run)
        except K8sError as exc:
            hint = CONFLICT_HINT if exc.status == 409 else ''
            return {'key': key, 'error': '%s: %s%s' % (describe(key), exc, hint)}
    changed = status == 201 or key not in live or normalize(before) != normalize(after)
    action = 'created' if status == 201 else ('configured' if changed else 'unchanged')
    entry = {'key': key, 'action': action, 'after': after}
    if want_diff and changed:
        entry['diff'] = diff_entry(key, before, after)
    return entry


def apply_objects(client, objects: list, live: dict, kind_order: tuple | list = (), field_manager: str = 'kubeseed', force: bool = False,
                  dry_run: bool = False, want_diff: bool = False, workers: int = 8, missing_namespaces: set | frozenset = frozenset()) -> tuple:
    """apply_object for every object, one kind after the other (kind_order first, then the other kinds as they come),
    the objects of a kind in parallel. (entries of the applied objects, error messages), both in that order."""
    kinds = list(kind_order) + [kind for kind in dict.fromkeys(o['kind'] for o in objects) if kind not in kind_order]
    applied, errors = [], []
    for kind in kinds:
        # what is still applied needs no request: decided here, so that only the others go through the thread pool
        batch = [with_applied_hash(o) for o in objects if o['kind'] == kind]
        quick = {index: {'key': object_key(obj), 'action': 'unchanged', 'after': live[object_key(obj)]} for index, obj in enumerate(batch)
                 if still_applied(obj, live.get(object_key(obj)), field_manager)}
        sent = parallel(workers, lambda obj: apply_object(client, obj, live, field_manager, force, dry_run, want_diff, missing_namespaces),
                        [obj for index, obj in enumerate(batch) if index not in quick])
        sent.reverse()
        for entry in [quick[index] if index in quick else sent.pop() for index in range(len(batch))]:
            if 'error' in entry:
                errors.append(entry['error'])
            else:
                applied.append(entry)
    return applied, errors


def delete_objects(client, objects: list, action: str = 'deleted', dry_run: bool = False, want_diff: bool = False,
                   workers: int = 8) -> tuple:
    """Delete the (live) objects in parallel (a server-side dry run with dry_run).

    (entries {key, action, diff: when want_diff} of the objects that were there, error messages), both in the order given.
    """
    def delete_one(obj: dict) -> dict:
        key = object_key(obj)
        try:
            gone = client.delete(key[0], key[1], key[2], dry_run=dry_run)
        except K8sError as exc:
            return {'key': key, 'error': '%s: %s' % (describe(key), exc)}
        return {'key': key, 'gone': gone, 'before': obj}

    deleted, errors = [], []
    for result in parallel(workers, delete_one, objects):
        if 'error' in result:
            errors.append(result['error'])
        elif result['gone']:
            entry = {'key': result['key'], 'action': action}
            if want_diff:
                entry['diff'] = diff_entry(result['key'], result['before'], None)
            deleted.append(entry)
    return deleted, errors
