#!/usr/bin/env bash
# bench.sh — `make bench`: lqabench's training-step speed, optimizer cost and
# memory, side by side with PyTorch in the same run and thread count.
#
#   bash scripts/bench.sh          (after `make all`)
#
# Environment:
#   BENCH_THREADS=2        threads for both (OpenBLAS / torch.set_num_threads)
#   BENCH_OUT=results/bench  where raw.jsonl and bench.md go
#   BENCH_CORETYPE=auto    OpenBLAS kernel set. OpenBLAS 0.3.21 (Debian 12) does
#                          not know recent Xeons (e.g. family 6 model 207) and
#                          falls back to its SSE3 "Prescott" kernels, ~6× slower
#                          for sgemm. auto: when OpenBLAS picked such a generic
#                          core on a CPU with AVX-512 / AVX2, export
#                          OPENBLAS_CORETYPE=Cooperlake / SkylakeX / Haswell for
#                          every run (C and PyTorch alike: torch's Linear layers
#                          call the same OpenBLAS) and also record the as-is
#                          figures; none: never override; NAME: force that core.
#   BENCH_RESNET_TIMEOUT=300  seconds allowed to each ResNet-18 run
#   BENCH_SKIP_TORCH=1     C side only
#
# Every model is looked up by name; one that is not registered yet is skipped
# with a note. The table goes to stdout and to $BENCH_OUT/bench.md.
set -uo pipefail
cd "$(dirname "$0")/.."

T=${BENCH_THREADS:-2}
OUT=${BENCH_OUT:-results/bench}
BIN=${BENCH_BIN:-build/tools/bench}
PY=/usr/bin/python3
CORE_MODE=${BENCH_CORETYPE:-auto}
RESNET_TIMEOUT=${BENCH_RESNET_TIMEOUT:-300}
RAW=$OUT/raw.jsonl

mkdir -p "$OUT"
: >"$RAW"
[ -x "$BIN" ] || { echo "bench.sh: $BIN not built (run make all)" >&2; exit 1; }
T0=$(date +%s)

note() { # note TAG TEXT
    printf '{"kind":"note","tag":"%s","text":"%s"}\n' "$1" "${2//\"/\\\"}" >>"$RAW"
    echo "bench.sh: $2" >&2
}

# ---- PyTorch ------------------------------------------------------------------
HAVE_TORCH=0
if [ "${BENCH_SKIP_TORCH:-0}" != 1 ]; then
    if ! "$PY" -c 'import torch' 2>/dev/null; then
        if [ -f scripts/setup.sh ]; then
            bash scripts/setup.sh torch || true
        else
            SUDO=(); [ "$(id -u)" -ne 0 ] && SUDO=(sudo)
            "${SUDO[@]}" apt-get install -y python3-torch || true
        fi
    fi
    if "$PY" -c 'import torch' 2>/dev/null; then HAVE_TORCH=1
    else note torch "PyTorch not available ($PY -c 'import torch' fails): PyTorch columns empty"; fi
else
    note torch "BENCH_SKIP_TORCH=1: PyTorch columns empty"
fi

# ---- OpenBLAS kernel set --------------------------------------------------------
export OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T
core_of() { "$@" "$BIN" --blas-info | awk '{for (i = 1; i < NF; i++) if ($(i + 1) ~ /^MAX_THREADS/) print $i}'; }
USER_CORE=${OPENBLAS_CORETYPE:-}
DETECTED=$(core_of env -u OPENBLAS_CORETYPE)
FLAGS=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
best_core() {
    case " $FLAGS " in
        *" avx512_bf16 "*) echo Cooperlake ;;
        *" avx512f "*) echo SkylakeX ;;
        *" avx2 "*) echo Haswell ;;
        *) echo "" ;;
    esac
}
ASIS=0
case "$CORE_MODE" in
    none) ;;
    auto)
        if [ -z "$USER_CORE" ]; then
            case "$DETECTED" in
                Prescott|Core2|Penryn|Dunnington|Nehalem|Atom|Katmai|Coppermine|Northwood|Banias|Sandybridge)
                    BEST=$(best_core)
                    if [ -n "$BEST" ] && [ "$BEST" != "$DETECTED" ]; then
                        export OPENBLAS_CORETYPE=$BEST
                        ASIS=1
                        note core "OpenBLAS picked the generic '$DETECTED' kernels for this CPU; running with OPENBLAS_CORETYPE=$BEST (as-is figures recorded too)"
                    fi ;;
            esac
        fi ;;
    *) export OPENBLAS_CORETYPE=$CORE_MODE ;;
