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
 * kernels compute stride-1 convolutions directly, with the outputs of up to
 * DIRECT_KB channels × DIRECT_RB rows × DIRECT_MAXV 16-float vectors held in
 * registers (GCC vector extensions: AVX-512 where available, split into
 * narrower vectors elsewhere). Each output element is summed in a fixed order
 * (input channel, kernel row, kernel column) by one thread.
 *
 * The input is copied into zero-padded rows of direct_row_len floats in the
 * workspace (by the forward kernels one sample at a time, just before use; by
 * the weight gradient for the whole batch, with dY's rows padded to whole
 * vectors too), so the inner loops are plain vector loads at any kernel column
 * offset. (Padding a row on the fly for every output row and channel block
 * cost conv1 of LeNet-5 about as much as its arithmetic.) */

#define DIRECT_MAX_C 8   /* out_c (forward, dW) or in_c (dX) at most this */
#define DIRECT_MAXV 4    /* output rows up to 64 wide */
#define DIRECT_KB 8      /* forward register block: all out_c, rounded up to even */
#define DIRECT_RB 2      /* output rows per register block (forward, 1-vector rows) */
#define DIRECT_MAXKBW 4  /* output channels per register block (dW) */
#define DIRECT_MAXK 7    /* kernels up to 7×7 */

LQA_FP_CONTRACT_BEGIN /* FMA contraction for the kernels below (simd.h) */

static int direct_nv(const Conv2d *c) { return (c->out_w + 15) / 16; }

/* output rows per register block: two when rows are one vector, so that even
 * 4–7 channels give ≥ 8 independent accumulators (FMA latency hidden) */
static int direct_rb(const Conv2d *c) { return direct_nv(c) == 1 ? DIRECT_RB : 1; }

/* Measured (1 thread, batch 64): LeNet's conv1 (out_c 6, 28-wide rows) runs
 * 3–4× faster here than through im2col + GEMM; so does the input gradient of
 * conv2 (a transposed convolution with 6 output channels on 14-wide rows, two
 * rows per block). Fewer than 8 independent accumulators (channels × rows ×
 * row vectors) leave FMA latency exposed, and such layers go through GEMM. */
bool conv_direct_ok(const Conv2d *c)
{
    const int nch = c->out_c;
    return c->stride == 1 && nch <= DIRECT_MAX_C &&
           LQA_MIN(nch, DIRECT_KB) * direct_nv(c) * direct_rb(c) >= 8 &&
           c->kh <= DIRECT_MAXK && c->kw <= DIRECT_MAXK && c->out_w <= 16 * DIRECT_MAXV &&
           !conv_is_pointwise(c);
}

/* floats per padded row: every vector load of the kernels (up to 16·nv + 16:
 * the weight gradient loads nv + 1 whole vectors) and the padded row itself
 * fit, rounded to whole vectors */
static int direct_row_len(const Conv2d *c)
{
    const int len = LQA_MAX(16 * direct_nv(c) + 16, c->in_w + 2 * c->pad);
    return (len + 15) / 16 * 16;
}

static size_t direct_pad_floats(const Conv2d *c, int B)
{
    return (size_t)c->in_c * B * c->in_h * direct_row_len(c);
}

typedef struct PadArgs {
    float *dst;
    const float *src;
    int rows, W, pad, L; /* rows per plane; src row width; left pad; dst row length */
} PadArgs;

/* rows of width W from s into rows of L floats (whole vectors) at offset pad,
 * zero elsewhere; short rows: inline loops, not memcpy calls */
static inline void pad_plane(float *restrict d, const float *restrict s, int rows, int W, int pad,
                             int L)
{
    const v16 zero = v16_splat(0.0f);
    for (int r = 0; r < rows; r++, d += L, s += W) {
        for (int t = 0; t < L; t += 16) memcpy(d + t, &zero, sizeof zero);
        for (int t = 0; t < W; t++) d[pad + t] = s[t];
    }
}

