#!/usr/bin/env bash
# The whole test suite, tier by tier (what `make test` and CI run). Every tier runs even when
# an earlier one failed (except those that need a failed one), then a summary and the exit code.
# KUBESEED_TEST_TIERS="static compat bundle lab e2e" selects tiers (default: all of them).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
export PATH=$root/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$root/.ansible/collections
tiers=${KUBESEED_TEST_TIERS:-static compat bundle lab e2e}
passed=0 failed=0 failures=() skipped=()
table=()  # "tier status seconds" per step, printed as one table at the end
suite_start=$SECONDS

want() { [[ " $tiers " == *" $1 "* ]]; }
step() {
  local name=$1; shift
  local start=$SECONDS
  echo "=== [test] $name: $*"
  # the step's output also goes to tests/output/step-<name>.log: a failed step's failing tests are repeated after the table
  mkdir -p "$root/tests/output"
  if PYTHONUNBUFFERED=1 "$@" 2>&1 | tee "$root/tests/output/step-$name.log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    passed=$((passed + 1)); echo "=== [test] $name: passed in $((SECONDS - start))s (suite at $((SECONDS - suite_start))s)"
    table+=("$name passed $((SECONDS - start))")
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=== [test] $name: FAILED after $((SECONDS - start))s"
    table+=("$name FAILED $((SECONDS - start))")
  fi
}
# pytest suites import the collection as ansible_collections.kubeseed.cluster (tests/contract, tests/integration).
pytest_run() { PYTHONPATH=$root/.ansible/collections${PYTHONPATH:+:$PYTHONPATH} python -m pytest -p no:cacheprovider -q "$@"; }

if want static; then
  step yamllint yamllint --strict .
  step ansible-lint ansible-lint --offline --profile production
  step sanity scripts/ansible-test.sh .venv sanity --venv --color no
  step units scripts/ansible-test.sh .venv units --venv --color no --python 3.11
  step docs scripts/docs-check.sh .venv
  step execution-environment scripts/ee-check.sh .venv
  step contract pytest_run tests/contract
  # tools/awx/awx_job.py (AWX-style jobs): its pieces and one real local job through ansible-runner
  step awx-tool pytest_run tests/tools/awx
  # the pure unit tests of the lab and bundle tools need neither root, the bundle nor a lab: they run here, not after the Go build
  step tool-units pytest_run tests/tools/lab/test_lab_unit.py tests/tools/bundle/test_builder_unit.py
  step molecule bash -c 'cd extensions && molecule test -s preflight'
  # the new-user corpora: plausible mistakes, each with what the user meant (prints "N passed, N failed")
  step corpus python tests/corpus/run.py
  step changelog antsibull-changelog lint
fi
# compat (sanity + units on the newest ansible-core, CPU-bound, ~80 s) runs in the background while the bundle, lab and
# e2e tiers run (mostly waiting on real clusters): its output goes to tests/output/compat.log, printed when it is done.
compat_pid=''
upgrade_from_pid=''
if want compat; then
  mkdir -p tests/output
  if want e2e || want lab || want bundle; then
    echo "=== [test] compat: started in the background (log: tests/output/compat.log)"
    rm -f tests/output/compat.rc  # never a previous run's result
    ( start=$SECONDS; make --no-print-directory compat >tests/output/compat.log 2>&1; rc=$?
      echo "$rc $((SECONDS - start))" >tests/output/compat.rc ) &
    compat_pid=$!
  else
    step compat make --no-print-directory compat
  fi
fi
bundle_ok=1
if want bundle; then
  step bundle-build make --no-print-directory bundle || true
  [[ " ${failures[*]} " == *" bundle-build "* ]] && bundle_ok=0
  # the previous minor's bundle, which the upgrade e2e (tests/e2e/test_lifecycle.py) starts from
  if [ $bundle_ok = 1 ] && want e2e; then
    # the previous minor's bundle, for the upgrade e2e only: built beside the tiers up to the e2e and the e2e modules
    # before the upgrade's (they only read the default bundle), so a cold run does not wait for it alone
    mkdir -p tests/output
    rm -f tests/output/bundle-upgrade-from.rc  # never a previous run's result
    echo "=== [test] bundle-upgrade-from: started in the background (log: tests/output/bundle-upgrade-from.log)"
    # niced: the tiers and e2e modules beside it go first, it takes what CPU they leave
    ( start=$SECONDS; nice -n 10 make --no-print-directory bundle-upgrade-from >tests/output/bundle-upgrade-from.log 2>&1; rc=$?
      echo "$rc $((SECONDS - start))" >tests/output/bundle-upgrade-from.rc ) &
    upgrade_from_pid=$!
  fi
  if [ $bundle_ok = 1 ]; then
    step bundle-tests pytest_run tests/tools/bundle --deselect tests/tools/bundle/test_builder_unit.py
    step localcp pytest_run tests/tools/localcp
    # the tests that run the bundle's kubeadm (a real PKI renewed) and etcd (saved and restored on loopback); the unit tier
    # runs them too, through ansible-test, which skips them when the bundle is not built yet (a cold CI run)
    step day2-real pytest_run tests/unit/plugins/module_utils/test__kubeadm_certs.py tests/unit/plugins/module_utils/test__etcd.py
    # the microservices module and role against a real kube-apiserver (the local control plane)
    step apps-integration pytest_run tests/integration
  else
    skipped+=("bundle-tests" "localcp" "day2-real" "apps-integration")
  fi
