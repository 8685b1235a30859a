/* models/lenet5.c — `lenet5` (spec: experiments.md "Models"):
 *   conv 6@5×5 (pad 2 on 28×28 inputs, none otherwise) → ReLU → max-pool 2
 *   → conv 16@5×5 → ReLU → max-pool 2 → FC 120 → ReLU → FC 84 → ReLU → FC 10,
 * softmax cross-entropy; 61,706 parameters for 1×28×28, 62,006 for 3×32×32.
 * The same code, with 2×2 average pooling, is `cnn2` (models/cnn2.c).
 *
 * Parameter tensors (declared with model_param) = PyTorch model.parameters() order: conv1.weight
 * [6][C][5][5], conv1.bias, conv2.weight [16][6][5][5], conv2.bias, fc1.weight
 * [120][16·h·w], fc1.bias, fc2.weight [84][120], fc2.bias, fc3.weight [10][84],
 * fc3.bias. The flatten before fc1 is PyTorch's (c, h, w) order.
 *
 * Internals: activations are channel-major [C][B][H][W] (src/nn/conv.h); the
 * input is transposed from NCHW on entry when C > 1. With max pooling the
 * ReLU is applied after the pool (max and ReLU commute exactly, and the
 * gradient is the same), which halves the ReLU work. TRAIN keeps per-layer
 * caches; PROBE/EVAL and backward share scratch buffers (never read across
 * calls), so a probe between a TRAIN forward and its backward is harmless.
 * There is no batch norm, so without dropout PROBE and EVAL compute the same thing.
 *
 * Dropout (lenet5 only; spec.dropout = p > 0): two inverted-dropout layers,
 * after the ReLUs of fc1 and fc2 ("two dropout layers after the first two
 * fully-connected layers", Ravaut & Gorti 2018), = PyTorch's
 * F.dropout(F.relu(fc(x)), p). Active in TRAIN and PROBE with the step's mask
 * (nn/dropout.h: layers 0 and 1), the identity in EVAL. TRAIN keeps h1, h2
 * after the mask (the inputs of fc2, fc3); a dropped unit's ReLU gradient is
 * then zero, as its mask is. p = 0: no layers, the same arithmetic as before. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "conv.h"
#include "dropout.h"
#include "layers.h"
#include "lenet.h"
#include "model.h"

#define LENET_WS_CAP ((size_t)8 << 20) /* floats (32 MB) of convolution workspace at most */

typedef struct Lenet {
    bool maxpool;
    Conv2d c1, c2;
    Dropout drop[2]; /* after fc1's and fc2's ReLU (off when p = 0) */
    int ph1, pw1, ph2, pw2; /* pooled sizes */
    int dim[4];             /* flat, 120, 84, classes */
    size_t c1w, c1b, c2w, c2b, fw[3], fb[3];
    ConvWs ws; /* c1's and c2's workspace */
    /* TRAIN caches (B = max batch) */
    float *xin;     /* channel-major input (C > 1 only) */
    const float *x1; /* conv1 input of the last TRAIN forward */
    float *a1, *p1, *a2, *f, *h1, *h2, *logits, *probs;
    uint8_t *i1, *i2;
    /* scratch: probe/eval activations and backward gradients */
    float *s0, *s1, *s2, *plogits;
    const float *theta_train;
    const int *y_train;
    int b_train;
} Lenet;

static float *alloc_f(size_t n, char *err) { return lqa_alloc(n * sizeof(float), err); }

