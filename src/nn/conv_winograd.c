/* conv_winograd.c — Winograd convolution for 3×3 stride-1 pad-1
 * convolutions with ≥ 16 channels each side: forward, input gradient and
 * weight gradient. The drivers (wino_conv, wino_dw) and the workspace sizes
 * are here; the transform kernels of F(2×2, 3×3), the default, are in
 * conv_winograd2.c, those of the opt-in F(4×4, 3×3) in conv_winograd4.c.
 * conv.c chooses the path. */
#include <string.h>

#include "blas.h"
#include "common.h"
#include "conv_internal.h"
#include "parallel.h"

#define WINO_MIN_C 16

LQA_FP_CONTRACT_BEGIN /* FMA contraction for the code below (simd.h) */

bool conv_winograd_ok(const Conv2d *c)
{
    return c->kh == 3 && c->kw == 3 && c->stride == 1 && c->pad == 1 &&
           c->in_c >= WINO_MIN_C && c->out_c >= WINO_MIN_C && c->in_w <= WINO_MAXW;
}

/* F(4×4, 3×3) where the layer asks for it and planes are at least 8×8: on
 * ResNet-18's 4×4 planes (one tile each) it saves only 5 % (measured; its
 * weight gradient is slower) and its U would take 2.25× the memory */
static const WinoKernels *wino_kernels(const Conv2d *c)
{
    return c->wino4 && c->out_h >= 8 && c->out_w >= 8 ? &wino_f4_kernels : &wino_f2_kernels;
}

static size_t wino_tiles(const Conv2d *c)
{
    const int m = wino_kernels(c)->m;
    return (size_t)((c->out_h + m - 1) / m) * (size_t)((c->out_w + m - 1) / m);
}

/* U (or dU) with its gaps, plus the gaps of V and M */
size_t wino_u_floats(const Conv2d *c)
{
    const size_t np = (size_t)wino_kernels(c)->npos;
    return np * ((size_t)c->in_c * c->out_c + WINO_GAP) + 2 * np * WINO_GAP;
}

/* V (npos × in_c × tiles) and M (npos × out_c × tiles) of one sample */
size_t wino_per_sample(const Conv2d *c)
{
    return (size_t)wino_kernels(c)->npos * (c->in_c + c->out_c) * wino_tiles(c);
}


/* Sample blocks per thread. Where one sample's V and M are large (ResNet-18's
 * 32×32 and 16×16 stages: 1–2 MB each), the transforms stream V and M through
 * memory between the GEMMs. wino_conv then gives each thread its own blocks of
 * samples, small enough (WINO_BLOCK_FLOATS) that V and M stay in cache, and
 * runs the GEMMs single-threaded inside the threads. Measured per convolution
 * (batch 128, 2 threads): 32×32×64 forward 52.7 → 36.0 ms, 16×16×128 31.8 →
 * 27.4 ms; 8×8×256 unchanged and 4×4×512 8 % slower (small GEMMs), hence the
 * threshold. The weight gradient, a sum over samples, is blocked differently
 * (see WINO_DW_PARTS below). The blocks are fixed by the geometry and the
 * batch, on one thread as on many, and every block's GEMMs are the same
 * single-threaded calls whichever thread runs them: the results cannot depend
 * on the thread count, whatever OpenBLAS kernel runs (some, e.g. Haswell's,
 * round an element differently depending on the number of columns of the
 * call). tests/test_conv.c checks 1, 2 and 3 threads bit for bit. (The small
 * planes run whole-batch GEMMs on multi-threaded OpenBLAS, which may split its
 * inner dimension differently: results are the same for the same thread
 * count, as everywhere in lqabench.) */
#define WINO_BLOCK_MIN ((size_t)1 << 17)   /* per-sample V + M floats, above: blocks */
#define WINO_BLOCK_FLOATS ((size_t)1 << 20) /* V + M of one block, about */

typedef struct WinoBlk {
    const Conv2d *c;
    const WinoKernels *kn;
    float *y, *scratch;
    const float *x, *b, *U;
    bool transpose, accumulate;
    int B, nb, parts;
    size_t part_floats, us;
} WinoBlk;

