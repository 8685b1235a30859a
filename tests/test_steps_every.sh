#!/usr/bin/env bash
# test_steps_every.sh — the reduced per-step CSV (config key steps_every N): its rows are
# exactly the full CSV's rows of the first step, every N-th step, each epoch's last step and
# the run's last step (plus a loss_mean column: the mean batch loss since the previous row,
# checked against the full CSV), the per-epoch CSV is unchanged, a run killed part-way resumes
# from its checkpoint to the same bytes, a stopping step gets its row, and bad values are
# config errors. Needs MNIST in $LQA_DATA_DIR/mnist (default data/mnist).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
base='"model":"logreg","dataset":"mnist","data_dir":"'$DATA'/mnist","batch_size":32,"train_limit":320,"test_limit":100'
opts='"optimizers":[{"name":"sgd","lr":0.1},{"name":"lqa","lr":0.1},{"name":"qlabgrad","lr":0.1}]'
run() { "$BIN" --config "$1" --output-dir "$2" --threads 1 --no-timing --quiet; }

printf '%s\n' '{"name":"s",'"$base"',"epochs":3,'"$opts"'}' > "$T/full.json"
printf '%s\n' '{"name":"s",'"$base"',"epochs":3,"steps_every":4,'"$opts"'}' > "$T/red.json"
run "$T/full.json" "$T/full" || bad "full run"
run "$T/red.json" "$T/red" || bad "reduced run"

# every row of the reduced CSV is the full CSV's row of that step, loss_mean aside; the
# steps are 1, 4, 8, 10 (epoch end), 12, ... 30; loss_mean is the mean over the block
for r in sgd_lr0.1_s1 lqa_lr0.1_s1 qlabgrad_lr0.1_s1; do
  check "$r: rows are the full CSV's rows of steps 1, every 4th, epoch ends, last" $PY - "$T/full/$r.steps.csv" "$T/red/$r.steps.csv" <<'PYEOF'
import csv, sys
full = list(csv.DictReader(open(sys.argv[1])))
red = list(csv.DictReader(open(sys.argv[2])))
want = [s for s in range(1, 31) if s == 1 or s % 4 == 0 or s % 10 == 0]
assert [int(r["step"]) for r in red] == want, [r["step"] for r in red]
byst = {int(r["step"]): r for r in full}
prev = 0
for r in red:
    s = int(r["step"])
    f = byst[s]
    assert {k: v for k, v in r.items() if k != "loss_mean"} == f, s
    block = [float(byst[t]["loss"]) for t in range(prev + 1, s + 1)]
    m = sum(block) / len(block)
    assert abs(float(r["loss_mean"]) - m) <= 1e-7 * abs(m), (s, r["loss_mean"], m)
    prev = s
assert list(red[0].keys())[:5] == ["step", "epoch", "loss", "loss_mean", "lr"], list(red[0].keys())
PYEOF
  check "$r: per-epoch CSV unchanged" cmp -s "$T/full/$r.epochs.csv" "$T/red/$r.epochs.csv"
done
# verdicts.py reads a reduced CSV: the mean batch loss over a window is exact (from
# loss_mean), rel_noise is close to the full CSV's
check "verdicts: steps:loss mean from loss_mean equals the full CSV's mean" $PY - "$T/full" "$T/red" <<'PYEOF'
import os, sys
sys.path.insert(0, "scripts")
import verdicts
class S(verdicts.Sweep):
    def __init__(self, res):
        self.res, self._st = res, {}
run = {"run": "lqa_lr0.1_s1", "csv": "lqa_lr0.1_s1.steps.csv"}
full, red = S(sys.argv[1]), S(sys.argv[2])
assert full.step_means(run) is None and red.step_means(run) is not None
t = {"metric": "steps:loss", "stat": "mean", "steps": {"from": 17}}
a = verdicts.run_value(full, dict(run, status="done"), t, "quick")
b = verdicts.run_value(red, dict(run, status="done"), t, "quick")
assert abs(a - b) <= 1e-7 * abs(a), (a, b)
t = dict(t, stat="rel_noise")
a = verdicts.run_value(full, dict(run, status="done"), t, "quick")
b = verdicts.run_value(red, dict(run, status="done"), t, "quick")
assert a > 0 and b > 0 and 0.5 < b / a < 2, (a, b)
PYEOF
# a claim on the extremes of a per-step column (max, range, ...) of a reduced sweep is
# inconclusive, saying why; a mean batch loss is decided as usual
mkdir -p "$T/cfg" "$T/vres"
printf '%s\n' '{"name":"s","output_dir":"red","seeds":[1],'"$opts"'}' > "$T/cfg/s.json"
ln -s "$T/red" "$T/vres/red"
cat > "$T/claims.json" <<'JSON'
{"papers": {"p": {"short": "P", "title": "A paper"}},
 "claims": [
  {"id": "lr-max", "paper": "p", "where": "Fig. 1", "quote": "q", "paper_value": "≤ 1",
   "sweep": {"full": "s", "quick": null},
   "test": {"type": "value", "a": {"label": "lqa"}, "metric": "steps:lr", "stat": "max", "expect": {"at_most": 1}}},
  {"id": "loss-mean", "paper": "p", "where": "Fig. 1", "quote": "q", "paper_value": "≤ 10",
   "sweep": {"full": "s", "quick": null},
   "test": {"type": "value", "a": {"label": "lqa"}, "metric": "steps:loss", "stat": "mean", "expect": {"at_most": 10}}}
 ]}
