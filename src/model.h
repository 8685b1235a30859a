/* model.h — the model interface.
 *
 * A model owns one flat parameter vector `params[n_params]` and a gradient
 * vector `grads[n_params]` with the same layout, plus separate non-trainable
 * state `state[n_state]` (batch-norm running statistics) that no optimizer sees.
 * Layout views store offsets, so a forward can run at *any* parameter vector
 * (e.g. an optimizer's trial point) without copying.
 *
 * Three kinds of forward:
 *   FWD_TRAIN  caches activations for backward; the only kind that updates
 *              running statistics (batch norm uses batch statistics).
 *   FWD_PROBE  same objective as TRAIN (batch statistics), writes only its own
 *              scratch; leaves params, grads, state and the TRAIN caches
 *              bit-identical.
 *   FWD_EVAL   running statistics; writes only scratch.
 */
#ifndef LQA_MODEL_H
#define LQA_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "rng.h"

typedef enum { FWD_TRAIN = 0, FWD_PROBE = 1, FWD_EVAL = 2 } FwdMode;

typedef enum { INIT_DEFAULT = 0, INIT_ZEROS = 1 } InitKind;

/* Options for probes under batch norm: "batch" (default) or "eval"
 * (the authors' code probes in eval mode). */
typedef enum { PROBE_BN_BATCH = 0, PROBE_BN_EVAL = 1 } ProbeBn;

/* Winograd variant of the 3×3 stride-1 convolutions with ≥ 16 channels
 * (ResNet-18's bulk; other models have none): "winograd2" (default) F(2×2, 3×3),
 * as accurate as PyTorch's float32 convolution; "winograd4" F(4×4, 3×3) on
 * planes of 8×8 and more, faster but about 10× the rounding error (see conv.h). */
typedef enum { CONV_WINOGRAD2 = 0, CONV_WINOGRAD4 = 1 } ConvAlgo;
#define CONV_ALGO_COUNT 2
extern const char *const CONV_ALGO_NAMES[CONV_ALGO_COUNT]; /* by ConvAlgo value */
/* name → *out; -1 if unknown */
int conv_algo_parse(const char *name, ConvAlgo *out);

typedef struct ModelSpec {
    int in_c, in_h, in_w; /* input shape (e.g. 1×28×28, 3×32×32) */
    int n_classes;
    int max_batch;        /* largest batch any forward will see */
    /* The model options (ModelOption, config keys of the same names): */
    int width;            /* base width override (0 = architecture default); for toy tests */
    int probe_bn;         /* ProbeBn */
    int conv_algo;        /* ConvAlgo */
    double dropout;       /* dropout probability p in [0, 1); 0: no dropout layers */
} ModelSpec;

/* A model option: a config key whose value lands in a field of ModelSpec: an
 * int (MOPT_INT, MOPT_ENUM) or a double (MOPT_REAL). The models that use an
 * option list it in ModelOps.options; the config accepts the options of every
 * model (model_option_get) — a `strict` one at a value other than its default
 * only for a model that lists it. */
typedef enum { MOPT_INT = 0, MOPT_ENUM = 1, MOPT_REAL = 2 } ModelOptType;
typedef struct ModelOption {
    const char *key;          /* config key = ModelSpec field */
    ModelOptType type;
    double def;               /* default (MOPT_ENUM: index into names) */
    double lo, hi;            /* the range of a value given: MOPT_INT [lo, hi],
                                 MOPT_REAL [lo, hi) */
    const char *const *names; /* MOPT_ENUM: value names, by value */
    int n_names;
    size_t offset;            /* offsetof(ModelSpec, field) */
    bool always_recorded;     /* a run's .json records it even when it is the default */
    bool strict;              /* a config error when set for a model that does not read it */
    const char *doc;
} ModelOption;
extern const ModelOption MODEL_OPT_WIDTH, MODEL_OPT_PROBE_BN, MODEL_OPT_CONV_ALGO, MODEL_OPT_DROPOUT;
/* The options of every model of the registry, each once: i in [0, model_option_count()). */
int model_option_count(void);
const ModelOption *model_option_get(int i);
const ModelOption *model_option_find(const char *key);
/* The int field of spec that option o sets (MOPT_INT, MOPT_ENUM). */
int *model_option_field(ModelSpec *spec, const ModelOption *o);
/* Any option's value (an int option's as a double), and setting it. */
double model_option_value(const ModelSpec *spec, const ModelOption *o);
void model_option_set(ModelSpec *spec, const ModelOption *o, double v);

/* Every option at its default. */
void model_option_defaults(ModelSpec *spec);

/* The table of a model's tensors: its parameters (in the flat vector's order,
 * = PyTorch's model.parameters()) and its buffers (non-trainable state, =
 * model.buffers()). A model's create declares them (model_param,
 * model_buffer); the generic code allocates one parameter block (params,
 * grads) and one state block, initialises them in table order and frees them. */
