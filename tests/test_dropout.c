/* test_dropout.c — the dropout layer (src/nn/dropout.h) and the models'
 * dropout option (lenet5: after fc1 and fc2; resnet18: before fc):
 *   mask_rate        the fraction dropped ≈ p (a 5σ band over 10⁵ units),
 *                    kept units scaled by exactly 1/(1 − p);
 *   mask_stream      masks are a function of (seed, step, layer) alone: not
 *                    of the batch capacity, not of the order rows are asked
 *                    for; another step, layer or seed gives another mask;
 *   eval_identity    EVAL with dropout = EVAL of the same θ without dropout,
 *                    bit for bit; p = 0 is the model without dropout (TRAIN,
 *                    backward, PROBE bit for bit);
 *   same_step_mask   every PROBE of a step sees the training forward's mask
 *                    (PROBE at θ = TRAIN loss exactly; a smaller probe batch
 *                    = the TRAIN loss of those samples); the next step has
 *                    another mask.
 * tests/torch_dropout_check.py compares the forward and backward with PyTorch
 * (the same masks injected).
 * The gradient with the step's mask is checked by finite differences in
 * test_conv.c (model_fd_dropout, on the frozen-gate network). */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dropout.h"
#include "model.h"
#include "rng.h"
#include "test.h"

static void fill(float *p, size_t n, float lo, float hi, Rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = rng_uniform(r, lo, hi);
}

static int make(Model *m, const char *name, int C, int H, int W, int B, int width, double p,
                uint64_t seed)
{
    ModelSpec s = {.in_c = C, .in_h = H, .in_w = W, .n_classes = 10, .max_batch = B,
                   .width = width, .dropout = p};
    char err[LQA_ERR_LEN];
    int rc = model_create(m, name, &s, err);
    T_CHECK(rc == 0, "model_create %s (dropout %g): %s", name, p, err);
    if (rc == 0) model_init(m, INIT_DEFAULT, seed);
    return rc;
}

static void test_mask_rate(void)
{
    const double ps[] = {0.1, 0.5, 0.8};
    for (int k = 0; k < 3; k++) {
        Dropout d;
        char err[LQA_ERR_LEN];
        enum { U = 500, NB = 200 };
        T_CHECK(dropout_init(&d, ps[k], 1, U, NB, err) == 0, "init: %s", err);
        const float *mk = dropout_mask(&d, 42, 7, NB);
        long dropped = 0, bad = 0;
        const float keep = (float)(1.0 / (1.0 - ps[k]));
        for (long i = 0; i < (long)U * NB; i++) {
            if (mk[i] == 0.0f) dropped++;
            else if (mk[i] != keep) bad++;
        }
        double n = (double)U * NB, rate = dropped / n, sd = sqrt(ps[k] * (1 - ps[k]) / n);
        T_CHECK(fabs(rate - ps[k]) < 5 * sd, "p %g: dropped fraction %.5f (sd %.5f)", ps[k], rate, sd);
        T_CHECK(bad == 0, "p %g: %ld kept units not scaled by 1/(1-p) = %.9g", ps[k], bad, keep);
        /* per unit column too: no unit is (nearly) always kept or dropped */
        int extreme = 0;
        for (int j = 0; j < U; j++) {
            int c = 0;
            for (int b = 0; b < NB; b++) c += mk[(size_t)b * U + j] == 0.0f;
            extreme += c == 0 || c == NB;
        }
        T_CHECK(extreme == 0, "p %g: %d units always kept or always dropped", ps[k], extreme);
        dropout_free(&d);
    }
    Dropout off;
    char err[LQA_ERR_LEN];
    T_CHECK(dropout_init(&off, 0, 0, 10, 4, err) == 0 && !dropout_on(&off) && !off.mask,
            "p = 0: off, nothing allocated");
}

