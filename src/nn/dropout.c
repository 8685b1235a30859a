/* dropout.c — inverted dropout with (seed, step, layer) masks (see dropout.h). */
#include "dropout.h"

#include "common.h"

int dropout_init(Dropout *d, double p, int layer, int units, int max_batch, char *err)
{
    *d = (Dropout){.p = p, .layer = layer, .units = units, .max_batch = max_batch, .rows = 0};
    LQA_CHECK(p >= 0 && p < 1 && layer >= 0 && layer < 16 && units > 0 && max_batch > 0);
    if (p == 0) return 0;
    d->mask = lqa_alloc((size_t)max_batch * (size_t)units * sizeof(float), err);
    return d->mask ? 0 : -1;
}

void dropout_free(Dropout *d)
{
    lqa_free(d->mask);
    d->mask = NULL;
    d->rows = 0;
}

const float *dropout_mask(Dropout *d, uint64_t seed, long step, int B)
{
    LQA_CHECK(d->mask && B > 0 && B <= d->max_batch && step >= 0);
    if (d->rows == 0 || d->seed != seed || d->step != step) {
        /* stream id: RNG_STREAM_DROPOUT in the low byte, the layer, then the step */
        uint64_t stream = RNG_STREAM_DROPOUT | ((uint64_t)d->layer << 8) | ((uint64_t)step << 12);
        rng_seed(&d->rng, seed, stream);
        d->seed = seed;
        d->step = step;
        d->rows = 0;
    }
    const float p = (float)d->p, keep = (float)(1.0 / (1.0 - d->p));
    for (; d->rows < B; d->rows++) {
        float *row = d->mask + (size_t)d->rows * (size_t)d->units;
        for (int j = 0; j < d->units; j++) row[j] = rng_float(&d->rng) < p ? 0.0f : keep;
    }
    return d->mask;
}

void dropout_apply(float *y, const float *x, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
}
