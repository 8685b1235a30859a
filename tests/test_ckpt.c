/* test_ckpt.c — mid-run checkpoints (src/ckpt.c): a save restores exactly
 * (parameters, optimizer state, counters, file contents), and a restore is all
 * or nothing: a checkpoint whose checksum is right but whose optimizer block
 * does not fit, or whose file contents cannot be written back (a file size
 * limit), leaves the state and the files exactly as they were. */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "common.h"
#include "model.h"
#include "optim.h"
#include "test.h"
#include "train.h"

static char tmpdir[] = "/tmp/lqa_test_ckpt_XXXXXX";

static const char *tpath(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

/* A small run: logreg on 4x4 inputs, Adam, three steps taken. */
typedef struct Fix {
    Model m;
    TrainState s;
    Dataset ds;
    RunResult res;
    AFile fs, fe;
    float x[4 * 16];
    int y[4];
} Fix;

static int fix_init(Fix *f)
{
    memset(f, 0, sizeof *f);
    char err[LQA_ERR_LEN];
    ModelSpec spec = {.in_c = 1, .in_h = 4, .in_w = 4, .n_classes = 3, .max_batch = 4};
    if (model_create(&f->m, "logreg", &spec, err)) {
        T_CHECK(0, "create: %s", err);
        return -1;
    }
    model_init(&f->m, INIT_DEFAULT, 5);
    const OptimizerDef *adam = optim_find("adam");
    double hp[OPT_MAX_HP];
    optim_hparam_defaults(adam, hp);
    if (train_state_init(&f->s, &f->m, adam, hp, 0.01, NULL, 10, NULL, err)) {
        T_CHECK(0, "init: %s", err);
        return -1;
    }
    f->ds.n = 8;
    f->s.batcher.ds = &f->ds;
    f->s.total = 50;
    for (int i = 0; i < 4 * 16; i++) f->x[i] = (float)((i * 7) % 11) / 11.0f;
    for (int i = 0; i < 4; i++) f->y[i] = i % 3;
    train_result_reset(&f->res);
    return 0;
}

static void fix_steps(Fix *f, int k)
{
    StepRow row;
    for (int i = 0; i < k; i++) train_step(&f->s, f->x, f->y, 4, &row);
    f->res.steps = f->s.step;
    f->res.final_loss = row.loss;
}

static void fix_free(Fix *f)
{
    if (f->fs.f) afile_abort(&f->fs);
    if (f->fe.f) afile_abort(&f->fe);
    train_state_free(&f->s);
    model_free(&f->m);
}

static int open_files(Fix *f)
{
    char err[LQA_ERR_LEN];
    if (afile_open(&f->fs, tpath("r.steps.csv"), err) || afile_open(&f->fe, tpath("r.epochs.csv"), err)) {
        T_CHECK(0, "open: %s", err);
        return -1;
    }
    return 0;
}

/* The optimizer's state, concatenated (n bytes, malloc'ed). */
static unsigned char *opt_state(TrainState *s, size_t *n)
{
    OptBlock ob[OPT_MAX_BLOCKS];
    int k = s->opt.def->state_blocks(&s->opt, ob);
    size_t tot = 0;
    for (int i = 0; i < k; i++) tot += ob[i].n;
    unsigned char *p = malloc(tot + 1);
    for (int i = 0, at = 0; i < k; at += (int)ob[i].n, i++) memcpy(p + at, ob[i].p, ob[i].n);
    *n = tot;
    return p;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)len + 1);
    *n = fread(p, 1, (size_t)len, f);
    fclose(f);
    return p;
}

/* What the state is now, to compare with after a restore. */
typedef struct Snap {
    float *params;
    unsigned char *opt;
    size_t opt_n;
    long step;
    RunResult res;
} Snap;

static void snap_take(Snap *sn, Fix *f)
{
    sn->params = malloc(f->m.n_params * sizeof(float));
    memcpy(sn->params, f->m.params, f->m.n_params * sizeof(float));
    sn->opt = opt_state(&f->s, &sn->opt_n);
    sn->step = f->s.step;
    sn->res = f->res;
}

static bool snap_same(const Snap *sn, Fix *f)
{
    size_t n;
    unsigned char *o = opt_state(&f->s, &n);
    bool same = n == sn->opt_n && memcmp(o, sn->opt, n) == 0 &&
                memcmp(sn->params, f->m.params, f->m.n_params * sizeof(float)) == 0 &&
                sn->step == f->s.step && sn->res.steps == f->res.steps;
    free(o);
    return same;
}

static void snap_free(Snap *sn)
{
    free(sn->params);
    free(sn->opt);
}

static char big_csv[3000];

/* Save a checkpoint after three steps (with big_csv in the steps file); the
 * state saved goes to *saved; then two more steps, fresh files. */
static int make_ckpt(Fix *f, const char *ck, Snap *saved)
{
    char err[LQA_ERR_LEN];
    if (fix_init(f) || open_files(f)) return -1;
    fix_steps(f, 3);
    for (size_t i = 0; i + 1 < sizeof big_csv; i++) big_csv[i] = (char)('a' + i % 26);
    big_csv[sizeof big_csv - 2] = '\n';
    fputs(big_csv, f->fs.f);
    fputs("epoch\n", f->fe.f);
    AFile *files[2] = {&f->fs, &f->fe};
    int rc = ckpt_save(ck, "ident 1", &f->s, &f->res, files, 2, err);
    T_CHECK(rc == 0, "save: %s", err);
    snap_take(saved, f);
    fix_steps(f, 2);
    afile_abort(&f->fs);
    afile_abort(&f->fe);
    return rc || open_files(f);
}

