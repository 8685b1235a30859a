/* test_qlabgrad.c — QLABGrad (paper and reference forms) and FindPLR
 * against exact line minimisers and hand-computed doublings and halvings
 * (rig: optim_rig.h). */
#include "optim_rig.h"

/* QLABGrad, paper form without FindPLR: the applied α is the exact line
 * minimiser, one probe per step, ā fixed. */
static void test_qlab_quadratic(void)
{
    Rig r;
    make_quadratic(&r.p, QUAD_N, 12, 1.0, r.theta);
    rig_new(&r, "qlabgrad", (KV[]){{"findplr_every", 0}}, 1, 0.3);
    double gd[NMAX], maxrel = 0;
    for (long k = 0; k < 6; k++) {
        double L0 = quad_grad(&r.p, r.theta, r.g, gd);
        double G = vec_sqnorm(r.g, r.p.n);
        double want = line_min(&r.p, gd, r.g);
        double lp = loss_at(&r.p, r.theta, -0.3, r.g);
        double rtol = quad_rtol(r.g, r.p.n, 1.0);
        StepOut s = rig_step_at(&r, L0, k, 0, 100, true);
        T_CHECK(s.probes == 1, "qlabgrad: 1 probe per step without FindPLR, got %ld", s.probes);
        T_CHECK(s.info.fallback == NULL, "qlabgrad: no fallback on a convex quadratic");
        T_CHECK(s.info.extra[0] == 0.3 && s.info.extra[1] == lp, "qlabgrad: ā fixed, Lp logged");
        T_CHECK(G >= 1.0 || k > 0, "precondition ‖g‖² ≥ 1 on the first step (%g)", G);
        T_CLOSE(s.info.lr, want, rtol, 0, "qlabgrad step = exact line minimiser");
        maxrel = LQA_MAX(maxrel, fabs(s.info.lr - want) / want);
    }
    printf("  qlabgrad: max relative error vs exact line minimiser %.2e (tol %.0e)\n", maxrel,
           QUAD_RTOL);
    optim_free(&r.o);
}

/* FindPLR's first loop. L(x) = −x²/2 + x⁴/4 at θ = 0.5, g = L'(0.5) = −0.375.
 * With h = 0.375·ā: A·ā² = h²(−1/8 + h/2 + h²/4) < 0 iff h < √1.5 − 1 ≈ 0.2247,
 * i.e. ā < 0.599. From ā = 0.01: 0.02, 0.04, 0.08, 0.16, 0.32, 0.64 — six
 * doublings (A(0.64)·ā² ≈ +5e-4). L(θ − 0.64g) = L(0.74) ≈ −0.199 < L0 ≈
 * −0.109, so no halving. Probes: 1 + 6 (FindPLR) + 1 (the step) = 8. */
static double f_quartic(double x) { return -0.5 * x * x + 0.25 * x * x * x * x; }

static void test_findplr_doubling(void)
{
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    r.p.f1 = f_quartic;
    rig_new(&r, "qlabgrad", NULL, 0, 0.01);
    r.theta[0] = 0.5f;
    r.g[0] = -0.375f;
    const double L0 = f_quartic(0.5), G = 0.375 * 0.375, abar = 0.64;
    double lp = loss_at(&r.p, r.theta, -abar, r.g);
    double want = G * abar * abar / (2.0 * (lp - L0 + G * abar));
    StepOut s = rig_step_at(&r, L0, 0, 0, 100, true);
    T_CHECK(s.probes == 8, "FindPLR doubling: 8 probes (1 + 6 doublings + step), got %ld", s.probes);
    T_CHECK(s.info.extra[0] == abar, "FindPLR doubling: ā = 0.01·2^6 = 0.64, got %.17g", s.info.extra[0]);
    T_CHECK(s.info.extra[1] == lp && s.info.fallback == NULL, "FindPLR doubling: probe and no fallback");
    T_CLOSE(s.info.lr, want, 1e-12, 0, "FindPLR doubling: α* = Gā²/(2(Lp − L0 + Gā))");
    optim_free(&r.o);
}

/* FindPLR's second loop. L(x) = x²/2, θ = 1, g = 1: A = 1/2 > 0 for every ā
 * (no doubling); L(1 − ā) > L0 iff ā > 2. From ā = 100: 50, 25, 12.5, 6.25,
 * 3.125, 1.5625 — six halvings. Then α* = G/(2A) = 1 exactly: all dyadic. */
static void test_findplr_halving(void)
{
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    r.p.f1 = f_half_sq;
    rig_new(&r, "qlabgrad", NULL, 0, 100.0);
    r.theta[0] = 1.0f;
    r.g[0] = 1.0f;
    StepOut s = rig_step_at(&r, 0.5, 0, 0, 100, true);
    T_CHECK(s.probes == 8, "FindPLR halving: 8 probes (1 + 6 halvings + step), got %ld", s.probes);
    T_CHECK(s.info.extra[0] == 1.5625, "FindPLR halving: ā = 100/2^6, got %.17g", s.info.extra[0]);
    T_CHECK(s.info.lr == 1.0 && s.info.fallback == NULL, "FindPLR halving: α = 1 (exact minimiser), got %.17g",
            s.info.lr);
    T_CHECK(r.theta[0] == 0.0f, "FindPLR halving: lands on the minimum");
    optim_free(&r.o);
}

