#include "blas.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common.h"
#include "parallel.h"
#include "simd.h"

static void sgemm1(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                ldc);
}

/* Small GEMMs (2·M·N·K below BLAS_SMALL_FLOPS) do not use OpenBLAS's threads:
 * for LeNet-5's fully connected layers (≤ 6 MFLOP) waking a second OpenBLAS
 * thread gains less than it costs, and that thread then spins against this
 * library's own worker (parallel.h) on the same cores. Instead, from
 * BLAS_SPLIT_FLOPS up, C is cut into GEMM_PARTS fixed blocks of rows (or of
 * columns when M is small), each a single-threaded sgemm on the worker pool;
 * the blocks never depend on the thread count, so neither do the results.
 * Measured (2 threads, batch 64): LeNet-5 step 1.30–1.34 → 1.24–1.26 ms on
 * MNIST and 1.62 → 1.55–1.57 ms on CIFAR-10 with the GEMMs on one thread;
 * logreg 0.022 → 0.019–0.020 ms; the split, once the pool polled longer
 * (parallel.c), another 2–3 % on MNIST (1.09–1.11 → 1.07 ms). Below
 * BLAS_SPLIT_FLOPS (logreg's 1-MFLOP GEMMs) splitting cost more than it gained.
 * The MLP's 100-MFLOP GEMMs stay with OpenBLAS's threads. */
#define BLAS_SMALL_FLOPS 16e6
#define BLAS_SPLIT_FLOPS 2e6
#define GEMM_PARTS 2

typedef struct GemmArgs {
    bool ta, tb, rows; /* rows: split M, else N */
    int M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
} GemmArgs;

static void gemm_parts(void *p, size_t lo, size_t hi)
{
    const GemmArgs *g = p;
    const int D = g->rows ? g->M : g->N;
    for (size_t q = lo; q < hi; q++) {
        const int d0 = (int)((size_t)D * q / GEMM_PARTS), d1 = (int)((size_t)D * (q + 1) / GEMM_PARTS);
        if (d1 <= d0) continue;
        if (g->rows) /* rows d0..d1 of C and of op(A) */
            sgemm1(g->ta, g->tb, d1 - d0, g->N, g->K, g->alpha,
                   g->A + (g->ta ? (size_t)d0 : (size_t)d0 * g->lda), g->lda, g->B, g->ldb,
                   g->beta, g->C + (size_t)d0 * g->ldc, g->ldc);
        else /* columns d0..d1 of C and of op(B) */
            sgemm1(g->ta, g->tb, g->M, d1 - d0, g->K, g->alpha, g->A, g->lda,
                   g->B + (g->tb ? (size_t)d0 * g->ldb : (size_t)d0), g->ldb, g->beta,
                   g->C + d0, g->ldc);
    }
}

