/* models/resnet18.c — `resnet18`, CIFAR form (spec: experiments.md "Models"):
 *   conv 3×3 w, stride 1, pad 1, no bias → BN → ReLU (no max-pool)
 *   → 4 stages of 2 BasicBlocks, widths w, 2w, 4w, 8w, strides 1, 2, 2, 2
 *   → global average pool → FC n_classes.
 * BasicBlock: conv3×3(stride) → BN → ReLU → conv3×3 → BN, plus the shortcut
 * (identity, or 1×1 conv(stride) + BN when the shape changes), then ReLU.
 * Convolutions have no bias. w = 64 (11,173,962 parameters for 3×32×32 and 10
 * classes), or spec.width when > 0 (toy tests).
 *
 * Parameter tensors (declared with model_param) = PyTorch model.parameters()
 * order with torchvision names:
 *   conv1.weight, bn1.weight, bn1.bias,
 *   layer{1..4}.{0,1}.conv1.weight, .bn1.weight, .bn1.bias, .conv2.weight,
 *     .bn2.weight, .bn2.bias, [.downsample.0.weight, .downsample.1.weight,
 *     .downsample.1.bias],
 *   fc.weight, fc.bias.
 * State (m->state) = model.buffers() order without num_batches_tracked:
 *   for each BN in the order above, running_mean[C] then running_var[C].
 *
 * Batch norm (PyTorch BatchNorm2d, momentum 0.1, ε 1e-5): FWD_TRAIN normalises
 * with batch statistics (biased variance) and is the only forward that updates
 * the running statistics (unbiased variance); FWD_PROBE uses batch statistics
 * too (or the running ones when spec.probe_bn == PROBE_BN_EVAL) and changes no
 * state; FWD_EVAL uses the running statistics.
 *
 * Dropout (spec.dropout = p > 0): one inverted-dropout layer on the pooled
 * features, before fc (= PyTorch's fc(F.dropout(pool(x), p))). The paper
 * (Ravaut & Gorti 2018) trains "ResNet-18 (with two added dropout layers)" and
 * does not say where; ResNet-18 has a single fully-connected layer, so the
 * layer before it is the one classifier-side place. Two stacked dropout layers
 * there would be one layer with 1 − (1 − p)². Active in TRAIN and PROBE with
 * the step's mask (nn/dropout.h: layer 0; independent of probe_bn, which only
 * chooses the batch-norm statistics), the identity in EVAL. p = 0: no layer.
 *
 * Memory: TRAIN caches the tensors backward needs (per block: conv1 output,
 * post-BN-ReLU activation, conv2 output, projection conv output, block
 * output); PROBE/EVAL forwards and the backward share three scratch tensors of
 * the largest activation size (their contents never outlive a call), plus a
 * bounded im2col workspace. Activations are channel-major (src/nn/conv.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "conv.h"
#include "dropout.h"
#include "layers.h"
#include "model.h"

/* convolution workspace cap (floats): 16 Mi floats = 64 MB (Winograd chunks of
 * ~30 samples in the first stage at batch 128). */
#define RESNET_WS_CAP ((size_t)16 << 20)
#define RESNET_BLOCKS 8

typedef struct BnL {
    int C;
    size_t gamma, beta; /* parameter offsets */
    size_t rm, rv;      /* state offsets */
    float *mean, *invstd; /* batch statistics of the last TRAIN forward */
} BnL;

typedef struct Block {
    Conv2d c1, c2, ds;
    size_t w1, w2, wds;
    BnL b1, b2, bds;
    bool proj;
    /* TRAIN caches, channel-major: a = conv1 out, b = ReLU(BN1(a)),
     * c = conv2 out, e = projection conv out, out = block output */
    float *a, *b, *c, *e, *out;
} Block;

typedef struct Resnet {
    int width, feat, n_classes;
    Conv2d stem;
    size_t stem_w;
    BnL bn1;
    Block blk[RESNET_BLOCKS];
    size_t fc_w, fc_b;
    Dropout drop; /* on the pooled features (off when p = 0) */
    ConvWs ws; /* every convolution's workspace */
    /* TRAIN caches */
    float *xin, *a0, *h0, *pooled, *logits, *probs;
    /* scratch */
    float *s[3];
    float *spooled, *slogits;
    float *smean, *svar, *sinv; /* per-channel scratch statistics (max C) */
    const float *theta_train;
    const int *y_train;
    int b_train;
} Resnet;

static float *alloc_f(size_t n, char *err) { return lqa_alloc(n * sizeof(float), err); }

