#!/usr/bin/env bash
# fuzz.sh — run each libFuzzer harness of build-fuzz/fuzz/ (built by `make fuzz`)
# for FUZZ_SECONDS (default 60) seconds, one after the other.
#
#   FUZZ_SECONDS=300 bash scripts/fuzz.sh              every harness
#   FUZZ_SECONDS=300 bash scripts/fuzz.sh fuzz_idx     one of them
#
# Each starts from its committed seed corpus tests/fuzz/corpus/<name>/ (read only)
# and keeps what it finds in build-fuzz/corpus/<name>/ (reused by the next run).
# A crash, leak, timeout or sanitizer report stops it: the input is saved as
# build-fuzz/artifacts/<name>-crash-<sha1> (replay: build-fuzz/fuzz/<name> <file>)
# and the script exits 1. Closing line per harness: "fuzz <name>: <execs> execs
# in <s> s (<rate>/s), cov <edges>, ok|FAILED".
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
case "$secs" in ''|*[!0-9]*|0*) echo "fuzz.sh: FUZZ_SECONDS must be a whole number of seconds >= 1, not '$secs'" >&2; exit 2 ;; esac
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do names+=("$(basename "$f" .c)"); done
fi
# the largest input each harness may try (the CIFAR-10 one needs room for a few
# 3073-byte records)
max_len() { case "$1" in fuzz_cifar) echo 16384 ;; fuzz_idx) echo 8192 ;; *) echo 4096 ;; esac; }

# the inputs are written to files: in memory (/dev/shm) when there is one, which is
# several times faster than a disk-backed /tmp; in a folder of this run's own, removed
# at the end even when a harness crashed before removing its files
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=/dev/shm; fi
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/lqa-fuzz-run.XXXXXX") || exit 1
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
mkdir -p build-fuzz/artifacts
for n in "${names[@]}"; do
  bin=build-fuzz/fuzz/$n seeds=tests/fuzz/corpus/$n work=build-fuzz/corpus/$n
  if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
    echo "fuzz.sh: $bin or $seeds missing (build with 'make fuzz')" >&2
    failed+=("$n"); continue
  fi
  mkdir -p "$work"
  log=build-fuzz/$n.log
  echo "fuzz $n: ${secs} s from $seeds ($(ls "$seeds" | wc -l) seeds)"
  "$bin" -max_total_time="$secs" -max_len="$(max_len "$n")" -timeout=10 -rss_limit_mb=2560 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$n-" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | sed 's/cov: //')
  if [ "$rc" = 0 ]; then st=ok; else st=FAILED; failed+=("$n"); fi
  echo "fuzz $n: ${execs:-?} execs in ${secs} s (${rate:-?}/s), cov ${cov:-?}, $st"
  if [ "$rc" != 0 ]; then
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written|^ *#[0-9]+ ' "$log" | head -40 | sed 's/^/    /'
    echo "    (full log: $log)"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "fuzz: FAILED: ${failed[*]}"; exit 1; fi
echo "fuzz: ${#names[@]} harnesses ok"
