#!/usr/bin/env bash
# slurm_sweep.sh — run one lqabench sweep as a Slurm job array, one array task per shard.
#
#   cd /path/to/lqabench            # the repository, on a file system every node sees
#   sbatch --array=0-15 --cpus-per-task=4 scripts/slurm_sweep.sh CONFIG [OUTPUT_DIR] [lqabench flags...]
#
# Task i of an array of N tasks runs `lqabench --config CONFIG --shard i/N
# --threads $SLURM_CPUS_PER_TASK` (the runs whose position in `lqabench --config
# CONFIG --list` is i modulo N), then rebuilds OUTPUT_DIR/summary.csv from the
# runs complete so far (`--summarize`, cheap). The task that finishes last thus
# leaves a complete summary.csv; to be certain (two tasks finishing within the
# same instant), run the summary once after the array:
#   sbatch --dependency=afterany:<array job id> --wrap "./lqabench --config CONFIG --summarize"
# or just `./lqabench --config CONFIG --summarize` on the login node.
#
# OUTPUT_DIR defaults to the config's output_dir (results/<name>); it must be on
# a shared file system. Every run writes only its own files and claims a
# <run>.lock, so tasks never collide; a task that is killed (time limit,
# preemption, node failure) leaves its run half-done, and resubmitting the same
# array (or any task of it) redoes exactly the runs that are not complete:
#   sbatch --array=0-15 --cpus-per-task=4 scripts/slurm_sweep.sh CONFIG   # again
# (a lock from another node is considered stale once it is 10 minutes old
# without a heartbeat: a resubmission within 10 minutes of a node failure skips
# that node's run; submit once more later).
#
# The array must be a contiguous range (0-15, or 1-16); N = SLURM_ARRAY_TASK_COUNT.
# With a throttle (--array=0-63%8) all 64 shards still exist, 8 at a time.
# Environment: LQA_BIN (default ./lqabench, relative to the submit directory);
# OPENBLAS_CORETYPE (e.g. Haswell), exported before sbatch, fixes one OpenBLAS kernel
# on a cluster of mixed CPUs so that the files are byte-identical wherever they ran.
# See docs/scale.md for choosing the number of shards and CPUs per task.
# Preemption and time limits: Slurm sends SIGUSR1 120 s before the end
# (--signal=B:USR1@120, to this script, which passes it on to lqabench);
# lqabench finishes its step, writes the run's checkpoint and exits 138, and the
# task requeues itself (scontrol requeue), resuming from the checkpoint.
#
#SBATCH --job-name=lqabench
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=24:00:00
#SBATCH --output=slurm-%A_%a.out
#SBATCH --signal=B:USR1@120
set -uo pipefail

usage() { sed -n '3,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
case $1 in -h|--help) usage ;; esac
config=$1
shift
out=()
if [ $# -ge 1 ] && [ "${1#-}" = "$1" ]; then out=(--output-dir "$1"); shift; fi

cd "${SLURM_SUBMIT_DIR:-.}" || exit 2
bin=${LQA_BIN:-./lqabench}
id=${SLURM_ARRAY_TASK_ID:-}
count=${SLURM_ARRAY_TASK_COUNT:-}
if [ -z "$id" ] || [ -z "$count" ]; then
    echo "slurm_sweep.sh: not a Slurm array task (submit with sbatch --array=0-N-1)" >&2
    exit 2
fi
shard=$((id - ${SLURM_ARRAY_TASK_MIN:-0}))
if [ "$shard" -lt 0 ] || [ "$shard" -ge "$count" ]; then
    echo "slurm_sweep.sh: task $id is not in 0..$((count - 1)) past the array's first index:" \
         "use a contiguous --array range" >&2
    exit 2
fi
threads=${SLURM_CPUS_PER_TASK:-1}
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads

cmd=("$bin" --config "$config" "${out[@]}" --shard "$shard/$count" --threads "$threads" "$@")
echo "slurm_sweep.sh: task $id (job ${SLURM_ARRAY_JOB_ID:-?}) on $(hostname): ${cmd[*]}" >&2
# lqabench in the background, so that the shell can pass SIGUSR1 on at once
"${cmd[@]}" &
pid=$!
trap 'kill -USR1 "$pid" 2> /dev/null' USR1
wait "$pid"
rc=$?
while kill -0 "$pid" 2> /dev/null; do wait "$pid"; rc=$?; done # wait returns early on a trap
trap - USR1
if [ "$rc" = 138 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    echo "slurm_sweep.sh: stopped by SIGUSR1 (checkpoint written): requeueing job $SLURM_JOB_ID" >&2
    "$bin" --config "$config" "${out[@]}" --summarize --quiet
    scontrol requeue "$SLURM_JOB_ID"
    exit 138
fi
"$bin" --config "$config" "${out[@]}" --summarize --quiet || rc=1
exit $rc
