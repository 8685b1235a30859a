/* conv.c — convolution (im2col + sgemm), pooling, batch norm, residual add,
 * global average pooling, all in the channel-major layout x[C][B][H][W]
 * (see conv.h for why). Batch-norm semantics follow PyTorch's BatchNorm2d
 * (https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html). */
#include "conv.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "common.h"

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

/* floats of one sample's im2col matrix */
static size_t col_per_sample(const Conv2d *c)
{
    return (size_t)c->in_c * c->kh * c->kw * c->out_h * c->out_w;
}

size_t conv2d_ws_floats(const Conv2d *c, int B, size_t cap_floats)
{
    if (conv_is_pointwise(c)) return 0;
    size_t one = col_per_sample(c), all = one * (size_t)B;
    size_t want = all < cap_floats ? all : cap_floats;
    return want > one ? want : one;
}

/* Samples per chunk that fit the workspace. */
static int conv_chunk(const Conv2d *c, int B, size_t ws_floats)
{
    size_t one = col_per_sample(c);
    LQA_CHECK(ws_floats >= one);
    size_t nb = ws_floats / one;
    return nb >= (size_t)B ? B : (int)nb;
}

/* Output columns [lo, hi) whose input column ow·s − pad + kj lies in [0, W). */
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

/* col[(ci·kh+ki)·kw+kj][n·OHOW + oh·OW + ow] = x[ci][n0+n][oh·s−p+ki][ow·s−p+kj]
 * (zero outside), for n in [0, nb). x has plane stride given by B. */