esac
USED=$(core_of)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- runners ------------------------------------------------------------------------
# c_run TAG ARGS... : one tools/bench invocation, JSON lines tagged into $RAW.
c_run() {
    local tag=$1; shift
    local out rc
    out=$(timeout "${C_TIMEOUT:-600}" "$BIN" --threads "$T" "$@")
    rc=$?
    if [ $rc -eq 3 ]; then
        note "$tag" "model '$(printf '%s\n' "$@" | sed -n '/^--model$/{n;p}')' is not registered yet: skipped"
        return 3
    elif [ $rc -eq 124 ]; then
        note "$tag" "lqabench run timed out after ${C_TIMEOUT:-600} s: $*"
        return $rc
    elif [ $rc -ne 0 ]; then
        note "$tag" "lqabench run failed (exit $rc): $*"
        return $rc
    fi
    printf '%s\n' "$out" | grep '^{' | sed "s/^{/{\"tag\":\"$tag\",/" >>"$RAW"
}
# t_run TAG CONFIG... : PyTorch, one fresh subprocess per config.
t_run() {
    local tag=$1; shift
    [ $HAVE_TORCH = 1 ] || return 0
    "$PY" scripts/bench_torch.py --threads "$T" --timeout "${T_TIMEOUT:-600}" "$@" |
        grep '^{' | sed "s/^{/{\"tag\":\"$tag\",/" >>"$RAW"
}

echo "bench.sh: threads $T, OpenBLAS core $USED (detected $DETECTED), load $LOAD0" >&2

# 1. sgemm rate on the MLP's GEMM shapes (batch 64)
c_run sgemm --sgemm --reps 30 --batch 64

# 2. logreg and MLP, batch 64, sgd: lqabench then PyTorch
c_run speed --model logreg --batch 64 --input 1x28x28 --optimizer sgd --steps 500 --warmup 50 --fwd-reps 200
t_run speed logreg:64:1x28x28:300:30:200
c_run speed --model mlp --batch 64 --input 1x28x28 --optimizer sgd --steps 100 --warmup 5 --fwd-reps 50
t_run speed mlp:64:1x28x28:60:5:30

# 3. optimizer cost on the MLP: one process, own parameters per optimizer, rounds interleaved.
#    qlabgrad keeps its default findplr_every (-1: every epoch, epoch = 937 steps as on
#    MNIST): FindPLR runs at step 0 (the first warm-up step, reported separately) and in
#    no timed step.
c_run cost --model mlp --batch 64 --input 1x28x28 \
    --optimizer sgd,sgd-m,adam,hgd,l4gd,lqa,qlabgrad,newton-lr \
    --steps 150 --rounds 5 --warmup 3 --fwd-reps 30 --steps-per-epoch 937

# 4. conv models
if c_run conv --model lenet5 --batch 64 --input 1x28x28 --optimizer sgd --steps 100 --warmup 5 --fwd-reps 30; then
    t_run conv lenet5:64:1x28x28:60:5:30
fi
if c_run conv --model lenet5 --batch 64 --input 3x32x32 --optimizer sgd --steps 100 --warmup 5 --fwd-reps 30; then
    t_run conv lenet5:64:3x32x32:60:5:30
fi
if C_TIMEOUT=$RESNET_TIMEOUT c_run conv --model resnet18 --batch 128 --input 3x32x32 --optimizer sgd \
    --steps 3 --warmup 1 --fwd-reps 2; then
    T_TIMEOUT=$RESNET_TIMEOUT t_run conv resnet18:128:3x32x32:3:1:2
fi

# 5. as-is: what OpenBLAS's own choice gives (only when the core was overridden)
if [ $ASIS = 1 ]; then
    (
        unset OPENBLAS_CORETYPE
        c_run asis --sgemm --reps 10 --batch 64
        c_run asis --model mlp --batch 64 --input 1x28x28 --optimizer sgd --steps 30 --warmup 3 --fwd-reps 10
        t_run asis mlp:64:1x28x28:20:3:10
    )
