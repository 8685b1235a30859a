/* qlabgrad.c — QLABGrad: quadratic loss approximation with one probe (Fu & Wu,
 * "QLABGrad: a hyperparameter-free and convergence-guaranteed scheme for deep
 * learning", AAAI 2024, Algorithm 1, Eq. (10), and Algorithm 2 "FindPLR").
 * Contract: spec/optimizers.md, section "QLABGrad".
 *
 * "variant": "paper" (default). With ā the pre-learning rate and G = ‖g‖²:
 *   Lp = L(θ − ā·g) (one probe),  A = (Lp − L0 + ā·G)/ā²,
 *   α* = G/(2A) = G·ā²/(2·(Lp − L0 + G·ā)).
 * Applied α = α* when A > 0 and α* is finite, else α = ā (fallback
 * "qlab_concave"); θ ← θ − α·g. ā starts at the sweep's lr and stays fixed
 * between FindPLR calls (Algorithm 1).
 * FindPLR (Algorithm 2) on the current batch, θ untouched: one probe at ā;
 * while A(ā) < 0 (at most 40 times): ā ← 2ā and probe; then while
 * L(θ − ā·g) > L0 (at most 60 times): ā ← ā/2 and probe. Every trial is one
 * probe through the closure. The paper says only that Algorithm 2 "should be
 * called a number of times" in minibatch training, so its frequency is the
 * hyperparameter "findplr_every" (an integer): it runs before the first step
 * and then whenever ctx->step is a multiple of k steps (findplr_every = k > 0),
 * of k epochs (findplr_every = −k: k·ctx->steps_per_epoch steps, i.e. at the
 * start of every k-th epoch; −1, the default, every epoch), or never
 * (findplr_every = 0: not even before the first step).
 * The step's own probe is then taken at the resulting ā (it is not shared with
 * FindPLR's last trial, so a step costs 1 probe + FindPLR's trials).
 *
 * "variant": "reference" (the authors' released code as the spec describes
 * it, built like LQA's reference form): no FindPLR; the probe is along
 * g̃ = g/‖g‖∞, Lp = L(θ − ā·g̃), and the quadratic model is fitted along that
 * direction, so the first-order term uses the slope along g̃, G̃ = g·g̃ =
 * ‖g‖²/‖g‖∞, in place of G: A = (Lp − L0 + ā·G̃)/ā², α* = G̃/(2A). α* is thus
 * the line minimiser along g̃ in units of g̃; like LQA's reference δ it is
 * applied to the raw g, capped: α = min(α, 0.5), θ ← θ − α·g; the next
 * step's ā is this step's α. (Spec ambiguity: it says only "probe along
 * g/‖g‖∞". Keeping G = ‖g‖² with a probe along g̃ would make A negative on a
 * convex quadratic whenever ‖g‖∞ < 1, so the slope is taken along the probed
 * direction; α ∝ ‖g‖∞ then lets ā shrink towards 0 as the spec warns.)
 *
 * Opt-in guards (off by default, never silent): "alpha_max" > 0 caps α (the
 * fallback column says "qlab_alpha_max"); "abar_min" > 0 resets ā to its
 * starting value when ā < abar_min at the time of the step's probe (after any
 * FindPLR; the fallback column says "qlab_abar_reset"). When several fire in
 * one step the names are joined with '+'.
 * Columns "abar" (the ā of this step's probe) and "l_probe" (Lp).
 * Deviation: none beyond the spec's options. Cost: 2 fwd, 1 bwd (+ FindPLR). */
#include <math.h>

#include "blas.h"
#include "common.h"
#include "optim.h"

enum { HP_VARIANT, HP_FINDPLR_EVERY, HP_ALPHA_MAX, HP_ABAR_MIN, N_HP };
enum { VAR_PAPER = 0, VAR_REFERENCE = 1 };

static const HParamSpec QLAB_HP[N_HP] = {
    [HP_VARIANT] = {"variant", HP_ENUM, VAR_PAPER, 0, 0, false, false, "paper|reference",
                    "paper: FindPLR + fixed ā; reference: authors' code (g/‖g‖∞ probe, ā ← α, α ≤ 0.5)"},
    [HP_FINDPLR_EVERY] = {"findplr_every", HP_NUM, -1.0, -1e6, 1e12, false, false, NULL,
                          "FindPLR before step 1, then every k steps (k > 0) or at the start of every "
                          "k-th epoch (-k; -1: every epoch); 0: never"},
    [HP_ALPHA_MAX] = {"alpha_max", HP_NUM, 0.0, 0.0, INFINITY, false, false, NULL,
                      "opt-in cap on α (0 = off)"},
    [HP_ABAR_MIN] = {"abar_min", HP_NUM, 0.0, 0.0, INFINITY, false, false, NULL,
                     "opt-in: reset ā to its start when it falls below this (0 = off)"},
};

static const char *const QLAB_EXTRA[] = {"abar", "l_probe"};

#define QLAB_MAX_DOUBLINGS 40
#define QLAB_MAX_HALVINGS 60
#define QLAB_REF_CAP 0.5

enum { FB_CONCAVE = 1, FB_ALPHA_MAX = 2, FB_ABAR_RESET = 4 };
static const char *const QLAB_FB_NAMES[8] = {
    NULL,
    "qlab_concave",
    "qlab_alpha_max",
    "qlab_concave+qlab_alpha_max",
    "qlab_abar_reset",
    "qlab_abar_reset+qlab_concave",
    "qlab_abar_reset+qlab_alpha_max",
    "qlab_abar_reset+qlab_concave+qlab_alpha_max",
};

