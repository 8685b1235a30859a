/* runmeta.c — a run's metadata (<run>.json: the resolved config, its hash,
 * the result, the files written and their sizes) and what it says about the
 * run's state (see runmeta.h). */
#define _DEFAULT_SOURCE
#include "runmeta.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "afile.h"
#include "blas.h"
#include "common.h"
#include "kernel_dispatch.h"
#include "runlock.h"
#include "schedule.h"

#ifndef LQA_GIT_REV
#define LQA_GIT_REV "unknown"
#endif

/* ---- paths ------------------------------------------------------------- */

void run_path(char *buf, size_t n, const SweepConfig *c, const char *id, const char *suffix)
{
    int len = snprintf(buf, n, "%s/%s%s", c->output_dir, id, suffix);
    LQA_CHECK(len >= 0 && (size_t)len < n);
}

static void host_name(char *buf, size_t n)
{
    if (gethostname(buf, n) != 0) snprintf(buf, n, "unknown");
    buf[n - 1] = 0;
}

/* ---- metadata ------------------------------------------------------------ */

static cJSON *json_num(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *optimizer_json(const OptEntry *e, double lr)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", e->def->name);
    cJSON_AddStringToObject(o, "label", e->label);
    cJSON_AddNumberToObject(o, "lr", lr);
    for (int i = 0; i < e->def->n_hparams; i++) {
        const HParamSpec *s = &e->def->hparams[i];
        if (s->type == HP_BOOL) {
            cJSON_AddBoolToObject(o, s->name, e->hp[i] != 0);
        } else if (s->type == HP_ENUM) {
            char buf[256];
            const char *names[OPT_MAX_CHOICES];
            int n = optim_choices(s, buf, sizeof buf, names, OPT_MAX_CHOICES), k = (int)e->hp[i];
            cJSON_AddStringToObject(o, s->name, k >= 0 && k < n ? names[k] : "?");
        } else {
            cJSON_AddNumberToObject(o, s->name, e->hp[i]);
        }
    }
    if (e->sched.type != SCHED_NONE) {
        char buf[256];
        cJSON_AddStringToObject(o, "schedule", schedule_describe(&e->sched, buf, sizeof buf));
    }
    return o;
}

static void cpu_name(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c += 2;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

/* The run's resolved config, as its .json records it. Every key but those of
 * UNHASHED_KEYS changes the results and goes into config_hash. */
static const char *const UNHASHED_KEYS[] = {"sweep", "config_file", "data_dir", NULL};

/* The model options into cfg: those always recorded (always), or the others
 * when not at their default (!always). Two groups, in the order config_hash
 * has always seen them. */
static void add_model_options(cJSON *cfg, const ModelSpec *spec, bool always)
{
    for (int i = 0; i < model_option_count(); i++) {
        const ModelOption *o = model_option_get(i);
        double v = model_option_value(spec, o);
        if (o->always_recorded != always || (!always && v == o->def)) continue;
        if (o->type == MOPT_ENUM) cJSON_AddStringToObject(cfg, o->key, o->names[(int)v]);
        else cJSON_AddNumberToObject(cfg, o->key, v);
    }
}

static cJSON *run_config_json(const SweepConfig *c, const RunSpec *r)
{
    const OptEntry *e = &c->opts[r->opt];
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "sweep", c->name);
    cJSON_AddStringToObject(cfg, "config_file", c->path);
    cJSON_AddStringToObject(cfg, "model", c->model);
    cJSON_AddStringToObject(cfg, "dataset", c->dataset);
    cJSON_AddStringToObject(cfg, "data_dir", c->data_dir);
    cJSON_AddNumberToObject(cfg, "batch_size", c->batch_size);
    cJSON_AddNumberToObject(cfg, "eval_batch", c->eval_batch);
    if (c->epochs) cJSON_AddNumberToObject(cfg, "epochs", (double)c->epochs);
    else cJSON_AddNumberToObject(cfg, "steps", (double)c->steps);
    cJSON_AddNumberToObject(cfg, "seed", (double)c->seeds[r->seed_i]);
    cJSON_AddStringToObject(cfg, "init", c->init == INIT_ZEROS ? "zeros" : "default");
    cJSON_AddBoolToObject(cfg, "shuffle", c->shuffle);
    cJSON_AddBoolToObject(cfg, "drop_last", c->drop_last);
    cJSON_AddNumberToObject(cfg, "train_limit", c->train_limit);
    cJSON_AddNumberToObject(cfg, "test_limit", c->test_limit);
    cJSON_AddNumberToObject(cfg, "validation", c->validation);
    cJSON_AddStringToObject(cfg, "normalize", c->normalize == NORM_MEANSTD ? "meanstd" : "unit");
    add_model_options(cfg, config_run_model(c, r), true);
    cJSON_AddBoolToObject(cfg, "eval_train", c->eval_train);
    cJSON_AddBoolToObject(cfg, "eval_test", c->eval_test);
    if (c->eval_every) cJSON_AddNumberToObject(cfg, "eval_every", (double)c->eval_every);
    if (c->steps_every > 1) cJSON_AddNumberToObject(cfg, "steps_every", (double)c->steps_every);
    add_model_options(cfg, config_run_model(c, r), false);
    if (c->n_start) cJSON_AddItemToObject(cfg, "start", cJSON_CreateDoubleArray(c->start, c->n_start));
    if (c->has_stop_loss) cJSON_AddNumberToObject(cfg, "stop_loss", c->stop_loss);
    cJSON *dv = cJSON_AddObjectToObject(cfg, "diverge");
    cJSON_AddNumberToObject(dv, "factor", c->diverge_factor);
    cJSON_AddNumberToObject(dv, "window", c->diverge_window);
    cJSON_AddItemToObject(cfg, "optimizer", optimizer_json(e, e->lrs[r->lr_i]));
    return cfg;
}

