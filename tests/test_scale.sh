#!/usr/bin/env bash
# test_scale.sh — one sweep, many processes (issue 7), end to end:
#   - a small sweep run three ways — one process; four processes through GNU
#     parallel (one --run per job); two --shard processes started together —
#     and through scripts/slurm_sweep.sh with simulated array tasks, gives
#     byte-identical per-step and per-epoch CSVs (--no-timing) and the same
#     summary.csv;
#   - --list ids are stable, the shards partition them, summary.csv lists them;
#   - a lock held by a live process (same host), or refreshed by another host,
#     is skipped; a dead process's lock, or another host's stale one, is taken over;
#   - a shard killed (kill -9) in the middle of a run leaves a partial temporary
#     file and its lock; restarted, it removes them, redoes that run
#     identically and completes the sweep;
#   - stale locks on every run and six processes at once: each run is done once,
#     none fails, nothing is left behind. LQA_TEST_LOCK_DELAY_MS (a test seam in
#     src/sweep.c) holds each process 50 ms between finding a lock stale and
#     breaking it, so that they really do collide there.
# Needs MNIST in $LQA_DATA_DIR/mnist (default data/mnist) and GNU parallel
# (installed here through scripts/setup.sh parallel).
source "$(dirname "$0")/lib.sh"
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
# a lock line as lqabench writes it: "pid host boot_id pidns nonce"
lockline() { echo "$1 ${2:-$(hostname)} $(cat /proc/sys/kernel/random/boot_id) $(stat -L -c %i /proc/self/ns/pid) 0000000000000001"; }
leftovers() { ls "$1" | grep -E '\.tmp\.|\.lock$|\.lock\.break$' ; }
same_outputs() { # dirA dirB ids...: every run's CSVs byte-identical
  local a=$1 b=$2 r s; shift 2
  for r in "$@"; do
    for s in .steps.csv .epochs.csv; do cmp -s "$a/$r$s" "$b/$r$s" || return 1; done
  done
}

bash scripts/setup.sh parallel >/dev/null 2>&1
check "GNU parallel installed (scripts/setup.sh parallel)" command -v parallel >/dev/null

# ---- the small sweep, three (four) ways ---------------------------------------------
cat > "$T/small.json" <<JSON
{"name":"scale","model":"mlp","dataset":"mnist","data_dir":"$DATA/mnist","batch_size":32,"steps":40,
 "train_limit":640,"test_limit":200,"width":32,"seeds":[1,2],
 "optimizers":[{"name":"sgd","lr":[0.1,0.01]},{"name":"adam","lr":0.001},
               {"name":"lqa","lr":0.1},{"name":"sgd","label":"sgd-step","lr":0.1,
                "schedule":{"type":"step","every":10,"gamma":0.5}}]}
JSON
ids=$("$BIN" --config "$T/small.json" --list)
n=$(echo "$ids" | wc -l)
check "--list gives 10 runs (got $n)" test "$n" = 10
check "--list is stable" test "$("$BIN" --config "$T/small.json" --list)" = "$ids"
shards=$(for i in 0 1 2; do "$BIN" --config "$T/small.json" --list --shard $i/3; done | sort)
check "--shard i/3 --list partition the runs" test "$shards" = "$(echo "$ids" | sort)"
check "--shard 1/3 --list takes positions 1, 4, 7" test \
  "$("$BIN" --config "$T/small.json" --list --shard 1/3 | tr '\n' ' ')" = \
  "$(echo "$ids" | sed -n '2p;5p;8p' | tr '\n' ' ')"

# one process
"$BIN" --config "$T/small.json" --output-dir "$T/one" --threads 1 --no-timing --quiet
check "one process: exit 0" test $? = 0
check "summary.csv runs = --list, in order" test "$(tail -n +2 "$T/one/summary.csv" | cut -d, -f1)" = "$ids"

# four processes through GNU parallel, one run each, then --summarize
echo "$ids" | parallel -j 4 "$BIN" --config "$T/small.json" --output-dir "$T/par" --threads 1 \
  --no-timing --quiet --run {}
check "GNU parallel: every job exit 0" test $? = 0
"$BIN" --config "$T/small.json" --output-dir "$T/par" --summarize --quiet
check "GNU parallel: CSVs identical to one process" same_outputs "$T/one" "$T/par" $ids
check "GNU parallel: same summary.csv" cmp -s "$T/one/summary.csv" "$T/par/summary.csv"
check "GNU parallel: nothing left behind" test -z "$(leftovers "$T/par")"

