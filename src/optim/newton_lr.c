/* newton_lr.c — learning the learning rate (Ravaut & Gorti 2018, "Learning
 * the learning rate": Section 3.1 "First-order method", Eqs. (1)–(4);
 * Section 3.2 "Second-order method", Eqs. (5)–(10); Section 4.1 "Practical
 * considerations", Eqs. (11)–(13); Section 5.2 "Momentum").
 * Contract: spec/optimizers.md, section "Newton learning rate".
 *
 * f(x) = L(θ − x·g) on the current batch; η starts at the sweep's lr and the
 * current η is the one applied and logged (θ ← θ − η·g).
 *
 * "form": "second-order" (default, Eq. 10). Five probes at the pre-update θ on
 * the same batch: f(η+ε), f(η−ε), f(η+2ε), f(η−2ε), f(η) (in that order);
 * D = f(η+2ε) + f(η−2ε) − 2f(η); Δ = −2ε·(f(η+ε) − f(η−ε)) / D′ with
 *   "delta_mode": "conditional" (default, the paper's Eq. 11–12: δ is added
 *       "if (f(η+2ε) + f(η−2ε) − 2f(η)) ≈ 0" "to prevent underflow"):
 *       D′ = D + δ when |D| ≤ τ·|f(η)|, else D′ = D, with τ = "delta_threshold"
 *       (default 2^-23 = FLT_EPSILON: D below the float32 resolution of the
 *       loss, where the paper's float32 computation of D rounds to 0 — the
 *       "≈ 0" of Eq. 11). The fallback column says "nlr_delta" when δ was added.
 *   "delta_mode": "always":
 *       D′ = D + δ on every step.
 * Consequences. "always": with ε = 1e-5, |D| on MNIST models is ~4e-8, far
 * below δ = 1e-6, so the update is in effect η ← η − (4ε²/δ)·f′(η) (f′ by the
 * central difference), a first-order rule whose rate 4ε²/δ = 4e-4 δ sets;
 * where D is resolved it still shortens Newton's step by D/(D + δ).
 * "conditional": while |D| is within float32 rounding of the loss (≤ τ·|f(η)|,
 * e.g. ~4e-8 against 2^-23·0.3 ≈ 3.6e-8 on MNIST) it adds δ exactly as
 * "always" does; once |D| exceeds that, it takes the full Newton step with D
 * itself, which a D of a few rounding units makes noisy, so η can jump (the
 * paper reports "sudden and extreme amplitude variations"). The nlr_delta
 * fallback count shows which regime a run was in. Cost: 6 fwd, 1 bwd.
 *
 * "form": "first-order" (Section 3.1): η ← η − α·f′(η) with
 * f′(η_{t−1}) = −g_{t−1}·g_t (Eq. 4), i.e. HGD's rule: at step t ≥ 2,
 * Δ = α·(g_t·g_{t−1}) (a double dot product); step 1 uses the sweep's lr.
 * α = "alpha" (default 1e-6, the paper's MNIST logistic regression, Figs. 3–4).
 * No probes (the five f columns are empty). Cost: 1 fwd, 1 bwd, one dot
 * product and a copy of g. eps, delta_mode and delta_threshold belong to the
 * second-order form and alpha to the first-order one: setting one for the
 * other form (to a value other than its default) is an error.
 *
 * Both forms: with momentum β ("momentum", Section 5.2; default 0 = off, the
 * paper's Fig. 12 uses 0.9): v ← β·v + Δ, η ← η + v (v = 0 at the start;
 * β = 0 gives η ← η + Δ); then η ← max(η, δ) (Eq. 13, δ = "delta" also the
 * floor). The second-order form computes Δ after the θ update from the pre-
 * update probes, the first-order form before it (the new η is used in the same
 * step, as in HGD). A NaN η is not replaced by the floor (the comparison keeps
 * NaN), so divergence shows in the lr column.
 *
 * "eta_batch": "validation" (Section 5.3, Eqs. 14–15, Fig. 13: f(η) = L on a
 * validation batch of (θ − η·∇L_training)): the five probes run on the step's
 * held-out batch of the sweep's validation split (StepCtx.val_probe; the
 * batch rule is train_use_validation's, src/train.h) instead of the training
 * batch; g, the θ update and everything else are unchanged. The config
 * requires "validation" > 0 for it. Cost: the same 6 fwd, 1 bwd.
 * Warning (also for the docs): with ε = 1e-5 the second difference is near the
 * float32 rounding of the trial points and of the loss. The raw f values are
 * logged ("f_plus", "f_minus", "f_plus2", "f_minus2", "f0"); raise "eps" to
 * smooth. Deviation: none. */
#include <math.h>
#include <string.h>

#include "blas.h"
#include "common.h"
#include "optim.h"

