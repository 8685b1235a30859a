#!/usr/bin/env bash
# test_verdicts.sh — scripts/verdicts.py and claims/claims.json: on a synthetic sweep whose
# verdicts are known (a claim that holds, one that fails, one whose interval straddles 0, one
# without results, values against a tolerance, divergence, best-lr selection on validation, the
# make bench cost claims), a claim that flips from "reproduced" to "inconclusive" when noisy
# seeds widen its interval, errors in the claims file, and the generated block of a document.
source "$(dirname "$0")/lib.sh"
V="python3 scripts/verdicts.py"

# ---- the shipped claims file is valid against the shipped configs ----------------------------
check "shipped claims file loads (full)" $V --full --results "$T/none" --out "$T/ship"
check "shipped claims file loads (quick)" $V --quick --results "$T/none" --out "$T/shipq"
check "every claim has a row" test "$(($(wc -l < "$T/ship/verdicts.csv") - 1))" = \
    "$(python3 -c 'import json; print(len(json.load(open("claims/claims.json"))["claims"]))')"
for id in lqa-cost-ignorable qlab-cost-hgd qlab-cost-l4gd qlab-cost-qlabgrad qlab-cost-lqa \
          lqa-f5-lower-than-adam lqa-f1-lower-than-sgd-m lqa-f1-lower-than-sgd-nag \
          newton-lenet-faster-train newton-resnet-faster qlab-mlp-adam-competitive \
          qlab-mlp-adagrad-admirable qlab-f8-findplr-0.00128; do
    check "claims file has $id" grep -q "^$id," "$T/ship/verdicts.csv"
done
check "ResNet-18 claims say 'not run at full size'" \
    grep -q '^lqa-f5-lower-than-adam,.*not run,not run at full size' "$T/ship/verdicts.csv"

# ---- a synthetic sweep -----------------------------------------------------------------------
# Labels (5 seeds each, 3 epochs): base; lower = base - 1 (+ small noise); higher = base + 1;
# same = base + noise around 0; div (diverged at step 2 in every seed); opt at lr 0.1 / 0.01
# (0.01 lower on val_loss, 0.1 lower on test_loss: selection must use validation).
mkdir -p "$T/cfg"
cat > "$T/cfg/syn.json" <<'EOF'
{"name": "syn", "optimizers": [{"name": "sgd", "label": "base"}, {"name": "sgd", "label": "lower"},
 {"name": "sgd", "label": "higher"}, {"name": "sgd", "label": "same"}, {"name": "sgd", "label": "div"},
 {"name": "sgd", "label": "opt"}, {"name": "sgd", "label": "absent"}]}
