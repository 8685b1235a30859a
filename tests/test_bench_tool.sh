#!/usr/bin/env bash
# test_bench_tool.sh — tools/bench (what `make bench` is built on) and the
# OpenBLAS environment that lqabench and bench set up for themselves
# (src/blas.c, blas_fix_env). Timings are not checked, only that the tool
# measures what it says: counts, shapes of the output, finite numbers.
source "$(dirname "$0")/lib.sh"
BENCH=${LQA_BENCH_BIN:-build/tools/bench}
PY=${LQA_PYTHON:-python3}

# ---- OpenBLAS environment ---------------------------------------------------------
# the thread timeout is set when the user did not set it, and a user's value is kept
out=$(env -u OPENBLAS_THREAD_TIMEOUT "$BENCH" --blas-info)
check "bench sets OPENBLAS_THREAD_TIMEOUT=16 when unset" grep -qx 'thread_timeout 16' <<<"$out"
out=$(OPENBLAS_THREAD_TIMEOUT=20 "$BENCH" --blas-info)
check "a user's OPENBLAS_THREAD_TIMEOUT is kept" grep -qx 'thread_timeout 20' <<<"$out"
core() { "$@" "$BENCH" --blas-info | head -1 | awk '{for (i = 1; i < NF; i++) if ($(i + 1) ~ /^MAX_THREADS/) print $i}'; }
if grep -qw avx2 /proc/cpuinfo; then
    # a user's core type is kept, even the generic one the re-exec would replace
    check "a user's OPENBLAS_CORETYPE=Prescott is kept" test "$(core env OPENBLAS_CORETYPE=Prescott)" = Prescott
    own=$(core env -u OPENBLAS_CORETYPE LQA_KEEP_CORETYPE=1)
    if [ "$own" = Prescott ]; then
        # OpenBLAS falls back to its generic kernels here: the re-exec must replace them
        got=$(core env -u OPENBLAS_CORETYPE -u LQA_KEEP_CORETYPE)
        check "the generic kernels are replaced (got $got)" bash -c "[ '$got' = SkylakeX ] || [ '$got' = Haswell ]"
    fi
fi
check "lqabench --version still works after re-executing itself" \
    bash -c "env -u OPENBLAS_THREAD_TIMEOUT $BIN --version | grep -q '^lqabench '"

# ---- --passes: the five vector passes, finite medians --------------------------------
out=$("$BENCH" --passes --n 100003 --reps 3 --threads 2 2>/dev/null)
check "--passes prints one JSON line per pass" \
    $PY -c '
import json, math, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
names = [r["name"] for r in rows]
want = ["sqnorm", "dot", "axpy_inplace", "axpy_to_scratch", "axpy_copy"]
assert names == want, names
assert all(r["kind"] == "pass" and r["n"] == 100003 and math.isfinite(r["ms"]) and r["ms"] > 0 for r in rows), rows
' <<<"$out"

# ---- step mode: forwards per step of each method, interleaved optimizers ------------
out=$("$BENCH" --model logreg --batch 16 --input 1x28x28 --optimizer sgd,hgd,lqa,qlabgrad,newton-lr \
    --steps 4 --warmup 1 --rounds 2 --fwd-reps 2 2>/dev/null)
check "step mode: one JSON line per optimizer with the probe counts" \
    $PY -c '
import json, math, sys
rows = {r["optimizer"]: r for r in map(json.loads, filter(str.strip, sys.stdin)) if r.get("kind") == "step"}
want = {"sgd": 1, "hgd": 1, "lqa": 3, "qlabgrad": 2, "newton-lr": 6}
got = {k: rows[k]["fwd_per_step"] for k in want}
assert got == want, got
for r in rows.values():
    assert r["steps"] == 4 and r["n_params"] == 7850, r
    assert all(math.isfinite(r[k]) and r[k] >= 0 for k in ("step_ms", "fwd_train_ms", "bwd_ms", "opt_ms")), r
' <<<"$out"

# ---- --schedule: the classic methods' rate follows it, as in training ----------------------
loss() { "$BENCH" --model logreg --batch 16 --input 1x28x28 --optimizer "$1" --lr 0.5 --steps 6 \
    --warmup 0 --fwd-reps 0 "${@:2}" 2>/dev/null | $PY -c 'import json,sys; print(json.loads(sys.stdin.readline())["final_loss"])'; }
sched='{"type":"step","every":1,"gamma":0.1}'
s0=$(loss sgd) s1=$(loss sgd --schedule "$sched")
check "--schedule changes a classic method's steps ($s0 vs $s1)" test -n "$s0" -a -n "$s1" -a "$s0" != "$s1"
check "--schedule leaves a non-classic method alone" test "$(loss lqa)" = "$(loss lqa --schedule "$sched")"
out=$("$BENCH" --model logreg --batch 8 --input 1x28x28 --optimizer sgd --schedule '{"type":"step"}' 2>&1)
check "a bad --schedule is rejected, naming the key" bash -c "[[ \"\$1\" == *--schedule.every* ]]" _ "$out"

# ---- bad input: a clear error and a non-zero exit ------------------------------------
check "unknown model is rejected" bash -c "! $BENCH --model nosuch --batch 8 --input 1x28x28 --optimizer sgd >/dev/null 2>&1"
check "bad --input is rejected" bash -c "! $BENCH --model logreg --batch 8 --input 28x28 --optimizer sgd >/dev/null 2>&1"

lib_done
