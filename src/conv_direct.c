/* conv_direct.c — direct stride-1 convolution kernels on GCC vector
 * extensions, for the geometries where im2col + GEMM is memory-bound: few
 * output channels (LeNet's conv1), or 16–64 output channels on narrow rows
 * (LeNet's conv2). conv.c chooses the path. */
#include <string.h>

#include "common.h"
#include "conv_internal.h"
#include "parallel.h"

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

/* FMA contraction for the kernels below (ISO C mode turns it off): a fixed,
 * deterministic choice per build, the same as in conv_winograd.c */
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
bool conv_direct_ok(const Conv2d *c, int nch)
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

void conv_direct_forward(const Conv2d *c, float *y, const float *x, const float *w,
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


void conv_direct_dw(const Conv2d *c, float *dw, const float *dy, const float *x, int B)
{
    DirectArgs a = {.c = c, .y = dw, .x = x, .dy = dy, .B = B};
    const int nkb = (c->out_c + DIRECT_KBW - 1) / DIRECT_KBW;
    size_t work = conv2d_n_weights(c) * c->out_h * c->out_w * (size_t)B;
    par_for((size_t)nkb * c->in_c * c->kh, work, direct_dw_items, &a);
}

/* dX as the stride-1 transposed convolution: a direct forward over dY with
 * W'[c][k][i][j] = W[k][c][kh−1−i][kw−1−j] and pad' = k − 1 − pad. */
bool conv_direct_dx_ok(const Conv2d *c)
{
    if (c->stride != 1 || c->kh != c->kw || c->pad > c->kh - 1) return false;
    Conv2d t;
    conv2d_setup(&t, c->out_c, c->out_h, c->out_w, c->in_c, c->kh, c->kw, 1, c->kh - 1 - c->pad);
    return conv_direct_ok(&t, t.out_c);
}

void conv_direct_dx(const Conv2d *c, float *dx, bool accumulate, const float *dy,
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

bool conv_kvec_ok(const Conv2d *c)
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
void conv_kvec_forward(const Conv2d *c, float *y, const float *x, const float *w,
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
void conv_kvec_dw(const Conv2d *c, float *dw, const float *dy, const float *x, int B,
                  float *ws)
{
    const int R = B * c->out_h * c->out_w;
    KvecPrep tp = {ws, dy, c->out_c, R};
    par_for((size_t)R, (size_t)R * c->out_c, kvec_transpose_rows, &tp);
    KvecArgs a = {.c = c, .y = dw, .x = x, .dyt = ws, .B = B};
    par_for((size_t)c->in_c * c->kh, conv2d_n_weights(c) * c->out_h * c->out_w * (size_t)B,
            kvec_dw_items, &a);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
