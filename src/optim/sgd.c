/* src/optim/sgd.c — plain SGD, torch.optim.SGD with momentum = 0.
 * Follows https://pytorch.org/docs/stable/generated/torch.optim.SGD.html
 * (implementation: torch/optim/sgd.py, _single_tensor_sgd).
 * Step: g <- g + lambda*theta (if lambda != 0); theta <- theta - lr*g. */
#include "optim/classic.h"

static const HParamSpec HP[] = {
    CLASSIC_HP_WEIGHT_DECAY,
};

static int sgd_init(Optimizer *o, char *err) { return classic_alloc(o, 0, 0.0f, err); }

static void sgd_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    ClassicState *s = o->state;
    const float wd = (float)o->hp[0];
    const float neg_lr = (float)-ctx->lr; /* param.add_(d_p, alpha=-lr) */
    for (size_t i = 0; i < o->n; i++)
        theta[i] = fmaf(classic_grad(g, theta, i, wd), neg_lr, theta[i]);
    s->k++;
    info->lr = ctx->lr;
}

const OptimizerDef optdef_sgd = {
    .name = "sgd",
    .summary = "stochastic gradient descent, theta <- theta - lr*g (torch.optim.SGD)",
    .hparams = HP,
    .n_hparams = (int)(sizeof HP / sizeof HP[0]),
    .classic = true,
    .init = sgd_init,
    .step = sgd_step,
    .destroy = classic_destroy,
};
