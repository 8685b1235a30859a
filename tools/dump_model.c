/* tools/dump_model.c — dump one training step of a model for the PyTorch
 * cross-check (tests/torch_models_check.py) and time training steps.
 *
 *   dump_model --model NAME --shape C,H,W --batch B --out DIR
 *              [--seed S] [--classes K] [--width W] [--sgd-steps N] [--lr LR]
 *              [--threads T] [--dropout P [--step S]]
 *   dump_model --bench --model NAME --shape C,H,W --batch B [--steps N]
 *              [--threads T] [--mode train|probe|eval]
 *
 * Dump mode: creates the model, default init from seed S, draws an input batch
 * x ~ N(0, 1) (float32, NCHW) and labels uniform in [0, K) from seed S+1, runs
 * a FWD_TRAIN forward and backward, and writes into DIR (raw little-endian):
 *   params.f32  initial parameters (flat, model.parameters() order)
 *   state0.f32  state before the step (BN running_mean/var per BN, in order)
 *   input.f32   x[B][C][H][W];  labels.i32  y[B]
 *   grads.f32   gradient of the mean cross-entropy at params
 *   state1.f32  state after the training forward
 *   meta.txt    n_params, n_state, loss (%.17g), and with --sgd-steps N the
 *               losses of N plain SGD steps θ ← θ − lr·g (lr 0.05 by default)
 *               on the same batch: sgd_loss k (k = 0..N, the TRAIN-forward loss
 *               at θ_k), and statefinal.f32 after the last forward.
 *   drop<l>.f32 with --dropout P: the mask [B][units] of the model's dropout
 *               layer l (0 or 1/(1 − P)) at training step S (default 0), the
 *               one every forward of the dump uses (lenet5: l = 0, 1 after
 *               fc1, fc2; resnet18: l = 0 before fc).
 * Bench mode: times `steps` iterations (after one warm-up) of forward+backward
 * (train), or forward only (probe/eval), and prints ms per step (mean, min),
 * CPU time per step (all threads) and peak RSS. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "blas.h"
#include "common.h"
#include "dropout.h"
#include "model.h"
#include "rng.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: dump_model --model NAME --shape C,H,W --batch B --out DIR [--seed S]\n"
            "                  [--classes K] [--width W] [--sgd-steps N] [--lr LR] [--threads T]\n"
            "                  [--conv-algo winograd2|winograd4] [--dropout P [--step S]]\n"
            "       dump_model --bench --model NAME --shape C,H,W --batch B [--steps N]\n"
            "                  [--threads T] [--mode train|probe|eval]\n");
    return 2;
}

static int write_raw(const char *dir, const char *name, const void *p, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "dump_model: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = bytes ? fwrite(p, 1, bytes, f) : 0;
    if (fclose(f) != 0 || n != bytes) {
        fprintf(stderr, "dump_model: short write to %s\n", path);
        return -1;
    }
    return 0;
}

static float gauss(Rng *r)
{
    /* Box–Muller in double; u1 in (0, 1] */
    double u1 = 1.0 - rng_float(r), u2 = rng_float(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

typedef struct Args {
    const char *name, *out, *mode_s;
    int C, H, W, B, classes, width, sgd_steps, threads, steps;
    bool bench;
    ConvAlgo conv_algo;
    unsigned long long seed;
    double lr, dropout;
    long step;
} Args;

/* Option a with its value v: 0, or -1 for an unknown option or a bad value. */
static int value_option(Args *o, const char *a, const char *v)
{
    if (!strcmp(a, "--model")) o->name = v;
    else if (!strcmp(a, "--out")) o->out = v;
    else if (!strcmp(a, "--shape")) {
        if (sscanf(v, "%d,%d,%d", &o->C, &o->H, &o->W) != 3) return -1;
    } else if (!strcmp(a, "--batch")) o->B = atoi(v);
    else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--classes")) o->classes = atoi(v);
    else if (!strcmp(a, "--width")) o->width = atoi(v);
    else if (!strcmp(a, "--sgd-steps")) o->sgd_steps = atoi(v);
    else if (!strcmp(a, "--lr")) o->lr = atof(v);
    else if (!strcmp(a, "--threads")) o->threads = atoi(v);
    else if (!strcmp(a, "--steps")) o->steps = atoi(v);
    else if (!strcmp(a, "--mode")) o->mode_s = v;
    else if (!strcmp(a, "--dropout")) o->dropout = atof(v);
    else if (!strcmp(a, "--step")) o->step = atol(v);
    else if (!strcmp(a, "--conv-algo")) {
        if (conv_algo_parse(v, &o->conv_algo)) return -1;
    } else return -1;
    return 0;
}

/* Parse argv into *o: 0, or -1 for a bad command line. */
static int parse_args(int argc, char **argv, Args *o)
{
    *o = (Args){.mode_s = "train", .classes = 10, .steps = 10, .conv_algo = CONV_WINOGRAD2,
                .seed = 1, .lr = 0.05};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--bench")) {
            o->bench = true;
            continue;
        }
        if (!v) return -1;
        i++;
        if (value_option(o, a, v)) return -1;
    }
    if (!o->name || o->C < 1 || o->H < 1 || o->W < 1 || o->B < 1 || o->classes < 2 ||
        (!o->bench && !o->out) || !(o->dropout >= 0 && o->dropout < 1) || o->step < 0)
        return -1;
    return 0;
}

