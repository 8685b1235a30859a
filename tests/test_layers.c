/* test_layers.c — finite-difference checks of the dense layers and of the
 * logreg / mlp models, probe invariance, init properties, and the vector
 * reductions of blas.c (exact against long double, thread-count invariant).
 *
 * Finite differences: central differences of float32 computations evaluated
 * in double. With h = 1e-2 on O(1) inputs, truncation error is O(h²)≈1e-4
 * relative and float32 rounding of the loss contributes ≈ 1e-7/h ≈ 1e-5; the
 * measured worst relative error on these checks is ~2e-3 (driven by small
 * gradients), so the tolerance is |fd − g| ≤ 2e-3 + 2e-2·|g|. Model checks
 * skip points where the two one-sided differences disagree (a ReLU switched
 * inside [θ−h, θ+h]); at most 10% of points may be skipped. */
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "common.h"
#include "layers.h"
#include "model.h"
#include "optim.h"
#include "parallel.h"
#include "rng.h"
#include "test.h"
#include "train.h"

static void fill(float *p, size_t n, float lo, float hi, Rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = rng_uniform(r, lo, hi);
}

/* s = Σ y·w for y = linear(x; W, b) */
static double lin_obj(const float *x, const float *W, const float *b, const float *w, int B, int in,
                      int out)
{
    float *y = malloc(sizeof(float) * (size_t)B * out);
    linear_forward(y, x, W, b, B, in, out);
    double s = vec_dot(y, w, (size_t)B * out);
    free(y);
    return s;
}

static void test_linear(Rng *r)
{
    enum { B = 5, IN = 7, OUT = 4 };
    float x[B * IN], W[OUT * IN], b[OUT], w[B * OUT];
    float dx[B * IN], dW[OUT * IN], db[OUT];
    fill(x, B * IN, -1, 1, r);
    fill(W, OUT * IN, -1, 1, r);
    fill(b, OUT, -1, 1, r);
    fill(w, B * OUT, -1, 1, r);
    /* forward against a direct loop */
    float y[B * OUT];
    linear_forward(y, x, W, b, B, IN, OUT);
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OUT; o++) {
            double s = b[o];
            for (int k = 0; k < IN; k++) s += (double)x[i * IN + k] * W[o * IN + k];
            T_CLOSE(y[i * OUT + o], s, 1e-5, 1e-6, "linear forward");
        }
    linear_backward(dx, dW, db, w, x, W, B, IN, OUT);
    const float h = 1e-2f;
    float *vecs[3] = {x, W, b};
    float *grads[3] = {dx, dW, db};
    int sizes[3] = {B * IN, OUT * IN, OUT};
    const char *names[3] = {"linear dx", "linear dW", "linear db"};
    for (int v = 0; v < 3; v++)
        for (int i = 0; i < sizes[v]; i++) {
            float keep = vecs[v][i];
            vecs[v][i] = keep + h;
            double lp = lin_obj(x, W, b, w, B, IN, OUT);
            vecs[v][i] = keep - h;
            double lm = lin_obj(x, W, b, w, B, IN, OUT);
            vecs[v][i] = keep;
            T_CLOSE(grads[v][i], (lp - lm) / (2 * h), 2e-2, 2e-3, names[v]);
        }
}

static void test_relu_softmax(Rng *r)
{
    enum { B = 4, C = 6 };
    float z[B * C], p[B * C], d[B * C];
    int y[B] = {0, 5, 2, 2};
    fill(z, B * C, -3, 3, r);
    int nc = -1;
    double L = softmax_xent_forward(p, z, y, B, C, &nc);
    /* loss against a direct double computation */
    double ref = 0;
    int ref_nc = 0;
    for (int i = 0; i < B; i++) {
        double s = 0;
        int arg = 0;
        for (int c = 0; c < C; c++) {
            s += exp(z[i * C + c]);
            if (z[i * C + c] > z[i * C + arg]) arg = c;
        }
        ref += log(s) - z[i * C + y[i]];
        ref_nc += arg == y[i];
    }
    T_CLOSE(L, ref / B, 1e-9, 1e-9, "softmax xent loss");
    T_CHECK(nc == ref_nc, "n_correct %d vs %d", nc, ref_nc);
    softmax_xent_backward(d, p, y, B, C);
    const float h = 1e-2f;
    for (int i = 0; i < B * C; i++) {
        float keep = z[i];
        z[i] = keep + h;
        double lp = softmax_xent_forward(NULL, z, y, B, C, NULL);
        z[i] = keep - h;
        double lm = softmax_xent_forward(NULL, z, y, B, C, NULL);
        z[i] = keep;
        T_CLOSE(d[i], (lp - lm) / (2 * h), 2e-2, 2e-3, "softmax xent dlogits");
    }
    /* relu: forward zeroes negatives, backward masks by output */
    float a[6] = {-1, 0, 2, -0.5f, 3, 1e-8f}, o[6], g[6] = {1, 1, 1, 1, 1, 1}, dg[6];
    relu_forward(o, a, 6);
    relu_backward(dg, g, o, 6);
    float eo[6] = {0, 0, 2, 0, 3, 1e-8f}, eg[6] = {0, 0, 1, 0, 1, 1};
    T_CHECK(memcmp(o, eo, sizeof o) == 0, "relu forward");
    T_CHECK(memcmp(dg, eg, sizeof dg) == 0, "relu backward");
}

