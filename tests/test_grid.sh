#!/usr/bin/env bash
# test_grid.sh — grids over hyperparameters and model options: the product and
# "zip" expansions, run ids, summary.csv's grid columns, the run .json's single
# values, byte-identical results to separate configs with the single values, and
# each config error (exit 2, key path named, nothing written). Needs MNIST in
# $LQA_DATA_DIR/mnist (default data/mnist).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
base='"model":"logreg","dataset":"mnist","data_dir":"'$DATA'/mnist","batch_size":32,"steps":6,"train_limit":256,"test_limit":100,"eval_every":3'

# ---- product, zip, run ids, run count ---------------------------------------------
cat > "$T/grid.json" <<JSON
{$base,"seeds":[1,2],
 "optimizers":[{"name":"adam","lr":[0.001,0.01],"beta2":[0.99,0.999],"eps":1e-8},
               {"name":"adam","label":"az","lr":[0.001,0.01],"beta1":[0.8,0.9],"grid":"zip"},
               {"name":"sgd","lr":0.1}]}
JSON
"$BIN" --config "$T/grid.json" --check > "$T/o" 2> "$T/e"
check "grid --check: exit 0, 14 runs ($(cat "$T/o" "$T/e"))" test "$(cat "$T/o")" = "$T/grid.json: ok, 14 runs"
"$BIN" --config "$T/grid.json" --list > "$T/ids"
printf '%s\n' adam_lr0.001_beta2-0.99_s1 adam_lr0.001_beta2-0.99_s2 adam_lr0.01_beta2-0.99_s1 \
  adam_lr0.01_beta2-0.99_s2 adam_lr0.001_beta2-0.999_s1 adam_lr0.001_beta2-0.999_s2 \
  adam_lr0.01_beta2-0.999_s1 adam_lr0.01_beta2-0.999_s2 az_lr0.001_beta1-0.8_s1 \
  az_lr0.001_beta1-0.8_s2 az_lr0.01_beta1-0.9_s1 az_lr0.01_beta1-0.9_s2 sgd_lr0.1_s1 sgd_lr0.1_s2 > "$T/want"
check "product x lr x seed, then zip (lr paired with beta1), then a plain entry: run ids ($(tr '\n' ' ' < "$T/ids"))" \
  cmp -s "$T/ids" "$T/want"
# a zip of three lists, without lr; a product of two hyperparameter lists: table order in ids
cat > "$T/z3.json" <<JSON
{$base,"optimizers":[{"name":"adam","lr":0.01,"beta1":[0.5,0.6,0.7],"eps":[1e-8,1e-7,1e-6],"grid":"zip"},
                     {"name":"adam","label":"p","lr":0.01,"eps":[1e-8,1e-6],"beta1":[0.5,0.7]}]}
JSON
check "zip of 3 + product of 2x2: ids in the optimizer's table order" test "$("$BIN" --config "$T/z3.json" --list | tr '\n' ' ')" = \
  "adam_lr0.01_beta1-0.5_eps-1e-08_s1 adam_lr0.01_beta1-0.6_eps-1e-07_s1 adam_lr0.01_beta1-0.7_eps-1e-06_s1 p_lr0.01_beta1-0.5_eps-1e-08_s1 p_lr0.01_beta1-0.5_eps-1e-06_s1 p_lr0.01_beta1-0.7_eps-1e-08_s1 p_lr0.01_beta1-0.7_eps-1e-06_s1 "
# model options: width swept at the top level, with an optimizer grid
cat > "$T/w.json" <<JSON
{"model":"mlp","dataset":"mnist","data_dir":"$DATA/mnist","batch_size":32,"steps":4,"train_limit":256,"test_limit":100,
 "width":[16,8],"optimizers":[{"name":"sgd-m","lr":0.05,"momentum":[0.5,0.9]}]}
JSON
check "width x momentum: ids" test "$("$BIN" --config "$T/w.json" --list | tr '\n' ' ')" = \
  "sgd-m_lr0.05_momentum-0.5_width-16_s1 sgd-m_lr0.05_momentum-0.9_width-16_s1 sgd-m_lr0.05_momentum-0.5_width-8_s1 sgd-m_lr0.05_momentum-0.9_width-8_s1 "
