/* test_conv.c — the convolutional layers (src/nn/conv.h) and the models lenet5,
 * cnn2, resnet18: forward against direct loops, finite-difference gradients,
 * parameter counts, batch-norm running statistics, and the probe/eval
 * contracts of model.h, and that the parallel loops of conv.h's layers give the
 * same bits on any thread count.
 *
 * Finite differences. Every check differentiates a scalar loss that ends in
 * softmax cross-entropy (a layer composition → flatten → fixed random linear
 * head → softmax_xent, or a whole model through its PROBE forward), computed
 * in float32 with the loss accumulated in double. For a coordinate v_i the
 * loss is evaluated at v_i + t, t ∈ {−h, −h/2, +h/2, +h} (the representable
 * steps), and the estimate is Richardson's (4·D(h/2) − D(h))/3 of the central
 * differences D, whose truncation error is O(h⁴).
 *
 * ReLU and max-pool switches. A switch between v−h and v+h makes the loss
 * non-differentiable there, and in these networks it is the rule, not the
 * exception: a stem weight of the toy ResNet moves thousands of BN-coupled
 * ReLU inputs, and some cross zero within ±h of most points at any step h
 * that float32 rounding allows (measured: skipping switched points left
 * almost no early-layer point to check; a third-difference screen let
 * estimates 6% off through). So the checks are done on the frozen network: the
 * forward at v records every gate choice (each ReLU's on/off, each max-pool
 * argmax) on a tape (conv.h, gate tape), and the perturbed forwards replay it.
 * The frozen network is smooth in the parameters, equals the real one at v
 * and has the same gradient there, so no point has to be skipped; each line
 * also reports at how many points a switch would have occurred within ±h.
 *
 * Steps and tolerances |fd − g| ≤ atol + rtol·|g|, set from measurements
 * over 32 seeds of this file's random draws (LQA_TEST_SEED=n re-runs with
 * another seed):
 *   layers, compositions   h = 1e-2, atol 2e-4 (4e-4 for the composition),
 *     rtol 4e-3: float32 rounding of O(1) logits (≈ 1.5e-7 in the loss) alone
 *     gives ≈ 3·1.5e-7/h ≈ 5e-5; BN over 3–12 values is strongly curved;
 *     worst measured 0.52 of the tolerance;
 *   lenet5 / cnn2          h = 1e-2, atol 1e-5, rtol 2e-3 (logits ≈ 0.1, so
 *     10× less rounding); worst measured 0.34 of the tolerance (with the
 *     ResNet below);
 *   resnet18 (width 4, 3×8×8, batch 8)   h = 3e-3, atol 1e-3, rtol 1e-2:
 *     batch norm over as few as 8 values makes the frozen loss strongly
 *     curved and gradients reach |g| ≈ 10, so a smaller step (less
 *     truncation) with a looser tolerance. (At batch 4 some draws give
 *     |g| ≈ 13 and 3% disagreement: too degenerate to be a useful check.)
 * A gradient bug (a missing term, a wrong index, a wrong mask) is an O(|g|)
 * error and fails these by far. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "common.h"
#include "conv.h"
#include "parallel.h"
#include "layers.h"
#include "model.h"
#include "rng.h"
#include "test.h"


static void fill(float *p, size_t n, float lo, float hi, Rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = rng_uniform(r, lo, hi);
}

static float *falloc(size_t n)
{
    float *p = lqa_alloc(n * sizeof(float), NULL);
    LQA_CHECK(p != NULL);
    return p;
}

/* ---- finite differences -------------------------------------------------- */

/* step and tolerance |fd − g| ≤ atol + rtol·|g| of one check */
typedef struct FdTol {
    double h, atol, rtol;
} FdTol;

typedef struct Fd {
    double (*loss)(void *ctx); /* loss at the current values */
    void *ctx;
    FdTol tol;
    bool gated; /* has ReLUs / max-pools: evaluate with the gate tape frozen at v */
} Fd;

static const FdTol LAYER_TOL = {1e-2, 2e-4, 4e-3};
static const FdTol COMP_TOL = {1e-2, 4e-4, 4e-3};
static const FdTol LENET_TOL = {1e-2, 1e-5, 2e-3};
static const FdTol RESNET_TOL = {3e-3, 1e-3, 1e-2};

static double fd_worst_layers, fd_worst_models; /* max |fd−g| / (atol + rtol|g|) */
static int fd_switch_points, fd_points;         /* points where a gate switched within ±h */

enum { TAPE_CAP = 1 << 22 };
static uint8_t tape_ref_bits[TAPE_CAP], tape_alt_bits[TAPE_CAP];

/* loss with the gates replayed from `ref` (or recorded into it) */
static double fd_eval(const Fd *fd, GateTape *ref, GateMode mode)
{
    if (!fd->gated) return fd->loss(fd->ctx);
    ref->mode = mode;
    gate_tape_set(ref);
    double L = fd->loss(fd->ctx);
    gate_tape_set(NULL);
    LQA_CHECK(!ref->overflow && (mode == GATE_RECORD || ref->pos == ref->len));
    return L;
}

/* Check g against finite differences of fd->loss w.r.t. v (n values) at npts
 * coordinates (all when n ≤ npts); returns the number of points checked. */
static int fd_check(const Fd *fd, const char *what, float *v, const float *g, size_t n, int npts,
                    Rng *r, bool model)
{
    const double h = fd->tol.h;
    GateTape ref = {.bits = tape_ref_bits, .cap = TAPE_CAP};
    GateTape alt = {.bits = tape_alt_bits, .cap = TAPE_CAP};
    const double L0 = fd_eval(fd, &ref, GATE_RECORD);
    int checked = 0, failed = 0, switched = 0;
    double worst = 0.0, rel_tol[512];
    const size_t total = n <= (size_t)npts ? n : (size_t)npts;
    for (size_t k = 0; k < total; k++) {
        size_t i = n <= (size_t)npts ? k : (size_t)rng_below(r, n);
        /* sampling: prefer coordinates with a nonzero gradient (dead ReLUs make
         * many zero, which finite differences confirm trivially) */
        for (int tries = 0; n > (size_t)npts && g[i] == 0.0f && tries < 20; tries++)
            i = (size_t)rng_below(r, n);
        const float v0 = v[i];
        const double ts[5] = {-h, -h / 2, 0, h / 2, h};
        double L[5], t[5];
        bool sw = false;
        for (int j = 0; j < 5; j++) {
            if (j == 2) {
                L[2] = L0, t[2] = 0.0;
                continue;
            }
            v[i] = (float)(v0 + ts[j]);
            t[j] = (double)v[i] - (double)v0;
            L[j] = fd_eval(fd, &ref, GATE_REPLAY);
            if (fd->gated && (j == 0 || j == 4)) { /* diagnostic: would a gate switch? */
                fd_eval(fd, &alt, GATE_RECORD);
                sw |= alt.len != ref.len || memcmp(alt.bits, ref.bits, ref.len) != 0;
            }
        }
        v[i] = v0;
        switched += sw;
        /* Richardson: (4·D(h/2) − D(h))/3 cancels the h² term of the central differences */
        const double d1 = (L[4] - L[0]) / (t[4] - t[0]), d2 = (L[3] - L[1]) / (t[3] - t[1]);
        const double est = (4.0 * d2 - d1) / 3.0, gi = g[i];
        const double tol = fd->tol.atol + fd->tol.rtol * fabs(gi), err = fabs(est - gi);
        if (checked < 512) rel_tol[checked] = gi != 0.0 ? tol / fabs(gi) : INFINITY;
        checked++;
        if (err / tol > worst) worst = err / tol;
        if (err > tol && ++failed <= 5)
            fprintf(stderr, "  %s[%zu]: fd %.8g analytic %.8g (|diff| %.3g > tol %.3g)\n", what, i,
                    est, gi, err, tol);
    }
    T_CHECK(failed == 0, "%s: %d of %d finite-difference points out of tolerance", what, failed,
            checked);
    /* median of tolerance/|g|: how sharp the check was */
    int nm = LQA_MIN(checked, 512);
    for (int a = 1; a < nm; a++)
        for (int b = a; b > 0 && rel_tol[b - 1] > rel_tol[b]; b--) {
            double tmp = rel_tol[b];
            rel_tol[b] = rel_tol[b - 1];
            rel_tol[b - 1] = tmp;
        }
    printf("  fd %-40s %4d points (%3d with a switch in ±h)  worst %.3f of tol, median "
           "tol/|g| %.2g\n", what, checked, switched, worst, nm ? rel_tol[nm / 2] : 0.0);
    double *w = model ? &fd_worst_models : &fd_worst_layers;
    if (worst > *w) *w = worst;
    fd_switch_points += switched;
    fd_points += checked;
    return checked;
}

/* ---- a fixed softmax cross-entropy head on a channel-major tensor --------- */

