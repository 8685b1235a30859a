/* test_optim_adaptive.c — the optimizer registry, lr roles and hyperparameter
 * validation of the adaptive methods; HGD and L4GD against hand computations.
 * The LQA, QLABGrad and newton-lr tests are test_lqa.c, test_qlabgrad.c and
 * test_newton_lr.c; the shared rig is optim_rig.h. */
#include "optim_rig.h"

static void test_registry(void)
{
    static const struct {
        const char *name;
        int n_extra;
        const char *cols;
    } want[] = {
        {"hgd", 1, "hypergrad"},
        {"l4gd", 1, "l_min"},
        {"lqa", 3, "l_plus,l_minus,delta0"},
        {"qlabgrad", 2, "abar,l_probe"},
        {"newton-lr", 5, "f_plus,f_minus,f_plus2,f_minus2,f0"},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const OptimizerDef *d = optim_find(want[k].name);
        T_CHECK(d != NULL, "%s registered", want[k].name);
        if (!d) continue;
        T_CHECK(!d->classic, "%s is not classic", d->name);
        T_CHECK(d->n_extra == want[k].n_extra && d->n_extra <= OPT_MAX_EXTRA, "%s n_extra", d->name);
        char cols[128] = "";
        for (int i = 0; i < d->n_extra; i++) {
            if (i) strcat(cols, ",");
            strcat(cols, d->extra_cols[i]);
        }
        T_CHECK(strcmp(cols, want[k].cols) == 0, "%s extra columns: %s", d->name, cols);
        T_CHECK(d->n_hparams <= OPT_MAX_HP, "%s hparams fit", d->name);
        for (int i = 0; i < d->n_hparams; i++) {
            char err[LQA_ERR_LEN];
            T_CHECK(optim_hparam_check(&d->hparams[i], d->hparams[i].def, err) == 0,
                    "%s.%s default is valid", d->name, d->hparams[i].name);
        }
    }
}

/* Every optimizer declares what lr means, and the declaration matches the code:
 * for each setting of each enum hyperparameter, 6 steps on a quartic from
 * lr 0.05 and from lr 0.3 end at the same θ exactly when lr is declared unused.
 * (Not a quadratic: on one, LQA and QLABGrad find the exact line minimiser
 * whatever their starting δ0 or ā.) L(x) = quadratic + ¼·Σx⁴. */
static double quartic_loss(void *ctx, const float *x)
{
    Probe *p = ctx;
    double s = quad_loss(p, x);
    for (size_t i = 0; i < p->n; i++) s += 0.25 * pow((double)x[i], 4);
    return s;
}

static void lr_role_trajectory(const OptimizerDef *d, const double *hp, double lr, float *theta_out)
{
    Probe p;
    float theta[NMAX], g[NMAX], scratch[NMAX];
    double gd[NMAX];
    make_quadratic(&p, 6, 11, 1.0, theta);
    Optimizer o;
    char err[LQA_ERR_LEN];
    if (optim_create(&o, d, hp, lr, p.n, err) != 0) {
        T_CHECK(0, "%s: create: %s", d->name, err);
        memset(theta_out, 0, sizeof(float) * NMAX);
        return;
    }
    for (long t = 0; t < 6; t++) {
        quad_grad(&p, theta, g, gd);
        for (size_t k = 0; k < p.n; k++) g[k] = (float)(gd[k] + pow((double)theta[k], 3));
        double L0 = quartic_loss(&p, theta);
        StepCtx ctx = {.step = t, .epoch = (int)(t / 2), .steps_per_epoch = 2, .loss0 = L0,
                       .lr = lr, .probe = {quartic_loss, &p}, .scratch = scratch};
        StepInfo info = {.lr = NAN};
        d->step(&o, theta, g, &ctx, &info);
    }
    optim_free(&o);
    memcpy(theta_out, theta, sizeof(float) * NMAX);
}