static void pad_planes(void *p, size_t lo, size_t hi) /* items = planes */
{
    const PadArgs *a = p;
    for (size_t pl = lo; pl < hi; pl++)
        pad_plane(a->dst + pl * a->rows * a->L, a->src + pl * a->rows * a->W, a->rows, a->W,
                  a->pad, a->L);
}

/* The forward kernels pad each sample's planes just before using it, on the
 * thread that uses it, so the copy is still in cache when read (LeNet-5's
 * conv1 forward 83 → 75 µs against a separate pass over the batch) */
static void pad_sample(float *xp, const float *x, const Conv2d *c, int B, size_t n, int L)
{
    const size_t hw = (size_t)c->in_h * c->in_w, hl = (size_t)c->in_h * L;
    for (int ci = 0; ci < c->in_c; ci++)
        pad_plane(xp + (ci * B + n) * hl, x + (ci * B + n) * hw, c->in_h, c->in_w, c->pad, L);
}

/* planes × rows rows of width W from src into rows of L floats at offset pad */
static void pad_rows(float *dst, const float *src, size_t planes, int rows, int W, int pad, int L)
{
    PadArgs a = {dst, src, rows, W, pad, L};
    par_for(planes, planes * rows * L, pad_planes, &a);
}

typedef struct DirectArgs {
    const Conv2d *c;
    float *y;
    const float *x, *w, *b, *dyp; /* x: input (forward) or its padded rows (dW, xp) */
    float *xp;                    /* forward: padded input rows, written per sample */
    bool accumulate;
    int B, L, kbw; /* L: padded row length; kbw: channels per block (dW) */
} DirectArgs;

/* y[k][n] (+)= b[k] + Σ w[k][c][i][j]·xpad[c][n][oh+i][ow+j], samples [lo, hi),
 * all out_c ≤ KB channels in one register block. NV (16-float vectors per
 * output row), RB (output rows per block) and KB are constants in each
 * instantiation, so the accumulators stay in registers; wp holds the weights
 * padded with zero channels to KB (those sums are never stored). Per kernel
 * tap the KB weights are broadcast once and used for all RB rows. */
static inline __attribute__((always_inline)) void direct_fwd_nv(const DirectArgs *a, size_t lo,
                                                                size_t hi, const int NV,
                                                                const int RB, const int KB)
{
    const Conv2d *c = a->c;
    const int K = c->out_c, C = c->in_c, kh = c->kh, kw = c->kw, H = c->in_h, pad = c->pad;
    const int OH = c->out_h, OW = c->out_w, B = a->B, L = a->L;
    const size_t wk = (size_t)C * kh * kw;
    float out[16 * DIRECT_MAXV] = {0};
    for (size_t n = lo; n < hi; n++) {
        pad_sample(a->xp, a->x, c, B, n, L);
        for (int oh0 = 0; oh0 < OH; oh0 += RB) {
            const int nr = LQA_MIN(RB, OH - oh0);
            v16 acc[DIRECT_KB][DIRECT_RB][DIRECT_MAXV];
            for (int kb = 0; kb < KB; kb++)
                for (int r = 0; r < RB; r++)
                    for (int v = 0; v < NV; v++) acc[kb][r][v] = v16_splat(0.0f);
            for (int ci = 0; ci < C; ci++) {
                const float *plane = a->xp + ((size_t)ci * B + n) * H * L;
                for (int i = 0; i < kh; i++) {
                    /* input row of output row oh0 + r; rows outside the input
                     * contribute nothing and are skipped */
                    const float *rows[DIRECT_RB];
                    for (int r = 0; r < RB; r++) {
                        const int ih = oh0 + r + i - pad;
                        rows[r] = r < nr && ih >= 0 && ih < H ? plane + (size_t)ih * L : NULL;
                    }
                    const float *wr = a->w + ((size_t)ci * kh + i) * kw;
                    for (int j = 0; j < kw; j++) {
                        v16 wv[DIRECT_KB];
                        for (int kb = 0; kb < KB; kb++) wv[kb] = v16_splat(wr[kb * wk + j]);
                        for (int r = 0; r < RB; r++) {
                            if (!rows[r]) continue;
                            v16 xv[DIRECT_MAXV];
                            for (int v = 0; v < NV; v++) xv[v] = v16_load(rows[r] + 16 * v + j);
                            for (int kb = 0; kb < KB; kb++)
                                for (int v = 0; v < NV; v++) acc[kb][r][v] += wv[kb] * xv[v];
                        }
                    }
                }
            }
            for (int kb = 0; kb < KB && kb < K; kb++)
                for (int r = 0; r < nr; r++) {
                    float *yr = a->y + (((size_t)kb * B + n) * OH + oh0 + r) * OW;
                    memcpy(out, acc[kb][r], sizeof(v16) * NV);
                    const float bias = a->b ? a->b[kb] : 0.0f;
                    if (a->accumulate)
                        for (int ow = 0; ow < OW; ow++) yr[ow] += out[ow] + bias;
                    else
                        for (int ow = 0; ow < OW; ow++) yr[ow] = out[ow] + bias;
                }
        }
    }
}