fi

LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(( $(date +%s) - T0 ))
TORCH_VER=$([ $HAVE_TORCH = 1 ] && "$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo "n/a")
export B_THREADS=$T B_USED=$USED B_DETECTED=$DETECTED B_USER_CORE=$USER_CORE B_LOAD0=$LOAD0 \
    B_LOAD1=$LOAD1 B_ELAPSED=$ELAPSED B_TORCH=$TORCH_VER B_NCPU=$(nproc) \
    B_CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') \
    B_GIT=$(git describe --always --dirty 2>/dev/null || echo unknown) \
    B_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# ---- report -------------------------------------------------------------------
"$PY" - "$RAW" "$OUT/bench.md" <<'EOF'
import json, os, sys
raw, md_path = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(raw) if l.strip()]
meta = {k[2:].lower(): v for k, v in os.environ.items() if k.startswith("B_")}

def find(tag, kind, **kw):
    for r in rows:
        if r.get("tag") == tag and r.get("kind") == kind and all(r.get(k) == v for k, v in kw.items()):
            return r
    return None

def f(v, d=2):
    return "–" if v is None else f"{v:.{d}f}"

def verdict(ok):
    return "–" if ok is None else ("PASS" if ok else "**MISS**")

def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b

L = []
L.append("# lqabench — `make bench`")
L.append("")
L.append(f"{meta['date']} · git {meta['git']} · CPU: {meta['cpu']} ({meta['ncpu']} cores) · "
         f"threads: {meta['threads']} (OpenBLAS and torch.set_num_threads) · PyTorch {meta['torch']} · "
         f"load average before / after: {meta['load0']} / {meta['load1']} · wall time {meta['elapsed']} s")
L.append("")
core_line = f"OpenBLAS kernels: **{meta['used']}**"
if meta["used"] != meta["detected"]:
    core_line += (f" (OPENBLAS_CORETYPE set for lqabench *and* PyTorch; OpenBLAS's own pick on this CPU: "
                  f"**{meta['detected']}**, see the as-is section)")
L.append(core_line)
L.append("")
L.append("Times are medians of per-step wall times (ms); a step is forward (train) + backward + "
         "optimizer step including its probes. Inputs are random (U(0,1), uniform labels), "
         "so no file I/O is timed. Peak RSS is the whole process's ru_maxrss "
         "(PyTorch: a fresh interpreter per model, torch imported).")
L.append("")

# ---- 1. speed
L.append("## 1. Speed: logreg and MLP, batch 64 (issue #2 §8)")
L.append("")
L.append("| model | lqabench ms/step | PyTorch ms/step | ratio | target | result |")
L.append("|---|---:|---:|---:|---:|---|")
targets = {"logreg": 0.2, "mlp": 0.5}
for m in ("logreg", "mlp"):
    c = find("speed", "step", model=m); t = find("speed", "torch_step", model=m)
    r = ratio(c and c["step_ms"], t and t["step_ms"])
    L.append(f"| {m} | {f(c and c['step_ms'], 3)} | {f(t and t['step_ms'], 3)} | {f(r)}× | ≤ {targets[m]}× | "
             f"{verdict(None if r is None else r <= targets[m])} |")
sg = find("sgemm", "sgemm_total")
c = find("speed", "step", model="mlp")
if sg and c:
    rate = sg["gflop"] / (c["step_ms"] * 1e-3)
    frac = rate / sg["gflops"]
    L.append("")
    L.append(f"MLP step vs sgemm: the step's {sg['gflop']:.3f} GFLOP (3× the forward GEMMs) in "
             f"{c['step_ms']:.3f} ms = **{rate:.1f} GFLOP/s**, against **{sg['gflops']:.1f} GFLOP/s** for "
             f"OpenBLAS sgemm on the MLP's GEMM shapes back to back (table below) = **{100*frac:.0f}%** "
             f"(target ≥ 50%: {verdict(frac >= 0.5)}).")