/* Concave loss: A < 0 for every ā, so FindPLR doubles exactly 40 times (its
 * cap), never halves (L decreases), and the step takes the fallback α = ā. */
static void test_qlab_concave(void)
{
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    r.p.f1 = f_neg_half_sq;
    rig_new(&r, "qlabgrad", NULL, 0, 1e-3);
    r.theta[0] = 1.0f;
    r.g[0] = -1.0f;
    StepOut s = rig_step_at(&r, -0.5, 0, 0, 100, true);
    T_CHECK(s.probes == 42, "FindPLR: capped at 40 doublings (42 probes), got %ld", s.probes);
    T_CHECK(s.info.extra[0] == ldexp(1e-3, 40), "FindPLR: ā = 1e-3·2^40, got %g", s.info.extra[0]);
    T_CHECK(streq(s.info.fallback, "qlab_concave") && s.info.lr == ldexp(1e-3, 40),
            "qlabgrad concave: fallback α = ā");
    optim_free(&r.o);

    /* Without FindPLR: one probe, fallback, α = ā = lr. */
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    r.p.f1 = f_neg_half_sq;
    rig_new(&r, "qlabgrad", (KV[]){{"findplr_every", 0}}, 1, 0.125);
    r.theta[0] = 1.0f;
    r.g[0] = -1.0f;
    s = rig_step_at(&r, -0.5, 0, 0, 100, true);
    T_CHECK(s.probes == 1 && streq(s.info.fallback, "qlab_concave") && s.info.lr == 0.125,
            "qlabgrad concave without FindPLR: 1 probe, qlab_concave, α = ā");

    /* alpha_max caps the step and says so. */
    optim_free(&r.o);
    memset(&r, 0, sizeof r);
    r.p.n = 1;
    r.p.f1 = f_neg_half_sq;
    rig_new(&r, "qlabgrad", (KV[]){{"alpha_max", 0.5}}, 1, 1e-3);
    r.theta[0] = 1.0f;
    r.g[0] = -1.0f;
    s = rig_step_at(&r, -0.5, 0, 0, 100, true);
    T_CHECK(s.info.lr == 0.5 && streq(s.info.fallback, "qlab_concave+qlab_alpha_max"),
            "qlabgrad alpha_max: α = 0.5, fallback %s", s.info.fallback ? s.info.fallback : "NULL");
    optim_free(&r.o);
}

/* Every trial along −g is worse (L(x) = x²/2 + x at θ = 0, given g = −1, an
 * uphill direction): A > 0, so no doubling, and L(θ − āg) = ā²/2 + ā > 0 = L0
 * for every ā, so FindPLR halves exactly 60 times (its cap): ā = 2^-60 (all
 * dyadic, exact). With abar_min, ā is then reset to its start and the step
 * says "qlab_abar_reset". */
static double f_sq_plus_x(double x) { return 0.5 * x * x + x; }

static void test_findplr_halving_cap(void)
{
    for (int with_min = 0; with_min < 2; with_min++) {
        Rig r;
        memset(&r, 0, sizeof r);
        r.p.n = 1;
        r.p.f1 = f_sq_plus_x;
        if (with_min)
            rig_new(&r, "qlabgrad", (KV[]){{"abar_min", 1e-3}}, 1, 1.0);
        else
            rig_new(&r, "qlabgrad", NULL, 0, 1.0);
        r.theta[0] = 0.0f;
        r.g[0] = -1.0f;
        StepOut s = rig_step_at(&r, 0.0, 0, 0, 100, true);
        T_CHECK(s.probes == 62, "FindPLR: capped at 60 halvings (62 probes), got %ld", s.probes);
        double abar = with_min ? 1.0 : ldexp(1, -60);
        T_CHECK(s.info.extra[0] == abar, "FindPLR halving cap: ā = %g, got %g", abar, s.info.extra[0]);
        /* α* = ā²/(2(ā²/2 + 2ā)) = ā/(ā + 4) */
        T_CLOSE(s.info.lr, abar / (abar + 4.0), 1e-12, 0, "halving cap: α*");
        if (with_min)
            T_CHECK(streq(s.info.fallback, "qlab_abar_reset"), "abar_min: fallback %s",
                    s.info.fallback ? s.info.fallback : "NULL");
        else
            T_CHECK(s.info.fallback == NULL, "halving cap: no fallback");
        optim_free(&r.o);
    }
}

/* FindPLR schedule: before the first step, then every findplr_every steps
 * (−1: every epoch; −2: every second epoch). FindPLR costs at least one trial, so a FindPLR step has
 * ≥ 2 probes and every other step exactly 1; ā stays fixed in between. */
