"""Benchmark: N microservices (4 objects each) applied by kubeseed.cluster.microservices, by `kubectl apply --server-side`
and by a kubernetes.core.k8s loop.

All run against the same local control plane (tools/localcp, from the offline bundle), each size and tool in its own
namespace: a cold apply, then (once the controllers have made the cold apply's pods, work that would otherwise share the
cores with the timed run) the median of three no-op re-applies, one for the kubernetes.core loop. kubeseed.cluster.microservices and kubernetes.core run through
ansible-playbook (its start included); kubectl is the bundle's, given the very objects our module renders. kubernetes.core
comes from the pinned PyPI ``ansible`` package, installed (without dependencies) into $KUBESEED_CACHE/bench/ansible-<version>;
never Galaxy. A loop of one task per object is slow: it runs only for sizes up to --k8s-core-max.
Prints the wall-clock times, the ratios and how the time grows with the number of services. No assertions: figures only.

With --role the same services also go through the role kubeseed.cluster.microservices (what playbooks/apps.yml runs: its
argument check, the apply task, which validates first, and the release summary), as a separate line.

Usage: .venv/bin/python benchmarks/apps_apply.py [--sizes 100,1000] [--k8s-core-max 100] [--skip-k8s-core] [--skip-kubectl] [--plain] [--role]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANSIBLE_PACKAGE = '12.3.0'  # the `ansible` package that pairs with ansible-core 2.19 (kubernetes.core 6.2.0)
sys.path.insert(0, str(ROOT / 'tools' / 'localcp'))

from localcp import LocalControlPlane, find_bundle  # noqa: E402  pylint: disable=wrong-import-position


def services(count: int, plain: bool = False) -> list:
    """count services of 4 objects each: Deployment, Service, ConfigMap, Secret. Unless plain, each also uses the fields of
    the second round (a startup probe, a native sidecar sharing a scratch volume, minReadySeconds): the same 4 objects, with
    larger pod templates."""
    out = [{'name': 'svc-%03d' % i, 'image': 'example.com/svc:%d' % i, 'replicas': 1,
            'ports': [{'port': 80, 'targetPort': 8080}], 'env': {'INDEX': str(i)},
            'config': {'LOG_LEVEL': 'info', 'INDEX': str(i)}, 'secrets': {'TOKEN': 'token-%03d' % i}} for i in range(count)]
    if not plain:
        for svc in out:
            svc.update(startup={'tcpSocket': {'port': 8080}, 'failureThreshold': 30}, volumes={'cache': {'mountPath': '/cache'}},
                       sidecars=[{'name': 'proxy', 'image': 'example.com/proxy:1', 'mounts': {'cache': '/cache'}}],
                       strategy={'minReadySeconds': 5})
    return out


def kubernetes_core(cache: pathlib.Path) -> pathlib.Path:
    """The directory holding ansible_collections/ of the pinned ansible package (installed once)."""
    target = cache / ('ansible-' + ANSIBLE_PACKAGE)
    if not (target / 'ansible_collections' / 'kubernetes' / 'core').is_dir():
        subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--target', str(target), 'ansible==' + ANSIBLE_PACKAGE],
                       check=True)
    return target


def play(path: pathlib.Path, tasks: list) -> pathlib.Path:
    path.write_text(json.dumps([{'name': 'bench', 'hosts': 'localhost', 'connection': 'local', 'gather_facts': False, 'tasks': tasks}]),
                    encoding='utf-8')
    return path


def timed(playbook: pathlib.Path, env: dict) -> tuple:
    """(seconds, changed tasks in the recap) of one ansible-playbook run; exits on failure."""
    start = time.monotonic()
    proc = subprocess.run([str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), str(playbook)], env=env, cwd=playbook.parent,
                          capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit('%s failed:\n%s\n%s' % (playbook.name, proc.stdout[-3000:], proc.stderr[-3000:]))
    changed = int(re.search(r'changed=(\d+)', proc.stdout).group(1))
    return seconds, changed


def settled(kubectl: pathlib.Path, kubeconfig: str, namespace: str, pods: int, limit: float = 180.0) -> None:
    """Wait until the controllers have made the pods of a cold apply (its Deployments' ReplicaSets and pods, pending: the
    local control plane has no node), so that a no-op run is not timed against that work on the same cores."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        proc = subprocess.run([str(kubectl), '--kubeconfig', kubeconfig, '-n', namespace, 'get', 'pods', '-o', 'name'],
                              capture_output=True, text=True, check=False)
        if proc.returncode == 0 and len(proc.stdout.split()) >= pods:
            return
        time.sleep(2)
    print('(the pods of %s were still being made after %.0f s)' % (namespace, limit), flush=True)