/* channels per forward block: out_c rounded up to even (zero weights fill it) */
static int direct_kb(const Conv2d *c) { return (c->out_c + 1) / 2 * 2; }

#define DIRECT_FWD_CASES(KB)                                                                    \
    switch (direct_nv(a->c)) {                                                                 \
    case 1: direct_fwd_nv(a, lo, hi, 1, DIRECT_RB, KB); break;                                 \
    case 2: direct_fwd_nv(a, lo, hi, 2, 1, KB); break;                                         \
    case 3: direct_fwd_nv(a, lo, hi, 3, 1, KB); break;                                         \
    default: direct_fwd_nv(a, lo, hi, 4, 1, KB); break;                                        \
    }

static void direct_fwd_samples(void *p, size_t lo, size_t hi)
{
    const DirectArgs *a = p;
    switch (direct_kb(a->c)) {
    case 2: DIRECT_FWD_CASES(2) break;
    case 4: DIRECT_FWD_CASES(4) break;
    case 6: DIRECT_FWD_CASES(6) break;
    default: DIRECT_FWD_CASES(8) break;
    }
}

static size_t direct_wp_floats(const Conv2d *c)
{
    return (size_t)direct_kb(c) * c->in_c * c->kh * c->kw;
}

size_t conv_direct_fwd_ws(const Conv2d *c, int B)
{
    return direct_wp_floats(c) + direct_pad_floats(c, B);
}

/* wp[k][c][i][j] = w[k][c][i][j] (flip: w[c][k][kh−1−i][kw−1−j] of the layer
 * whose transposed convolution c is), zero for k ≥ out_c up to direct_kb */
static void direct_weights(const Conv2d *c, float *wp, const float *w, bool flip)
{
    const int K = c->out_c, C = c->in_c, kk = c->kh * c->kw;
    for (int k = 0; k < direct_kb(c); k++)
        for (int ci = 0; ci < C; ci++)
            for (int q = 0; q < kk; q++)
                wp[((size_t)k * C + ci) * kk + q] =
                    k >= K ? 0.0f
                    : flip ? w[((size_t)ci * K + k) * kk + (kk - 1 - q)]
                           : w[((size_t)k * C + ci) * kk + q];
}

/* ws: the padded weights, then the padded input */
static void direct_forward(const Conv2d *c, float *y, const float *x, const float *w,
                           bool flip, const float *b, bool accumulate, int B, float *ws)
{
    const int L = direct_row_len(c);
    float *xp = ws + direct_wp_floats(c);
    direct_weights(c, ws, w, flip);
    DirectArgs a = {.c = c, .y = y, .x = x, .xp = xp, .w = ws, .b = b,
                    .accumulate = accumulate, .B = B, .L = L};
    size_t work = conv2d_n_weights(c) * c->out_h * c->out_w * (size_t)B;
    par_for((size_t)B, work, direct_fwd_samples, &a);
}

void conv_direct_forward(const Conv2d *c, float *y, const float *x, const float *w,
                         const float *b, bool accumulate, int B, float *ws)
{
    direct_forward(c, y, x, w, false, b, accumulate, B, ws);
}

