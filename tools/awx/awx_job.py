#!/usr/bin/env python
"""Run a playbook the way an AWX job template does, without AWX: try an AWX project on a laptop or in CI.

What AWX does for every job, and so does this tool:
  1. a fresh private data directory (AWX: /tmp/awx_<id>_*), removed afterwards;
  2. the project copied into <pdd>/project without .git;
  3. the project's collections/requirements.yml installed into <pdd>/requirements_collections, which is then
     the collections path of the job (nothing from the controller's own collections);
  4. the inventory in <pdd>/inventory, extra vars and survey answers in <pdd>/env/extravars, the machine credential's
     key in <pdd>/env/ssh_key (ansible-runner loads it into an ssh-agent), credential files injected under <pdd>
     with environment variables pointing at them (a kubeconfig credential sets K8S_AUTH_KUBECONFIG);
  5. ansible-runner with the command line `-u <user> [--check] [--diff] [-l limit] [-v...]`, as an unprivileged user
     (--run-as; AWX runs uid 1000 in the execution environment) with a fresh empty HOME and no terminal;
  6. the result read from runner's job events: status, return code and the per-host recap.

The summary is printed as one JSON line (and written to --summary). The exit code is 0 only when the job's status
is "successful". Usage:
  awx_job.py --project docs/awx-project --playbook playbooks/apps.yml --inventory docs/awx-project/inventory \
      --extra-vars survey.yml --kubeconfig ~/.kube/kubeseed-kubeseed.conf --run-as nobody
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import yaml

COLLECTIONS = 'requirements_collections'
# Environment that must not leak from the caller into the job: AWX's job sees only what it sets itself.
SCRUBBED_PREFIXES = ('ANSIBLE_', 'K8S_AUTH_', 'KUBECONFIG', 'PYTHONPATH', 'VIRTUAL_ENV')


class JobError(Exception):
    """The job could not be started (bad arguments, a missing tool); str() says what to fix."""


def say(message: str, started: float) -> None:
    print('[awx-job %5.1fs] %s' % (time.monotonic() - started, message), file=sys.stderr, flush=True)


def build_cmdline(user: str | None = None, check: bool = False, diff: bool = False, limit: str = '', verbosity: int = 0) -> list[str]:
    """The ansible-playbook options AWX adds for a job template (inventory, extra vars and playbook come from runner).

    -u only with a machine credential (user); a job template without one (e.g. a controller-only apps job) has none.
    """
    args = ['-u', user] if user else []
    if check:
        args.append('--check')
    if diff:
        args.append('--diff')
    if limit:
        args += ['-l', limit]
    if verbosity:
        args.append('-' + 'v' * min(verbosity, 5))
    return args


def copy_project(source: pathlib.Path, dest: pathlib.Path) -> None:
    """The project as AWX's job sees it: every file of the checkout except .git."""
    if not source.is_dir():
        raise JobError('project %s is not a directory' % source)
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns('.git'))


def requirements_with_sources(requirements: pathlib.Path, sources: dict[str, str], out: pathlib.Path) -> pathlib.Path:
    """A copy of collections/requirements.yml where the named collections come from a local artifact.

    AWX resolves requirements against its configured Galaxy / Automation Hub servers; where none is reachable (CI,
    air-gapped), --collection-source NAME=TARBALL_OR_DIR points one requirement at a built collection instead.
    """
    data = yaml.safe_load(requirements.read_text(encoding='utf-8')) or {}
    entries = data.get('collections', []) if isinstance(data, dict) else []
    found = set()
    for index, entry in enumerate(entries):
        name = entry if isinstance(entry, str) else entry.get('name')
        if name in sources:
            path = pathlib.Path(sources[name])
            entries[index] = {'name': str(path), 'type': 'dir' if path.is_dir() else 'file'}
            found.add(name)
    missing = sorted(set(sources) - found)
    if missing:
        raise JobError('%s does not list %s (--collection-source)' % (requirements, ', '.join(missing)))
    out.write_text(yaml.safe_dump(data, sort_keys=False), encoding='utf-8')
    return out


