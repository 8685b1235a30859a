/* conv_winograd2.c — the kernels of Winograd F(2×2, 3×3), the default
 * variant; the drivers in conv_winograd.c run them (the opt-in F(4×4, 3×3):
 * conv_winograd4.c).
 *
 * 3×3, stride-1, pad-1 convolutions with ≥ 16 channels each side (ResNet-18's
 * bulk) use Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", CVPR 2016): each 2×2 output
 * tile is A^T [Σ_c (G g G^T) ⊙ (B^T d B)] A over its 4×4 input patch d, so the
 * work becomes 16 GEMMs U_ξ[K][C]·V_ξ[C][tiles] with 16/36 of the
 * multiplications of the direct form, and no 9×-expanded im2col matrix. The
 * input gradient is the same algorithm on dY with flipped, transposed weights;
 * the weight gradient is dg = G^T (Σ_tiles (A dY A^T) ⊙ V) G, again 16 GEMMs.
 * Rounding: the transforms use only ±1 and ±½, and measured agreement with
 * PyTorch stays at float32 level (tests/torch_models_check.py). */
#include "common.h"
#include "conv_internal.h"

LQA_FP_CONTRACT_BEGIN /* FMA contraction for the kernels below (simd.h) */

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

/* The four zero-padded input rows of tile row th, split into even and odd
 * columns: patch column q of tile tw is padded column 2tw + q, i.e. e[tw],
 * o[tw], e[tw + 1], o[tw + 1] (unit-stride loads for the vectoriser) */
static inline void wino_split_rows(float e[4][WINO_MAXW / 2 + 4], float o[4][WINO_MAXW / 2 + 4],
                                   const float *plane, int th, int H, int W, int TW)
{
    for (int r = 0; r < 4; r++) {
        const int ih = 2 * th - 1 + r;
        /* padded column 2j is x[2j − 1] (even), 2j + 1 is x[2j] (odd) */
        int je = 0, jo = 0;
        if (ih >= 0 && ih < H) {
            const float *xr = plane + (size_t)ih * W;
            je = LQA_MIN(TW, W / 2);
            jo = LQA_MIN(TW + 1, (W + 1) / 2);
            for (int j = 1; j <= je; j++) e[r][j] = xr[2 * j - 1];
            for (int j = 0; j < jo; j++) o[r][j] = xr[2 * j];
        }
        e[r][0] = 0.0f;
        for (int j = je + 1; j <= TW; j++) e[r][j] = 0.0f;
        for (int j = jo; j <= TW; j++) o[r][j] = 0.0f;
    }
}

/* wino_input_c for planes whose width is a multiple of 16 (ResNet-18's 32 and
 * 16): 16 tiles at a time straight from the input rows, their even and odd
 * columns split by shuffles in registers; the same arithmetic as the general
 * path below, so the same bits. Twice as fast on 32×32 planes (measured). */