static size_t act_size(const Conv2d *c, int B) { return (size_t)c->out_c * B * c->out_h * c->out_w; }

/* Declare batch norm `name` (γ, β; running mean and variance). */
static void bn_declare(Model *m, BnL *bn, const char *name, int C)
{
    char t[TENSOR_NAME_LEN + 16]; /* model_param checks the length */
    bn->C = C;
    snprintf(t, sizeof t, "%s.weight", name);
    bn->gamma = model_param(m, t, TENSOR_ONES, 0, 1, C);
    snprintf(t, sizeof t, "%s.bias", name);
    bn->beta = model_param(m, t, TENSOR_ZEROS, 0, 1, C);
    snprintf(t, sizeof t, "%s.running_mean", name);
    bn->rm = model_buffer(m, t, TENSOR_ZEROS, C);
    snprintf(t, sizeof t, "%s.running_var", name);
    bn->rv = model_buffer(m, t, TENSOR_ONES, C);
}

/* Declare the weight of convolution c, `name`.weight (no bias). */
static size_t conv_declare(Model *m, const Conv2d *c, const char *name)
{
    char t[TENSOR_NAME_LEN + 16]; /* model_param checks the length */
    snprintf(t, sizeof t, "%s.weight", name);
    return model_param(m, t, TENSOR_UNIFORM, conv2d_fan_in(c), 4, c->out_c, c->in_c, c->kh, c->kw);
}

/* Block i's stride: 2 where stages 2 to 4 begin. */
static int block_stride(int i) { return (i / 2 > 0 && i % 2 == 0) ? 2 : 1; }

/* Block i on a C×H×W input: its convolutions (attached to the workspace),
 * batch norms and their parameters. */
static void block_declare(Model *m, Resnet *net, int i, int C, int H, int W)
{
    const ModelSpec *s = &m->spec;
    Block *k = &net->blk[i];
    const int stage = i / 2, out_c = net->width << stage;
    const int stride = block_stride(i);
    conv2d_setup(&k->c1, C, H, W, out_c, 3, 3, stride, 1);
    conv2d_setup(&k->c2, out_c, k->c1.out_h, k->c1.out_w, out_c, 3, 3, 1, 1);
    k->c1.wino4 = k->c2.wino4 = s->conv_algo == CONV_WINOGRAD4;
    char name[TENSOR_NAME_LEN];
    snprintf(name, sizeof name, "layer%d.%d.conv1", stage + 1, i % 2);
    k->w1 = conv_declare(m, &k->c1, name);
    snprintf(name, sizeof name, "layer%d.%d.bn1", stage + 1, i % 2);
    bn_declare(m, &k->b1, name, out_c);
    snprintf(name, sizeof name, "layer%d.%d.conv2", stage + 1, i % 2);
    k->w2 = conv_declare(m, &k->c2, name);
    snprintf(name, sizeof name, "layer%d.%d.bn2", stage + 1, i % 2);
    bn_declare(m, &k->b2, name, out_c);
    k->proj = stride != 1 || C != out_c;
    conv2d_attach(&k->c1, &net->ws, s->max_batch);
    conv2d_attach(&k->c2, &net->ws, s->max_batch);
    if (k->proj) {
        conv2d_setup(&k->ds, C, H, W, out_c, 1, 1, stride, 0);
        snprintf(name, sizeof name, "layer%d.%d.downsample.0", stage + 1, i % 2);
        k->wds = conv_declare(m, &k->ds, name);
        snprintf(name, sizeof name, "layer%d.%d.downsample.1", stage + 1, i % 2);
        bn_declare(m, &k->bds, name, out_c);
        conv2d_attach(&k->ds, &net->ws, s->max_batch);
    }
}

/* Every layer and parameter, in PyTorch's order; the workspace's size. */
static int resnet_declare(Model *m, Resnet *net, char *err)
{
    const ModelSpec *s = &m->spec;
    const int w = net->width;
    conv_ws_init(&net->ws, RESNET_WS_CAP);
    conv2d_setup(&net->stem, s->in_c, s->in_h, s->in_w, w, 3, 3, 1, 1);
    net->stem_w = conv_declare(m, &net->stem, "conv1");
    bn_declare(m, &net->bn1, "bn1", w);
    conv2d_attach(&net->stem, &net->ws, s->max_batch);
    int C = w, H = s->in_h, W = s->in_w;
    for (int i = 0; i < RESNET_BLOCKS; i++) {
        if (H < 1 || W < 1 || (block_stride(i) == 2 && (H < 2 && W < 2)))
            return lqa_errf(err, "resnet18: input %dx%d too small", s->in_h, s->in_w);
        block_declare(m, net, i, C, H, W);
        const Block *k = &net->blk[i];
        C = k->c1.out_c, H = k->c1.out_h, W = k->c1.out_w;
    }
    net->feat = C;
    net->fc_w = model_param(m, "fc.weight", TENSOR_UNIFORM, C, 2, s->n_classes, C);
    net->fc_b = model_param(m, "fc.bias", TENSOR_UNIFORM, C, 1, s->n_classes);
    return 0;
}

