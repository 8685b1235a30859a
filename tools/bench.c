/* tools/bench.c — time training steps and OpenBLAS sgemm (used by `make bench`).
 *
 * Step mode:
 *   bench --model M --batch B --input CxHxW --optimizer O[,O2,...] [--lr x]
 *         [--steps N] [--warmup K] [--rounds R] [--threads T] [--fwd-reps R]
 *         [--classes C] [--batches NB] [--steps-per-epoch S] [--seed S]
 *         [--schedule JSON] [[OPT.]key=value ...]
 *
 *   Times N training steps per optimizer on random data (no file I/O), each step
 *   the training step the sweep runs (train_step, src/train.c): forward
 *   FWD_TRAIN, backward, and the optimizer's step with the probe closure
 *   (probes included), the classic methods' rate from --schedule (a config's
 *   "schedule" object, e.g. '{"type":"step","every":100}'; default none). K warm-up
 *   steps come first and are not timed (the first one is reported on its own:
 *   it holds epoch-start work such as QLABGrad's FindPLR). With several
 *   optimizers, each keeps its own parameter vector and state, and the N timed
 *   steps are split into R rounds interleaved across the optimizers, so that
 *   slow drifts of the machine's speed fall on all of them alike. Afterwards it
 *   times forward passes FWD_EVAL and FWD_PROBE at the trained parameters.
 *   key=value sets an optimizer hyperparameter (for every listed optimizer that
 *   has it, or only for OPT with OPT.key=value); enum values by name.
 *
 * Sgemm mode:
 *   bench --sgemm [--threads T] [--reps N] [--batch B] [SHAPE ...]
 *
 *   GFLOP/s of blas_sgemm per shape. SHAPE is MxNxK[:ab] with a, b ∈ {n, t}
 *   (op(A), op(B); default nn), row-major as in src/blas.h. Without shapes: the
 *   MLP's (784-1000-1000-10) GEMMs at batch B (default 64): forward y = x·Wᵀ
 *   (nt), weight gradient dW = dyᵀ·x (tn) and input gradient dx = dy·W (nn) of
 *   each layer (the first layer's dx, which the library skips, included, so the
 *   set is exactly 3× the forward FLOPs), plus a 1024³ reference.
 *
 * bench --passes [--n N] [--threads T] [--reps R]
 *   median ms of the vector passes optimizers are made of (blas.c: ‖g‖², a·b,
 *   the in-place update, a trial point written to scratch, HGD's update+copy)
 *   on N floats (default: the MLP's 1,796,010 parameters).
 *
 * bench --blas-info prints OpenBLAS's configuration string (it names the
 * kernel set that DYNAMIC_ARCH picked, e.g. "... SkylakeX MAX_THREADS=64") and,
 * on a second line, the OPENBLAS_THREAD_TIMEOUT in force. Like lqabench, bench
 * first sets up OpenBLAS's environment (blas_fix_env); LQA_KEEP_CORETYPE=1
 * keeps OpenBLAS's own kernel choice.
 *
 * Output: one JSON object per line on stdout (per optimizer; per shape plus an
 * aggregate), a readable summary on stderr. Times in ms (medians unless named
 * otherwise), memory in MiB. peak_rss_mib is the process's ru_maxrss (the whole
 * process: binary, OpenBLAS buffers, model, optimizer state, data);
 * base_rss_mib is the resident size before the model was created.
 * Exit status: 0 ok, 1 error, 2 usage, 3 unknown model. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cJSON.h>

#include "blas.h"
#include "common.h"
#include "model.h"
#include "optim.h"
#include "parallel.h"
#include "rng.h"
#include "schedule.h"
#include "train.h"

#define MAX_OPTS 16
#define MAX_SETS 32
#define MAX_SHAPES 32

static int usage(void)
{
    fprintf(stderr,
            "usage: bench --model M --batch B --input CxHxW --optimizer O[,O2,...] [--lr x]\n"
            "             [--steps N] [--warmup K] [--rounds R] [--threads T] [--fwd-reps R]\n"
            "             [--classes C] [--batches NB] [--steps-per-epoch S] [--seed S]\n"
            "             [--conv-algo winograd2|winograd4] [--schedule JSON] [[OPT.]key=value ...]\n"
            "       bench --sgemm [--threads T] [--reps N] [--batch B] [MxNxK[:ab] ...]\n"
            "       bench --passes [--n N] [--threads T] [--reps R]\n"
            "       bench --blas-info\n"
            "models: %s\noptimizers: %s\n",
            model_names(), optim_names());
    return 2;
}

static int die(const char *fmt, const char *a)
{
    fprintf(stderr, "bench: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    return 1;
}

/* ---- small helpers ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, long n)
{
    if (n <= 0) return NAN;
    double *t = malloc(sizeof(double) * (size_t)n);
    if (!t) return NAN;
    memcpy(t, v, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    double m = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    free(t);
    return m;
}

static double vmin(const double *v, long n)
{
    double m = INFINITY;
    for (long i = 0; i < n; i++) m = v[i] < m ? v[i] : m;
    return n > 0 ? m : NAN;
}

static double vmean(const double *v, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++) s += v[i];
    return n > 0 ? s / n : NAN;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return NAN;
    return ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static double cur_rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return NAN;
    char line[256];
    double v = NAN;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            v = strtod(line + 6, NULL) / 1024.0;
            break;
        }
    fclose(f);
    return v;
}

static int parse_int(const char *s, long lo, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo) return -1;
    *out = v;
    return 0;
}

static void json_num(const char *key, double v, int comma)
{
    if (isfinite(v)) printf("\"%s\":%.6g", key, v);
    else printf("\"%s\":null", key);
    if (comma) putchar(',');
}

/* ---- sgemm mode ------------------------------------------------------------- */