int lenet_family_create(Model *m, bool maxpool, char *err)
{
    Lenet *net = lqa_alloc(sizeof *net, err);
    if (!net) return -1;
    m->impl = net;
    net->maxpool = maxpool;
    const ModelSpec *s = &m->spec;
    const int B = s->max_batch, C = s->in_c;
    if (B < 1 || C < 1 || s->n_classes < 2)
        return lqa_errf(err, "%s: bad spec (batch %d, channels %d, classes %d)", maxpool ? "lenet5" : "cnn2", B, C,
                        s->n_classes);
    int pad = (s->in_h == 28 && s->in_w == 28) ? 2 : 0;
    if (s->dropout != 0 && !maxpool) return lqa_errf(err, "cnn2: has no dropout layers");
    if (s->in_h + 2 * pad < 5 + 1 || s->in_w + 2 * pad < 5 + 1)
        return lqa_errf(err, "%s: input %dx%d too small", maxpool ? "lenet5" : "cnn2", s->in_h, s->in_w);
    conv2d_setup(&net->c1, C, s->in_h, s->in_w, 6, 5, 5, 1, pad);
    net->ph1 = net->c1.out_h / 2;
    net->pw1 = net->c1.out_w / 2;
    if (net->ph1 < 5 || net->pw1 < 5)
        return lqa_errf(err, "%s: input %dx%d too small", maxpool ? "lenet5" : "cnn2", s->in_h, s->in_w);
    conv2d_setup(&net->c2, 6, net->ph1, net->pw1, 16, 5, 5, 1, 0);
    net->ph2 = net->c2.out_h / 2;
    net->pw2 = net->c2.out_w / 2;
    if (net->ph2 < 1 || net->pw2 < 1)
        return lqa_errf(err, "%s: input %dx%d too small", maxpool ? "lenet5" : "cnn2", s->in_h, s->in_w);
    net->dim[0] = 16 * net->ph2 * net->pw2;
    net->dim[1] = 120;
    net->dim[2] = 84;
    net->dim[3] = s->n_classes;

    int fan1 = conv2d_fan_in(&net->c1), fan2 = conv2d_fan_in(&net->c2);
    net->c1w = model_param(m, "conv1.weight", TENSOR_UNIFORM, fan1, 4, 6, C, 5, 5);
    net->c1b = model_param(m, "conv1.bias", TENSOR_UNIFORM, fan1, 1, 6);
    net->c2w = model_param(m, "conv2.weight", TENSOR_UNIFORM, fan2, 4, 16, 6, 5, 5);
    net->c2b = model_param(m, "conv2.bias", TENSOR_UNIFORM, fan2, 1, 16);
    for (int l = 0; l < 3; l++) {
        char name[TENSOR_NAME_LEN];
        int in = net->dim[l], out = net->dim[l + 1];
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        net->fw[l] = model_param(m, name, TENSOR_UNIFORM, in, 2, out, in);
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        net->fb[l] = model_param(m, name, TENSOR_UNIFORM, in, 1, out);
    }

    const size_t n_x = (size_t)B * C * s->in_h * s->in_w;
    const size_t n_a1 = (size_t)B * 6 * net->c1.out_h * net->c1.out_w;
    const size_t n_p1 = (size_t)B * 6 * net->ph1 * net->pw1;
    const size_t n_a2 = (size_t)B * 16 * net->c2.out_h * net->c2.out_w;
    const size_t n_f = (size_t)B * net->dim[0];
    const size_t n_cls = (size_t)B * s->n_classes;
    size_t big = LQA_MAX(LQA_MAX(n_a1, n_x), LQA_MAX(n_a2, n_f));
    big = LQA_MAX(big, (size_t)B * 120);
    conv_ws_init(&net->ws, LENET_WS_CAP);
    conv2d_attach(&net->c1, &net->ws, B);
    conv2d_attach(&net->c2, &net->ws, B);
    if (conv_ws_alloc(&net->ws, err)) return -1;
    if (C > 1 && !(net->xin = alloc_f(n_x, err))) return -1;
    if (!(net->a1 = alloc_f(n_a1, err)) || !(net->p1 = alloc_f(n_p1, err)) ||
        !(net->a2 = alloc_f(n_a2, err)) || !(net->f = alloc_f(n_f, err)) ||
        !(net->h1 = alloc_f((size_t)B * 120, err)) || !(net->h2 = alloc_f((size_t)B * 84, err)) ||
        !(net->logits = alloc_f(n_cls, err)) || !(net->probs = alloc_f(n_cls, err)) ||
        !(net->plogits = alloc_f(n_cls, err)))
        return -1;
    if (maxpool && (!(net->i1 = lqa_alloc(n_p1, err)) ||
                    !(net->i2 = lqa_alloc((size_t)B * 16 * net->ph2 * net->pw2, err))))
        return -1;
    if (!(net->s0 = alloc_f(big, err)) || !(net->s1 = alloc_f(big, err)) ||
        !(net->s2 = alloc_f(big, err)))
        return -1;
    for (int l = 0; l < 2; l++)
        if (dropout_init(&net->drop[l], s->dropout, l, net->dim[l + 1], B, err)) return -1;
    return 0;
}

