#include "blas.h"

#include <cblas.h>
#include <math.h>

void blas_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta,
                float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
                ldb, beta, C, ldc);
}

void blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
int blas_get_threads(void) { return openblas_get_num_threads(); }
const char *blas_config(void) { return openblas_get_config(); }

/* Four independent double accumulators: deterministic and vectorisable. */
double vec_dot(const float *a, const float *b, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += (double)a[i] * b[i];
        s1 += (double)a[i + 1] * b[i + 1];
        s2 += (double)a[i + 2] * b[i + 2];
        s3 += (double)a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += (double)a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

double vec_sqnorm(const float *a, size_t n) { return vec_dot(a, a, n); }

double vec_maxabs(const float *a, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float v = fabsf(a[i]);
        if (v > m || v != v) m = v;
    }
    return m;
}

void vec_axpy_to(float *out, const float *a, float c, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + c * b[i];
}

bool vec_all_finite(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return false;
    return true;
}