L.append("")
L.append("Where the time goes (ms, medians):")
L.append("")
L.append("| model | side | step | forward (train) | backward | optimizer | forward eval | forward probe / no_grad train | peak RSS MiB |")
L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for m in ("logreg", "mlp"):
    for side, kind in (("lqabench", "step"), ("PyTorch", "torch_step")):
        r = find("speed", kind, model=m)
        if r:
            L.append(f"| {m} | {side} | {f(r['step_ms'],3)} | {f(r['fwd_train_ms'],3)} | {f(r['bwd_ms'],3)} | "
                     f"{f(r['opt_ms'],3)} | {f(r['fwd_eval_ms'],3)} | {f(r['fwd_probe_ms'],3)} | {f(r['peak_rss_mib'],1)} |")
shapes = [r for r in rows if r.get("tag") == "sgemm" and r.get("kind") == "sgemm"]
if shapes:
    L.append("")
    L.append("OpenBLAS sgemm (blas_sgemm, row-major; op nt = y = x·Wᵀ, tn = dW = dyᵀ·x, nn = dx = dy·W):")
    L.append("")
    L.append("| GEMM | ms | GFLOP/s |")
    L.append("|---|---:|---:|")
    for r in shapes:
        L.append(f"| {r['shape']} | {f(r['ms'],4)} | {f(r['gflops'],1)} |")
    if sg:
        L.append(f"| **MLP set ({sg['gflop']:.3f} GFLOP)** | {f(sg['ms'],3)} | **{f(sg['gflops'],1)}** |")
    used = sum(r["ms"] for r in shapes if r["shape"].startswith(("fwd", "dW", "dx")) and "unused" not in r["shape"])
    if c:
        L.append("")
        L.append(f"The GEMMs the library actually runs in a step (the first layer's dx is skipped) take "
                 f"{used:.3f} ms in isolation; the measured step is {c['step_ms']:.3f} ms, so "
                 f"{c['step_ms'] - used:.3f} ms ({100*(c['step_ms']-used)/c['step_ms']:.0f}%) is outside those GEMMs "
                 f"(element-wise layers, bias, softmax, the optimizer update, cache effects).")

# ---- 2. cost
L.append("")
L.append("## 2. Cost per step of each optimizer relative to sgd: MLP, batch 64 (issue #3)")
L.append("")
cost = [r for r in rows if r.get("tag") == "cost" and r.get("kind") == "step"]
if cost:
    base = next((r for r in cost if r["optimizer"] == "sgd"), None)
    tg = {"hgd": 1.05, "l4gd": 1.05, "qlabgrad": 1.4, "lqa": 1.7, "newton-lr": 2.7}
    n0 = cost[0]
    L.append(f"One process, each optimizer with its own parameters and state, {n0['steps']} timed steps each in "
             f"{n0['rounds']} interleaved rounds after {n0['warmup']} warm-up steps. "
             f"Forward/step counts the training forward plus every probe. Probe cost = "
             f"(optimizer time − sgd's optimizer time) / probes, against one FWD_PROBE forward "
             f"({f(n0['fwd_probe_ms'],3)} ms) and one training forward.")
    L.append("")
    L.append("| optimizer | ms/step | × sgd | target | result | forwards/step | optimizer part ms | probe cost ms |")
    L.append("|---|---:|---:|---:|---|---:|---:|---:|")
    for r in cost:
        x = ratio(r["step_ms"], base and base["step_ms"])
        t = tg.get(r["optimizer"])
        probes = (r["fwd_per_step"] or 1) - 1
        pc = (r["opt_ms"] - base["opt_ms"]) / probes if base and probes > 0 else None
        L.append(f"| {r['optimizer']} | {f(r['step_ms'],3)} | {f(x)}× | {'≤ %g×' % t if t else '–'} | "
                 f"{verdict(None if t is None or x is None else x <= t)} | {f(r['fwd_per_step'],0)} | "
                 f"{f(r['opt_ms'],3)} | {f(pc,3)} |")
    q = next((r for r in cost if r["optimizer"] == "qlabgrad"), None)
    if q and base:
        extra = q["first_step_ms"] - base["step_ms"]
        L.append("")
        L.append(f"QLABGrad's FindPLR is not in the per-step figure: it runs at the start of each epoch "
                 f"(findplr_every = −1, here step 0, a warm-up step). That first step took "
                 f"{q['first_step_ms']:.2f} ms with {q['first_step_fwd']:.0f} forwards (from ā = lr = 0.01 on "
                 f"random data; the number of trials depends on the data and ā); spread over an MNIST epoch "
                 f"of 937 steps it adds ≈ {100*extra/937/q['step_ms']:.2f}% to QLABGrad's step.")
