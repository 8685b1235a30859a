/* conv_internal.h — private to the convolution sources, never included by
 * users (they include conv.h): the kernel families that conv.c's path choice
 * calls (conv_direct.c, conv_winograd*.c); the vector helpers are simd.h's. */
#ifndef LQA_CONV_INTERNAL_H
#define LQA_CONV_INTERNAL_H

#include "conv.h"
#include "parallel.h"
#include "simd.h"

static inline bool conv_is_pointwise(const Conv2d *c)
{
    return c->kh == 1 && c->kw == 1 && c->stride == 1 && c->pad == 0;
}

/* ---- gate tape (gate_tape.c; conv.h's test seam) ------------------------- */
/* The kernels that make non-smooth choices (act_relu_forward, residual_add_forward
 * and bn2d_apply with relu, maxpool2_forward) ask gate_tape_active() once per
 * call and, while a tape is installed, leave those choices to the two
 * functions below: sequential, scalar, for tests only. */
bool gate_tape_active(void);
/* in place: y = gate ? y : 0, gate = (y > 0) recorded, or replayed */
void gate_tape_relu(float *y, size_t n);
/* maxpool2_forward with each window's choice recorded or replayed */
void gate_tape_maxpool(float *y, uint8_t *idx, const float *x, int planes, int H, int W);

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

/* ---- Winograd (conv_winograd.c: drivers; conv_winograd2.c: F(2×2, 3×3);
 * conv_winograd4.c: F(4×4, 3×3), for layers with Conv2d.wino4 set) ------- */

#define WINO_MAXW 512 /* widest plane handled (row buffers on the stack) */
/* The npos matrices of U, V and M are WINO_GAP floats further apart than their
 * size: K·C, C·T and K·T are often powers of two, and 16 streams at such
 * strides map to the same cache sets (measured: the transforms ran 3× slower).
 * The 16-wide output kernels may read (never store) up to 8 floats past a
 * matrix: WINO_GAP must stay ≥ 16. */
#define WINO_GAP 48

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
extern const WinoKernels wino_f2_kernels, wino_f4_kernels;

#endif
