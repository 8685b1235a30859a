/* test_optim_classic.c — the six torch.optim methods and the lr schedules.
 *
 * Each optimizer is fed a fixed 5-step gradient sequence (n = 7, mixed signs,
 * magnitudes 1e-3 .. 5, zeros) and its theta after every step, the first included,
 * is compared with a reference written here in double straight from the formulas in
 * the spec table (shared/spec/optimizers.md), not from torch's operation order.
 * Bit-level agreement with torch.optim itself is checked by tests/torch_optim_check.py.
 * A run on a vector of ~100k elements checks that 1 and 2 pool threads give
 * bit-identical theta and state (the update loops run through par_for). */
#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "common.h"
#include "optim.h"
#include "optim/classic.h"
#include "parallel.h"
#include "rng.h"
#include "schedule.h"
#include "test.h"

enum { N = 7, STEPS = 5 };

static const float THETA0[N] = { 0.5f, -1.25f, 2.0f, 0.0f, -0.3f, 1.0f, 3.0f };
static const float GRADS[STEPS][N] = {
    { 0.8f, -2.5f, 0.0f, 1e-3f, -0.05f, 5.0f, -0.4f },
    { -0.6f, -1.5f, 0.3f, 2e-3f, 0.07f, 4.0f, 0.0f },
    { 0.2f, 0.5f, -0.1f, -1e-3f, 0.0f, -3.0f, 0.9f },
    { 1.1f, -0.2f, 0.0f, 5e-3f, -0.02f, 2.5f, -1.3f },
    { -0.3f, 1.7f, 0.25f, 0.0f, 0.04f, -4.5f, 0.6f },
};

/* ---- double-precision references, straight from the spec table ---------- */

typedef struct Ref {
    const char *name;
    double mu, tau, eps, decay, alpha, b1, b2, wd, s0;
} Ref;

/* lrs[t] is the lr of step t; traj[t][i] is theta after step t+1. */
static void reference(const Ref *r, const double *lrs, double traj[STEPS][N])
{
    double th[N], b[N] = { 0 }, S[N], m[N] = { 0 }, v[N] = { 0 };
    for (int i = 0; i < N; i++) th[i] = THETA0[i], S[i] = r->s0;
    for (int t = 0; t < STEPS; t++) {
        int k = t + 1;
        for (int i = 0; i < N; i++) {
            double g = (double)GRADS[t][i] + r->wd * th[i];
            if (!strcmp(r->name, "sgd")) {
                th[i] -= lrs[t] * g;
            } else if (!strcmp(r->name, "sgd-m") || !strcmp(r->name, "sgd-nag")) {
                b[i] = t == 0 ? g : r->mu * b[i] + (1 - r->tau) * g;
                th[i] -= lrs[t] * (!strcmp(r->name, "sgd-nag") ? g + r->mu * b[i] : b[i]);
            } else if (!strcmp(r->name, "adagrad")) {
                S[i] += g * g;
                th[i] -= lrs[t] / (1 + (k - 1) * r->decay) * g / (sqrt(S[i]) + r->eps);
            } else if (!strcmp(r->name, "rmsprop")) {
                v[i] = r->alpha * v[i] + (1 - r->alpha) * g * g;
                th[i] -= lrs[t] * g / (sqrt(v[i]) + r->eps);
            } else { /* adam */
                m[i] = r->b1 * m[i] + (1 - r->b1) * g;
                v[i] = r->b2 * v[i] + (1 - r->b2) * g * g;
                th[i] -= lrs[t] / (1 - pow(r->b1, k)) * m[i] /
                         (sqrt(v[i]) / sqrt(1 - pow(r->b2, k)) + r->eps);
            }
            traj[t][i] = th[i];
        }
    }
}

/* ---- running the C optimizers ------------------------------------------- */

static int probe_calls;
static double count_probe(void *ctx, const float *theta)
{
    (void)ctx, (void)theta;
    probe_calls++;
    return 0.0;
}

/* Set named hyperparameters ("key", value, ..., NULL) over the defaults. */
static void set_hp(const OptimizerDef *def, double *hp, const char *const *keys, const double *vals)
{
    optim_hparam_defaults(def, hp);
    for (int j = 0; keys && keys[j]; j++) {
        int k = optim_hparam_index(def, keys[j]);
        T_CHECK(k >= 0, "%s has no hyperparameter %s", def->name, keys[j]);
        if (k >= 0) hp[k] = vals[j];
    }
}

