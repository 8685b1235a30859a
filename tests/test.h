/* test.h — minimal test harness. Every check counts; a binary exits non-zero
 * when any check failed and prints "<name>: N passed, M failed".
 *
 * Tests by name: main starts with t_args(argc, argv) and runs each test as
 * T_RUN(name, statements), in order. `build/tests/test_x NAME...` runs only the
 * tests named (a name that matches none is a failure), `test_x --list` lists
 * the names; `make test-unit T=NAME` runs NAME in whichever binary has it. */
#ifndef LQA_TEST_H
#define LQA_TEST_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define T_CHECK(cond, ...)                                                     \
    do {                                                                       \
        if (cond) {                                                            \
            t_pass++;                                                          \
        } else {                                                               \
            t_fail++;                                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define T_CLOSE(a, b, rtol, atol, what)                                        \
    do {                                                                       \
        double t_a_ = (double)(a), t_b_ = (double)(b);                         \
        T_CHECK(fabs(t_a_ - t_b_) <= (atol) + (rtol) * fabs(t_b_),             \
                "%s: got %.9g, expected %.9g (rtol %g, atol %g)", (what), t_a_, \
                t_b_, (double)(rtol), (double)(atol));                         \
    } while (0)

#define T_MAX_FILTER 32
static int t_n_filter;
static char **t_filter;
static bool t_hit[T_MAX_FILTER], t_listing;
static const char *t_last_listed = "";

static inline void t_args(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        t_listing = true;
        return;
    }
    t_n_filter = argc - 1 < T_MAX_FILTER ? argc - 1 : T_MAX_FILTER;
    t_filter = argv + 1;
}

/* Whether test `name` runs (--list: prints it instead, once). */
static inline bool t_want(const char *name)
{
    if (t_listing) {
        if (strcmp(name, t_last_listed) != 0) printf("%s\n", name);
        t_last_listed = name;
        return false;
    }
    bool want = t_n_filter == 0;
    for (int i = 0; i < t_n_filter; i++)
        if (strcmp(t_filter[i], name) == 0) want = t_hit[i] = true;
    return want;
}

#define T_RUN(name, ...)                                                       \
    do {                                                                       \
        if (t_want(#name)) { __VA_ARGS__; }                                    \
    } while (0)

static inline int t_done(const char *name)
{
    if (t_listing) return 0;
    for (int i = 0; i < t_n_filter; i++)
        T_CHECK(t_hit[i], "%s: no test named \"%s\" (see %s --list)", name, t_filter[i], name);
    printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
    return t_fail ? 1 : 0;
}

#endif
