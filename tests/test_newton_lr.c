/* test_newton_lr.c — newton-lr against hand-computed probes and steps:
 * both δ readings, momentum and the first-order form (rig: optim_rig.h). */
#include "optim_rig.h"

/* newton-lr: five probes f(η±ε), f(η±2ε), f(η) at the pre-update θ; θ moves by
 * the current η; the next η is η − 2ε(f+ − f−)/(f+2 + f−2 − 2f0 + δ) ∨ δ. */
static void test_newton_lr(void)
{
    Rig r;
    make_quadratic(&r.p, QUAD_N, 14, 1.0, r.theta);
    /* δ in every denominator ("always"). The conditional default adds it here
     * too (|D| ≈ 4ε²·gᵀHg ≈ 1e-9 is below 2^-23·f(η)) but names the fallback
     * nlr_delta; test_newton_delta_mode covers that reading. */
    rig_new(&r, "newton-lr", (KV[]){{"delta_mode", 1}}, 1, 0.1);
    double gd[NMAX], eta = 0.1;
    const double eps = 1e-5, delta = 1e-6;
    for (long k = 0; k < 4; k++) {
        double L0 = quad_grad(&r.p, r.theta, r.g, gd);
        double fp = loss_at(&r.p, r.theta, -(eta + eps), r.g);
        double fm = loss_at(&r.p, r.theta, -(eta - eps), r.g);
        double fp2 = loss_at(&r.p, r.theta, -(eta + 2 * eps), r.g);
        double fm2 = loss_at(&r.p, r.theta, -(eta - 2 * eps), r.g);
        double f0 = loss_at(&r.p, r.theta, -eta, r.g);
        StepOut s = rig_step_at(&r, L0, k, 0, 100, true);
        T_CHECK(s.probes == 5 && s.info.fallback == NULL, "newton-lr: 5 probes, got %ld", s.probes);
        T_CLOSE(s.info.lr, eta, 1e-12, 0, "newton-lr: applied η = previous update");
        T_CHECK(s.info.extra[0] == fp && s.info.extra[1] == fm && s.info.extra[2] == fp2 &&
                    s.info.extra[3] == fm2 && s.info.extra[4] == f0,
                "newton-lr: the five f values (step %ld)", k);
        double next = eta - 2 * eps * (fp - fm) / (fp2 + fm2 - 2 * f0 + delta);
        eta = next < delta ? delta : next;
    }
    optim_free(&r.o);

    /* Exact case: L = x²/2, θ = 1, g = 1/2, η = 1/4, ε = 2^-7 (dyadic trial
     * points, exact losses): Newton on a quadratic lands on θ/g = 2, up to
     * δ = 1e-12 against a second difference of g²·4ε² = 6.1e-5 (rtol 1e-6). */
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    r.p.f1 = f_half_sq;
    rig_new(&r, "newton-lr", (KV[]){{"eps", ldexp(1, -7)}, {"delta", 1e-12}}, 2, 0.25);
    r.theta[0] = 1.0f;
    r.g[0] = 0.5f;
    rig_step_at(&r, 0.5, 0, 0, 100, true);
    T_CHECK(r.theta[0] == 0.875f, "newton-lr: θ − η·g with the current η");
    StepOut s = rig_step_at(&r, 0.5 * 0.875 * 0.875, 1, 0, 100, true);
    T_CLOSE(s.info.lr, 2.0, 1e-6, 0, "newton-lr: η → θ/g on a quadratic");
    optim_free(&r.o);

    /* Uphill direction (g = −1/2): the Newton target θ/g = −2 < 0 → η = δ. */
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    r.p.f1 = f_half_sq;
    rig_new(&r, "newton-lr", (KV[]){{"eps", ldexp(1, -7)}}, 1, 0.25);
    r.theta[0] = 1.0f;
    r.g[0] = -0.5f;
    rig_step_at(&r, 0.5, 0, 0, 100, true);
    s = rig_step_at(&r, f_half_sq(r.theta[0]), 1, 0, 100, true);
    T_CHECK(s.info.lr == 1e-6, "newton-lr: η floored at δ, got %g", s.info.lr);
    optim_free(&r.o);
}

