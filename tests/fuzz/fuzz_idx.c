/* fuzz_idx.c — libFuzzer harness for the idx (MNIST format) loader, raw or gzip.
 * Input: byte 0 = limit (0: all samples), bytes 1-4 = length L of the image
 * file (big-endian, cut to what is there), then L bytes of the image file and
 * the rest is the label file. Build and run with `make fuzz` (docs/fuzzing.md). */
#include "dataset.h"

#include "common.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5) return 0;
    int limit = data[0];
    size_t li = ((size_t)data[1] << 24) | ((size_t)data[2] << 16) | ((size_t)data[3] << 8) | data[4];
    data += 5;
    size -= 5;
    if (li > size) li = size;
    char pi[4200], pl[4200], err[LQA_ERR_LEN];
    fuzz_write("f0", data, li, pi, sizeof pi);
    fuzz_write("f1", data + li, size - li, pl, sizeof pl);
    Dataset ds;
    err[0] = 0;
    int rc = idx_load(&ds, pi, pl, 10, limit, err);
    fuzz_report(rc, err);
    if (rc == 0) {
        /* what loaded is consistent */
        if (ds.n <= 0 || (limit && ds.n > limit) || ds.c != 1 || ds.h <= 0 || ds.w <= 0) abort();
        for (int i = 0; i < ds.n; i++)
            if (ds.y[i] < 0 || ds.y[i] >= ds.n_classes) abort();
        size_t d = (size_t)ds.h * ds.w;
        for (size_t i = 0; i < (size_t)ds.n * d; i++)
            if (!(ds.x[i] >= 0.0f && ds.x[i] <= 1.0f)) abort();
        dataset_free(&ds);
    } else if (!err[0]) {
        abort(); /* every error says why */
    }
    return 0;
}
