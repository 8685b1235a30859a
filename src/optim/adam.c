/* src/optim/adam.c — Adam, torch.optim.Adam (amsgrad off).
 * Follows https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
 * (implementation: torch/optim/adam.py, _single_tensor_adam).
 * Step: k += 1; m <- b1*m + (1-b1)*g; v <- b2*v + (1-b2)*g^2;
 * theta <- theta - (lr/(1-b1^k)) * m/(sqrt(v)/sqrt(1-b2^k) + eps).
 * PyTorch 1.13 updates m as mul_(b1).add_(g, alpha=1-b1) (2.x uses lerp_, which
 * can differ in the last bit); we follow 1.13, the version the cross-check uses. */
#include "optim/classic.h"

static const HParamSpec HP[] = {
    { "beta1", HP_NUM, 0.9, 0.0, 1.0, false, true, NULL, "decay of the first moment m" },
    { "beta2", HP_NUM, 0.999, 0.0, 1.0, false, true, NULL, "decay of the second moment v" },
    { "eps", HP_NUM, 1e-8, 0.0, INFINITY, true, true, NULL, "added to the corrected sqrt(v)" },
    CLASSIC_HP_WEIGHT_DECAY,
};

static int adam_init(Optimizer *o, char *err) { return classic_alloc(o, 2, 0.0f, err); }

typedef struct AdamArgs {
    float *theta, *m, *v;
    const float *g;
    float wd, b1f, b2f, one_m_b1, one_m_b2, eps, neg_step, bc2_sqrt;
} AdamArgs;

LQA_MULTIVERSION static void adam_range(void *arg, size_t lo, size_t hi)
{
    const AdamArgs *a = arg;
    float *theta = a->theta, *m = a->m, *v = a->v;
    const float *g = a->g;
    const float wd = a->wd, b1f = a->b1f, b2f = a->b2f, one_m_b1 = a->one_m_b1;
    const float one_m_b2 = a->one_m_b2, eps = a->eps, neg_step = a->neg_step;
    const float bc2_sqrt = a->bc2_sqrt;
    for (size_t i = lo; i < hi; i++) {
        float d = classic_grad(g, theta, i, wd);
        m[i] = fmaf(d, one_m_b1, m[i] * b1f);             /* mul_(b1).add_(g, alpha=1-b1) */
        v[i] = fmaf(one_m_b2 * d, d, v[i] * b2f);         /* mul_(b2).addcmul_(g, g, 1-b2) */
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;       /* (v.sqrt() / bc2_sqrt).add_(eps) */
        theta[i] = theta[i] + (neg_step * m[i]) / denom;  /* addcdiv_(m, denom, -step_size) */
    }
}

static void adam_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    ClassicState *s = o->state;
    const double b1 = o->hp[0], b2 = o->hp[1];
    const float b1f = (float)b1, b2f = (float)b2;
    const float one_m_b1 = (float)(1.0 - b1), one_m_b2 = (float)(1.0 - b2);
    const float eps = (float)o->hp[2], wd = (float)o->hp[3];
    s->k++;
    /* Python-side scalars, in double as torch computes them. */
    const double bc1 = 1.0 - pow(b1, (double)s->k), bc2 = 1.0 - pow(b2, (double)s->k);
    const float neg_step = (float)-(ctx->lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    AdamArgs a = { theta, s->s1, s->s2, g, wd, b1f, b2f, one_m_b1,
                   one_m_b2, eps, neg_step, bc2_sqrt };
    par_for(o->n, o->n * 10, adam_range, &a);
    info->lr = ctx->lr;
}

const OptimizerDef optdef_adam = {
    .name = "adam",
    .summary = "Adam (torch.optim.Adam, betas 0.9/0.999, eps 1e-8)",
    .hparams = HP,
    .n_hparams = (int)(sizeof HP / sizeof HP[0]),
    .classic = true,
    .lr_role = LR_STEP,
    .lr_doc = "the rate of every step (a schedule scales it)",
    .init = adam_init,
    .step = adam_step,
    .destroy = classic_destroy,
    .state_blocks = classic_blocks,
};