else:
    L.append("(not measured)")

# ---- 3. conv
L.append("")
L.append("## 3. Conv models vs PyTorch (issue #4)")
L.append("")
conv_cfg = [("lenet5", "1x28x28", 64, 0.5, False), ("lenet5", "3x32x32", 64, 0.5, False),
            ("resnet18", "3x32x32", 128, 0.8, True)]
L.append("| model | input | batch | lqabench ms/step | PyTorch ms/step | ratio | target | result | "
         "lqabench peak RSS MiB | PyTorch peak RSS MiB | memory target | result |")
L.append("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---|")
for m, inp, b, tgt, mem in conv_cfg:
    c = find("conv", "step", model=m, input=inp); t = find("conv", "torch_step", model=m, input=inp)
    r = ratio(c and c["step_ms"], t and t["step_ms"])
    memv = None
    if mem and c and t:
        memv = c["peak_rss_mib"] <= t["peak_rss_mib"]
    L.append(f"| {m} | {inp} | {b} | {f(c and c['step_ms'],2)} | {f(t and t['step_ms'],2)} | {f(r)}× | ≤ {tgt}× | "
             f"{verdict(None if r is None else r <= tgt)} | {f(c and c['peak_rss_mib'],1)} | "
             f"{f(t and t['peak_rss_mib'],1)} | {'≤ PyTorch' if mem else '–'} | {verdict(memv) if mem else '–'} |")
L.append("")
L.append("| model | input | side | step | forward (train) | backward | optimizer | forward eval | forward probe / no_grad train | base RSS MiB |")
L.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
for m, inp, b, tgt, mem in conv_cfg:
    for side, kind in (("lqabench", "step"), ("PyTorch", "torch_step")):
        r = find("conv", kind, model=m, input=inp)
        if r:
            L.append(f"| {m} | {inp} | {side} | {f(r['step_ms'],2)} | {f(r['fwd_train_ms'],2)} | {f(r['bwd_ms'],2)} | "
                     f"{f(r['opt_ms'],2)} | {f(r['fwd_eval_ms'],2)} | {f(r['fwd_probe_ms'],2)} | {f(r['base_rss_mib'],1)} |")

# ---- as-is
asis = [r for r in rows if r.get("tag") == "asis"]
if asis:
    L.append("")
    L.append(f"## As-is: OpenBLAS's own kernel choice ({meta['detected']})")
    L.append("")
    a_sg = find("asis", "sgemm_total"); a_c = find("asis", "step", model="mlp"); a_t = find("asis", "torch_step", model="mlp")
    L.append("| figure | as-is | with the override above |")
    L.append("|---|---:|---:|")
    L.append(f"| sgemm, MLP GEMM set, GFLOP/s | {f(a_sg and a_sg['gflops'],1)} | {f(sg and sg['gflops'],1)} |")
    ref_a = find("asis", "sgemm", M=1024); ref_o = find("sgemm", "sgemm", M=1024)
    L.append(f"| sgemm 1024³, GFLOP/s | {f(ref_a and ref_a['gflops'],1)} | {f(ref_o and ref_o['gflops'],1)} |")
    c = find("speed", "step", model="mlp"); t = find("speed", "torch_step", model="mlp")
    L.append(f"| lqabench MLP step, ms | {f(a_c and a_c['step_ms'],2)} | {f(c and c['step_ms'],2)} |")
    L.append(f"| PyTorch MLP step, ms | {f(a_t and a_t['step_ms'],2)} | {f(t and t['step_ms'],2)} |")
    L.append("")
    L.append("Unless OPENBLAS_CORETYPE is set in the environment, `lqabench` itself runs with the as-is kernels on this CPU.")

notes = [r for r in rows if r.get("kind") == "note"]
if notes:
    L.append("")
    L.append("## Notes")
    L.append("")
    for n in notes:
        L.append(f"- {n['text']}")
L.append("")
L.append(f"Raw measurements: `{raw}` (one JSON object per line).")
text = "\n".join(L) + "\n"
open(md_path, "w").write(text)
print(text)
EOF
