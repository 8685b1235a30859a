/* boston.c — the Boston Housing regression data (506 houses, 13 features, the
 * median value MEDV as target), for the linear-regression model `linreg`.
 *
 * Files (scripts/fetch_data.sh boston writes them from scikit-learn's copy,
 * boston_house_prices.csv, which it keeps beside them): train.csv (the first 400
 * rows in the original order) and test.csv (the last 106). Each in
 * scikit-learn's format:
 *
 *   line 1   "<rows>,13,..."       the number of data rows and of features
 *   line 2   the 14 column names   "CRIM","ZN",...,"LSTAT","MEDV"
 *   then     <rows> lines of 14 numbers: the 13 features, then MEDV
 *
 * Everything is validated (the count against the rows, 14 finite numbers on
 * every row, the column names); an error names the file and the line.
 *
 * A regression data set: a sample is the 1×1×14 vector of the raw features
 * followed by the target (the registry's n_classes is 0: regression); the
 * label is 0. Each feature is standardised, (x − mean)/sd, with the mean and
 * the (population) standard deviation of the training file's rows, also for
 * the test split: the loader reads train.csv beside test.csv for them. The
 * target (MEDV, in $1000s) is not scaled. The config's "normalize" does not
 * apply. */
#include "dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define BOSTON_COLS 14 /* 13 features + MEDV */
#define LINE_MAX_LEN 1024

static const char *const COLS[BOSTON_COLS] = {"CRIM", "ZN",  "INDUS", "CHAS",    "NOX",
                                              "RM",   "AGE", "DIS",   "RAD",     "TAX",
                                              "PTRATIO", "B", "LSTAT", "MEDV"};

/* Read one line (without its \n or \r\n) into buf: 1 read, 0 end of file, -1 too long. */
static int read_line(FILE *f, char *buf, size_t size)
{
    if (!fgets(buf, (int)size, f)) return 0;
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n') buf[--n] = 0;
    else if (!feof(f)) return -1;
    if (n && buf[n - 1] == '\r') buf[--n] = 0;
    return 1;
}

/* The header line "<rows>,13[,...]": *rows. 0, or -1 with err. */
static int parse_count(const char *path, const char *line, long *rows, char *err)
{
    char *end;
    errno = 0;
    long n = strtol(line, &end, 10);
    if (end == line || errno || *end != ',' || n < 1 || n > 100000)
        return lqa_errf(err, "%s: line 1: expected \"<rows>,13\" (the row count), got \"%.60s\"",
                        path, line);
    const char *p = end + 1;
    long k = strtol(p, &end, 10);
    if (end == p || k != BOSTON_COLS - 1 || (*end && *end != ','))
        return lqa_errf(err, "%s: line 1: expected 13 features, got \"%.60s\"", path, line);
    *rows = n;
    return 0;
}

static int open_header(const char *path, FILE **fp, long *rows, char *err)
{
    char line[LINE_MAX_LEN];
    FILE *f = fopen(path, "rb");
    if (!f) return lqa_errf(err, "%s: %s", path, strerror(errno));
    int r = read_line(f, line, sizeof line);
    if (r != 1) lqa_errf(err, "%s: line 1: %s, expected \"<rows>,13\"", path, r ? "too long" : "missing");
    if (r != 1 || parse_count(path, line, rows, err) != 0) {
        fclose(f);
        return -1;
    }
    *fp = f;
    return 0;
}

/* The column-name line: "CRIM","ZN",...,"MEDV" (quotes optional). */
static int check_names(const char *path, char *line, char *err)
{
    char *save = NULL, *tok = strtok_r(line, ",", &save);
    for (int i = 0; i < BOSTON_COLS; i++, tok = strtok_r(NULL, ",", &save)) {
        if (!tok) return lqa_errf(err, "%s: line 2: %d column names, expected 14", path, i);
        size_t n = strlen(tok);
        if (n >= 2 && tok[0] == '"' && tok[n - 1] == '"') tok[n - 1] = 0, tok++;
        if (strcmp(tok, COLS[i]) != 0)
            return lqa_errf(err, "%s: line 2: column %d is \"%s\", expected \"%s\"", path, i + 1,
                            tok, COLS[i]);
    }
    if (tok) return lqa_errf(err, "%s: line 2: more than 14 column names", path);
    return 0;
}

