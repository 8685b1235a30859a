/* src/optim/classic.h — shared pieces of the six torch.optim methods
 * (sgd, sgd-m, sgd-nag, adagrad, rmsprop, adam).
 *
 * Arithmetic follows PyTorch 1.13's single-tensor CPU kernels (the version
 * Debian ships as python3-torch, which tests/torch_optim_check.py compares
 * against), element by element, in float32:
 *   t.add_(x, alpha=a)      -> fmaf(x, a, t)   (ATen vectorises it as fmadd)
 *   t.mul_(b)               -> t * b
 *   t.addcmul_(x, y, value=c) -> fmaf(c * x, y, t) (GCC contracts ATen's
 *                                vector t + c*x*y into an FMA; verified)
 *   t.addcdiv_(x, y, value=c) -> t + (c * x) / y
 * Python-level scalars (lr, 1 - beta, bias corrections) are computed in double
 * and rounded to float where ATen converts the Scalar, exactly as here.
 * The build uses -std=c11, so GCC does not contract a*b+c on its own.
 *
 * Each step's element loop runs on the worker pool (parallel.h): the step computes
 * its scalars once, puts them with the array pointers in a small struct, and
 * par_for runs a range function that copies them into locals and runs the loop body
 * unchanged over [lo, hi). Every element depends only on its own index, so the
 * results are bit-identical for any thread count. */
#ifndef LQA_OPTIM_CLASSIC_H
#define LQA_OPTIM_CLASSIC_H

#include <math.h>

#include "common.h"
#include "optim.h"
#include "parallel.h"

/* Coupled L2, offered by all six: g <- g + lambda*theta before anything else. */
#define CLASSIC_HP_WEIGHT_DECAY                                                \
    { "weight_decay", HP_NUM, 0.0, 0.0, INFINITY, false, true, NULL,           \
      "coupled L2 weight decay lambda (g <- g + lambda*theta)" }

typedef struct ClassicState {
    long k;     /* steps taken */
    float *s1;  /* momentum buffer / accumulator S / v / m */
    float *s2;  /* adam: v */
} ClassicState;

static inline void classic_destroy(Optimizer *o)
{
    ClassicState *s = o->state;
    if (!s) return;
    lqa_free(s->s1);
    lqa_free(s->s2);
    lqa_free(s);
}

/* Checkpoint blocks: the step count and the buffers. */
static inline int classic_blocks(Optimizer *o, OptBlock *b)
{
    ClassicState *s = o->state;
    int k = 0;
    b[k++] = (OptBlock){&s->k, sizeof s->k};
    if (s->s1) b[k++] = (OptBlock){s->s1, sizeof(float) * o->n};
    if (s->s2) b[k++] = (OptBlock){s->s2, sizeof(float) * o->n};
    return k;
}

/* Allocate the state with nbuf (0..2) buffers of o->n floats set to fill. */
static inline int classic_alloc(Optimizer *o, int nbuf, float fill, char *err)
{
    ClassicState *s = lqa_alloc(sizeof *s, err);
    if (!s) return -1;
    o->state = s;
    float **bufs[2] = { &s->s1, &s->s2 };
    for (int b = 0; b < nbuf; b++) {
        float *p = lqa_alloc(sizeof(float) * (o->n ? o->n : 1), err);
        if (!p) {
            classic_destroy(o);
            o->state = NULL;
            return -1;
        }
        for (size_t i = 0; i < o->n; i++) p[i] = fill;
        *bufs[b] = p;
    }
    return 0;
}

/* Gradient element after coupled weight decay: grad.add(param, alpha=wd). */
static inline float classic_grad(const float *g, const float *theta, size_t i, float wd)
{
    return wd != 0.0f ? fmaf(theta[i], wd, g[i]) : g[i];
}

/* SGD with heavy-ball (nesterov = false) or Nesterov momentum; defined in
 * sgd_m.c, shared with sgd_nag.c. hp = {momentum, dampening, weight_decay}. */
void classic_momentum_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx,
                           StepInfo *info, bool nesterov);

#endif
