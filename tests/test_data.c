/* test_data.c — idx and CIFAR-10 loaders, dataset_load, the batcher and the
 * PNG→CIFAR converter, on small files generated in a temporary directory. */
#include "common.h"
#include "dataset.h"
#include "test.h"

#include <cJSON.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];
static char err[LQA_ERR_LEN];

static const char *tpath(const char *name)
{
    static char buf[64][512];
    static int k;
    char *p = buf[k++ % 64];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void write_raw(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    if (n && fwrite(b, 1, n, f) != n) exit(2);
    fclose(f);
}

static void write_gz(const char *path, const unsigned char *b, size_t n)
{
    gzFile f = gzopen(path, "wb");
    if (!f) exit(2);
    if (n && gzwrite(f, b, (unsigned)n) != (int)n) exit(2);
    gzclose(f);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* ---- idx ------------------------------------------------------------------ */

enum { IN = 25, IR = 3, IC = 4, ID = IR * IC };

static unsigned char idx_pixel(int i, int k) { return (unsigned char)((i * 37 + k * 11 + 5) & 255); }
static int idx_label(int i) { return (i * 3) % 10; }

/* Images file: magic, n_header, rows, cols, then n_pix images. */
static size_t make_images(unsigned char *b, uint32_t magic, int n_header, int n_pix)
{
    put32(b, magic);
    put32(b + 4, (uint32_t)n_header);
    put32(b + 8, IR);
    put32(b + 12, IC);
    for (int i = 0; i < n_pix; i++)
        for (int k = 0; k < ID; k++) b[16 + i * ID + k] = idx_pixel(i, k);
    return 16 + (size_t)n_pix * ID;
}

static size_t make_labels(unsigned char *b, uint32_t magic, int n_header, int n_lab)
{
    put32(b, magic);
    put32(b + 4, (uint32_t)n_header);
    for (int i = 0; i < n_lab; i++) b[8 + i] = (unsigned char)idx_label(i);
    return 8 + (size_t)n_lab;
}

static void check_idx_values(const Dataset *ds, int n, const char *what)
{
    T_CHECK(ds->n == n && ds->c == 1 && ds->h == IR && ds->w == IC && ds->n_classes == 10,
            "%s: shape n=%d c=%d h=%d w=%d classes=%d", what, ds->n, ds->c, ds->h, ds->w,
            ds->n_classes);
    if (ds->n != n) return;
    int bad = 0, badl = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < ID; k++)
            if (ds->x[i * ID + k] != (float)idx_pixel(i, k) / 255.0f) bad++;
        if (ds->y[i] != idx_label(i)) badl++;
    }
    T_CHECK(bad == 0, "%s: %d pixel values differ", what, bad);
    T_CHECK(badl == 0, "%s: %d labels differ", what, badl);
    T_CLOSE(ds->x[1], 16.0 / 255.0, 0, 1e-7, "idx pixel (0,1)");
}

/* Expect failure with an error naming `path` and containing `frag`. */
static void expect_fail(int rc, const char *path, const char *frag, const char *what)
{
    T_CHECK(rc == -1, "%s: expected failure, got %d", what, rc);
    T_CHECK(strstr(err, path) != NULL, "%s: error does not name %s: %s", what, path, err);
    if (frag) T_CHECK(strstr(err, frag) != NULL, "%s: error lacks \"%s\": %s", what, frag, err);
}

