/* kernel_dispatch.c — which instruction set the hot kernels run on.
 *
 * The convolution, pooling and batch-norm kernels (the sources listed as
 * KERNEL_SRC in the Makefile: conv.c, conv_direct.c, conv_winograd.c,
 * conv_winograd2.c, conv_winograd4.c, bn_pool.c) are compiled three times by
 * the default build, for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 + FMA) and
 * x86-64-v2 (SSE4.2), with their global symbols renamed <name>_v4, _v3, _v2. The functions below are the
 * public names of conv.h: each calls the copy chosen once, before main, from
 * the CPU (cpuid), or from $LQA_KERNEL (avx512, avx2, baseline) for tests and
 * comparisons; asking for an instruction set the CPU lacks is an error.
 * The rest of the program is compiled for x86-64-v2, so the binary runs on any
 * x86-64-v2 CPU. `make NATIVE=1` compiles everything once with -march=native
 * instead: then this file only names the path ("native").
 *
 * The three copies round differently (the kernels contract a·b + c into fused
 * multiply-adds where the instruction set has them), so results are identical
 * for the same kernel path, OpenBLAS kernel and thread count; `--version` and
 * each run's metadata name the path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "kernel_dispatch.h"

#ifdef LQA_NATIVE

const char *kernel_path(void) { return "native"; }

#else

#if !defined(__x86_64__)
#error "the dispatched kernel build is for x86-64; build with NATIVE=1 elsewhere"
#endif

/* every public kernel function, with its parameters and the arguments to pass */
#define KERNEL_FUNCS(F, V)                                                                       \
    V(conv2d_setup, (Conv2d * c, int in_c, int in_h, int in_w, int out_c, int kh, int kw,       \
                     int stride, int pad),                                                       \
      (c, in_c, in_h, in_w, out_c, kh, kw, stride, pad))                                         \
    F(size_t, conv2d_n_weights, (const Conv2d *c), (c))                                         \
    F(int, conv2d_fan_in, (const Conv2d *c), (c))                                               \
    F(size_t, conv2d_ws_floats, (const Conv2d *c, int B, size_t cap_floats), (c, B, cap_floats)) \
    V(conv2d_forward, (const Conv2d *c, float *y, const float *x, const float *w,               \
                       const float *b, int B, float *ws, size_t ws_floats),                      \
      (c, y, x, w, b, B, ws, ws_floats))                                                         \
    V(conv2d_backward, (const Conv2d *c, float *dx, bool dx_accumulate, float *dw, float *db,   \
                        const float *dy, const float *x, const float *w, int B, float *ws,      \
                        size_t ws_floats),                                                       \
      (c, dx, dx_accumulate, dw, db, dy, x, w, B, ws, ws_floats))                               \
    V(maxpool2_forward, (float *y, uint8_t *idx, const float *x, int planes, int H, int W),     \
      (y, idx, x, planes, H, W))                                                                 \
    V(maxpool2_backward,                                                                         \
      (float *dx, const float *dy, const uint8_t *idx, int planes, int H, int W),               \
      (dx, dy, idx, planes, H, W))                                                               \
    V(avgpool2_forward, (float *y, const float *x, int planes, int H, int W),                   \
      (y, x, planes, H, W))                                                                      \
    V(avgpool2_backward, (float *dx, const float *dy, int planes, int H, int W),                \
      (dx, dy, planes, H, W))                                                                    \
    V(bn2d_batch_stats,                                                                          \
      (float *mean, float *var, float *invstd, const float *x, int C, int B, int HW),           \
      (mean, var, invstd, x, C, B, HW))                                                          \
    V(bn2d_update_running, (float *run_mean, float *run_var, const float *mean,                 \
                            const float *var, int C, size_t N),                                 \
      (run_mean, run_var, mean, var, C, N))                                                      \
    V(bn2d_eval_invstd, (float *invstd, const float *run_var, int C), (invstd, run_var, C))      \
    V(bn2d_apply, (float *y, const float *x, const float *mean, const float *invstd,            \
                   const float *gamma, const float *beta, const float *res, bool relu, int C,   \
                   int B, int HW),                                                               \
      (y, x, mean, invstd, gamma, beta, res, relu, C, B, HW))                                   \
    V(bn2d_backward, (float *dx, float *dgamma, float *dbeta, const float *dy,                  \
                      const float *relu_y, const float *x, const float *mean,                   \
                      const float *invstd, const float *gamma, int C, int B, int HW),           \
      (dx, dgamma, dbeta, dy, relu_y, x, mean, invstd, gamma, C, B, HW))                        \
    V(residual_add_forward, (float *y, const float *a, const float *b, bool relu, size_t n),    \
      (y, a, b, relu, n))                                                                        \
    V(residual_add_backward, (float *da, bool accumulate, const float *dy, size_t n),           \
      (da, accumulate, dy, n))                                                                   \
    V(gap_forward, (float *y, const float *x, int C, int B, int HW), (y, x, C, B, HW))          \
    V(gap_backward, (float *dx, const float *dy, int C, int B, int HW), (dx, dy, C, B, HW))     \
    V(nchw_to_cnhw, (float *dst, const float *src, int B, int C, int HW), (dst, src, B, C, HW)) \
    V(cnhw_to_nchw, (float *dst, const float *src, int C, int B, int HW), (dst, src, C, B, HW)) \
    V(act_relu_forward, (float *y, const float *x, size_t n), (y, x, n))

