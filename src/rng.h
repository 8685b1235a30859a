/* rng.h — seeded xoshiro256** generator (splitmix64 seeding).
 * Independent streams are derived from (seed, stream id) so that, for a given
 * seed, the initial weights and the batch order do not depend on the optimizer. */
#ifndef LQA_RNG_H
#define LQA_RNG_H

#include <stdint.h>

typedef struct Rng { uint64_t s[4]; } Rng;

enum { RNG_STREAM_INIT = 1, RNG_STREAM_SHUFFLE = 2, RNG_STREAM_DROPOUT = 3 }; /* (dropout: see nn/dropout.h) */

void rng_seed(Rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(Rng *r);
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
float rng_float(Rng *r);
/* Uniform in [lo, hi). */
float rng_uniform(Rng *r, float lo, float hi);
/* Unbiased integer in [0, n). n > 0. */
uint64_t rng_below(Rng *r, uint64_t n);

#endif
