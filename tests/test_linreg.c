/* test_linreg.c — the linear-regression model `linreg` (models/linreg.c) and the
 * Boston Housing loader (data_loaders/boston.c): the loss against a hand
 * computation, the gradient against central finite differences, no accuracy
 * (n_correct −1); the loader on generated files: standardisation with the
 * training file's statistics, and every malformed file refused with its name. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "model.h"
#include "test.h"

static char g_dir[] = "/tmp/lqa_test_linreg.XXXXXX";

static const char *NAMES =
    "\"CRIM\",\"ZN\",\"INDUS\",\"CHAS\",\"NOX\",\"RM\",\"AGE\",\"DIS\",\"RAD\",\"TAX\",\"PTRATIO\",\"B\","
    "\"LSTAT\",\"MEDV\"";

static void write_file(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

/* A CSV of n rows: row i has feature j = (i+1)·(j+1) + (i%2), target 10+i. */
static void write_csv(const char *name, int n, const char *header, int cols)
{
    char *buf = malloc(65536), *p = buf;
    p += sprintf(p, "%s\n%s\n", header, NAMES);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < cols; j++)
            p += sprintf(p, "%s%g", j ? "," : "", j == 13 ? 10.0 + i : (i + 1) * (j + 1) + (i % 2));
        *p++ = '\n';
    }
    *p = 0;
    write_file(name, buf);
    free(buf);
}

