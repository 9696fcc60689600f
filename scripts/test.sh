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
# A step beside the others: bg_start NAME LOG COMMAND... runs it in the background (output in LOG, "<rc> <seconds>" in
# tests/output/NAME.rc at its end, never a previous run's); bg_collect NAME LABEL waits for it, prints its output and
# gives it a row NAME(LABEL) like a step's (a failed one's lines are repeated after the table).
declare -A bg_pid bg_log
bg_start() {
  local name=$1 log=$2; shift 2
  mkdir -p tests/output
  rm -f "tests/output/$name.rc"
  echo "=== [test] $name: started in the background (log: $log)"
  ( start=$SECONDS; PYTHONUNBUFFERED=1 "$@" >"$log" 2>&1; rc=$?
    echo "$rc $((SECONDS - start))" >"tests/output/$name.rc.tmp" && mv "tests/output/$name.rc.tmp" "tests/output/$name.rc" ) &
  bg_pid[$name]=$! bg_log[$name]=$log
}
bg_collect() {
  local name=$1 label=$2 rc seconds
  wait "${bg_pid[$name]}"
  echo "=== [test] $name ($label) output:"; cat "${bg_log[$name]}"
  read -r rc seconds <"tests/output/$name.rc" || { rc=1; seconds=0; }
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1)); table+=("$name($label) passed $seconds")
  else
    failed=$((failed + 1)); failures+=("$name"); table+=("$name($label) FAILED $seconds")
    [ "${bg_log[$name]}" = "tests/output/step-$name.log" ] || cp "${bg_log[$name]}" "tests/output/step-$name.log"
  fi
  return "$rc"
}

# The bundle build (minutes of Go builds on a cold machine, a second on a warm one) starts beside the static tier, which
# leaves a core idle most of the time; the bundle tier waits for it.
if want bundle; then bg_start bundle-build tests/output/step-bundle-build.log make --no-print-directory bundle; fi
if want static; then
  step yamllint yamllint --strict .
  step ansible-lint ansible-lint --offline --profile production
  # sanity (ansible-test on its own copy of the checkout, one core) beside the other static steps
  bg_start sanity tests/output/step-sanity.log scripts/ansible-test.sh .venv sanity --venv --color no
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
  bg_collect sanity beside-static || true
fi
# compat (sanity + units on the newest ansible-core, CPU-bound, ~80 s) runs in the background while the bundle, lab and
# e2e tiers run (mostly waiting on real clusters): its output goes to tests/output/compat.log, printed when it is done.
compat_bg=''
upgrade_from_bg=''
if want compat; then
  if want e2e || want lab || want bundle; then
    bg_start compat tests/output/compat.log make --no-print-directory compat; compat_bg=1
  else
    step compat make --no-print-directory compat
  fi
fi
bundle_ok=1
if want bundle; then
  bg_collect bundle-build beside-static || bundle_ok=0
  if [ $bundle_ok = 1 ] && want e2e; then
    # the previous minor's bundle, for the upgrade e2e only (tests/e2e/test_lifecycle.py starts from it): built beside the
    # tiers up to the e2e and the e2e modules before the upgrade's (they only read the default bundle), so a cold run does
    # not wait for it alone; niced: the tiers and e2e modules beside it go first, it takes what CPU they leave
    bg_start bundle-upgrade-from tests/output/bundle-upgrade-from.log nice -n 10 make --no-print-directory bundle-upgrade-from
    upgrade_from_bg=1
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
    if [ -n "$upgrade_from_bg" ]; then export KUBESEED_UPGRADE_FROM_RC="$PWD/tests/output/bundle-upgrade-from.rc"; fi
    if [ "${KUBESEED_E2E_SERIAL:-}" = 1 ]; then
      step e2e-cluster pytest_run -s --durations=0 --durations-min=5 tests/e2e
    else
      # the 3-control-plane module on a lab of its own (tools/lab --name ha, another bridge and subnet) in a pytest process
      # beside the modules of the 1 + 2 lab: most of an e2e test is waiting on a cluster, so the two topologies overlap
      # (KUBESEED_E2E_SERIAL=1: one after the other, on the default lab)
      bg_start e2e-ha tests/output/e2e-ha.log env KUBESEED_LAB_NAME=ha KUBESEED_LAB_SUBNET=10.118.0.0/24 \
        PYTHONPATH="$root/.ansible/collections${PYTHONPATH:+:$PYTHONPATH}" python -m pytest -p no:cacheprovider -q -s \
        --durations=0 --durations-min=5 --basetemp="$root/tests/output/e2e-ha-tmp" tests/e2e/test_control_plane_join.py
      step e2e-cluster pytest_run -s --durations=0 --durations-min=5 --ignore=tests/e2e/test_control_plane_join.py tests/e2e
      bg_collect e2e-ha beside-e2e-cluster || true
    fi
    if [ -n "$upgrade_from_bg" ]; then bg_collect bundle-upgrade-from background || true; fi
  fi
done

if [ -n "$compat_bg" ]; then bg_collect compat background || true; fi

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
