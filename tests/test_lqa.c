/* test_lqa.c — LQA (paper and reference forms) against exact line
 * minimisers on quadratics and its fallbacks on 1-D losses (rig: optim_rig.h). */
#include "optim_rig.h"

/* LQA, paper form: the applied δ is the exact line minimiser along −g, with
 * two probes per step, δ0 carried from the previous δ. */
static void test_lqa_quadratic(void)
{
    Rig r;
    make_quadratic(&r.p, QUAD_N, 11, 1.0, r.theta);
    rig_new(&r, "lqa", NULL, 0, 0.3);
    double gd[NMAX], prev = 0.3, first_L = 0, last_L = 0, maxrel = 0;
    for (long k = 0; k < 6; k++) {
        double L0 = quad_grad(&r.p, r.theta, r.g, gd);
        if (k == 0) first_L = L0;
        last_L = L0;
        double G = vec_sqnorm(r.g, r.p.n);
        double want = line_min(&r.p, gd, r.g);
        double lp = loss_at(&r.p, r.theta, prev, r.g), lm = loss_at(&r.p, r.theta, -prev, r.g);
        double rtol = quad_rtol(r.g, r.p.n, 1.0);
        StepOut s = rig_step_at(&r, L0, k, 0, 100, true);
        T_CHECK(s.probes == 2, "lqa: 2 probes per step, got %ld", s.probes);
        T_CHECK(s.info.fallback == NULL, "lqa: no fallback on a convex quadratic");
        T_CHECK(s.info.extra[2] == prev, "lqa: δ0 = previous δ (%g vs %g)", s.info.extra[2], prev);
        T_CHECK(s.info.extra[0] == lp && s.info.extra[1] == lm, "lqa: logged L+ and L−");
        T_CHECK(G >= 1.0 || k > 0, "precondition ‖g‖² ≥ 1 on the first step (%g)", G);
        T_CLOSE(s.info.lr, want, rtol, 0, "lqa step = exact line minimiser");
        maxrel = LQA_MAX(maxrel, fabs(s.info.lr - want) / want);
        prev = s.info.lr;
    }
    T_CHECK(last_L < first_L, "lqa decreases the quadratic");
    printf("  lqa: max relative error vs exact line minimiser %.2e (tol %.0e)\n", maxrel, QUAD_RTOL);
    optim_free(&r.o);
}

/* LQA fallbacks: concave probes (b < 0) and a negative δ* both take δ0 and
 * say "lqa_curvature"; the next δ0 is floored at delta0_min. */

static double f_k_half_sq(double x) { return 0.5 * 8388608.0 * x * x; } /* k = 2^23 */

static void test_lqa_fallbacks(void)
{
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    r.p.f1 = f_neg_half_sq;
    rig_new(&r, "lqa", NULL, 0, 0.25);
    r.theta[0] = 1.0f;
    r.g[0] = -1.0f; /* the true gradient of −x²/2 */
    StepOut s = rig_step_at(&r, -0.5, 0, 0, 100, true);
    T_CHECK(streq(s.info.fallback, "lqa_curvature"), "lqa concave: fallback %s",
            s.info.fallback ? s.info.fallback : "NULL");
    T_CHECK(s.info.lr == 0.25 && s.probes == 2, "lqa concave: δ = δ0 (%g), 2 probes", s.info.lr);
    optim_free(&r.o);

    /* Convex, but the given direction is uphill: δ* < 0 → fallback. */
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    r.p.f1 = f_half_sq;
    rig_new(&r, "lqa", NULL, 0, 0.25);
    r.theta[0] = 1.0f;
    r.g[0] = -1.0f;
    s = rig_step_at(&r, 0.5, 0, 0, 100, true);
    T_CHECK(streq(s.info.fallback, "lqa_curvature") && s.info.lr == 0.25, "lqa δ* < 0: fallback");
    optim_free(&r.o);

    /* δ* = 1/k = 2^-23 < delta0_min = 1e-6: applied as is, next δ0 floored.
     * All trial points are dyadic, so the probes are exact. */
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    r.p.f1 = f_k_half_sq;
    rig_new(&r, "lqa", NULL, 0, ldexp(1, -24));
    r.theta[0] = (float)ldexp(1, -10);
    r.g[0] = (float)ldexp(1, 13); /* k·θ */
    s = rig_step_at(&r, f_k_half_sq(ldexp(1, -10)), 0, 0, 100, true);
    T_CHECK(s.info.fallback == NULL && s.info.lr == ldexp(1, -23), "lqa tiny δ* = 2^-23 exactly (%.9g)",
            s.info.lr);
    r.theta[0] = (float)ldexp(1, -10);
    s = rig_step_at(&r, f_k_half_sq(ldexp(1, -10)), 1, 0, 100, true);
    T_CHECK(s.info.extra[2] == 1e-6, "lqa: next δ0 floored at delta0_min (%g)", s.info.extra[2]);
    optim_free(&r.o);
}