/* An optimizer hyperparameter that the recorded config lacks and the current
 * one holds at its default came with a later version of lqabench; a new
 * hyperparameter's default reproduces what the method did before it existed
 * (the rule for adding one, README "Extending"), so it does not make a
 * complete run stale. Removes such keys from `now`, the current config. */
static void drop_added_defaults(cJSON *now, const cJSON *old, const OptEntry *e)
{
    cJSON *on = cJSON_GetObjectItemCaseSensitive(now, "optimizer");
    const cJSON *oo = cJSON_GetObjectItemCaseSensitive(old, "optimizer");
    if (!cJSON_IsObject(on) || !cJSON_IsObject(oo)) return;
    OptEntry d = *e;
    for (int i = 0; i < e->def->n_hparams; i++) d.hp[i] = e->def->hparams[i].def;
    cJSON *dj = optimizer_json(&d, 0);
    for (int i = 0; i < e->def->n_hparams; i++) {
        const char *k = e->def->hparams[i].name;
        if (cJSON_GetObjectItemCaseSensitive(oo, k)) continue;
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(on, k);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(dj, k);
        if (a && b && cJSON_Compare(a, b, true)) cJSON_DeleteItemFromObjectCaseSensitive(on, k);
    }
    cJSON_Delete(dj);
}

static bool unhashed(const char *key)
{
    for (int i = 0; UNHASHED_KEYS[i]; i++)
        if (strcmp(key, UNHASHED_KEYS[i]) == 0) return true;
    return false;
}