def install_collections(pdd: pathlib.Path, sources: dict[str, str], galaxy: str, home: pathlib.Path) -> list[str]:
    """ansible-galaxy collection install -r project/collections/requirements.yml into the private data directory."""
    requirements = pdd / 'project' / 'collections' / 'requirements.yml'
    if not requirements.exists():
        if sources:
            raise JobError('the project has no collections/requirements.yml to take --collection-source')
        return []
    if sources:
        requirements = requirements_with_sources(requirements, sources, pdd / 'collections-requirements.yml')
    # From the project, with the job's empty home: no ansible.cfg or Galaxy server settings of the caller leak in.
    proc = subprocess.run([galaxy, 'collection', 'install', '-r', str(requirements), '-p', str(pdd / COLLECTIONS)],
                          capture_output=True, text=True, env=dict(job_base_env(), HOME=str(home)), cwd=str(pdd / 'project'), check=False)
    if proc.returncode != 0:
        raise JobError('installing the project requirements failed:\n%s%s' % (proc.stdout, proc.stderr))
    return [line.strip() for line in proc.stdout.splitlines() if 'was installed successfully' in line]


def job_base_env() -> dict[str, str]:
    """The caller's environment without anything Ansible or Kubernetes would read."""
    return {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}


def write_private_data(pdd: pathlib.Path, inventory: pathlib.Path, extravars: dict[str, Any], ssh_key: pathlib.Path | None,
                       kubeconfig: pathlib.Path | None, envvars: dict[str, str]) -> dict[str, str]:
    """Inventory, env/extravars, env/ssh_key and credential files; returns the job's environment variables."""
    (pdd / 'env').mkdir(mode=0o700)
    (pdd / 'inventory').mkdir()
    if inventory.is_dir():
        shutil.copytree(inventory, pdd / 'inventory', dirs_exist_ok=True)
    else:
        shutil.copy(inventory, pdd / 'inventory' / 'hosts')
    write_secret(pdd / 'env' / 'extravars', yaml.safe_dump(extravars))
    if ssh_key:
        write_secret(pdd / 'env' / 'ssh_key', ssh_key.read_text(encoding='utf-8'))
    env = dict(envvars)
    if kubeconfig:
        # The custom credential type of docs/awx.md: a file injector plus K8S_AUTH_KUBECONFIG pointing at it.
        cred = pdd / 'credentials'
        cred.mkdir(mode=0o700)
        write_secret(cred / 'kubeconfig', kubeconfig.read_text(encoding='utf-8'))
        env['K8S_AUTH_KUBECONFIG'] = str(cred / 'kubeconfig')
    return env


