/* blas.h — the single place that calls OpenBLAS, plus double-accumulated
 * vector reductions used by the optimizers. */
#ifndef LQA_BLAS_H
#define LQA_BLAS_H

#include <stdbool.h>
#include <stddef.h>

/* Row-major C = alpha * op(A) * op(B) + beta * C, op(A) is M×K, op(B) is K×N. */
void blas_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta,
                float *C, int ldc);

/* Re-execute once with OPENBLAS_CORETYPE (when OpenBLAS fell back to its
 * generic kernels on a CPU it does not recognise) and OPENBLAS_THREAD_TIMEOUT
 * set, unless the user set them (call first thing in main; see blas.c). */
void blas_fix_env(char **argv);
const char *blas_corename(void);
/* Set the OpenBLAS thread count (>= 1). */
void blas_set_threads(int n);
int blas_get_threads(void);
/* OpenBLAS build string, for the metadata. */
const char *blas_config(void);

/* Reductions accumulated in double, on the worker pool (parallel.h); results
 * do not depend on the thread count. maxabs is NaN when any element is. */
double vec_dot(const float *a, const float *b, size_t n);
double vec_sqnorm(const float *a, size_t n);
double vec_maxabs(const float *a, size_t n);
/* out[i] = a[i] + c * b[i] (out may alias neither input unless it is a). */
void vec_axpy_to(float *out, const float *a, float c, const float *b, size_t n);
/* theta[i] += c * d[i] and copy[i] = d[i], in one pass (HGD's update). */
void vec_axpy_copy(float *theta, float c, const float *d, float *copy, size_t n);
/* true when every element is finite */
bool vec_all_finite(const float *a, size_t n);

#endif
