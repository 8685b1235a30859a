/* l4gd.c — L4 loss-based step size (Rolinek & Martius, "L4: Practical
 * loss-based stepsize adaptation for deep learning", NeurIPS 2018), in the
 * L4GD form the QLABGrad paper (Fu & Wu 2024) compares against.
 * Contract: spec/optimizers.md, section "L4GD".
 *
 *   L = L0;  L_min ← γ0·L on the first step, else L_min ← min(L_min, L)
 *   η = α·(L − γ·L_min)/(g·v + ε);  θ ← θ − η·v;  then L_min ← κ·L_min
 *
 * with κ = 1 + 1/τ and v the update direction: v = g (plain, L4GD, so g·v =
 * ‖g‖²), the bias-corrected EMA of g with decay 0.9 ("momentum", L4Mom), or
 * the Adam transform m̂/(√v̂ + 1e-4) with β1 = 0.9, β2 = 0.999, both moments
 * bias-corrected ("adam", L4Adam). η uses L_min *before* the κ increase; the
 * "l_min" column logs that value. η is not capped unless "eta_max" > 0 (then
 * the fallback column says "l4_eta_max" when the cap binds); η blowing up as
 * ‖g‖ → 0 is the method's documented weakness and is left visible.
 * Deviation: none for "plain". For the variants the spec fixes the direction
 * and decay constants; the L4 paper's L_min/γ/κ logic is shared unchanged.
 * Cost: 1 fwd, 1 bwd, no probes. */
#include <math.h>
#include <string.h>

#include "blas.h"
#include "common.h"
#include "optim.h"

enum { HP_ALPHA, HP_GAMMA, HP_GAMMA0, HP_TAU, HP_EPS, HP_ETA_MAX, HP_DIRECTION, N_HP };
enum { DIR_PLAIN = 0, DIR_MOMENTUM = 1, DIR_ADAM = 2 };

static const HParamSpec L4_HP[N_HP] = {
    [HP_ALPHA] = {"alpha", HP_NUM, 0.15, 0.0, INFINITY, true, false, NULL,
                  "fraction α of the predicted loss gap taken per step"},
    [HP_GAMMA] = {"gamma", HP_NUM, 0.9, 0.0, 1.0, true, false, NULL,
                  "target fraction γ of L_min"},
    [HP_GAMMA0] = {"gamma0", HP_NUM, 0.75, 0.0, 1.0, true, false, NULL,
                   "initial L_min = γ0 · first loss"},
    [HP_TAU] = {"tau", HP_NUM, 1000.0, 0.0, INFINITY, true, false, NULL,
                "forgetting time τ: L_min ← (1 + 1/τ)·L_min after each step"},
    [HP_EPS] = {"eps", HP_NUM, 1e-12, 0.0, INFINITY, true, false, NULL,
                "ε added to the denominator g·v"},
    [HP_ETA_MAX] = {"eta_max", HP_NUM, 0.0, 0.0, INFINITY, false, false, NULL,
                    "opt-in cap on η (0 = off, the paper's form)"},
    [HP_DIRECTION] = {"direction", HP_ENUM, DIR_PLAIN, 0, 0, false, false,
                      "plain|momentum|adam",
                      "update direction: plain (L4GD), momentum (L4Mom), adam (L4Adam)"},
};

static const char *const L4_EXTRA[] = {"l_min"};

#define L4_MOM_BETA 0.9
#define L4_ADAM_B1 0.9
#define L4_ADAM_B2 0.999
#define L4_ADAM_EPS 1e-4

typedef struct {
    double l_min;
    long k; /* steps taken */
    float *m, *v, *dir; /* variants only */
} L4State;

static void l4_destroy(Optimizer *o)
{
    L4State *s = o->state;
    if (!s) return;
    lqa_free(s->m);
    lqa_free(s->v);
    lqa_free(s->dir);
    lqa_free(s);
    o->state = NULL;
}

static int l4_init(Optimizer *o, char *err)
{
    L4State *s = lqa_alloc(sizeof *s, err);
    if (!s) return -1;
    o->state = s;
    int dir = (int)o->hp[HP_DIRECTION];
    if (dir != DIR_PLAIN) {
        s->m = lqa_alloc(sizeof(float) * o->n, err);
        s->dir = lqa_alloc(sizeof(float) * o->n, err);
        if (!s->m || !s->dir) goto fail;
        if (dir == DIR_ADAM) {
            s->v = lqa_alloc(sizeof(float) * o->n, err);
            if (!s->v) goto fail;
        }
    }
    return 0;
fail:
    l4_destroy(o);
    return -1;
}

