/* model.c — model registry and common helpers. */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MODEL(id) extern const ModelOps model_##id;
#include "registry.h"
#undef MODEL

static const ModelOps *const REGISTRY[] = {
#define MODEL(id) &model_##id,
#include "registry.h"
#undef MODEL
};
enum { N_REGISTRY = sizeof REGISTRY / sizeof REGISTRY[0] };

const char *const CONV_ALGO_NAMES[CONV_ALGO_COUNT] = {"winograd2", "winograd4"};
static const char *const PROBE_BN_NAMES[] = {"batch", "eval"};

int conv_algo_parse(const char *name, ConvAlgo *out)
{
    int i = lqa_find_name(CONV_ALGO_NAMES, CONV_ALGO_COUNT, name);
    if (i < 0) return -1;
    *out = (ConvAlgo)i;
    return 0;
}

/* ---- model options ---------------------------------------------------------- */

const ModelOption MODEL_OPT_WIDTH = {
    .key = "width", .type = MOPT_INT, .def = 0, .lo = 1, .hi = 1 << 16,
    .offset = offsetof(ModelSpec, width),
    .doc = "base width instead of the architecture's (toy models for tests)"};
const ModelOption MODEL_OPT_PROBE_BN = {
    .key = "probe_bn", .type = MOPT_ENUM, .def = PROBE_BN_BATCH, .names = PROBE_BN_NAMES,
    .n_names = 2, .offset = offsetof(ModelSpec, probe_bn), .always_recorded = true,
    .doc = "batch-norm statistics of probes: batch or eval"};
const ModelOption MODEL_OPT_CONV_ALGO = {
    .key = "conv_algo", .type = MOPT_ENUM, .def = CONV_WINOGRAD2, .names = CONV_ALGO_NAMES,
    .n_names = CONV_ALGO_COUNT, .offset = offsetof(ModelSpec, conv_algo), .always_recorded = true,
    .doc = "Winograd variant of the 3x3 convolutions"};
const ModelOption MODEL_OPT_DROPOUT = {
    .key = "dropout", .type = MOPT_REAL, .def = 0, .lo = 0, .hi = 1,
    .offset = offsetof(ModelSpec, dropout), .strict = true,
    .doc = "dropout probability of the model's dropout layers (0: none)"};

enum { MAX_OPTIONS = 32 };
static const ModelOption *g_options[MAX_OPTIONS];
static int g_n_options = -1;

/* The union of the registry's option tables, in registry order. */
static void collect_options(void)
{
    if (g_n_options >= 0) return;
    int n = 0;
    for (int i = 0; i < N_REGISTRY; i++)
        for (const ModelOption *const *o = REGISTRY[i]->options; o && *o; o++) {
            bool seen = false;
            for (int k = 0; k < n; k++) seen |= g_options[k] == *o;
            LQA_CHECK(seen || n < MAX_OPTIONS);
            if (!seen) g_options[n++] = *o;
        }
    g_n_options = n;
}

int model_option_count(void)
{
    collect_options();
    return g_n_options;
}

const ModelOption *model_option_get(int i)
{
    collect_options();
    return i >= 0 && i < g_n_options ? g_options[i] : NULL;
}

const ModelOption *model_option_find(const char *key)
{
    for (int i = 0; i < model_option_count(); i++)
        if (strcmp(g_options[i]->key, key) == 0) return g_options[i];
    return NULL;
}

int *model_option_field(ModelSpec *spec, const ModelOption *o)
{
    LQA_CHECK(o->type != MOPT_REAL);
    return (int *)((char *)spec + o->offset);
}

double model_option_value(const ModelSpec *spec, const ModelOption *o)
{
    const char *f = (const char *)spec + o->offset;
    return o->type == MOPT_REAL ? *(const double *)f : *(const int *)f;
}

void model_option_set(ModelSpec *spec, const ModelOption *o, double v)
{
    char *f = (char *)spec + o->offset;
    if (o->type == MOPT_REAL) *(double *)f = v;
    else *(int *)f = (int)v;
}

bool model_uses_option(const ModelOps *ops, const ModelOption *o)
{
    for (const ModelOption *const *q = ops->options; q && *q; q++)
        if (*q == o) return true;
    return false;
}

void model_option_defaults(ModelSpec *spec)
{
    for (int i = 0; i < model_option_count(); i++) model_option_set(spec, g_options[i], g_options[i]->def);
}

const ModelOps *model_find(const char *name)
{
    for (int i = 0; i < N_REGISTRY; i++)
        if (strcmp(REGISTRY[i]->name, name) == 0) return REGISTRY[i];
    return NULL;
}

