/* config_grid.c — grids: numeric keys given as lists expanded into the
 * sweep's model variants, optimizer entries and runs; run ids (unique, checked)
 * and summary.csv's grid columns; the run enumeration of config.h. */
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

typedef struct IdHash {
    uint64_t hash;
    int index;
} IdHash;

static uint64_t id_hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int cmp_idhash(const void *a, const void *b)
{
    const IdHash *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->index - y->index;
}

static int mopt_elem(P *p, const cJSON *v, const char *key, const void *spec, double *out)
{
    const ModelOption *o = spec;
    long x = 0;
    if (o->type == MOPT_REAL) {
        if (!cJSON_IsNumber(v)) FAIL(p, key, "must be a number");
        if (!(v->valuedouble >= o->lo && v->valuedouble < o->hi))
            FAIL(p, key, "%g is out of range [%g, %g)", v->valuedouble, o->lo, o->hi);
        *out = v->valuedouble;
        return 0;
    }
    if (get_int(p, v, key, (long)o->lo, (long)o->hi, &x)) return -1;
    *out = (double)x;
    return 0;
}

/* Grid points of an entry (per point of the model options' grid), and lrs per point. */
double proto_points(const Proto *pr)
{
    double n = pr->zip && pr->lr_list ? pr->e.n_lrs : 1;
    for (int h = 0; h < pr->e.def->n_hparams; h++)
        if (pr->ax[h].n) n = pr->zip ? pr->ax[h].n : n * pr->ax[h].n;
    return n;
}

int proto_lrs(const Proto *pr) { return pr->zip && pr->lr_list ? 1 : pr->e.n_lrs; }

/* The run-id part naming the swept values of a grid point (hyperparameters in
 * the optimizer's table order, then model options in the registry's order). */
static int grid_id(P *p, const SweepConfig *c, const Proto *pr, const OptEntry *e, const char *pre,
                   char *out)
{
    char buf[4 * CFG_GRID_ID_LEN] = "";
    size_t len = 0;
    for (int h = 0; h < e->def->n_hparams; h++)
        if (pr->ax[h].n)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "_%s-%g", pr->ax[h].name, e->hp[h]),
                len = LQA_MIN(len, sizeof buf - 1);
    for (int k = 0; k < c->n_grid_cols; k++)
        if (c->grid_cols[k].mopt)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "_%s-%g", c->grid_cols[k].mopt->key,
                                    model_option_value(&c->models[e->model_i], c->grid_cols[k].mopt)),
                len = LQA_MIN(len, sizeof buf - 1);
    /* label + "_lr" + lr (%g: at most 12) + this + "_s" + seed (at most 10) must fit RunSpec.id */
    if (len >= CFG_GRID_ID_LEN || strlen(e->label) + 3 + 12 + len + 2 + 10 >= sizeof ((RunSpec *)0)->id)
        FAIL(p, pre, "run ids naming the swept values (\"%s_lr..%.60s..._s...\") would be too long; "
             "sweep fewer keys or give a shorter \"label\"", e->label, buf);
    memcpy(out, buf, len + 1);
    return 0;
}

/* The entries of proto pr at every grid point into c->opts from *k on. */
int expand_proto(P *p, SweepConfig *c, const Proto *pr, int *k)
{
    char pre[64];
    snprintf(pre, sizeof pre, "optimizers[%d]", pr->e.src);
    int npts = (int)proto_points(pr); /* (the run count is checked first) */
    bool zip_lr = pr->zip && pr->lr_list;
    for (int m = 0; m < c->n_models; m++)
        for (int j = 0; j < npts; j++) {
            OptEntry *e = &c->opts[(*k)++];
            *e = pr->e;
            e->lrs = NULL;
            e->model_i = m;
            int rem = j;
            for (int h = e->def->n_hparams - 1; h >= 0; h--) {
                const Axis *a = &pr->ax[h];
                if (!a->n) continue;
                e->hp[h] = a->v[pr->zip ? j : rem % a->n];
                if (!pr->zip) rem /= a->n;
            }
            e->n_lrs = proto_lrs(pr);
            e->lrs = malloc((size_t)e->n_lrs * sizeof(double));
            if (!e->lrs) return lqa_errf(p->err, "%s: %s: out of memory", p->file, pre);
            memcpy(e->lrs, pr->e.lrs + (zip_lr ? j : 0), (size_t)e->n_lrs * sizeof(double));
            if (grid_id(p, c, pr, e, pre, e->grid_id)) return -1;
            if (e->def->validate) {
                char msg[LQA_ERR_LEN];
                if (e->def->validate(e->hp, msg) && e->grid_id[0])
                    FAIL(p, pre, "%.300s (at the grid point %.127s)", msg, e->grid_id + 1);
                if (e->def->validate(e->hp, msg)) FAIL(p, pre, "%s", msg);
            }
        }
    return 0;
}

/* summary.csv's grid columns: the swept hyperparameters (in order of first
 * appearance), then the swept model options. */
int add_grid_col(P *p, SweepConfig *c, const char *name, const ModelOption *mopt)
{
    for (int k = 0; k < c->n_grid_cols; k++)
        if (strcmp(c->grid_cols[k].name, name) == 0 && !c->grid_cols[k].mopt == !mopt) return 0;
    GridCol *g = realloc(c->grid_cols, (size_t)(c->n_grid_cols + 1) * sizeof *g);
    if (!g) return lqa_errf(p->err, "%s: out of memory", p->file);
    c->grid_cols = g;
    snprintf(g[c->n_grid_cols].name, sizeof g->name, "%s", name);
    g[c->n_grid_cols++].mopt = mopt;
    return 0;
}

