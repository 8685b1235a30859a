/* src/optim/adagrad.c — AdaGrad, torch.optim.Adagrad.
 * Follows https://pytorch.org/docs/stable/generated/torch.optim.Adagrad.html
 * (implementation: torch/optim/adagrad.py, _single_tensor_adagrad).
 * Step: k += 1; S <- S + g^2; theta <- theta - lr/(1 + (k-1)*decay) * g/(sqrt(S) + eps).
 * S starts at initial_accumulator_value (0) when the optimizer is created. */
#include "optim/classic.h"

static const HParamSpec HP[] = {
    { "eps", HP_NUM, 1e-10, 0.0, INFINITY, true, true, NULL, "added to sqrt(S)" },
    { "lr_decay", HP_NUM, 0.0, 0.0, INFINITY, false, true, NULL,
      "lr/(1 + (k-1)*lr_decay) at step k" },
    CLASSIC_HP_WEIGHT_DECAY,
    { "initial_accumulator_value", HP_NUM, 0.0, 0.0, INFINITY, false, true, NULL,
      "initial value of the accumulator S" },
};

static int adagrad_init(Optimizer *o, char *err)
{
    return classic_alloc(o, 1, (float)o->hp[3], err);
}

typedef struct AdagradArgs {
    float *theta, *S;
    const float *g;
    float wd, eps, neg_clr;
} AdagradArgs;

LQA_MULTIVERSION static void adagrad_range(void *arg, size_t lo, size_t hi)
{
    const AdagradArgs *a = arg;
    float *theta = a->theta, *S = a->S;
    const float *g = a->g;
    const float wd = a->wd, eps = a->eps, neg_clr = a->neg_clr;
    for (size_t i = lo; i < hi; i++) {
        float d = classic_grad(g, theta, i, wd);
        S[i] = fmaf(1.0f * d, d, S[i]);                  /* state_sum.addcmul_(g, g, value=1) */
        float std = sqrtf(S[i]) + eps;                   /* state_sum.sqrt().add_(eps) */
        theta[i] = theta[i] + (neg_clr * d) / std;       /* param.addcdiv_(g, std, value=-clr) */
    }
}

static void adagrad_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    ClassicState *s = o->state;
    const float eps = (float)o->hp[0], wd = (float)o->hp[2];
    s->k++;
    const double clr = ctx->lr / (1.0 + (double)(s->k - 1) * o->hp[1]);
    const float neg_clr = (float)-clr;
    AdagradArgs a = { theta, s->s1, g, wd, eps, neg_clr };
    par_for(o->n, o->n * 6, adagrad_range, &a);
    info->lr = ctx->lr;
}

const OptimizerDef optdef_adagrad = {
    .name = "adagrad",
    .summary = "AdaGrad (torch.optim.Adagrad, eps 1e-10)",
    .hparams = HP,
    .n_hparams = (int)(sizeof HP / sizeof HP[0]),
    .classic = true,
    .lr_role = LR_STEP,
    .lr_doc = "the rate of every step (a schedule scales it)",
    .init = adagrad_init,
    .step = adagrad_step,
    .destroy = classic_destroy,
    .state_blocks = classic_blocks,
};