typedef struct Shape {
    int M, N, K;
    bool ta, tb;
    char label[48];
    bool agg; /* part of the aggregate */
} Shape;

static int parse_shape(const char *s, Shape *sh)
{
    char a = 'n', b = 'n';
    int used = 0;
    memset(sh, 0, sizeof *sh);
    if (sscanf(s, "%dx%dx%d%n", &sh->M, &sh->N, &sh->K, &used) != 3) return -1;
    if (s[used] == ':') {
        if (strlen(s + used) != 3) return -1;
        a = s[used + 1];
        b = s[used + 2];
    } else if (s[used]) {
        return -1;
    }
    if ((a != 'n' && a != 't') || (b != 'n' && b != 't') || sh->M < 1 || sh->N < 1 || sh->K < 1)
        return -1;
    sh->ta = a == 't';
    sh->tb = b == 't';
    snprintf(sh->label, sizeof sh->label, "%s", s);
    sh->agg = true;
    return 0;
}

static void add_shape(Shape *v, int *n, int M, int N, int K, bool ta, bool tb, const char *what,
                      bool agg)
{
    Shape *s = &v[(*n)++];
    s->M = M, s->N = N, s->K = K, s->ta = ta, s->tb = tb, s->agg = agg;
    snprintf(s->label, sizeof s->label, "%s", what);
}

/* Median seconds per call of one shape. */
static double time_sgemm(const Shape *s, long reps, float *A, float *B, float *C)
{
    int lda = s->ta ? s->M : s->K; /* row-major: op(A) is M×K */
    int ldb = s->tb ? s->K : s->N;
    double *t = malloc(sizeof(double) * (size_t)reps);
    if (!t) return NAN;
    /* Calls are batched so one timed unit lasts >= ~2 ms (small shapes). */
    double flops = 2.0 * s->M * s->N * s->K;
    int inner = (int)LQA_MAX(1.0, LQA_MIN(1000.0, 2e-3 * 5e10 / flops));
    for (int w = 0; w < 3; w++)
        blas_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
    for (long r = 0; r < reps; r++) {
        double t0 = lqa_now();
        for (int i = 0; i < inner; i++)
            blas_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
        t[r] = (lqa_now() - t0) / inner;
    }
    double m = median(t, reps);
    free(t);
    return m;
}

