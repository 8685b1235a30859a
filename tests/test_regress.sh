#!/usr/bin/env bash
# test_regress.sh — the loss-curve regression guard (scripts/regress.py,
# make regress) catches what it must and passes what it must:
#   - an unperturbed rerun of two reference configs (logreg, mlp) passes;
#   - a reference value changed by 10x its tolerance fails, and the report names
#     the config/run file, the column, the step and both values and the
#     tolerance; a change of half the tolerance passes;
#   - a missing column, an extra column, a missing run, a run without a
#     reference, a missing row, a changed string (fallback) or count (fwd), a
#     config without a reference: each fails;
#   - past a run's horizon nothing is compared, at the horizon it is;
#   - the committed references agree with tolerances.json (self-comparison).
# Needs MNIST in data/mnist and ./lqabench (LQA_BIN overrides).
source "$(dirname "$0")/lib.sh"
ONLY=(--only logreg_mnist --only mlp_mnist)
reg() { python3 scripts/regress.py "${ONLY[@]}" "$@" > "$T/out" 2>&1; }
has() { grep -qF -- "$1" "$T/out"; }

# edit FILE: python expression over `rows` (list of lists, header first)
edit() {
  python3 - "$1" "$2" <<'PY'
import csv, sys
path, expr = sys.argv[1], sys.argv[2]
rows = list(csv.reader(open(path, newline="")))
exec(expr)
with open(path, "w", newline="") as f:
    csv.writer(f, lineterminator="\n").writerows(rows)
PY
}
# perturb REFDIR RUN(stem/run) COLUMN STEP K: ref value += K * its tolerance; prints "old new"
perturb() {
  python3 - "$@" <<'PY'
import csv, json, sys
ref, run, col, step, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
tol = json.load(open(ref + "/tolerances.json"))
atol, rtol = tol["runs"][run]["tol"][col]
path = "%s/%s.steps.csv" % (ref, run)
rows = list(csv.reader(open(path, newline="")))
ci, si = rows[0].index(col), rows[0].index("step")
for r in rows[1:]:
    if int(r[si]) == step:
        was, old = r[ci], float(r[ci])
        r[ci] = "%.9g" % (old + k * (atol + rtol * abs(old)))
        print(was, r[ci])
with open(path, "w", newline="") as f:
    csv.writer(f, lineterminator="\n").writerows(rows)
PY
}

# ---- an unperturbed rerun passes ---------------------------------------------------
reg --bin "$BIN" --keep "$T/new"
check "unperturbed rerun passes ($(tail -3 "$T/out"))" test $? = 0
check "unperturbed rerun says ok" has "regress: ok: 56 files of 28 runs in 2 configs"
cp -r results/reference "$T/ref"
reg --compare "$T/new" --reference "$T/ref"
check "copy of the references passes" test $? = 0

# ---- a value changed beyond its tolerance fails, and the report says where -----------
read -r old new < <(perturb "$T/ref" mlp_mnist/adam_lr0.001_s1 loss 7 10)
reg --compare "$T/new" --reference "$T/ref"
check "perturbed reference (loss at step 7: $old -> $new) fails with exit 1" test $? = 1
check "report names run, column and step: $(head -2 "$T/out")" \
  has "FAIL mlp_mnist/adam_lr0.001_s1.steps.csv: column loss first differs at step 7:"
check "report gives both values" has "reference $new, new $old"
check "report gives the tolerance" has "> tolerance"
check "report counts one differing row" has "1 of 20 rows differ"
check "exactly one failure reported" test "$(grep -c '^FAIL' "$T/out")" = 1
cp -r results/reference "$T/ref2"
perturb "$T/ref2" mlp_mnist/adam_lr0.001_s1 loss 7 0.5 > /dev/null
reg --compare "$T/new" --reference "$T/ref2"
check "a change of half the tolerance passes" test $? = 0

