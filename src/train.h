/* train.h — training: one step (train_step) and one run (train_run).
 *
 * train_step is the one definition of a training step: the forward FWD_TRAIN
 * at the parameters, the backward, and the optimizer's step with its probes
 * (the classic methods' rate from their schedule), giving one row of results.
 * The sweep (src/sweep.c) trains with train_run, tools/bench.c times
 * train_step, so timings measure exactly what training runs.
 *
 * Everything a run carries from one step to the next is in TrainState: the
 * step and epoch counters, the batcher (its permutation and position), the
 * optimizer and its state, the forward/backward counts, the training time and
 * the divergence window. A run is train_begin (model init, batcher, optimizer),
 * then train_run (the loop); a checkpoint would save and restore a TrainState
 * (with the optimizer's state and the model's parameters and buffers) between
 * the two: train_run goes on from s->step, s->epoch and, with in_epoch, the
 * batcher's position. */
#ifndef LQA_TRAIN_H
#define LQA_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "dataset.h"
#include "model.h"
#include "optim.h"
#include "probe.h"
#include "schedule.h"

typedef struct RunResult {
    char status[16];   /* done | diverged | failed */
    char reason[256];
    long steps, fwd, bwd;
    double final_loss; /* last step's batch loss */
    double train_loss, test_loss, test_acc; /* NAN when not evaluated */
    double val_loss, val_acc; /* NAN without a validation split */
    double seconds;    /* training wall time (no evaluation) */
} RunResult;

/* One step's row of results: the per-step CSV's columns. */
typedef struct StepRow {
    long step;        /* steps taken, this one included (1-based) */
    int epoch;        /* 1-based epoch of this step */
    double loss;      /* batch loss at the parameters before the step */
    bool has_mean;    /* steps_every > 1: the row carries loss_mean */
    double loss_mean; /* mean batch loss of the steps since the previous row, this one included */
    StepInfo info;    /* step size applied (NAN: no step), fallback, extra columns */
    long fwd, bwd;    /* forwards (probes included) and backwards so far */
    double seconds;   /* training time so far (no evaluation) */
    double fwd_s, bwd_s, opt_s; /* this step's phases: forward, backward, optimizer step */
} StepRow;

typedef struct TrainState {
    Model *m;               /* borrowed */
    Optimizer opt;          /* owned */
    const Schedule *sched;  /* borrowed: the classic methods' lr schedule */
    float *scratch;         /* n_params floats for trial points */
    bool own_scratch;
    ProbeCtx pc;            /* the current batch; pc.fwd counts forwards */
    long bwd;
    long step;              /* steps taken */
    int epoch;              /* 0-based epoch of the next step */
    long steps_per_epoch;
    long total;             /* steps of the run (train_begin) */
    double seconds;         /* training time so far */
    Batcher batcher;        /* train_begin's; unused by bare train_step users */
    bool in_epoch;          /* the batcher holds epoch `epoch` part-way (train_run goes on
                             * from its position instead of starting the epoch) */
    const Dataset *val;     /* borrowed: the validation split, for an optimizer that
                             * uses_validation (train_use_validation); else NULL */
    float *val_x;           /* the step's held-out batch (pc.vx, pc.vy: val_b samples) */
    int *val_y;
    int val_b;
    double recent[CFG_DIVERGE_WINDOW_MAX]; /* divergence rule: the last batch losses */
    double first_loss;
    double blk_sum;         /* steps_every > 1: batch losses since the last row written */
    long blk_n;
} TrainState;

/* A state for train_step: optimizer def with hyperparameters hp at rate lr0,
 * schedule sched (NULL: none), spe steps per epoch. scratch: n_params floats
 * the caller owns, or NULL to have one allocated. 0, or -1 with err. */
int train_state_init(TrainState *s, Model *m, const OptimizerDef *def, const double *hp,
                     double lr0, const Schedule *sched, long spe, float *scratch, char *err);
/* For an optimizer whose uses_validation names a setting: give its validation
 * probe (StepCtx.val_probe) batches of min(batch, val->n) samples of val (the
 * run's validation split). Step t (0-based) gets validation samples
 * (t·b + j) mod val->n, j = 0..b−1: the split in order, cycling, the same for
 * every seed and a function of the step alone (so a resumed run sees the same
 * batches). Nothing to do (0) for other optimizers; -1 with err when val is
 * NULL or empty. */
int train_use_validation(TrainState *s, const Dataset *val, int batch, char *err);
/* Free what train_state_init or train_begin allocated (s may be zeroed). */
void train_state_free(TrainState *s);

/* One training step on the batch x[B], y[B] at epoch s->epoch; fills row. */
void train_step(TrainState *s, const float *x, const int *y, int B, StepRow *row);

/* A number for the CSVs: %.9g, empty for NAN. */
void train_fmt_num(char *buf, size_t n, double v);
/* The per-step CSV: header (loss_mean after loss when loss_mean is true, def's
 * extra columns, then for an analytic model m the names of its parameters; m
 * may be NULL) and one row
 * (seconds left empty unless timing; point: the analytic model's parameters
 * before the step, n_point of them, or NULL). */
void train_csv_step_header(FILE *f, const OptimizerDef *def, const Model *m, bool loss_mean);
void train_csv_step_row(FILE *f, const OptimizerDef *def, const StepRow *row, bool timing,
                        const double *point, int n_point);

/* Mean loss and accuracy of model m on ds in batches of eval_batch (FWD_EVAL);
 * tick (may be NULL) is called after each batch. */
void train_evaluate(Model *m, const Dataset *ds, int eval_batch, double *loss, double *acc,
                    void (*tick)(void *), void *ctx);

/* Progress callbacks of train_run (each may be NULL). */
typedef struct TrainHooks {
    void (*begin)(void *ctx);                                  /* training starts */
    void (*step)(void *ctx, long step, long total, double loss); /* after each step */
    void (*tick)(void *ctx);                                   /* between evaluation batches */
    /* After a step: write a checkpoint when due (force: a stop was asked for). */
    void (*checkpoint)(void *ctx, TrainState *s, const RunResult *res, bool force);
    void *ctx;
} TrainHooks;

typedef struct TrainData {
    const Dataset *train;
    const Dataset *test; /* evaluated when the config's eval_test is on (may be NULL) */
    const Dataset *val;  /* the validation split (NULL: none) */
} TrainData;

typedef struct TrainOut {
    FILE *steps, *epochs; /* the per-step and per-epoch CSVs */
    FILE *batches;        /* the sample indices of every batch (NULL: not written) */
    bool timing;          /* write the seconds columns */
} TrainOut;

/* Set (to the signal's number) by a signal handler: train_run stops after the
 * current step, the checkpoint hook called with force, res->status "interrupted". */
extern volatile sig_atomic_t train_stop_signal;

/* res: every field "not measured" (NAN, 0), status done. */
void train_result_reset(RunResult *res);
/* Run r of config c from its start: initialise the model (init kind, seed),
 * the batcher and the optimizer into s. 0, or -1 with err (s is freed). */
int train_begin(TrainState *s, const SweepConfig *c, const RunSpec *r, Model *m,
                const Dataset *train, char *err);
/* The training loop of run r from state s: every step's row, the per-epoch
 * rows (before training, at each epoch end and every eval_every steps), the
 * divergence rule. res receives the outcome (status done or diverged, or
 * interrupted: see train_stop_signal). A state restored from a checkpoint
 * (s->step > 0) goes on from it: no headers, no row 0. */
void train_run(TrainState *s, const SweepConfig *c, const RunSpec *r, const TrainData *d,
               const TrainOut *out, const TrainHooks *hooks, RunResult *res);
#endif