/* Bench mode: ms per step of forward (+ backward in train mode). */
static void bench_mode(const Args *o, Model *m, const float *x, const int *y)
{
    const int B = o->B, steps = o->steps;
    FwdMode mode = !strcmp(o->mode_s, "probe") ? FWD_PROBE
                   : !strcmp(o->mode_s, "eval") ? FWD_EVAL
                                                : FWD_TRAIN;
    double loss = model_forward(m, m->params, x, y, B, mode, NULL);
    if (mode == FWD_TRAIN) model_backward(m);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = lqa_now(), tmin = 1e30;
    for (int s = 0; s < steps; s++) {
        double t1 = lqa_now();
        loss = model_forward(m, m->params, x, y, B, mode, NULL);
        if (mode == FWD_TRAIN) model_backward(m);
        double dt = lqa_now() - t1;
        if (dt < tmin) tmin = dt;
    }
    double per = (lqa_now() - t0) / steps;
    getrusage(RUSAGE_SELF, &r1);
    /* CPU time of all threads: with 1 thread, a load-independent measure */
    double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
                  r0.ru_stime.tv_sec) +
                 1e-6 * (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                         r0.ru_stime.tv_usec);
    printf("%s %dx%dx%d batch %d %s threads %d: %.3f ms/step (min %.3f, CPU %.3f), "
           "loss %.6f, peak RSS %.1f MB, params %zu\n",
           o->name, o->C, o->H, o->W, B, o->mode_s, blas_get_threads(), per * 1e3, tmin * 1e3,
           cpu / steps * 1e3, loss, r1.ru_maxrss / 1024.0, m->n_params);
}

/* drop<l>.f32: the masks, a function of (seed, step, layer), drawn as the model does. */
static int write_masks(const Args *o, char *err)
{
    int units[2] = {120, 84}, n_layers = 2, rc = 0;
    if (!strcmp(o->name, "resnet18")) units[0] = 8 * (o->width > 0 ? o->width : 64), n_layers = 1;
    else if (strcmp(o->name, "lenet5") != 0) n_layers = 0;
    for (int l = 0; l < n_layers && rc == 0; l++) {
        Dropout d;
        char fn[32];
        snprintf(fn, sizeof fn, "drop%d.f32", l);
        if (dropout_init(&d, o->dropout, l, units[l], o->B, err) ||
            write_raw(o->out, fn, dropout_mask(&d, o->seed, o->step, o->B),
                      (size_t)o->B * units[l] * sizeof(float)))
            rc = 1;
        dropout_free(&d);
    }
    return rc;
}

