/* config_opt.c — the optimizer entries of a config ("optimizers": name, lr,
 * label, grid, schedule and the optimizer's hyperparameters), checked, and
 * expanded over their grids into the sweep's entries (config_grid.c). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static int hp_elem(P *p, const cJSON *v, const char *key, const void *spec, double *out)
{
    char m[LQA_ERR_LEN];
    if (!cJSON_IsNumber(v)) FAIL(p, key, "must be a number");
    if (optim_hparam_check(spec, v->valuedouble, m)) FAIL(p, key, "%s", m);
    *out = v->valuedouble;
    return 0;
}

static int parse_lrs(P *p, const cJSON *it, const char *key, OptEntry *e)
{
    int n = cJSON_IsArray(it) ? cJSON_GetArraySize(it) : 1;
    if (cJSON_IsArray(it) && n == 0) FAIL(p, key, "must not be an empty list");
    if (!cJSON_IsArray(it) && !cJSON_IsNumber(it)) FAIL(p, key, "must be a number or a list of numbers");
    e->lrs = calloc((size_t)n, sizeof(double));
    if (!e->lrs) return lqa_errf(p->err, "%s: %s: out of memory for %d learning rates", p->file, key, n);
    e->n_lrs = n;
    const cJSON *prev = NULL;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_IsArray(it) ? (i ? prev->next : it->child) : it; /* (linear, not GetArrayItem) */
        prev = v;
        char k[256];
        if (cJSON_IsArray(it)) snprintf(k, sizeof k, "%s[%d]", key, i);
        else snprintf(k, sizeof k, "%s", key);
        if (!cJSON_IsNumber(v)) FAIL(p, k, "must be a number");
        if (!(v->valuedouble > 0) || !isfinite(v->valuedouble))
            FAIL(p, k, "must be > 0 (got %g)", v->valuedouble);
        e->lrs[i] = v->valuedouble;
    }
    return 0;
}

/* One hyperparameter key of an entry (not name, lr, label, schedule, grid). */
static int parse_hparam(P *p, const cJSON *it, const char *key, Proto *pr)
{
    OptEntry *e = &pr->e;
    int h = optim_hparam_index(e->def, it->string);
    if (h < 0) {
        char list[512] = "";
        for (int i = 0; i < e->def->n_hparams; i++) {
            if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, e->def->hparams[i].name, sizeof list - strlen(list) - 1);
        }
        FAIL(p, key, "unknown hyperparameter for %s (known: name, lr, label, grid%s%s%.300s)",
             e->def->name, e->def->classic ? ", schedule" : "", list[0] ? ", " : "", list);
    }
    const HParamSpec *s = &e->def->hparams[h];
    double v = 0;
    if (s->type != HP_NUM && cJSON_IsArray(it))
        FAIL(p, key, "is not numeric: only numeric hyperparameters may be lists");
    if (s->type == HP_NUM && cJSON_IsArray(it)) {
        pr->ax[h].name = s->name;
        if (parse_list(p, it, key, hp_elem, s, &pr->ax[h])) return -1;
        v = pr->ax[h].v[0];
    } else if (s->type == HP_NUM) {
        if (!cJSON_IsNumber(it)) FAIL(p, key, "must be a number or a list of numbers");
        v = it->valuedouble;
        char m[LQA_ERR_LEN];
        if (optim_hparam_check(s, v, m)) FAIL(p, key, "%s", m);
    } else if (s->type == HP_BOOL) {
        bool b = false;
        if (get_bool(p, it, key, &b)) return -1;
        v = b;
    } else {
        const char *choices[OPT_MAX_CHOICES];
        char buf[256];
        int n = optim_choices(s, buf, sizeof buf, choices, OPT_MAX_CHOICES);
        int ci;
        if (get_choice(p, it, key, choices, n, &ci)) return -1;
        v = ci;
    }
    e->hp[h] = v;
    e->hp_set[h] = true;
    return 0;
}

/* The lists of an entry: "zip" pairs them element by element (equal lengths);
 * "product" (the default) must not repeat a value within a list. */
static int check_grid(P *p, const Proto *pr, const char *pre)
{
    char key[200];
    const OptEntry *e = &pr->e;
    if (!pr->zip) {
        if (pr->lr_list) {
            snprintf(key, sizeof key, "%s.lr", pre);
            if (check_list_duplicates(p, e->lrs, e->n_lrs, key)) return -1;
        }
        for (int h = 0; h < e->def->n_hparams; h++) {
            snprintf(key, sizeof key, "%s.%s", pre, e->def->hparams[h].name);
            if (pr->ax[h].n && check_list_duplicates(p, pr->ax[h].v, pr->ax[h].n, key)) return -1;
        }
        return 0;
    }
    const char *name0 = pr->lr_list ? "lr" : NULL;
    int n0 = pr->lr_list ? e->n_lrs : 0;
    for (int h = 0; h < e->def->n_hparams; h++) {
        if (!pr->ax[h].n) continue;
        if (!name0) {
            name0 = pr->ax[h].name;
            n0 = pr->ax[h].n;
        } else if (pr->ax[h].n != n0) {
            snprintf(key, sizeof key, "%s.grid", pre);
            FAIL(p, key, "\"zip\" pairs the lists element by element, but %s has %d value%s and %s has %d",
                 name0, n0, n0 == 1 ? "" : "s", pr->ax[h].name, pr->ax[h].n);
        }
    }
    return 0;
}

