/* config.h — the JSON sweep configuration (the public interface; every key is
 * documented in README.md "Config reference"). */
#ifndef LQA_CONFIG_H
#define LQA_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "dataset.h"
#include "model.h"
#include "optim.h"
#include "schedule.h"

#define CFG_PATH_LEN 1024
#define CFG_NAME_LEN 96
#define CFG_CHECKPOINT_MINUTES 10
#define CFG_DIVERGE_FACTOR 100.0 /* default of "diverge": {"factor"} */
#define CFG_DIVERGE_WINDOW 10    /* default of "diverge": {"window"} */
#define CFG_DIVERGE_WINDOW_MAX 1000
#define CFG_START_MAX 8 /* parameters of an analytic model's "start" */
#define CFG_MAX_RUNS 1000000 /* runs per sweep (grid points x learning rates x seeds, summed) */
#define CFG_GRID_ID_LEN 128  /* the swept values of a run id besides lr and seed */

/* One point of an optimizer entry's grid: an entry of the config whose
 * hyperparameters (and model options) are single values. An entry without
 * lists is one OptEntry; one with lists is expanded into one OptEntry per
 * point of its grid (README "Grids"), all with the same src. */
typedef struct OptEntry {
    const OptimizerDef *def;
    char label[CFG_NAME_LEN]; /* run-id prefix: "label" key, else the name */
    double hp[OPT_MAX_HP];    /* resolved hyperparameters */
    bool hp_set[OPT_MAX_HP];  /* given explicitly in the config */
    double *lrs;
    int n_lrs;
    Schedule sched;           /* SCHED_NONE when absent */
    int src;                  /* position in the config's "optimizers" list */
    int model_i;              /* its model options: SweepConfig.models[model_i] */
    char grid_id[CFG_GRID_ID_LEN]; /* "_beta2-0.99_width-64"; "" when nothing is swept */
    int run0;                 /* index of its first run in the sweep */
} OptEntry;

/* A summary.csv column of a swept hyperparameter (mopt NULL) or model option. */
typedef struct GridCol {
    char name[32];
    const ModelOption *mopt;
} GridCol;

typedef struct SweepConfig {
    char path[CFG_PATH_LEN];       /* the config file as found */
    char name[CFG_NAME_LEN];
    char notes[1024];
    char model[32];
    char dataset[32];
    char data_dir[CFG_PATH_LEN];
    char output_dir[CFG_PATH_LEN];
    int batch_size;
    int eval_batch;
    long epochs;                   /* exactly one of epochs / steps is > 0 */
    long steps;
    long eval_every;               /* also evaluate every N steps (0 = at epoch ends only) */
    long steps_every;              /* per-step CSV: a row every N steps (1 = every step; the
                                    * first, epoch-end and last steps always) */
    long checkpoint_every;         /* write <run>.ckpt every N steps (0 = off) */
    long checkpoint_minutes;       /* and at least every N minutes (0 = off) */
    uint64_t *seeds;
    int n_seeds;
    InitKind init;
    bool shuffle, drop_last;
    int train_limit, test_limit;   /* 0 = all */
    int validation;                /* the last N training samples held out (0 = none) */
    Normalize normalize;
    bool eval_train, eval_test;
    ModelSpec model_opts;          /* the model options (ModelOption fields only) = models[0];
                                    * a run's own: config_run_model */
    ModelSpec *models;             /* one per point of the model options' grid */
    int n_models;
    GridCol *grid_cols;            /* swept keys besides lr and seed (summary.csv columns) */
    int n_grid_cols;
    int n_runs;
    double diverge_factor;         /* divergence rule: median batch loss of the last */
    int diverge_window;            /* diverge_window steps > factor × first loss (0: off) */
    bool dump_init, dump_batches;  /* cross-check aids */
    double start[CFG_START_MAX];   /* analytic models: the start point ("start") */
    int n_start;                   /* 0: not given */
    bool has_stop_loss;            /* "stop_loss": end a run at the first step whose */
    double stop_loss;              /* batch loss is <= stop_loss (status done) */
    OptEntry *opts;
    int n_opts;
} SweepConfig;

/* One run of the sweep: optimizer entry (grid point) × lr × seed, in that nesting order. */
typedef struct RunSpec {
    int index;       /* position in the sweep, 0-based */
    int opt, lr_i, seed_i;
    char id[160];    /* stable run id, e.g. "adam_lr0.001_s1" */
} RunSpec;

/* Locate a config: path as given, else configs/<path> next to the cwd or the
 * executable. Writes the found path into out. */
int config_find(const char *arg, char *out, size_t n, char *err);
/* Parse and validate; every error names the file and the key path. */
int config_load(SweepConfig *cfg, const char *path, char *err);
void config_free(SweepConfig *cfg);
/* Checks that need the data's size (read cheaply from the file headers):
 * batch_size must not exceed the training samples when drop_last is on.
 * Skipped when the data is not there. 0, or -1 with err naming the key. */
int config_check_data(const SweepConfig *cfg, char *err);
int config_n_runs(const SweepConfig *cfg);
void config_run(const SweepConfig *cfg, int index, RunSpec *run);
/* The model options of run r. */
const ModelSpec *config_run_model(const SweepConfig *cfg, const RunSpec *r);
/* The value of grid column k (SweepConfig.grid_cols) for run r: false when it
 * does not apply (the run's optimizer has no numeric hyperparameter of that name). */
bool config_grid_value(const SweepConfig *cfg, const RunSpec *r, int k, double *v);

#endif