/* newton-lr's reading of δ (Eq. 11–12), by hand on L = x²/2 with θ = 1,
 * g = 1/2, η = 1/4, ε = 2^-7: the trial points are dyadic, so every loss and
 * the differences are exact. f(x) = (1 − x/2)²/2, f′(η) = −g(θ − ηg) = −7/16,
 * D = g²(2ε)² = ε² = 2^-14 ≈ 6.1e-5, f(η) = 49/128.
 *   conditional (default τ = 2^-23: τ·f(η) ≈ 4.6e-8 < D): no δ, Newton lands
 *     exactly on θ/g = 2 and no fallback is named;
 *   always: η = 1/4 + 2ε·(7/16)·2ε/(ε² + δ);
 *   conditional with τ = 1e-3 (τ·f(η) ≈ 3.8e-4 > D): δ is added, the fallback
 *     column says nlr_delta, and η is bit-identical to "always".
 * Then the consequence of "always" when |D| ≪ δ: with ε = 2^-10 and δ = 1e-2
 * (D = 2^-20 ≈ 9.5e-7), η moves by −(4ε²/δ)·f′(η) up to D/δ ≈ 1e-4 relative. */
static void test_newton_delta_mode(void)
{
    static const struct {
        int mode;     /* 0 conditional, 1 always */
        double thr;   /* delta_threshold (conditional) */
        double eps, delta;
    } cases[] = {
        {0, 0, 0x1p-7, 1e-6}, {1, 0, 0x1p-7, 1e-6}, {0, 1e-3, 0x1p-7, 1e-6}, {1, 0, 0x1p-10, 1e-2},
    };
    double got[4];
    for (int c = 0; c < 4; c++) {
        Rig r;
        memset(&r, 0, sizeof r);
        r.p.n = 1;
        r.p.f1 = f_half_sq;
        KV kv[4] = {{"eps", cases[c].eps}, {"delta", cases[c].delta}, {"delta_mode", cases[c].mode},
                    {"delta_threshold", cases[c].thr}};
        rig_new(&r, "newton-lr", kv, cases[c].thr > 0 ? 4 : 3, 0.25);
        r.theta[0] = 1.0f;
        r.g[0] = 0.5f;
        StepOut s = rig_step_at(&r, 0.5, 0, 0, 100, true);
        T_CHECK(s.probes == 5 && s.info.lr == 0.25 && r.theta[0] == 0.875f, "newton-lr case %d: step 1", c);
        T_CHECK(c == 2 ? streq(s.info.fallback, "nlr_delta") : s.info.fallback == NULL,
                "newton-lr case %d: fallback %s", c, s.info.fallback ? s.info.fallback : "NULL");
        s = rig_step_at(&r, f_half_sq(0.875), 1, 0, 100, true); /* reads the new η */
        got[c] = s.info.lr;
        optim_free(&r.o);
    }
    const double e = 0x1p-7, fprime = -7.0 / 16.0;
    T_CHECK(got[0] == 2.0, "newton-lr conditional: exact Newton step to θ/g = 2, got %.17g", got[0]);
    T_CLOSE(got[1], 0.25 - 2 * e * (fprime * 2 * e) / (e * e + 1e-6), 1e-12, 0,
            "newton-lr always: δ in the denominator");
    T_CHECK(got[1] < 1.98 && got[1] > 1.96, "newton-lr always: δ shortens the step (%.6f)", got[1]);
    T_CHECK(got[2] == got[1], "newton-lr conditional with |D| under the threshold = always");
    const double e3 = 0x1p-10;
    T_CLOSE(got[3], 0.25 - (4 * e3 * e3 / 1e-2) * fprime, 2e-4, 0,
            "newton-lr always with |D| << δ: η ← η − (4ε²/δ)·f′(η)");
}

