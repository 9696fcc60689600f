"""Day-2 speed on the lab: backup, restore, certificate renewal, removing a worker, joining it again, reset, rebuild.

Usage (root, after `make bundle`):
  .venv/bin/python benchmarks/day2.py [--workers 2] [--keep]
A fresh lab of 1 control plane + N workers and site.yml on it (with the demo services), then each day-2 playbook timed,
with the API server's /readyz and the demo frontend's NodePort on the first worker probed every 200 ms meanwhile: the
failed probes and the longest outage are printed per step. Prints figures; asserts nothing about them. It replaces any
running lab.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = ROOT / '.venv' / 'bin'


def lab(*args: str) -> None:
    subprocess.run([str(BIN / 'python'), str(ROOT / 'tools' / 'lab' / 'lab.py'), *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


CHANGED = re.compile(r'^\S+\s+: ok=\d+\s+changed=(\d+)', re.M)


def run(*args: str) -> tuple[float, int]:
    """(seconds, changed tasks over every host of the PLAY RECAP) of one ansible-playbook run; exits when it fails."""
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.ansible' / 'collections'))
    started = time.monotonic()
    proc = subprocess.run([str(BIN / 'ansible-playbook'), *args, '-i', 'inventories/lab'], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        sys.exit('%s failed:\n%s' % (args[0], proc.stdout[-4000:]))
    return time.monotonic() - started, sum(int(n) for n in CHANGED.findall(proc.stdout.split('PLAY RECAP')[-1]))


def playbook(*args: str) -> float:
    return run(*args)[0]


def kubectl(*args: str) -> subprocess.CompletedProcess:
    bundle = subprocess.run([str(BIN / 'python'), str(ROOT / 'tools' / 'bundle' / 'bundle.py'), 'path'], capture_output=True, text=True,
                            check=True).stdout.strip()
    return subprocess.run([os.path.join(bundle, 'bin', 'kubectl'), '--kubeconfig', os.path.expanduser('~/.kube/kubeseed-kubeseed.conf'),
                           *args], capture_output=True, text=True, timeout=10, check=False)


def first_worker_address() -> str:
    hosts = yaml.safe_load((ROOT / 'inventories' / 'lab' / 'hosts.yml').read_text(encoding='utf-8'))['all']['children']
    return next(iter(hosts['workers']['hosts'].values()))['ansible_host']


class Probe(threading.Thread):
    """One check every 200 ms; counts failures and the longest run of them."""

    def __init__(self, check) -> None:
        super().__init__(daemon=True)
        self.check, self.stop = check, threading.Event()
        self.total = self.failed = 0
        self.longest, self._since = 0.0, None

    def run(self) -> None:
        while not self.stop.is_set():
            ok = self.check()
            now = time.monotonic()
            self.total += 1
            if ok:
                if self._since is not None:
                    self.longest, self._since = max(self.longest, now - self._since), None
            else:
                self.failed += 1
                self._since = now if self._since is None else self._since
            self.stop.wait(0.2)
        if self._since is not None:
            self.longest = max(self.longest, time.monotonic() - self._since)


def api_ok() -> bool:
    try:
        return kubectl('get', '--raw', '/readyz', '--request-timeout=2s').returncode == 0
    except subprocess.TimeoutExpired:
        return False


def demo_ok(address: str) -> bool:
    try:
        with urllib.request.urlopen('http://%s:30080/' % address, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def timed(name: str, rows: list, *args: str, probes: bool = True) -> None:
    address = first_worker_address()
    api, demo = Probe(api_ok), Probe(lambda: demo_ok(address))
    if probes:
        api.start()
        demo.start()
    seconds, changed = run(*args)
    for probe in (api, demo):
        probe.stop.set()
        if probes:
            probe.join()
    rows.append((name, seconds, api, demo, probes))
    print('%-40s %6.1f s  changed=%d' % (name, seconds, changed), flush=True)


def arguments(doc: str) -> argparse.Namespace:
    """--workers and --keep (this script's and benchmarks/upgrade.py's); the lab needs root."""
    parser = argparse.ArgumentParser(description=doc.split('\n\n', 1)[0])
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--keep', action='store_true', help='leave the lab up')
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit('the lab needs root')
    return args


def table(rows: list, step: str = 'step') -> None:
    """The rows of timed() as a Markdown table."""
    print('\n| %s | seconds | API /readyz failed probes (longest outage) | demo NodePort failed probes (longest outage) |' % step)
    print('|---|---|---|---|')
    for name, seconds, api, demo, probed in rows:
        if probed:
            figures = (name, seconds, api.failed, api.total, api.longest, demo.failed, demo.total, demo.longest)
            print('| %s | %.1f | %d of %d (%.1f s) | %d of %d (%.1f s) |' % figures)
        else:
            print('| %s | %.1f | not probed | not probed |' % (name, seconds))


def main() -> int:
    args = arguments(__doc__)
    workers = max(2, args.workers)
    last = 'ks-w%d' % workers
    lab('down')
    lab('up', '--control-planes', '1', '--workers', str(workers))
    rows: list = []
    with tempfile.TemporaryDirectory() as backups:
        timed('site.yml, cold (1 + %d)' % workers, rows, 'site.yml', probes=False)
        playbook('playbooks/apps.yml', '-e', '@tools/demo/services.yml')
        timed('backup.yml', rows, 'playbooks/backup.yml', '-e', 'kubeseed_backup_dir=%s' % backups)
        name = sorted(os.listdir(backups))[-1]
        timed('restore.yml', rows, 'playbooks/restore.yml', '-e', 'kubeseed_backup_dir=%s' % backups, '-e',
              'kubeseed_restore_backup=%s' % name, '-e', 'kubeseed_restore_confirm=kubeseed')
        timed('certificates.yml, renew all', rows, 'playbooks/certificates.yml', '-e', 'kubeseed_certificates_renew=all')
        timed('certificates.yml, nothing to renew', rows, 'playbooks/certificates.yml')
        timed('remove_node.yml %s (up)' % last, rows, 'playbooks/remove_node.yml', '-e', json.dumps({'kubeseed_remove_nodes': [last]}))
        timed('remove_node.yml %s again (no-op)' % last, rows, 'playbooks/remove_node.yml', '-e',
              json.dumps({'kubeseed_remove_nodes': [last]}))
        timed('site.yml --limit %s (join again)' % last, rows, 'site.yml', '--limit', last)
        timed('reset.yml', rows, 'playbooks/reset.yml', '-e', 'kubeseed_reset_confirm=kubeseed', probes=False)
        timed('site.yml on the reset hosts', rows, 'site.yml', probes=False)
    table(rows)
    if not args.keep:
        lab('down')
    return 0


if __name__ == '__main__':
    sys.exit(main())
