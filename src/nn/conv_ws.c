/* conv_ws.c — a network's shared convolution workspace (conv.h): sized from
 * the layers attached to it, allocated once, handed to each layer's calls. */
#include "conv.h"

#include "common.h"

void conv_ws_init(ConvWs *ws, size_t cap_floats) { *ws = (ConvWs){.cap = cap_floats}; }

void conv2d_attach(Conv2d *c, ConvWs *ws, int max_batch)
{
    LQA_CHECK(ws->buf == NULL && max_batch > 0);
    c->ws = ws;
    ws->n = LQA_MAX(ws->n, conv2d_ws_floats(c, max_batch, ws->cap));
}

int conv_ws_alloc(ConvWs *ws, char *err)
{
    LQA_CHECK(ws->buf == NULL);
    ws->buf = lqa_alloc(ws->n * sizeof(float), err);
    return ws->buf ? 0 : -1;
}

void conv_ws_free(ConvWs *ws)
{
    lqa_free(ws->buf);
    ws->buf = NULL;
}

void conv2d_layer_forward(const Conv2d *c, float *y, const float *x, const float *w,
                          const float *b, int B)
{
    LQA_CHECK(c->ws && c->ws->buf);
    conv2d_forward(c, y, x, w, b, B, c->ws->buf, c->ws->n);
}

void conv2d_layer_backward(const Conv2d *c, float *dx, bool dx_accumulate, float *dw, float *db,
                           const float *dy, const float *x, const float *w, int B)
{
    LQA_CHECK(c->ws && c->ws->buf);
    conv2d_backward(c, dx, dx_accumulate, dw, db, dy, x, w, B, c->ws->buf, c->ws->n);
}
