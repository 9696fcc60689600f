#!/usr/bin/env bash
# Create or refresh a project virtualenv from a pinned requirements file.
# Usage: scripts/venv.sh <venv-dir> <python> <requirements-file>
# A stamp holding the requirements' hash makes a second call a no-op.
set -euo pipefail
venv=$1 python=$2 req=$3
# The stamp covers the file and the files it includes (-r/-c lines, relative to it).
includes=$(sed -n 's/^-[rc][[:space:]]*//p' "$req" | sed "s|^|$(dirname "$req")/|")
# shellcheck disable=SC2086  # $includes is a list of paths without spaces
want=$(cat "$req" $includes | sha256sum | cut -d' ' -f1)-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
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