static int parse_opt(P *p, const cJSON *o, int idx, Proto *pr)
{
    OptEntry *e = &pr->e;
    char pre[64], key[200];
    snprintf(pre, sizeof pre, "optimizers[%d]", idx);
    if (!cJSON_IsObject(o)) FAIL(p, pre, "must be an object");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    snprintf(key, sizeof key, "%s.name", pre);
    if (!name) FAIL(p, key, "is required");
    if (!cJSON_IsString(name)) FAIL(p, key, "must be a string");
    e->def = optim_find(name->valuestring);
    if (!e->def)
        FAIL(p, key, "unknown optimizer \"%s\" (known: %s)", name->valuestring, optim_names());
    optim_hparam_defaults(e->def, e->hp);
    snprintf(e->label, sizeof e->label, "%s", e->def->name);
    e->src = idx;
    bool have_lr = false;
    for (const cJSON *it = o->child; it; it = it->next) {
        snprintf(key, sizeof key, "%s.%s", pre, it->string);
        if (strcmp(it->string, "name") == 0) continue;
        if (strcmp(it->string, "lr") == 0) {
            if (parse_lrs(p, it, key, e)) return -1;
            have_lr = true;
            pr->lr_list = cJSON_IsArray(it);
        } else if (strcmp(it->string, "label") == 0) {
            if (get_string(p, it, key, e->label, sizeof e->label)) return -1;
            if (check_component(p, key, e->label)) return -1;
            sanitize_label(e->label);
        } else if (strcmp(it->string, "grid") == 0) {
            static const char *const GRIDS[] = {"product", "zip"};
            int g;
            if (get_choice(p, it, key, GRIDS, 2, &g)) return -1;
            pr->zip = g == 1;
        } else if (strcmp(it->string, "schedule") == 0) {
            if (!e->def->classic)
                FAIL(p, key, "schedules apply to the classic methods only, not \"%s\"", e->def->name);
            if (schedule_parse(&e->sched, it, key, p->err)) {
                char m[LQA_ERR_LEN];
                snprintf(m, sizeof m, "%s", p->err);
                return lqa_errf(p->err, "%s: %s", p->file, m);
            }
        } else if (parse_hparam(p, it, key, pr)) {
            return -1;
        }
    }
    snprintf(key, sizeof key, "%s.lr", pre);
    if (!have_lr) FAIL(p, key, "is required (a number or a list)");
    if (e->n_lrs > 1 && optim_lr_role(e->def, e->hp) == LR_UNUSED)
        FAIL(p, key, "%s%s does not use lr (%s): %d lrs would be %d identical runs; give one number",
             e->def->name, e->def->lr_role_of ? " with these settings" : "", e->def->lr_doc,
             e->n_lrs, e->n_lrs);
    if (e->sched.type == SCHED_COSINE)
        for (int i = 0; i < e->n_lrs; i++)
            if (e->sched.min > e->lrs[i]) {
                snprintf(key, sizeof key, "%s.schedule.min", pre);
                FAIL(p, key, "%g is above the lr %g: the cosine schedule decays from lr down to min",
                     e->sched.min, e->lrs[i]);
            }
    return check_grid(p, pr, pre);
}

/* The optimizer entries, expanded over their grids and the model options'. */
int parse_optimizers(P *p, const cJSON *it, SweepConfig *c)
{
    if (!it) FAIL(p, "optimizers", "is required (a non-empty list)");
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) == 0)
        FAIL(p, "optimizers", "must be a non-empty list of objects");
    p->n_protos = cJSON_GetArraySize(it);
    p->protos = calloc((size_t)p->n_protos, sizeof *p->protos);
    if (!p->protos) return lqa_errf(p->err, "out of memory");
    int i = 0;
    for (const cJSON *o = it->child; o; o = o->next, i++)
        if (parse_opt(p, o, i, &p->protos[i])) return -1;

    for (i = 0; i < p->n_protos; i++) {
        const OptEntry *e = &p->protos[i].e;
        const char *hk = e->def->uses_validation ? e->def->uses_validation(e->hp) : NULL;
        if (hk && c->validation == 0) {
            char k[96];
            snprintf(k, sizeof k, "optimizers[%d].%s", i, hk);
            FAIL(p, k, "%s probes a held-out batch of the validation split; set \"validation\" "
                 "(held-out training samples) to a positive number", e->def->name);
        }
    }

    /* The number of runs must fit (and stay sensible) before anything is expanded. */
    double total = 0, entries = 0;
    for (i = 0; i < p->n_protos; i++) {
        double pts = proto_points(&p->protos[i]) * c->n_models;
        entries += pts;
        total += pts * proto_lrs(&p->protos[i]) * c->n_seeds;
    }
    if (total > CFG_MAX_RUNS)
        FAIL(p, "optimizers", "%.0f runs (grid points x learning rates x seeds, summed over "
             "optimizers) exceed the limit of %d per sweep; split the sweep", total, CFG_MAX_RUNS);

    for (i = 0; i < p->n_protos; i++)
        for (int h = 0; h < p->protos[i].e.def->n_hparams; h++)
            if (p->protos[i].ax[h].n && add_grid_col(p, c, p->protos[i].ax[h].name, NULL)) return -1;
    for (int m = 0; m < p->n_max; m++)
        if (p->max[m].n && add_grid_col(p, c, p->max[m].name, model_option_get(m))) return -1;

    c->n_opts = (int)entries;
    c->opts = calloc((size_t)c->n_opts, sizeof(OptEntry));
    if (!c->opts) return lqa_errf(p->err, "out of memory");
    int k = 0;
    for (i = 0; i < p->n_protos; i++)
        if (expand_proto(p, c, &p->protos[i], &k)) {
            c->n_opts = k; /* (what config_free frees) */
            return -1;
        }
    for (i = 0; i < c->n_opts; i++) {
        c->opts[i].run0 = c->n_runs;
        c->n_runs += c->opts[i].n_lrs * c->n_seeds;
    }
    return check_run_ids(p, c);
}
