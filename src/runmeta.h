/* runmeta.h — a run's files in output_dir and its metadata <run>.json.
 * A run is complete when its .json parses, says done or diverged, was made
 * with the same result-relevant config (config_hash) and its files have the
 * sizes it records. */
#ifndef LQA_RUNMETA_H
#define LQA_RUNMETA_H

#include <stddef.h>

#include <stdbool.h>

#include "config.h"
#include "train.h"

typedef struct cJSON cJSON;

typedef enum {
    RUN_MISSING,  /* no .json */
    RUN_COMPLETE, /* done or diverged, same config, files as recorded */
    RUN_FAILED,   /* status failed: run again */
    RUN_DAMAGED,  /* unreadable .json, or files missing or of other sizes: run again */
    RUN_STALE,    /* complete, but made with another config */
} RunState;

/* <output_dir>/<id><suffix> into buf (n >= RUNLOCK_PATH_BUF). */
void run_path(char *buf, size_t n, const SweepConfig *c, const char *id, const char *suffix);
/* The identity a checkpoint of run r must carry to be used: the code version
 * (release and git revision) and the hash of the run's result-relevant config. */
void run_ckpt_ident(const SweepConfig *c, const RunSpec *r, char *buf, size_t n);
/* Write run r's <run>.json: its result res, resolved config and hash, the
 * files it wrote (unless failed) and the environment (threads; with timing:
 * the seconds and the start time `started`). */
int run_write_meta(const SweepConfig *c, const RunSpec *r, int threads, bool timing,
                   const RunResult *res, const char *started, char *err);
/* The state of run r in output_dir; *meta receives the parsed .json (when
 * meta is not NULL and the .json parses; the caller deletes it) and why a
 * sentence for the states other than MISSING and COMPLETE. */
RunState run_state(const SweepConfig *c, const RunSpec *r, cJSON **meta, char *why, size_t n);

#endif
