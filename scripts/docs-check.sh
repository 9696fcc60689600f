#!/usr/bin/env bash
# Build the collection tarball, install it offline into an empty collections path, and run
# ansible-doc on every module and role from the installed copy (what users get from Galaxy).
# Usage: scripts/docs-check.sh <venv-dir>
set -euo pipefail
# Only the installed copy may be importable (a PYTHONPATH to the checkout hides it from ansible-galaxy and ansible-builder).
unset PYTHONPATH
venv=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kubeseed-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS

"$venv/bin/ansible-galaxy" collection build "$root" --output-path "$tmp/dist" >/dev/null
tarball=$(ls "$tmp"/dist/kubeseed-cluster-*.tar.gz)
echo "[docs] built $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
# Nothing from the checkout may leak in: an empty collections path and a fresh ANSIBLE_HOME.
export ANSIBLE_HOME=$tmp/home ANSIBLE_COLLECTIONS_PATH=$tmp/collections ANSIBLE_NOCOLOR=1
"$venv/bin/ansible-galaxy" collection install --offline -p "$tmp/collections" "$tarball" >/dev/null
"$venv/bin/ansible-galaxy" collection list -p "$tmp/collections" kubeseed.cluster | grep -q 'kubeseed.cluster'

count=0
for f in "$root"/plugins/modules/*.py; do
  name=kubeseed.cluster.$(basename "$f" .py)
  out=$("$venv/bin/ansible-doc" -t module "$name")
  grep -q "$name" <<<"$out" || { echo "[docs] ansible-doc -t module $name printed no documentation"; exit 1; }
  count=$((count + 1))
done
for d in "$root"/roles/*/; do
  name=kubeseed.cluster.$(basename "$d")
  out=$("$venv/bin/ansible-doc" -t role "$name")
  grep -q 'ENTRY POINT:.*main' <<<"$out" || { echo "[docs] ansible-doc -t role $name shows no main entry point"; exit 1; }
  count=$((count + 1))
done
# The tarball must carry no generated or secret material from a working tree.
if tar -tzf "$tarball" | grep -E '(^|/)(\.venv|\.ansible|inventories/lab(-[a-z0-9]+)?|tests/output)(/|$)'; then
  echo "[docs] the tarball contains files that must not ship"; exit 1
fi
echo "[docs] ansible-doc ok for $count modules and roles from the installed tarball in $((SECONDS - start))s"
