/* test.h — minimal test harness. Every check counts; a binary exits non-zero
 * when any check failed and prints "<name>: N passed, M failed". */
#ifndef LQA_TEST_H
#define LQA_TEST_H

#include <math.h>
#include <stdio.h>

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

static inline int t_done(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
    return t_fail ? 1 : 0;
}

#endif