/* Run def for STEPS steps at lrs[t]; traj[t] = theta after step t+1. */
static int run(const char *name, const char *const *keys, const double *vals, const double *lrs,
               float traj[STEPS][N])
{
    const OptimizerDef *def = optim_find(name);
    T_CHECK(def != NULL, "optimizer %s is registered", name);
    if (!def) return -1;
    double hp[OPT_MAX_HP];
    set_hp(def, hp, keys, vals);
    Optimizer o;
    char err[LQA_ERR_LEN] = "";
    int rc = optim_create(&o, def, hp, lrs[0], N, err);
    T_CHECK(rc == 0, "%s: optim_create failed: %s", name, err);
    if (rc) return -1;
    float theta[N], scratch[N];
    memcpy(theta, THETA0, sizeof theta);
    for (int t = 0; t < STEPS; t++) {
        StepCtx ctx = { .step = t, .lr = lrs[t], .probe = { count_probe, NULL }, .scratch = scratch };
        StepInfo info = { .lr = -1.0 };
        def->step(&o, theta, GRADS[t], &ctx, &info);
        T_CHECK(info.lr == lrs[t], "%s: info.lr %g, expected ctx->lr %g", name, info.lr, lrs[t]);
        T_CHECK(info.fallback == NULL, "%s: no fallback", name);
        memcpy(traj[t], theta, sizeof theta);
    }
    optim_free(&o);
    return 0;
}

/* Tolerance: the C code keeps theta and its state in float32, the reference in
 * double. Each step adds at most a few float32 roundings (relative 6e-8 each) to
 * theta (|theta| <= 5 here) and to the state, whose relative error enters the step
 * (at most lr * 10 here) only linearly; over 5 steps that stays below ~1e-6 of
 * max(|theta|, 1). Measured: max |c - ref| / max(|ref|, 1) = 2.7e-7 over all cases.
 * A formula error (wrong default, bias correction, dampening, first-step rule)
 * moves theta by >= 1e-4 here. */
#define TOL 1e-6

static double max_dev;

static void compare(const char *what, const Ref *r, const char *const *keys, const double *vals,
                    const double *lrs)
{
    float got[STEPS][N];
    double ref[STEPS][N];
    if (run(r->name, keys, vals, lrs, got)) return;
    reference(r, lrs, ref);
    int bad = 0;
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N; i++) {
            double dev = fabs(got[t][i] - ref[t][i]) / LQA_MAX(fabs(ref[t][i]), 1.0);
            if (dev > max_dev) max_dev = dev;
            if (!(dev <= TOL)) {
                bad++;
                T_CHECK(0, "%s: step %d theta[%d] = %.9g, reference %.9g", what, t + 1, i,
                        got[t][i], ref[t][i]);
            }
        }
    T_CHECK(bad == 0, "%s: %d mismatches", what, bad);
}

