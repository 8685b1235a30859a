/* conv_check.h — what the tests of the convolutional layers and models
 * (test_conv.c, test_bn_pool.c, test_models.c) share: finite differences
 * on the frozen network, a fixed softmax cross-entropy head, the common start.
 *
 * Finite differences. Every check differentiates a scalar loss that ends in
 * softmax cross-entropy (a layer composition → flatten → fixed random linear
 * head → softmax_xent, or a whole model through its PROBE forward), computed
 * in float32 with the loss accumulated in double. For a coordinate v_i the
 * loss is evaluated at v_i + t, t ∈ {−h, −h/2, +h/2, +h} (the representable
 * steps), and the estimate is Richardson's (4·D(h/2) − D(h))/3 of the central
 * differences D, whose truncation error is O(h⁴).
 *
 * ReLU and max-pool switches. A switch between v−h and v+h makes the loss
 * non-differentiable there, and in these networks it is the rule, not the
 * exception: a stem weight of the toy ResNet moves thousands of BN-coupled
 * ReLU inputs, and some cross zero within ±h of most points at any step h
 * that float32 rounding allows (measured: skipping switched points left
 * almost no early-layer point to check; a third-difference screen let
 * estimates 6% off through). So the checks are done on the frozen network: the
 * forward at v records every gate choice (each ReLU's on/off, each max-pool
 * argmax) on a tape (conv.h, gate tape), and the perturbed forwards replay it.
 * The frozen network is smooth in the parameters, equals the real one at v
 * and has the same gradient there, so no point has to be skipped; each line
 * also reports at how many points a switch would have occurred within ±h.
 *
 * Steps and tolerances |fd − g| ≤ atol + rtol·|g|, set from measurements
 * over 32 seeds of this file's random draws (LQA_TEST_SEED=n re-runs with
 * another seed):
 *   layers, compositions   h = 1e-2, atol 2e-4 (4e-4 for the composition),
 *     rtol 4e-3: float32 rounding of O(1) logits (≈ 1.5e-7 in the loss) alone
 *     gives ≈ 3·1.5e-7/h ≈ 5e-5; BN over 3–12 values is strongly curved;
 *     worst measured 0.52 of the tolerance;
 *   lenet5 / cnn2          h = 1e-2, atol 1e-5, rtol 2e-3 (logits ≈ 0.1, so
 *     10× less rounding); worst measured 0.34 of the tolerance (with the
 *     ResNet below);
 *   resnet18 (width 4, 3×8×8, batch 8)   h = 3e-3, atol 1e-3, rtol 1e-2:
 *     batch norm over as few as 8 values makes the frozen loss strongly
 *     curved and gradients reach |g| ≈ 10, so a smaller step (less
 *     truncation) with a looser tolerance. (At batch 4 some draws give
 *     |g| ≈ 13 and 3% disagreement: too degenerate to be a useful check.)
 * A gradient bug (a missing term, a wrong index, a wrong mask) is an O(|g|)
 * error and fails these by far. */
#ifndef LQA_CONV_CHECK_H
#define LQA_CONV_CHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "common.h"
#include "conv.h"
#include "parallel.h"
#include "layers.h"
#include "model.h"
#include "rng.h"
#include "test.h"

static inline void fill(float *p, size_t n, float lo, float hi, Rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = rng_uniform(r, lo, hi);
}

static inline float *falloc(size_t n)
{
    float *p = lqa_alloc(n * sizeof(float), NULL);
    LQA_CHECK(p != NULL);
    return p;
}

/* ---- finite differences -------------------------------------------------- */

/* step and tolerance |fd − g| ≤ atol + rtol·|g| of one check */
typedef struct FdTol {
    double h, atol, rtol;
} FdTol;

typedef struct Fd {
    double (*loss)(void *ctx); /* loss at the current values */
    void *ctx;
    FdTol tol;
    bool gated; /* has ReLUs / max-pools: evaluate with the gate tape frozen at v */
} Fd;