/* the M_ξ = U_ξ·V_ξ GEMMs of one chunk (transposed: U_{p(ξ)}ᵀ·V_ξ) */
static void wino_gemms(const WinoKernels *kn, bool transpose, int K, int C, size_t T,
                       const float *U, size_t us, const float *V, size_t vs, float *M, size_t ms)
{
    const int side = kn->m + 2;
    for (int xi = 0; xi < kn->npos; xi++) {
        const int ux = transpose && kn->perm ? side * kn->perm[xi / side] + kn->perm[xi % side] : xi;
        blas_sgemm(transpose, false, K, (int)T, C, 1.0f, U + (size_t)ux * us, transpose ? K : C,
                   V + (size_t)xi * vs, (int)T, 0.0f, M + (size_t)xi * ms, (int)T);
    }
}

/* part t: its share of the sample blocks, in its own slice of scratch */
static void wino_blk_part(void *p, size_t lo, size_t hi)
{
    const WinoBlk *a = p;
    const Conv2d *c = a->c;
    const WinoKernels *kn = a->kn;
    const int K = c->out_c, C = c->in_c, np = kn->npos;
    const size_t T1 = wino_tiles(c);
    const int nblk = (a->B + a->nb - 1) / a->nb;
    for (size_t t = lo; t < hi; t++) {
        float *V = a->scratch + t * a->part_floats;
        for (int bi = (int)(t * nblk / a->parts); bi < (int)((t + 1) * nblk / a->parts); bi++) {
            const int n0 = bi * a->nb, m = LQA_MIN(a->nb, a->B - n0);
            const size_t T = T1 * m, vs = (size_t)C * T + WINO_GAP, ms = (size_t)K * T + WINO_GAP;
            float *M = V + np * vs;
            WinoArgs ia = {.c = c, .src = a->x, .dst = V, .B = a->B, .n0 = n0, .m = m, .T = T,
                           .xs = vs};
            kn->input(&ia, 0, (size_t)C);
            wino_gemms(kn, a->transpose, K, C, T, a->U, a->us, V, vs, M, ms);
            WinoArgs oa = {.c = c, .src = M, .dst = a->y, .bias = a->b,
                           .accumulate = a->accumulate, .B = a->B, .n0 = n0, .m = m, .T = T,
                           .xs = ms};
            kn->output(&oa, 0, (size_t)K);
        }
    }
}

/* y (+)= conv(x, w) + b for a Winograd-able geometry c; with `transpose`, c is
 * the transposed geometry of a convolution with weights w [c->in_c][c->out_c][3][3]
 * (its input gradient), used rotated and transposed. */
void wino_conv(const Conv2d *c, float *y, const float *x, const float *w, const float *b,
               bool transpose, bool accumulate, int B, float *ws, size_t ws_floats)
{
    const WinoKernels *kn = wino_kernels(c);
    const int K = c->out_c, C = c->in_c, np = kn->npos;
    const int WK = transpose ? C : K, WC = transpose ? K : C; /* w is [WK][WC][3][3] */
    const size_t T1 = wino_tiles(c), uf = wino_u_floats(c), per = wino_per_sample(c);
    LQA_CHECK(ws_floats >= uf + per);
    const size_t us = (size_t)K * C + WINO_GAP;
    float *U = ws, *V = ws + np * us;
    WinoArgs wa = {.src = w, .dst = U, .rot = transpose && !kn->perm, .R = WK, .S = WC, .xs = us};
    par_for((size_t)WK, (size_t)np * WK * WC, kn->weights, &wa);
    if (per > WINO_BLOCK_MIN) {
        /* the blocks depend on the geometry and B only, never on the thread count:
         * each block's GEMMs are the same calls whichever thread runs them */
        const int nb = (int)LQA_MIN((size_t)B, LQA_MAX((size_t)1, WINO_BLOCK_FLOATS / per));
        const int nblk = (B + nb - 1) / nb;
        const size_t part = (nb * per + 2 * (size_t)np * WINO_GAP + 15) & ~(size_t)15;
        const int parts = (int)LQA_MIN(LQA_MIN((size_t)par_threads(), (size_t)nblk),
                                       (ws_floats - uf) / part);
        if (parts >= 1) {
            WinoBlk bk = {.c = c, .kn = kn, .y = y, .scratch = V, .x = x, .b = b, .U = U,
                          .transpose = transpose, .accumulate = accumulate, .B = B, .nb = nb,
                          .parts = parts, .part_floats = part, .us = us};
            const int bt = blas_get_threads();
            blas_set_threads(1);
            par_run(parts, (size_t)parts, wino_blk_part, &bk);
            blas_set_threads(bt);
            return;
        }
    }
    const int nb = (int)LQA_MIN((size_t)B, (ws_floats - uf) / per);
    for (int n0 = 0; n0 < B; n0 += nb) {
        const int m = LQA_MIN(nb, B - n0);
        const size_t T = T1 * m, vs = (size_t)C * T + WINO_GAP, ms = (size_t)K * T + WINO_GAP;
        float *M = V + np * vs;
        WinoArgs ia = {.c = c, .src = x, .dst = V, .B = B, .n0 = n0, .m = m, .T = T, .xs = vs};
        par_for((size_t)C, (size_t)np * C * T, kn->input, &ia);
        wino_gemms(kn, transpose, K, C, T, U, us, V, vs, M, ms);
        WinoArgs oa = {.c = c, .src = M, .dst = y, .bias = b, .accumulate = accumulate,
                       .B = B, .n0 = n0, .m = m, .T = T, .xs = ms};
        par_for((size_t)K, (size_t)np * K * T, kn->output, &oa);
    }
}

