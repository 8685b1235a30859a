/* src/optim/sgd_nag.c — SGD with Nesterov momentum, torch.optim.SGD(nesterov=True).
 * Follows https://pytorch.org/docs/stable/generated/torch.optim.SGD.html
 * (implementation: torch/optim/sgd.py, _single_tensor_sgd).
 * Step: update b as in sgd-m; theta <- theta - lr*(g + mu*b) with the updated b.
 * Like torch, Nesterov momentum requires mu > 0 and dampening 0. */
#include "optim/classic.h"

static const HParamSpec HP[] = {
    { "momentum", HP_NUM, 0.9, 0.0, 1.0, true, true, NULL, "momentum factor mu (> 0)" },
    { "dampening", HP_NUM, 0.0, 0.0, 1.0, false, false, NULL,
      "dampening tau; must be 0 for Nesterov momentum" },
    CLASSIC_HP_WEIGHT_DECAY,
};

static int sgd_nag_validate(const double *hp, char *err)
{
    if (hp[1] != 0.0)
        return lqa_errf(err, "dampening: %g is not allowed, sgd-nag requires dampening 0 "
                        "(as torch.optim.SGD with nesterov=True)", hp[1]);
    return 0;
}

static int sgd_nag_init(Optimizer *o, char *err) { return classic_alloc(o, 1, 0.0f, err); }

static void sgd_nag_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    classic_momentum_step(o, theta, g, ctx, info, true);
}

const OptimizerDef optdef_sgd_nag = {
    .name = "sgd-nag",
    .summary = "SGD with Nesterov momentum (torch.optim.SGD, nesterov=True, momentum 0.9)",
    .hparams = HP,
    .n_hparams = (int)(sizeof HP / sizeof HP[0]),
    .classic = true,
    .lr_role = LR_STEP,
    .lr_doc = "the rate of every step (a schedule scales it)",
    .validate = sgd_nag_validate,
    .init = sgd_nag_init,
    .step = sgd_nag_step,
    .destroy = classic_destroy,
    .state_blocks = classic_blocks,
};
