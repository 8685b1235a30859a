/* train.c — one training step and one training run (see train.h). */
#include "train.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "common.h"

volatile sig_atomic_t train_stop_signal = 0;

static const Schedule NO_SCHEDULE = {.type = SCHED_NONE};

void train_fmt_num(char *buf, size_t n, double v)
{
    if (isnan(v)) snprintf(buf, n, "%s", "");
    else snprintf(buf, n, "%.9g", v);
}

/* ---- one step ------------------------------------------------------------- */

int train_state_init(TrainState *s, Model *m, const OptimizerDef *def, const double *hp,
                     double lr0, const Schedule *sched, long spe, float *scratch, char *err)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    s->sched = sched ? sched : &NO_SCHEDULE;
    s->steps_per_epoch = spe;
    s->pc.m = m;
    s->first_loss = NAN;
    if (optim_create(&s->opt, def, hp, lr0, m->n_params, err)) return -1;
    s->scratch = scratch;
    if (!scratch) {
        if (!(s->scratch = lqa_alloc(m->n_params * sizeof(float), err))) {
            optim_free(&s->opt);
            return -1;
        }
        s->own_scratch = true;
    }
    return 0;
}

int train_use_validation(TrainState *s, const Dataset *val, int batch, char *err)
{
    const OptimizerDef *def = s->opt.def;
    const char *key = def->uses_validation ? def->uses_validation(s->opt.hp) : NULL;
    if (!key) return 0;
    if (!val || val->n <= 0)
        return lqa_errf(err, "%s with this %s probes the validation split, and the run has none", def->name, key);
    int b = LQA_MIN(batch, val->n);
    size_t sz = (size_t)val->c * val->h * val->w;
    s->val_x = lqa_alloc((size_t)b * sz * sizeof(float), err);
    s->val_y = s->val_x ? lqa_alloc((size_t)b * sizeof(int), err) : NULL;
    if (!s->val_y) {
        lqa_free(s->val_x);
        s->val_x = NULL;
        return -1;
    }
    s->val = val;
    s->val_b = b;
    return 0;
}

/* The held-out batch of step t: validation samples (t·b + j) mod n. */
static void fill_val_batch(TrainState *s, long t)
{
    const Dataset *v = s->val;
    size_t sz = (size_t)v->c * v->h * v->w;
    for (int j = 0; j < s->val_b; j++) {
        size_t i = (size_t)(((unsigned long long)t * (unsigned long long)s->val_b + (unsigned)j) %
                            (unsigned long long)v->n);
        memcpy(s->val_x + (size_t)j * sz, v->x + i * sz, sz * sizeof(float));
        s->val_y[j] = v->y[i];
    }
    s->pc.vx = s->val_x;
    s->pc.vy = s->val_y;
    s->pc.vB = s->val_b;
}

void train_state_free(TrainState *s)
{
    lqa_free(s->val_x);
    lqa_free(s->val_y);
    s->val_x = NULL;
    s->val_y = NULL;
    s->val = NULL;
    if (s->own_scratch) lqa_free(s->scratch);
    s->scratch = NULL;
    s->own_scratch = false;
    optim_free(&s->opt);
    batcher_free(&s->batcher);
}

void train_step(TrainState *s, const float *x, const int *y, int B, StepRow *row)
{
    Model *m = s->m;
    Optimizer *o = &s->opt;
    double t0 = lqa_now();
    s->pc.x = x;
    s->pc.y = y;
    s->pc.B = B;
    m->step = s->step; /* the step's dropout masks, for its training forward and its probes */
    double loss0 = model_forward(m, m->params, x, y, B, FWD_TRAIN, NULL);
    s->pc.fwd++;
    double t1 = lqa_now(), t2 = t1;
    StepInfo info = {.lr = NAN};
    if (isfinite(loss0)) {
        model_backward(m);
        s->bwd++;
        t2 = lqa_now();
        StepCtx ctx = {.step = s->step, .epoch = s->epoch, .steps_per_epoch = s->steps_per_epoch,
                       .loss0 = loss0,
                       .lr = o->def->classic ? schedule_lr(s->sched, o->lr0, s->step) : o->lr0,
                       .probe = {probe_loss, &s->pc}, .scratch = s->scratch};
        if (s->val) {
            fill_val_batch(s, s->step);
            ctx.val_probe = (ProbeFn){probe_loss_val, &s->pc};
        }
        o->def->step(o, m->params, m->grads, &ctx, &info);
    }
    double t3 = lqa_now();
    s->seconds += t3 - t0;
    s->step++;
    *row = (StepRow){.step = s->step, .epoch = s->epoch + 1, .loss = loss0, .info = info,
                     .fwd = s->pc.fwd, .bwd = s->bwd, .seconds = s->seconds,
                     .fwd_s = t1 - t0, .bwd_s = t2 - t1, .opt_s = t3 - t2};
}