static void test_idx(void)
{
    static unsigned char img[16 + (IN + 2) * ID], lab[8 + IN + 2];
    size_t ni = make_images(img, 0x803, IN, IN), nl = make_labels(lab, 0x801, IN, IN);
    const char *pi = tpath("img"), *pl = tpath("lab");
    write_raw(pi, img, ni);
    write_raw(pl, lab, nl);
    Dataset ds;

    T_CHECK(idx_load(&ds, pi, pl, 10, 0, err) == 0, "idx raw: %s", err);
    check_idx_values(&ds, IN, "idx raw");
    dataset_free(&ds);
    T_CHECK(ds.x == NULL && ds.n == 0, "dataset_free clears");

    T_CHECK(idx_load(&ds, pi, pl, 10, 7, err) == 0, "idx limit: %s", err);
    check_idx_values(&ds, 7, "idx limit 7");
    dataset_free(&ds);
    T_CHECK(idx_load(&ds, pi, pl, 10, 1000, err) == 0, "idx big limit: %s", err);
    check_idx_values(&ds, IN, "idx limit > n");
    dataset_free(&ds);

    const char *gi = tpath("img.gz"), *gl = tpath("lab.gz");
    write_gz(gi, img, ni);
    write_gz(gl, lab, nl);
    T_CHECK(idx_load(&ds, gi, gl, 10, 0, err) == 0, "idx gz: %s", err);
    check_idx_values(&ds, IN, "idx gzip");
    dataset_free(&ds);
    /* Mixed raw images, gzip labels. */
    T_CHECK(idx_load(&ds, pi, gl, 10, 0, err) == 0, "idx mixed: %s", err);
    check_idx_values(&ds, IN, "idx mixed");
    dataset_free(&ds);

    /* Truncated images: 5 pixel bytes missing; raw and gzip. */
    const char *bad = tpath("bad-img");
    write_raw(bad, img, ni - 5);
    expect_fail(idx_load(&ds, bad, pl, 10, 0, err), bad, "truncated", "idx truncated");
    T_CHECK(ds.x == NULL && ds.n == 0, "failed load leaves ds empty");
    expect_fail(idx_load(&ds, bad, pl, 10, 3, err), bad, "truncated", "idx truncated with limit");
    const char *badgz = tpath("bad-img.gz");
    write_gz(badgz, img, ni - 5);
    expect_fail(idx_load(&ds, badgz, pl, 10, 0, err), badgz, "truncated", "idx gz truncated");
    /* Truncated header. */
    write_raw(bad, img, 10);
    expect_fail(idx_load(&ds, bad, pl, 10, 0, err), bad, "header", "idx short header");
    /* A gzip file cut in the middle of the compressed stream. */
    {
        FILE *f = fopen(gi, "rb");
        static unsigned char gzb[1 << 16];
        size_t glen = fread(gzb, 1, sizeof gzb, f);
        fclose(f);
        write_raw(badgz, gzb, glen / 2);
        expect_fail(idx_load(&ds, badgz, pl, 10, 0, err), badgz, NULL, "idx gz cut");
        /* only the 8-byte trailer (CRC-32, size) missing: the data is all there */
        write_raw(badgz, gzb, glen - 8);
        expect_fail(idx_load(&ds, badgz, pl, 10, 0, err), badgz, "trailer", "idx gz without trailer");
        /* junk after the complete gzip stream (gzip(1): "trailing garbage") */
        memcpy(gzb + glen, "junk!", 5);
        write_raw(badgz, gzb, glen + 5);
        expect_fail(idx_load(&ds, badgz, pl, 10, 0, err), badgz, "after the gzip data",
                    "idx gz trailing junk");
        gzb[glen] = 0; /* a single zero byte (padding) is junk too */
        write_raw(badgz, gzb, glen + 1);
        expect_fail(idx_load(&ds, badgz, pl, 10, 0, err), badgz, "after the gzip data",
                    "idx gz one trailing byte");
        /* two members (gzip a; gzip b; cat): a valid gzip file, loads */
        {
            const char *two = tpath("two.gz"), *h1 = tpath("h1.gz"), *h2 = tpath("h2.gz");
            write_gz(h1, img, 100);
            write_gz(h2, img + 100, ni - 100);
            static unsigned char cat[1 << 16];
            FILE *a = fopen(h1, "rb"), *b = fopen(h2, "rb");
            size_t na = fread(cat, 1, sizeof cat, a);
            size_t nb = fread(cat + na, 1, sizeof cat - na, b);
            fclose(a);
            fclose(b);
            write_raw(two, cat, na + nb);
            T_CHECK(idx_load(&ds, two, pl, 10, 0, err) == 0, "idx gz two members: %s", err);
            if (ds.x) check_idx_values(&ds, IN, "idx gz two members");
            dataset_free(&ds);
        }
    }

    /* Trailing bytes. */
    make_images(img, 0x803, IN, IN + 1);
    write_raw(bad, img, ni + 3);
    expect_fail(idx_load(&ds, bad, pl, 10, 0, err), bad, "3 trailing bytes", "idx trailing");
    write_gz(badgz, img, ni + 3);
    expect_fail(idx_load(&ds, badgz, pl, 10, 0, err), badgz, "trailing", "idx gz trailing");
    const char *badl = tpath("bad-lab");
    make_labels(lab, 0x801, IN, IN + 1);
    write_raw(badl, lab, nl + 1);
    expect_fail(idx_load(&ds, pi, badl, 10, 0, err), badl, "trailing", "idx labels trailing");
    make_labels(lab, 0x801, IN, IN);
    write_raw(badl, lab, nl - 1);
    expect_fail(idx_load(&ds, pi, badl, 10, 0, err), badl, "truncated", "idx labels truncated");

    /* Bad magic numbers. */
    make_images(img, 0x804, IN, IN);
    write_raw(bad, img, ni);
    expect_fail(idx_load(&ds, bad, pl, 10, 0, err), bad, "magic", "idx images magic");
    make_images(img, 0x803, IN, IN);
    expect_fail(idx_load(&ds, pl, pl, 10, 0, err), pl, "magic", "labels file as images");
    make_labels(lab, 0x803, IN, IN);
    write_raw(badl, lab, nl);
    expect_fail(idx_load(&ds, pi, badl, 10, 0, err), badl, "magic", "idx labels magic");

    /* Count mismatch: 24 labels (consistent file) for 25 images. */
    nl = make_labels(lab, 0x801, IN - 1, IN - 1);
    write_raw(badl, lab, nl);
    expect_fail(idx_load(&ds, pi, badl, 10, 0, err), badl, "24 labels", "idx count mismatch");
    T_CHECK(strstr(err, "25") != NULL, "count mismatch names image count: %s", err);

    /* Label out of range, also beyond the limit. */
    nl = make_labels(lab, 0x801, IN, IN);
    lab[8 + 5] = 12;
    write_raw(badl, lab, nl);
    expect_fail(idx_load(&ds, pi, badl, 10, 0, err), badl, "label 12 at index 5 out of range [0,10)",
                "idx label range");
    expect_fail(idx_load(&ds, pi, badl, 10, 3, err), badl, "label 12 at index 5",
                "idx label range beyond limit");
    /* The class count comes from the caller (the registry). */
    T_CHECK(idx_load(&ds, pi, badl, 13, 0, err) == 0 && ds.n_classes == 13 && ds.y[5] == 12,
            "idx with 13 classes keeps label 12: %s", err);
    dataset_free(&ds);
    expect_fail(idx_load(&ds, pi, badl, 12, 0, err), badl, "out of range [0,12)",
                "idx label range follows the class count");
    make_labels(lab, 0x801, IN, IN);

    /* Zero images. */
    ni = make_images(img, 0x803, 0, 0);
    write_raw(bad, img, ni);
    nl = make_labels(lab, 0x801, 0, 0);
    write_raw(badl, lab, nl);
    expect_fail(idx_load(&ds, bad, badl, 10, 0, err), bad, "count", "idx zero images");

    /* Missing file. */
    const char *missing = tpath("no-such-file");
    expect_fail(idx_load(&ds, missing, pl, 10, 0, err), missing, NULL, "idx missing images");
    expect_fail(idx_load(&ds, pi, missing, 10, 0, err), missing, NULL, "idx missing labels");
}

/* ---- CIFAR-10 binary ------------------------------------------------------ */

enum { CR = 3073 };

static unsigned char cif_pixel(int i, int k) { return (unsigned char)((i * 13 + k * 7 + (k >> 10) * 50) & 255); }
static int cif_label(int i) { return (i * 7 + 1) % 10; }

/* n records starting at global index i0. */
static size_t make_cifar(unsigned char *b, int i0, int n)
{
    for (int r = 0; r < n; r++) {
        unsigned char *p = b + (size_t)r * CR;
        p[0] = (unsigned char)cif_label(i0 + r);
        for (int k = 0; k < 3072; k++) p[1 + k] = cif_pixel(i0 + r, k);
    }
    return (size_t)n * CR;
}