static void gradcheck_model(const char *name, int width)
{
    ModelSpec spec = {.in_c = 1, .in_h = 4, .in_w = 5, .n_classes = 10, .max_batch = 8, .width = width};
    Model m;
    char err[LQA_ERR_LEN];
    int rc = model_create(&m, name, &spec, err);
    T_CHECK(rc == 0, "%s create: %s", name, err);
    if (rc) return;
    model_init(&m, INIT_DEFAULT, 7);
    Rng r;
    rng_seed(&r, 99, 5);
    enum { B = 6 };
    float x[B * 20];
    int y[B];
    fill(x, B * 20, 0, 1, &r);
    for (int i = 0; i < B; i++) y[i] = (int)rng_below(&r, 10);
    double L = model_forward(&m, m.params, x, y, B, FWD_TRAIN, NULL);
    model_backward(&m);
    size_t n = m.n_params;
    float *theta = malloc(n * sizeof(float));
    memcpy(theta, m.params, n * sizeof(float));
    const float h = 1e-2f;
    int checked = 0, skipped = 0;
    for (size_t i = 0; i < n; i += 1 + n / 300) {
        float keep = theta[i];
        theta[i] = keep + h;
        double lp = model_forward(&m, theta, x, y, B, FWD_PROBE, NULL);
        theta[i] = keep - h;
        double lm = model_forward(&m, theta, x, y, B, FWD_PROBE, NULL);
        theta[i] = keep;
        double fwd = (lp - L) / h, bwd = (L - lm) / h, g = m.grads[i];
        /* smooth point: one-sided differences agree up to O(h)·curvature */
        if (fabs(fwd - bwd) > 0.05 * (fabs(g) + 0.05)) {
            skipped++;
            continue;
        }
        checked++;
        char what[64];
        snprintf(what, sizeof what, "%s grad[%zu]", name, i);
        T_CLOSE(g, (lp - lm) / (2 * h), 2e-2, 2e-3, what);
    }
    T_CHECK(skipped * 10 <= checked + skipped, "%s: %d of %d points skipped as non-smooth", name,
            skipped, checked + skipped);
    /* probe invariance: params, grads, and the training caches are unchanged
     * by probes — a second backward reproduces the same gradient bit for bit */
    float *g1 = malloc(n * sizeof(float)), *p1 = malloc(n * sizeof(float));
    memcpy(g1, m.grads, n * sizeof(float));
    memcpy(p1, m.params, n * sizeof(float));
    for (size_t i = 0; i < n; i++) theta[i] += 0.1f;
    model_forward(&m, theta, x, y, B, FWD_PROBE, NULL);
    model_forward(&m, theta, x, y, 3, FWD_EVAL, NULL);
    model_backward(&m);
    T_CHECK(memcmp(g1, m.grads, n * sizeof(float)) == 0, "%s: probe changed the gradient", name);
    T_CHECK(memcmp(p1, m.params, n * sizeof(float)) == 0, "%s: probe changed params", name);
    /* PROBE at θ equals the TRAIN loss exactly */
    double Lp = model_forward(&m, m.params, x, y, B, FWD_PROBE, NULL);
    T_CHECK(Lp == L, "%s: probe loss %.17g != train loss %.17g", name, Lp, L);
    /* default init bounds: every weight within ±1/√fan_in of its layer */
    double min_fan = width > 0 && width < 20 ? width : 20;
    double mx = vec_maxabs(m.params, n);
    T_CHECK(mx <= 1.0 / sqrt(min_fan) + 1e-7 && mx > 0.5 / sqrt(min_fan), "%s: init max |w| %g", name, mx);
    model_init(&m, INIT_ZEROS, 7);
    T_CHECK(vec_maxabs(m.params, n) == 0.0, "%s: zeros init", name);
    /* same seed, same init */
    model_init(&m, INIT_DEFAULT, 7);
    T_CHECK(memcmp(p1, m.params, n * sizeof(float)) == 0, "%s: init is not deterministic", name);
    free(g1);
    free(p1);
    free(theta);
    model_free(&m);
}