typedef struct Head {
    int C, B, HW, K;
    float *W, *b, *flat, *logits, *probs, *dlog, *dflat;
    int *y;
} Head;

static void head_init(Head *hd, int C, int B, int HW, int K, Rng *r)
{
    hd->C = C, hd->B = B, hd->HW = HW, hd->K = K;
    size_t F = (size_t)C * HW;
    hd->W = falloc(F * K);
    hd->b = falloc(K);
    hd->flat = falloc(F * B);
    hd->dflat = falloc(F * B);
    hd->logits = falloc((size_t)B * K);
    hd->probs = falloc((size_t)B * K);
    hd->dlog = falloc((size_t)B * K);
    hd->y = malloc(sizeof(int) * B);
    fill(hd->W, F * K, -1.0f / sqrtf((float)F) * 3, 3 / sqrtf((float)F), r);
    fill(hd->b, K, -0.1f, 0.1f, r);
    for (int i = 0; i < B; i++) hd->y[i] = (int)rng_below(r, K);
}

static void head_free(Head *hd)
{
    lqa_free(hd->W), lqa_free(hd->b), lqa_free(hd->flat), lqa_free(hd->dflat);
    lqa_free(hd->logits), lqa_free(hd->probs), lqa_free(hd->dlog);
    free(hd->y);
}

/* t[C][B][HW] → flatten (PyTorch order) → linear → softmax xent */
static double head_forward(Head *hd, const float *t)
{
    cnhw_to_nchw(hd->flat, t, hd->C, hd->B, hd->HW);
    int F = hd->C * hd->HW;
    linear_forward(hd->logits, hd->flat, hd->W, hd->b, hd->B, F, hd->K);
    return softmax_xent_forward(hd->probs, hd->logits, hd->y, hd->B, hd->K, NULL);
}

static void head_backward(Head *hd, float *dt)
{
    int F = hd->C * hd->HW;
    softmax_xent_backward(hd->dlog, hd->probs, hd->y, hd->B, hd->K);
    linear_backward(hd->dflat, NULL, NULL, hd->dlog, hd->flat, hd->W, hd->B, F, hd->K);
    nchw_to_cnhw(dt, hd->dflat, hd->B, hd->C, hd->HW);
}

/* ---- convolution ---------------------------------------------------------- */

/* direct convolution in double, channel-major x and y */
static void conv_ref(double *y, const Conv2d *c, const float *x, const float *w, const float *b,
                     int B)
{
    for (int k = 0; k < c->out_c; k++)
        for (int n = 0; n < B; n++)
            for (int oh = 0; oh < c->out_h; oh++)
                for (int ow = 0; ow < c->out_w; ow++) {
                    double s = b ? b[k] : 0.0;
                    for (int ci = 0; ci < c->in_c; ci++)
                        for (int i = 0; i < c->kh; i++)
                            for (int j = 0; j < c->kw; j++) {
                                int ih = oh * c->stride - c->pad + i, iw = ow * c->stride - c->pad + j;
                                if (ih < 0 || ih >= c->in_h || iw < 0 || iw >= c->in_w) continue;
                                s += (double)w[((k * c->in_c + ci) * c->kh + i) * c->kw + j] *
                                     x[(((size_t)ci * B + n) * c->in_h + ih) * c->in_w + iw];
                            }
                    y[(((size_t)k * B + n) * c->out_h + oh) * c->out_w + ow] = s;
                }
}

/* dx = ∂(Σ y·dy)/∂x and dw likewise, in double by the same direct loops */
static void conv_ref_grad(double *dx, double *dw, const Conv2d *c, const float *x,
                          const float *w, const float *dy, int B)
{
    const size_t nx = (size_t)c->in_c * B * c->in_h * c->in_w;
    memset(dx, 0, sizeof(double) * nx);
    memset(dw, 0, sizeof(double) * conv2d_n_weights(c));
    for (int k = 0; k < c->out_c; k++)
        for (int n = 0; n < B; n++)
            for (int oh = 0; oh < c->out_h; oh++)
                for (int ow = 0; ow < c->out_w; ow++) {
                    const double g = dy[(((size_t)k * B + n) * c->out_h + oh) * c->out_w + ow];
                    for (int ci = 0; ci < c->in_c; ci++)
                        for (int i = 0; i < c->kh; i++)
                            for (int j = 0; j < c->kw; j++) {
                                int ih = oh * c->stride - c->pad + i, iw = ow * c->stride - c->pad + j;
                                if (ih < 0 || ih >= c->in_h || iw < 0 || iw >= c->in_w) continue;
                                const size_t wi = ((size_t)(k * c->in_c + ci) * c->kh + i) * c->kw + j;
                                const size_t xi = (((size_t)ci * B + n) * c->in_h + ih) * c->in_w + iw;
                                dw[wi] += g * x[xi];
                                dx[xi] += g * w[wi];
                            }
                }
}

/* max|a − ref| / max|ref| */
static double rel_err(const float *a, const double *ref, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs(a[i] - ref[i]));
        m = fmax(m, fabs(ref[i]));
    }
    return m > 0 ? e / m : e;
}

typedef struct ConvCase {
    Conv2d c;
    int B;
    bool bias;
    float *x, *w, *b, *y, *ws, *dx, *dw, *db, *dy;
    size_t ws_n;
    Head hd;
} ConvCase;

static double conv_loss(void *p)
{
    ConvCase *cc = p;
    conv2d_forward(&cc->c, cc->y, cc->x, cc->w, cc->bias ? cc->b : NULL, cc->B, cc->ws, cc->ws_n);
    return head_forward(&cc->hd, cc->y);
}

/* set around test_conv_case calls: the cases then ask for Winograd F(4×4, 3×3) */
static bool g_wino4;

static void test_conv_case(Rng *r, int C, int H, int W, int K, int kh, int kw, int stride, int pad,
                           bool bias, int B, bool small_ws)
{
    char name[96];
    snprintf(name, sizeof name, "conv %dx%dx%d→%d k%dx%d s%d p%d%s%s%s", C, H, W, K, kh, kw,
             stride, pad, bias ? " bias" : "", small_ws ? " chunked" : "",
             g_wino4 ? " wino4" : "");
    ConvCase cc = {.B = B, .bias = bias};
    conv2d_setup(&cc.c, C, H, W, K, kh, kw, stride, pad);
    cc.c.wino4 = g_wino4;
    const Conv2d *c = &cc.c;
    size_t nx = (size_t)C * B * H * W, ny = (size_t)K * B * c->out_h * c->out_w;
    size_t nw = conv2d_n_weights(c);
    /* small_ws: one sample's im2col (chunks of 1); else the whole batch */
    cc.ws_n = conv2d_ws_floats(c, small_ws ? 1 : B, (size_t)1 << 30);
    cc.x = falloc(nx), cc.dx = falloc(nx), cc.y = falloc(ny), cc.dy = falloc(ny);
    cc.w = falloc(nw), cc.dw = falloc(nw), cc.b = falloc(K), cc.db = falloc(K);
    cc.ws = falloc(cc.ws_n + 1);
    fill(cc.x, nx, -1, 1, r);
    fill(cc.w, nw, -0.5f, 0.5f, r);
    fill(cc.b, K, -0.5f, 0.5f, r);
    head_init(&cc.hd, K, B, c->out_h * c->out_w, 5, r);

    /* forward against the direct loop */
    double *ref = malloc(sizeof(double) * ny);
    conv_ref(ref, c, cc.x, cc.w, bias ? cc.b : NULL, B);
    conv2d_forward(c, cc.y, cc.x, cc.w, bias ? cc.b : NULL, B, cc.ws, cc.ws_n);
    double maxerr = 0, maxref = 0;
    for (size_t i = 0; i < ny; i++) {
        maxerr = fmax(maxerr, fabs(cc.y[i] - ref[i]));
        maxref = fmax(maxref, fabs(ref[i]));
    }
    /* F(4×4, 3×3): the documented max relative error is 2–3e-6 (conv_winograd4.c) */
    const double tol = g_wino4 ? 5e-6 * maxref : 1e-5;
    T_CHECK(maxerr < tol, "%s: forward differs from the direct loop by %g (tol %g)", name, maxerr,
            tol);
    free(ref);
    if (g_wino4) { /* F(4×4) runs on planes of 8×8 and up, F(2×2) (other rounding) below */
        float *y2 = falloc(ny);
        cc.c.wino4 = false;
        conv2d_forward(c, y2, cc.x, cc.w, bias ? cc.b : NULL, B, cc.ws, cc.ws_n);
        cc.c.wino4 = true;
        const bool same = memcmp(y2, cc.y, sizeof(float) * ny) == 0, f4 = H >= 8 && W >= 8;
        T_CHECK(same != f4, "%s: F(4×4, 3×3) %s but the outputs are %s", name,
                f4 ? "expected" : "not expected", same ? "those of F(2×2)" : "not F(2×2)'s");
        lqa_free(y2);
    }

    /* analytic gradients */
    conv_loss(&cc);
    head_backward(&cc.hd, cc.dy);
    conv2d_backward(c, cc.dx, false, cc.dw, bias ? cc.db : NULL, cc.dy, cc.x, cc.w, B, cc.ws,
                    cc.ws_n);
    /* dx_accumulate adds onto what is there */
    float *acc = falloc(nx);
    for (size_t i = 0; i < nx; i++) acc[i] = 0.25f * (float)(i % 7);
    conv2d_backward(c, acc, true, NULL, NULL, cc.dy, cc.x, cc.w, B, cc.ws, cc.ws_n);
    double accerr = 0;
    for (size_t i = 0; i < nx; i++)
        accerr = fmax(accerr, fabs(acc[i] - (0.25f * (float)(i % 7) + cc.dx[i])));
    T_CHECK(accerr < 1e-6, "%s: dx_accumulate error %g", name, accerr);
    lqa_free(acc);

    if (g_wino4) {
        /* F(4×4, 3×3)'s rounding (~2e-6 of the output) divided by the step h = 1e-2 is
         * as large as the finite differences' absolute tolerance: against the gradients
         * of the direct loops in double instead */
        double *rdx = malloc(sizeof(double) * nx), *rdw = malloc(sizeof(double) * nw);
        conv_ref_grad(rdx, rdw, c, cc.x, cc.w, cc.dy, B);
        const double ex = rel_err(cc.dx, rdx, nx), ew = rel_err(cc.dw, rdw, nw);
        T_CHECK(ex < 1e-5 && ew < 1e-5, "%s: dx %g, dW %g relative to the direct loops", name, ex,
                ew);
        printf("  %s: max relative error dx %.1e, dW %.1e\n", name, ex, ew);
        free(rdx);
        free(rdw);
    } else {
        Fd fd = {conv_loss, &cc, LAYER_TOL, false};
        char what[128];
        snprintf(what, sizeof what, "%s dW", name);
        fd_check(&fd, what, cc.w, cc.dw, nw, 40, r, false);
        if (bias) {
            snprintf(what, sizeof what, "%s db", name);
            fd_check(&fd, what, cc.b, cc.db, K, 40, r, false);
        }
        snprintf(what, sizeof what, "%s dx", name);
        fd_check(&fd, what, cc.x, cc.dx, nx, 40, r, false);
    }

    head_free(&cc.hd);
    float *bufs[] = {cc.x, cc.dx, cc.y, cc.dy, cc.w, cc.dw, cc.b, cc.db, cc.ws};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) lqa_free(bufs[i]);
}