/* conv → (ReLU) → pool → (ReLU): `a` receives the conv output (post-ReLU for
 * average pooling, pre-ReLU for max pooling), `p` the pooled post-ReLU output. */
static void conv_block(const Lenet *net, const Conv2d *c, const float *theta, size_t w_off,
                       size_t b_off, const float *in, float *a, float *p, uint8_t *idx, int B)
{
    const size_t na = (size_t)c->out_c * B * c->out_h * c->out_w;
    const int planes = c->out_c * B;
    conv2d_layer_forward(c, a, in, theta + w_off, theta + b_off, B);
    if (net->maxpool) {
        maxpool2_forward(p, idx, a, planes, c->out_h, c->out_w);
        act_relu_forward(p, p, (size_t)planes * (c->out_h / 2) * (c->out_w / 2));
    } else {
        act_relu_forward(a, a, na);
        avgpool2_forward(p, a, planes, c->out_h, c->out_w);
    }
}

double lenet_family_forward(Model *m, const float *theta, const float *x, const int *y, int B,
                            FwdMode mode, int *n_correct)
{
    Lenet *net = m->impl;
    const ModelSpec *s = &m->spec;
    LQA_CHECK(B > 0 && B <= s->max_batch);
    const bool train = mode == FWD_TRAIN;
    const int C = s->in_c, HW = s->in_h * s->in_w;
    /* TRAIN writes its caches; PROBE/EVAL only the scratch s0..s2 */
    float *xin = train ? net->xin : net->s2;
    float *a1 = train ? net->a1 : net->s0, *p1 = train ? net->p1 : net->s1;
    float *a2 = train ? net->a2 : net->s0, *p2 = net->s2; /* p2: transient in all modes */
    float *f = train ? net->f : net->s0, *h1 = train ? net->h1 : net->s1;
    float *h2 = train ? net->h2 : net->s2, *logits = train ? net->logits : net->plogits;
    uint8_t *i1 = train ? net->i1 : NULL, *i2 = train ? net->i2 : NULL;

    const float *in = x;
    if (C > 1) {
        nchw_to_cnhw(xin, x, B, C, HW);
        in = xin;
    }
    if (train) net->x1 = in;
    conv_block(net, &net->c1, theta, net->c1w, net->c1b, in, a1, p1, i1, B);
    conv_block(net, &net->c2, theta, net->c2w, net->c2b, p1, a2, p2, i2, B);
    cnhw_to_nchw(f, p2, 16, B, net->ph2 * net->pw2); /* flatten in PyTorch order */
    linear_forward(h1, f, theta + net->fw[0], theta + net->fb[0], B, net->dim[0], net->dim[1]);
    act_relu_forward(h1, h1, (size_t)B * net->dim[1]);
    if (mode != FWD_EVAL && dropout_on(&net->drop[0]))
        dropout_apply(h1, h1, dropout_mask(&net->drop[0], m->seed, m->step, B), (size_t)B * net->dim[1]);
    linear_forward(h2, h1, theta + net->fw[1], theta + net->fb[1], B, net->dim[1], net->dim[2]);
    act_relu_forward(h2, h2, (size_t)B * net->dim[2]);
    if (mode != FWD_EVAL && dropout_on(&net->drop[1]))
        dropout_apply(h2, h2, dropout_mask(&net->drop[1], m->seed, m->step, B), (size_t)B * net->dim[2]);
    linear_forward(logits, h2, theta + net->fw[2], theta + net->fb[2], B, net->dim[2],
                   net->dim[3]);
    if (!train) return softmax_xent_forward(NULL, logits, y, B, s->n_classes, n_correct);
    net->theta_train = theta;
    net->y_train = y;
    net->b_train = B;
    return softmax_xent_forward(net->probs, logits, y, B, s->n_classes, n_correct);
}