static int sgemm_mode(int argc, char **argv, int first, long threads, long reps, long batch)
{
    Shape shapes[MAX_SHAPES];
    int n = 0;
    for (int a = first; a < argc; a++) {
        if (n == MAX_SHAPES) return die("at most %s shapes", "32");
        if (parse_shape(argv[a], &shapes[n])) return die("bad shape \"%s\" (expected MxNxK[:ab], a,b in n,t)", argv[a]);
        n++;
    }
    bool mlp = n == 0;
    if (mlp) {
        static const int dim[4] = {784, 1000, 1000, 10};
        int B = (int)batch;
        char w[48];
        for (int l = 0; l < 3; l++) {
            snprintf(w, sizeof w, "fwd L%d %dx%dx%d:nt", l + 1, B, dim[l + 1], dim[l]);
            add_shape(shapes, &n, B, dim[l + 1], dim[l], false, true, w, true);
        }
        for (int l = 2; l >= 0; l--) {
            snprintf(w, sizeof w, "dW L%d %dx%dx%d:tn", l + 1, dim[l + 1], dim[l], B);
            add_shape(shapes, &n, dim[l + 1], dim[l], B, true, false, w, true);
            snprintf(w, sizeof w, "dx L%d %dx%dx%d:nn%s", l + 1, B, dim[l], dim[l + 1],
                     l == 0 ? " (unused)" : "");
            add_shape(shapes, &n, B, dim[l], dim[l + 1], false, false, w, true);
        }
        add_shape(shapes, &n, 1024, 1024, 1024, false, false, "ref 1024x1024x1024:nn", false);
    }
    size_t maxa = 0, maxb = 0, maxc = 0;
    for (int i = 0; i < n; i++) {
        maxa = LQA_MAX(maxa, (size_t)shapes[i].M * shapes[i].K);
        maxb = LQA_MAX(maxb, (size_t)shapes[i].K * shapes[i].N);
        maxc = LQA_MAX(maxc, (size_t)shapes[i].M * shapes[i].N);
    }
    char err[LQA_ERR_LEN];
    float *A = lqa_alloc(maxa * sizeof(float), err), *B = lqa_alloc(maxb * sizeof(float), err);
    float *C = lqa_alloc(maxc * sizeof(float), err);
    if (!A || !B || !C) return die("%s", err);
    Rng rng;
    rng_seed(&rng, 1, 7);
    for (size_t i = 0; i < maxa; i++) A[i] = rng_uniform(&rng, -1, 1);
    for (size_t i = 0; i < maxb; i++) B[i] = rng_uniform(&rng, -1, 1);

    double agg_flops = 0, agg_s = 0;
    for (int i = 0; i < n; i++) {
        const Shape *s = &shapes[i];
        double sec = time_sgemm(s, reps, A, B, C);
        double flops = 2.0 * s->M * s->N * s->K;
        if (s->agg) agg_flops += flops, agg_s += sec;
        printf("{\"kind\":\"sgemm\",\"shape\":\"%s\",\"M\":%d,\"N\":%d,\"K\":%d,\"op\":\"%c%c\","
               "\"threads\":%ld,",
               s->label, s->M, s->N, s->K, s->ta ? 't' : 'n', s->tb ? 't' : 'n', threads);
        json_num("ms", sec * 1e3, 1);
        json_num("gflops", flops / sec * 1e-9, 0);
        printf("}\n");
        fprintf(stderr, "%-36s %9.4f ms  %7.1f GFLOP/s\n", s->label, sec * 1e3, flops / sec * 1e-9);
    }
    printf("{\"kind\":\"sgemm_total\",\"set\":\"%s\",\"threads\":%ld,\"batch\":%ld,"
           "\"openblas\":\"%s\",",
           mlp ? "mlp" : "custom", threads, batch, blas_config());
    json_num("gflop", agg_flops * 1e-9, 1);
    json_num("ms", agg_s * 1e3, 1);
    json_num("gflops", agg_flops / agg_s * 1e-9, 0);
    printf("}\n");
    fprintf(stderr, "%-36s %9.4f ms  %7.1f GFLOP/s  (%.4g GFLOP)\n", "aggregate", agg_s * 1e3,
            agg_flops / agg_s * 1e-9, agg_flops * 1e-9);
    lqa_free(A);
    lqa_free(B);
    lqa_free(C);
    return 0;
}

/* ---- passes mode -------------------------------------------------------------- */

/* Median ms of the parameter-sized vector passes the optimizers are built from
 * (blas.c, on the worker pool), on n floats: what an extra pass costs next to
 * a training step, i.e. the floor of a method's overhead over sgd. */
