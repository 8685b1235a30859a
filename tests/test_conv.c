/* test_conv.c — the convolution layer (src/nn/conv.h) on every path
 * (im2col + GEMM, direct, channel-vectorised, Winograd F(2×2) and F(4×4))
 * against direct loops in double and finite differences, and the blocked
 * Winograd passes on any thread count (shared checks: conv_check.h). */
#include "conv_check.h"

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

/* The shared workspace (conv.h's ConvWs): sized for the largest layer
 * attached to it under its cap, and a layer's calls on it the same to the bit
 * as conv2d_forward / conv2d_backward on a workspace of that size. */
static void test_conv_ws(Rng *r)
{
    const int B = 3;
    const size_t cap = 3000; /* under what b wants for the whole batch: chunks */
    Conv2d a, b;
    conv2d_setup(&a, 3, 8, 8, 4, 3, 3, 1, 1);  /* direct kernels */
    conv2d_setup(&b, 4, 8, 8, 16, 5, 5, 2, 2); /* im2col + GEMM */
    ConvWs ws;
    conv_ws_init(&ws, cap);
    conv2d_attach(&a, &ws, B);
    conv2d_attach(&b, &ws, B);
    const size_t want = LQA_MAX(conv2d_ws_floats(&a, B, cap), conv2d_ws_floats(&b, B, cap));
    T_CHECK(ws.n == want && a.ws == &ws && b.ws == &ws, "workspace: %zu floats, expected %zu",
            ws.n, want);
    T_CHECK(conv2d_ws_floats(&b, B, (size_t)1 << 30) > ws.n, "workspace: b runs whole, not in chunks");
    char err[LQA_ERR_LEN];
    T_CHECK(conv_ws_alloc(&ws, err) == 0 && ws.buf, "workspace: alloc failed: %s", err);
    const size_t nx = (size_t)4 * B * 8 * 8, ny = (size_t)16 * B * b.out_h * b.out_w;
    const size_t nw = conv2d_n_weights(&b);
    float *x = falloc(nx), *w = falloc(nw), *bias = falloc(16), *dy = falloc(ny), *own = falloc(ws.n);
    float *y[2] = {falloc(ny), falloc(ny)}, *dx[2] = {falloc(nx), falloc(nx)};
    float *dw[2] = {falloc(nw), falloc(nw)}, *db[2] = {falloc(16), falloc(16)};
    fill(x, nx, -1, 1, r);
    fill(w, nw, -0.2f, 0.2f, r);
    fill(bias, 16, -0.5f, 0.5f, r);
    fill(dy, ny, -1, 1, r);
    conv2d_layer_forward(&b, y[0], x, w, bias, B);
    conv2d_layer_backward(&b, dx[0], false, dw[0], db[0], dy, x, w, B);
    conv2d_forward(&b, y[1], x, w, bias, B, own, ws.n);
    conv2d_backward(&b, dx[1], false, dw[1], db[1], dy, x, w, B, own, ws.n);
    T_CHECK(memcmp(y[0], y[1], ny * sizeof(float)) == 0 &&
                memcmp(dx[0], dx[1], nx * sizeof(float)) == 0 &&
                memcmp(dw[0], dw[1], nw * sizeof(float)) == 0 &&
                memcmp(db[0], db[1], 16 * sizeof(float)) == 0,
            "workspace: the layer's calls differ from conv2d_forward/backward");
    double *ref = malloc(sizeof(double) * ny);
    conv_ref(ref, &b, x, w, bias, B);
    const double e = rel_err(y[0], ref, ny);
    T_CHECK(e < 1e-6, "workspace: forward off by %g", e);
    free(ref);
    conv_ws_free(&ws);
    T_CHECK(ws.buf == NULL, "workspace: buffer left after conv_ws_free");
    for (int k = 0; k < 2; k++) lqa_free(y[k]), lqa_free(dx[k]), lqa_free(dw[k]), lqa_free(db[k]);
    lqa_free(x), lqa_free(w), lqa_free(bias), lqa_free(dy), lqa_free(own);
}

int main(int argc, char **argv)
{
    Rng r;
    conv_check_start(argc, argv, &r);
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
    T_RUN(wino_blocks, {
        test_wino_blocks(&r, false);
        test_wino_blocks(&r, true);
    });
    T_RUN(conv_ws, test_conv_ws(&r));
    fd_summary("conv layers", fd_worst_layers);
    return t_done("test_conv");
}
