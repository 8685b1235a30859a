/* sweep.c — the sweep: every optimizer × lr × seed of a config, each run
 * writing its own files into output_dir:
 *   <run>.steps.csv   one row per mini-batch step
 *   <run>.epochs.csv  one row per epoch (row 0: before training)
 *   <run>.json        metadata + result, written last: the resolved config, its hash
 *                     and the size of every file the run wrote
 *   summary.csv       one row per complete run, rebuilt from the .json files
 * A run is complete when its .json parses, says done or diverged, was made
 * with the same result-relevant config (config_hash) and its files have the
 * sizes it records. A failed or damaged run is run again; a complete run made
 * with another config is an error unless --force redoes it.
 * Runs claim a <run>.lock file so that several processes can share one
 * output_dir; a lock left by a dead process is taken over.
 * The pieces: runlock.c (locks), runmeta.c (a run's .json and state),
 * train.c (the training of one run), summary.c (summary.csv and the table);
 * this file enumerates the runs and runs the pending ones. */
#define _DEFAULT_SOURCE
#include "sweep.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "afile.h"
#include "blas.h"
#include "ckpt.h"
#include "common.h"
#include "dataset.h"
#include "model.h"
#include "runlock.h"
#include "runmeta.h"
#include "summary.h"
#include "train.h"

/* ---- progress ------------------------------------------------------------ */

typedef struct Progress {
    bool on;
    int run_i, run_n;
    const char *id;
    double last;
    double t_start;       /* this run's training start */
    double t_sweep;       /* the sweep's start (its first run) */
    const char *lock;
    double last_touch;
    /* checkpoints */
    const SweepConfig *c;
    const char *ckpt, *ident;
    AFile *files[CKPT_MAX_FILES];
    double last_ckpt; /* wall time of the last checkpoint (or the run's start) */
} Progress;

/* Heartbeat for other hosts: refresh the lock's mtime every 30 s, during training
 * and evaluation alike (a ResNet-18 evaluation can outlast RUNLOCK_STALE_SECONDS). */
static void lock_heartbeat(Progress *p)
{
    double now = lqa_now();
    if (p && p->lock && now - p->last_touch > 30) {
        utimensat(AT_FDCWD, p->lock, NULL, 0);
        p->last_touch = now;
    }
}

/* A duration for the progress line: 42s, 3m05s, 2h07m. */
static void fmt_duration(char *buf, size_t n, double s)
{
    long t = (long)(s + 0.5);
    if (t < 60) snprintf(buf, n, "%lds", t);
    else if (t < 3600) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
}

/* Time left in the run (its steps so far) and in the sweep (its elapsed time,
 * evaluations included, over the fraction of its runs done, counting the current
 * run's steps). */
static void progress_step(Progress *p, long step, long total, double loss)
{
    lock_heartbeat(p);
    double now = lqa_now();
    if (!p->on || (now - p->last < 0.2 && step < total)) return;
    p->last = now;
    double el = now - p->t_start;
    double left = step > 0 ? el / step * (double)(total - step) : 0;
    double frac = ((double)(p->run_i - 1) + (double)step / (double)total) / (double)p->run_n;
    double sweep_left = frac > 0 ? (now - p->t_sweep) / frac * (1.0 - frac) : 0;
    char rl[32], sl[32];
    fmt_duration(rl, sizeof rl, left);
    fmt_duration(sl, sizeof sl, sweep_left);
    fprintf(stderr, "\r\033[K[run %d/%d] %s  step %ld/%ld  loss %.4g  %s left in run, %s in sweep",
            p->run_i, p->run_n, p->id, step, total, loss, rl, sl);
    fflush(stderr);
}

static void progress_end(Progress *p)
{
    if (p->on) fprintf(stderr, "\r\033[K");
}

/* ---- one run --------------------------------------------------------------- */

static void hook_begin(void *ctx) { ((Progress *)ctx)->t_start = lqa_now(); }
static void hook_tick(void *ctx) { lock_heartbeat(ctx); }
static void hook_step(void *ctx, long step, long total, double loss)
{
    progress_step(ctx, step, total, loss);
}

/* A checkpoint every checkpoint_every steps, at least every checkpoint_minutes
 * minutes, and when a stop was asked for. A failed one is reported, and
 * training goes on (the previous checkpoint stays). */
