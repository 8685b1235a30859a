/* sweep.c — the sweep: every optimizer × lr × seed of a config, each run
 * writing its own files into output_dir:
 *   <run>.steps.csv   one row per mini-batch step
 *   <run>.epochs.csv  one row per epoch (row 0: before training)
 *   <run>.json        metadata + result, written last: the resolved config, its hash
 *                     and the size of every file the run wrote
 *   summary.csv       one row per complete run, rebuilt from the .json files
 * A run is complete when its .json parses, says done or diverged, was made
 * with the same result-relevant config (config_hash) and its files have the
 * sizes it records. A failed or damaged run is run again; a complete run made
 * with another config is an error unless --force redoes it.
 * Runs claim a <run>.lock file so that several processes can share one
 * output_dir; a lock left by a dead process is taken over. */
#define _DEFAULT_SOURCE
#include "sweep.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "afile.h"
#include "blas.h"
#include "kernel_dispatch.h"
#include "common.h"
#include "dataset.h"
#include "model.h"
#include "optim.h"
#include "schedule.h"
#include "train.h"

#ifndef LQA_GIT_REV
#define LQA_GIT_REV "unknown"
#endif

#define LOCK_STALE_SECONDS 600 /* a lock from another host not refreshed for this long is stale */

/* ---- paths ------------------------------------------------------------- */

/* output_dir is at most CFG_PATH_LEN - 1 characters (config.c, main.c) and a
 * run id at most sizeof RunSpec.id - 1: every run path fits PATH_BUF. */
#define PATH_BUF (CFG_PATH_LEN + 256)

static void run_path(char *buf, size_t n, const SweepConfig *c, const char *id, const char *suffix)
{
    int len = snprintf(buf, n, "%s/%s%s", c->output_dir, id, suffix);
    LQA_CHECK(len >= 0 && (size_t)len < n);
}

/* ---- locking ----------------------------------------------------------- */

static void host_name(char *buf, size_t n)
{
    if (gethostname(buf, n) != 0) snprintf(buf, n, "unknown");
    buf[n - 1] = 0;
}

/* 1: the lock at path is stale (its owner is gone, or is this process), 0:
 * held by a live process (or being written), -1: no lock there any more.
 * Owners are told apart by host, boot id, PID namespace, PID and nonce
 * (afile.h); a lock that does not parse is honoured for 5 seconds only (being
 * written: a lock whose write failed is not honoured). */
static int lock_stale(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[700] = "";
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fclose(f);
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    return owner_of_line(line, st.st_mtime, LOCK_STALE_SECONDS) == OWNER_ALIVE ? 0 : 1;
}

/* Remove the lock at path if it is stale. It is removed only while holding
 * <run>.lock.break (O_EXCL) and after re-checking it under that guard:
 * otherwise two processes that both saw the same stale lock could both take it
 * over, the second deleting the first one's fresh lock (and then its temporary
 * files) and running the run twice. 1: removed or gone, 0: not removed (held,
 * or another process is breaking it), -1: error. */
