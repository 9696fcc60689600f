"""The lab clusters and ansible-playbook runs against them.

One cluster per topology per run: the 1 control plane + 2 workers lab is shared by the whole session, and the test
modules run in the order of MODULE_ORDER on it (first an online install from the lab's mirrors, after which the hosts are
made bare again; then the role-include examples build it from bare hosts, then the cluster
checks, fault drills and demo services, then the AWX jobs, then day 2: add, remove, reset and build again); the 3 control
plane lab comes last, from bare hosts.

KUBESEED_LAB_NAME (tools/lab's own variable) selects another lab than the default one, with the subnet
KUBESEED_LAB_SUBNET (default 10.118.0.0/24): scripts/test.sh runs the 3-control-plane module on the lab `ha` in a
pytest process of its own, beside the modules of the 1 + 2 lab.
"""
from __future__ import annotations

import ipaddress
import os
import pathlib
import re
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / '.venv' / 'bin'
LAB = [str(VENV_BIN / 'python'), str(ROOT / 'tools' / 'lab' / 'lab.py')]
LAB_NAME = os.environ.get('KUBESEED_LAB_NAME') or 'lab'
LAB_SUBNET = os.environ.get('KUBESEED_LAB_SUBNET') or ('10.117.0.0/24' if LAB_NAME == 'lab' else '10.118.0.0/24')
INVENTORY = ROOT / 'inventories' / ('lab' if LAB_NAME == 'lab' else 'lab-' + LAB_NAME)


def lab_address(offset: int) -> str:
    """An address of the lab's subnet (tools/lab: control plane N at .10+N, the virtual IP at .10, worker N at .100+N)."""
    return str(ipaddress.ip_network(LAB_SUBNET).network_address + offset)


RECAP = re.compile(r'^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def recap(output: str) -> dict:
    """{host: {'ok': n, 'changed': n, 'unreachable': n, 'failed': n}} from a PLAY RECAP."""
    return {m.group(1): dict(zip(('ok', 'changed', 'unreachable', 'failed'), map(int, m.groups()[1:]))) for m in RECAP.finditer(output)}


class Run:
    """One finished ansible-playbook run."""

    def __init__(self, args: list, proc: subprocess.CompletedProcess, seconds: float, plays: list | None = None) -> None:
        self.args, self.rc, self.output, self.seconds = args, proc.returncode, proc.stdout, seconds
        self.recap = recap(proc.stdout)
        # the output with every run of whitespace one space: the yaml callback wraps a long msg wherever its words fall, so
        # a message is looked for in this, never in the raw output
        self.said = ' '.join(proc.stdout.split())
        self.plays = plays or []  # (time.monotonic() when it started, play name)

    def assert_ok(self) -> None:
        assert self.rc == 0, 'ansible-playbook %s failed (rc %d):\n%s' % (' '.join(self.args), self.rc, self.output[-6000:])
        assert self.recap, self.output[-3000:]
        bad = {h: r for h, r in self.recap.items() if r['failed'] or r['unreachable']}
        assert not bad, bad


def playbook(*args: str, log: pathlib.Path | None = None) -> Run:
    """Run ansible-playbook from the checkout, printing progress lines as they come (the runs take minutes)."""
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', PYTHONUNBUFFERED='1',
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.ansible' / 'collections'))
    argv = [str(VENV_BIN / 'ansible-playbook'), *args]
    started = time.monotonic()
    lines, plays = [], []
    with subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith('PLAY ['):
                plays.append((time.monotonic(), line[len('PLAY ['):].split(']')[0]))
            if line.startswith(('PLAY [', 'TASK [')):
                print('[e2e %5.0fs] %s' % (time.monotonic() - started, line.strip().rstrip('*').strip()), flush=True)
        proc.wait()
    output = ''.join(lines)
    if log:
        log.write_text(output, encoding='utf-8')
    return Run(list(args), subprocess.CompletedProcess(argv, proc.returncode, output, ''), time.monotonic() - started, plays)


def kubeconfig() -> str:
    """Where site.yml writes the admin kubeconfig: by default (cluster name kubeseed), or where tools/lab's group variables
    of another lab say (kubeseed_kubeconfig_dest)."""
    return os.path.expanduser('~/.kube/kubeseed-kubeseed.conf' if LAB_NAME == 'lab' else '~/.kube/kubeseed-lab-%s.conf' % LAB_NAME)


def bundle_path(version: str = '') -> str:
    """The built bundle's directory (the default version's, or version's)."""
    return subprocess.run([str(VENV_BIN / 'python'), str(ROOT / 'tools' / 'bundle' / 'bundle.py'), 'path',
                           *(['--kubernetes-version', version] if version else [])], capture_output=True, text=True, check=True).stdout.strip()


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """The bundle's kubectl on the controller, with the admin kubeconfig site.yml fetched."""
    bundle = bundle_path()
    proc = subprocess.run([os.path.join(bundle, 'bin', 'kubectl'), '--kubeconfig', kubeconfig(), *args], input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)
    if check:
        assert proc.returncode == 0, 'kubectl %s: %s %s' % (' '.join(args), proc.stdout, proc.stderr)
    return proc


def fresh_lab(control_planes: int, workers: int):
    """Fresh (bare) lab hosts; torn down afterwards unless KUBESEED_KEEP_LAB=1."""
    if os.geteuid() != 0:
        if os.environ.get('CI'):
            pytest.fail('the lab needs root, and CI must run every tier')
        pytest.skip('the lab needs root')
    if os.environ.get('KUBESEED_E2E_REUSE_LAB') == '1' and not os.environ.get('CI'):
        # development: run some modules (-k, a file) on the lab as it is, e.g. a cluster that an earlier run kept
        yield INVENTORY
        return
    subprocess.run([*LAB, 'down'], cwd=ROOT, check=True)
    subprocess.run([*LAB, '--subnet', LAB_SUBNET, 'up', '--control-planes', str(control_planes), '--workers', str(workers)],
                   cwd=ROOT, check=True)
    lab_vars = (INVENTORY / 'group_vars' / 'all' / 'lab.yml').read_text(encoding='utf-8')
    assert 'kubeseed_offline_bundle_url:' in lab_vars, 'no offline bundle is built: run make bundle first'
    yield INVENTORY
    if os.environ.get('KUBESEED_KEEP_LAB') != '1':
        subprocess.run([*LAB, 'down'], cwd=ROOT, check=True)


# The modules that share the 1 + 2 lab, in the order they build on each other, then the one that replaces it.
MODULE_ORDER = ('test_mirror_mode.py', 'test_role_includes.py', 'test_cluster.py', 'test_awx_jobs.py', 'test_lifecycle.py', 'test_control_plane_join.py')


def pytest_collection_modifyitems(items):
    """Run the modules in MODULE_ORDER (tests keep their file order within a module)."""
    def rank(item):
        name = pathlib.Path(str(item.fspath)).name
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)
    items.sort(key=rank)


