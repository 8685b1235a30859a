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

static bool file_exists(const char *p) { return access(p, R_OK) == 0; }

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
    if (file_exists(arg)) {
        snprintf(out, n, "%s", arg);
        return 0;
    }
    if (!strchr(arg, '/')) {
        char dir[CFG_PATH_LEN];
        const char *suffix = strstr(arg, ".json") ? "" : ".json";
        snprintf(out, n, "configs/%s%s", arg, suffix);
        if (file_exists(out)) return 0;
        if (exe_dir(dir, sizeof dir) == 0) {
            snprintf(out, n, "%s/configs/%s%s", dir, arg, suffix);
            if (file_exists(out)) return 0;
        }
    }
    return lqa_errf(err, "%s: config not found (also looked in configs/)", arg);
}

static char *read_file(const char *path, char *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        lqa_errf(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        lqa_errf(err, "%s: cannot read", path);
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
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    FAIL(p, key, "unknown value \"%s\" (expected one of: %s)", it->valuestring, list);
}

/* Reject keys of obj that are not in `known`. */
static int check_keys(P *p, const cJSON *obj, const char *prefix, const char *const *known)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
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

/* ---- optimizers ----------------------------------------------------------- */

static int parse_lrs(P *p, const cJSON *it, const char *key, OptEntry *e)
{
    int n = cJSON_IsArray(it) ? cJSON_GetArraySize(it) : 1;
    if (cJSON_IsArray(it) && n == 0) FAIL(p, key, "must not be an empty list");
    if (!cJSON_IsArray(it) && !cJSON_IsNumber(it)) FAIL(p, key, "must be a number or a list of numbers");
    e->lrs = calloc((size_t)n, sizeof(double));
    if (!e->lrs) return lqa_errf(p->err, "out of memory");
    e->n_lrs = n;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_IsArray(it) ? cJSON_GetArrayItem(it, i) : it;
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

static int parse_opt(P *p, const cJSON *o, int idx, OptEntry *e)
{
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
    bool have_lr = false;
    for (const cJSON *it = o->child; it; it = it->next) {
        snprintf(key, sizeof key, "%s.%s", pre, it->string);
        if (strcmp(it->string, "name") == 0) continue;
        if (strcmp(it->string, "lr") == 0) {
            if (parse_lrs(p, it, key, e)) return -1;
            have_lr = true;
        } else if (strcmp(it->string, "label") == 0) {
            if (get_string(p, it, key, e->label, sizeof e->label)) return -1;
            if (!e->label[0]) FAIL(p, key, "must not be empty");
            sanitize_label(e->label);
        } else if (strcmp(it->string, "schedule") == 0) {
            if (!e->def->classic)
                FAIL(p, key, "schedules apply to the classic methods only, not \"%s\"", e->def->name);
            if (schedule_parse(&e->sched, it, key, p->err)) {
                char m[LQA_ERR_LEN];
                snprintf(m, sizeof m, "%s", p->err);
                return lqa_errf(p->err, "%s: %s", p->file, m);
            }
        } else {
            int h = optim_hparam_index(e->def, it->string);
            if (h < 0) {
                char list[512] = "";
                for (int i = 0; i < e->def->n_hparams; i++) {
                    if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
                    strncat(list, e->def->hparams[i].name, sizeof list - strlen(list) - 1);
                }
                FAIL(p, key, "unknown hyperparameter for %s (known: name, lr, label%s%s%.300s)",
                     e->def->name, e->def->classic ? ", schedule" : "", list[0] ? ", " : "", list);
            }
            const HParamSpec *s = &e->def->hparams[h];
            double v = 0;
            if (s->type == HP_NUM) {
                if (!cJSON_IsNumber(it)) FAIL(p, key, "must be a number");
                v = it->valuedouble;
                char m[LQA_ERR_LEN];
                if (optim_hparam_check(s, v, m)) FAIL(p, key, "%s", m);
            } else if (s->type == HP_BOOL) {
                bool b = false;
                if (get_bool(p, it, key, &b)) return -1;
                v = b;
            } else {
                const char *choices[16];
                char buf[256];
                int n = 0;
                snprintf(buf, sizeof buf, "%s", s->choices);
                for (char *tok = strtok(buf, "|"); tok && n < 16; tok = strtok(NULL, "|"))
                    choices[n++] = tok;
                int ci;
                if (get_choice(p, it, key, choices, n, &ci)) return -1;
                v = ci;
            }
            e->hp[h] = v;
            e->hp_set[h] = true;
        }
    }
    snprintf(key, sizeof key, "%s.lr", pre);
    if (!have_lr) FAIL(p, key, "is required (a number or a list)");
    if (e->n_lrs > 1 && optim_lr_role(e->def, e->hp) == LR_UNUSED)
        FAIL(p, key, "%s%s does not use lr (%s): %d lrs would be %d identical runs; give one number",
             e->def->name, e->def->lr_role_of ? " with these settings" : "", e->def->lr_doc,
             e->n_lrs, e->n_lrs);
    if (e->def->validate) {
        char m[LQA_ERR_LEN];
        if (e->def->validate(e->hp, m)) FAIL(p, pre, "%s", m);
    }
    return 0;
}

/* ---- the sweep ------------------------------------------------------------ */

static const char *const TOP_KEYS[] = {
    "name", "notes", "model", "dataset", "data_dir", "output_dir", "batch_size", "eval_batch",
    "epochs", "steps", "seeds", "init", "shuffle", "drop_last", "train_limit", "test_limit",
    "normalize", "eval_train", "eval_test", "probe_bn", "conv_algo", "width", "dump_init",
    "dump_batches", "validation", "optimizers", "diverge", "eval_every", NULL};

static int parse_top(P *p, const cJSON *root, SweepConfig *c)
{
    if (!cJSON_IsObject(root)) FAIL(p, "(top level)", "must be a JSON object");
    if (check_keys(p, root, "", TOP_KEYS)) return -1;
    const cJSON *it;
#define ITEM(k) (it = cJSON_GetObjectItemCaseSensitive(root, k))
    long v;

    if (ITEM("name")) {
        if (get_string(p, it, "name", c->name, sizeof c->name)) return -1;
        if (!c->name[0]) FAIL(p, "name", "must not be empty");
        sanitize_label(c->name);
    }
    if (ITEM("notes") && !cJSON_IsString(it)) {
        if (!cJSON_IsArray(it)) FAIL(p, "notes", "must be a string or a list of strings");
    }
    if (ITEM("notes") && cJSON_IsString(it))
        snprintf(c->notes, sizeof c->notes, "%s", it->valuestring);

    if (!ITEM("model")) FAIL(p, "model", "is required (one of: %s)", model_names());
    if (get_string(p, it, "model", c->model, sizeof c->model)) return -1;
    if (!model_find(c->model)) FAIL(p, "model", "unknown model \"%s\" (known: %s)", c->model, model_names());

    if (!ITEM("dataset")) FAIL(p, "dataset", "is required (mnist, fashion-mnist or cifar10)");
    if (get_string(p, it, "dataset", c->dataset, sizeof c->dataset)) return -1;
    if (!dataset_known(c->dataset))
        FAIL(p, "dataset", "unknown dataset \"%s\" (known: mnist, fashion-mnist, cifar10)", c->dataset);

    if (ITEM("data_dir") && get_string(p, it, "data_dir", c->data_dir, sizeof c->data_dir)) return -1;
    if (ITEM("output_dir") && get_string(p, it, "output_dir", c->output_dir, sizeof c->output_dir)) return -1;

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

    if (!ITEM("seeds")) {
        c->n_seeds = 1;
        c->seeds = calloc(1, sizeof(uint64_t));
        if (!c->seeds) return lqa_errf(p->err, "out of memory");
        c->seeds[0] = 1;
    } else {
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) == 0)
            FAIL(p, "seeds", "must be a non-empty list of integers");
        c->n_seeds = cJSON_GetArraySize(it);
        c->seeds = calloc((size_t)c->n_seeds, sizeof(uint64_t));
        if (!c->seeds) return lqa_errf(p->err, "out of memory");
        for (int i = 0; i < c->n_seeds; i++) {
            char k[32];
            snprintf(k, sizeof k, "seeds[%d]", i);
            if (get_int(p, cJSON_GetArrayItem(it, i), k, 0, 2147483647L, &v)) return -1;
            c->seeds[i] = (uint64_t)v;
            for (int j = 0; j < i; j++)
                if (c->seeds[j] == c->seeds[i]) FAIL(p, k, "duplicate seed %ld", v);
        }
    }

    int ch;
    static const char *const INITS[] = {"default", "zeros"};
    c->init = INIT_DEFAULT;
    if (ITEM("init")) {
        if (get_choice(p, it, "init", INITS, 2, &ch)) return -1;
        c->init = (InitKind)ch;
    }
    static const char *const NORMS[] = {"unit", "meanstd"};
    c->normalize = strcmp(c->dataset, "cifar10") == 0 ? NORM_MEANSTD : NORM_UNIT;
    if (ITEM("normalize")) {
        if (get_choice(p, it, "normalize", NORMS, 2, &ch)) return -1;
        c->normalize = (Normalize)ch;
    }
    static const char *const PROBE_BN[] = {"batch", "eval"};
    if (ITEM("probe_bn")) {
        if (get_choice(p, it, "probe_bn", PROBE_BN, 2, &ch)) return -1;
        c->probe_bn = (ProbeBn)ch;
    }
    if (ITEM("conv_algo")) {
        if (get_choice(p, it, "conv_algo", CONV_ALGO_NAMES, CONV_ALGO_COUNT, &ch)) return -1;
        c->conv_algo = (ConvAlgo)ch;
    }
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
    if (ITEM("width")) {
        if (get_int(p, it, "width", 1, 1 << 16, &v)) return -1;
        c->width = (int)v;
    }
    c->diverge_factor = CFG_DIVERGE_FACTOR;
    c->diverge_window = CFG_DIVERGE_WINDOW;
    if (ITEM("diverge")) {
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
    }
    if (c->train_limit && c->drop_last && c->train_limit < c->batch_size)
        FAIL(p, "train_limit", "%d samples make no full batch of %d (batch_size)", c->train_limit,
             c->batch_size);
    if (ITEM("validation")) {
        if (get_int(p, it, "validation", 0, INT_MAX, &v)) return -1;
        c->validation = (int)v;
        int n = dataset_train_size(c->dataset);
        if (c->train_limit && c->train_limit < n) n = c->train_limit;
        if (c->validation >= n)
            FAIL(p, "validation", "%d held-out samples leave no training data (%d training samples%s)",
                 c->validation, n, c->train_limit ? " after train_limit" : "");
        if (c->drop_last && n - c->validation < c->batch_size)
            FAIL(p, "validation", "%d held-out samples leave %d training samples, no full batch of %d "
                 "(batch_size)", c->validation, n - c->validation, c->batch_size);
    }

    if (!ITEM("optimizers")) FAIL(p, "optimizers", "is required (a non-empty list)");
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) == 0)
        FAIL(p, "optimizers", "must be a non-empty list of objects");
    c->n_opts = cJSON_GetArraySize(it);
    c->opts = calloc((size_t)c->n_opts, sizeof(OptEntry));
    if (!c->opts) return lqa_errf(p->err, "out of memory");
    for (int i = 0; i < c->n_opts; i++)
        if (parse_opt(p, cJSON_GetArrayItem(it, i), i, &c->opts[i])) return -1;
