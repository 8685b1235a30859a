/* fuzz_util.h — shared by the libFuzzer harnesses: the loaders under test read
 * files, so each input is written to files in one private temporary directory
 * (created at start-up, removed at exit). Nothing is written anywhere else.
 * Included once per harness: it also defines LLVMFuzzerInitialize (the
 * directory, then FUZZ_SETUP() when the harness defines it before including);
 * the harness defines LLVMFuzzerTestOneInput. */
#ifndef LQA_FUZZ_UTIL_H
#define LQA_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[4096];

static void fuzz_cleanup(void)
{
    char p[4200];
    for (int i = 0; i < 8; i++) {
        snprintf(p, sizeof p, "%s/f%d", fuzz_dir, i);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/in.json", fuzz_dir);
    unlink(p);
    rmdir(fuzz_dir);
}

/* Create the private directory (under $TMPDIR, else /tmp); abort on failure. */
static void fuzz_init_dir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/lqa-fuzz.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(fuzz_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_cleanup);
}

/* Write data to <fuzz_dir>/<name> (replacing it) and put its path in path. */
static void fuzz_write(const char *name, const uint8_t *data, size_t n, char *path, size_t path_len)
{
    snprintf(path, path_len, "%s/%s", fuzz_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_dir();
#ifdef FUZZ_SETUP
    FUZZ_SETUP();
#endif
    return 0;
}

/* With LQA_FUZZ_VERBOSE set (replaying single inputs), say how an input ended. */
static void fuzz_report(int rc, const char *err)
{
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("LQA_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "fuzz: %s\n", rc == 0 ? "loaded" : err);
}

#endif