static void hook_checkpoint(void *ctx, TrainState *s, const RunResult *res, bool force)
{
    Progress *p = ctx;
    const SweepConfig *c = p->c;
    double now = lqa_now();
    if (!force && !(c->checkpoint_every > 0 && s->step % c->checkpoint_every == 0) &&
        !(c->checkpoint_minutes > 0 && now - p->last_ckpt >= 60.0 * (double)c->checkpoint_minutes))
        return;
    char err[LQA_ERR_LEN];
    if (ckpt_save(p->ckpt, p->ident, s, res, p->files, CKPT_MAX_FILES, err))
        fprintf(stderr, "\nlqabench: %s: checkpoint not written: %s\n", p->id, err);
    p->last_ckpt = lqa_now();
}

/* Run r into its files (written to temporaries, committed at the end), from
 * its checkpoint when it has a usable one. 0, -1 with err, or 1: stopped by a
 * signal (checkpoint written, temporaries removed). */
static int run_one(const SweepConfig *c, const SweepOptions *opt, Model *m, const TrainData *d,
                   Progress *prog, const RunSpec *r, RunResult *res, char *err)
{
    train_result_reset(res);
    TrainState s = {0};
    AFile fs = {0}, fe = {0}, fbatch = {0};
    int rc = -1;
    char path[RUNLOCK_PATH_BUF];

    if (train_begin(&s, c, r, m, d->train, err)) goto out;
    if (train_use_validation(&s, d->val, c->batch_size, err)) goto out;
    if (c->dump_init) {
        run_path(path, sizeof path, c, r->id, ".init.f32");
        if (afile_write_all(path, m->params, m->n_params * sizeof(float), err)) goto out;
    }
    if (c->dump_batches) {
        run_path(path, sizeof path, c, r->id, ".batches.i32");
        if (afile_open(&fbatch, path, err)) goto out;
    }
    run_path(path, sizeof path, c, r->id, ".steps.csv");
    if (afile_open(&fs, path, err)) goto out;
    run_path(path, sizeof path, c, r->id, ".epochs.csv");
    if (afile_open(&fe, path, err)) goto out;

    /* the checkpoint: its identity covers the code, the config and the CSV columns */
    char ckpt[RUNLOCK_PATH_BUF], ident[512], why[LQA_ERR_LEN];
    run_path(ckpt, sizeof ckpt, c, r->id, ".ckpt");
    char base[400];
    run_ckpt_ident(c, r, base, sizeof base);
    snprintf(ident, sizeof ident, "%s threads %d timing %d", base, opt->threads, (int)opt->timing);
    prog->c = c;
    prog->ckpt = ckpt;
    prog->ident = ident;
    prog->files[0] = &fs;
    prog->files[1] = &fe;
    prog->files[2] = &fbatch;
    prog->last_ckpt = lqa_now();
    int got = ckpt_load(ckpt, ident, &s, res, prog->files, CKPT_MAX_FILES, why, sizeof why);
    if (got == -2) {
        lqa_errf(err, "checkpoint %.300s: %.400s", ckpt, why);
        goto out;
    } else if (got > 0) {
        fprintf(stderr, "lqabench: %s: resuming from its checkpoint after step %ld\n", r->id, s.step);
    } else if (got < 0) {
        fprintf(stderr, "lqabench: %s: checkpoint %s not used: %s; starting from step 1\n", r->id,
                ckpt, why);
        unlink(ckpt);
    }

    TrainOut out = {.steps = fs.f, .epochs = fe.f, .batches = fbatch.f, .timing = opt->timing};
    TrainHooks hooks = {hook_begin, hook_step, hook_tick, hook_checkpoint, prog};
    train_run(&s, c, r, d, &out, &hooks, res);
    progress_end(prog);
    if (strcmp(res->status, "interrupted") == 0) { /* the checkpoint has it all */
        rc = 1;
        goto out;
    }
    if (fbatch.f && afile_commit(&fbatch, err)) goto out;
    if (afile_commit(&fs, err) || afile_commit(&fe, err)) goto out;
    rc = 0;
out:
    if (fbatch.f) afile_abort(&fbatch);
    if (fs.f) afile_abort(&fs);
    if (fe.f) afile_abort(&fe);
    train_state_free(&s);
    return rc;
}