static void test_param_counts(void)
{
    const char *names[2] = {"logreg", "mlp"};
    size_t want[2] = {7850, 1796010};
    for (int i = 0; i < 2; i++) {
        ModelSpec spec = {.in_c = 1, .in_h = 28, .in_w = 28, .n_classes = 10, .max_batch = 2};
        Model m;
        char err[LQA_ERR_LEN];
        T_CHECK(model_create(&m, names[i], &spec, err) == 0, "%s", err);
        T_CHECK(m.n_params == want[i], "%s has %zu params, want %zu", names[i], m.n_params, want[i]);
        model_free(&m);
    }
    Model m;
    char err[LQA_ERR_LEN] = "";
    ModelSpec spec = {.in_c = 1, .in_h = 28, .in_w = 28, .n_classes = 10, .max_batch = 2};
    T_CHECK(model_create(&m, "nosuch", &spec, err) != 0 && strstr(err, "nosuch"), "unknown model: %s", err);
}

/* vec_dot / vec_sqnorm / vec_maxabs: close to a long-double reference, the
 * same bits for 1, 2 and 3 threads (lengths off the 8192-element blocks, one
 * above the 4M elements kept on the stack), and NaN wherever a NaN sits. */
static void test_reductions(Rng *r)
{
    const size_t lens[] = {0, 1, 31, 8191, 8193, 100003, ((size_t)1 << 22) + 8192 * 3 + 5};
    const size_t nmax = lens[sizeof lens / sizeof lens[0] - 1];
    float *a = malloc(sizeof(float) * nmax), *b = malloc(sizeof(float) * nmax);
    fill(a, nmax, -1, 1, r);
    fill(b, nmax, -1, 1, r);
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        const size_t n = lens[k];
        long double rd = 0, rs = 0;
        float rm = 0;
        for (size_t i = 0; i < n; i++) {
            rd += (long double)a[i] * b[i];
            rs += (long double)a[i] * a[i];
            rm = fabsf(a[i]) > rm ? fabsf(a[i]) : rm;
        }
        double d[3], s[3], m[3];
        for (int t = 0; t < 3; t++) {
            par_set_threads(t + 1);
            d[t] = vec_dot(a, b, n);
            s[t] = vec_sqnorm(a, n);
            m[t] = vec_maxabs(a, n);
        }
        par_set_threads(0);
        T_CLOSE(d[0], (double)rd, 1e-12, 1e-12, "vec_dot vs long double");
        T_CLOSE(s[0], (double)rs, 1e-12, 1e-12, "vec_sqnorm vs long double");
        T_CHECK(m[0] == rm, "vec_maxabs n=%zu: %g vs %g", n, m[0], (double)rm);
        for (int t = 1; t < 3; t++)
            T_CHECK(memcmp(&d[0], &d[t], sizeof(double)) == 0 && memcmp(&s[0], &s[t], sizeof(double)) == 0 &&
                        memcmp(&m[0], &m[t], sizeof(double)) == 0,
                    "n=%zu: %d threads give other bits (dot %.17g vs %.17g)", n, t + 1, d[t], d[0]);
    }
    /* a NaN in the 32-lane body, in the tail of a block, in a later block */
    const size_t n = 100003, where[] = {5, 8191, 8192 * 7 + 40, n - 1};
    for (size_t w = 0; w < sizeof where / sizeof where[0]; w++) {
        float keep = a[where[w]];
        a[where[w]] = NAN;
        for (int t = 1; t <= 2; t++) {
            par_set_threads(t);
            T_CHECK(isnan(vec_maxabs(a, n)), "maxabs: NaN at %zu missed (%d threads)", where[w], t);
            T_CHECK(isnan(vec_dot(a, b, n)), "dot: NaN at %zu missed (%d threads)", where[w], t);
        }
        par_set_threads(0);
        a[where[w]] = keep;
    }
    free(a);
    free(b);
}

/* blas_sgemm on every path (small: one thread; split into row or column
 * blocks on the pool; large: OpenBLAS's threads), all four transpose cases,
 * padded leading dimensions, β ≠ 0: against a double reference, and below the
 * large path the same bits for 1, 2 and 3 threads. */