/* newton-lr momentum on η (Section 5.2): v ← βv + Δ, η ← η + v. Same exact
 * problem (ε = 2^-7, conditional: pure Newton steps). Step 1 at η = 1/4:
 * Δ1 = 7/4 (to θ/g = 2), v = 7/4, η = 2. Step 2 (θ = 7/8, g = 1/2): the Newton
 * target is θ/g = 7/4, so Δ2 = −1/4; with β = 0.9, v = 0.9·7/4 − 1/4 and
 * η = 2 + v = 3.325 (β = 0: 7/4). */
/* newton-lr "eta_batch": "validation" (Section 5.3, Fig. 13), by hand on a
 * training loss L = x²/2 and a held-out loss V = (x − 1/2)²/2, θ = 1,
 * g = ∇L = 1/2, η = 1/4, ε = 2^-7 (dyadic trial points: exact losses).
 * The five probes must run on V only: V(θ − xg) = (1 − x)²/8 is a quadratic
 * in x with its minimum at x = 1, so the (conditional, exact) Newton step lands
 * on η = 1 — on L it would land on θ/g = 2 (test_newton_delta_mode). θ still
 * moves along the training g: θ = 1 − g/4 = 7/8. The f columns hold V's
 * values. Without a val_probe the step uses the training batch and says
 * nlr_no_validation in the fallback column. */
static double f_val_sq(double x) { return 0.5 * (x - 0.5) * (x - 0.5); }

static void test_newton_eta_batch(void)
{
    const double e = 0x1p-7;
    for (int with_val = 1; with_val >= 0; with_val--) {
        Rig r;
        memset(&r, 0, sizeof r);
        r.p.n = 1;
        r.p.f1 = f_half_sq;
        rig_new(&r, "newton-lr", (KV[]){{"eps", e}, {"eta_batch", 1}}, 2, 0.25);
        Probe v;
        memset(&v, 0, sizeof v);
        v.n = 1;
        v.f1 = f_val_sq;
        r.theta[0] = 1.0f;
        r.g[0] = 0.5f;
        StepCtx ctx = {.step = 0, .steps_per_epoch = 100, .loss0 = 0.5, .lr = 0.25,
                       .probe = {probe_fn, &r.p}, .scratch = r.scratch};
        if (with_val) ctx.val_probe = (ProbeFn){probe_fn, &v};
        StepInfo info = {.lr = NAN};
        r.o.def->step(&r.o, r.theta, r.g, &ctx, &info);
        if (with_val) {
            T_CHECK(r.p.calls == 0 && v.calls == 5, "newton-lr eta_batch: 5 probes on the validation "
                    "batch, none on the training batch (got %ld, %ld)", v.calls, r.p.calls);
            T_CHECK(info.fallback == NULL, "newton-lr eta_batch: no fallback (%s)",
                    info.fallback ? info.fallback : "NULL");
            const double xs[5] = {0.25 + e, 0.25 - e, 0.25 + 2 * e, 0.25 - 2 * e, 0.25};
            for (int i = 0; i < 5; i++)
                T_CHECK(info.extra[i] == (1 - xs[i]) * (1 - xs[i]) / 8,
                        "newton-lr eta_batch: f column %d is V(θ − x·g) = %.17g, got %.17g", i,
                        (1 - xs[i]) * (1 - xs[i]) / 8, info.extra[i]);
        } else {
            T_CHECK(r.p.calls == 5 && streq(info.fallback, "nlr_no_validation"),
                    "newton-lr eta_batch without a val_probe: training batch, fallback named (%s)",
                    info.fallback ? info.fallback : "NULL");
        }
        T_CHECK(info.lr == 0.25 && r.theta[0] == 0.875f, "newton-lr eta_batch: θ − η·g_train");
        /* the next η, read by a second step */
        r.g[0] = 0.0f;
        ctx.step = 1;
        r.o.def->step(&r.o, r.theta, r.g, &ctx, &info);
        T_CHECK(info.lr == (with_val ? 1.0 : 2.0),
                "newton-lr eta_batch (%s): Newton on η lands on %g, got %.17g",
                with_val ? "validation" : "no val_probe", with_val ? 1.0 : 2.0, info.lr);
        optim_free(&r.o);
    }
    /* the first-order form takes no probes: eta_batch is rejected there */
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    char err[LQA_ERR_LEN] = "";
    T_CHECK(rig_make(&r, "newton-lr", (KV[]){{"form", 1}, {"eta_batch", 1}}, 2, 0.1, err) != 0 &&
                strstr(err, "eta_batch"),
            "newton-lr: eta_batch with the first-order form is rejected (%s)", err);
    const OptimizerDef *d = optim_find("newton-lr");
    double hp[OPT_MAX_HP];
    optim_hparam_defaults(d, hp);
    T_CHECK(d->uses_validation && d->uses_validation(hp) == NULL, "newton-lr: train batch by default");
    hp[optim_hparam_index(d, "eta_batch")] = 1;
    T_CHECK(d->uses_validation && streq(d->uses_validation(hp), "eta_batch"),
            "newton-lr: eta_batch validation asks for the validation split");
}

