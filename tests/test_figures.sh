#!/usr/bin/env bash
# test_figures.sh — tests of the reproduction pipeline: `make figures-quick` (scripts/figures.sh,
# agg_seeds.py, the plot_*.gp scripts, tables.py) on tiny generated sweeps, the errors on
# missing and malformed CSVs, and tables.py on a hand-made summary.csv against exact tables.
# Needs data/mnist (make data), gnuplot and python3. Ends with "test_figures: N passed, M failed".
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/     /' | head -20; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() { echo "test_figures: $pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

T=$(mktemp -d)
[ -n "${LQA_KEEP_TMP:-}" ] || trap 'rm -rf "$T"' EXIT
DATA=${LQA_DATA_DIR:-$ROOT/data}/mnist
if [ ! -d "$DATA" ]; then bad "MNIST present in $DATA (make data)"; finish; fi

# ---------------------------------------------------------------- tiny sweeps
common='"dataset":"mnist","data_dir":"'$DATA'","batch_size":32,"train_limit":256,"test_limit":100'
cat > "$T/lqa_tiny.json" <<EOF
{"name":"lqa_tiny","model":"mlp","width":16,$common,"epochs":2,"seeds":[1,2],
 "output_dir":"$T/res/lqa_tiny",
 "optimizers":[{"name":"sgd","lr":[0.1,1e10]},{"name":"adam","lr":[0.01,0.001]},
   {"name":"lqa","label":"lqa-paper","lr":0.1},
   {"name":"lqa","label":"lqa-reference","lr":0.1,"variant":"reference"}]}
EOF
cat > "$T/qlab_fig4_tiny.json" <<EOF
{"name":"qlab_fig4_tiny","model":"mlp","width":16,$common,"steps":24,"eval_train":false,
 "output_dir":"$T/res/qlab_fig4_tiny",
 "optimizers":[{"name":"sgd","lr":0.1},
   {"name":"sgd","label":"sgd-ssdecay","lr":0.1,"schedule":{"type":"step","every":4,"gamma":0.5}},
   {"name":"adam","lr":0.1},{"name":"hgd","lr":0.1,"beta":0.001},{"name":"l4gd","lr":0.1,"alpha":0.15},
   {"name":"lqa","label":"lqa-paper","lr":0.1},{"name":"qlabgrad","label":"qlabgrad-paper","lr":0.1},
   {"name":"newton-lr","lr":0.1}]}
EOF
cat > "$T/qlab_findplr_tiny.json" <<EOF
{"name":"qlab_findplr_tiny","model":"mlp","width":16,$common,"steps":20,"eval_train":false,
 "output_dir":"$T/res/qlab_findplr_tiny",
 "optimizers":[{"name":"qlabgrad","lr":1e-5},
   {"name":"qlabgrad","label":"qlabgrad-nofindplr","lr":1e-5,"findplr_every":0},
   {"name":"sgd","lr":[0.1,0.01]},{"name":"hgd","lr":0.1}]}
EOF
cat > "$T/newton_tiny.json" <<EOF
{"name":"newton_tiny","model":"logreg","init":"zeros",$common,"epochs":1,
 "output_dir":"$T/res/newton_tiny",
 "optimizers":[{"name":"newton-lr","lr":[0.01,0.1]},{"name":"sgd","lr":0.1}]}
EOF
CFGS="$T/lqa_tiny.json $T/qlab_fig4_tiny.json $T/qlab_findplr_tiny.json $T/newton_tiny.json"
OUT=$T/fig
t0=$SECONDS
LQA_FIGURES_CONFIGS="$CFGS" LQA_FIGURES_OUT="$OUT" LQA_FIGURES_SCALE=0.5 make --no-print-directory figures-quick \
    > "$T/make.log" 2>&1
rc=$?
if [ $rc = 0 ]; then ok "make figures-quick on tiny sweeps ($((SECONDS - t0)) s)"
else bad "make figures-quick on tiny sweeps (exit $rc)" "$(tail -20 "$T/make.log")"; fi

# every expected file, and nothing else
expected=()
for f in lqa_tiny_loss lqa_tiny_lr lqa_tiny_passes qlab_fig4_tiny_loss qlab_fig4_tiny_lr \
         qlab_fig4_tiny_passes qlab_findplr_tiny_findplr qlab_findplr_tiny_passes \
         newton_tiny_eta newton_tiny_passes; do
    expected+=("$f.png" "$f.pdf")
