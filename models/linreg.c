/* models/linreg.c — `linreg`: linear regression y = w·x + b with the squared
 * loss L = mean_i (y_i − t_i)² (the mean squared error; the Newton learning-rate
 * paper's Boston Housing experiment, Figs. 1–2).
 *
 * For the regression data sets (DatasetDef.n_classes 0): a sample is its d
 * features followed by its target t, so the model has d = in_c·in_h·in_w − 1
 * inputs. Parameter tensors (PyTorch nn.Linear(d, 1) order): fc1.weight [1][d],
 * fc1.bias [1]. Sums run in double; the gradient is the exact derivative,
 * dL/dw = (2/B) Σ_i r_i x_i, dL/db = (2/B) Σ_i r_i with r_i = y_i − t_i (tested
 * against finite differences in tests/test_linreg.c). There is no accuracy:
 * n_correct is set to −1. */
#include <string.h>

#include "common.h"
#include "model.h"

typedef struct Linreg {
    int d;                  /* features */
    size_t w_off, b_off;
    double *resid;          /* max_batch residuals of the last FWD_TRAIN */
    const float *x_train;   /* its batch */
    int b_train;
} Linreg;

static int linreg_create(Model *m, char *err)
{
    const ModelSpec *s = &m->spec;
    int d = s->in_c * s->in_h * s->in_w - 1;
    if (d < 1) return lqa_errf(err, "linreg: samples of %d values: need features and a target", d + 1);
    Linreg *net = lqa_alloc(sizeof *net, err);
    if (!net) return -1;
    memset(net, 0, sizeof *net);
    m->impl = net;
    net->d = d;
    net->w_off = model_param(m, "fc1.weight", TENSOR_UNIFORM, d, 2, 1, d);
    net->b_off = model_param(m, "fc1.bias", TENSOR_UNIFORM, d, 1, 1);
    if (!(net->resid = lqa_alloc((size_t)s->max_batch * sizeof(double), err))) return -1;
    return 0;
}

static double linreg_forward(Model *m, const float *theta, const float *x, const int *y, int B,
                             FwdMode mode, int *n_correct)
{
    (void)y;
    Linreg *net = m->impl;
    LQA_CHECK(B > 0 && B <= m->spec.max_batch);
    int d = net->d;
    const float *w = theta + net->w_off;
    double b = theta[net->b_off], sum = 0;
    for (int i = 0; i < B; i++) {
        const float *xi = x + (size_t)i * (d + 1);
        double p = b;
        for (int j = 0; j < d; j++) p += (double)w[j] * xi[j];
        double r = p - xi[d];
        if (mode == FWD_TRAIN) net->resid[i] = r;
        sum += r * r;
    }
    if (mode == FWD_TRAIN) {
        net->x_train = x;
        net->b_train = B;
    }
    if (n_correct) *n_correct = -1;
    return sum / B;
}

static void linreg_backward(Model *m)
{
    Linreg *net = m->impl;
    LQA_CHECK(net->x_train != NULL);
    int d = net->d, B = net->b_train;
    float *gw = m->grads + net->w_off;
    for (int j = 0; j < d; j++) {
        double g = 0;
        for (int i = 0; i < B; i++) g += net->resid[i] * net->x_train[(size_t)i * (d + 1) + j];
        gw[j] = (float)(2 * g / B);
    }
    double gb = 0;
    for (int i = 0; i < B; i++) gb += net->resid[i];
    m->grads[net->b_off] = (float)(2 * gb / B);
}

static void linreg_destroy(Model *m)
{
    Linreg *net = m->impl;
    if (net) {
        lqa_free(net->resid);
        lqa_free(net);
    }
}

const ModelOps model_linreg = {"linreg", linreg_create, linreg_forward, linreg_backward,
                               linreg_destroy, NULL, .regression = true};
