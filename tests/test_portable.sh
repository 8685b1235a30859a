#!/usr/bin/env bash
# test_portable.sh — the default binary runs on any x86-64-v2 CPU and its
# results depend only on (config, seed, threads, kernel path, OpenBLAS core):
#  - a tiny LeNet-5 + MLP sweep with the kernels forced to every path this CPU
#    has (LQA_KERNEL=avx512/avx2/baseline) completes, and reruns are identical;
#  - the avx512 and avx2 paths give identical bytes (both use fused
#    multiply-adds the same way; the baseline path has none and may round
#    differently, so it is only checked to stay close);
#  - an unknown or unsupported LQA_KERNEL is refused (exit 2);
#  - where qemu-user is installed (Debian's qemu-user), the binary runs under
#    `qemu-x86_64 -cpu Haswell` (no AVX-512) and `-cpu Nehalem` (no AVX), picks
#    the avx2 / baseline path by itself, and gives the same bytes as this
#    machine running the same path and OpenBLAS core.
# Needs MNIST in $LQA_DATA_DIR/mnist (default data/mnist).
source "$(dirname "$0")/lib.sh"

if ! "$BIN" --version | grep -qE 'kernels: (avx512|avx2|baseline)'; then
  # a NATIVE=1 build has one path: nothing to dispatch
  "$BIN" --version | grep -q 'kernels: native' && { echo "test_portable: 1 passed, 0 failed (native build)"; exit 0; }
  bad "--version names no kernel path: $("$BIN" --version)"
fi

cat >"$T/tiny.json" <<EOF
{"name": "tiny", "model": "lenet5", "dataset": "mnist", "data_dir": "$DATA/mnist",
 "batch_size": 16, "steps": 6, "train_limit": 128, "test_limit": 64, "eval_batch": 64,
 "optimizers": [{"name": "sgd-m", "lr": 0.05}, {"name": "qlabgrad", "lr": 0.05}]}
EOF
WRAP=() # a command the binary runs under (qemu)
# one run of the tiny sweep: run <out> [env...]; prints the concatenated CSVs
run() {
  local out=$1; shift
  env "$@" OPENBLAS_THREAD_TIMEOUT=16 "${WRAP[@]}" "$BIN" --config "$T/tiny.json" --output-dir "$T/$out" \
    --threads 1 --quiet --no-timing >"$T/$out.log" 2>&1 || { cat "$T/$out.log" >&2; return 1; }
  cat "$T/$out"/*.steps.csv "$T/$out"/*.epochs.csv
}
best=$("$BIN" --version | sed -E 's/.*kernels: ([a-z0-9]+).*/\1/')
paths="baseline"
[ "$best" = avx2 ] && paths="avx2 baseline"
[ "$best" = avx512 ] && paths="avx512 avx2 baseline"
core=${OPENBLAS_CORETYPE:-Haswell}
[ "$best" = baseline ] && core=${OPENBLAS_CORETYPE:-Prescott}
for p in $paths; do
  check "LQA_KERNEL=$p runs" run "$p" LQA_KERNEL=$p OPENBLAS_CORETYPE=$core >/dev/null
  [ -f "$T/$p/summary.csv" ] && check "LQA_KERNEL=$p: metadata names the path" \
    grep -q "\"kernel_path\":[[:space:]]*\"$p\"" "$T/$p"/sgd-m_lr0.05_s1.json
  run "$p.again" LQA_KERNEL=$p OPENBLAS_CORETYPE=$core >"$T/$p.again.csv"
  run "$p.x" LQA_KERNEL=$p OPENBLAS_CORETYPE=$core >"$T/$p.csv"
  check "LQA_KERNEL=$p: rerun byte-identical" cmp -s "$T/$p.csv" "$T/$p.again.csv"
done
if [ "$best" = avx512 ]; then
  check "avx512 and avx2 paths identical" cmp -s "$T/avx512.csv" "$T/avx2.csv"
fi
# baseline against the best path: same steps, losses within 1e-4 relative (rounding only)
python3 - "$T/$best/sgd-m_lr0.05_s1.steps.csv" "$T/baseline/sgd-m_lr0.05_s1.steps.csv" <<'EOF' && ok || bad "baseline path far from $best"
import csv, sys
a, b = (list(csv.DictReader(open(f))) for f in sys.argv[1:3])
assert len(a) == len(b) == 6, (len(a), len(b))
for x, y in zip(a, b):
    la, lb = float(x["loss"]), float(y["loss"])
    assert abs(la - lb) <= 1e-4 * abs(la), (x["step"], la, lb)
EOF

# refusals
LQA_KERNEL=sse9 "$BIN" --version >"$T/r.log" 2>&1
check "unknown LQA_KERNEL exits 2" test $? = 2
check "unknown LQA_KERNEL names the value" grep -q 'LQA_KERNEL=sse9' "$T/r.log"
if [ "$best" != avx512 ]; then
  LQA_KERNEL=avx512 "$BIN" --version >"$T/r.log" 2>&1
  check "unsupported LQA_KERNEL exits 2" test $? = 2
fi

# older CPUs, emulated
if command -v qemu-x86_64 >/dev/null && [ "${LQA_SKIP_QEMU:-0}" != 1 ]; then
  for cpu in Haswell:avx2:Haswell Nehalem:baseline:Nehalem; do
    IFS=: read -r model want qcore <<<"$cpu"
    # lqabench re-executes itself to set OpenBLAS's variables unless they are set;
    # under qemu-user that re-exec would run natively, so set them here.
    v=$(OPENBLAS_CORETYPE=$qcore OPENBLAS_THREAD_TIMEOUT=16 qemu-x86_64 -cpu "$model" "$BIN" --version 2>/dev/null)
    check "qemu -cpu $model picks $want ($v)" grep -q "kernels: $want" <<<"$v"
    # the same path and core natively (when this CPU has the path) gives the same bytes
    WRAP=(qemu-x86_64 -cpu "$model")
    qemu_csv=$(run "qemu-$model" OPENBLAS_CORETYPE=$qcore) && ok || bad "sweep under qemu -cpu $model"
    WRAP=()
    native_csv=$(run "native-$model" LQA_KERNEL=$want OPENBLAS_CORETYPE=$qcore)
    check "qemu -cpu $model: same bytes as this CPU on the $want path" test "$qemu_csv" = "$native_csv"
  done
else
  echo "test_portable: qemu-x86_64 not installed: emulated CPUs not checked (apt-get install qemu-user)"
fi
lib_done