done
# scripts/analysis.py: per sweep, sensitivity and time to target (the findplr sweep's two
# qlabgrad labels differ only in findplr_every: a knob figure); across them, the profile
for s in lqa_tiny qlab_fig4_tiny qlab_findplr_tiny newton_tiny; do
    expected+=("${s}_sensitivity.png" "${s}_sensitivity.pdf" "${s}_sensitivity.csv"
               "${s}_time_to_target.png" "${s}_time_to_target.pdf" "${s}_time_to_target.csv"
               "${s}_time_to_target.md")
done
expected+=(qlab_findplr_tiny_sensitivity_qlabgrad_findplr_every.png
           qlab_findplr_tiny_sensitivity_qlabgrad_findplr_every.pdf
           performance_profile.png performance_profile.pdf performance_profile.csv
           performance_ratios.csv)
for t in test_accuracy time_per_step passes_per_step best_lr sweeps lr_traces; do
    expected+=("table_$t.md" "table_$t.csv")
done
missing=()
for f in "${expected[@]}"; do [ -s "$OUT/$f" ] || missing+=("$f"); done
if [ ${#missing[@]} = 0 ]; then ok "all ${#expected[@]} expected files written, non-empty"
else bad "expected files written" "missing or empty: ${missing[*]}"; fi
extra=$(cd "$OUT" 2>/dev/null && ls *.png *.pdf 2>/dev/null | grep -vxF -f <(printf '%s\n' "${expected[@]}"))
check "no unexpected images" [ -z "$extra" ]
# the FindPLR figure: (a) and the loss panel of QLABGrad, (b) common and (c) recent competitors
check "findplr figure has the competitor panels (b, c)" \
    grep -qx "FP_N = 4" "$OUT/data/qlab_findplr_tiny/manifest.gp"

# each PNG: signature, IHDR with a non-zero size, IDAT, IEND, CRCs; each PDF: %PDF ... %%EOF
pngcheck() {
    python3 - "$@" <<'EOF'
import struct, sys, zlib
bad = []
for p in sys.argv[1:]:
    try:
        d = open(p, "rb").read()
        assert d[:8] == b"\x89PNG\r\n\x1a\n", "bad signature"
        i, kinds, idat = 8, [], b""
        while i < len(d):
            n, = struct.unpack(">I", d[i:i + 4]); k = d[i + 4:i + 8]
            body = d[i + 8:i + 8 + n]
            assert len(body) == n, "truncated chunk"
            assert struct.unpack(">I", d[i + 8 + n:i + 12 + n])[0] == zlib.crc32(k + body), "bad CRC"
            if k == b"IHDR":
                w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
                assert w > 100 and h > 100, f"size {w}x{h}"
            if k == b"IDAT":
                idat += body
            kinds.append(k); i += 12 + n
        assert kinds[0] == b"IHDR" and idat and kinds[-1] == b"IEND", "chunks"
        bpp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype] * depth // 8
        assert len(zlib.decompress(idat)) == h * (1 + w * bpp), "pixel data size"
    except Exception as e:
        bad.append(f"{p}: {e}")
print("\n".join(bad)); sys.exit(1 if bad else 0)
EOF
}
pngs=() pdfs=()
for f in "${expected[@]}"; do
    case "$f" in *.png) [ -f "$OUT/$f" ] && pngs+=("$OUT/$f") ;; *.pdf) [ -f "$OUT/$f" ] && pdfs+=("$OUT/$f") ;; esac