static int lock_break(const char *path, char *err)
{
    int stale = lock_stale(path);
    if (stale != 1) return stale < 0 ? 1 : 0;
    size_t len = strlen(path);
    char *brk = malloc(len + sizeof ".break");
    if (!brk) return lqa_errf(err, "out of memory");
    memcpy(brk, path, len);
    memcpy(brk + len, ".break", sizeof ".break");
    const char *delay = getenv("LQA_TEST_LOCK_DELAY_MS"); /* test seam: widen the race window */
    if (delay) nanosleep(&(struct timespec){0, atol(delay) % 1000 * 1000000L}, NULL);
    int rc = 0, b = open(brk, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (b < 0) {
        if (errno != EEXIST) {
            rc = lqa_errf(err, "%.400s: cannot create: %s", brk, strerror(errno));
        } else {
            struct stat st; /* another process is breaking the lock; a guard this old is a dead one's */
            if (stat(brk, &st) == 0 && difftime(time(NULL), st.st_mtime) > 10) unlink(brk);
            else nanosleep(&(struct timespec){0, 5000000}, NULL);
        }
    } else {
        close(b);
        if (lock_stale(path) == 1) unlink(path); /* stale: its owner died */
        unlink(brk);
    }
    free(brk);
    return rc;
}

/* 1: claimed by us, 0: held by a live process, -1: error. */
static int lock_claim(const char *path, char *err)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            char line[700];
            int len = snprintf(line, sizeof line, "%s\n", owner_line());
            ssize_t w = write(fd, line, (size_t)len);
            int e = errno;
            if (close(fd) != 0 && w == len) w = -1, e = errno;
            if (w == len) return 1;
            unlink(path); /* a lock that says nobody is no lock */
            return lqa_errf(err, "%.400s: cannot write lock: %s", path,
                            w < 0 ? strerror(e) : "short write");
        }
        if (errno != EEXIST) return lqa_errf(err, "%.400s: cannot create lock: %s", path, strerror(errno));
        int stale = lock_stale(path);
        if (stale == 0) return 0;
        if (stale < 0) continue; /* released meanwhile: try again */
        if (lock_break(path, err) < 0) return -1;
    }
    return 0;
}

/* Remove the temporary files (<file>.tmp.<owner tag>, exact names) of run `id`,
 * or of summary.csv when id is NULL: those of dead owners, or every one when
 * any_owner (the caller holds the run's lock). */
static void clean_temps(const SweepConfig *c, const char *id, bool any_owner)
{
    DIR *d = opendir(c->output_dir);
    if (!d) return;
    static const char *const SUMMARY[] = {"summary.csv", NULL};
    static const char *const RUN_FILES[] = {".steps.csv", ".epochs.csv", ".init.f32",
                                            ".batches.i32", ".json", NULL};
    const char *const *names = id ? RUN_FILES : SUMMARY;
    size_t idlen = id ? strlen(id) : 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *nm = e->d_name;
        if (id && strncmp(nm, id, idlen) != 0) continue;
        for (int i = 0; names[i]; i++) {
            size_t sl = strlen(names[i]);
            const char *rest = nm + idlen;
            if (strncmp(rest, names[i], sl) != 0 || strncmp(rest + sl, ".tmp.", 5) != 0) continue;
            char p[PATH_BUF];
            run_path(p, sizeof p, c, nm, "");
            struct stat st;
            OwnerState o;
            if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
                owner_of_tag(rest + sl + 5, st.st_mtime, LOCK_STALE_SECONDS, &o) &&
                (any_owner || o == OWNER_DEAD))
                unlink(p);
        }
    }
    closedir(d);
}

static void remove_stale_summary_temps(const SweepConfig *c) { clean_temps(c, NULL, false); }

/* ---- progress ------------------------------------------------------------ */

typedef struct Progress {
    bool on;
    int run_i, run_n;
    const char *id;
    double last;
    double t_start;       /* this run's training start */
    double t_sweep;       /* the sweep's start (its first run) */
    const char *lock;
    double last_touch;
} Progress;

/* Heartbeat for other hosts: refresh the lock's mtime every 30 s, during training
 * and evaluation alike (a ResNet-18 evaluation can outlast LOCK_STALE_SECONDS). */
static void lock_heartbeat(Progress *p)
{
    double now = lqa_now();
    if (p && p->lock && now - p->last_touch > 30) {
        utimensat(AT_FDCWD, p->lock, NULL, 0);
        p->last_touch = now;
    }
}

/* A duration for the progress line: 42s, 3m05s, 2h07m. */
static void fmt_duration(char *buf, size_t n, double s)
{
    long t = (long)(s + 0.5);
    if (t < 60) snprintf(buf, n, "%lds", t);
    else if (t < 3600) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
}

/* Time left in the run (its steps so far) and in the sweep (its elapsed time,
 * evaluations included, over the fraction of its runs done, counting the current
 * run's steps). */
