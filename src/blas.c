#include "blas.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void blas_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta,
                float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
                ldb, beta, C, ldc);
}

/* OpenBLAS 0.3.21 (Debian 12) does not know recent Xeons (e.g. family 6 model
 * 207) and falls back to its SSE3 "Prescott" kernels: sgemm then runs ~5x
 * slower. The core type is chosen when the library loads, so the only fix is
 * to set OPENBLAS_CORETYPE and re-execute. A user's own OPENBLAS_CORETYPE is
 * always respected. */
void blas_fix_coretype(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("LQA_KEEP_CORETYPE")) return;
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott") != 0) return;
    __builtin_cpu_init();
    const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                       : __builtin_cpu_supports("avx2") ? "Haswell"
                                                        : NULL;
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with the slow kernels */
}

const char *blas_corename(void) { return openblas_get_corename(); }

void blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
int blas_get_threads(void) { return openblas_get_num_threads(); }
const char *blas_config(void) { return openblas_get_config(); }

/* Eight independent double accumulators combined pairwise: a fixed order
 * (deterministic) that the compiler can keep in one vector register. */
double vec_dot(const float *a, const float *b, size_t n)
{
    double s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += (double)a[i + k] * b[i + k];
    for (; i < n; i++) s[0] += (double)a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
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
