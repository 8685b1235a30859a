/* config.c — parse and validate a sweep config with cJSON.
 * Every unknown key, wrong type or out-of-range value is an error naming the
 * file and the key path (e.g. "configs/x.json: optimizers[1].lr: must be > 0"). */
#include "config.h"

#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* ---- small helpers ------------------------------------------------------ */

static bool file_exists(const char *p) { return access(p, F_OK) == 0; }

static int exe_dir(char *buf, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0) return -1;
    buf[len] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash) return -1;
    *slash = 0;
    return 0;
}

/* The checkout lqabench belongs to: the executable's directory, or its parent
 * (build/lqabench), whichever holds configs/. 0 and the path in buf, or -1. */
static int repo_root(char *buf, size_t n)
{
    char dir[CFG_PATH_LEN], probe[CFG_PATH_LEN + 16];
    struct stat st;
    if (exe_dir(dir, sizeof dir)) return -1;
    for (int up = 0; up < 2; up++) {
        snprintf(probe, sizeof probe, "%s/configs", dir);
        if (stat(probe, &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(buf, n, "%s", dir);
            return 0;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) return -1;
        *slash = 0;
    }
    return -1;
}

int config_find(const char *arg, char *out, size_t n, char *err)
{
    if (strlen(arg) >= n) return lqa_errf(err, "%.200s...: config path longer than %zu characters", arg, n - 1);
    if (file_exists(arg)) {
        snprintf(out, n, "%s", arg);
        return 0;
    }
    if (!strchr(arg, '/')) {
        char dir[CFG_PATH_LEN];
        const char *suffix = strstr(arg, ".json") ? "" : ".json";
        snprintf(out, n, "configs/%s%s", arg, suffix);
        if (file_exists(out)) return 0;
        if (repo_root(dir, sizeof dir) == 0) { /* the checkout's configs/ */
            snprintf(out, n, "%s/configs/%s%s", dir, arg, suffix);
            if (file_exists(out)) return 0;
        }
    }
    return lqa_errf(err, "%s: config not found (also looked in configs/)", arg);
}

static char *read_file(const char *path, char *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) { /* (opening a pipe would block) */
        lqa_errf(err, "%s: cannot read: %s", path,
                 S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        lqa_errf(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        lqa_errf(err, "%s: cannot read: %s", path,
                 S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        fclose(f);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    char *buf = malloc(len + 1);
    if (!buf) {
        lqa_errf(err, "%s: out of memory reading %zu bytes", path, len);
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, len, f);
    if (got != len || ferror(f)) {
        lqa_errf(err, "%s: cannot read: %s", path, ferror(f) ? strerror(errno) : "file shrank while read");
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[len] = 0;
    fclose(f);
    return buf;
}

/* The parser state: file name for messages. */
typedef struct P {
    const char *file;
    char *err;
    struct Proto *protos; /* the optimizer entries as given (parse_optimizers) */
    int n_protos;
    struct Axis *max;     /* the model options given as lists, by option index */
    int n_max;
} P;

#define FAIL(p, key, ...)                                                      \
    do {                                                                       \
        char m_[LQA_ERR_LEN];                                                  \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                  \
        return lqa_errf((p)->err, "%s: %s: %s", (p)->file, (key), m_);        \
    } while (0)

static int get_string(P *p, const cJSON *it, const char *key, char *out, size_t n)
{
    if (!cJSON_IsString(it)) FAIL(p, key, "must be a string");
    if (strlen(it->valuestring) >= n) FAIL(p, key, "is too long (max %zu characters)", n - 1);
    snprintf(out, n, "%s", it->valuestring);
    return 0;
}

static int get_bool(P *p, const cJSON *it, const char *key, bool *out)
{
    if (!cJSON_IsBool(it)) FAIL(p, key, "must be true or false");
    *out = cJSON_IsTrue(it);
    return 0;
}

static int get_int(P *p, const cJSON *it, const char *key, long lo, long hi, long *out)
{
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble))
        FAIL(p, key, "must be an integer");
    double v = it->valuedouble;
    if (v < (double)lo || v > (double)hi)
        FAIL(p, key, "%g is out of range [%ld, %ld]", v, lo, hi);
    *out = (long)v;
    return 0;
}

static int get_choice(P *p, const cJSON *it, const char *key, const char *const *choices,
                      int n, int *out)
{
    if (!cJSON_IsString(it)) FAIL(p, key, "must be a string");
    for (int i = 0; i < n; i++)
        if (strcmp(it->valuestring, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    char list[256];
    lqa_join(list, sizeof list, choices, n, ", ");
    FAIL(p, key, "unknown value \"%s\" (expected one of: %s)", it->valuestring, list);
}

/* Reject keys of obj that are not in `known` (at the top level: nor model options). */
static int check_keys(P *p, const cJSON *obj, const char *prefix, const char *const *known)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = !prefix[0] && model_option_find(it->string);
        for (int i = 0; known[i]; i++)
            if (strcmp(it->string, known[i]) == 0) ok = true;
        if (!ok) {
            char key[256];
            snprintf(key, sizeof key, "%s%s", prefix, it->string);
            FAIL(p, key, "unknown key");
        }
    }
    return 0;
}

static void sanitize_label(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            *s = '_';
}

/* Names and labels become file names: each must be one path component. Other
 * characters outside [A-Za-z0-9._-] are replaced by '_' (sanitize_label). */
static int check_component(P *p, const char *key, const char *v)
{
    if (!v[0]) FAIL(p, key, "must not be empty");
    if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0) FAIL(p, key, "\"%s\" is not a valid name", v);
    for (const char *q = v; *q; q++) {
        if (*q == '/') FAIL(p, key, "must not contain '/' (it names files and folders)");
        if ((unsigned char)*q < 0x20 || *q == 0x7f) FAIL(p, key, "must not contain control characters");
    }
    return 0;
}

/* Duplicate keys, at any depth: cJSON keeps both, and lookups would take one
 * silently. Objects are checked by sorting their key names. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int check_duplicates(P *p, const cJSON *it, const char *path)
{
    if (!cJSON_IsObject(it) && !cJSON_IsArray(it)) return 0;
    int n = 0, rc = 0;
    for (const cJSON *c = it->child; c; c = c->next) n++;
    if (cJSON_IsObject(it) && n > 1) {
        const char **names = malloc((size_t)n * sizeof *names);
        if (!names) return lqa_errf(p->err, "%s: out of memory checking %s", p->file, path);
        int k = 0;
        for (const cJSON *c = it->child; c; c = c->next) names[k++] = c->string;
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        for (k = 1; k < n && !rc; k++)
            if (strcmp(names[k], names[k - 1]) == 0) {
                char key[300];
                snprintf(key, sizeof key, "%s%s%.200s", path, path[0] ? "." : "", names[k]);
                rc = lqa_errf(p->err, "%s: %s: duplicate key", p->file, key);
            }
        free(names);
        if (rc) return rc;
    }
    int i = 0;
    for (const cJSON *c = it->child; c; c = c->next, i++) {
        char sub[300];
        if (cJSON_IsObject(it)) snprintf(sub, sizeof sub, "%s%s%.200s", path, path[0] ? "." : "", c->string);
        else snprintf(sub, sizeof sub, "%.250s[%d]", path, i);
        if (check_duplicates(p, c, sub)) return -1;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

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

/* ---- grids ------------------------------------------------------------------ */

/* A numeric key given as a list: one axis of a grid (README "Grids"). */
typedef struct Axis {
    const char *name; /* hyperparameter or model option: names it in run ids and summary.csv */
    double *v;
    int n;            /* 0: a single value, not a list */
} Axis;

/* An optimizer entry as the config gives it, before its grid is expanded. */
typedef struct Proto {
    OptEntry e;          /* single values (a list's first); e.lrs: every lr */
    bool lr_list, zip;   /* lr given as a list; "grid": "zip" */
    Axis ax[OPT_MAX_HP]; /* by hyperparameter index */
} Proto;

/* One element of a list, checked by the key's own rule. */
typedef int (*ElemCheck)(P *p, const cJSON *v, const char *key, const void *spec, double *out);

static int parse_list(P *p, const cJSON *it, const char *key, ElemCheck chk, const void *spec,
                      Axis *ax)
{
    int n = cJSON_GetArraySize(it);
    if (n == 0) FAIL(p, key, "must not be an empty list");
    ax->v = calloc((size_t)n, sizeof(double));
    if (!ax->v) return lqa_errf(p->err, "%s: %s: out of memory", p->file, key);
    ax->n = n;
    int i = 0;
    for (const cJSON *v = it->child; v; v = v->next, i++) {
        char k[256];
        snprintf(k, sizeof k, "%s[%d]", key, i);
        if (chk(p, v, k, spec, &ax->v[i])) return -1;
    }
    return 0;
}

static int hp_elem(P *p, const cJSON *v, const char *key, const void *spec, double *out)
{
    char m[LQA_ERR_LEN];
    if (!cJSON_IsNumber(v)) FAIL(p, key, "must be a number");
    if (optim_hparam_check(spec, v->valuedouble, m)) FAIL(p, key, "%s", m);
    *out = v->valuedouble;
    return 0;
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

typedef struct ValIdx {
    double v;
    int i;
} ValIdx;

static int cmp_validx(const void *a, const void *b)
{
    const ValIdx *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i - y->i;
}

/* Two values of one list that print alike ("%g", as run ids do) would give
 * identical run ids: an error naming the second (sorted, not pairwise). */
static int check_list_duplicates(P *p, const double *v, int n, const char *key)
{
    if (n < 2) return 0;
    ValIdx *s = malloc((size_t)n * sizeof *s);
    if (!s) return lqa_errf(p->err, "%s: %s: out of memory", p->file, key);
    for (int i = 0; i < n; i++) {
        char b[32];
        snprintf(b, sizeof b, "%g", v[i]);
        s[i].v = strtod(b, NULL);
        s[i].i = i;
    }
    qsort(s, (size_t)n, sizeof *s, cmp_validx);
    int first = -1, second = -1;
    for (int i = 1; i < n; i++)
        if (s[i].v == s[i - 1].v && (second < 0 || s[i].i < second)) {
            first = s[i - 1].i;
            second = s[i].i;
            for (int j = i - 1; j > 0 && s[j - 1].v == s[i].v; j--) first = s[j - 1].i;
        }
    free(s);
    if (second < 0) return 0;
    char k[256];
    snprintf(k, sizeof k, "%s[%d]", key, second);
    FAIL(p, k, "duplicate value %g (also [%d]): the runs and their ids would repeat", v[second], first);
}

/* ---- optimizers ----------------------------------------------------------- */

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

/* Grid points of an entry (per point of the model options' grid), and lrs per point. */
static double proto_points(const Proto *pr)
{
    double n = pr->zip && pr->lr_list ? pr->e.n_lrs : 1;
    for (int h = 0; h < pr->e.def->n_hparams; h++)
        if (pr->ax[h].n) n = pr->zip ? pr->ax[h].n : n * pr->ax[h].n;
    return n;
}

static int proto_lrs(const Proto *pr) { return pr->zip && pr->lr_list ? 1 : pr->e.n_lrs; }

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
static int expand_proto(P *p, SweepConfig *c, const Proto *pr, int *k)
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
static int add_grid_col(P *p, SweepConfig *c, const char *name, const ModelOption *mopt)
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
static int parse_model_options(P *p, const cJSON *root, SweepConfig *c)
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

/* ---- the sweep ------------------------------------------------------------ */

static const char *const TOP_KEYS[] = {
    "name", "notes", "model", "dataset", "data_dir", "output_dir", "batch_size", "eval_batch",
    "epochs", "steps", "seeds", "init", "shuffle", "drop_last", "train_limit", "test_limit",
    "normalize", "eval_train", "eval_test", "dump_init", "dump_batches", "validation",
    "optimizers", "diverge", "eval_every", "checkpoint_every", "checkpoint_minutes", "start",
    "stop_loss", NULL}; /* and the model options (parse_model_options) */

#define ITEM(k) (it = cJSON_GetObjectItemCaseSensitive(root, k))

static int parse_names(P *p, const cJSON *root, SweepConfig *c)
{
    const cJSON *it;
    if (ITEM("name")) {
        if (get_string(p, it, "name", c->name, sizeof c->name)) return -1;
        if (check_component(p, "name", c->name)) return -1;
        sanitize_label(c->name);
    }
    if (ITEM("notes") && !cJSON_IsString(it)) {
        if (!cJSON_IsArray(it)) FAIL(p, "notes", "must be a string or a list of strings");
        int i = 0;
        for (const cJSON *q = it->child; q; q = q->next, i++) {
            char k[32];
            snprintf(k, sizeof k, "notes[%d]", i);
            if (!cJSON_IsString(q)) FAIL(p, k, "must be a string");
        }
    }
    if (ITEM("notes") && cJSON_IsString(it))
        snprintf(c->notes, sizeof c->notes, "%s", it->valuestring);
    return 0;
}

/* model, dataset (its definition into *data), data_dir, output_dir */
static int parse_model_data(P *p, const cJSON *root, SweepConfig *c, const DatasetDef **data)
{
    const cJSON *it;
    if (!ITEM("model")) FAIL(p, "model", "is required (one of: %s)", model_names());
    if (get_string(p, it, "model", c->model, sizeof c->model)) return -1;
    if (!model_find(c->model)) FAIL(p, "model", "unknown model \"%s\" (known: %s)", c->model, model_names());

    if (!ITEM("dataset")) FAIL(p, "dataset", "is required (one of: %s)", dataset_names());
    if (get_string(p, it, "dataset", c->dataset, sizeof c->dataset)) return -1;
    *data = dataset_find(c->dataset);
    if (!*data)
        FAIL(p, "dataset", "unknown dataset \"%s\" (known: %s)", c->dataset, dataset_names());
    /* analytic models (a function of the parameters, no data) run on "none", and only they */
    int analytic = model_find(c->model)->analytic;
    LQA_CHECK(analytic <= CFG_START_MAX);
    if (analytic && strcmp(c->dataset, "none") != 0)
        FAIL(p, "dataset", "model \"%s\" is a test function of its parameters: use \"none\" (got \"%s\")",
             c->model, c->dataset);
    if (!analytic && strcmp(c->dataset, "none") == 0)
        FAIL(p, "dataset", "\"none\" is for the test-function models only (model \"%s\" needs data)",
             c->model);
    bool reg_data = (*data)->n_classes == 0; /* regression: the target ends each sample */
    if (model_find(c->model)->regression != reg_data)
        FAIL(p, "dataset", "model \"%s\" is a %s model but \"%s\" is a %s data set",
             c->model, reg_data ? "classification" : "regression", c->dataset,
             reg_data ? "regression" : "classification");
    if (ITEM("start")) {
        if (!analytic) FAIL(p, "start", "is for the test-function models only (model \"%s\")", c->model);
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != analytic)
            FAIL(p, "start", "must be a list of %d numbers (the start point of model \"%s\")",
                 analytic, c->model);
        int i = 0;
        for (const cJSON *q = it->child; q; q = q->next, i++) {
            char k[32];
            snprintf(k, sizeof k, "start[%d]", i);
            if (!cJSON_IsNumber(q) || !isfinite(q->valuedouble)) FAIL(p, k, "must be a finite number");
            c->start[i] = q->valuedouble;
        }
        c->n_start = analytic;
    } else if (analytic)
        FAIL(p, "start", "is required for model \"%s\" (its start point, a list of %d numbers)",
             c->model, analytic);
    if (ITEM("stop_loss")) {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
            FAIL(p, "stop_loss", "must be a finite number");
        c->has_stop_loss = true;
        c->stop_loss = it->valuedouble;
    }

    if (ITEM("data_dir") && get_string(p, it, "data_dir", c->data_dir, sizeof c->data_dir)) return -1;
    if (ITEM("output_dir") && get_string(p, it, "output_dir", c->output_dir, sizeof c->output_dir)) return -1;
    return 0;
}

/* batch_size, eval_batch, epochs / steps */
static int parse_lengths(P *p, const cJSON *root, SweepConfig *c)
{
    const cJSON *it;
    long v;
    if (!ITEM("batch_size")) FAIL(p, "batch_size", "is required");
    if (get_int(p, it, "batch_size", 1, 1 << 20, &v)) return -1;
    c->batch_size = (int)v;
    c->eval_batch = 256;
    if (ITEM("eval_batch")) {
        if (get_int(p, it, "eval_batch", 1, 1 << 20, &v)) return -1;
        c->eval_batch = (int)v;
    }
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(root, "epochs");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "steps");
    if (!!ep == !!st) FAIL(p, ep ? "epochs" : "epochs/steps", "give exactly one of \"epochs\" or \"steps\"");
    if (ep && get_int(p, ep, "epochs", 1, 1000000, &c->epochs)) return -1;
    if (st && get_int(p, st, "steps", 1, 1000000000L, &c->steps)) return -1;
    return 0;
}

static int parse_seeds(P *p, const cJSON *it, SweepConfig *c)
{
    long v;
    if (!it) {
        c->n_seeds = 1;
        c->seeds = calloc(1, sizeof(uint64_t));
        if (!c->seeds) return lqa_errf(p->err, "out of memory");
        c->seeds[0] = 1;
        return 0;
    }
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) == 0)
        FAIL(p, "seeds", "must be a non-empty list of integers");
    c->n_seeds = cJSON_GetArraySize(it);
    c->seeds = calloc((size_t)c->n_seeds, sizeof(uint64_t));
    if (!c->seeds) return lqa_errf(p->err, "out of memory");
    const cJSON *sv = NULL;
    for (int i = 0; i < c->n_seeds; i++) {
        char k[32];
        snprintf(k, sizeof k, "seeds[%d]", i);
        sv = i ? sv->next : it->child; /* (linear, not GetArrayItem) */
        if (get_int(p, sv, k, 0, 2147483647L, &v)) return -1;
        c->seeds[i] = (uint64_t)v;
    }
    /* duplicates: sorted copy (a list of 50,000 seeds must not take seconds) */
    uint64_t *sorted = malloc((size_t)c->n_seeds * sizeof *sorted);
    if (!sorted) return lqa_errf(p->err, "%s: seeds: out of memory", p->file);
    memcpy(sorted, c->seeds, (size_t)c->n_seeds * sizeof *sorted);
    qsort(sorted, (size_t)c->n_seeds, sizeof *sorted, cmp_u64);
    for (int i = 1; i < c->n_seeds; i++)
        if (sorted[i] == sorted[i - 1]) {
            uint64_t dup = sorted[i];
            free(sorted);
            int j = 0, first = -1;
            for (; j < c->n_seeds; j++)
                if (c->seeds[j] == dup) {
                    if (first >= 0) break;
                    first = j;
                }
            char k[32];
            snprintf(k, sizeof k, "seeds[%d]", j);
            FAIL(p, k, "duplicate seed %llu (also seeds[%d])", (unsigned long long)dup, first);
        }
    free(sorted);
    return 0;
}