/* dU_ξ[K][C] (+)= dM_ξ[K][T] · V_ξ[C][T]ᵀ for the chunk of samples [n0, n0 + m): the
 * transforms on the pool (par) or on the calling thread */
static void wino_dw_chunk(const Conv2d *c, const WinoKernels *kn, const float *dy,
                          const float *x, int B, int n0, int m, float *V, float *dU, size_t us,
                          bool accumulate, bool par)
{
    const int K = c->out_c, C = c->in_c, np = kn->npos;
    const size_t T = wino_tiles(c) * m, vs = (size_t)C * T + WINO_GAP, ms = (size_t)K * T + WINO_GAP;
    float *dM = V + np * vs;
    WinoArgs ia = {.c = c, .src = x, .dst = V, .B = B, .n0 = n0, .m = m, .T = T, .xs = vs};
    WinoArgs da = {.c = c, .src = dy, .dst = dM, .B = B, .n0 = n0, .m = m, .T = T, .xs = ms};
    if (par) {
        par_for((size_t)C, (size_t)np * C * T, kn->input, &ia);
        par_for((size_t)K, (size_t)np * K * T, kn->doutput, &da);
    } else {
        kn->input(&ia, 0, (size_t)C);
        kn->doutput(&da, 0, (size_t)K);
    }
    for (int xi = 0; xi < np; xi++)
        blas_sgemm(false, true, K, C, (int)T, 1.0f, dM + (size_t)xi * ms, (int)T,
                   V + (size_t)xi * vs, (int)T, accumulate ? 1.0f : 0.0f, dU + (size_t)xi * us,
                   C);
}

/* The weight gradient in blocks (see WINO_BLOCK_MIN): a reduction over samples,
 * so the samples are cut into WINO_DW_PARTS fixed parts, each summed into its
 * own dU in blocks of a fixed size, and the parts are added in order at the
 * end; threads take whole parts. Nothing depends on the thread count; the
 * price is that at most WINO_DW_PARTS threads work on it (3 threads split it
 * 1:1:2). Measured per convolution (batch 128, 2 threads): 32×32×64 58.6 →
 * 41.4 ms, 16×16×128 38.4 → 30.6 ms. */
#define WINO_DW_PARTS 4

typedef struct WinoDwBlk {
    const Conv2d *c;
    const WinoKernels *kn;
    const float *dy, *x;
    float *dU0, *scratch;
    int B, Q, nb, threads;
    size_t us, part_u, slice;
} WinoDwBlk;

static int wino_dw_block(const Conv2d *c, int B, int Q)
{
    const size_t per = wino_per_sample(c), most = (size_t)(B + Q - 1) / Q;
    return (int)LQA_MIN(most, LQA_MAX((size_t)1, WINO_BLOCK_FLOATS / per));
}

static size_t wino_dw_slice(const Conv2d *c, int nb)
{
    return (nb * wino_per_sample(c) + 2 * (size_t)wino_kernels(c)->npos * WINO_GAP + 15) & ~(size_t)15;
}

