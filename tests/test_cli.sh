#!/usr/bin/env bash
# test_cli.sh — the command line and the output contract, end to end:
# config validation (exit 2, message names file and key, nothing written),
# the CSV/summary contract, determinism, resumption, divergence, --list/--run/
# --shard/--summarize. Needs MNIST in $LQA_DATA_DIR/mnist (default data/mnist).
source "$(dirname "$0")/lib.sh"
BIN_ABS=$(realpath "$BIN")

# ---- config validation ------------------------------------------------------
base='"model":"logreg","dataset":"mnist","data_dir":"'$DATA'/mnist","batch_size":32,"steps":5,"train_limit":256,"test_limit":100'
# each case: json body | expected substring (the key path) in the message
cases=(
  '{'"$base"',"optimizers":[{"name":"sgd","lr":-0.1}]}|optimizers[0].lr'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":0}]}|optimizers[0].lr'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":[0.1,-1]}]}|optimizers[0].lr[1]'
  '{'"$base"',"optimizers":[{"name":"nosuch","lr":0.1}]}|optimizers[0].name'
  '{'"$base"',"optimizers":[{"name":"sgd-m","lr":0.1,"momentom":0.9}]}|optimizers[0].momentom'
  '{'"$base"',"optimizers":[{"name":"adam","lr":0.1,"beta1":1.5}]}|optimizers[0].beta1'
  '{'"$base"',"optimizers":[{"name":"adam","lr":0.1,"eps":"small"}]}|optimizers[0].eps'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":0.1},{"name":"sgd","lr":0.1}]}|optimizers[1]'
  '{'"$base"',"optimizers":[{"name":"lqa","lr":0.1,"schedule":{"type":"step","every":10}}]}|optimizers[0].schedule'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":0.1,"schedule":{"type":"step","every":0}}]}|optimizers[0].schedule.every'
  '{'"$base"',"optimizers":[]}|optimizers'
  '{'"$base"',"optimizers":[{"name":"lqa","lr":[0.1,0.3],"variant":"reference"}]}|optimizers[0].lr'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":0.1},{"name":"l4gd","lr":[0.1,0.3]}]}|optimizers[1].lr'
  '{'"$base"',"optimizers":[{"name":"sgd"}]}|optimizers[0].lr'
  '{"model":"nosuch","dataset":"mnist","batch_size":32,"steps":5,"optimizers":[{"name":"sgd","lr":0.1}]}|model'
  '{"model":"logreg","dataset":"imagenet","batch_size":32,"steps":5,"optimizers":[{"name":"sgd","lr":0.1}]}|dataset'
  '{"model":"logreg","dataset":"mnist","batch_size":0,"steps":5,"optimizers":[{"name":"sgd","lr":0.1}]}|batch_size'
  '{"model":"logreg","dataset":"mnist","batch_size":1.5,"steps":5,"optimizers":[{"name":"sgd","lr":0.1}]}|batch_size'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"steps":5,"epochs":1,"optimizers":[{"name":"sgd","lr":0.1}]}|epochs'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"optimizers":[{"name":"sgd","lr":0.1}]}|epochs'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"steps":5,"seeds":[1,1],"optimizers":[{"name":"sgd","lr":0.1}]}|seeds[1]'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"steps":5,"init":"ones","optimizers":[{"name":"sgd","lr":0.1}]}|init'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"steps":5,"shuffle":"yes","optimizers":[{"name":"sgd","lr":0.1}]}|shuffle'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"steps":5,"conv_algo":"winograd3","optimizers":[{"name":"sgd","lr":0.1}]}|conv_algo'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"steps":5,"probe_bn":"train","optimizers":[{"name":"sgd","lr":0.1}]}|probe_bn: unknown value "train" (expected one of: batch, eval)'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"steps":5,"width":0,"optimizers":[{"name":"sgd","lr":0.1}]}|width'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"steps":5,"width":"wide","optimizers":[{"name":"sgd","lr":0.1}]}|width: must be an integer'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"steps":5,"colour":1,"optimizers":[{"name":"sgd","lr":0.1}]}|colour'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"steps":5,"optimizers":[{"name":"sgd","lr":0.1}],}|line'
  '[1,2]|top level'
  '{'"$base"',"validation":-1,"optimizers":[{"name":"sgd","lr":0.1}]}|validation'
  '{'"$base"',"validation":2.5,"optimizers":[{"name":"sgd","lr":0.1}]}|validation'
  '{'"$base"',"validation":256,"optimizers":[{"name":"sgd","lr":0.1}]}|validation'
  '{'"$base"',"validation":240,"optimizers":[{"name":"sgd","lr":0.1}]}|validation'
  '{"model":"logreg","dataset":"mnist","batch_size":32,"steps":5,"validation":60000,"optimizers":[{"name":"sgd","lr":0.1}]}|validation'
  '{"model":"logreg","dataset":"cifar10","batch_size":32,"steps":5,"validation":50000,"optimizers":[{"name":"sgd","lr":0.1}]}|validation'
  '{'"$base"',"optimizers":[{"name":"newton-lr","lr":0.1,"eta_batch":"validation"}]}|optimizers[0].eta_batch'
  '{'"$base"',"validation":16,"optimizers":[{"name":"newton-lr","lr":0.1,"form":"first-order","eta_batch":"validation"}]}|eta_batch'
  '{'"$base"',"diverge":{"factor":0.5},"optimizers":[{"name":"sgd","lr":0.1}]}|diverge.factor'
  '{'"$base"',"diverge":{"window":0},"optimizers":[{"name":"sgd","lr":0.1}]}|diverge.window'
  '{'"$base"',"diverge":{"factr":10},"optimizers":[{"name":"sgd","lr":0.1}]}|diverge.factr'
  '{'"$base"',"diverge":100,"optimizers":[{"name":"sgd","lr":0.1}]}|diverge'
  '{'"$base"',"name":"..","optimizers":[{"name":"sgd","lr":0.1}]}|name'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":0.1,"label":"."}]}|optimizers[0].label'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":0.1,"label":"a/b"}]}|optimizers[0].label'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":0.1,"label":"a\tb"}]}|optimizers[0].label'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":0.1,"label":"a\u0000b"}]}|u0000'
  '{'"$base"',"model":"mlp","optimizers":[{"name":"sgd","lr":0.1}]}|model: duplicate key'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":0.1,"lr":[0.2,0.3]}]}|optimizers[0].lr: duplicate key'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":0.1,"schedule":{"type":"cosine","period":5,"period":6}}]}|optimizers[0].schedule.period: duplicate key'
  '{'"$base"',"notes":["fine",3],"optimizers":[{"name":"sgd","lr":0.1}]}|notes[1]'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":[0.1,0.01],"schedule":{"type":"cosine","period":5,"min":0.05}}]}|optimizers[0].schedule.min'
  '{"model":"logreg","dataset":"mnist","data_dir":"'$DATA'/mnist","batch_size":60001,"steps":5,"optimizers":[{"name":"sgd","lr":0.1}]}|batch_size'
)
i=0
for c in "${cases[@]}"; do
  body=${c%|*} want=${c##*|}
  f="$T/bad$i.json"
  printf '%s\n' "${body/\}/,\"output_dir\":\"$T/out$i\"\}}" > "$f"
  printf '%s\n' "$body" > "$f"  # output_dir default is results/<name>: must stay untouched
  "$BIN" --config "$f" --quiet --output-dir "$T/out$i" > "$T/o" 2> "$T/e"
  rc=$?
  check "bad config $i: exit $rc, want 2 ($(cat "$T/e"))" test "$rc" = 2
  check "bad config $i: message names the file: $(cat "$T/e")" grep -qF "$f" "$T/e"
  check "bad config $i: message names '$want': $(cat "$T/e")" grep -qF "$want" "$T/e"
  check "bad config $i: nothing written" test ! -e "$T/out$i"
  i=$((i + 1))
done
"$BIN" --config "$T/missing.json" 2> "$T/e"; check "missing config exits 2" test $? = 2
check "missing config named" grep -qF missing.json "$T/e"
"$BIN" --threads 0 --config x 2>/dev/null; check "--threads 0 rejected" test $? = 2
"$BIN" --shard 3/2 --config x 2>/dev/null; check "--shard 3/2 rejected" test $? = 2
"$BIN" --shard 0/2x --config x 2>/dev/null; check "--shard 0/2x rejected" test $? = 2
printf '%s\n' '{"model":"logreg","dataset":"mnist","batch_size":8,"steps":1,"optimizers":[{"name":"sgd","lr":[0.1,0.2]}]}' > "$T/ok.json"
"$BIN" --config "$T/ok.json" --list > /dev/full 2> "$T/e"; rc=$?
check "--list > /dev/full: exit 1 ($rc)" test $rc = 1
check "--list > /dev/full: says why" grep -q "stdout: write failed: No space left on device" "$T/e"
"$BIN" --help > /dev/full 2>/dev/null; check "--help > /dev/full: non-zero" test $? != 0
"$BIN" --config "$T" 2> "$T/e"; rc=$?
check "config that is a folder: exit 2, says so" test $rc = 2 -a -n "$(grep 'is a directory' "$T/e")"
mkfifo "$T/fifo"
timeout 10 "$BIN" --config "$T/fifo" 2> "$T/e"; rc=$?
check "config that is a pipe: exit 2, says so ($rc)" test $rc = 2 -a -n "$(grep 'not a regular file' "$T/e")"
if command -v setpriv > /dev/null && [ "$(id -u)" = 0 ]; then
  cp "$T/ok.json" "$T/secret.json"; chmod 600 "$T/secret.json"; chmod 755 "$T"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" --config "$T/secret.json" --check 2> "$T/e"; rc=$?
  check "unreadable config: exit 2 ($rc), permission denied, not 'not found' ($(cat "$T/e"))" \
    test $rc = 2 -a -n "$(grep 'Permission denied' "$T/e")"
elif [ "$(id -u)" != 0 ]; then
  cp "$T/ok.json" "$T/secret.json"; chmod 000 "$T/secret.json"
  "$BIN" --config "$T/secret.json" --check 2> "$T/e"; rc=$?
  check "unreadable config: exit 2 ($rc), permission denied ($(cat "$T/e"))" test $rc = 2 -a -n "$(grep 'Permission denied' "$T/e")"
fi
# run count: 50,000 lrs x 50,000 seeds overflows an int; 20,000 run ids are checked fast
python3 -c "
import json
print(json.dumps({'model':'logreg','dataset':'mnist','batch_size':8,'steps':1,'seeds':list(range(50000)),
  'optimizers':[{'name':'sgd','lr':[1e-6*(i+1) for i in range(50000)]}]}))" > "$T/huge.json"
t0=$SECONDS; "$BIN" --config "$T/huge.json" --check > "$T/o" 2> "$T/e"; rc=$?
check "50,000 x 50,000 runs: exit 2 naming the limit ($(cat "$T/e"))" test $rc = 2 -a -n "$(grep 'optimizers: 2500000000 runs' "$T/e")"
check "50,000 x 50,000 runs: refused in under 3 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -lt 3
python3 -c "
import json
print(json.dumps({'model':'logreg','dataset':'mnist','batch_size':8,'steps':1,'seeds':list(range(20)),
  'optimizers':[{'name':'sgd','lr':[1e-6*(i+1) for i in range(1000)]}]}))" > "$T/many.json"
t0=$SECONDS; "$BIN" --config "$T/many.json" --check > "$T/o" 2> "$T/e"; rc=$?
check "20,000 runs: --check ok in under 5 s ($((SECONDS - t0)) s)" test $rc = 0 -a $((SECONDS - t0)) -lt 5
check "20,000 runs counted" grep -q "ok, 20000 runs" "$T/o"
"$BIN" --help | grep -q -- --config; check "--help lists --config" test $? = 0
"$BIN" --version | grep -q lqabench; check "--version" test $? = 0
# the README's first example: a bare name found in configs/, valid as shipped
"$BIN" --config mlp_mnist.json --check > "$T/o" 2> "$T/e"
rc=$?
check "--config mlp_mnist.json --check passes ($(cat "$T/e"))" test "$rc" = 0
check "--check names configs/mlp_mnist.json" grep -qF configs/mlp_mnist.json "$T/o"
echo '{'"$base"',"optimizers":[{"name":"sgd","lr":0.1}]}' > "$T/one.json"
check "--check: 1 run, singular" test "$("$BIN" --config "$T/one.json" --check)" = "$T/one.json: ok, 1 run"
# several lrs: fine where lr is a step size or a starting value, an error where it is unused
printf '%s\n' '{'"$base"',"optimizers":[{"name":"lqa","lr":[0.1,0.3]},{"name":"lqa","label":"ref","lr":0.1,"variant":"reference"},{"name":"qlabgrad","lr":[0.1,0.3],"variant":"reference"}]}' > "$T/lrs.json"
"$BIN" --config "$T/lrs.json" --check > "$T/o" 2> "$T/e"
rc=$?
check "lr lists where lr is used, one lr where unused: --check ok ($(cat "$T/e"))" test "$rc" = 0
"$BIN" --optimizers > "$T/o"
check "--optimizers says what lr means for every method" \
  test "$(grep -c '^`lr` (' "$T/o")" = "$(grep -c '^### ' "$T/o")"
check "--optimizers: lqa's reference form does not use lr" grep -q '^`lr` (depends on the settings): .*reference: unused' "$T/o"

# ---- a small sweep ---------------------------------------------------------
cat > "$T/sweep.json" <<JSON
{"name":"e2e","model":"mlp","dataset":"mnist","data_dir":"$DATA/mnist","batch_size":32,"epochs":2,
 "train_limit":320,"test_limit":200,"seeds":[1,2],"width":32,
 "optimizers":[{"name":"sgd","lr":[0.1,1e30]},{"name":"adam","lr":0.001},
               {"name":"sgd","label":"sgd-cos","lr":0.1,"schedule":{"type":"cosine","min":0.001,"period":20}}]}
JSON
"$BIN" --config "$T/sweep.json" --output-dir "$T/a" --threads 1 --no-timing > "$T/o" 2> "$T/e"
rc=$?
check "sweep exit 0 ($(tail -2 "$T/e"))" test "$rc" = 0
check "no progress escape codes when not a terminal" bash -c "! grep -q $'\r' '$T/e'"
runs=$("$BIN" --config "$T/sweep.json" --list)
check "--list gives 8 runs" test "$(echo "$runs" | wc -l)" = 8
check "--list ids" test "$(echo "$runs" | head -1)" = "sgd_lr0.1_s1"
for r in $runs; do
  for s in .steps.csv .epochs.csv .json; do check "$r$s exists" test -s "$T/a/$r$s"; done
done
check "no temporary files left" test -z "$(ls "$T/a" | grep -E '\.tmp\.|\.lock$')"
h=$(head -1 "$T/a/sgd_lr0.1_s1.steps.csv")
check "steps.csv header: $h" test "$h" = "step,epoch,loss,lr,fwd,bwd,seconds,fallback"
check "10 steps/epoch × 2 epochs = 20 rows" test "$(tail -n +2 "$T/a/sgd_lr0.1_s1.steps.csv" | wc -l)" = 20
check "epochs.csv header" test "$(head -1 "$T/a/sgd_lr0.1_s1.epochs.csv")" = "epoch,step,train_loss,test_loss,test_acc,seconds,val_loss,val_acc"
check "no validation: val cells empty" test "$(tail -n +2 "$T/a/sgd_lr0.1_s1.epochs.csv" | cut -d, -f7,8 | sort -u)" = ","
check "epochs.csv rows 0..2" test "$(cut -d, -f1 "$T/a/sgd_lr0.1_s1.epochs.csv" | tail -n +2 | tr '\n' ' ')" = "0 1 2 "
check "fwd/bwd cumulative" test "$(sed -n 21p "$T/a/sgd_lr0.1_s1.steps.csv" | cut -d, -f5,6)" = "20,20"
check "cosine lr at step 1 is the base lr" test "$(sed -n 2p "$T/a/sgd-cos_lr0.1_s1.steps.csv" | cut -d, -f4)" = "0.1"
check "cosine lr reaches min" test "$(sed -n 21p "$T/a/sgd-cos_lr0.1_s1.steps.csv" | cut -d, -f4)" = "0.00160942714"
hdr=$(head -1 "$T/a/summary.csv")
for col in run model dataset optimizer lr seed status steps final_loss test_acc seconds csv; do
  check "summary has column $col" bash -c "echo '$hdr' | tr ',' '\n' | grep -qx $col"
done
check "summary has 8 rows" test "$(tail -n +2 "$T/a/summary.csv" | wc -l)" = 8
check "lr 1e30 diverged" grep -q '^sgd_lr1e+30_s1,.*,diverged,' "$T/a/summary.csv"
check "lr 0.1 done" grep -q '^sgd_lr0.1_s1,mlp,mnist,sgd,sgd,0.1,1,done,20,' "$T/a/summary.csv"
check "csv column names the per-step file" grep -q ',sgd_lr0.1_s1.steps.csv,' "$T/a/summary.csv"
check "metadata has threads" grep -Eq "\"threads\":[[:space:]]+1" "$T/a/sgd_lr0.1_s1.json"
check "seeds differ" bash -c "! cmp -s '$T/a/sgd_lr0.1_s1.steps.csv' '$T/a/sgd_lr0.1_s2.steps.csv'"

# the divergence rule: median batch loss of the last `window` steps above factor × the first
# step's loss ends the run as diverged (sgd lr 50 on logreg: 2.33, 78.7, 231.1, ...)
div='"model":"logreg","dataset":"mnist","data_dir":"'$DATA'/mnist","batch_size":64,"steps":20,"train_limit":1280,"eval_train":false,"test_limit":100'
printf '%s\n' '{'"$div"',"diverge":{"factor":1.5,"window":3},"optimizers":[{"name":"sgd","lr":[50,0.1]}]}' > "$T/div.json"
"$BIN" --config "$T/div.json" --output-dir "$T/div" --threads 1 --no-timing > "$T/o" 2> "$T/e"
rc=$?
check "divergence sweep exits 0 ($(tail -1 "$T/e"))" test "$rc" = 0
check "lr 50 diverged by the rule at step 3" grep -q '^sgd_lr50_s1,.*,diverged,3,' "$T/div/summary.csv"
check "the diverged run's CSV stops at step 3" test "$(tail -n +2 "$T/div/sgd_lr50_s1.steps.csv" | wc -l)" = 3
check "reason names the rule" grep -q '"reason":.*above 1.5 x the first step' "$T/div/sgd_lr50_s1.json"
check "summary table shows diverged" grep -q '^sgd_lr50_s1 *diverged' "$T/o"
check "summary table: losses with 5 decimals, test accuracy in % with 2 ($(grep '^sgd_lr0.1' "$T/o"))" \
  grep -Eq '^sgd_lr0.1_s1 +done +20 +[0-9]+\.[0-9]{5} +- +[0-9]+\.[0-9]{2} ' "$T/o"
check "summary table header says test_acc %" grep -q 'test_acc %' "$T/o"
# the progress line (on a terminal) gives the time left in the run and in the whole sweep
script -qec "$BIN_ABS --config $T/div.json --output-dir $T/divp --threads 1 --no-timing" /dev/null > "$T/p" 2>&1
check "progress line: time left in run and sweep ($(tr '\r' '\n' < "$T/p" | grep -m1 'run 1/2'))" \
  grep -Eq '\[run 2/2\] sgd_lr0.1_s1  step 20/20  loss [0-9.]+  [0-9]+s left in run, [0-9]+s in sweep' "$T/p"
check "lr 0.1 is done" grep -q '^sgd_lr0.1_s1,.*,done,20,' "$T/div/summary.csv"
printf '%s\n' '{'"$div"',"diverge":{"factor":0},"optimizers":[{"name":"sgd","lr":50}]}' > "$T/div0.json"
"$BIN" --config "$T/div0.json" --output-dir "$T/div0" --threads 1 --no-timing --quiet
check "factor 0 turns the rule off" grep -q '^sgd_lr50_s1,.*,done,20,' "$T/div0/summary.csv"
check "same steps up to the cut" cmp -s <(head -4 "$T/div0/sgd_lr50_s1.steps.csv") "$T/div/sgd_lr50_s1.steps.csv"
printf '%s\n' '{'"$div"',"optimizers":[{"name":"sgd","lr":50}]}' > "$T/divd.json"
"$BIN" --config "$T/divd.json" --output-dir "$T/divd" --threads 1 --no-timing --quiet
check "the default rule (100 x, median of 10) lets lr 50 recover" grep -q '^sgd_lr50_s1,.*,done,20,' "$T/divd/summary.csv"
check "default rule recorded in the metadata" grep -Eq '"factor":[[:space:]]+100' "$T/divd/sgd_lr50_s1.json"
# a first loss <= 0 (a test function's f): the ratio rule does not apply (100 x a negative loss
# is below every loss), only the non-finite checks do (Eggholder from (450, 350): f = -301.8)
egg='"model":"eggholder","dataset":"none","start":[450,350],"batch_size":1,"steps":30,"eval_test":false'
printf '%s\n' '{'"$egg"',"optimizers":[{"name":"sgd","lr":[0.01,1e38]}]}' > "$T/divn.json"
"$BIN" --config "$T/divn.json" --output-dir "$T/divn" --threads 1 --no-timing --quiet
check "negative first loss: the default rule does not end the run" \
  grep -q '^sgd_lr0.01_s1,eggholder,none,.*,done,30,-' "$T/divn/summary.csv"
check "negative first loss: a non-finite point still diverges" \
  grep -q '^sgd_lr1e+38_s1,.*,diverged,1,' "$T/divn/summary.csv"
check "negative first loss: the reason says non-finite" \
  grep -q '"reason":.*non-finite' "$T/divn/sgd_lr1e+38_s1.json"

# eval_every: evaluations every N steps as well as at epoch ends (fractional epochs), with
# the same per-step trajectory
ev='"model":"logreg","dataset":"mnist","data_dir":"'$DATA'/mnist","batch_size":32,"steps":20,"train_limit":320,"test_limit":100,"optimizers":[{"name":"sgd","lr":0.1}]'
printf '%s\n' '{'"$ev"',"eval_every":4}' > "$T/ev.json"
printf '%s\n' '{'"$ev"'}' > "$T/ev0.json"
"$BIN" --config "$T/ev.json" --output-dir "$T/ev" --threads 1 --no-timing --quiet
"$BIN" --config "$T/ev0.json" --output-dir "$T/ev0" --threads 1 --no-timing --quiet
check "eval_every 4 over 2 epochs of 10 steps: rows at steps 0 4 8 10 12 16 20" \
  test "$(cut -d, -f2 "$T/ev/sgd_lr0.1_s1.epochs.csv" | tail -n +2 | tr '\n' ' ')" = "0 4 8 10 12 16 20 "
check "eval_every rows at fractional epochs" \
  test "$(cut -d, -f1 "$T/ev/sgd_lr0.1_s1.epochs.csv" | tail -n +2 | tr '\n' ' ')" = "0 0.4 0.8 1 1.2 1.6 2 "
check "eval_every: epoch-end rows as without it" \
  cmp -s <(grep -E '^(0|1|2),' "$T/ev/sgd_lr0.1_s1.epochs.csv") <(tail -n +2 "$T/ev0/sgd_lr0.1_s1.epochs.csv")
check "eval_every: same steps.csv" cmp -s "$T/ev/sgd_lr0.1_s1.steps.csv" "$T/ev0/sgd_lr0.1_s1.steps.csv"
printf '%s\n' '{'"$ev"',"eval_every":0}' > "$T/evbad.json"
"$BIN" --config "$T/evbad.json" --check > /dev/null 2> "$T/e"
rc=$?
check "eval_every 0 rejected naming the key" test "$rc" = 2 -a -n "$(grep -F eval_every "$T/e")"

# data paths: the default data_dir and a relative one resolve against the checkout (or
# $LQA_DATA_DIR), not the working directory; a missing data set's error names $LQA_DATA_DIR
REPO=$PWD
mkdir -p "$T/elsewhere"
nodir='"model":"logreg","dataset":"mnist","batch_size":32,"steps":3,"train_limit":256,"test_limit":100,"optimizers":[{"name":"sgd","lr":0.1}]'
printf '%s\n' '{'"$nodir"'}' > "$T/nodir.json"
(cd "$T/elsewhere" && LQA_DATA_DIR=$DATA "$BIN_ABS" --config "$T/nodir.json" --output-dir "$T/nd1" --quiet) 2> "$T/e"
rc=$?
check "default data_dir under \$LQA_DATA_DIR from another directory ($(cat "$T/e"))" test "$rc" = 0
(cd "$T/elsewhere" && LQA_DATA_DIR=$T/nodata "$BIN_ABS" --config "$T/nodir.json" --output-dir "$T/nd2" --quiet) 2> "$T/e"
check "missing data: exit 1" test $? = 1
check "missing data: the hint names \$LQA_DATA_DIR ($(cat "$T/e"))" grep -qF '$LQA_DATA_DIR' "$T/e"
if [ -e "$REPO/data/mnist" ]; then
  (cd "$T/elsewhere" && env -u LQA_DATA_DIR "$BIN_ABS" --config "$T/nodir.json" --output-dir "$T/nd3" --quiet) 2> "$T/e"
  rc=$?
  check "default data_dir is the checkout's data/ from another directory ($(cat "$T/e"))" test "$rc" = 0
  check "metadata gives the resolved data_dir" grep -qF "\"$REPO/data/mnist\"" "$T/nd3/sgd_lr0.1_s1.json"
  printf '%s\n' '{"data_dir":"data/mnist",'"$nodir"'}' > "$T/reldir.json"
  (cd "$T/elsewhere" && env -u LQA_DATA_DIR "$BIN_ABS" --config "$T/reldir.json" --output-dir "$T/nd4" --quiet) 2> "$T/e"
  rc=$?
  check "relative data_dir resolves against the checkout ($(cat "$T/e"))" test "$rc" = 0
  (cd "$T/elsewhere" && env -u LQA_DATA_DIR "$BIN_ABS" --config mlp_mnist --check) > /dev/null 2> "$T/e"
  check "a shipped config by name from another directory" test $? = 0
fi

# determinism: same config, seed, threads -> byte-identical files
"$BIN" --config "$T/sweep.json" --output-dir "$T/b" --threads 1 --no-timing --quiet
for r in $runs; do
  check "$r steps.csv identical" cmp -s "$T/a/$r.steps.csv" "$T/b/$r.steps.csv"
  check "$r epochs.csv identical" cmp -s "$T/a/$r.epochs.csv" "$T/b/$r.epochs.csv"
done
check "summary identical" cmp -s "$T/a/summary.csv" "$T/b/summary.csv"

# resumption: complete runs are skipped; a deleted run is redone identically
touch -d '2000-01-01' "$T/b/adam_lr0.001_s1.steps.csv"
rm "$T/b/sgd_lr0.1_s2.json" "$T/b/sgd_lr0.1_s2.steps.csv"
"$BIN" --config "$T/sweep.json" --output-dir "$T/b" --threads 1 --no-timing --quiet
check "complete run not redone" test "$(stat -c %Y "$T/b/adam_lr0.001_s1.steps.csv")" -lt 1000000000
check "deleted run redone identically" cmp -s "$T/a/sgd_lr0.1_s2.steps.csv" "$T/b/sgd_lr0.1_s2.steps.csv"
"$BIN" --config "$T/sweep.json" --output-dir "$T/b" --threads 1 --no-timing --quiet --force --run adam_lr0.001_s1
check "--force --run redoes one run" test "$(stat -c %Y "$T/b/adam_lr0.001_s1.steps.csv")" -gt 1000000000
"$BIN" --config "$T/sweep.json" --output-dir "$T/b" --run nosuch --quiet 2> "$T/e"
check "--run unknown id exits 2" test $? = 2

# shards: two shards together give the same files as one process
"$BIN" --config "$T/sweep.json" --output-dir "$T/c" --threads 1 --no-timing --quiet --shard 0/2 &
"$BIN" --config "$T/sweep.json" --output-dir "$T/c" --threads 1 --no-timing --quiet --shard 1/2
wait
"$BIN" --config "$T/sweep.json" --output-dir "$T/c" --summarize --quiet
for r in $runs; do check "shard $r identical" cmp -s "$T/a/$r.steps.csv" "$T/c/$r.steps.csv"; done
check "summarize rebuilds the same summary" cmp -s "$T/a/summary.csv" "$T/c/summary.csv"

# validation split: the last N of the train_limit samples, evaluated every epoch, never trained on
cat > "$T/val.json" <<JSON
{"name":"val","model":"logreg","dataset":"mnist","data_dir":"$DATA/mnist","batch_size":32,"epochs":2,
 "train_limit":320,"test_limit":100,"validation":64,"seeds":[1,2],"dump_batches":true,
 "optimizers":[{"name":"sgd","lr":0.1}]}
JSON
"$BIN" --config "$T/val.json" --check > "$T/o" 2> "$T/e"
check "validation config passes --check ($(cat "$T/e"))" test $? = 0
"$BIN" --config "$T/val.json" --output-dir "$T/v" --threads 1 --no-timing --quiet 2> "$T/e"
check "validation sweep exit 0 ($(tail -2 "$T/e"))" test $? = 0
ev="$T/v/sgd_lr0.1_s1.epochs.csv"
check "validation: epochs.csv header" test "$(head -1 "$ev")" = "epoch,step,train_loss,test_loss,test_acc,seconds,val_loss,val_acc"
check "validation: 256 training samples, 8 steps/epoch x 2" test "$(tail -n +2 "$T/v/sgd_lr0.1_s1.steps.csv" | wc -l)" = 16
check "validation: val_loss and val_acc in every row" \
  test "$(tail -n +2 "$ev" | awk -F, '$7 != "" && $8 >= 0 && $8 <= 1 && ($8 * 64) == int($8 * 64)' | wc -l)" = 3
check "validation: val_loss differs from train_loss" test "$(tail -n +2 "$ev" | awk -F, '$7 == $3' | wc -l)" = 0
for s in 1 2; do
  mx=$(od -An -v -t d4 "$T/v/sgd_lr0.1_s$s.batches.i32" | tr -s ' ' '\n' | sed '/^$/d' | sort -n | tail -1)
  n=$(od -An -v -t d4 "$T/v/sgd_lr0.1_s$s.batches.i32" | tr -s ' ' '\n' | sed '/^$/d' | wc -l)
  check "seed $s: batches use only samples 0..255 (max $mx, $n indices)" test "$mx" = 255 -a "$n" = 512
done
check "validation: the metadata records it" grep -Eq '"validation":[[:space:]]+64' "$T/v/sgd_lr0.1_s1.json"
check "validation: the result has val_loss" grep -Eq '"val_loss":[[:space:]]+[0-9]' "$T/v/sgd_lr0.1_s1.json"
# ---- the documentation describes the product -----------------------------------
check "README/docs: no issue numbers, sessions or paths outside the repository" \
  test -z "$(grep -nE 'issue #|\.\./shared|this session|[a-z]+ session\b' README.md docs/*.md)"
arr=$(grep -oE 'sbatch --array=0-[0-9]+ .*slurm_sweep.sh configs/[a-z0-9_]+\.json' README.md | head -1)
n_arr=$(echo "$arr" | sed -E 's/.*--array=0-([0-9]+).*/\1/')
cfg_arr=$(echo "$arr" | grep -oE 'configs/[a-z0-9_]+\.json')
check "README's Slurm example: one array task per run of $cfg_arr" \
  test "$((n_arr + 1))" = "$("$BIN" --config "$cfg_arr" --list | wc -l)"
check "docs/regression.md names the config of its example" \
  grep -q '`logreg_mnist` is the config (`configs/regress/logreg_mnist.json`)' docs/regression.md
# ---- what counts as complete -------------------------------------------------
# results of another config are never reused nor relabelled: exit 2 naming the run and the keys
cp -r "$T/a" "$T/s"
sed 's/"epochs":2/"epochs":1/' "$T/sweep.json" > "$T/sweep_e1.json"
cp "$T/s/summary.csv" "$T/summary.before"
"$BIN" --config "$T/sweep_e1.json" --output-dir "$T/s" --threads 1 --no-timing --quiet 2> "$T/e"
rc=$?
check "changed epochs: exit 2 ($(tail -1 "$T/e"))" test $rc = 2
check "changed epochs: names the run and the key" grep -q "sgd_lr0.1_s1: .*epochs" "$T/e"
check "changed epochs: --force named" grep -q -- "--force" "$T/e"
check "changed epochs: summary.csv untouched" cmp -s "$T/s/summary.csv" "$T/summary.before"
check "changed epochs: runs untouched" cmp -s "$T/s/sgd_lr0.1_s1.steps.csv" "$T/a/sgd_lr0.1_s1.steps.csv"
sed 's/"model":"mlp"/"model":"logreg"/' "$T/sweep.json" > "$T/sweep_lr.json"
"$BIN" --config "$T/sweep_lr.json" --output-dir "$T/s" --threads 1 --no-timing --quiet 2> "$T/e"
rc=$?
check "changed model: exit 2" test $rc = 2
check "changed model: names model (and width)" grep -q "adam_lr0.001_s2: .*model" "$T/e"
"$BIN" --config "$T/sweep_lr.json" --output-dir "$T/s" --summarize --quiet 2> "$T/e"
rc=$?
check "changed model: --summarize exits 2" test $rc = 2
check "changed model: summary never labels old runs with the new model" \
  test "$(tail -n +2 "$T/s/summary.csv" | wc -l)" = 0
sed 's/"beta1"//; s/{"name":"adam","lr":0.001}/{"name":"adam","lr":0.001,"beta1":0.8}/' "$T/sweep.json" > "$T/sweep_b1.json"
"$BIN" --config "$T/sweep_b1.json" --output-dir "$T/s" --threads 1 --no-timing --quiet --run adam_lr0.001_s1 2> "$T/e"
check "changed hyperparameter: exit 2 naming optimizer.beta1 ($(head -1 "$T/e"))" grep -q "optimizer.beta1" "$T/e"
"$BIN" --config "$T/sweep.json" --output-dir "$T/s" --threads 1 --no-timing --quiet 2> "$T/e"
rc=$?
check "same config again, other data_dir spelling irrelevant: exit 0 ($(tail -1 "$T/e"))" test $rc = 0
"$BIN" --config "$T/sweep_e1.json" --output-dir "$T/s" --threads 1 --no-timing --quiet --force
rc=$?
check "--force redoes runs of another config: exit 0" test $rc = 0
check "--force: summary has the new epochs (10 steps)" grep -q '^sgd_lr0.1_s1,.*,done,10,' "$T/s/summary.csv"
check "--force: config_hash recorded" grep -q '"config_hash":' "$T/s/sgd_lr0.1_s1.json"
# a hyperparameter added to lqabench after a run was made: the run's .json lacks the key; at its
# default the run is still complete, at another value it is stale
cat > "$T/fnv.py" <<'PYEOF'
import json, sys
def fnv(cfg):
    h = 14695981039346656037
    for k, v in cfg.items():
        if k in ("sweep", "config_file", "data_dir"):
            continue
        for b in (k + ":" + json.dumps(v, separators=(",", ":"), ensure_ascii=False) + "\n").encode():
            h = ((h ^ b) * 1099511628211) % 2**64
    return "%016x" % h
p = sys.argv[1]
d = json.load(open(p))
if len(sys.argv) == 2:
    print("same" if fnv(d["config"]) == d["config_hash"] else "differs")
else:
    del d["config"]["optimizer"][sys.argv[2]]
    d["config_hash"] = fnv(d["config"])
    open(p, "w").write(json.dumps(d, indent=1))
PYEOF
check "the test's FNV-1a matches lqabench's config_hash" test "$(python3 "$T/fnv.py" "$T/s/adam_lr0.001_s1.json")" = same
python3 "$T/fnv.py" "$T/s/adam_lr0.001_s1.json" eps
touch -d '2001-01-01' "$T/s/adam_lr0.001_s1.steps.csv"
"$BIN" --config "$T/sweep_e1.json" --output-dir "$T/s" --threads 1 --no-timing --quiet 2> "$T/e"
rc=$?
check "key added later, at its default: exit 0, run complete, not redone ($(tail -1 "$T/e"))" \
  test "$rc-$(stat -c %Y "$T/s/adam_lr0.001_s1.steps.csv")" = "0-$(date -d 2001-01-01 +%s)"
sed 's/{"name":"adam","lr":0.001}/{"name":"adam","lr":0.001,"eps":1e-6}/' "$T/sweep_e1.json" > "$T/sweep_eps.json"
"$BIN" --config "$T/sweep_eps.json" --output-dir "$T/s" --threads 1 --no-timing --quiet --run adam_lr0.001_s1 2> "$T/e"
rc=$?
check "key added later, not at its default: exit 2 naming optimizer.eps ($(head -1 "$T/e"))" \
  test "$rc-$(grep -c 'optimizer.eps' "$T/e")" = 2-1
check "file sizes recorded" grep -q "\"sgd_lr0.1_s1.steps.csv\":[[:space:]]*$(stat -c %s "$T/s/sgd_lr0.1_s1.steps.csv")" "$T/s/sgd_lr0.1_s1.json"

# a damaged .json (empty, truncated) or a file of another size is not complete: run again, said so
: > "$T/s/sgd_lr0.1_s1.json"
head -c 100 "$T/a/adam_lr0.001_s1.json" > "$T/s/adam_lr0.001_s1.json"
echo "1,1,0.5" >> "$T/s/sgd_lr0.1_s2.steps.csv"
rm "$T/s/sgd-cos_lr0.1_s1.epochs.csv"
"$BIN" --config "$T/sweep_e1.json" --output-dir "$T/s" --threads 1 --no-timing --quiet 2> "$T/e"
rc=$?
check "damaged runs redone: exit 0 ($(tail -1 "$T/e"))" test $rc = 0
check "empty .json: said so" grep -q "sgd_lr0.1_s1: .*damaged" "$T/e"
check "truncated .json: said so" grep -q "adam_lr0.001_s1: .*damaged" "$T/e"
check "grown steps.csv: said so" grep -q "sgd_lr0.1_s2: .*bytes" "$T/e"
check "missing epochs.csv: said so" grep -q "sgd-cos_lr0.1_s1: .*missing" "$T/e"
check "damaged runs: summary has all 8" test "$(tail -n +2 "$T/s/summary.csv" | wc -l)" = 8
"$BIN" --config "$T/sweep.json" --output-dir "$T/e1" --threads 1 --no-timing --quiet --run sgd_lr0.1_s2
"$BIN" --config "$T/sweep_e1.json" --output-dir "$T/e1" --threads 1 --no-timing --quiet --run sgd_lr0.1_s2 --force
check "grown steps.csv: redone identically" cmp -s "$T/s/sgd_lr0.1_s2.steps.csv" "$T/e1/sgd_lr0.1_s2.steps.csv"

# a failed run (here: its CSV's name is taken by a folder) is retried on the next run
mkdir -p "$T/f/adam_lr0.001_s1.steps.csv"
"$BIN" --config "$T/sweep.json" --output-dir "$T/f" --threads 1 --no-timing --quiet --run adam_lr0.001_s1 2> "$T/e"
rc=$?
check "failing run: exit 1" test $rc = 1
check "failing run: failed .json" grep -q '"status":[[:space:]]*"failed"' "$T/f/adam_lr0.001_s1.json"
rmdir "$T/f/adam_lr0.001_s1.steps.csv"
"$BIN" --config "$T/sweep.json" --output-dir "$T/f" --threads 1 --no-timing --quiet --run adam_lr0.001_s1 2> "$T/e"
rc=$?
check "failed run retried: exit 0 ($(tail -1 "$T/e"))" test $rc = 0
check "failed run retried: said so" grep -q "adam_lr0.001_s1: failed before" "$T/e"
check "failed run retried: identical" cmp -s "$T/f/adam_lr0.001_s1.steps.csv" "$T/a/adam_lr0.001_s1.steps.csv"

# ---- paths ---------------------------------------------------------------------
long=$T
while [ ${#long} -lt 880 ]; do long="$long/$(printf 'd%.0s' $(seq 200))"; done
long=${long:0:1015}; long=${long%/}
lab=$(printf 'L%.0s' $(seq 90))
cat > "$T/long.json" <<JSON
{"model":"logreg","dataset":"mnist","data_dir":"$DATA/mnist","batch_size":32,"steps":3,"train_limit":64,
 "test_limit":50,"optimizers":[{"name":"sgd","label":"$lab","lr":0.1}]}
JSON
"$BIN" --config "$T/long.json" --output-dir "$long" --threads 1 --no-timing --quiet 2> "$T/e"
rc=$?
check "output_dir of ${#long} characters: exit 0 ($(tail -1 "$T/e"))" test $rc = 0
for s in .steps.csv .epochs.csv .json; do
  check "long path: ${lab:0:5}…$s under its own name" test -s "$long/${lab}_lr0.1_s1$s"
done
check "long path: nothing else there" test "$(ls "$long" | wc -l)" = 4
"$BIN" --config "$T/long.json" --output-dir "$long/xxxxxxxxxx" --quiet 2> "$T/e"
rc=$?
check "--output-dir over 1023 characters: exit 2" test $rc = 2
check "--output-dir over 1023 characters: said so" grep -q "output-dir: longer than 1023" "$T/e"

# ---- leftovers, exact names, exit status ---------------------------------------
# owner identity as afile.c writes it: lock line "pid host boot_id pidns nonce",
# temporary suffix ".tmp.<pid>.<machine>.<nonce>" (machine: FNV-1a of host, boot id, pidns)
pidns=$(stat -L -c %i /proc/self/ns/pid)
boot=$(cat /proc/sys/kernel/random/boot_id)
lockline() { echo "$1 $(hostname) $boot $pidns 0000000000000001"; }
fnv() { local s=$1 h=2166136261 i c
  for ((i = 0; i < ${#s}; i++)); do printf -v c '%d' "'${s:i:1}"; h=$(( ((h ^ c) * 16777619) & 0xffffffff )); done
  echo $h; }
machine=$(printf '%08x' "$(fnv "$(hostname) $boot $pidns ")")
sh -c 'exit 0' & dead=$!; wait $dead
sleep 300 & live=$!
trap 'kill $live 2>/dev/null; rm -rf "$T"' EXIT
# temporaries of another run whose id extends this one's, in an output_dir with glob characters
cat > "$T/pre.json" <<JSON
{"model":"logreg","dataset":"mnist","data_dir":"$DATA/mnist","batch_size":32,"steps":3,"train_limit":64,
 "test_limit":50,"optimizers":[{"name":"sgd","label":"s","lr":0.1},{"name":"sgd","label":"s_lr0.1_s1.x","lr":0.1}]}
JSON
g="$T/g[1]*"; mkdir -p "$g" "$T/g1x"
other="$g/s_lr0.1_s1.x_lr0.1_s1.steps.csv.tmp.$live.$machine.0000000000000001"
mine="$g/s_lr0.1_s1.steps.csv.tmp.$dead.$machine.0000000000000001"
echo partial > "$other"; echo partial > "$mine"
echo partial > "$T/g1x/s_lr0.1_s1.steps.csv.tmp.$dead.$machine.0000000000000001"
"$BIN" --config "$T/pre.json" --output-dir "$g" --threads 1 --no-timing --quiet --run s_lr0.1_s1 2> "$T/e"
rc=$?
check "glob characters in output_dir: exit 0 ($(tail -1 "$T/e"))" test $rc = 0
check "the run's own leftover temporary removed" test ! -e "$mine"
check "another run's temporary (id extends this one's) kept" test -e "$other"
check "a temporary in another folder the glob would match kept" test -n "$(ls "$T/g1x")"
# leftovers after kill -9: summary temporaries of dead owners, the lock of a complete run
cp -r "$T/a" "$T/l"
echo x > "$T/l/summary.csv.tmp.$dead.$machine.0000000000000001"
echo x > "$T/l/summary.csv.tmp.$live.$machine.0000000000000001"
echo x > "$T/l/summary.csv.tmp.$dead.00000000.0000000000000001"
echo x > "$T/l/summary.csv.tmp.$dead.00000001.0000000000000001"
touch -d '-11 minutes' "$T/l/summary.csv.tmp.$dead.00000001.0000000000000001"
lockline $dead > "$T/l/sgd_lr0.1_s1.lock"
lockline $live > "$T/l/sgd_lr0.1_s2.lock"
"$BIN" --config "$T/sweep.json" --output-dir "$T/l" --threads 1 --no-timing --quiet 2> "$T/e"
rc=$?
check "leftovers: exit 0 ($(tail -1 "$T/e"))" test $rc = 0
check "summary temporary of a dead process removed" test ! -e "$T/l/summary.csv.tmp.$dead.$machine.0000000000000001"
check "summary temporary of a live process kept" test -e "$T/l/summary.csv.tmp.$live.$machine.0000000000000001"
check "another machine's fresh summary temporary kept" test -e "$T/l/summary.csv.tmp.$dead.00000000.0000000000000001"
check "another machine's 11-minute-old summary temporary removed" test ! -e "$T/l/summary.csv.tmp.$dead.00000001.0000000000000001"
check "lock of a complete run, dead owner: removed" test ! -e "$T/l/sgd_lr0.1_s1.lock"
check "lock of a complete run, live owner: kept" test -e "$T/l/sgd_lr0.1_s2.lock"
# exit status: runs held by a live process are not complete (3); a lock that says nobody is not honoured
mkdir -p "$T/x"
lockline $live > "$T/x/sgd_lr0.1_s1.lock"
"$BIN" --config "$T/sweep.json" --output-dir "$T/x" --threads 1 --no-timing --quiet --run sgd_lr0.1_s1 2> "$T/e"
rc=$?
check "run held by a live process: exit 3 ($(tail -1 "$T/e"))" test $rc = 3
check "run held by a live process: said so" grep -q "not complete" "$T/e"
: > "$T/x/sgd_lr0.1_s1.lock"
touch -d '-10 seconds' "$T/x/sgd_lr0.1_s1.lock"
"$BIN" --config "$T/sweep.json" --output-dir "$T/x" --threads 1 --no-timing --quiet --run sgd_lr0.1_s1 2> "$T/e"
rc=$?
check "empty lock (a failed lock write) 10 s old: taken over, exit 0 ($(tail -1 "$T/e"))" test $rc = 0
check "empty lock: run done" test -s "$T/x/sgd_lr0.1_s1.json"
lockline $dead > "$T/x/sgd_lr0.1_s2.lock"
"$BIN" --config "$T/sweep.json" --output-dir "$T/x" --threads 1 --no-timing --quiet --run sgd_lr0.1_s2
check "lock of a dead process on this machine: taken over" test -s "$T/x/sgd_lr0.1_s2.json"
echo "$live $(hostname) $boot ${pidns}9 0000000000000001" > "$T/x/adam_lr0.001_s1.lock"
"$BIN" --config "$T/sweep.json" --output-dir "$T/x" --threads 1 --no-timing --quiet --run adam_lr0.001_s1 2> /dev/null
rc=$?
check "lock from another PID namespace (same PID could be anyone's): honoured, exit 3" test $rc = 3
kill $live

# ---- unit tests by name (tests/test.h, scripts/run_tests.sh) ----------------------
UT=${LQA_BUILD:-build}/tests/test_layers
if [ -x "$UT" ]; then
  check "unit test --list names the tests" bash -c "'$UT' --list | grep -qx model_options"
  all=$("$UT" | tail -1) one=$("$UT" model_options | tail -1)
  n_all=$(echo "$all" | sed -E 's/.*: ([0-9]+) passed.*/\1/') n_one=$(echo "$one" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
  check "a named unit test runs alone, closing line as usual ($one)" \
    bash -c "[[ '$one' =~ ^test_layers:\ [0-9]+\ passed,\ 0\ failed$ ]] && [ $n_one -gt 0 ] && [ $n_one -lt $n_all ]"
  "$UT" no_such_test > "$T/ut" 2>&1
  check "an unknown unit test name fails, naming it" bash -c "[ $? = 1 ] && grep -q 'no test named \"no_such_test\"' '$T/ut'"
  LQA_TEST=no_such_test LQA_SKIP_ASAN=1 bash scripts/run_tests.sh > "$T/ut" 2>&1
  check "run_tests.sh with an unknown LQA_TEST fails" test $? != 0
fi

lib_done
