/* config.c — parse and validate a sweep config with cJSON.
 * Every unknown key, wrong type or out-of-range value is an error naming the
 * file and the key path (e.g. "configs/x.json: optimizers[1].lr: must be > 0").
 * This file: finding and reading the config, the top-level keys, config_load;
 * the optimizer entries, grids and JSON value checks are in config_opt.c,
 * config_grid.c and config_json.c (config_internal.h). */
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
#include "config_internal.h"

/* ---- finding and reading the file ----------------------------------------- */

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

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- the top-level keys ---------------------------------------------------- */

static const char *const TOP_KEYS[] = {
    "name", "notes", "model", "dataset", "data_dir", "output_dir", "batch_size", "eval_batch",
    "epochs", "steps", "seeds", "init", "shuffle", "drop_last", "train_limit", "test_limit",
    "normalize", "eval_train", "eval_test", "dump_init", "dump_batches", "validation",
    "optimizers", "diverge", "eval_every", "checkpoint_every", "checkpoint_minutes", "start",
    "stop_loss", "steps_every", NULL}; /* and the model options (parse_model_options) */

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

/* the booleans, train/test limits, eval_every, steps_every, checkpoint_every/_minutes */
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
    c->steps_every = 1;
    if (ITEM("steps_every") && get_int(p, it, "steps_every", 1, 1000000000L, &c->steps_every)) return -1;
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

/* cJSON ends a string at an escaped NUL: "a\u0000b" would read as "a". */
static int check_no_nul(const char *text, const char *path, char *err)
{
    bool in_str = false;
    int line = 1;
    for (const char *q = text; *q; q++) {
        if (*q == '\n') line++;
        if (!in_str) {
            in_str = *q == '"';
        } else if (*q == '\\') {
            if (q[1] == 'u' && strncmp(q + 2, "0000", 4) == 0)
                return lqa_errf(err, "%s: line %d: \\u0000 (NUL) in a string is not allowed", path,
                                line);
            if (q[1]) q++;
        } else if (*q == '"') {
            in_str = false;
        }
    }
    return 0;
}

/* Read, check and parse the file into *c: 0, or -1 with *c freed. */
static int parse_file(SweepConfig *c, const char *path, char *err)
{
    char *text = read_file(path, err);
    if (!text) return -1;
    if (check_no_nul(text, path, err)) {
        free(text);
        return -1;
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
    if (rc) config_free(c);
    return rc ? -1 : 0;
}

/* Default sweep name: the file's base name without .json. */
static int default_name(SweepConfig *c, const char *path, char *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(c->name, sizeof c->name, "%s", base);
    char *dot = strstr(c->name, ".json");
    if (dot) *dot = 0;
    sanitize_label(c->name);
    if (!c->name[0] || strcmp(c->name, ".") == 0 || strcmp(c->name, "..") == 0)
        return lqa_errf(err, "%s: name: the file name gives no valid sweep name; set \"name\"", path);
    return 0;
}

/* Data: default $LQA_DATA_DIR/<dataset>, else data/<dataset>. A relative
 * data_dir (given, or that default) is taken relative to the checkout, not
 * the working directory, so a config runs the same from any directory. */
static int resolve_data_dir(SweepConfig *c, const char *path, char *err)
{
    const char *data_root = getenv("LQA_DATA_DIR");
    bool from_env = false;
    if (!c->data_dir[0]) {
        from_env = data_root && *data_root;
        int len = snprintf(c->data_dir, sizeof c->data_dir, "%s/%s",
                           from_env ? data_root : "data", c->dataset);
        if (len < 0 || (size_t)len >= sizeof c->data_dir)
            return lqa_errf(err, "LQA_DATA_DIR: longer than %zu characters", sizeof c->data_dir - 20);
    }
    char repo[CFG_PATH_LEN];
    if (!from_env && c->data_dir[0] != '/' && repo_root(repo, sizeof repo) == 0) {
        char abs[2 * CFG_PATH_LEN];
        snprintf(abs, sizeof abs, "%s/%s", repo, c->data_dir);
        if (strlen(abs) >= sizeof c->data_dir)
            return lqa_errf(err, "%s: data_dir: %s: path too long", path, abs);
        memcpy(c->data_dir, abs, strlen(abs) + 1); /* fits: checked above */
    }
    return 0;
}

int config_load(SweepConfig *c, const char *path, char *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    if (parse_file(c, path, err)) return -1;
    if ((!c->name[0] && default_name(c, path, err)) || resolve_data_dir(c, path, err)) {
        config_free(c);
        return -1;
    }
    if (!c->output_dir[0]) snprintf(c->output_dir, sizeof c->output_dir, "results/%s", c->name);
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