static void progress_step(Progress *p, long step, long total, double loss)
{
    lock_heartbeat(p);
    double now = lqa_now();
    if (!p->on || (now - p->last < 0.2 && step < total)) return;
    p->last = now;
    double el = now - p->t_start;
    double left = step > 0 ? el / step * (double)(total - step) : 0;
    double frac = ((double)(p->run_i - 1) + (double)step / (double)total) / (double)p->run_n;
    double sweep_left = frac > 0 ? (now - p->t_sweep) / frac * (1.0 - frac) : 0;
    char rl[32], sl[32];
    fmt_duration(rl, sizeof rl, left);
    fmt_duration(sl, sizeof sl, sweep_left);
    fprintf(stderr, "\r\033[K[run %d/%d] %s  step %ld/%ld  loss %.4g  %s left in run, %s in sweep",
            p->run_i, p->run_n, p->id, step, total, loss, rl, sl);
    fflush(stderr);
}

static void progress_end(Progress *p)
{
    if (p->on) fprintf(stderr, "\r\033[K");
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
        int v = model_option_value(spec, o);
        if (o->always_recorded != always || (!always && v == o->def)) continue;
        if (o->type == MOPT_ENUM) cJSON_AddStringToObject(cfg, o->key, o->names[v]);
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
    add_model_options(cfg, &c->model_opts, true);
    cJSON_AddBoolToObject(cfg, "eval_train", c->eval_train);
    cJSON_AddBoolToObject(cfg, "eval_test", c->eval_test);
    if (c->eval_every) cJSON_AddNumberToObject(cfg, "eval_every", (double)c->eval_every);
    add_model_options(cfg, &c->model_opts, false);
    cJSON *dv = cJSON_AddObjectToObject(cfg, "diverge");
    cJSON_AddNumberToObject(dv, "factor", c->diverge_factor);
    cJSON_AddNumberToObject(dv, "window", c->diverge_window);
    cJSON_AddItemToObject(cfg, "optimizer", optimizer_json(e, e->lrs[r->lr_i]));
    return cfg;
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

static const char *const FILE_SUFFIXES[] = {".steps.csv", ".epochs.csv", ".init.f32", ".batches.i32", NULL};

static int write_meta(const SweepConfig *c, const RunSpec *r, const SweepOptions *opt,
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
    cJSON_AddItemToObject(s, "seconds", json_num(opt->timing ? res->seconds : NAN));
    cJSON_AddNumberToObject(s, "fwd", (double)res->fwd);
    cJSON_AddNumberToObject(s, "bwd", (double)res->bwd);
    char p[PATH_BUF];
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
    cJSON_AddNumberToObject(env, "threads", opt->threads);
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
    if (opt->timing) cJSON_AddStringToObject(env, "started", started);

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

typedef enum {
    RUN_MISSING,  /* no .json */
    RUN_COMPLETE, /* done or diverged, same config, files as recorded */
    RUN_FAILED,   /* status failed: run again */
    RUN_DAMAGED,  /* unreadable .json, or files missing or of other sizes: run again */
    RUN_STALE,    /* complete, but made with another config */
} RunState;

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
    char p[PATH_BUF];
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

/* The state of run r in output_dir; *meta receives the parsed .json (when
 * meta is not NULL and the .json parses; the caller deletes it) and why a
 * sentence for the states other than MISSING and COMPLETE. */
static RunState run_state(const SweepConfig *c, const RunSpec *r, cJSON **meta, char *why, size_t n)
{
    char p[PATH_BUF];
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
        char name[PATH_BUF];
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

/* ---- one run --------------------------------------------------------------- */

static void hook_begin(void *ctx) { ((Progress *)ctx)->t_start = lqa_now(); }
static void hook_tick(void *ctx) { lock_heartbeat(ctx); }
static void hook_step(void *ctx, long step, long total, double loss)
{
    progress_step(ctx, step, total, loss);
}

/* Run r into its files (written to temporaries, committed at the end). */
static int run_one(const SweepConfig *c, const SweepOptions *opt, Model *m, const TrainData *d,
                   Progress *prog, const RunSpec *r, RunResult *res, char *err)
{
    train_result_reset(res);
    TrainState s = {0};
    AFile fs = {0}, fe = {0}, fbatch = {0};
    int rc = -1;
    char path[PATH_BUF];

    if (train_begin(&s, c, r, m, d->train, err)) goto out;
    if (c->dump_init) {
        run_path(path, sizeof path, c, r->id, ".init.f32");
        if (afile_write_all(path, m->params, m->n_params * sizeof(float), err)) goto out;
    }
    if (c->dump_batches) {
        run_path(path, sizeof path, c, r->id, ".batches.i32");
        if (afile_open(&fbatch, path, err)) goto out;
    }
    run_path(path, sizeof path, c, r->id, ".steps.csv");
    if (afile_open(&fs, path, err)) goto out;
    run_path(path, sizeof path, c, r->id, ".epochs.csv");
    if (afile_open(&fe, path, err)) goto out;

    TrainOut out = {.steps = fs.f, .epochs = fe.f, .batches = fbatch.f, .timing = opt->timing};
    TrainHooks hooks = {hook_begin, hook_step, hook_tick, prog};
    train_run(&s, c, r, d, &out, &hooks, res);
    progress_end(prog);
    if (fbatch.f && afile_commit(&fbatch, err)) goto out;
    if (afile_commit(&fs, err) || afile_commit(&fe, err)) goto out;
    rc = 0;
out:
    if (fbatch.f) afile_abort(&fbatch);
    if (fs.f) afile_abort(&fs);
    if (fe.f) afile_abort(&fe);
    train_state_free(&s);
    return rc;
}

/* ---- summary ---------------------------------------------------------------- */

/* A loss for the summary table: 5 decimals, so that decimal points line up;
 * scientific notation only outside [1e-5, 1e6). "-" when not measured. */
static void fmt_loss(char *buf, size_t n, double v)
{
    if (isnan(v)) snprintf(buf, n, "-");
    else if (v != 0 && (fabs(v) < 1e-5 || fabs(v) >= 1e6)) snprintf(buf, n, "%.4e", v);
    else snprintf(buf, n, "%.5f", v);
}

static const char *SUMMARY_HEADER =
    "run,model,dataset,optimizer,label,lr,seed,status,steps,final_loss,train_loss,test_loss,"
    "test_acc,seconds,sec_per_step,fwd,bwd,csv,epochs_csv\n";

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

typedef struct SummaryRow {
    char run[160], opt[32], label[CFG_NAME_LEN], status[16], csv[200], ecsv[200];
    double lr, seed, steps, final_loss, train_loss, test_loss, test_acc, seconds, fwd, bwd;
    bool present;
} SummaryRow;

/* The summary row of run r: complete and failed runs have one. *state
 * receives the run's state, why its reason. */
static bool read_summary_row(const SweepConfig *c, const RunSpec *r, SummaryRow *row,
                             RunState *state, char *why, size_t n)
{
    memset(row, 0, sizeof *row);
    cJSON *root = NULL;
    *state = run_state(c, r, &root, why, n);
    if (*state == RUN_COMPLETE || *state == RUN_FAILED) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "result");
        const OptEntry *e = &c->opts[r->opt];
        snprintf(row->run, sizeof row->run, "%s", r->id);
        snprintf(row->opt, sizeof row->opt, "%s", e->def->name);
        snprintf(row->label, sizeof row->label, "%s", e->label);
        snprintf(row->status, sizeof row->status, "%s", st->valuestring);
        snprintf(row->csv, sizeof row->csv, "%s.steps.csv", r->id);
        snprintf(row->ecsv, sizeof row->ecsv, "%s.epochs.csv", r->id);
        row->lr = e->lrs[r->lr_i];
        row->seed = (double)c->seeds[r->seed_i];
        row->steps = jnum(res, "steps");
        row->final_loss = jnum(res, "final_loss");
        row->train_loss = jnum(res, "train_loss");
        row->test_loss = jnum(res, "test_loss");
        row->test_acc = jnum(res, "test_acc");
        row->seconds = jnum(res, "seconds");
        row->fwd = jnum(res, "fwd");
        row->bwd = jnum(res, "bwd");
        row->present = true;
    }
    cJSON_Delete(root);
    return row->present;
}

/* Rebuild summary.csv. *n_complete receives the number of complete runs,
 * *n_stale that of complete runs made with another config (left out, named on
 * stderr). Returns 0 or -1 (I/O error). */
static int summarize(const SweepConfig *c, const SweepOptions *opt, bool print_table,
                     int *n_complete, int *n_stale, char *err)
{
    char p[PATH_BUF];
    snprintf(p, sizeof p, "%s/summary.csv", c->output_dir);
    AFile a;
    *n_complete = *n_stale = 0;
    if (mkdir_p(c->output_dir, err) || afile_open(&a, p, err)) return -1;
    fputs(SUMMARY_HEADER, a.f);
    int n = config_n_runs(c), have = 0, failed = 0;
    if (print_table && !opt->quiet)
        printf("\n%-34s %-9s %7s %12s %12s %10s %10s\n", "run", "status", "steps", "final_loss",
               "train_loss", "test_acc %", "ms/step");
    for (int i = 0; i < n; i++) {
        RunSpec r;
        SummaryRow row;
        RunState state;
        char why[LQA_ERR_LEN];
        config_run(c, i, &r);
        if (!read_summary_row(c, &r, &row, &state, why, sizeof why)) {
            if (state == RUN_STALE) {
                fprintf(stderr, "lqabench: %s: made with another config (%s): not in summary.csv\n",
                        r.id, why);
                (*n_stale)++;
            }
            continue;
        }
        if (state == RUN_COMPLETE) have++;
        else failed++;
        char v[10][32];
        double vals[10] = {row.lr, row.seed, row.steps, row.final_loss, row.train_loss,
                           row.test_loss, row.test_acc, row.seconds,
                           row.steps > 0 ? row.seconds / row.steps : NAN, row.fwd};
        for (int k = 0; k < 10; k++) train_fmt_num(v[k], sizeof v[k], vals[k]);
        char bw[32];
        train_fmt_num(bw, sizeof bw, row.bwd);
        fprintf(a.f, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", row.run, c->model,
                c->dataset, row.opt, row.label, v[0], v[1], row.status, v[2], v[3], v[4], v[5], v[6],
                v[7], v[8], v[9], bw, row.csv, row.ecsv);
        if (print_table && !opt->quiet)
        {
            char fl[32], tl[32], ta[32] = "-", ms[32] = "-";
            fmt_loss(fl, sizeof fl, row.final_loss);
            fmt_loss(tl, sizeof tl, row.train_loss);
            if (!isnan(row.test_acc)) snprintf(ta, sizeof ta, "%.2f", 100.0 * row.test_acc);
            if (row.steps > 0 && !isnan(row.seconds))
                snprintf(ms, sizeof ms, "%.3f", 1e3 * row.seconds / row.steps);
            printf("%-34s %-9s %7.0f %12s %12s %10s %10s\n", row.run, row.status, row.steps, fl, tl,
                   ta, ms);
        }
    }
    if (afile_commit(&a, err)) return -1;
    if (print_table && !opt->quiet) {
        printf("%d of %d run%s complete", have, n, n == 1 ? "" : "s");
        if (failed) printf(", %d failed", failed);
        printf("; summary: %s\n", p);
    }
    *n_complete = have;
    return 0;
}

int sweep_summarize(const SweepConfig *c, const SweepOptions *opt, bool print_table, char *err)
{
    int have, stale;
    remove_stale_summary_temps(c);
    if (summarize(c, opt, print_table, &have, &stale, err)) return 1;
    if (stale) {
        lqa_errf(err, "%.300s: %d complete run%s made with another config (named above) left out "
                 "of summary.csv; redo them with --force", c->output_dir, stale, stale == 1 ? "" : "s");
        return 2;
    }
    return 0;
}

/* ---- the sweep --------------------------------------------------------------- */

static bool selected(const SweepOptions *opt, const RunSpec *r)
{
    if (opt->run_id && strcmp(opt->run_id, r->id) != 0) return false;
    if (opt->shard_n > 0 && r->index % opt->shard_n != opt->shard_i) return false;
    return true;
}

int sweep_list(const SweepConfig *c, const SweepOptions *opt)
{
    int n = config_n_runs(c);
    for (int i = 0; i < n; i++) {
        RunSpec r;
        config_run(c, i, &r);
        if (selected(opt, &r)) printf("%s\n", r.id);
    }
    return 0;
}

int sweep_execute(const SweepConfig *c, const SweepOptions *opt, char *err)
{
    int n = config_n_runs(c), todo = 0, failed = 0, stale = 0;
    RunSpec *runs = calloc((size_t)n, sizeof *runs);
    bool *pending = calloc((size_t)n, sizeof *pending);
    if (!runs || !pending) {
        free(runs);
        free(pending);
        return lqa_errf(err, "out of memory (%d runs)", n), 1;
    }
    bool found = !opt->run_id;
    for (int i = 0; i < n; i++) {
        config_run(c, i, &runs[i]);
        found |= opt->run_id && strcmp(runs[i].id, opt->run_id) == 0;
    }
    if (!found) {
        free(runs);
        free(pending);
        lqa_errf(err, "%s: no run \"%s\" in this sweep (see --list)", c->path, opt->run_id);
        return 2;
    }
    for (int i = 0; i < n; i++) {
        if (!selected(opt, &runs[i])) continue;
        char why[LQA_ERR_LEN];
        RunState st = run_state(c, &runs[i], NULL, why, sizeof why);
        if (st == RUN_STALE && !opt->force) {
            fprintf(stderr, "lqabench: %s: complete, but made with another config: %s\n",
                    runs[i].id, why);
            stale++;
        }
        pending[i] = opt->force || st != RUN_COMPLETE;
        todo += pending[i];
    }
    if (stale) {
        free(runs);
        free(pending);
        lqa_errf(err, "%.300s: %d complete run%s made with another config (named above); redo "
                 "them with --force, or use another --output-dir", c->output_dir, stale,
                 stale == 1 ? "" : "s");
        return 2;
    }
    blas_set_threads(opt->threads);
    if (mkdir_p(c->output_dir, err)) {
        free(runs);
        free(pending);
        return 1;
    }
    /* Leftovers of killed processes: summary temporaries, locks (and
     * temporaries) of runs that are complete. */
    remove_stale_summary_temps(c);
    for (int i = 0; i < n; i++) {
        char lock[PATH_BUF];
        run_path(lock, sizeof lock, c, runs[i].id, ".lock");
        if (pending[i] || access(lock, F_OK) != 0) continue;
        if (lock_break(lock, err) < 0) {
            free(runs);
            free(pending);
            return 1;
        }
        if (access(lock, F_OK) != 0) clean_temps(c, runs[i].id, false);
    }
    Dataset train = {0}, test = {0}, val = {0};
    Model m = {0};
    int status = 0;
    if (todo > 0) {
        if (dataset_load(&train, c->dataset, c->data_dir, true, c->normalize, c->train_limit, err) ||
            (c->eval_test &&
             dataset_load(&test, c->dataset, c->data_dir, false, c->normalize, c->test_limit, err)) ||
            (c->eval_test && dataset_check_pair(&train, &test, err))) {
            status = 1;
            goto out;
        }
        if (c->validation && dataset_split_tail(&train, c->validation, &val, err)) {
            status = 1;
            goto out;
        }
        ModelSpec spec = c->model_opts;
        spec.in_c = train.c;
        spec.in_h = train.h;
        spec.in_w = train.w;
        spec.n_classes = train.n_classes;
        spec.max_batch = LQA_MAX(c->batch_size, c->eval_batch);
        if (model_create(&m, c->model, &spec, err)) {
            status = 1;
            goto out;
        }
        if (!opt->quiet)
            fprintf(stderr, "lqabench: %s: %d run%s (%d to do), %s on %s (%zu parameters, %d train / %d validation / %d test samples), %d thread%s -> %s\n",
                    c->name, n, n == 1 ? "" : "s", todo, c->model, c->dataset, m.n_params, train.n, val.n, test.n,
                    opt->threads, opt->threads == 1 ? "" : "s", c->output_dir);
    }
    int done_i = 0;
    double t_sweep = lqa_now();
    for (int i = 0; i < n && todo > 0; i++) {
        RunSpec *r = &runs[i];
        if (!pending[i]) continue;
        done_i++;
        char lock[PATH_BUF];
        run_path(lock, sizeof lock, c, r->id, ".lock");
        int claim = lock_claim(lock, err);
        if (claim < 0) {
            status = 1;
            goto out;
        }
        if (claim == 0) {
            if (!opt->quiet) fprintf(stderr, "lqabench: %s: claimed by another process, skipped\n", r->id);
            continue;
        }
        char why[LQA_ERR_LEN];
        RunState st = run_state(c, r, NULL, why, sizeof why);
        if (!opt->force && st == RUN_COMPLETE) { /* finished by another process meanwhile */
            unlink(lock);
            continue;
        }
        if (!opt->force && st == RUN_STALE) { /* made meanwhile by a process with another config */
            fprintf(stderr, "lqabench: %s: complete, but made with another config: %s\n", r->id, why);
            unlink(lock);
            lqa_errf(err, "%s: made with another config meanwhile; redo it with --force", r->id);
            status = 2;
            goto out;
        }
        if (st == RUN_FAILED || st == RUN_DAMAGED)
            fprintf(stderr, "lqabench: %s: %s; running it again\n", r->id, why);
        clean_temps(c, r->id, true);
        char started[64];
        time_t now = time(NULL);
        strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        Progress prog = {.on = !opt->quiet && isatty(2), .run_i = done_i, .run_n = todo,
                         .id = r->id, .lock = lock, .last_touch = lqa_now(), .t_sweep = t_sweep};
        TrainData data = {&train, c->eval_test ? &test : NULL, c->validation ? &val : NULL};
        RunResult res;
        char rerr[LQA_ERR_LEN] = "";
        if (run_one(c, opt, &m, &data, &prog, r, &res, rerr)) {
            snprintf(res.status, sizeof res.status, "failed");
            snprintf(res.reason, sizeof res.reason, "%.250s", rerr);
            fprintf(stderr, "lqabench: %s: failed: %s\n", r->id, rerr);
            failed++;
        } else if (!opt->quiet && !prog.on) {
            fprintf(stderr, "lqabench: [%d/%d] %s: %s, final loss %.4g\n", done_i, todo, r->id,
                    res.status, res.final_loss);
        }
        if (write_meta(c, r, opt, &res, started, err)) {
            unlink(lock);
            status = 1;
            goto out;
        }
        unlink(lock);
    }
    int have, stale_rest;
    if (summarize(c, opt, true, &have, &stale_rest, err)) {
        status = 1;
    } else if (failed) {
        lqa_errf(err, "%d run%s failed (see the table and the run .json files)", failed,
                 failed == 1 ? "" : "s");
        status = 1;
    } else {
        int incomplete = 0;
        for (int i = 0; i < n; i++) {
            char why[LQA_ERR_LEN];
            if (selected(opt, &runs[i]) && run_state(c, &runs[i], NULL, why, sizeof why) != RUN_COMPLETE)
                incomplete++;
        }
        if (incomplete) {
            lqa_errf(err, "%d run%s asked for %s not complete (held by another process, or "
                     "removed meanwhile): run the same command again to finish",
                     incomplete, incomplete == 1 ? "" : "s", incomplete == 1 ? "is" : "are");
            status = 3;
        }
    }
out:
    if (m.ops) model_free(&m);
    dataset_free(&train);
    dataset_free(&test);
    dataset_free(&val);
    free(runs);
    free(pending);
    return status;
}
