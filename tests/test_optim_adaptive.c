/* test_optim_adaptive.c — the adaptive learning-rate methods (hgd, l4gd, lqa,
 * qlabgrad, newton-lr) against hand computations and exact quadratics.
 *
 * Every step runs through rig_step(), whose probe closure checks on each call
 * that the trial vector is ctx->scratch and that theta and g are bit-identical
 * to their values before the step (so no "add, then subtract back"), and
 * counts calls (the per-step probe count). After the step g must be unchanged
 * and, for methods whose direction is g, theta must equal θ + (float)(−lr)·g
 * computed here, bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "common.h"
#include "optim.h"
#include "rng.h"
#include "test.h"

#define NMAX 16

/* ------------------------------------------------------------------------ */
/* Probe closure: an exact quadratic ½xᵀHx − cᵀx (double), or a 1-D function. */

typedef struct {
    size_t n;
    double H[NMAX * NMAX], c[NMAX];
    double (*f1)(double); /* when set: L(x) = f1(x[0]), n = 1 */
    long calls;
    bool watch;
    const float *theta_live, *g_live, *scratch;
    float theta_snap[NMAX], g_snap[NMAX];
    long bad_ptr, bad_state;
} Probe;

static double quad_loss(const Probe *p, const float *x)
{
    if (p->f1) return p->f1((double)x[0]);
    double s = 0;
    for (size_t i = 0; i < p->n; i++) {
        double hx = 0;
        for (size_t j = 0; j < p->n; j++) hx += p->H[i * p->n + j] * (double)x[j];
        s += 0.5 * (double)x[i] * hx - p->c[i] * (double)x[i];
    }
    return s;
}

static double probe_fn(void *ctx, const float *x)
{
    Probe *p = ctx;
    p->calls++;
    if (p->watch) {
        if (x != p->scratch) p->bad_ptr++;
        if (memcmp(p->theta_live, p->theta_snap, sizeof(float) * p->n) != 0 ||
            memcmp(p->g_live, p->g_snap, sizeof(float) * p->n) != 0)
            p->bad_state++;
    }
    return quad_loss(p, x);
}

/* Loss at θ + c·v with the trial rounded to float exactly as vec_axpy_to does. */
static double loss_at(const Probe *p, const float *theta, double c, const float *v)
{
    float x[NMAX];
    for (size_t i = 0; i < p->n; i++) x[i] = theta[i] + (float)c * v[i];
    return quad_loss(p, x);
}

/* Well-scaled random SPD quadratic: H = I + AᵀA/n (eigenvalues in about
 * [1, 2.5]), c and θ uniform in [−1, 1) times `xscale` (so ∇L scales with
 * xscale and the line minimisers along g do not). */
static void make_quadratic(Probe *p, size_t n, uint64_t seed, double xscale, float *theta)
{
    Rng r;
    rng_seed(&r, seed, 7);
    double A[NMAX * NMAX];
    memset(p, 0, sizeof *p);
    p->n = n;
    for (size_t i = 0; i < n * n; i++) A[i] = rng_uniform(&r, -1, 1);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = (i == j) ? 1.0 : 0.0;
            for (size_t k = 0; k < n; k++) s += A[k * n + i] * A[k * n + j] / (double)n;
            p->H[i * n + j] = s;
        }
    for (size_t i = 0; i < n; i++) p->c[i] = xscale * rng_uniform(&r, -1, 1);
    for (size_t i = 0; i < n; i++) theta[i] = (float)(xscale * rng_uniform(&r, -1, 1));
}

/* ∇L(θ) = Hθ − c in double into gd, rounded into g; returns L(θ). */
static double quad_grad(const Probe *p, const float *theta, float *g, double *gd)
{
    for (size_t i = 0; i < p->n; i++) {
        double s = -p->c[i];
        for (size_t j = 0; j < p->n; j++) s += p->H[i * p->n + j] * (double)theta[j];
        gd[i] = s;
        g[i] = (float)s;
    }
    return quad_loss(p, theta);
}