#undef ITEM

    /* Run ids must be unique. */
    int n = config_n_runs(c);
    for (int i = 0; i < n; i++) {
        RunSpec a, b;
        config_run(c, i, &a);
        for (int j = 0; j < i; j++) {
            config_run(c, j, &b);
            if (strcmp(a.id, b.id) == 0) {
                char k[64];
                snprintf(k, sizeof k, "optimizers[%d]", a.opt);
                FAIL(p, k, "run id \"%s\" repeats optimizers[%d]; give one of them a distinct \"label\"",
                     a.id, b.opt);
            }
        }
    }
    return 0;
}

int config_load(SweepConfig *c, const char *path, char *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    char *text = read_file(path, err);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        int line = 1;
        for (const char *q = text; at && q < at && *q; q++) line += *q == '\n';
        lqa_errf(err, "%s: line %d: invalid JSON", path, line);
        free(text);
        return -1;
    }
    P p = {path, err};
    int rc = parse_top(&p, root, c);
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
    }
    if (!c->output_dir[0]) snprintf(c->output_dir, sizeof c->output_dir, "results/%s", c->name);
    /* Data: default $LQA_DATA_DIR/<dataset>, else data/<dataset>. A relative
     * data_dir (given, or that default) is taken relative to the checkout, not
     * the working directory, so a config runs the same from any directory. */
    const char *data_root = getenv("LQA_DATA_DIR");
    bool from_env = false;
    if (!c->data_dir[0]) {
        from_env = data_root && *data_root;
        snprintf(c->data_dir, sizeof c->data_dir, "%s/%s", from_env ? data_root : "data", c->dataset);
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

void config_free(SweepConfig *c)
{
    for (int i = 0; i < c->n_opts; i++) free(c->opts[i].lrs);
    free(c->opts);
    free(c->seeds);
    memset(c, 0, sizeof *c);
}

int config_n_runs(const SweepConfig *c)
{
    int n = 0;
    for (int i = 0; i < c->n_opts; i++) n += c->opts[i].n_lrs * c->n_seeds;
    return n;
}

void config_run(const SweepConfig *c, int index, RunSpec *r)
{
    memset(r, 0, sizeof *r);
    r->index = index;
    int k = index;
    for (int i = 0; i < c->n_opts; i++) {
        int here = c->opts[i].n_lrs * c->n_seeds;
        if (k < here) {
            r->opt = i;
            r->lr_i = k / c->n_seeds;
            r->seed_i = k % c->n_seeds;
            snprintf(r->id, sizeof r->id, "%s_lr%g_s%llu", c->opts[i].label, c->opts[i].lrs[r->lr_i],
                     (unsigned long long)c->seeds[r->seed_i]);
            return;
        }
        k -= here;
    }
    LQA_CHECK(!"run index out of range");
}