/* init, normalize (default: the dataset's) */
static int parse_choices(P *p, const cJSON *root, SweepConfig *c, const DatasetDef *data)
{
    const cJSON *it;
    int ch;
    static const char *const INITS[] = {"default", "zeros"};
    c->init = INIT_DEFAULT;
    if (ITEM("init")) {
        if (get_choice(p, it, "init", INITS, 2, &ch)) return -1;
        c->init = (InitKind)ch;
    }
    static const char *const NORMS[] = {"unit", "meanstd"};
    c->normalize = data->norm;
    if (ITEM("normalize")) {
        if (get_choice(p, it, "normalize", NORMS, 2, &ch)) return -1;
        c->normalize = (Normalize)ch;
    }
    return 0;
}

/* the booleans, train/test limits, eval_every, checkpoint_every/_minutes */
static int parse_flags(P *p, const cJSON *root, SweepConfig *c)
{
    const cJSON *it;
    long v;
    c->shuffle = c->drop_last = c->eval_train = c->eval_test = true;
    if (ITEM("shuffle") && get_bool(p, it, "shuffle", &c->shuffle)) return -1;
    if (ITEM("drop_last") && get_bool(p, it, "drop_last", &c->drop_last)) return -1;
    if (ITEM("eval_train") && get_bool(p, it, "eval_train", &c->eval_train)) return -1;
    if (ITEM("eval_test") && get_bool(p, it, "eval_test", &c->eval_test)) return -1;
    if (ITEM("dump_init") && get_bool(p, it, "dump_init", &c->dump_init)) return -1;
    if (ITEM("dump_batches") && get_bool(p, it, "dump_batches", &c->dump_batches)) return -1;
    if (ITEM("train_limit")) {
        if (get_int(p, it, "train_limit", 1, INT_MAX, &v)) return -1;
        c->train_limit = (int)v;
    }
    if (ITEM("test_limit")) {
        if (get_int(p, it, "test_limit", 1, INT_MAX, &v)) return -1;
        c->test_limit = (int)v;
    }
    if (ITEM("eval_every") && get_int(p, it, "eval_every", 1, 1000000000L, &c->eval_every)) return -1;
    if (ITEM("checkpoint_every") &&
        get_int(p, it, "checkpoint_every", 0, 1000000000L, &c->checkpoint_every)) return -1;
    c->checkpoint_minutes = CFG_CHECKPOINT_MINUTES;
    if (ITEM("checkpoint_minutes") &&
        get_int(p, it, "checkpoint_minutes", 0, 1000000L, &c->checkpoint_minutes)) return -1;
    return 0;
}

