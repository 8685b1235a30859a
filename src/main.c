/* main.c — the lqabench command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "kernel_dispatch.h"
#include "common.h"
#include "config.h"
#include "optim.h"
#include "sweep.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lqabench --config FILE [options]\n"
            "\n"
            "Runs every optimizer x learning rate x seed of a JSON sweep and writes\n"
            "per-step and per-epoch loss CSVs, a metadata JSON per run, and summary.csv.\n"
            "A bare config name is also looked up in configs/ (e.g. --config mlp_mnist).\n"
            "\n"
            "options:\n"
            "  -c, --config FILE     the sweep to run (required)\n"
            "  -o, --output-dir DIR  write results here instead of the config's output_dir\n"
            "  -t, --threads N       OpenBLAS threads (default: number of online CPUs)\n"
            "  -f, --force           redo runs whose outputs are already complete\n"
            "  -q, --quiet           no progress line, no summary table\n"
            "      --no-timing       leave the wall-clock columns empty (byte-identical reruns)\n"
            "      --list            print the sweep's run ids, one per line, and exit\n"
            "      --run ID          run only this run id\n"
            "      --shard I/N       run only runs whose position modulo N is I (0 <= I < N)\n"
            "      --summarize       rebuild summary.csv from the complete runs and exit\n"
            "      --check           validate the config and exit\n"
            "      --optimizers      list every optimizer with its hyperparameters (Markdown)\n"
            "  -h, --help            this help\n"
            "  -V, --version         version\n"
            "\n"
            "models: %s\n"
            "optimizers: %s\n"
            "exit status: 0 every run asked for is complete (done or diverged)\n"
            "             1 a run failed, or an I/O error\n"
            "             2 bad command line or config, or complete runs in the output\n"
            "               directory made with another config (--force redoes them)\n"
            "             3 some runs asked for are not complete: held by another process\n"
            "             130, 143, 138 stopped by SIGINT, SIGTERM, SIGUSR1: the current run\n"
            "               finished its step and wrote <run>.ckpt; the same command resumes\n"
            "               it (a second SIGINT exits at once)\n"
            "See README.md for the config reference and the output layout.\n",
            model_names(), optim_names());
}

/* The optimizer reference, straight from the registry's tables. */
static void print_optimizers(void)
{
    for (int i = 0; i < optim_registry_size(); i++) {
        const OptimizerDef *d = optim_registry_get(i);
        printf("### `%s`\n\n%s.%s\n\n", d->name, d->summary,
               d->classic ? " Accepts a `schedule`." : "");
        printf("`lr` (%s): %s.\n\n",
               d->lr_role_of ? "depends on the settings" : optim_lr_role_name(d->lr_role),
               d->lr_doc ? d->lr_doc : "");
        if (d->n_extra) {
            printf("Extra per-step CSV columns:");
            for (int k = 0; k < d->n_extra; k++) printf(" `%s`", d->extra_cols[k]);
            printf("\n\n");
        }
        if (!d->n_hparams) continue;
        printf("| key | default | valid | meaning |\n|---|---|---|---|\n");
        for (int k = 0; k < d->n_hparams; k++) {
            const HParamSpec *s = &d->hparams[k];
            char def[64], valid[96];
            if (s->type == HP_BOOL) {
                snprintf(def, sizeof def, "%s", s->def != 0 ? "true" : "false");
                snprintf(valid, sizeof valid, "true, false");
            } else if (s->type == HP_ENUM) {
                char buf[256];
                const char *names[OPT_MAX_CHOICES];
                int n = optim_choices(s, buf, sizeof buf, names, OPT_MAX_CHOICES), c = (int)s->def;
                snprintf(def, sizeof def, "\"%s\"", c >= 0 && c < n ? names[c] : "?");
                lqa_join(valid, sizeof valid, names, n, "/");
            } else {
                snprintf(def, sizeof def, "%g", s->def);
                snprintf(valid, sizeof valid, "%c%g, %g%c", s->lo_open ? '(' : '[', s->lo, s->hi,
                         s->hi_open ? ')' : ']');
            }
            printf("| `%s` | %s | %s | %s |\n", s->name, def, valid, s->doc ? s->doc : "");
        }
        printf("\n");
    }
}

/* The exit status once stdout is flushed: a failed write to it (a full disk,
 * /dev/full, a closed pipe) is an error. */
static int finish(int status)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "lqabench: stdout: write failed: %s\n", errno ? strerror(errno) : "I/O error");
        return status ? status : 1;
    }
    return status;
}

/* The command line, parsed. */
typedef struct Cli {
    const char *config, *outdir;
    SweepOptions opt;
    bool list, summarize, check;
} Cli;

enum { O_LIST = 256, O_RUN, O_SHARD, O_SUMMARIZE, O_NO_TIMING, O_CHECK, O_OPTIMIZERS };