/* LQA reference form: probes along g/‖g‖∞, |δ| capped at 0.5, δ0 from the
 * epoch schedule max(1 − 0.02·epoch, 0.1). */
static void test_lqa_reference(void)
{
    static const struct {
        int epoch;
        double delta0;
    } sched[] = {{0, 1.0}, {10, 0.8}, {44, 1.0 - 0.02 * 44}, {45, 0.1}, {100, 0.1}};
    for (int scale_i = 0; scale_i < 2; scale_i++) {
        /* The line minimiser along g̃ in units of g̃ is m·(∇L·g)/(gᵀHg) with
         * m = ‖g‖∞: ≈ 0.5–2 for xscale 1 (above the cap), ≈ 0.02–0.1 for
         * xscale 0.05 (below it). The step is applied to the raw g, which stays
         * stable here because 0.5·λmax(H) < 2. */
        double scale = scale_i ? 0.05 : 1.0;
        Rig r;
        make_quadratic(&r.p, QUAD_N, 21, scale, r.theta);
        rig_new(&r, "lqa", (KV[]){{"variant", 1}}, 1, 0.3);
        int capped = 0, uncapped = 0;
        double maxrel = 0;
        for (size_t k = 0; k < sizeof sched / sizeof sched[0]; k++) {
            double gd[NMAX];
            double L0 = quad_grad(&r.p, r.theta, r.g, gd);
            double m = vec_maxabs(r.g, r.p.n);
            double d0 = sched[k].delta0;
            double lp = loss_at(&r.p, r.theta, d0 / m, r.g), lm = loss_at(&r.p, r.theta, -d0 / m, r.g);
            double raw = fabs(d0 * (lp - lm) / (2.0 * (lp + lm - 2.0 * L0) + 1e-24));
            double exact = m * line_min(&r.p, gd, r.g); /* minimiser along g̃, g̃ units */
            StepOut s = rig_step_at(&r, L0, (long)k, sched[k].epoch, 100, true);
            T_CLOSE(s.info.extra[2], d0, 1e-15, 0, "lqa reference: δ0 epoch schedule");
            T_CHECK(s.info.extra[0] == lp && s.info.extra[1] == lm,
                    "lqa reference: probes at θ ± δ0·g/‖g‖∞ (epoch %d)", sched[k].epoch);
            T_CHECK(s.probes == 2 && s.info.fallback == NULL, "lqa reference: 2 probes, no fallback");
            T_CLOSE(raw, exact, quad_rtol(r.g, r.p.n, scale), 0,
                    "lqa reference: |δ| is the line minimiser along g̃");
            maxrel = LQA_MAX(maxrel, fabs(raw - exact) / exact);
            if (raw > 0.5) {
                capped++;
                T_CHECK(s.info.lr == 0.5, "lqa reference: δ capped at 0.5 (raw %g, got %g)", raw, s.info.lr);
            } else {
                uncapped++;
                T_CLOSE(s.info.lr, raw, 1e-12, 0, "lqa reference: δ below the cap");
            }
        }
        T_CHECK(scale_i ? uncapped > 0 : capped > 0, "lqa reference: the %s case occurred",
                scale_i ? "uncapped" : "capped");
        printf("  lqa reference (xscale %g): max relative error %.2e, %d capped, %d not\n", scale,
               maxrel, capped, uncapped);
        optim_free(&r.o);
    }
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    T_RUN(lqa_quadratic, test_lqa_quadratic());
    T_RUN(lqa_fallbacks, test_lqa_fallbacks());
    T_RUN(lqa_reference, test_lqa_reference());
    return t_done("test_lqa");
}