/* The batch-statistics buffers of every batch norm. */
static int bn_alloc_all(Resnet *net, char *err)
{
    BnL *bns[3 * RESNET_BLOCKS + 1];
    int nb = 0;
    bns[nb++] = &net->bn1;
    for (int i = 0; i < RESNET_BLOCKS; i++) {
        Block *k = &net->blk[i];
        bns[nb++] = &k->b1;
        bns[nb++] = &k->b2;
        if (k->proj) bns[nb++] = &k->bds;
    }
    for (int j = 0; j < nb; j++)
        if (!(bns[j]->mean = alloc_f(bns[j]->C, err)) || !(bns[j]->invstd = alloc_f(bns[j]->C, err)))
            return -1;
    return 0;
}

/* The TRAIN caches, the scratch tensors and the dropout layer. */
static int resnet_alloc(Model *m, Resnet *net, char *err)
{
    const ModelSpec *s = &m->spec;
    const int B = s->max_batch, C = net->feat;
    const size_t n_x = (size_t)B * s->in_c * s->in_h * s->in_w;
    size_t big = LQA_MAX(act_size(&net->stem, B), n_x);
    for (int i = 0; i < RESNET_BLOCKS; i++) big = LQA_MAX(big, act_size(&net->blk[i].c1, B));
    const size_t n_cls = (size_t)B * s->n_classes, n_feat = (size_t)B * C;
    if (conv_ws_alloc(&net->ws, err)) return -1;
    if (!(net->xin = alloc_f(n_x, err)) || !(net->a0 = alloc_f(act_size(&net->stem, B), err)) ||
        !(net->h0 = alloc_f(act_size(&net->stem, B), err)) ||
        !(net->pooled = alloc_f(n_feat, err)) || !(net->spooled = alloc_f(n_feat, err)) ||
        !(net->logits = alloc_f(n_cls, err)) || !(net->probs = alloc_f(n_cls, err)) ||
        !(net->slogits = alloc_f(n_cls, err)))
        return -1;
    for (int j = 0; j < 3; j++)
        if (!(net->s[j] = alloc_f(big, err))) return -1;
    if (dropout_init(&net->drop, s->dropout, 0, C, B, err)) return -1;
    int maxc = 8 * net->width;
    if (!(net->smean = alloc_f(maxc, err)) || !(net->svar = alloc_f(maxc, err)) ||
        !(net->sinv = alloc_f(maxc, err)))
        return -1;
    for (int i = 0; i < RESNET_BLOCKS; i++) {
        Block *k = &net->blk[i];
        size_t n = act_size(&k->c1, B);
        if (!(k->a = alloc_f(n, err)) || !(k->b = alloc_f(n, err)) || !(k->c = alloc_f(n, err)) ||
            !(k->out = alloc_f(n, err)))
            return -1;
        if (k->proj && !(k->e = alloc_f(n, err))) return -1;
    }
    return bn_alloc_all(net, err);
}

static int resnet_create(Model *m, char *err)
{
    Resnet *net = lqa_alloc(sizeof *net, err);
    if (!net) return -1;
    m->impl = net;
    const ModelSpec *s = &m->spec;
    if (s->max_batch < 1 || s->in_c < 1 || s->n_classes < 2 || s->in_h < 1 || s->in_w < 1)
        return lqa_errf(err, "resnet18: bad spec (batch %d, input %dx%dx%d, classes %d)",
                        s->max_batch, s->in_c, s->in_h, s->in_w, s->n_classes);
    net->width = s->width > 0 ? s->width : 64;
    net->n_classes = s->n_classes;
    if (resnet_declare(m, net, err)) return -1;
    return resnet_alloc(m, net, err);
}

/* y = BN(x) [+ res] [ReLU] over a C×B×HW tensor, with the statistics the mode
 * calls for (see the file header). */
