#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int lqa_errf(char *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, LQA_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return -1;
}

char *lqa_join(char *buf, size_t n_buf, const char *const *names, int n, const char *sep)
{
    size_t len = 0;
    if (n_buf) buf[0] = 0;
    for (int i = 0; i < n && len + 1 < n_buf; i++) {
        int w = snprintf(buf + len, n_buf - len, "%s%s", i ? sep : "", names[i]);
        if (w < 0) break;
        len = LQA_MIN(len + (size_t)w, n_buf - 1);
    }
    return buf;
}

int lqa_find_name(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (name && strcmp(names[i], name) == 0) return i;
    return -1;
}

void lqa_check_failed(const char *expr, const char *file, int line)
{
    fprintf(stderr, "lqabench: internal check failed: %s at %s:%d\n", expr, file, line);
    abort();
}

void *lqa_alloc(size_t bytes, char *err)
{
    void *p = NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0) {
        lqa_errf(err, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}

void lqa_free(void *p) { free(p); }

double lqa_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