def write_secret(path: pathlib.Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write(content)


def chown_tree(path: pathlib.Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for base, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(base, name), uid, gid)


def check_usable_by(user: pwd.struct_passwd, runner: str, pdd: pathlib.Path) -> None:
    """Fail early, with the fix, when the unprivileged user cannot run this ansible-runner (e.g. a venv under /root)
    or cannot reach the private data directory (e.g. below a 0700 directory)."""
    python = pathlib.Path(runner).parent / 'python'
    code = 'import os, sys, ansible_runner, ansible; sys.exit(0 if os.access(sys.argv[1], os.W_OK | os.X_OK) else 3)'
    proc = subprocess.run([str(python), '-c', code, str(pdd)], capture_output=True, text=True, check=False,
                          preexec_fn=drop_to(user), cwd='/', env={'PATH': '/usr/bin:/bin', 'HOME': '/'})
    if proc.returncode == 3:
        raise JobError('user %s cannot write %s; choose --tmp-dir where it can (default: $TMPDIR or /tmp)' % (user.pw_name, pdd))
    if proc.returncode != 0:
        raise JobError('user %s cannot run %s (%s); use a virtualenv it can read, e.g. `make ee-venv` builds .venv-ee from the '
                       'system python3' % (user.pw_name, runner, (proc.stderr.strip().splitlines() or ['?'])[-1]))


def drop_to(user: pwd.struct_passwd):
    def preexec() -> None:
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
        os.setsid()
    return preexec


def read_job_file(path: pathlib.Path) -> str | None:
    """A file the job (maybe another, unprivileged user) wrote; never through a symlink it could have planted."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, encoding='utf-8') as handle:
        return handle.read()


def read_events(artifacts: pathlib.Path, pdd: pathlib.Path) -> dict[str, Any]:
    """Recap, status and where the collection was loaded from, from runner's job events (<counter>-<uuid>.json)."""
    result: dict[str, Any] = {'stats': {}, 'collection_roots': [], 'failed_tasks': [], 'changed_tasks': []}
    roots = set()
    numbered = [p for p in (artifacts / 'job_events').glob('[0-9]*-*.json') if p.name.split('-', 1)[0].isdigit()]
    for path in sorted(numbered, key=lambda p: int(p.name.split('-', 1)[0])):
        text = read_job_file(path)
        if text is None:
            continue
        event = json.loads(text)
        data = event.get('event_data') or {}
        if event.get('event') == 'playbook_on_stats':
            result['stats'] = {key: data.get(key) or {} for key in ('ok', 'changed', 'failures', 'dark', 'skipped', 'rescued', 'ignored')}
        task_path = data.get('task_path') or ''
        marker = '/ansible_collections/kubeseed/cluster/'
        if marker in task_path:
            roots.add(task_path.split(marker, 1)[0] + marker.rstrip('/'))
        if event.get('event') in ('runner_on_failed', 'runner_on_unreachable') and not data.get('ignore_errors'):
            result['failed_tasks'].append('%s: %s' % (data.get('host'), data.get('task')))
        if event.get('event') == 'runner_on_ok' and (data.get('res') or {}).get('changed'):
            result['changed_tasks'].append('%s: %s' % (data.get('host'), data.get('task')))
    result['collection_roots'] = sorted(r.replace(str(pdd), '<pdd>') for r in roots)
    return result


def run_job(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    runner = os.path.abspath(args.runner) if args.runner else shutil.which('ansible-runner')
    if not runner:
        raise JobError('ansible-runner is not installed (make ee-venv, or pip install ansible-runner)')
    galaxy = str(pathlib.Path(runner).parent / 'ansible-galaxy')
    user = pwd.getpwnam(args.run_as) if args.run_as else None
    if user and os.geteuid() != 0:
        raise JobError('--run-as needs root (to drop to that user)')
    extravars: dict[str, Any] = {}
    for item in args.extra_vars:
        path = pathlib.Path(item)
        loaded = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
        if not isinstance(loaded, dict):
            raise JobError('%s: extra vars must be a mapping' % path)
        extravars.update(loaded)
    for item in args.env + args.collection_source:
        if '=' not in item:
            raise JobError('%r: expected NAME=VALUE' % item)
    envvars = dict(item.split('=', 1) for item in args.env)
    sources = dict(item.split('=', 1) for item in args.collection_source)

    pdd = pathlib.Path(tempfile.mkdtemp(prefix='awx_%s_' % args.ident, dir=args.tmp_dir))
    try:
        say('private data directory %s' % pdd, started)
        copy_project(pathlib.Path(args.project), pdd / 'project')
        home = pdd / 'home'
        home.mkdir()
        installed = install_collections(pdd, sources, galaxy, home)
        say('project copied, collections installed: %s' % (', '.join(installed) or 'none'), started)
        env = write_private_data(pdd, pathlib.Path(args.inventory), extravars, pathlib.Path(args.ssh_key) if args.ssh_key else None,
                                 pathlib.Path(args.kubeconfig).expanduser() if args.kubeconfig else None, envvars)
        env.update({'ANSIBLE_COLLECTIONS_PATH': str(pdd / COLLECTIONS), 'ANSIBLE_FORCE_COLOR': 'False', 'ANSIBLE_NOCOLOR': '1',
                    'ANSIBLE_RETRY_FILES_ENABLED': 'False', 'ANSIBLE_SSH_CONTROL_PATH_DIR': str(pdd / 'cp'),
                    'ANSIBLE_LOCAL_TEMP': str(pdd / 'tmp')})
        write_secret(pdd / 'env' / 'envvars', yaml.safe_dump(env))
        # runner's own job timeout (what AWX sets from the job template's timeout): status "timeout", processes killed
        write_secret(pdd / 'env' / 'settings', yaml.safe_dump({'job_timeout': int(args.timeout)}))
        cmdline = build_cmdline(args.user, args.check, args.diff, args.limit, args.verbosity)
        argv = [runner, 'run', str(pdd), '-p', args.playbook, '--inventory', str(pdd / 'inventory'), '--ident', args.ident,
                '--cmdline', shlex.join(cmdline)]
        child_env = {'PATH': '%s:/usr/local/bin:/usr/bin:/bin' % pathlib.Path(runner).parent, 'HOME': str(home),
                     'LANG': 'C.UTF-8', 'LC_ALL': 'C.UTF-8', 'USER': (user or pwd.getpwuid(os.getuid())).pw_name}
        if user:
            chown_tree(pdd, user.pw_uid, user.pw_gid)
            check_usable_by(user, runner, pdd)
        who = user.pw_name if user else 'the current user'
        setup_seconds = time.monotonic() - started
        say('ansible-playbook %s -i inventory -e @env/extravars %s (as %s)' % (' '.join(cmdline), args.playbook, who), started)
        with subprocess.Popen(argv, cwd=str(pdd), env=child_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, preexec_fn=drop_to(user) if user else os.setsid) as proc:
            assert proc.stdout is not None
            # Should runner itself hang past its job_timeout, kill its whole session (ansible-playbook, ssh ...).
            watchdog = threading.Timer(args.timeout + 60, os.killpg, (proc.pid, signal.SIGKILL))
            watchdog.daemon = True
            watchdog.start()
            tail: list[str] = []
            for line in proc.stdout:
                tail = (tail + [line])[-40:]
                if args.quiet:
                    if line.startswith(('PLAY [', 'TASK [', 'PLAY RECAP')):
                        say(line.strip().rstrip('*').strip(), started)
                else:
                    sys.stdout.write(line)
            proc.wait()
            watchdog.cancel()
        artifacts = pdd / 'artifacts' / args.ident
        status, rc = read_job_file(artifacts / 'status'), read_job_file(artifacts / 'rc')
        summary = {'status': status.strip() if status else 'error',
                   'rc': int(rc) if rc and rc.strip().lstrip('-').isdigit() else proc.returncode,
                   'playbook': args.playbook, 'cmdline': cmdline, 'run_as': user.pw_name if user else None,
                   'seconds': round(time.monotonic() - started, 1), 'setup_seconds': round(setup_seconds, 1)}
        summary.update(read_events(artifacts, pdd))
        if args.keep:
            summary['private_data_dir'] = str(pdd)
        if args.quiet and summary['status'] != 'successful':
            sys.stderr.write(''.join(tail))
        summary['changed_total'] = sum(summary['stats'].get('changed', {}).values())
        say('job %s: %s, changed=%d in %.0fs' % (args.ident, summary['status'], summary['changed_total'], summary['seconds']), started)
        return summary
    finally:
        if args.keep:
            say('kept %s' % pdd, started)
        else:
            shutil.rmtree(pdd, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--project', required=True, help='the AWX project (an SCM checkout; .git is not copied)')
    parser.add_argument('--playbook', required=True, help='playbook path inside the project')
    parser.add_argument('--inventory', required=True, help='inventory file or directory (copied to <pdd>/inventory)')
    parser.add_argument('--extra-vars', action='append', default=[], help='YAML file of extra vars / survey answers (repeatable)')
    parser.add_argument('--kubeconfig', help='kubeconfig credential: injected as a file, K8S_AUTH_KUBECONFIG points at it')
    parser.add_argument('--ssh-key', help='machine credential private key (<pdd>/env/ssh_key, loaded into ssh-agent by runner)')
    parser.add_argument('--env', action='append', default=[], help='NAME=VALUE environment variable of the job (repeatable)')
    parser.add_argument('--collection-source', action='append', default=[],
                        help='NAME=PATH: install collection NAME of collections/requirements.yml from a tarball or directory')
    parser.add_argument('--user', help='the machine credential user (-u); none without a machine credential')
    parser.add_argument('--check', action='store_true', help='job type check')
    parser.add_argument('--diff', action='store_true', help='show changes')
    parser.add_argument('--limit', default='', help='limit')
    parser.add_argument('-v', '--verbose', dest='verbosity', action='count', default=0, help='verbosity (-v ... -vvvvv, as AWX 1-5)')
    parser.add_argument('--run-as', help='run the job as this unprivileged user (needs root), like the uid 1000 of an EE')
    parser.add_argument('--runner', help='ansible-runner executable (default: the one on PATH)')
    parser.add_argument('--ident', default='1', help='job id (names the private data directory and artifacts)')
    parser.add_argument('--tmp-dir', default=None, help='where private data directories are created (default: $TMPDIR)')
    parser.add_argument('--timeout', type=int, default=3600, help='job timeout in seconds (runner job_timeout)')
    parser.add_argument('--summary', help='also write the JSON summary to this file')
    parser.add_argument('--keep', action='store_true', help='keep the private data directory')
    parser.add_argument('--quiet', action='store_true', help='print only play/task names with elapsed time, not the job output')
    args = parser.parse_args(argv)
    try:
        summary = run_job(args)
    except JobError as exc:
        print('awx_job: %s' % exc, file=sys.stderr)
        return 2
    line = json.dumps(summary, sort_keys=True)
    print(line)
    if args.summary:
        pathlib.Path(args.summary).write_text(line + '\n', encoding='utf-8')
    return 0 if summary['status'] == 'successful' else 1


if __name__ == '__main__':
    sys.exit(main())