/* Exact minimiser of L(θ − x·v) over x: (∇L·v)/(vᵀHv), in double. */
static double line_min(const Probe *p, const double *gd, const float *v)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < p->n; i++) {
        num += gd[i] * (double)v[i];
        double hv = 0;
        for (size_t j = 0; j < p->n; j++) hv += p->H[i * p->n + j] * (double)v[j];
        den += (double)v[i] * hv;
    }
    return num / den;
}

/* ------------------------------------------------------------------------ */
/* Rig: optimizer + probe + buffers, one step at a time. */

typedef struct {
    Optimizer o;
    Probe p;
    float theta[NMAX], g[NMAX], scratch[NMAX];
    double lr0;
} Rig;

typedef struct {
    StepInfo info;
    long probes;
} StepOut;

static const char SENTINEL[] = "unset";

typedef struct {
    const char *key;
    double val;
} KV;

/* Create r->o for `name` with defaults overridden by kv (enum: choice index).
 * Returns optim_create's result; err receives its message. */
static int rig_make(Rig *r, const char *name, const KV *kv, int nkv, double lr0, char *err)
{
    const OptimizerDef *def = optim_find(name);
    T_CHECK(def != NULL, "optimizer %s is registered", name);
    if (!def) return -1;
    double hp[OPT_MAX_HP];
    optim_hparam_defaults(def, hp);
    for (int i = 0; i < nkv; i++) {
        int k = optim_hparam_index(def, kv[i].key);
        T_CHECK(k >= 0, "%s has hyperparameter %s", name, kv[i].key);
        if (k < 0) return -1;
        if (optim_hparam_check(&def->hparams[k], kv[i].val, err) != 0) return -1;
        hp[k] = kv[i].val;
    }
    r->lr0 = lr0;
    return optim_create(&r->o, def, hp, lr0, r->p.n, err);
}

static void rig_new(Rig *r, const char *name, const KV *kv, int nkv, double lr0)
{
    char err[LQA_ERR_LEN] = "";
    int rc = rig_make(r, name, kv, nkv, lr0, err);
    T_CHECK(rc == 0, "create %s: %s", name, err);
    if (rc != 0) exit(1);
}

/* One step at L0 with the current r->g. check_update: theta must become
 * θ + (float)(−lr)·g exactly (methods whose direction is g). */
static StepOut rig_step_at(Rig *r, double L0, long step, int epoch, long spe, bool check_update)
{
    Probe *p = &r->p;
    const size_t n = p->n;
    memcpy(p->theta_snap, r->theta, sizeof(float) * n);
    memcpy(p->g_snap, r->g, sizeof(float) * n);
    p->theta_live = r->theta;
    p->g_live = r->g;
    p->scratch = r->scratch;
    long calls0 = p->calls, bad0 = p->bad_ptr + p->bad_state;
    p->watch = true;

    StepCtx ctx = {.step = step, .epoch = epoch, .steps_per_epoch = spe, .loss0 = L0,
                   .lr = r->lr0, .probe = {probe_fn, p}, .scratch = r->scratch};
    StepOut out;
    memset(&out, 0, sizeof out);
    out.info.fallback = SENTINEL;
    for (int i = 0; i < OPT_MAX_EXTRA; i++) out.info.extra[i] = NAN;
    r->o.def->step(&r->o, r->theta, r->g, &ctx, &out.info);
    p->watch = false;

    out.probes = p->calls - calls0;
    const char *nm = r->o.def->name;
    T_CHECK(p->bad_ptr + p->bad_state == bad0,
            "%s step %ld: probes saw a trial vector outside scratch or a changed theta/g", nm, step);
    T_CHECK(memcmp(r->g, p->g_snap, sizeof(float) * n) == 0, "%s step %ld: g changed", nm, step);
    T_CHECK(out.info.fallback != SENTINEL, "%s step %ld: fallback not set", nm, step);
    for (int i = 0; i < r->o.def->n_extra; i++)
        T_CHECK(!isnan(out.info.extra[i]) || !isfinite(L0), "%s step %ld: extra %s not set", nm,
                step, r->o.def->extra_cols[i]);
    if (check_update) {
        float expect[NMAX];
        const float c = (float)(-out.info.lr);
        for (size_t i = 0; i < n; i++) expect[i] = p->theta_snap[i] + c * p->g_snap[i];
        T_CHECK(memcmp(r->theta, expect, sizeof(float) * n) == 0,
                "%s step %ld: theta is not θ − lr·g", nm, step);
    }
    return out;
}

