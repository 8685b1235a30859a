/* idx.c — MNIST-format (idx) image and label files, raw or gzip.
 *
 * Format (http://yann.lecun.com/exdb/mnist/): big-endian 32-bit magic
 * 0x00000803 (unsigned byte, 3 dimensions) followed by n, rows, cols and then
 * n·rows·cols pixel bytes; labels: magic 0x00000801, n, then n label bytes.
 * zlib's gzread reads plain files transparently, so one path serves both.
 * The whole file is always read: a missing or a trailing byte is an error even
 * when `limit` keeps only the first samples. */
#include "dataset.h"

#include "common.h"
#include "gzfile.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_DIM 4096u
#define IDX_CHUNK (1u << 20)

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Count the bytes left in f (the trailing bytes after the expected data). */
static long long gz_count_rest(gzFile f, unsigned char *scratch, size_t scratch_len,
                               const char *path, char *err)
{
    long long total = 0;
    for (;;) {
        long long r = gzfile_read_upto(f, scratch, scratch_len, path, err);
        if (r < 0) return -1;
        if (r == 0) return total;
        total += r;
    }
}

/* Read the remaining `expect` bytes of f in chunks, handing each chunk to
 * `sink` (which stores what it keeps and validates the rest), then require
 * end of file. Returns 0 or -1. */
typedef int (*idx_sink)(void *ctx, const unsigned char *p, size_t off, size_t n, char *err);

static int idx_read_body(gzFile f, const char *path, const char *what, size_t expect,
                         size_t header_len, idx_sink sink, void *ctx, unsigned char *scratch,
                         char *err)
{
    size_t done = 0;
    while (done < expect) {
        size_t want = LQA_MIN(expect - done, (size_t)IDX_CHUNK);
        long long r = gzfile_read_upto(f, scratch, want, path, err);
        if (r < 0) return -1;
        if ((size_t)r < want)
            return lqa_errf(err,
                            "%s: file is truncated: expected %zu bytes of %s after the %zu-byte "
                            "header, got %zu",
                            path, expect, what, header_len, done + (size_t)r);
        if (sink(ctx, scratch, done, want, err) != 0) return -1;
        done += want;
    }
    long long extra = gz_count_rest(f, scratch, IDX_CHUNK, path, err);
    if (extra < 0) return -1;
    if (extra > 0)
        return lqa_errf(err, "%s: %lld trailing bytes after the %zu bytes of %s the header declares",
                        path, extra, expect, what);
    return 0;
}

/* Pixels: bytes [0, keep) are stored as x/255. */
struct pixel_ctx { float *x; size_t keep; };

static int pixel_sink(void *ctx, const unsigned char *p, size_t off, size_t n, char *err)
{
    (void)err;
    struct pixel_ctx *c = ctx;
    if (off >= c->keep) return 0;
    n = LQA_MIN(n, c->keep - off);
    float *x = c->x + off;
    for (size_t i = 0; i < n; i++) x[i] = (float)p[i] / 255.0f;
    return 0;
}

/* Labels: all are range-checked, the first `keep` stored. */
struct label_ctx { int *y; size_t keep; const char *path; int n_classes; };

static int label_sink(void *ctx, const unsigned char *p, size_t off, size_t n, char *err)
{
    struct label_ctx *c = ctx;
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= c->n_classes)
            return lqa_errf(err, "%s: label %u at index %zu out of range [0,%d)", c->path,
                            (unsigned)p[i], off + i, c->n_classes);
        if (off + i < c->keep) c->y[off + i] = p[i];
    }
    return 0;
}

#define IDX_HEAD_IMAGES 16 /* magic, n, rows, cols */
#define IDX_HEAD_LABELS 8  /* magic, n */

/* The sizes the two headers declare. */
typedef struct IdxShape { uint32_t n, rows, cols; } IdxShape;

/* Read the first `len` bytes of f into h: 0, or -1 when short or unreadable. */
static int idx_read_header(gzFile f, unsigned char *h, size_t len, const char *path, char *err)
{
    long long r = gzfile_read_upto(f, h, len, path, err);
    if (r < 0) return -1;
    if (r < (long long)len)
        return lqa_errf(err, "%s: truncated idx header (%lld of %zu bytes)", path, r, len);
    return 0;
}

/* Read and check both headers, and that they agree, into *sh. */
static int idx_headers(gzFile fi, gzFile fl, const char *images_path, const char *labels_path,
                       IdxShape *sh, char *err)
{
    unsigned char hi[IDX_HEAD_IMAGES], hl[IDX_HEAD_LABELS];
    if (idx_read_header(fi, hi, sizeof hi, images_path, err) ||
        idx_read_header(fl, hl, sizeof hl, labels_path, err))
        return -1;
    uint32_t mi = be32(hi), ml = be32(hl);
    if (mi != IDX_MAGIC_IMAGES)
        return lqa_errf(err, "%s: bad magic number 0x%08x (expected 0x%08x for idx3 unsigned-byte images)",
                        images_path, mi, IDX_MAGIC_IMAGES);
    if (ml != IDX_MAGIC_LABELS)
        return lqa_errf(err, "%s: bad magic number 0x%08x (expected 0x%08x for idx1 unsigned-byte labels)",
                        labels_path, ml, IDX_MAGIC_LABELS);
    uint32_t n = be32(hi + 4), rows = be32(hi + 8), cols = be32(hi + 12);
    uint32_t nl = be32(hl + 4);
    if (n == 0 || n > (uint32_t)INT_MAX)
        return lqa_errf(err, "%s: bad image count %u", images_path, n);
    if (rows == 0 || cols == 0 || rows > IDX_MAX_DIM || cols > IDX_MAX_DIM)
        return lqa_errf(err, "%s: bad image dimensions %u x %u (each must be in [1,%u])",
                        images_path, rows, cols, IDX_MAX_DIM);
    if (nl != n)
        return lqa_errf(err, "%s: %u labels but %s holds %u images", labels_path, nl, images_path, n);
    *sh = (IdxShape){n, rows, cols};
    return 0;
}

