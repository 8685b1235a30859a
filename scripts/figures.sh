#!/usr/bin/env bash
# figures.sh — run whatever sweeps are missing and regenerate every figure and table.
#
#   scripts/figures.sh [--quick | --full] [--no-run] [--out DIR] [CONFIG ...]
#
#   --quick    the configs/*_quick.json sweeps, figures into results/figures/ (default)
#   --full     the full configs (configs/{lqa,qlab,newton}_*.json without _quick),
#              figures into results/figures-full/ (ResNet-18 sweeps take hours on 2 cores)
#              A paper config on a test function ("dataset": "none": seconds to run, no
#              _quick variant) belongs to both modes.
#   --no-run   do not run sweeps; plot what results/ already holds
#   --out DIR  where figures, tables and the aggregated data go (default: results/figures/ or
#              results/figures-full/ for the shipped paper sweeps; <output_dir>/figures/ for a
#              single sweep of your own; several sweeps of your own need --out)
#   CONFIG     config names or paths (default: every config of the mode, cheapest first)
#
# results/figures* belongs to the shipped paper sweeps (configs/{lqa,qlab,newton}_*.json):
# with any other config there, figures.sh refuses to write into it (exit 2).
#
# Environment: LQA_FIGURES_CONFIGS (space-separated configs, as CONFIG), LQA_FIGURES_OUT
# (as --out), LQA_BIN (the lqabench binary, default ./lqabench), LQA_FIGURES_PALETTE=0
# (keep pngcairo's RGB PNGs instead of rewriting them as palette PNGs), LQA_FIGURES_SCALE
# (multiply every figure's pixel size, e.g. 0.5 for fast checks; default 1), LQA_FIGURES_BAND
# (the band around the mean over seeds: ci, the 95 % t-interval, default; or minmax),
# LQA_FIGURES_DOC=0 (--full: do not rewrite docs/reproduction.md's verdict table).
#
# Per config: `lqabench --config C` (it resumes: complete runs are skipped), then
# scripts/agg_seeds.py (mean/min/max over seeds into DIR/data/<sweep>/, and the sweep's
# aggregate.csv — mean, sd and 95 % t-interval over seeds — into its results directory), then the
# scripts/plot_*.gp gnuplot scripts, each to <sweep>_<figure>.png and .pdf in DIR; then
# scripts/tables.py rewrites DIR/table_*.md and .csv from the summary.csv files of every
# sweep plotted so far (so an interrupted run leaves tables that match its figures); at the end
# scripts/verdicts.py writes DIR/verdicts.md and .csv, the claims of claims/claims.json evaluated
# on the results (with --full on every config into the default DIR, also the generated block of
# docs/reproduction.md).
# The figures of a sweep depend on its name: lqa_* (LQA paper layout), qlab_* (QLABGrad
# layout + lr traces), *findplr* (FindPLR start-up), newton_* (eta traces); a sweep on a test
# function (booth, eggholder, himmelblau) gets <sweep>_loss (f - f* against the step) and
# <sweep>_trajectories (the paths on the contour map) instead, and stays out of the
# performance profile; every other sweep also gets <sweep>_passes (loss vs forward+backward passes), and from scripts/analysis.py
# <sweep>_sensitivity (final loss/accuracy vs lr, and vs a method's own swept knobs) and
# <sweep>_time_to_target (.csv, .md, figure). With two or more sweeps, performance_profile
# (Dolan-More profile of the best-lr final losses across them, with performance_ratios.csv).
# A missing or malformed CSV is an error naming the file. The script goes on with the
# other configs and exits 1 at the end if anything failed.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

mode=quick run=1 out=${LQA_FIGURES_OUT:-} cfgs=() sort_by_cost=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) mode=quick ;;
        --full) mode=full ;;
        --no-run) run=0 ;;
        --out) out=${2:?--out needs a directory}; shift ;;
        --out=*) out=${1#--out=} ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) echo "figures.sh: unknown option '$1'" >&2; exit 2 ;;
        *) cfgs+=("$1") ;;
    esac
    shift
