/* dataset.c — data sets by name: file lookup and normalisation.
 *
 * data_dir is the directory holding the data set's own files, e.g.
 * "data/mnist" (what scripts/fetch_data.sh writes); if the files are not
 * there, data_dir/<name> is tried too, so the data root "data" also works.
 * Each file is taken raw or with a .gz suffix (raw preferred when both exist).
 *
 * Normalisation: NORM_UNIT keeps pixels in [0,1]; NORM_MEANSTD applies
 * (x - mean) / std with the registry's constants (MNIST 0.1307/0.3081,
 * Fashion-MNIST 0.2860/0.3530, CIFAR-10 per channel means 0.4914, 0.4822,
 * 0.4465 and std 0.2470, 0.2435, 0.2616). The config's default is the
 * registry's norm: NORM_UNIT for MNIST and Fashion-MNIST, NORM_MEANSTD (per
 * channel) for CIFAR-10, as the spec (experiments.md, "Data") prescribes.
 *
 * The registry (DATASETS) holds one line per data set; its loaders live in
 * idx.c (MNIST format), cifar10.c (CIFAR-10 binary batches) and none.c (no data:
 * the analytic models). */
#include "dataset.h"

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PATH_LEN 4096

/* The registry: one line per data set (dataset.h, DatasetDef). */
static const DatasetDef DATASETS[] = {
    {"mnist", {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"}, {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}, 10, 1, 28, 28, NORM_UNIT, {0.1307f}, {0.3081f}, 60000, idx_dataset_load, idx_dataset_count},
    {"fashion-mnist", {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"}, {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}, 10, 1, 28, 28, NORM_UNIT, {0.2860f}, {0.3530f}, 60000, idx_dataset_load, idx_dataset_count},
    {"cifar10", {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}, {"test_batch.bin"}, 10, 3, 32, 32, NORM_MEANSTD, {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}, 50000, cifar10_dataset_load, cifar10_dataset_count},
    {"boston", {"train.csv"}, {"test.csv"}, 0, 1, 1, 14, NORM_UNIT, {0.0f}, {1.0f}, 400, boston_dataset_load, boston_dataset_count},
    {"none", {NULL}, {NULL}, 1, 1, 1, 1, NORM_UNIT, {0.0f}, {1.0f}, 1, none_dataset_load, none_dataset_count},
};
enum { N_DATASETS = sizeof DATASETS / sizeof DATASETS[0] };

const DatasetDef *dataset_find(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; i < N_DATASETS; i++)
        if (strcmp(DATASETS[i].name, name) == 0) return &DATASETS[i];
    return NULL;
}

const char *dataset_names(void)
{
    static char buf[256];
    if (!buf[0]) {
        const char *names[N_DATASETS];
        for (int i = 0; i < N_DATASETS; i++) names[i] = DATASETS[i].name;
        lqa_join(buf, sizeof buf, names, N_DATASETS, ", ");
    }
    return buf;
}

bool dataset_known(const char *name) { return dataset_find(name) != NULL; }

int dataset_train_size(const char *name)
{
    const DatasetDef *def = dataset_find(name);
    return def ? def->n_train : 0;
}

long cifar10_batch_records = 10000;

/* 1: a regular file, 0: nothing there, -1: something else (err says what). */
static int is_file(const char *path, char *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (S_ISREG(st.st_mode)) return 1;
    return lqa_errf(err, "%s: %s, expected the data file", path,
                    S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
}

/* Find dir/base or dir/base.gz into out. Returns 0, 1 if neither exists, or
 * -1 (err set) if one is there but is not a file or the path is too long. */
static int find_in(const char *dir, const char *base, char *out, char *err)
{
    int len = snprintf(out, PATH_LEN, "%s/%s", dir, base);
    if (len < 0 || len + 3 >= PATH_LEN) return lqa_errf(err, "%s/%s: path too long", dir, base);
    int f = is_file(out, err);
    if (f) return f > 0 ? 0 : -1;
    memcpy(out + len, ".gz", 4);
    f = is_file(out, err);
    if (f) return f > 0 ? 0 : -1;
    return 1;
}

/* Locate file `base` of data set `name`: data_dir first, then data_dir/name. */
static int find_file(const char *data_dir, const char *name, const char *base, char *out,
                     char *err)
{
    int r = find_in(data_dir, base, out, err);
    if (r <= 0) return r;
    char sub[PATH_LEN];
    int len = snprintf(sub, sizeof sub, "%s/%s", data_dir, name);
    if (len > 0 && len < PATH_LEN && (r = find_in(sub, base, out, err)) <= 0) return r;
    return lqa_errf(err,
                    "%s/%s: file not found (nor %s/%s.gz); run scripts/fetch_data.sh %s to "
                    "download the %s data set, or set $LQA_DATA_DIR to the directory that holds %s/",
                    data_dir, base, data_dir, base, name, name, name);
}

static void normalize(Dataset *ds, const DatasetDef *info)
{
    size_t plane = (size_t)ds->h * ds->w;
    for (int i = 0; i < ds->n; i++) {
        for (int c = 0; c < ds->c; c++) {
            float m = info->mean[c], inv = 1.0f / info->std[c];
            float *p = ds->x + ((size_t)i * ds->c + c) * plane;
            for (size_t k = 0; k < plane; k++) p[k] = (p[k] - m) * inv;
        }
    }
}

int dataset_load(Dataset *ds, const char *name, const char *data_dir, bool train,
                 Normalize norm, int limit, char *err)
{
    memset(ds, 0, sizeof *ds);
    const DatasetDef *def = dataset_find(name);
    if (!def)
        return lqa_errf(err, "unknown data set \"%s\" (known: %s)", name ? name : "(null)",
                        dataset_names());
    if (!data_dir || !*data_dir) data_dir = ".";
    if (norm != NORM_UNIT && norm != NORM_MEANSTD)
        return lqa_errf(err, "%s: unknown normalisation %d", name, (int)norm);

    const char *const *files = train ? def->train_files : def->test_files;
    char paths[DATASET_MAX_FILES][PATH_LEN];
    const char *pp[DATASET_MAX_FILES];
    int nf = 0;
    for (; nf < DATASET_MAX_FILES && files[nf]; nf++) {
        if (find_file(data_dir, name, files[nf], paths[nf], err) != 0) return -1;
        pp[nf] = paths[nf];
    }
    if (def->load(ds, def, pp, nf, limit, err) != 0) return -1;
    if (!(ds->source = strdup(nf ? pp[0] : def->name))) { /* no files: the set's name */
        dataset_free(ds);
        return lqa_errf(err, "%s: out of memory", nf ? pp[0] : def->name);
    }
    if (norm == NORM_MEANSTD && ds->c > DATASET_MAX_C) {
        lqa_errf(err, "%s: %d channels: normalize \"meanstd\" knows at most %d", ds->source,
                 ds->c, DATASET_MAX_C);
        dataset_free(ds);
        return -1;
    }
    if (norm == NORM_MEANSTD) normalize(ds, def);
    return 0;
}

void dataset_free(Dataset *ds)
{
    if (!ds) return;
    lqa_free(ds->x);
    lqa_free(ds->y);
    free(ds->source);
    memset(ds, 0, sizeof *ds);
}

int dataset_check_pair(const Dataset *tr, const Dataset *te, char *err)
{
    if (tr->c == te->c && tr->h == te->h && tr->w == te->w && tr->n_classes == te->n_classes)
        return 0;
    return lqa_errf(err,
                    "%s holds %dx%dx%d images (%d classes) but %s holds %dx%dx%d (%d classes): "
                    "the training and test splits must have one shape",
                    tr->source ? tr->source : "the training split", tr->c, tr->h, tr->w,
                    tr->n_classes, te->source ? te->source : "the test split", te->c, te->h,
                    te->w, te->n_classes);
}

int dataset_count(const char *name, const char *data_dir, bool train, long *n, char *err)
{
    const DatasetDef *def = dataset_find(name);
    if (!def) return lqa_errf(err, "unknown data set \"%s\"", name ? name : "(null)");
    if (!data_dir || !*data_dir) data_dir = ".";
    char p[PATH_LEN];
    if (!(train ? def->train_files : def->test_files)[0]) return def->count(def, NULL, train, n, err);
    if (find_file(data_dir, name, (train ? def->train_files : def->test_files)[0], p, err) != 0)
        return 1;
    return def->count(def, p, train, n, err);
}

void dataset_adopt(Dataset *ds, int n, int c, int h, int w, int n_classes, float **x, int **y)
{
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->n_classes = n_classes;
    ds->source = NULL;
    ds->x = *x;
    ds->y = *y;
    *x = NULL;
    *y = NULL;
}

int dataset_split_tail(Dataset *ds, int n_val, Dataset *val, char *err)
{
    memset(val, 0, sizeof *val);
    if (n_val <= 0 || n_val >= ds->n)
        return lqa_errf(err, "validation: %d held-out samples of %d leave no training data", n_val,
                        ds->n);
    size_t d = (size_t)ds->c * ds->h * ds->w;
    int first = ds->n - n_val;
    float *x = lqa_alloc((size_t)n_val * d * sizeof(float), err);
    int *y = lqa_alloc((size_t)n_val * sizeof(int), err);
    if (!x || !y) {
        lqa_free(x);
        lqa_free(y);
        return lqa_errf(err, "validation: out of memory for %d held-out samples", n_val);
    }
    memcpy(x, ds->x + (size_t)first * d, (size_t)n_val * d * sizeof(float));
    memcpy(y, ds->y + first, (size_t)n_val * sizeof(int));
    dataset_adopt(val, n_val, ds->c, ds->h, ds->w, ds->n_classes, &x, &y);
    ds->n = first;
    return 0;
}
