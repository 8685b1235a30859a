/* ckpt.c — mid-run checkpoints (see ckpt.h). */
#define _DEFAULT_SOURCE
#include "ckpt.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define CKPT_MAGIC "LQACKPT1"

/* ---- a growable buffer ------------------------------------------------------ */

typedef struct Buf {
    unsigned char *p;
    size_t n, cap;
    bool bad;
} Buf;

static void put(Buf *b, const void *src, size_t n)
{
    if (b->bad) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->bad = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, src, n); /* src may be NULL when n is 0 */
    b->n += n;
}

/* A block: its length (u64), then its bytes. */
static void put_block(Buf *b, const void *src, size_t n)
{
    uint64_t len = n;
    put(b, &len, sizeof len);
    put(b, src, n);
}

static uint64_t fnv64(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* The scalars of a TrainState and a RunResult. */
typedef struct Scalars {
    long step, fwd, bwd;
    int epoch, in_epoch, batcher_epoch, batcher_pos;
    double seconds, first_loss, blk_sum;
    long blk_n;
    double recent[CFG_DIVERGE_WINDOW_MAX];
    RunResult res;
} Scalars;

/* The file contents so far of a (flushed) AFile: read back from its temporary. */
static int put_file(Buf *b, AFile *a, char *err)
{
    if (!a || !a->f) {
        put_block(b, NULL, 0);
        return 0;
    }
    if (fflush(a->f) != 0) return lqa_errf(err, "%.400s: write failed: %s", a->tmp, strerror(errno));
    FILE *f = fopen(a->tmp, "rb");
    if (!f) return lqa_errf(err, "%.400s: cannot read back: %s", a->tmp, strerror(errno));
    long len = ftell(a->f);
    if (len < 0) {
        fclose(f);
        return lqa_errf(err, "%.400s: cannot tell its size: %s", a->tmp, strerror(errno));
    }
    unsigned char *tmp = len > 0 ? malloc((size_t)len) : NULL;
    int rc = 0;
    if (len > 0 && (!tmp || fread(tmp, 1, (size_t)len, f) != (size_t)len))
        rc = lqa_errf(err, "%.400s: cannot read back", a->tmp);
    else put_block(b, tmp, len > 0 ? (size_t)len : 0);
    free(tmp);
    fclose(f);
    return rc;
}

int ckpt_save(const char *path, const char *ident, TrainState *s, const RunResult *res,
              AFile *const *files, int nf, char *err)
{
    Buf b = {0};
    Model *m = s->m;
    Scalars sc;
    memset(&sc, 0, sizeof sc);
    sc.step = s->step;
    sc.fwd = s->pc.fwd;
    sc.bwd = s->bwd;
    sc.epoch = s->epoch;
    sc.in_epoch = s->in_epoch;
    sc.batcher_epoch = s->batcher.epoch;
    sc.batcher_pos = s->batcher.pos;
    sc.seconds = s->seconds;
    sc.first_loss = s->first_loss;
    sc.blk_sum = s->blk_sum;
    sc.blk_n = s->blk_n;
    memcpy(sc.recent, s->recent, sizeof sc.recent);
    sc.res = *res;
    put_block(&b, ident, strlen(ident));
    put_block(&b, s->opt.def->name, strlen(s->opt.def->name));
    put_block(&b, &sc, sizeof sc);
    put_block(&b, m->params, m->n_params * sizeof(float));
    put_block(&b, m->state, m->n_state * sizeof(float));
    OptBlock ob[OPT_MAX_BLOCKS];
    int k = s->opt.def->state_blocks ? s->opt.def->state_blocks(&s->opt, ob) : 0;
    uint64_t nk = (uint64_t)k;
    put(&b, &nk, sizeof nk);
    for (int i = 0; i < k; i++) put_block(&b, ob[i].p, ob[i].n);
    int rc = -1;
    for (int i = 0; i < nf; i++)
        if (put_file(&b, files[i], err)) goto out;
    if (b.bad) {
        lqa_errf(err, "%.400s: out of memory for the checkpoint", path);
        goto out;
    }
    AFile a;
    if (afile_open(&a, path, err)) goto out;
    uint64_t len = b.n, h = fnv64(b.p, b.n);
    fwrite(CKPT_MAGIC, 1, 8, a.f);
    fwrite(&len, sizeof len, 1, a.f);
    fwrite(&h, sizeof h, 1, a.f);
    fwrite(b.p, 1, b.n, a.f);
    rc = afile_commit(&a, err) ? -1 : 0; /* flush, fsync, rename */
out:
    free(b.p);
    return rc;
}

/* ---- reading ------------------------------------------------------------------ */

typedef struct Rd {
    const unsigned char *p;
    size_t n, at;
} Rd;

/* The next block: its bytes and length; false when it overruns. */
static bool get_block(Rd *r, const unsigned char **p, size_t *n)
{
    uint64_t len;
    if (r->n - r->at < sizeof len) return false;
    memcpy(&len, r->p + r->at, sizeof len);
    r->at += sizeof len;
    if (len > r->n - r->at) return false;
    *p = r->p + r->at;
    *n = (size_t)len;
    r->at += (size_t)len;
    return true;
}

static int load_file(const char *path, unsigned char **out, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? 0 : -1;
    size_t cap = 1 << 16, len = 0;
    unsigned char *p = malloc(cap);
    for (size_t got; p && (got = fread(p + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len == cap) {
            unsigned char *q = realloc(p, cap *= 2);
            if (!q) {
                free(p);
                p = NULL;
            }
            p = q;
        }
    }
    bool bad = ferror(f) || !p;
    fclose(f);
    if (bad) {
        free(p);
        return -1;
    }
    *out = p;
    *n = len;
    return 1;
}

/* What a checkpoint holds, located in its buffer by parse (which changes
 * nothing) and applied by apply (which cannot fail). */
typedef struct Parsed {
    Scalars sc;
    const unsigned char *params, *state, *opt[OPT_MAX_BLOCKS], *file[CKPT_MAX_FILES];
    size_t file_len[CKPT_MAX_FILES];
} Parsed;

/* Check everything a restore needs: identity, every block's size, the
 * counters' ranges. 0, or -1 with why. Nothing of s, res or the files changes. */
static int parse(Rd *r, const char *ident, TrainState *s, AFile *const *files, int nf,
                 Parsed *out, char *why, size_t n)
{
    const unsigned char *p;
    size_t len;
    Model *m = s->m;
    if (!get_block(r, &p, &len)) goto trunc;
    if (len != strlen(ident) || memcmp(p, ident, len) != 0) {
        snprintf(why, n, "made by another code version or config (it says \"%.*s\", this run is \"%s\")",
                 (int)LQA_MIN(len, 120), (const char *)p, ident);
        return -1;
    }
    if (!get_block(r, &p, &len)) goto trunc;
    if (len != strlen(s->opt.def->name) || memcmp(p, s->opt.def->name, len) != 0) {
        snprintf(why, n, "made for another optimizer");
        return -1;
    }
    if (!get_block(r, &p, &len) || len != sizeof out->sc) goto shape;
    memcpy(&out->sc, p, sizeof out->sc);
    if (!get_block(r, &out->params, &len) || len != m->n_params * sizeof(float)) goto shape;
    if (!get_block(r, &out->state, &len) || len != m->n_state * sizeof(float)) goto shape;
    OptBlock ob[OPT_MAX_BLOCKS];
    int k = s->opt.def->state_blocks ? s->opt.def->state_blocks(&s->opt, ob) : 0;
    uint64_t nk;
    if (r->n - r->at < sizeof nk) goto trunc;
    memcpy(&nk, r->p + r->at, sizeof nk);
    r->at += sizeof nk;
    if (nk != (uint64_t)k) goto shape;
    for (int i = 0; i < k; i++)
        if (!get_block(r, &out->opt[i], &len) || len != ob[i].n) goto shape;
    if (nf > CKPT_MAX_FILES) goto shape;
    for (int i = 0; i < nf; i++) {
        if (!get_block(r, &out->file[i], &out->file_len[i])) goto trunc;
        if (out->file_len[i] && (!files[i] || !files[i]->f)) goto shape;
    }
    if (r->at != r->n) goto shape;
    const Scalars *sc = &out->sc;
    if (sc->step < 0 || sc->epoch < 0 || sc->batcher_pos < 0 || sc->batcher_pos > s->batcher.ds->n ||
        sc->step > s->total)
        goto shape;
    return 0;
trunc:
    snprintf(why, n, "truncated");
    return -1;
shape:
    snprintf(why, n, "its contents do not fit this run (damaged, or another model or optimizer state)");
    return -1;
}

/* Empty the (freshly opened) files again after a failed restore. */
static void files_rewind(AFile *const *files, int nf)
{
    for (int i = 0; i < nf; i++)
        if (files[i] && files[i]->f && files[i]->tmp) {
            FILE *f = freopen(files[i]->tmp, "wb", files[i]->f); /* truncates */
            if (!f) files[i]->f = fopen(files[i]->tmp, "wb");
        }
}

/* Write the saved file contents. 0, or -1 with why (the files are emptied again). */
static int restore_files(const Parsed *pp, AFile *const *files, int nf, char *why, size_t n)
{
    for (int i = 0; i < nf; i++) {
        size_t len = pp->file_len[i];
        if (!len) continue;
        errno = 0;
        if (fwrite(pp->file[i], 1, len, files[i]->f) != len ||
            fflush(files[i]->f) != 0) {
            int e = errno ? errno : EIO;
            snprintf(why, n, "restoring %.300s failed: %s", files[i]->tmp, strerror(e));
            files_rewind(files, nf);
            for (int j = 0; j < nf; j++)
                if (files[j] && !files[j]->f) return -2; /* could not even reopen it */
            return -1;
        }
    }
    return 0;
}

/* Apply a parsed checkpoint to s and res: copies only, nothing can fail. */
static void apply(const Parsed *pp, TrainState *s, RunResult *res)
{
    Model *m = s->m;
    const Scalars *sc = &pp->sc;
    memcpy(m->params, pp->params, m->n_params * sizeof(float));
    if (m->n_state) memcpy(m->state, pp->state, m->n_state * sizeof(float));
    OptBlock ob[OPT_MAX_BLOCKS];
    int k = s->opt.def->state_blocks ? s->opt.def->state_blocks(&s->opt, ob) : 0;
    for (int i = 0; i < k; i++)
        if (ob[i].n) memcpy(ob[i].p, pp->opt[i], ob[i].n);
    s->step = sc->step;
    s->pc.fwd = sc->fwd;
    s->bwd = sc->bwd;
    s->epoch = sc->epoch;
    s->in_epoch = sc->in_epoch != 0;
    s->seconds = sc->seconds;
    s->first_loss = sc->first_loss;
    s->blk_sum = sc->blk_sum;
    s->blk_n = sc->blk_n;
    memcpy(s->recent, sc->recent, sizeof sc->recent);
    if (s->in_epoch) {
        batcher_start_epoch(&s->batcher, sc->batcher_epoch);
        s->batcher.pos = sc->batcher_pos;
    }
    *res = sc->res;
}

int ckpt_load(const char *path, const char *ident, TrainState *s, RunResult *res,
              AFile *const *files, int nf, char *why, size_t n)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    int got = load_file(path, &buf, &len);
    if (got == 0) return 0;
    if (got < 0) {
        snprintf(why, n, "cannot read it: %s", strerror(errno));
        return -1;
    }
    int rc = -1;
    uint64_t plen, h;
    if (len < 24 || memcmp(buf, CKPT_MAGIC, 8) != 0) {
        snprintf(why, n, len < 24 ? "truncated" : "not a checkpoint of this format");
        goto out;
    }
    memcpy(&plen, buf + 8, 8);
    memcpy(&h, buf + 16, 8);
    if (plen != len - 24) {
        snprintf(why, n, "truncated or damaged (%zu payload bytes, header says %llu)", len - 24,
                 (unsigned long long)plen);
        goto out;
    }
    if (fnv64(buf + 24, len - 24) != h) {
        snprintf(why, n, "checksum mismatch (damaged)");
        goto out;
    }
    /* everything checked first, then the files (undone on failure), then the
     * state (copies that cannot fail): a restore is all or nothing */
    Rd r = {buf + 24, len - 24, 0};
    Parsed *pp = calloc(1, sizeof *pp);
    if (!pp) {
        snprintf(why, n, "out of memory reading it");
        goto out;
    }
    if (parse(&r, ident, s, files, nf, pp, why, n) == 0 &&
        (rc = restore_files(pp, files, nf, why, n)) == 0) {
        apply(pp, s, res);
        rc = 1;
    }
    free(pp);
out:
    free(buf);
    return rc;
}