/* 64-bit FNV-1a of the result-relevant keys, printed compactly, as 16 hex digits. */
static void config_hash(const cJSON *cfg, char out[17])
{
    uint64_t h = 14695981039346656037ull;
    for (const cJSON *it = cfg->child; it; it = it->next) {
        if (unhashed(it->string)) continue;
        char *v = cJSON_PrintUnformatted(it);
        LQA_CHECK(v != NULL);
        for (const char *s = it->string; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
        h = (h ^ ':') * 1099511628211ull;
        for (const char *s = v; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
        h = (h ^ '\n') * 1099511628211ull;
        free(v);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* Append to buf the result-relevant keys whose values differ between the
 * config `now` and the recorded `old` ("optimizer.beta1" for nested keys). */
static void config_diff(const cJSON *now, const cJSON *old, const char *prefix, char *buf, size_t n)
{
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *a = pass ? old : now, *b = pass ? now : old;
        for (const cJSON *it = a->child; it; it = it->next) {
            if (!it->string || (!prefix[0] && unhashed(it->string))) continue;
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(b, it->string);
            if (pass && o) continue; /* keys of both: compared in the first pass */
            char key[128];
            snprintf(key, sizeof key, "%s%s", prefix, it->string);
            if (o && cJSON_IsObject(it) && cJSON_IsObject(o)) {
                char sub[130];
                snprintf(sub, sizeof sub, "%s.", key);
                config_diff(it, o, sub, buf, n);
            } else if (!o || !cJSON_Compare(it, o, true)) {
                size_t len = strlen(buf);
                snprintf(buf + len, n - len, "%s%s", len ? ", " : "", key);
            }
        }
    }
}

void run_ckpt_ident(const SweepConfig *c, const RunSpec *r, char *buf, size_t n)
{
    cJSON *cfg = run_config_json(c, r);
    char hash[17];
    config_hash(cfg, hash);
    cJSON_Delete(cfg);
    /* results depend on the kernel path and OpenBLAS core too (README, Portability): a
     * checkpoint made on another CPU kind is not continued; the dump files must be in it */
    snprintf(buf, n, "lqabench %s %s config %s kernels %s openblas %s dumps %d%d", LQA_VERSION,
             LQA_GIT_REV, hash, kernel_path(), blas_corename(), (int)c->dump_init,
             (int)c->dump_batches);
}

static const char *const FILE_SUFFIXES[] = {".steps.csv", ".epochs.csv", ".init.f32", ".batches.i32", NULL};

int run_write_meta(const SweepConfig *c, const RunSpec *r, int threads, bool timing,
                   const RunResult *res, const char *started, char *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "run", r->id);
    cJSON_AddStringToObject(root, "status", res->status);
    if (res->reason[0]) cJSON_AddStringToObject(root, "reason", res->reason);
    cJSON *s = cJSON_AddObjectToObject(root, "result");
    cJSON_AddNumberToObject(s, "steps", (double)res->steps);
    cJSON_AddItemToObject(s, "final_loss", json_num(res->final_loss));
    cJSON_AddItemToObject(s, "train_loss", json_num(res->train_loss));
    cJSON_AddItemToObject(s, "test_loss", json_num(res->test_loss));
    cJSON_AddItemToObject(s, "test_acc", json_num(res->test_acc));
    cJSON_AddItemToObject(s, "val_loss", json_num(res->val_loss));
    cJSON_AddItemToObject(s, "val_acc", json_num(res->val_acc));
    cJSON_AddItemToObject(s, "seconds", json_num(timing ? res->seconds : NAN));
    cJSON_AddNumberToObject(s, "fwd", (double)res->fwd);
    cJSON_AddNumberToObject(s, "bwd", (double)res->bwd);
    char p[RUNLOCK_PATH_BUF];
    snprintf(p, sizeof p, "%s.steps.csv", r->id);
    cJSON_AddStringToObject(s, "csv", p);
    snprintf(p, sizeof p, "%s.epochs.csv", r->id);
    cJSON_AddStringToObject(s, "epochs_csv", p);

    cJSON *cfg = run_config_json(c, r);
    char hash[17];
    config_hash(cfg, hash);
    cJSON_AddItemToObject(root, "config", cfg);
    cJSON_AddStringToObject(root, "config_hash", hash);
    if (strcmp(res->status, "failed") != 0) { /* the files of a complete run and their sizes */
        cJSON *files = cJSON_AddObjectToObject(root, "files");
        for (int i = 0; FILE_SUFFIXES[i]; i++) {
            if ((i == 2 && !c->dump_init) || (i == 3 && !c->dump_batches)) continue;
            struct stat st;
            run_path(p, sizeof p, c, r->id, FILE_SUFFIXES[i]);
            if (stat(p, &st) != 0) {
                cJSON_Delete(root);
                return lqa_errf(err, "%.400s: cannot stat: %s", p, strerror(errno));
            }
            snprintf(p, sizeof p, "%s%s", r->id, FILE_SUFFIXES[i]);
            cJSON_AddNumberToObject(files, p, (double)st.st_size);
        }
    }

    cJSON *env = cJSON_AddObjectToObject(root, "environment");
    cJSON_AddStringToObject(env, "lqabench", LQA_VERSION);
    cJSON_AddStringToObject(env, "git", LQA_GIT_REV);
    cJSON_AddNumberToObject(env, "threads", threads);
    cJSON_AddStringToObject(env, "openblas", blas_config());
    cJSON_AddStringToObject(env, "openblas_core", blas_corename());
    cJSON_AddStringToObject(env, "kernel_path", kernel_path());
    cJSON_AddStringToObject(env, "cjson", cJSON_Version());
    cJSON_AddStringToObject(env, "zlib", zlibVersion());
    cJSON_AddStringToObject(env, "libpng", png_get_libpng_ver(NULL));
    char cpu[256], host[256];
    cpu_name(cpu, sizeof cpu);
    host_name(host, sizeof host);
    cJSON_AddStringToObject(env, "cpu", cpu);
    cJSON_AddStringToObject(env, "host", host);
    if (timing) cJSON_AddStringToObject(env, "started", started);

    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return lqa_errf(err, "out of memory writing metadata");
    run_path(p, sizeof p, c, r->id, ".json");
    size_t len = strlen(text);
    text[len] = '\n';
    int rc = afile_write_all(p, text, len + 1, err);
    free(text);
    return rc;
}

/* ---- what a run's .json says ------------------------------------------------ */

static cJSON *read_json(const char *path, bool *exists)
{
    *exists = false;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    *exists = true;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap = cap * 2 + 8192);
            if (!nb) break;
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    bool ok = buf && !ferror(f);
    fclose(f);
    cJSON *root = NULL;
    if (ok) {
        buf[len] = 0;
        if (strlen(buf) == len) root = cJSON_ParseWithOpts(buf, NULL, true);
    }
    free(buf);
    return root;
}

/* Run r's file `name` (a plain name in output_dir) exists with `size` bytes
 * (size < 0: any). */
static bool file_ok(const SweepConfig *c, const RunSpec *r, const char *name, double size,
                    char *why, size_t n)
{
    char p[RUNLOCK_PATH_BUF];
    if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strlen(name) > 255) {
        snprintf(why, n, "%s.json is damaged (files)", r->id);
        return false;
    }
    run_path(p, sizeof p, c, name, "");
    struct stat sb;
    if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(why, n, "%s is missing", name);
        return false;
    }
    if (size >= 0 && (double)sb.st_size != size) {
        snprintf(why, n, "%s has %lld bytes, %s.json records %.0f", name, (long long)sb.st_size,
                 r->id, size);
        return false;
    }
    return true;
}