/* Allocation follows validation: the header's sizes must fit in memory and in
 * the files. */
static int idx_check_fits(gzFile fi, gzFile fl, const char *images_path, const char *labels_path,
                          const IdxShape *sh, char *err)
{
    uint32_t n = sh->n;
    size_t d = (size_t)sh->rows * sh->cols;
    if ((size_t)n > SIZE_MAX / d / sizeof(float))
        return lqa_errf(err, "%s: image data too large (%u x %u x %u)", images_path, n, sh->rows,
                        sh->cols);
    long long max_i = gzfile_max_bytes(fi, images_path), max_l = gzfile_max_bytes(fl, labels_path);
    size_t need_i = IDX_HEAD_IMAGES + (size_t)n * d, need_l = IDX_HEAD_LABELS + (size_t)n;
    if (max_i >= 0 && (long long)need_i > max_i)
        return lqa_errf(err, "%s: the header declares %u images of %u x %u (%zu bytes) but the "
                        "file can hold at most %lld: truncated or not an idx file",
                        images_path, n, sh->rows, sh->cols, need_i, max_i);
    if (max_l >= 0 && (long long)need_l > max_l)
        return lqa_errf(err, "%s: the header declares %u labels (%zu bytes) but the file can hold "
                        "at most %lld: truncated or not an idx file",
                        labels_path, n, need_l, max_l);
    return 0;
}

/* Close both files, reporting the first error (*fi and *fl are cleared). */
static int idx_close_both(gzFile *fi, gzFile *fl, const char *images_path,
                          const char *labels_path, char *err)
{
    gzFile a = *fi, b = *fl;
    *fi = *fl = NULL;
    int ca = gzfile_close(a, images_path, err);
    if (ca != 0 || gzfile_close(b, labels_path, err) != 0) {
        if (ca != 0) gzclose(b);
        return -1;
    }
    return 0;
}

int idx_load(Dataset *ds, const char *images_path, const char *labels_path, int n_classes,
             int limit, char *err)
{
    memset(ds, 0, sizeof *ds);
    int rc = -1;
    gzFile fi = NULL, fl = NULL;
    unsigned char *scratch = NULL;
    float *x = NULL;
    int *y = NULL;
    IdxShape sh = {0, 0, 0};

    if (!(fi = gzfile_open(images_path, err))) goto out;
    if (!(fl = gzfile_open(labels_path, err))) goto out;
    if (idx_headers(fi, fl, images_path, labels_path, &sh, err) ||
        idx_check_fits(fi, fl, images_path, labels_path, &sh, err))
        goto out;
    uint32_t n = sh.n;
    size_t keep = (limit > 0 && (uint32_t)limit < n) ? (size_t)limit : n;
    size_t d = (size_t)sh.rows * sh.cols;
    if (!(scratch = lqa_alloc(IDX_CHUNK, err)) || !(x = lqa_alloc(keep * d * sizeof(float), err)) ||
        !(y = lqa_alloc(keep * sizeof(int), err))) {
        lqa_errf(err, "%s: out of memory for its %zu samples (%zu bytes as floats)", images_path,
                 keep, keep * d * sizeof(float));
        goto out;
    }
    struct pixel_ctx pc = { x, keep * d };
    if (idx_read_body(fi, images_path, "pixel data", (size_t)n * d, IDX_HEAD_IMAGES, pixel_sink,
                      &pc, scratch, err) != 0)
        goto out;
    struct label_ctx lc = { y, keep, labels_path, n_classes };
    if (idx_read_body(fl, labels_path, "labels", n, IDX_HEAD_LABELS, label_sink, &lc, scratch,
                      err) != 0)
        goto out;
    if (idx_close_both(&fi, &fl, images_path, labels_path, err)) goto out;
    dataset_adopt(ds, (int)keep, 1, (int)sh.rows, (int)sh.cols, n_classes, &x, &y);
    rc = 0;
out:
    if (fi) gzclose(fi);
    if (fl) gzclose(fl);
    lqa_free(scratch);
    lqa_free(x);
    lqa_free(y);
    return rc;
}

/* ---- the registry's loader (dataset.h): paths = {images, labels} ---------- */

int idx_dataset_load(Dataset *ds, const DatasetDef *def, const char *const *paths, int n_paths,
                     int limit, char *err)
{
    if (n_paths != 2)
        return lqa_errf(err, "%s: the idx loader needs 2 files (images, labels), not %d",
                        def->name, n_paths);
    return idx_load(ds, paths[0], paths[1], def->n_classes, limit, err);
}

int idx_dataset_count(const DatasetDef *def, const char *first_path, bool train, long *n,
                      char *err)
{
    (void)def;
    (void)train;
    gzFile f = gzfile_open(first_path, err);
    if (!f) return -1;
    unsigned char h[8];
    long long r = gzfile_read_upto(f, h, sizeof h, first_path, err);
    gzclose(f);
    if (r < 0) return -1;
    if (r < 8 || be32(h) != IDX_MAGIC_IMAGES) return 1; /* idx_load says what is wrong */
    *n = (long)be32(h + 4);
    return 0;
}