const char *model_names(void)
{
    static char buf[256];
    if (!buf[0]) {
        for (int i = 0; i < N_REGISTRY; i++) {
            if (i) strncat(buf, ", ", sizeof buf - strlen(buf) - 1);
            strncat(buf, REGISTRY[i]->name, sizeof buf - strlen(buf) - 1);
        }
    }
    return buf;
}

/* ---- tensor tables ------------------------------------------------------------ */

static TensorDecl *declare(TensorTable *tab, const char *name, TensorInit init, int fan_in)
{
    LQA_CHECK(tab->n < MODEL_MAX_TENSORS && strlen(name) < TENSOR_NAME_LEN);
    TensorDecl *t = &tab->t[tab->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->init = init;
    t->fan_in = fan_in;
    t->off = tab->total;
    return t;
}

size_t model_param(Model *m, const char *name, TensorInit init, int fan_in, int ndim, ...)
{
    LQA_CHECK(ndim >= 1 && ndim <= TENSOR_MAX_DIM && (init != TENSOR_UNIFORM || fan_in > 0));
    TensorDecl *t = declare(m->tensors, name, init, fan_in);
    va_list ap;
    va_start(ap, ndim);
    t->ndim = ndim;
    t->n = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = va_arg(ap, int);
        LQA_CHECK(t->shape[i] > 0);
        t->n *= (size_t)t->shape[i];
    }
    va_end(ap);
    m->tensors->total += t->n;
    return t->off;
}

size_t model_buffer(Model *m, const char *name, TensorInit init, int n)
{
    LQA_CHECK(n > 0 && init != TENSOR_UNIFORM);
    TensorDecl *t = declare(m->buffers, name, init, 0);
    t->ndim = 1;
    t->shape[0] = n;
    t->n = (size_t)n;
    m->buffers->total += t->n;
    return t->off;
}

const TensorDecl *model_tensor_at(const Model *m, size_t i)
{
    for (int k = 0; m->tensors && k < m->tensors->n; k++)
        if (i - m->tensors->t[k].off < m->tensors->t[k].n) return &m->tensors->t[k];
    return NULL;
}

int model_create(Model *m, const char *name, const ModelSpec *spec, char *err)
{
    memset(m, 0, sizeof *m);
    const ModelOps *ops = model_find(name);
    if (!ops) return lqa_errf(err, "unknown model \"%s\" (known: %s)", name, model_names());
    m->ops = ops;
    m->spec = *spec;
    if (!(m->tensors = calloc(1, sizeof *m->tensors)) || !(m->buffers = calloc(1, sizeof *m->buffers))) {
        model_free(m);
        return lqa_errf(err, "%s: out of memory", name);
    }
    if (ops->create(m, err) != 0) {
        model_free(m);
        return -1;
    }
    m->n_params = m->tensors->total;
    m->n_state = m->buffers->total;
    if (!(m->params = lqa_alloc(m->n_params * sizeof(float), err)) ||
        !(m->grads = lqa_alloc(m->n_params * sizeof(float), err)) ||
        (m->n_state && !(m->state = lqa_alloc(m->n_state * sizeof(float), err)))) {
        size_t np = m->n_params;
        model_free(m);
        return lqa_errf(err, "model %s: out of memory for its %zu parameters", name, np);
    }
    return 0;
}

static void init_table(const TensorTable *tab, float *p, Rng *rng)
{
    for (int k = 0; k < tab->n; k++) {
        const TensorDecl *t = &tab->t[k];
        if (t->init == TENSOR_UNIFORM)
            init_uniform(p + t->off, t->n, 1.0f / sqrtf((float)t->fan_in), rng);
        else
            for (size_t i = 0; i < t->n; i++) p[t->off + i] = t->init == TENSOR_ONES ? 1.0f : 0.0f;
    }
}

void init_uniform(float *p, size_t n, float bound, Rng *rng)
{
    for (size_t i = 0; i < n; i++) p[i] = rng_uniform(rng, -bound, bound);
}

void model_init(Model *m, InitKind kind, uint64_t seed)
{
    Rng rng;
    m->seed = seed;
    m->step = 0;
    rng_seed(&rng, seed, RNG_STREAM_INIT);
    init_table(m->tensors, m->params, &rng);
    if (m->state) init_table(m->buffers, m->state, &rng); /* no draws: resets the state */
    if (kind == INIT_ZEROS) memset(m->params, 0, m->n_params * sizeof(float));
}

void model_free(Model *m)
{
    if (m->ops && m->ops->destroy) m->ops->destroy(m);
    m->impl = NULL;
    lqa_free(m->params);
    lqa_free(m->grads);
    lqa_free(m->state);
    m->params = m->grads = m->state = NULL;
    free(m->tensors);
    free(m->buffers);
    m->tensors = m->buffers = NULL;
}
