/* conv.h — convolutional layers as forward/backward pairs: 2-D convolution
 * (im2col + sgemm with a bounded workspace; direct vector kernels for
 * stride-1 convolutions with ≤ 8 output channels, e.g. LeNet's first layer,
 * where im2col + GEMM is memory-bound), max and average pooling 2×2,
 * batch normalisation 2-D (PyTorch semantics), residual addition, global
 * average pooling.
 *
 * Activation layout: CHANNEL-MAJOR "CNHW", x[C][B][H][W]. This is PyTorch's
 * NCHW with the first two axes swapped; convert at a model's boundaries with
 * nchw_to_cnhw / cnhw_to_nchw (for C = 1 the two layouts coincide). Why:
 *   - a convolution over a chunk of nb samples is ONE sgemm
 *       Y[K][nb·OH·OW] = W[K][C·kh·kw] · col[C·kh·kw][nb·OH·OW]
 *     written straight into Y (ldc = B·OH·OW): no scatter, and the GEMMs stay
 *     large even where OH·OW is 16 (ResNet-18's last stage);
 *   - a 1×1 stride-1 convolution needs no im2col at all (X is already the
 *     [C][B·H·W] matrix);
 *   - a batch-norm channel is one contiguous run of B·H·W floats.
 * Weights keep PyTorch's layout, w[out_c][in_c][kh][kw], so flat parameter
 * vectors copy to and from PyTorch unchanged.
 *
 * `B` is always the batch of the call (it sets the plane stride); buffers
 * may be allocated for a larger maximum batch. Backward functions overwrite
 * the gradients they produce unless noted; gradient pointers may be NULL to
 * skip them. Reductions (BN statistics and sums, bias gradients, pooling
 * means) accumulate in double. Not reentrant: call from one thread at a time
 * (the worker pool and the gate tape below are process-wide). */
#ifndef LQA_CONV_H
#define LQA_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Threads: the loops here run on the worker pool of parallel.h (the GEMMs on
 * OpenBLAS's); results do not depend on the thread count, since each thread
 * takes whole channels / rows / planes. */

/* ---- 2-D convolution ---------------------------------------------------- */

typedef struct Conv2d {
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int kh, kw, stride, pad;
    /* 3×3 stride-1 pad-1 layers with ≥ 16 channels run Winograd F(2×2, 3×3),
     * as accurate as a direct float32 convolution; with wino4 (set after
     * conv2d_setup; config "conv_algo": "winograd4") F(4×4, 3×3) instead on
     * planes of 8×8 and up: 1.8× fewer multiplications and less memory
     * traffic, ~10× the rounding error (max relative 2–3e-6; see
     * conv_winograd4.c). */
    bool wino4;
    struct ConvWs *ws; /* the workspace conv2d_attach gave it (conv2d_setup: none) */
} Conv2d;

/* Fill the geometry; out_h = (in_h + 2·pad − kh)/stride + 1 (PyTorch floor). */
void conv2d_setup(Conv2d *c, int in_c, int in_h, int in_w, int out_c, int kh, int kw,
                  int stride, int pad);
/* Number of weights (out_c·in_c·kh·kw), bias excluded. */
size_t conv2d_n_weights(const Conv2d *c);
/* fan_in = in_c·kh·kw (PyTorch's default-init bound is 1/√fan_in). */
int conv2d_fan_in(const Conv2d *c);
/* Workspace (floats) this layer wants at batch B when the workspace may not
 * exceed cap_floats: min(cap, whole batch), but never less than one sample's
 * im2col matrix; 0 for 1×1 stride-1 unpadded convolutions (no im2col); only
 * out_c·in_c·kh·kw (flipped weights) when the direct kernels do it all. */
size_t conv2d_ws_floats(const Conv2d *c, int B, size_t cap_floats);

/* y[out_c][B][out_h][out_w] = conv(x[in_c][B][in_h][in_w], w) + b.
 * b may be NULL (no bias). ws: ws_floats floats of scratch, at least
 * conv2d_ws_floats(c, 1, 0); samples are processed in chunks as large as ws
 * allows. */
void conv2d_forward(const Conv2d *c, float *y, const float *x, const float *w, const float *b,
                    int B, float *ws, size_t ws_floats);
/* dx (NULL: skip) = ∂/∂x, ADDED to dx when dx_accumulate, else overwritten;
 * dw (NULL: skip) and db (NULL: skip) are overwritten. x is the forward input. */
void conv2d_backward(const Conv2d *c, float *dx, bool dx_accumulate, float *dw, float *db,
                     const float *dy, const float *x, const float *w, int B, float *ws,
                     size_t ws_floats);

/* ---- a network's convolution workspace ------------------------------------ */
/* One scratch buffer that the convolutions of a network share (their calls
 * never overlap): each layer attached to it at the network's maximum batch
 * grows it to what that layer wants (conv2d_ws_floats), at most cap floats;
 * a layer whose whole batch does not fit runs in chunks of samples. Sizes and
 * chunking depend on the geometry, the batch and cap only, never on the
 * thread count. Not thread-safe (one network, one thread of calls). */
typedef struct ConvWs {
    size_t cap; /* most floats it may hold */
    size_t n;   /* floats: the most any attached layer wants */
    float *buf; /* n floats once conv_ws_alloc ran */
} ConvWs;

/* An empty workspace of at most cap_floats floats. */
void conv_ws_init(ConvWs *ws, size_t cap_floats);
/* Attach layer c (its geometry and wino4 final) to ws for batches up to
 * max_batch: before conv_ws_alloc. */