static void test_findplr_schedule(void)
{
    static const struct {
        double every;
        const char *pattern; /* per step: F = FindPLR, . = none (spe = 3) */
    } cases[] = {{-1, "F..F..F"}, {2, "F.F.F.F"}, {0, "......."}, {5, "F....F."}, {-2, "F.....F"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Rig r;
        make_quadratic(&r.p, QUAD_N, 13, 1.0, r.theta);
        rig_new(&r, "qlabgrad", (KV[]){{"findplr_every", cases[c].every}}, 1, 0.05);
        double gd[NMAX], abar = NAN;
        for (long k = 0; k < 7; k++) {
            StepOut s = rig_step_quad(&r, gd, k, (int)(k / 3), 3);
            bool f = cases[c].pattern[k] == 'F';
            T_CHECK(f ? s.probes >= 2 : s.probes == 1,
                    "findplr_every=%g step %ld: %ld probes (expected %s)", cases[c].every, k,
                    s.probes, f ? "FindPLR" : "1");
            if (!f && k > 0)
                T_CHECK(s.info.extra[0] == abar, "ā fixed between FindPLR calls");
            abar = s.info.extra[0];
        }
        optim_free(&r.o);
    }
}

/* QLABGrad reference: no FindPLR, probe along g̃ = g/‖g‖∞, slope g·g̃, so α
 * is the line minimiser along g̃ in g̃ units (m·(∇L·g)/(gᵀHg)), capped at 0.5,
 * and the next ā is this α. */
static void test_qlab_reference(void)
{
    for (int scale_i = 0; scale_i < 2; scale_i++) {
        double scale = scale_i ? 0.05 : 1.0; /* as in test_lqa_reference */
        Rig r;
        make_quadratic(&r.p, QUAD_N, 22, scale, r.theta);
        rig_new(&r, "qlabgrad", (KV[]){{"variant", 1}}, 1, 0.3);
        double gd[NMAX], abar = 0.3, maxrel = 0, maxtol = 0;
        int capped = 0, uncapped = 0;
        for (long k = 0; k < 6; k++) {
            double L0 = quad_grad(&r.p, r.theta, r.g, gd);
            double m = vec_maxabs(r.g, r.p.n), G = vec_sqnorm(r.g, r.p.n);
            double lp = loss_at(&r.p, r.theta, -abar / m, r.g);
            double num = lp - L0 + (G / m) * abar;
            double raw = (G / m) * abar * abar / (2.0 * num);
            double exact = m * line_min(&r.p, gd, r.g);
            StepOut s = rig_step_at(&r, L0, k, 0, 3, true);
            T_CHECK(s.probes == 1, "qlabgrad reference: 1 probe (no FindPLR), got %ld", s.probes);
            T_CHECK(s.info.extra[0] == abar && s.info.extra[1] == lp,
                    "qlabgrad reference: ā = previous α, probe at θ − ā·g/‖g‖∞");
            T_CHECK(s.info.fallback == NULL, "qlabgrad reference: no fallback on a convex quadratic");
            /* The bound behind QUAD_RTOL assumes a denominator num = ½(ā/m)²gᵀHg
             * ≳ 0.1 (in the problem's scale xscale²); ā = previous α can be
             * smaller, so the tolerance grows in proportion. */
            double rel = quad_rtol(r.g, r.p.n, scale) * LQA_MAX(1.0, 0.1 * scale * scale / num);
            T_CLOSE(raw, exact, rel, 0, "qlabgrad reference: α = line minimiser along g̃");
            maxrel = LQA_MAX(maxrel, fabs(raw - exact) / exact);
            maxtol = LQA_MAX(maxtol, rel);
            if (raw > 0.5) {
                capped++;
                T_CHECK(s.info.lr == 0.5, "qlabgrad reference: α capped at 0.5, got %g", s.info.lr);
            } else {
                uncapped++;
                T_CLOSE(s.info.lr, raw, 1e-12, 0, "qlabgrad reference: α below the cap");
            }
            abar = s.info.lr;
        }
        T_CHECK(scale_i ? uncapped > 0 : capped > 0, "qlabgrad reference: the %s case occurred",
                scale_i ? "uncapped" : "capped");
        printf("  qlabgrad reference (xscale %g): max relative error %.2e (tol up to %.1e), %d capped, %d not\n",
               scale, maxrel, maxtol, capped, uncapped);
        optim_free(&r.o);
    }
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    T_RUN(qlab_quadratic, test_qlab_quadratic());
    T_RUN(findplr_doubling, test_findplr_doubling());
    T_RUN(findplr_halving, test_findplr_halving());
    T_RUN(qlab_concave, test_qlab_concave());
    T_RUN(findplr_halving_cap, test_findplr_halving_cap());
    T_RUN(findplr_schedule, test_findplr_schedule());
    T_RUN(qlab_reference, test_qlab_reference());
    return t_done("test_qlabgrad");
}