static void check_cifar_values(const Dataset *ds, int n, const char *what)
{
    T_CHECK(ds->n == n && ds->c == 3 && ds->h == 32 && ds->w == 32 && ds->n_classes == 10,
            "%s: shape n=%d c=%d h=%d w=%d", what, ds->n, ds->c, ds->h, ds->w);
    if (ds->n != n) return;
    int bad = 0, badl = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 3072; k++)
            if (ds->x[(size_t)i * 3072 + k] != (float)cif_pixel(i, k) / 255.0f) bad++;
        if (ds->y[i] != cif_label(i)) badl++;
    }
    T_CHECK(bad == 0, "%s: %d pixel values differ", what, bad);
    T_CHECK(badl == 0, "%s: %d labels differ", what, badl);
    /* Channel-major: green plane of sample 1 starts at 1024. */
    T_CLOSE(ds->x[3072 + 1024], cif_pixel(1, 1024) / 255.0, 0, 1e-7, "cifar G[0] of sample 1");
}

static void test_cifar(void)
{
    static unsigned char b[8 * CR];
    const char *f1 = tpath("c1.bin"), *f2 = tpath("c2.bin"), *f2gz = tpath("c2.bin.gz");
    write_raw(f1, b, make_cifar(b, 0, 4));
    size_t n2 = make_cifar(b, 4, 3);
    write_raw(f2, b, n2);
    write_gz(f2gz, b, n2);
    Dataset ds;
    const char *raw[] = { f1, f2 }, *mixed[] = { f1, f2gz };

    T_CHECK(cifar10_load(&ds, raw, 2, 0, 10, 0, err) == 0, "cifar raw: %s", err);
    check_cifar_values(&ds, 7, "cifar raw");
    dataset_free(&ds);
    T_CHECK(cifar10_load(&ds, mixed, 2, 0, 10, 0, err) == 0, "cifar gz: %s", err);
    check_cifar_values(&ds, 7, "cifar gzip");
    dataset_free(&ds);
    T_CHECK(cifar10_load(&ds, mixed, 2, 0, 10, 5, err) == 0, "cifar limit: %s", err);
    check_cifar_values(&ds, 5, "cifar limit 5 (spans files)");
    dataset_free(&ds);
    T_CHECK(cifar10_load(&ds, mixed, 2, 0, 10, 2, err) == 0, "cifar limit 2: %s", err);
    check_cifar_values(&ds, 2, "cifar limit 2");
    dataset_free(&ds);

    /* Truncated: 3 records minus one byte = 9218 bytes. */
    const char *bad = tpath("bad.bin"), *badgz = tpath("bad.bin.gz");
    write_raw(bad, b, n2 - 1);
    const char *pb[] = { f1, bad };
    expect_fail(cifar10_load(&ds, pb, 2, 0, 10, 0, err), bad, "9218 bytes", "cifar truncated");
    T_CHECK(ds.x == NULL, "failed cifar load leaves ds empty");
    expect_fail(cifar10_load(&ds, pb, 2, 0, 10, 1, err), bad, "9218", "cifar truncated beyond limit");
    write_gz(badgz, b, n2 + 5);
    const char *pbg[] = { badgz };
    expect_fail(cifar10_load(&ds, pbg, 1, 0, 10, 0, err), badgz, "9224 bytes", "cifar gz wrong length");
    write_raw(bad, b, 0);
    expect_fail(cifar10_load(&ds, pb, 2, 0, 10, 0, err), bad, "0 bytes", "cifar empty file");

    /* Bad label in record 2. */
    make_cifar(b, 0, 3);
    b[2 * CR] = 10;
    write_raw(bad, b, n2);
    expect_fail(cifar10_load(&ds, pb, 2, 0, 10, 0, err), bad, "label 10 at record 2", "cifar bad label");
    T_CHECK(cifar10_load(&ds, pb, 2, 0, 11, 0, err) == 0 && ds.n_classes == 11 &&
                ds.y[ds.n - 1] == 10,
            "cifar with 11 classes keeps label 10: %s", err);
    dataset_free(&ds);

    const char *missing = tpath("nothere.bin");
    const char *pm[] = { f1, missing };
    expect_fail(cifar10_load(&ds, pm, 2, 0, 10, 0, err), missing, NULL, "cifar missing");
}

/* ---- batcher -------------------------------------------------------------- */

enum { BN = 10, BD = 2 };

static void make_seq_dataset(Dataset *ds, float *x, int *y)
{
    for (int i = 0; i < BN; i++) {
        x[i * BD] = (float)i;
        x[i * BD + 1] = (float)(100 + i);
        y[i] = i % 10;
    }
    ds->n = BN;
    ds->c = 1;
    ds->h = 1;
    ds->w = BD;
    ds->n_classes = 10;
    ds->x = x;
    ds->y = y;
}

/* Run one epoch; record the order into order[] (up to BN), sizes into sizes[]. Returns batches. */
static int run_epoch(Batcher *b, int epoch, int *order, int *count, int *sizes, int *bad_copy)
{
    batcher_start_epoch(b, epoch);
    int nb = 0, k = 0, sz;
    const int *idx;
    while ((sz = batcher_next(b, &idx)) > 0) {
        if (nb < 16) sizes[nb] = sz;
        nb++;
        for (int j = 0; j < sz; j++) {
            if (b->x[j * BD] != (float)idx[j] || b->x[j * BD + 1] != (float)(100 + idx[j]) ||
                b->y[j] != idx[j] % 10)
                (*bad_copy)++;
            if (k < BN) order[k] = idx[j];
            k++;
        }
    }
    T_CHECK(batcher_next(b, &idx) == 0 && idx == NULL, "batcher stays at end of epoch");
    *count = k;
    return nb;
}

static bool distinct_in_range(const int *v, int n)
{
    int seen[BN] = { 0 };
    for (int i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= BN || seen[v[i]]) return false;
        seen[v[i]] = 1;
    }
    return true;
}