static void test_trajectories(void)
{
    const double lr01[STEPS] = { 0.1, 0.1, 0.1, 0.1, 0.1 };
    const double lr001[STEPS] = { 0.01, 0.01, 0.01, 0.01, 0.01 };
    const double lrvar[STEPS] = { 0.1, 0.05, 0.05, 0.02, 0.3 }; /* as a schedule would set */

    Ref sgd = { .name = "sgd" };
    compare("sgd", &sgd, NULL, NULL, lr01);
    compare("sgd varying lr", &sgd, NULL, NULL, lrvar);
    Ref sgd_wd = { .name = "sgd", .wd = 0.05 };
    compare("sgd wd", &sgd_wd, (const char *[]){ "weight_decay", NULL }, (double[]){ 0.05 }, lr01);

    Ref sgdm = { .name = "sgd-m", .mu = 0.9 };
    compare("sgd-m", &sgdm, NULL, NULL, lr01);
    compare("sgd-m varying lr", &sgdm, NULL, NULL, lrvar);
    Ref sgdm2 = { .name = "sgd-m", .mu = 0.5, .tau = 0.3, .wd = 0.01 };
    compare("sgd-m mu .5 tau .3 wd", &sgdm2,
            (const char *[]){ "momentum", "dampening", "weight_decay", NULL },
            (double[]){ 0.5, 0.3, 0.01 }, lr001);

    Ref nag = { .name = "sgd-nag", .mu = 0.9 };
    compare("sgd-nag", &nag, NULL, NULL, lr01);
    Ref nag2 = { .name = "sgd-nag", .mu = 0.6, .wd = 0.02 };
    compare("sgd-nag mu .6 wd", &nag2, (const char *[]){ "momentum", "weight_decay", NULL },
            (double[]){ 0.6, 0.02 }, lr001);

    Ref ada = { .name = "adagrad", .eps = 1e-10 };
    compare("adagrad", &ada, NULL, NULL, lr01);
    Ref ada2 = { .name = "adagrad", .eps = 1e-6, .decay = 0.1, .wd = 0.01, .s0 = 0.5 };
    compare("adagrad decay eps wd s0", &ada2,
            (const char *[]){ "eps", "lr_decay", "weight_decay", "initial_accumulator_value", NULL },
            (double[]){ 1e-6, 0.1, 0.01, 0.5 }, lr001);

    Ref rms = { .name = "rmsprop", .alpha = 0.99, .eps = 1e-8 };
    compare("rmsprop", &rms, NULL, NULL, lr001);
    compare("rmsprop lr .1", &rms, NULL, NULL, lr01);
    Ref rms2 = { .name = "rmsprop", .alpha = 0.9, .eps = 1e-4, .wd = 0.01 };
    compare("rmsprop alpha eps wd", &rms2,
            (const char *[]){ "alpha", "eps", "weight_decay", NULL }, (double[]){ 0.9, 1e-4, 0.01 },
            lr001);

    Ref adam = { .name = "adam", .b1 = 0.9, .b2 = 0.999, .eps = 1e-8 };
    compare("adam", &adam, NULL, NULL, lr01);
    compare("adam varying lr", &adam, NULL, NULL, lrvar);
    Ref adam2 = { .name = "adam", .b1 = 0.5, .b2 = 0.9, .eps = 1e-3, .wd = 0.01 };
    compare("adam betas eps wd", &adam2,
            (const char *[]){ "beta1", "beta2", "eps", "weight_decay", NULL },
            (double[]){ 0.5, 0.9, 1e-3, 0.01 }, lr001);
    printf("classic trajectories: max |c - ref| / max(|ref|, 1) = %.3g (tolerance %g)\n", max_dev, TOL);
    T_CHECK(probe_calls == 0, "classic methods never probe (%d calls)", probe_calls);
}

/* ---- first steps worked by hand ------------------------------------------ */