static int parse_row(const char *path, long lineno, const char *line, float *out, char *err)
{
    const char *p = line;
    for (int i = 0; i < BOSTON_COLS; i++) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || fabs(v) > 1e30)
            return lqa_errf(err, "%s: line %ld: field %d is not a finite number", path, lineno,
                            i + 1);
        while (*end == ' ') end++;
        if (i + 1 < BOSTON_COLS && *end != ',')
            return lqa_errf(err, "%s: line %ld: %d fields, expected 14", path, lineno, i + 1);
        if (i + 1 == BOSTON_COLS && *end)
            return lqa_errf(err, "%s: line %ld: more than 14 fields", path, lineno);
        out[i] = (float)v;
        p = end + 1;
    }
    return 0;
}

/* Every data row of path into *out (rows × 14, lqa_alloc'd): 0, or -1 with err. */
static int read_rows(const char *path, float **out, long *n_out, char *err)
{
    FILE *f;
    long rows;
    if (open_header(path, &f, &rows, err)) return -1;
    char line[LINE_MAX_LEN];
    float *x = NULL;
    int r = read_line(f, line, sizeof line);
    if (r != 1) {
        lqa_errf(err, "%s: line 2: %s, expected the 14 column names", path,
                 r ? "too long" : "missing");
        goto fail;
    }
    if (check_names(path, line, err)) goto fail;
    if (!(x = lqa_alloc((size_t)rows * BOSTON_COLS * sizeof(float), err))) goto fail;
    long n = 0;
    while ((r = read_line(f, line, sizeof line)) == 1) {
        if (!line[0] && n == rows) continue; /* a blank line at the end */
        if (n == rows) {
            lqa_errf(err, "%s: more than the %ld data rows line 1 announces", path, rows);
            goto fail;
        }
        if (parse_row(path, n + 3, line, x + (size_t)n * BOSTON_COLS, err)) goto fail;
        n++;
    }
    if (r < 0) {
        lqa_errf(err, "%s: line %ld: too long", path, n + 3);
        goto fail;
    }
    if (ferror(f) || n != rows) {
        lqa_errf(err, "%s: %ld data rows, line 1 announces %ld", path, n, rows);
        goto fail;
    }
    fclose(f);
    *out = x;
    *n_out = n;
    return 0;
fail:
    fclose(f);
    lqa_free(x);
    return -1;
}

int boston_dataset_load(Dataset *ds, const DatasetDef *def, const char *const *paths,
                        int n_paths, int limit, char *err)
{
    (void)def;
    LQA_CHECK(n_paths == 1);
    const char *path = paths[0];
    float *x = NULL, *tr = NULL;
    int *y = NULL;
    long n, n_tr;
    if (read_rows(path, &x, &n, err)) return -1;
    /* the statistics of the training file (train.csv beside this one) */
    char trpath[4096];
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path) + 1 : 0;
    if (snprintf(trpath, sizeof trpath, "%.*strain.csv", dl, path) >= (int)sizeof trpath) {
        lqa_errf(err, "%s: path too long", path);
        goto fail;
    }
    if (strcmp(trpath, path) == 0) tr = x, n_tr = n;
    else if (read_rows(trpath, &tr, &n_tr, err)) goto fail;
    double mean[BOSTON_COLS - 1], sd[BOSTON_COLS - 1];
    for (int j = 0; j < BOSTON_COLS - 1; j++) {
        double s = 0, q = 0;
        for (long i = 0; i < n_tr; i++) s += tr[i * BOSTON_COLS + j];
        mean[j] = s / n_tr;
        for (long i = 0; i < n_tr; i++) {
            double d = tr[i * BOSTON_COLS + j] - mean[j];
            q += d * d;
        }
        sd[j] = sqrt(q / n_tr);
        if (!(sd[j] > 0)) {
            lqa_errf(err, "%s: column %s is constant: cannot standardise it", trpath, COLS[j]);
            goto fail;
        }
    }
    long keep = limit > 0 && limit < n ? limit : n;
    if (!(y = lqa_alloc((size_t)keep * sizeof(int), err))) goto fail;
    for (long i = 0; i < keep; i++) {
        y[i] = 0;
        for (int j = 0; j < BOSTON_COLS - 1; j++) {
            float *v = &x[i * BOSTON_COLS + j];
            *v = (float)((*v - mean[j]) / sd[j]);
        }
    }
    if (tr != x) lqa_free(tr);
    dataset_adopt(ds, (int)keep, 1, 1, BOSTON_COLS, 1, &x, &y);
    return 0;
fail:
    if (tr != x) lqa_free(tr);
    lqa_free(x);
    lqa_free(y);
    return -1;
}

int boston_dataset_count(const DatasetDef *def, const char *first_path, bool train, long *n,
                         char *err)
{
    (void)def, (void)train;
    FILE *f;
    if (open_header(first_path, &f, n, err)) return -1;
    fclose(f);
    return 0;
}