static void test_batcher(void)
{
    float x[BN * BD];
    int y[BN];
    Dataset ds;
    make_seq_dataset(&ds, x, y);
    Batcher b, b2;
    int order[8][BN], count, sizes[16], bad_copy = 0;

    /* shuffle, drop_last: 3 batches of 3, the 10th sample dropped. */
    T_CHECK(batcher_init(&b, &ds, 3, true, true, 42, err) == 0, "batcher init: %s", err);
    T_CHECK(batcher_steps_per_epoch(&b) == 3, "steps drop_last %ld", batcher_steps_per_epoch(&b));
    int nb = run_epoch(&b, 0, order[0], &count, sizes, &bad_copy);
    T_CHECK(nb == 3 && count == 9, "drop_last epoch: %d batches, %d samples", nb, count);
    T_CHECK(sizes[0] == 3 && sizes[2] == 3, "drop_last sizes %d %d", sizes[0], sizes[2]);
    T_CHECK(distinct_in_range(order[0], 9), "drop_last epoch draws distinct samples");
    batcher_free(&b);

    /* shuffle, keep last: 4 batches, last of size 1, a full permutation. */
    T_CHECK(batcher_init(&b, &ds, 3, true, false, 42, err) == 0, "batcher init: %s", err);
    T_CHECK(batcher_steps_per_epoch(&b) == 4, "steps keep-last %ld", batcher_steps_per_epoch(&b));
    for (int e = 0; e < 3; e++) {
        nb = run_epoch(&b, e, order[e], &count, sizes, &bad_copy);
        T_CHECK(nb == 4 && count == BN && sizes[3] == 1, "epoch %d: %d batches, %d samples, last %d",
                e, nb, count, sizes[3]);
        T_CHECK(distinct_in_range(order[e], BN), "epoch %d is a permutation", e);
    }
    T_CHECK(memcmp(order[0], order[1], sizeof order[0]) != 0, "epochs 0 and 1 differ");
    T_CHECK(memcmp(order[1], order[2], sizeof order[0]) != 0, "epochs 1 and 2 differ");
    bool identity = true;
    for (int i = 0; i < BN; i++) identity &= order[0][i] == i;
    T_CHECK(!identity, "shuffled epoch is not file order");
    /* Resumable: epoch 1 again after epoch 2 gives the same order. */
    run_epoch(&b, 1, order[3], &count, sizes, &bad_copy);
    T_CHECK(memcmp(order[1], order[3], sizeof order[0]) == 0, "epoch order depends only on (seed, e)");
    /* Same seed, fresh batcher (also with drop_last, which only truncates). */
    T_CHECK(batcher_init(&b2, &ds, 3, true, false, 42, err) == 0, "init: %s", err);
    run_epoch(&b2, 2, order[4], &count, sizes, &bad_copy);
    T_CHECK(memcmp(order[2], order[4], sizeof order[0]) == 0, "same seed, same order");
    batcher_free(&b2);
    T_CHECK(batcher_init(&b2, &ds, 5, true, false, 42, err) == 0, "init: %s", err);
    run_epoch(&b2, 2, order[4], &count, sizes, &bad_copy);
    T_CHECK(memcmp(order[2], order[4], sizeof order[0]) == 0, "order independent of batch size");
    batcher_free(&b2);
    T_CHECK(batcher_init(&b2, &ds, 3, true, false, 43, err) == 0, "init: %s", err);
    run_epoch(&b2, 0, order[5], &count, sizes, &bad_copy);
    T_CHECK(memcmp(order[0], order[5], sizeof order[0]) != 0, "different seed, different order");
    batcher_free(&b2);
    /* Fresh batcher starts at epoch 0 without batcher_start_epoch. */
    T_CHECK(batcher_init(&b2, &ds, BN, true, false, 42, err) == 0, "init: %s", err);
    const int *idx;
    T_CHECK(batcher_next(&b2, &idx) == BN && memcmp(idx, order[0], sizeof order[0]) == 0,
            "init prepares epoch 0");
    batcher_free(&b2);
    batcher_free(&b);

    /* shuffle = false: file order. */
    T_CHECK(batcher_init(&b, &ds, 4, false, false, 42, err) == 0, "init: %s", err);
    for (int e = 0; e < 2; e++) {
        nb = run_epoch(&b, e, order[6], &count, sizes, &bad_copy);
        bool seq = count == BN;
        for (int i = 0; i < BN; i++) seq &= order[6][i] == i;
        T_CHECK(seq && nb == 3 && sizes[2] == 2, "file order epoch %d (%d batches, last %d)", e, nb,
                sizes[2]);
    }
    batcher_free(&b);
    T_CHECK(bad_copy == 0, "%d batch samples not copied from their index", bad_copy);

    /* Exact multiple: drop_last changes nothing. */
    T_CHECK(batcher_init(&b, &ds, 5, true, true, 1, err) == 0, "init: %s", err);
    T_CHECK(batcher_steps_per_epoch(&b) == 2, "steps exact multiple");
    nb = run_epoch(&b, 0, order[7], &count, sizes, &bad_copy);
    T_CHECK(nb == 2 && count == BN && distinct_in_range(order[7], BN), "exact multiple epoch");
    batcher_free(&b);

    /* Batch larger than the data set. */
    T_CHECK(batcher_init(&b, &ds, 11, true, true, 1, err) == -1, "batch > n with drop_last fails");
    T_CHECK(strstr(err, "11") && strstr(err, "10"), "error names batch and sample count: %s", err);
    T_CHECK(b.perm == NULL, "failed init leaves nothing allocated");
    T_CHECK(batcher_init(&b, &ds, 11, false, false, 1, err) == 0, "batch > n keep-last: %s", err);
    T_CHECK(batcher_steps_per_epoch(&b) == 1, "one partial step");
    nb = run_epoch(&b, 0, order[7], &count, sizes, &bad_copy);
    T_CHECK(nb == 1 && sizes[0] == BN, "one batch of all samples");
    batcher_free(&b);
    T_CHECK(batcher_init(&b, &ds, 0, true, false, 1, err) == -1 && strstr(err, "0"),
            "batch 0 rejected: %s", err);

    /* With a loaded data set and limit (idx file from test_idx). */
    Dataset d2;
    if (idx_load(&d2, tpath("img"), tpath("lab"), 10, 10, err) == 0) {
        T_CHECK(batcher_init(&b, &d2, 4, true, true, 7, err) == 0, "init: %s", err);
        T_CHECK(batcher_steps_per_epoch(&b) == 2, "limit 10 / batch 4 → 2 steps");
        int sz = batcher_next(&b, &idx);
        bool ok = sz == 4;
        for (int j = 0; ok && j < sz; j++)
            ok = idx[j] < 10 &&
                 memcmp(b.x + j * ID, d2.x + idx[j] * ID, ID * sizeof(float)) == 0 &&
                 b.y[j] == d2.y[idx[j]];
        T_CHECK(ok, "batch copies the loaded samples");
        batcher_free(&b);
        dataset_free(&d2);
    } else {
        T_CHECK(0, "idx_load for batcher: %s", err);
    }
}

