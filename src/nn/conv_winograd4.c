/* conv_winograd4.c — the kernels of Winograd F(4×4, 3×3), used instead of
 * F(2×2, 3×3) when a layer asks for it (Conv2d.wino4, config "conv_algo":
 * "winograd4"); the drivers in conv_winograd.c run them.
 *
 * Each 4×4 output tile is A^T [Σ_c (G g G^T) ⊙ (B^T d B)] A over its 6×6 input
 * patch d: 36 GEMMs with 36/144 = 1/4 of the direct form's multiplications
 * (F(2×2, 3×3): 16/36), and transformed tensors 36/16 = 2.25 floats per output
 * (F(2×2, 3×3): 4). The interpolation points are 0, 1, −1, ½, −2 and ∞ (not
 * Lavin & Gray's 0, ±1, ±2): in a float32 simulation of a 3×3 convolution
 * (64–512 channels) they give a max relative error of 1.9–3.3e-6 against
 * 4.2–6.8e-6 for ±2; F(2×2, 3×3) gives 2.2–3.3e-7 and PyTorch's direct
 * float32 convolution 1.8–2.8e-7. This error is inherent: the float32 GEMM
 * in the transformed domain sums terms up to 10× larger than the result.
 * Rows of B^T are scaled to small integers, the scale moved into G:
 *
 *   B^T = [ 2 −3 −4  3  2  0 ]   G = [ 1/2    0     0   ]   A^T = [ 1  1  1  1    1  0 ]
 *         [ 0 −2  1  5  2  0 ]       [ 1/6   1/6   1/6  ]         [ 0  1 −1  1/2 −2  0 ]
 *         [ 0 −2  5 −1 −2  0 ]       [ 1/6  −1/6   1/6  ]         [ 0  1  1  1/4  4  0 ]
 *         [ 0  2  1 −2 −1  0 ]       [ 16/15 8/15  4/15 ]         [ 0  1 −1  1/8 −8  1 ]
 *         [ 0  1 −2 −1  2  0 ]       [ 1/30 −1/15  2/15 ]
 *         [ 0  2 −3 −4  3  2 ]       [ 0     0     1/2  ]
 *
 * The weight transforms (once per call, K·C·36 values) run in double and
 * round once. The data transforms work on blocks of W4_BLK tiles numbered
 * across the samples of a chunk, so they vectorise even where a plane holds
 * only a few tiles (ResNet-18's 8×8 stage: 4). */
#include "common.h"
#include "conv_internal.h"

LQA_FP_CONTRACT_BEGIN /* FMA contraction for the kernels below (simd.h) */

#define W4_BLK 64

/* u = G g (3 → 6), in double */
static inline void w4_g(double u[6], double g0, double g1, double g2)
{
    u[0] = 0.5 * g0;
    u[1] = (g0 + g1 + g2) / 6.0;
    u[2] = (g0 - g1 + g2) / 6.0;
    u[3] = (16.0 * g0 + 8.0 * g1 + 4.0 * g2) / 15.0;
    u[4] = (g0 - 2.0 * g1 + 4.0 * g2) / 30.0;
    u[5] = 0.5 * g2;
}

/* g = G^T u (6 → 3), in double */
static inline void w4_gt(double g[3], const double u[6])
{
    g[0] = 0.5 * u[0] + (u[1] + u[2]) / 6.0 + 16.0 * u[3] / 15.0 + u[4] / 30.0;
    g[1] = (u[1] - u[2]) / 6.0 + 8.0 * u[3] / 15.0 - u[4] / 15.0;
    g[2] = (u[1] + u[2]) / 6.0 + 4.0 * u[3] / 15.0 + 2.0 * u[4] / 15.0 + 0.5 * u[5];
}

/* (o0..o5) = B^T (x0..x5) */
#define W4_BT(o0, o1, o2, o3, o4, o5, x0, x1, x2, x3, x4, x5)                                \
    do {                                                                                     \
        (o0) = 2.0f * ((x0) + (x4)) - 3.0f * ((x1) - (x3)) - 4.0f * (x2);                    \
        (o1) = 2.0f * ((x4) - (x1)) + (x2) + 5.0f * (x3);                                    \
        (o2) = -2.0f * ((x1) + (x4)) + 5.0f * (x2) - (x3);                                   \
        (o3) = 2.0f * ((x1) - (x3)) + (x2) - (x4);                                           \
        (o4) = 2.0f * ((x4) - (x2)) + (x1) - (x3);                                           \
        (o5) = 2.0f * ((x1) + (x5)) - 3.0f * ((x2) - (x4)) - 4.0f * (x3);                    \
    } while (0)