enum { HP_EPS, HP_DELTA, HP_FORM, HP_DELTA_MODE, HP_DELTA_THRESHOLD, HP_MOMENTUM, HP_ALPHA, HP_ETA_BATCH, N_HP };
enum { FORM_SECOND = 0, FORM_FIRST = 1 };
enum { DM_CONDITIONAL = 0, DM_ALWAYS = 1 };
enum { EB_TRAIN = 0, EB_VALIDATION = 1 };

#define NLR_EPS_DEF 1e-5
#define NLR_THRESHOLD_DEF 1.1920928955078125e-07 /* 2^-23, FLT_EPSILON */
#define NLR_ALPHA_DEF 1e-6

static const HParamSpec NLR_HP[N_HP] = {
    [HP_EPS] = {"eps", HP_NUM, NLR_EPS_DEF, 0.0, INFINITY, true, false, NULL,
                "finite-difference step ε on the learning rate (second-order form)"},
    [HP_DELTA] = {"delta", HP_NUM, 1e-6, 0.0, INFINITY, true, false, NULL,
                  "smoothing δ added to the second difference D (see delta_mode), and floor on η (both forms)"},
    [HP_FORM] = {"form", HP_ENUM, FORM_SECOND, 0, 0, false, false, "second-order|first-order",
                 "second-order: η ← η − 2ε(f(η+ε) − f(η−ε))/D′ from 5 probes (Eq. 10–12); "
                 "first-order: η ← η + α·g_t·g_(t−1), HGD's rule, no probes (Section 3.1)"},
    [HP_DELTA_MODE] = {"delta_mode", HP_ENUM, DM_CONDITIONAL, 0, 0, false, false, "conditional|always",
                       "conditional (the paper's Eq. 11–12): D′ = D + δ only when abs(D) ≤ delta_threshold·abs(f(η)), "
                       "i.e. D is float32 rounding (fallback column nlr_delta), else the full Newton step with "
                       "D′ = D, noisy when D is a few rounding units; always: D′ = D + δ on every step, which "
                       "when abs(D) ≪ δ (ε = 1e-5: abs(D) ~ 4e-8 on MNIST models) is the first-order rule "
                       "η ← η − (4ε²/δ)·f′(η), its rate set by δ"},
    [HP_DELTA_THRESHOLD] = {"delta_threshold", HP_NUM, NLR_THRESHOLD_DEF, 0.0, INFINITY, false, false, NULL,
                            "the conditional reading's \"D ≈ 0\": abs(D) ≤ this × abs(f(η)); default 2^-23 (float32 "
                            "epsilon), the resolution at which the paper's float32 losses give D = 0"},
    [HP_MOMENTUM] = {"momentum", HP_NUM, 0.0, 0.0, 1.0, false, true, NULL,
                     "momentum β on η's update (Section 5.2): v ← βv + Δ, η ← η + v; 0 = off, Fig. 12 uses 0.9"},
    [HP_ALPHA] = {"alpha", HP_NUM, NLR_ALPHA_DEF, 0.0, INFINITY, true, false, NULL,
                  "meta-learning rate α of the first-order form (the paper's 1e-6 on MNIST, Figs. 3–4)"},
    [HP_ETA_BATCH] = {"eta_batch", HP_ENUM, EB_TRAIN, 0, 0, false, false, "train|validation",
                      "the batch of the five probes (second-order form): train, the step's training batch; "
                      "validation (Section 5.3, Fig. 13), a held-out batch of the sweep's validation split "
                      "(which must be set), θ still moved along the training gradient"},
};

static const char *const NLR_EXTRA[] = {"f_plus", "f_minus", "f_plus2", "f_minus2", "f0"};

typedef struct {
    double eta;
    double v;      /* momentum on η's update */
    float *g_prev; /* first-order form: the previous step's g */
    long k;        /* steps taken */
} NlrState;

/* f(x) = L(θ − x·g) on the probe's batch, trial point in ctx->scratch. */
static double f_at(StepCtx *ctx, const ProbeFn *pf, const float *theta, double x, const float *g, size_t n)
{
    vec_axpy_to(ctx->scratch, theta, (float)(-x), g, n);
    return pf->loss(pf->ctx, ctx->scratch);
}

static int nlr_validate(const double *hp, char *err)
{
    if ((int)hp[HP_FORM] == FORM_FIRST) {
        if (hp[HP_EPS] != NLR_EPS_DEF || (int)hp[HP_DELTA_MODE] != DM_CONDITIONAL ||
            hp[HP_DELTA_THRESHOLD] != NLR_THRESHOLD_DEF || (int)hp[HP_ETA_BATCH] != EB_TRAIN)
            return lqa_errf(err, "eps, delta_mode, delta_threshold and eta_batch belong to the second-order "
                                 "form; the first-order form takes no probes (its rate is alpha)");
    } else if (hp[HP_ALPHA] != NLR_ALPHA_DEF) {
        return lqa_errf(err, "alpha is the first-order form's meta-learning rate; "
                             "add \"form\": \"first-order\" to use it");
    }
    return 0;
}