done
if [ ${#pngs[@]} = 20 ] && msg=$(pngcheck "${pngs[@]}"); then ok "20 valid PNGs (signature, IHDR size, CRCs, IEND)"
else bad "valid PNGs" "${msg:-only ${#pngs[@]} PNGs}"; fi
pdfok=1
for f in "${pdfs[@]}"; do
    { [ "$(head -c 4 "$f")" = "%PDF" ] && tail -c 32 "$f" | grep -q '%%EOF'; } || { pdfok=0; echo "bad PDF: $f"; }
done
[ ${#pdfs[@]} = 20 ] || pdfok=0
check "20 valid PDFs (%PDF header, %%EOF trailer)" [ $pdfok = 1 ]

# diverged runs are shown, not dropped; seeds are aggregated with a band
man=$OUT/data/lqa_tiny/manifest.gp
check "diverged run kept and labelled (sgd lr=1e+10)" grep -q 'SGD lr=1e+10 - 2/2 seeds diverged (step 3, 3)' "$man"
check "diverged run's data file written" test -s "$OUT/data/lqa_tiny/sgd_lr1e+10.steps.dat"
check "two seeds aggregated: nseeds 2, min <= mean <= max" awk '
    !/^#/ { n++; if ($7 != 2 || $4 > $3 + 1e-12 || $3 > $5 + 1e-12) bad = 1 }
    END { exit (n < 3 || bad) }' "$OUT/data/lqa_tiny/sgd_lr0.1.epochs.dat"
python3 scripts/agg_seeds.py "$T/res/lqa_tiny" "$T/mm" --band minmax > /dev/null 2>&1
check "band: 95 % t-interval by default, min-max with --band minmax (2 seeds: hi - mean = t(0.975, 1) x (max - mean))" \
    python3 - "$OUT/data/lqa_tiny/sgd_lr0.1.epochs.dat" "$T/mm/sgd_lr0.1.epochs.dat" <<'PY'
import sys
rows = [[[float(x) for x in l.split()] for l in open(p) if not l.startswith("#")] for p in sys.argv[1:]]
assert len(rows[0]) == len(rows[1]) >= 3
spread = 0
for ci, mm in zip(*rows):
    assert ci[2] == mm[2], "same mean"
    if mm[4] - mm[2] > 1e-6:
        spread += 1
        assert abs((ci[4] - ci[2]) / (mm[4] - mm[2]) - 12.7062047) < 1e-4, (ci, mm)
assert spread >= 2
PY
check "LQA layout: 2 competitor panels, both LQA variants in each" \
    grep -q 'array LQ_series\[2\] = \["1 2 5 6", "3 4 5 6"\]' "$man"
check "accuracy table has the qlab sweep's methods" \
    grep -q '^| qlab_fig4_tiny | mlp | mnist | [0-9.]* (n=1) | [0-9.]* (n=1) |' "$OUT/table_test_accuracy.md"

# every sweep gets its aggregate.csv (its numbers are tested in test_stats.sh)
agg=$T/res/lqa_tiny/aggregate.csv
check "aggregate.csv written into the sweep's results directory" \
    test "$(head -1 "$agg" 2>/dev/null)" = "label,lr,epoch,metric,n,mean,sd,ci_lo,ci_hi"
check "aggregate.csv: sgd lr 0.1 has train_loss, test_loss, test_acc at epochs 0-2 over 2 seeds" \
    test "$(grep -c '^sgd,0.1,[012],\(train_loss\|test_loss\|test_acc\),2,' "$agg")" = 9
check "aggregate.csv listed in files.txt" grep -qxF "$agg" "$OUT/files.txt"

# ---------------------------------------------------------------- missing / malformed inputs
copy() { rm -rf "$T/$1"; cp -r "$T/res/qlab_fig4_tiny" "$T/$1"
         sed "s|\"output_dir\":\"[^\"]*\"|\"output_dir\":\"$T/$1\"|" "$T/qlab_fig4_tiny.json" > "$T/$1.json"; }
expect_error() { # name, expected text in stderr, command...
    local name=$1 want=$2; shift 2
    local err; err=$("$@" 2>&1 >/dev/null); local rc=$?
    if [ $rc != 0 ] && grep -qF -- "$want" <<< "$err"; then ok "$name"
    else bad "$name (exit $rc)" "wanted: $want"$'\n'"got: $err"; fi
}
copy miss; rm "$T/miss/hgd_lr0.1_s1.steps.csv"
expect_error "missing per-step CSV: error names it" "$T/miss/hgd_lr0.1_s1.steps.csv: missing" \
    bash scripts/figures.sh --no-run --out "$T/figmiss" "$T/miss.json"
copy bad; sed -i '5s/^\([0-9]*\),\([0-9]*\),[^,]*,/\1,\2,abc,/' "$T/bad/l4gd_lr0.1_s1.steps.csv"
expect_error "malformed number: error names file and line" \
    "$T/bad/l4gd_lr0.1_s1.steps.csv:5: column 'loss': not a number ('abc')" \
    bash scripts/figures.sh --no-run --out "$T/figbad" "$T/bad.json"
copy hdr; sed -i '1s/fwd/fwx/' "$T/hdr/sgd_lr0.1_s1.steps.csv"
expect_error "missing column: error names file and column" \
    "$T/hdr/sgd_lr0.1_s1.steps.csv: malformed (per-step CSV): missing column(s) fwd" \
    python3 scripts/agg_seeds.py "$T/hdr" "$T/hdr-data"
copy short; sed -i '3s/,[^,]*$//' "$T/short/adam_lr0.1_s1.epochs.csv"
expect_error "short row: error names file and line" "$T/short/adam_lr0.1_s1.epochs.csv:3: malformed" \
    python3 scripts/agg_seeds.py "$T/short" "$T/short-data"
copy nosum; rm "$T/nosum/summary.csv"
expect_error "missing summary.csv: error names it" "$T/nosum/summary.csv: missing" \
    bash scripts/figures.sh --no-run --out "$T/fignosum" "$T/nosum.json"

# ---------------------------------------------------------------- a user's own sweep
# figures of a sweep that is not a shipped paper sweep go to <output_dir>/figures/ by default,
# and never into results/figures* (which holds the shipped paper sweeps' figures and tables)
snap() { find "$ROOT/results" -path "$ROOT/results/figures*" -type f -printf '%p %T@ %s\n' 2>/dev/null | sort; }
before=$(snap)
env -u LQA_FIGURES_OUT -u LQA_FIGURES_CONFIGS LQA_FIGURES_SCALE=0.3 \
    bash scripts/figures.sh --no-run "$T/newton_tiny.json" > "$T/own.log" 2>&1
rc=$?
check "own sweep: figures.sh exits 0 ($rc)" test "$rc" = 0
check "own sweep: figures in <output_dir>/figures/" test -s "$T/res/newton_tiny/figures/newton_tiny_passes.png"
check "own sweep: tables there too" test -s "$T/res/newton_tiny/figures/table_sweeps.md"
env -u LQA_FIGURES_OUT -u LQA_FIGURES_CONFIGS bash scripts/figures.sh --no-run --out results/figures \
    "$T/newton_tiny.json" > "$T/own2.log" 2>&1
rc=$?
check "own sweep with --out results/figures: exit 2 ($rc)" test "$rc" = 2
check "own sweep with --out results/figures: says why" grep -q 'shipped paper sweeps' "$T/own2.log"
env -u LQA_FIGURES_OUT -u LQA_FIGURES_CONFIGS bash scripts/figures.sh --no-run \
    "$T/newton_tiny.json" "$T/lqa_tiny.json" > "$T/own3.log" 2>&1
rc=$?
check "two own sweeps without --out: exit 2 ($rc)" test "$rc" = 2
check "results/figures* untouched by own sweeps" test "$before" = "$(snap)"

# ---------------------------------------------------------------- tables on a hand-made summary
H=$T/handmade
mkdir -p "$H"
cat > "$H/summary.csv" <<'EOF'
run,model,dataset,optimizer,label,lr,seed,status,steps,final_loss,train_loss,test_loss,test_acc,seconds,sec_per_step,fwd,bwd,csv,epochs_csv
sgd_lr0.1_s1,mlp,mnist,sgd,sgd,0.1,1,done,100,0.5,0.40,0.45,0.9000,1.0,0.010,100,100,a.csv,a.e.csv
sgd_lr0.1_s2,mlp,mnist,sgd,sgd,0.1,2,done,100,0.6,0.60,0.55,0.9100,1.2,0.012,100,100,b.csv,b.e.csv
sgd_lr0.01_s1,mlp,mnist,sgd,sgd,0.01,1,done,100,0.9,0.80,0.85,0.8000,1.0,0.010,100,100,c.csv,c.e.csv
sgd_lr0.01_s2,mlp,mnist,sgd,sgd,0.01,2,done,100,0.9,0.90,0.85,0.8200,1.0,0.010,100,100,d.csv,d.e.csv
adam_lr0.1_s1,mlp,mnist,adam,adam,0.1,1,diverged,17,,2.30,2.30,,0.2,0.0118,17,17,e.csv,e.e.csv
adam_lr0.001_s1,mlp,mnist,adam,adam,0.001,1,done,100,0.3,0.25,0.3,0.9512,1.1,0.011,100,100,f.csv,f.e.csv
lqa_lr0.1_s1,mlp,mnist,lqa,lqa-paper,0.1,1,done,100,0.2,0.15,0.2,0.9650,1.6,0.016,300,100,g.csv,g.e.csv
qlabgrad_lr0.1_s1,mlp,mnist,qlabgrad,qlabgrad,0.1,1,done,100,0.2,0.20,0.2,0.9725,1.4,0.014,203,100,h.csv,h.e.csv
EOF
table_is() { # kind, file suffix, expected content on stdin
    local kind=$1 ext=$2 want got
    want=$(cat)
    python3 scripts/tables.py "$kind" "$T/tab/$kind" "$H/summary.csv" > "$T/tab.log" 2>&1 \
        || { bad "tables.py $kind on hand-made summary.csv" "$(cat "$T/tab.log")"; return; }
    got=$(cat "$T/tab/$kind.$ext")
    if [ "$got" = "$want" ]; then ok "tables.py $kind: exact $ext"
    else bad "tables.py $kind: exact $ext" "$(diff <(echo "$want") <(echo "$got"))"; fi
}
table_is accuracy md <<'EOF'
# Test accuracy (%) at the end of training

| sweep | model | dataset | sgd lr=0.1 | sgd lr=0.01 | adam lr=0.1 | adam lr=0.001 | lqa-paper | qlabgrad |
|---|---|---|---:|---:|---:|---:|---:|---:|
| handmade | mlp | mnist | 90.50 ± 6.35 (n=2) | 81.00 ± 12.71 (n=2) | diverged | 95.12 (n=1) | 96.50 (n=1) | 97.25 (n=1) |

test_acc of summary.csv (end of training), in %; mean over the seeds that finished ± the half-width of its 95 % Student-t interval, and the number of seeds n.
EOF
table_is accuracy csv <<'EOF'
sweep,model,dataset,sgd lr=0.1,sgd lr=0.01,adam lr=0.1,adam lr=0.001,lqa-paper,qlabgrad
handmade,mlp,mnist,90.50 ± 6.35 (n=2),81.00 ± 12.71 (n=2),diverged,95.12 (n=1),96.50 (n=1),97.25 (n=1)
EOF
table_is overhead md <<'EOF'
# Time per iteration relative to SGD

| sweep | model | sgd ms/step | sgd | adam | lqa-paper | qlabgrad |
|---|---|---:|---:|---:|---:|---:|
| handmade | mlp | 10.5 | 1.00 | 1.05 | 1.52 | 1.33 |

sec_per_step of each method (mean over its finished runs) / that of sgd in the same sweep. Wall-clock times on a shared machine: treat differences under ~10% as noise.
EOF
table_is overhead csv <<'EOF'
sweep,model,sgd ms/step,sgd,adam,lqa-paper,qlabgrad
handmade,mlp,10.5,1.00,1.05,1.52,1.33
EOF
table_is bestlr md <<'EOF'
# Best learning rate per method and the loss it reached

| sweep | method | best lr | final train loss | loss at each lr |
|---|---|---:|---:|---|
| handmade | sgd | 0.1 | 0.5 ± 1.271 (n=2) | 0.1: 0.5; 0.01: 0.85 |
| handmade | adam | 0.001 | 0.25 (n=1) | 0.1: diverged; 0.001: 0.25 |
| handmade | lqa-paper | 0.1 | 0.15 (n=1) | 0.1: 0.15 |
| handmade | qlabgrad | 0.1 | 0.2 (n=1) | 0.1: 0.2 |

Final training loss: train_loss of summary.csv (full training set at the end), mean over seeds ± the half-width of its 95 % Student-t interval, and the number of seeds n (loss at each lr: the means); a learning rate with a diverged run cannot be best.
EOF
table_is bestlr csv <<'EOF'
sweep,method,best lr,final train loss,loss at each lr
handmade,sgd,0.1,0.5 ± 1.271 (n=2),0.1: 0.5; 0.01: 0.85
handmade,adam,0.001,0.25 (n=1),0.1: diverged; 0.001: 0.25
handmade,lqa-paper,0.1,0.15 (n=1),0.1: 0.15
handmade,qlabgrad,0.1,0.2 (n=1),0.1: 0.2
EOF
table_is passes csv <<'EOF'
sweep,model,sgd,adam,lqa-paper,qlabgrad
handmade,mlp,2,2,4,3.03
EOF
table_is sweeps csv <<'EOF'
sweep,model,dataset,runs,done,diverged,failed,steps,training s,training min
handmade,mlp,mnist,8,7,1,0,717,8.5,0.1
EOF
sed 's/,0.0118,/,fast,/' "$H/summary.csv" > "$T/badsum.csv"
expect_error "tables.py: malformed summary.csv names file, line, column" \
    "$T/badsum.csv:6: column 'sec_per_step': not a number ('fast')" \
    python3 scripts/tables.py overhead "$T/tab/x" "$T/badsum.csv"
expect_error "tables.py: missing summary.csv names it" "$T/nowhere/summary.csv: missing" \
    python3 scripts/tables.py accuracy "$T/tab/y" "$T/nowhere/summary.csv"

# ---------------------------------------------------------------- a test-function sweep
# (QLABGrad Fig. 2 layout): f - f* and the trajectories on the contour map, no passes figure,
# left out of the performance profile (its f* may be <= 0); the plotted data against the
# per-step CSV and against hand values of the function
cat > "$T/tf_tiny.json" <<EOF
{"name":"tf_tiny","model":"himmelblau","dataset":"none","start":[0,0],"stop_loss":1e-6,
 "batch_size":1,"steps":60,"eval_test":false,"output_dir":"$T/res/tf_tiny",
 "optimizers":[{"name":"qlabgrad","lr":0.1,"findplr_every":1000000000000},
   {"name":"sgd","lr":[0.01,0.001]}]}
EOF
TF=$T/tf
bash scripts/figures.sh --out "$TF" "$T/tf_tiny.json" "$T/newton_tiny.json" \
    > "$T/tf.log" 2>&1
rc=$?
if [ $rc = 0 ]; then ok "figures.sh on a test-function sweep and another sweep"
else bad "figures.sh on a test-function sweep (exit $rc)" "$(tail -20 "$T/tf.log")"; fi
for f in tf_tiny_loss tf_tiny_trajectories tf_tiny_lr; do
    check "test-function figure $f.png and .pdf" test -s "$TF/$f.png" -a -s "$TF/$f.pdf"
done
check "no passes figure for a test function" test ! -e "$TF/tf_tiny_passes.png"
check "no performance profile from one ordinary sweep and a test function" \
    test ! -e "$TF/performance_profile.png"
check "no gnuplot warnings for the test-function figures (full size)" \
    bash -c "! grep -q 'tf_tiny_.*gnuplot' '$T/tf.log'"
python3 - "$T/res/tf_tiny" "$TF/data/tf_tiny" > "$T/tfchk.log" 2>&1 <<'EOF'
import csv, math, os, sys
res, d = sys.argv[1:]
rows = list(csv.DictReader(open(os.path.join(res, "sgd_lr0.01_s1.steps.csv"))))
traj = [l.split() for l in open(os.path.join(d, "sgd_lr0.01.traj.dat")) if not l.startswith("#")]
assert len(traj) == len(rows), (len(traj), len(rows))
for r, t in zip(rows, traj):   # step iteration x y f gap: the CSV's point and loss, f* = 0
    assert int(t[0]) == int(r["step"]) and int(t[1]) == int(r["step"]) - 1, t
    assert abs(float(t[2]) - float(r["x"])) <= 1e-6 * max(1, abs(float(r["x"]))), (t, r)
    assert abs(float(t[3]) - float(r["y"])) <= 1e-6 * max(1, abs(float(r["y"]))), (t, r)
    assert abs(float(t[5]) - float(r["loss"])) <= 1e-6 * max(1, float(r["loss"])), (t, r)
# by hand: the start (0, 0): f = 11^2 + 7^2 = 170; sgd 0.01 stops at step 33 (32 iterations)
assert traj[0][2:5] == ["0", "0", "170"], traj[0]
man = open(os.path.join(d, "manifest.gp")).read()
assert "lr = 0.01: converged in 32 iterations" in man, "title"
assert "lr = 0.001: not converged in 60 steps" in man, "title (not converged)"
# grid.dat: the function on the grid; by hand f(3, 2) = 0, f(0, 0) = 170, f(1, 1) = 106
hf = lambda x, y: (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2
assert hf(3, 2) == 0 and hf(0, 0) == 170 and hf(1, 1) == 106
g = [tuple(map(float, l.split())) for l in open(os.path.join(d, "grid.dat")) if l.strip()]
assert len(g) == 201 * 201, len(g)
for x, y, z in g[::997]:
    assert abs(z - hf(x, y)) <= 1e-6 * max(1, abs(z)), (x, y, z)
print("ok")
EOF
check "test-function data: trajectory = per-step CSV, titles, grid = f ($(tail -1 "$T/tfchk.log"))" \
    grep -qx ok "$T/tfchk.log"

finish