/* (o0..o3) = A^T (x0..x5) */
#define W4_AT(o0, o1, o2, o3, x0, x1, x2, x3, x4, x5)                                        \
    do {                                                                                     \
        const float s_ = (x1) + (x2), d_ = (x1) - (x2);                                      \
        (o0) = (x0) + s_ + (x3) + (x4);                                                      \
        (o1) = d_ + 0.5f * (x3) - 2.0f * (x4);                                               \
        (o2) = s_ + 0.25f * (x3) + 4.0f * (x4);                                              \
        (o3) = d_ + 0.125f * (x3) - 8.0f * (x4) + (x5);                                      \
    } while (0)

/* (o0..o5) = A (x0..x3) */
#define W4_A(o0, o1, o2, o3, o4, o5, x0, x1, x2, x3)                                         \
    do {                                                                                     \
        (o0) = (x0);                                                                         \
        (o1) = ((x0) + (x2)) + ((x1) + (x3));                                                \
        (o2) = ((x0) + (x2)) - ((x1) + (x3));                                                \
        (o3) = (x0) + 0.5f * (x1) + 0.25f * (x2) + 0.125f * (x3);                            \
        (o4) = (x0) - 2.0f * (x1) + 4.0f * (x2) - 8.0f * (x3);                               \
        (o5) = (x3);                                                                         \
    } while (0)

/* U[ξ][k][c] = (G g G^T)_ξ for g = w[k][c] (rotated 180° with a->rot: the
 * input gradient), rows k in [lo, hi) */
static void w4_weights_rows(void *p, size_t lo, size_t hi)
{
    const WinoArgs *a = p;
    const int C = a->S;
    const size_t RS = a->xs;
    for (size_t k = lo; k < hi; k++)
        for (int c = 0; c < C; c++) {
            const float *w = a->src + (k * C + (size_t)c) * 9;
            double g[9], t[6][3], u[6];
            for (int i = 0; i < 9; i++) g[i] = w[a->rot ? 8 - i : i];
            double col[6];
            for (int j = 0; j < 3; j++) {
                w4_g(col, g[j], g[3 + j], g[6 + j]);
                for (int i = 0; i < 6; i++) t[i][j] = col[i];
            }
            float *o = a->dst + k * C + c;
            for (int i = 0; i < 6; i++) {
                w4_g(u, t[i][0], t[i][1], t[i][2]);
                for (int j = 0; j < 6; j++) o[(size_t)(6 * i + j) * RS] = (float)u[j];
            }
        }
}

/* dW[k][c] = G^T dU[k][c] G; items = k */
static void w4_dweights_k(void *p, size_t lo, size_t hi)
{
    const WinoArgs *a = p;
    const int C = a->S;
    const size_t RS = a->xs;
    for (size_t k = lo; k < hi; k++)
        for (int c = 0; c < C; c++) {
            const float *s = a->src + k * C + c;
            double u[6][6], t[3][6], col[6], g[3];
            for (int x = 0; x < 36; x++) u[x / 6][x % 6] = s[(size_t)x * RS];
            for (int j = 0; j < 6; j++) {
                for (int i = 0; i < 6; i++) col[i] = u[i][j];
                w4_gt(g, col);
                for (int r = 0; r < 3; r++) t[r][j] = g[r];
            }
            float *dw = a->dst + (k * C + c) * 9;
            for (int r = 0; r < 3; r++) {
                w4_gt(g, t[r]);
                for (int q = 0; q < 3; q++) dw[3 * r + q] = (float)g[q];
            }
        }
}

/* Position of tile t (numbered across the chunk's samples): sample n, top-left
 * output pixel (h, w). */
typedef struct W4Pos {
    int n, th, tw;
} W4Pos;

static inline void w4_next(W4Pos *q, int TH, int TW)
{
    if (++q->tw == TW) {
        q->tw = 0;
        if (++q->th == TH) {
            q->th = 0;
            q->n++;
        }
    }
}

static inline W4Pos w4_pos(size_t t, int TH, int TW)
{
    const size_t T1 = (size_t)TH * TW, r = t % T1;
    return (W4Pos){(int)(t / T1), (int)(r / TW), (int)(r % TW)};
}