static int passes_mode(long n, long reps)
{
    char err[LQA_ERR_LEN];
    size_t N = (size_t)n;
    float *a = lqa_alloc(N * sizeof(float), err), *b = lqa_alloc(N * sizeof(float), err);
    float *s = lqa_alloc(N * sizeof(float), err);
    double *t = malloc(sizeof(double) * (size_t)reps);
    if (!a || !b || !s || !t) return die("%s", "out of memory");
    Rng rng;
    rng_seed(&rng, 1, 9);
    for (size_t i = 0; i < N; i++) a[i] = rng_uniform(&rng, -1, 1), b[i] = rng_uniform(&rng, -1, 1);
    static const char *const names[] = {"sqnorm", "dot", "axpy_inplace", "axpy_to_scratch",
                                        "axpy_copy"};
    static const char *const what[] = {
        "read 1 (L4GD: ‖g‖²)", "read 2 (HGD: g·d_prev)", "read 2, write 1 in place (the sgd update)",
        "read 2, write 1 other (a trial point θ + c·v)", "read 2, write 2 (HGD: update + keep g)"};
    volatile double sink = 0;
    for (int k = 0; k < 5; k++) {
        for (long r = -3; r < reps; r++) {
            float c = (r & 1) ? 1e-3f : -1e-3f; /* alternating: θ comes back, values stay finite */
            double t0 = lqa_now();
            switch (k) {
            case 0: sink += vec_sqnorm(b, N); break;
            case 1: sink += vec_dot(a, b, N); break;
            case 2: vec_axpy_to(a, a, c, b, N); break;
            case 3: vec_axpy_to(s, a, c, b, N); break;
            default: vec_axpy_copy(a, c, b, s, N); break;
            }
            if (r >= 0) t[r] = lqa_now() - t0;
        }
        double ms = median(t, reps) * 1e3;
        printf("{\"kind\":\"pass\",\"name\":\"%s\",\"n\":%ld,\"threads\":%d,", names[k], n, par_threads());
        json_num("ms", ms, 0);
        printf("}\n");
        fprintf(stderr, "pass %-16s n=%ld T=%d: %.4f ms  %s\n", names[k], n, par_threads(), ms, what[k]);
    }
    (void)sink;
    lqa_free(a);
    lqa_free(b);
    lqa_free(s);
    free(t);
    return 0;
}

/* ---- step mode -------------------------------------------------------------- */

typedef struct Bench {
    const OptimizerDef *def;
    double hp[OPT_MAX_HP];
    TrainState ts; /* optimizer, step counter (warm-up included), forward counts */
    float *theta;  /* this optimizer's own parameter vector */
    long n_timed;
    double *step_ms, *fwd_ms, *bwd_ms, *opt_ms;
    long fwd_timed; /* forwards in timed steps (training forward + probes) */
    double first_ms;
    long first_fwd;
    double last_loss;
    long nonfinite;
} Bench;

static int set_hparam(Bench *benches, int n_opts, const char *arg)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    char *eq = strchr(buf, '=');
    *eq = 0;
    const char *val = eq + 1, *key = buf, *only = NULL;
    char *dot = strchr(buf, '.');
    if (dot) {
        *dot = 0;
        only = buf;
        key = dot + 1;
    }
    int hits = 0;
    for (int i = 0; i < n_opts; i++) {
        Bench *b = &benches[i];
        if (only && strcmp(only, b->def->name) != 0) continue;
        int k = optim_hparam_index(b->def, key);
        if (k < 0) continue;
        const HParamSpec *s = &b->def->hparams[k];
        double v;
        char *end;
        if (s->type == HP_ENUM) {
            char ch[256];
            const char *names[OPT_MAX_CHOICES];
            int found = lqa_find_name(names, optim_choices(s, ch, sizeof ch, names, OPT_MAX_CHOICES), val);
            if (found < 0) {
                fprintf(stderr, "bench: %s.%s: \"%s\" is not one of %s\n", b->def->name, key, val,
                        s->choices);
                return -1;
            }
            v = found;
        } else if (s->type == HP_BOOL && (strcmp(val, "true") == 0 || strcmp(val, "false") == 0)) {
            v = strcmp(val, "true") == 0;
        } else {
            char err[LQA_ERR_LEN];
            v = strtod(val, &end);
            if (*end || end == val || optim_hparam_check(s, v, err)) {
                fprintf(stderr, "bench: %s.%s: %s\n", b->def->name, key,
                        *end || end == val ? "not a number" : err);
                return -1;
            }
        }
        b->hp[k] = v;
        hits++;
    }
    if (!hits) {
        fprintf(stderr, "bench: no listed optimizer has a hyperparameter \"%s\"\n", arg);
        return -1;
    }
    return 0;
}