/* ---- pooling ---------------------------------------------------------------- */

typedef struct PoolCase {
    bool max;
    int planes, H, W, C, B;
    float *x, *y, *dx, *dy;
    uint8_t *idx;
    Head hd;
} PoolCase;

static double pool_loss(void *p)
{
    PoolCase *pc = p;
    if (pc->max) maxpool2_forward(pc->y, pc->idx, pc->x, pc->planes, pc->H, pc->W);
    else avgpool2_forward(pc->y, pc->x, pc->planes, pc->H, pc->W);
    return head_forward(&pc->hd, pc->y);
}

static void test_pool(Rng *r, bool max, int C, int B, int H, int W)
{
    PoolCase pc = {.max = max, .planes = C * B, .H = H, .W = W, .C = C, .B = B};
    int OH = H / 2, OW = W / 2;
    size_t nx = (size_t)C * B * H * W, ny = (size_t)C * B * OH * OW;
    pc.x = falloc(nx), pc.dx = falloc(nx), pc.y = falloc(ny), pc.dy = falloc(ny);
    pc.idx = lqa_alloc(ny, NULL);
    fill(pc.x, nx, -1, 1, r);
    head_init(&pc.hd, C, B, OH * OW, 4, r);
    char name[64];
    snprintf(name, sizeof name, "%s %dx%d", max ? "maxpool2" : "avgpool2", H, W);
    /* forward against the direct definition */
    pool_loss(&pc);
    double maxerr = 0;
    for (int p = 0; p < pc.planes; p++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                const float *q = pc.x + (size_t)p * H * W + (size_t)(2 * oh) * W + 2 * ow;
                float v[4] = {q[0], q[1], q[W], q[W + 1]};
                double e = max ? fmax(fmax(v[0], v[1]), fmax(v[2], v[3]))
                               : 0.25 * ((double)v[0] + v[1] + v[2] + v[3]);
                maxerr = fmax(maxerr, fabs(pc.y[((size_t)p * OH + oh) * OW + ow] - e));
            }
    T_CHECK(maxerr < 1e-6, "%s: forward error %g", name, maxerr);
    head_backward(&pc.hd, pc.dy);
    if (max) maxpool2_backward(pc.dx, pc.dy, pc.idx, pc.planes, H, W);
    else avgpool2_backward(pc.dx, pc.dy, pc.planes, H, W);
    Fd fd = {pool_loss, &pc, LAYER_TOL, max};
    char what[80];
    snprintf(what, sizeof what, "%s dx", name);
    /* every input, so the floor-dropped last row/column is covered (gradient 0) */
    fd_check(&fd, what, pc.x, pc.dx, nx, (int)nx, r, false);
    head_free(&pc.hd);
    lqa_free(pc.x), lqa_free(pc.dx), lqa_free(pc.y), lqa_free(pc.dy), lqa_free(pc.idx);
}

/* ties pick the first maximum (row-major), a NaN wins and propagates — as
 * PyTorch; checked against a sequential scan on data full of ties */
static void test_maxpool_ties(Rng *r)
{
    enum { P = 5, H = 8, W = 38, OH = H / 2, OW = W / 2 };
    float x[P * H * W], y[P * OH * OW];
    uint8_t idx[P * OH * OW];
    for (int i = 0; i < P * H * W; i++) x[i] = (float)rng_below(r, 3);
    for (int i = 0; i < 12; i++) x[rng_below(r, P * H * W)] = NAN;
    maxpool2_forward(y, idx, x, P, H, W);
    int bad = 0;
    for (int p = 0; p < P; p++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                const float *q = x + (size_t)p * H * W + (size_t)(2 * oh) * W + 2 * ow;
                float v[4] = {q[0], q[1], q[W], q[W + 1]};
                int m = 0;
                for (int k = 1; k < 4; k++)
                    if (v[k] > v[m] || (isnan(v[k]) && !isnan(v[m]))) m = k;
                int o = (p * OH + oh) * OW + ow;
                bool same = idx[o] == m && (isnan(v[m]) ? isnan(y[o]) : y[o] == v[m]);
                bad += !same;
            }
    T_CHECK(bad == 0, "maxpool2: %d windows differ from the first-maximum / NaN rule", bad);
}

/* ---- batch norm (+ residual + ReLU), residual add, global average pool --------- */

typedef struct BnCase {
    int C, B, HW;
    bool relu, res;
    float *x, *r, *y, *gamma, *beta, *mean, *var, *invstd;
    float *dx, *dr, *dy, *dgamma, *dbeta;
    Head hd;
} BnCase;

static double bn_loss(void *p)
{
    BnCase *bc = p;
    bn2d_batch_stats(bc->mean, bc->var, bc->invstd, bc->x, bc->C, bc->B, bc->HW);
    bn2d_apply(bc->y, bc->x, bc->mean, bc->invstd, bc->gamma, bc->beta, bc->res ? bc->r : NULL,
               bc->relu, bc->C, bc->B, bc->HW);
    return head_forward(&bc->hd, bc->y);
}