static void test_first_steps(void)
{
    const double lr[STEPS] = { 0.1, 0.1, 0.1, 0.1, 0.1 };
    float sgd[STEPS][N], sgdm[STEPS][N], nag[STEPS][N], adam[STEPS][N], rms[STEPS][N], ada[STEPS][N];
    run("sgd", NULL, NULL, lr, sgd);
    run("sgd-m", NULL, NULL, lr, sgdm);
    run("sgd-nag", NULL, NULL, lr, nag);
    run("adam", NULL, NULL, lr, adam);
    run("rmsprop", NULL, NULL, lr, rms);
    run("adagrad", NULL, NULL, lr, ada);
    T_CHECK(memcmp(sgd[0], sgdm[0], sizeof sgd[0]) == 0, "sgd-m first step equals sgd (b = g)");
    T_CHECK(memcmp(sgd[1], sgdm[1], sizeof sgd[1]) != 0, "sgd-m differs from sgd at step 2");
    for (int i = 0; i < N; i++) {
        double g = GRADS[0][i], s = (g > 0) - (g < 0);
        char what[64];
        snprintf(what, sizeof what, "sgd step 1, theta[%d]", i);
        T_CLOSE(sgd[0][i], THETA0[i] - 0.1 * g, 1e-7, 1e-7, what);
        snprintf(what, sizeof what, "sgd-nag step 1 = -lr(1+mu)g, theta[%d]", i);
        T_CLOSE(nag[0][i] - THETA0[i], -0.1 * 1.9 * g, 1e-6, 1e-7, what);
        /* Adam: m_hat = g, v_hat = g^2, so the step is lr*g/(|g| + eps) ~ lr*sign(g). */
        snprintf(what, sizeof what, "adam step 1 ~ lr*sign(g), theta[%d]", i);
        T_CLOSE(adam[0][i] - THETA0[i], -0.1 * s, 1e-4, 1e-7, what);
        /* RMSProp: v = 0.01 g^2, step = lr*g/(0.1|g| + eps) ~ 10*lr*sign(g). */
        snprintf(what, sizeof what, "rmsprop step 1 ~ 10 lr*sign(g), theta[%d]", i);
        T_CLOSE(rms[0][i] - THETA0[i], -1.0 * s, 1e-4, 1e-6, what);
        /* AdaGrad: S = g^2, step = lr*g/(|g| + eps) ~ lr*sign(g). */
        snprintf(what, sizeof what, "adagrad step 1 ~ lr*sign(g), theta[%d]", i);
        T_CLOSE(ada[0][i] - THETA0[i], -0.1 * s, 1e-5, 1e-7, what);
    }
    /* A zero gradient (theta[2] at step 1) leaves the coordinate exactly in place. */
    T_CHECK(adam[0][2] == THETA0[2] && rms[0][2] == THETA0[2] && ada[0][2] == THETA0[2],
            "zero gradient: no move on step 1");
    /* Weight decay with g = 0: theta <- theta*(1 - lr*lambda). */
    const OptimizerDef *def = optim_find("sgd");
    double hp[OPT_MAX_HP];
    set_hp(def, hp, (const char *[]){ "weight_decay", NULL }, (double[]){ 0.5 });
    Optimizer o;
    float th[1] = { 2.0f }, g0[1] = { 0.0f };
    if (optim_create(&o, def, hp, 0.1, 1, NULL) == 0) {
        StepCtx ctx = { .lr = 0.1 };
        StepInfo info = { 0 };
        def->step(&o, th, g0, &ctx, &info);
        T_CLOSE(th[0], 2.0 * (1 - 0.1 * 0.5), 1e-7, 0, "sgd weight decay with g = 0");
        optim_free(&o);
    }
    /* Adagrad lr_decay: the second step uses lr/(1 + decay); with g = 1 twice:
     * step 1 moves lr*1/1 = lr; step 2 moves lr/(1+d) * 1/sqrt(2). */
    def = optim_find("adagrad");
    set_hp(def, hp, (const char *[]){ "lr_decay", NULL }, (double[]){ 1.0 });
    th[0] = 0.0f;
    float g1[1] = { 1.0f };
    if (optim_create(&o, def, hp, 0.1, 1, NULL) == 0) {
        StepCtx ctx = { .lr = 0.1 };
        StepInfo info = { 0 };
        def->step(&o, th, g1, &ctx, &info);
        T_CLOSE(th[0], -0.1, 1e-6, 0, "adagrad step 1");
        def->step(&o, th, g1, &ctx, &info);
        T_CLOSE(th[0], -0.1 - 0.05 / sqrt(2.0), 1e-6, 0, "adagrad step 2 with lr_decay 1");
        optim_free(&o);
    }
}

/* ---- thread-count independence -------------------------------------------- */

/* Above PAR_MIN_WORK element operations the update loops are split over the pool
 * threads; each element depends only on its own index, so theta and the state must
 * not depend on the thread count. NBIG is odd, so the two shares differ in size. */
enum { NBIG = 100003, BIG_STEPS = 3 };

/* Run name for BIG_STEPS steps on a fixed random NBIG-vector with `threads` pool
 * threads; out (3 * NBIG floats, zeroed) receives theta, s1 and s2. */
static void run_big(const char *name, const char *const *keys, const double *vals, int threads,
                    float *out)
{
    const OptimizerDef *def = optim_find(name);
    T_CHECK(def != NULL, "optimizer %s is registered", name);
    if (!def) return;
    double hp[OPT_MAX_HP];
    set_hp(def, hp, keys, vals);
    Optimizer o;
    char err[LQA_ERR_LEN] = "";
    float *g = lqa_alloc(sizeof(float) * NBIG, err);
    int rc = g ? optim_create(&o, def, hp, 0.05, NBIG, err) : -1;
    T_CHECK(rc == 0, "%s: setup failed: %s", name, err);
    if (rc == 0) {
        Rng r;
        rng_seed(&r, 20240601, 0);
        float *theta = out;
        for (size_t i = 0; i < NBIG; i++) theta[i] = rng_uniform(&r, -2.0f, 2.0f);
        par_set_threads(threads);
        for (int t = 0; t < BIG_STEPS; t++) {
            /* mixed magnitudes and signs, some exact zeros */
            for (size_t i = 0; i < NBIG; i++)
                g[i] = i % 17 == 0 ? 0.0f : rng_uniform(&r, -1.0f, 1.0f) * (i % 3 ? 3.0f : 1e-3f);
            StepCtx ctx = { .step = t, .lr = 0.05 / (t + 1), .scratch = NULL };
            StepInfo info = { .lr = -1.0 };
            def->step(&o, theta, g, &ctx, &info);
        }
        par_set_threads(0);
        const ClassicState *s = o.state;
        if (s->s1) memcpy(out + NBIG, s->s1, sizeof(float) * NBIG);
        if (s->s2) memcpy(out + 2 * NBIG, s->s2, sizeof(float) * NBIG);
        optim_free(&o);
    }
    lqa_free(g);
}