/* dW[k][c][i][j] = Σ_{n,oh,ow} dy[k][n][oh][ow]·xpad[c][n][oh+i][ow+j]; items are
 * (channel block, c, i) triples. KBW channels per block (3 for LeNet's 6
 * channels: no idle block slots) and NV, the vectors per row, are constants
 * in each instantiation. (The kernel width too, KW = 5, gained 0–6 % more on
 * LeNet: not worth three times the instantiations.) */
static inline __attribute__((always_inline)) void direct_dw_kbw(const DirectArgs *a, size_t lo,
                                                                size_t hi, const int KBW,
                                                                const int NV)
{
    const Conv2d *c = a->c;
    const int K = c->out_c, C = c->in_c, kh = c->kh, KW = c->kw, H = c->in_h;
    const int OH = c->out_h, B = a->B, L = a->L, LD = 16 * NV;
    v16i SHIFT[DIRECT_MAXK];
    for (int j = 0; j < DIRECT_MAXK; j++)
        for (int l = 0; l < 16; l++) SHIFT[j][l] = j + l;
    for (size_t it = lo; it < hi; it++) {
        const int i = (int)(it % kh), ci = (int)(it / kh % C);
        const int k0 = (int)(it / kh / C) * KBW, KB = LQA_MIN(KBW, K - k0);
        v16 acc[DIRECT_MAXKBW][DIRECT_MAXK];
        for (int kb = 0; kb < KBW; kb++)
            for (int j = 0; j < DIRECT_MAXK; j++) acc[kb][j] = v16_splat(0.0f);
        const int oh_lo = LQA_MAX(0, c->pad - i), oh_hi = LQA_MIN(OH, H + c->pad - i);
        /* rows of channels beyond KB (last block) read block 0's: their sums are
         * never stored */
        size_t goff[DIRECT_MAXKBW];
        for (int kb = 0; kb < KBW; kb++) goff[kb] = kb < KB ? (size_t)kb * B * OH * LD : 0;
        for (int n = 0; n < B; n++) {
            const float *plane = a->x + ((size_t)ci * B + n) * H * L;
            for (int oh = oh_lo; oh < oh_hi; oh++) {
                const float *row = plane + (size_t)(oh + i - c->pad) * L;
                const float *g0 = a->dyp + (((size_t)k0 * B + n) * OH + oh) * LD;
                for (int v = 0; v < NV; v++) {
                    v16 g[DIRECT_MAXKBW];
                    for (int kb = 0; kb < KBW; kb++) g[kb] = v16_load(g0 + goff[kb] + 16 * v);
                    /* x shifted by j from two aligned loads (vpermt2ps), not
                     * five loads across cache lines: 7 % on LeNet's conv1 */
                    const v16 X0 = v16_load(row + 16 * v), X1 = v16_load(row + 16 * v + 16);
                    for (int j = 0; j < DIRECT_MAXK; j++) {
                        if (j >= KW) break;
                        const v16 xv = v16_shuffle2(X0, X1, SHIFT[j]);
                        for (int kb = 0; kb < KBW; kb++) acc[kb][j] += g[kb] * xv;
                    }
                }
            }
        }
        for (int kb = 0; kb < KB; kb++)
            for (int j = 0; j < KW; j++)
                a->y[(((size_t)(k0 + kb) * C + ci) * kh + i) * KW + j] = v16_sum(acc[kb][j]);
    }
}

#define DIRECT_DW_CASES(KBW)                                                                    \
    switch (direct_nv(a->c)) {                                                                 \
    case 1: direct_dw_kbw(a, lo, hi, KBW, 1); break;                                           \
    case 2: direct_dw_kbw(a, lo, hi, KBW, 2); break;                                           \
    case 3: direct_dw_kbw(a, lo, hi, KBW, 3); break;                                           \
    default: direct_dw_kbw(a, lo, hi, KBW, 4); break;                                          \
    }

static void direct_dw_items(void *p, size_t lo, size_t hi)
{
    const DirectArgs *a = p;
    if (a->kbw == 3) DIRECT_DW_CASES(3) else DIRECT_DW_CASES(4)
}