/* ---- PNG converter -------------------------------------------------------- */

static unsigned char png_px(int row, int k, int ch) { return (unsigned char)((row * 31 + k * 3 + ch * 101) & 255); }

static void write_png(const char *path, int width, int height, int ctype, int depth)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!f || !png || !info || setjmp(png_jmpbuf(png))) exit(2);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, depth, ctype,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    int ch = ctype == PNG_COLOR_TYPE_RGB ? 3 : ctype == PNG_COLOR_TYPE_RGBA ? 4 : 1;
    unsigned char *row = calloc((size_t)width * ch * (depth / 8), 1);
    for (int r = 0; r < height; r++) {
        for (int k = 0; k < width; k++)
            for (int c = 0; c < ch; c++) row[(size_t)k * ch + c] = png_px(r, k, c);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(f);
}

static void test_converter(void)
{
    const char *png = tpath("t.png"), *js = tpath("labels.json"), *out = tpath("out.bin");
    write_png(png, 1024, 3, PNG_COLOR_TYPE_RGB, 8);
    const unsigned char jtext[] = "[9, 1, 2, 3, 4]";
    write_raw(js, jtext, sizeof jtext - 1);

    T_CHECK(cifar_png_convert(png, js, 1, out, err) == 0, "convert: %s", err);
    static unsigned char got[4 * CR], want[3 * CR];
    FILE *f = fopen(out, "rb");
    size_t n = f ? fread(got, 1, sizeof got, f) : 0;
    if (f) fclose(f);
    for (int r = 0; r < 3; r++) {
        unsigned char *p = want + (size_t)r * CR;
        p[0] = (unsigned char)(r + 1);
        for (int k = 0; k < 1024; k++)
            for (int c = 0; c < 3; c++) p[1 + c * 1024 + k] = png_px(r, k, c);
    }
    T_CHECK(n == 3 * CR, "converted size %zu", n);
    T_CHECK(n == 3 * CR && memcmp(got, want, n) == 0, "converted bytes match");
    T_CHECK(access(tpath("out.bin.tmp"), F_OK) != 0, "no .tmp left behind");
    Dataset ds;
    const char *po[] = { out };
    T_CHECK(cifar10_load(&ds, po, 1, 0, 10, 0, err) == 0, "load converted: %s", err);
    if (ds.n == 3) {
        T_CHECK(ds.y[2] == 3, "converted label");
        T_CLOSE(ds.x[2 * 3072 + 1024 + 5], png_px(2, 5, 1) / 255.0, 0, 1e-7, "converted G pixel");
    }
    dataset_free(&ds);

    /* Errors. */
    const char *out2 = tpath("out2.bin");
    expect_fail(cifar_png_convert(png, js, 3, out2, err), js, "labels", "too few labels");
    T_CHECK(access(out2, F_OK) != 0 && access(tpath("out2.bin.tmp"), F_OK) != 0,
            "no output after failure");
    const unsigned char jbad[] = "[0, 1, 12, 3]";
    const char *js2 = tpath("bad.json");
    write_raw(js2, jbad, sizeof jbad - 1);
    expect_fail(cifar_png_convert(png, js2, 0, out2, err), js2, "index 2", "label out of range");
    const unsigned char jobj[] = "{\"a\": 1}";
    write_raw(js2, jobj, sizeof jobj - 1);
    expect_fail(cifar_png_convert(png, js2, 0, out2, err), js2, "array", "labels not an array");
    write_raw(js2, (const unsigned char *)"[1, 2", 5);
    expect_fail(cifar_png_convert(png, js2, 0, out2, err), js2, "JSON", "invalid JSON");

    const char *gray = tpath("gray.png"), *rgba = tpath("rgba.png"), *narrow = tpath("narrow.png");
    write_png(gray, 1024, 2, PNG_COLOR_TYPE_GRAY, 8);
    expect_fail(cifar_png_convert(gray, js, 0, out2, err), gray, "8-bit RGB", "grayscale PNG");
    write_png(rgba, 1024, 2, PNG_COLOR_TYPE_RGB_ALPHA, 8);
    expect_fail(cifar_png_convert(rgba, js, 0, out2, err), rgba, "8-bit RGB", "RGBA PNG");
    write_png(rgba, 1024, 2, PNG_COLOR_TYPE_RGB, 16);
    expect_fail(cifar_png_convert(rgba, js, 0, out2, err), rgba, "bit depth 16", "16-bit PNG");
    write_png(narrow, 32, 2, PNG_COLOR_TYPE_RGB, 8);
    expect_fail(cifar_png_convert(narrow, js, 0, out2, err), narrow, "width 32", "wrong width");
    expect_fail(cifar_png_convert(js, js, 0, out2, err), js, "not a PNG", "not a PNG");
    /* A PNG cut short: libpng's error goes through the longjmp path. */
    {
        FILE *pf = fopen(png, "rb");
        static unsigned char pb[1 << 16];
        size_t plen = fread(pb, 1, sizeof pb, pf);
        fclose(pf);
        write_raw(narrow, pb, plen / 2);
        expect_fail(cifar_png_convert(narrow, js, 0, out2, err), narrow, NULL, "truncated PNG");
    }
    const char *missing = tpath("none.png");
    expect_fail(cifar_png_convert(missing, js, 0, out2, err), missing, NULL, "missing PNG");
    T_CHECK(access(out2, F_OK) != 0 && access(tpath("out2.bin.tmp"), F_OK) != 0,
            "no output after failures");
}

/* ---- dataset_load --------------------------------------------------------- */

