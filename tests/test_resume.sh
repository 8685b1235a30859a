#!/usr/bin/env bash
# test_resume.sh — mid-run checkpoints: SIGTERM and kill -9 at random points
# inside the runs of multi-run sweeps (several optimizers and models), then the
# same command again: every CSV byte-identical to an uninterrupted sweep, no
# temporary, lock or checkpoint left; a damaged checkpoint (a flipped byte, a
# truncation) and one of another config are detected and not used.
# Needs MNIST in $LQA_DATA_DIR/mnist (default data/mnist).
source "$(dirname "$0")/lib.sh"
RANDOM=${LQA_RESUME_SEED:-7}

common='"dataset":"mnist","data_dir":"'$DATA'/mnist","batch_size":16,"train_limit":160,"test_limit":64,"validation":24,"eval_every":4,"checkpoint_every":3'
opts='"optimizers":[{"name":"sgd","lr":0.05},{"name":"adam","lr":0.001},{"name":"lqa","lr":0.1},
 {"name":"qlabgrad","lr":0.01,"findplr_every":5},{"name":"newton-lr","lr":0.01},
 {"name":"newton-lr","label":"nlr-fo","lr":0.01,"form":"first-order","alpha":0.001},
 {"name":"newton-lr","label":"nlr-mom","lr":0.01,"momentum":0.9},
 {"name":"newton-lr","label":"nlr-val","lr":0.01,"eta_batch":"validation"},
 {"name":"hgd","lr":0.01,"momentum":0.9},{"name":"l4gd","lr":0.1}]'
echo '{"name":"r1","model":"logreg",'"$common"',"steps":14,"seeds":[1],'"$opts"'}' > "$T/logreg.json"
echo '{"name":"r2","model":"mlp",'"$common"',"steps":14,"seeds":[1],'"$opts"'}' > "$T/mlp.json"
echo '{"name":"r3","model":"lenet5",'"$common"',"steps":12,"seeds":[1],"optimizers":[{"name":"sgd","lr":0.05},{"name":"qlabgrad","lr":0.01,"findplr_every":5}]}' > "$T/lenet5.json"

run() { "$BIN" --config "$1" --output-dir "$2" --threads 1 --no-timing --quiet; }

trials=0
for m in logreg mlp lenet5; do
  cfg=$T/$m.json
  run "$cfg" "$T/ref-$m" > /dev/null 2>&1 || bad "$m: reference sweep"
  for k in 1 2 3 4; do
    out=$T/$m-$k
    sig=TERM; [ $((k % 2)) = 0 ] && sig=KILL
    # kill at random points until the sweep completes (at most 3 interruptions)
    for i in 1 2 3; do
      "$BIN" --config "$cfg" --output-dir "$out" --threads 1 --no-timing --quiet > /dev/null 2> "$T/err" &
      pid=$!
      sleep "0.$((RANDOM % 9 + 1))"
      kill -s $sig $pid 2> /dev/null
      { wait $pid; } 2> /dev/null
      rc=$?
      cat "$T/err" >> "$T/log"
      trials=$((trials + 1))
      [ $rc = 0 ] && break
      if [ $sig = TERM ] && [ $rc != 143 ]; then bad "$m: SIGTERM exit $rc, not 143"; cat "$T/err" >&2; fi
    done
    run "$cfg" "$out" > /dev/null 2> "$T/err" || bad "$m: resumed sweep failed: $(cat "$T/err")"
    cat "$T/err" >> "$T/log"
    for f in "$T/ref-$m"/*.csv; do
      b=$(basename "$f")
      cmp -s "$f" "$out/$b" || bad "$m/$k ($sig): $b differs from the uninterrupted run"
    done
    ok
    left=$(ls "$out" | grep -E '\.tmp\.|\.lock$|\.ckpt$')
    check "$m/$k: leftovers: $left" test -z "$left"
  done
done
check "at least 20 interruptions ($trials)" test $trials -ge 20
check "runs resumed from their checkpoints" grep -q "resuming from its checkpoint" "$T/log"

# ---- damaged and foreign checkpoints ------------------------------------------
cfg=$T/logreg.json
echo '{"name":"r1","model":"logreg",'"$common"',"steps":14,"seeds":[1],"optimizers":[{"name":"adam","lr":0.001}]}' > "$T/one.json"
run "$T/one.json" "$T/ref1" > /dev/null 2>&1
ck() { # what mutate-command expected-message
  rm -rf "$T/d"
  "$BIN" --config "$T/one.json" --output-dir "$T/d" --threads 1 --no-timing --quiet > /dev/null 2>&1 &
  local pid=$!
  # stop it once a checkpoint exists
  for _ in $(seq 200); do ls "$T/d"/*.ckpt > /dev/null 2>&1 && break; sleep 0.02; done
  kill -9 $pid 2> /dev/null; { wait $pid; } 2> /dev/null
  local c
  c=$(ls "$T/d"/*.ckpt 2> /dev/null | head -1)
  if [ -z "$c" ]; then ok; return; fi # finished before a checkpoint: nothing to damage
  eval "$2"
  run "$3" "$T/d" > /dev/null 2> "$T/err"
  check "$1: message" grep -q "checkpoint .* not used: $4" "$T/err"
  check "$1: no resume" sh -c "! grep -q resuming '$T/err'"
}
ck "flipped byte" 'printf "\x55" | dd of="$c" bs=1 seek=100 conv=notrunc status=none' "$T/one.json" "checksum mismatch"
ck "truncated" 'truncate -s 50 "$c"' "$T/one.json" "truncated"
echo '{"name":"r1","model":"logreg",'"$common"',"steps":14,"seeds":[1],"optimizers":[{"name":"adam","lr":0.001,"beta1":0.8}]}' > "$T/other.json"
ck "another config" ':' "$T/other.json" "made by another code version or config"
run "$T/one.json" "$T/e" > /dev/null 2>&1
check "after a rejected checkpoint: results as uninterrupted" cmp -s "$T/ref1/summary.csv" "$T/e/summary.csv"

lib_done