static void bn_forward(Model *m, BnL *bn, const float *theta, float *y, const float *x,
                       const float *res, bool relu, int B, int HW, FwdMode mode)
{
    Resnet *net = m->impl;
    const int C = bn->C;
    const bool batch_stats =
        mode == FWD_TRAIN || (mode == FWD_PROBE && m->spec.probe_bn == PROBE_BN_BATCH);
    const float *mean, *invstd;
    if (batch_stats) {
        float *mu = mode == FWD_TRAIN ? bn->mean : net->smean;
        float *is = mode == FWD_TRAIN ? bn->invstd : net->sinv;
        bn2d_batch_stats(mu, net->svar, is, x, C, B, HW);
        if (mode == FWD_TRAIN)
            bn2d_update_running(m->state + bn->rm, m->state + bn->rv, mu, net->svar, C,
                                (size_t)B * HW);
        mean = mu;
        invstd = is;
    } else {
        bn2d_eval_invstd(net->sinv, m->state + bn->rv, C);
        mean = m->state + bn->rm;
        invstd = net->sinv;
    }
    bn2d_apply(y, x, mean, invstd, theta + bn->gamma, theta + bn->beta, res, relu, C, B, HW);
}

static double resnet_forward(Model *m, const float *theta, const float *x, const int *y, int B,
                             FwdMode mode, int *n_correct)
{
    Resnet *net = m->impl;
    const ModelSpec *s = &m->spec;
    LQA_CHECK(B > 0 && B <= s->max_batch);
    const bool train = mode == FWD_TRAIN;
    const int HW0 = net->stem.out_h * net->stem.out_w;

    float *xin = train ? net->xin : net->s[2];
    nchw_to_cnhw(xin, x, B, s->in_c, s->in_h * s->in_w);
    float *a0 = train ? net->a0 : net->s[0], *h0 = train ? net->h0 : net->s[0];
    conv2d_layer_forward(&net->stem, a0, xin, theta + net->stem_w, NULL, B);
    bn_forward(m, &net->bn1, theta, h0, a0, NULL, true, B, HW0, mode);
    const float *cur = h0;
    int icur = 0; /* scratch index holding cur (PROBE/EVAL) */
    for (int i = 0; i < RESNET_BLOCKS; i++) {
        Block *k = &net->blk[i];
        const int HW = k->c1.out_h * k->c1.out_w;
        float *a, *b, *c, *e, *out;
        if (train) {
            a = k->a, b = k->b, c = k->c, e = k->e, out = k->out;
        } else {
            /* three scratch tensors: cur, t1, t2 */
            float *t1 = net->s[(icur + 1) % 3], *t2 = net->s[(icur + 2) % 3];
            a = b = t1;  /* conv1 out, BN1+ReLU in place */
            c = out = t2; /* conv2 out, BN2 (+res, ReLU) in place */
            e = t1;       /* projection: t1 is free once conv2 has read it */
            icur = (icur + 2) % 3;
        }
        conv2d_layer_forward(&k->c1, a, cur, theta + k->w1, NULL, B);
        bn_forward(m, &k->b1, theta, b, a, NULL, true, B, HW, mode);
        conv2d_layer_forward(&k->c2, c, b, theta + k->w2, NULL, B);
        const float *res = cur;
        if (k->proj) {
            conv2d_layer_forward(&k->ds, e, cur, theta + k->wds, NULL, B);
            /* TRAIN: the projection's BN output goes to `out` first (it is
             * the residual), then out = ReLU(BN2(c) + out). */
            float *r = train ? out : e;
            bn_forward(m, &k->bds, theta, r, e, NULL, false, B, HW, mode);
            res = r;
        }
        bn_forward(m, &k->b2, theta, out, c, res, true, B, HW, mode);
        cur = out;
    }
    const Block *last = &net->blk[RESNET_BLOCKS - 1];
    float *pooled = train ? net->pooled : net->spooled;
    float *logits = train ? net->logits : net->slogits;
    gap_forward(pooled, cur, net->feat, B, last->c1.out_h * last->c1.out_w);
    if (mode != FWD_EVAL && dropout_on(&net->drop))
        dropout_apply(pooled, pooled, dropout_mask(&net->drop, m->seed, m->step, B), (size_t)B * net->feat);
    linear_forward(logits, pooled, theta + net->fc_w, theta + net->fc_b, B, net->feat,
                   net->n_classes);
    if (!train) return softmax_xent_forward(NULL, logits, y, B, net->n_classes, n_correct);
    net->theta_train = theta;
    net->y_train = y;
    net->b_train = B;
    return softmax_xent_forward(net->probs, logits, y, B, net->n_classes, n_correct);
}