static void test_dataset_load(void)
{
    char dir[512], sub[512];
    snprintf(dir, sizeof dir, "%s/root", tmpdir);
    snprintf(sub, sizeof sub, "%s/root/mnist", tmpdir);
    mkdir(dir, 0700);
    mkdir(sub, 0700);
    static unsigned char img[16 + IN * ID], lab[8 + IN];
    size_t ni = make_images(img, 0x803, IN, IN), nl = make_labels(lab, 0x801, IN, IN);
    char p[600];
    const char *names[4] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s.gz", sub, names[i]);
        if (i % 2 == 0) write_gz(p, img, ni);
        else write_gz(p, lab, nl);
    }
    Dataset ds;
    T_CHECK(dataset_load(&ds, "mnist", sub, true, NORM_UNIT, 0, err) == 0, "load mnist gz: %s", err);
    check_idx_values(&ds, IN, "dataset_load mnist .gz");
    dataset_free(&ds);
    T_CHECK(dataset_load(&ds, "mnist", sub, false, NORM_MEANSTD, 4, err) == 0, "load test: %s", err);
    T_CHECK(ds.n == 4, "test split limit 4: n=%d", ds.n);
    if (ds.n == 4)
        T_CLOSE(ds.x[3 * ID + 2], (idx_pixel(3, 2) / 255.0 - 0.1307) / 0.3081, 1e-6, 1e-6,
                "mnist meanstd");
    dataset_free(&ds);
    /* The data root also works (data_dir/<name>). */
    T_CHECK(dataset_load(&ds, "mnist", dir, true, NORM_UNIT, 0, err) == 0, "load via root: %s", err);
    T_CHECK(ds.n == IN, "root lookup n=%d", ds.n);
    dataset_free(&ds);
    /* Raw preferred over .gz: a raw train-labels file with other labels. */
    unsigned char lab2[8 + IN];
    make_labels(lab2, 0x801, IN, IN);
    for (int i = 0; i < IN; i++) lab2[8 + i] = 9;
    snprintf(p, sizeof p, "%s/%s", sub, names[1]);
    write_raw(p, lab2, nl);
    T_CHECK(dataset_load(&ds, "mnist", sub, true, NORM_UNIT, 0, err) == 0, "raw+gz: %s", err);
    T_CHECK(ds.n == IN && ds.y[0] == 9 && ds.y[1] == 9, "raw file preferred over .gz");
    dataset_free(&ds);
    /* Fashion-MNIST constants. */
    T_CHECK(dataset_load(&ds, "fashion-mnist", sub, true, NORM_MEANSTD, 2, err) == 0, "fmnist: %s", err);
    if (ds.n == 2)
        T_CLOSE(ds.x[ID + 1], (idx_pixel(1, 1) / 255.0 - 0.2860) / 0.3530, 1e-6, 1e-6,
                "fashion-mnist meanstd");
    dataset_free(&ds);
    /* Missing file: names the path and the fetch command. */
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", sub);
    remove(p);
    T_CHECK(dataset_load(&ds, "mnist", sub, false, NORM_UNIT, 0, err) == -1, "missing test labels");
    T_CHECK(strstr(err, "t10k-labels-idx1-ubyte") && strstr(err, "scripts/fetch_data.sh mnist"),
            "missing-file message: %s", err);
    T_CHECK(dataset_load(&ds, "imagenet", sub, true, NORM_UNIT, 0, err) == -1 &&
                strstr(err, "imagenet"),
            "unknown data set: %s", err);
    T_CHECK(dataset_known("mnist") && dataset_known("fashion-mnist") && dataset_known("cifar10") &&
                !dataset_known("cifar100") && !dataset_known(NULL),
            "dataset_known");
    /* The registry: one line per data set, read by the generic code. */
    T_CHECK(strcmp(dataset_names(), "mnist, fashion-mnist, cifar10, boston, none") == 0, "dataset_names: %s",
            dataset_names());
    T_CHECK(strstr(err, dataset_names()) != NULL, "unknown data set lists the registry: %s", err);
    const DatasetDef *cd = dataset_find("cifar10"), *md = dataset_find("mnist");
    T_CHECK(cd && md && cd->n_classes == 10 && cd->c == 3 && cd->norm == NORM_MEANSTD &&
                md->norm == NORM_UNIT && md->c == 1 && md->n_train == 60000 &&
                !strcmp(md->train_files[1], "train-labels-idx1-ubyte") && !md->train_files[2] &&
                cd->train_files[4] && !cd->train_files[5] && !dataset_find("nosuch"),
            "registry lines");

    /* CIFAR-10: five train batches of 2 records (some gzip) and a test batch.
     * Real batches hold exactly 10,000 records: these are refused by default. */
    char cdir[512];
    snprintf(cdir, sizeof cdir, "%s/root/cifar10", tmpdir);
    mkdir(cdir, 0700);
    static unsigned char b[10 * CR];
    make_cifar(b, 0, 10);
    for (int k = 0; k < 5; k++) {
        snprintf(p, sizeof p, "%s/data_batch_%d.bin%s", cdir, k + 1, k % 2 ? ".gz" : "");
        if (k % 2) write_gz(p, b + (size_t)2 * k * CR, 2 * CR);
        else write_raw(p, b + (size_t)2 * k * CR, 2 * CR);
    }
    snprintf(p, sizeof p, "%s/test_batch.bin.gz", cdir);
    write_gz(p, b, 3 * CR);
    T_CHECK(dataset_load(&ds, "cifar10", cdir, true, NORM_UNIT, 0, err) == -1 &&
                strstr(err, "data_batch_1.bin") && strstr(err, "exactly 10000"),
            "cifar batch of 2 records refused: %s", err);
    cifar10_batch_records = 0;
    T_CHECK(dataset_load(&ds, "cifar10", cdir, true, NORM_UNIT, 0, err) == 0, "cifar train: %s", err);
    check_cifar_values(&ds, 10, "dataset_load cifar10 train");
    dataset_free(&ds);
    T_CHECK(dataset_load(&ds, "cifar10", dir, false, NORM_MEANSTD, 0, err) == 0, "cifar test: %s", err);
    T_CHECK(ds.n == 3, "cifar test n=%d", ds.n);
    if (ds.n == 3) {
        const double mean[3] = { 0.4914, 0.4822, 0.4465 }, sd[3] = { 0.2470, 0.2435, 0.2616 };
        for (int c = 0; c < 3; c++) {
            int k = c * 1024 + 77;
            T_CLOSE(ds.x[2 * 3072 + k], (cif_pixel(2, k) / 255.0 - mean[c]) / sd[c], 1e-6, 1e-6,
                    "cifar per-channel meanstd");
        }
    }
    dataset_free(&ds);
    snprintf(p, sizeof p, "%s/data_batch_4.bin.gz", cdir);
    remove(p);
    T_CHECK(dataset_load(&ds, "cifar10", cdir, true, NORM_UNIT, 0, err) == -1 &&
                strstr(err, "data_batch_4.bin") && strstr(err, "scripts/fetch_data.sh cifar10"),
            "cifar missing batch: %s", err);
}