typedef struct {
    double abar;
    long k; /* steps taken */
} QlabState;

static double probe_at(StepCtx *ctx, const float *theta, double c, const float *v, size_t n)
{
    vec_axpy_to(ctx->scratch, theta, (float)c, v, n);
    return ctx->probe.loss(ctx->probe.ctx, ctx->scratch);
}

static int qlab_validate(const double *hp, char *err)
{
    double e = hp[HP_FINDPLR_EVERY];
    if (e != floor(e)) return lqa_errf(err, "findplr_every must be an integer, got %g", e);
    return 0;
}

static int qlab_init(Optimizer *o, char *err)
{
    if (!(o->lr0 > 0 && isfinite(o->lr0)))
        return lqa_errf(err, "qlabgrad: the starting pre-learning rate ā (lr) must be a positive number, got %g",
                        o->lr0);
    QlabState *s = lqa_alloc(sizeof *s, err);
    if (!s) return -1;
    s->abar = o->lr0;
    o->state = s;
    return 0;
}

static void qlab_destroy(Optimizer *o)
{
    lqa_free(o->state);
    o->state = NULL;
}

/* Algorithm 2 from ā = *abar on this batch; θ is only read. */
static void findplr(const float *theta, const float *g, size_t n, double L0, double G,
                    StepCtx *ctx, double *abar)
{
    double a = *abar;
    double lp = probe_at(ctx, theta, -a, g, n);
    for (int i = 0; i < QLAB_MAX_DOUBLINGS && (lp - L0 + a * G) / (a * a) < 0; i++) {
        a *= 2.0;
        lp = probe_at(ctx, theta, -a, g, n);
    }
    for (int i = 0; i < QLAB_MAX_HALVINGS && lp > L0; i++) {
        a *= 0.5;
        lp = probe_at(ctx, theta, -a, g, n);
    }
    *abar = a;
}

static void qlab_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    QlabState *s = o->state;
    const size_t n = o->n;
    const double L0 = ctx->loss0;
    const bool reference = (int)o->hp[HP_VARIANT] == VAR_REFERENCE;
    const double G = vec_sqnorm(g, n);
    int fb = 0;

    if (!reference) {
        long every = (long)o->hp[HP_FINDPLR_EVERY];
        if (every < 0) every = -every * ctx->steps_per_epoch; /* every −every epochs */
        bool run = o->hp[HP_FINDPLR_EVERY] != 0 &&
                   (s->k == 0 || (every > 0 && ctx->step % every == 0));
        if (run) findplr(theta, g, n, L0, G, ctx, &s->abar);
    }
    const double abar_min = o->hp[HP_ABAR_MIN];
    if (abar_min > 0 && s->abar < abar_min) {
        s->abar = o->lr0;
        fb |= FB_ABAR_RESET;
    }

    const double abar = s->abar;
    /* Probe direction g (paper) or g̃ = g/‖g‖∞ (reference); slope along it. */
    const double gmax = reference ? vec_maxabs(g, n) : 1.0;
    const double slope = reference ? G / gmax : G; /* g·g̃ or ‖g‖² */
    const double lp = probe_at(ctx, theta, -abar / gmax, g, n);
    const double num = lp - L0 + slope * abar; /* = A·ā² */
    const double astar = slope * abar * abar / (2.0 * num);
    double alpha;
    if (num / (abar * abar) > 0 && isfinite(astar)) {
        alpha = astar;
    } else {
        alpha = abar;
        fb |= FB_CONCAVE;
    }
    if (reference && alpha > QLAB_REF_CAP) alpha = QLAB_REF_CAP;
    const double amax = o->hp[HP_ALPHA_MAX];
    if (amax > 0 && alpha > amax) {
        alpha = amax;
        fb |= FB_ALPHA_MAX;
    }
    if (reference) s->abar = alpha;
    s->k++;

    vec_axpy_to(theta, theta, (float)(-alpha), g, n);
    info->lr = alpha;
    info->fallback = QLAB_FB_NAMES[fb];
    info->extra[0] = abar;
    info->extra[1] = lp;
}

/* Checkpoint blocks: the scalars and the buffers. */
static int qlab_blocks(Optimizer *o, OptBlock *b)
{
    QlabState *s = o->state;
    int k = 0;
    b[k++] = (OptBlock){&s->abar, sizeof s->abar};
    b[k++] = (OptBlock){&s->k, sizeof s->k};
    return k;
}

const OptimizerDef optdef_qlabgrad = {
    .name = "qlabgrad",
    .summary = "QLABGrad (Fu & Wu 2024): α = G·ā²/(2(L(θ−āg) − L0 + Gā)), 1 probe + FindPLR",
    .hparams = QLAB_HP,
    .n_hparams = N_HP,
    .extra_cols = QLAB_EXTRA,
    .n_extra = 2,
    .classic = false,
    .lr_role = LR_INITIAL,
    .lr_doc = "the starting pre-learning rate ā (paper: FindPLR starts from it; reference: the first step's ā; `abar_min` resets ā to it)",
    .validate = qlab_validate,
    .init = qlab_init,
    .step = qlab_step,
    .destroy = qlab_destroy,
    .state_blocks = qlab_blocks,
};