static void test_mask_stream(void)
{
    enum { U = 84, NB = 32 };
    Dropout a, b;
    char err[LQA_ERR_LEN];
    dropout_init(&a, 0.5, 1, U, NB, err);
    dropout_init(&b, 0.5, 1, U, 8, err); /* another batch capacity */
    float *ref = malloc(sizeof(float) * U * NB);
    memcpy(ref, dropout_mask(&a, 3, 100, NB), sizeof(float) * U * NB);
    /* rows asked for in pieces (a small probe batch first) give the same rows */
    dropout_mask(&a, 3, 99, 4);
    dropout_mask(&a, 3, 100, 2);
    dropout_mask(&a, 3, 100, 5);
    const float *m2 = dropout_mask(&a, 3, 100, NB);
    T_CHECK(memcmp(ref, m2, sizeof(float) * U * NB) == 0, "mask rows grown in pieces = drawn at once");
    T_CHECK(memcmp(ref, dropout_mask(&b, 3, 100, 8), sizeof(float) * U * 8) == 0,
            "the first rows do not depend on the batch capacity");
    int differ_step = memcmp(ref, dropout_mask(&a, 3, 101, NB), sizeof(float) * U * NB) != 0;
    int differ_seed = memcmp(ref, dropout_mask(&a, 4, 100, NB), sizeof(float) * U * NB) != 0;
    Dropout c;
    dropout_init(&c, 0.5, 0, U, NB, err);
    int differ_layer = memcmp(ref, dropout_mask(&c, 3, 100, NB), sizeof(float) * U * NB) != 0;
    T_CHECK(differ_step && differ_seed && differ_layer, "another step %d, seed %d, layer %d",
            differ_step, differ_seed, differ_layer);
    /* back to (3, 100): drawn again, the same */
    T_CHECK(memcmp(ref, dropout_mask(&a, 3, 100, NB), sizeof(float) * U * NB) == 0,
            "(seed, step) drawn again gives the same mask");
    /* apply: y = x·mask (the backward is the same product) */
    float x[4] = {1, -2, 3, 4}, mk[4] = {0, 2, 2, 0}, y[4];
    dropout_apply(y, x, mk, 4);
    T_CHECK(y[0] == 0 && y[1] == -4 && y[2] == 6 && y[3] == 0, "apply");
    dropout_free(&a), dropout_free(&b), dropout_free(&c);
    free(ref);
}

static void eval_identity(Rng *r, const char *name, int C, int H, int W, int B, int width)
{
    Model a, b;
    if (make(&a, name, C, H, W, B, width, 0.5, 9) || make(&b, name, C, H, W, B, width, 0, 9)) return;
    size_t nx = (size_t)B * C * H * W, n = a.n_params;
    float *x = malloc(nx * sizeof(float));
    int y[16], ca, cb;
    fill(x, nx, -1, 1, r);
    for (int i = 0; i < B; i++) y[i] = (int)rng_below(r, 10);
    a.step = b.step = 3;
    double ea = model_forward(&a, a.params, x, y, B, FWD_EVAL, &ca);
    double eb = model_forward(&b, b.params, x, y, B, FWD_EVAL, &cb);
    T_CHECK(ea == eb && ca == cb, "%s: EVAL with dropout %.17g = without %.17g", name, ea, eb);
    double ta = model_forward(&a, a.params, x, y, B, FWD_TRAIN, NULL);
    T_CHECK(ta != ea, "%s: TRAIN with dropout differs from EVAL (%.9g vs %.9g)", name, ta, ea);
    /* p = 0 is exactly the model without the option: TRAIN, backward, PROBE */
    Model z;
    if (make(&z, name, C, H, W, B, width, 0, 9) == 0) {
        Model w;
        ModelSpec s = {.in_c = C, .in_h = H, .in_w = W, .n_classes = 10, .max_batch = B, .width = width};
        char err[LQA_ERR_LEN];
        if (model_create(&w, name, &s, err) == 0) { /* (a spec that never heard of dropout) */
            model_init(&w, INIT_DEFAULT, 9);
            z.step = 11, w.step = 4;
            double lz = model_forward(&z, z.params, x, y, B, FWD_TRAIN, NULL);
            double lw = model_forward(&w, w.params, x, y, B, FWD_TRAIN, NULL);
            model_backward(&z), model_backward(&w);
            T_CHECK(lz == lw && memcmp(z.grads, w.grads, n * sizeof(float)) == 0,
                    "%s: p = 0 is the model without dropout (whatever the step)", name);
            model_free(&w);
        }
        model_free(&z);
    }
    free(x);
    model_free(&a), model_free(&b);
}

