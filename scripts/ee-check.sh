#!/usr/bin/env bash
# The execution environment definitions are usable: `ansible-builder create` on the shipped
# execution-environment.yml writes a build context, and `ansible-builder introspect` on the
# installed collection lists our Python and system dependencies (meta/execution-environment.yml).
# No image is built (no container engine here).
# Usage: scripts/ee-check.sh <venv-dir>
set -euo pipefail
# Only the installed copy may be importable (a PYTHONPATH to the checkout hides it from ansible-galaxy and ansible-builder).
unset PYTHONPATH
venv=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kubeseed-ee.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && "$venv/bin/ansible-builder" create -f "$root/execution-environment.yml" -c "$tmp/context" >/dev/null)
test -f "$tmp/context/Dockerfile"
grep -q 'kubeseed.cluster' "$tmp/context/_build/requirements.yml"
grep -q 'kubernetes' "$tmp/context/_build/requirements.txt"
echo "[ee] ansible-builder create: build context written"

"$venv/bin/ansible-galaxy" collection build "$root" --output-path "$tmp/dist" >/dev/null
ANSIBLE_HOME=$tmp/home ANSIBLE_COLLECTIONS_PATH=$tmp/collections "$venv/bin/ansible-galaxy" collection install --offline -p "$tmp/collections" "$tmp"/dist/*.tar.gz >/dev/null
out=$("$venv/bin/ansible-builder" introspect "$tmp/collections")
for dep in 'kubernetes>=29.0.0' 'jsonschema>=4.18.0' 'openssh-client'; do
  grep -qF "$dep" <<<"$out" || { echo "[ee] introspect does not list $dep:"; echo "$out"; exit 1; }
done
echo "[ee] ansible-builder introspect lists: kubernetes, jsonschema, openssh-client"
