"""Provisioning speed on the lab: cold site.yml from bare hosts, kubeadm's own share of it, and the no-op re-run.

Usage (root, after `make bundle`):
  .venv/bin/python benchmarks/cluster_provision.py [--control-planes 1|3] [--workers 2[,4,8]] [--keep]
For each worker count: a fresh lab of C control planes (default 1; with more, the first one's address is the endpoint)
+ N workers, the cold run, the no-op re-run, the tasks each host
ran in the no-op run and the seconds per task; with several counts, the seconds each added node costs.
Prints figures; asserts nothing about them. It replaces any running lab.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = ROOT / '.venv' / 'bin'
SECONDS = re.compile(r'kubeadm_seconds: ([0-9.]+)')
TASK = re.compile(r'^TASK \[(.+?)\]')


def lab(*args: str) -> None:
    subprocess.run([str(BIN / 'python'), str(ROOT / 'tools' / 'lab' / 'lab.py'), *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def site(verbose: bool, extra: list) -> tuple[float, str]:
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.ansible' / 'collections'))
    argv = [str(BIN / 'ansible-playbook'), 'site.yml', '-i', 'inventories/lab', *extra] + (['-v'] if verbose else [])
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit('site.yml failed:\n' + proc.stdout[-4000:])
    return seconds, proc.stdout


def kubeadm_share(output: str) -> tuple[float, float]:
    """(kubeadm init seconds, longest kubeadm join seconds): joins of one wave run in parallel."""
    init, joins, task = 0.0, [], ''
    for line in output.splitlines():
        match = TASK.match(line)
        if match:
            task = match.group(1)
        found = SECONDS.search(line)
        if not found:
            continue
        if 'Join' in task:
            joins.append(float(found.group(1)))
        else:
            init = float(found.group(1))
    return init, max(joins, default=0.0)


RECAP = re.compile(r'^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=\d+\s+skipped=(\d+)', re.M)


def one(control_planes: int, workers: int, keep: bool) -> dict:
    """Cold and no-op figures for control planes + workers."""
    lab('down')
    started = time.monotonic()
    lab('up', '--control-planes', str(control_planes), '--workers', str(workers))
    lab_seconds = time.monotonic() - started
    extra: list = []  # several control planes: the inventory lab.py wrote holds the API server's virtual IP
    cold, output = site(True, extra)
    init, join = kubeadm_share(output)
    noop_first, _output = site(False, extra)  # right after the cold run: the new control plane is still busy
    noop, output2 = site(False, extra)
    recap = {m.group(1): tuple(int(x) for x in m.groups()[1:]) for m in RECAP.finditer(output2.split('PLAY RECAP')[-1])}
    changed = sum(r[1] for r in recap.values())
    node_tasks = {h: r[0] + r[2] for h, r in recap.items() if h != 'localhost'}
    print('lab hosts: %d control plane(s) + %d workers (lab up %.1fs)' % (control_planes, workers, lab_seconds))
    print('cold site.yml from bare hosts: %.1fs' % cold)
    print('  kubeadm init: %.1fs, kubeadm join (parallel, longest): %.1fs -> kubeadm %.1fs = %.0f%% of the run'
          % (init, join, init + join, 100 * (init + join) / cold))
    print('no-op re-run of site.yml: %.1fs right after the cold run, then %.1fs (changed=%d in the second)' % (noop_first, noop, changed))
    most = max(node_tasks.values(), default=0)
    print('  tasks per host in the no-op run (ok + skipped): %s; %.2fs per task of the busiest host'
          % (', '.join('%s %d' % kv for kv in sorted(node_tasks.items())), noop / most if most else 0.0))
    if not keep:
        lab('down')
    return {'control_planes': control_planes, 'workers': workers, 'cold': cold, 'noop': noop, 'noop_first': noop_first}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--control-planes', type=int, default=1, help='control planes (stacked etcd: 1, 3, ...)')
    parser.add_argument('--workers', default='2', help='worker count, or several separated by commas (2,4,8)')
    parser.add_argument('--keep', action='store_true', help='leave the (last) lab up')
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(',')]
    results = [one(args.control_planes, n, args.keep and n == counts[-1]) for n in counts]
    if len(results) > 1:
        print('\n| nodes | cold | no-op (right after / then) |\n| --- | --- | --- |')
        for r in results:
            print('| %d + %d | %.1fs | %.1fs / %.1fs |' % (r['control_planes'], r['workers'], r['cold'], r['noop_first'], r['noop']))
        first, last = results[0], results[-1]
        added = last['workers'] - first['workers']
        if added:
            print('per added node: cold %+.1fs, no-op %+.1fs' % ((last['cold'] - first['cold']) / added, (last['noop'] - first['noop']) / added))
    return 0


if __name__ == '__main__':
    sys.exit(main())
