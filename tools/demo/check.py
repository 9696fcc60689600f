"""Call the demo frontend through its NodePort on every lab worker and print what answered.

Usage: python tools/demo/check.py [--port 30080] [--timeout 60]
Exit 1 when no worker answers with the frontend's and the backend's names.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def workers() -> list:
    inventory = yaml.safe_load((ROOT / 'inventories' / 'lab' / 'hosts.yml').read_text(encoding='utf-8'))
    hosts = inventory['all']['children']['workers']['hosts']
    return [(name, spec['ansible_host']) for name, spec in hosts.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--port', type=int, default=30080)
    parser.add_argument('--timeout', type=int, default=60)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    pending = dict(workers())
    while pending and time.monotonic() < deadline:
        for name, address in list(pending.items()):
            url = 'http://%s:%d/' % (address, args.port)
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    answer = json.loads(response.read())
            except (OSError, ValueError) as exc:
                print('[demo] %s: %s (retrying)' % (url, exc))
                continue
            backend = answer.get('backend') or {}
            if answer.get('service') == 'frontend' and backend.get('service') == 'backend':
                print('[demo] %s (%s) -> frontend pod %s -> backend pod %s: %r'
                      % (url, name, answer['pod'], backend['pod'], backend.get('message')))
                del pending[name]
        if pending:
            time.sleep(2)
    if pending:
        print('[demo] no answer from %s' % ', '.join(pending))
        return 1
    print('[demo] the frontend answers on every worker: curl http://%s:%d/' % (workers()[0][1], args.port))
    return 0


if __name__ == '__main__':
    sys.exit(main())