__attribute__((unused)) static const FdTol LAYER_TOL = {1e-2, 2e-4, 4e-3};
__attribute__((unused)) static const FdTol COMP_TOL = {1e-2, 4e-4, 4e-3};
__attribute__((unused)) static const FdTol LENET_TOL = {1e-2, 1e-5, 2e-3};
__attribute__((unused)) static const FdTol RESNET_TOL = {3e-3, 1e-3, 1e-2};

static double fd_worst_layers, fd_worst_models; /* max |fd−g| / (atol + rtol|g|) */
static int fd_switch_points, fd_points;         /* points where a gate switched within ±h */

enum { TAPE_CAP = 1 << 22 };
static uint8_t tape_ref_bits[TAPE_CAP], tape_alt_bits[TAPE_CAP];

/* loss with the gates replayed from `ref` (or recorded into it) */
static inline double fd_eval(const Fd *fd, GateTape *ref, GateMode mode)
{
    if (!fd->gated) return fd->loss(fd->ctx);
    ref->mode = mode;
    gate_tape_set(ref);
    double L = fd->loss(fd->ctx);
    gate_tape_set(NULL);
    LQA_CHECK(!ref->overflow && (mode == GATE_RECORD || ref->pos == ref->len));
    return L;
}

/* Check g against finite differences of fd->loss w.r.t. v (n values) at npts
 * coordinates (all when n ≤ npts); returns the number of points checked. */
static inline int fd_check(const Fd *fd, const char *what, float *v, const float *g, size_t n, int npts,
                    Rng *r, bool model)
{
    const double h = fd->tol.h;
    GateTape ref = {.bits = tape_ref_bits, .cap = TAPE_CAP};
    GateTape alt = {.bits = tape_alt_bits, .cap = TAPE_CAP};
    const double L0 = fd_eval(fd, &ref, GATE_RECORD);
    int checked = 0, failed = 0, switched = 0;
    double worst = 0.0, rel_tol[512];
    const size_t total = n <= (size_t)npts ? n : (size_t)npts;
    for (size_t k = 0; k < total; k++) {
        size_t i = n <= (size_t)npts ? k : (size_t)rng_below(r, n);
        /* sampling: prefer coordinates with a nonzero gradient (dead ReLUs make
         * many zero, which finite differences confirm trivially) */
        for (int tries = 0; n > (size_t)npts && g[i] == 0.0f && tries < 20; tries++)
            i = (size_t)rng_below(r, n);
        const float v0 = v[i];
        const double ts[5] = {-h, -h / 2, 0, h / 2, h};
        double L[5], t[5];
        bool sw = false;
        for (int j = 0; j < 5; j++) {
            if (j == 2) {
                L[2] = L0, t[2] = 0.0;
                continue;
            }
            v[i] = (float)(v0 + ts[j]);
            t[j] = (double)v[i] - (double)v0;
            L[j] = fd_eval(fd, &ref, GATE_REPLAY);
            if (fd->gated && (j == 0 || j == 4)) { /* diagnostic: would a gate switch? */
                fd_eval(fd, &alt, GATE_RECORD);
                sw |= alt.len != ref.len || memcmp(alt.bits, ref.bits, ref.len) != 0;
            }
        }
        v[i] = v0;
        switched += sw;
        /* Richardson: (4·D(h/2) − D(h))/3 cancels the h² term of the central differences */
        const double d1 = (L[4] - L[0]) / (t[4] - t[0]), d2 = (L[3] - L[1]) / (t[3] - t[1]);
        const double est = (4.0 * d2 - d1) / 3.0, gi = g[i];
        const double tol = fd->tol.atol + fd->tol.rtol * fabs(gi), err = fabs(est - gi);
        if (checked < 512) rel_tol[checked] = gi != 0.0 ? tol / fabs(gi) : INFINITY;
        checked++;
        if (err / tol > worst) worst = err / tol;
        if (err > tol && ++failed <= 5)
            fprintf(stderr, "  %s[%zu]: fd %.8g analytic %.8g (|diff| %.3g > tol %.3g)\n", what, i,
                    est, gi, err, tol);
    }
    T_CHECK(failed == 0, "%s: %d of %d finite-difference points out of tolerance", what, failed,
            checked);
    /* median of tolerance/|g|: how sharp the check was */
    int nm = LQA_MIN(checked, 512);
    for (int a = 1; a < nm; a++)
        for (int b = a; b > 0 && rel_tol[b - 1] > rel_tol[b]; b--) {
            double tmp = rel_tol[b];
            rel_tol[b] = rel_tol[b - 1];
            rel_tol[b - 1] = tmp;
        }
    printf("  fd %-40s %4d points (%3d with a switch in ±h)  worst %.3f of tol, median "
           "tol/|g| %.2g\n", what, checked, switched, worst, nm ? rel_tol[nm / 2] : 0.0);
    double *w = model ? &fd_worst_models : &fd_worst_layers;
    if (worst > *w) *w = worst;
    fd_switch_points += switched;
    fd_points += checked;
    return checked;
}

