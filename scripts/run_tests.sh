#!/usr/bin/env bash
# run_tests.sh — run every test and print one closing line "tests: N passed, M failed".
#   build/tests/test_*          unit tests (C; $LQA_BUILD/tests with LQA_BUILD set)
#   tests/test_*.sh             end-to-end tests of the command line
#   build-asan/tests/test_*     the unit tests under ASan+UBSan (unless LQA_SKIP_ASAN=1)
#   tests/torch_*.py            PyTorch cross-checks (unless LQA_SKIP_TORCH=1)
# Each test prints "<name>: N passed, M failed" and exits non-zero on failure.
# LQA_TEST=NAME (make test T=NAME): only the C unit test NAME, in every binary
# whose --list names it (and under ASan unless LQA_SKIP_ASAN=1); nothing else.
set -u
cd "$(dirname "$0")/.."
total_pass=0 total_fail=0 broken=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() { # name command...
  local name=$1; shift
  local t0=$SECONDS
  "$@" > "$log" 2>&1
  local rc=$?
  local line
  line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  local p f
  p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  [ -z "$line" ] && p=0 f=1
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
  printf '%-32s %5s passed %3s failed  %4ss\n' "$name" "$p" "$f" $((SECONDS - t0))
  if [ "$f" != 0 ]; then
    broken+=("$name")
    sed 's/^/    /' "$log" | grep -v ': [0-9]* passed' | tail -40
  fi
}

if [ -n "${LQA_TEST:-}" ]; then
  found=0
  for t in "${LQA_BUILD:-build}"/tests/test_* build-asan/tests/test_*; do
    [ -x "$t" ] || continue
    case $t in build-asan/*) [ "${LQA_SKIP_ASAN:-0}" = 1 ] && continue ;; esac
    "$t" --list | grep -qxF "$LQA_TEST" || continue
    found=1
    run "$t $LQA_TEST" "$t" "$LQA_TEST"
  done
  [ "$found" = 1 ] || { echo "run_tests: no unit test named \"$LQA_TEST\" (see build/tests/test_* --list)" >&2; exit 1; }
  echo "tests: $total_pass passed, $total_fail failed"
  [ "$total_fail" = 0 ]
  exit
fi
for t in "${LQA_BUILD:-build}"/tests/test_*; do [ -x "$t" ] && run "$(basename "$t")" "$t"; done
for t in tests/test_*.sh; do run "$(basename "$t" .sh)" bash "$t"; done
if [ "${LQA_SKIP_ASAN:-0}" != 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  for t in build-asan/tests/test_*; do [ -x "$t" ] && run "asan/$(basename "$t")" "$t"; done
  [ -x build-asan/lqabench ] && run "asan/test_cli" env LQA_BIN=build-asan/lqabench bash tests/test_cli.sh
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi
if [ "${LQA_SKIP_TORCH:-0}" != 1 ]; then
  bash scripts/setup.sh torch >/dev/null || { echo "cannot install python3-torch" >&2; exit 1; }
  # PyTorch's Linear and conv layers call the same OpenBLAS as lqabench. Pin both
  # sides to one sgemm kernel so that they sum in the same order: the tolerances
  # in the torch_*.py scripts were measured that way. (With different kernels the
  # MLP trajectories separate at the 1e-4 level after 20-90 steps, exactly as a
  # one-ulp perturbation of the initial weights does — rounding, not a bug.)
  export OPENBLAS_CORETYPE=${LQA_TORCH_CORETYPE:-Prescott}
  for t in tests/torch_*.py; do [ -f "$t" ] && run "$(basename "$t" .py)" /usr/bin/python3 "$t"; done
fi
[ ${#broken[@]} -gt 0 ] && echo "failing: ${broken[*]}"
echo "tests: $total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