/* One training step of optimizer b: train_step, timed. */
static void one_step(Bench *b, const float *x, const int *y, int B, bool timed)
{
    TrainState *ts = &b->ts;
    long fwd0 = ts->pc.fwd;
    ts->epoch = (int)(ts->step / ts->steps_per_epoch);
    StepRow row;
    train_step(ts, x, y, B, &row);
    if (!isfinite(row.loss)) b->nonfinite++;
    if (!isfinite(row.info.lr)) b->nonfinite++;
    b->last_loss = row.loss;
    double step_ms = (row.fwd_s + row.bwd_s + row.opt_s) * 1e3;
    if (row.step == 1) {
        b->first_ms = step_ms;
        b->first_fwd = ts->pc.fwd - fwd0;
    }
    if (!timed) return;
    long k = b->n_timed++;
    b->step_ms[k] = step_ms;
    b->fwd_ms[k] = row.fwd_s * 1e3;
    b->bwd_ms[k] = row.bwd_s * 1e3;
    b->opt_ms[k] = row.opt_s * 1e3;
    b->fwd_timed += ts->pc.fwd - fwd0;
}

static double time_forward(Model *m, const float *x, const int *y, int B, FwdMode mode, long reps)
{
    double *t = malloc(sizeof(double) * (size_t)reps);
    if (!t) return NAN;
    model_forward(m, m->params, x, y, B, mode, NULL); /* warm */
    for (long r = 0; r < reps; r++) {
        double t0 = lqa_now();
        model_forward(m, m->params, x, y, B, mode, NULL);
        t[r] = (lqa_now() - t0) * 1e3;
    }
    double med = median(t, reps);
    free(t);
    return med;
}

/* ---- command line ------------------------------------------------------------- */

typedef struct Args {
    const char *model, *input, *opt_list, *sched_json;
    ConvAlgo conv_algo;
    long batch, steps, warmup, rounds, threads, fwd_reps, classes, n_batches, spe, seed, reps;
    long pass_n;
    double lr;
    bool sgemm, passes;
    const char *sets[MAX_SETS]; /* [OPT.]key=value */
    int n_sets, first_pos;      /* sgemm mode: argv[first_pos..] are the shapes */
} Args;

/* The integer options: their field in Args and least value. */
static const struct IntOpt {
    const char *name;
    size_t off;
    long lo;
} INT_OPTS[] = {
    {"--batch", offsetof(Args, batch), 1},       {"--steps", offsetof(Args, steps), 1},
    {"--warmup", offsetof(Args, warmup), 0},     {"--rounds", offsetof(Args, rounds), 1},
    {"--threads", offsetof(Args, threads), 0},   {"--fwd-reps", offsetof(Args, fwd_reps), -1},
    {"--classes", offsetof(Args, classes), 1},   {"--batches", offsetof(Args, n_batches), 1},
    {"--steps-per-epoch", offsetof(Args, spe), 1}, {"--seed", offsetof(Args, seed), 1},
    {"--reps", offsetof(Args, reps), 1},         {"--n", offsetof(Args, pass_n), 1},
};

/* Option o with its value v: -1 taken, else the exit status (usage or error). */
static int value_option(Args *a, const char *o, const char *v)
{
    if (strcmp(o, "--model") == 0) a->model = v;
    else if (strcmp(o, "--input") == 0) a->input = v;
    else if (strcmp(o, "--optimizer") == 0) a->opt_list = v;
    else if (strcmp(o, "--schedule") == 0) a->sched_json = v;
    else if (strcmp(o, "--conv-algo") == 0) {
        if (conv_algo_parse(v, &a->conv_algo))
            return die("--conv-algo: expected winograd2 or winograd4, got \"%s\"", v);
    } else if (strcmp(o, "--lr") == 0) {
        char *end;
        a->lr = strtod(v, &end);
        if (*end || end == v) return die("--lr: not a number: %s", v);
    } else {
        for (size_t i = 0; i < sizeof INT_OPTS / sizeof INT_OPTS[0]; i++)
            if (strcmp(o, INT_OPTS[i].name) == 0) {
                long *ip = (long *)((char *)a + INT_OPTS[i].off);
                return parse_int(v, INT_OPTS[i].lo, ip) ? die("bad value for %s", o) : -1;
            }
        return usage();
    }
    return -1;
}

