/* conv.c — convolution, pooling, batch norm, residual add, global average
 * pooling, all in the channel-major layout x[C][B][H][W] (see conv.h for why).
 * Batch-norm semantics follow PyTorch's BatchNorm2d
 * (https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html).
 *
 * Convolution paths, chosen per layer geometry (conv2d_forward/backward):
 *   1×1 stride 1           one sgemm on the activations themselves;
 *   3×3 stride 1 pad 1, ≥ 16 channels each side (ResNet-18's bulk)
 *                          Winograd F(2×2, 3×3), all three passes;
 *   stride 1, ≤ 8 output channels (LeNet's first layer)
 *                          direct vector kernels;
 *   anything else          im2col + sgemm over chunks of samples bounded by
 *                          the workspace, col2im for the input gradient.
 * Measured on ResNet-18 at batch 32, one thread (CPU time per step): im2col +
 * sgemm 1.35 s, with Winograd 0.90 s (PyTorch 1.13/oneDNN: 0.96 s).
 *
 * Threads. The GEMMs run on OpenBLAS's threads; everything else (transforms,
 * im2col, batch-norm passes, pooling, element-wise work) would leave all but
 * one core idle. Those loops run on the worker pool of parallel.h (as many
 * threads as blas_get_threads(), or par_set_threads), each taking a fixed contiguous
 * share of independent items — channels, rows, planes, samples — so every
 * output element is computed by the same code in the same order whatever the
 * thread count: these loops give bit-identical results for 1 or N threads.
 * (OpenBLAS's sgemm does not promise that across its own thread counts.)
 *
 * Tried and dropped: the input gradient of stride-1 convolutions as a
 * transposed convolution through im2col of dY (one GEMM with K = out_c·kh·kw
 * instead of GEMM + col2im) — the same CPU time within noise (OpenBLAS then
 * packs the 9× larger operand), more code. */
#include "conv.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "common.h"
#include "parallel.h"

/* ---- gate tape (see conv.h) -------------------------------------------------- */

static GateTape *g_tape;

void gate_tape_set(GateTape *t)
{
    g_tape = t;
    if (t) {
        t->pos = 0;
        t->overflow = false;
        if (t->mode == GATE_RECORD) t->len = 0;
    }
}

/* the next choice: record `c`, or return the replayed one */
static int tape_choice(int c)
{
    GateTape *t = g_tape;
    if (t->mode == GATE_RECORD) {
        if (t->len < t->cap) t->bits[t->len++] = (uint8_t)c;
        else t->overflow = true;
        return c;
    }
    if (t->pos < t->len) return t->bits[t->pos++];
    t->overflow = true;
    return c;
}

/* in place: y = gate ? y : 0 with gate = (y > 0) recorded, or replayed (serial) */
static void tape_relu(float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = tape_choice(y[i] > 0.0f) ? y[i] : 0.0f;
}

/* ---- element-wise kernels ----------------------------------------------------- */

typedef struct EwArgs {
    float *y;
    const float *a, *b;
} EwArgs;

static void relu_range(void *p, size_t lo, size_t hi)
{
    EwArgs *e = p;
    for (size_t i = lo; i < hi; i++) e->y[i] = e->a[i] > 0.0f ? e->a[i] : 0.0f;
}

void act_relu_forward(float *y, const float *x, size_t n)
{
    if (g_tape) {
        if (y != x) memcpy(y, x, n * sizeof(float));
        tape_relu(y, n);
        return;
    }
    EwArgs e = {y, x, NULL};
    par_for(n, n, relu_range, &e);
}

static void add_range(void *p, size_t lo, size_t hi)
{
    EwArgs *e = p;
    for (size_t i = lo; i < hi; i++) e->y[i] = e->a[i] + e->b[i];
}

static void add_relu_range(void *p, size_t lo, size_t hi)
{
    EwArgs *e = p;
    for (size_t i = lo; i < hi; i++) {
        float v = e->a[i] + e->b[i];
        e->y[i] = v > 0.0f ? v : 0.0f;
    }
}

void residual_add_forward(float *y, const float *a, const float *b, bool relu, size_t n)
{
    EwArgs e = {y, a, b};
    if (relu && g_tape) {
        add_range(&e, 0, n);
        tape_relu(y, n);
    } else {
        par_for(n, n, relu ? add_relu_range : add_range, &e);
    }
}

static void acc_range(void *p, size_t lo, size_t hi)
{
    EwArgs *e = p;
    for (size_t i = lo; i < hi; i++) e->y[i] += e->a[i];
}

void residual_add_backward(float *da, bool accumulate, const float *dy, size_t n)
{
    if (accumulate) {
        EwArgs e = {da, dy, NULL};
        par_for(n, n, acc_range, &e);
    } else if (da != dy) {
        memcpy(da, dy, sizeof(float) * n);
    }
}

/* ---- 2-D convolution ---------------------------------------------------- */

void conv2d_setup(Conv2d *c, int in_c, int in_h, int in_w, int out_c, int kh, int kw,
                  int stride, int pad)
{
    LQA_CHECK(in_c > 0 && out_c > 0 && kh > 0 && kw > 0 && stride > 0 && pad >= 0);
    c->in_c = in_c;
    c->in_h = in_h;
    c->in_w = in_w;
    c->out_c = out_c;
    c->kh = kh;
    c->kw = kw;
    c->stride = stride;
    c->pad = pad;
    c->out_h = (in_h + 2 * pad - kh) / stride + 1;
    c->out_w = (in_w + 2 * pad - kw) / stride + 1;
    LQA_CHECK(in_h + 2 * pad >= kh && in_w + 2 * pad >= kw && c->out_h > 0 && c->out_w > 0);
}

size_t conv2d_n_weights(const Conv2d *c) { return (size_t)c->out_c * c->in_c * c->kh * c->kw; }

int conv2d_fan_in(const Conv2d *c) { return c->in_c * c->kh * c->kw; }

static bool conv_is_pointwise(const Conv2d *c)
{
    return c->kh == 1 && c->kw == 1 && c->stride == 1 && c->pad == 0;
}

/* ---- direct convolution for few channels ------------------------------------ */
/* im2col + GEMM is a poor fit when out_c is small (LeNet: 6 and 16): every
 * element of the 25–150-row im2col matrix is written, packed by OpenBLAS and
 * used for only out_c multiply-adds, so the step is memory-bound. These
 * kernels compute stride-1 convolutions directly from zero-padded copies of
 * input rows, with the outputs of up to DIRECT_KB channels × DIRECT_MAXV
 * 16-float vectors held in registers (GCC vector extensions: AVX-512 where
 * available, split into narrower vectors elsewhere). Each output element is
 * summed in a fixed order by one thread. */

#define DIRECT_MAX_C 8   /* out_c (forward, dW) or in_c (dX) at most this */
#define DIRECT_MAXV 4    /* output rows up to 64 wide */
#define DIRECT_KB 8      /* output channels per register block (forward) */
#define DIRECT_KBW 4     /* output channels per register block (dW) */
#define DIRECT_MAXK 7    /* kernels up to 7×7 */
#define ROWBUF (16 * DIRECT_MAXV + 2 * DIRECT_MAXK + 16)

typedef float v16 __attribute__((vector_size(64)));
#if defined(__GNUC__)
/* 64-byte vectors pass only between static functions of this file: no ABI to
 * keep stable when compiled without AVX-512 (e.g. the sanitizer build) */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* FMA contraction for the vector kernels below (ISO C mode turns it off):
 * a fixed, deterministic choice per build */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast", "no-tree-loop-distribute-patterns")
#endif