JSON
$PY scripts/verdicts.py --full --claims "$T/claims.json" --configs "$T/cfg" --results "$T/vres" \
    --bench docs/bench.md --out "$T/vout" 2> /dev/null
check "reduced sweep: max of lr -> inconclusive, why says every step is needed" \
  grep -q '^lr-max,.*,inconclusive,.*needs every step' "$T/vout/verdicts.csv"
check "reduced sweep: mean batch loss decided" bash -c "! grep -q '^loss-mean,.*needs every step' '$T/vout/verdicts.csv' && grep -q '^loss-mean,.*lqa@0.1' '$T/vout/verdicts.csv'"

check "default (steps_every absent): no loss_mean column" \
  test "$(head -c 25 "$T/full/sgd_lr0.1_s1.steps.csv")" = "step,epoch,loss,lr,fwd,bw"
check "run metadata records steps_every" grep -q '"steps_every":[[:space:]]*4' "$T/red/sgd_lr0.1_s1.json"
check "the full run's metadata does not" bash -c "! grep -q steps_every '$T/full/sgd_lr0.1_s1.json'"
printf '%s\n' '{"name":"s",'"$base"',"epochs":3,"steps_every":1,'"$opts"'}' > "$T/one.json"
"$BIN" --config "$T/one.json" --output-dir "$T/full" --threads 1 --no-timing > /dev/null 2> "$T/one.log"
rc=$?
check "steps_every 1 is the default: the full sweep's runs stay complete (none rerun)" \
  test "$rc" = 0 -a -z "$(grep -F "final loss" "$T/one.log")"
"$BIN" --config "$T/red.json" --output-dir "$T/full" --threads 1 --no-timing > /dev/null 2> "$T/two.log"
rc=$?
check "steps_every 4 over the full sweep's runs: refused as made with another config (exit 2)" \
  test "$rc" = 2 -a -n "$(grep -F "another config" "$T/two.log")"

# with eval_every, every evaluation's step has its per-step row (time to a target accuracy
# reads the per-step row of the evaluation that reached it)
printf '%s\n' '{"name":"s",'"$base"',"epochs":2,"steps_every":4,"eval_every":3,'"$opts"'}' > "$T/ev.json"
run "$T/ev.json" "$T/ev" || bad "eval_every run"
check "eval_every 3, steps_every 4: rows at 1 3 4 6 8 9 10 12 15 16 18 20" \
  test "$(cut -d, -f1 "$T/ev/sgd_lr0.1_s1.steps.csv" | tail -n +2 | tr '\n' ' ')" = "1 3 4 6 8 9 10 12 15 16 18 20 "
check "analysis.py: time to a target accuracy on a reduced sweep" \
  bash -c "$PY scripts/analysis.py '$T/ev' --target-acc 0.3 --out '$T/an' > /dev/null 2>&1"

# a diverging run gets its last row (stop), with the block's mean
printf '%s\n' '{"name":"s",'"$base"',"epochs":3,"steps_every":4,"optimizers":[{"name":"sgd","lr":1e30}]}' > "$T/div.json"
run "$T/div.json" "$T/div" 2> /dev/null
last=$(tail -1 "$T/div/sgd_lr1e+30_s1.steps.csv" | cut -d, -f1)
check "diverged run: the stopping step has a row" \
  test "$last" = "$(grep -o '"steps":[[:space:]]*[0-9]*' "$T/div/sgd_lr1e+30_s1.json" | grep -o '[0-9]*$')"

# kill part-way and resume from the checkpoint: the same bytes as the uninterrupted run
printf '%s\n' '{"name":"s",'"$base"',"epochs":150,"steps_every":7,"checkpoint_every":5,"optimizers":[{"name":"lqa","lr":0.1}]}' > "$T/long.json"
run "$T/long.json" "$T/ref" || bad "uninterrupted reference"
for k in 1 2 3; do
  out=$T/r$k
  for i in 1 2 3; do
    "$BIN" --config "$T/long.json" --output-dir "$out" --threads 1 --no-timing --quiet > /dev/null 2>> "$T/rlog" &
    pid=$!
    for _ in $(seq 400); do ls "$out"/*.ckpt > /dev/null 2>&1 && break; sleep 0.02; done
    sleep "0.0$((RANDOM % 9))"
    kill -KILL $pid 2> /dev/null
    { wait $pid; } 2> /dev/null
    [ $? = 0 ] && break
  done
  run "$T/long.json" "$out" 2>> "$T/rlog" || bad "resume $k"
  check "resume $k: same steps.csv" cmp -s "$T/ref/lqa_lr0.1_s1.steps.csv" "$out/lqa_lr0.1_s1.steps.csv"
  check "resume $k: same epochs.csv" cmp -s "$T/ref/lqa_lr0.1_s1.epochs.csv" "$out/lqa_lr0.1_s1.epochs.csv"
done
check "some run resumed from its checkpoint" grep -q "resuming from its checkpoint" "$T/rlog"

# bad values: exit 2, key named, nothing written
for v in 0 -3 1.5 '"4"'; do
  printf '%s\n' '{"name":"s",'"$base"',"epochs":1,"steps_every":'"$v"','"$opts"',"output_dir":"'"$T"'/bad"}' > "$T/bad.json"
  "$BIN" --config "$T/bad.json" > /dev/null 2> "$T/e"
  rc=$?
  check "steps_every $v: exit 2 naming the key" test "$rc" = 2 -a -n "$(grep -F steps_every "$T/e")"
  check "steps_every $v: nothing written" test ! -e "$T/bad"
done
lib_done