/* channels per dW block: 3 or 4, whichever leaves fewer idle slots (4 on a tie) */
static int direct_kbw(int K)
{
    const int n3 = (K + 2) / 3 * 3, n4 = (K + 3) / 4 * 4;
    return n3 < n4 ? 3 : 4;
}

/* dY's rows padded to whole vectors */
static size_t direct_dyp_floats(const Conv2d *c, int B)
{
    return (size_t)c->out_c * B * c->out_h * 16 * direct_nv(c);
}

size_t conv_direct_dw_ws(const Conv2d *c, int B)
{
    return direct_pad_floats(c, B) + direct_dyp_floats(c, B);
}

void conv_direct_dw(const Conv2d *c, float *dw, const float *dy, const float *x, int B,
                    float *ws)
{
    const int L = direct_row_len(c), kbw = direct_kbw(c->out_c);
    float *dyp = ws + direct_pad_floats(c, B);
    pad_rows(ws, x, (size_t)c->in_c * B, c->in_h, c->in_w, c->pad, L);
    pad_rows(dyp, dy, (size_t)c->out_c * B, c->out_h, c->out_w, 0, 16 * direct_nv(c));
    DirectArgs a = {.c = c, .y = dw, .x = ws, .dyp = dyp, .B = B, .L = L, .kbw = kbw};
    const int nkb = (c->out_c + kbw - 1) / kbw;
    size_t work = conv2d_n_weights(c) * c->out_h * c->out_w * (size_t)B;
    par_for((size_t)nkb * c->in_c * c->kh, work, direct_dw_items, &a);
}

/* dX as the stride-1 transposed convolution: a direct forward over dY with
 * W'[c][k][i][j] = W[k][c][kh−1−i][kw−1−j] and pad' = k − 1 − pad. */
static bool direct_transposed(const Conv2d *c, Conv2d *t)
{
    if (c->stride != 1 || c->kh != c->kw || c->pad > c->kh - 1) return false;
    conv2d_setup(t, c->out_c, c->out_h, c->out_w, c->in_c, c->kh, c->kw, 1, c->kh - 1 - c->pad);
    LQA_CHECK(t->out_h == c->in_h && t->out_w == c->in_w);
    return true;
}

bool conv_direct_dx_ok(const Conv2d *c)
{
    Conv2d t;
    return direct_transposed(c, &t) && conv_direct_ok(&t);
}

size_t conv_direct_dx_ws(const Conv2d *c, int B)
{
    Conv2d t;
    LQA_CHECK(direct_transposed(c, &t));
    return conv_direct_fwd_ws(&t, B);
}

void conv_direct_dx(const Conv2d *c, float *dx, bool accumulate, const float *dy,
                    const float *w, int B, float *ws)
{
    Conv2d t;
    LQA_CHECK(direct_transposed(c, &t));
    direct_forward(&t, dx, dy, w, true, NULL, accumulate, B, ws);
}

/* ---- direct convolution vectorised over output channels ------------------------ */
/* For 16, 32, ... output channels on narrow rows (LeNet's conv2: 16 channels,
 * 10-wide rows) a vector holds 16 output channels of one output position:
 * acc[ow] += W[c][i][j][k0..k0+15] · x[c][oh+i][ow+j], 16 positions of a row
 * in registers, so no lane is wasted on row ends. Weights are first
 * transposed to [c][i][j][k] (in the workspace); the weight gradient reads dY
 * transposed to [n][oh][ow][k] the same way. Input rows are padded into the
 * workspace first, as for the kernels above (direct_row_len: rows are one
 * vector wide here). */

#define KVEC_OW 16 /* output positions per register block */

bool conv_kvec_ok(const Conv2d *c)
{
    return c->stride == 1 && c->out_c % 16 == 0 && c->out_c <= 64 && c->out_w <= KVEC_OW &&
           c->kh <= DIRECT_MAXK && c->kw <= DIRECT_MAXK && !conv_is_pointwise(c);
}

typedef struct KvecArgs {
    const Conv2d *c;
    float *y;
    const float *x, *xp, *wt, *b, *dyt; /* x: input; xp: its padded rows */
    float *xpw;                          /* forward: padded rows, written per sample */
    int B, L;
} KvecArgs;