static inline v16 v16_load(const float *p)
{
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline v16 v16_splat(float x)
{
    v16 v = {x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
    return v;
}

static inline float v16_sum(v16 v)
{
    /* fixed pairwise order */
    float a[16];
    memcpy(a, &v, sizeof a);
    for (int w = 8; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) a[i] += a[i + w];
    return a[0];
}

/* Measured (1 thread, batch 64): LeNet's conv1 (out_c 6, 28-wide rows) runs
 * 3–4× faster here than through im2col + GEMM; conv2 (out_c 16; 10-wide rows)
 * and any case with fewer than 8 independent accumulators (channels × row
 * vectors: FMA latency is not hidden) is faster through GEMM. */
static bool conv_direct_ok(const Conv2d *c, int nch)
{
    const int nv = (c->out_w + 15) / 16;
    return c->stride == 1 && nch <= DIRECT_MAX_C && LQA_MIN(nch, DIRECT_KB) * nv >= 8 &&
           c->kh <= DIRECT_MAXK &&
           c->kw <= DIRECT_MAXK && c->out_w <= 16 * DIRECT_MAXV &&
           c->in_w + 2 * c->pad <= ROWBUF && 16 * ((c->out_w + 15) / 16) + c->kw <= ROWBUF &&
           !conv_is_pointwise(c);
}

/* buf[t] = row[t − pad] for t in [0, len), zero outside the row (row NULL: all
 * zero); len covers every vector load of the kernels */
static inline void padded_row(float *buf, const float *row, int W, int pad, int len)
{
    int t = 0;
    if (!row) {
        for (; t < len; t++) buf[t] = 0.0f;
        return;
    }
    for (; t < pad; t++) buf[t] = 0.0f;
    for (int q = 0; q < W; q++) buf[pad + q] = row[q];
    for (t = pad + W; t < len; t++) buf[t] = 0.0f;
}

typedef struct DirectArgs {
    const Conv2d *c;
    float *y;
    const float *x, *w, *b, *dy;
    bool accumulate;
    int B;
} DirectArgs;

/* y[k][n] (+)= b[k] + Σ w[k][c][i][j]·xpad[c][n][oh+i][ow+j], samples [lo, hi).
 * NV (16-float vectors per output row) is a constant in each instantiation, so
 * the accumulators stay in registers. */
static inline __attribute__((always_inline)) void direct_fwd_nv(const DirectArgs *a, size_t lo,
                                                                size_t hi, const int NV)
{
    const Conv2d *c = a->c;
    const int K = c->out_c, C = c->in_c, kh = c->kh, kw = c->kw, H = c->in_h, W = c->in_w;
    const int OH = c->out_h, OW = c->out_w, B = a->B;
    const int len = LQA_MAX(16 * NV + kw, W + 2 * c->pad);
    const size_t hw = (size_t)H * W, wk = (size_t)C * kh * kw;
    float row[ROWBUF], out[16 * DIRECT_MAXV] = {0};
    for (size_t n = lo; n < hi; n++)
        for (int k0 = 0; k0 < K; k0 += DIRECT_KB) {
            const int KB = LQA_MIN(DIRECT_KB, K - k0);
            for (int oh = 0; oh < OH; oh++) {
                v16 acc[DIRECT_KB][DIRECT_MAXV];
                for (int kb = 0; kb < DIRECT_KB; kb++)
                    for (int v = 0; v < NV; v++) acc[kb][v] = v16_splat(0.0f);
                for (int ci = 0; ci < C; ci++) {
                    const float *plane = a->x + ((size_t)ci * B + n) * hw;
                    for (int i = 0; i < kh; i++) {
                        const int ih = oh + i - c->pad;
                        if (ih < 0 || ih >= H) continue;
                        padded_row(row, plane + (size_t)ih * W, W, c->pad, len);
                        const float *wr = a->w + (((size_t)k0 * C + ci) * kh + i) * kw;
                        for (int j = 0; j < kw; j++) {
                            v16 xv[DIRECT_MAXV];
                            for (int v = 0; v < NV; v++) xv[v] = v16_load(row + 16 * v + j);
                            for (int kb = 0; kb < DIRECT_KB; kb++) {
                                if (kb >= KB) break;
                                const v16 wv = v16_splat(wr[kb * wk + j]);
                                for (int v = 0; v < NV; v++) acc[kb][v] += wv * xv[v];
                            }
                        }
                    }
                }
                for (int kb = 0; kb < KB; kb++) {
                    float *yr = a->y + (((size_t)(k0 + kb) * B + n) * OH + oh) * OW;
                    memcpy(out, acc[kb], sizeof(v16) * NV);
                    const float bias = a->b ? a->b[k0 + kb] : 0.0f;
                    if (a->accumulate)
                        for (int ow = 0; ow < OW; ow++) yr[ow] += out[ow] + bias;
                    else
                        for (int ow = 0; ow < OW; ow++) yr[ow] = out[ow] + bias;
                }
            }
        }
}

static void direct_fwd_samples(void *p, size_t lo, size_t hi)
{
    const DirectArgs *a = p;
    switch ((a->c->out_w + 15) / 16) {
    case 1: direct_fwd_nv(a, lo, hi, 1); break;
    case 2: direct_fwd_nv(a, lo, hi, 2); break;
    case 3: direct_fwd_nv(a, lo, hi, 3); break;
    default: direct_fwd_nv(a, lo, hi, 4); break;
    }
}

static void conv_direct_forward(const Conv2d *c, float *y, const float *x, const float *w,
                                const float *b, bool accumulate, int B)
{
    DirectArgs a = {.c = c, .y = y, .x = x, .w = w, .b = b, .accumulate = accumulate, .B = B};
    size_t work = conv2d_n_weights(c) * c->out_h * c->out_w * (size_t)B;
    par_for((size_t)B, work, direct_fwd_samples, &a);
}

/* dW[k][c][i][j] = Σ_{n,oh,ow} dy[k][n][oh][ow]·xpad[c][n][oh+i][ow+j]; items are
 * (channel block, c, i) triples */
static inline __attribute__((always_inline)) void direct_dw_nv(const DirectArgs *a, size_t lo,
                                                               size_t hi, const int NV)
{
    const Conv2d *c = a->c;
    const int K = c->out_c, C = c->in_c, kh = c->kh, kw = c->kw, H = c->in_h, W = c->in_w;
    const int OH = c->out_h, OW = c->out_w, B = a->B;
    const int len = LQA_MAX(16 * NV + kw, W + 2 * c->pad);
    const size_t hw = (size_t)H * W;
    float row[ROWBUF], dyb[DIRECT_KBW][16 * DIRECT_MAXV];
    for (size_t it = lo; it < hi; it++) {
        const int i = (int)(it % kh), ci = (int)(it / kh % C);
        const int k0 = (int)(it / kh / C) * DIRECT_KBW, KB = LQA_MIN(DIRECT_KBW, K - k0);
        v16 acc[DIRECT_KBW][DIRECT_MAXK];
        for (int kb = 0; kb < DIRECT_KBW; kb++)
            for (int j = 0; j < DIRECT_MAXK; j++) acc[kb][j] = v16_splat(0.0f);
        for (int kb = 0; kb < DIRECT_KBW; kb++)
            for (int t = 0; t < 16 * NV; t++) dyb[kb][t] = 0.0f;
        for (int n = 0; n < B; n++) {
            const float *plane = a->x + ((size_t)ci * B + n) * hw;
            for (int oh = 0; oh < OH; oh++) {
                const int ih = oh + i - c->pad;
                if (ih < 0 || ih >= H) continue;
                padded_row(row, plane + (size_t)ih * W, W, c->pad, len);
                for (int kb = 0; kb < KB; kb++) {
                    const float *g = a->dy + (((size_t)(k0 + kb) * B + n) * OH + oh) * OW;
                    for (int t = 0; t < OW; t++) dyb[kb][t] = g[t];
                }
                for (int v = 0; v < NV; v++) {
                    v16 g[DIRECT_KBW];
                    for (int kb = 0; kb < DIRECT_KBW; kb++) g[kb] = v16_load(dyb[kb] + 16 * v);
                    for (int j = 0; j < DIRECT_MAXK; j++) {
                        if (j >= kw) break;
                        const v16 xv = v16_load(row + 16 * v + j);
                        for (int kb = 0; kb < DIRECT_KBW; kb++) acc[kb][j] += g[kb] * xv;
                    }
                }
            }
        }
        for (int kb = 0; kb < KB; kb++)
            for (int j = 0; j < kw; j++)
                a->y[(((size_t)(k0 + kb) * C + ci) * kh + i) * kw + j] = v16_sum(acc[kb][j]);
    }
}

static void direct_dw_items(void *p, size_t lo, size_t hi)
{
    const DirectArgs *a = p;
    switch ((a->c->out_w + 15) / 16) {
    case 1: direct_dw_nv(a, lo, hi, 1); break;
    case 2: direct_dw_nv(a, lo, hi, 2); break;
    case 3: direct_dw_nv(a, lo, hi, 3); break;
    default: direct_dw_nv(a, lo, hi, 4); break;
    }
}


static void conv_direct_dw(const Conv2d *c, float *dw, const float *dy, const float *x, int B)
{
    DirectArgs a = {.c = c, .y = dw, .x = x, .dy = dy, .B = B};
    const int nkb = (c->out_c + DIRECT_KBW - 1) / DIRECT_KBW;
    size_t work = conv2d_n_weights(c) * c->out_h * c->out_w * (size_t)B;
    par_for((size_t)nkb * c->in_c * c->kh, work, direct_dw_items, &a);
}

/* dX as the stride-1 transposed convolution: a direct forward over dY with
 * W'[c][k][i][j] = W[k][c][kh−1−i][kw−1−j] and pad' = k − 1 − pad. */
static bool conv_direct_dx_ok(const Conv2d *c)
{
    if (c->stride != 1 || c->kh != c->kw || c->pad > c->kh - 1) return false;
    Conv2d t;
    conv2d_setup(&t, c->out_c, c->out_h, c->out_w, c->in_c, c->kh, c->kw, 1, c->kh - 1 - c->pad);
    return conv_direct_ok(&t, t.out_c);
}

static void conv_direct_dx(const Conv2d *c, float *dx, bool accumulate, const float *dy,
                           const float *w, float *wt, int B)
{
    Conv2d t;
    conv2d_setup(&t, c->out_c, c->out_h, c->out_w, c->in_c, c->kh, c->kw, 1, c->kh - 1 - c->pad);
    LQA_CHECK(t.out_h == c->in_h && t.out_w == c->in_w);
    const int K = c->out_c, C = c->in_c, kk = c->kh * c->kw;
    for (int ci = 0; ci < C; ci++)
        for (int k = 0; k < K; k++)
            for (int q = 0; q < kk; q++)
                wt[((size_t)ci * K + k) * kk + q] = w[((size_t)k * C + ci) * kk + (kk - 1 - q)];
    conv_direct_forward(&t, dx, dy, wt, NULL, accumulate, B);
}

/* ---- direct convolution vectorised over output channels ------------------------ */
/* For 16, 32, ... output channels on narrow rows (LeNet's conv2: 16 channels,
 * 10-wide rows) a vector holds 16 output channels of one output position:
 * acc[ow] += W[c][i][j][k0..k0+15] · x[c][oh+i][ow+j], 16 positions of a row
 * in registers, so no lane is wasted on row ends. Weights are first
 * transposed to [c][i][j][k] (in the workspace); the weight gradient reads dY
 * transposed to [n][oh][ow][k] the same way. */

#define KVEC_OW 16 /* output positions per register block */

static bool conv_kvec_ok(const Conv2d *c)
{
    return c->stride == 1 && c->out_c % 16 == 0 && c->out_c <= 64 && c->out_w <= KVEC_OW &&
           c->kh <= DIRECT_MAXK && c->kw <= DIRECT_MAXK &&
           c->in_w + 2 * c->pad <= ROWBUF && KVEC_OW + c->kw <= ROWBUF && !conv_is_pointwise(c);
}

typedef struct KvecArgs {
    const Conv2d *c;
    float *y;
    const float *x, *wt, *b, *dyt;
    int B;
} KvecArgs;

/* y[k][n][oh][:] = b[k] + Σ wt[c][i][j][k]·xpad[c][n][oh+i][ow+j]; items = samples */
static void kvec_fwd_samples(void *p, size_t lo, size_t hi)
{
    const KvecArgs *a = p;
    const Conv2d *c = a->c;
    const int K = c->out_c, C = c->in_c, kh = c->kh, kw = c->kw, H = c->in_h, W = c->in_w;
    const int OH = c->out_h, OW = c->out_w, B = a->B;
    const int len = LQA_MAX(KVEC_OW + kw, W + 2 * c->pad);
    const size_t hw = (size_t)H * W;
    float row[ROWBUF], tile[KVEC_OW][16];
    for (size_t n = lo; n < hi; n++)
        for (int k0 = 0; k0 < K; k0 += 16)
            for (int oh = 0; oh < OH; oh++) {
                v16 acc[KVEC_OW];
                const v16 bias = a->b ? v16_load(a->b + k0) : v16_splat(0.0f);
                for (int o = 0; o < KVEC_OW; o++) acc[o] = bias;
                for (int ci = 0; ci < C; ci++)
                    for (int i = 0; i < kh; i++) {
                        const int ih = oh + i - c->pad;
                        if (ih < 0 || ih >= H) continue;
                        padded_row(row, a->x + ((size_t)ci * B + n) * hw + (size_t)ih * W, W,
                                   c->pad, len);
                        const float *wr = a->wt + ((size_t)(ci * kh + i) * kw) * K + k0;
                        for (int j = 0; j < kw; j++) {
                            const v16 wv = v16_load(wr + (size_t)j * K);
                            for (int o = 0; o < KVEC_OW; o++) acc[o] += wv * v16_splat(row[o + j]);
                        }
                    }
                memcpy(tile, acc, sizeof tile);
                for (int kb = 0; kb < 16; kb++) {
                    float *yr = a->y + (((size_t)(k0 + kb) * B + n) * OH + oh) * OW;
                    for (int ow = 0; ow < OW; ow++) yr[ow] = tile[ow][kb];
                }
            }
}

/* dW[k][c][i][j] = Σ dyt[n][oh][ow][k]·xpad[c][n][oh+i][ow+j]; items = (c, i) */
static void kvec_dw_items(void *p, size_t lo, size_t hi)
{
    const KvecArgs *a = p;
    const Conv2d *c = a->c;
    const int K = c->out_c, C = c->in_c, kh = c->kh, kw = c->kw, H = c->in_h, W = c->in_w;
    const int OH = c->out_h, OW = c->out_w, B = a->B;
    const int len = LQA_MAX(OW + kw, W + 2 * c->pad);
    const size_t hw = (size_t)H * W;
    float row[ROWBUF], res[DIRECT_MAXK][16];
    for (size_t it = lo; it < hi; it++) {
        const int i = (int)(it % kh), ci = (int)(it / kh);
        for (int k0 = 0; k0 < K; k0 += 16) {
            v16 acc[DIRECT_MAXK];
            for (int j = 0; j < DIRECT_MAXK; j++) acc[j] = v16_splat(0.0f);
            for (int n = 0; n < B; n++)
                for (int oh = 0; oh < OH; oh++) {
                    const int ih = oh + i - c->pad;
                    if (ih < 0 || ih >= H) continue;
                    padded_row(row, a->x + ((size_t)ci * B + n) * hw + (size_t)ih * W, W, c->pad,
                               len);
                    const float *g = a->dyt + (((size_t)n * OH + oh) * OW) * K + k0;
                    for (int ow = 0; ow < OW; ow++) {
                        const v16 gv = v16_load(g + (size_t)ow * K);
                        for (int j = 0; j < DIRECT_MAXK; j++) {
                            if (j >= kw) break;
                            acc[j] += gv * v16_splat(row[ow + j]);
                        }
                    }
                }
            memcpy(res, acc, sizeof(v16) * kw);
            for (int kb = 0; kb < 16; kb++)
                for (int j = 0; j < kw; j++)
                    a->y[(((size_t)(k0 + kb) * C + ci) * kh + i) * kw + j] = res[j][kb];
        }
    }
}

typedef struct KvecPrep {
    float *dst;
    const float *src;
    int K, R; /* src is [K][R]: dst[r][k] */
} KvecPrep;

static void kvec_transpose_rows(void *p, size_t lo, size_t hi)
{
    const KvecPrep *a = p;
    for (size_t r = lo; r < hi; r++)
        for (int k = 0; k < a->K; k++) a->dst[r * a->K + k] = a->src[(size_t)k * a->R + r];
}

/* ws holds K·C·kh·kw floats (transposed weights) */
static void conv_kvec_forward(const Conv2d *c, float *y, const float *x, const float *w,
                              const float *b, int B, float *ws)
{
    const int R = c->in_c * c->kh * c->kw;
    KvecPrep tp = {ws, w, c->out_c, R};
    par_for((size_t)R, (size_t)R * c->out_c, kvec_transpose_rows, &tp);
    KvecArgs a = {.c = c, .y = y, .x = x, .wt = ws, .b = b, .B = B};
    par_for((size_t)B, conv2d_n_weights(c) * c->out_h * c->out_w * (size_t)B, kvec_fwd_samples,
            &a);
}

/* ws holds K·B·OH·OW floats (dY transposed to [n][oh][ow][k]) */
static void conv_kvec_dw(const Conv2d *c, float *dw, const float *dy, const float *x, int B,
                         float *ws)
{
    const int R = B * c->out_h * c->out_w;
    KvecPrep tp = {ws, dy, c->out_c, R};
    par_for((size_t)R, (size_t)R * c->out_c, kvec_transpose_rows, &tp);
    KvecArgs a = {.c = c, .y = dw, .x = x, .dyt = ws, .B = B};
    par_for((size_t)c->in_c * c->kh, conv2d_n_weights(c) * c->out_h * c->out_w * (size_t)B,
            kvec_dw_items, &a);
}

/* ---- Winograd F(2×2, 3×3) -------------------------------------------------------- */
/* 3×3, stride-1, pad-1 convolutions with ≥ 16 channels each side (ResNet-18's
 * bulk) use Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", CVPR 2016): each 2×2 output
 * tile is A^T [Σ_c (G g G^T) ⊙ (B^T d B)] A over its 4×4 input patch d, so the
 * work becomes 16 GEMMs U_ξ[K][C]·V_ξ[C][tiles] with 16/36 of the
 * multiplications of the direct form, and no 9×-expanded im2col matrix. The
 * input gradient is the same algorithm on dY with flipped, transposed weights;
 * the weight gradient is dg = G^T (Σ_tiles (A dY A^T) ⊙ V) G, again 16 GEMMs.
 * Rounding: the transforms use only ±1 and ±½, and measured agreement with
 * PyTorch stays at float32 level (tests/torch_models_check.py). */

#define WINO_MIN_C 16
#define WINO_MAXW 512 /* widest plane handled (row buffers on the stack) */

static bool conv_winograd_ok(const Conv2d *c)
{
    return c->kh == 3 && c->kw == 3 && c->stride == 1 && c->pad == 1 &&
           c->in_c >= WINO_MIN_C && c->out_c >= WINO_MIN_C && c->in_w <= WINO_MAXW;
}

static size_t wino_tiles(const Conv2d *c)
{
    return (size_t)((c->out_h + 1) / 2) * (size_t)((c->out_w + 1) / 2);
}

/* The 16 matrices of U, V and M are WINO_GAP floats further apart than their
 * size: K·C, C·T and K·T are often powers of two, and 16 streams at such
 * strides map to the same cache sets (measured: the transforms ran 3× slower). */
#define WINO_GAP 48

/* U (or dU) with its gaps, plus the gaps of V and M */
static size_t wino_u_floats(const Conv2d *c)
{
    return 16 * ((size_t)c->in_c * c->out_c + WINO_GAP) + 32 * WINO_GAP;
}

/* V (16 × in_c × tiles) and M (16 × out_c × tiles) of one sample */
static size_t wino_per_sample(const Conv2d *c)
{
    return 16 * (size_t)(c->in_c + c->out_c) * wino_tiles(c);
}

typedef struct WinoArgs {
    const Conv2d *c;
    const float *src; /* weights / input / dY / dU */
    float *dst;       /* U / V / output / dM / dW */
    const float *bias;
    bool accumulate;
    int B, n0, m, R, S; /* R×S: matrix shape of U (rows × cols) */
    size_t T;           /* tiles in the chunk */
    size_t xs;          /* distance between the 16 matrices of U / V / M */
} WinoArgs;

/* U[ξ][k][c] = (G g G^T)_ξ for g = w[k][c] (w is [K][C][3][3]), rows k in
 * [lo, hi). The input gradient needs U for g rotated 180° and transposed:
 * since G·J = P·G (J reverses a 3-vector, P swaps entries 0 and 3), that is
 * U'[ξ][c][k] = U[p(ξ)][k][c] with p = P⊗P — the same U, read transposed. */
static void wino_weights_rows(void *p, size_t lo, size_t hi)
{
    const WinoArgs *a = p;
    const int C = a->S;
    const size_t RS = a->xs;
    for (size_t k = lo; k < hi; k++)
        for (int c = 0; c < C; c++) {
            const float *w = a->src + (k * C + (size_t)c) * 9;
            float t[4][3];
            for (int j = 0; j < 3; j++) {
                t[0][j] = w[j];
                t[1][j] = 0.5f * (w[j] + w[3 + j] + w[6 + j]);
                t[2][j] = 0.5f * (w[j] - w[3 + j] + w[6 + j]);
                t[3][j] = w[6 + j];
            }
            float *u = a->dst + k * C + c;
            for (int i = 0; i < 4; i++) {
                u[(size_t)(4 * i) * RS] = t[i][0];
                u[(size_t)(4 * i + 1) * RS] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
                u[(size_t)(4 * i + 2) * RS] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
                u[(size_t)(4 * i + 3) * RS] = t[i][2];
            }
        }
}

/* V[ξ][c][t] = (B^T d B)_ξ for the 4×4 input patch d of tile t; items = c.
 * One tile row at a time from four zero-padded input rows, so the loop over
 * tiles is a plain vectorisable loop. */
static void wino_input_c(void *p, size_t lo, size_t hi)
{
    const WinoArgs *a = p;
    const Conv2d *c = a->c;
    const int H = c->in_h, W = c->in_w, TH = (c->out_h + 1) / 2, TW = (c->out_w + 1) / 2;
    const size_t hw = (size_t)H * W, CT = a->xs;
    /* even / odd columns of the four zero-padded input rows of a tile row:
     * patch column q of tile tw is padded column 2tw + q, i.e. ev[tw], od[tw],
     * ev[tw + 1], od[tw + 1] — unit-stride loads for the vectoriser */
    float ev[4][WINO_MAXW / 2 + 4], od[4][WINO_MAXW / 2 + 4], vt[16][WINO_MAXW / 2 + 4];
    for (size_t ci = lo; ci < hi; ci++)
        for (int n = 0; n < a->m; n++) {
            const float *plane = a->src + (ci * a->B + a->n0 + n) * hw;
            float *v = a->dst + ci * a->T + (size_t)n * TH * TW;
            for (int th = 0; th < TH; th++) {
                for (int r = 0; r < 4; r++) {
                    const int ih = 2 * th - 1 + r;
                    float *e = ev[r], *o = od[r];
                    /* padded column 2j is x[2j − 1] (even), 2j + 1 is x[2j] (odd) */
                    int je = 0, jo = 0;
                    if (ih >= 0 && ih < H) {
                        const float *xr = plane + (size_t)ih * W;
                        je = LQA_MIN(TW, W / 2);
                        jo = LQA_MIN(TW + 1, (W + 1) / 2);
                        for (int j = 1; j <= je; j++) e[j] = xr[2 * j - 1];
                        for (int j = 0; j < jo; j++) o[j] = xr[2 * j];
                    }
                    e[0] = 0.0f;
                    for (int j = je + 1; j <= TW; j++) e[j] = 0.0f;
                    for (int j = jo; j <= TW; j++) o[j] = 0.0f;
                }
                /* 16 results of the tile row into local rows (no aliasing: the
                 * loop vectorises), then out to the 16 matrices */
                const float *e0 = ev[0], *e1 = ev[1], *e2 = ev[2], *e3 = ev[3];
                const float *d0 = od[0], *d1 = od[1], *d2 = od[2], *d3 = od[3];
                for (int tw = 0; tw < TW; tw++) {
                    /* t = B^T d (rows), then V = t B (columns); patch column q of
                     * row r: q = 0 e_r[tw], 1 d_r[tw], 2 e_r[tw+1], 3 d_r[tw+1] */
                    const float a0 = e0[tw] - e2[tw], a1 = d0[tw] - d2[tw],
                                a2 = e0[tw + 1] - e2[tw + 1], a3 = d0[tw + 1] - d2[tw + 1];
                    const float b0 = e1[tw] + e2[tw], b1 = d1[tw] + d2[tw],
                                b2 = e1[tw + 1] + e2[tw + 1], b3 = d1[tw + 1] + d2[tw + 1];
                    const float c0 = e2[tw] - e1[tw], c1 = d2[tw] - d1[tw],
                                c2 = e2[tw + 1] - e1[tw + 1], c3 = d2[tw + 1] - d1[tw + 1];
                    const float f0 = e1[tw] - e3[tw], f1 = d1[tw] - d3[tw],
                                f2 = e1[tw + 1] - e3[tw + 1], f3 = d1[tw + 1] - d3[tw + 1];
                    vt[0][tw] = a0 - a2, vt[1][tw] = a1 + a2, vt[2][tw] = a2 - a1;
                    vt[3][tw] = a1 - a3;
                    vt[4][tw] = b0 - b2, vt[5][tw] = b1 + b2, vt[6][tw] = b2 - b1;
                    vt[7][tw] = b1 - b3;
                    vt[8][tw] = c0 - c2, vt[9][tw] = c1 + c2, vt[10][tw] = c2 - c1;
                    vt[11][tw] = c1 - c3;
                    vt[12][tw] = f0 - f2, vt[13][tw] = f1 + f2, vt[14][tw] = f2 - f1;
                    vt[15][tw] = f1 - f3;
                }
                float *o = v + (size_t)th * TW;
                for (int x = 0; x < 16; x++) {
                    float *ox = o + (size_t)x * CT;
                    for (int tw = 0; tw < TW; tw++) ox[tw] = vt[x][tw];
                }
            }
        }
}

/* y[k] tile = A^T M A (+ bias, += when accumulating); items = k; one tile row
 * (two output rows) at a time through a row buffer */
static void wino_output_k(void *p, size_t lo, size_t hi)
{
    const WinoArgs *a = p;
    const Conv2d *c = a->c;
    const int OH = c->out_h, OW = c->out_w, TH = (OH + 1) / 2, TW = (OW + 1) / 2;
    const size_t ohw = (size_t)OH * OW, KT = a->xs;
    float ob[2][WINO_MAXW + 2];
    for (size_t k = lo; k < hi; k++) {
        const float bias = a->bias ? a->bias[k] : 0.0f;
        for (int n = 0; n < a->m; n++) {
            float *plane = a->dst + (k * a->B + a->n0 + n) * ohw;
            const float *mk = a->src + k * a->T + (size_t)n * TH * TW;
            for (int th = 0; th < TH; th++) {
                const float *o = mk + (size_t)th * TW;
                for (int tw = 0; tw < TW; tw++) {
                    float m[4][4], t[2][4];
                    for (int x = 0; x < 16; x++) m[x / 4][x % 4] = o[(size_t)x * KT + tw];
                    for (int q = 0; q < 4; q++) {
                        t[0][q] = m[0][q] + m[1][q] + m[2][q];
                        t[1][q] = m[1][q] - m[2][q] - m[3][q];
                    }
                    for (int r = 0; r < 2; r++) {
                        ob[r][2 * tw] = t[r][0] + t[r][1] + t[r][2] + bias;
                        ob[r][2 * tw + 1] = t[r][1] - t[r][2] - t[r][3] + bias;
                    }
                }
                for (int r = 0; r < 2 && 2 * th + r < OH; r++) {
                    float *yr = plane + (size_t)(2 * th + r) * OW;
                    if (a->accumulate)
                        for (int ow = 0; ow < OW; ow++) yr[ow] += ob[r][ow];
                    else
                        for (int ow = 0; ow < OW; ow++) yr[ow] = ob[r][ow];
                }
            }
        }
    }
}

/* dM[ξ][k][t] = (A dY A^T)_ξ for the 2×2 output-gradient tile t; items = k */
static void wino_doutput_k(void *p, size_t lo, size_t hi)
{
    const WinoArgs *a = p;
    const Conv2d *c = a->c;
    const int OH = c->out_h, OW = c->out_w, TH = (OH + 1) / 2, TW = (OW + 1) / 2;
    const size_t ohw = (size_t)OH * OW, KT = a->xs;
    /* even / odd columns of the two output-gradient rows of a tile row */
    float ge[2][WINO_MAXW / 2 + 2], go[2][WINO_MAXW / 2 + 2], mt[16][WINO_MAXW / 2 + 2];
    for (size_t k = lo; k < hi; k++)
        for (int n = 0; n < a->m; n++) {
            const float *plane = a->src + (k * a->B + a->n0 + n) * ohw;
            float *mk = a->dst + k * a->T + (size_t)n * TH * TW;
            for (int th = 0; th < TH; th++) {
                for (int r = 0; r < 2; r++) {
                    const int oh = 2 * th + r;
                    const float *gr = oh < OH ? plane + (size_t)oh * OW : NULL;
                    for (int j = 0; j < TW; j++) {
                        ge[r][j] = gr ? gr[2 * j] : 0.0f;
                        go[r][j] = (gr && 2 * j + 1 < OW) ? gr[2 * j + 1] : 0.0f;
                    }
                }
                const float *g0 = ge[0], *g1 = go[0], *h0 = ge[1], *h1 = go[1];
                for (int tw = 0; tw < TW; tw++) {
                    /* t = A g (rows: g0, g0 + g1, g0 − g1, −g1), dM = t A^T */
                    const float t00 = g0[tw], t01 = g1[tw];
                    const float t10 = g0[tw] + h0[tw], t11 = g1[tw] + h1[tw];
                    const float t20 = g0[tw] - h0[tw], t21 = g1[tw] - h1[tw];
                    const float t30 = -h0[tw], t31 = -h1[tw];
                    mt[0][tw] = t00, mt[1][tw] = t00 + t01, mt[2][tw] = t00 - t01;
                    mt[3][tw] = -t01;
                    mt[4][tw] = t10, mt[5][tw] = t10 + t11, mt[6][tw] = t10 - t11;
                    mt[7][tw] = -t11;
                    mt[8][tw] = t20, mt[9][tw] = t20 + t21, mt[10][tw] = t20 - t21;
                    mt[11][tw] = -t21;
                    mt[12][tw] = t30, mt[13][tw] = t30 + t31, mt[14][tw] = t30 - t31;
                    mt[15][tw] = -t31;
                }
                float *o = mk + (size_t)th * TW;
                for (int x = 0; x < 16; x++) {
                    float *ox = o + (size_t)x * KT;
                    for (int tw = 0; tw < TW; tw++) ox[tw] = mt[x][tw];
                }
            }
        }
}

/* dW[k][c] = G^T dU[k][c] G; items = k */
static void wino_dweights_k(void *p, size_t lo, size_t hi)
{
    const WinoArgs *a = p;
    const int C = a->S;
    const size_t RS = a->xs;
    for (size_t k = lo; k < hi; k++)
        for (int c = 0; c < C; c++) {
            float u[4][4], t[3][4];
            for (int x = 0; x < 16; x++) u[x / 4][x % 4] = a->src[(size_t)x * RS + k * C + c];
            for (int q = 0; q < 4; q++) {
                t[0][q] = u[0][q] + 0.5f * (u[1][q] + u[2][q]);
                t[1][q] = 0.5f * (u[1][q] - u[2][q]);
                t[2][q] = 0.5f * (u[1][q] + u[2][q]) + u[3][q];
            }
            float *dw = a->dst + (k * C + c) * 9;
            for (int i = 0; i < 3; i++) {
                dw[3 * i] = t[i][0] + 0.5f * (t[i][1] + t[i][2]);
                dw[3 * i + 1] = 0.5f * (t[i][1] - t[i][2]);
                dw[3 * i + 2] = 0.5f * (t[i][1] + t[i][2]) + t[i][3];
            }
        }
}

/* y (+)= conv(x, w) + b for a Winograd-able geometry c; with `transpose`, c is
 * the transposed geometry of a convolution with weights w [c->in_c][c->out_c][3][3]
 * (its input gradient), used rotated and transposed. */
static void wino_conv(const Conv2d *c, float *y, const float *x, const float *w, const float *b,
                      bool transpose, bool accumulate, int B, float *ws, size_t ws_floats)
{
    static const int perm[4] = {3, 1, 2, 0};
    const int K = c->out_c, C = c->in_c;
    const int WK = transpose ? C : K, WC = transpose ? K : C; /* w is [WK][WC][3][3] */
    const size_t T1 = wino_tiles(c), uf = wino_u_floats(c), per = wino_per_sample(c);
    LQA_CHECK(ws_floats >= uf + per);
    const size_t us = (size_t)K * C + WINO_GAP;
    float *U = ws, *V = ws + 16 * us;
    WinoArgs wa = {.src = w, .dst = U, .R = WK, .S = WC, .xs = us};
    par_for((size_t)WK, 16 * (size_t)WK * WC, wino_weights_rows, &wa);
    const int nb = (int)LQA_MIN((size_t)B, (ws_floats - uf) / per);
    for (int n0 = 0; n0 < B; n0 += nb) {
        const int m = LQA_MIN(nb, B - n0);
        const size_t T = T1 * m, vs = (size_t)C * T + WINO_GAP, ms = (size_t)K * T + WINO_GAP;
        float *M = V + 16 * vs;
        WinoArgs ia = {.c = c, .src = x, .dst = V, .B = B, .n0 = n0, .m = m, .T = T, .xs = vs};
        par_for((size_t)C, 16 * (size_t)C * T, wino_input_c, &ia);
        for (int xi = 0; xi < 16; xi++) {
            /* M_ξ[K][T] = U_ξ[K][C]·V_ξ[C][T], or U_{p(ξ)}ᵀ·V_ξ for the transposed */
            const int ux = transpose ? 4 * perm[xi / 4] + perm[xi % 4] : xi;
            blas_sgemm(transpose, false, K, (int)T, C, 1.0f, U + (size_t)ux * us,
                       transpose ? K : C, V + (size_t)xi * vs, (int)T, 0.0f, M + (size_t)xi * ms,
                       (int)T);
        }
        WinoArgs oa = {.c = c, .src = M, .dst = y, .bias = b, .accumulate = accumulate,
                       .B = B, .n0 = n0, .m = m, .T = T, .xs = ms};
        par_for((size_t)K, 16 * (size_t)K * T, wino_output_k, &oa);
    }
}

static void wino_dw(const Conv2d *c, float *dw, const float *dy, const float *x, int B,
                    float *ws, size_t ws_floats)
{
    const int K = c->out_c, C = c->in_c;
    const size_t T1 = wino_tiles(c), uf = wino_u_floats(c), per = wino_per_sample(c);
    LQA_CHECK(ws_floats >= uf + per);
    const size_t us = (size_t)K * C + WINO_GAP;
    float *dU = ws, *V = ws + 16 * us;
    const int nb = (int)LQA_MIN((size_t)B, (ws_floats - uf) / per);
    for (int n0 = 0; n0 < B; n0 += nb) {
        const int m = LQA_MIN(nb, B - n0);
        const size_t T = T1 * m, vs = (size_t)C * T + WINO_GAP, ms = (size_t)K * T + WINO_GAP;
        float *dM = V + 16 * vs;
        WinoArgs ia = {.c = c, .src = x, .dst = V, .B = B, .n0 = n0, .m = m, .T = T, .xs = vs};
        par_for((size_t)C, 16 * (size_t)C * T, wino_input_c, &ia);
        WinoArgs da = {.c = c, .src = dy, .dst = dM, .B = B, .n0 = n0, .m = m, .T = T, .xs = ms};
        par_for((size_t)K, 16 * (size_t)K * T, wino_doutput_k, &da);
        /* dU_ξ[K][C] (+)= dM_ξ[K][T] · V_ξ[C][T]ᵀ */
        for (int xi = 0; xi < 16; xi++)
            blas_sgemm(false, true, K, C, (int)T, 1.0f, dM + (size_t)xi * ms, (int)T,
                       V + (size_t)xi * vs, (int)T, n0 == 0 ? 0.0f : 1.0f, dU + (size_t)xi * us, C);
    }
    WinoArgs wa = {.src = dU, .dst = dw, .R = K, .S = C, .xs = us};
    par_for((size_t)K, 16 * (size_t)K * C, wino_dweights_k, &wa);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* the stride-1 transposed geometry: dY[out_c][OH][OW] → dX[in_c][H][W] */
static void conv_transposed_geom(const Conv2d *c, Conv2d *t)
{
    conv2d_setup(t, c->out_c, c->out_h, c->out_w, c->in_c, c->kh, c->kw, 1, c->kh - 1 - c->pad);
    LQA_CHECK(t->out_h == c->in_h && t->out_w == c->in_w);
}

/* floats of one sample's im2col matrix */
static size_t col_per_sample(const Conv2d *c)
{
    return (size_t)c->in_c * c->kh * c->kw * c->out_h * c->out_w;
}

size_t conv2d_ws_floats(const Conv2d *c, int B, size_t cap_floats)
{
    if (conv_is_pointwise(c)) return 0;
    size_t fixed, one;
    if (conv_winograd_ok(c)) { /* U/dU + V and M per sample (the transposed geometry
                                * of the input gradient has the same sizes) */
        fixed = wino_u_floats(c);
        one = wino_per_sample(c);
    } else {
        /* direct kernels need only the flipped weights (for dX) */
        const size_t wt = conv_direct_dx_ok(c) ? conv2d_n_weights(c) : 0;
        if (conv_direct_ok(c, c->out_c) && conv_direct_dx_ok(c)) return wt;
        fixed = 0;
        one = LQA_MAX(col_per_sample(c), wt);
        if (conv_kvec_ok(c)) { /* transposed weights; dY transposed, whole batch */
            const size_t dyt = (size_t)c->out_c * c->out_h * c->out_w * (size_t)B;
            fixed = LQA_MAX(conv2d_n_weights(c), dyt);
        }
    }
    size_t all = fixed + one * (size_t)B;
    size_t want = all < cap_floats ? all : cap_floats;
    return want > fixed + one ? want : fixed + one;
}

/* Samples per chunk whose im2col (one_floats each) fits `avail` floats. */
static int chunk_of(size_t one_floats, int B, size_t avail)
{
    LQA_CHECK(avail >= one_floats);
    size_t nb = avail / one_floats;
    return nb >= (size_t)B ? B : (int)nb;
}

/* Output columns [lo, hi) whose input column ow·s − pad + k lies in [0, in). */
static void valid_range(int *lo, int *hi, int out, int in, int s, int pad, int k)
{
    /* ow·s − pad + k ≥ 0  ⇔  ow ≥ ceil((pad − k)/s) */
    int a = pad - k, l = a <= 0 ? 0 : (a + s - 1) / s;
    /* ow·s − pad + k ≤ in − 1  ⇔  ow ≤ floor((in − 1 + pad − k)/s) */
    int b = in - 1 + pad - k, h = b < 0 ? 0 : b / s + 1;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

typedef struct ColArgs {
    float *col;       /* im2col: output; col2im: input */
    float *xw;        /* col2im: dx */
    const float *x;   /* im2col: input */
    const Conv2d *c;
    int B, n0, nb;
} ColArgs;

/* col[(ci·kh+ki)·kw+kj][n·OHOW + oh·OW + ow] = x[ci][n0+n][oh·s−p+ki][ow·s−p+kj]
 * (zero outside), for rows [lo, hi) and n in [0, nb). */
static void im2col_rows(void *p, size_t lo, size_t hi)
{
    const ColArgs *a = p;
    const Conv2d *c = a->c;
    const int H = c->in_h, W = c->in_w, OH = c->out_h, OW = c->out_w, s = c->stride,
              pd = c->pad, kk = c->kh * c->kw;
    const size_t ohw = (size_t)OH * OW, ld = ohw * a->nb, hw = (size_t)H * W;
    for (size_t r = lo; r < hi; r++) {
        const int ci = (int)(r / kk), ki = (int)(r % kk) / c->kw, kj = (int)(r % c->kw);
        int oh_lo, oh_hi, ow_lo, ow_hi;
        valid_range(&oh_lo, &oh_hi, OH, H, s, pd, ki);
        valid_range(&ow_lo, &ow_hi, OW, W, s, pd, kj);
        const float *xc = a->x + ((size_t)ci * a->B + a->n0) * hw;
        float *row = a->col + r * ld;
        const int off = kj - pd; /* input column = ow·s + off */
        for (int n = 0; n < a->nb; n++) {
            const float *xp = xc + (size_t)n * hw;
            float *o = row + (size_t)n * ohw;
            if (oh_lo > 0) memset(o, 0, sizeof(float) * (size_t)oh_lo * OW);
            for (int oh = oh_lo; oh < oh_hi; oh++) {
                float *orow = o + (size_t)oh * OW;
                const float *xr = xp + (size_t)(oh * s - pd + ki) * W;
                /* inline loops, not memcpy: rows are short (LeNet: 10–28 floats) */
                for (int ow = 0; ow < ow_lo; ow++) orow[ow] = 0.0f;
                if (s == 1) {
                    const float *xo = xr + off;
                    for (int ow = ow_lo; ow < ow_hi; ow++) orow[ow] = xo[ow];
                } else {
                    for (int ow = ow_lo; ow < ow_hi; ow++) orow[ow] = xr[ow * s + off];
                }
                for (int ow = ow_hi; ow < OW; ow++) orow[ow] = 0.0f;
            }
            if (oh_hi < OH)
                memset(o + (size_t)oh_hi * OW, 0, sizeof(float) * (size_t)(OH - oh_hi) * OW);
        }
    }
}

static void im2col(float *col, const float *x, const Conv2d *c, int B, int n0, int nb)
{
    ColArgs a = {col, NULL, x, c, B, n0, nb};
    size_t rows = (size_t)c->in_c * c->kh * c->kw;
    par_for(rows, rows * c->out_h * c->out_w * nb, im2col_rows, &a);
}

/* Inverse of im2col for input channels [lo, hi): dx[ci][n0+n][..] += col[..]
 * (dx pre-zeroed or holding values to add onto). A channel's rows are added in
 * a fixed order by one thread. */
static void col2im_channels(void *p, size_t lo, size_t hi)
{
    const ColArgs *a = p;
    const Conv2d *c = a->c;
    const int H = c->in_h, W = c->in_w, OH = c->out_h, OW = c->out_w, s = c->stride,
              pd = c->pad;
    const size_t ohw = (size_t)OH * OW, ld = ohw * a->nb, hw = (size_t)H * W;
    for (size_t ci = lo; ci < hi; ci++) {
        float *xc = a->xw + (ci * a->B + a->n0) * hw;
        for (int ki = 0; ki < c->kh; ki++) {
            int oh_lo, oh_hi;
            valid_range(&oh_lo, &oh_hi, OH, H, s, pd, ki);
            for (int kj = 0; kj < c->kw; kj++) {
                int ow_lo, ow_hi;
                valid_range(&ow_lo, &ow_hi, OW, W, s, pd, kj);
                const float *row = a->col + ((ci * c->kh + ki) * c->kw + kj) * ld;
                const int off = kj - pd;
                for (int n = 0; n < a->nb; n++) {
                    float *xp = xc + (size_t)n * hw;
                    const float *o = row + (size_t)n * ohw;
                    for (int oh = oh_lo; oh < oh_hi; oh++) {
                        const float *orow = o + (size_t)oh * OW;
                        float *xr = xp + (size_t)(oh * s - pd + ki) * W;
                        if (s == 1) {
                            float *xo = xr + ow_lo + off;
                            const float *oo = orow + ow_lo;
                            for (int i = 0; i < ow_hi - ow_lo; i++) xo[i] += oo[i];
                        } else {
                            for (int ow = ow_lo; ow < ow_hi; ow++) xr[ow * s + off] += orow[ow];
                        }
                    }
                }
            }
        }
    }
}

typedef struct RowArgs {
    float *y;
    const float *x;
    const float *v; /* per-row value (bias) */
    float *out;     /* per-row result (bias gradient) */
    size_t len;     /* row length */
    size_t stride;  /* distance between rows */
    size_t nrows;   /* rows per item (zeroing: samples) */
} RowArgs;

static void fill_rows(void *p, size_t lo, size_t hi)
{
    RowArgs *a = p;
    for (size_t k = lo; k < hi; k++) {
        float *yk = a->y + k * a->stride, bk = a->v[k];
        for (size_t i = 0; i < a->len; i++) yk[i] = bk;
    }
}

static void sum_rows(void *p, size_t lo, size_t hi)
{
    RowArgs *a = p;
    for (size_t k = lo; k < hi; k++) {
        const float *g = a->x + k * a->stride;
        double s0 = 0, s1 = 0;
        size_t i = 0;
        for (; i + 2 <= a->len; i += 2) s0 += g[i], s1 += g[i + 1];
        for (; i < a->len; i++) s0 += g[i];
        a->out[k] = (float)(s0 + s1);
    }
}

static void zero_rows(void *p, size_t lo, size_t hi)
{
    RowArgs *a = p;
    for (size_t k = lo; k < hi; k++) memset(a->y + k * a->stride, 0, sizeof(float) * a->len);
}

void conv2d_forward(const Conv2d *c, float *y, const float *x, const float *w, const float *b,
                    int B, float *ws, size_t ws_floats)
{
    const int K = c->out_c, CKK = c->in_c * c->kh * c->kw;
    const size_t ohw = (size_t)c->out_h * c->out_w, ldy = ohw * B;
    if (conv_direct_ok(c, K)) {
        conv_direct_forward(c, y, x, w, b, false, B);
        return;
    }
    if (conv_winograd_ok(c)) {
        wino_conv(c, y, x, w, b, false, false, B, ws, ws_floats);
        return;
    }
    if (conv_kvec_ok(c) && ws_floats >= conv2d_n_weights(c)) {
        conv_kvec_forward(c, y, x, w, b, B, ws);
        return;
    }
    float beta = 0.0f;
    if (b) {
        RowArgs a = {.y = y, .v = b, .len = ldy, .stride = ldy};
        par_for((size_t)K, (size_t)K * ldy, fill_rows, &a);
        beta = 1.0f;
    }
    if (conv_is_pointwise(c)) {
        /* Y[K][B·HW] = W[K][C] · X[C][B·HW] */
        blas_sgemm(false, false, K, (int)ldy, CKK, 1.0f, w, CKK, x, (int)ldy, beta, y, (int)ldy);
        return;
    }
    int nb = chunk_of(col_per_sample(c), B, ws_floats);
    for (int n0 = 0; n0 < B; n0 += nb) {
        int m = LQA_MIN(nb, B - n0);
        im2col(ws, x, c, B, n0, m);
        blas_sgemm(false, false, K, (int)(m * ohw), CKK, 1.0f, w, CKK, ws, (int)(m * ohw), beta,
                   y + n0 * ohw, (int)ldy);
    }
}

void conv2d_backward(const Conv2d *c, float *dx, bool dx_accumulate, float *dw, float *db,
                     const float *dy, const float *x, const float *w, int B, float *ws,
                     size_t ws_floats)
{
    const int K = c->out_c, C = c->in_c, CKK = C * c->kh * c->kw;
    const size_t ohw = (size_t)c->out_h * c->out_w, ldy = ohw * B;
    const size_t hw = (size_t)c->in_h * c->in_w, ldx = hw * B;
    if (db) {
        RowArgs a = {.x = dy, .out = db, .len = ldy, .stride = ldy};
        par_for((size_t)K, (size_t)K * ldy, sum_rows, &a);
    }
    if (conv_is_pointwise(c)) {
        /* dW[K][C] = dY[K][B·HW] · X[C][B·HW]ᵀ;  dX[C][B·HW] (+)= Wᵀ · dY */
        if (dw) blas_sgemm(false, true, K, CKK, (int)ldy, 1.0f, dy, (int)ldy, x, (int)ldy, 0.0f, dw, CKK);
        if (dx)
            blas_sgemm(true, false, CKK, (int)ldy, K, 1.0f, w, CKK, dy, (int)ldy,
                       dx_accumulate ? 1.0f : 0.0f, dx, (int)ldy);
        return;
    }
    if (conv_winograd_ok(c)) {
        if (dw) wino_dw(c, dw, dy, x, B, ws, ws_floats);
        if (dx) {
            Conv2d t;
            conv_transposed_geom(c, &t);
            wino_conv(&t, dx, dy, w, NULL, true, dx_accumulate, B, ws, ws_floats);
        }
        return;
    }
    if (dw && conv_direct_ok(c, K)) {
        conv_direct_dw(c, dw, dy, x, B);
        dw = NULL;
    }
    if (dw && conv_kvec_ok(c) && ws_floats >= (size_t)K * ohw * B) {
        conv_kvec_dw(c, dw, dy, x, B, ws);
        dw = NULL;
    }
    if (dx && conv_direct_dx_ok(c) && ws_floats >= conv2d_n_weights(c)) {
        conv_direct_dx(c, dx, dx_accumulate, dy, w, ws, B);
        dx = NULL;
    }
    if (dw) { /* dW (+)= dY_chunk · colᵀ over chunks of samples */
        int nb = chunk_of(col_per_sample(c), B, ws_floats);
        for (int n0 = 0; n0 < B; n0 += nb) {
            int m = LQA_MIN(nb, B - n0), ncol = (int)(m * ohw);
            im2col(ws, x, c, B, n0, m);
            blas_sgemm(false, true, K, CKK, ncol, 1.0f, dy + n0 * ohw, (int)ldy, ws, ncol,
                       n0 == 0 ? 0.0f : 1.0f, dw, CKK);
        }
    }
    if (!dx) return;
    /* dcol[CKK][m·OHOW] = Wᵀ · dY_chunk, then scatter-add into dx */
    int nb = chunk_of(col_per_sample(c), B, ws_floats);
    for (int n0 = 0; n0 < B; n0 += nb) {
        int m = LQA_MIN(nb, B - n0), ncol = (int)(m * ohw);
        blas_sgemm(true, false, CKK, ncol, K, 1.0f, w, CKK, dy + n0 * ohw, (int)ldy, 0.0f, ws, ncol);
        if (!dx_accumulate) {
            RowArgs z = {.y = dx + n0 * hw, .len = hw * m, .stride = ldx};
            par_for((size_t)C, (size_t)C * hw * m, zero_rows, &z);
        }
        ColArgs a = {ws, dx, NULL, c, B, n0, m};
        par_for((size_t)C, (size_t)CKK * ncol, col2im_channels, &a);
    }
}

/* ---- pooling ------------------------------------------------------------ */

typedef struct PoolArgs {
    float *y;
    const float *x;
    uint8_t *idx;
    const uint8_t *cidx;
    int H, W;
} PoolArgs;

/* first maximum of a 2×2 window in row-major order (PyTorch's choice); a NaN
 * wins over numbers, so NaN propagates */
static inline bool pick_later(float later, float first)
{
    /* non-short-circuit & and |: no branches (random data mispredicts them) */
    return (later > first) | ((later != later) & (first == first));
}

typedef int v16i __attribute__((vector_size(64)));

/* even / odd lanes of the 32-lane concatenation a:b */
#if defined(__clang__)
#define SHUF_EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define SHUF_ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#else
#define SHUF_EVEN(a, b) \
    __builtin_shuffle(a, b, (v16i){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30})
#define SHUF_ODD(a, b) \
    __builtin_shuffle(a, b, (v16i){1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31})
#endif

/* one output row, 16 outputs at a time: the 32 input columns of each of the
 * two rows are copied into zero-padded local vectors, split into even / odd
 * columns with shuffles, and compared as vectors (LeNet's rows are 14 and 5
 * wide, too short for GCC's own vectorisation of the scalar loop) */
static void maxpool_row(float *yr, uint8_t *ir, const float *r0, const float *r1, int OW, int W)
{
    for (int o0 = 0; o0 < OW; o0 += 16) {
        const int n = LQA_MIN(16, OW - o0), cols = LQA_MIN(32, W - 2 * o0);
        float t[32] = {0}, b[32] = {0};
        memcpy(t, r0 + 2 * o0, sizeof(float) * (size_t)cols);
        memcpy(b, r1 + 2 * o0, sizeof(float) * (size_t)cols);
        v16 t0, t1, b0, b1;
        memcpy(&t0, t, 64), memcpy(&t1, t + 16, 64), memcpy(&b0, b, 64), memcpy(&b1, b + 16, 64);
        const v16 v0 = SHUF_EVEN(t0, t1), v1 = SHUF_ODD(t0, t1);
        const v16 v2 = SHUF_EVEN(b0, b1), v3 = SHUF_ODD(b0, b1);
        /* pick_later as masks: later > first, or later NaN and first not */
        const v16i k01 = (v1 > v0) | ((v1 != v1) & (v0 == v0));
        const v16i k23 = (v3 > v2) | ((v3 != v3) & (v2 == v2));
        v16i i01, i23, m01, m23;
        memcpy(&i01, &v0, 64), memcpy(&i23, &v1, 64);
        m01 = (i23 & k01) | (i01 & ~k01); /* bits of max(v0, v1) */
        memcpy(&i01, &v2, 64), memcpy(&i23, &v3, 64);
        m23 = (i23 & k23) | (i01 & ~k23);
        v16 f01, f23;
        memcpy(&f01, &m01, 64), memcpy(&f23, &m23, 64);
        const v16i k = (f23 > f01) | ((f23 != f23) & (f01 == f01));
        const v16i mv = (m23 & k) | (m01 & ~k);
        const v16i id = (k & (2 - k23)) | (~k & -k01); /* masks are −1: 2 + b23 or b01 */
        float out[16];
        int idx[16];
        memcpy(out, &mv, 64);
        memcpy(idx, &id, 64);
        memcpy(yr + o0, out, sizeof(float) * (size_t)n);
        for (int j = 0; j < n; j++) ir[o0 + j] = (uint8_t)idx[j];
    }
}

static void maxpool_planes(void *p, size_t lo, size_t hi)
{
    const PoolArgs *a = p;
    const int H = a->H, W = a->W, OH = H / 2, OW = W / 2;
    uint8_t scratch[512];
    for (size_t pl = lo; pl < hi; pl++) {
        const float *xp = a->x + pl * H * W;
        float *yp = a->y + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = xp + (size_t)(2 * oh) * W, *r1 = r0 + W;
            float *yr = yp + oh * OW;
            if (g_tape) { /* sequential record/replay of the choices */
                for (int ow = 0; ow < OW; ow++) {
                    const float v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
                    const bool b01 = pick_later(v[1], v[0]), b23 = pick_later(v[3], v[2]);
                    int m = pick_later(v[2 + b23], v[b01]) ? 2 + b23 : b01;
                    m = tape_choice(m) & 3;
                    yr[ow] = v[m];
                    if (a->idx) a->idx[(pl * OH + oh) * OW + ow] = (uint8_t)m;
                }
                continue;
            }
            for (int o0 = 0; o0 < OW; o0 += 512) { /* idx NULL: choices to scratch */
                const int len = LQA_MIN(512, OW - o0);
                uint8_t *ir = a->idx ? a->idx + (pl * OH + oh) * OW + o0 : scratch;
                maxpool_row(yr + o0, ir, r0 + 2 * o0, r1 + 2 * o0, len, W - 2 * o0);
            }
        }
    }
}

void maxpool2_forward(float *y, uint8_t *idx, const float *x, int planes, int H, int W)
{
    PoolArgs a = {y, x, idx, NULL, H, W};
    if (g_tape) maxpool_planes(&a, 0, (size_t)planes); /* the tape is sequential */
    else par_for((size_t)planes, (size_t)planes * H * W, maxpool_planes, &a);
}

static void maxpool_back_planes(void *p, size_t lo, size_t hi)
{
    const PoolArgs *a = p;
    const int H = a->H, W = a->W, OH = H / 2, OW = W / 2;
    for (size_t pl = lo; pl < hi; pl++) {
        float *xp = a->y + pl * H * W;
        const float *gp = a->x + pl * OH * OW;
        const uint8_t *ip = a->cidx + pl * OH * OW;
        memset(xp, 0, sizeof(float) * (size_t)H * W);
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int m = ip[oh * OW + ow];
                xp[(size_t)(2 * oh + (m >> 1)) * W + 2 * ow + (m & 1)] = gp[oh * OW + ow];
            }
    }
}

void maxpool2_backward(float *dx, const float *dy, const uint8_t *idx, int planes, int H, int W)
{
    PoolArgs a = {dx, dy, NULL, idx, H, W};
    par_for((size_t)planes, (size_t)planes * H * W, maxpool_back_planes, &a);
}

static void avgpool_planes(void *p, size_t lo, size_t hi)
{
    const PoolArgs *a = p;
    const int H = a->H, W = a->W, OH = H / 2, OW = W / 2;
    for (size_t pl = lo; pl < hi; pl++) {
        const float *xp = a->x + pl * H * W;
        float *yp = a->y + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = xp + (size_t)(2 * oh) * W, *r1 = r0 + W;
            for (int ow = 0; ow < OW; ow++)
                yp[oh * OW + ow] =
                    ((r0[2 * ow] + r0[2 * ow + 1]) + (r1[2 * ow] + r1[2 * ow + 1])) * 0.25f;
        }
    }
}

void avgpool2_forward(float *y, const float *x, int planes, int H, int W)
{
    PoolArgs a = {y, x, NULL, NULL, H, W};
    par_for((size_t)planes, (size_t)planes * H * W, avgpool_planes, &a);
}

static void avgpool_back_planes(void *p, size_t lo, size_t hi)
{
    const PoolArgs *a = p;
    const int H = a->H, W = a->W, OH = H / 2, OW = W / 2;
    for (size_t pl = lo; pl < hi; pl++) {
        float *xp = a->y + pl * H * W;
        const float *gp = a->x + pl * OH * OW;
        if ((H & 1) || (W & 1)) memset(xp, 0, sizeof(float) * (size_t)H * W);
        for (int oh = 0; oh < OH; oh++) {
            float *r0 = xp + (size_t)(2 * oh) * W, *r1 = r0 + W;
            for (int ow = 0; ow < OW; ow++) {
                float g = gp[oh * OW + ow] * 0.25f;
                r0[2 * ow] = r0[2 * ow + 1] = r1[2 * ow] = r1[2 * ow + 1] = g;
            }
        }
    }
}

void avgpool2_backward(float *dx, const float *dy, int planes, int H, int W)
{
    PoolArgs a = {dx, dy, NULL, NULL, H, W};
    par_for((size_t)planes, (size_t)planes * H * W, avgpool_back_planes, &a);
}

/* ---- batch norm --------------------------------------------------------- */

typedef struct BnArgs {
    float *y;
    const float *x, *res, *dy, *relu_y;
    float *mean, *var, *invstd, *dgamma, *dbeta;
    const float *cmean, *cinvstd, *gamma, *beta;
    bool relu;
    size_t N;
} BnArgs;

/* Channel sums run in BN_LANES independent double accumulators (the adds of
 * one long chain would wait on each other), combined pairwise in a fixed order. */
#define BN_LANES 16

static double lanes_sum(double *s)
{
    for (int n = BN_LANES; n > 1; n /= 2)
        for (int k = 0; k < n / 2; k++) s[k] = s[2 * k] + s[2 * k + 1];
    return s[0];
}

static void bn_stats_channels(void *p, size_t lo, size_t hi)
{
    BnArgs *a = p;
    const size_t N = a->N;
    for (size_t c = lo; c < hi; c++) {
        const float *xc = a->x + c * N;
        /* shifted sums (shift = first value) keep the one-pass variance exact
         * enough in double even when |mean| ≫ std */
        const double k = xc[0];
        double sl[BN_LANES] = {0}, ql[BN_LANES] = {0};
        size_t i = 0;
        for (; i + BN_LANES <= N; i += BN_LANES)
            for (int l = 0; l < BN_LANES; l++) {
                double d = xc[i + l] - k;
                sl[l] += d;
                ql[l] += d * d;
            }
        for (int l = 0; i < N; i++, l++) {
            double d = xc[i] - k;
            sl[l] += d;
            ql[l] += d * d;
        }
        double s = lanes_sum(sl) / (double)N, q = lanes_sum(ql) / (double)N;
        double v = q - s * s;
        if (v < 0) v = 0;
        a->mean[c] = (float)(k + s);
        if (a->var) a->var[c] = (float)v;
        if (a->invstd) a->invstd[c] = (float)(1.0 / sqrt(v + BN_EPS));
    }
}

void bn2d_batch_stats(float *mean, float *var, float *invstd, const float *x, int C, int B,
                      int HW)
{
    BnArgs a = {.x = x, .mean = mean, .var = var, .invstd = invstd, .N = (size_t)B * HW};
    par_for((size_t)C, (size_t)C * a.N, bn_stats_channels, &a);
}

void bn2d_update_running(float *run_mean, float *run_var, const float *mean, const float *var,
                         int C, size_t N)
{
    const double m = BN_MOMENTUM, unbias = N > 1 ? (double)N / (double)(N - 1) : 1.0;
    for (int c = 0; c < C; c++) {
        run_mean[c] = (float)((1.0 - m) * run_mean[c] + m * mean[c]);
        run_var[c] = (float)((1.0 - m) * run_var[c] + m * (double)var[c] * unbias);
    }
}

void bn2d_eval_invstd(float *invstd, const float *run_var, int C)
{
    for (int c = 0; c < C; c++) invstd[c] = (float)(1.0 / sqrt((double)run_var[c] + BN_EPS));
}

static void bn_apply_channels(void *p, size_t lo, size_t hi)
{
    BnArgs *a = p;
    const size_t N = a->N;
    for (size_t c = lo; c < hi; c++) {
        /* y = (x − mean)·g + β with g = γ·invstd */
        const float g = a->gamma[c] * a->cinvstd[c], mu = a->cmean[c], bb = a->beta[c];
        const float *xc = a->x + c * N;
        float *yc = a->y + c * N;
        if (a->res) {
            const float *rc = a->res + c * N;
            if (a->relu)
                for (size_t i = 0; i < N; i++) {
                    float v = (xc[i] - mu) * g + bb + rc[i];
                    yc[i] = v > 0.0f ? v : 0.0f;
                }
            else
                for (size_t i = 0; i < N; i++) yc[i] = (xc[i] - mu) * g + bb + rc[i];
        } else if (a->relu) {
            for (size_t i = 0; i < N; i++) {
                float v = (xc[i] - mu) * g + bb;
                yc[i] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (size_t i = 0; i < N; i++) yc[i] = (xc[i] - mu) * g + bb;
        }
    }
}

void bn2d_apply(float *y, const float *x, const float *mean, const float *invstd,
                const float *gamma, const float *beta, const float *res, bool relu, int C, int B,
                int HW)
{
    BnArgs a = {.y = y, .x = x, .res = res, .cmean = mean, .cinvstd = invstd, .gamma = gamma,
                .beta = beta, .relu = relu && !g_tape, .N = (size_t)B * HW};
    par_for((size_t)C, (size_t)C * a.N, bn_apply_channels, &a);
    if (relu && g_tape) tape_relu(y, (size_t)C * a.N);
}

static void bn_backward_channels(void *p, size_t lo, size_t hi)
{
    BnArgs *a = p;
    const size_t N = a->N;
    for (size_t c = lo; c < hi; c++) {
        const float *g = a->dy + c * N, *xc = a->x + c * N;
        const float *ry = a->relu_y ? a->relu_y + c * N : NULL;
        const float mu = a->cmean[c], is = a->cinvstd[c];
        /* Σg and Σg·(x−μ), in double, BN_LANES independent sums */
        double gl[BN_LANES] = {0}, xl[BN_LANES] = {0};
        size_t i = 0;
        if (ry) {
            for (; i + BN_LANES <= N; i += BN_LANES)
                for (int l = 0; l < BN_LANES; l++) {
                    float gi = ry[i + l] > 0.0f ? g[i + l] : 0.0f;
                    gl[l] += gi;
                    xl[l] += (double)gi * (double)(xc[i + l] - mu);
                }
            for (int l = 0; i < N; i++, l++) {
                float gi = ry[i] > 0.0f ? g[i] : 0.0f;
                gl[l] += gi;
                xl[l] += (double)gi * (double)(xc[i] - mu);
            }
        } else {
            for (; i + BN_LANES <= N; i += BN_LANES)
                for (int l = 0; l < BN_LANES; l++) {
                    gl[l] += g[i + l];
                    xl[l] += (double)g[i + l] * (double)(xc[i + l] - mu);
                }
            for (int l = 0; i < N; i++, l++) {
                gl[l] += g[i];
                xl[l] += (double)g[i] * (double)(xc[i] - mu);
            }
        }
        double sg = lanes_sum(gl), sgx = lanes_sum(xl) * is; /* Σ g·x̂ */
        if (a->dbeta) a->dbeta[c] = (float)sg;
        if (a->dgamma) a->dgamma[c] = (float)sgx;
        if (!a->y) continue;
        /* dx = γ·is·(g − Σg/N − x̂·Σgx̂/N), x̂ = (x−μ)·is */
        const float k1 = a->gamma[c] * is, mg = (float)(sg / (double)N),
                    kx = (float)(sgx / (double)N) * is;
        float *dxc = a->y + c * N;
        if (ry)
            for (i = 0; i < N; i++) {
                float gi = ry[i] > 0.0f ? g[i] : 0.0f;
                dxc[i] = k1 * (gi - mg - (xc[i] - mu) * kx);
            }
        else
            for (i = 0; i < N; i++) dxc[i] = k1 * (g[i] - mg - (xc[i] - mu) * kx);
    }
}

void bn2d_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *relu_y,
                   const float *x, const float *mean, const float *invstd, const float *gamma,
                   int C, int B, int HW)
{
    BnArgs a = {.y = dx, .x = x, .dy = dy, .relu_y = relu_y, .dgamma = dgamma, .dbeta = dbeta,
                .cmean = mean, .cinvstd = invstd, .gamma = gamma, .N = (size_t)B * HW};
    par_for((size_t)C, (size_t)C * a.N * 2, bn_backward_channels, &a);
}

/* ---- global average pooling, layouts ------------------------------------ */

void gap_forward(float *y, const float *x, int C, int B, int HW)
{
    for (int c = 0; c < C; c++)
        for (int n = 0; n < B; n++) {
            const float *p = x + ((size_t)c * B + n) * HW;
            double s = 0.0;
            for (int i = 0; i < HW; i++) s += p[i];
            y[(size_t)n * C + c] = (float)(s / HW);
        }
}

void gap_backward(float *dx, const float *dy, int C, int B, int HW)
{
    const float inv = 1.0f / (float)HW;
    for (int c = 0; c < C; c++)
        for (int n = 0; n < B; n++) {
            float *p = dx + ((size_t)c * B + n) * HW, g = dy[(size_t)n * C + c] * inv;
            for (int i = 0; i < HW; i++) p[i] = g;
        }
}

typedef struct TrArgs {
    float *dst;
    const float *src;
    int B, C, HW;
} TrArgs;

static void to_cnhw_samples(void *p, size_t lo, size_t hi)
{
    const TrArgs *a = p;
    for (size_t n = lo; n < hi; n++)
        for (int c = 0; c < a->C; c++)
            memcpy(a->dst + ((size_t)c * a->B + n) * a->HW, a->src + (n * a->C + c) * a->HW,
                   sizeof(float) * (size_t)a->HW);
}

static void to_nchw_samples(void *p, size_t lo, size_t hi)
{
    const TrArgs *a = p;
    for (size_t n = lo; n < hi; n++)
        for (int c = 0; c < a->C; c++)
            memcpy(a->dst + (n * a->C + c) * a->HW, a->src + ((size_t)c * a->B + n) * a->HW,
                   sizeof(float) * (size_t)a->HW);
}

void nchw_to_cnhw(float *dst, const float *src, int B, int C, int HW)
{
    TrArgs a = {dst, src, B, C, HW};
    par_for((size_t)B, (size_t)B * C * HW, to_cnhw_samples, &a);
}

void cnhw_to_nchw(float *dst, const float *src, int C, int B, int HW)
{
    TrArgs a = {dst, src, B, C, HW};
    par_for((size_t)B, (size_t)B * C * HW, to_nchw_samples, &a);
}