static void test_bn(Rng *r, int C, int B, int HW, bool relu, bool res)
{
    BnCase bc = {.C = C, .B = B, .HW = HW, .relu = relu, .res = res};
    size_t n = (size_t)C * B * HW;
    bc.x = falloc(n), bc.r = falloc(n), bc.y = falloc(n), bc.dx = falloc(n), bc.dr = falloc(n);
    bc.dy = falloc(n);
    bc.gamma = falloc(C), bc.beta = falloc(C), bc.mean = falloc(C), bc.var = falloc(C);
    bc.invstd = falloc(C), bc.dgamma = falloc(C), bc.dbeta = falloc(C);
    /* channels with different offsets and scales */
    for (int c = 0; c < C; c++) {
        float off = rng_uniform(r, -2, 2), sc = rng_uniform(r, 0.3f, 2.0f);
        for (size_t i = 0; i < (size_t)B * HW; i++)
            bc.x[(size_t)c * B * HW + i] = off + sc * rng_uniform(r, -1, 1);
    }
    fill(bc.r, n, -1, 1, r);
    fill(bc.gamma, C, 0.5f, 1.5f, r);
    fill(bc.beta, C, -0.5f, 0.5f, r);
    head_init(&bc.hd, C, B, HW, 4, r);
    char name[80];
    snprintf(name, sizeof name, "bn2d C%d N%d%s%s", C, B * HW, res ? " +res" : "",
             relu ? " +relu" : "");

    bn_loss(&bc);
    head_backward(&bc.hd, bc.dy);
    /* residual gradient = dy masked by the ReLU; BN gets the same mask via relu_y */
    if (res) {
        residual_add_backward(bc.dr, false, bc.dy, n);
        if (relu) relu_backward(bc.dr, bc.dr, bc.y, n);
    }
    bn2d_backward(bc.dx, bc.dgamma, bc.dbeta, bc.dy, relu ? bc.y : NULL, bc.x, bc.mean, bc.invstd,
                  bc.gamma, C, B, HW);
    Fd fd = {bn_loss, &bc, LAYER_TOL, relu};
    char what[128];
    snprintf(what, sizeof what, "%s dx", name);
    fd_check(&fd, what, bc.x, bc.dx, n, 60, r, false);
    snprintf(what, sizeof what, "%s dgamma", name);
    fd_check(&fd, what, bc.gamma, bc.dgamma, C, C, r, false);
    snprintf(what, sizeof what, "%s dbeta", name);
    fd_check(&fd, what, bc.beta, bc.dbeta, C, C, r, false);
    if (res) {
        snprintf(what, sizeof what, "%s dres", name);
        fd_check(&fd, what, bc.r, bc.dr, n, 40, r, false);
    }
    /* in-place backward (dx aliases dy) gives the same result */
    if (!relu) {
        float *g = falloc(n);
        bn_loss(&bc); /* the FD evaluations left the head at a perturbed point */
        head_backward(&bc.hd, g);
        bn2d_backward(g, NULL, NULL, g, NULL, bc.x, bc.mean, bc.invstd, bc.gamma, C, B, HW);
        T_CHECK(memcmp(g, bc.dx, n * sizeof(float)) == 0, "%s: in-place backward differs", name);
        lqa_free(g);
    }
    head_free(&bc.hd);
    float *bufs[] = {bc.x, bc.r, bc.y, bc.dx, bc.dr, bc.dy, bc.gamma, bc.beta, bc.mean, bc.var,
                     bc.invstd, bc.dgamma, bc.dbeta};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) lqa_free(bufs[i]);
}

/* batch statistics and the running update against double two-pass formulas */
static void test_bn_stats(Rng *r)
{
    enum { C = 3, B = 5, HW = 37 };
    const size_t N = (size_t)B * HW;
    float x[C * B * HW], mean[C], var[C], invstd[C], rm[C], rv[C];
    for (int c = 0; c < C; c++)
        for (size_t i = 0; i < N; i++) /* channel 2: |mean| ≫ std */
            x[c * N + i] = (c == 2 ? 1000.0f : (float)c) + rng_uniform(r, -1, 1) * (c + 1);
    bn2d_batch_stats(mean, var, invstd, x, C, B, HW);
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < N; i++) m += x[c * N + i];
        m /= N;
        for (size_t i = 0; i < N; i++) v += (x[c * N + i] - m) * (x[c * N + i] - m);
        double vb = v / N, vu = v / (N - 1);
        T_CLOSE(mean[c], m, 1e-6, 1e-6, "bn batch mean");
        T_CLOSE(var[c], vb, 1e-5, 1e-7, "bn biased batch variance");
        T_CLOSE(invstd[c], 1.0 / sqrt(vb + 1e-5), 1e-5, 0, "bn invstd (eps 1e-5)");
        rm[c] = 0.5f, rv[c] = 2.0f;
        bn2d_update_running(rm + c, rv + c, mean + c, var + c, 1, N);
        T_CLOSE(rm[c], 0.9 * 0.5 + 0.1 * m, 1e-6, 1e-6, "running_mean (momentum 0.1)");
        T_CLOSE(rv[c], 0.9 * 2.0 + 0.1 * vu, 1e-5, 1e-6, "running_var (unbiased, momentum 0.1)");
    }
}

typedef struct GapCase {
    int C, B, HW;
    float *x, *y, *dx, *dy, *W, *b, *logits, *probs, *dlog;
    int *lab;
} GapCase;

static double gap_loss(void *p)
{
    GapCase *g = p;
    gap_forward(g->y, g->x, g->C, g->B, g->HW);
    linear_forward(g->logits, g->y, g->W, g->b, g->B, g->C, 3);
    return softmax_xent_forward(g->probs, g->logits, g->lab, g->B, 3, NULL);
}

static void test_gap(Rng *r)
{
    enum { C = 4, B = 3, HW = 10 };
    GapCase g = {.C = C, .B = B, .HW = HW};
    float x[C * B * HW], y[B * C], dx[C * B * HW], dy[B * C], W[3 * C], b[3], lg[B * 3], pr[B * 3],
        dl[B * 3];
    int lab[B] = {0, 2, 1};
    g.x = x, g.y = y, g.dx = dx, g.dy = dy, g.W = W, g.b = b, g.logits = lg, g.probs = pr;
    g.dlog = dl, g.lab = lab;
    fill(x, C * B * HW, -1, 1, r);
    fill(W, 3 * C, -2, 2, r);
    fill(b, 3, -0.1f, 0.1f, r);
    gap_loss(&g);
    for (int c = 0; c < C; c++)
        for (int n = 0; n < B; n++) {
            double s = 0;
            for (int i = 0; i < HW; i++) s += x[(c * B + n) * HW + i];
            T_CLOSE(y[n * C + c], s / HW, 1e-6, 1e-7, "gap forward");
        }
    softmax_xent_backward(dl, pr, lab, B, 3);
    linear_backward(dy, NULL, NULL, dl, y, W, B, C, 3);
    gap_backward(dx, dy, C, B, HW);
    Fd fd = {gap_loss, &g, LAYER_TOL, false};
    fd_check(&fd, "global avgpool dx", x, dx, C * B * HW, 60, r, false);
}

/* conv → BN → ReLU → maxpool → conv(1×1, stride 2) → residual with avgpool of
 * the block input → head: the layers composed the way the models use them */
typedef struct CompCase {
    Conv2d c1, c2;
    int B;
    float *x, *w1, *w2, *g, *be, *a, *h, *p, *q, *sk, *o, *ws, *mean, *var, *inv;
    uint8_t *idx;
    size_t ws_n;
    Head hd;
} CompCase;

static double comp_loss(void *ptr)
{
    CompCase *k = ptr;
    const int B = k->B, C = k->c1.out_c, H = k->c1.out_h, W = k->c1.out_w;
    conv2d_forward(&k->c1, k->a, k->x, k->w1, NULL, B, k->ws, k->ws_n);
    bn2d_batch_stats(k->mean, k->var, k->inv, k->a, C, B, H * W);
    bn2d_apply(k->h, k->a, k->mean, k->inv, k->g, k->be, NULL, true, C, B, H * W);
    maxpool2_forward(k->p, k->idx, k->h, C * B, H, W);
    conv2d_forward(&k->c2, k->q, k->p, k->w2, NULL, B, k->ws, k->ws_n);
    /* skip path: avgpool2 of h then avgpool2 again → same size as q */
    float *tmp = k->o; /* o doubles as scratch for the first avgpool */
    avgpool2_forward(tmp, k->h, C * B, H, W);
    avgpool2_forward(k->sk, tmp, C * B, H / 2, W / 2);
    residual_add_forward(k->o, k->q, k->sk, true, (size_t)C * B * k->c2.out_h * k->c2.out_w);
    return head_forward(&k->hd, k->o);
}