/* newton-lr momentum on η (Section 5.2): v ← βv + Δ, η ← η + v. Same exact
 * problem (ε = 2^-7, conditional: pure Newton steps). Step 1 at η = 1/4:
 * Δ1 = 7/4 (to θ/g = 2), v = 7/4, η = 2. Step 2 (θ = 7/8, g = 1/2): the Newton
 * target is θ/g = 7/4, so Δ2 = −1/4; with β = 0.9, v = 0.9·7/4 − 1/4 and
 * η = 2 + v = 3.325 (β = 0: 7/4). */
static void test_newton_momentum(void)
{
    const double betas[2] = {0.0, 0.9}, want[2] = {1.75, 2.0 + (0.9 * 1.75 - 0.25)};
    for (int b = 0; b < 2; b++) {
        Rig r;
        memset(&r, 0, sizeof r);
        r.p.n = 1;
        r.p.f1 = f_half_sq;
        rig_new(&r, "newton-lr", (KV[]){{"eps", 0x1p-7}, {"momentum", betas[b]}}, 2, 0.25);
        r.theta[0] = 1.0f;
        r.g[0] = 0.5f;
        rig_step_at(&r, 0.5, 0, 0, 100, true);
        T_CHECK(r.theta[0] == 0.875f, "newton-lr β=%g step 1: θ = 7/8", betas[b]);
        StepOut s = rig_step_at(&r, f_half_sq(0.875), 1, 0, 100, true);
        T_CHECK(s.info.lr == 2.0, "newton-lr β=%g step 2: η = 2, got %.17g", betas[b], s.info.lr);
        s = rig_step_at(&r, f_half_sq(r.theta[0]), 2, 0, 100, true); /* reads η */
        T_CLOSE(s.info.lr, want[b], 1e-12, 0, "newton-lr momentum: η after two updates");
        optim_free(&r.o);
    }
}

/* newton-lr first-order form (Section 3.1, HGD's rule): no probes; step 1
 * applies the sweep's lr; at step t, η ← η + α·g_t·g_(t−1) (+ momentum), then
 * η ∨ δ, and the new η is applied in the same step. By hand on L = x²/2 from
 * θ = 1 (g = θ), η0 = 1/4, α = 0.1:
 *   step 1: θ ← 1 − 1/4 = 3/4, η stays 1/4;
 *   step 2: g = 3/4, Δ = 0.1·(3/4)(1) = 0.075, η = 0.325, θ ← 3/4 − 0.325·3/4;
 *   with β = 0.5 step 3: v = 0.5·0.075 + 0.1·g3·g2.
 * The f columns are not measured (NaN, empty in the CSV); L0 is passed as NaN
 * because the form reads none (this also exempts the rig's "extra set" check).
 * A negative product larger than η/α floors η at δ. */
