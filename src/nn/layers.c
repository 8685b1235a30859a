/* layers.c — linear, ReLU, softmax cross-entropy. */
#include "layers.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "common.h"

void linear_forward(float *y, const float *x, const float *W, const float *b, int B,
                    int in, int out)
{
    /* broadcast bias into y, then y += x · Wᵀ */
    for (int i = 0; i < B; i++) memcpy(y + (size_t)i * out, b, sizeof(float) * (size_t)out);
    blas_sgemm(false, true, B, out, in, 1.0f, x, in, W, in, 1.0f, y, out);
}

LQA_MULTIVERSION void linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                     const float *W, int B, int in, int out)
{
    if (dW) blas_sgemm(true, false, out, in, B, 1.0f, dy, out, x, in, 0.0f, dW, in);
    if (db) {
        for (int o = 0; o < out; o++) db[o] = 0.0f;
        for (int i = 0; i < B; i++) {
            const float *r = dy + (size_t)i * out;
            for (int o = 0; o < out; o++) db[o] += r[o];
        }
    }
    if (dx) blas_sgemm(false, false, B, in, out, 1.0f, dy, out, W, in, 0.0f, dx, in);
}

LQA_MULTIVERSION void relu_forward(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

LQA_MULTIVERSION void relu_backward(float *dx, const float *dy, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

#define SOFTMAX_STACK_C 1024 /* classes whose exps are kept for the probabilities */

double softmax_xent_forward(float *probs, const float *logits, const int *labels, int B,
                            int C, int *n_correct)
{
    double total = 0.0;
    int correct = 0;
    for (int i = 0; i < B; i++) {
        const float *z = logits + (size_t)i * C;
        int arg = 0;
        float mx = z[0];
        for (int c = 1; c < C; c++)
            if (z[c] > mx) mx = z[c], arg = c;
        /* one exp per logit: p = e / Σe (the same value as exp(z − lse) to a
         * double rounding or two, far below float's) */
        double e[SOFTMAX_STACK_C], sum = 0.0;
        const bool keep = probs && C <= SOFTMAX_STACK_C;
        for (int c = 0; c < C; c++) {
            const double ec = exp((double)z[c] - mx);
            if (keep) e[c] = ec;
            sum += ec;
        }
        double lse = log(sum) + mx;
        total += lse - (double)z[labels[i]];
        if (arg == labels[i]) correct++;
        if (probs) {
            float *p = probs + (size_t)i * C;
            if (keep) {
                const double inv = 1.0 / sum;
                for (int c = 0; c < C; c++) p[c] = (float)(e[c] * inv);
            } else {
                for (int c = 0; c < C; c++) p[c] = (float)exp((double)z[c] - lse);
            }
        }
    }
    if (n_correct) *n_correct = correct;
    return total / B;
}

LQA_MULTIVERSION void softmax_xent_backward(float *dlogits, const float *probs, const int *labels, int B, int C)
{
    float inv = 1.0f / (float)B;
    for (int i = 0; i < B; i++) {
        const float *p = probs + (size_t)i * C;
        float *d = dlogits + (size_t)i * C;
        for (int c = 0; c < C; c++) d[c] = p[c] * inv;
        d[labels[i]] -= inv;
    }
}