static void test_sgemm(Rng *r)
{
    const int shapes[][3] = {{64, 10, 84}, {64, 120, 400}, {20, 400, 200}, {130, 150, 420}};
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int tr = 0; tr < 4; tr++) {
            const int M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2];
            const bool ta = tr & 1, tb = tr & 2;
            const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 7;
            const size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
            float *A = malloc(sizeof(float) * na), *Bm = malloc(sizeof(float) * nb);
            float *C0 = malloc(sizeof(float) * (size_t)M * ldc), *C[3];
            fill(A, na, -1, 1, r);
            fill(Bm, nb, -1, 1, r);
            fill(C0, (size_t)M * ldc, -1, 1, r);
            const int bt = blas_get_threads();
            for (int t = 0; t < 3; t++) {
                C[t] = malloc(sizeof(float) * (size_t)M * ldc);
                memcpy(C[t], C0, sizeof(float) * (size_t)M * ldc);
                blas_set_threads(t + 1);
                blas_sgemm(ta, tb, M, N, K, 0.5f, A, lda, Bm, ldb, 0.25f, C[t], ldc);
            }
            blas_set_threads(bt);
            double worst = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double ref = 0.25 * C0[(size_t)i * ldc + j];
                    for (int k = 0; k < K; k++)
                        ref += 0.5 * (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                               (tb ? Bm[(size_t)j * ldb + k] : Bm[(size_t)k * ldb + j]);
                    worst = fmax(worst, fabs(C[0][(size_t)i * ldc + j] - ref));
                }
            T_CHECK(worst < 1e-4, "sgemm %dx%dx%d t%d: max error %g", M, N, K, tr, worst);
            for (int i = 0; i < M; i++) /* the padding of C untouched */
                T_CHECK(memcmp(C[0] + (size_t)i * ldc + N, C0 + (size_t)i * ldc + N, 7 * sizeof(float)) == 0,
                        "sgemm %dx%dx%d t%d wrote past row %d", M, N, K, tr, i);
            if (2.0 * M * N * K < 16e6)
                for (int t = 1; t < 3; t++)
                    T_CHECK(memcmp(C[0], C[t], sizeof(float) * (size_t)M * ldc) == 0,
                            "sgemm %dx%dx%d t%d: %d threads give other bits", M, N, K, tr, t + 1);
            for (int t = 0; t < 3; t++) free(C[t]);
            free(A), free(Bm), free(C0);
        }
}

/* train_step: the training step of the sweep and the bench, schedule applied. */
static void test_train_step(void)
{
    ModelSpec spec = {.in_c = 1, .in_h = 4, .in_w = 4, .n_classes = 3, .max_batch = 4};
    Model m;
    char err[LQA_ERR_LEN];
    if (model_create(&m, "logreg", &spec, err)) {
        T_CHECK(0, "create: %s", err);
        return;
    }
    model_init(&m, INIT_DEFAULT, 5);
    float x[4 * 16];
    int y[4] = {0, 1, 2, 1};
    for (int i = 0; i < 4 * 16; i++) x[i] = (float)((i * 7) % 11) / 11.0f;
    Schedule sched = {.type = SCHED_STEP, .every = 1, .gamma = 0.5};
    TrainState s;
    const OptimizerDef *sgd = optim_find("sgd");
    double hp[OPT_MAX_HP];
    optim_hparam_defaults(sgd, hp);
    T_CHECK(train_state_init(&s, &m, sgd, hp, 0.1, &sched, 10, NULL, err) == 0, "init: %s", err);
    float *before = malloc(m.n_params * sizeof(float));
    memcpy(before, m.params, m.n_params * sizeof(float));
    double l0 = model_forward(&m, m.params, x, y, 4, FWD_EVAL, NULL);
    StepRow row;
    train_step(&s, x, y, 4, &row);
    T_CHECK(row.step == 1 && row.epoch == 1 && row.fwd == 1 && row.bwd == 1 && s.step == 1,
            "first row: step %ld epoch %d fwd %ld bwd %ld", row.step, row.epoch, row.fwd, row.bwd);
    T_CHECK(row.loss == l0 && row.info.lr == 0.1, "loss %.9g (eval %.9g), lr %g", row.loss, l0,
            row.info.lr);
    bool sgd_ok = true;
    for (size_t i = 0; i < m.n_params; i++)
        sgd_ok &= fabsf(m.params[i] - (before[i] - 0.1f * m.grads[i])) <= 1e-6f;
    T_CHECK(sgd_ok, "the step is sgd's update");
    s.epoch = 1;
    train_step(&s, x, y, 4, &row);
    T_CHECK(row.step == 2 && row.epoch == 2 && row.info.lr == 0.05 && row.seconds >= row.opt_s,
            "second step: schedule halves lr (%g), epoch %d", row.info.lr, row.epoch);
    train_state_free(&s);
    free(before);
    model_free(&m);
}