/* Quadratic rigs: compute g and L0 from theta, then step. */
static StepOut rig_step_quad(Rig *r, double *gd, long step, int epoch, long spe)
{
    double L0 = quad_grad(&r->p, r->theta, r->g, gd);
    return rig_step_at(r, L0, step, epoch, spe, true);
}

static bool streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* ------------------------------------------------------------------------ */
/* Tolerance for "applied step = exact line minimiser" on the quadratics.
 *
 * The losses are exact functions of the float trial vector (computed in
 * double), so the only error is the rounding of the trial point θ + c·g to
 * float: |e_i| ≤ 2^-24·(|c·g_i| + |x_i|) ≲ 1.2e-7 per coordinate here, which
 * moves each probed loss by |∇L(x)·e| ≲ ‖∇L‖·‖e‖ ≈ 3 · 3.8e-7 ≈ 1e-6 (n = 10,
 * |x_i| ≲ 1.5, ‖∇L‖ ≲ 3). The step sizes are ratios of differences of these
 * losses: LQA's denominator L+ + L− − 2L0 = δ0²·gᵀHg ≈ 0.09·(1..2.5)·‖g‖² and
 * QLABGrad's Lp − L0 + Gā = ½ā²·gᵀHg are both ≳ 0.1 for δ0 = ā = 0.3 and
 * ‖g‖² ≳ 1, so the relative error of the step is ≲ 4·1e-6/0.1 = 4e-5 in the
 * worst case and ~1e-6 typically. The float rounding of g itself is absorbed
 * by comparing with (∇L·g)/(gᵀHg) along the float g. QUAD_RTOL = 1e-4 keeps a
 * 2.5× margin over the worst case. Along the line ∇L(x) = O(‖g‖), so the
 * probe errors scale with ‖g‖ and the denominators with ‖g‖²: for ‖g‖ < 1
 * the tolerance is QUAD_RTOL/‖g‖ (quad_rtol()). Observed (printed): ≤ 2e-6
 * (LQA) and ≤ 7e-6 (QLABGrad, whose one-sided difference cancels more), the
 * largest on the late steps with small ‖g‖. */
#define QUAD_RTOL 1e-4
/* Where the test recomputes an optimizer's double formula from the same
 * inputs, it allows 1e-12 relative (not 0): compilers that contract a·b + c
 * into an FMA (clang's default) may round the two copies differently. */
#define QUAD_N 10

static double quad_rtol(const float *g, size_t n, double xscale)
{
    double gn = sqrt(vec_sqnorm(g, n)) / xscale; /* relative to the problem's scale */
    return gn >= 1.0 ? QUAD_RTOL : QUAD_RTOL / gn;
}

/* ------------------------------------------------------------------------ */

static void test_registry(void)
{
    static const struct {
        const char *name;
        int n_extra;
        const char *cols;
    } want[] = {
        {"hgd", 1, "hypergrad"},
        {"l4gd", 1, "l_min"},
        {"lqa", 3, "l_plus,l_minus,delta0"},
        {"qlabgrad", 2, "abar,l_probe"},
        {"newton-lr", 5, "f_plus,f_minus,f_plus2,f_minus2,f0"},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const OptimizerDef *d = optim_find(want[k].name);
        T_CHECK(d != NULL, "%s registered", want[k].name);
        if (!d) continue;
        T_CHECK(!d->classic, "%s is not classic", d->name);
        T_CHECK(d->n_extra == want[k].n_extra && d->n_extra <= OPT_MAX_EXTRA, "%s n_extra", d->name);
        char cols[128] = "";
        for (int i = 0; i < d->n_extra; i++) {
            if (i) strcat(cols, ",");
            strcat(cols, d->extra_cols[i]);
        }
        T_CHECK(strcmp(cols, want[k].cols) == 0, "%s extra columns: %s", d->name, cols);
        T_CHECK(d->n_hparams <= OPT_MAX_HP, "%s hparams fit", d->name);
        for (int i = 0; i < d->n_hparams; i++) {
            char err[LQA_ERR_LEN];
            T_CHECK(optim_hparam_check(&d->hparams[i], d->hparams[i].def, err) == 0,
                    "%s.%s default is valid", d->name, d->hparams[i].name);
        }
    }
}