fi
for tier in lab e2e; do
  want $tier || continue
  if [ $bundle_ok = 0 ]; then
    skipped+=("$tier")
  elif [ $tier = lab ]; then
    step lab pytest_run tests/tools/lab/test_lab_e2e.py
  else
    # site.yml on bare lab hosts, its re-run and check mode, then real pod traffic across nodes; the seconds of each test
    # (and of its lab set-up) are listed at the end (what the CI budget is spent on)
    # While the background build of the previous minor's bundle runs, only tests/e2e/test_lifecycle.py (the upgrade)
    # waits for it, through the file it writes at its end; the modules before it run meanwhile.
    if [ -n "$upgrade_from_pid" ]; then export KUBESEED_UPGRADE_FROM_RC="$PWD/tests/output/bundle-upgrade-from.rc"; fi
    step e2e-cluster pytest_run -s --durations=0 --durations-min=5 tests/e2e
    if [ -n "$upgrade_from_pid" ]; then
      echo "=== [test] bundle-upgrade-from (background) output:"
      wait "$upgrade_from_pid"; upgrade_from_pid=
      cat tests/output/bundle-upgrade-from.log
      read -r up_rc up_seconds <tests/output/bundle-upgrade-from.rc || { up_rc=1; up_seconds=0; }
      if [ "$up_rc" = 0 ]; then
        passed=$((passed + 1)); table+=("bundle-upgrade-from(background) passed $up_seconds")
      else
        failed=$((failed + 1)); failures+=("bundle-upgrade-from"); table+=("bundle-upgrade-from(background) FAILED $up_seconds")
      fi
    fi
  fi
done

if [ -n "$compat_pid" ]; then
  wait "$compat_pid"
  echo "=== [test] compat (background) output:"; cat tests/output/compat.log
  read -r compat_rc compat_seconds <tests/output/compat.rc || { compat_rc=1; compat_seconds=0; }
  if [ "$compat_rc" = 0 ]; then
    passed=$((passed + 1)); table+=("compat(background) passed $compat_seconds")
  else
    failed=$((failed + 1)); failures+=("compat"); table+=("compat(background) FAILED $compat_seconds")
  fi
fi

echo "=== [test] finished in $((SECONDS - suite_start))s"
# One table of the tiers with their seconds, also written to tests/output/tiers.txt (see docs/testing.md).
mkdir -p tests/output
{
  printf '%-32s %-8s %8s\n' tier status seconds
  for row in "${table[@]}"; do
    read -r t st sec <<<"$row"
    printf '%-32s %-8s %8s\n' "$t" "$st" "$sec"
  done
  for t in "${skipped[@]}"; do printf '%-32s %-8s %8s\n' "$t" 'not run' '-'; done
  printf '%-32s %-8s %8s\n' total '' "$((SECONDS - suite_start))"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u '+%Y-%m-%d %H:%M UTC'), CI=${CI:-}"
} | tee tests/output/tiers.txt
# what failed, in a few lines per failed step (the end of a CI log is often all that is kept): pytest's FAILED/ERROR lines
# and ansible-test's ERROR: lines, else the step's last lines
for name in "${failures[@]}"; do
  log=tests/output/step-$name.log
  [ -f "$log" ] || continue
  lines=$(grep -E '^(FAILED|ERROR)[ :]' "$log" | head -n 6)
  [ -n "$lines" ] || lines=$(tail -n 4 "$log")
  printf '%s\n' "$lines" | cut -c1-240 | sed "s/^/=== [test] $name: /"
done
[ ${#failures[@]} -eq 0 ] || echo "=== [test] failed: ${failures[*]}"
[ ${#skipped[@]} -eq 0 ] || echo "=== [test] not run (they need a failed tier): ${skipped[*]}"
echo "tiers: $passed passed, $((failed + ${#skipped[@]})) failed"
[ "$failed" -eq 0 ] && [ ${#skipped[@]} -eq 0 ]
