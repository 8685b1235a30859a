/* gate_tape.c — the gate tape of conv.h: records the non-smooth choices of a
 * forward (ReLU gates, max-pool windows) or replays them, for the
 * finite-difference tests of whole networks. Compiled once (not per kernel
 * instruction set, see kernel_dispatch.c): the kernels of bn_pool.c only ask
 * gate_tape_active() and hand their choices here while a tape is installed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conv_internal.h"

static GateTape *g_tape;

void gate_tape_set(GateTape *t)
{
    g_tape = t;
    if (t) {
        t->pos = 0;
        t->overflow = false;
        if (t->mode == GATE_RECORD) t->len = 0;
    }
}

bool gate_tape_active(void) { return g_tape != NULL; }

/* the next choice: record `c`, or return the replayed one */
static int tape_choice(int c)
{
    GateTape *t = g_tape;
    if (t->mode == GATE_RECORD) {
        if (t->len < t->cap) t->bits[t->len++] = (uint8_t)c;
        else t->overflow = true;
        return c;
    }
    if (t->pos < t->len) return t->bits[t->pos++];
    t->overflow = true;
    return c;
}

void gate_tape_relu(float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = tape_choice(y[i] > 0.0f) ? y[i] : 0.0f;
}

/* first maximum of a 2×2 window in row-major order (PyTorch's choice); a NaN
 * wins over numbers, so NaN propagates (bn_pool.c's vector kernel, as masks) */
static inline bool pick_later(float later, float first)
{
    return (later > first) | ((later != later) & (first == first));
}

void gate_tape_maxpool(float *y, uint8_t *idx, const float *x, int planes, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    for (size_t pl = 0; pl < (size_t)planes; pl++)
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = x + (pl * H + 2 * (size_t)oh) * W, *r1 = r0 + W;
            const size_t o = (pl * OH + oh) * OW;
            for (int ow = 0; ow < OW; ow++) {
                const float v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
                const bool b01 = pick_later(v[1], v[0]), b23 = pick_later(v[3], v[2]);
                int m = pick_later(v[2 + b23], v[b01]) ? 2 + b23 : b01;
                m = tape_choice(m) & 3;
                y[o + ow] = v[m];
                if (idx) idx[o + ow] = (uint8_t)m;
            }
        }
}