/* Every optimizer declares what lr means, and the declaration matches the code:
 * for each setting of each enum hyperparameter, 6 steps on a quartic from
 * lr 0.05 and from lr 0.3 end at the same θ exactly when lr is declared unused.
 * (Not a quadratic: on one, LQA and QLABGrad find the exact line minimiser
 * whatever their starting δ0 or ā.) L(x) = quadratic + ¼·Σx⁴. */
static double quartic_loss(void *ctx, const float *x)
{
    Probe *p = ctx;
    double s = quad_loss(p, x);
    for (size_t i = 0; i < p->n; i++) s += 0.25 * pow((double)x[i], 4);
    return s;
}

static void lr_role_trajectory(const OptimizerDef *d, const double *hp, double lr, float *theta_out)
{
    Probe p;
    float theta[NMAX], g[NMAX], scratch[NMAX];
    double gd[NMAX];
    make_quadratic(&p, 6, 11, 1.0, theta);
    Optimizer o;
    char err[LQA_ERR_LEN];
    if (optim_create(&o, d, hp, lr, p.n, err) != 0) {
        T_CHECK(0, "%s: create: %s", d->name, err);
        memset(theta_out, 0, sizeof(float) * NMAX);
        return;
    }
    for (long t = 0; t < 6; t++) {
        quad_grad(&p, theta, g, gd);
        for (size_t k = 0; k < p.n; k++) g[k] = (float)(gd[k] + pow((double)theta[k], 3));
        double L0 = quartic_loss(&p, theta);
        StepCtx ctx = {.step = t, .epoch = (int)(t / 2), .steps_per_epoch = 2, .loss0 = L0,
                       .lr = lr, .probe = {quartic_loss, &p}, .scratch = scratch};
        StepInfo info = {.lr = NAN};
        d->step(&o, theta, g, &ctx, &info);
    }
    optim_free(&o);
    memcpy(theta_out, theta, sizeof(float) * NMAX);
}

static void test_lr_roles(void)
{
    for (int i = 0; i < optim_registry_size(); i++) {
        const OptimizerDef *d = optim_registry_get(i);
        T_CHECK(d->lr_role != LR_UNDECLARED, "%s declares what lr means (lr_role)", d->name);
        T_CHECK(d->lr_doc && d->lr_doc[0], "%s documents what lr means (lr_doc)", d->name);
        if (d->classic)
            T_CHECK(d->lr_role == LR_STEP && !d->lr_role_of, "%s (classic): lr is the step size", d->name);
        /* the defaults, then every choice of each enum hyperparameter */
        for (int h = -1; h < d->n_hparams; h++) {
            int n_choice = 1;
            if (h >= 0) {
                if (d->hparams[h].type != HP_ENUM) continue;
                char buf[256];
                const char *names[OPT_MAX_CHOICES];
                n_choice = optim_choices(&d->hparams[h], buf, sizeof buf, names, OPT_MAX_CHOICES);
            }
            for (int c = 0; c < n_choice; c++) {
                double hp[OPT_MAX_HP];
                optim_hparam_defaults(d, hp);
                if (h >= 0) hp[h] = c;
                LrRole role = optim_lr_role(d, hp);
                float a[NMAX], b[NMAX];
                lr_role_trajectory(d, hp, 0.05, a);
                lr_role_trajectory(d, hp, 0.3, b);
                bool same = memcmp(a, b, sizeof(float) * 6) == 0;
                T_CHECK(same == (role == LR_UNUSED), "%s (%s = %d): lr declared %s, but the trajectory %s with lr",
                        d->name, h >= 0 ? d->hparams[h].name : "defaults", c, optim_lr_role_name(role),
                        same ? "does not change" : "changes");
            }
        }
    }
    const OptimizerDef *lqa = optim_find("lqa"), *l4 = optim_find("l4gd");
    double hp[OPT_MAX_HP];
    optim_hparam_defaults(lqa, hp);
    T_CHECK(optim_lr_role(lqa, hp) == LR_INITIAL, "lqa paper: lr is the starting δ0");
    hp[optim_hparam_index(lqa, "variant")] = 1;
    T_CHECK(optim_lr_role(lqa, hp) == LR_UNUSED, "lqa reference: lr unused");
    optim_hparam_defaults(l4, hp);
    T_CHECK(optim_lr_role(l4, hp) == LR_UNUSED, "l4gd: lr unused");
}

