# lib.sh — what the shell tests share; each starts with
#     source "$(dirname "$0")/lib.sh"
# and ends with lib_done. It sets -u, moves to the repository root, names the binary ($BIN:
# $LQA_BIN, default ./lqabench) and the data directory ($DATA: $LQA_DATA_DIR, default data/),
# makes a scratch directory $T removed on exit (a test with its own EXIT trap removes it there),
# and keeps the counts of check / ok / bad.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${LQA_BIN:-./lqabench}
DATA=${LQA_DATA_DIR:-$PWD/data}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# check DESCRIPTION COMMAND...: one check, passed when COMMAND succeeds
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
# the closing line "<test>: N passed, M failed"; the status is the test's
lib_done() { echo "$(basename "$0" .sh): $pass passed, $fail failed"; [ "$fail" = 0 ]; }
