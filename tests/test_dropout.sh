#!/usr/bin/env bash
# test_dropout.sh — the dropout model option from the command line: config
# errors (exit 2, key named, nothing written), "dropout": 0 = no key (the same
# CSVs and config hash), a grid over it (run ids, summary column), byte-identical
# CSVs on 1 and 2 threads, a run stopped by SIGTERM / kill -9 and resumed = the
# uninterrupted run, evaluation without dropout (the epoch-0 row equals the
# run without dropout), and a toy ResNet-18 with dropout.
# Needs CIFAR-10 in $LQA_DATA_DIR/cifar10 (default data/cifar10).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
RANDOM=${LQA_RESUME_SEED:-11}

base='"dataset":"cifar10","data_dir":"'$DATA'/cifar10","batch_size":16,"train_limit":320,"test_limit":64,"eval_batch":64,"seeds":[1]'
opts='"optimizers":[{"name":"sgd","lr":0.01},{"name":"newton-lr","lr":0.01},{"name":"lqa","lr":0.01},{"name":"qlabgrad","lr":0.01}]'
run() { "$BIN" --config "$1" --output-dir "$2" --threads "${3:-1}" --no-timing --quiet; }

# ---- config errors ------------------------------------------------------------
while IFS='|' read -r cfg msg; do
  [ -z "$cfg" ] && continue
  echo "$cfg" > "$T/bad.json"
  "$BIN" --config "$T/bad.json" --output-dir "$T/bad-out" --quiet > /dev/null 2> "$T/err"
  rc=$?
  check "exit 2 for: $msg (got $rc)" test $rc = 2
  check "message \"$msg\" ($(cat "$T/err"))" grep -qF "$msg" "$T/err"
  check "nothing written for: $msg" test ! -e "$T/bad-out"
done <<EOF
{"model":"lenet5",$base,"steps":2,"dropout":1,$opts}|bad.json: dropout: 1 is out of range [0, 1)
{"model":"lenet5",$base,"steps":2,"dropout":-0.1,$opts}|dropout: -0.1 is out of range [0, 1)
{"model":"lenet5",$base,"steps":2,"dropout":"half",$opts}|dropout: must be a number
{"model":"lenet5",$base,"steps":2,"dropout":[0.5,true],$opts}|dropout[1]: must be a number
{"model":"lenet5",$base,"steps":2,"dropout":[],$opts}|dropout: must not be an empty list
{"model":"lenet5",$base,"steps":2,"dropout":[0.5,0.5],$opts}|dropout
{"model":"cnn2",$base,"steps":2,"dropout":0.5,$opts}|dropout: model "cnn2" has no option dropout
{"model":"mlp","dataset":"mnist","data_dir":"$DATA/mnist","batch_size":16,"steps":2,"dropout":[0,0.2],$opts}|dropout: model "mlp" has no option dropout
EOF

