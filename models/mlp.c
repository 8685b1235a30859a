/* models/mlp.c — fully connected networks: `logreg` (784 → 10 affine) and
 * `mlp` (784 → 1000 → ReLU → 1000 → ReLU → 10), softmax cross-entropy.
 *
 * Parameter tensors (PyTorch nn.Linear order): for each layer l = 1, 2, ...,
 * fc<l>.weight [out][in] then fc<l>.bias [out]. spec.width (when > 0)
 * replaces the hidden width (toy tests). */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "layers.h"
#include "model.h"

#define MLP_MAX_LAYERS 4

typedef struct Mlp {
    int n_layers;                  /* affine layers */
    int dim[MLP_MAX_LAYERS + 1];   /* dim[0] = input, dim[n_layers] = classes */
    size_t w_off[MLP_MAX_LAYERS], b_off[MLP_MAX_LAYERS];
    int max_dim;
    /* training caches: act[l] = input of layer l (act[0] points at x) */
    const float *act[MLP_MAX_LAYERS];
    float *hidden[MLP_MAX_LAYERS]; /* post-ReLU outputs, B × dim[l+1] */
    float *logits, *probs;
    float *d0, *d1;                /* backward scratch, B × max_dim */
    /* probe/eval scratch: two ping-pong buffers and logits */
    float *p0, *p1, *plogits;
    const float *theta_train;      /* theta of the last FWD_TRAIN */
    const int *y_train;
    int b_train;
} Mlp;

static int mlp_build(Model *m, const int *hidden, int n_hidden, char *err)
{
    Mlp *net = lqa_alloc(sizeof *net, err);
    if (!net) return -1;
    m->impl = net;
    const ModelSpec *s = &m->spec;
    int B = s->max_batch;
    net->n_layers = n_hidden + 1;
    LQA_CHECK(net->n_layers <= MLP_MAX_LAYERS);
    net->dim[0] = s->in_c * s->in_h * s->in_w;
    for (int l = 0; l < n_hidden; l++) net->dim[l + 1] = s->width > 0 ? s->width : hidden[l];
    net->dim[net->n_layers] = s->n_classes;
    net->max_dim = 0;
    for (int l = 0; l < net->n_layers; l++) {
        char name[TENSOR_NAME_LEN];
        int in = net->dim[l], out = net->dim[l + 1];
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        net->w_off[l] = model_param(m, name, TENSOR_UNIFORM, in, 2, out, in);
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        net->b_off[l] = model_param(m, name, TENSOR_UNIFORM, in, 1, out);
        net->max_dim = LQA_MAX(net->max_dim, net->dim[l + 1]);
    }
    net->max_dim = LQA_MAX(net->max_dim, net->dim[0]);
    size_t wide = (size_t)B * net->max_dim, cls = (size_t)B * s->n_classes;
    for (int l = 0; l + 1 < net->n_layers; l++)
        if (!(net->hidden[l] = lqa_alloc((size_t)B * net->dim[l + 1] * sizeof(float), err)))
            return -1;
    if (!(net->logits = lqa_alloc(cls * sizeof(float), err))) return -1;
    if (!(net->probs = lqa_alloc(cls * sizeof(float), err))) return -1;
    if (!(net->plogits = lqa_alloc(cls * sizeof(float), err))) return -1;
    if (!(net->d0 = lqa_alloc(wide * sizeof(float), err))) return -1;
    if (!(net->d1 = lqa_alloc(wide * sizeof(float), err))) return -1;
    if (!(net->p0 = lqa_alloc(wide * sizeof(float), err))) return -1;
    if (!(net->p1 = lqa_alloc(wide * sizeof(float), err))) return -1;
    return 0;
}

static int logreg_create(Model *m, char *err) { return mlp_build(m, NULL, 0, err); }

static int mlp_create(Model *m, char *err)
{
    static const int hidden[2] = {1000, 1000};
    return mlp_build(m, hidden, 2, err);
}

static double mlp_forward(Model *m, const float *theta, const float *x, const int *y, int B,
                          FwdMode mode, int *n_correct)
{
    Mlp *net = m->impl;
    LQA_CHECK(B > 0 && B <= m->spec.max_batch);
    const float *in = x;
    bool train = mode == FWD_TRAIN;
    for (int l = 0; l < net->n_layers; l++) {
        bool last = l + 1 == net->n_layers;
        float *out = last ? (train ? net->logits : net->plogits)
                          : (train ? net->hidden[l] : (l % 2 ? net->p1 : net->p0));
        if (train) net->act[l] = in;
        linear_forward(out, in, theta + net->w_off[l], theta + net->b_off[l], B, net->dim[l],
                       net->dim[l + 1]);
        if (!last) relu_forward(out, out, (size_t)B * net->dim[l + 1]);
        in = out;
    }
    int C = m->spec.n_classes;
    if (!train) return softmax_xent_forward(NULL, in, y, B, C, n_correct);
    net->theta_train = theta;
    net->y_train = y;
    net->b_train = B;
    return softmax_xent_forward(net->probs, in, y, B, C, n_correct);
}

static void mlp_backward(Model *m)
{
    Mlp *net = m->impl;
    LQA_CHECK(net->theta_train != NULL);
    int B = net->b_train, C = m->spec.n_classes;
    const float *theta = net->theta_train;
    float *dy = net->d0, *dx = net->d1;
    softmax_xent_backward(dy, net->probs, net->y_train, B, C);
    for (int l = net->n_layers - 1; l >= 0; l--) {
        linear_backward(l > 0 ? dx : NULL, m->grads + net->w_off[l], m->grads + net->b_off[l],
                        dy, net->act[l], theta + net->w_off[l], B, net->dim[l], net->dim[l + 1]);
        if (l > 0) {
            relu_backward(dx, dx, net->hidden[l - 1], (size_t)B * net->dim[l]);
            float *t = dy;
            dy = dx;
            dx = t;
        }
    }
}

static void mlp_destroy(Model *m)
{
    Mlp *net = m->impl;
    if (net) {
        for (int l = 0; l < MLP_MAX_LAYERS; l++) lqa_free(net->hidden[l]);
        lqa_free(net->logits);
        lqa_free(net->probs);
        lqa_free(net->plogits);
        lqa_free(net->d0);
        lqa_free(net->d1);
        lqa_free(net->p0);
        lqa_free(net->p1);
        lqa_free(net);
    }
}

const ModelOps model_logreg = {"logreg", logreg_create, mlp_forward, mlp_backward, mlp_destroy,
                               NULL, 0};
static const ModelOption *const MLP_OPTIONS[] = {&MODEL_OPT_WIDTH, NULL};
const ModelOps model_mlp = {"mlp", mlp_create, mlp_forward, mlp_backward, mlp_destroy,
                            MLP_OPTIONS, 0};
