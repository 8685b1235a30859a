/* conv.c — 2-D convolution in the channel-major layout x[C][B][H][W] (see
 * conv.h for why): geometry, workspace sizing, the choice of path per layer
 * geometry (conv2d_forward/backward) and the generic im2col path. Files:
 *   conv.c          this: geometry, path choice, im2col / col2im;
 *   conv_direct.c   direct vector kernels (stride 1, few or 16–64 channels);
 *   conv_winograd.c the Winograd drivers and workspace sizes;
 *   conv_winograd2.c Winograd F(2×2, 3×3) kernels (the default);
 *   conv_winograd4.c Winograd F(4×4, 3×3) kernels (opt-in, Conv2d.wino4);
 *   conv_ws.c       the workspace a network's layers share (not a kernel file);
 *   bn_pool.c       ReLU, residual add, pooling, batch norm, global average
 *                   pooling, layouts, gate tape (the other layers of conv.h);
 *   conv_internal.h what they share (private; users include only conv.h).
 *
 * Convolution paths, chosen per layer geometry (conv2d_forward/backward):
 *   1×1 stride 1           one sgemm on the activations themselves;
 *   3×3 stride 1 pad 1, ≥ 16 channels each side (ResNet-18's bulk)
 *                          Winograd F(2×2, 3×3), all three passes (F(4×4, 3×3)
 *                          on planes ≥ 8×8 when the layer sets wino4);
 *   stride 1, ≤ 8 output channels (LeNet's first layer, and the input
 *   gradient of its second: a transposed convolution to 6 channels), or
 *   16–64 output channels on rows up to 16 wide (LeNet's second)
 *                          direct vector kernels on zero-padded row copies;
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

#include <string.h>

#include "blas.h"
#include "common.h"
#include "conv_internal.h"
#include "parallel.h"

/* ---- geometry ----------------------------------------------------------- */

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
    c->wino4 = false;
    c->ws = NULL;
    c->out_h = (in_h + 2 * pad - kh) / stride + 1;
    c->out_w = (in_w + 2 * pad - kw) / stride + 1;
    LQA_CHECK(in_h + 2 * pad >= kh && in_w + 2 * pad >= kw && c->out_h > 0 && c->out_w > 0);
}

size_t conv2d_n_weights(const Conv2d *c) { return (size_t)c->out_c * c->in_c * c->kh * c->kw; }

int conv2d_fan_in(const Conv2d *c) { return c->in_c * c->kh * c->kw; }

/* the stride-1 transposed geometry: dY[out_c][OH][OW] → dX[in_c][H][W] */
static void conv_transposed_geom(const Conv2d *c, Conv2d *t)
{
    conv2d_setup(t, c->out_c, c->out_h, c->out_w, c->in_c, c->kh, c->kw, 1, c->kh - 1 - c->pad);
    t->wino4 = c->wino4;
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
    if (conv_winograd_ok(c)) return wino_ws_floats(c, B, cap_floats);
    /* the vector kernels need whole-batch buffers; any pass without one (or
     * called with a workspace sized for a smaller batch) takes im2col, which
     * needs at least one sample's columns */
    size_t need = 0;
    bool col = false;
    if (conv_direct_ok(c))
        need = LQA_MAX(conv_direct_fwd_ws(c, B), conv_direct_dw_ws(c, B));
    else if (conv_kvec_ok(c))
        need = LQA_MAX(conv_kvec_fwd_ws(c, B), conv_kvec_dw_ws(c, B));
    else
        col = true;
    if (conv_direct_dx_ok(c)) need = LQA_MAX(need, conv_direct_dx_ws(c, B));
    else col = true;
    const size_t one = col_per_sample(c);
    if (!col) return LQA_MAX(need, one);
    size_t all = one * (size_t)B, want = all < cap_floats ? all : cap_floats;
    return LQA_MAX(need, LQA_MAX(want, one));
}

/* ---- im2col + GEMM, path choice ----------------------------------------- */

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

/* Row sums in double: 32 lane accumulators (vectorised, independent adds),
 * combined pairwise in a fixed order. */
#define SUM_LANES 32

static void sum_rows(void *p, size_t lo, size_t hi)
{
    RowArgs *a = p;
    for (size_t k = lo; k < hi; k++) {
        const float *g = a->x + k * a->stride;
        double s[SUM_LANES] = {0};
        size_t i = 0;
        for (; i + SUM_LANES <= a->len; i += SUM_LANES)
            for (int l = 0; l < SUM_LANES; l++) s[l] += g[i + l];
        for (int l = 0; i < a->len; i++, l++) s[l] += g[i];
        a->out[k] = (float)lanes_sum(s, SUM_LANES);
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
    if (conv_direct_ok(c) && ws_floats >= conv_direct_fwd_ws(c, B)) {
        conv_direct_forward(c, y, x, w, b, false, B, ws);
        return;
    }
    if (conv_winograd_ok(c)) {
        wino_conv(c, y, x, w, b, false, false, B, ws, ws_floats);
        return;
    }
    if (conv_kvec_ok(c) && ws_floats >= conv_kvec_fwd_ws(c, B)) {
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
    if (dw && conv_direct_ok(c) && ws_floats >= conv_direct_dw_ws(c, B)) {
        conv_direct_dw(c, dw, dy, x, B, ws);
        dw = NULL;
    }
    if (dw && conv_kvec_ok(c) && ws_floats >= conv_kvec_dw_ws(c, B)) {
        conv_kvec_dw(c, dw, dy, x, B, ws);
        dw = NULL;
    }
    if (dx && conv_direct_dx_ok(c) && ws_floats >= conv_direct_dx_ws(c, B)) {
        conv_direct_dx(c, dx, dx_accumulate, dy, w, B, ws);
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
