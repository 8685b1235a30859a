/* model.c — model registry and common helpers. */
#include "model.h"

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
    "width", MOPT_INT, 0, 1, 1 << 16, NULL, 0, offsetof(ModelSpec, width), false,
    "base width instead of the architecture's (toy models for tests)"};
const ModelOption MODEL_OPT_PROBE_BN = {
    "probe_bn", MOPT_ENUM, PROBE_BN_BATCH, 0, 0, PROBE_BN_NAMES, 2, offsetof(ModelSpec, probe_bn),
    true, "batch-norm statistics of probes: batch or eval"};
const ModelOption MODEL_OPT_CONV_ALGO = {
    "conv_algo", MOPT_ENUM, CONV_WINOGRAD2, 0, 0, CONV_ALGO_NAMES, CONV_ALGO_COUNT,
    offsetof(ModelSpec, conv_algo), true, "Winograd variant of the 3x3 convolutions"};

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
    return (int *)((char *)spec + o->offset);
}

int model_option_value(const ModelSpec *spec, const ModelOption *o)
{
    return *(const int *)((const char *)spec + o->offset);
}

void model_option_defaults(ModelSpec *spec)
{
    for (int i = 0; i < model_option_count(); i++) *model_option_field(spec, g_options[i]) = g_options[i]->def;
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

int model_create(Model *m, const char *name, const ModelSpec *spec, char *err)
{
    memset(m, 0, sizeof *m);
    const ModelOps *ops = model_find(name);
    if (!ops) return lqa_errf(err, "unknown model \"%s\" (known: %s)", name, model_names());
    m->ops = ops;
    m->spec = *spec;
    if (ops->create(m, err) != 0) {
        model_free(m);
        return -1;
    }
    return 0;
}

void init_uniform(float *p, size_t n, float bound, Rng *rng)
{
    for (size_t i = 0; i < n; i++) p[i] = rng_uniform(rng, -bound, bound);
}

void model_init(Model *m, InitKind kind, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed, RNG_STREAM_INIT);
    m->ops->init_default(m, &rng); /* also resets non-trainable state */
    if (kind == INIT_ZEROS) memset(m->params, 0, m->n_params * sizeof(float));
}

void model_free(Model *m)
{
    if (m->ops && m->ops->destroy) m->ops->destroy(m);
    m->impl = NULL;
}