void train_csv_step_header(FILE *f, const OptimizerDef *def, const Model *m, bool loss_mean)
{
    fprintf(f, "step,epoch,loss,%slr,fwd,bwd,seconds,fallback", loss_mean ? "loss_mean," : "");
    for (int i = 0; i < def->n_extra; i++) fprintf(f, ",%s", def->extra_cols[i]);
    if (m && m->ops->analytic)
        for (int i = 0; i < m->tensors->n; i++) fprintf(f, ",%s", m->tensors->t[i].name);
    fputc('\n', f);
}

void train_csv_step_row(FILE *f, const OptimizerDef *def, const StepRow *row, bool timing,
                        const double *point, int n_point)
{
    char lb[32], lrb[32], sb[32];
    train_fmt_num(lb, sizeof lb, row->loss);
    train_fmt_num(lrb, sizeof lrb, row->info.lr);
    train_fmt_num(sb, sizeof sb, timing ? row->seconds : NAN);
    if (!isfinite(row->loss)) snprintf(lb, sizeof lb, "%s", isnan(row->loss) ? "nan" : "inf");
    fprintf(f, "%ld,%d,%s", row->step, row->epoch, lb);
    if (row->has_mean) {
        char mb[32];
        train_fmt_num(mb, sizeof mb, row->loss_mean);
        if (!isfinite(row->loss_mean)) snprintf(mb, sizeof mb, "%s", isnan(row->loss_mean) ? "nan" : "inf");
        fprintf(f, ",%s", mb);
    }
    fprintf(f, ",%s,%ld,%ld,%s,%s", lrb, row->fwd, row->bwd, sb,
            row->info.fallback ? row->info.fallback : "");
    for (int i = 0; i < def->n_extra; i++) {
        char xb[32];
        train_fmt_num(xb, sizeof xb, row->info.extra[i]);
        if (!isfinite(row->info.extra[i]) && !isnan(row->info.extra[i]))
            snprintf(xb, sizeof xb, "inf");
        fprintf(f, ",%s", xb);
    }
    for (int i = 0; point && i < n_point; i++) fprintf(f, ",%.9g", point[i]);
    fputc('\n', f);
}

/* ---- evaluation ------------------------------------------------------------ */

void train_evaluate(Model *m, const Dataset *ds, int eval_batch, double *loss, double *acc,
                    void (*tick)(void *), void *ctx)
{
    size_t sz = (size_t)ds->c * ds->h * ds->w;
    double total = 0;
    long correct = 0;
    bool has_acc = true;
    for (int i = 0; i < ds->n; i += eval_batch) {
        int B = LQA_MIN(eval_batch, ds->n - i);
        int nc = 0;
        double l = model_forward(m, m->params, ds->x + (size_t)i * sz, ds->y + i, B, FWD_EVAL, &nc);
        total += l * B;
        correct += nc;
        has_acc = has_acc && nc >= 0; /* < 0: a regression model, no accuracy */
        if (tick) tick(ctx);
    }
    *loss = total / ds->n;
    *acc = has_acc ? (double)correct / ds->n : NAN;
}

