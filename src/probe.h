/* probe.h — the probe closure that binds a model to the optimizer interface.
 *
 * An optimizer's ProbeFn (optim.h) returns the loss of the current mini-batch
 * at a trial vector. ProbeCtx holds that mini-batch (the caller points x, y and
 * B at it before each step) and counts forward passes in `fwd`: probe_loss adds
 * one per probe; the caller adds its own training forward, so `fwd` is the
 * per-step CSV's fwd column. Use as
 *     ProbeCtx pc = {.m = m};
 *     StepCtx ctx = {..., .probe = {probe_loss, &pc}, ...};
 * (src/train.c, train_step, does this; the sweep and tools/bench.c use it). */
#ifndef LQA_PROBE_H
#define LQA_PROBE_H

#include "model.h"

typedef struct ProbeCtx {
    Model *m;
    const float *x; /* current mini-batch: B samples */
    const int *y;   /* and their labels */
    int B;
    const float *vx; /* the held-out validation batch of this step (vB samples; */
    const int *vy;   /* train_step sets it for an optimizer that uses_validation) */
    int vB;
    long fwd;       /* forward passes so far (probes, plus the caller's own) */
} ProbeCtx;

/* ProbeFn.loss for ctx = ProbeCtx *: one FWD_PROBE forward at theta; fwd++. */
double probe_loss(void *ctx, const float *theta);
/* StepCtx.val_probe's loss: the same on the validation batch vx, vy, vB. */
double probe_loss_val(void *ctx, const float *theta);

#endif
