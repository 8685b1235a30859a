/* cifar10.c — CIFAR-10 binary batches (https://www.cs.toronto.edu/~kriz/cifar.html).
 *
 * Each file is a sequence of 3073-byte records: 1 label byte (0..9), then the
 * 32×32 image as 1024 red, 1024 green and 1024 blue bytes (rows top to
 * bottom). That is already channel-major, so a record maps straight onto the
 * CHW float layout of Dataset. Files may be raw or gzip (zlib's gzread reads
 * both). All files are read and validated in full even when `limit` keeps
 * fewer samples. */
#include "dataset.h"

#include "common.h"
#include "gzfile.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>

#define CIFAR_PIXELS 3072
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_CHUNK_RECORDS 256

/* One pass over a file: validates the length and labels. When x/y are given,
 * stores records [0, keep) there (keep may be 0). Sets *n_records. */
static int cifar_scan(const char *path, unsigned char *buf, int n_classes, float *x, int *y,
                      long keep, long *n_records, char *err)
{
    gzFile f = gzfile_open(path, err);
    if (!f) return -1;
    int rc = -1;
    long long bytes = 0;
    long rec = 0;
    for (;;) {
        long long r =
            gzfile_read_upto(f, buf, (size_t)CIFAR_CHUNK_RECORDS * CIFAR_RECORD, path, err);
        if (r < 0) goto out;
        long full = (long)(r / CIFAR_RECORD);
        for (long i = 0; i < full; i++, rec++) {
            const unsigned char *p = buf + (size_t)i * CIFAR_RECORD;
            if (p[0] >= n_classes) {
                lqa_errf(err, "%s: label %u at record %ld out of range [0,%d)", path,
                         (unsigned)p[0], rec, n_classes);
                goto out;
            }
            if (x && rec < keep) {
                y[rec] = p[0];
                float *xr = x + (size_t)rec * CIFAR_PIXELS;
                for (int k = 0; k < CIFAR_PIXELS; k++) xr[k] = (float)p[1 + k] / 255.0f;
            }
        }
        bytes += r;
        if (r < (long long)CIFAR_CHUNK_RECORDS * CIFAR_RECORD) break; /* end of data */
    }
    if (bytes == 0 || bytes % CIFAR_RECORD != 0) {
        lqa_errf(err,
                 "%s: length %lld bytes is not a positive multiple of the %d-byte CIFAR-10 "
                 "record (truncated or not a CIFAR-10 binary batch)",
                 path, bytes, CIFAR_RECORD);
        goto out;
    }
    if (bytes / CIFAR_RECORD > INT_MAX) {
        lqa_errf(err, "%s: too many records (%lld)", path, bytes / CIFAR_RECORD);
        goto out;
    }
    *n_records = rec;
    rc = 0;
out:
    if (rc == 0) return gzfile_close(f, path, err);
    gzclose(f);
    return rc;
}

int cifar10_load(Dataset *ds, const char *const *paths, int n_paths, long records, int n_classes,
                 int limit, char *err)
{
    memset(ds, 0, sizeof *ds);
    if (n_paths <= 0) return lqa_errf(err, "cifar10: no batch files given");
    int rc = -1;
    unsigned char *buf = NULL;
    float *x = NULL;
    int *y = NULL;
    long *counts = NULL;

    if (!(buf = lqa_alloc((size_t)CIFAR_CHUNK_RECORDS * CIFAR_RECORD, err)) ||
        !(counts = lqa_alloc((size_t)n_paths * sizeof *counts, err))) {
        lqa_errf(err, "%s: out of memory for a read buffer", paths[0]);
        goto out;
    }

    /* Pass 1: validate every file and count its records. Reading the data
     * twice (raw files come from the page cache) keeps the peak memory at the
     * float array alone. */
    long total = 0;
    for (int i = 0; i < n_paths; i++) {
        if (cifar_scan(paths[i], buf, n_classes, NULL, NULL, 0, &counts[i], err) != 0) goto out;
        if (records > 0 && counts[i] != records) {
            lqa_errf(err, "%s: %ld records, but a CIFAR-10 batch holds exactly %ld (truncated at a "
                     "record boundary, or not a CIFAR-10 batch)", paths[i], counts[i], records);
            goto out;
        }
        total += counts[i];
        if (total > INT_MAX) {
            lqa_errf(err, "%s: too many CIFAR-10 records in total (%ld)", paths[i], total);
            goto out;
        }
    }
    long keep = (limit > 0 && limit < total) ? limit : total;
    if (!(x = lqa_alloc((size_t)keep * CIFAR_PIXELS * sizeof(float), err)) ||
        !(y = lqa_alloc((size_t)keep * sizeof(int), err))) {
        lqa_errf(err, "%s: out of memory for its %ld samples (%zu bytes as floats)", paths[0], keep,
                 (size_t)keep * CIFAR_PIXELS * sizeof(float));
        goto out;
    }

    /* Pass 2: decode the kept records. */
    long at = 0;
    for (int i = 0; i < n_paths && at < keep; i++) {
        long n_i = 0;
        if (cifar_scan(paths[i], buf, n_classes, x + (size_t)at * CIFAR_PIXELS, y + at, keep - at,
                       &n_i, err) != 0)
            goto out;
        if (n_i != counts[i]) {
            lqa_errf(err, "%s: changed while being read (%ld then %ld records)", paths[i],
                     counts[i], n_i);
            goto out;
        }
        at += LQA_MIN(n_i, keep - at);
    }

    dataset_adopt(ds, (int)keep, 3, 32, 32, n_classes, &x, &y);
    rc = 0;
out:
    lqa_free(buf);
    lqa_free(counts);
    lqa_free(x);
    lqa_free(y);
    return rc;
}

/* ---- the registry's loader (dataset.h): paths = the batch files ----------- */

int cifar10_dataset_load(Dataset *ds, const DatasetDef *def, const char *const *paths,
                         int n_paths, int limit, char *err)
{
    return cifar10_load(ds, paths, n_paths, cifar10_batch_records, def->n_classes, limit, err);
}

/* Every batch holds cifar10_batch_records (not known when that is 0). */
int cifar10_dataset_count(const DatasetDef *def, const char *first_path, bool train, long *n,
                          char *err)
{
    (void)first_path;
    (void)err;
    if (cifar10_batch_records <= 0) return 1;
    const char *const *files = train ? def->train_files : def->test_files;
    int nf = 0;
    while (nf < DATASET_MAX_FILES && files[nf]) nf++;
    *n = cifar10_batch_records * nf;
    return 0;
}