static void resnet_backward(Model *m)
{
    Resnet *net = m->impl;
    LQA_CHECK(net->theta_train != NULL);
    const int B = net->b_train;
    const float *theta = net->theta_train;
    float *g = m->grads;
    float *P = net->s[0], *Q = net->s[1], *R = net->s[2];

    softmax_xent_backward(net->slogits, net->probs, net->y_train, B, net->n_classes);
    linear_backward(net->spooled, g + net->fc_w, g + net->fc_b, net->slogits, net->pooled,
                    theta + net->fc_w, B, net->feat, net->n_classes);
    if (dropout_on(&net->drop)) /* the mask of the TRAIN forward's step */
        dropout_apply(net->spooled, net->spooled, net->drop.mask, (size_t)B * net->feat);
    const Block *last = &net->blk[RESNET_BLOCKS - 1];
    gap_backward(P, net->spooled, net->feat, B, last->c1.out_h * last->c1.out_w);
    for (int i = RESNET_BLOCKS - 1; i >= 0; i--) {
        Block *k = &net->blk[i];
        const int HW = k->c1.out_h * k->c1.out_w;
        const size_t n = act_size(&k->c1, B);
        const float *in = i > 0 ? net->blk[i - 1].out : net->h0;
        /* P: gradient of the block output → of the pre-ReLU sum */
        relu_backward(P, P, k->out, n);
        bn2d_backward(Q, g + k->b2.gamma, g + k->b2.beta, P, NULL, k->c, k->b2.mean,
                      k->b2.invstd, theta + k->b2.gamma, k->b2.C, B, HW);
        conv2d_layer_backward(&k->c2, R, false, g + k->w2, NULL, Q, k->b, theta + k->w2, B);
        bn2d_backward(R, g + k->b1.gamma, g + k->b1.beta, R, k->b, k->a, k->b1.mean,
                      k->b1.invstd, theta + k->b1.gamma, k->b1.C, B, HW);
        conv2d_layer_backward(&k->c1, Q, false, g + k->w1, NULL, R, in, theta + k->w1, B);
        if (k->proj) {
            bn2d_backward(P, g + k->bds.gamma, g + k->bds.beta, P, NULL, k->e, k->bds.mean,
                          k->bds.invstd, theta + k->bds.gamma, k->bds.C, B, HW);
            conv2d_layer_backward(&k->ds, Q, true, g + k->wds, NULL, P, in, theta + k->wds, B);
        } else {
            residual_add_backward(Q, true, P, n);
        }
        float *t = P;
        P = Q;
        Q = t;
    }
    const int HW0 = net->stem.out_h * net->stem.out_w;
    bn2d_backward(P, g + net->bn1.gamma, g + net->bn1.beta, P, net->h0, net->a0, net->bn1.mean,
                  net->bn1.invstd, theta + net->bn1.gamma, net->bn1.C, B, HW0);
    conv2d_layer_backward(&net->stem, NULL, false, g + net->stem_w, NULL, P, net->xin,
                    theta + net->stem_w, B);
}

static void resnet_destroy(Model *m)
{
    Resnet *net = m->impl;
    if (net) {
        conv_ws_free(&net->ws);
        float *bufs[] = {net->xin,    net->a0,     net->h0,   net->pooled,
                         net->logits,  net->probs,  net->s[0],   net->s[1], net->s[2],
                         net->spooled, net->slogits, net->smean, net->svar, net->sinv,
                         net->bn1.mean, net->bn1.invstd};
        for (size_t j = 0; j < sizeof bufs / sizeof bufs[0]; j++) lqa_free(bufs[j]);
        for (int i = 0; i < RESNET_BLOCKS; i++) {
            Block *k = &net->blk[i];
            float *kb[] = {k->a,      k->b,       k->c,      k->e,       k->out,
                           k->b1.mean, k->b1.invstd, k->b2.mean, k->b2.invstd, k->bds.mean,
                           k->bds.invstd};
            for (size_t j = 0; j < sizeof kb / sizeof kb[0]; j++) lqa_free(kb[j]);
        }
        dropout_free(&net->drop);
        lqa_free(net);
    }
}

static const ModelOption *const RESNET_OPTIONS[] = {&MODEL_OPT_WIDTH, &MODEL_OPT_PROBE_BN,
                                                    &MODEL_OPT_CONV_ALGO, &MODEL_OPT_DROPOUT, NULL};
const ModelOps model_resnet18 = {"resnet18", resnet_create, resnet_forward, resnet_backward,
                                 resnet_destroy, .options = RESNET_OPTIONS};