int sweep_summarize(const SweepConfig *c, const SweepOptions *opt, bool print_table, char *err)
{
    int have, stale;
    runlock_clean_temps(c->output_dir, NULL, false);
    if (summary_write(c, print_table && !opt->quiet, &have, &stale, err)) return 1;
    if (stale) {
        lqa_errf(err, "%.300s: %d complete run%s made with another config (named above) left out "
                 "of summary.csv; redo them with --force", c->output_dir, stale, stale == 1 ? "" : "s");
        return 2;
    }
    return 0;
}

/* ---- the sweep --------------------------------------------------------------- */

static bool selected(const SweepOptions *opt, const RunSpec *r)
{
    if (opt->run_id && strcmp(opt->run_id, r->id) != 0) return false;
    if (opt->shard_n > 0 && r->index % opt->shard_n != opt->shard_i) return false;
    return true;
}

int sweep_list(const SweepConfig *c, const SweepOptions *opt)
{
    int n = config_n_runs(c);
    for (int i = 0; i < n; i++) {
        RunSpec r;
        config_run(c, i, &r);
        if (selected(opt, &r)) printf("%s\n", r.id);
    }
    return 0;
}

/* The runs of the sweep (runs[n]) and which of the selected ones to run
 * (pending, *todo of them). 0, or 2 with err: --run names no run, or complete
 * runs were made with another config (named on stderr). */
static int plan_runs(const SweepConfig *c, const SweepOptions *opt, RunSpec *runs, bool *pending,
                     int n, int *todo, char *err)
{
    int stale = 0;
    bool found = !opt->run_id;
    for (int i = 0; i < n; i++) {
        config_run(c, i, &runs[i]);
        found |= opt->run_id && strcmp(runs[i].id, opt->run_id) == 0;
    }
    if (!found) {
        lqa_errf(err, "%s: no run \"%s\" in this sweep (see --list)", c->path, opt->run_id);
        return 2;
    }
    *todo = 0;
    for (int i = 0; i < n; i++) {
        if (!selected(opt, &runs[i])) continue;
        char why[LQA_ERR_LEN];
        RunState st = run_state(c, &runs[i], NULL, why, sizeof why);
        if (st == RUN_STALE && !opt->force) {
            fprintf(stderr, "lqabench: %s: complete, but made with another config: %s\n",
                    runs[i].id, why);
            stale++;
        }
        pending[i] = opt->force || st != RUN_COMPLETE;
        *todo += pending[i];
    }
    if (stale) {
        lqa_errf(err, "%.300s: %d complete run%s made with another config (named above); redo "
                 "them with --force, or use another --output-dir", c->output_dir, stale,
                 stale == 1 ? "" : "s");
        return 2;
    }
    return 0;
}

/* Leftovers of killed processes: summary temporaries, locks (and
 * temporaries) of runs that are complete. 0, or -1 with err. */
static int clean_leftovers(const SweepConfig *c, const RunSpec *runs, const bool *pending, int n,
                           char *err)
{
    runlock_clean_temps(c->output_dir, NULL, false);
    for (int i = 0; i < n; i++) {
        char lock[RUNLOCK_PATH_BUF], ckpt[RUNLOCK_PATH_BUF];
        run_path(lock, sizeof lock, c, runs[i].id, ".lock");
        run_path(ckpt, sizeof ckpt, c, runs[i].id, ".ckpt");
        if (!pending[i] && access(lock, F_OK) != 0) unlink(ckpt); /* of a complete run */
        if (pending[i] || access(lock, F_OK) != 0) continue;
        if (runlock_break(lock, err) < 0) return -1;
        if (access(lock, F_OK) != 0) runlock_clean_temps(c->output_dir, runs[i].id, false);
    }
    return 0;
}

/* What the runs share: the data and the model. */
typedef struct SweepData {
    Dataset train, test, val;
    Model m;
    int model_i; /* the point of the model options' grid (SweepConfig.models) m was made for */
} SweepData;

/* The model of the model options' grid point model_i in d->m, made anew when
 * the model there was made for another point. */
static int use_model(const SweepConfig *c, SweepData *d, int model_i, char *err)
{
    if (d->m.ops && d->model_i == model_i) return 0;
    if (d->m.ops) model_free(&d->m);
    ModelSpec spec = c->models[model_i];
    spec.in_c = d->train.c;
    spec.in_h = d->train.h;
    spec.in_w = d->train.w;
    spec.n_classes = d->train.n_classes;
    spec.max_batch = LQA_MAX(c->batch_size, c->eval_batch);
    d->model_i = model_i;
    return model_create(&d->m, c->model, &spec, err);
}

