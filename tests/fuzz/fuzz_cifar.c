/* fuzz_cifar.c — libFuzzer harness for the CIFAR-10 binary batch loader, raw or
 * gzip. Input: byte 0 = limit (0: all), byte 1 = records per file (% 4; 0: any
 * number), byte 2 = number of files (1 + byte % 3), then for every file but the
 * last a 2-byte big-endian length (cut to what is there) and its bytes; the last
 * file is the rest. Build and run with `make fuzz` (docs/fuzzing.md). */
#include "dataset.h"

#include "common.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    int limit = data[0];
    long records = data[1] % 4;
    int n_files = 1 + data[2] % 3;
    data += 3;
    size -= 3;
    char paths[3][4200], name[8], err[LQA_ERR_LEN];
    const char *pp[3];
    for (int i = 0; i < n_files; i++) {
        size_t len = size;
        if (i < n_files - 1) {
            if (size < 2) return 0;
            len = ((size_t)data[0] << 8) | data[1];
            data += 2;
            size -= 2;
            if (len > size) len = size;
        }
        snprintf(name, sizeof name, "f%d", i);
        fuzz_write(name, data, len, paths[i], sizeof paths[i]);
        pp[i] = paths[i];
        data += len;
        size -= len;
    }
    Dataset ds;
    err[0] = 0;
    int rc = cifar10_load(&ds, pp, n_files, records, 10, limit, err);
    fuzz_report(rc, err);
    if (rc == 0) {
        if (ds.n <= 0 || (limit && ds.n > limit) || ds.c != 3 || ds.h != 32 || ds.w != 32) abort();
        if (records && !limit && ds.n != records * n_files) abort();
        for (int i = 0; i < ds.n; i++)
            if (ds.y[i] < 0 || ds.y[i] >= ds.n_classes) abort();
        for (size_t i = 0; i < (size_t)ds.n * 3072; i++)
            if (!(ds.x[i] >= 0.0f && ds.x[i] <= 1.0f)) abort();
        dataset_free(&ds);
    } else if (!err[0]) {
        abort(); /* every error says why */
    }
    return 0;
}