static void same_step_mask(Rng *r, const char *name, int C, int H, int W, int B, int width)
{
    Model m;
    if (make(&m, name, C, H, W, B, width, 0.3, 21)) return;
    size_t nx = (size_t)B * C * H * W, n = m.n_params;
    float *x = malloc(nx * sizeof(float)), *other = malloc(n * sizeof(float));
    int y[16];
    fill(x, nx, -1, 1, r);
    for (int i = 0; i < B; i++) y[i] = (int)rng_below(r, 10);
    m.step = 8;
    double L = model_forward(&m, m.params, x, y, B, FWD_TRAIN, NULL);
    model_backward(&m);
    float *g0 = malloc(n * sizeof(float));
    memcpy(g0, m.grads, n * sizeof(float));
    /* probes at other points and on fewer samples between forward and backward */
    for (size_t i = 0; i < n; i++) other[i] = m.params[i] + rng_uniform(r, -0.05f, 0.05f);
    double q1 = model_forward(&m, other, x, y, B, FWD_PROBE, NULL);
    model_forward(&m, other, x, y, B - 1, FWD_PROBE, NULL);
    double q2 = model_forward(&m, other, x, y, B, FWD_PROBE, NULL);
    T_CHECK(q1 == q2, "%s: two probes at one point of a step agree (%.17g, %.17g)", name, q1, q2);
    double P = model_forward(&m, m.params, x, y, B, FWD_PROBE, NULL);
    T_CHECK(P == L, "%s: PROBE at θ %.17g = the TRAIN loss %.17g (the same mask)", name, P, L);
    memset(m.grads, 0, n * sizeof(float));
    model_backward(&m);
    T_CHECK(memcmp(g0, m.grads, n * sizeof(float)) == 0,
            "%s: backward after probes uses the TRAIN forward's mask", name);
    if (m.n_state == 0) { /* no batch norm: a smaller batch = the same samples' rows */
        double Ls = model_forward(&m, m.params, x, y, 2, FWD_PROBE, NULL);
        Model k;
        if (make(&k, name, C, H, W, B, width, 0.3, 21) == 0) {
            k.step = 8;
            double Lk = model_forward(&k, k.params, x, y, 2, FWD_TRAIN, NULL);
            T_CHECK(Ls == Lk, "%s: probe on 2 samples %.17g = TRAIN on them %.17g", name, Ls, Lk);
            model_free(&k);
        }
    }
    Model z; /* the mask matters: the gradient differs from the one without dropout */
    if (make(&z, name, C, H, W, B, width, 0, 21) == 0) {
        model_forward(&z, z.params, x, y, B, FWD_TRAIN, NULL);
        model_backward(&z);
        T_CHECK(memcmp(z.grads, g0, n * sizeof(float)) != 0, "%s: dropout changes the gradient", name);
        model_free(&z);
    }
    m.step = 9;
    double N = model_forward(&m, m.params, x, y, B, FWD_PROBE, NULL);
    T_CHECK(N != L, "%s: the next step has another mask (%.9g vs %.9g)", name, N, L);
    free(x), free(other), free(g0);
    model_free(&m);
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    Rng r;
    rng_seed(&r, 2024, 13);
    T_RUN(mask_rate, test_mask_rate());
    T_RUN(mask_stream, test_mask_stream());
    T_RUN(eval_identity, {
        eval_identity(&r, "lenet5", 3, 32, 32, 4, 0);
        eval_identity(&r, "resnet18", 3, 8, 8, 4, 4);
    });
    T_RUN(same_step_mask, {
        same_step_mask(&r, "lenet5", 3, 32, 32, 4, 0);
        same_step_mask(&r, "resnet18", 3, 8, 8, 4, 4);
    });
    return t_done("test_dropout");
}