static int parse_diverge(P *p, const cJSON *it, SweepConfig *c)
{
    long v;
    c->diverge_factor = CFG_DIVERGE_FACTOR;
    c->diverge_window = CFG_DIVERGE_WINDOW;
    if (!it) return 0;
    static const char *const DIV_KEYS[] = {"factor", "window", NULL};
    if (!cJSON_IsObject(it)) FAIL(p, "diverge", "must be an object, e.g. {\"factor\": 100, \"window\": 10}");
    if (check_keys(p, it, "diverge.", DIV_KEYS)) return -1;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "factor");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(it, "window");
    if (f) {
        if (!cJSON_IsNumber(f)) FAIL(p, "diverge.factor", "must be a number (0 turns the rule off)");
        if (!(f->valuedouble == 0 || f->valuedouble > 1) || !isfinite(f->valuedouble))
            FAIL(p, "diverge.factor", "must be > 1, or 0 to turn the rule off (got %g)", f->valuedouble);
        c->diverge_factor = f->valuedouble;
    }
    if (w) {
        if (get_int(p, w, "diverge.window", 1, CFG_DIVERGE_WINDOW_MAX, &v)) return -1;
        c->diverge_window = (int)v;
    }
    return 0;
}

/* train_limit against batch_size, and the validation split */
static int parse_split(P *p, const cJSON *it, SweepConfig *c, const DatasetDef *data)
{
    long v;
    if (c->train_limit && c->drop_last && c->train_limit < c->batch_size)
        FAIL(p, "train_limit", "%d samples make no full batch of %d (batch_size)", c->train_limit,
             c->batch_size);
    if (!it) return 0;
    if (get_int(p, it, "validation", 0, INT_MAX, &v)) return -1;
    c->validation = (int)v;
    int n = data->n_train;
    if (c->train_limit && c->train_limit < n) n = c->train_limit;
    if (c->validation >= n)
        FAIL(p, "validation", "%d held-out samples leave no training data (%d training samples%s)",
             c->validation, n, c->train_limit ? " after train_limit" : "");
    if (c->drop_last && n - c->validation < c->batch_size)
        FAIL(p, "validation", "%d held-out samples leave %d training samples, no full batch of %d "
             "(batch_size)", c->validation, n - c->validation, c->batch_size);
    return 0;
}