static void big_case(const char *name, const char *const *keys, const double *vals)
{
    char err[LQA_ERR_LEN] = "";
    float *one = lqa_alloc(sizeof(float) * 3 * NBIG, err);
    float *two = lqa_alloc(sizeof(float) * 3 * NBIG, err);
    T_CHECK(one && two, "%s: allocation: %s", name, err);
    if (one && two) {
        run_big(name, keys, vals, 1, one);
        run_big(name, keys, vals, 2, two);
        T_CHECK(memcmp(one, two, sizeof(float) * NBIG) == 0,
                "%s: theta differs between 1 and 2 threads", name);
        T_CHECK(memcmp(one + NBIG, two + NBIG, sizeof(float) * 2 * NBIG) == 0,
                "%s: state differs between 1 and 2 threads", name);
    }
    lqa_free(one), lqa_free(two);
}

static void test_thread_determinism(void)
{
    /* the cheapest loop (sgd, 2 ops per element) must still reach the pool */
    T_CHECK((size_t)NBIG * 2 >= PAR_MIN_WORK, "NBIG is above the parallel threshold");
    big_case("sgd", (const char *[]){ "weight_decay", NULL }, (double[]){ 0.01 });
    big_case("sgd-m", (const char *[]){ "dampening", "weight_decay", NULL },
             (double[]){ 0.3, 0.01 });
    big_case("sgd-nag", (const char *[]){ "weight_decay", NULL }, (double[]){ 0.01 });
    big_case("adagrad",
             (const char *[]){ "lr_decay", "weight_decay", "initial_accumulator_value", NULL },
             (double[]){ 0.1, 0.01, 0.1 });
    big_case("rmsprop", (const char *[]){ "weight_decay", NULL }, (double[]){ 0.01 });
    big_case("adam", (const char *[]){ "weight_decay", NULL }, (double[]){ 0.01 });
}

/* ---- registry, defaults, hyperparameter validation ----------------------- */

static double hp_default(const OptimizerDef *def, const char *key)
{
    int k = optim_hparam_index(def, key);
    return k < 0 ? NAN : def->hparams[k].def;
}

static void expect_hp(const char *opt, const char *key, double v, int ok)
{
    const OptimizerDef *def = optim_find(opt);
    int k = def ? optim_hparam_index(def, key) : -1;
    T_CHECK(k >= 0, "%s offers %s", opt, key);
    if (k < 0) return;
    char err[LQA_ERR_LEN] = "";
    int rc = optim_hparam_check(&def->hparams[k], v, err);
    T_CHECK((rc == 0) == ok, "%s %s=%g should be %s (%s)", opt, key, v, ok ? "accepted" : "rejected", err);
}

