/* src/optim/rmsprop.c — RMSProp, torch.optim.RMSprop (not centered, no momentum).
 * Follows https://pytorch.org/docs/stable/generated/torch.optim.RMSprop.html
 * (implementation: torch/optim/rmsprop.py, _single_tensor_rmsprop).
 * Step: v <- alpha*v + (1-alpha)*g^2; theta <- theta - lr*g/(sqrt(v) + eps); no bias
 * correction, so with v = 0 the first step moves each weight by about 10*lr. */
#include "optim/classic.h"

static const HParamSpec HP[] = {
    { "alpha", HP_NUM, 0.99, 0.0, 1.0, false, true, NULL, "smoothing constant of v" },
    { "eps", HP_NUM, 1e-8, 0.0, INFINITY, true, true, NULL, "added to sqrt(v)" },
    CLASSIC_HP_WEIGHT_DECAY,
};

static int rmsprop_init(Optimizer *o, char *err) { return classic_alloc(o, 1, 0.0f, err); }

typedef struct RmspropArgs {
    float *theta, *v;
    const float *g;
    float wd, alpha, one_m_alpha, eps, neg_lr;
} RmspropArgs;

LQA_MULTIVERSION static void rmsprop_range(void *arg, size_t lo, size_t hi)
{
    const RmspropArgs *a = arg;
    float *theta = a->theta, *v = a->v;
    const float *g = a->g;
    const float wd = a->wd, alpha = a->alpha, one_m_alpha = a->one_m_alpha;
    const float eps = a->eps, neg_lr = a->neg_lr;
    for (size_t i = lo; i < hi; i++) {
        float d = classic_grad(g, theta, i, wd);
        v[i] = fmaf(one_m_alpha * d, d, v[i] * alpha); /* mul_(alpha).addcmul_(g, g, 1-alpha) */
        float avg = sqrtf(v[i]) + eps;                 /* square_avg.sqrt().add_(eps) */
        theta[i] = theta[i] + (neg_lr * d) / avg;      /* param.addcdiv_(g, avg, value=-lr) */
    }
}

static void rmsprop_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    ClassicState *s = o->state;
    const float alpha = (float)o->hp[0], one_m_alpha = (float)(1.0 - o->hp[0]);
    const float eps = (float)o->hp[1], wd = (float)o->hp[2];
    const float neg_lr = (float)-ctx->lr;
    RmspropArgs a = { theta, s->s1, g, wd, alpha, one_m_alpha, eps, neg_lr };
    par_for(o->n, o->n * 8, rmsprop_range, &a);
    s->k++;
    info->lr = ctx->lr;
}

const OptimizerDef optdef_rmsprop = {
    .name = "rmsprop",
    .summary = "RMSProp (torch.optim.RMSprop, alpha 0.99, eps 1e-8)",
    .hparams = HP,
    .n_hparams = (int)(sizeof HP / sizeof HP[0]),
    .classic = true,
    .lr_role = LR_STEP,
    .lr_doc = "the rate of every step (a schedule scales it)",
    .init = rmsprop_init,
    .step = rmsprop_step,
    .destroy = classic_destroy,
    .state_blocks = classic_blocks,
};