static void test_composition(Rng *r)
{
    CompCase k = {.B = 2};
    const int B = 2, C = 4;
    conv2d_setup(&k.c1, 2, 8, 8, C, 3, 3, 1, 1);
    conv2d_setup(&k.c2, C, 4, 4, C, 1, 1, 2, 0);
    size_t nx = (size_t)2 * B * 64, nh = (size_t)C * B * 64, np = nh / 4, no = np / 4;
    k.ws_n = LQA_MAX(conv2d_ws_floats(&k.c1, B, 1 << 20), conv2d_ws_floats(&k.c2, B, 1 << 20));
    k.x = falloc(nx), k.w1 = falloc(conv2d_n_weights(&k.c1)), k.w2 = falloc(conv2d_n_weights(&k.c2));
    k.g = falloc(C), k.be = falloc(C), k.a = falloc(nh), k.h = falloc(nh), k.p = falloc(np);
    k.q = falloc(no), k.sk = falloc(no), k.o = falloc(np), k.ws = falloc(k.ws_n);
    k.mean = falloc(C), k.var = falloc(C), k.inv = falloc(C);
    k.idx = lqa_alloc(np, NULL);
    fill(k.x, nx, -1, 1, r);
    fill(k.w1, conv2d_n_weights(&k.c1), -0.4f, 0.4f, r);
    fill(k.w2, conv2d_n_weights(&k.c2), -0.8f, 0.8f, r);
    fill(k.g, C, 0.5f, 1.5f, r);
    fill(k.be, C, -0.3f, 0.3f, r);
    head_init(&k.hd, C, B, 4, 5, r);
    comp_loss(&k);
    /* backward, written out */
    float *dout = falloc(no), *dq = falloc(no), *dp = falloc(np), *dh = falloc(nh), *dt = falloc(np);
    float *da = falloc(nh), *dx = falloc(nx);
    float *dw1 = falloc(conv2d_n_weights(&k.c1)), *dw2 = falloc(conv2d_n_weights(&k.c2));
    float *dg = falloc(C), *db = falloc(C);
    head_backward(&k.hd, dout);
    relu_backward(dout, dout, k.o, no);
    residual_add_backward(dq, false, dout, no);
    conv2d_backward(&k.c2, dp, false, dw2, NULL, dq, k.p, k.w2, B, k.ws, k.ws_n);
    maxpool2_backward(dh, dp, k.idx, C * B, 8, 8);
    avgpool2_backward(dt, dout, C * B, 4, 4); /* skip path: d(first avgpool output) */
    float *dh2 = falloc(nh);
    avgpool2_backward(dh2, dt, C * B, 8, 8);
    residual_add_backward(dh, true, dh2, nh);
    bn2d_backward(da, dg, db, dh, k.h, k.a, k.mean, k.inv, k.g, C, B, 64);
    conv2d_backward(&k.c1, dx, false, dw1, NULL, da, k.x, k.w1, B, k.ws, k.ws_n);
    Fd fd = {comp_loss, &k, COMP_TOL, true};
    fd_check(&fd, "composition dx", k.x, dx, nx, 60, r, false);
    fd_check(&fd, "composition conv1 dW", k.w1, dw1, conv2d_n_weights(&k.c1), 40, r, false);
    fd_check(&fd, "composition conv2 dW", k.w2, dw2, conv2d_n_weights(&k.c2), 16, r, false);
    fd_check(&fd, "composition bn dgamma", k.g, dg, C, C, r, false);
    fd_check(&fd, "composition bn dbeta", k.be, db, C, C, r, false);
    head_free(&k.hd);
    float *bufs[] = {k.x, k.w1, k.w2, k.g, k.be, k.a, k.h, k.p, k.q, k.sk, k.o, k.ws, k.mean,
                     k.var, k.inv, dout, dq, dp, dh, dt, da, dx, dw1, dw2, dg, db, dh2};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) lqa_free(bufs[i]);
    lqa_free(k.idx);
}

/* ---- models ------------------------------------------------------------------- */

static double make_dropout; /* the dropout option of the models made (0: none) */

static Model *make_model(const char *name, int C, int H, int W, int B, int width, ProbeBn pb,
                         uint64_t seed)
{
    static Model ms[16];
    static int used;
    LQA_CHECK(used < 16);
    Model *m = &ms[used++];
    ModelSpec s = {.in_c = C, .in_h = H, .in_w = W, .n_classes = 10, .max_batch = B,
                   .width = width, .probe_bn = pb, .dropout = make_dropout};
    char err[LQA_ERR_LEN];
    if (model_create(m, name, &s, err) != 0) {
        T_CHECK(0, "model_create %s: %s", name, err);
        return NULL;
    }
    model_init(m, INIT_DEFAULT, seed);
    return m;
}

static void test_param_counts(void)
{
    struct { const char *name; int C, H, W; size_t n; } cases[] = {
        {"lenet5", 1, 28, 28, 61706},   {"lenet5", 3, 32, 32, 62006}, {"cnn2", 1, 28, 28, 61706},
        {"cnn2", 3, 32, 32, 62006},     {"resnet18", 3, 32, 32, 11173962},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ModelSpec s = {.in_c = cases[i].C, .in_h = cases[i].H, .in_w = cases[i].W,
                       .n_classes = 10, .max_batch = 1};
        Model m;
        char err[LQA_ERR_LEN];
        int rc = model_create(&m, cases[i].name, &s, err);
        T_CHECK(rc == 0, "create %s: %s", cases[i].name, err);
        if (rc) continue;
        T_CHECK(m.n_params == cases[i].n, "%s %dx%dx%d: %zu parameters, expected %zu",
                cases[i].name, cases[i].C, cases[i].H, cases[i].W, m.n_params, cases[i].n);
        if (!strcmp(cases[i].name, "resnet18")) /* 20 BNs: 4800 channels × (mean, var) */
            T_CHECK(m.n_state == 9600, "resnet18 state %zu, expected 9600", m.n_state);
        else
            T_CHECK(m.n_state == 0, "%s has state", cases[i].name);
        model_free(&m);
    }
    /* An input too small names the model asked for (cnn2 shares lenet5's code). */
    const char *small[] = {"lenet5", "cnn2"};
    for (int k = 0; k < 2; k++) {
        ModelSpec s = {.in_c = 1, .in_h = 6, .in_w = 6, .n_classes = 10, .max_batch = 1};
        Model m;
        char err[LQA_ERR_LEN] = "";
        int rc = model_create(&m, small[k], &s, err);
        T_CHECK(rc != 0 && strncmp(err, small[k], strlen(small[k])) == 0 && err[strlen(small[k])] == ':' &&
                    strstr(err, "too small"),
                "%s on 6x6: %s", small[k], err);
        if (rc == 0) model_free(&m);
    }
}

/* The models' tensor tables: contiguous, in PyTorch's order and names and shapes. */
static bool tensor_is(const Model *m, int k, const char *name, int ndim, int d0, int d1, int d2,
                      int d3)
{
    if (k < 0 || k >= m->tensors->n) return false;
    const TensorDecl *t = &m->tensors->t[k];
    int want[4] = {d0, d1, d2, d3};
    bool ok = !strcmp(t->name, name) && t->ndim == ndim;
    for (int i = 0; i < ndim && ok; i++) ok = t->shape[i] == want[i];
    return ok;
}

static void test_tensor_tables(void)
{
    const char *names[] = {"logreg", "mlp", "lenet5", "cnn2", "resnet18"};
    for (int k = 0; k < 5; k++) {
        ModelSpec s = {.in_c = 3, .in_h = 32, .in_w = 32, .n_classes = 10, .max_batch = 2};
        Model m;
        char err[LQA_ERR_LEN];
        if (model_create(&m, names[k], &s, err)) {
            T_CHECK(0, "create %s: %s", names[k], err);
            continue;
        }
        const TensorTable *tabs[2] = {m.tensors, m.buffers};
        size_t totals[2] = {m.n_params, m.n_state};
        for (int b = 0; b < 2; b++) {
            size_t off = 0;
            bool ok = true;
            for (int t = 0; t < tabs[b]->n; t++) {
                size_t n = 1;
                for (int i = 0; i < tabs[b]->t[t].ndim; i++) n *= (size_t)tabs[b]->t[t].shape[i];
                ok &= tabs[b]->t[t].off == off && tabs[b]->t[t].n == n;
                off += n;
            }
            T_CHECK(ok && off == totals[b], "%s: %s contiguous, %zu of %zu", names[k],
                    b ? "buffers" : "parameters", off, totals[b]);
        }
        T_CHECK(model_tensor_at(&m, 0) == &m.tensors->t[0] &&
                    model_tensor_at(&m, m.n_params - 1) == &m.tensors->t[m.tensors->n - 1] &&
                    !model_tensor_at(&m, m.n_params),
                "%s: model_tensor_at", names[k]);
        if (k == 1)
            T_CHECK(m.tensors->n == 6 && tensor_is(&m, 0, "fc1.weight", 2, 1000, 3072, 0, 0) &&
                        tensor_is(&m, 5, "fc3.bias", 1, 10, 0, 0, 0) &&
                        m.tensors->t[2].fan_in == 1000,
                    "mlp table");
        if (k == 2)
            T_CHECK(m.tensors->n == 10 && tensor_is(&m, 0, "conv1.weight", 4, 6, 3, 5, 5) &&
                        tensor_is(&m, 4, "fc1.weight", 2, 120, 400, 0, 0) &&
                        m.tensors->t[1].fan_in == 75 && m.buffers->n == 0,
                    "lenet5 table");
        if (k == 4) {
            int ds = -1;
            for (int t = 0; t < m.tensors->n; t++)
                if (!strcmp(m.tensors->t[t].name, "layer2.0.downsample.0.weight")) ds = t;
            T_CHECK(m.tensors->n == 62 && m.buffers->n == 40 &&
                        tensor_is(&m, 0, "conv1.weight", 4, 64, 3, 3, 3) &&
                        tensor_is(&m, 1, "bn1.weight", 1, 64, 0, 0, 0) &&
                        m.tensors->t[1].init == TENSOR_ONES && m.tensors->t[2].init == TENSOR_ZEROS &&
                        tensor_is(&m, ds, "layer2.0.downsample.0.weight", 4, 128, 64, 1, 1) &&
                        tensor_is(&m, 61, "fc.bias", 1, 10, 0, 0, 0) &&
                        !strcmp(m.buffers->t[0].name, "bn1.running_mean") &&
                        m.buffers->t[1].init == TENSOR_ONES,
                    "resnet18 table (%d tensors, %d buffers)", m.tensors->n, m.buffers->n);
        }
        model_free(&m);
    }
    /* the generic init follows the table: BN gamma 1, beta 0, running var 1 */
    Model *r = make_model("resnet18", 3, 8, 8, 2, 4, PROBE_BN_BATCH, 3);
    if (r) {
        const TensorDecl *g = &r->tensors->t[1], *b = &r->tensors->t[2], *v = &r->buffers->t[1];
        T_CHECK(r->params[g->off] == 1.0f && r->params[b->off + b->n - 1] == 0.0f &&
                    r->state[v->off] == 1.0f && r->state[0] == 0.0f,
                "init from the table");
        float bound = 1.0f / sqrtf((float)r->tensors->t[0].fan_in);
        bool in = true;
        for (size_t i = 0; i < r->tensors->t[0].n; i++) in &= fabsf(r->params[i]) <= bound;
        T_CHECK(in, "conv1.weight within its U(+-1/sqrt(fan_in)) bound");
        model_free(r);
    }
}

