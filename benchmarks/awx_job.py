"""Benchmark: what running the apps job template the AWX way costs, against the same playbook run directly.

Against a local control plane (tools/localcp, from the offline bundle): docs/awx-project's playbooks/apps.yml
1. directly with ansible-playbook from this checkout (K8S_AUTH_KUBECONFIG set), cold then no-op;
2. through tools/awx/awx_job.py (fresh private data directory, project copy, collection installed from the built
   tarball, ansible-runner, unprivileged user when run as root), cold then no-op, each job split into set-up
   (directory, copy, ansible-galaxy install) and the run itself.
Prints the figures; no assertions. Usage: .venv/bin/python benchmarks/awx_job.py
"""
from __future__ import annotations

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
EE_BIN = ROOT / '.venv-ee' / 'bin'
PROJECT = ROOT / 'docs' / 'awx-project'
sys.path.insert(0, str(ROOT / 'tools' / 'localcp'))

from localcp import LocalControlPlane  # noqa: E402  pylint: disable=wrong-import-position


def direct(kubeconfig: str, extravars: pathlib.Path) -> tuple:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'K8S_AUTH_'))}
    env.update(K8S_AUTH_KUBECONFIG=kubeconfig, ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.ansible' / 'collections'), ANSIBLE_NOCOLOR='1')
    start = time.monotonic()
    proc = subprocess.run([str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), str(PROJECT / 'playbooks' / 'apps.yml'),
                           '-i', str(PROJECT / 'inventory'), '-e', '@%s' % extravars], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit('direct run failed:\n%s' % proc.stdout[-3000:])
    return time.monotonic() - start, int(re.search(r'changed=(\d+)', proc.stdout).group(1))


def awx(kubeconfig: str, extravars: pathlib.Path, tarball: pathlib.Path, ident: str) -> dict:
    argv = [str(EE_BIN / 'python'), str(ROOT / 'tools' / 'awx' / 'awx_job.py'), '--project', str(PROJECT), '--playbook', 'playbooks/apps.yml',
            '--inventory', str(PROJECT / 'inventory'), '--extra-vars', str(extravars), '--kubeconfig', kubeconfig, '--quiet',
            '--runner', str(EE_BIN / 'ansible-runner'), '--collection-source', 'kubeseed.cluster=%s' % tarball, '--ident', ident]
    if os.geteuid() == 0:
        argv += ['--run-as', 'kubeseed-runner']
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit('AWX-style job failed:\n%s' % (proc.stdout + proc.stderr)[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    work = pathlib.Path(tempfile.mkdtemp(prefix='kubeseed-bench-awx-'))
    os.chmod(work, 0o755)
    try:
        subprocess.run([str(pathlib.Path(sys.executable).parent / 'ansible-galaxy'), 'collection', 'build', str(ROOT), '--output-path', str(work)],
                       check=True, capture_output=True)
        tarball = next(work.glob('kubeseed-cluster-*.tar.gz'))
        plane = LocalControlPlane(work / 'localcp', tie_to_parent=True)
        plane.up()
        try:
            kubeconfig = str(plane.kubeconfig)
            rows = []
            for label, namespace_suffix in (('direct ansible-playbook', 'direct'), ('AWX-style job', 'awx')):
                extravars = work / ('vars-%s.yml' % namespace_suffix)
                extravars.write_text('kubeseed_microservices_wait: false\nkubeseed_microservices_set: bench-%s\n'
                                     'kubeseed_microservices_namespace: bench-%s\n' % (namespace_suffix, namespace_suffix), encoding='utf-8')
                os.chmod(extravars, 0o644)
                for run in ('cold', 'no-op'):
                    if label.startswith('direct'):
                        seconds, changed = direct(kubeconfig, extravars)
                        rows.append((label, run, seconds, None, changed))
                    else:
                        summary = awx(kubeconfig, extravars, tarball, run.replace('-', ''))
                        rows.append((label, run, summary['seconds'], summary['setup_seconds'], summary['changed_total']))
        finally:
            plane.down()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print('%-24s %-6s %9s %12s %8s' % ('how', 'run', 'total', 'of it set-up', 'changed'))
    for label, run, seconds, setup, changed in rows:
        print('%-24s %-6s %7.1f s %10s %8d' % (label, run, seconds, '%.1f s' % setup if setup is not None else '-', changed))
    return 0


if __name__ == '__main__':
    sys.exit(main())