RunState run_state(const SweepConfig *c, const RunSpec *r, cJSON **meta, char *why, size_t n)
{
    char p[RUNLOCK_PATH_BUF];
    run_path(p, sizeof p, c, r->id, ".json");
    bool exists;
    cJSON *root = read_json(p, &exists);
    if (meta) *meta = NULL;
    why[0] = 0;
    if (!root) {
        if (!exists) return RUN_MISSING;
        snprintf(why, n, "%s.json is damaged (not valid JSON)", r->id);
        return RUN_DAMAGED;
    }
    RunState st = RUN_COMPLETE;
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(root, "run");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "result");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(root, "config_hash");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    if (!cJSON_IsString(run) || strcmp(run->valuestring, r->id) != 0 || !cJSON_IsString(status) ||
        !cJSON_IsObject(res) || !cJSON_IsObject(cfg) || (hash && !cJSON_IsString(hash)) ||
        (files && !cJSON_IsObject(files))) {
        snprintf(why, n, "%s.json is damaged (keys run, status, result or config missing or wrong)", r->id);
        st = RUN_DAMAGED;
        goto out;
    }
    if (strcmp(status->valuestring, "failed") == 0) {
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(root, "reason");
        snprintf(why, n, "failed before (%.300s)",
                 cJSON_IsString(reason) ? reason->valuestring : "no reason recorded");
        st = RUN_FAILED;
        goto out;
    }
    if (strcmp(status->valuestring, "done") != 0 && strcmp(status->valuestring, "diverged") != 0) {
        snprintf(why, n, "%s.json is damaged (status \"%.40s\")", r->id, status->valuestring);
        st = RUN_DAMAGED;
        goto out;
    }
    cJSON *now = run_config_json(c, r);
    char h[17];
    config_hash(now, h);
    if (hash && strcmp(hash->valuestring, h) != 0) {
        drop_added_defaults(now, cfg, &c->opts[r->opt]);
        config_hash(now, h);
    }
    if (!hash || strcmp(hash->valuestring, h) != 0) {
        char keys[LQA_ERR_LEN / 2] = "";
        config_diff(now, cfg, "", keys, sizeof keys);
        if (keys[0] || hash) {
            snprintf(why, n, "differs in %s", keys[0] ? keys : "config_hash");
            st = RUN_STALE;
        }
    }
    cJSON_Delete(now);
    if (st != RUN_COMPLETE) goto out;
    /* Files: those recorded, with their sizes; a .json without "files" (older
     * versions) needs its two CSVs. */
    if (files) {
        for (const cJSON *f = files->child; f && st == RUN_COMPLETE; f = f->next)
            if (!cJSON_IsNumber(f) || !file_ok(c, r, f->string, f->valuedouble, why, n)) st = RUN_DAMAGED;
    } else {
        char name[RUNLOCK_PATH_BUF];
        for (int i = 0; i < 2 && st == RUN_COMPLETE; i++) {
            snprintf(name, sizeof name, "%s%s", r->id, FILE_SUFFIXES[i]);
            if (!file_ok(c, r, name, -1, why, n)) st = RUN_DAMAGED;
        }
    }
out:
    if (meta && st != RUN_DAMAGED) *meta = root;
    else cJSON_Delete(root);
    return st;
}