# two shards started together
"$BIN" --config "$T/small.json" --output-dir "$T/sh" --threads 1 --no-timing --quiet --shard 0/2 &
p0=$!
"$BIN" --config "$T/small.json" --output-dir "$T/sh" --threads 1 --no-timing --quiet --shard 1/2 &
p1=$!
wait $p0; r0=$?
wait $p1; r1=$?
check "two shards: exit 0 0 (got $r0 $r1)" test "$r0$r1" = 00
"$BIN" --config "$T/small.json" --output-dir "$T/sh" --summarize --quiet
check "two shards: CSVs identical to one process" same_outputs "$T/one" "$T/sh" $ids
check "two shards: same summary.csv" cmp -s "$T/one/summary.csv" "$T/sh/summary.csv"
check "two shards: nothing left behind" test -z "$(leftovers "$T/sh")"

# scripts/slurm_sweep.sh as a 3-task array (tasks 0 and 1 together, then 2)
slurm() { # task
  env SLURM_ARRAY_JOB_ID=42 SLURM_ARRAY_TASK_ID=$1 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=0 \
    SLURM_CPUS_PER_TASK=1 SLURM_SUBMIT_DIR="$PWD" LQA_BIN="$BIN" \
    bash scripts/slurm_sweep.sh "$T/small.json" "$T/slurm" --no-timing > "$T/slurm$1.log" 2>&1
}
slurm 0 & q0=$!
slurm 1 & q1=$!
wait $q0; r0=$?
wait $q1; r1=$?
slurm 2; r2=$?
check "slurm_sweep.sh: tasks exit 0 0 0 (got $r0 $r1 $r2; $(tail -3 "$T/slurm2.log"))" test "$r0$r1$r2" = 000
check "slurm_sweep.sh: threads from SLURM_CPUS_PER_TASK" grep -q -- "--threads 1" "$T/slurm0.log"
check "slurm_sweep.sh: CSVs identical to one process" same_outputs "$T/one" "$T/slurm" $ids
check "slurm_sweep.sh: the last task's summary.csv is complete" cmp -s "$T/one/summary.csv" "$T/slurm/summary.csv"
env SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=0 SLURM_SUBMIT_DIR="$PWD" \
  LQA_BIN="$BIN" bash scripts/slurm_sweep.sh "$T/small.json" "$T/slurmx" > /dev/null 2>&1
check "slurm_sweep.sh: a non-contiguous array is refused" test $? = 2

# ---- locks ----------------------------------------------------------------------------
one=$(echo "$ids" | head -1)
mkdir -p "$T/lk"
sleep 300 & holder=$!; pids+=("$holder")
lockline "$holder" > "$T/lk/$one.lock"
"$BIN" --config "$T/small.json" --output-dir "$T/lk" --threads 1 --no-timing --run "$one" > /dev/null 2> "$T/e"
check "lock of a live process: exit 3 (not complete)" test $? = 3
check "lock of a live process: skipped ($(cat "$T/e"))" grep -q "claimed by another process" "$T/e"
check "lock of a live process: run not done" test ! -e "$T/lk/$one.json"
check "lock of a live process: lock kept" test -e "$T/lk/$one.lock"
kill -9 "$holder"; wait "$holder" 2>/dev/null
"$BIN" --config "$T/small.json" --output-dir "$T/lk" --threads 1 --no-timing --quiet --run "$one"
check "lock of a dead process: taken over, run done" test -e "$T/lk/$one.json"
check "lock of a dead process: lock removed" test ! -e "$T/lk/$one.lock"
check "lock of a dead process: run identical" same_outputs "$T/one" "$T/lk" "$one"
two=$(echo "$ids" | sed -n 2p)
lockline 12345 some-other-host > "$T/lk/$two.lock"
"$BIN" --config "$T/small.json" --output-dir "$T/lk" --threads 1 --no-timing --quiet --run "$two"
check "another host's fresh lock: skipped" test ! -e "$T/lk/$two.json"
touch -d '-11 minutes' "$T/lk/$two.lock"
"$BIN" --config "$T/small.json" --output-dir "$T/lk" --threads 1 --no-timing --quiet --run "$two"
check "another host's lock untouched for 11 minutes: taken over" test -e "$T/lk/$two.json"
check "another host's stale lock removed" test -z "$(leftovers "$T/lk")"

# ---- a shard killed in the middle of a run, restarted -----------------------------------
cat > "$T/long.json" <<JSON
{"name":"long","model":"mlp","dataset":"mnist","data_dir":"$DATA/mnist","batch_size":32,"steps":300,
 "train_limit":2048,"test_limit":200,"eval_train":false,"seeds":[1,2],
 "optimizers":[{"name":"sgd","lr":0.05},{"name":"adam","lr":0.001}]}
