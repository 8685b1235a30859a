/* summary.c — summary.csv and the closing table of a sweep (summary.h). */
#include "summary.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "afile.h"
#include "common.h"
#include "runlock.h"
#include "runmeta.h"
#include "train.h"

/* A loss for the summary table: 5 decimals, so that decimal points line up;
 * scientific notation only outside [1e-5, 1e6). "-" when not measured. */
static void fmt_loss(char *buf, size_t n, double v)
{
    if (isnan(v)) snprintf(buf, n, "-");
    else if (v != 0 && (fabs(v) < 1e-5 || fabs(v) >= 1e6)) snprintf(buf, n, "%.4e", v);
    else snprintf(buf, n, "%.5f", v);
}

/* then one column per swept hyperparameter or model option (SweepConfig.grid_cols) */
static const char *SUMMARY_HEADER =
    "run,model,dataset,optimizer,label,lr,seed,status,steps,final_loss,train_loss,test_loss,"
    "test_acc,seconds,sec_per_step,fwd,bwd,csv,epochs_csv";

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

typedef struct SummaryRow {
    char run[160], opt[32], label[CFG_NAME_LEN], status[16], csv[200], ecsv[200];
    double lr, seed, steps, final_loss, train_loss, test_loss, test_acc, seconds, fwd, bwd;
    bool present;
} SummaryRow;

/* The summary row of run r: complete and failed runs have one. *state
 * receives the run's state, why its reason. */
static bool read_summary_row(const SweepConfig *c, const RunSpec *r, SummaryRow *row,
                             RunState *state, char *why, size_t n)
{
    memset(row, 0, sizeof *row);
    cJSON *root = NULL;
    *state = run_state(c, r, &root, why, n);
    if (*state == RUN_COMPLETE || *state == RUN_FAILED) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "result");
        const OptEntry *e = &c->opts[r->opt];
        snprintf(row->run, sizeof row->run, "%s", r->id);
        snprintf(row->opt, sizeof row->opt, "%s", e->def->name);
        snprintf(row->label, sizeof row->label, "%s", e->label);
        snprintf(row->status, sizeof row->status, "%s", st->valuestring);
        snprintf(row->csv, sizeof row->csv, "%s.steps.csv", r->id);
        snprintf(row->ecsv, sizeof row->ecsv, "%s.epochs.csv", r->id);
        row->lr = e->lrs[r->lr_i];
        row->seed = (double)c->seeds[r->seed_i];
        row->steps = jnum(res, "steps");
        row->final_loss = jnum(res, "final_loss");
        row->train_loss = jnum(res, "train_loss");
        row->test_loss = jnum(res, "test_loss");
        row->test_acc = jnum(res, "test_acc");
        row->seconds = jnum(res, "seconds");
        row->fwd = jnum(res, "fwd");
        row->bwd = jnum(res, "bwd");
        row->present = true;
    }
    cJSON_Delete(root);
    return row->present;
}

/* One line of summary.csv: SUMMARY_HEADER's columns, then the grid's. */
static void write_csv_row(FILE *f, const SweepConfig *c, const RunSpec *r, const SummaryRow *row)
{
    char v[10][32];
    double vals[10] = {row->lr, row->seed, row->steps, row->final_loss, row->train_loss,
                       row->test_loss, row->test_acc, row->seconds,
                       row->steps > 0 ? row->seconds / row->steps : NAN, row->fwd};
    for (int k = 0; k < 10; k++) train_fmt_num(v[k], sizeof v[k], vals[k]);
    char bw[32];
    train_fmt_num(bw, sizeof bw, row->bwd);
    fprintf(f, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s", row->run, c->model,
            c->dataset, row->opt, row->label, v[0], v[1], row->status, v[2], v[3], v[4], v[5], v[6],
            v[7], v[8], v[9], bw, row->csv, row->ecsv);
    for (int k = 0; k < c->n_grid_cols; k++) {
        double gv;
        char gs[32] = "";
        if (config_grid_value(c, r, k, &gv)) train_fmt_num(gs, sizeof gs, gv);
        fprintf(f, ",%s", gs);
    }
    fputc('\n', f);
}

/* One line of the table on stdout. */
static void print_table_row(const SummaryRow *row)
{
    char fl[32], tl[32], ta[32] = "-", ms[32] = "-";
    fmt_loss(fl, sizeof fl, row->final_loss);
    fmt_loss(tl, sizeof tl, row->train_loss);
    if (!isnan(row->test_acc)) snprintf(ta, sizeof ta, "%.2f", 100.0 * row->test_acc);
    if (row->steps > 0 && !isnan(row->seconds))
        snprintf(ms, sizeof ms, "%.3f", 1e3 * row->seconds / row->steps);
    printf("%-34s %-9s %7.0f %12s %12s %10s %10s\n", row->run, row->status, row->steps, fl, tl, ta,
           ms);
}

int summary_write(const SweepConfig *c, bool print_table, int *n_complete, int *n_stale,
                  char *err)
{
    char p[RUNLOCK_PATH_BUF];
    snprintf(p, sizeof p, "%s/summary.csv", c->output_dir);
    AFile a;
    *n_complete = *n_stale = 0;
    if (mkdir_p(c->output_dir, err) || afile_open(&a, p, err)) return -1;
    fputs(SUMMARY_HEADER, a.f);
    for (int k = 0; k < c->n_grid_cols; k++) fprintf(a.f, ",%s", c->grid_cols[k].name);
    fputc('\n', a.f);
    int n = config_n_runs(c), have = 0, failed = 0;
    if (print_table)
        printf("\n%-34s %-9s %7s %12s %12s %10s %10s\n", "run", "status", "steps", "final_loss",
               "train_loss", "test_acc %", "ms/step");
    for (int i = 0; i < n; i++) {
        RunSpec r;
        SummaryRow row;
        RunState state;
        char why[LQA_ERR_LEN];
        config_run(c, i, &r);
        if (!read_summary_row(c, &r, &row, &state, why, sizeof why)) {
            if (state == RUN_STALE) {
                fprintf(stderr, "lqabench: %s: made with another config (%s): not in summary.csv\n",
                        r.id, why);
                (*n_stale)++;
            }
            continue;
        }
        if (state == RUN_COMPLETE) have++;
        else failed++;
        write_csv_row(a.f, c, &r, &row);
        if (print_table) print_table_row(&row);
    }
    if (afile_commit(&a, err)) return -1;
    if (print_table) {
        printf("%d of %d run%s complete", have, n, n == 1 ? "" : "s");
        if (failed) printf(", %d failed", failed);
        printf("; summary: %s\n", p);
    }
    *n_complete = have;
    return 0;
}
