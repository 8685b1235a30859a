/* simd.h — the vector helpers shared by the kernels (src/nn/) and the
 * reductions of blas.c, all static inline: the 16-float vector type of GCC's
 * vector extensions with its loads, stores, splat and two-source shuffle, and
 * the fixed-order sums of lane accumulators. The kernel sources are compiled
 * once per instruction-set level (Makefile KERNEL_SRC); every helper here
 * spells out its order of operations, so each level computes the same bits. */
#ifndef LQA_SIMD_H
#define LQA_SIMD_H

#include <string.h>

/* ---- fixed-order sums of lane accumulators -------------------------------- */

/* s[0..n) (n a power of two) summed pairwise, neighbours first:
 * ((s0 + s1) + (s2 + s3)) + …; destroys s */
static inline double lanes_sum(double *s, int n)
{
    for (; n > 1; n /= 2)
        for (int k = 0; k < n / 2; k++) s[k] = s[2 * k] + s[2 * k + 1];
    return s[0];
}

/* ---- 16-float vectors -------------------------------------------------------- */

typedef float v16 __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64))); /* shuffle masks, compare results */
#if defined(__GNUC__)
/* 64-byte vectors pass only between static functions of one file: no ABI to
 * keep stable when compiled without AVX-512 (e.g. the sanitizer build) */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* 16 floats from p (any alignment) */
static inline v16 v16_load(const float *p)
{
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* the first n (≤ 16) lanes of v to p */
static inline void v16_store(float *p, v16 v, int n)
{
    if (n == 16) memcpy(p, &v, sizeof v);
    else memcpy(p, &v, sizeof(float) * (size_t)n);
}

static inline v16 v16_splat(float x)
{
    v16 v = {x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
    return v;
}

/* the 16 lanes summed in a fixed order: halves folded onto each other,
 * a[i] += a[i + w] for w = 8, 4, 2, 1 */
static inline float v16_sum(v16 v)
{
    float a[16];
    memcpy(a, &v, sizeof a);
    for (int w = 8; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) a[i] += a[i + w];
    return a[0];
}

/* FMA contraction for the kernels between LQA_FP_CONTRACT_BEGIN and _END (the
 * ISO C mode of the build turns it off): a fixed, deterministic choice per
 * build and instruction set. GCC also keeps its loop-distribution patterns
 * (memset/memcpy calls) out of the kernel loops; clang's pragma lasts to the
 * end of the file. */
#if defined(__GNUC__) && !defined(__clang__)
#define LQA_FP_CONTRACT_BEGIN                                                     \
    _Pragma("GCC push_options")                                                   \
    _Pragma("GCC optimize(\"fp-contract=fast\", \"no-tree-loop-distribute-patterns\")")
#define LQA_FP_CONTRACT_END _Pragma("GCC pop_options")
#elif defined(__clang__)
#define LQA_FP_CONTRACT_BEGIN _Pragma("clang fp contract(fast)")
#define LQA_FP_CONTRACT_END
#else
#define LQA_FP_CONTRACT_BEGIN
#define LQA_FP_CONTRACT_END
#endif

/* the loop that follows has no dependence between iterations (GCC; clang
 * relies on the restrict pointers the loops use) */
#if defined(__clang__)
#define LQA_IVDEP
#else
#define LQA_IVDEP _Pragma("GCC ivdep")
#endif

/* lanes m[i] of the 32-lane concatenation a:b (GCC's __builtin_shuffle; clang
 * has only the constant-index __builtin_shufflevector, so it gets AVX-512's
 * two-source permute or, without AVX-512, a lane loop) */
#if !defined(__clang__)
#define v16_shuffle2(a, b, m) __builtin_shuffle(a, b, m)
#elif defined(__AVX512F__)
#include <immintrin.h>
static inline v16 v16_shuffle2(v16 a, v16 b, v16i m)
{
    return (v16)_mm512_permutex2var_ps((__m512)a, (__m512i)m, (__m512)b);
}
#else
static inline v16 v16_shuffle2(v16 a, v16 b, v16i m)
{
    v16 r;
    for (int i = 0; i < 16; i++) r[i] = (m[i] & 16) ? b[m[i] & 15] : a[m[i] & 15];
    return r;
}
#endif

#endif
