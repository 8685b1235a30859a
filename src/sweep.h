/* sweep.h — run every optimizer × lr × seed of a config and write the outputs. */
#ifndef LQA_SWEEP_H
#define LQA_SWEEP_H

#include <stdbool.h>

#include "config.h"
#include "train.h"

typedef struct SweepOptions {
    int threads;          /* OpenBLAS threads */
    bool force;           /* redo complete runs */
    bool quiet;           /* no progress, no table */
    bool timing;          /* write the wall-clock `seconds` columns (false: empty, byte-identical files) */
    const char *run_id;   /* only this run (NULL: all) */
    int shard_i, shard_n; /* only runs with index % shard_n == shard_i (shard_n 0: all) */
} SweepOptions;

/* Run the sweep. Returns the process exit status (err filled unless 0):
 *   0  every selected run is complete (done or diverged)
 *   1  a run failed, or an I/O error
 *   2  a selected run is complete but was made with another config (nothing run;
 *      --force redoes it), or --run names no run
 *   3  some selected runs are not complete: held by another process */
int sweep_execute(const SweepConfig *cfg, const SweepOptions *opt, char *err);
/* Print the run ids, one per line, with their status. */
int sweep_list(const SweepConfig *cfg, const SweepOptions *opt);
/* Rebuild summary.csv from the complete (and failed) runs in output_dir.
 * Returns 0, 1 (I/O error) or 2 (runs made with another config were left out). */
int sweep_summarize(const SweepConfig *cfg, const SweepOptions *opt, bool print_table, char *err);

#endif
