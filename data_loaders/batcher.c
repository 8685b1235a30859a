/* batcher.c — fixed-size mini-batches over an in-memory Dataset.
 *
 * Epoch e's order is a Fisher–Yates shuffle of 0..n-1 driven by a generator
 * seeded from (seed, e) alone, on the shuffle stream: it does not depend on
 * earlier epochs, on the optimizer, or on how far a previous epoch got, so a
 * run is deterministic and can resume at any epoch. With shuffle = false the
 * order is the file order. drop_last drops the final partial batch. */
#include "dataset.h"

#include "common.h"
#include "rng.h"

#include <string.h>

/* Odd constant (2^64 / golden ratio) spreading epochs over the seed space. */
#define EPOCH_MIX 0x9E3779B97F4A7C15ULL

int batcher_init(Batcher *b, const Dataset *ds, int batch, bool shuffle, bool drop_last,
                 uint64_t seed, char *err)
{
    memset(b, 0, sizeof *b);
    if (!ds || ds->n <= 0) return lqa_errf(err, "batcher: empty data set");
    if (batch <= 0) return lqa_errf(err, "batcher: batch size %d must be positive", batch);
    if (drop_last && batch > ds->n)
        return lqa_errf(err,
                        "batcher: batch size %d exceeds the %d samples of the data set, so "
                        "drop_last leaves no batch per epoch",
                        batch, ds->n);
    size_t d = (size_t)ds->c * ds->h * ds->w;
    b->ds = ds;
    b->batch = batch;
    b->shuffle = shuffle;
    b->drop_last = drop_last;
    b->seed = seed;
    b->perm = lqa_alloc((size_t)ds->n * sizeof(int), err);
    b->x = lqa_alloc((size_t)batch * d * sizeof(float), err);
    b->y = lqa_alloc((size_t)batch * sizeof(int), err);
    if (!b->perm || !b->x || !b->y) {
        batcher_free(b);
        return lqa_errf(err, "batch_size %d: out of memory for a batch of %zu-value samples", batch, d);
    }
    batcher_start_epoch(b, 0);
    return 0;
}

long batcher_steps_per_epoch(const Batcher *b)
{
    long n = b->ds->n;
    return b->drop_last ? n / b->batch : (n + b->batch - 1) / b->batch;
}

void batcher_start_epoch(Batcher *b, int epoch)
{
    LQA_CHECK(b->perm != NULL && epoch >= 0);
    int n = b->ds->n;
    for (int i = 0; i < n; i++) b->perm[i] = i;
    if (b->shuffle) {
        Rng r;
        rng_seed(&r, b->seed ^ ((uint64_t)epoch * EPOCH_MIX), RNG_STREAM_SHUFFLE);
        for (int i = n - 1; i > 0; i--) {
            int j = (int)rng_below(&r, (uint64_t)i + 1);
            int t = b->perm[i];
            b->perm[i] = b->perm[j];
            b->perm[j] = t;
        }
    }
    b->epoch = epoch;
    b->pos = 0;
}

int batcher_next(Batcher *b, const int **idx)
{
    LQA_CHECK(b->perm != NULL);
    int n = b->ds->n;
    int size = LQA_MIN(b->batch, n - b->pos);
    if (size <= 0 || (b->drop_last && size < b->batch)) {
        if (idx) *idx = NULL;
        return 0;
    }
    size_t d = (size_t)b->ds->c * b->ds->h * b->ds->w;
    const int *p = b->perm + b->pos;
    for (int i = 0; i < size; i++) {
        memcpy(b->x + (size_t)i * d, b->ds->x + (size_t)p[i] * d, d * sizeof(float));
        b->y[i] = b->ds->y[p[i]];
    }
    if (idx) *idx = p;
    b->pos += size;
    return size;
}

void batcher_free(Batcher *b)
{
    if (!b) return;
    lqa_free(b->perm);
    lqa_free(b->x);
    lqa_free(b->y);
    memset(b, 0, sizeof *b);
}
