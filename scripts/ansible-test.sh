#!/usr/bin/env bash
# Run ansible-test against a copy of this checkout laid out as
# <tmp>/ansible_collections/kubeseed/cluster (ansible-test requires that layout).
# Usage: scripts/ansible-test.sh <venv-dir> <ansible-test arguments...>
# It also writes the offline stand-in for ansible-test's get-pip download (see
# scripts/get_pip_standin.py): fresh machines lack it and the real one is unreachable.
set -euo pipefail
venv=$(cd "$1" && pwd); shift
root=$(cd "$(dirname "$0")/.." && pwd)

pip_version=$("$venv/bin/python" - <<'PY'
import os
import re

import ansible_test

path = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
with open(path, encoding='utf-8') as handle:
    print(re.search(r"pip='([0-9.]+)'", handle.read()).group(1))
PY
)
mkdir -p "$HOME/.ansible/test/cache"
# A temporary file renamed into place: CI runs two ansible-tests at once (sanity and compat), and two `install`s of
# the same path raced ("cannot create regular file ...: File exists").
standin=$(mktemp "$HOME/.ansible/test/cache/.get_pip.XXXXXX")
install -m 0644 "$root/scripts/get_pip_standin.py" "$standin"
mv -f "$standin" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kubeseed-ansible-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/ansible_collections/kubeseed/cluster
mkdir -p "$dest"
# Only what git tracks or would track (not ignored), and only files that still exist.
(cd "$root" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -xf - -C "$dest"
# ansible-test decides what to check from git: make the copy a repository of its own.
git -C "$dest" init -q && git -C "$dest" add -A

# Real interpreters only: pyenv shims on PATH answer for versions that are not installed.
pybin=$tmp/python-bin
mkdir -p "$pybin"
for minor in 3.8 3.9 3.10 3.11 3.12 3.13 3.14; do
  if p=$("$root/scripts/find-python.sh" "$minor") && [ -n "$p" ]; then
    ln -s "$p" "$pybin/python$minor"
  fi
done
cd "$dest"
PATH="$venv/bin:$pybin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$venv/bin/ansible-test" "$@"
