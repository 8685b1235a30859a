/* dropout.h — inverted dropout (PyTorch's nn.Dropout semantics) with masks
 * that are a function of (seed, step, layer) alone.
 *
 * In training (FWD_TRAIN) and in probes (FWD_PROBE) each unit of a sample is
 * kept with probability 1 − p and then scaled by 1/(1 − p), dropped (set to 0)
 * otherwise; evaluation (FWD_EVAL) is the identity. The mask of a training step
 * is drawn from the seed's dropout stream for (step, layer): row b (the batch's
 * b-th sample), unit j is the (b·units + j)-th draw, dropped when the draw
 * u ∈ [0, 1) (24 bits) is < p. So
 *   - every forward of one step (the training forward and all the probes of
 *     LQA, QLABGrad or newton-lr) sees the same mask: f(θ) is one function;
 *   - the mask does not depend on the thread count, the batch capacity, the
 *     optimizer or the run's history: a resumed run draws the same masks, and
 *     a checkpoint stores nothing for them;
 *   - a batch of B samples uses the mask's first B rows (a smaller probe batch,
 *     e.g. newton-lr's validation batch, its first rows). */
#ifndef LQA_DROPOUT_H
#define LQA_DROPOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"

typedef struct Dropout {
    double p;         /* drop probability in [0, 1); 0: the layer is off */
    int layer;        /* which dropout layer of the model (its own stream) */
    int units;        /* features per sample */
    int max_batch;
    float *mask;      /* [max_batch][units]: 0 or 1/(1 − p); rows [0, rows) valid */
    int rows;
    uint64_t seed;    /* the (seed, step) the valid rows belong to */
    long step;
    Rng rng;          /* the stream, after the valid rows */
} Dropout;

/* p == 0 allocates nothing. Returns -1 with err on failure. */
int dropout_init(Dropout *d, double p, int layer, int units, int max_batch, char *err);
void dropout_free(Dropout *d);
static inline bool dropout_on(const Dropout *d) { return d->p > 0; }
/* The mask of (seed, step) with at least B valid rows (drawn on first use). */
const float *dropout_mask(Dropout *d, uint64_t seed, long step, int B);
/* y[i] = x[i] · mask[i] for i < n (in place allowed): the forward, and the
 * backward dx = dy · mask. */
void dropout_apply(float *y, const float *x, const float *mask, size_t n);

#endif