/* Parse argv into *a: -1 to go on, else the exit status (--blas-info, --help,
 * a bad command line). */
static int parse_args(int argc, char **argv, Args *a)
{
    *a = (Args){.conv_algo = CONV_WINOGRAD2, .batch = 64, .steps = 20, .warmup = 2, .rounds = 1,
                .fwd_reps = -1, .classes = 10, .n_batches = 2, .spe = 937, .seed = 1, .reps = 20,
                .pass_n = 1796010 /* the MLP's parameter count */, .lr = 0.01, .first_pos = argc};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--sgemm") == 0) { a->sgemm = true; continue; }
        if (strcmp(o, "--passes") == 0) { a->passes = true; continue; }
        if (strcmp(o, "--blas-info") == 0) {
            const char *to = getenv("OPENBLAS_THREAD_TIMEOUT");
            printf("%s\nthread_timeout %s\n", blas_config(), to ? to : "default");
            return 0;
        }
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) return usage();
        if (strncmp(o, "--", 2) != 0) {
            if (a->sgemm) { a->first_pos = i; break; }
            if (!strchr(o, '=') || a->n_sets == MAX_SETS) return usage();
            a->sets[a->n_sets++] = o;
            continue;
        }
        if (i + 1 >= argc) return usage();
        int rc = value_option(a, o, argv[++i]);
        if (rc >= 0) return rc;
    }
    return -1;
}

/* ---- step mode: set-up, rounds, report ---------------------------------------- */

/* The optimizers of --optimizer with their defaults and the key=value settings. */
static int make_benches(const Args *a, Bench *benches, int *n_opts)
{
    memset(benches, 0, sizeof(Bench) * MAX_OPTS);
    *n_opts = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", a->opt_list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n_opts == MAX_OPTS) return die("at most %s optimizers", "16");
        const OptimizerDef *def = optim_find(tok);
        if (!def) {
            fprintf(stderr, "bench: unknown optimizer \"%s\" (known: %s)\n", tok, optim_names());
            return 1;
        }
        benches[*n_opts].def = def;
        optim_hparam_defaults(def, benches[*n_opts].hp);
        (*n_opts)++;
    }
    for (int i = 0; i < a->n_sets; i++)
        if (set_hparam(benches, *n_opts, a->sets[i])) return 1;
    return 0;
}

/* Each optimizer's training state, timing arrays and (with several) its own θ. */
static int init_benches(const Args *a, Bench *benches, int n_opts, Model *m,
                        const Schedule *sched, float *scratch, char *err)
{
    const size_t n = m->n_params;
    for (int i = 0; i < n_opts; i++) {
        Bench *b = &benches[i];
        if (train_state_init(&b->ts, m, b->def, b->hp, a->lr, sched, a->spe, scratch, err))
            return die("%s", err);
        b->step_ms = calloc((size_t)a->steps, sizeof(double));
        b->fwd_ms = calloc((size_t)a->steps, sizeof(double));
        b->bwd_ms = calloc((size_t)a->steps, sizeof(double));
        b->opt_ms = calloc((size_t)a->steps, sizeof(double));
        if (!b->step_ms || !b->fwd_ms || !b->bwd_ms || !b->opt_ms) return die("%s", "out of memory");
        if (n_opts > 1) {
            if (!(b->theta = lqa_alloc(n * sizeof(float), err))) return die("%s", err);
            memcpy(b->theta, m->params, n * sizeof(float));
        }
    }
    return 0;
}

/* The warm-up steps, then the timed steps in rounds interleaved across the
 * optimizers, each on its own θ; x, y: n_batches batches of sz-float samples. */