@pytest.fixture(scope='session')
def shared_lab():
    """1 control plane + 2 workers, bare at first; shared by every module of MODULE_ORDER but the last."""
    yield from fresh_lab(1, 2)


@pytest.fixture(scope='module')
def lab_cluster(shared_lab):  # pylint: disable=redefined-outer-name
    """The shared 1 + 2 lab."""
    return shared_lab


def needs_cluster() -> None:
    """Fail (not error) with the reason when the shared lab has no cluster yet (an earlier module failed or was deselected)."""
    proc = kubectl('get', 'nodes', '--request-timeout=10s', check=False) if os.path.exists(kubeconfig()) else None
    if proc is None or proc.returncode != 0:
        pytest.fail('no cluster on the shared lab: tests/e2e/test_role_includes.py builds it and must run first')


def adhoc(pattern: str, module: str, args: str, inventory: pathlib.Path = INVENTORY) -> subprocess.CompletedProcess:
    """One ad-hoc ansible command on lab hosts: one line per host (--one-line), whose escaped newlines are turned back into
    line breaks in .stdout (so `host | CHANGED | rc=0 | (stdout) ...` starts each host's part)."""
    proc = subprocess.run([str(VENV_BIN / 'ansible'), '-i', str(inventory), pattern, '-m', module, '-a', args, '--one-line'],
                          cwd=ROOT, capture_output=True, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.ansible' / 'collections'), ANSIBLE_NOCOLOR='1'))
    proc.stdout = proc.stdout.replace('\\n', '\n')
    return proc


def changed_tasks(output: str) -> dict:
    """{task name: [hosts it changed]} from the default callback's output."""
    tasks, task = {}, None
    for line in output.splitlines():
        if line.startswith('TASK ['):
            task = line[len('TASK ['):].split(']')[0]
        elif task and line.startswith('changed: ['):
            tasks.setdefault(task, []).append(line[len('changed: ['):].split(']')[0].split(' ->')[0])
    return tasks


@pytest.fixture(scope='module')
def lab_ha():
    """3 control planes (stacked etcd) + 1 worker."""
    yield from fresh_lab(3, 1)