/* ---- hostile files ---------------------------------------------------------- */

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *q = hay; (q = strstr(q, needle)); q += strlen(needle)) n++;
    return n;
}

/* Read a file whole into a static buffer. */
static size_t slurp(const char *path, unsigned char *b, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) exit(2);
    size_t n = fread(b, 1, cap, f);
    fclose(f);
    return n;
}

static void test_hostile(void)
{
    static unsigned char img[16 + IN * ID], lab[8 + IN], gzb[1 << 16];
    size_t ni = make_images(img, 0x803, IN, IN), nl = make_labels(lab, 0x801, IN, IN);
    const char *pi = tpath("h-img"), *pl = tpath("h-lab");
    write_raw(pi, img, ni);
    write_raw(pl, lab, nl);
    Dataset ds;
    /* A header declaring 2^28 images is checked against the file's size before
     * anything is allocated (raw: exact; gzip: deflate's largest ratio). */
    static unsigned char big[16 + IN * ID], bigl[8 + IN];
    memcpy(big, img, ni);
    put32(big + 4, 1u << 28);
    memcpy(bigl, lab, nl);
    put32(bigl + 4, 1u << 28);
    const char *bi = tpath("h-big"), *bl = tpath("h-bigl"), *bgz = tpath("h-big.gz");
    write_raw(bi, big, ni);
    write_raw(bl, bigl, nl);
    expect_fail(idx_load(&ds, bi, bl, 10, 0, err), bi, "can hold at most", "idx 2^28 images, raw");
    write_gz(bgz, big, ni);
    expect_fail(idx_load(&ds, bgz, bl, 10, 0, err), bgz, "can hold at most", "idx 2^28 images, gzip");
    put32(bigl + 4, IN);
    write_raw(bl, bigl, nl);
    put32(big + 4, IN);
    write_raw(bi, big, ni);
    put32(bigl + 4, IN);
    /* A gzip file without its trailer (the checksum is never checked): an error. */
    const char *gz = tpath("h-img.gz"), *cut = tpath("h-cut.gz");
    write_gz(gz, img, ni);
    size_t glen = slurp(gz, gzb, sizeof gzb);
    write_raw(cut, gzb, glen - 8);
    expect_fail(idx_load(&ds, cut, pl, 10, 0, err), cut, "gzip", "idx gzip without trailer");
    T_CHECK(strstr(err, "checksum") != NULL, "missing trailer says the checksum: %s", err);
    write_raw(cut, gzb, glen / 2);
    T_CHECK(idx_load(&ds, cut, pl, 10, 0, err) == -1 && count_of(err, cut) == 1,
            "gzip error names the path once: %s", err);
    /* CIFAR-10: a gzip batch without trailer; a batch of the wrong record count. */
    static unsigned char cb[3 * CR];
    make_cifar(cb, 0, 3);
    const char *c3 = tpath("h-c3.bin"), *c3gz = tpath("h-c3.bin.gz");
    write_raw(c3, cb, 3 * CR);
    write_gz(c3gz, cb, 3 * CR);
    static unsigned char cgz[1 << 16];
    size_t clen = slurp(c3gz, cgz, sizeof cgz);
    write_raw(c3gz, cgz, clen - 8);
    const char *one[1] = { c3gz };
    expect_fail(cifar10_load(&ds, one, 1, 0, 10, 0, err), c3gz, "checksum", "cifar gzip without trailer");
    write_raw(c3, cb, 2 * CR);
    one[0] = c3;
    expect_fail(cifar10_load(&ds, one, 1, 3, 10, 0, err), c3, "exactly 3", "cifar batch of 2 records, 3 expected");
    write_raw(c3, cb, 3 * CR);
    T_CHECK(cifar10_load(&ds, one, 1, 3, 10, 0, err) == 0 && ds.n == 3, "cifar batch of exactly 3: %s", err);
    dataset_free(&ds);

    /* Splits of different shapes: an error naming both files. */
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/shape", tmpdir);
    mkdir(dir, 0700);
    const char *names[4] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        write_raw(p, i % 2 ? lab : img, i % 2 ? nl : ni);
    }
    static unsigned char swapped[16 + IN * ID];
    memcpy(swapped, img, ni);
    put32(swapped + 8, IC); /* 4 x 3 instead of 3 x 4: same byte count */
    put32(swapped + 12, IR);
    snprintf(p, sizeof p, "%s/%s", dir, names[2]);
    write_raw(p, swapped, ni);
    Dataset tr, te;
    T_CHECK(dataset_load(&tr, "mnist", dir, true, NORM_UNIT, 0, err) == 0, "shape train: %s", err);
    T_CHECK(dataset_load(&te, "mnist", dir, false, NORM_UNIT, 0, err) == 0, "shape test: %s", err);
    T_CHECK(dataset_check_pair(&tr, &tr, err) == 0, "one shape: ok");
    T_CHECK(dataset_check_pair(&tr, &te, err) == -1 && strstr(err, "train-images-idx3-ubyte") &&
                strstr(err, "t10k-images-idx3-ubyte") && strstr(err, "1x3x4") && strstr(err, "1x4x3"),
            "shapes differ: %s", err);
    dataset_free(&tr);
    dataset_free(&te);
    long n = 0;
    T_CHECK(dataset_count("mnist", dir, true, &n, err) == 0 && n == IN, "dataset_count idx: %ld", n);
    T_CHECK(dataset_count("mnist", tmpdir, true, &n, err) == 1, "dataset_count without files: unknown");
    /* A folder where a data file should be. */
    snprintf(p, sizeof p, "%s/%s", dir, names[0]);
    remove(p);
    mkdir(p, 0700);
    T_CHECK(dataset_load(&tr, "mnist", dir, true, NORM_UNIT, 0, err) == -1 &&
                strstr(err, names[0]) && strstr(err, "is a directory"),
            "folder in place of a data file: %s", err);
}

static void rm_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* ---- validation split ------------------------------------------------------ */

/* The held-out samples are the last n_val of the data set, whatever the seed:
 * none of them reaches a batch, in any epoch, for any seed, shuffled or not. */