/* One row of the per-epoch CSV: the evaluations the config asks for. */
static void epoch_row(const TrainState *s, const SweepConfig *c, const TrainData *d,
                      const TrainOut *out, const TrainHooks *h, double epoch, RunResult *res)
{
    double tl = NAN, vl = NAN, va = NAN, hl = NAN, ha = NAN, dummy;
    if (c->eval_train) train_evaluate(s->m, d->train, c->eval_batch, &tl, &dummy, h->tick, h->ctx);
    if (c->eval_test && d->test)
        train_evaluate(s->m, d->test, c->eval_batch, &vl, &va, h->tick, h->ctx);
    if (d->val) train_evaluate(s->m, d->val, c->eval_batch, &hl, &ha, h->tick, h->ctx);
    char a[32], b[32], e[32], g[32], k[32], l[32];
    train_fmt_num(a, sizeof a, tl);
    train_fmt_num(b, sizeof b, vl);
    train_fmt_num(e, sizeof e, va);
    train_fmt_num(g, sizeof g, out->timing ? s->seconds : NAN);
    train_fmt_num(k, sizeof k, hl);
    train_fmt_num(l, sizeof l, ha);
    fprintf(out->epochs, "%g,%ld,%s,%s,%s,%s,%s,%s\n", epoch, s->step, a, b, e, g, k, l);
    res->train_loss = tl;
    res->test_loss = vl;
    res->test_acc = va;
    res->val_loss = hl;
    res->val_acc = ha;
}

/* ---- one run ----------------------------------------------------------------- */

void train_result_reset(RunResult *res)
{
    memset(res, 0, sizeof *res);
    res->final_loss = res->train_loss = res->test_loss = res->test_acc = NAN;
    res->val_loss = res->val_acc = NAN;
    snprintf(res->status, sizeof res->status, "done");
}

int train_begin(TrainState *s, const SweepConfig *c, const RunSpec *r, Model *m,
                const Dataset *train, char *err)
{
    const OptEntry *e = &c->opts[r->opt];
    uint64_t seed = c->seeds[r->seed_i];
    Batcher b = {0};
    memset(s, 0, sizeof *s);
    model_init(m, c->init, seed);
    for (int i = 0; i < c->n_start; i++) m->params[i] = (float)c->start[i]; /* analytic models */
    if (batcher_init(&b, train, c->batch_size, c->shuffle, c->drop_last, seed, err)) return -1;
    long spe = batcher_steps_per_epoch(&b);
    if (train_state_init(s, m, e->def, e->hp, e->lrs[r->lr_i], &e->sched, spe, NULL, err)) {
        batcher_free(&b);
        return -1;
    }
    s->batcher = b;
    s->total = c->steps ? c->steps : c->epochs * spe;
    return 0;
}

/* The divergence rule: the lower median of the last (up to) `window` batch
 * losses above factor × the first step's loss. A median, not one batch, so that
 * a single spike the method recovers from does not end the run. The ratio is
 * only meaningful for a positive first loss (a cross-entropy always is; a test
 * function's f may be ≤ 0, where factor × it would be below every loss): with a
 * first loss ≤ 0 only the non-finite checks apply. */
static double lower_median(const double *v, int k)
{
    double s[CFG_DIVERGE_WINDOW_MAX];
    for (int i = 0; i < k; i++) { /* insertion sort: k is small */
        double x = v[i];
        int j = i;
        for (; j > 0 && s[j - 1] > x; j--) s[j] = s[j - 1];
        s[j] = x;
    }
    return s[(k - 1) / 2];
}

/* After step row: true (res says why) when the run diverged. */
static bool diverged(TrainState *s, const SweepConfig *c, const StepRow *row, RunResult *res)
{
    long t = row->step;
    double loss0 = row->loss;
    if (!isfinite(loss0) || !isfinite(row->info.lr)) {
        snprintf(res->status, sizeof res->status, "diverged");
        snprintf(res->reason, sizeof res->reason, "non-finite %s at step %ld",
                 isfinite(loss0) ? "step size" : "loss", t);
        return true;
    }
    if (t == 1) s->first_loss = loss0;
    if (c->diverge_factor > 0 && s->first_loss > 0) {
        s->recent[(t - 1) % c->diverge_window] = loss0;
        int k = (int)LQA_MIN(t, (long)c->diverge_window);
        double med = lower_median(s->recent, k);
        if (med > c->diverge_factor * s->first_loss) {
            snprintf(res->status, sizeof res->status, "diverged");
            snprintf(res->reason, sizeof res->reason,
                     "median batch loss of steps %ld-%ld is %.6g, above %g x the first step's loss %.6g",
                     t - k + 1, t, med, c->diverge_factor, s->first_loss);
            return true;
        }
    }
    return false;
}