static void test_roundtrip(void)
{
    Fix f;
    Snap saved;
    const char *ck = tpath("a.ckpt");
    if (make_ckpt(&f, ck, &saved)) return;
    T_CHECK(!snap_same(&saved, &f), "two more steps change the state");
    AFile *files[2] = {&f.fs, &f.fe};
    char why[LQA_ERR_LEN] = "";
    int got = ckpt_load(ck, "ident 1", &f.s, &f.res, files, 2, why, sizeof why);
    T_CHECK(got == 1, "load: %d %s", got, why);
    T_CHECK(snap_same(&saved, &f), "restored state is the saved one");
    fflush(f.fs.f);
    size_t n;
    unsigned char *p = slurp(f.fs.tmp, &n);
    T_CHECK(p && n == strlen(big_csv) && memcmp(p, big_csv, n) == 0, "steps file restored (%zu bytes)", n);
    free(p);
    /* another identity: not used, nothing changed */
    fix_steps(&f, 1);
    Snap now;
    snap_take(&now, &f);
    got = ckpt_load(ck, "ident 2", &f.s, &f.res, files, 2, why, sizeof why);
    T_CHECK(got == -1 && strstr(why, "another code version or config"), "foreign: %d %s", got, why);
    T_CHECK(snap_same(&now, &f), "foreign checkpoint: state untouched");
    T_CHECK(ckpt_load(tpath("none.ckpt"), "ident 1", &f.s, &f.res, files, 2, why, sizeof why) == 0,
            "no checkpoint: 0");
    snap_free(&now);
    snap_free(&saved);
    fix_free(&f);
}

static uint64_t fnv64(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Shorten the last optimizer block by 4 bytes and checksum the file again:
 * the checksum passes, the parameters (before it) fit, the block does not. */
static int damage_opt_block(const char *ck)
{
    size_t n;
    unsigned char *b = slurp(ck, &n);
    if (!b) return -1;
    size_t at = 24;
    uint64_t len;
    for (int i = 0; i < 5; i++) { /* ident, optimizer, scalars, params, buffers */
        memcpy(&len, b + at, 8);
        at += 8 + (size_t)len;
    }
    uint64_t nk;
    memcpy(&nk, b + at, 8);
    at += 8;
    size_t last = 0;
    for (uint64_t i = 0; i < nk; i++) {
        last = at;
        memcpy(&len, b + at, 8);
        at += 8 + (size_t)len;
    }
    memcpy(&len, b + last, 8);
    len -= 4;
    memcpy(b + last, &len, 8);
    memmove(b + at - 4, b + at, n - at); /* drop the block's last 4 bytes */
    n -= 4;
    uint64_t plen = n - 24, h = fnv64(b + 24, n - 24);
    memcpy(b + 8, &plen, 8);
    memcpy(b + 16, &h, 8);
    FILE *f = fopen(ck, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);
    return nk > 0 ? 0 : -1;
}

static void test_damaged_block(void)
{
    Fix f;
    Snap saved;
    const char *ck = tpath("b.ckpt");
    if (make_ckpt(&f, ck, &saved)) return;
    T_CHECK(damage_opt_block(ck) == 0, "damage the optimizer block");
    Snap now;
    snap_take(&now, &f);
    AFile *files[2] = {&f.fs, &f.fe};
    char why[LQA_ERR_LEN] = "";
    int got = ckpt_load(ck, "ident 1", &f.s, &f.res, files, 2, why, sizeof why);
    T_CHECK(got == -1 && strstr(why, "do not fit"), "damaged block: %d %s", got, why);
    T_CHECK(snap_same(&now, &f), "damaged block: parameters and optimizer state untouched");
    fflush(f.fs.f);
    T_CHECK(file_size(f.fs.tmp) == 0 && file_size(f.fe.tmp) == 0, "damaged block: files empty");
    snap_free(&now);
    snap_free(&saved);
    fix_free(&f);
}

/* The file contents cannot be written back (a file size limit below the steps
 * CSV's size): not used, and nothing of the checkpoint applied. */
static void test_write_fails(void)
{
    Fix f;
    Snap saved;
    const char *ck = tpath("c.ckpt");
    if (make_ckpt(&f, ck, &saved)) return;
    Snap now;
    snap_take(&now, &f);
    AFile *files[2] = {&f.fs, &f.fe};
    char why[LQA_ERR_LEN] = "";
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    T_CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
    int got = ckpt_load(ck, "ident 1", &f.s, &f.res, files, 2, why, sizeof why);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    T_CHECK(got == -1 && strstr(why, "restoring") && strstr(why, "r.steps.csv"),
            "write fails: %d %s", got, why);
    T_CHECK(snap_same(&now, &f), "write fails: parameters, optimizer state and step untouched");
    T_CHECK(f.fs.f && f.fe.f, "write fails: files still open");
    if (f.fs.f) fflush(f.fs.f);
    T_CHECK(file_size(f.fs.tmp) == 0 && file_size(f.fe.tmp) == 0,
            "write fails: files emptied again (%ld, %ld bytes)", file_size(f.fs.tmp), file_size(f.fe.tmp));
    /* and the same checkpoint restores once the files can be written */
    got = ckpt_load(ck, "ident 1", &f.s, &f.res, files, 2, why, sizeof why);
    T_CHECK(got == 1 && snap_same(&saved, &f), "after the limit: restored (%d %s)", got, why);
    snap_free(&now);
    snap_free(&saved);
    fix_free(&f);
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(ckpt_roundtrip, test_roundtrip());
    T_RUN(ckpt_damaged_block, test_damaged_block());
    T_RUN(ckpt_write_fails, test_write_fails());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return t_done("test_ckpt");
}