void blas_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta,
                float *C, int ldc)
{
    const int T = openblas_get_num_threads();
    const double flops = 2.0 * M * N * K;
    if (flops >= BLAS_SMALL_FLOPS) {
        if (T > 1) par_quiet(); /* the pool's pollers would take OpenBLAS's cores */
        sgemm1(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (T > 1) openblas_set_num_threads(1);
    if (flops < BLAS_SPLIT_FLOPS) {
        sgemm1(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } else { /* the same blocks on one thread (T = 1: in order, on the caller) */
        GemmArgs g = {trans_a, trans_b, M >= 16 * GEMM_PARTS, M, N, K, lda, ldb, ldc,
                      alpha, beta, A, B, C};
        par_run(T, GEMM_PARTS, gemm_parts, &g);
    }
    if (T > 1) openblas_set_num_threads(T);
}

/* Two OpenBLAS settings are read from the environment when the library loads,
 * so lqabench sets them and re-executes itself (once) before doing anything:
 *
 * OPENBLAS_CORETYPE. OpenBLAS 0.3.21 (Debian 12) does not know recent Xeons
 * (e.g. family 6 model 207) and falls back to its SSE3 "Prescott" kernels:
 * sgemm then runs ~5x slower. We ask for SkylakeX (AVX-512) or Haswell (AVX2).
 * LQA_KEEP_CORETYPE (set to anything) keeps OpenBLAS's own choice.
 *
 * OPENBLAS_THREAD_TIMEOUT. After each call OpenBLAS's worker threads spin
 * (sched_yield) for 2^28 cycles, about 0.1 s, before sleeping. Between GEMMs
 * this library runs its own loops on its own worker pool (parallel.h), which
 * then fights the spinning threads for the cores: on 2 idle cores a ResNet-18
 * step took 2.26–2.53 s instead of 1.86–2.06 s (A/B), and the parallel vector
 * passes gained nothing.
 * 2^BLAS_THREAD_TIMEOUT cycles (~30 µs) still bridges the short gaps inside a
 * GEMM sequence.
 *
 * A user's own setting of either variable is always respected. */
#define BLAS_THREAD_TIMEOUT "16"

void blas_fix_env(char **argv)
{
    const char *set_core = NULL, *set_timeout = NULL;
    /* LQA_KEEP_CORETYPE (any value) keeps OpenBLAS's own kernel choice */
    if (!getenv("OPENBLAS_CORETYPE") && !getenv("LQA_KEEP_CORETYPE")) {
        const char *core = openblas_get_corename();
        __builtin_cpu_init();
        const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                           : __builtin_cpu_supports("avx2") ? "Haswell"
                                                            : NULL;
        if (core && want && strcasecmp(core, "prescott") == 0) set_core = want;
    }
    if (!getenv("OPENBLAS_THREAD_TIMEOUT")) set_timeout = BLAS_THREAD_TIMEOUT;
    if (!set_core && !set_timeout) return;
    if (set_core) setenv("OPENBLAS_CORETYPE", set_core, 1);
    if (set_timeout) setenv("OPENBLAS_THREAD_TIMEOUT", set_timeout, 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the library as loaded, and say so */
    fprintf(stderr, "lqabench: warning: could not re-execute to set up OpenBLAS (%s)%s\n",
            strerror(errno), set_core ? "; its generic kernels will be slow" : "");
    if (set_core) unsetenv("OPENBLAS_CORETYPE");
    if (set_timeout) unsetenv("OPENBLAS_THREAD_TIMEOUT");
}

const char *blas_corename(void) { return openblas_get_corename(); }

void blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
int blas_get_threads(void) { return openblas_get_num_threads(); }
const char *blas_config(void) { return openblas_get_config(); }

/* ---- vector kernels ----------------------------------------------------------
 * Parameter-sized passes are memory-bound, so they run on the worker pool
 * (parallel.h). Reductions are cut into fixed blocks of VEC_BLOCK elements;
 * each block is reduced by the same code and the block results are combined in
 * block order on the calling thread, so a result never depends on the number
 * of threads. */

#define VEC_BLOCK ((size_t)8192)
#define VEC_STACK_BLOCKS 512 /* partial sums kept on the stack up to 4M elements */

/* 32 independent double accumulators (four AVX-512 registers, so the adds do
 * not wait on each other), combined pairwise in a fixed order. */
#define DOT_LANES 32

LQA_MULTIVERSION static double dot_block(const float *a, const float *b, size_t n)
{
    double s[DOT_LANES] = {0};
    size_t i = 0;
    for (; i + DOT_LANES <= n; i += DOT_LANES)
        for (int k = 0; k < DOT_LANES; k++) s[k] += (double)a[i + k] * b[i + k];
    for (int k = 0; i < n; i++, k++) s[k] += (double)a[i] * b[i];
    return lanes_sum(s, DOT_LANES);
}

/* NaN wins, otherwise the largest |x|: the same answer in any order. */
static float maxabs_merge(float m, float v) { return (v > m || v != v) && m == m ? v : m; }

LQA_MULTIVERSION static double maxabs_block(const float *a, size_t n)
{
    float m[DOT_LANES] = {0};
    int nan = 0;
    size_t i = 0;
    for (; i + DOT_LANES <= n; i += DOT_LANES)
        for (int k = 0; k < DOT_LANES; k++) {
            float v = fabsf(a[i + k]);
            m[k] = v > m[k] ? v : m[k];
            nan |= v != v;
        }
    float r = 0.0f;
    for (; i < n; i++) r = maxabs_merge(r, fabsf(a[i]));
    for (int k = 0; k < DOT_LANES; k++) r = maxabs_merge(r, m[k]);
    return nan ? NAN : r;
}

typedef struct {
    const float *a, *b;
    size_t n;
    double *part; /* one result per block */
    bool max;     /* maxabs of a instead of a·b */
} ReduceJob;

static void reduce_blocks(void *p, size_t lo, size_t hi)
{
    const ReduceJob *j = p;
    for (size_t k = lo; k < hi; k++) {
        size_t off = k * VEC_BLOCK, len = LQA_MIN(VEC_BLOCK, j->n - off);
        j->part[k] = j->max ? maxabs_block(j->a + off, len) : dot_block(j->a + off, j->b + off, len);
    }
}

static double reduce(const float *a, const float *b, size_t n, bool max)
{
    size_t nblk = (n + VEC_BLOCK - 1) / VEC_BLOCK;
    if (nblk <= 1) return max ? maxabs_block(a, n) : dot_block(a, b, n);
    double stack[VEC_STACK_BLOCKS], *part = nblk <= VEC_STACK_BLOCKS ? stack : malloc(nblk * sizeof *part);
    LQA_CHECK(part != NULL);
    ReduceJob j = {a, b, n, part, max};
    par_for(nblk, max ? n : 2 * n, reduce_blocks, &j);
    double r = part[0];
    for (size_t k = 1; k < nblk; k++) r = max ? maxabs_merge((float)r, (float)part[k]) : r + part[k];
    if (part != stack) free(part);
    return r;
}

double vec_dot(const float *a, const float *b, size_t n) { return reduce(a, b, n, false); }
double vec_sqnorm(const float *a, size_t n) { return reduce(a, a, n, false); }
double vec_maxabs(const float *a, size_t n) { return reduce(a, NULL, n, true); }

typedef struct {
    float *out;
    const float *a, *b;
    float c;
} AxpyJob;

LQA_MULTIVERSION static void axpy_range(void *p, size_t lo, size_t hi)
{
    const AxpyJob *j = p;
    float *out = j->out;
    const float *a = j->a, *b = j->b;
    const float c = j->c;
    for (size_t i = lo; i < hi; i++) out[i] = a[i] + c * b[i];
}

void vec_axpy_to(float *out, const float *a, float c, const float *b, size_t n)
{
    AxpyJob j = {out, a, b, c};
    par_for(n, 2 * n, axpy_range, &j);
}

typedef struct {
    float *theta, *copy;
    const float *d;
    float c;
} AxpyCopyJob;

LQA_MULTIVERSION static void axpy_copy_range(void *p, size_t lo, size_t hi)
{
    const AxpyCopyJob *j = p;
    float *theta = j->theta, *copy = j->copy;
    const float *d = j->d;
    const float c = j->c;
    for (size_t i = lo; i < hi; i++) {
        float v = d[i];
        theta[i] = theta[i] + c * v;
        copy[i] = v;
    }
}

void vec_axpy_copy(float *theta, float c, const float *d, float *copy, size_t n)
{
    AxpyCopyJob j = {theta, copy, d, c};
    par_for(n, 3 * n, axpy_copy_range, &j);
}

LQA_MULTIVERSION bool vec_all_finite(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return false;
    return true;
}
