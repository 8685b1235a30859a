/* optim_rig.h — what the optimizer unit tests (test_optim_adaptive.c,
 * test_lqa.c, test_qlabgrad.c, test_newton_lr.c) share: exact quadratic and
 * 1-D probe closures, and the Rig that runs one optimizer step at a time.
 *
 * Every step runs through rig_step_at(), whose probe closure checks on each call
 * that the trial vector is ctx->scratch and that theta and g are bit-identical
 * to their values before the step (so no "add, then subtract back"), and
 * counts calls (the per-step probe count). After the step g must be unchanged
 * and, for methods whose direction is g, theta must equal θ + (float)(−lr)·g
 * computed here, bit for bit. */
#ifndef LQA_OPTIM_RIG_H
#define LQA_OPTIM_RIG_H

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

static inline double quad_loss(const Probe *p, const float *x)
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

static inline double probe_fn(void *ctx, const float *x)
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
static inline double loss_at(const Probe *p, const float *theta, double c, const float *v)
{
    float x[NMAX];
    for (size_t i = 0; i < p->n; i++) x[i] = theta[i] + (float)c * v[i];
    return quad_loss(p, x);
}

/* Well-scaled random SPD quadratic: H = I + AᵀA/n (eigenvalues in about
 * [1, 2.5]), c and θ uniform in [−1, 1) times `xscale` (so ∇L scales with
 * xscale and the line minimisers along g do not). */
static inline void make_quadratic(Probe *p, size_t n, uint64_t seed, double xscale,
                                  float *theta)
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
static inline double quad_grad(const Probe *p, const float *theta, float *g, double *gd)
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
static inline double line_min(const Probe *p, const double *gd, const float *v)
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
static inline int rig_make(Rig *r, const char *name, const KV *kv, int nkv, double lr0,
                           char *err)
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

static inline void rig_new(Rig *r, const char *name, const KV *kv, int nkv, double lr0)
{
    char err[LQA_ERR_LEN] = "";
    int rc = rig_make(r, name, kv, nkv, lr0, err);
    T_CHECK(rc == 0, "create %s: %s", name, err);
    if (rc != 0) exit(1);
}

/* One step at L0 with the current r->g. check_update: theta must become
 * θ + (float)(−lr)·g exactly (methods whose direction is g). */
static inline StepOut rig_step_at(Rig *r, double L0, long step, int epoch, long spe,
                                  bool check_update)
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
static inline StepOut rig_step_quad(Rig *r, double *gd, long step, int epoch, long spe)
{
    double L0 = quad_grad(&r->p, r->theta, r->g, gd);
    return rig_step_at(r, L0, step, epoch, spe, true);
}

static inline bool streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

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

static inline double quad_rtol(const float *g, size_t n, double xscale)
{
    double gn = sqrt(vec_sqnorm(g, n)) / xscale; /* relative to the problem's scale */
    return gn >= 1.0 ? QUAD_RTOL : QUAD_RTOL / gn;
}


/* 1-D losses shared by several tests */
static inline double f_neg_half_sq(double x) { return -0.5 * x * x; }
static inline double f_half_sq(double x) { return 0.5 * x * x; }

#endif