static void wino_input_c16(const WinoArgs *a, size_t lo, size_t hi)
{
    const Conv2d *c = a->c;
    const int H = c->in_h, W = c->in_w, TH = (c->out_h + 1) / 2, TW = (c->out_w + 1) / 2;
    const size_t hw = (size_t)H * W, CT = a->xs;
    const v16i EVEN = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    const v16i ODD = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    const v16i SHR = {16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    const v16i SHL = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const v16 Z = {0};
    for (size_t ci = lo; ci < hi; ci++)
        for (int n = 0; n < a->m; n++) {
            const float *plane = a->src + (ci * a->B + a->n0 + n) * hw;
            float *v = a->dst + ci * a->T + (size_t)n * TH * TW;
            for (int th = 0; th < TH; th++)
                for (int q = 0; 16 * q < TW; q++) {
                    const int c0 = 32 * q, nt = LQA_MIN(16, TW - 16 * q);
                    /* row r of the patches: padded column 2tw + {0, 1, 2, 3} of tile
                     * tw = 16q + lane is E0, D0, E1, D1 (padded column p is x[p − 1]) */
                    v16 E0[4], D0[4], E1[4], D1[4];
                    for (int r = 0; r < 4; r++) {
                        const int ih = 2 * th - 1 + r;
                        if (ih < 0 || ih >= H) {
                            E0[r] = D0[r] = E1[r] = D1[r] = Z;
                            continue;
                        }
                        const float *xr = plane + (size_t)ih * W + c0;
                        const v16 X0 = v16_load(xr), X1 = c0 + 16 < W ? v16_load(xr + 16) : Z;
                        const float left = c0 > 0 ? xr[-1] : 0.0f, right = c0 + 32 < W ? xr[32] : 0.0f;
                        const v16 L = Z + left, R = Z + right;
                        E1[r] = v16_shuffle2(X0, X1, ODD);
                        D0[r] = v16_shuffle2(X0, X1, EVEN);
                        E0[r] = v16_shuffle2(E1[r], L, SHR);
                        D1[r] = v16_shuffle2(D0[r], R, SHL);
                    }
                    const v16 a0 = E0[0] - E0[2], a1 = D0[0] - D0[2], a2 = E1[0] - E1[2],
                              a3 = D1[0] - D1[2];
                    const v16 b0 = E0[1] + E0[2], b1 = D0[1] + D0[2], b2 = E1[1] + E1[2],
                              b3 = D1[1] + D1[2];
                    const v16 c0v = E0[2] - E0[1], c1 = D0[2] - D0[1], c2 = E1[2] - E1[1],
                              c3 = D1[2] - D1[1];
                    const v16 f0 = E0[1] - E0[3], f1 = D0[1] - D0[3], f2 = E1[1] - E1[3],
                              f3 = D1[1] - D1[3];
                    const v16 out[16] = {a0 - a2,  a1 + a2,  a2 - a1,  a1 - a3, b0 - b2, b1 + b2,
                                         b2 - b1,  b1 - b3,  c0v - c2, c1 + c2, c2 - c1, c1 - c3,
                                         f0 - f2,  f1 + f2,  f2 - f1,  f1 - f3};
                    float *o = v + (size_t)th * TW + 16 * q;
                    for (int x = 0; x < 16; x++) v16_store(o + (size_t)x * CT, out[x], nt);
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
    if (c->in_w % 16 == 0 && c->out_w == c->in_w) {
        wino_input_c16(a, lo, hi);
        return;
    }
    const int H = c->in_h, W = c->in_w, TH = (c->out_h + 1) / 2, TW = (c->out_w + 1) / 2;
    const size_t hw = (size_t)H * W, CT = a->xs;
    /* two sets of row buffers (wino_split_rows): the rows of tile row th + 1
     * are split while those of th are read */
    float ev[2][4][WINO_MAXW / 2 + 4], od[2][4][WINO_MAXW / 2 + 4];
    for (size_t ci = lo; ci < hi; ci++)
        for (int n = 0; n < a->m; n++) {
            const float *plane = a->src + (ci * a->B + a->n0 + n) * hw;
            float *v = a->dst + ci * a->T + (size_t)n * TH * TW;
            wino_split_rows(ev[0], od[0], plane, 0, H, W, TW);
            for (int th = 0; th < TH; th++) {
                if (th + 1 < TH)
                    wino_split_rows(ev[(th + 1) & 1], od[(th + 1) & 1], plane, th + 1, H, W, TW);
                const int b = th & 1;
                const float *e0 = ev[b][0], *e1 = ev[b][1], *e2 = ev[b][2], *e3 = ev[b][3];
                const float *d0 = od[b][0], *d1 = od[b][1], *d2 = od[b][2], *d3 = od[b][3];
                /* straight into the 16 matrices (ivdep: they do not overlap) */
                float *o = v + (size_t)th * TW;
                float *restrict o0 = o, *restrict o1 = o + CT, *restrict o2 = o + 2 * CT,
                                *restrict o3 = o + 3 * CT, *restrict o4 = o + 4 * CT,
                                *restrict o5 = o + 5 * CT, *restrict o6 = o + 6 * CT,
                                *restrict o7 = o + 7 * CT, *restrict o8 = o + 8 * CT,
                                *restrict o9 = o + 9 * CT, *restrict o10 = o + 10 * CT,
                                *restrict o11 = o + 11 * CT, *restrict o12 = o + 12 * CT,
                                *restrict o13 = o + 13 * CT, *restrict o14 = o + 14 * CT,
                                *restrict o15 = o + 15 * CT;
                LQA_IVDEP
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
                    o0[tw] = a0 - a2, o1[tw] = a1 + a2, o2[tw] = a2 - a1, o3[tw] = a1 - a3;
                    o4[tw] = b0 - b2, o5[tw] = b1 + b2, o6[tw] = b2 - b1, o7[tw] = b1 - b3;
                    o8[tw] = c0 - c2, o9[tw] = c1 + c2, o10[tw] = c2 - c1, o11[tw] = c1 - c3;
                    o12[tw] = f0 - f2, o13[tw] = f1 + f2, o14[tw] = f2 - f1, o15[tw] = f1 - f3;
                }
            }
        }
}

/* wino_output_k for widths that are multiples of 16: 16 tiles a vector, the
 * two columns of each tile interleaved into the output rows by shuffles; same
 * arithmetic, same bits. A vector may read up to 8 tiles past the last of
 * M_ξ: those are the next rows' or the gap after the matrix (WINO_GAP ≥ 16,
 * never written), and the lanes they give are never stored. */
static void wino_output_k16(const WinoArgs *a, size_t lo, size_t hi)
{
    const Conv2d *c = a->c;
    const int OH = c->out_h, OW = c->out_w, TH = OH / 2, TW = OW / 2;
    const size_t ohw = (size_t)OH * OW, KT = a->xs;
    const v16i LO = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
    const v16i HI = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    for (size_t k = lo; k < hi; k++) {
        const float bias = a->bias ? a->bias[k] : 0.0f;
        for (int n = 0; n < a->m; n++) {
            float *plane = a->dst + (k * a->B + a->n0 + n) * ohw;
            const float *mk = a->src + k * a->T + (size_t)n * TH * TW;
            for (int th = 0; th < TH; th++)
                for (int q = 0; 16 * q < TW; q++) {
                    const int nt = LQA_MIN(16, TW - 16 * q);
                    const float *o = mk + (size_t)th * TW + 16 * q;
                    v16 m[16];
                    for (int x = 0; x < 16; x++) m[x] = v16_load(o + (size_t)x * KT);
                    v16 t[2][4];
                    for (int j = 0; j < 4; j++) {
                        t[0][j] = m[j] + m[4 + j] + m[8 + j];
                        t[1][j] = m[4 + j] - m[8 + j] - m[12 + j];
                    }
                    for (int r = 0; r < 2; r++) {
                        const v16 y0 = t[r][0] + t[r][1] + t[r][2] + bias;
                        const v16 y1 = t[r][1] - t[r][2] - t[r][3] + bias;
                        v16 h[2] = {v16_shuffle2(y0, y1, LO), v16_shuffle2(y0, y1, HI)};
                        float *yr = plane + (size_t)(2 * th + r) * OW + 32 * q;
                        for (int i = 0; i < 2 && 16 * i < 2 * nt; i++) {
                            if (a->accumulate) h[i] = v16_load(yr + 16 * i) + h[i];
                            v16_store(yr + 16 * i, h[i], 16);
                        }
                    }
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
    if (c->out_w % 16 == 0 && c->out_h % 2 == 0) {
        wino_output_k16(a, lo, hi);
        return;
    }
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

/* wino_doutput_k for widths that are multiples of 16 (even heights): 16 tiles
 * a vector, even and odd columns split by shuffles; same arithmetic, same bits */
static void wino_doutput_k16(const WinoArgs *a, size_t lo, size_t hi)
{
    const Conv2d *c = a->c;
    const int OH = c->out_h, OW = c->out_w, TH = OH / 2, TW = OW / 2;
    const size_t ohw = (size_t)OH * OW, KT = a->xs;
    const v16i EVEN = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    const v16i ODD = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    const v16 Z = {0};
    for (size_t k = lo; k < hi; k++)
        for (int n = 0; n < a->m; n++) {
            const float *plane = a->src + (k * a->B + a->n0 + n) * ohw;
            float *mk = a->dst + k * a->T + (size_t)n * TH * TW;
            for (int th = 0; th < TH; th++)
                for (int q = 0; 16 * q < TW; q++) {
                    const int nt = LQA_MIN(16, TW - 16 * q);
                    v16 g[2], h[2]; /* even / odd columns of rows 2th (g) and 2th + 1 (h) */
                    for (int r = 0; r < 2; r++) {
                        const float *gr = plane + (size_t)(2 * th + r) * OW + 32 * q;
                        const v16 X0 = v16_load(gr), X1 = 32 * q + 16 < OW ? v16_load(gr + 16) : Z;
                        (r ? h : g)[0] = v16_shuffle2(X0, X1, EVEN);
                        (r ? h : g)[1] = v16_shuffle2(X0, X1, ODD);
                    }
                    const v16 t00 = g[0], t01 = g[1], t10 = g[0] + h[0], t11 = g[1] + h[1];
                    const v16 t20 = g[0] - h[0], t21 = g[1] - h[1], t30 = -h[0], t31 = -h[1];
                    const v16 out[16] = {t00, t00 + t01, t00 - t01, -t01, t10, t10 + t11,
                                         t10 - t11, -t11, t20, t20 + t21, t20 - t21, -t21,
                                         t30, t30 + t31, t30 - t31, -t31};
                    float *o = mk + (size_t)th * TW + 16 * q;
                    for (int x = 0; x < 16; x++) v16_store(o + (size_t)x * KT, out[x], nt);
                }
        }
}

/* dM[ξ][k][t] = (A dY A^T)_ξ for the 2×2 output-gradient tile t; items = k */
static void wino_doutput_k(void *p, size_t lo, size_t hi)
{
    const WinoArgs *a = p;
    const Conv2d *c = a->c;
    if (c->out_w % 16 == 0 && c->out_h % 2 == 0) {
        wino_doutput_k16(a, lo, hi);
        return;
    }
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

static const int wino_f2_perm[4] = {3, 1, 2, 0};

const WinoKernels wino_f2_kernels = {
    .m = 2,
    .npos = 16,
    .perm = wino_f2_perm,
    .weights = wino_weights_rows,
    .input = wino_input_c,
    .output = wino_output_k,
    .doutput = wino_doutput_k,
    .dweights = wino_dweights_k,
};

LQA_FP_CONTRACT_END
