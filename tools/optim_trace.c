/* tools/optim_trace.c — run a classic optimizer on a given gradient sequence and
 * print the parameter trajectory (used by tests/torch_optim_check.py to compare
 * with torch.optim step by step).
 *
 *   optim_trace OPTIMIZER LR [key=value ...] [--schedule JSON] [--input FILE]
 *
 * Input (text, whitespace separated, stdin unless --input): n T, then theta0
 * (n numbers), then T gradients of n numbers each (step 1 first). Numbers are read
 * as double and rounded to float32 (exact when they are float32 values).
 * Output: T lines; line t holds theta after step t, n numbers in %.17g (exact
 * decimal form of each float32 value). --schedule takes a schedule object as in
 * the config ({"type": "step", "every": 5, "gamma": 0.5}); step t (1-based) then
 * uses lr = schedule_lr(schedule, LR, t - 1). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "optim.h"
#include "schedule.h"

static int usage(void)
{
    fprintf(stderr, "usage: optim_trace OPTIMIZER LR [key=value ...] [--schedule JSON] [--input FILE]\n"
                    "  classic optimizers: sgd, sgd-m, sgd-nag, adagrad, rmsprop, adam\n"
                    "  input: n T, theta0 (n numbers), T gradients (n numbers each)\n");
    return 2;
}

static int die(const char *msg)
{
    fprintf(stderr, "optim_trace: %s\n", msg);
    return 1;
}

static int read_floats(FILE *f, float *out, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        double v;
        if (fscanf(f, "%lf", &v) != 1) return -1;
        out[i] = (float)v;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[LQA_ERR_LEN], msg[LQA_ERR_LEN + 128];
    if (argc < 3) return usage();
    const OptimizerDef *def = optim_find(argv[1]);
    if (!def) {
        snprintf(msg, sizeof msg, "unknown optimizer \"%s\" (known: %s)", argv[1], optim_names());
        return die(msg);
    }
    if (!def->classic) return die("only classic optimizers (no probes) can be traced");
    char *end;
    double lr = strtod(argv[2], &end);
    if (*end || end == argv[2]) return die("LR must be a number");

    double hp[OPT_MAX_HP];
    optim_hparam_defaults(def, hp);
    Schedule sched = { .type = SCHED_NONE };
    const char *input = NULL;
    for (int a = 3; a < argc; a++) {
        if (strcmp(argv[a], "--input") == 0 && a + 1 < argc) {
            input = argv[++a];
            continue;
        }
        if (strcmp(argv[a], "--schedule") == 0 && a + 1 < argc) {
            cJSON *j = cJSON_Parse(argv[++a]);
            int rc = j ? schedule_parse(&sched, j, "--schedule", err) : -1;
            if (!j) snprintf(err, sizeof err, "--schedule: not valid JSON");
            cJSON_Delete(j);
            if (rc) return die(err);
            continue;
        }
        char *eq = strchr(argv[a], '=');
        if (!eq) return usage();
        *eq = '\0';
        int k = optim_hparam_index(def, argv[a]);
        if (k < 0) {
            snprintf(msg, sizeof msg, "%s has no hyperparameter \"%s\"", def->name, argv[a]);
            return die(msg);
        }
        double v = strtod(eq + 1, &end);
        if (*end || end == eq + 1 || optim_hparam_check(&def->hparams[k], v, err)) {
            snprintf(msg, sizeof msg, "%s: %s", argv[a], *end || end == eq + 1 ? "not a number" : err);
            return die(msg);
        }
        hp[k] = v;
    }

    FILE *f = input ? fopen(input, "r") : stdin;
    if (!f) return die("cannot open the input file");
    long n, T;
    if (fscanf(f, "%ld %ld", &n, &T) != 2 || n <= 0 || T < 0) return die("input: expected n T");
    float *theta = malloc(sizeof(float) * (size_t)n), *g = malloc(sizeof(float) * (size_t)n);
    float *scratch = malloc(sizeof(float) * (size_t)n);
    if (!theta || !g || !scratch) return die("out of memory");
    if (read_floats(f, theta, (size_t)n)) return die("input: theta0 is short");

    Optimizer o;
    if (optim_create(&o, def, hp, lr, (size_t)n, err) != 0) return die(err);
    for (long t = 0; t < T; t++) {
        if (read_floats(f, g, (size_t)n)) {
            snprintf(msg, sizeof msg, "input: gradient %ld is short", t + 1);
            return die(msg);
        }
        StepCtx ctx = { .step = t, .loss0 = 0.0, .lr = schedule_lr(&sched, lr, t),
                        .probe = { NULL, NULL }, .scratch = scratch };
        StepInfo info = { 0 };
        def->step(&o, theta, g, &ctx, &info);
        for (long i = 0; i < n; i++) printf(i ? " %.17g" : "%.17g", (double)theta[i]);
        putchar('\n');
    }
    optim_free(&o);
    if (input) fclose(f);
    free(theta);
    free(g);
    free(scratch);
    return 0;
}