typedef struct ModelFd {
    Model *m;
    float *theta;
    const float *x;
    const int *y;
    int B;
} ModelFd;

static double model_probe_loss(void *p)
{
    ModelFd *f = p;
    return model_forward(f->m, f->theta, f->x, f->y, f->B, FWD_PROBE, NULL);
}

static void test_model_fd(Rng *r, const char *name, int C, int H, int W, int B, int width,
                          int per_tensor, FdTol tol)
{
    Model *m = make_model(name, C, H, W, B, width, PROBE_BN_BATCH, 11);
    if (!m) return;
    size_t nx = (size_t)B * C * H * W;
    float *x = falloc(nx), *theta = falloc(m->n_params);
    int y[16];
    fill(x, nx, -1.5f, 1.5f, r);
    for (int i = 0; i < B; i++) y[i] = (int)rng_below(r, 10);
    double loss = model_forward(m, m->params, x, y, B, FWD_TRAIN, NULL);
    model_backward(m);
    memcpy(theta, m->params, m->n_params * sizeof(float));
    ModelFd f = {m, theta, x, y, B};
    T_CLOSE(model_probe_loss(&f), loss, 0, 0, "PROBE loss at θ equals the TRAIN loss exactly");
    /* stratified: per_tensor random coordinates of every parameter tensor of
     * the model's own table (test_tensor_tables checks the table) */
    char what[128];
    int fails_before = t_fail;
    for (int t = 0; t < m->tensors->n; t++) {
        const TensorDecl *d = &m->tensors->t[t];
        snprintf(what, sizeof what, "%s %dx%dx%d %s (%zu)", name, C, H, W, d->name, d->n);
        Fd fd = {model_probe_loss, &f, tol, true};
        fd_check(&fd, what, theta + d->off, m->grads + d->off, d->n, per_tensor, r, true);
    }
    T_CHECK(t_fail == fails_before, "%s: finite differences", name);
    /* the probes restored theta exactly */
    T_CHECK(memcmp(theta, m->params, m->n_params * sizeof(float)) == 0, "%s: theta restored",
            name);
    lqa_free(x);
    lqa_free(theta);
    model_free(m);
}

/* PROBE/EVAL leave params, grads, state and TRAIN caches bit-identical. */
static void test_probe_invariance(Rng *r, const char *name, int C, int H, int W, int B, int width)
{
    Model *m = make_model(name, C, H, W, B, width, PROBE_BN_BATCH, 5);
    if (!m) return;
    size_t nx = (size_t)B * C * H * W, np = m->n_params, ns = m->n_state;
    float *x = falloc(nx), *x2 = falloc(nx), *p0 = falloc(np), *g0 = falloc(np), *s0 = falloc(ns + 1);
    float *other = falloc(np);
    int y[16], y2[16];
    fill(x, nx, -1, 1, r);
    fill(x2, nx, -1, 1, r);
    for (int i = 0; i < B; i++) y[i] = (int)rng_below(r, 10), y2[i] = (int)rng_below(r, 10);
    double l1 = model_forward(m, m->params, x, y, B, FWD_TRAIN, NULL);
    model_backward(m);
    memcpy(p0, m->params, np * sizeof(float));
    memcpy(g0, m->grads, np * sizeof(float));
    if (ns) memcpy(s0, m->state, ns * sizeof(float));
    for (size_t i = 0; i < np; i++) other[i] = m->params[i] + rng_uniform(r, -0.05f, 0.05f);
    /* probes and evaluations at another θ, another batch, smaller batch */
    model_forward(m, other, x2, y2, B, FWD_PROBE, NULL);
    model_forward(m, other, x2, y2, B - 1, FWD_EVAL, NULL);
    model_forward(m, m->params, x2, y2, B, FWD_PROBE, NULL);
    T_CHECK(memcmp(p0, m->params, np * sizeof(float)) == 0, "%s: params changed by probes", name);
    T_CHECK(memcmp(g0, m->grads, np * sizeof(float)) == 0, "%s: grads changed by probes", name);
    T_CHECK(ns == 0 || memcmp(s0, m->state, ns * sizeof(float)) == 0,
            "%s: BN running statistics changed by probe/eval forwards", name);
    memset(m->grads, 0, np * sizeof(float));
    model_backward(m); /* must reproduce the gradient of the TRAIN forward */
    T_CHECK(memcmp(g0, m->grads, np * sizeof(float)) == 0,
            "%s: backward after probes differs (TRAIN caches clobbered)", name);
    double l2 = model_forward(m, m->params, x, y, B, FWD_PROBE, NULL);
    T_CHECK(l1 == l2, "%s: PROBE loss %.17g != TRAIN loss %.17g at the same θ", name, l2, l1);
    lqa_free(x), lqa_free(x2), lqa_free(p0), lqa_free(g0), lqa_free(s0), lqa_free(other);
    model_free(m);
}