/* The step's row of the per-step CSV: every step, or with steps_every N > 1 the
 * first step, every N-th, each epoch's last, each eval_every evaluation's, the
 * run's last and a stopping step, with the mean batch loss of the steps since
 * the previous row. */
static void log_step(TrainState *s, const SweepConfig *c, const TrainOut *out, StepRow *row,
                     bool last, const double *point, int n_point)
{
    long N = c->steps_every > 1 ? c->steps_every : 1, t = row->step;
    if (N > 1) {
        s->blk_sum += row->loss;
        s->blk_n++;
        bool eval = c->eval_every > 0 && t % c->eval_every == 0;
        if (!(last || eval || t == 1 || t % N == 0 || t % s->steps_per_epoch == 0 || t >= s->total))
            return;
        row->has_mean = true;
        row->loss_mean = s->blk_sum / (double)s->blk_n;
        s->blk_sum = 0;
        s->blk_n = 0;
    }
    train_csv_step_row(out->steps, s->opt.def, row, out->timing, point, n_point);
}

void train_run(TrainState *s, const SweepConfig *c, const RunSpec *r, const TrainData *d,
               const TrainOut *out, const TrainHooks *h, RunResult *res)
{
    const OptimizerDef *def = c->opts[r->opt].def;
    Batcher *b = &s->batcher;
    long spe = s->steps_per_epoch, total = s->total;
    Model *m = s->m;
    if (s->step == 0) { /* a fresh start (a restored state has them in its files) */
        train_csv_step_header(out->steps, def, m, c->steps_every > 1);
        fprintf(out->epochs, "epoch,step,train_loss,test_loss,test_acc,seconds,val_loss,val_acc\n");
        epoch_row(s, c, d, out, h, 0, res);
    }
    if (h->begin) h->begin(h->ctx);
    bool stop = false;
    for (; s->step < total && !stop; s->epoch++) {
        if (!s->in_epoch) batcher_start_epoch(b, s->epoch);
        s->in_epoch = true;
        const int *idx;
        int B;
        while (s->step < total && (B = batcher_next(b, &idx)) > 0) {
            if (out->batches) fwrite(idx, sizeof(int), (size_t)B, out->batches);
            StepRow row;
            double point[CFG_START_MAX]; /* an analytic model's point before the step */
            int n_point = m->ops->analytic ? (int)m->n_params : 0;
            for (int i = 0; i < n_point; i++) point[i] = m->params[i];
            train_step(s, b->x, b->y, B, &row);
            res->final_loss = row.loss;
            stop = diverged(s, c, &row, res);
            bool reached = !stop && c->has_stop_loss && row.loss <= c->stop_loss;
            log_step(s, c, out, &row, stop || reached, point, n_point);
            if (stop) break;
            if (reached) { /* status done */
                snprintf(res->reason, sizeof res->reason,
                         "stop_loss: loss %.9g <= %.9g at step %ld (before its update)", row.loss,
                         c->stop_loss, row.step);
                stop = true;
                epoch_row(s, c, d, out, h, (double)s->step / (double)spe, res);
                break;
            }
            long t = s->step;
            if (h->step) h->step(h->ctx, t, total, row.loss);
            /* eval_every: extra rows between epoch ends (an epoch end writes its own) */
            if (c->eval_every > 0 && t % c->eval_every == 0 && t % spe != 0 && t < total)
                epoch_row(s, c, d, out, h, (double)t / (double)spe, res);
            if (t < total && h->checkpoint) h->checkpoint(h->ctx, s, res, train_stop_signal != 0);
            if (t < total && train_stop_signal) {
                snprintf(res->status, sizeof res->status, "interrupted");
                stop = true;
                break;
            }
        }
        if (stop) break;
        s->in_epoch = false;
        if (!vec_all_finite(m->params, m->n_params)) {
            snprintf(res->status, sizeof res->status, "diverged");
            snprintf(res->reason, sizeof res->reason, "non-finite parameters after step %ld",
                     s->step);
            break;
        }
        epoch_row(s, c, d, out, h, (double)s->step / (double)spe, res);
    }
    res->steps = s->step;
    res->fwd = s->pc.fwd;
    res->bwd = s->bwd;
    res->seconds = s->seconds;
}