EOF
cp "$T/cfg/syn.json" "$T/cfg/gone.json"
sed -i 's/"syn"/"gone"/' "$T/cfg/gone.json"
mksweep() { # dir, seeds, noise seeds, with validation (1/0)
    python3 - "$@" <<'EOF'
import csv, os, sys
d, seeds, noisy, val = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
os.makedirs(d, exist_ok=True)
jit = [0.01, -0.02, 0.015, -0.005, 0.0, 0.02, -0.01, 0.005]
wide = [3.0, -4.0, 5.0, -3.5, 4.5]
sym = [0.3, -0.3, 0.2, -0.25, 0.05, 0.1, -0.1, 0.0]
summ = []
def run(label, lr, seed, losses, status="done", accs=None, vals=None):
    name = "%s_lr%s_s%d" % (label, lr, seed)
    with open(os.path.join(d, name + ".epochs.csv"), "w") as f:
        f.write("epoch,step,train_loss,test_loss,test_acc,seconds,val_loss,val_acc\n")
        for e, l in enumerate(losses):
            acc = accs[e] if accs else 0.5
            vl, va = (vals[e], 0.5) if vals else ("", "")
            tl = l + (0.5 if label == "opt" and lr == "0.01" else 0)
            f.write("%d,%d,%s,%s,%s,0,%s,%s\n" % (e, e * 10, l, tl, acc, vl, va))
    with open(os.path.join(d, name + ".steps.csv"), "w") as f:
        f.write("step,epoch,loss,lr,fwd,bwd,seconds,fallback\n")
        n = 30 if status == "done" else 2
        for s in range(1, n + 1):
            f.write("%d,%d,%s,%s,%d,%d,0,\n" % (s, (s - 1) // 10 + 1, losses[-1], 0.1 * s, 2 * s, s))
    summ.append([name, label, lr, seed, status, name + ".steps.csv", name + ".epochs.csv"])
for s in range(1, seeds + 1):
    j = jit[(s - 1) % len(jit)]
    w = wide[(s - 1) % len(wide)] if s > seeds - noisy else 0
    base = [3.0 + s * 0.1, 2.0 + s * 0.1, 1.5 + s * 0.1, 1.0 + s * 0.1]
    run("base", "0.1", s, base, accs=[0.1, 0.6, 0.7, 0.8])
    run("lower", "0.1", s, [b - 1 + j + w for b in base], accs=[0.1, 0.7, 0.8, 0.9 + j / 10])
    run("higher", "0.1", s, [b + 1 + j for b in base])
    run("same", "0.1", s, [b + sym[(s - 1) % len(sym)] for b in base])
    run("div", "0.1", s, base[:1], status="diverged")
    v1, v2 = ([2.0, 1.5, 1.2, 1.0], [1.9, 1.4, 1.1, 0.9]) if val else (None, None)
    run("opt", "0.1", s, base, vals=v1)
    run("opt", "0.01", s, [b + 0.3 for b in base], vals=v2)
with open(os.path.join(d, "summary.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["run", "label", "lr", "seed", "status", "csv", "epochs_csv"])
    w.writerows(summ)
EOF
}
cat > "$T/claims.json" <<'EOF'
{"papers": {"p": {"short": "P", "title": "A paper"}},
 "claims": [
  {"id": "holds", "paper": "p", "where": "Fig. 1", "quote": "lower is lower", "paper_value": "A < B",
   "sweep": {"full": "syn", "quick": null},
   "test": {"type": "compare", "a": {"label": "lower"}, "b": {"label": "base"}, "metric": "train_loss", "epoch": "final", "expect": "a_lower"}},
  {"id": "fails", "paper": "p", "where": "Fig. 1", "quote": "higher is lower", "paper_value": "A < B",
   "sweep": {"full": "syn", "quick": null},
   "test": {"type": "compare", "a": {"label": "higher"}, "b": {"label": "base"}, "metric": "train_loss", "epochs": {"from": 1, "to": "final"}, "expect": "a_lower"}},
  {"id": "straddles", "paper": "p", "where": "Fig. 1", "quote": "same is lower", "paper_value": "A < B",
   "sweep": {"full": "syn", "quick": null},
   "test": {"type": "compare", "a": {"label": "same"}, "b": {"label": "base"}, "metric": "train_loss", "epoch": "final", "expect": "a_lower"}},
  {"id": "notrun", "paper": "p", "where": "Fig. 2", "quote": "no results", "paper_value": "A < B",
   "sweep": {"full": "gone", "quick": null, "not_run_note": "needs a cluster"},
   "test": {"type": "compare", "a": {"label": "lower"}, "b": {"label": "base"}, "metric": "train_loss", "epoch": "final", "expect": "a_lower"}},
  {"id": "nolabel", "paper": "p", "where": "Fig. 2", "quote": "no such runs", "paper_value": "A < B",
   "sweep": {"full": "syn", "quick": null},
   "test": {"type": "compare", "a": {"label": "absent"}, "b": {"label": "base"}, "metric": "train_loss", "epoch": "final", "expect": "a_lower"}},
  {"id": "value-in", "paper": "p", "where": "Table 1", "quote": "accuracy 90 %", "paper_value": "90 %",
   "sweep": {"full": "syn", "quick": null},
   "test": {"type": "value", "a": {"label": "lower"}, "metric": "test_acc", "epoch": "final", "scale": 100, "expect": {"value": 90, "tol": 1}}},
  {"id": "value-out", "paper": "p", "where": "Table 1", "quote": "accuracy 95 %", "paper_value": "95 %",
   "sweep": {"full": "syn", "quick": null},
   "test": {"type": "value", "a": {"label": "lower"}, "metric": "test_acc", "epoch": "final", "scale": 100, "expect": {"value": 95, "tol": 1}}},
  {"id": "div-worse", "paper": "p", "where": "Fig. 3", "quote": "div is lower", "paper_value": "A < B",
   "sweep": {"full": "syn", "quick": null},
   "test": {"type": "compare", "a": {"label": "div"}, "b": {"label": "base"}, "metric": "train_loss", "epoch": "final", "expect": "a_lower"}},
  {"id": "best-lr", "paper": "p", "where": "Fig. 4", "quote": "best lr is 0.01", "paper_value": "0.01",
   "sweep": {"full": "syn", "quick": null},
   "test": {"type": "compare", "a": {"label": "opt", "lr": 0.01}, "b": {"label": "opt", "lr": "others"}, "metric": "select_loss", "epoch": "final", "expect": "a_lower"}},
  {"id": "best-vs-base", "paper": "p", "where": "Fig. 4", "quote": "opt at its best is like base", "paper_value": "≈",
   "sweep": {"full": "syn", "quick": null},
   "test": {"type": "compare", "a": {"label": "opt", "lr": "best"}, "b": {"label": "base"}, "metric": "train_loss", "epoch": "final", "expect": "similar", "rel_margin": 0.5}},
  {"id": "lr-median", "paper": "p", "where": "Fig. 5", "quote": "lr settles at 2.9", "paper_value": "2.9",
   "sweep": {"full": "syn", "quick": null},
   "test": {"type": "value", "a": {"label": "base"}, "metric": "steps:lr", "stat": "median", "steps": {"from_frac": 0.9}, "expect": {"value": 2.9, "tol": 0.01}}},
  {"id": "cost-fails", "paper": "p", "where": "§5", "quote": "costs nothing", "paper_value": "≤ 1.1×",
   "test": {"type": "cost", "optimizer": "lqa", "field": "ratio", "expect": {"at_most": 1.1}}},
  {"id": "cost-holds", "paper": "p", "where": "§5", "quote": "1.5x", "paper_value": "1.5×",
   "test": {"type": "cost", "optimizer": "lqa", "field": "ratio", "expect": {"value": 1.5, "tol": 0.1}}},
  {"id": "cost-absent", "paper": "p", "where": "§5", "quote": "rmsprop is cheap", "paper_value": "1×",
   "test": {"type": "cost", "optimizer": "rmsprop", "field": "ratio", "expect": {"at_most": 1.1}}}
 ]}
EOF
cat > "$T/bench.md" <<'EOF'
# report
## 2. Cost per step
| optimizer | ms/step | × sgd | target | result | forwards/step | optimizer part ms | probe cost ms |
|---|---:|---:|---:|---|---:|---:|---:|
| sgd | 2.000 | 1.00× | – | – | 1 | 0.2 | – |
| lqa | 3.000 | 1.50× | ≤ 1.7× | PASS | 3 | 1.2 | 0.5 |

## 3. next
EOF
mksweep "$T/res/syn" 5 0 1
VS="$V --claims $T/claims.json --configs $T/cfg --results $T/res --bench $T/bench.md"
verdict() { # csv, id -> verdict column
    python3 -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["id"] == sys.argv[2]: print(r["verdict"]); break' "$1" "$2"
}
field() { # csv, id, column
    python3 -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["id"] == sys.argv[2]: print(r[sys.argv[3]]); break' "$1" "$2" "$3"
}
check "synthetic run" $VS --out "$T/o1"
C1=$T/o1/verdicts.csv
check "A lower than B holds -> reproduced" test "$(verdict "$C1" holds)" = reproduced
check "A higher than B -> not reproduced" test "$(verdict "$C1" fails)" = "not reproduced"
check "interval straddles 0 -> inconclusive" test "$(verdict "$C1" straddles)" = inconclusive
check "why names the straddling interval and n" grep -q '^straddles,.*straddles 0 at n = 5' "$C1"
check "no results dir -> not run" test "$(verdict "$C1" notrun)" = "not run"
check "not run names the dir and the note" \
    grep -q "^notrun,.*not run at full size: needs a cluster (no results in $T/res/gone)" "$C1"
check "label without runs -> not run" test "$(verdict "$C1" nolabel)" = "not run"
check "value inside tolerance -> reproduced" test "$(verdict "$C1" value-in)" = reproduced
check "value outside tolerance -> not reproduced" test "$(verdict "$C1" value-out)" = "not reproduced"
check "diverged in every seed -> not reproduced" test "$(verdict "$C1" div-worse)" = "not reproduced"
check "divergence reported as k/n" grep -q '^div-worse,.*A diverged in 5/5 seeds' "$C1"
check "best lr chosen on val_loss (test_loss says otherwise)" \
    test "$(verdict "$C1" best-lr)" = reproduced
check "selection reason names val_loss" grep -q '^best-vs-base,.*best lr of opt 0.01 selected on val_loss' "$C1"
check "steps window statistic" test "$(verdict "$C1" lr-median)" = reproduced
check "cost over bound -> not reproduced" test "$(verdict "$C1" cost-fails)" = "not reproduced"
check "cost within tolerance -> reproduced" test "$(verdict "$C1" cost-holds)" = reproduced
check "cost of an unbenched optimizer -> not run" test "$(verdict "$C1" cost-absent)" = "not run"
check "ours: mean ± half-width (n)" test "$(field "$C1" value-in ours)" = "lower@0.1: 90 ± 0.17 % (n=5)"
# by hand: lower - base = -1 + jitter (0.01 -0.02 0.015 -0.005 0): mean -1, sd 0.0136931,
# t(0.975, 4) = 2.77644511 -> half-width 0.0170025 (test_acc x 100: 90 + 10 x jitter, 0.170025)
check "paired interval = hand computation" test "$(field "$C1" holds ours)" = \
    "lower@0.1 vs base@0.1: A − B = −1 ± 0.017 (n=5)"
check "aggregate.csv written when missing" test -s "$T/res/syn/aggregate.csv"
check "verdicts.md has the table" grep -q '^| `holds` | P, Fig. 1 |.*\*\*reproduced\*\*' "$T/o1/verdicts.md"
$VS --out "$T/o1b" 2>/dev/null
check "output is deterministic" cmp -s "$T/o1/verdicts.md" "$T/o1b/verdicts.md"

# a sweep still running (or stopped): a claim whose labels lack runs the config asks for is
# "not run", naming the counts; complete labels are evaluated as before
mkdir -p "$T/cfgp"
sed 's/"optimizers"/"seeds": [1, 2, 3, 4, 5], "optimizers"/' "$T/cfg/syn.json" > "$T/cfgp/syn.json"
cp "$T/cfg/gone.json" "$T/cfgp/"
mksweep "$T/resp/syn" 5 0 1
VP="$V --claims $T/claims.json --configs $T/cfgp --results $T/resp --bench $T/bench.md"
$VP --out "$T/op1" 2>/dev/null
check "all 5 seeds the config asks for: evaluated" test "$(verdict "$T/op1/verdicts.csv" holds)" = reproduced
grep -v '^base_lr0.1_s5,' "$T/resp/syn/summary.csv" > "$T/s.csv" && mv "$T/s.csv" "$T/resp/syn/summary.csv"
$VP --out "$T/op2" 2>/dev/null
check "a run of a label missing -> not run" test "$(verdict "$T/op2/verdicts.csv" holds)" = "not run"
check "incomplete: why gives the counts" \
    grep -qF "syn incomplete (runs complete: base 4 of 5); resume it with lqabench --config $T/cfgp/syn.json" "$T/op2/verdicts.csv"
check "incomplete: a claim on complete labels is still evaluated" \
    test "$(verdict "$T/op2/verdicts.csv" value-in)" = reproduced
# a label the C side sanitizes ("base line" -> base_line) is counted under its run-id form
sed 's/"label": "base"}/"label": "base line"}/' "$T/cfgp/syn.json" > "$T/s.json" && mv "$T/s.json" "$T/cfgp/syn.json"
python3 - "$T/cfgp/syn.json" <<'PYEOF'
import sys
sys.path.insert(0, "scripts")
import json, verdicts
want = verdicts.expected_runs(json.load(open(sys.argv[1])))
assert want["base_line"] == 5 and want["lower"] == 5 and "base line" not in want, want
# grids: product of the entry's lists, zip pairs them, model option lists multiply
c = {"seeds": [1, 2], "width": [8, 16], "optimizers": [
    {"name": "adam", "lr": [0.1, 0.01], "beta2": [0.9, 0.99, 0.999]},
    {"name": "sgd-m", "lr": [0.1, 0.05], "momentum": [0.5, 0.9], "grid": "zip"},
    {"name": "sgd"}]}
want = verdicts.expected_runs(c)
assert want == {"adam": 2 * 3 * 2 * 2, "sgd-m": 2 * 2 * 2, "sgd": 1 * 2 * 2}, want
PYEOF
check "expected runs: sanitized labels, product and zip grids, model option lists" test $? = 0

# without a validation split the selection says so
mksweep "$T/resnv/syn" 5 0 0
$VS --results "$T/resnv" --out "$T/o2" 2>/dev/null
check "selection without validation says so" \
    grep -q '^best-vs-base,.*selected on train loss (no validation split)' "$T/o2/verdicts.csv"

# the flip: three noisy seeds more widen the interval of "holds" across 0
mksweep "$T/resflip/syn" 8 3 1
$VS --results "$T/resflip" --out "$T/o3" 2>/dev/null
check "reproduced flips to inconclusive when the interval widens" \
    test "$(verdict "$T/o3/verdicts.csv" holds)" = inconclusive
check "flip: why gives the straddled interval at n = 8" \
    grep -q '^holds,.*straddles 0 at n = 8' "$T/o3/verdicts.csv"

# make bench's raw.jsonl is read too
printf '%s\n' '{"tag":"cost","kind":"step","optimizer":"sgd","step_ms":2.0,"fwd_per_step":1}' \
    '{"tag":"cost","kind":"step","optimizer":"lqa","step_ms":2.1,"fwd_per_step":3}' > "$T/raw.jsonl"
$V --claims "$T/claims.json" --configs "$T/cfg" --results "$T/res" --bench "$T/raw.jsonl" \
    --out "$T/o4" 2>/dev/null
check "raw.jsonl: 1.05x passes the 1.1x bound" test "$(verdict "$T/o4/verdicts.csv" cost-fails)" = reproduced

# ---- deterministic sweeps: decided on the exact value ---------------------------------------
# Runs that stop early (stop_loss) at the first epoch whose loss is <= 0.01: fast at epoch 3,
# slow at 6, never: not within 10; opt2 at lr 0.1 / 0.01 / 0.001 stops at 8 / 2 / never (0.001
# has the lowest loss at the sweep's last epoch, the only lr with a value there). SEEDS seeds,
# identical, or (noisy) seed 2 of fast stops one epoch later.
cat > "$T/cfg/det.json" <<'EOF'
{"name": "det", "optimizers": [{"name": "sgd", "label": "fast"}, {"name": "sgd", "label": "slow"},
 {"name": "sgd", "label": "never"}, {"name": "sgd", "label": "opt2"}]}
EOF
mkdet() { # dir, seeds, noisy (1/0)
    python3 - "$@" <<'EOF'
import csv, os, sys
d, seeds, noisy = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
os.makedirs(d, exist_ok=True)
summ = []
def run(label, lr, seed, stop, last=0.5):
    name = "%s_lr%s_s%d" % (label, lr, seed)
    n = stop if stop else 10
    with open(os.path.join(d, name + ".epochs.csv"), "w") as f:
        f.write("epoch,step,train_loss,test_loss,test_acc,seconds,val_loss,val_acc\n")
        for e in range(n + 1):
            l = 0.005 if stop and e == stop else (last if e == n else 1.0 / (e + 1))
            f.write("%d,%d,%s,,,0,,\n" % (e, e, l))
    summ.append([name, label, lr, seed, "done", name + ".steps.csv", name + ".epochs.csv"])
for s in range(1, seeds + 1):
    run("fast", "0.1", s, 4 if noisy and s == 2 else 3)
    run("slow", "0.1", s, 6)
    run("never", "0.1", s, None)
    run("opt2", "0.1", s, 8)
    run("opt2", "0.01", s, 2)
    run("opt2", "0.001", s, None, last=0.02)
with open(os.path.join(d, "summary.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["run", "label", "lr", "seed", "status", "csv", "epochs_csv"])
    w.writerows(summ)
EOF
}
python3 - "$T/claims.json" "$T/dclaims.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
reach = {"metric": "epochs_to_reach", "column": "train_loss", "threshold": 0.01}
def claim(cid, test, det=True):
    c = {"id": cid, "paper": "p", "where": "Fig. 9", "quote": "converges", "paper_value": "x",
         "sweep": {"full": "det", "quick": None}, "test": dict(test, **reach)}
    if det:
        c["deterministic"] = True
    return c
d["claims"] = [
    claim("det-value", {"type": "value", "a": {"label": "fast"}, "expect": {"at_most": 5}}),
    claim("nodet-value", {"type": "value", "a": {"label": "fast"}, "expect": {"at_most": 5}}, False),
    claim("det-value-out", {"type": "value", "a": {"label": "slow"}, "expect": {"value": 3, "tol": 1}}),
    claim("det-faster", {"type": "compare", "a": {"label": "fast"},
                         "b": [{"label": "slow"}, {"label": "never"}], "expect": "a_lower"}),
    claim("det-slower", {"type": "compare", "a": {"label": "slow"}, "b": {"label": "fast"},
                         "expect": "a_lower"}),
    claim("det-best", {"type": "compare", "a": {"label": "opt2", "lr": "best"},
                       "b": {"label": "fast"}, "expect": "a_lower"})]
json.dump(d, open(sys.argv[2], "w"))
EOF
VD="$V --claims $T/dclaims.json --configs $T/cfg --bench $T/bench.md"
mkdet "$T/rd1/det" 1 0
check "deterministic sweep, one seed" $VD --results "$T/rd1" --out "$T/od1"
D1=$T/od1/verdicts.csv
check "deterministic value, n = 1 -> reproduced" test "$(verdict "$D1" det-value)" = reproduced
check "deterministic: why and exact value" \
    test "$(field "$D1" det-value why)|$(field "$D1" det-value ours)" = \
    "deterministic: exact value, 3 ≤ 5|fast@0.1: 3 (exact, n=1)"
check "not marked deterministic, n = 1 -> inconclusive" test "$(verdict "$D1" nodet-value)" = inconclusive
check "deterministic value outside tol -> not reproduced" \
    test "$(verdict "$D1" det-value-out)" = "not reproduced"
check "deterministic compare (one side never reaches it) -> reproduced" \
    test "$(verdict "$D1" det-faster)" = reproduced
check "deterministic compare: exact difference" \
    grep -q '^det-faster,.*A − B = −3 (exact, n=1).*deterministic: exact value' "$D1"
check "deterministic compare, other side -> not reproduced" \
    test "$(verdict "$D1" det-slower)" = "not reproduced"
check "best lr of runs that stopped early: fewest epochs to stop_loss" \
    grep -q '^det-best,.*opt2@0.01 vs fast@0.1: A − B = −1 (exact, n=1).*best lr of opt2 0.01 selected on fewest epochs' "$D1"
mkdet "$T/rd2/det" 3 0
$VD --results "$T/rd2" --out "$T/od2" 2>/dev/null
check "deterministic, 3 identical seeds -> reproduced, n = 3" \
    test "$(verdict "$T/od2/verdicts.csv" det-value)-$(field "$T/od2/verdicts.csv" det-value n)" = "reproduced-3"
mkdet "$T/rd3/det" 3 1
$VD --results "$T/rd3" --out "$T/od3" 2>/dev/null
check "marked deterministic but seeds differ -> inconclusive" \
    test "$(verdict "$T/od3/verdicts.csv" det-value)" = inconclusive
check "seeds that differ are named" \
    grep -q '^det-value,.*marked deterministic, but the seeds of the group differ (s1 3, s2 4, s3 3)' "$T/od3/verdicts.csv"
check "compare: seeds that differ are named" \
    grep -q '^det-faster,.*inconclusive,.*the seeds of A differ' "$T/od3/verdicts.csv"

# ---- errors in the claims file: exit 2, claim and key named, nothing written -----------------
bad_claims() { # description, python edit of the claims dict d, expected message
    python3 -c "import json, sys
d = json.load(open('$T/claims.json'))
$2
json.dump(d, open('$T/bad.json', 'w'))"
    rm -rf "$T/ob"
    $V --claims "$T/bad.json" --configs "$T/cfg" --results "$T/res" --bench "$T/bench.md" \
        --out "$T/ob" > "$T/err" 2>&1
    local rc=$?
    if [ $rc = 2 ] && grep -qF "$3" "$T/err" && [ ! -e "$T/ob" ]; then ok; else
        bad "$1 (rc $rc): $(cat "$T/err")"; fi
}
bad_claims "unknown key" "d['claims'][0]['test']['epoh'] = 1" "claim 'holds'.test: unknown key(s) epoh"
bad_claims "unknown label" "d['claims'][0]['test']['a']['label'] = 'nope'" \
    "label 'nope' is not an optimizer label of configs/syn.json"
bad_claims "unknown sweep" "d['claims'][0]['sweep']['full'] = 'nosuch'" "sweep 'nosuch': no such config"
bad_claims "bad expect" "d['claims'][0]['test']['expect'] = 'lower'" "key 'expect': 'lower' is not one of"
bad_claims "value without tol" "del d['claims'][5]['test']['expect']['tol']" "a value needs tol or rel_tol"
bad_claims "duplicate id" "d['claims'][1]['id'] = 'holds'" "claim 'holds': duplicate id"
bad_claims "unknown paper" "d['claims'][0]['paper'] = 'q'" "key 'paper': 'q' is not in"
bad_claims "bad metric" "d['claims'][0]['test']['metric'] = 'loss'" "key 'metric': 'loss' is not one of"
bad_claims "deterministic not a bool" "d['claims'][0]['deterministic'] = 'yes'" \
    "claim 'holds': key 'deterministic' must be true or false"

# ---- the generated block of a document ------------------------------------------------------
printf 'intro\n<!-- verdicts:begin -->\nold table\n<!-- verdicts:end -->\noutro\n' > "$T/doc.md"
check "--update-doc" $VS --update-doc "$T/doc.md"
check "block replaced by the table" grep -q '^| `holds` |' "$T/doc.md"
check "old block gone, text around kept" \
    test "$(grep -c 'old table' "$T/doc.md")-$(head -1 "$T/doc.md")-$(tail -1 "$T/doc.md")" = "0-intro-outro"
cp "$T/doc.md" "$T/doc1.md"
$VS --update-doc "$T/doc.md" 2>/dev/null
check "rewriting the block is idempotent" cmp -s "$T/doc.md" "$T/doc1.md"
printf 'no markers\n' > "$T/nomark.md"
$VS --update-doc "$T/nomark.md" > "$T/err" 2>&1
rc=$?
check "document without markers: exit 1, named, unchanged" \
    test "$rc-$(grep -c 'verdicts:begin' "$T/err")-$(cat "$T/nomark.md")" = "1-1-no markers"
printf 'a\n<!-- verdicts:begin -->\nF\n<!-- verdicts:end -->\n<!-- verdicts-quick:begin -->\nQ\n<!-- verdicts-quick:end -->\n' > "$T/both.md"
$VS --quick --update-doc "$T/both.md" 2>/dev/null
check "--quick rewrites only the quick block" \
    test "$(grep -c '^F$' "$T/both.md")-$(grep -c '^Q$' "$T/both.md")-$(grep -c 'quick-size sweeps' "$T/both.md")" = "1-0-1"
check "docs/reproduction.md has the quick markers" grep -q '^<!-- verdicts-quick:begin -->$' docs/reproduction.md
check "docs/reproduction.md has the markers" grep -q '^<!-- verdicts:begin -->$' docs/reproduction.md

lib_done
