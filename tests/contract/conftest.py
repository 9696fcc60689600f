"""Helpers for the contract tests: they run the real ansible-playbook from the project venv."""
from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope='session')
def root() -> pathlib.Path:
    return ROOT


@pytest.fixture(scope='session')
def playbook():
    """Run ansible-playbook in the checkout; ssh is replaced by /bin/false so no host is ever contacted."""
    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        environ = dict(os.environ)
        environ.update({
            'ANSIBLE_COLLECTIONS_PATH': str(ROOT / '.ansible' / 'collections'),
            'ANSIBLE_SSH_EXECUTABLE': '/bin/false',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_FORCE_COLOR': '0',
        })
        environ.update(env or {})
        return subprocess.run([str(ROOT / '.venv' / 'bin' / 'ansible-playbook'), *args], cwd=ROOT, env=environ,
                              capture_output=True, text=True, timeout=300, check=False)
    return run