/* Running statistics, EVAL semantics and probe_bn = eval on a toy ResNet. */
static void test_resnet_bn_semantics(Rng *r)
{
    enum { B = 4, C = 3, H = 16, W = 16, WD = 4 };
    Model *m = make_model("resnet18", C, H, W, B, WD, PROBE_BN_BATCH, 3);
    if (!m) return;
    size_t nx = (size_t)B * C * H * W, ns = m->n_state;
    float *x = falloc(nx), *s_init = falloc(ns);
    int y[B];
    fill(x, nx, -1, 1, r);
    for (int i = 0; i < B; i++) y[i] = (int)rng_below(r, 10);
    memcpy(s_init, m->state, ns * sizeof(float));
    bool init_ok = true;
    /* default init: every BN has running_mean 0, running_var 1 */
    size_t off = 0;
    int chans[20], nbn = 0;
    chans[nbn++] = WD;
    for (int s = 0; s < 4; s++)
        for (int blk = 0; blk < 2; blk++) {
            chans[nbn++] = WD << s, chans[nbn++] = WD << s;
            if (blk == 0 && s > 0) chans[nbn++] = WD << s;
        }
    for (int k = 0; k < nbn; k++) {
        for (int c = 0; c < chans[k]; c++) {
            init_ok &= m->state[off + c] == 0.0f;
            init_ok &= m->state[off + chans[k] + c] == 1.0f;
        }
        off += 2 * (size_t)chans[k];
    }
    T_CHECK(init_ok && off == ns, "resnet18: BN state init (mean 0, var 1) and layout (%zu vs %zu)",
            off, ns);

    /* stem BN after one TRAIN forward, against an independent computation:
     * a0 = conv3×3(x) (double, NCHW), mean and unbiased variance per channel */
    double loss_train = model_forward(m, m->params, x, y, B, FWD_TRAIN, NULL);
    const float *w = m->params; /* conv1.weight [WD][C][3][3] comes first */
    const size_t N = (size_t)B * H * W;
    double mean_max_err = 0, var_max_err = 0;
    for (int k = 0; k < WD; k++) {
        double s = 0, q = 0;
        double *a = malloc(sizeof(double) * N);
        for (int n = 0; n < B; n++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    double v = 0;
                    for (int c = 0; c < C; c++)
                        for (int di = 0; di < 3; di++)
                            for (int dj = 0; dj < 3; dj++) {
                                int ii = i + di - 1, jj = j + dj - 1;
                                if (ii < 0 || ii >= H || jj < 0 || jj >= W) continue;
                                v += (double)w[((k * C + c) * 3 + di) * 3 + dj] *
                                     x[(((size_t)n * C + c) * H + ii) * W + jj];
                            }
                    a[(size_t)n * H * W + i * W + j] = v;
                    s += v;
                }
        double mu = s / N;
        for (size_t i = 0; i < N; i++) q += (a[i] - mu) * (a[i] - mu);
        free(a);
        double rm = 0.1 * mu, rv = 0.9 * 1.0 + 0.1 * q / (N - 1);
        mean_max_err = fmax(mean_max_err, fabs(m->state[k] - rm));
        var_max_err = fmax(var_max_err, fabs(m->state[WD + k] - rv) / rv);
    }
    T_CHECK(mean_max_err < 1e-6 && var_max_err < 1e-5,
            "stem BN running stats after one step: mean err %g, var rel err %g", mean_max_err,
            var_max_err);

    /* PROBE and EVAL leave state alone; a second TRAIN forward updates again:
     * from (0, 1), two steps with the same batch give mean 0.19·μ */
    float *s1 = falloc(ns);
    memcpy(s1, m->state, ns * sizeof(float));
    model_forward(m, m->params, x, y, B, FWD_PROBE, NULL);
    model_forward(m, m->params, x, y, B, FWD_EVAL, NULL);
    T_CHECK(memcmp(s1, m->state, ns * sizeof(float)) == 0, "probe/eval changed running stats");
    model_forward(m, m->params, x, y, B, FWD_TRAIN, NULL);
    double e2 = 0;
    for (size_t i = 0; i < ns; i++) {
        bool is_mean = false;
        size_t o = 0;
        for (int k = 0; k < nbn; k++) {
            if (i >= o && i < o + chans[k]) is_mean = true;
            o += 2 * (size_t)chans[k];
        }
        if (is_mean) e2 = fmax(e2, fabs(m->state[i] - 1.9f * s1[i]));
    }
    T_CHECK(e2 < 1e-6, "running_mean after two identical steps = 0.19·μ (err %g)", e2);

    /* EVAL uses the running statistics: set every BN's running stats to this
     * batch's statistics (recovered from one TRAIN forward from (0, 1):
     * μ = rm/0.1, biased σ² = (rv − 0.9)/0.1·(N−1)/N); EVAL must then
     * reproduce the TRAIN loss. */
    memcpy(m->state, s_init, ns * sizeof(float));
    model_forward(m, m->params, x, y, B, FWD_TRAIN, NULL);
    int hw[20], nb2 = 0, sp = H * W;
    hw[nb2++] = sp;
    for (int s = 0; s < 4; s++) {
        if (s > 0) sp /= 4;
        for (int blk = 0; blk < 2; blk++) {
            hw[nb2++] = sp, hw[nb2++] = sp;
            if (blk == 0 && s > 0) hw[nb2++] = sp;
        }
    }
    off = 0;
    for (int k = 0; k < nbn; k++) {
        double Nk = (double)B * hw[k];
        for (int c = 0; c < chans[k]; c++) {
            float *rm = &m->state[off + c], *rv = &m->state[off + chans[k] + c];
            *rm = (float)(*rm / 0.1);
            *rv = (float)((*rv - 0.9) / 0.1 * (Nk - 1) / Nk);
        }
        off += 2 * (size_t)chans[k];
    }
    double loss_eval = model_forward(m, m->params, x, y, B, FWD_EVAL, NULL);
    T_CLOSE(loss_eval, loss_train, 1e-3, 0, "EVAL with running stats = batch stats reproduces TRAIN");
    /* and with the initial running stats, EVAL is a different function */
    memcpy(m->state, s_init, ns * sizeof(float));
    double loss_eval0 = model_forward(m, m->params, x, y, B, FWD_EVAL, NULL);
    T_CHECK(fabs(loss_eval0 - loss_train) > 1e-3, "EVAL ignores running stats (%g vs %g)",
            loss_eval0, loss_train);

    /* probe_bn = eval: PROBE equals EVAL bit for bit and changes no state */
    Model *me = make_model("resnet18", C, H, W, B, WD, PROBE_BN_EVAL, 3);
    if (me) {
        for (size_t i = 0; i < ns; i++) me->state[i] = m->state[i] + 0.1f * (float)(i % 3);
        memcpy(s1, me->state, ns * sizeof(float));
        double lp = model_forward(me, me->params, x, y, B, FWD_PROBE, NULL);
        double le = model_forward(me, me->params, x, y, B, FWD_EVAL, NULL);
        T_CHECK(lp == le, "probe_bn=eval: PROBE %.17g != EVAL %.17g", lp, le);
        T_CHECK(memcmp(s1, me->state, ns * sizeof(float)) == 0, "probe_bn=eval changed state");
        Model *mb = make_model("resnet18", C, H, W, B, WD, PROBE_BN_BATCH, 3);
        if (mb) {
            memcpy(mb->state, me->state, ns * sizeof(float));
            double lb = model_forward(mb, mb->params, x, y, B, FWD_PROBE, NULL);
            T_CHECK(fabs(lb - lp) > 1e-4, "probe_bn=batch and eval agree (%g, %g)", lb, lp);
            model_free(mb);
        }
        model_free(me);
    }
    lqa_free(x), lqa_free(s_init), lqa_free(s1);
    model_free(m);
}

/* Winograd on large planes runs in per-thread sample blocks with single-threaded
 * GEMMs (conv_winograd.c), on one thread the classic way: outputs and both
 * gradients must not depend on the pool's thread count, nor on OpenBLAS's
 * (which the blocked paths set to 1 for their GEMMs). */
static void test_wino_blocks(Rng *r, bool wino4)
{
    const int C = 32, H = 32, B = 5;
    Conv2d c;
    conv2d_setup(&c, C, H, H, C, 3, 3, 1, 1);
    c.wino4 = wino4;
    const size_t nx = (size_t)C * B * H * H, nw = conv2d_n_weights(&c);
    const size_t wsn = conv2d_ws_floats(&c, B, (size_t)1 << 30);
    float *x = falloc(nx), *dy = falloc(nx), *w = falloc(nw), *b = falloc(C), *ws = falloc(wsn);
    float *y[3], *dx[3], *dw[3];
    fill(x, nx, -1, 1, r);
    fill(dy, nx, -1, 1, r);
    fill(w, nw, -0.2f, 0.2f, r);
    fill(b, C, -0.5f, 0.5f, r);
    const int blas_t[3] = {1, 2, 2}, par_t[3] = {1, 2, 3};
    bool same = true;
    for (int k = 0; k < 3; k++) {
        blas_set_threads(blas_t[k]);
        par_set_threads(par_t[k]);
        y[k] = falloc(nx), dx[k] = falloc(nx), dw[k] = falloc(nw);
        conv2d_forward(&c, y[k], x, w, b, B, ws, wsn);
        conv2d_backward(&c, dx[k], false, dw[k], NULL, dy, x, w, B, ws, wsn);
        if (k)
            same &= memcmp(y[0], y[k], nx * sizeof(float)) == 0 &&
                    memcmp(dx[0], dx[k], nx * sizeof(float)) == 0 &&
                    memcmp(dw[0], dw[k], nw * sizeof(float)) == 0;
    }
    blas_set_threads(1);
    par_set_threads(0);
    double *ref = malloc(sizeof(double) * nx);
    conv_ref(ref, &c, x, w, b, B);
    const double e = rel_err(y[1], ref, nx);
    T_CHECK(e < (wino4 ? 5e-6 : 1e-6), "Winograd blocks%s: forward off by %g", wino4 ? " (F4)" : "",
            e);
    T_CHECK(same, "Winograd blocks%s: results differ between thread counts", wino4 ? " (F4)" : "");
    free(ref);
    for (int k = 0; k < 3; k++) lqa_free(y[k]), lqa_free(dx[k]), lqa_free(dw[k]);
    lqa_free(x), lqa_free(dy), lqa_free(w), lqa_free(b), lqa_free(ws);
}

/* conv.h's parallel loops give each thread whole channels / rows / planes, so
 * results do not depend on their thread count (OpenBLAS's own results may: its
 * sgemm picks kernels by thread count, measured here, so it stays at 1). */