/* Run ids must be unique: compared by hash after sorting, not pairwise. */
static int check_run_ids(P *p, const SweepConfig *c)
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

/* The optimizer entries, expanded over their grids and the model options'. */
static int parse_optimizers(P *p, const cJSON *it, SweepConfig *c)
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

static int parse_top(P *p, const cJSON *root, SweepConfig *c)
{
    if (!cJSON_IsObject(root)) FAIL(p, "(top level)", "must be a JSON object");
    if (check_keys(p, root, "", TOP_KEYS)) return -1;
    const cJSON *it;
    const DatasetDef *data = NULL;
    if (parse_names(p, root, c) || parse_model_data(p, root, c, &data) || parse_lengths(p, root, c) ||
        parse_seeds(p, ITEM("seeds"), c) || parse_choices(p, root, c, data) ||
        parse_model_options(p, root, c) || parse_flags(p, root, c) ||
        parse_diverge(p, ITEM("diverge"), c) || parse_split(p, ITEM("validation"), c, data))
        return -1;
    return parse_optimizers(p, ITEM("optimizers"), c);
}
#undef ITEM

static void parse_free(P *p)
{
    for (int i = 0; i < p->n_protos; i++) {
        free(p->protos[i].e.lrs);
        for (int h = 0; h < OPT_MAX_HP; h++) free(p->protos[i].ax[h].v);
    }
    free(p->protos);
    for (int i = 0; i < p->n_max; i++) free(p->max[i].v);
    free(p->max);
}