# no list, no change: the run ids of a sweep without grids are as before
cat > "$T/plain.json" <<JSON
{$base,"width":16,"optimizers":[{"name":"adam","lr":[0.001,0.01],"beta2":0.99}]}
JSON
check "no grid: ids unchanged" test "$("$BIN" --config "$T/plain.json" --list | tr '\n' ' ')" = "adam_lr0.001_s1 adam_lr0.01_s1 "

# ---- runs, summary columns, the run .json --------------------------------------------
"$BIN" --config "$T/grid.json" --output-dir "$T/g" --threads 1 --no-timing --quiet 2> "$T/e"
check "grid sweep runs: exit 0 ($(tail -2 "$T/e"))" test $? = 0
head -1 "$T/g/summary.csv" > "$T/h"
check "summary header: existing columns, then beta2,beta1 ($(cat "$T/h"))" test "$(cat "$T/h")" = \
  "run,model,dataset,optimizer,label,lr,seed,status,steps,final_loss,train_loss,test_loss,test_acc,seconds,sec_per_step,fwd,bwd,csv,epochs_csv,beta2,beta1"
check "summary: a product run's values" grep -q '^adam_lr0.01_beta2-0.999_s2,.*,0.999,0.9$' "$T/g/summary.csv"
check "summary: a zip run's values" grep -q '^az_lr0.001_beta1-0.8_s1,.*,0.999,0.8$' "$T/g/summary.csv"
check "summary: empty where the optimizer has no such hyperparameter" grep -q '^sgd_lr0.1_s1,.*,,$' "$T/g/summary.csv"
check "summary: 14 rows of 21 fields" test "$(awk -F, 'NR > 1 && NF == 21' "$T/g/summary.csv" | wc -l)" = 14
check "run .json holds the single values" $PY -c "
import json, sys
o = json.load(open('$T/g/az_lr0.01_beta1-0.9_s2.json'))['config']['optimizer']
sys.exit(not (o['lr'] == 0.01 and o['beta1'] == 0.9 and o['beta2'] == 0.999 and 'grid' not in o))"
check "load_sweep.py exposes the grid columns" $PY -c "
import sys; sys.path.insert(0, 'scripts'); import load_sweep
d = load_sweep.load_long('$T/g', use_pandas=False)
r = [x for x in d if x['run'] == 'adam_lr0.001_beta2-0.99_s1']
sys.exit(not (len(r) == 6 and r[0]['beta2'] == 0.99 and r[0]['beta1'] == 0.9))"

# ---- a grid gives the same files as separate configs with the single values -----------
for b2 in 0.99 0.999; do
  cat > "$T/one$b2.json" <<JSON
{$base,"seeds":[1,2],"optimizers":[{"name":"adam","lr":[0.001,0.01],"beta2":$b2}]}
JSON
  "$BIN" --config "$T/one$b2.json" --output-dir "$T/one$b2" --threads 1 --no-timing --quiet
  for lr in 0.001 0.01; do for s in 1 2; do for k in steps epochs; do
    check "beta2 $b2 lr $lr seed $s: $k.csv byte-identical to a config with the single value" \
      cmp -s "$T/g/adam_lr${lr}_beta2-${b2}_s$s.$k.csv" "$T/one$b2/adam_lr${lr}_s$s.$k.csv"
  done; done; done
done
"$BIN" --config "$T/w.json" --output-dir "$T/w" --threads 1 --no-timing --quiet 2> "$T/e"
check "width grid runs ($(tail -2 "$T/e"))" test $? = 0
check "width column" test "$(head -1 "$T/w/summary.csv" | awk -F, '{print $(NF-1) "," $NF}')" = "momentum,width"
check "run .json: width 8" $PY -c "
import json, sys; sys.exit(json.load(open('$T/w/sgd-m_lr0.05_momentum-0.9_width-8_s1.json'))['config']['width'] != 8)"
cat > "$T/w8.json" <<JSON
{"model":"mlp","dataset":"mnist","data_dir":"$DATA/mnist","batch_size":32,"steps":4,"train_limit":256,"test_limit":100,
 "width":8,"optimizers":[{"name":"sgd-m","lr":0.05,"momentum":0.9}]}