/* meta.txt, and with --sgd-steps the SGD losses and statefinal.f32. */
static int write_meta(const Args *o, Model *m, const float *x, const int *y, double loss)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.txt", o->out);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "dump_model: cannot write %s\n", path);
        return 1;
    }
    int rc = 0;
    fprintf(f, "model %s\nn_params %zu\nn_state %zu\nloss %.17g\n", o->name, m->n_params,
            m->n_state, loss);
    if (o->sgd_steps > 0) {
        /* step 0 reuses the caller's forward/backward */
        fprintf(f, "sgd_loss 0 %.17g\n", loss);
        for (int k = 1; k <= o->sgd_steps; k++) {
            for (size_t i = 0; i < m->n_params; i++) m->params[i] -= (float)o->lr * m->grads[i];
            double l = model_forward(m, m->params, x, y, o->B, FWD_TRAIN, NULL);
            fprintf(f, "sgd_loss %d %.17g\n", k, l);
            if (k < o->sgd_steps) model_backward(m);
        }
        if (write_raw(o->out, "statefinal.f32", m->state, m->n_state * sizeof(float))) rc = 1;
    }
    if (fclose(f) != 0) rc = 1;
    return rc;
}

/* Dump mode: the files of the header into o->out. Returns the exit status. */
static int dump_mode(const Args *o, Model *m, const float *x, const int *y, size_t nx)
{
    const char *out = o->out;
    char err[LQA_ERR_LEN];
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "dump_model: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    if (write_raw(out, "params.f32", m->params, m->n_params * sizeof(float)) ||
        write_raw(out, "state0.f32", m->state, m->n_state * sizeof(float)) ||
        write_raw(out, "input.f32", x, nx * sizeof(float)) ||
        write_raw(out, "labels.i32", y, (size_t)o->B * sizeof(int)))
        return 1;
    if (o->dropout > 0 && write_masks(o, err)) return 1;
    double loss = model_forward(m, m->params, x, y, o->B, FWD_TRAIN, NULL);
    model_backward(m);
    if (write_raw(out, "grads.f32", m->grads, m->n_params * sizeof(float)) ||
        write_raw(out, "state1.f32", m->state, m->n_state * sizeof(float)))
        return 1;
    return write_meta(o, m, x, y, loss);
}

int main(int argc, char **argv)
{
    Args o;
    if (parse_args(argc, argv, &o)) return usage();
    if (o.threads > 0) blas_set_threads(o.threads);

    char err[LQA_ERR_LEN];
    const int B = o.B;
    ModelSpec spec = {.in_c = o.C, .in_h = o.H, .in_w = o.W, .n_classes = o.classes, .max_batch = B,
                      .width = o.width, .probe_bn = PROBE_BN_BATCH, .conv_algo = o.conv_algo,
                      .dropout = o.dropout};
    Model m;
    if (model_create(&m, o.name, &spec, err) != 0) {
        fprintf(stderr, "dump_model: %s\n", err);
        return 1;
    }
    model_init(&m, INIT_DEFAULT, o.seed);
    m.step = o.step;
    size_t nx = (size_t)B * o.C * o.H * o.W;
    float *x = malloc(nx * sizeof(float));
    int *y = malloc((size_t)B * sizeof(int));
    if (!x || !y) {
        fprintf(stderr, "dump_model: out of memory\n");
        return 1;
    }
    Rng rng;
    rng_seed(&rng, o.seed + 1, 7);
    for (size_t i = 0; i < nx; i++) x[i] = gauss(&rng);
    for (int i = 0; i < B; i++) y[i] = (int)rng_below(&rng, (uint64_t)o.classes);

    int rc = 0;
    if (o.bench) bench_mode(&o, &m, x, y);
    else rc = dump_mode(&o, &m, x, y, nx);
    free(x);
    free(y);
    model_free(&m);
    return rc;
}