void conv2d_attach(Conv2d *c, ConvWs *ws, int max_batch);
/* Allocate the buffer once every layer is attached: 0, or -1 with err. */
int conv_ws_alloc(ConvWs *ws, char *err);
void conv_ws_free(ConvWs *ws);
/* conv2d_forward / conv2d_backward of an attached layer on its workspace. */
void conv2d_layer_forward(const Conv2d *c, float *y, const float *x, const float *w,
                          const float *b, int B);
void conv2d_layer_backward(const Conv2d *c, float *dx, bool dx_accumulate, float *dw, float *db,
                           const float *dy, const float *x, const float *w, int B);

/* ---- pooling 2×2, stride 2 (out = floor(in/2), PyTorch's default) --------- */
/* `planes` = C·B independent H×W planes. */

/* y = max over each 2×2 window; idx (NULL: skip) receives the window position
 * 0..3 (row-major) of the first maximum, as PyTorch picks, for backward. */
void maxpool2_forward(float *y, uint8_t *idx, const float *x, int planes, int H, int W);
/* dx (overwritten, including the zero rows/columns dropped by floor) */
void maxpool2_backward(float *dx, const float *dy, const uint8_t *idx, int planes, int H, int W);

void avgpool2_forward(float *y, const float *x, int planes, int H, int W);
void avgpool2_backward(float *dx, const float *dy, int planes, int H, int W);

/* ---- batch normalisation 2-D (PyTorch BatchNorm2d) ----------------------- */
/* Statistics over the N = B·HW values of each channel:
 *   training / probe: batch mean and BIASED variance normalise;
 *   running_mean ← (1−m)·running_mean + m·mean,
 *   running_var  ← (1−m)·running_var  + m·var·N/(N−1)   (unbiased), m = 0.1;
 *   evaluation: running statistics. ε = 1e-5. */
#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

/* Batch statistics: mean[C], var[C] (biased), invstd[C] = 1/√(var+ε); any of
 * var/invstd may be NULL. Accumulated in double (shifted sums). */
void bn2d_batch_stats(float *mean, float *var, float *invstd, const float *x, int C, int B,
                      int HW);
/* Running-statistics update from a batch's mean and biased var (N = B·HW). */
void bn2d_update_running(float *run_mean, float *run_var, const float *mean, const float *var,
                         int C, size_t N);
/* invstd[c] = 1/√(run_var[c]+ε) — for evaluation-mode normalisation. */
void bn2d_eval_invstd(float *invstd, const float *run_var, int C);
/* y = γ·(x−mean)·invstd + β [+ res] [then ReLU]. res may be NULL; y may alias
 * x or res (elementwise). */
void bn2d_apply(float *y, const float *x, const float *mean, const float *invstd,
                const float *gamma, const float *beta, const float *res, bool relu, int C, int B,
                int HW);
/* Training-mode backward (batch statistics):
 *   g = dy, masked by (relu_y > 0) when relu_y != NULL (the ReLU output that
 *       followed this BN);
 *   dβ = Σg, dγ = Σ g·x̂, dx = γ·invstd·(g − dβ/N − x̂·dγ/N).
 * dx may alias dy; dgamma/dbeta/dx may be NULL. */
void bn2d_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *relu_y,
                   const float *x, const float *mean, const float *invstd, const float *gamma,
                   int C, int B, int HW);

/* ---- residual addition, global average pooling, layout helpers ----------- */

/* y = a + b [then ReLU]; y may alias a or b. Backward: ∂a = ∂b = dy (masked
 * by y > 0 when the ReLU was fused — use relu_backward from layers.h). */
void residual_add_forward(float *y, const float *a, const float *b, bool relu, size_t n);
/* da += dy (or da = dy when !accumulate); the other input's gradient is dy. */
void residual_add_backward(float *da, bool accumulate, const float *dy, size_t n);

/* y[B][C] = mean over HW of x[C][B][HW] (output batch-major, ready for FC). */
void gap_forward(float *y, const float *x, int C, int B, int HW);
/* dx[C][B][HW] = dy[B][C] / HW */
void gap_backward(float *dx, const float *dy, int C, int B, int HW);

/* dst[C][B][HW] ← src[B][C][HW] and back. */
void nchw_to_cnhw(float *dst, const float *src, int B, int C, int HW);
void cnhw_to_nchw(float *dst, const float *src, int C, int B, int HW);

/* y = max(x, 0) (y may alias x), through the gate tape below; models use this
 * instead of layers.h's relu_forward so that every non-smooth choice of a
 * forward can be recorded. Backward: relu_backward (layers.h). */
void act_relu_forward(float *y, const float *x, size_t n);

/* ---- gate tape: a test seam ----------------------------------------------- */
/* The non-smooth choices of a forward — each ReLU's on/off state (act_relu_forward,
 * bn2d_apply and residual_add_forward with relu) and each max-pool window's
 * argmax — can be recorded on a tape and replayed. Replaying freezes them: the
 * forward then computes a smooth function of the parameters that equals the
 * network at the recorded point and has the same gradient there, which is what
 * finite-difference tests need. With no tape installed (the default) nothing
 * changes. One global tape, not thread-safe: for tests only. The tape lives in
 * gate_tape.c; the four kernels ask it once per call whether one is installed
 * (the choices are made inside them, so a finite-difference test of a whole
 * network cannot freeze them from outside). */
typedef enum { GATE_RECORD = 0, GATE_REPLAY = 1 } GateMode;
typedef struct GateTape {
    GateMode mode;
    uint8_t *bits; /* one byte per choice */
    size_t cap;    /* capacity of bits */
    size_t len;    /* RECORD: choices recorded; REPLAY: choices available */
    size_t pos;    /* REPLAY: next choice */
    bool overflow; /* RECORD ran past cap, or REPLAY past len (a caller error) */
} GateTape;
/* Install t (NULL: remove). Resets t->pos, and t->len in RECORD mode. */
void gate_tape_set(GateTape *t);

#endif
