/* test_testfn.c — the analytic test-function models (models/testfn.c): exact
 * gradients against central finite differences, and the functions' values and
 * minima against hand-computed values. */
#include <math.h>
#include <stdio.h>

#include "model.h"
#include "test.h"

static double at(Model *m, double x, double y, FwdMode mode)
{
    float th[2] = {(float)x, (float)y};
    return model_forward(m, th, NULL, NULL, 1, mode, NULL);
}

/* Gradient at (x, y) by backward, against central differences of the float
 * points actually evaluated. */
static void check_grad(Model *m, double x, double y)
{
    at(m, x, y, FWD_TRAIN);
    model_backward(m);
    double g[2] = {m->grads[0], m->grads[1]};
    for (int k = 0; k < 2; k++) {
        float p[2] = {(float)x, (float)y}, q[2] = {(float)x, (float)y};
        double h = 1e-3; /* f is double at the float points: only truncation error */
        p[k] += (float)h;
        q[k] -= (float)h;
        double fd = (model_forward(m, p, NULL, NULL, 1, FWD_PROBE, NULL) -
                     model_forward(m, q, NULL, NULL, 1, FWD_PROBE, NULL)) / ((double)p[k] - q[k]);
        char what[96];
        snprintf(what, sizeof what, "%s d/d%c at (%g, %g)", m->ops->name, k ? 'y' : 'x', x, y);
        T_CLOSE(g[k], fd, 1e-5, 1e-5, what);
    }
}

static void with_model(const char *name, Model *m)
{
    char err[512] = "";
    ModelSpec spec = {.in_c = 1, .in_h = 1, .in_w = 1, .n_classes = 1, .max_batch = 1};
    model_option_defaults(&spec);
    spec.in_c = spec.in_h = spec.in_w = spec.n_classes = spec.max_batch = 1;
    T_CHECK(model_create(m, name, &spec, err) == 0, "create %s: %s", name, err);
    T_CHECK(m->n_params == 2 && m->ops->analytic == 2, "%s: 2 parameters", name);
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    T_RUN(testfn_gradients, {
        static const double PTS[][2] = {{0.5, -1.25}, {-8, 8}, {3.7, 2.2}, {-2, -3.5},
                                        {400, 400}, {-300.5, 120.25}, {511, 404}, {50, -200}};
        const char *names[] = {"booth", "himmelblau", "eggholder"};
        for (int i = 0; i < 3; i++) {
            Model m;
            with_model(names[i], &m);
            for (size_t j = 0; j < sizeof PTS / sizeof PTS[0]; j++) check_grad(&m, PTS[j][0], PTS[j][1]);
            model_free(&m);
        }
    });
    T_RUN(testfn_values, {
        Model m;
        with_model("booth", &m); /* (x+2y-7)^2 + (2x+y-5)^2 */
        T_CLOSE(at(&m, 1, 3, FWD_EVAL), 0, 0, 1e-12, "booth(1, 3)");
        T_CLOSE(at(&m, 0, 0, FWD_EVAL), 74, 1e-12, 0, "booth(0, 0) = 49 + 25");
        T_CLOSE(at(&m, -8, 8, FWD_EVAL), 170, 1e-12, 0, "booth(-8, 8) = 1 + 169");
        at(&m, 1, 3, FWD_TRAIN);
        model_backward(&m);
        T_CHECK(m.grads[0] == 0 && m.grads[1] == 0, "booth: gradient 0 at (1, 3)");
        model_free(&m);
        with_model("himmelblau", &m); /* (x^2+y-11)^2 + (x+y^2-7)^2 */
        T_CLOSE(at(&m, 0, 0, FWD_EVAL), 170, 1e-12, 0, "himmelblau(0, 0) = 121 + 49");
        T_CLOSE(at(&m, 1, 1, FWD_EVAL), 106, 1e-12, 0, "himmelblau(1, 1) = 81 + 25");
        static const double MINS[4][2] = {{3, 2}, {-2.805118, 3.131312}, {-3.779310, -3.283186},
                                          {3.584428, -1.848126}};
        for (int k = 0; k < 4; k++) {
            char what[64];
            snprintf(what, sizeof what, "himmelblau minimum %d", k);
            T_CLOSE(at(&m, MINS[k][0], MINS[k][1], FWD_EVAL), 0, 0, 1e-8, what);
            at(&m, MINS[k][0], MINS[k][1], FWD_TRAIN);
            model_backward(&m);
            T_CHECK(fabs(m.grads[0]) < 1e-3 && fabs(m.grads[1]) < 1e-3, "%s: gradient %g %g", what,
                    m.grads[0], m.grads[1]);
        }
        model_free(&m);
        with_model("eggholder", &m);
        /* f(0, 0) = -47 sin(sqrt 47); the box minimum -959.6407 at (512, 404.2319) */
        T_CLOSE(at(&m, 0, 0, FWD_EVAL), -47 * sin(sqrt(47.0)), 1e-12, 0, "eggholder(0, 0)");
        T_CLOSE(at(&m, 512, 404.2319, FWD_EVAL), -959.6407, 0, 2e-3, "eggholder(512, 404.2319)");
        /* there dy = 0 but dx = -3.3858: a minimum on the box's edge x = 512, not a
         * stationary point (the function keeps falling for x > 512) */
        at(&m, 512, 404.2319, FWD_TRAIN);
        model_backward(&m);
        T_CLOSE(m.grads[0], -3.3858, 0, 2e-3, "eggholder d/dx at (512, 404.2319)");
        T_CLOSE(m.grads[1], 0, 0, 2e-2, "eggholder d/dy at (512, 404.2319)");
        model_free(&m);
    });
    return t_done("test_testfn");
}