static void run_rounds(const Args *a, Bench *benches, int n_opts, Model *m, const float *x,
                       const int *y, size_t sz)
{
    const size_t n = m->n_params;
    const long batch = a->batch, per_round = (a->steps + a->rounds - 1) / a->rounds;
    for (int phase = 0; phase <= a->rounds; phase++) {
        for (int i = 0; i < n_opts; i++) {
            Bench *b = &benches[i];
            if (b->theta) memcpy(m->params, b->theta, n * sizeof(float));
            long todo = phase == 0 ? a->warmup : LQA_MIN(per_round, a->steps - b->n_timed);
            for (long s = 0; s < todo; s++) {
                long k = b->ts.step % a->n_batches;
                one_step(b, x + (size_t)k * batch * sz, y + (size_t)k * batch, (int)batch, phase > 0);
            }
            if (b->theta) memcpy(b->theta, m->params, n * sizeof(float));
        }
    }
}

/* The forward timings and memory of a step-mode run, shared by its optimizers. */
typedef struct StepCommon {
    int c, h, w, n_opts;
    size_t n_params;
    double fwd_eval, fwd_probe, peak, base_rss;
} StepCommon;

/* One JSON line on stdout and a readable line on stderr for optimizer b. */
static void report_bench(const Args *a, const StepCommon *sc, const Bench *b)
{
    long k = b->n_timed;
    double step_med = median(b->step_ms, k);
    printf("{\"kind\":\"step\",\"model\":\"%s\",\"batch\":%ld,\"input\":\"%dx%dx%d\","
           "\"optimizer\":\"%s\",\"threads\":%ld,\"steps\":%ld,\"warmup\":%ld,\"rounds\":%ld,"
           "\"n_params\":%zu,\"n_optimizers\":%d,\"conv_algo\":\"%s\",\"openblas\":\"%s\",",
           a->model, a->batch, sc->c, sc->h, sc->w, b->def->name, a->threads, k, a->warmup,
           a->rounds, sc->n_params, sc->n_opts, CONV_ALGO_NAMES[a->conv_algo], blas_config());
    json_num("step_ms", step_med, 1);
    json_num("step_ms_mean", vmean(b->step_ms, k), 1);
    json_num("step_ms_min", vmin(b->step_ms, k), 1);
    json_num("fwd_train_ms", median(b->fwd_ms, k), 1);
    json_num("bwd_ms", median(b->bwd_ms, k), 1);
    json_num("opt_ms", median(b->opt_ms, k), 1);
    json_num("fwd_per_step", k ? (double)b->fwd_timed / k : NAN, 1);
    json_num("first_step_ms", a->warmup ? b->first_ms : NAN, 1);
    json_num("first_step_fwd", a->warmup ? (double)b->first_fwd : NAN, 1);
    json_num("fwd_eval_ms", sc->fwd_eval, 1);
    json_num("fwd_probe_ms", sc->fwd_probe, 1);
    json_num("peak_rss_mib", sc->peak, 1);
    json_num("base_rss_mib", sc->base_rss, 1);
    json_num("final_loss", b->last_loss, 1);
    printf("\"nonfinite\":%ld}\n", b->nonfinite);
    fprintf(stderr,
            "%-8s %-10s B=%ld T=%ld: step %.3f ms (fwd %.3f, bwd %.3f, opt %.3f; %.2f fwd/step)"
            "  eval fwd %.3f ms  probe fwd %.3f ms  peak RSS %.1f MiB%s\n",
            a->model, b->def->name, a->batch, a->threads, step_med, median(b->fwd_ms, k),
            median(b->bwd_ms, k), median(b->opt_ms, k), k ? (double)b->fwd_timed / k : NAN,
            sc->fwd_eval, sc->fwd_probe, sc->peak, b->nonfinite ? "  (non-finite loss or step!)" : "");
}

static void free_benches(Bench *benches, int n_opts)
{
    for (int i = 0; i < n_opts; i++) {
        train_state_free(&benches[i].ts);
        lqa_free(benches[i].theta);
        free(benches[i].step_ms);
        free(benches[i].fwd_ms);
        free(benches[i].bwd_ms);
        free(benches[i].opt_ms);
    }
}

