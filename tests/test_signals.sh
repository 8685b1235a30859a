#!/usr/bin/env bash
# test_signals.sh — SIGINT, SIGTERM and SIGUSR1 sent while a run trains: exit
# 130/143/138, the run's checkpoint and summary.csv written, no temporary or
# lock file left, no CSV of the stopped run; the same command then resumes and
# every CSV is byte-identical (--no-timing) to an uninterrupted sweep's. A
# double SIGINT exits at once, leaving no temporary, lock or partial CSV, and
# the rerun is identical too. Each signal is sent once training is under way
# (the first checkpoint file exists), not after a fixed sleep; every wait is
# bounded. Needs MNIST in $LQA_DATA_DIR/mnist (default data/mnist).
set -u
cd "$(dirname "$0")/.."
BIN=${LQA_BIN:-./lqabench}
DATA=${LQA_DATA_DIR:-$PWD/data}
T=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2> /dev/null; rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

if [ ! -e "$DATA/mnist/train-images-idx3-ubyte.gz" ] && [ ! -e "$DATA/mnist/train-images-idx3-ubyte" ]; then
  echo "test_signals: no MNIST in $DATA/mnist" >&2
  echo "test_signals: 0 passed, 1 failed"
  exit 1
fi

# two runs of 3,000 steps of a narrow MLP each (about 1.5 s of CPU): a signal
# sent at the first checkpoint (step 500) lands inside the first run
echo '{"name":"sig","model":"mlp","width":128,"dataset":"mnist","data_dir":"'"$DATA"'/mnist","batch_size":32,
 "train_limit":3200,"test_limit":200,"eval_every":500,"steps":3000,"checkpoint_every":500,
 "optimizers":[{"name":"adam","lr":0.001},{"name":"sgd-m","lr":0.01}]}' > "$T/c.json"
run() { "$BIN" --config "$T/c.json" --output-dir "$1" --threads 1 --no-timing --quiet; }
run "$T/ref" > /dev/null 2> "$T/err" || { bad "reference sweep: $(cat "$T/err")"; }

# Start the sweep into $1, wait (at most 120 s) for its first checkpoint.
start() {
  "$BIN" --config "$T/c.json" --output-dir "$1" --threads 1 --no-timing --quiet > /dev/null 2> "$T/err" &
  pid=$!
  for _ in $(seq 1200); do
    ls "$1"/*.ckpt > /dev/null 2>&1 && return 0
    kill -0 $pid 2> /dev/null || break
    sleep 0.1
  done
  return 1
}

# Wait (at most 120 s) for the sweep to exit; its status in $rc (999: had to be killed).
finish() {
  rc=999
  for _ in $(seq 1200); do
    kill -0 $pid 2> /dev/null || break
    sleep 0.1
  done
  kill -0 $pid 2> /dev/null && kill -9 $pid 2> /dev/null
  wait $pid 2> /dev/null
  local s=$?
  [ $s != 137 ] && rc=$s
  pid=
}

leftovers() { ls "$1" | grep -E '\.tmp\.|\.lock$' ; }

# The rerun: exit 0, resumed or run, every CSV as the reference's, nothing left.
resumed_identical() { # dir what
  run "$1" > /dev/null 2> "$T/err2"
  local r=$?
  check "$2: rerun exits 0 (got $r: $(cat "$T/err2"))" test $r = 0
  for f in "$T/ref"/*.csv; do
    check "$2: $(basename "$f") identical to the uninterrupted sweep's" cmp -s "$f" "$1/$(basename "$f")"
  done
  local left
  left=$(ls "$1" | grep -E '\.tmp\.|\.lock$|\.ckpt$')
  check "$2: after the rerun, leftovers: $left" test -z "$left"
}

for s in INT:130 TERM:143 USR1:138; do
  sig=${s%%:*} code=${s##*:}
  out=$T/$sig
  if ! start "$out"; then bad "$sig: no checkpoint appeared: $(cat "$T/err")"; finish; continue; fi
  kill -s "$sig" $pid
  finish
  check "SIG$sig: exit $code (got $rc)" test "$rc" = "$code"
  check "SIG$sig: says so" grep -q "stopped by SIG$sig" "$T/err"
  check "SIG$sig: checkpoint written" sh -c "ls '$out'/*.ckpt > /dev/null 2>&1"
  check "SIG$sig: summary.csv written" test -s "$out/summary.csv"
  left=$(leftovers "$out")
  check "SIG$sig: temporaries or locks left: $left" test -z "$left"
  for c in "$out"/*.steps.csv; do
    [ -e "$c" ] || continue
    check "SIG$sig: $(basename "$c") without its .json" test -e "${c%.steps.csv}.json"
  done
  resumed_identical "$out" "SIG$sig"
  check "SIG$sig: the rerun resumed from the checkpoint" grep -q "resuming from its checkpoint" "$T/err2"
done

# Double SIGINT: the second exits at once. SIGINT is sent again and again until
# the process is gone (two signals sent once each may arrive as one, and a
# graceful stop of this small model takes milliseconds), so a second one lands
# while the first stop is under way. Three trials; whichever
# path a trial takes, nothing may be left behind.
at_once=0
for k in 1 2 3; do
  out=$T/int2-$k
  if ! start "$out"; then bad "double SIGINT $k: no checkpoint appeared"; finish; continue; fi
  n=0
  while [ $n -lt 200000 ] && kill -s INT $pid 2> /dev/null; do n=$((n + 1)); done
  finish
  check "double SIGINT $k: exit 130 (got $rc)" test "$rc" = 130
  grep -q "stopped by SIGINT" "$T/err" || at_once=$((at_once + 1))
  left=$(leftovers "$out")
  check "double SIGINT $k: temporaries or locks left: $left" test -z "$left"
  for c in "$out"/*.csv; do
    [ -e "$c" ] || continue
    case $c in */summary.csv) continue ;; esac
    check "double SIGINT $k: $(basename "$c") without its .json" test -e "${c%.*.csv}.json"
  done
  resumed_identical "$out" "double SIGINT $k"
done
check "a double SIGINT exited at once in at least one of 3 trials ($at_once)" test $at_once -ge 1

echo "test_signals: $pass passed, $fail failed"
[ $fail = 0 ]