int config_load(SweepConfig *c, const char *path, char *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    char *text = read_file(path, err);
    if (!text) return -1;
    /* cJSON ends a string at an escaped NUL: "a\u0000b" would read as "a". */
    bool in_str = false;
    int line = 1;
    for (const char *q = text; *q; q++) {
        if (*q == '\n') line++;
        if (!in_str) {
            in_str = *q == '"';
        } else if (*q == '\\') {
            if (q[1] == 'u' && strncmp(q + 2, "0000", 4) == 0) {
                lqa_errf(err, "%s: line %d: \\u0000 (NUL) in a string is not allowed", path, line);
                free(text);
                return -1;
            }
            if (q[1]) q++;
        } else if (*q == '"') {
            in_str = false;
        }
    }
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        int line = 1;
        for (const char *q = text; at && q < at && *q; q++) line += *q == '\n';
        lqa_errf(err, "%s: line %d: invalid JSON", path, line);
        free(text);
        return -1;
    }
    P p = {path, err, NULL, 0, NULL, 0};
    int rc = check_duplicates(&p, root, "");
    if (!rc) rc = parse_top(&p, root, c);
    parse_free(&p);
    cJSON_Delete(root);
    free(text);
    if (rc) {
        config_free(c);
        return -1;
    }
    if (!c->name[0]) { /* default: the file's base name */
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        snprintf(c->name, sizeof c->name, "%s", base);
        char *dot = strstr(c->name, ".json");
        if (dot) *dot = 0;
        sanitize_label(c->name);
        if (!c->name[0] || strcmp(c->name, ".") == 0 || strcmp(c->name, "..") == 0) {
            lqa_errf(err, "%s: name: the file name gives no valid sweep name; set \"name\"", path);
            config_free(c);
            return -1;
        }
    }
    if (!c->output_dir[0]) snprintf(c->output_dir, sizeof c->output_dir, "results/%s", c->name);
    /* Data: default $LQA_DATA_DIR/<dataset>, else data/<dataset>. A relative
     * data_dir (given, or that default) is taken relative to the checkout, not
     * the working directory, so a config runs the same from any directory. */
    const char *data_root = getenv("LQA_DATA_DIR");
    bool from_env = false;
    if (!c->data_dir[0]) {
        from_env = data_root && *data_root;
        int len = snprintf(c->data_dir, sizeof c->data_dir, "%s/%s",
                           from_env ? data_root : "data", c->dataset);
        if (len < 0 || (size_t)len >= sizeof c->data_dir) {
            lqa_errf(err, "LQA_DATA_DIR: longer than %zu characters", sizeof c->data_dir - 20);
            config_free(c);
            return -1;
        }
    }
    char repo[CFG_PATH_LEN];
    if (!from_env && c->data_dir[0] != '/' && repo_root(repo, sizeof repo) == 0) {
        char abs[2 * CFG_PATH_LEN];
        snprintf(abs, sizeof abs, "%s/%s", repo, c->data_dir);
        if (strlen(abs) >= sizeof c->data_dir) {
            config_free(c);
            return lqa_errf(err, "%s: data_dir: %s: path too long", path, abs);
        }
        snprintf(c->data_dir, sizeof c->data_dir, "%s", abs);
    }
    return 0;
}

int config_check_data(const SweepConfig *c, char *err)
{
    long n = 0;
    char derr[LQA_ERR_LEN];
    if (dataset_count(c->dataset, c->data_dir, true, &n, derr) != 0) return 0; /* the run says why */
    if (c->train_limit && c->train_limit < n) n = c->train_limit;
    if (c->drop_last && c->batch_size > n)
        return lqa_errf(err, "%s: batch_size: %d is larger than the %ld training samples of %s "
                        "(drop_last leaves no batch)", c->path, c->batch_size, n, c->dataset);
    return 0;
}

void config_free(SweepConfig *c)
{
    for (int i = 0; i < c->n_opts; i++) free(c->opts[i].lrs);
    free(c->opts);
    free(c->seeds);
    free(c->models);
    free(c->grid_cols);
    memset(c, 0, sizeof *c);
}

int config_n_runs(const SweepConfig *c) { return c->n_runs; }

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
