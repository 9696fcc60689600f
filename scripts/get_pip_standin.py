# Offline stand-in for the get-pip bootstrap script that ansible-test downloads.
# ansible-test runs it as `python get_pip_<version>.py <pip options> pip==<version> ...`
# inside a fresh virtualenv; the real script lives on a host this machine cannot reach.
# This one bootstraps pip from the interpreter's bundled wheel (ensurepip) and then lets
# that pip install the requested packages from the package index.
from __future__ import annotations

import subprocess
import sys

DROPPED = {'--no-setuptools', '--no-wheel'}


def main() -> int:
    """Bootstrap pip, then install what ansible-test asked for."""
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'])
    args = [arg for arg in sys.argv[1:] if arg not in DROPPED]
    return subprocess.call([sys.executable, '-m', 'pip', 'install'] + args)


if __name__ == '__main__':
    sys.exit(main())
