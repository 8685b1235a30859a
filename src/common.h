/* common.h — error handling, checked allocation, always-on checks, timing.
 *
 * Conventions (after SQLite): recoverable errors (I/O, bad format, bad config,
 * out of memory) are reported by returning -1 and writing a message into a
 * caller-supplied buffer of LQA_ERR_LEN bytes; library code never calls exit().
 * Programmer errors (shape mismatch, call order) stop at LQA_CHECK with
 * file:line. */
#ifndef LQA_COMMON_H
#define LQA_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define LQA_ERR_LEN 512
#define LQA_VERSION "0.1.0"

/* Write a formatted message into err (may be NULL) and return -1. */
int lqa_errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Join names[0..n) with sep into buf (n_buf bytes, truncated to fit); returns
 * buf. For lists of names in messages and help texts: "a, b, c". */
char *lqa_join(char *buf, size_t n_buf, const char *const *names, int n, const char *sep);
/* Index of name in names[0..n), or -1. */
int lqa_find_name(const char *const *names, int n, const char *name);

/* Always-on invariant check (not disabled by NDEBUG). */
#define LQA_CHECK(cond)                                                        \
    do {                                                                       \
        if (!(cond)) lqa_check_failed(#cond, __FILE__, __LINE__);              \
    } while (0)
_Noreturn void lqa_check_failed(const char *expr, const char *file, int line);

/* Allocation: returns NULL on failure (and fills err when given).
 * Memory is zeroed and 64-byte aligned; release with lqa_free. */
void *lqa_alloc(size_t bytes, char *err);
void lqa_free(void *p);

/* Monotonic wall clock in seconds. */
double lqa_now(void);

#define LQA_MIN(a, b) ((a) < (b) ? (a) : (b))
/* Hot loops outside the dispatched kernels (kernel_dispatch.c) that need FMA or
 * wide vectors to run at full speed (e.g. the optimizers' fmaf updates, which
 * x86-64-v2 has no instruction for): compiled for x86-64-v4, x86-64-v3 and the
 * build's baseline, the CPU's best chosen at load time (an ifunc). fmaf is
 * exactly rounded in every copy, so the results are the same. A NATIVE=1
 * build, the sanitizer build and clang builds compile them once. */
#if defined(__x86_64__) && !defined(LQA_NATIVE) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__clang__) /* clang 14 emits no resolver for external functions */
#define LQA_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LQA_MULTIVERSION
#endif

#define LQA_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