static void test_hparams(void)
{
    static const char *const names[] = { "sgd", "sgd-m", "sgd-nag", "adagrad", "rmsprop", "adam" };
    for (int j = 0; j < 6; j++) {
        const OptimizerDef *def = optim_find(names[j]);
        T_CHECK(def != NULL, "%s registered", names[j]);
        if (!def) continue;
        T_CHECK(def->classic, "%s is classic", names[j]);
        T_CHECK(hp_default(def, "weight_decay") == 0.0, "%s weight_decay default 0", names[j]);
        T_CHECK(optim_hparam_index(def, "lr") < 0 && optim_hparam_index(def, "nesterov") < 0,
                "%s: unknown names are not found", names[j]);
        expect_hp(names[j], "weight_decay", -1e-3, 0);
        expect_hp(names[j], "weight_decay", 1e-4, 1);
        expect_hp(names[j], "weight_decay", NAN, 0);
        expect_hp(names[j], "weight_decay", INFINITY, 0);
    }
    /* torch.optim defaults */
    T_CHECK(hp_default(optim_find("sgd-m"), "momentum") == 0.9, "sgd-m momentum 0.9");
    T_CHECK(hp_default(optim_find("sgd-m"), "dampening") == 0.0, "sgd-m dampening 0");
    T_CHECK(hp_default(optim_find("sgd-nag"), "momentum") == 0.9, "sgd-nag momentum 0.9");
    T_CHECK(hp_default(optim_find("sgd-nag"), "dampening") == 0.0, "sgd-nag dampening 0");
    T_CHECK(hp_default(optim_find("adagrad"), "eps") == 1e-10, "adagrad eps 1e-10");
    T_CHECK(hp_default(optim_find("adagrad"), "lr_decay") == 0.0, "adagrad lr_decay 0");
    T_CHECK(hp_default(optim_find("adagrad"), "initial_accumulator_value") == 0.0, "adagrad S0 0");
    T_CHECK(hp_default(optim_find("rmsprop"), "alpha") == 0.99, "rmsprop alpha 0.99");
    T_CHECK(hp_default(optim_find("rmsprop"), "eps") == 1e-8, "rmsprop eps 1e-8");
    T_CHECK(hp_default(optim_find("adam"), "beta1") == 0.9, "adam beta1 0.9");
    T_CHECK(hp_default(optim_find("adam"), "beta2") == 0.999, "adam beta2 0.999");
    T_CHECK(hp_default(optim_find("adam"), "eps") == 1e-8, "adam eps 1e-8");
    T_CHECK(optim_hparam_index(optim_find("sgd"), "momentum") < 0, "sgd has no momentum");
    T_CHECK(optim_hparam_index(optim_find("adam"), "beta") < 0, "adam: no 'beta'");

    /* ranges */
    expect_hp("sgd-m", "momentum", 0.0, 1);
    expect_hp("sgd-m", "momentum", 0.99, 1);
    expect_hp("sgd-m", "momentum", 1.0, 0);
    expect_hp("sgd-m", "momentum", -0.1, 0);
    expect_hp("sgd-m", "dampening", 0.5, 1);
    expect_hp("sgd-m", "dampening", -0.5, 0);
    expect_hp("sgd-m", "dampening", 1.5, 0);
    expect_hp("sgd-nag", "momentum", 0.0, 0); /* Nesterov needs mu > 0, as in torch */
    expect_hp("sgd-nag", "momentum", 1.0, 0);
    expect_hp("adagrad", "eps", 0.0, 0);
    expect_hp("adagrad", "eps", -1e-10, 0);
    expect_hp("adagrad", "eps", 1e-12, 1);
    expect_hp("adagrad", "lr_decay", -0.1, 0);
    expect_hp("adagrad", "lr_decay", 0.5, 1);
    expect_hp("adagrad", "initial_accumulator_value", -1.0, 0);
    expect_hp("rmsprop", "alpha", 1.0, 0);
    expect_hp("rmsprop", "alpha", -0.01, 0);
    expect_hp("rmsprop", "alpha", 0.0, 1);
    expect_hp("rmsprop", "eps", 0.0, 0);
    expect_hp("adam", "beta1", 1.0, 0);
    expect_hp("adam", "beta1", 0.0, 1);
    expect_hp("adam", "beta1", -0.1, 0);
    expect_hp("adam", "beta2", 1.0, 0);
    expect_hp("adam", "beta2", 0.9999, 1);
    expect_hp("adam", "beta2", NAN, 0);
    expect_hp("adam", "eps", 0.0, 0);
    expect_hp("adam", "eps", -1e-8, 0);

    /* NAG with dampening != 0 is rejected by validate (optim_create fails). */
    const OptimizerDef *nag = optim_find("sgd-nag");
    double hp[OPT_MAX_HP];
    set_hp(nag, hp, (const char *[]){ "dampening", NULL }, (double[]){ 0.1 });
    Optimizer o;
    char err[LQA_ERR_LEN] = "";
    int rc = optim_create(&o, nag, hp, 0.1, N, err);
    T_CHECK(rc != 0, "sgd-nag with dampening 0.1 is rejected");
    T_CHECK(strstr(err, "dampening") != NULL, "message names dampening: %s", err);
    if (rc == 0) optim_free(&o);
    set_hp(nag, hp, NULL, NULL);
    rc = optim_create(&o, nag, hp, 0.1, N, err);
    T_CHECK(rc == 0, "sgd-nag defaults accepted: %s", err);
    if (rc == 0) optim_free(&o);
    /* sgd-m accepts dampening */
    const OptimizerDef *sgdm = optim_find("sgd-m");
    set_hp(sgdm, hp, (const char *[]){ "dampening", NULL }, (double[]){ 0.1 });
    rc = optim_create(&o, sgdm, hp, 0.1, N, err);
    T_CHECK(rc == 0, "sgd-m with dampening 0.1 accepted: %s", err);
    if (rc == 0) optim_free(&o);
}

/* ---- schedules ------------------------------------------------------------ */