/* --threads N and --shard I/N: 0, or 2 with the message printed. */
static int parse_threads(const char *arg, SweepOptions *opt)
{
    char *end;
    opt->threads = (int)strtol(arg, &end, 10);
    if (*end || opt->threads < 1 || opt->threads > 1024) {
        fprintf(stderr, "lqabench: --threads: expected a positive integer, got \"%s\"\n", arg);
        return 2;
    }
    return 0;
}

static int parse_shard(const char *arg, SweepOptions *opt)
{
    int end = 0;
    if (sscanf(arg, "%d/%d%n", &opt->shard_i, &opt->shard_n, &end) != 2 || arg[end] ||
        opt->shard_n < 1 || opt->shard_i < 0 || opt->shard_i >= opt->shard_n) {
        fprintf(stderr, "lqabench: --shard: expected I/N with 0 <= I < N, got \"%s\"\n", arg);
        return 2;
    }
    return 0;
}

/* Parse argv into *cli: -1 to go on, else the exit status (--help, --version,
 * --optimizers, or a bad command line, its message printed). */
static int parse_args(int argc, char **argv, Cli *cli)
{
    static const struct option longopts[] = {
        {"config", required_argument, 0, 'c'},     {"output-dir", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 't'},    {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},            {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},          {"list", no_argument, 0, O_LIST},
        {"run", required_argument, 0, O_RUN},      {"shard", required_argument, 0, O_SHARD},
        {"summarize", no_argument, 0, O_SUMMARIZE}, {"no-timing", no_argument, 0, O_NO_TIMING},
        {"check", no_argument, 0, O_CHECK},        {"optimizers", no_argument, 0, O_OPTIMIZERS},
        {0, 0, 0, 0}};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *cli = (Cli){.opt = {.threads = ncpu > 0 ? (int)ncpu : 1, .timing = true}};
    SweepOptions *opt = &cli->opt;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:o:t:fqhV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': cli->config = optarg; break;
        case 'o': cli->outdir = optarg; break;
        case 't': if (parse_threads(optarg, opt)) return 2; break;
        case 'f': opt->force = true; break;
        case 'q': opt->quiet = true; break;
        case 'h': usage(stdout); return finish(0);
        case 'V': printf("lqabench %s (kernels: %s; OpenBLAS core: %s)\n", LQA_VERSION, kernel_path(), blas_corename()); return finish(0);
        case O_LIST: cli->list = true; break;
        case O_RUN: opt->run_id = optarg; break;
        case O_SHARD: if (parse_shard(optarg, opt)) return 2; break;
        case O_SUMMARIZE: cli->summarize = true; break;
        case O_NO_TIMING: opt->timing = false; break;
        case O_CHECK: cli->check = true; break;
        case O_OPTIMIZERS: print_optimizers(); return finish(0);
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lqabench: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return 2;
    }
    if (!cli->config) {
        fprintf(stderr, "lqabench: --config is required (see --help)\n");
        return 2;
    }
    return -1;
}

/* --output-dir over the config's, and the data check a run (or --check)
 * needs: 0, or 2 with the message printed. */
static int prepare(const Cli *cli, SweepConfig *cfg, char *err)
{
    const char *outdir = cli->outdir;
    if (outdir && strlen(outdir) >= sizeof cfg->output_dir) {
        fprintf(stderr, "lqabench: --output-dir: longer than %zu characters\n", sizeof cfg->output_dir - 1);
        return 2;
    }
    if (outdir && !*outdir) {
        fprintf(stderr, "lqabench: --output-dir: must not be empty\n");
        return 2;
    }
    if (outdir) snprintf(cfg->output_dir, sizeof cfg->output_dir, "%s", outdir);
    if ((cli->check || (!cli->list && !cli->summarize)) && config_check_data(cfg, err)) {
        fprintf(stderr, "lqabench: %s\n", err);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    blas_fix_env(argv);
    Cli cli;
    int status = parse_args(argc, argv, &cli);
    if (status >= 0) return status;
    char err[LQA_ERR_LEN] = "", path[CFG_PATH_LEN];
    SweepConfig cfg;
    if (config_find(cli.config, path, sizeof path, err) || config_load(&cfg, path, err)) {
        fprintf(stderr, "lqabench: %s\n", err);
        return 2;
    }
    if (prepare(&cli, &cfg, err)) {
        config_free(&cfg);
        return 2;
    }
    status = 0;
    if (cli.check) {
        int nr = config_n_runs(&cfg);
        printf("%s: ok, %d run%s\n", path, nr, nr == 1 ? "" : "s");
    } else if (cli.list) {
        status = sweep_list(&cfg, &cli.opt);
    } else if (cli.summarize) {
        status = sweep_summarize(&cfg, &cli.opt, true, err);
    } else {
        status = sweep_execute(&cfg, &cli.opt, err);
    }
    if (status) fprintf(stderr, "lqabench: %s\n", err);
    config_free(&cfg);
    return finish(status);
}