static void im2col(float *col, const float *x, const Conv2d *c, int B, int n0, int nb)
{
    const int H = c->in_h, W = c->in_w, OH = c->out_h, OW = c->out_w, s = c->stride,
              p = c->pad;
    const size_t ohw = (size_t)OH * OW, ld = ohw * nb, hw = (size_t)H * W;
    for (int ci = 0; ci < c->in_c; ci++) {
        const float *xc = x + ((size_t)ci * B + n0) * hw;
        for (int ki = 0; ki < c->kh; ki++) {
            int oh_lo, oh_hi;
            valid_range(&oh_lo, &oh_hi, OH, H, s, p, ki);
            for (int kj = 0; kj < c->kw; kj++) {
                int ow_lo, ow_hi;
                valid_range(&ow_lo, &ow_hi, OW, W, s, p, kj);
                float *row = col + ((size_t)(ci * c->kh + ki) * c->kw + kj) * ld;
                for (int n = 0; n < nb; n++) {
                    const float *xp = xc + (size_t)n * hw;
                    float *o = row + (size_t)n * ohw;
                    if (oh_lo > 0) memset(o, 0, sizeof(float) * (size_t)oh_lo * OW);
                    for (int oh = oh_lo; oh < oh_hi; oh++) {
                        float *orow = o + (size_t)oh * OW;
                        const float *xr = xp + (size_t)(oh * s - p + ki) * W;
                        const int off = kj - p; /* input column = ow·s + off */
                        for (int ow = 0; ow < ow_lo; ow++) orow[ow] = 0.0f;
                        if (s == 1) {
                            memcpy(orow + ow_lo, xr + ow_lo + off,
                                   sizeof(float) * (size_t)(ow_hi - ow_lo));
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
    }
}

/* Inverse of im2col: dx[ci][n0+n][..] += col[..] (dx pre-zeroed by the caller
 * or holding values to accumulate onto). Deterministic fixed order. */
static void col2im(float *dx, const float *col, const Conv2d *c, int B, int n0, int nb)
{
    const int H = c->in_h, W = c->in_w, OH = c->out_h, OW = c->out_w, s = c->stride,
              p = c->pad;
    const size_t ohw = (size_t)OH * OW, ld = ohw * nb, hw = (size_t)H * W;
    for (int ci = 0; ci < c->in_c; ci++) {
        float *xc = dx + ((size_t)ci * B + n0) * hw;
        for (int ki = 0; ki < c->kh; ki++) {
            int oh_lo, oh_hi;
            valid_range(&oh_lo, &oh_hi, OH, H, s, p, ki);
            for (int kj = 0; kj < c->kw; kj++) {
                int ow_lo, ow_hi;
                valid_range(&ow_lo, &ow_hi, OW, W, s, p, kj);
                const float *row = col + ((size_t)(ci * c->kh + ki) * c->kw + kj) * ld;
                for (int n = 0; n < nb; n++) {
                    float *xp = xc + (size_t)n * hw;
                    const float *o = row + (size_t)n * ohw;
                    for (int oh = oh_lo; oh < oh_hi; oh++) {
                        const float *orow = o + (size_t)oh * OW;
                        float *xr = xp + (size_t)(oh * s - p + ki) * W;
                        const int off = kj - p;
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

void conv2d_forward(const Conv2d *c, float *y, const float *x, const float *w, const float *b,
                    int B, float *ws, size_t ws_floats)
{
    const int K = c->out_c, CKK = c->in_c * c->kh * c->kw;
    const size_t ohw = (size_t)c->out_h * c->out_w, ldy = ohw * B;
    float beta = 0.0f;
    if (b) {
        for (int k = 0; k < K; k++) {
            float *yk = y + (size_t)k * ldy, bk = b[k];
            for (size_t i = 0; i < ldy; i++) yk[i] = bk;
        }
        beta = 1.0f;
    }
    if (conv_is_pointwise(c)) {
        /* Y[K][B·HW] = W[K][C] · X[C][B·HW] */
        blas_sgemm(false, false, K, (int)ldy, CKK, 1.0f, w, CKK, x, (int)ldy, beta, y, (int)ldy);
        return;
    }
    int nb = conv_chunk(c, B, ws_floats);
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
    const int K = c->out_c, CKK = c->in_c * c->kh * c->kw;
    const size_t ohw = (size_t)c->out_h * c->out_w, ldy = ohw * B;
    if (db) {
        for (int k = 0; k < K; k++) {
            const float *g = dy + (size_t)k * ldy;
            double s = 0.0;
            for (size_t i = 0; i < ldy; i++) s += g[i];
            db[k] = (float)s;
        }
    }
    if (conv_is_pointwise(c)) {
        /* dW[K][C] = dY[K][B·HW] · X[C][B·HW]ᵀ;  dX[C][B·HW] (+)= Wᵀ · dY */
        if (dw) blas_sgemm(false, true, K, CKK, (int)ldy, 1.0f, dy, (int)ldy, x, (int)ldy, 0.0f, dw, CKK);
        if (dx)
            blas_sgemm(true, false, CKK, (int)ldy, K, 1.0f, w, CKK, dy, (int)ldy,
                       dx_accumulate ? 1.0f : 0.0f, dx, (int)ldy);
        return;
    }
    if (!dw && !dx) return;
    const size_t hw = (size_t)c->in_h * c->in_w;
    int nb = conv_chunk(c, B, ws_floats);
    for (int n0 = 0; n0 < B; n0 += nb) {
        int m = LQA_MIN(nb, B - n0);
        int ncol = (int)(m * ohw);
        const float *dyc = dy + n0 * ohw;
        if (dw) {
            im2col(ws, x, c, B, n0, m);
            blas_sgemm(false, true, K, CKK, ncol, 1.0f, dyc, (int)ldy, ws, ncol,
                       n0 == 0 ? 0.0f : 1.0f, dw, CKK);
        }
        if (dx) {
            /* dcol[CKK][m·OHOW] = Wᵀ · dY_chunk, then scatter-add into dx */
            blas_sgemm(true, false, CKK, ncol, K, 1.0f, w, CKK, dyc, (int)ldy, 0.0f, ws, ncol);
            if (!dx_accumulate)
                for (int ci = 0; ci < c->in_c; ci++)
                    memset(dx + ((size_t)ci * B + n0) * hw, 0, sizeof(float) * hw * m);
            col2im(dx, ws, c, B, n0, m);
        }
    }
}

/* ---- pooling ------------------------------------------------------------ */

void maxpool2_forward(float *y, uint8_t *idx, const float *x, int planes, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    for (int p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * H * W;
        float *yp = y + (size_t)p * OH * OW;
        uint8_t *ip = idx ? idx + (size_t)p * OH * OW : NULL;
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = xp + (size_t)(2 * oh) * W, *r1 = r0 + W;
            for (int ow = 0; ow < OW; ow++) {
                float v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
                int a = 0;
                for (int k = 1; k < 4; k++)
                    if (v[k] > v[a] || (v[k] != v[k] && v[a] == v[a])) a = k; /* NaN wins */
                yp[oh * OW + ow] = v[a];
                if (ip) ip[oh * OW + ow] = (uint8_t)a;
            }
        }
    }
}

void maxpool2_backward(float *dx, const float *dy, const uint8_t *idx, int planes, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    memset(dx, 0, sizeof(float) * (size_t)planes * H * W);
    for (int p = 0; p < planes; p++) {
        float *xp = dx + (size_t)p * H * W;
        const float *gp = dy + (size_t)p * OH * OW;
        const uint8_t *ip = idx + (size_t)p * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int a = ip[oh * OW + ow];
                xp[(size_t)(2 * oh + (a >> 1)) * W + 2 * ow + (a & 1)] = gp[oh * OW + ow];
            }
    }
}

void avgpool2_forward(float *y, const float *x, int planes, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    for (int p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * H * W;
        float *yp = y + (size_t)p * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = xp + (size_t)(2 * oh) * W, *r1 = r0 + W;
            for (int ow = 0; ow < OW; ow++)
                yp[oh * OW + ow] =
                    ((r0[2 * ow] + r0[2 * ow + 1]) + (r1[2 * ow] + r1[2 * ow + 1])) * 0.25f;
        }
    }
}

void avgpool2_backward(float *dx, const float *dy, int planes, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    if ((H & 1) || (W & 1)) memset(dx, 0, sizeof(float) * (size_t)planes * H * W);
    for (int p = 0; p < planes; p++) {
        float *xp = dx + (size_t)p * H * W;
        const float *gp = dy + (size_t)p * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            float *r0 = xp + (size_t)(2 * oh) * W, *r1 = r0 + W;
            for (int ow = 0; ow < OW; ow++) {
                float g = gp[oh * OW + ow] * 0.25f;
                r0[2 * ow] = r0[2 * ow + 1] = r1[2 * ow] = r1[2 * ow + 1] = g;
            }
        }
    }
}

/* ---- batch norm --------------------------------------------------------- */

void bn2d_batch_stats(float *mean, float *var, float *invstd, const float *x, int C, int B,
                      int HW)
{
    const size_t N = (size_t)B * HW;
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * N;
        /* shifted sums (shift = first value) keep the one-pass variance exact
         * enough in double even when |mean| ≫ std */
        const double k = xc[0];
        double s0 = 0, s1 = 0, q0 = 0, q1 = 0;
        size_t i = 0;
        for (; i + 2 <= N; i += 2) {
            double d0 = xc[i] - k, d1 = xc[i + 1] - k;
            s0 += d0;
            q0 += d0 * d0;
            s1 += d1;
            q1 += d1 * d1;
        }
        for (; i < N; i++) {
            double d = xc[i] - k;
            s0 += d;
            q0 += d * d;
        }
        double s = (s0 + s1) / (double)N, q = (q0 + q1) / (double)N;
        double v = q - s * s;
        if (v < 0) v = 0;
        mean[c] = (float)(k + s);
        if (var) var[c] = (float)v;
        if (invstd) invstd[c] = (float)(1.0 / sqrt(v + BN_EPS));
    }
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

void bn2d_apply(float *y, const float *x, const float *mean, const float *invstd,
                const float *gamma, const float *beta, const float *res, bool relu, int C, int B,
                int HW)
{
    const size_t N = (size_t)B * HW;
    for (int c = 0; c < C; c++) {
        /* y = (x − mean)·a + β with a = γ·invstd */
        const float a = gamma[c] * invstd[c], mu = mean[c], bb = beta[c];
        const float *xc = x + (size_t)c * N;
        float *yc = y + (size_t)c * N;
        if (res) {
            const float *rc = res + (size_t)c * N;
            if (relu)
                for (size_t i = 0; i < N; i++) {
                    float v = (xc[i] - mu) * a + bb + rc[i];
                    yc[i] = v > 0.0f ? v : 0.0f;
                }
            else
                for (size_t i = 0; i < N; i++) yc[i] = (xc[i] - mu) * a + bb + rc[i];
        } else if (relu) {
            for (size_t i = 0; i < N; i++) {
                float v = (xc[i] - mu) * a + bb;
                yc[i] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (size_t i = 0; i < N; i++) yc[i] = (xc[i] - mu) * a + bb;
        }
    }
}

void bn2d_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *relu_y,
                   const float *x, const float *mean, const float *invstd, const float *gamma,
                   int C, int B, int HW)
{
    const size_t N = (size_t)B * HW;
    for (int c = 0; c < C; c++) {
        const float *g = dy + (size_t)c * N, *xc = x + (size_t)c * N;
        const float *ry = relu_y ? relu_y + (size_t)c * N : NULL;
        const float mu = mean[c], is = invstd[c];
        /* Σg and Σg·(x−μ), in double */
        double sg0 = 0, sg1 = 0, sx0 = 0, sx1 = 0;
        size_t i = 0;
        if (ry) {
            for (; i < N; i++) {
                double gi = ry[i] > 0.0f ? g[i] : 0.0f;
                sg0 += gi;
                sx0 += gi * (double)(xc[i] - mu);
            }
        } else {
            for (; i + 2 <= N; i += 2) {
                sg0 += g[i];
                sx0 += (double)g[i] * (double)(xc[i] - mu);
                sg1 += g[i + 1];
                sx1 += (double)g[i + 1] * (double)(xc[i + 1] - mu);
            }
            for (; i < N; i++) {
                sg0 += g[i];
                sx0 += (double)g[i] * (double)(xc[i] - mu);
            }
        }
        double sg = sg0 + sg1, sgx = (sx0 + sx1) * is; /* Σ g·x̂ */
        if (dbeta) dbeta[c] = (float)sg;
        if (dgamma) dgamma[c] = (float)sgx;
        if (!dx) continue;
        /* dx = γ·is·(g − Σg/N − x̂·Σgx̂/N), x̂ = (x−μ)·is */
        const float k1 = gamma[c] * is, mg = (float)(sg / (double)N),
                    kx = (float)(sgx / (double)N) * is;
        float *dxc = dx + (size_t)c * N;
        if (ry)
            for (i = 0; i < N; i++) {
                float gi = ry[i] > 0.0f ? g[i] : 0.0f;
                dxc[i] = k1 * (gi - mg - (xc[i] - mu) * kx);
            }
        else
            for (i = 0; i < N; i++) dxc[i] = k1 * (g[i] - mg - (xc[i] - mu) * kx);
    }
}

/* ---- residual add, global average pooling, layouts ---------------------- */

void residual_add_forward(float *y, const float *a, const float *b, bool relu, size_t n)
{
    if (relu)
        for (size_t i = 0; i < n; i++) {
            float v = a[i] + b[i];
            y[i] = v > 0.0f ? v : 0.0f;
        }
    else
        for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void residual_add_backward(float *da, bool accumulate, const float *dy, size_t n)
{
    if (accumulate)
        for (size_t i = 0; i < n; i++) da[i] += dy[i];
    else if (da != dy)
        memcpy(da, dy, sizeof(float) * n);
}

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

void nchw_to_cnhw(float *dst, const float *src, int B, int C, int HW)
{
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++)
            memcpy(dst + ((size_t)c * B + n) * HW, src + ((size_t)n * C + c) * HW,
                   sizeof(float) * (size_t)HW);
}

void cnhw_to_nchw(float *dst, const float *src, int C, int B, int HW)
{
    for (int c = 0; c < C; c++)
        for (int n = 0; n < B; n++)
            memcpy(dst + ((size_t)n * C + c) * HW, src + ((size_t)c * B + n) * HW,
                   sizeof(float) * (size_t)HW);
}