/* y[k][n][oh][:] = b[k] + Σ wt[c][i][j][k]·xpad[c][n][oh+i][ow+j]; items =
 * samples. NO (output positions held in registers: OW rounded up to even) is
 * a constant in each instantiation. */
static inline __attribute__((always_inline)) void kvec_fwd_no(const KvecArgs *a, size_t lo,
                                                              size_t hi, const int NO)
{
    const Conv2d *c = a->c;
    const int K = c->out_c, C = c->in_c, kh = c->kh, kw = c->kw, H = c->in_h;
    const int OH = c->out_h, OW = c->out_w, B = a->B, L = a->L;
    float tile[KVEC_OW][16] = {{0}}; /* rows ≥ NO are never read (OW ≤ NO) */
    const float *xp = a->xpw;
    for (size_t n = lo; n < hi; n++) {
        pad_sample(a->xpw, a->x, c, B, n, L);
        for (int k0 = 0; k0 < K; k0 += 16)
            for (int oh = 0; oh < OH; oh++) {
                v16 acc[KVEC_OW];
                const v16 bias = a->b ? v16_load(a->b + k0) : v16_splat(0.0f);
                for (int o = 0; o < NO; o++) acc[o] = bias;
                const int i_lo = LQA_MAX(0, c->pad - oh), i_hi = LQA_MIN(kh, H + c->pad - oh);
                for (int ci = 0; ci < C; ci++)
                    for (int i = i_lo; i < i_hi; i++) {
                        const float *row =
                            xp + (((size_t)ci * B + n) * H + oh + i - c->pad) * L;
                        const float *wr = a->wt + ((size_t)(ci * kh + i) * kw) * K + k0;
                        for (int j = 0; j < kw; j++) {
                            const v16 wv = v16_load(wr + (size_t)j * K);
                            for (int o = 0; o < NO; o++) acc[o] += wv * v16_splat(row[o + j]);
                        }
                    }
                memcpy(tile, acc, sizeof(v16) * NO);
                for (int kb = 0; kb < 16; kb++) {
                    float *yr = a->y + (((size_t)(k0 + kb) * B + n) * OH + oh) * OW;
                    for (int ow = 0; ow < OW; ow++) yr[ow] = tile[ow][kb];
                }
            }
    }
}

static void kvec_fwd_samples(void *p, size_t lo, size_t hi)
{
    const KvecArgs *a = p;
    switch ((a->c->out_w + 1) / 2) {
    case 1: kvec_fwd_no(a, lo, hi, 2); break;
    case 2: kvec_fwd_no(a, lo, hi, 4); break;
    case 3: kvec_fwd_no(a, lo, hi, 6); break;
    case 4: kvec_fwd_no(a, lo, hi, 8); break;
    case 5: kvec_fwd_no(a, lo, hi, 10); break;
    case 6: kvec_fwd_no(a, lo, hi, 12); break;
    case 7: kvec_fwd_no(a, lo, hi, 14); break;
    default: kvec_fwd_no(a, lo, hi, 16); break;
    }
}

/* dW[k][c][i][j] = Σ dyt[n][oh][ow][k]·xpad[c][n][oh+i][ow+j]; items = (c, i).
 * Even and odd ow go to separate accumulators (2·kw independent FMA chains),
 * added at the end. KW is the kernel width: a constant where instantiated
 * for it (kvec_dw_items), so the j loops unroll. */