static void test_validation(void)
{
    static const struct {
        const char *opt, *key;
        double val;
        bool ok;
    } cases[] = {
        {"hgd", "beta", -1e-3, false},    {"hgd", "beta", 0, true},
        {"hgd", "momentum", -0.1, false}, {"hgd", "momentum", 1.0, false},
        {"l4gd", "alpha", 0, false},      {"l4gd", "alpha", 0.15, true},
        {"l4gd", "gamma", 0, false},      {"l4gd", "gamma", 1.0, true},
        {"l4gd", "gamma", 1.5, false},    {"l4gd", "eps", 0, false},
        {"l4gd", "tau", 0, false},        {"l4gd", "eta_max", -1, false},
        {"lqa", "delta0_min", -1, false}, {"qlabgrad", "findplr_every", -2, true},
        {"qlabgrad", "findplr_every", -2e6, false},
        {"qlabgrad", "findplr_every", -1, true}, {"qlabgrad", "findplr_every", 0, true},
        {"qlabgrad", "alpha_max", -1, false}, {"qlabgrad", "abar_min", -1, false},
        {"newton-lr", "eps", 0, false},   {"newton-lr", "delta", 0, false},
        {"newton-lr", "momentum", 1.0, false}, {"newton-lr", "momentum", -0.1, false},
        {"newton-lr", "momentum", 0.9, true}, {"newton-lr", "alpha", 0, false},
        {"newton-lr", "delta_threshold", -1e-7, false}, {"newton-lr", "delta_threshold", 0, true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const OptimizerDef *d = optim_find(cases[k].opt);
        if (!d) continue;
        int i = optim_hparam_index(d, cases[k].key);
        T_CHECK(i >= 0, "%s.%s exists", cases[k].opt, cases[k].key);
        if (i < 0) continue;
        char err[LQA_ERR_LEN] = "";
        int rc = optim_hparam_check(&d->hparams[i], cases[k].val, err);
        T_CHECK((rc == 0) == cases[k].ok, "%s.%s = %g: expected %s (%s)", cases[k].opt,
                cases[k].key, cases[k].val, cases[k].ok ? "accepted" : "rejected", err);
    }
    /* Cross-field and init checks go through optim_create. */
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 3;
    char err[LQA_ERR_LEN] = "";
    T_CHECK(rig_make(&r, "hgd", (KV[]){{"nesterov", 1}}, 1, 0.1, err) != 0,
            "hgd: nesterov without momentum is rejected");
    T_CHECK(rig_make(&r, "qlabgrad", (KV[]){{"findplr_every", 2.5}}, 1, 0.1, err) != 0,
            "qlabgrad: non-integer findplr_every is rejected");
    T_CHECK(rig_make(&r, "qlabgrad", (KV[]){{"findplr_every", -1.5}}, 1, 0.1, err) != 0,
            "qlabgrad: non-integer negative findplr_every is rejected");
    T_CHECK(rig_make(&r, "lqa", NULL, 0, 0.0, err) != 0, "lqa: δ0 = 0 is rejected");
    T_CHECK(rig_make(&r, "qlabgrad", NULL, 0, -1.0, err) != 0, "qlabgrad: ā < 0 is rejected");
    T_CHECK(rig_make(&r, "newton-lr", NULL, 0, 0.0, err) != 0, "newton-lr: η = 0 is rejected");
    /* Options of one form set for the other are errors, not silently ignored. */
    T_CHECK(rig_make(&r, "newton-lr", (KV[]){{"alpha", 1e-3}}, 1, 0.1, err) != 0 && strstr(err, "alpha"),
            "newton-lr: alpha without the first-order form is rejected (%s)", err);
    T_CHECK(rig_make(&r, "newton-lr", (KV[]){{"form", 1}, {"eps", 1e-3}}, 2, 0.1, err) != 0,
            "newton-lr: eps with the first-order form is rejected");
    T_CHECK(rig_make(&r, "newton-lr", (KV[]){{"form", 1}, {"delta_mode", 1}}, 2, 0.1, err) != 0,
            "newton-lr: delta_mode with the first-order form is rejected");
    T_CHECK(rig_make(&r, "newton-lr", (KV[]){{"form", 1}, {"delta_threshold", 0}}, 2, 0.1, err) != 0,
            "newton-lr: delta_threshold with the first-order form is rejected");
    T_CHECK(rig_make(&r, "newton-lr", (KV[]){{"form", 1}, {"alpha", 1e-3}, {"momentum", 0.9}}, 3, 0.1, err) == 0,
            "newton-lr: first-order form with alpha and momentum is accepted (%s)", err);
    optim_free(&r.o);
}

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
static double f_neg_half_sq(double x) { return -0.5 * x * x; }
static double f_half_sq(double x) { return 0.5 * x * x; }
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

/* HGD: α_k = α_{k−1} + β·g_k·g_{k−1}, exact values. */
static void test_hgd(void)
{
    static const float gs[4][3] = {
        {1.0f, 2.0f, 0.5f},    /* step 1: d_prev = 0 → h = 0 */
        {0.5f, 1.0f, 1.0f},    /* aligned with step 1: h = 3 */
        {-1.0f, -1.0f, -0.5f}, /* opposed to step 2: h = −2 */
        {0.25f, 0.0f, 0.0f},   /* h = −0.25 */
    };
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 3;
    rig_new(&r, "hgd", (KV[]){{"beta", 0.01}}, 1, 0.1);
    for (int i = 0; i < 3; i++) r.theta[i] = 0.5f * (float)i - 0.25f;
    double alpha = 0.1;
    for (int k = 0; k < 4; k++) {
        double h = 0;
        if (k > 0)
            for (int i = 0; i < 3; i++) h += (double)gs[k][i] * gs[k - 1][i];
        double prev = alpha;
        alpha = prev + 0.01 * h;
        memcpy(r.g, gs[k], sizeof gs[k]);
        StepOut s = rig_step_at(&r, 1.0, k, 0, 100, true);
        T_CHECK(s.probes == 0 && s.info.fallback == NULL, "hgd: no probes, no fallback");
        T_CHECK(s.info.extra[0] == h, "hgd: hypergrad %g, got %g", h, s.info.extra[0]);
        T_CLOSE(s.info.lr, alpha, 1e-15, 0, "hgd: α = α_prev + β·g·g_prev");
        if (k == 1) T_CHECK(s.info.lr > prev, "hgd: α rises when gradients align");
        if (k >= 2) T_CHECK(s.info.lr < prev, "hgd: α falls when gradients oppose");
    }
    T_CLOSE(alpha, 0.1 + 0.01 * (3.0 - 2.0 - 0.25), 1e-15, 0, "hgd: hand value after 4 steps");
    optim_free(&r.o);

    /* No clamp by default: α goes negative; clamp_nonneg stops at 0. */
    for (int clamp = 0; clamp < 2; clamp++) {
        memset(&r, 0, sizeof r);
        r.p.n = 1;
        rig_new(&r, "hgd", (KV[]){{"beta", 1.0}, {"clamp_nonneg", clamp}}, 2, 0.1);
        r.g[0] = 1.0f;
        rig_step_at(&r, 1.0, 0, 0, 100, true);
        r.g[0] = -1.0f;
        StepOut s = rig_step_at(&r, 1.0, 1, 0, 100, true);
        T_CLOSE(s.info.lr, clamp ? 0.0 : -0.9, 1e-15, 0, "hgd clamp_nonneg");
        optim_free(&r.o);
    }

    /* SGDN-HD (μ = 0.5, Nesterov) and heavy ball: d = g + μb or d = b, with
     * b ← g, then b ← μb + g; h uses the raw g and the previous d. */
    for (int nest = 0; nest < 2; nest++) {
        memset(&r, 0, sizeof r);
        r.p.n = 2;
        rig_new(&r, "hgd", (KV[]){{"beta", 0.1}, {"momentum", 0.5}, {"nesterov", nest}}, 3, 0.25);
        const float g1[2] = {1.0f, -2.0f}, g2[2] = {0.5f, -1.0f};
        float th[2] = {0.0f, 0.0f};
        /* step 1: b = g1, d1 = g1 + 0.5·g1 (Nesterov) or g1 */
        float d1[2], b[2], d2[2];
        for (int i = 0; i < 2; i++) {
            b[i] = g1[i];
            d1[i] = nest ? g1[i] + 0.5f * b[i] : b[i];
            th[i] = th[i] - 0.25f * d1[i];
        }
        double h = (double)g2[0] * d1[0] + (double)g2[1] * d1[1];
        double a2 = 0.25 + 0.1 * h;
        for (int i = 0; i < 2; i++) {
            b[i] = 0.5f * b[i] + g2[i];
            d2[i] = nest ? g2[i] + 0.5f * b[i] : b[i];
            th[i] = th[i] - (float)a2 * d2[i];
        }
        memcpy(r.g, g1, sizeof g1);
        rig_step_at(&r, 1.0, 0, 0, 100, false);
        memcpy(r.g, g2, sizeof g2);
        StepOut s = rig_step_at(&r, 1.0, 1, 0, 100, false);
        T_CLOSE(s.info.extra[0], h, 1e-15, 0, nest ? "sgdn-hd: h = g·d_prev" : "sgdm-hd: h = g·d_prev");
        T_CLOSE(s.info.lr, a2, 1e-15, 0, "hgd momentum: α");
        for (int i = 0; i < 2; i++) T_CLOSE(r.theta[i], th[i], 1e-6, 1e-7, "hgd momentum: θ");
        optim_free(&r.o);
    }
}

/* L4GD: two (three) steps by hand with α = 0.15, γ = 0.9, γ0 = 0.75, κ = 1.001. */
static void test_l4gd(void)
{
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 2;
    rig_new(&r, "l4gd", NULL, 0, 0.1);
    r.theta[0] = 1.0f;
    r.theta[1] = -1.0f;
    /* step 1: L = 2, g = (1, 2), ‖g‖² = 5; L_min = 0.75·2 = 1.5;
     * η = 0.15·(2 − 0.9·1.5)/5 = 0.0195; then L_min = 1.5015. */
    r.g[0] = 1.0f;
    r.g[1] = 2.0f;
    StepOut s = rig_step_at(&r, 2.0, 0, 0, 100, true);
    T_CLOSE(s.info.lr, 0.0195, 1e-9, 0, "l4gd step 1: η");
    T_CLOSE(s.info.extra[0], 1.5, 1e-15, 0, "l4gd step 1: L_min = γ0·L");
    T_CHECK(s.probes == 0 && s.info.fallback == NULL, "l4gd: no probes, no fallback");
    /* step 2: L = 1.8, g = (0.5, −1), ‖g‖² = 1.25; L_min = min(1.5015, 1.8);
     * η = 0.15·(1.8 − 0.9·1.5015)/1.25 = 0.15·0.44865/1.25 = 0.053838. */
    r.g[0] = 0.5f;
    r.g[1] = -1.0f;
    s = rig_step_at(&r, 1.8, 1, 0, 100, true);
    T_CLOSE(s.info.extra[0], 1.5015, 1e-12, 0, "l4gd step 2: L_min before the κ increase");
    T_CLOSE(s.info.lr, 0.053838, 1e-9, 0, "l4gd step 2: η");
    /* step 3: L = 1 < 1.5015·1.001 → L_min = 1; g = (1, 0): η = 0.15·0.1/1. */
    r.g[0] = 1.0f;
    r.g[1] = 0.0f;
    s = rig_step_at(&r, 1.0, 2, 0, 100, true);
    T_CLOSE(s.info.extra[0], 1.0, 1e-15, 0, "l4gd step 3: L_min = L");
    T_CLOSE(s.info.lr, 0.015, 1e-9, 0, "l4gd step 3: η");
    optim_free(&r.o);

    /* eta_max caps η and says so. */
    memset(&r, 0, sizeof r);
    r.p.n = 2;
    rig_new(&r, "l4gd", (KV[]){{"eta_max", 0.01}}, 1, 0.1);
    r.g[0] = 1.0f;
    r.g[1] = 2.0f;
    s = rig_step_at(&r, 2.0, 0, 0, 100, true);
    T_CHECK(s.info.lr == 0.01 && streq(s.info.fallback, "l4_eta_max"), "l4gd eta_max");
    optim_free(&r.o);

    /* L4Mom: v = bias-corrected EMA (0.9) of g; η = α(L − γL_min)/(g·v + ε); θ ← θ − ηv. */
    memset(&r, 0, sizeof r);
    r.p.n = 2;
    rig_new(&r, "l4gd", (KV[]){{"direction", 1}}, 1, 0.1);
    r.g[0] = 1.0f;
    r.g[1] = 2.0f;
    s = rig_step_at(&r, 2.0, 0, 0, 100, false);
    T_CLOSE(s.info.lr, 0.0195, 1e-6, 0, "l4mom step 1: v = g");
    T_CLOSE(r.theta[1], -0.0195 * 2.0, 1e-6, 0, "l4mom step 1: θ");
    r.g[0] = 0.5f;
    r.g[1] = -1.0f;
    double m0 = 0.9 * 0.1 * 1.0 + 0.1 * 0.5, m1 = 0.9 * 0.1 * 2.0 - 0.1;
    double v0 = m0 / (1 - 0.81), v1 = m1 / (1 - 0.81);
    double gv = 0.5 * v0 - 1.0 * v1;
    s = rig_step_at(&r, 1.8, 1, 0, 100, false);
    T_CLOSE(s.info.lr, 0.15 * (1.8 - 0.9 * 1.5015) / gv, 1e-5, 0, "l4mom step 2: η");
    optim_free(&r.o);

    /* L4Adam: v = m̂/(√v̂ + 1e-4); step 1: v_i = g_i/(|g_i| + 1e-4). */
    memset(&r, 0, sizeof r);
    r.p.n = 2;
    rig_new(&r, "l4gd", (KV[]){{"direction", 2}}, 1, 0.1);
    r.g[0] = 1.0f;
    r.g[1] = 2.0f;
    s = rig_step_at(&r, 2.0, 0, 0, 100, false);
    gv = 1.0 / (1.0 + 1e-4) + 4.0 / (2.0 + 1e-4);
    T_CLOSE(s.info.lr, 0.15 * 0.65 / gv, 1e-5, 0, "l4adam step 1: η");
    T_CLOSE(r.theta[0], -s.info.lr / (1.0 + 1e-4), 1e-5, 0, "l4adam step 1: θ");
    optim_free(&r.o);
}

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
    T_RUN(registry, test_registry());
    T_RUN(lr_roles, test_lr_roles());
    T_RUN(validation, test_validation());
    T_RUN(lqa_quadratic, test_lqa_quadratic());
    T_RUN(lqa_fallbacks, test_lqa_fallbacks());
    T_RUN(lqa_reference, test_lqa_reference());
    T_RUN(qlab_quadratic, test_qlab_quadratic());
    T_RUN(findplr_doubling, test_findplr_doubling());
    T_RUN(findplr_halving, test_findplr_halving());
    T_RUN(qlab_concave, test_qlab_concave());
    T_RUN(findplr_halving_cap, test_findplr_halving_cap());
    T_RUN(findplr_schedule, test_findplr_schedule());
    T_RUN(qlab_reference, test_qlab_reference());
    T_RUN(hgd, test_hgd());
    T_RUN(l4gd, test_l4gd());
    T_RUN(newton_lr, test_newton_lr());
    T_RUN(newton_delta_mode, test_newton_delta_mode());
    T_RUN(newton_momentum, test_newton_momentum());
    T_RUN(newton_eta_batch, test_newton_eta_batch());
    T_RUN(newton_first_order, test_newton_first_order());
    return t_done("test_optim_adaptive");
}
