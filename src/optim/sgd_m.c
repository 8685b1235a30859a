/* src/optim/sgd_m.c — SGD with heavy-ball momentum, torch.optim.SGD(momentum=mu).
 * Follows https://pytorch.org/docs/stable/generated/torch.optim.SGD.html
 * (implementation: torch/optim/sgd.py, _single_tensor_sgd).
 * Step: b <- g on the first step, else b <- mu*b + (1 - tau)*g; theta <- theta - lr*b.
 * With mu = 0 torch skips the buffer entirely (plain SGD, dampening ignored);
 * so do we. */
#include "optim/classic.h"

static const HParamSpec HP[] = {
    { "momentum", HP_NUM, 0.9, 0.0, 1.0, false, true, NULL, "momentum factor mu" },
    { "dampening", HP_NUM, 0.0, 0.0, 1.0, false, false, NULL,
      "dampening tau: b <- mu*b + (1 - tau)*g" },
    CLASSIC_HP_WEIGHT_DECAY,
};

static int sgd_m_init(Optimizer *o, char *err) { return classic_alloc(o, 1, 0.0f, err); }

typedef struct MomentumArgs {
    float *theta, *b;
    const float *g;
    double mu;
    float muf, damp, wd, neg_lr;
    bool first, nesterov; /* first: s->k == 0, the buffer starts as b = d */
} MomentumArgs;

LQA_MULTIVERSION static void momentum_range(void *arg, size_t lo, size_t hi)
{
    const MomentumArgs *a = arg;
    float *theta = a->theta, *b = a->b;
    const float *g = a->g;
    const double mu = a->mu;
    const float muf = a->muf, damp = a->damp, wd = a->wd, neg_lr = a->neg_lr;
    const bool first = a->first, nesterov = a->nesterov;
    for (size_t i = lo; i < hi; i++) {
        float d = classic_grad(g, theta, i, wd);
        if (mu != 0.0) {
            b[i] = first ? d : fmaf(d, damp, b[i] * muf); /* buf.mul_(mu).add_(d, alpha=1-tau) */
            d = nesterov ? fmaf(b[i], muf, d) : b[i];      /* d.add(buf, alpha=mu) */
        }
        theta[i] = fmaf(d, neg_lr, theta[i]);
    }
}

void classic_momentum_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx,
                           StepInfo *info, bool nesterov)
{
    ClassicState *s = o->state;
    const double mu = o->hp[0];
    const float muf = (float)mu, damp = (float)(1.0 - o->hp[1]), wd = (float)o->hp[2];
    const float neg_lr = (float)-ctx->lr;
    MomentumArgs a = { theta, s->s1, g, mu, muf, damp, wd, neg_lr, s->k == 0, nesterov };
    par_for(o->n, o->n * 4, momentum_range, &a);
    s->k++;
    info->lr = ctx->lr;
}

static void sgd_m_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    classic_momentum_step(o, theta, g, ctx, info, false);
}

const OptimizerDef optdef_sgd_m = {
    .name = "sgd-m",
    .summary = "SGD with heavy-ball momentum (torch.optim.SGD, momentum 0.9)",
    .hparams = HP,
    .n_hparams = (int)(sizeof HP / sizeof HP[0]),
    .classic = true,
    .lr_role = LR_STEP,
    .lr_doc = "the rate of every step (a schedule scales it)",
    .init = sgd_m_init,
    .step = sgd_m_step,
    .destroy = classic_destroy,
    .state_blocks = classic_blocks,
};