def twice(run, settle, noops: int = 3) -> tuple:
    """(cold, no-op) of run: the cold one, then the median of noops no-op runs once the control plane has settled."""
    cold = run()
    settle()
    again = sorted((run() for unused in range(noops)), key=lambda result: result[0])
    return cold, again[len(again) // 2]


def kubectl_timed(kubectl: pathlib.Path, kubeconfig: str, manifest: pathlib.Path) -> tuple:
    """(seconds, -1) of one `kubectl apply --server-side` of a manifest (kubectl says serverside-applied for every object,
    changed or not: no changed count); exits on failure."""
    start = time.monotonic()
    proc = subprocess.run([str(kubectl), '--kubeconfig', kubeconfig, 'apply', '--server-side', '--field-manager', 'bench-kubectl',
                           '-f', str(manifest)], capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit('kubectl apply failed:\n%s\n%s' % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return seconds, -1


def main() -> int:  # pylint: disable=too-many-locals
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--sizes', default='100', help='comma-separated numbers of services (default 100)')
    parser.add_argument('--services', type=int, help='one size (the same as --sizes N)')
    parser.add_argument('--k8s-core-max', type=int, default=100, help='the largest size the kubernetes.core loop runs for')
    parser.add_argument('--skip-k8s-core', action='store_true', help='no kubernetes.core loop')
    parser.add_argument('--skip-kubectl', action='store_true', help='no kubectl apply --server-side')
    parser.add_argument('--plain', action='store_true', help='services without the second-round fields (as the figures before 2026-12-03)')
    parser.add_argument('--role', action='store_true', help='also apply each size through the role (apps.yml), in a namespace of its own')
    args = parser.parse_args()
    sizes = [args.services] if args.services else [int(x) for x in args.sizes.split(',') if x.strip()]
    cache = pathlib.Path(os.environ.get('KUBESEED_CACHE', os.path.expanduser('~/.cache/kubeseed'))) / 'bench'
    cache.mkdir(parents=True, exist_ok=True)
    with_core = not args.skip_k8s_core and any(size <= args.k8s_core_max for size in sizes)
    core_path = kubernetes_core(cache) if with_core else None

    work = pathlib.Path(tempfile.mkdtemp(prefix='kubeseed-bench-'))
    links = work / 'collections' / 'ansible_collections' / 'kubeseed'
    links.mkdir(parents=True)
    (links / 'cluster').symlink_to(ROOT)
    inventory = work / 'inventory.ini'
    inventory.write_text('localhost ansible_connection=local\n', encoding='utf-8')
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_INVENTORY=str(inventory), ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'),
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([str(work / 'collections')] + ([str(core_path)] if core_path else [])))

    # The objects kubectl and kubernetes.core apply are exactly the ones our module renders.
    sys.path.insert(0, str(work / 'collections'))
    from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_render import render_all  # pylint: disable=import-outside-toplevel

    core_name = None
    if core_path:
        manifest = json.loads((core_path / 'ansible_collections' / 'kubernetes' / 'core' / 'MANIFEST.json').read_text(encoding='utf-8'))
        core_name = 'kubernetes.core.k8s %s loop' % manifest['collection_info']['version']
    results = {}  # (tool, size) -> ((cold s, changed), (no-op s, changed))
    plane = LocalControlPlane(work / 'localcp', tie_to_parent=True)
    plane.up()
    try:
        kubeconfig = str(plane.kubeconfig)
        kubectl = (plane.bundle or find_bundle()) / 'bin' / 'kubectl'
        for size in sizes:
            svcs = services(size, args.plain)
            count = len([o for o in render_all(svcs, 'bench', 'x') if o['kind'] != 'Namespace'])
            print('%d services -> %d objects (plus the namespace) per tool' % (size, count), flush=True)
            ours = play(work / ('ours-%d.yml' % size), [{'name': 'microservices', 'kubeseed.cluster.microservices': {
                'kubeconfig': kubeconfig, 'namespace': 'bench-kubeseed-%d' % size, 'set_name': 'bench', 'services': svcs, 'wait': False}}])
            namespace = 'bench-kubeseed-%d' % size
            results[('kubeseed.cluster.microservices', size)] = twice(lambda: timed(ours, env), lambda: settled(kubectl, kubeconfig, namespace, size))
            if args.role:
                role = work / ('role-%d.yml' % size)
                role.write_text(json.dumps([{'name': 'bench', 'hosts': 'localhost', 'connection': 'local', 'gather_facts': False, 'vars': {
                    'kubeseed_microservices': svcs, 'kubeseed_microservices_namespace': 'bench-role-%d' % size,
                    'kubeseed_microservices_set': 'bench-role', 'kubeseed_microservices_kubeconfig': kubeconfig,
                    'kubeseed_microservices_wait': False}, 'roles': ['kubeseed.cluster.microservices']}]), encoding='utf-8')
                namespace = 'bench-role-%d' % size
                results[('kubeseed.cluster.microservices role', size)] = twice(lambda: timed(role, env), lambda: settled(kubectl, kubeconfig, namespace, size))
            if not args.skip_kubectl:
                path = work / ('kubectl-%d.json' % size)
                path.write_text(json.dumps({'apiVersion': 'v1', 'kind': 'List',
                                            'items': render_all(svcs, 'bench', 'bench-kubectl-%d' % size)}), encoding='utf-8')
                results[('kubectl apply --server-side', size)] = twice(lambda: kubectl_timed(kubectl, kubeconfig, path),
                                                                       lambda: settled(kubectl, kubeconfig, 'bench-kubectl-%d' % size, size))
            if core_name and size <= args.k8s_core_max:
                (work / 'objects.json').write_text(json.dumps({'objects': render_all(svcs, 'bench', 'bench-k8s-core-%d' % size)}), encoding='utf-8')
                theirs = play(work / ('k8s-%d.yml' % size), [{'name': 'kubernetes.core.k8s', 'kubernetes.core.k8s': {
                    'kubeconfig': kubeconfig, 'state': 'present', 'definition': '{{ item }}'},
                    'loop': "{{ (lookup('ansible.builtin.file', '%s') | from_json).objects }}" % (work / 'objects.json'),
                    'loop_control': {'label': '{{ item.kind }}/{{ item.metadata.name }}'}}])
                results[(core_name, size)] = twice(lambda: timed(theirs, env), lambda: settled(kubectl, kubeconfig, 'bench-k8s-core-%d' % size, size), 1)
    finally:
        plane.down()
        shutil.rmtree(work, ignore_errors=True)

    def changed(count: int) -> str:
        return '(changed=%d)' % count if count >= 0 else '(changed=?)'

    print('%-34s %9s %24s %24s' % ('tool', 'services', 'cold apply', 'no-op re-apply'))
    for (name, size), ((cold, cold_changed), (noop, noop_changed)) in results.items():
        print('%-34s %9d %11.1f s %-12s %9.1f s %-12s' % (name, size, cold, changed(cold_changed), noop, changed(noop_changed)))
    for size in sizes:
        ours_runs = results[('kubeseed.cluster.microservices', size)]
        for name in ('kubectl apply --server-side', core_name):
            if (name, size) in results:
                theirs_runs = results[(name, size)]
                print('%d services, %s / kubeseed: cold apply %.1fx, no-op re-apply %.1fx'
                      % (size, name, theirs_runs[0][0] / ours_runs[0][0], theirs_runs[1][0] / ours_runs[1][0]))
    if len(sizes) > 1:
        for name in dict.fromkeys(key[0] for key in results):
            points = [(size, results[(name, size)]) for size in sizes if (name, size) in results]
            for (small, (s_cold, s_noop)), (large, (l_cold, l_noop)) in zip(points, points[1:]):
                per = 100.0 / (large - small)
                print('%s, %d -> %d services: +%.2f s cold and +%.2f s no-op per 100 services'
                      % (name, small, large, (l_cold[0] - s_cold[0]) * per, (l_noop[0] - s_noop[0]) * per))
    return 0


if __name__ == '__main__':
    sys.exit(main())