done
if [ ${#cfgs[@]} -eq 0 ] && [ -n "${LQA_FIGURES_CONFIGS:-}" ]; then
    read -r -a cfgs <<< "$LQA_FIGURES_CONFIGS"
fi
if [ ${#cfgs[@]} -eq 0 ]; then
    for f in configs/lqa_*.json configs/qlab_*.json configs/newton_*.json; do
        case "$f" in *_quick.json) [ $mode = quick ] || continue ;;
                     *) [ $mode = full ] || grep -Eq '"dataset": *"none"' "$f" || continue ;; esac
        cfgs+=("$f")
    done
    sort_by_cost=1
fi
BIN=${LQA_BIN:-./lqabench}

for tool in gnuplot python3; do
    command -v $tool >/dev/null || { echo "figures.sh: $tool not found (make deps)" >&2; exit 1; }
done
if [ $run = 1 ] && [ ! -x "$BIN" ]; then
    echo "figures.sh: $BIN not found (make lqabench)" >&2; exit 1
fi

failed=() written=() tables=() summaries=() infos=() t_all=$SECONDS
note() { echo "figures.sh: $*" >&2; }

# path, name, results directory (as lqabench resolves them) and a rough cost (forward
# sample-passes x model size; cheap sweeps run first) of a config
cfg_info() {
    python3 - "$1" <<'PY'
import json, math, os, sys
p = sys.argv[1]
if not os.path.isfile(p) and os.path.isfile(os.path.join("configs", p)):
    p = os.path.join("configs", p)
if not os.path.isfile(p) and os.path.isfile(os.path.join("configs", p + ".json")):
    p = os.path.join("configs", p + ".json")
try:
    c = json.load(open(p))
except OSError:
    sys.exit(f"figures.sh: {sys.argv[1]}: no such config")
except ValueError as e:
    sys.exit(f"figures.sh: {p}: not valid JSON: {e}")
name = c.get("name") or os.path.splitext(os.path.basename(p))[0]
try:
    size = {"logreg": 8e3, "mlp": 1.8e6, "cnn2": 3e5, "lenet5": 6e5,
            "resnet18": 5.6e8, "booth": 2, "eggholder": 2, "himmelblau": 2}.get(c.get("model"), 1e6)
    ntrain = c.get("train_limit", {"cifar10": 50000, "none": 1, "boston": 400}.get(c.get("dataset"),
                                                                                  60000))
    b = c.get("batch_size", 64)
    per_epoch = max(1, ntrain // b)
    steps = c.get("steps") or c.get("epochs", 1) * per_epoch
    width = c.get("width", 64)
    widths = width if isinstance(width, list) else [width]
    seeds = len(c.get("seeds", [1]))
    evals = math.ceil(steps / per_epoch) * (ntrain * c.get("eval_train", True)
                                            + c.get("test_limit", {"boston": 106, "none": 0}.get(
                                                c.get("dataset"), 10000)))
    # Estimated duration: ms per training sample (forward + backward + update, 2 threads) of
    # the README's Speed table (make bench, batch 64, an otherwise idle 2-core machine;
    # ResNet-18: batch 128 at width 64, scaled by width/64 — small widths are dominated by
    # memory traffic, not by the width^2 of the FLOPs); cnn2 is not benchmarked: LeNet-5's
    # MNIST cost x their size ratio. A probe forward or an evaluated sample costs 1/3 of a
    # training sample's pass. Complete runs (skipped by lqabench) are not subtracted.
    ms = {"logreg": 0.018 / 64, "linreg": 0.018 / 64 / 60, "mlp": 3.0 / 64, "cnn2": 1.2 / 64 / 2,
          "lenet5": (1.55 if c.get("dataset") == "cifar10" else 1.2) / 64}.get(c.get("model"))
    probes = {"lqa": 2, "qlabgrad": 1, "newton-lr": 5}
    runs = est = 0
    for o in c.get("optimizers", []):
        lists = [len(v) for k, v in o.items() if isinstance(v, list) and k != "lr"]
        nlr = len(o["lr"]) if isinstance(o.get("lr"), list) else 1
        if o.get("grid") == "zip":
            pts = max(lists + [nlr]) if lists or nlr > 1 else 1
        else:
            pts = nlr * math.prod(lists)
        n = pts * len(widths) * seeds
        runs += n
        for w in widths:
            m = ms if ms is not None else (1.4e3 / 128 * (w / 64) if c.get("model") == "resnet18"
                                           else 0.02)
            est += n / len(widths) * m * (steps * b * (3 + probes.get(o.get("name"), 0)) + evals) / 3e3
    cost = size * runs * (3 * steps * b + evals)
except (TypeError, AttributeError, KeyError):
    cost = est = 0  # lqabench reports what is wrong with the config
# a shipped paper sweep: configs/{lqa,qlab,newton}_*.json of this checkout
paper = (os.path.dirname(os.path.realpath(p)) == os.path.realpath("configs")
         and os.path.basename(p).split("_")[0] in ("lqa", "qlab", "newton"))
print(p, name, c.get("output_dir") or os.path.join("results", name), f"{cost:.0f}", int(paper),
      f"{est:.0f}", sep="\t")
PY
}

tab() { # kind, table name, inputs...
    local kind=$1 tname=$2; shift 2
    [ $# -gt 0 ] || return 0
    if python3 scripts/tables.py "$kind" "$out/$tname" "$@"; then
        tables+=("$out/$tname.md" "$out/$tname.csv")
    else
        failed+=("$tname")
    fi
}
make_tables() {
    local acc=() lqa=() lrs=() all=() s n
    tables=()
    [ ${#summaries[@]} -gt 0 ] || return 0
    mapfile -t all < <(printf '%s\n' "${summaries[@]}" | sort)
    for s in "${all[@]}"; do
        n=${s%%=*}
        case "$n" in qlab_fig4*|qlab_fig5*) acc+=("$s") ;; esac
        case "$n" in lqa_*) lqa+=("$s") ;; esac
        lrs+=("$n=$out/data/$n/lr_stats.csv")
    done
    rm -f "$out"/table_*.md "$out"/table_*.csv
    tab accuracy table_test_accuracy "${acc[@]}"
    tab overhead table_time_per_step "${all[@]}"
    tab passes table_passes_per_step "${all[@]}"
    tab bestlr table_best_lr "${lqa[@]}"
    tab sweeps table_sweeps "${all[@]}"
    tab lrtraces table_lr_traces "${lrs[@]}"
}

for cfg in "${cfgs[@]}"; do
    if info=$(cfg_info "$cfg"); then infos+=("$info"); else failed+=("$cfg"); fi
done
if [ $sort_by_cost = 1 ] && [ ${#infos[@]} -gt 0 ]; then
    mapfile -t infos < <(printf '%s\n' "${infos[@]}" | sort -s -t $'\t' -k4,4g)
fi

# Where the figures go: the paper sweeps' results/figures*, a user sweep's own
# <output_dir>/figures, never a user sweep into results/figures*.
own=()
for info in "${infos[@]}"; do
    IFS=$'\t' read -r _ _ res _ paper _ <<< "$info"
    [ "$paper" = 1 ] || own+=("$res")
done
if [ -z "$out" ]; then
    if [ ${#own[@]} -eq 0 ]; then
        [ $mode = quick ] && out=results/figures || out=results/figures-full
    elif [ ${#infos[@]} -eq 1 ]; then
        out=${own[0]}/figures
    else
        note "several sweeps, not all of them shipped paper sweeps: give --out DIR"; exit 2
    fi
fi
if [ ${#own[@]} -gt 0 ]; then
    case "$(realpath -m "$out")/" in
        "$ROOT"/results/figures/*|"$ROOT"/results/figures-*)
            note "$out: results/figures* holds the shipped paper sweeps' figures and tables;" \
                 "plot your own sweeps elsewhere (default: <output_dir>/figures)"
            exit 2 ;;
    esac
fi
mkdir -p "$out/data" || exit 1
echo "figures.sh: figures and tables into $out/" >&2
if [ $run = 1 ] && [ ${#infos[@]} -gt 0 ]; then
    est=0
    for info in "${infos[@]}"; do IFS=$'\t' read -r _ _ _ _ _ e <<< "$info"; est=$((est + e)); done
    [ $est -lt 60 ] && dur="under a minute" || dur="about $(( (est + 30) / 60 )) min"
    note "expected duration: $dur for ${#infos[@]} sweep(s) run from scratch" \
         "(an estimate from per-model step costs measured by make bench on 2 cores, README Speed;" \
         "complete runs are skipped, and the CPU and thread count change it)"
fi

for info in "${infos[@]}"; do
    IFS=$'\t' read -r path name res _ _ <<< "$info"
    if [ $run = 1 ]; then
        t0=$SECONDS
        echo "== $name: sweep ($path)" >&2
        "$BIN" --config "$path" --quiet
        rc=$?
        echo "== $name: sweep finished in $((SECONDS - t0)) s (rc $rc)" >&2
        [ $rc = 0 ] || { note "$name: lqabench exited with status $rc"; failed+=("$name"); }
    fi
    if [ ! -f "$res/summary.csv" ]; then
        note "$name: $res/summary.csv: missing (sweep summary; run the sweep first)"
        failed+=("$name"); continue
    fi
    data="$out/data/$name"
    rm -rf "$data"
    if ! python3 scripts/agg_seeds.py "$res" "$data" --name "$name" --band "${LQA_FIGURES_BAND:-ci}"; then
        note "$name: cannot aggregate $res (see the error above)"
        failed+=("$name"); continue
    fi
    summaries+=("$name=$res/summary.csv")
    written+=("$res/aggregate.csv")
    while read -r fig gp w h; do
        [ -n "$fig" ] || continue
        w=$(awk -v v="$w" -v s="${LQA_FIGURES_SCALE:-1}" 'BEGIN { printf "%d", v * s }')
        h=$(awk -v v="$h" -v s="${LQA_FIGURES_SCALE:-1}" 'BEGIN { printf "%d", v * s }')
        for fmt in png pdf; do
            f="$out/$fig.$fmt"
            rm -f "$f"
            if ! msg=$(gnuplot -e "scriptdir='scripts'; datadir='$data'; out='$f'; fmt='$fmt'; W=$w; H=$h" \
                       "scripts/$gp" 2>&1) || [ ! -s "$f" ]; then
                note "$name: gnuplot scripts/$gp failed for $f:"; echo "$msg" >&2
                failed+=("$fig.$fmt"); continue
            fi
            [ -z "$msg" ] || echo "$msg" | sed "s|^|figures.sh: $fig.$fmt: gnuplot: |" >&2
            if [ $fmt = png ] && [ "${LQA_FIGURES_PALETTE:-1}" != 0 ]; then
                python3 scripts/png_palette.py "$f" || failed+=("$fig.$fmt")
            fi
            written+=("$f")
        done
    done < "$data/figures.txt"
    # learning-rate sensitivity and time to target (scripts/analysis.py)
    if files=$(python3 scripts/analysis.py "$res" --out "$out" --name "$name"); then
        mapfile -t -O ${#written[@]} written <<< "$files"
    else
        note "$name: scripts/analysis.py failed (see the error above)"; failed+=("$name analysis")
    fi
    make_tables
done
written+=("${tables[@]}")
# the performance profile across the sweeps plotted (at least two), without the test-function
# sweeps (their runs stop at a threshold, and f* may be <= 0: no ratio of final losses)
profs=()
for s in "${summaries[@]}"; do
    case "$(awk -F, 'NR == 2 { print $2 }' "${s#*=}")" in booth|eggholder|himmelblau) continue ;; esac
    profs+=("${s%/summary.csv}")
done
if [ ${#profs[@]} -ge 2 ]; then
    rm -f "$out"/performance_profile.* "$out"/performance_ratios.csv
    if files=$(python3 scripts/analysis.py profile "$out" "${profs[@]}"); then
        mapfile -t -O ${#written[@]} written <<< "$files"
    else
        note "scripts/analysis.py profile failed (see the error above)"; failed+=("performance profile")
    fi
fi

# The verdict table: every claim of claims/claims.json evaluated on the results of this mode's
# sweeps (scripts/verdicts.py). A run of every config of the mode into its default folder also
# rewrites that mode's generated block of docs/reproduction.md (LQA_FIGURES_DOC=0: never).
vargs=(--"$mode" --out "$out")
if [ $sort_by_cost = 1 ] && [ "${LQA_FIGURES_DOC:-1}" != 0 ] \
   && { [ "$out" = results/figures-full ] || [ "$out" = results/figures ]; }; then
    vargs+=(--update-doc docs/reproduction.md)
fi
if python3 scripts/verdicts.py "${vargs[@]}"; then
    written+=("$out/verdicts.md" "$out/verdicts.csv")
else
    note "scripts/verdicts.py failed (see the error above)"; failed+=(verdicts)
fi

printf '%s\n' "${written[@]}" > "$out/files.txt"
echo "figures.sh: ${#written[@]} files in $out ($((SECONDS - t_all)) s); list: $out/files.txt" >&2
if [ ${#failed[@]} -gt 0 ]; then
    echo "figures.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