typedef enum {
    TENSOR_UNIFORM = 0, /* U(±1/√fan_in), PyTorch's default for weights and biases */
    TENSOR_ONES = 1,    /* batch-norm γ, running variance */
    TENSOR_ZEROS = 2,   /* batch-norm β, running mean */
} TensorInit;

#define TENSOR_NAME_LEN 40
#define TENSOR_MAX_DIM 4
typedef struct TensorDecl {
    char name[TENSOR_NAME_LEN]; /* PyTorch's name, e.g. "layer2.0.conv1.weight" */
    int ndim;
    int shape[TENSOR_MAX_DIM];
    size_t n;                   /* elements: the product of the shape */
    size_t off;                 /* offset in params (parameters) or state (buffers) */
    int fan_in;                 /* TENSOR_UNIFORM: the bound is 1/√fan_in */
    TensorInit init;
} TensorDecl;

#define MODEL_MAX_TENSORS 128
typedef struct TensorTable {
    TensorDecl t[MODEL_MAX_TENSORS];
    int n;
    size_t total; /* elements of all tensors */
} TensorTable;

typedef struct Model Model;

typedef struct ModelOps {
    const char *name;
    /* Declare the parameter tensors and buffers (model_param, model_buffer)
     * and allocate the model's own activations and scratch into m->impl. */
    int (*create)(Model *m, char *err);
    /* Mean cross-entropy of the batch x[B][in_c·in_h·in_w], labels y[B],
     * evaluated at theta (m->params for training). n_correct may be NULL. */
    double (*forward)(Model *m, const float *theta, const float *x, const int *y,
                      int B, FwdMode mode, int *n_correct);
    /* Gradient of the last FWD_TRAIN loss w.r.t. its theta, into m->grads. */
    void (*backward)(Model *m);
    void (*destroy)(Model *m);
    const ModelOption *const *options; /* the options it reads (NULL-terminated; may be NULL) */
    /* > 0: an analytic function of its parameter vector (n parameters, one
     * tensor each), no data: it runs with "dataset": "none", the config's
     * "start" sets the point, and the per-step CSV gets one column per
     * parameter (the point before the step). 0: a network on a data set. */
    int analytic;
    /* true: a regression model, for the data sets whose samples end with their
     * float target (DatasetDef.n_classes 0) and only for them; its forward
     * returns the mean squared error and sets *n_correct to -1 (no accuracy:
     * the CSVs' accuracy cells stay empty). */
    bool regression;
} ModelOps;

struct Model {
    const ModelOps *ops;
    ModelSpec spec;
    size_t n_params;
    float *params;
    float *grads;
    size_t n_state;
    float *state; /* may be NULL when n_state == 0 */
    void *impl;   /* model-private data */
    TensorTable *tensors, *buffers; /* the declared parameter tensors and buffers */
    /* The random function of the current step (dropout masks, nn/dropout.h):
     * model_init sets seed, the trainer sets step (0-based) before a step's
     * training forward; probes of that step run with the same values. */
    uint64_t seed;
    long step;
};

/* Does model ops read option o (list it in its options)? */
bool model_uses_option(const ModelOps *ops, const ModelOption *o);

/* For create: declare the next parameter tensor (shape: ndim ints) and return
 * its offset in params/grads. fan_in: for TENSOR_UNIFORM. */
size_t model_param(Model *m, const char *name, TensorInit init, int fan_in, int ndim, ...);
/* For create: declare the next buffer of n floats (TENSOR_ZEROS or TENSOR_ONES);
 * returns its offset in state. */
size_t model_buffer(Model *m, const char *name, TensorInit init, int n);
/* The parameter tensor holding flat index i (NULL when out of range). */
const TensorDecl *model_tensor_at(const Model *m, size_t i);

/* Registry lookup; NULL when unknown. */
const ModelOps *model_find(const char *name);
/* Comma-separated list of known model names (for error messages / --help). */
const char *model_names(void);

/* Create by name (m is filled; free with model_free). Allocates the parameter
 * block (params, grads) and the state block the model declared. */
int model_create(Model *m, const char *name, const ModelSpec *spec, char *err);
/* PyTorch's default init from the tensor table, drawn from the seed's init
 * stream in table order (U(±1/√fan_in) weights and biases, BN γ=1 β=0,
 * running mean 0 var 1); INIT_ZEROS then zeroes the parameters. */
void model_init(Model *m, InitKind kind, uint64_t seed);
void model_free(Model *m);

static inline double model_forward(Model *m, const float *theta, const float *x,
                                   const int *y, int B, FwdMode mode, int *n_correct)
{
    return m->ops->forward(m, theta, x, y, B, mode, n_correct);
}
static inline void model_backward(Model *m) { m->ops->backward(m); }

/* Helper for default init: fill n values U(-bound, bound). */
void init_uniform(float *p, size_t n, float bound, Rng *rng);

#endif