static void test_thread_determinism(Rng *r, const char *name, int C, int H, int W, int B,
                                    int width)
{
    Model *m = make_model(name, C, H, W, B, width, PROBE_BN_BATCH, 9);
    if (!m) return;
    size_t nx = (size_t)B * C * H * W, np = m->n_params, ns = m->n_state;
    float *x = falloc(nx), *g1 = falloc(np), *s1 = falloc(ns + 1);
    int y[64];
    fill(x, nx, -1, 1, r);
    for (int i = 0; i < B; i++) y[i] = (int)rng_below(r, 10);
    float *s0 = falloc(ns + 1);
    if (ns) memcpy(s0, m->state, ns * sizeof(float));
    double l[3], pl[3];
    const int threads[3] = {1, 2, 3};
    bool same = true;
    for (int k = 0; k < 3; k++) {
        par_set_threads(threads[k]);
        if (ns) memcpy(m->state, s0, ns * sizeof(float));
        l[k] = model_forward(m, m->params, x, y, B, FWD_TRAIN, NULL);
        model_backward(m);
        pl[k] = model_forward(m, m->params, x, y, B, FWD_EVAL, NULL);
        if (k == 0) {
            memcpy(g1, m->grads, np * sizeof(float));
            if (ns) memcpy(s1, m->state, ns * sizeof(float));
        } else {
            same &= l[k] == l[0] && pl[k] == pl[0];
            same &= memcmp(g1, m->grads, np * sizeof(float)) == 0;
            same &= ns == 0 || memcmp(s1, m->state, ns * sizeof(float)) == 0;
        }
    }
    par_set_threads(0);
    T_CHECK(same, "%s: loss/grads/state differ between 1, 2 and 3 threads (%.17g %.17g %.17g)",
            name, l[0], l[1], l[2]);
    lqa_free(x), lqa_free(g1), lqa_free(s1), lqa_free(s0);
    model_free(m);
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    blas_set_threads(1);
    Rng r;
    rng_seed(&r, getenv("LQA_TEST_SEED") ? strtoull(getenv("LQA_TEST_SEED"), NULL, 10) : 2024, 99);

    /* layers */
    T_RUN(conv, {
        test_conv_case(&r, 3, 7, 6, 4, 3, 3, 2, 1, true, 2, false);  /* stride 2, pad, odd sizes */
        test_conv_case(&r, 3, 7, 6, 4, 3, 3, 2, 1, true, 2, true);   /* same, chunked workspace */
        test_conv_case(&r, 2, 8, 8, 3, 5, 5, 1, 2, true, 3, false);  /* LeNet-like 5×5 pad 2 */
        test_conv_case(&r, 2, 9, 7, 3, 3, 2, 1, 0, false, 2, true);  /* kh ≠ kw, no pad, no bias */
        test_conv_case(&r, 4, 5, 5, 3, 1, 1, 1, 0, false, 3, false); /* 1×1 pointwise (no im2col) */
        test_conv_case(&r, 4, 5, 6, 3, 1, 1, 2, 0, false, 2, false); /* 1×1 stride 2 (projection) */
        test_conv_case(&r, 2, 4, 4, 2, 3, 3, 3, 2, true, 2, false);  /* stride 3, pad 2 */
        test_conv_case(&r, 2, 4, 4, 3, 3, 3, 1, 3, true, 2, false);  /* stride 1, pad > k − 1 */
        test_conv_case(&r, 3, 6, 5, 4, 3, 3, 1, 1, false, 3, true);  /* stride 1, chunked workspace */
        test_conv_case(&r, 4, 20, 19, 6, 5, 5, 1, 2, true, 2, false); /* direct kernels (fwd, dW, dX) */
        test_conv_case(&r, 1, 18, 20, 7, 3, 3, 1, 0, true, 2, false); /* direct, C = 1, no pad */
        test_conv_case(&r, 1, 5, 40, 4, 3, 3, 1, 1, true, 2, false);  /* direct, rows of 3 vectors */
        test_conv_case(&r, 2, 4, 60, 3, 3, 3, 1, 1, false, 2, false); /* direct, rows of 4 vectors */
        test_conv_case(&r, 3, 11, 12, 6, 5, 5, 1, 2, true, 2, false); /* direct, 2-row blocks, odd OH */
        test_conv_case(&r, 1, 10, 20, 6, 5, 5, 1, 2, true, 3, true);  /* direct geometry, workspace of
                                                                         one sample: im2col instead */
        test_conv_case(&r, 16, 7, 6, 17, 3, 3, 1, 1, true, 2, false); /* Winograd F(2×2,3×3), odd H */
        test_conv_case(&r, 17, 5, 5, 16, 3, 3, 1, 1, false, 3, true); /* Winograd, chunked, odd */
        test_conv_case(&r, 16, 6, 32, 17, 3, 3, 1, 1, true, 2, false); /* Winograd, width 32 (vectors) */
        test_conv_case(&r, 17, 5, 16, 16, 3, 3, 1, 1, false, 3, true); /* width 16, chunked */
        g_wino4 = true;                                                  /* Winograd F(4×4, 3×3): */
        test_conv_case(&r, 16, 8, 8, 17, 3, 3, 1, 1, true, 2, false);   /* whole tiles */
        test_conv_case(&r, 17, 11, 10, 16, 3, 3, 1, 1, false, 3, false); /* partial tiles */
        test_conv_case(&r, 16, 9, 12, 16, 3, 3, 1, 1, true, 3, true);   /* chunked, partial */
        test_conv_case(&r, 16, 8, 8, 16, 3, 3, 1, 1, true, 20, false);  /* 80 tiles: 2 blocks */
        test_conv_case(&r, 16, 4, 4, 16, 3, 3, 1, 1, true, 2, false);   /* 4×4: F(2×2) instead */
        test_conv_case(&r, 16, 8, 7, 16, 3, 3, 1, 1, true, 2, false);   /* 8×7: F(2×2) instead */
        g_wino4 = false;
        test_conv_case(&r, 3, 9, 8, 16, 3, 2, 1, 1, true, 2, false);  /* channel-vectorised direct */
        test_conv_case(&r, 2, 6, 6, 32, 5, 5, 1, 2, false, 2, true);  /* same, two channel blocks */
        test_conv_case(&r, 5, 9, 7, 16, 3, 3, 1, 1, true, 2, false);  /* same; dX direct (5 channels
                                                                         padded to 6, 2-row blocks) */
    });
    T_RUN(pool, {
        test_maxpool_ties(&r);
        test_pool(&r, true, 2, 3, 6, 6);
        test_pool(&r, true, 2, 2, 7, 5); /* odd: floor drops the last row/column */
        test_pool(&r, false, 2, 3, 6, 6);
        test_pool(&r, false, 2, 2, 7, 5);
    });
    T_RUN(bn, {
        test_bn(&r, 3, 4, 5, false, false);
        test_bn(&r, 3, 4, 5, true, false);
        test_bn(&r, 2, 3, 4, true, true); /* BN + residual + ReLU, as in a BasicBlock */
        test_bn(&r, 2, 3, 1, false, false); /* N = 3 per channel */
        test_bn_stats(&r);
    });
    T_RUN(gap, test_gap(&r););
    T_RUN(composition, test_composition(&r););
    if (!t_listing)
        printf("layers: worst finite-difference error %.3f of tolerance; %d of %d points had a "
           "switch within ±h (checked frozen)\n", fd_worst_layers, fd_switch_points, fd_points);
    fd_switch_points = fd_points = 0;

    /* models */
    T_RUN(param_counts, test_param_counts(););
    T_RUN(tensor_tables, test_tensor_tables(););
    T_RUN(model_fd, {
        test_model_fd(&r, "lenet5", 1, 28, 28, 3, 0, 6, LENET_TOL);
        test_model_fd(&r, "lenet5", 3, 32, 32, 3, 0, 6, LENET_TOL);
        test_model_fd(&r, "cnn2", 1, 28, 28, 3, 0, 6, LENET_TOL);
        test_model_fd(&r, "resnet18", 3, 8, 8, 8, 4, 6, RESNET_TOL);
    });
    T_RUN(model_fd_dropout, { /* dropout 0.5: the step's mask is fixed across the probes */
        make_dropout = 0.5;
        test_model_fd(&r, "lenet5", 3, 32, 32, 4, 0, 6, LENET_TOL);
        test_model_fd(&r, "resnet18", 3, 8, 8, 8, 4, 6, RESNET_TOL);
        make_dropout = 0;
    });
    if (!t_listing)
        printf("models: worst finite-difference error %.3f of tolerance; %d of %d points had a "
           "switch within ±h (checked frozen)\n", fd_worst_models, fd_switch_points, fd_points);
    T_RUN(probe_invariance, {
        test_probe_invariance(&r, "lenet5", 3, 32, 32, 4, 0);
        test_probe_invariance(&r, "cnn2", 1, 28, 28, 4, 0);
        test_probe_invariance(&r, "resnet18", 3, 8, 8, 4, 4);
    });
    T_RUN(resnet_bn_semantics, test_resnet_bn_semantics(&r););
    T_RUN(thread_determinism, {
        test_thread_determinism(&r, "lenet5", 1, 28, 28, 16, 0);
        test_thread_determinism(&r, "resnet18", 3, 16, 16, 16, 8);
    });
    T_RUN(wino_blocks, {
        test_wino_blocks(&r, false);
        test_wino_blocks(&r, true);
    });
    return t_done("test_conv");
}
