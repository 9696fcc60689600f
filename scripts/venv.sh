#!/usr/bin/env bash
# Create or refresh a project virtualenv from a pinned requirements file.
# Usage: scripts/venv.sh <venv-dir> <python> <requirements-file>
# A stamp holding the requirements' hash makes a second call a no-op.
set -euo pipefail
venv=$1 python=$2 req=$3
want=$(sha256sum "$req" | cut -d' ' -f1)-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -f "$venv/.kubeseed-stamp" ] && [ "$(cat "$venv/.kubeseed-stamp")" = "$want" ]; then
  exit 0
fi
echo "[venv] creating $venv from $req with $python"
start=$SECONDS
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$venv/.kubeseed-stamp"
echo "[venv] ready in $((SECONDS - start))s"