/* the three renamed copies */
#define DECLARE(ret, name, params, args) \
    ret name##_v4 params;                \
    ret name##_v3 params;                \
    ret name##_v2 params;
#define DECLARE_V(name, params, args) DECLARE(void, name, params, args)
KERNEL_FUNCS(DECLARE, DECLARE_V)

typedef struct KernelTable {
#define MEMBER(ret, name, params, args) ret(*name) params;
#define MEMBER_V(name, params, args) MEMBER(void, name, params, args)
    KERNEL_FUNCS(MEMBER, MEMBER_V)
} KernelTable;

#define TABLE(lvl) \
    {KERNEL_FUNCS(ENTRY_##lvl, ENTRY_V_##lvl)}
#define ENTRY_v4(ret, name, params, args) .name = name##_v4,
#define ENTRY_V_v4(name, params, args) .name = name##_v4,
#define ENTRY_v3(ret, name, params, args) .name = name##_v3,
#define ENTRY_V_v3(name, params, args) .name = name##_v3,
#define ENTRY_v2(ret, name, params, args) .name = name##_v2,
#define ENTRY_V_v2(name, params, args) .name = name##_v2,

static const KernelTable tables[3] = {TABLE(v4), TABLE(v3), TABLE(v2)};
static const char *const path_names[3] = {"avx512", "avx2", "baseline"};
static int chosen = 2; /* baseline until kernel_choose ran */

/* the best path this CPU runs: 0 avx512, 1 avx2, 2 baseline */
static int cpu_level(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi2"))
        return 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2"))
        return 1;
    return 2;
}

__attribute__((constructor)) static void kernel_choose(void)
{
    const int best = cpu_level();
    const char *want = getenv("LQA_KERNEL");
    chosen = best;
    if (!want || !*want) return;
    int w = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(want, path_names[i]) == 0) w = i;
    if (w < 0) {
        fprintf(stderr, "lqabench: LQA_KERNEL=%s: unknown kernel path (avx512, avx2, baseline)\n",
                want);
        exit(2);
    }
    if (w < best) {
        fprintf(stderr, "lqabench: LQA_KERNEL=%s: this CPU runs at most the %s path\n", want,
                path_names[best]);
        exit(2);
    }
    chosen = w;
}

const char *kernel_path(void) { return path_names[chosen]; }

#define WRAP(ret, name, params, args) \
    ret name params { return tables[chosen].name args; }
#define WRAP_V(name, params, args) \
    void name params { tables[chosen].name args; }
KERNEL_FUNCS(WRAP, WRAP_V)

#endif
