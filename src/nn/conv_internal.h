/* conv_internal.h — private to the convolution sources, never included by
 * users (they include conv.h): the 16-float vector type of the vector kernels
 * (conv_direct.c, the max pooling of bn_pool.c) and the kernel families that
 * conv.c's path choice calls (conv_direct.c, conv_winograd.c). */
#ifndef LQA_CONV_INTERNAL_H
#define LQA_CONV_INTERNAL_H

#include "conv.h"
#include "parallel.h"

typedef float v16 __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64))); /* shuffle masks, compare results */
#if defined(__GNUC__)
/* 64-byte vectors pass only between static functions of one file: no ABI to
 * keep stable when compiled without AVX-512 (e.g. the sanitizer build) */
#pragma GCC diagnostic ignored "-Wpsabi"
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

static inline bool conv_is_pointwise(const Conv2d *c)
{
    return c->kh == 1 && c->kw == 1 && c->stride == 1 && c->pad == 0;
}

/* ---- direct kernels (conv_direct.c); stride 1 only ----------------------- */

/* Few channels: out_c at most 8 (for dX: the transposed convolution's, i.e.
 * in_c). Each pass needs its *_ws floats of workspace (padded copies of the
 * whole batch's input rows, and of dY's for dW; the flipped weights for dX). */
bool conv_direct_ok(const Conv2d *c);
size_t conv_direct_fwd_ws(const Conv2d *c, int B);
void conv_direct_forward(const Conv2d *c, float *y, const float *x, const float *w,
                         const float *b, bool accumulate, int B, float *ws);
size_t conv_direct_dw_ws(const Conv2d *c, int B);
void conv_direct_dw(const Conv2d *c, float *dw, const float *dy, const float *x, int B,
                    float *ws);
/* dX as a direct transposed convolution */
bool conv_direct_dx_ok(const Conv2d *c);
size_t conv_direct_dx_ws(const Conv2d *c, int B);
void conv_direct_dx(const Conv2d *c, float *dx, bool accumulate, const float *dy,
                    const float *w, int B, float *ws);

/* vectorised over output channels (16, 32, 48, 64) on rows up to 16 wide;
 * workspace as above */
bool conv_kvec_ok(const Conv2d *c);
size_t conv_kvec_fwd_ws(const Conv2d *c, int B);
void conv_kvec_forward(const Conv2d *c, float *y, const float *x, const float *w,
                       const float *b, int B, float *ws);
size_t conv_kvec_dw_ws(const Conv2d *c, int B);
void conv_kvec_dw(const Conv2d *c, float *dw, const float *dy, const float *x, int B,
                  float *ws);

/* ---- Winograd (conv_winograd.c: drivers and F(2×2, 3×3); conv_winograd4.c:
 * F(4×4, 3×3), for layers with Conv2d.wino4 set) -------------------------- */

/* 3×3, stride 1, pad 1, ≥ 16 channels each side */
bool conv_winograd_ok(const Conv2d *c);
/* workspace: wino_u_floats fixed, plus wino_per_sample for each sample of a chunk */
size_t wino_u_floats(const Conv2d *c);
size_t wino_per_sample(const Conv2d *c);
/* all a layer's Winograd passes need (conv2d_ws_floats) */
size_t wino_ws_floats(const Conv2d *c, int B, size_t cap_floats);
void wino_conv(const Conv2d *c, float *y, const float *x, const float *w, const float *b,
               bool transpose, bool accumulate, int B, float *ws, size_t ws_floats);
void wino_dw(const Conv2d *c, float *dw, const float *dy, const float *x, int B,
             float *ws, size_t ws_floats);

/* Arguments of the transform kernels (par_for bodies) */
typedef struct WinoArgs {
    const Conv2d *c;
    const float *src; /* weights / input / dY / dU */
    float *dst;       /* U / V / output / dM / dW */
    const float *bias;
    bool accumulate;
    bool rot;           /* weights: transform w rotated by 180° (the input gradient) */
    int B, n0, m, R, S; /* R×S: matrix shape of U (rows × cols) */
    size_t T;           /* tiles in the chunk */
    size_t xs;          /* distance between the matrices of U / V / M */
} WinoArgs;

/* One Winograd variant F(m×m, 3×3): npos = (m + 2)² transformed positions.
 * The input gradient needs U of the weights rotated by 180°: with perm, it is
 * U at positions perm⊗perm, read transposed; without, `weights` computes it
 * (WinoArgs.rot). Items of the kernels: weights / dweights rows k, input
 * channels c, output and doutput channels k. */
typedef struct WinoKernels {
    int m, npos;
    const int *perm;
    ParFn weights, input, output, doutput, dweights;
} WinoKernels;
extern const WinoKernels wino_f4_kernels;

#endif
