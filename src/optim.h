/* optim.h — the optimizer interface.
 *
 * Optimizers see only flat vectors (theta, g, both n floats) plus a closure
 * that returns the loss of the *current mini-batch* at any trial vector (a
 * probe). The closure counts forward passes in one place, so the per-step CSV's
 * `fwd` column includes every probe. Trial points must be written into
 * ctx->scratch (theta + c·v), never by adding to and subtracting from theta.
 *
 * Adding an optimizer: write src/optim/<name>.c defining
 * `const OptimizerDef optdef_<ident>` and add one OPT(...) line to
 * src/optim/registry.h. */
#ifndef LQA_OPTIM_H
#define LQA_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

#define OPT_MAX_HP 16
#define OPT_MAX_EXTRA 6

typedef struct ProbeFn {
    /* Loss of the current batch at theta' (double). One forward pass. */
    double (*loss)(void *ctx, const float *theta);
    void *ctx;
} ProbeFn;

typedef struct StepCtx {
    long step;            /* 0-based global step index */
    int epoch;            /* 0-based epoch of this step */
    long steps_per_epoch; /* mini-batch steps per epoch */
    double loss0;         /* L0: batch loss at theta, from the forward that produced g */
    double lr;            /* classic methods: base rate in force (schedule applied) */
    ProbeFn probe;
    /* Loss of a held-out batch of the validation split at theta' (one forward
     * pass, counted like a probe); loss is NULL when the run gives none. Given
     * only to optimizers whose uses_validation names a setting. */
    ProbeFn val_probe;
    float *scratch;       /* n floats of scratch for trial points */
} StepCtx;

typedef struct StepInfo {
    double lr;                    /* step size actually applied (base rate for per-coordinate methods) */
    const char *fallback;         /* NULL, or the name of the fallback taken */
    double extra[OPT_MAX_EXTRA];  /* method-specific columns (OptimizerDef.extra_cols) */
} StepInfo;

typedef enum { HP_NUM = 0, HP_BOOL = 1, HP_ENUM = 2 } HpType;

typedef struct HParamSpec {
    const char *name;
    HpType type;
    double def;        /* default (enum: index of the default choice; bool: 0/1) */
    double lo, hi;     /* valid range for HP_NUM */
    bool lo_open, hi_open; /* exclusive bounds */
    const char *choices;   /* HP_ENUM: "paper|reference" */
    const char *doc;       /* one line for the README / --help */
} HParamSpec;

/* What the sweep's `lr` means for a method (each OptimizerDef declares it):
 * LR_STEP     the step size (base rate under a schedule) of every step;
 * LR_INITIAL  the starting value of a quantity the method then adapts itself;
 * LR_UNUSED   nothing: the run is the same for every lr, which only names it.
 * A config that lists several lrs for an entry whose lr is LR_UNUSED is an error. */
typedef enum { LR_UNDECLARED = 0, LR_STEP, LR_INITIAL, LR_UNUSED } LrRole;

typedef struct Optimizer Optimizer;

/* One piece of an optimizer's state, for checkpoints: n bytes at p. */
typedef struct OptBlock {
    void *p;
    size_t n;
} OptBlock;
#define OPT_MAX_BLOCKS 8

typedef struct OptimizerDef {
    const char *name;
    const char *summary;
    const HParamSpec *hparams;
    int n_hparams;
    const char *const *extra_cols; /* names of the method's extra CSV columns */
    int n_extra;
    bool classic;                  /* lr is a base rate; schedules allowed */
    LrRole lr_role;                /* what lr means (for every setting unless lr_role_of) */
    const char *lr_doc;            /* one line for --optimizers: what lr is for this method */
    /* The role under these resolved hyperparameters, when it depends on them
     * (e.g. on a variant); may be NULL. */
    LrRole (*lr_role_of)(const double *hp);
    /* The hyperparameter whose value makes the method probe the validation
     * split (StepCtx.val_probe), or NULL when these settings do not (may be
     * NULL). A config that sets it needs a "validation" split. */
    const char *(*uses_validation)(const double *hp);
    /* Cross-field validation of resolved hyperparameters (may be NULL). */
    int (*validate)(const double *hp, char *err);
    /* Allocate state; o->n, o->hp and o->lr0 are set. */
    int (*init)(Optimizer *o, char *err);
    void (*step)(Optimizer *o, float *theta, const float *g, StepCtx *ctx, StepInfo *info);
    void (*destroy)(Optimizer *o);
    /* Everything the state carries from one step to the next, as blocks (at
     * most OPT_MAX_BLOCKS) into b; returns their number. Saved by a checkpoint
     * and restored into a state init made with the same hyperparameters. */
    int (*state_blocks)(Optimizer *o, OptBlock *b);
} OptimizerDef;

struct Optimizer {
    const OptimizerDef *def;
    size_t n;
    double hp[OPT_MAX_HP]; /* resolved hyperparameters, in def->hparams order */
    double lr0;            /* the sweep's lr */
    void *state;           /* private, freed by destroy */
};

const OptimizerDef *optim_find(const char *name);
const char *optim_names(void);
/* Index of a hyperparameter by name in def, or -1. */
int optim_hparam_index(const OptimizerDef *def, const char *name);
/* What lr means for def under the resolved hyperparameters hp. */
LrRole optim_lr_role(const OptimizerDef *def, const double *hp);
/* "step size", "initial value", "unused" (for messages and the reference). */
const char *optim_lr_role_name(LrRole r);
/* HP_ENUM: the choices of s as an array: names[i] points into buf (n bytes, a
 * copy of s->choices split at '|'); returns their number (at most max). */
#define OPT_MAX_CHOICES 16
int optim_choices(const HParamSpec *s, char *buf, size_t n, const char **names, int max);
/* Set defaults into hp. */
void optim_hparam_defaults(const OptimizerDef *def, double *hp);
/* Check one value against its spec; on error writes "<value> ..." message. */
int optim_hparam_check(const HParamSpec *s, double v, char *err);

int optim_create(Optimizer *o, const OptimizerDef *def, const double *hp,
                 double lr0, size_t n, char *err);
void optim_free(Optimizer *o);
/* Iterate the registry (for --help and the README). */
int optim_registry_size(void);
const OptimizerDef *optim_registry_get(int i);

#endif