/* workspace of the blocked weight gradient; 0 where it does not block */
static size_t wino_dw_blocked_floats(const Conv2d *c, int B)
{
    if (B < 1 || wino_per_sample(c) <= WINO_BLOCK_MIN) return 0;
    const int Q = LQA_MIN(WINO_DW_PARTS, B);
    const size_t us = (size_t)c->out_c * c->in_c + WINO_GAP;
    return (size_t)Q * (wino_kernels(c)->npos * us + wino_dw_slice(c, wino_dw_block(c, B, Q)));
}

static void wino_dw_thread(void *p, size_t lo, size_t hi)
{
    const WinoDwBlk *a = p;
    for (size_t t = lo; t < hi; t++)
        for (int q = (int)(t * a->Q / a->threads); q < (int)((t + 1) * a->Q / a->threads); q++) {
            const int s0 = q * a->B / a->Q, s1 = (q + 1) * a->B / a->Q;
            for (int n0 = s0; n0 < s1; n0 += a->nb)
                wino_dw_chunk(a->c, a->kn, a->dy, a->x, a->B, n0, LQA_MIN(a->nb, s1 - n0),
                              a->scratch + t * a->slice, a->dU0 + q * a->part_u, a->us, n0 > s0,
                              false);
        }
}

typedef struct SumParts {
    float *d;
    size_t stride, us, kc; /* parts, matrices (kc floats each, not the gaps) */
    int Q;
} SumParts;

static void wino_sum_parts(void *p, size_t lo, size_t hi) /* items: matrices ξ */
{
    const SumParts *a = p;
    for (size_t x = lo; x < hi; x++)
        for (int q = 1; q < a->Q; q++) {
            float *d = a->d + x * a->us;
            const float *s = d + q * a->stride;
            for (size_t i = 0; i < a->kc; i++) d[i] += s[i];
        }
}

size_t wino_ws_floats(const Conv2d *c, int B, size_t cap_floats)
{
    const size_t fixed = wino_u_floats(c), one = wino_per_sample(c);
    const size_t all = fixed + one * (size_t)B, want = LQA_MIN(all, cap_floats);
    return LQA_MAX(LQA_MAX(want, fixed + one), wino_dw_blocked_floats(c, B));
}

void wino_dw(const Conv2d *c, float *dw, const float *dy, const float *x, int B,
             float *ws, size_t ws_floats)
{
    const WinoKernels *kn = wino_kernels(c);
    const int K = c->out_c, C = c->in_c, np = kn->npos;
    const size_t uf = wino_u_floats(c), per = wino_per_sample(c);
    LQA_CHECK(ws_floats >= uf + per);
    const size_t us = (size_t)K * C + WINO_GAP;
    float *dU = ws;
    const size_t blocked = wino_dw_blocked_floats(c, B);
    if (blocked && ws_floats >= blocked) {
        const int Q = LQA_MIN(WINO_DW_PARTS, B), nb = wino_dw_block(c, B, Q);
        const int P = LQA_MIN(par_threads(), Q);
        WinoDwBlk a = {.c = c, .kn = kn, .dy = dy, .x = x, .dU0 = dU, .B = B, .Q = Q, .nb = nb,
                       .threads = P, .us = us, .part_u = np * us, .slice = wino_dw_slice(c, nb)};
        a.scratch = dU + Q * a.part_u;
        const int bt = blas_get_threads();
        blas_set_threads(1);
        par_run(P, (size_t)P, wino_dw_thread, &a);
        blas_set_threads(bt);
        SumParts sp = {.d = dU, .stride = a.part_u, .us = us, .kc = (size_t)K * C, .Q = Q};
        par_for((size_t)np, a.part_u * Q, wino_sum_parts, &sp);
    } else {
        float *V = ws + np * us;
        const int nb = (int)LQA_MIN((size_t)B, (ws_floats - uf) / per);
        for (int n0 = 0; n0 < B; n0 += nb)
            wino_dw_chunk(c, kn, dy, x, B, n0, LQA_MIN(nb, B - n0), V, dU, us, n0 > 0, true);
    }
    WinoArgs wa = {.src = dU, .dst = dw, .R = K, .S = C, .xs = us};
    par_for((size_t)K, (size_t)np * K * C, kn->dweights, &wa);
}

LQA_FP_CONTRACT_END
