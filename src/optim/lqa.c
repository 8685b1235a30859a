/* lqa.c — local quadratic approximation of the loss along −g (Zhu, Chen,
 * Huang, Zhang & Wang, "Automatic, dynamic, and nearly optimal learning rate
 * specification by local quadratic approximation", CIKM 2020, Section 2 and
 * Algorithm 1). Contract: spec/optimizers.md, section "LQA".
 *
 * "variant": "paper" (default). Two probes on the same batch,
 *   L+ = L(θ + δ0·g),  L− = L(θ − δ0·g),
 *   a = (L+ − L−)/(2δ0),  b = (L+ + L− − 2L0)/(2δ0²),
 *   δ* = a/(2b) = δ0·(L+ − L−)/(2·(L+ + L− − 2L0)).
 * Applied δ = δ* when b > 0 and δ* is finite and > 0, else δ = δ0 (fallback
 * "lqa_curvature"). θ ← θ − δ·g. The next δ0 is this δ (the paper's "natural
 * choice"), floored at "delta0_min" (an addition of the spec, not the paper,
 * so the finite difference keeps resolution). δ0 starts at the sweep's lr.
 *
 * "variant": "reference" (the authors' released PyTorch code, as the spec
 * describes it): probes along g̃ = g/‖g‖∞, i.e. L± = L(θ ± δ0·g̃),
 *   δ = min(|δ0·(L+ − L−)/(2·(L+ + L− − 2L0) + 1e-24)|, 0.5),
 * applied to the raw g (θ ← θ − δ·g: δ is computed in units of g̃ but applied
 * to g, exactly as the released code does), no fallback, and δ0 follows the
 * epoch schedule δ0 = max(1 − 0.02·epoch, 0.1) (ctx->epoch, 0-based) at every
 * step, the first included, instead of the previous δ; the sweep's lr is not
 * used by this variant.
 *
 * Trial points are written into ctx->scratch (θ + c·v), never into θ. The
 * columns "l_plus", "l_minus", "delta0" log the probes and the δ0 they used.
 * Non-finite values are not guarded beyond the rules above. Cost: 3 fwd, 1 bwd. */
#include <math.h>

#include "blas.h"
#include "common.h"
#include "optim.h"

enum { HP_VARIANT, HP_DELTA0_MIN, N_HP };
enum { VAR_PAPER = 0, VAR_REFERENCE = 1 };

static const HParamSpec LQA_HP[N_HP] = {
    [HP_VARIANT] = {"variant", HP_ENUM, VAR_PAPER, 0, 0, false, false, "paper|reference",
                    "paper: δ* along g, next δ0 = δ; reference: authors' code (g/‖g‖∞ probes, 0.5 cap, epoch schedule)"},
    [HP_DELTA0_MIN] = {"delta0_min", HP_NUM, 1e-6, 0.0, INFINITY, false, false, NULL,
                       "floor on the next step's δ0 (paper variant)"},
};

static const char *const LQA_EXTRA[] = {"l_plus", "l_minus", "delta0"};

#define LQA_REF_CAP 0.5
#define LQA_REF_TINY 1e-24

typedef struct {
    double delta0; /* paper variant: δ0 for the next step */
} LqaState;

static double probe_at(StepCtx *ctx, const float *theta, double c, const float *v, size_t n)
{
    vec_axpy_to(ctx->scratch, theta, (float)c, v, n);
    return ctx->probe.loss(ctx->probe.ctx, ctx->scratch);
}

/* δ0 of the reference variant's epoch schedule. */
static double lqa_ref_delta0(int epoch)
{
    double d = 1.0 - 0.02 * (double)epoch;
    return d > 0.1 ? d : 0.1;
}

/* The paper variant starts δ0 at lr; the reference variant never reads it. */
static LrRole lqa_lr_role(const double *hp)
{
    return (int)hp[HP_VARIANT] == VAR_REFERENCE ? LR_UNUSED : LR_INITIAL;
}

static int lqa_init(Optimizer *o, char *err)
{
    if ((int)o->hp[HP_VARIANT] == VAR_PAPER && !(o->lr0 > 0 && isfinite(o->lr0)))
        return lqa_errf(err, "lqa: the starting δ0 (lr) must be a positive number, got %g", o->lr0);
    LqaState *s = lqa_alloc(sizeof *s, err);
    if (!s) return -1;
    s->delta0 = o->lr0;
    o->state = s;
    return 0;
}

static void lqa_destroy(Optimizer *o)
{
    lqa_free(o->state);
    o->state = NULL;
}

static void lqa_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    LqaState *s = o->state;
    const size_t n = o->n;
    const double L0 = ctx->loss0;
    double delta0, lp, lm, delta;

    info->fallback = NULL;
    if ((int)o->hp[HP_VARIANT] == VAR_REFERENCE) {
        delta0 = lqa_ref_delta0(ctx->epoch);
        const double c = delta0 / vec_maxabs(g, n); /* δ0·g̃ = (δ0/‖g‖∞)·g */
        lp = probe_at(ctx, theta, c, g, n);
        lm = probe_at(ctx, theta, -c, g, n);
        double d = fabs(delta0 * (lp - lm) / (2.0 * (lp + lm - 2.0 * L0) + LQA_REF_TINY));
        delta = (d > LQA_REF_CAP) ? LQA_REF_CAP : d; /* NaN stays NaN */
    } else {
        delta0 = s->delta0;
        lp = probe_at(ctx, theta, delta0, g, n);
        lm = probe_at(ctx, theta, -delta0, g, n);
        const double curv = lp + lm - 2.0 * L0; /* 2δ0²·b */
        const double dstar = delta0 * (lp - lm) / (2.0 * curv);
        if (curv > 0 && isfinite(dstar) && dstar > 0) {
            delta = dstar;
        } else {
            delta = delta0;
            info->fallback = "lqa_curvature";
        }
        const double dmin = o->hp[HP_DELTA0_MIN];
        s->delta0 = (delta < dmin) ? dmin : delta;
    }

    vec_axpy_to(theta, theta, (float)(-delta), g, n);
    info->lr = delta;
    info->extra[0] = lp;
    info->extra[1] = lm;
    info->extra[2] = delta0;
}

/* Checkpoint blocks: the scalars and the buffers. */
static int lqa_blocks(Optimizer *o, OptBlock *b)
{
    LqaState *s = o->state;
    int k = 0;
    b[k++] = (OptBlock){&s->delta0, sizeof s->delta0};
    return k;
}

const OptimizerDef optdef_lqa = {
    .name = "lqa",
    .summary = "local quadratic approximation (Zhu et al. 2020): δ* from L(θ±δ0·g), 2 probes",
    .hparams = LQA_HP,
    .n_hparams = N_HP,
    .extra_cols = LQA_EXTRA,
    .n_extra = 3,
    .classic = false,
    .lr_role = LR_INITIAL,
    .lr_doc = "paper: the starting δ0; reference: unused (δ0 follows the epoch schedule), lr only names the run",
    .lr_role_of = lqa_lr_role,
    .validate = NULL,
    .init = lqa_init,
    .step = lqa_step,
    .destroy = lqa_destroy,
    .state_blocks = lqa_blocks,
};
