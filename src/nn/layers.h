/* layers.h — layers as plain forward/backward function pairs (llm.c style).
 * All tensors are row-major float32; batch is the outermost dimension.
 * Backward functions overwrite (not accumulate) the gradients they produce,
 * unless noted. Any gradient output pointer may be NULL to skip it. */
#ifndef LQA_LAYERS_H
#define LQA_LAYERS_H

#include <stddef.h>

/* Linear (PyTorch nn.Linear layout): W is [out][in], b is [out].
 * y[B][out] = x[B][in] · Wᵀ + b */
void linear_forward(float *y, const float *x, const float *W, const float *b,
                    int B, int in, int out);
/* dx[B][in] = dy · W;  dW[out][in] = dyᵀ · x;  db[out] = Σ_b dy */
void linear_backward(float *dx, float *dW, float *db, const float *dy,
                     const float *x, const float *W, int B, int in, int out);

/* ReLU: y = max(x, 0) (in place allowed); backward uses the output y. */
void relu_forward(float *y, const float *x, size_t n);
void relu_backward(float *dx, const float *dy, const float *y, size_t n);

/* Mean softmax cross-entropy over the batch, accumulated in double.
 * probs[B][C] receives the softmax (may be NULL for a loss-only forward).
 * n_correct (may be NULL) receives the number of argmax hits. */
double softmax_xent_forward(float *probs, const float *logits, const int *labels,
                            int B, int C, int *n_correct);
/* dlogits = (probs - onehot(labels)) / B */
void softmax_xent_backward(float *dlogits, const float *probs, const int *labels,
                           int B, int C);

#endif
