/* src/optim/sgd.c — plain SGD, torch.optim.SGD with momentum = 0.
 * Follows https://pytorch.org/docs/stable/generated/torch.optim.SGD.html
 * (implementation: torch/optim/sgd.py, _single_tensor_sgd).
 * Step: g <- g + lambda*theta (if lambda != 0); theta <- theta - lr*g. */
#include "optim/classic.h"

static const HParamSpec HP[] = {
    CLASSIC_HP_WEIGHT_DECAY,
};

static int sgd_init(Optimizer *o, char *err) { return classic_alloc(o, 0, 0.0f, err); }

typedef struct SgdArgs {
    float *theta;
    const float *g;
    float wd, neg_lr;
} SgdArgs;

LQA_MULTIVERSION static void sgd_range(void *arg, size_t lo, size_t hi)
{
    const SgdArgs *a = arg;
    float *theta = a->theta;
    const float *g = a->g;
    const float wd = a->wd, neg_lr = a->neg_lr;
    for (size_t i = lo; i < hi; i++)
        theta[i] = fmaf(classic_grad(g, theta, i, wd), neg_lr, theta[i]);
}

static void sgd_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    ClassicState *s = o->state;
    const float wd = (float)o->hp[0];
    const float neg_lr = (float)-ctx->lr; /* param.add_(d_p, alpha=-lr) */
    SgdArgs a = { theta, g, wd, neg_lr };
    par_for(o->n, o->n * 2, sgd_range, &a);
    s->k++;
    info->lr = ctx->lr;
}

const OptimizerDef optdef_sgd = {
    .name = "sgd",
    .summary = "stochastic gradient descent, theta <- theta - lr*g (torch.optim.SGD)",
    .hparams = HP,
    .n_hparams = (int)(sizeof HP / sizeof HP[0]),
    .classic = true,
    .lr_role = LR_STEP,
    .lr_doc = "the rate of every step (a schedule scales it)",
    .init = sgd_init,
    .step = sgd_step,
    .destroy = classic_destroy,
    .state_blocks = classic_blocks,
};