static void test_newton_first_order(void)
{
    const double betas[2] = {0.0, 0.5};
    for (int b = 0; b < 2; b++) {
        Rig r;
        memset(&r, 0, sizeof r);
        r.p.n = 1;
        r.p.f1 = f_half_sq;
        rig_new(&r, "newton-lr", (KV[]){{"form", 1}, {"alpha", 0.1}, {"momentum", betas[b]}}, 3, 0.25);
        r.theta[0] = 1.0f;
        double eta = 0.25, v = 0, gprev = 0;
        for (long k = 0; k < 4; k++) {
            r.g[0] = r.theta[0];
            if (k > 0) {
                v = betas[b] * v + 0.1 * (double)r.g[0] * gprev;
                eta += v;
            }
            gprev = r.g[0];
            StepOut s = rig_step_at(&r, NAN, k, 0, 100, true);
            T_CHECK(s.probes == 0 && s.info.fallback == NULL, "newton-lr first-order: no probes");
            for (int i = 0; i < 5; i++) T_CHECK(isnan(s.info.extra[i]), "first-order: f column %d empty", i);
            T_CLOSE(s.info.lr, eta, 1e-12, 0, "newton-lr first-order: η by hand");
            if (k == 1) T_CLOSE(s.info.lr, 0.325, 1e-12, 0, "newton-lr first-order step 2: η = 0.325");
        }
        optim_free(&r.o);
    }
    /* Floor: α = 10, g1 = 1/2, g2 = −1/2: η = 1/4 − 2.5 < δ → η = δ. */
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    r.p.f1 = f_half_sq;
    rig_new(&r, "newton-lr", (KV[]){{"form", 1}, {"alpha", 10}}, 2, 0.25);
    r.g[0] = 0.5f;
    rig_step_at(&r, NAN, 0, 0, 100, true);
    r.g[0] = -0.5f;
    StepOut s = rig_step_at(&r, NAN, 1, 0, 100, true);
    T_CHECK(s.info.lr == 1e-6, "newton-lr first-order: η floored at δ, got %g", s.info.lr);
    optim_free(&r.o);

    /* Same rule as HGD without the floor: identical η on a random quadratic. */
    Rig a, h;
    make_quadratic(&a.p, QUAD_N, 21, 1.0, a.theta);
    make_quadratic(&h.p, QUAD_N, 21, 1.0, h.theta);
    rig_new(&a, "newton-lr", (KV[]){{"form", 1}, {"alpha", 1e-3}}, 2, 0.1);
    rig_new(&h, "hgd", (KV[]){{"beta", 1e-3}}, 1, 0.1);
    double gd[NMAX];
    for (long k = 0; k < 5; k++) {
        quad_grad(&a.p, a.theta, a.g, gd);
        StepOut sa = rig_step_at(&a, NAN, k, 0, 100, true);
        StepOut sh = rig_step_quad(&h, gd, k, 0, 100);
        T_CHECK(sa.info.lr == sh.info.lr, "newton-lr first-order = hgd (step %ld: %g vs %g)", k,
                sa.info.lr, sh.info.lr);
    }
    optim_free(&a.o);
    optim_free(&h.o);
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    T_RUN(newton_lr, test_newton_lr());
    T_RUN(newton_delta_mode, test_newton_delta_mode());
    T_RUN(newton_eta_batch, test_newton_eta_batch());
    T_RUN(newton_momentum, test_newton_momentum());
    T_RUN(newton_first_order, test_newton_first_order());
    return t_done("test_newton_lr");
}
