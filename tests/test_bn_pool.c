/* test_bn_pool.c — pooling, batch norm (+ residual + ReLU), global average
 * pooling and a composition of the layers as the models use them, against
 * direct loops and finite differences (shared checks: conv_check.h). */
#include "conv_check.h"

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

int main(int argc, char **argv)
{
    Rng r;
    conv_check_start(argc, argv, &r);
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
    fd_summary("layers", fd_worst_layers);
    return t_done("test_bn_pool");
}