# ---- "dropout": 0 is the config without the key ----------------------------------
echo '{"name":"d","model":"lenet5",'"$base"',"steps":30,'"$opts"'}' > "$T/none.json"
echo '{"name":"d","model":"lenet5",'"$base"',"steps":30,"dropout":0,'"$opts"'}' > "$T/zero.json"
echo '{"name":"d","model":"lenet5",'"$base"',"steps":30,"dropout":0.5,'"$opts"'}' > "$T/half.json"
run "$T/none.json" "$T/none" || bad "run without dropout"
run "$T/zero.json" "$T/zero" || bad "run with dropout 0"
for f in "$T/none"/*.csv; do
  check "dropout 0 = none: $(basename "$f")" cmp -s "$f" "$T/zero/$(basename "$f")"
done
hash() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))['config_hash'])" "$1"; }
check "dropout 0: the same config hash" test "$(hash "$T/none/sgd_lr0.01_s1.json")" = "$(hash "$T/zero/sgd_lr0.01_s1.json")"
check "dropout 0: not recorded" sh -c "! grep -q dropout '$T/zero/sgd_lr0.01_s1.json'"

# ---- dropout 0.5: recorded, changes training, not evaluation -----------------
run "$T/half.json" "$T/h1" 1 || bad "dropout 0.5, 1 thread"
run "$T/half.json" "$T/h2" 2 || bad "dropout 0.5, 2 threads"
for f in "$T/h1"/*.csv; do
  check "1 vs 2 threads: $(basename "$f")" cmp -s "$f" "$T/h2/$(basename "$f")"
done
check "dropout 0.5 recorded in the run's .json" $PY -c "
import json, sys; sys.exit(json.load(open('$T/h1/newton-lr_lr0.01_s1.json'))['config']['dropout'] != 0.5)"
check "dropout 0.5: another config hash" test "$(hash "$T/none/sgd_lr0.01_s1.json")" != "$(hash "$T/h1/sgd_lr0.01_s1.json")"
for r in sgd_lr0.01_s1 newton-lr_lr0.01_s1; do
  check "$r: the batch losses differ from no dropout" bash -c "! cmp -s '$T/none/$r.steps.csv' '$T/h1/$r.steps.csv'"
  check "$r: epoch-0 evaluation (no dropout in eval) equals no dropout" \
    test "$(sed -n 2p "$T/none/$r.epochs.csv")" = "$(sed -n 2p "$T/h1/$r.epochs.csv")"
done
# the first step's batch loss: the same mask for every optimizer (same seed, step 0)
first() { awk -F, 'NR == 2 {print $3}' "$1"; }
check "step 1: one mask for every optimizer of a seed" test "$(first "$T/h1/sgd_lr0.01_s1.steps.csv")" = "$(first "$T/h1/lqa_lr0.01_s1.steps.csv")"

# ---- a grid over dropout ------------------------------------------------------------
echo '{"name":"d","model":"lenet5",'"$base"',"steps":30,"dropout":[0,0.5],"optimizers":[{"name":"newton-lr","lr":0.01}]}' > "$T/grid.json"
check "grid ids" test "$("$BIN" --config "$T/grid.json" --list | tr '\n' ' ')" = "newton-lr_lr0.01_dropout-0_s1 newton-lr_lr0.01_dropout-0.5_s1 "
run "$T/grid.json" "$T/g" || bad "grid run"
check "grid: dropout 0 point = no dropout" cmp -s "$T/g/newton-lr_lr0.01_dropout-0_s1.steps.csv" "$T/none/newton-lr_lr0.01_s1.steps.csv"
check "grid: dropout 0.5 point = dropout 0.5 alone" cmp -s "$T/g/newton-lr_lr0.01_dropout-0.5_s1.steps.csv" "$T/h1/newton-lr_lr0.01_s1.steps.csv"
check "grid: summary column" test "$(head -1 "$T/g/summary.csv" | awk -F, '{print $NF}')" = "dropout"

# ---- resume: interrupted runs continue with the same masks --------------------------
echo '{"name":"d","model":"lenet5",'"$base"',"steps":300,"eval_every":50,"checkpoint_every":7,"dropout":0.5,"optimizers":[{"name":"newton-lr","lr":0.01},{"name":"lqa","lr":0.01}]}' > "$T/long.json"
run "$T/long.json" "$T/ref" || bad "uninterrupted reference"
resumed=0
for k in 1 2 3 4; do
  out=$T/r$k sig=TERM
  [ $((k % 2)) = 0 ] && sig=KILL
  for i in 1 2 3; do
    "$BIN" --config "$T/long.json" --output-dir "$out" --threads 1 --no-timing --quiet > /dev/null 2>> "$T/rlog" &
    pid=$!
    # kill once a checkpoint exists (after the data set is loaded), at a random point
    for _ in $(seq 400); do ls "$out"/*.ckpt > /dev/null 2>&1 && break; sleep 0.02; done
    sleep "0.0$((RANDOM % 9))"
    kill -s $sig $pid 2> /dev/null
    { wait $pid; } 2> /dev/null
    [ $? = 0 ] && break
  done
  run "$T/long.json" "$out" 2>> "$T/rlog" || bad "resume $k"
  for f in "$T/ref"/*.csv; do
    check "resume $k ($sig): $(basename "$f")" cmp -s "$f" "$out/$(basename "$f")"
  done
done
check "some run resumed from its checkpoint" grep -q "resuming from its checkpoint" "$T/rlog"

# ---- ResNet-18 (toy width) with dropout before fc -------------------------------------
echo '{"name":"d","model":"resnet18","width":4,'"$base"',"steps":6,"dropout":0.5,"optimizers":[{"name":"newton-lr","lr":0.01}]}' > "$T/res.json"
echo '{"name":"d","model":"resnet18","width":4,'"$base"',"steps":6,"optimizers":[{"name":"newton-lr","lr":0.01}]}' > "$T/res0.json"
run "$T/res.json" "$T/rs1" 1 || bad "resnet dropout, 1 thread"
run "$T/res.json" "$T/rs2" 2 || bad "resnet dropout, 2 threads"
run "$T/res0.json" "$T/rs0" 1 || bad "resnet without dropout"
check "resnet: 1 vs 2 threads" cmp -s "$T/rs1/newton-lr_lr0.01_s1.steps.csv" "$T/rs2/newton-lr_lr0.01_s1.steps.csv"
check "resnet: dropout changes the batch losses" bash -c "! cmp -s '$T/rs1/newton-lr_lr0.01_s1.steps.csv' '$T/rs0/newton-lr_lr0.01_s1.steps.csv'"
check "resnet: epoch-0 evaluation without dropout" \
  test "$(sed -n 2p "$T/rs1/newton-lr_lr0.01_s1.epochs.csv")" = "$(sed -n 2p "$T/rs0/newton-lr_lr0.01_s1.epochs.csv")"

lib_done
