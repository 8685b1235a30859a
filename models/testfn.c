/* models/testfn.c — analytic two-dimensional test functions as models:
 * `booth`, `eggholder`, `himmelblau` (the QLABGrad paper's Fig. 2).
 *
 * The parameter vector is the point (x, y) itself: two tensors "x" and "y" of
 * one element each, set from the config's `start` (the init draws nothing
 * that survives). The "loss" is f(x, y), in double at the float32 point; the
 * data batch is ignored (such a model runs with "dataset": "none", one
 * sample, so one step per epoch). The gradient is exact (the derivative of
 * the formula, tested against finite differences in tests/test_layers.c).
 *
 *   booth       (x + 2y − 7)² + (2x + y − 5)²; minimum 0 at (1, 3)
 *   himmelblau  (x² + y − 11)² + (x + y² − 7)²; minimum 0 at (3, 2),
 *               (−2.805118, 3.131312), (−3.779310, −3.283186), (3.584428, −1.848126)
 *   eggholder   −(y + 47)·sin√|x/2 + y + 47| − x·sin√|x − (y + 47)|; on the usual
 *               box [−512, 512]² its minimum is −959.6407 at (512, 404.2319). Where
 *               an argument of √|·| is 0 the derivative of that term is taken as 0. */
#include <math.h>
#include <string.h>

#include "common.h"
#include "model.h"

typedef double (*TestFnEval)(double x, double y, double *gx, double *gy);

typedef struct TestFn {
    TestFnEval f;
    size_t ox, oy;     /* offsets of x and y in the parameter vector */
    double x, y;       /* the point of the last FWD_TRAIN */
} TestFn;

static double booth(double x, double y, double *gx, double *gy)
{
    double a = x + 2 * y - 7, b = 2 * x + y - 5;
    if (gx) {
        *gx = 2 * a + 4 * b;
        *gy = 4 * a + 2 * b;
    }
    return a * a + b * b;
}

static double himmelblau(double x, double y, double *gx, double *gy)
{
    double a = x * x + y - 11, b = x + y * y - 7;
    if (gx) {
        *gx = 4 * x * a + 2 * b;
        *gy = 2 * a + 4 * y * b;
    }
    return a * a + b * b;
}

/* d/du √|u| = sign(u)/(2√|u|); 0 at u = 0 (where it is not defined) */
static double dsqrtabs(double u, double s) { return u == 0 ? 0 : (u > 0 ? 1 : -1) / (2 * s); }

static double eggholder(double x, double y, double *gx, double *gy)
{
    double w = y + 47, a = x / 2 + w, b = x - w;
    double sa = sqrt(fabs(a)), sb = sqrt(fabs(b));
    if (gx) {
        double da = dsqrtabs(a, sa), db = dsqrtabs(b, sb);
        double ca = cos(sa), cb = cos(sb);
        *gx = -w * ca * da * 0.5 - sin(sb) - x * cb * db;
        *gy = -sin(sa) - w * ca * da + x * cb * db;
    }
    return -w * sin(sa) - x * sin(sb);
}

static int testfn_create(Model *m, TestFnEval f, char *err)
{
    TestFn *t = lqa_alloc(sizeof *t, err);
    if (!t) return -1;
    memset(t, 0, sizeof *t);
    m->impl = t;
    t->f = f;
    t->ox = model_param(m, "x", TENSOR_ZEROS, 1, 1, 1);
    t->oy = model_param(m, "y", TENSOR_ZEROS, 1, 1, 1);
    return 0;
}

static double testfn_forward(Model *m, const float *theta, const float *x, const int *y, int B,
                             FwdMode mode, int *n_correct)
{
    (void)x, (void)y, (void)B;
    TestFn *t = m->impl;
    double px = theta[t->ox], py = theta[t->oy];
    if (mode == FWD_TRAIN) {
        t->x = px;
        t->y = py;
    }
    if (n_correct) *n_correct = 0;
    return t->f(px, py, NULL, NULL);
}

static void testfn_backward(Model *m)
{
    TestFn *t = m->impl;
    double gx, gy;
    t->f(t->x, t->y, &gx, &gy);
    m->grads[t->ox] = (float)gx;
    m->grads[t->oy] = (float)gy;
}

static void testfn_destroy(Model *m) { lqa_free(m->impl); }

static int booth_create(Model *m, char *err) { return testfn_create(m, booth, err); }
static int eggholder_create(Model *m, char *err) { return testfn_create(m, eggholder, err); }
static int himmelblau_create(Model *m, char *err) { return testfn_create(m, himmelblau, err); }

const ModelOps model_booth = {"booth", booth_create, testfn_forward, testfn_backward,
                              testfn_destroy, NULL, .analytic = 2};
const ModelOps model_eggholder = {"eggholder", eggholder_create, testfn_forward, testfn_backward,
                                  testfn_destroy, NULL, .analytic = 2};
const ModelOps model_himmelblau = {"himmelblau", himmelblau_create, testfn_forward,
                                   testfn_backward, testfn_destroy, NULL, .analytic = 2};