static void test_validation_split(void)
{
    enum { VN = 40, VV = 7, VD = 3 };
    float *x = lqa_alloc(VN * VD * sizeof(float), err);
    int *y = lqa_alloc(VN * sizeof(int), err);
    for (int i = 0; i < VN; i++) {
        for (int k = 0; k < VD; k++) x[i * VD + k] = (float)(i * 10 + k);
        y[i] = i % 10;
    }
    Dataset ds, val, val2;
    dataset_adopt(&ds, VN, 1, 1, VD, 10, &x, &y);

    T_CHECK(dataset_split_tail(&ds, 0, &val, err) == -1 && strstr(err, "validation"),
            "split of 0 rejected: %s", err);
    T_CHECK(dataset_split_tail(&ds, VN, &val, err) == -1 && strstr(err, "validation"),
            "split of all samples rejected: %s", err);
    T_CHECK(dataset_split_tail(&ds, -1, &val, err) == -1, "negative split rejected");
    T_CHECK(ds.n == VN && val.x == NULL, "a rejected split changes nothing");

    T_CHECK(dataset_split_tail(&ds, VV, &val, err) == 0, "split: %s", err);
    T_CHECK(ds.n == VN - VV && val.n == VV && val.c == 1 && val.w == VD && val.n_classes == 10,
            "split sizes: train %d, validation %d", ds.n, val.n);
    int bad = 0;
    for (int i = 0; i < VV; i++) {
        int id = VN - VV + i;
        for (int k = 0; k < VD; k++) bad += val.x[i * VD + k] != (float)(id * 10 + k);
        bad += val.y[i] != id % 10;
    }
    T_CHECK(bad == 0, "validation holds the last %d samples in file order (%d cells differ)", VV,
            bad);

    int seen[VN] = {0}, leaked = 0, wrong = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        for (int mode = 0; mode < 4; mode++) {
            Batcher b;
            bool shuffle = mode & 1, drop_last = mode & 2;
            T_CHECK(batcher_init(&b, &ds, 4, shuffle, drop_last, seed, err) == 0, "init: %s", err);
            for (int e = 0; e < 5; e++) {
                batcher_start_epoch(&b, e);
                const int *idx;
                int B;
                while ((B = batcher_next(&b, &idx)) > 0) {
                    for (int j = 0; j < B; j++) {
                        int id = (int)(b.x[j * VD] / 10.0f);
                        leaked += idx[j] >= VN - VV || id >= VN - VV;
                        wrong += id != idx[j];
                        seen[id]++;
                    }
                }
            }
            batcher_free(&b);
        }
    }
    T_CHECK(leaked == 0, "%d held-out samples reached a batch", leaked);
    T_CHECK(wrong == 0, "%d batch samples differ from their index", wrong);
    int unseen = 0;
    for (int i = 0; i < VN - VV; i++) unseen += seen[i] == 0;
    T_CHECK(unseen == 0, "%d training samples never reached a batch", unseen);

    /* Seed-independent: the same data split again gives the same validation set. */
    Dataset ds2;
    x = lqa_alloc(VN * VD * sizeof(float), err);
    y = lqa_alloc(VN * sizeof(int), err);
    for (int i = 0; i < VN; i++) {
        for (int k = 0; k < VD; k++) x[i * VD + k] = (float)(i * 10 + k);
        y[i] = i % 10;
    }
    dataset_adopt(&ds2, VN, 1, 1, VD, 10, &x, &y);
    T_CHECK(dataset_split_tail(&ds2, VV, &val2, err) == 0, "split again: %s", err);
    T_CHECK(val2.n == val.n && memcmp(val2.x, val.x, VV * VD * sizeof(float)) == 0 &&
                memcmp(val2.y, val.y, VV * sizeof(int)) == 0,
            "a second split gives the same validation set");
    T_CHECK(dataset_train_size("mnist") == 60000 && dataset_train_size("fashion-mnist") == 60000 &&
                dataset_train_size("cifar10") == 50000 && dataset_train_size("nosuch") == 0,
            "nominal training-set sizes");
    dataset_free(&val2);
    dataset_free(&ds2);
    dataset_free(&val);
    dataset_free(&ds);
}

/* ---- out of memory ---------------------------------------------------------- */

/* Out of memory names the file (or key) that asked for the memory: an address
 * space limit just above what the process uses now, so that a 20,000-image
 * file (63 MB as floats) cannot be loaded. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LQA_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define LQA_ASAN 1
#endif

static void test_oom(void)
{
#ifdef LQA_ASAN
    return; /* ASan reserves terabytes of address space and aborts when an allocation fails */
#endif
    enum { N = 20000, R = 28, C = 28 };
    size_t ni = 16 + (size_t)N * R * C, nl = 8 + N;
    unsigned char *img = calloc(ni, 1), *lab = calloc(nl, 1);
    put32(img, 0x803);
    put32(img + 4, N);
    put32(img + 8, R);
    put32(img + 12, C);
    put32(lab, 0x801);
    put32(lab + 4, N);
    const char *pi = tpath("oom-img"), *pl = tpath("oom-lab");
    write_raw(pi, img, ni);
    write_raw(pl, lab, nl);
    free(img);
    free(lab);
    Dataset ds;
    T_CHECK(idx_load(&ds, pi, pl, 10, 0, err) == 0, "oom files load without a limit: %s", err);
    dataset_free(&ds);
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld", &pages) != 1) {
        T_CHECK(0, "cannot read /proc/self/statm");
        if (f) fclose(f);
        return;
    }
    fclose(f);
    struct rlimit old, lim;
    getrlimit(RLIMIT_AS, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (24u << 20);
    T_CHECK(setrlimit(RLIMIT_AS, &lim) == 0, "setrlimit");
    int rc = idx_load(&ds, pi, pl, 10, 0, err);
    setrlimit(RLIMIT_AS, &old);
    expect_fail(rc, pi, "out of memory", "idx out of memory");
    T_CHECK(strstr(err, "20000 samples") != NULL, "idx out of memory: says for what: %s", err);
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/lqa_test_data_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    T_RUN(idx, test_idx());
    T_RUN(cifar, test_cifar());
    T_RUN(batcher, test_batcher());
    T_RUN(validation_split, test_validation_split());
    T_RUN(converter, test_converter());
    T_RUN(dataset_load, test_dataset_load());
    T_RUN(hostile, test_hostile());
    T_RUN(oom, test_oom());
    rm_tree(tmpdir);
    return t_done("test_data");
}