/* Backward through pool (and ReLU) of a conv_block: dp (grad of pooled output)
 * → da (grad of the conv output). dp may be modified. */
static void pool_block_backward(const Lenet *net, const Conv2d *c, float *da, float *dp,
                                const float *a, const float *p, const uint8_t *idx, int B)
{
    const int planes = c->out_c * B, H = c->out_h, W = c->out_w;
    if (net->maxpool) {
        relu_backward(dp, dp, p, (size_t)planes * (H / 2) * (W / 2));
        maxpool2_backward(da, dp, idx, planes, H, W);
    } else {
        avgpool2_backward(da, dp, planes, H, W);
        relu_backward(da, da, a, (size_t)planes * H * W);
    }
}

void lenet_family_backward(Model *m)
{
    Lenet *net = m->impl;
    LQA_CHECK(net->theta_train != NULL);
    const int B = net->b_train, *d = net->dim;
    const float *theta = net->theta_train;
    float *g = m->grads, *u = net->s0, *v = net->s1;
    softmax_xent_backward(u, net->probs, net->y_train, B, d[3]);
    linear_backward(v, g + net->fw[2], g + net->fb[2], u, net->h2, theta + net->fw[2], B, d[2],
                    d[3]);
    if (dropout_on(&net->drop[1])) /* the mask of the TRAIN forward's step (rows >= B) */
        dropout_apply(v, v, net->drop[1].mask, (size_t)B * d[2]);
    relu_backward(v, v, net->h2, (size_t)B * d[2]);
    linear_backward(u, g + net->fw[1], g + net->fb[1], v, net->h1, theta + net->fw[1], B, d[1],
                    d[2]);
    if (dropout_on(&net->drop[0])) dropout_apply(u, u, net->drop[0].mask, (size_t)B * d[1]);
    relu_backward(u, u, net->h1, (size_t)B * d[1]);
    linear_backward(v, g + net->fw[0], g + net->fb[0], u, net->f, theta + net->fw[0], B, d[0],
                    d[1]);
    /* v = d f [B][flat] → d p2 [16][B][h·w] in u */
    nchw_to_cnhw(u, v, B, 16, net->ph2 * net->pw2);
    /* p2 is f in channel-major order; the ReLU mask needs it for max pooling */
    float *p2 = net->s2;
    if (net->maxpool) nchw_to_cnhw(p2, net->f, B, 16, net->ph2 * net->pw2);
    pool_block_backward(net, &net->c2, v, u, net->a2, p2, net->i2, B);
    conv2d_layer_backward(&net->c2, u, false, g + net->c2w, g + net->c2b, v, net->p1,
                          theta + net->c2w, B);
    pool_block_backward(net, &net->c1, v, u, net->a1, net->p1, net->i1, B);
    conv2d_layer_backward(&net->c1, NULL, false, g + net->c1w, g + net->c1b, v, net->x1,
                          theta + net->c1w, B);
}

void lenet_family_destroy(Model *m)
{
    Lenet *net = m->impl;
    if (net) {
        conv_ws_free(&net->ws);
        float *bufs[] = {net->xin, net->a1, net->p1, net->a2, net->f, net->h1,
                         net->h2, net->logits, net->probs, net->s0, net->s1, net->s2,
                         net->plogits};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) lqa_free(bufs[i]);
        lqa_free(net->i1);
        lqa_free(net->i2);
        for (int l = 0; l < 2; l++) dropout_free(&net->drop[l]);
        lqa_free(net);
    }
}

static int lenet5_create(Model *m, char *err) { return lenet_family_create(m, true, err); }

static const ModelOption *const LENET5_OPTIONS[] = {&MODEL_OPT_DROPOUT, NULL};

const ModelOps model_lenet5 = {"lenet5", lenet5_create, lenet_family_forward,
                               lenet_family_backward, lenet_family_destroy, .options = LENET5_OPTIONS};