static int load_data_and_model(const SweepConfig *c, const SweepOptions *opt, int n, int todo,
                               int model_i, SweepData *d, char *err)
{
    if (dataset_load(&d->train, c->dataset, c->data_dir, true, c->normalize, c->train_limit, err) ||
        (c->eval_test &&
         dataset_load(&d->test, c->dataset, c->data_dir, false, c->normalize, c->test_limit, err)) ||
        (c->eval_test && dataset_check_pair(&d->train, &d->test, err)))
        return -1;
    if (c->validation && dataset_split_tail(&d->train, c->validation, &d->val, err)) return -1;
    if (use_model(c, d, model_i, err)) return -1;
    if (!opt->quiet)
        fprintf(stderr, "lqabench: %s: %d run%s (%d to do), %s on %s (%zu parameters, %d train / %d validation / %d test samples), %d thread%s -> %s\n",
                c->name, n, n == 1 ? "" : "s", todo, c->model, c->dataset, d->m.n_params, d->train.n,
                d->val.n, d->test.n, opt->threads, opt->threads == 1 ? "" : "s", c->output_dir);
    return 0;
}

/* The lock of the run in progress, for a second SIGINT (on_stop_signal). */
static const char *volatile stop_lock;

/* Claim and run pending run r (the done_i-th of todo), then write its .json.
 * 0 (*failed++ when the run failed), 1 or 2 (err set): stop the sweep. */
static int claim_and_run(const SweepConfig *c, const SweepOptions *opt, SweepData *d,
                         const RunSpec *r, int done_i, int todo, double t_sweep, int *failed,
                         char *err)
{
    char lock[RUNLOCK_PATH_BUF];
    run_path(lock, sizeof lock, c, r->id, ".lock");
    int claim = runlock_claim(lock, err);
    if (claim < 0) return 1;
    if (claim == 0) {
        if (!opt->quiet) fprintf(stderr, "lqabench: %s: claimed by another process, skipped\n", r->id);
        return 0;
    }
    char why[LQA_ERR_LEN];
    RunState st = run_state(c, r, NULL, why, sizeof why);
    if (!opt->force && st == RUN_COMPLETE) { /* finished by another process meanwhile */
        unlink(lock);
        return 0;
    }
    if (!opt->force && st == RUN_STALE) { /* made meanwhile by a process with another config */
        fprintf(stderr, "lqabench: %s: complete, but made with another config: %s\n", r->id, why);
        unlink(lock);
        lqa_errf(err, "%s: made with another config meanwhile; redo it with --force", r->id);
        return 2;
    }
    if (st == RUN_FAILED || st == RUN_DAMAGED)
        fprintf(stderr, "lqabench: %s: %s; running it again\n", r->id, why);
    runlock_clean_temps(c->output_dir, r->id, true);
    char started[64];
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    Progress prog = {.on = !opt->quiet && isatty(2), .run_i = done_i, .run_n = todo,
                     .id = r->id, .lock = lock, .last_touch = lqa_now(), .t_sweep = t_sweep};
    TrainData data = {&d->train, c->eval_test ? &d->test : NULL, c->validation ? &d->val : NULL};
    RunResult res;
    char rerr[LQA_ERR_LEN] = "";
    stop_lock = lock;
    int one = run_one(c, opt, &d->m, &data, &prog, r, &res, rerr);
    stop_lock = NULL;
    if (one > 0) { /* stopped by a signal: checkpoint written, no .json */
        unlink(lock);
        return 0;
    }
    if (one) {
        snprintf(res.status, sizeof res.status, "failed");
        snprintf(res.reason, sizeof res.reason, "%.250s", rerr);
        fprintf(stderr, "lqabench: %s: failed: %s\n", r->id, rerr);
        (*failed)++;
    } else if (!opt->quiet && !prog.on) {
        fprintf(stderr, "lqabench: [%d/%d] %s: %s, final loss %.4g\n", done_i, todo, r->id,
                res.status, res.final_loss);
    }
    int rc = run_write_meta(c, r, opt->threads, opt->timing, &res, started, err) ? 1 : 0;
    if (rc == 0 && strcmp(res.status, "failed") != 0) {
        char ckpt[RUNLOCK_PATH_BUF];
        run_path(ckpt, sizeof ckpt, c, r->id, ".ckpt");
        unlink(ckpt); /* the run is complete */
    }
    unlink(lock);
    return rc;
}

