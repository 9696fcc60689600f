"""Benchmark: 100 microservices (~400 objects) applied by kubeseed.cluster.microservices vs a kubernetes.core.k8s loop.

Both run through ansible-playbook against the same local control plane (tools/localcp, from the offline bundle),
each in its own namespace: a cold apply, then a no-op re-apply. kubernetes.core comes from the pinned PyPI
``ansible`` package, installed (without dependencies) into $KUBESEED_CACHE/bench/ansible-<version>; never Galaxy.
Prints the wall-clock times (ansible-playbook start to end) and the ratios. No assertions: figures only.

Usage: .venv/bin/python benchmarks/apps_apply.py [--services 100] [--skip-k8s-core]
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

from localcp import LocalControlPlane  # noqa: E402  pylint: disable=wrong-import-position


def services(count: int) -> list:
    """count services of 4 objects each: Deployment, Service, ConfigMap, Secret."""
    return [{'name': 'svc-%03d' % i, 'image': 'example.com/svc:%d' % i, 'replicas': 1,
             'ports': [{'port': 80, 'targetPort': 8080}], 'env': {'INDEX': str(i)},
             'config': {'LOG_LEVEL': 'info', 'INDEX': str(i)}, 'secrets': {'TOKEN': 'token-%03d' % i}} for i in range(count)]


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--services', type=int, default=100)
    parser.add_argument('--skip-k8s-core', action='store_true', help='only time kubeseed.cluster.microservices')
    args = parser.parse_args()
    cache = pathlib.Path(os.environ.get('KUBESEED_CACHE', os.path.expanduser('~/.cache/kubeseed'))) / 'bench'
    cache.mkdir(parents=True, exist_ok=True)
    core_path = None if args.skip_k8s_core else kubernetes_core(cache)

    work = pathlib.Path(tempfile.mkdtemp(prefix='kubeseed-bench-'))
    links = work / 'collections' / 'ansible_collections' / 'kubeseed'
    links.mkdir(parents=True)
    (links / 'cluster').symlink_to(ROOT)
    inventory = work / 'inventory.ini'
    inventory.write_text('localhost ansible_connection=local\n', encoding='utf-8')
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_INVENTORY=str(inventory), ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'),
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([str(work / 'collections')] + ([str(core_path)] if core_path else [])))

    # The objects kubernetes.core applies are exactly the ones our module renders.
    sys.path.insert(0, str(work / 'collections'))
    from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_render import render_all  # pylint: disable=import-outside-toplevel

    svcs = services(args.services)
    objects = render_all(svcs, 'bench', 'bench-k8s-core')
    print('%d services -> %d objects (plus the namespace) per tool' % (len(svcs), len([o for o in objects if o['kind'] != 'Namespace'])))

    plane = LocalControlPlane(work / 'localcp', tie_to_parent=True)
    plane.up()
    try:
        kubeconfig = str(plane.kubeconfig)
        ours = play(work / 'ours.yml', [{'name': 'microservices', 'kubeseed.cluster.microservices': {
            'kubeconfig': kubeconfig, 'namespace': 'bench-kubeseed', 'set_name': 'bench', 'services': svcs, 'wait': False}}])
        results = {'kubeseed.cluster.microservices': (timed(ours, env), timed(ours, env))}
        if core_path:
            (work / 'objects.json').write_text(json.dumps({'objects': objects}), encoding='utf-8')
            theirs = play(work / 'k8s.yml', [{'name': 'kubernetes.core.k8s', 'kubernetes.core.k8s': {
                'kubeconfig': kubeconfig, 'state': 'present', 'definition': '{{ item }}'},
                'loop': "{{ (lookup('ansible.builtin.file', '%s') | from_json).objects }}" % (work / 'objects.json'),
                'loop_control': {'label': '{{ item.kind }}/{{ item.metadata.name }}'}}])
            manifest = json.loads((core_path / 'ansible_collections' / 'kubernetes' / 'core' / 'MANIFEST.json').read_text(encoding='utf-8'))
            results['kubernetes.core.k8s %s loop' % manifest['collection_info']['version']] = (timed(theirs, env), timed(theirs, env))
    finally:
        plane.down()
        shutil.rmtree(work, ignore_errors=True)

    print('%-34s %14s %14s' % ('tool', 'cold apply', 'no-op re-apply'))
    for name, ((cold, cold_changed), (noop, noop_changed)) in results.items():
        print('%-34s %9.1f s (changed=%d) %7.1f s (changed=%d)' % (name, cold, cold_changed, noop, noop_changed))
    if len(results) == 2:
        ours_runs, core_runs = list(results.values())
        print('ratio kubernetes.core / kubeseed: cold apply %.1fx, no-op re-apply %.1fx'
              % (core_runs[0][0] / ours_runs[0][0], core_runs[1][0] / ours_runs[1][0]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