# ---- structure -------------------------------------------------------------------------
variant() { rm -rf "$T/n"; cp -r "$T/new" "$T/n"; }
variant; edit "$T/n/mlp_mnist/sgd_lr0.05_s1.steps.csv" 'rows[:] = [r[:3] + r[4:] for r in rows]'
reg --compare "$T/n"
check "missing column fails" test $? = 1
check "missing column named: $(head -1 "$T/out")" has "mlp_mnist/sgd_lr0.05_s1.steps.csv: missing column lr"
variant; edit "$T/n/logreg_mnist/adam_lr0.001_s1.epochs.csv" 'rows[:] = [r + (["extra"] if i == 0 else ["1"]) for i, r in enumerate(rows)]'
reg --compare "$T/n"
check "extra column fails" test $? = 1
check "extra column named" has "logreg_mnist/adam_lr0.001_s1.epochs.csv: extra column extra"
variant; edit "$T/n/logreg_mnist/adam_lr0.001_s1.epochs.csv" 'rows[2][rows[0].index("val_loss")] = "0.5"'
reg --compare "$T/n"
check "a non-empty appended val_loss column fails" test $? = 1
check "non-empty val_loss named" has "logreg_mnist/adam_lr0.001_s1.epochs.csv: extra column val_loss"
check "empty val_acc still passes" bash -c "! grep -q 'extra column val_acc' '$T/out'"
variant; rm "$T/n/mlp_mnist/sgd-m_lr0.02_s1.steps.csv"
reg --compare "$T/n"
check "missing run fails" test $? = 1
check "missing run named" has "missing run sgd-m_lr0.02_s1"
variant; cp "$T/n/mlp_mnist/sgd_lr0.05_s1.steps.csv" "$T/n/mlp_mnist/sgd_lr0.07_s1.steps.csv"
reg --compare "$T/n"
check "run without a reference fails" test $? = 1
check "run without a reference named" has "run sgd_lr0.07_s1 without a reference"
variant; edit "$T/n/logreg_mnist/sgd_lr0.05_s1.steps.csv" 'rows.pop()'
reg --compare "$T/n"
check "a missing row fails" test $? = 1
check "a missing row reported" has "20 rows in the reference, 19 in the new output (first unmatched: step 20"
variant; edit "$T/n/logreg_mnist/lqa-paper_lr0.1_s1.steps.csv" 'rows[3][rows[0].index("fallback")] = "lqa_curvature"'
reg --compare "$T/n"
check "a changed fallback (string) fails" test $? = 1
check "a changed fallback reported" has "column fallback first differs at step 3: reference (empty), new lqa_curvature"
variant; edit "$T/n/logreg_mnist/newton-lr_lr0.01_s1.steps.csv" 'rows[2][rows[0].index("fwd")] = str(int(rows[2][rows[0].index("fwd")]) + 1)'
reg --compare "$T/n"
check "a changed fwd count fails" test $? = 1
check "a changed fwd count reported" has "column fwd first differs at step 2"
rm -rf "$T/ref3"; cp -r results/reference "$T/ref3"; rm -r "$T/ref3/logreg_mnist"
reg --compare "$T/new" --reference "$T/ref3"
check "a config without a reference fails" test $? = 1
check "a config without a reference reported" has "logreg_mnist: no reference"

# ---- horizons ------------------------------------------------------------------------------
# a copy of the references in which mlp_mnist/adam_lr0.001_s1 has horizon 10
rm -rf "$T/ref4"; cp -r results/reference "$T/ref4"
python3 - "$T/ref4/tolerances.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["runs"]["mlp_mnist/adam_lr0.001_s1"]["horizon"] = 10
json.dump(t, open(sys.argv[1], "w"), indent=1)
PY
perturb "$T/ref4" mlp_mnist/adam_lr0.001_s1 loss 11 1e6 > /dev/null
reg --compare "$T/new" --reference "$T/ref4"
check "past a run's horizon (step 10) nothing is compared" test $? = 0
perturb "$T/ref4" mlp_mnist/adam_lr0.001_s1 loss 10 10 > /dev/null
reg --compare "$T/new" --reference "$T/ref4"
check "at the horizon it is" test $? = 1
check "horizon named in the report" has "rows up to step 10 (the run's horizon) differ"
edit "$T/ref4/mlp_mnist/adam_lr0.001_s1.steps.csv" 'del rows[8:]'
reg --compare "$T/new" --reference "$T/ref4"
check "rows missing before the horizon fail even so" test $? = 1

# ---- the committed references agree with tolerances.json ------------------------------------
python3 scripts/regress.py --compare results/reference > "$T/out" 2>&1
check "every committed reference passes against itself ($(tail -2 "$T/out"))" test $? = 0
python3 scripts/regress.py --bin "$T/nosuch" "${ONLY[@]}" > "$T/out" 2>&1
check "a missing lqabench is an error (exit 2)" test $? = 2

lib_done