/* ---- a fixed softmax cross-entropy head on a channel-major tensor --------- */

typedef struct Head {
    int C, B, HW, K;
    float *W, *b, *flat, *logits, *probs, *dlog, *dflat;
    int *y;
} Head;

static inline void head_init(Head *hd, int C, int B, int HW, int K, Rng *r)
{
    hd->C = C, hd->B = B, hd->HW = HW, hd->K = K;
    size_t F = (size_t)C * HW;
    hd->W = falloc(F * K);
    hd->b = falloc(K);
    hd->flat = falloc(F * B);
    hd->dflat = falloc(F * B);
    hd->logits = falloc((size_t)B * K);
    hd->probs = falloc((size_t)B * K);
    hd->dlog = falloc((size_t)B * K);
    hd->y = malloc(sizeof(int) * B);
    fill(hd->W, F * K, -1.0f / sqrtf((float)F) * 3, 3 / sqrtf((float)F), r);
    fill(hd->b, K, -0.1f, 0.1f, r);
    for (int i = 0; i < B; i++) hd->y[i] = (int)rng_below(r, K);
}

static inline void head_free(Head *hd)
{
    lqa_free(hd->W), lqa_free(hd->b), lqa_free(hd->flat), lqa_free(hd->dflat);
    lqa_free(hd->logits), lqa_free(hd->probs), lqa_free(hd->dlog);
    free(hd->y);
}

/* t[C][B][HW] → flatten (PyTorch order) → linear → softmax xent */
static inline double head_forward(Head *hd, const float *t)
{
    cnhw_to_nchw(hd->flat, t, hd->C, hd->B, hd->HW);
    int F = hd->C * hd->HW;
    linear_forward(hd->logits, hd->flat, hd->W, hd->b, hd->B, F, hd->K);
    return softmax_xent_forward(hd->probs, hd->logits, hd->y, hd->B, hd->K, NULL);
}

static inline void head_backward(Head *hd, float *dt)
{
    int F = hd->C * hd->HW;
    softmax_xent_backward(hd->dlog, hd->probs, hd->y, hd->B, hd->K);
    linear_backward(hd->dflat, NULL, NULL, hd->dlog, hd->flat, hd->W, hd->B, F, hd->K);
    nchw_to_cnhw(dt, hd->dflat, hd->B, hd->C, hd->HW);
}


/* every binary's start: the arguments, OpenBLAS on one thread (its sgemm picks
 * kernels by thread count), the random draws from LQA_TEST_SEED (default 2024) */
static inline void conv_check_start(int argc, char **argv, Rng *r)
{
    t_args(argc, argv);
    blas_set_threads(1);
    rng_seed(r, getenv("LQA_TEST_SEED") ? strtoull(getenv("LQA_TEST_SEED"), NULL, 10) : 2024, 99);
}

/* the closing summary of the finite-difference checks of a binary */
static inline void fd_summary(const char *what, double worst)
{
    if (!t_listing)
        printf("%s: worst finite-difference error %.3f of tolerance; %d of %d points had a "
               "switch within ±h (checked frozen)\n", what, worst, fd_switch_points, fd_points);
}

#endif