/* The model of --model/--input on --schedule's rates: 0, or the exit status. */
static int make_model(const Args *a, StepCommon *sc, Schedule *sched, Model *m, char *err)
{
    char tail;
    if (sscanf(a->input, "%dx%dx%d%c", &sc->c, &sc->h, &sc->w, &tail) != 3 || sc->c < 1 ||
        sc->h < 1 || sc->w < 1)
        return die("--input: expected CxHxW, got \"%s\"", a->input);
    if (!model_find(a->model)) {
        fprintf(stderr, "bench: unknown model \"%s\" (known: %s)\n", a->model, model_names());
        return 3;
    }
    *sched = (Schedule){.type = SCHED_NONE};
    if (a->sched_json) {
        cJSON *j = cJSON_Parse(a->sched_json);
        int bad = !j ? lqa_errf(err, "--schedule: not valid JSON: %s", a->sched_json)
                     : schedule_parse(sched, j, "--schedule", err);
        cJSON_Delete(j);
        if (bad) return die("%s", err);
    }
    sc->base_rss = cur_rss_mib();
    ModelSpec spec = {.in_c = sc->c, .in_h = sc->h, .in_w = sc->w, .n_classes = (int)a->classes,
                      .max_batch = (int)a->batch, .width = 0, .probe_bn = PROBE_BN_BATCH,
                      .conv_algo = a->conv_algo};
    if (model_create(m, a->model, &spec, err)) return die("%s", err);
    model_init(m, INIT_DEFAULT, (uint64_t)a->seed);
    return 0;
}

static int step_mode(Args *a)
{
    char err[LQA_ERR_LEN];
    StepCommon sc = {0};
    Schedule sched;
    Model m;
    int rc = make_model(a, &sc, &sched, &m, err);
    if (rc) return rc;
    Bench benches[MAX_OPTS];
    int n_opts;
    if ((rc = make_benches(a, benches, &n_opts))) return rc;
    float *scratch = lqa_alloc(m.n_params * sizeof(float), err); /* shared: steps run one at a time */
    if (!scratch) return die("%s", err);
    if ((rc = init_benches(a, benches, n_opts, &m, &sched, scratch, err))) return rc;

    /* random data: n_batches batches, inputs U(0,1), labels uniform */
    const long batch = a->batch;
    size_t sz = (size_t)sc.c * sc.h * sc.w;
    float *x = lqa_alloc((size_t)a->n_batches * batch * sz * sizeof(float), err);
    int *y = lqa_alloc((size_t)a->n_batches * batch * sizeof(int), err);
    if (!x || !y) return die("%s", err);
    Rng rng;
    rng_seed(&rng, (uint64_t)a->seed, 99);
    for (size_t i = 0; i < (size_t)a->n_batches * batch * sz; i++) x[i] = rng_float(&rng);
    for (long i = 0; i < a->n_batches * batch; i++) y[i] = (int)rng_below(&rng, (uint64_t)a->classes);

    run_rounds(a, benches, n_opts, &m, x, y, sz);
    /* forward timings at the (last) trained parameters */
    if (a->fwd_reps < 0) a->fwd_reps = LQA_MAX(1, LQA_MIN(a->steps, 50));
    sc.fwd_eval = a->fwd_reps ? time_forward(&m, x, y, (int)batch, FWD_EVAL, a->fwd_reps) : NAN;
    sc.fwd_probe = a->fwd_reps ? time_forward(&m, x, y, (int)batch, FWD_PROBE, a->fwd_reps) : NAN;
    sc.peak = peak_rss_mib();
    sc.n_opts = n_opts;
    sc.n_params = m.n_params;
    for (int i = 0; i < n_opts; i++) report_bench(a, &sc, &benches[i]);
    fflush(stdout);
    free_benches(benches, n_opts);
    lqa_free(scratch);
    lqa_free(x);
    lqa_free(y);
    model_free(&m);
    return 0;
}

int main(int argc, char **argv)
{
    blas_fix_env(argv); /* the same OpenBLAS set-up as lqabench */
    Args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.threads > 0) blas_set_threads((int)a.threads);
    a.threads = blas_get_threads();
    if (a.sgemm) return sgemm_mode(argc, argv, a.first_pos, a.threads, a.reps, a.batch);
    if (a.passes) return passes_mode(a.pass_n, a.reps);
    if (!a.model || !a.input || !a.opt_list) return usage();
    return step_mode(&a);
}
