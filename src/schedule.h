/* schedule.h — learning-rate schedules for the classic (per-coordinate) methods,
 * the decay baselines of the QLABGrad paper (see shared spec optimizers.md,
 * "Learning-rate schedules"). The engine sets StepCtx.lr = schedule_lr(...) before
 * each step of a classic optimizer.
 *
 * JSON form (the "schedule" key of an optimizer entry):
 *   {"type": "step",   "every": T, "gamma": 0.5}   halve every T iterations
 *   {"type": "exp",    "every": T, "gamma": 0.5}   multiply by gamma every T iterations
 *   {"type": "cosine", "period": T, "min": 0}      cosine from lr down to min over T
 * "step" and "exp" are the same formula, lr0 * gamma^floor(step/every), and have the
 * same default gamma = 0.5; they differ only in intent (QLABGrad lists "halve every T"
 * and "exponential decay, gamma = 1/2 every T" as two baselines), and are kept apart
 * so a config and its metadata say which baseline it reproduces. */
#ifndef LQA_SCHEDULE_H
#define LQA_SCHEDULE_H

#include <stddef.h>

typedef struct cJSON cJSON;

typedef enum { SCHED_NONE, SCHED_STEP, SCHED_EXP, SCHED_COSINE } SchedType;

typedef struct Schedule {
    SchedType type;
    long every;   /* step/exp: interval in iterations (> 0) */
    double gamma; /* step/exp: factor per interval (> 0, default 0.5) */
    double min;   /* cosine: final lr (>= 0, default 0) */
    long period;  /* cosine: iterations from lr0 down to min (> 0) */
} Schedule;

/* The base rate in force at 0-based global step `step`:
 *   none:     lr0
 *   step/exp: lr0 * gamma^floor(step/every)
 *   cosine:   min + (lr0 - min) * (1 + cos(pi * min(step, period)/period)) / 2
 *             (stays at min after `period` steps). */
double schedule_lr(const Schedule *s, double lr0, long step);

/* Parse a schedule object. keypath (e.g. "optimizers[2].schedule") starts every
 * error message, e.g. "optimizers[2].schedule.every: must be a positive integer".
 * Rejects a non-object, unknown or duplicate keys, keys the chosen type does not use,
 * wrong types, missing required keys (type; every for step/exp; period for cosine),
 * every/period <= 0, gamma <= 0, min < 0. Returns 0, or -1 with err (LQA_ERR_LEN). */
int schedule_parse(Schedule *s, const cJSON *obj, const char *keypath, char *err);

/* One-line description for the metadata, e.g. "step(every=100, gamma=0.5)";
 * "none" for SCHED_NONE. Writes into buf (n bytes) and returns buf. */
const char *schedule_describe(const Schedule *s, char *buf, size_t n);

#endif
