/* bn_pool.c — the non-convolution layers of conv.h, in the channel-major
 * layout x[C][B][H][W]: ReLU and residual add, pooling 2×2, batch norm
 * (PyTorch's BatchNorm2d semantics,
 * https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html), global
 * average pooling, layout conversion. While a gate tape is installed
 * (gate_tape.c) the non-smooth choices go through the tape instead. Loops run
 * on the worker pool of parallel.h, each output computed in a fixed order by one thread (see
 * conv.c's top comment). */
#include <math.h>
#include <string.h>

#include "common.h"
#include "conv_internal.h"
#include "parallel.h"

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
    if (gate_tape_active()) {
        if (y != x) memcpy(y, x, n * sizeof(float));
        gate_tape_relu(y, n);
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
    if (relu && gate_tape_active()) {
        add_range(&e, 0, n);
        gate_tape_relu(y, n);
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

/* ---- pooling ------------------------------------------------------------ */

typedef struct PoolArgs {
    float *y;
    const float *x;
    uint8_t *idx;
    const uint8_t *cidx;
    int H, W;
    const float *x_end; /* maxpool2_forward: end of the input */
} PoolArgs;

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
static void maxpool_row(float *yr, uint8_t *ir, const float *r0, const float *r1, int OW, int W,
                        bool over)
{
    for (int o0 = 0; o0 < OW; o0 += 16) {
        const int n = LQA_MIN(16, OW - o0), cols = LQA_MIN(32, W - 2 * o0);
        v16 t0, t1, b0, b1;
        if (over) { /* may read 32 columns whatever the row's width (see maxpool_planes) */
            t0 = v16_load(r0 + 2 * o0), t1 = v16_load(r0 + 2 * o0 + 16);
            b0 = v16_load(r1 + 2 * o0), b1 = v16_load(r1 + 2 * o0 + 16);
        } else {
            float t[32] = {0}, b[32] = {0};
            memcpy(t, r0 + 2 * o0, sizeof(float) * (size_t)cols);
            memcpy(b, r1 + 2 * o0, sizeof(float) * (size_t)cols);
            t0 = v16_load(t), t1 = v16_load(t + 16), b0 = v16_load(b), b1 = v16_load(b + 16);
        }
        const v16 v0 = SHUF_EVEN(t0, t1), v1 = SHUF_ODD(t0, t1);
        const v16 v2 = SHUF_EVEN(b0, b1), v3 = SHUF_ODD(b0, b1);
        /* the first maximum of each window in row-major order (PyTorch's choice;
         * NaN wins over numbers), as masks: later > first, or later NaN and
         * first not (gate_tape.c's pick_later) */
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
        if (over && n == 16) {
            memcpy(yr + o0, out, 64);
        } else {
            for (int j = 0; j < n; j++) yr[o0 + j] = out[j];
        }
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
            /* whole 32-column loads may run past the row (lanes whose outputs are
             * dropped) while they stay inside the input */
            const bool over = r1 + 2 * OW + 32 <= a->x_end;
            for (int o0 = 0; o0 < OW; o0 += 512) { /* idx NULL: choices to scratch */
                const int len = LQA_MIN(512, OW - o0);
                uint8_t *ir = a->idx ? a->idx + (pl * OH + oh) * OW + o0 : scratch;
                maxpool_row(yr + o0, ir, r0 + 2 * o0, r1 + 2 * o0, len, W - 2 * o0, over);
            }
        }
    }
}

void maxpool2_forward(float *y, uint8_t *idx, const float *x, int planes, int H, int W)
{
    PoolArgs a = {y, x, idx, NULL, H, W, x + (size_t)planes * H * W};
    if (gate_tape_active()) {
        gate_tape_maxpool(y, idx, x, planes, H, W);
        return;
    }
    par_for((size_t)planes, (size_t)planes * H * W, maxpool_planes, &a);
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
    PoolArgs a = {.y = dx, .x = dy, .cidx = idx, .H = H, .W = W};
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
    PoolArgs a = {.y = y, .x = x, .H = H, .W = W};
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
    PoolArgs a = {.y = dx, .x = dy, .H = H, .W = W};
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
        double s = lanes_sum(sl, BN_LANES) / (double)N, q = lanes_sum(ql, BN_LANES) / (double)N;
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
                .beta = beta, .relu = relu && !gate_tape_active(), .N = (size_t)B * HW};
    par_for((size_t)C, (size_t)C * a.N, bn_apply_channels, &a);
    if (relu && gate_tape_active()) gate_tape_relu(y, (size_t)C * a.N);
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
        double sg = lanes_sum(gl, BN_LANES), sgx = lanes_sum(xl, BN_LANES) * is; /* Σ g·x̂ */
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