static void test_lr_roles(void)
{
    for (int i = 0; i < optim_registry_size(); i++) {
        const OptimizerDef *d = optim_registry_get(i);
        T_CHECK(d->lr_role != LR_UNDECLARED, "%s declares what lr means (lr_role)", d->name);
        T_CHECK(d->lr_doc && d->lr_doc[0], "%s documents what lr means (lr_doc)", d->name);
        if (d->classic)
            T_CHECK(d->lr_role == LR_STEP && !d->lr_role_of, "%s (classic): lr is the step size", d->name);
        /* the defaults, then every choice of each enum hyperparameter */
        for (int h = -1; h < d->n_hparams; h++) {
            int n_choice = 1;
            if (h >= 0) {
                if (d->hparams[h].type != HP_ENUM) continue;
                char buf[256];
                const char *names[OPT_MAX_CHOICES];
                n_choice = optim_choices(&d->hparams[h], buf, sizeof buf, names, OPT_MAX_CHOICES);
            }
            for (int c = 0; c < n_choice; c++) {
                double hp[OPT_MAX_HP];
                optim_hparam_defaults(d, hp);
                if (h >= 0) hp[h] = c;
                LrRole role = optim_lr_role(d, hp);
                float a[NMAX], b[NMAX];
                lr_role_trajectory(d, hp, 0.05, a);
                lr_role_trajectory(d, hp, 0.3, b);
                bool same = memcmp(a, b, sizeof(float) * 6) == 0;
                T_CHECK(same == (role == LR_UNUSED), "%s (%s = %d): lr declared %s, but the trajectory %s with lr",
                        d->name, h >= 0 ? d->hparams[h].name : "defaults", c, optim_lr_role_name(role),
                        same ? "does not change" : "changes");
            }
        }
    }
    const OptimizerDef *lqa = optim_find("lqa"), *l4 = optim_find("l4gd");
    double hp[OPT_MAX_HP];
    optim_hparam_defaults(lqa, hp);
    T_CHECK(optim_lr_role(lqa, hp) == LR_INITIAL, "lqa paper: lr is the starting δ0");
    hp[optim_hparam_index(lqa, "variant")] = 1;
    T_CHECK(optim_lr_role(lqa, hp) == LR_UNUSED, "lqa reference: lr unused");
    optim_hparam_defaults(l4, hp);
    T_CHECK(optim_lr_role(l4, hp) == LR_UNUSED, "l4gd: lr unused");
}