/* V[ξ][c][t] = (B^T d B)_ξ for the 6×6 input patch d of tile t; items = c */
static void w4_input_c(void *p, size_t lo, size_t hi)
{
    const WinoArgs *a = p;
    const Conv2d *c = a->c;
    const int H = c->in_h, W = c->in_w, TH = (c->out_h + 3) / 4, TW = (c->out_w + 3) / 4;
    const size_t hw = (size_t)H * W, CT = a->xs;
    float d[36][W4_BLK], tb[36][W4_BLK];
    for (size_t ci = lo; ci < hi; ci++) {
        const float *xc = a->src + (ci * a->B + a->n0) * hw;
        float *v = a->dst + ci * a->T;
        for (size_t t0 = 0; t0 < a->T; t0 += W4_BLK) {
            const int nb = (int)LQA_MIN((size_t)W4_BLK, a->T - t0);
            W4Pos q = w4_pos(t0, TH, TW);
            for (int j = 0; j < nb; j++, w4_next(&q, TH, TW)) {
                const float *pl = xc + (size_t)q.n * hw;
                const int h0 = 4 * q.th - 1, w0 = 4 * q.tw - 1;
                if (h0 >= 0 && h0 + 6 <= H && w0 >= 0 && w0 + 6 <= W) {
                    for (int r = 0; r < 6; r++)
                        for (int s = 0; s < 6; s++)
                            d[6 * r + s][j] = pl[(size_t)(h0 + r) * W + w0 + s];
                } else {
                    for (int r = 0; r < 6; r++) {
                        const int ih = h0 + r;
                        for (int s = 0; s < 6; s++) {
                            const int iw = w0 + s;
                            d[6 * r + s][j] = (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                                  ? pl[(size_t)ih * W + iw]
                                                  : 0.0f;
                        }
                    }
                }
            }
            /* t = B^T d by columns s (t[r][s] in tb[6r + s]), then V = t B by rows r;
             * loops over the block's tiles j, which vectorise */
            for (int s = 0; s < 6; s++)
                for (int j = 0; j < nb; j++)
                    W4_BT(tb[s][j], tb[6 + s][j], tb[12 + s][j], tb[18 + s][j], tb[24 + s][j],
                          tb[30 + s][j], d[s][j], d[6 + s][j], d[12 + s][j], d[18 + s][j],
                          d[24 + s][j], d[30 + s][j]);
            for (int r = 0; r < 6; r++) {
                float *o = v + t0 + (size_t)(6 * r) * CT;
                float *restrict o0 = o, *restrict o1 = o + CT, *restrict o2 = o + 2 * CT,
                                *restrict o3 = o + 3 * CT, *restrict o4 = o + 4 * CT,
                                *restrict o5 = o + 5 * CT;
                LQA_IVDEP
                for (int j = 0; j < nb; j++)
                    W4_BT(o0[j], o1[j], o2[j], o3[j], o4[j], o5[j], tb[6 * r][j],
                          tb[6 * r + 1][j], tb[6 * r + 2][j], tb[6 * r + 3][j], tb[6 * r + 4][j],
                          tb[6 * r + 5][j]);
            }
        }
    }
}

/* y[k] tiles = A^T M A (+ bias, += when accumulating); items = k */
static void w4_output_k(void *p, size_t lo, size_t hi)
{
    const WinoArgs *a = p;
    const Conv2d *c = a->c;
    const int OH = c->out_h, OW = c->out_w, TH = (OH + 3) / 4, TW = (OW + 3) / 4;
    const size_t ohw = (size_t)OH * OW, KT = a->xs;
    float y[16][W4_BLK], tb[24][W4_BLK];
    for (size_t k = lo; k < hi; k++) {
        const float bias = a->bias ? a->bias[k] : 0.0f;
        float *yk = a->dst + (k * a->B + a->n0) * ohw;
        const float *mk = a->src + k * a->T;
        for (size_t t0 = 0; t0 < a->T; t0 += W4_BLK) {
            const int nb = (int)LQA_MIN((size_t)W4_BLK, a->T - t0);
            /* t = A^T M by columns s (t[r][s] in tb[6r + s]), then y = t A by rows r */
            const float *mo = mk + t0;
            for (int s = 0; s < 6; s++) {
                const float *ms = mo + (size_t)s * KT;
                for (int j = 0; j < nb; j++)
                    W4_AT(tb[s][j], tb[6 + s][j], tb[12 + s][j], tb[18 + s][j], ms[j],
                          ms[6 * KT + j], ms[12 * KT + j], ms[18 * KT + j], ms[24 * KT + j],
                          ms[30 * KT + j]);
            }
            for (int r = 0; r < 4; r++) {
                for (int j = 0; j < nb; j++) {
                    W4_AT(y[4 * r][j], y[4 * r + 1][j], y[4 * r + 2][j], y[4 * r + 3][j],
                          tb[6 * r][j], tb[6 * r + 1][j], tb[6 * r + 2][j], tb[6 * r + 3][j],
                          tb[6 * r + 4][j], tb[6 * r + 5][j]);
                    for (int s = 0; s < 4; s++) y[4 * r + s][j] += bias;
                }
            }
            W4Pos q = w4_pos(t0, TH, TW);
            for (int j = 0; j < nb; j++, w4_next(&q, TH, TW)) {
                float *pl = yk + (size_t)q.n * ohw;
                const int h0 = 4 * q.th, w0 = 4 * q.tw;
                const int nr = LQA_MIN(4, OH - h0), ns = LQA_MIN(4, OW - w0);
                for (int r = 0; r < nr; r++) {
                    float *yr = pl + (size_t)(h0 + r) * OW + w0;
                    if (a->accumulate)
                        for (int s = 0; s < ns; s++) yr[s] += y[4 * r + s][j];
                    else
                        for (int s = 0; s < ns; s++) yr[s] = y[4 * r + s][j];
                }
            }
        }
    }
}

/* dM[ξ][k][t] = (A dY A^T)_ξ for the 4×4 output-gradient tile t; items = k */
static void w4_doutput_k(void *p, size_t lo, size_t hi)
{
    const WinoArgs *a = p;
    const Conv2d *c = a->c;
    const int OH = c->out_h, OW = c->out_w, TH = (OH + 3) / 4, TW = (OW + 3) / 4;
    const size_t ohw = (size_t)OH * OW, KT = a->xs;
    float g[16][W4_BLK], tb[24][W4_BLK];
    for (size_t k = lo; k < hi; k++) {
        const float *gk = a->src + (k * a->B + a->n0) * ohw;
        float *mk = a->dst + k * a->T;
        for (size_t t0 = 0; t0 < a->T; t0 += W4_BLK) {
            const int nb = (int)LQA_MIN((size_t)W4_BLK, a->T - t0);
            W4Pos q = w4_pos(t0, TH, TW);
            for (int j = 0; j < nb; j++, w4_next(&q, TH, TW)) {
                const float *pl = gk + (size_t)q.n * ohw;
                const int h0 = 4 * q.th, w0 = 4 * q.tw;
                if (h0 + 4 <= OH && w0 + 4 <= OW) {
                    for (int r = 0; r < 4; r++)
                        for (int s = 0; s < 4; s++)
                            g[4 * r + s][j] = pl[(size_t)(h0 + r) * OW + w0 + s];
                } else {
                    for (int r = 0; r < 4; r++)
                        for (int s = 0; s < 4; s++)
                            g[4 * r + s][j] = (h0 + r < OH && w0 + s < OW)
                                                  ? pl[(size_t)(h0 + r) * OW + w0 + s]
                                                  : 0.0f;
                }
            }
            /* t = A g by columns s (t[r][s] in tb[4r + s]), then dM = t A^T by rows r */
            for (int s = 0; s < 4; s++)
                for (int j = 0; j < nb; j++)
                    W4_A(tb[s][j], tb[4 + s][j], tb[8 + s][j], tb[12 + s][j], tb[16 + s][j],
                         tb[20 + s][j], g[s][j], g[4 + s][j], g[8 + s][j], g[12 + s][j]);
            for (int r = 0; r < 6; r++) {
                float *o = mk + t0 + (size_t)(6 * r) * KT;
                float *restrict o0 = o, *restrict o1 = o + KT, *restrict o2 = o + 2 * KT,
                                *restrict o3 = o + 3 * KT, *restrict o4 = o + 4 * KT,
                                *restrict o5 = o + 5 * KT;
                LQA_IVDEP
                for (int j = 0; j < nb; j++)
                    W4_A(o0[j], o1[j], o2[j], o3[j], o4[j], o5[j], tb[4 * r][j],
                         tb[4 * r + 1][j], tb[4 * r + 2][j], tb[4 * r + 3][j]);
            }
        }
    }
}

const WinoKernels wino_f4_kernels = {
    .m = 4,
    .npos = 36,
    .perm = NULL,
    .weights = w4_weights_rows,
    .input = w4_input_c,
    .output = w4_output_k,
    .doutput = w4_doutput_k,
    .dweights = w4_dweights_k,
};

LQA_FP_CONTRACT_END