static int load(Dataset *ds, bool train, char *err)
{
    err[0] = 0;
    return dataset_load(ds, "boston", g_dir, train, NORM_UNIT, 0, err);
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    T_RUN(linreg_loss_grad, {
        enum { D = 3, B = 4 };
        char err[512] = "";
        ModelSpec spec;
        model_option_defaults(&spec);
        spec.in_c = spec.in_h = 1;
        spec.in_w = D + 1;
        spec.n_classes = 1;
        spec.max_batch = B;
        Model m;
        T_CHECK(model_create(&m, "linreg", &spec, err) == 0, "create: %s", err);
        T_CHECK(m.n_params == D + 1 && m.ops->regression, "linreg: %zu parameters", m.n_params);
        float th[D + 1] = {0.5f, -1.0f, 2.0f, 0.25f}; /* w, b */
        float x[B][D + 1] = {{1, 2, 3, 4}, {-1, 0.5f, 2, -3}, {0, 0, 0, 1}, {2, -2, 1, 0.5f}};
        /* by hand: y = w·x + b; L = mean (y - t)^2 */
        double want = 0;
        for (int i = 0; i < B; i++) {
            double y = th[3] + th[0] * x[i][0] + th[1] * x[i][1] + th[2] * x[i][2];
            want += (y - x[i][3]) * (y - x[i][3]) / B;
        }
        /* (0.5-2+6+0.25-4)^2 + (-0.5-0.5+4+0.25+3)^2 + (0.25-1)^2 + (1+2+2+0.25-0.5)^2 */
        T_CLOSE(want, (0.5625 + 39.0625 + 0.5625 + 22.5625) / 4, 1e-12, 0, "hand loss");
        int nc = 7;
        double l = model_forward(&m, th, &x[0][0], NULL, B, FWD_TRAIN, &nc);
        T_CLOSE(l, want, 1e-12, 0, "linreg loss");
        T_CHECK(nc == -1, "n_correct %d, expected -1 (no accuracy)", nc);
        model_backward(&m);
        for (int k = 0; k < D + 1; k++) {
            float p[D + 1], q[D + 1];
            memcpy(p, th, sizeof th);
            memcpy(q, th, sizeof th);
            p[k] += 1e-2f;
            q[k] -= 1e-2f;
            double fd = (model_forward(&m, p, &x[0][0], NULL, B, FWD_PROBE, NULL) -
                         model_forward(&m, q, &x[0][0], NULL, B, FWD_PROBE, NULL)) /
                        ((double)p[k] - q[k]);
            char what[64];
            snprintf(what, sizeof what, "dL/dtheta[%d]", k);
            T_CLOSE(m.grads[k], fd, 1e-5, 1e-6, what); /* quadratic: central differences exact */
        }
        /* a probe leaves the training gradient alone */
        model_backward(&m);
        float g0 = m.grads[0];
        model_forward(&m, th, &x[1][0], NULL, 1, FWD_EVAL, NULL);
        model_backward(&m);
        T_CHECK(m.grads[0] == g0, "backward after an eval forward changed");
        model_free(&m);
    });
    T_RUN(boston_loader, {
        T_CHECK(mkdtemp(g_dir) != NULL, "mkdtemp");
        char err[512];
        write_csv("train.csv", 5, "5,13,,,", 14);
        write_csv("test.csv", 3, "3,13", 14);
        Dataset tr, te;
        T_CHECK(load(&tr, true, err) == 0, "train: %s", err);
        T_CHECK(load(&te, false, err) == 0, "test: %s", err);
        T_CHECK(tr.n == 5 && te.n == 3 && tr.w == 14 && tr.c == 1 && tr.h == 1, "shapes");
        long n = 0;
        T_CHECK(dataset_count("boston", g_dir, true, &n, err) == 0 && n == 5, "count %ld", n);
        /* feature j of row i: (i+1)(j+1) + i%2 over i = 0..4; mean, population sd */
        for (int j = 0; j < 13; j++) {
            double v[5], mu = 0, q = 0;
            for (int i = 0; i < 5; i++) mu += (v[i] = (i + 1) * (j + 1) + (i % 2)) / 5;
            for (int i = 0; i < 5; i++) q += (v[i] - mu) * (v[i] - mu) / 5;
            double sd = sqrt(q);
            for (int i = 0; i < 3; i++) /* the test rows use the training statistics */
                T_CLOSE(te.x[i * 14 + j], (v[i] - mu) / sd, 1e-6, 1e-6, "test feature");
            T_CLOSE(tr.x[4 * 14 + j], (v[4] - mu) / sd, 1e-6, 1e-6, "train feature");
        }
        T_CHECK(tr.x[3 * 14 + 13] == 13.0f && te.x[2 * 14 + 13] == 12.0f, "targets unscaled");
        T_CHECK(tr.y[0] == 0, "label 0");
        dataset_free(&tr);
        dataset_free(&te);
        /* malformed training files: each an error naming the file */
        struct { int rows; const char *hdr; int cols; const char *want; } bad[] = {
            {5, "6,13", 14, "5 data rows, line 1 announces 6"},
            {5, "4,13", 14, "more than the 4 data rows"},
            {5, "5,12", 14, "expected 13 features"},
            {5, "x", 14, "line 1: expected"},
            {5, "5,13", 13, "line 3: 13 fields, expected 14"},
        };
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            write_csv("train.csv", bad[k].rows, bad[k].hdr, bad[k].cols);
            T_CHECK(load(&tr, true, err) != 0 && strstr(err, "train.csv") && strstr(err, bad[k].want),
                    "bad file %zu: got \"%s\"", k, err);
        }
        write_file("train.csv", "1,13\n\"CRIM\",\"ZN\"\n1,2,3,4,5,6,7,8,9,10,11,12,13,14\n");
        T_CHECK(load(&tr, true, err) != 0 && strstr(err, "line 2: 2 column names"), "names: %s", err);
        write_file("train.csv", "1,13\nCRIM,ZN,FOO,CHAS,NOX,RM,AGE,DIS,RAD,TAX,PTRATIO,B,LSTAT,MEDV\n"
                                "1,2,3,4,5,6,7,8,9,10,11,12,13,14\n");
        T_CHECK(load(&tr, true, err) != 0 && strstr(err, "line 2: column 3 is \"FOO\""), "names: %s", err);
        write_file("train.csv", "1,13\n");
        T_CHECK(load(&tr, true, err) != 0 && strstr(err, "line 2: missing"), "no names: %s", err);
        /* the test split needs the training file's statistics */
        write_csv("train.csv", 5, "5,13", 14);
        write_file("test.csv", "1,13\n");
        T_CHECK(load(&te, false, err) != 0 && strstr(err, "test.csv"), "bad test: %s", err);
        write_csv("test.csv", 2, "2,13", 14);
        write_file("train.csv", "0,13\n");
        T_CHECK(load(&te, false, err) != 0 && strstr(err, "train.csv"), "test without train stats: %s", err);
        char p[256];
        snprintf(p, sizeof p, "%s/train.csv", g_dir);
        unlink(p);
        snprintf(p, sizeof p, "%s/test.csv", g_dir);
        unlink(p);
        rmdir(g_dir);
    });
    return t_done("test_linreg");
}