/* ---- model options (model.h: ModelOption) ---------------------------------- */

/* The model options. A numeric option may be a list: c->models then holds
 * every point of the product of those lists (the first option outermost). */
int parse_model_options(P *p, const cJSON *root, SweepConfig *c)
{
    ModelSpec base;
    model_option_defaults(&base);
    int nopt = model_option_count();
    p->max = calloc((size_t)nopt + 1, sizeof *p->max);
    if (!p->max) return lqa_errf(p->err, "%s: out of memory", p->file);
    p->n_max = nopt;
    double points = 1;
    const char *last = NULL;
    for (int i = 0; i < nopt; i++) {
        const ModelOption *o = model_option_get(i);
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, o->key);
        if (!it) continue;
        double v;
        if (cJSON_IsArray(it)) {
            if (o->type == MOPT_ENUM) FAIL(p, o->key, "is not numeric: only numeric model options may be lists");
            Axis *a = &p->max[i];
            a->name = o->key;
            if (parse_list(p, it, o->key, mopt_elem, o, a)) return -1;
            if (check_list_duplicates(p, a->v, a->n, o->key)) return -1;
            model_option_set(&base, o, a->v[0]);
            points *= a->n;
            last = o->key;
        } else if (o->type == MOPT_ENUM) {
            if (get_choice(p, it, o->key, o->names, o->n_names, model_option_field(&base, o))) return -1;
        } else {
            if (mopt_elem(p, it, o->key, o, &v)) return -1;
            model_option_set(&base, o, v);
        }
        bool set = model_option_value(&base, o) != o->def; /* (a list: any element) */
        for (int k = 0; k < p->max[i].n; k++) set |= p->max[i].v[k] != o->def;
        if (set && o->strict && !model_uses_option(model_find(c->model), o))
            FAIL(p, o->key, "model \"%s\" has no option %s (it would be ignored)", c->model, o->key);
    }
    if (points > CFG_MAX_RUNS)
        FAIL(p, last, "%.0f combinations of model options exceed the limit of %d runs per sweep",
             points, CFG_MAX_RUNS);
    c->n_models = (int)points;
    c->models = calloc((size_t)c->n_models, sizeof *c->models);
    if (!c->models) return lqa_errf(p->err, "%s: out of memory", p->file);
    for (int m = 0; m < c->n_models; m++) {
        c->models[m] = base;
        int rem = m;
        for (int i = nopt - 1; i >= 0; i--) {
            const Axis *a = &p->max[i];
            if (!a->n) continue;
            model_option_set(&c->models[m], model_option_get(i), a->v[rem % a->n]);
            rem /= a->n;
        }
    }
    c->model_opts = c->models[0];
    return 0;
}

/* Run ids must be unique: compared by hash after sorting, not pairwise. */
int check_run_ids(P *p, const SweepConfig *c)
{
    int n = c->n_runs;
    IdHash *h = malloc((size_t)n * sizeof *h);
    if (!h) return lqa_errf(p->err, "%s: out of memory checking %d run ids", p->file, n);
    for (int i = 0; i < n; i++) {
        RunSpec a;
        config_run(c, i, &a);
        h[i].hash = id_hash(a.id);
        h[i].index = i;
    }
    qsort(h, (size_t)n, sizeof *h, cmp_idhash);
    for (int i = 1; i < n; i++) {
        if (h[i].hash != h[i - 1].hash) continue;
        RunSpec a, b;
        config_run(c, h[i - 1].index, &b); /* the first of the two in the sweep */
        config_run(c, h[i].index, &a);
        if (strcmp(a.id, b.id) == 0) {
            free(h);
            int sa = c->opts[a.opt].src, sb = c->opts[b.opt].src;
            char k[64];
            snprintf(k, sizeof k, "optimizers[%d]", sa);
            if (sa == sb)
                FAIL(p, k, "run id \"%s\" occurs twice: its \"zip\" lists repeat a combination of values",
                     a.id);
            FAIL(p, k, "run id \"%s\" repeats optimizers[%d]; give one of them a distinct \"label\"",
                 a.id, sb);
        }
    }
    free(h);
    return 0;
}

void config_run(const SweepConfig *c, int index, RunSpec *r)
{
    LQA_CHECK(index >= 0 && index < c->n_runs);
    memset(r, 0, sizeof *r);
    r->index = index;
    int lo = 0, hi = c->n_opts - 1; /* the last entry whose first run is at or before index */
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (c->opts[mid].run0 <= index) lo = mid;
        else hi = mid - 1;
    }
    const OptEntry *e = &c->opts[lo];
    int k = index - e->run0;
    r->opt = lo;
    r->lr_i = k / c->n_seeds;
    r->seed_i = k % c->n_seeds;
    int len = snprintf(r->id, sizeof r->id, "%s_lr%g%s_s%llu", e->label, e->lrs[r->lr_i], e->grid_id,
                       (unsigned long long)c->seeds[r->seed_i]);
    LQA_CHECK(len > 0 && (size_t)len < sizeof r->id);
}

const ModelSpec *config_run_model(const SweepConfig *c, const RunSpec *r)
{
    return &c->models[c->opts[r->opt].model_i];
}

bool config_grid_value(const SweepConfig *c, const RunSpec *r, int k, double *v)
{
    const GridCol *g = &c->grid_cols[k];
    const OptEntry *e = &c->opts[r->opt];
    if (g->mopt) {
        *v = model_option_value(&c->models[e->model_i], g->mopt);
        return true;
    }
    int h = optim_hparam_index(e->def, g->name);
    if (h < 0 || e->def->hparams[h].type != HP_NUM) return false;
    *v = e->hp[h];
    return true;
}
