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

int conv_algo_parse(const char *name, ConvAlgo *out)
{
    for (int i = 0; i < CONV_ALGO_COUNT; i++)
        if (strcmp(name, CONV_ALGO_NAMES[i]) == 0) {
            *out = (ConvAlgo)i;
            return 0;
        }
    return -1;
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