/* Fill s->dir with the variant's direction; returns it. */
LQA_MULTIVERSION static const float *l4_direction(L4State *s, int dir, const float *g, size_t n)
{
    const double k = (double)s->k; /* already incremented: 1 on the first step */
    if (dir == DIR_MOMENTUM) {
        const float b = (float)L4_MOM_BETA;
        const float bc = (float)(1.0 / (1.0 - pow(L4_MOM_BETA, k)));
        for (size_t i = 0; i < n; i++) {
            s->m[i] = b * s->m[i] + (1.0f - b) * g[i];
            s->dir[i] = s->m[i] * bc;
        }
    } else {
        const float b1 = (float)L4_ADAM_B1, b2 = (float)L4_ADAM_B2;
        const float bc1 = (float)(1.0 - pow(L4_ADAM_B1, k));
        const float sbc2 = (float)sqrt(1.0 - pow(L4_ADAM_B2, k));
        for (size_t i = 0; i < n; i++) {
            s->m[i] = b1 * s->m[i] + (1.0f - b1) * g[i];
            s->v[i] = b2 * s->v[i] + (1.0f - b2) * g[i] * g[i];
            s->dir[i] = (s->m[i] / bc1) / (sqrtf(s->v[i]) / sbc2 + (float)L4_ADAM_EPS);
        }
    }
    return s->dir;
}

static void l4_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    L4State *s = o->state;
    const size_t n = o->n;
    const double alpha = o->hp[HP_ALPHA], gamma = o->hp[HP_GAMMA];
    const double kappa = 1.0 + 1.0 / o->hp[HP_TAU];
    const double eps = o->hp[HP_EPS], eta_max = o->hp[HP_ETA_MAX];
    const int dir = (int)o->hp[HP_DIRECTION];
    const double L = ctx->loss0;

    if (s->k == 0)
        s->l_min = o->hp[HP_GAMMA0] * L;
    else if (L < s->l_min)
        s->l_min = L;
    s->k++;

    const float *v = (dir == DIR_PLAIN) ? g : l4_direction(s, dir, g, n);
    double gv = (dir == DIR_PLAIN) ? vec_sqnorm(g, n) : vec_dot(g, v, n);
    double eta = alpha * (L - gamma * s->l_min) / (gv + eps);

    info->fallback = NULL;
    if (eta_max > 0 && eta > eta_max) {
        eta = eta_max;
        info->fallback = "l4_eta_max";
    }
    vec_axpy_to(theta, theta, (float)(-eta), v, n);

    info->lr = eta;
    info->extra[0] = s->l_min; /* before the κ increase */
    s->l_min *= kappa;
}

/* Checkpoint blocks: the scalars and the buffers. */
static int l4_blocks(Optimizer *o, OptBlock *b)
{
    L4State *s = o->state;
    int k = 0;
    b[k++] = (OptBlock){&s->l_min, sizeof s->l_min};
    b[k++] = (OptBlock){&s->k, sizeof s->k};
    if (s->m) b[k++] = (OptBlock){s->m, sizeof(float) * o->n};
    if (s->v) b[k++] = (OptBlock){s->v, sizeof(float) * o->n};
    if (s->dir) b[k++] = (OptBlock){s->dir, sizeof(float) * o->n};
    return k;
}

const OptimizerDef optdef_l4gd = {
    .name = "l4gd",
    .summary = "L4 loss-based step size (Rolinek & Martius 2018): η = α(L − γL_min)/(g·v)",
    .hparams = L4_HP,
    .n_hparams = N_HP,
    .extra_cols = L4_EXTRA,
    .n_extra = 1,
    .classic = false,
    .lr_role = LR_UNUSED,
    .lr_doc = "η comes from the loss gap and `alpha`; lr only names the run",
    .validate = NULL,
    .init = l4_init,
    .step = l4_step,
    .destroy = l4_destroy,
    .state_blocks = l4_blocks,
};