static void test_schedule_values(void)
{
    Schedule none = { .type = SCHED_NONE };
    T_CHECK(schedule_lr(&none, 0.1, 12345) == 0.1, "none keeps lr0");
    Schedule st = { .type = SCHED_STEP, .every = 10, .gamma = 0.5 };
    T_CLOSE(schedule_lr(&st, 0.1, 0), 0.1, 1e-15, 0, "step at 0");
    T_CLOSE(schedule_lr(&st, 0.1, 9), 0.1, 1e-15, 0, "step at 9");
    T_CLOSE(schedule_lr(&st, 0.1, 10), 0.05, 1e-15, 0, "step at 10 (halved)");
    T_CLOSE(schedule_lr(&st, 0.1, 25), 0.025, 1e-15, 0, "step at 25");
    T_CLOSE(schedule_lr(&st, 0.1, 100), 0.1 / 1024, 1e-15, 0, "step at 100");
    Schedule ex = { .type = SCHED_EXP, .every = 1, .gamma = 0.9 };
    T_CLOSE(schedule_lr(&ex, 0.1, 0), 0.1, 1e-15, 0, "exp at 0");
    T_CLOSE(schedule_lr(&ex, 0.1, 3), 0.1 * 0.729, 1e-14, 0, "exp at 3");
    Schedule ex2 = { .type = SCHED_EXP, .every = 4, .gamma = 0.5 };
    T_CLOSE(schedule_lr(&ex2, 0.2, 7), 0.1, 1e-15, 0, "exp every 4 at 7");
    T_CLOSE(schedule_lr(&ex2, 0.2, 8), 0.05, 1e-15, 0, "exp every 4 at 8");
    Schedule co = { .type = SCHED_COSINE, .min = 1e-3, .period = 100 };
    T_CLOSE(schedule_lr(&co, 0.1, 0), 0.1, 1e-15, 0, "cosine at 0");
    T_CLOSE(schedule_lr(&co, 0.1, 50), 0.0505, 1e-14, 0, "cosine at half period");
    T_CLOSE(schedule_lr(&co, 0.1, 25), 1e-3 + 0.099 * (1 + sqrt(0.5)) / 2, 1e-14, 0, "cosine at 25");
    T_CLOSE(schedule_lr(&co, 0.1, 100), 1e-3, 1e-14, 0, "cosine at period");
    T_CLOSE(schedule_lr(&co, 0.1, 1000), 1e-3, 1e-14, 0, "cosine stays at min");

    char buf[128];
    T_CHECK(!strcmp(schedule_describe(&st, buf, sizeof buf), "step(every=10, gamma=0.5)"), "describe: %s", buf);
    T_CHECK(!strcmp(schedule_describe(&co, buf, sizeof buf), "cosine(period=100, min=0.001)"), "describe: %s", buf);
    T_CHECK(!strcmp(schedule_describe(&none, buf, sizeof buf), "none"), "describe: %s", buf);
    T_CHECK(!strcmp(schedule_describe(&ex, buf, sizeof buf), "exp(every=1, gamma=0.9)"), "describe: %s", buf);
}

static int parse(const char *json, Schedule *s, char *err)
{
    cJSON *j = cJSON_Parse(json);
    T_CHECK(j != NULL, "test JSON parses: %s", json);
    if (!j) return -2;
    int rc = schedule_parse(s, j, "optimizers[2].schedule", err);
    cJSON_Delete(j);
    return rc;
}

static void parse_ok(const char *json, SchedType type, long every, double gamma, double min, long period)
{
    Schedule s;
    char err[LQA_ERR_LEN] = "";
    int rc = parse(json, &s, err);
    T_CHECK(rc == 0, "%s: accepted (%s)", json, err);
    if (rc) return;
    T_CHECK(s.type == type, "%s: type", json);
    if (type == SCHED_COSINE)
        T_CHECK(s.period == period && s.min == min, "%s: period %ld min %g", json, s.period, s.min);
    else
        T_CHECK(s.every == every && s.gamma == gamma, "%s: every %ld gamma %g", json, s.every, s.gamma);
}

/* The message must begin with the expected key path. */
static void parse_bad(const char *json, const char *prefix)
{
    Schedule s = { .type = SCHED_NONE };
    char err[LQA_ERR_LEN] = "";
    int rc = parse(json, &s, err);
    T_CHECK(rc == -1, "%s: rejected", json);
    T_CHECK(strncmp(err, prefix, strlen(prefix)) == 0, "%s: message \"%s\" should begin \"%s\"", json, err, prefix);
    T_CHECK(s.type == SCHED_NONE, "%s: output untouched on error", json);
}