JSON
lids=$("$BIN" --config "$T/long.json" --list)
first=$(echo "$lids" | head -1)   # shard 0/2 does positions 0 and 2
"$BIN" --config "$T/long.json" --output-dir "$T/k" --threads 1 --no-timing --quiet --shard 0/2 &
victim=$!; pids+=("$victim")
rows=0
for _ in $(seq 600); do  # up to 60 s for the first run to get 20 steps in
  f=$(ls "$T/k"/"$first".steps.csv.tmp.* 2>/dev/null | head -1)
  [ -n "$f" ] && rows=$(wc -l < "$f")
  [ "$rows" -ge 20 ] && break
  sleep 0.1
done
kill -9 "$victim"; wait "$victim" 2>/dev/null
check "killed mid-run (the first run had $rows of 300 rows)" test "$rows" -ge 20 -a ! -e "$T/k/$first.json"
check "the killed run left a partial temporary file" test -n "$(ls "$T/k" | grep -F "$first.steps.csv.tmp.")"
check "the killed run left its lock" test -e "$T/k/$first.lock"
"$BIN" --config "$T/long.json" --output-dir "$T/k" --threads 1 --no-timing --quiet --shard 1/2 &
other=$!; pids+=("$other")
"$BIN" --config "$T/long.json" --output-dir "$T/k" --threads 1 --no-timing --quiet --shard 0/2
check "restarted shard: exit 0" test $? = 0
wait "$other"
check "other shard: exit 0" test $? = 0
"$BIN" --config "$T/long.json" --output-dir "$T/k" --summarize --quiet
check "restart: no partial file, lock or guard left ($(leftovers "$T/k" | tr '\n' ' '))" test -z "$(leftovers "$T/k")"
for r in $lids; do check "restart: $r complete" test -s "$T/k/$r.json"; done
check "restart: summary.csv has every run" test "$(tail -n +2 "$T/k/summary.csv" | cut -d, -f1)" = "$lids"
check "restart: every run done" test "$(tail -n +2 "$T/k/summary.csv" | cut -d, -f8 | sort -u)" = done
"$BIN" --config "$T/long.json" --output-dir "$T/k1" --threads 1 --no-timing --quiet --run "$first"
check "restart: the killed run was redone identically" same_outputs "$T/k1" "$T/k" "$first"

# ---- stale locks everywhere, six processes at once ----------------------------------------
cat > "$T/race.json" <<JSON
{"name":"race","model":"logreg","dataset":"mnist","data_dir":"$DATA/mnist","batch_size":32,"steps":30,
 "train_limit":512,"test_limit":100,"eval_train":false,"seeds":[1,2,3,4],
 "optimizers":[{"name":"sgd","lr":[0.1,0.01]},{"name":"adam","lr":[0.001,0.01]}]}
JSON
rids=$("$BIN" --config "$T/race.json" --list)
sh -c 'exit 0' & dead=$!; wait $dead
mkdir -p "$T/race"
for r in $rids; do lockline "$dead" > "$T/race/$r.lock"; done
rps=()
for i in 1 2 3 4 5 6; do
  LQA_TEST_LOCK_DELAY_MS=50 "$BIN" --config "$T/race.json" --output-dir "$T/race" --threads 1 \
    --no-timing > "$T/race$i.log" 2>&1 &
  rps+=($!)
done
rc=0
for p in "${rps[@]}"; do wait "$p"; r=$?; [ $r = 0 ] || [ $r = 3 ] || rc=1; done
check "race: six processes exit 0 or 3 (runs held by the others) ($(grep -h failed "$T"/race?.log | head -2))" test $rc = 0
runs_done=$(cat "$T"/race?.log | grep -oE '\] [^ ]+: (done|diverged|failed)' | sort)
check "race: each of the 16 runs done exactly once ($(echo "$runs_done" | uniq -d | head -3 | tr '\n' ' '))" \
  test "$(echo "$runs_done" | uniq | wc -l)" = 16 -a "$(echo "$runs_done" | wc -l)" = 16
check "race: nothing left behind" test -z "$(leftovers "$T/race")"
"$BIN" --config "$T/race.json" --output-dir "$T/race" --summarize --quiet
check "race: every run done" test "$(tail -n +2 "$T/race/summary.csv" | cut -d, -f8 | sort | uniq -c | tr -s ' ')" = " 16 done"

lib_done
