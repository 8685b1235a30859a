/* test_models.c — the models lenet5, cnn2, resnet18: parameter counts and
 * tensor tables, finite-difference gradients of whole networks, the probe/eval
 * contracts of model.h, batch-norm running statistics, and the same bits on
 * any thread count (shared checks: conv_check.h). */
#include "conv_check.h"

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
    Rng r;
    conv_check_start(argc, argv, &r);
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
    fd_summary("models", fd_worst_models);
    return t_done("test_models");
}