static void test_schedule_parse(void)
{
    parse_ok("{\"type\": \"step\", \"every\": 100}", SCHED_STEP, 100, 0.5, 0, 0);
    parse_ok("{\"type\": \"step\", \"every\": 30, \"gamma\": 0.1}", SCHED_STEP, 30, 0.1, 0, 0);
    parse_ok("{\"gamma\": 0.5, \"type\": \"exp\", \"every\": 7}", SCHED_EXP, 7, 0.5, 0, 0);
    parse_ok("{\"type\": \"exp\", \"every\": 1}", SCHED_EXP, 1, 0.5, 0, 0);
    parse_ok("{\"type\": \"cosine\", \"min\": 1e-3, \"period\": 500}", SCHED_COSINE, 0, 0, 1e-3, 500);
    parse_ok("{\"type\": \"cosine\", \"period\": 5}", SCHED_COSINE, 0, 0, 0.0, 5);

    const char *P = "optimizers[2].schedule";
    char pre[128];
#define BAD(json, key)                                                                \
    do {                                                                              \
        snprintf(pre, sizeof pre, "%s%s:", P, key);                                   \
        parse_bad(json, pre);                                                         \
    } while (0)
    BAD("[1, 2]", "");
    BAD("\"step\"", "");
    BAD("{\"every\": 10}", ".type");
    BAD("{\"type\": 3, \"every\": 10}", ".type");
    BAD("{\"type\": \"linear\", \"every\": 10}", ".type");
    BAD("{\"type\": \"step\", \"every\": 10, \"foo\": 1}", ".foo");
    BAD("{\"type\": \"step\", \"every\": 10, \"Every\": 10}", ".Every");
    BAD("{\"type\": \"step\", \"every\": 10, \"period\": 10}", ".period");
    BAD("{\"type\": \"exp\", \"every\": 10, \"min\": 0.1}", ".min");
    BAD("{\"type\": \"cosine\", \"period\": 10, \"gamma\": 0.5}", ".gamma");
    BAD("{\"type\": \"cosine\", \"period\": 10, \"every\": 5}", ".every");
    BAD("{\"type\": \"step\"}", ".every");
    BAD("{\"type\": \"exp\", \"gamma\": 0.5}", ".every");
    BAD("{\"type\": \"step\", \"every\": 0}", ".every");
    BAD("{\"type\": \"step\", \"every\": -3}", ".every");
    BAD("{\"type\": \"step\", \"every\": 2.5}", ".every");
    BAD("{\"type\": \"step\", \"every\": \"10\"}", ".every");
    BAD("{\"type\": \"step\", \"every\": true}", ".every");
    BAD("{\"type\": \"step\", \"every\": 1e30}", ".every");
    BAD("{\"type\": \"cosine\"}", ".period");
    BAD("{\"type\": \"cosine\", \"min\": 0.001}", ".period");
    BAD("{\"type\": \"cosine\", \"period\": 0}", ".period");
    BAD("{\"type\": \"cosine\", \"period\": -1}", ".period");
    BAD("{\"type\": \"cosine\", \"period\": null}", ".period");
    BAD("{\"type\": \"step\", \"every\": 10, \"gamma\": 0}", ".gamma");
    BAD("{\"type\": \"step\", \"every\": 10, \"gamma\": -0.5}", ".gamma");
    BAD("{\"type\": \"exp\", \"every\": 10, \"gamma\": \"half\"}", ".gamma");
    BAD("{\"type\": \"cosine\", \"period\": 10, \"min\": -1e-3}", ".min");
    BAD("{\"type\": \"cosine\", \"period\": 10, \"min\": [0]}", ".min");
    BAD("{\"type\": \"step\", \"every\": 10, \"every\": 20}", ".every");
#undef BAD
    char err[LQA_ERR_LEN];
    Schedule s;
    parse("{\"type\": \"step\", \"every\": 0}", &s, err);
    T_CHECK(!strcmp(err, "optimizers[2].schedule.every: must be a positive integer"), "message: %s", err);
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    T_RUN(trajectories, test_trajectories());
    T_RUN(first_steps, test_first_steps());
    T_RUN(thread_determinism, test_thread_determinism());
    T_RUN(hparams, test_hparams());
    T_RUN(schedule_values, test_schedule_values());
    T_RUN(schedule_parse, test_schedule_parse());
    return t_done("test_optim_classic");
}
