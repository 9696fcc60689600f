#!/usr/bin/env bash
# Print the path of a working python interpreter of the given minor version (e.g. 3.12),
# looking on PATH and in pyenv's versions folder; print nothing if there is none.
set -uo pipefail
minor=$1
candidates=("python$minor")
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for d in "$root"/versions/"$minor"*/bin/python"$minor"; do
  candidates+=("$d")
done
for c in "${candidates[@]}"; do
  if out=$("$c" -c 'import sys; print("%d.%d" % sys.version_info[:2], sys.executable)' 2>/dev/null) && [ "${out%% *}" = "$minor" ]; then
    echo "${out#* }"
    exit 0
  fi
done
exit 0