static void test_validation(void)
{
    static const struct {
        const char *opt, *key;
        double val;
        bool ok;
    } cases[] = {
        {"hgd", "beta", -1e-3, false},    {"hgd", "beta", 0, true},
        {"hgd", "momentum", -0.1, false}, {"hgd", "momentum", 1.0, false},
        {"l4gd", "alpha", 0, false},      {"l4gd", "alpha", 0.15, true},
        {"l4gd", "gamma", 0, false},      {"l4gd", "gamma", 1.0, true},
        {"l4gd", "gamma", 1.5, false},    {"l4gd", "eps", 0, false},
        {"l4gd", "tau", 0, false},        {"l4gd", "eta_max", -1, false},
        {"lqa", "delta0_min", -1, false}, {"qlabgrad", "findplr_every", -2, true},
        {"qlabgrad", "findplr_every", -2e6, false},
        {"qlabgrad", "findplr_every", -1, true}, {"qlabgrad", "findplr_every", 0, true},
        {"qlabgrad", "alpha_max", -1, false}, {"qlabgrad", "abar_min", -1, false},
        {"newton-lr", "eps", 0, false},   {"newton-lr", "delta", 0, false},
        {"newton-lr", "momentum", 1.0, false}, {"newton-lr", "momentum", -0.1, false},
        {"newton-lr", "momentum", 0.9, true}, {"newton-lr", "alpha", 0, false},
        {"newton-lr", "delta_threshold", -1e-7, false}, {"newton-lr", "delta_threshold", 0, true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const OptimizerDef *d = optim_find(cases[k].opt);
        if (!d) continue;
        int i = optim_hparam_index(d, cases[k].key);
        T_CHECK(i >= 0, "%s.%s exists", cases[k].opt, cases[k].key);
        if (i < 0) continue;
        char err[LQA_ERR_LEN] = "";
        int rc = optim_hparam_check(&d->hparams[i], cases[k].val, err);
        T_CHECK((rc == 0) == cases[k].ok, "%s.%s = %g: expected %s (%s)", cases[k].opt,
                cases[k].key, cases[k].val, cases[k].ok ? "accepted" : "rejected", err);
    }
    /* Cross-field and init checks go through optim_create. */
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 3;
    char err[LQA_ERR_LEN] = "";
    T_CHECK(rig_make(&r, "hgd", (KV[]){{"nesterov", 1}}, 1, 0.1, err) != 0,
            "hgd: nesterov without momentum is rejected");
    T_CHECK(rig_make(&r, "qlabgrad", (KV[]){{"findplr_every", 2.5}}, 1, 0.1, err) != 0,
            "qlabgrad: non-integer findplr_every is rejected");
    T_CHECK(rig_make(&r, "qlabgrad", (KV[]){{"findplr_every", -1.5}}, 1, 0.1, err) != 0,
            "qlabgrad: non-integer negative findplr_every is rejected");
    T_CHECK(rig_make(&r, "lqa", NULL, 0, 0.0, err) != 0, "lqa: δ0 = 0 is rejected");
    T_CHECK(rig_make(&r, "qlabgrad", NULL, 0, -1.0, err) != 0, "qlabgrad: ā < 0 is rejected");
    T_CHECK(rig_make(&r, "newton-lr", NULL, 0, 0.0, err) != 0, "newton-lr: η = 0 is rejected");
    /* Options of one form set for the other are errors, not silently ignored. */
    T_CHECK(rig_make(&r, "newton-lr", (KV[]){{"alpha", 1e-3}}, 1, 0.1, err) != 0 && strstr(err, "alpha"),
            "newton-lr: alpha without the first-order form is rejected (%s)", err);
    T_CHECK(rig_make(&r, "newton-lr", (KV[]){{"form", 1}, {"eps", 1e-3}}, 2, 0.1, err) != 0,
            "newton-lr: eps with the first-order form is rejected");
    T_CHECK(rig_make(&r, "newton-lr", (KV[]){{"form", 1}, {"delta_mode", 1}}, 2, 0.1, err) != 0,
            "newton-lr: delta_mode with the first-order form is rejected");
    T_CHECK(rig_make(&r, "newton-lr", (KV[]){{"form", 1}, {"delta_threshold", 0}}, 2, 0.1, err) != 0,
            "newton-lr: delta_threshold with the first-order form is rejected");
    T_CHECK(rig_make(&r, "newton-lr", (KV[]){{"form", 1}, {"alpha", 1e-3}, {"momentum", 0.9}}, 3, 0.1, err) == 0,
            "newton-lr: first-order form with alpha and momentum is accepted (%s)", err);
    optim_free(&r.o);
}

/* HGD: α_k = α_{k−1} + β·g_k·g_{k−1}, exact values. */
static void test_hgd(void)
{
    static const float gs[4][3] = {
        {1.0f, 2.0f, 0.5f},    /* step 1: d_prev = 0 → h = 0 */
        {0.5f, 1.0f, 1.0f},    /* aligned with step 1: h = 3 */
        {-1.0f, -1.0f, -0.5f}, /* opposed to step 2: h = −2 */
        {0.25f, 0.0f, 0.0f},   /* h = −0.25 */
    };
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 3;
    rig_new(&r, "hgd", (KV[]){{"beta", 0.01}}, 1, 0.1);
    for (int i = 0; i < 3; i++) r.theta[i] = 0.5f * (float)i - 0.25f;
    double alpha = 0.1;
    for (int k = 0; k < 4; k++) {
        double h = 0;
        if (k > 0)
            for (int i = 0; i < 3; i++) h += (double)gs[k][i] * gs[k - 1][i];
        double prev = alpha;
        alpha = prev + 0.01 * h;
        memcpy(r.g, gs[k], sizeof gs[k]);
        StepOut s = rig_step_at(&r, 1.0, k, 0, 100, true);
        T_CHECK(s.probes == 0 && s.info.fallback == NULL, "hgd: no probes, no fallback");
        T_CHECK(s.info.extra[0] == h, "hgd: hypergrad %g, got %g", h, s.info.extra[0]);
        T_CLOSE(s.info.lr, alpha, 1e-15, 0, "hgd: α = α_prev + β·g·g_prev");
        if (k == 1) T_CHECK(s.info.lr > prev, "hgd: α rises when gradients align");
        if (k >= 2) T_CHECK(s.info.lr < prev, "hgd: α falls when gradients oppose");
    }
    T_CLOSE(alpha, 0.1 + 0.01 * (3.0 - 2.0 - 0.25), 1e-15, 0, "hgd: hand value after 4 steps");
    optim_free(&r.o);

    /* No clamp by default: α goes negative; clamp_nonneg stops at 0. */
    for (int clamp = 0; clamp < 2; clamp++) {
        memset(&r, 0, sizeof r);
        r.p.n = 1;
        rig_new(&r, "hgd", (KV[]){{"beta", 1.0}, {"clamp_nonneg", clamp}}, 2, 0.1);
        r.g[0] = 1.0f;
        rig_step_at(&r, 1.0, 0, 0, 100, true);
        r.g[0] = -1.0f;
        StepOut s = rig_step_at(&r, 1.0, 1, 0, 100, true);
        T_CLOSE(s.info.lr, clamp ? 0.0 : -0.9, 1e-15, 0, "hgd clamp_nonneg");
        optim_free(&r.o);
    }

    /* SGDN-HD (μ = 0.5, Nesterov) and heavy ball: d = g + μb or d = b, with
     * b ← g, then b ← μb + g; h uses the raw g and the previous d. */
    for (int nest = 0; nest < 2; nest++) {
        memset(&r, 0, sizeof r);
        r.p.n = 2;
        rig_new(&r, "hgd", (KV[]){{"beta", 0.1}, {"momentum", 0.5}, {"nesterov", nest}}, 3, 0.25);
        const float g1[2] = {1.0f, -2.0f}, g2[2] = {0.5f, -1.0f};
        float th[2] = {0.0f, 0.0f};
        /* step 1: b = g1, d1 = g1 + 0.5·g1 (Nesterov) or g1 */
        float d1[2], b[2], d2[2];
        for (int i = 0; i < 2; i++) {
            b[i] = g1[i];
            d1[i] = nest ? g1[i] + 0.5f * b[i] : b[i];
            th[i] = th[i] - 0.25f * d1[i];
        }
        double h = (double)g2[0] * d1[0] + (double)g2[1] * d1[1];
        double a2 = 0.25 + 0.1 * h;
        for (int i = 0; i < 2; i++) {
            b[i] = 0.5f * b[i] + g2[i];
            d2[i] = nest ? g2[i] + 0.5f * b[i] : b[i];
            th[i] = th[i] - (float)a2 * d2[i];
        }
        memcpy(r.g, g1, sizeof g1);
        rig_step_at(&r, 1.0, 0, 0, 100, false);
        memcpy(r.g, g2, sizeof g2);
        StepOut s = rig_step_at(&r, 1.0, 1, 0, 100, false);
        T_CLOSE(s.info.extra[0], h, 1e-15, 0, nest ? "sgdn-hd: h = g·d_prev" : "sgdm-hd: h = g·d_prev");
        T_CLOSE(s.info.lr, a2, 1e-15, 0, "hgd momentum: α");
        for (int i = 0; i < 2; i++) T_CLOSE(r.theta[i], th[i], 1e-6, 1e-7, "hgd momentum: θ");
        optim_free(&r.o);
    }
}

/* L4GD: two (three) steps by hand with α = 0.15, γ = 0.9, γ0 = 0.75, κ = 1.001. */
static void test_l4gd(void)
{
    Rig r;
    memset(&r, 0, sizeof r);
    r.p.n = 2;
    rig_new(&r, "l4gd", NULL, 0, 0.1);
    r.theta[0] = 1.0f;
    r.theta[1] = -1.0f;
    /* step 1: L = 2, g = (1, 2), ‖g‖² = 5; L_min = 0.75·2 = 1.5;
     * η = 0.15·(2 − 0.9·1.5)/5 = 0.0195; then L_min = 1.5015. */
    r.g[0] = 1.0f;
    r.g[1] = 2.0f;
    StepOut s = rig_step_at(&r, 2.0, 0, 0, 100, true);
    T_CLOSE(s.info.lr, 0.0195, 1e-9, 0, "l4gd step 1: η");
    T_CLOSE(s.info.extra[0], 1.5, 1e-15, 0, "l4gd step 1: L_min = γ0·L");
    T_CHECK(s.probes == 0 && s.info.fallback == NULL, "l4gd: no probes, no fallback");
    /* step 2: L = 1.8, g = (0.5, −1), ‖g‖² = 1.25; L_min = min(1.5015, 1.8);
     * η = 0.15·(1.8 − 0.9·1.5015)/1.25 = 0.15·0.44865/1.25 = 0.053838. */
    r.g[0] = 0.5f;
    r.g[1] = -1.0f;
    s = rig_step_at(&r, 1.8, 1, 0, 100, true);
    T_CLOSE(s.info.extra[0], 1.5015, 1e-12, 0, "l4gd step 2: L_min before the κ increase");
    T_CLOSE(s.info.lr, 0.053838, 1e-9, 0, "l4gd step 2: η");
    /* step 3: L = 1 < 1.5015·1.001 → L_min = 1; g = (1, 0): η = 0.15·0.1/1. */
    r.g[0] = 1.0f;
    r.g[1] = 0.0f;
    s = rig_step_at(&r, 1.0, 2, 0, 100, true);
    T_CLOSE(s.info.extra[0], 1.0, 1e-15, 0, "l4gd step 3: L_min = L");
    T_CLOSE(s.info.lr, 0.015, 1e-9, 0, "l4gd step 3: η");
    optim_free(&r.o);

    /* eta_max caps η and says so. */
    memset(&r, 0, sizeof r);
    r.p.n = 2;
    rig_new(&r, "l4gd", (KV[]){{"eta_max", 0.01}}, 1, 0.1);
    r.g[0] = 1.0f;
    r.g[1] = 2.0f;
    s = rig_step_at(&r, 2.0, 0, 0, 100, true);
    T_CHECK(s.info.lr == 0.01 && streq(s.info.fallback, "l4_eta_max"), "l4gd eta_max");
    optim_free(&r.o);

    /* L4Mom: v = bias-corrected EMA (0.9) of g; η = α(L − γL_min)/(g·v + ε); θ ← θ − ηv. */
    memset(&r, 0, sizeof r);
    r.p.n = 2;
    rig_new(&r, "l4gd", (KV[]){{"direction", 1}}, 1, 0.1);
    r.g[0] = 1.0f;
    r.g[1] = 2.0f;
    s = rig_step_at(&r, 2.0, 0, 0, 100, false);
    T_CLOSE(s.info.lr, 0.0195, 1e-6, 0, "l4mom step 1: v = g");
    T_CLOSE(r.theta[1], -0.0195 * 2.0, 1e-6, 0, "l4mom step 1: θ");
    r.g[0] = 0.5f;
    r.g[1] = -1.0f;
    double m0 = 0.9 * 0.1 * 1.0 + 0.1 * 0.5, m1 = 0.9 * 0.1 * 2.0 - 0.1;
    double v0 = m0 / (1 - 0.81), v1 = m1 / (1 - 0.81);
    double gv = 0.5 * v0 - 1.0 * v1;
    s = rig_step_at(&r, 1.8, 1, 0, 100, false);
    T_CLOSE(s.info.lr, 0.15 * (1.8 - 0.9 * 1.5015) / gv, 1e-5, 0, "l4mom step 2: η");
    optim_free(&r.o);

    /* L4Adam: v = m̂/(√v̂ + 1e-4); step 1: v_i = g_i/(|g_i| + 1e-4). */
    memset(&r, 0, sizeof r);
    r.p.n = 2;
    rig_new(&r, "l4gd", (KV[]){{"direction", 2}}, 1, 0.1);
    r.g[0] = 1.0f;
    r.g[1] = 2.0f;
    s = rig_step_at(&r, 2.0, 0, 0, 100, false);
    gv = 1.0 / (1.0 + 1e-4) + 4.0 / (2.0 + 1e-4);
    T_CLOSE(s.info.lr, 0.15 * 0.65 / gv, 1e-5, 0, "l4adam step 1: η");
    T_CLOSE(r.theta[0], -s.info.lr / (1.0 + 1e-4), 1e-5, 0, "l4adam step 1: θ");
    optim_free(&r.o);
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    T_RUN(registry, test_registry());
    T_RUN(lr_roles, test_lr_roles());
    T_RUN(validation, test_validation());
    T_RUN(hgd, test_hgd());
    T_RUN(l4gd, test_l4gd());
    return t_done("test_optim_adaptive");
}