JSON
"$BIN" --config "$T/w8.json" --output-dir "$T/w8" --threads 1 --no-timing --quiet
check "width 8 from the grid = width 8 alone (steps.csv)" cmp -s "$T/w/sgd-m_lr0.05_momentum-0.9_width-8_s1.steps.csv" "$T/w8/sgd-m_lr0.05_s1.steps.csv"
check "width 8 from the grid = width 8 alone (epochs.csv)" cmp -s "$T/w/sgd-m_lr0.05_momentum-0.9_width-8_s1.epochs.csv" "$T/w8/sgd-m_lr0.05_s1.epochs.csv"
check "widths differ: width 16 and 8 give different losses" bash -c "! cmp -s '$T/w/sgd-m_lr0.05_momentum-0.9_width-16_s1.steps.csv' '$T/w8/sgd-m_lr0.05_s1.steps.csv'"

# ---- errors: exit 2, the key path named, nothing written --------------------------------
cases=(
  '{'"$base"',"optimizers":[{"name":"adam","lr":0.1,"beta2":[0.99,"x"]}]}|optimizers[0].beta2[1]: must be a number'
  '{'"$base"',"optimizers":[{"name":"adam","lr":0.1,"beta2":[]}]}|optimizers[0].beta2: must not be an empty list'
  '{'"$base"',"optimizers":[{"name":"adam","lr":0.1,"beta2":[0.99,1.5]}]}|optimizers[0].beta2[1]'
  '{'"$base"',"optimizers":[{"name":"lqa","lr":0.1,"variant":["paper","reference"]}]}|optimizers[0].variant: is not numeric'
  '{'"$base"',"optimizers":[{"name":"sgd-nag","lr":0.1,"nesterov":[true,false]}]}|optimizers[0].nesterov'
  '{'"$base"',"probe_bn":["batch","eval"],"optimizers":[{"name":"sgd","lr":0.1}]}|probe_bn: is not numeric'
  '{'"$base"',"width":[],"optimizers":[{"name":"sgd","lr":0.1}]}|width: must not be an empty list'
  '{'"$base"',"width":[8,2.5],"optimizers":[{"name":"sgd","lr":0.1}]}|width[1]: must be an integer'
  '{'"$base"',"width":[8,0],"optimizers":[{"name":"sgd","lr":0.1}]}|width[1]'
  '{'"$base"',"width":[8,16,8],"optimizers":[{"name":"sgd","lr":0.1}]}|width[2]: duplicate value 8'
  '{'"$base"',"optimizers":[{"name":"adam","lr":0.1,"beta2":[0.99,0.999,0.99]}]}|optimizers[0].beta2[2]: duplicate value 0.99'
  '{'"$base"',"optimizers":[{"name":"adam","lr":0.1,"beta2":[0.9999991,0.9999992]}]}|optimizers[0].beta2[1]: duplicate value'
  '{'"$base"',"optimizers":[{"name":"sgd","lr":[0.1,0.2,0.1]}]}|optimizers[0].lr[2]: duplicate value 0.1'
  '{'"$base"',"optimizers":[{"name":"adam","lr":[0.1,0.1],"beta2":[0.9,0.9],"grid":"zip"}]}|optimizers[0]: run id "adam_lr0.1_beta2-0.9_s1" occurs twice'
  '{'"$base"',"optimizers":[{"name":"adam","lr":[0.1,0.2],"beta2":[0.9,0.99,0.999],"grid":"zip"}]}|optimizers[0].grid: "zip" pairs the lists element by element, but lr has 2 values and beta2 has 3'
  '{'"$base"',"optimizers":[{"name":"adam","lr":0.1,"beta1":[0.9],"beta2":[0.9,0.99],"grid":"zip"}]}|optimizers[0].grid'
  '{'"$base"',"optimizers":[{"name":"adam","lr":0.1,"beta2":[0.9,0.99],"grid":"cross"}]}|optimizers[0].grid: unknown value "cross"'
  '{'"$base"',"optimizers":[{"name":"adam","lr":0.1,"beta2":[0.9]},{"name":"adam","lr":0.1,"beta2":[0.9,0.99]}]}|repeats optimizers[0]'
  '{'"$base"',"optimizers":[{"name":"l4gd","lr":[0.1,0.3],"alpha":[0.1,0.2],"grid":"zip"}]}|optimizers[0].lr'
)
i=0
for c in "${cases[@]}"; do
  body=${c%|*} want=${c##*|}
  f="$T/bad$i.json"
  printf '%s\n' "$body" > "$f"
  "$BIN" --config "$f" --quiet --output-dir "$T/out$i" > "$T/o" 2> "$T/e"
  rc=$?
  check "bad grid $i: exit $rc, want 2 ($(cat "$T/e"))" test "$rc" = 2
  check "bad grid $i: message names the file: $(cat "$T/e")" grep -qF "$f" "$T/e"
  check "bad grid $i: message has '$want': $(cat "$T/e")" grep -qF "$want" "$T/e"
  check "bad grid $i: nothing written" test ! -e "$T/out$i"
  i=$((i + 1))
done
# the run-count guard covers the product: 6 lists of 100 values (1e12 runs) refused at once
$PY -c "
import json
v = [0.5 + i * 1e-3 for i in range(100)]
print(json.dumps({'model':'logreg','dataset':'mnist','batch_size':8,'steps':1,'width':list(range(1, 101)),
  'optimizers':[{'name':'adam','lr':[1e-4 * (i + 1) for i in range(100)],'beta1':v,'beta2':v,
                 'eps':[1e-9 * (i + 1) for i in range(100)],'weight_decay':[1e-5 * i for i in range(100)]}]}))" > "$T/huge.json"
t0=$SECONDS; "$BIN" --config "$T/huge.json" --check > "$T/o" 2> "$T/e"; rc=$?
check "1e12-run grid: exit 2 naming the count ($(cat "$T/e"))" test $rc = 2 -a -n "$(grep -F 'optimizers: 1000000000000 runs' "$T/e")"
check "1e12-run grid: refused in under 3 s" test $((SECONDS - t0)) -lt 3
# model options alone beyond the limit
$PY -c "
import json
print(json.dumps({'model':'logreg','dataset':'mnist','batch_size':8,'steps':1,'width':list(range(1, 65537)),
  'optimizers':[{'name':'sgd','lr':[1e-4 * (i + 1) for i in range(20)]}]}))" > "$T/huge2.json"
"$BIN" --config "$T/huge2.json" --check > "$T/o" 2> "$T/e"; rc=$?
check "65536 widths x 20 lrs: exit 2 ($(cat "$T/e"))" test $rc = 2 -a -n "$(grep -F 'optimizers: 1310720 runs' "$T/e")"
# a large grid within the limit is expanded and checked quickly
$PY -c "
import json
print(json.dumps({'model':'logreg','dataset':'mnist','batch_size':8,'steps':1,'seeds':[1,2],
  'optimizers':[{'name':'adam','lr':[1e-4 * (i + 1) for i in range(50)],'beta1':[0.5 + i * 1e-3 for i in range(100)],
                 'beta2':[0.9 + i * 1e-3 for i in range(50)]}]}))" > "$T/big.json"
t0=$SECONDS; "$BIN" --config "$T/big.json" --check > "$T/o" 2> "$T/e"; rc=$?
check "500,000-run grid: --check ok in under 10 s ($((SECONDS - t0)) s, $(cat "$T/e"))" test $rc = 0 -a $((SECONDS - t0)) -lt 10
check "500,000-run grid counted" grep -q "ok, 500000 runs" "$T/o"

lib_done
