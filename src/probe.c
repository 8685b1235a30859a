/* probe.c — the probe closure (see probe.h). */
#include "probe.h"

double probe_loss(void *ctx, const float *theta)
{
    ProbeCtx *p = ctx;
    p->fwd++;
    return model_forward(p->m, theta, p->x, p->y, p->B, FWD_PROBE, NULL);
}

double probe_loss_val(void *ctx, const float *theta)
{
    ProbeCtx *p = ctx;
    p->fwd++;
    return model_forward(p->m, theta, p->vx, p->vy, p->vB, FWD_PROBE, NULL);
}