static const char *nlr_uses_validation(const double *hp)
{
    return (int)hp[HP_ETA_BATCH] == EB_VALIDATION ? "eta_batch" : NULL;
}

static void nlr_destroy(Optimizer *o)
{
    NlrState *s = o->state;
    if (!s) return;
    lqa_free(s->g_prev);
    lqa_free(s);
    o->state = NULL;
}

static int nlr_init(Optimizer *o, char *err)
{
    if (!(o->lr0 > 0 && isfinite(o->lr0)))
        return lqa_errf(err, "newton-lr: the starting η (lr) must be a positive number, got %g", o->lr0);
    NlrState *s = lqa_alloc(sizeof *s, err);
    if (!s) return -1;
    o->state = s;
    s->eta = o->lr0;
    if ((int)o->hp[HP_FORM] == FORM_FIRST) {
        s->g_prev = lqa_alloc(sizeof(float) * o->n, err);
        if (!s->g_prev) {
            nlr_destroy(o);
            return -1;
        }
    }
    return 0;
}

/* η ← η + v with v ← βv + Δ (v = Δ when β = 0), then η ← max(η, δ). */
static void nlr_move(NlrState *s, double d, double beta, double delta)
{
    s->v = beta > 0 ? beta * s->v + d : d;
    double next = s->eta + s->v;
    if (next < delta) next = delta; /* NaN stays NaN */
    s->eta = next;
}

static void nlr_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    NlrState *s = o->state;
    const size_t n = o->n;
    const double eps = o->hp[HP_EPS], delta = o->hp[HP_DELTA], beta = o->hp[HP_MOMENTUM];
    info->fallback = NULL;

    if ((int)o->hp[HP_FORM] == FORM_FIRST) {
        /* f′(η_{t−1}) = −g_{t−1}·g_t: Δ = α·g_t·g_{t−1}, used in this step. */
        if (s->k > 0) nlr_move(s, o->hp[HP_ALPHA] * vec_dot(g, s->g_prev, n), beta, delta);
        const double eta = s->eta;
        vec_axpy_to(theta, theta, (float)(-eta), g, n);
        memcpy(s->g_prev, g, sizeof(float) * n);
        s->k++;
        info->lr = eta;
        for (int i = 0; i < 5; i++) info->extra[i] = NAN; /* not measured */
        return;
    }

    /* eta_batch "validation": the held-out batch; without one (a caller that
     * gives no val_probe; the sweep always does) the training batch, named. */
    const ProbeFn *pf = &ctx->probe;
    const char *why = NULL;
    if ((int)o->hp[HP_ETA_BATCH] == EB_VALIDATION) {
        if (ctx->val_probe.loss) pf = &ctx->val_probe;
        else why = "nlr_no_validation";
    }
    const double eta = s->eta;
    const double fp = f_at(ctx, pf, theta, eta + eps, g, n);
    const double fm = f_at(ctx, pf, theta, eta - eps, g, n);
    const double fp2 = f_at(ctx, pf, theta, eta + 2.0 * eps, g, n);
    const double fm2 = f_at(ctx, pf, theta, eta - 2.0 * eps, g, n);
    const double f0 = f_at(ctx, pf, theta, eta, g, n);

    vec_axpy_to(theta, theta, (float)(-eta), g, n);

    double den = fp2 + fm2 - 2.0 * f0;
    if ((int)o->hp[HP_DELTA_MODE] == DM_ALWAYS) {
        den += delta;
    } else if (fabs(den) <= o->hp[HP_DELTA_THRESHOLD] * fabs(f0)) {
        den += delta;
        info->fallback = "nlr_delta";
    }
    if (why) info->fallback = why;
    nlr_move(s, -2.0 * eps * (fp - fm) / den, beta, delta);
    s->k++;

    info->lr = eta;
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
    b[k++] = (OptBlock){&s->v, sizeof s->v};
    b[k++] = (OptBlock){&s->k, sizeof s->k};
    if (s->g_prev) b[k++] = (OptBlock){s->g_prev, o->n * sizeof(float)};
    return k;
}

const OptimizerDef optdef_newton_lr = {
    .name = "newton-lr",
    .summary = "learning the learning rate (Ravaut & Gorti 2018): Newton's method on η from 5 probes of "
               "L(θ − x·g) (default), or the first-order form; δ's reading, momentum on η as options",
    .hparams = NLR_HP,
    .n_hparams = N_HP,
    .extra_cols = NLR_EXTRA,
    .n_extra = 5,
    .classic = false,
    .lr_role = LR_INITIAL,
    .lr_doc = "the starting η (Newton or first-order updates follow)",
    .uses_validation = nlr_uses_validation,
    .validate = nlr_validate,
    .init = nlr_init,
    .step = nlr_step,
    .destroy = nlr_destroy,
    .state_blocks = nlr_blocks,
};
