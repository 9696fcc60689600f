"""Upgrade speed on the lab: a cluster of the previous minor upgraded with playbooks/upgrade.yml, while it serves.

Usage (root, after `make bundle` and the previous minor's bundle, `make bundle-upgrade-from`):
  .venv/bin/python benchmarks/upgrade.py [--workers 2] [--keep]
A fresh lab of 1 control plane + N workers, site.yml at the previous minor (its bundle, served by the lab beside the
default one) with the demo services, then upgrade.yml --check, the upgrade itself, the same upgrade again (nothing left to
do) and site.yml at the new version, each timed, with the API server's /readyz and the demo frontend's NodePort on the
first worker probed every 200 ms meanwhile (the failed probes and the longest outage per step). Prints figures; asserts
nothing about them. It replaces any running lab.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import yaml

# the sibling script (this one runs from benchmarks/)
from day2 import ROOT, BIN, api_ok, arguments, demo_ok, first_worker_address, lab, playbook, table, timed  # pylint: disable=import-error

FROM, TO = '1.36.3', '1.37.2'


def bundle_path(version: str) -> str:
    return subprocess.run([str(BIN / 'python'), str(ROOT / 'tools' / 'bundle' / 'bundle.py'), 'path', '--kubernetes-version', version],
                          capture_output=True, text=True, check=True).stdout.strip()


def previous() -> list:
    """-e arguments for the previous minor: its version and its bundle's URL on the lab's bundle server."""
    lab_vars = yaml.safe_load((ROOT / 'inventories' / 'lab' / 'group_vars' / 'all' / 'lab.yml').read_text(encoding='utf-8'))
    url = lab_vars['kubeseed_offline_bundle_url'].rsplit('/', 1)[0] + '/' + os.path.basename(bundle_path(FROM))
    return ['-e', 'kubeseed_kubernetes_version=%s' % FROM, '-e', 'kubeseed_offline_bundle_url=%s' % url]


class Samples(threading.Thread):
    """One check every 200 ms, each kept with its time, so that failures can be counted per phase."""

    def __init__(self, check) -> None:
        super().__init__(daemon=True)
        self.check, self.stop, self.samples = check, threading.Event(), []

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.monotonic(), self.check()))
            self.stop.wait(0.2)

    def failed(self, start: float, end: float) -> str:
        window = [ok for at, ok in self.samples if start <= at < end]
        return '%d of %d' % (window.count(False), len(window))


def phases_of_the_upgrade(rows: list) -> None:
    """upgrade.yml with the time of each play and each batch of a serial play (one node each with serial 1), and the
    failed probes in each."""
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.ansible' / 'collections'))
    address = first_worker_address()
    api, demo = Samples(api_ok), Samples(lambda: demo_ok(address))
    api.start()
    demo.start()
    marks, hosts, lines = [], [], []
    started = time.monotonic()
    with subprocess.Popen([str(BIN / 'ansible-playbook'), 'playbooks/upgrade.yml', '-i', 'inventories/lab'], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith('PLAY ['):
                marks.append((time.monotonic(), line[len('PLAY ['):].split(']')[0]))
                hosts.append(set())
            elif hosts and line.startswith(('ok: [', 'changed: [')):
                hosts[-1].add(line.split('[', 1)[1].split(']', 1)[0].split(' -> ')[0])  # a delegated task: ok: [ks-w1 -> ks-cp1(...)]
        proc.wait()
    ended = time.monotonic()
    for probe in (api, demo):
        probe.stop.set()
        probe.join()
    if proc.returncode != 0:
        sys.exit('upgrade.yml failed:\n' + ''.join(lines)[-4000:])
    rows.append(('upgrade.yml %s -> %s, whole run' % (FROM, TO), ended - started, api.failed(started, ended), demo.failed(started, ended)))
    bounds = [at for at, _name in marks[1:]] + [ended]
    for (at, name), end, names in zip(marks, bounds, hosts):
        if name.startswith(('Upgrade the', 'The target')):
            label = '%s: %s' % (name, ', '.join(sorted(names - {'localhost'})) or '-')
            rows.append(('  ' + label, end - at, api.failed(at, end), demo.failed(at, end)))
    print('%-40s %6.1f s' % ('upgrade.yml %s -> %s' % (FROM, TO), ended - started), flush=True)


def main() -> int:
    args = arguments(__doc__)
    if not os.path.isdir(bundle_path(FROM)):
        sys.exit('no %s bundle: run make bundle-upgrade-from first' % FROM)
    workers = max(1, args.workers)
    lab('down')
    started = time.monotonic()
    lab('up', '--control-planes', '1', '--workers', str(workers))
    print('lab up (1 + %d): %.1f s' % (workers, time.monotonic() - started), flush=True)
    rows: list = []
    timed('site.yml at %s, cold' % FROM, rows, 'site.yml', *previous(), probes=False)
    playbook('playbooks/apps.yml', '-e', '@tools/demo/services.yml')
    timed('upgrade.yml --check', rows, 'playbooks/upgrade.yml', '--check', probes=False)
    phases: list = []
    phases_of_the_upgrade(phases)
    timed('upgrade.yml again (nothing to do)', rows, 'playbooks/upgrade.yml')
    timed('site.yml at %s (no-op)' % TO, rows, 'site.yml')
    table(rows, 'step (1 + %d)' % workers)
    print('\n| upgrade.yml, phase (batches of one node) | seconds | API /readyz failed probes | demo NodePort failed probes |')
    print('|---|---|---|---|')
    for name, seconds, api, demo in phases:
        print('| %s | %.1f | %s | %s |' % (name, seconds, api, demo))
    if not args.keep:
        lab('down')
    return 0


if __name__ == '__main__':
    sys.exit(main())
