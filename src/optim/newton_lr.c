/* newton_lr.c — learning the learning rate by Newton's method on
 * f(x) = L(θ − x·g) (Ravaut & Gorti 2018, papers/
 * learning_the_learning_rate_ravaut_gorti_2018.txt, Section 3.2 "Second-order
 * method", Eqs. (10)–(13), and Section 4.1 "Practical considerations").
 * Contract: spec/optimizers.md, section "Newton learning rate".
 *
 * Each step, with η the current rate, five probes at the pre-update θ on the
 * same batch: f(η+ε), f(η−ε), f(η+2ε), f(η−2ε), f(η) (in that order); then
 *   θ ← θ − η·g   (the current η is the one applied and logged),
 *   η ← η − 2ε·(f(η+ε) − f(η−ε)) / (f(η+2ε) + f(η−2ε) − 2f(η) + δ),
 *   η ← max(η, δ).
 * ε = "eps" (1e-5), δ = "delta" (1e-6, the paper's smoothing value and floor).
 * η starts at the sweep's lr. A NaN η is not replaced by the floor (the
 * comparison keeps NaN), so divergence shows in the next step's lr.
 * Warning (also for the docs): with ε = 1e-5 the second difference is near the
 * float32 rounding of the trial points and of the loss; the paper reports
 * sudden spikes in η. The raw f values are logged ("f_plus", "f_minus",
 * "f_plus2", "f_minus2", "f0"); raise "eps" to smooth.
 * Deviation: none. Cost: 6 fwd, 1 bwd. */
#include <math.h>

#include "blas.h"
#include "common.h"
#include "optim.h"

enum { HP_EPS, HP_DELTA, N_HP };

static const HParamSpec NLR_HP[N_HP] = {
    [HP_EPS] = {"eps", HP_NUM, 1e-5, 0.0, INFINITY, true, false, NULL,
                "finite-difference step ε on the learning rate"},
    [HP_DELTA] = {"delta", HP_NUM, 1e-6, 0.0, INFINITY, true, false, NULL,
                  "smoothing δ added to the second difference, and floor on η"},
};

static const char *const NLR_EXTRA[] = {"f_plus", "f_minus", "f_plus2", "f_minus2", "f0"};

typedef struct {
    double eta;
} NlrState;

/* f(x) = L(θ − x·g), trial point in ctx->scratch. */
static double f_at(StepCtx *ctx, const float *theta, double x, const float *g, size_t n)
{
    vec_axpy_to(ctx->scratch, theta, (float)(-x), g, n);
    return ctx->probe.loss(ctx->probe.ctx, ctx->scratch);
}

static int nlr_init(Optimizer *o, char *err)
{
    if (!(o->lr0 > 0 && isfinite(o->lr0)))
        return lqa_errf(err, "newton-lr: the starting η (lr) must be a positive number, got %g", o->lr0);
    NlrState *s = lqa_alloc(sizeof *s, err);
    if (!s) return -1;
    s->eta = o->lr0;
    o->state = s;
    return 0;
}

static void nlr_destroy(Optimizer *o)
{
    lqa_free(o->state);
    o->state = NULL;
}

static void nlr_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    NlrState *s = o->state;
    const size_t n = o->n;
    const double eps = o->hp[HP_EPS], delta = o->hp[HP_DELTA];
    const double eta = s->eta;

    const double fp = f_at(ctx, theta, eta + eps, g, n);
    const double fm = f_at(ctx, theta, eta - eps, g, n);
    const double fp2 = f_at(ctx, theta, eta + 2.0 * eps, g, n);
    const double fm2 = f_at(ctx, theta, eta - 2.0 * eps, g, n);
    const double f0 = f_at(ctx, theta, eta, g, n);

    vec_axpy_to(theta, theta, (float)(-eta), g, n);

    double next = eta - 2.0 * eps * (fp - fm) / (fp2 + fm2 - 2.0 * f0 + delta);
    if (next < delta) next = delta; /* NaN stays NaN */
    s->eta = next;

    info->lr = eta;
    info->fallback = NULL;
    info->extra[0] = fp;
    info->extra[1] = fm;
    info->extra[2] = fp2;
    info->extra[3] = fm2;
    info->extra[4] = f0;
}

/* Checkpoint blocks: the scalars and the buffers. */
static int nlr_blocks(Optimizer *o, OptBlock *b)
{
    NlrState *s = o->state;
    int k = 0;
    b[k++] = (OptBlock){&s->eta, sizeof s->eta};
    return k;
}

const OptimizerDef optdef_newton_lr = {
    .name = "newton-lr",
    .summary = "Newton learning rate (Ravaut & Gorti 2018): η from 5 probes of L(θ − x·g)",
    .hparams = NLR_HP,
    .n_hparams = N_HP,
    .extra_cols = NLR_EXTRA,
    .n_extra = 5,
    .classic = false,
    .lr_role = LR_INITIAL,
    .lr_doc = "the starting η (Newton updates follow)",
    .validate = NULL,
    .init = nlr_init,
    .step = nlr_step,
    .destroy = nlr_destroy,
    .state_blocks = nlr_blocks,
};
