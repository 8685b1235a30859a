/* hgd.c — hypergradient descent, SGD-HD form (Baydin, Cornish, Martinez Rubio,
 * Schmidt & Wood, "Online learning rate adaptation with hypergradient descent",
 * ICLR 2018, Algorithm "SGD-HD"; SGDN-HD with "momentum"/"nesterov").
 * Contract: spec/optimizers.md, section "HGD".
 *
 *   h = g·d_prev;  α ← α + β·h;  θ ← θ − α·d;  d_prev ← d
 *
 * with d = g (plain), d = b (heavy-ball buffer, torch.optim.SGD semantics:
 * b ← g on the first step, else b ← μb + g) or d = g + μb (Nesterov). The new α
 * is used in the same step; d_prev = 0 before the first step, so step 1 uses
 * the sweep's lr. As in the authors' code there is no clamp on α unless
 * "clamp_nonneg" is set; α and h are not otherwise guarded (a non-finite α is
 * reported through StepInfo.lr and the training loop declares divergence).
 * Deviation: none. The hypergradient h (a double dot product) is logged in the
 * "hypergrad" column. Cost: 1 fwd, 1 bwd, no probes; over SGD, one dot product
 * pass and the copy of d (fused into the update pass). */
#include <math.h>
#include <string.h>

#include "blas.h"
#include "common.h"
#include "optim.h"

enum { HP_BETA, HP_CLAMP, HP_MOMENTUM, HP_NESTEROV, N_HP };

static const HParamSpec HGD_HP[N_HP] = {
    [HP_BETA] = {"beta", HP_NUM, 1e-3, 0.0, INFINITY, false, false, NULL,
                 "hypergradient learning rate β (α ← α + β·g·d_prev)"},
    [HP_CLAMP] = {"clamp_nonneg", HP_BOOL, 0, 0, 1, false, false, NULL,
                  "clamp α at 0 after each update (off in the paper)"},
    [HP_MOMENTUM] = {"momentum", HP_NUM, 0.0, 0.0, 1.0, false, true, NULL,
                     "momentum μ (SGDN-HD when > 0); d is the post-momentum direction"},
    [HP_NESTEROV] = {"nesterov", HP_BOOL, 0, 0, 1, false, false, NULL,
                     "Nesterov direction d = g + μb (needs momentum > 0)"},
};

static const char *const HGD_EXTRA[] = {"hypergrad"};

typedef struct {
    double alpha;
    float *d_prev; /* previous direction, 0 before step 1 */
    float *buf;    /* momentum buffer (NULL when μ = 0) */
    float *dir;    /* this step's direction (NULL when d = g) */
    bool have_buf;
} HgdState;

static int hgd_validate(const double *hp, char *err)
{
    if (hp[HP_NESTEROV] != 0 && !(hp[HP_MOMENTUM] > 0))
        return lqa_errf(err, "nesterov requires momentum > 0");
    return 0;
}

static void hgd_destroy(Optimizer *o)
{
    HgdState *s = o->state;
    if (!s) return;
    lqa_free(s->d_prev);
    lqa_free(s->buf);
    lqa_free(s->dir);
    lqa_free(s);
    o->state = NULL;
}

static int hgd_init(Optimizer *o, char *err)
{
    HgdState *s = lqa_alloc(sizeof *s, err);
    if (!s) return -1;
    o->state = s;
    s->alpha = o->lr0;
    s->d_prev = lqa_alloc(sizeof(float) * o->n, err); /* zeroed */
    if (!s->d_prev) goto fail;
    if (o->hp[HP_MOMENTUM] > 0) {
        s->buf = lqa_alloc(sizeof(float) * o->n, err);
        s->dir = lqa_alloc(sizeof(float) * o->n, err);
        if (!s->buf || !s->dir) goto fail;
    }
    return 0;
fail:
    hgd_destroy(o);
    return -1;
}

LQA_MULTIVERSION static void hgd_step(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info)
{
    (void)ctx;
    HgdState *s = o->state;
    const size_t n = o->n;
    const double beta = o->hp[HP_BETA];
    const float mu = (float)o->hp[HP_MOMENTUM];

    /* Hypergradient with the *raw* current gradient and the previous direction. */
    double h = vec_dot(g, s->d_prev, n);
    s->alpha += beta * h;
    if (o->hp[HP_CLAMP] != 0 && s->alpha < 0) s->alpha = 0;

    const float *d = g;
    if (s->buf) {
        if (!s->have_buf) {
            memcpy(s->buf, g, sizeof(float) * n);
            s->have_buf = true;
        } else {
            for (size_t i = 0; i < n; i++) s->buf[i] = mu * s->buf[i] + g[i];
        }
        if (o->hp[HP_NESTEROV] != 0) {
            vec_axpy_to(s->dir, g, mu, s->buf, n);
            d = s->dir;
        } else {
            d = s->buf;
        }
    }
    vec_axpy_copy(theta, (float)(-s->alpha), d, s->d_prev, n); /* θ ← θ − α·d; d_prev ← d */

    info->lr = s->alpha;
    info->fallback = NULL;
    info->extra[0] = h;
}

/* Checkpoint blocks: the scalars and the buffers. */
static int hgd_blocks(Optimizer *o, OptBlock *b)
{
    HgdState *s = o->state;
    int k = 0;
    b[k++] = (OptBlock){&s->alpha, sizeof s->alpha};
    b[k++] = (OptBlock){&s->have_buf, sizeof s->have_buf};
    if (s->d_prev) b[k++] = (OptBlock){s->d_prev, sizeof(float) * o->n};
    if (s->buf) b[k++] = (OptBlock){s->buf, sizeof(float) * o->n};
    if (s->dir) b[k++] = (OptBlock){s->dir, sizeof(float) * o->n};
    return k;
}

const OptimizerDef optdef_hgd = {
    .name = "hgd",
    .summary = "hypergradient descent SGD-HD (Baydin et al. 2018): α ← α + β·g·d_prev",
    .hparams = HGD_HP,
    .n_hparams = N_HP,
    .extra_cols = HGD_EXTRA,
    .n_extra = 1,
    .classic = false,
    .lr_role = LR_INITIAL,
    .lr_doc = "the starting step size α (step 1 uses it; hypergradient updates follow)",
    .validate = hgd_validate,
    .init = hgd_init,
    .step = hgd_step,
    .destroy = hgd_destroy,
    .state_blocks = hgd_blocks,
};
