/* optim.c — optimizer registry and hyperparameter validation. */
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

#define OPT(id) extern const OptimizerDef optdef_##id;
#include "optim/registry.h"
#undef OPT

static const OptimizerDef *const REGISTRY[] = {
#define OPT(id) &optdef_##id,
#include "optim/registry.h"
#undef OPT
};
enum { N_REGISTRY = sizeof REGISTRY / sizeof REGISTRY[0] };

const OptimizerDef *optim_find(const char *name)
{
    for (int i = 0; i < N_REGISTRY; i++)
        if (strcmp(REGISTRY[i]->name, name) == 0) return REGISTRY[i];
    return NULL;
}

const char *optim_names(void)
{
    static char buf[512];
    if (!buf[0]) {
        for (int i = 0; i < N_REGISTRY; i++) {
            if (i) strncat(buf, ", ", sizeof buf - strlen(buf) - 1);
            strncat(buf, REGISTRY[i]->name, sizeof buf - strlen(buf) - 1);
        }
    }
    return buf;
}

int optim_registry_size(void) { return N_REGISTRY; }
const OptimizerDef *optim_registry_get(int i) { return (i >= 0 && i < N_REGISTRY) ? REGISTRY[i] : NULL; }

int optim_hparam_index(const OptimizerDef *def, const char *name)
{
    for (int i = 0; i < def->n_hparams; i++)
        if (strcmp(def->hparams[i].name, name) == 0) return i;
    return -1;
}

LrRole optim_lr_role(const OptimizerDef *def, const double *hp)
{
    return def->lr_role_of ? def->lr_role_of(hp) : def->lr_role;
}

const char *optim_lr_role_name(LrRole r)
{
    switch (r) {
    case LR_STEP: return "step size";
    case LR_INITIAL: return "initial value";
    case LR_UNUSED: return "unused";
    default: return "undeclared";
    }
}

void optim_hparam_defaults(const OptimizerDef *def, double *hp)
{
    LQA_CHECK(def->n_hparams <= OPT_MAX_HP);
    for (int i = 0; i < def->n_hparams; i++) hp[i] = def->hparams[i].def;
}

int optim_hparam_check(const HParamSpec *s, double v, char *err)
{
    if (s->type != HP_NUM) return 0;
    if (!isfinite(v)) return lqa_errf(err, "must be a finite number");
    bool lo_bad = s->lo_open ? !(v > s->lo) : !(v >= s->lo);
    bool hi_bad = s->hi_open ? !(v < s->hi) : !(v <= s->hi);
    if (lo_bad || hi_bad)
        return lqa_errf(err, "%g is out of range %c%g, %g%c", v, s->lo_open ? '(' : '[',
                        s->lo, s->hi, s->hi_open ? ')' : ']');
    return 0;
}

int optim_create(Optimizer *o, const OptimizerDef *def, const double *hp, double lr0,
                 size_t n, char *err)
{
    memset(o, 0, sizeof *o);
    o->def = def;
    o->n = n;
    o->lr0 = lr0;
    memcpy(o->hp, hp, sizeof(double) * (size_t)def->n_hparams);
    if (def->validate && def->validate(o->hp, err) != 0) return -1;
    return def->init ? def->init(o, err) : 0;
}

void optim_free(Optimizer *o)
{
    if (o->def && o->def->destroy) o->def->destroy(o);
    o->state = NULL;
}

int optim_choices(const HParamSpec *s, char *buf, size_t n, const char **names, int max)
{
    snprintf(buf, n, "%s", s->choices ? s->choices : "");
    int k = 0;
    for (char *q = buf; *q && k < max;) {
        names[k++] = q;
        q += strcspn(q, "|");
        if (*q) *q++ = 0;
    }
    return k;
}