static inline __attribute__((always_inline)) void kvec_dw_kw(const KvecArgs *a, size_t lo,
                                                             size_t hi, const int KW)
{
    const Conv2d *c = a->c;
    const int K = c->out_c, C = c->in_c, kh = c->kh, H = c->in_h;
    const int OH = c->out_h, OW = c->out_w, B = a->B, L = a->L;
    float res[DIRECT_MAXK][16];
    for (size_t it = lo; it < hi; it++) {
        const int i = (int)(it % kh), ci = (int)(it / kh);
        const int oh_lo = LQA_MAX(0, c->pad - i), oh_hi = LQA_MIN(OH, H + c->pad - i);
        for (int k0 = 0; k0 < K; k0 += 16) {
            v16 acc[2][DIRECT_MAXK];
            for (int e = 0; e < 2; e++)
                for (int j = 0; j < KW; j++) acc[e][j] = v16_splat(0.0f);
            for (int n = 0; n < B; n++)
                for (int oh = oh_lo; oh < oh_hi; oh++) {
                    const float *row =
                        a->xp + (((size_t)ci * B + n) * H + oh + i - c->pad) * L;
                    const float *g = a->dyt + (((size_t)n * OH + oh) * OW) * K + k0;
                    int ow = 0;
                    for (; ow + 2 <= OW; ow += 2)
                        for (int e = 0; e < 2; e++) {
                            const v16 gv = v16_load(g + (size_t)(ow + e) * K);
                            for (int j = 0; j < KW; j++)
                                acc[e][j] += gv * v16_splat(row[ow + e + j]);
                        }
                    if (ow < OW) {
                        const v16 gv = v16_load(g + (size_t)ow * K);
                        for (int j = 0; j < KW; j++) acc[0][j] += gv * v16_splat(row[ow + j]);
                    }
                }
            for (int j = 0; j < KW; j++) acc[0][j] += acc[1][j];
            memcpy(res, acc[0], sizeof(v16) * KW);
            for (int kb = 0; kb < 16; kb++)
                for (int j = 0; j < KW; j++)
                    a->y[(((size_t)(k0 + kb) * C + ci) * kh + i) * KW + j] = res[j][kb];
        }
    }
}

static void kvec_dw_items(void *p, size_t lo, size_t hi)
{
    const KvecArgs *a = p;
    switch (a->c->kw) {
    case 3: kvec_dw_kw(a, lo, hi, 3); break;
    case 5: kvec_dw_kw(a, lo, hi, 5); break;
    default: kvec_dw_kw(a, lo, hi, a->c->kw); break;
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

size_t conv_kvec_fwd_ws(const Conv2d *c, int B)
{
    return conv2d_n_weights(c) + direct_pad_floats(c, B);
}

size_t conv_kvec_dw_ws(const Conv2d *c, int B)
{
    return (size_t)c->out_c * c->out_h * c->out_w * B + direct_pad_floats(c, B);
}

/* ws: transposed weights, then the padded input */
void conv_kvec_forward(const Conv2d *c, float *y, const float *x, const float *w,
                       const float *b, int B, float *ws)
{
    const int R = c->in_c * c->kh * c->kw, L = direct_row_len(c);
    float *xp = ws + conv2d_n_weights(c);
    KvecPrep tp = {ws, w, c->out_c, R};
    par_for((size_t)R, (size_t)R * c->out_c, kvec_transpose_rows, &tp);
    KvecArgs a = {.c = c, .y = y, .x = x, .xpw = xp, .wt = ws, .b = b, .B = B, .L = L};
    par_for((size_t)B, conv2d_n_weights(c) * c->out_h * c->out_w * (size_t)B, kvec_fwd_samples,
            &a);
}

/* ws: dY transposed to [n][oh][ow][k], then the padded input */
void conv_kvec_dw(const Conv2d *c, float *dw, const float *dy, const float *x, int B,
                  float *ws)
{
    const int R = B * c->out_h * c->out_w, L = direct_row_len(c);
    float *xp = ws + (size_t)c->out_c * R;
    KvecPrep tp = {ws, dy, c->out_c, R};
    par_for((size_t)R, (size_t)R * c->out_c, kvec_transpose_rows, &tp);
    pad_rows(xp, x, (size_t)c->in_c * B, c->in_h, c->in_w, c->pad, L);
    KvecArgs a = {.c = c, .y = dw, .xp = xp, .dyt = ws, .B = B, .L = L};
    par_for((size_t)c->in_c * c->kh, conv2d_n_weights(c) * c->out_h * c->out_w * (size_t)B,
            kvec_dw_items, &a);
}

LQA_FP_CONTRACT_END