/* Model options: declared by the models that use them, parsed from one table. */
static void test_model_options(void)
{
    T_CHECK(model_option_count() == 4, "four model options, got %d", model_option_count());
    const char *want[] = {"width", "dropout", "probe_bn", "conv_algo"}; /* registry order */
    for (int i = 0; i < 4 && i < model_option_count(); i++)
        T_CHECK(strcmp(model_option_get(i)->key, want[i]) == 0, "option %d is %s", i,
                model_option_get(i)->key);
    T_CHECK(!model_option_get(4) && !model_option_find("depth"), "no other option");
    const ModelOps *r = model_find("resnet18"), *m = model_find("mlp"), *l = model_find("logreg");
    int nr = 0, nm = 0;
    for (const ModelOption *const *o = r->options; o && *o; o++) nr++;
    for (const ModelOption *const *o = m->options; o && *o; o++) nm++;
    T_CHECK(nr == 4 && nm == 1 && m->options[0] == &MODEL_OPT_WIDTH && !l->options,
            "per-model option tables: resnet18 %d, mlp %d", nr, nm);
    T_CHECK(model_uses_option(model_find("lenet5"), &MODEL_OPT_DROPOUT) &&
                model_uses_option(r, &MODEL_OPT_DROPOUT) && !model_uses_option(m, &MODEL_OPT_DROPOUT) &&
                !model_uses_option(model_find("cnn2"), &MODEL_OPT_DROPOUT),
            "dropout: lenet5 and resnet18 only");
    ModelSpec s;
    memset(&s, 0xff, sizeof s);
    model_option_defaults(&s);
    T_CHECK(s.width == 0 && s.probe_bn == PROBE_BN_BATCH && s.conv_algo == CONV_WINOGRAD2 &&
                s.dropout == 0,
            "defaults");
    model_option_set(&s, &MODEL_OPT_DROPOUT, 0.25);
    model_option_set(&s, &MODEL_OPT_WIDTH, 8);
    T_CHECK(s.dropout == 0.25 && model_option_value(&s, &MODEL_OPT_DROPOUT) == 0.25 && s.width == 8 &&
                MODEL_OPT_DROPOUT.type == MOPT_REAL,
            "a real-valued option");
    *model_option_field(&s, model_option_find("conv_algo")) = CONV_WINOGRAD4;
    T_CHECK(s.conv_algo == CONV_WINOGRAD4 && model_option_value(&s, &MODEL_OPT_CONV_ALGO) == 1,
            "option field");
    const ModelOption *pb = model_option_find("probe_bn");
    T_CHECK(pb->type == MOPT_ENUM && pb->n_names == 2 && !strcmp(pb->names[PROBE_BN_EVAL], "eval"),
            "probe_bn names");
    /* names: one join helper, one lookup */
    char buf[64];
    const char *names[] = {"a", "bb", "c"};
    T_CHECK(!strcmp(lqa_join(buf, sizeof buf, names, 3, ", "), "a, bb, c"), "join: %s", buf);
    T_CHECK(!strcmp(lqa_join(buf, 5, names, 3, ", "), "a, b"), "join truncates: %s", buf);
    T_CHECK(!strcmp(lqa_join(buf, sizeof buf, names, 0, ", "), ""), "join of none");
    T_CHECK(lqa_find_name(names, 3, "c") == 2 && lqa_find_name(names, 3, "d") == -1 &&
                lqa_find_name(names, 3, NULL) == -1,
            "find_name");
    const OptimizerDef *d = optim_find("lqa");
    int k = optim_hparam_index(d, "variant");
    const char *ch[OPT_MAX_CHOICES];
    T_CHECK(k >= 0 && optim_choices(&d->hparams[k], buf, sizeof buf, ch, OPT_MAX_CHOICES) == 2 &&
                !strcmp(ch[0], "paper") && !strcmp(ch[1], "reference"),
            "optim_choices splits an enum's choices");
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    Rng r;
    rng_seed(&r, 1234, 9);
    T_RUN(linear, test_linear(&r));
    T_RUN(relu_softmax, test_relu_softmax(&r));
    T_RUN(gradcheck, gradcheck_model("logreg", 0));
    T_RUN(gradcheck, gradcheck_model("mlp", 12));
    T_RUN(param_counts, test_param_counts());
    T_RUN(model_options, test_model_options());
    T_RUN(train_step, test_train_step());
    T_RUN(reductions, test_reductions(&r));
    T_RUN(sgemm, test_sgemm(&r));
    return t_done("test_layers");
}