/* The exit status after the runs: the summary, failed runs, selected runs
 * still incomplete (see sweep.h). */
static int final_status(const SweepConfig *c, const SweepOptions *opt, const RunSpec *runs, int n,
                        int failed, char *err)
{
    int have, stale_rest;
    if (summary_write(c, !opt->quiet, &have, &stale_rest, err)) return 1;
    if (failed) {
        lqa_errf(err, "%d run%s failed (see the table and the run .json files)", failed,
                 failed == 1 ? "" : "s");
        return 1;
    }
    int incomplete = 0;
    for (int i = 0; i < n; i++) {
        char why[LQA_ERR_LEN];
        if (selected(opt, &runs[i]) && run_state(c, &runs[i], NULL, why, sizeof why) != RUN_COMPLETE)
            incomplete++;
    }
    if (incomplete) {
        lqa_errf(err, "%d run%s asked for %s not complete (held by another process, or "
                 "removed meanwhile): run the same command again to finish",
                 incomplete, incomplete == 1 ? "" : "s", incomplete == 1 ? "is" : "are");
        return 3;
    }
    return 0;
}

/* SIGINT, SIGTERM, SIGUSR1: stop after the current step (train_stop_signal);
 * a second SIGINT exits at once (files are renamed into place only when
 * complete, so nothing is left half-written). */
static void on_stop_signal(int sig)
{
    if (train_stop_signal && sig == SIGINT) {
        afile_unlink_open(); /* this process's temporaries and lock: nothing left behind */
        const char *lock = stop_lock;
        if (lock) unlink(lock);
        _exit(128 + SIGINT);
    }
    if (!train_stop_signal) train_stop_signal = sig; /* the first signal decides the exit code */
}

static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int sweep_execute(const SweepConfig *c, const SweepOptions *opt, char *err)
{
    int n = config_n_runs(c), todo = 0, failed = 0, status = 0;
    RunSpec *runs = calloc((size_t)n, sizeof *runs);
    bool *pending = calloc((size_t)n, sizeof *pending);
    SweepData d = {0};
    if (!runs || !pending) {
        free(runs);
        free(pending);
        return lqa_errf(err, "out of memory (%d runs)", n), 1;
    }
    if ((status = plan_runs(c, opt, runs, pending, n, &todo, err))) goto out;
    blas_set_threads(opt->threads);
    if (mkdir_p(c->output_dir, err) || clean_leftovers(c, runs, pending, n, err)) {
        status = 1;
        goto out;
    }
    int first = 0;
    while (first < n && !pending[first]) first++;
    if (todo > 0 && load_data_and_model(c, opt, n, todo, c->opts[runs[first].opt].model_i, &d, err)) {
        status = 1;
        goto out;
    }
    int done_i = 0;
    double t_sweep = lqa_now();
    install_stop_handlers();
    for (int i = 0; i < n && todo > 0 && !train_stop_signal; i++) {
        if (!pending[i]) continue;
        done_i++;
        if (use_model(c, &d, c->opts[runs[i].opt].model_i, err)) {
            status = 1;
            goto out;
        }
        if ((status = claim_and_run(c, opt, &d, &runs[i], done_i, todo, t_sweep, &failed, err)))
            goto out;
    }
    if (train_stop_signal) { /* the summary of what is complete, then the signal's code */
        int sig = train_stop_signal, have, stale_rest;
        if (summary_write(c, !opt->quiet, &have, &stale_rest, err)) {
            status = 1;
            goto out;
        }
        lqa_errf(err, "stopped by %s: the current run's checkpoint is written; run the same "
                 "command again to resume", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGUSR1");
        status = 128 + sig;
        goto out;
    }
    status = final_status(c, opt, runs, n, failed, err);
out:
    if (d.m.ops) model_free(&d.m);
    dataset_free(&d.train);
    dataset_free(&d.test);
    dataset_free(&d.val);
    free(runs);
    free(pending);
    return status;
}
