#!/usr/bin/python3
"""torch_crosscheck.py — lqabench's training trajectories against PyTorch, step by step.

Run with Debian's interpreter, which has python3-torch (the pyenv python3 on PATH has none):
    /usr/bin/python3 tests/torch_crosscheck.py [path/to/lqabench]
The binary is argv[1], else $LQA_BIN, else ./lqabench at the repository root. MNIST is read
from $LQA_DATA_DIR/mnist when LQA_DATA_DIR is set, else from data/mnist under the repository
root (scripts/fetch_data.sh puts it there); the generated configs leave data_dir out so that
lqabench resolves the same directory the same way.

What it does. Two sweeps are generated into a temporary directory — logistic regression and
the 784-1000-1000-10 MLP on MNIST, batch 64, one seed — each with every classic optimizer
(sgd, sgd-m, sgd-nag, adagrad, rmsprop, adam) and every adaptive method in its paper form
(hgd, l4gd, lqa, qlabgrad with FindPLR, newton-lr). lqabench runs them with --threads 1
--no-timing and dumps the initial parameter vector (<run>.init.f32) and the batch order
(<run>.batches.i32). This script then, independently of the C code:
  * reads the MNIST idx files with numpy (pixels / 255, first train_limit samples);
  * rebuilds the model as torch.nn.Linear/ReLU layers in float32 and loads the init vector;
  * replays the dumped batches: the classic methods through torch.optim (foreach=False),
    the adaptive methods through the implementations below, written from
    ../shared/spec/optimizers.md (probes are extra no-grad forwards on the same batch at a
    float32 trial vector θ + c·v held apart from θ; losses, dot products and norms in float64);
  * compares, step by step, the `loss` column (batch loss at θ before the step) and the `lr`
    column (the step size applied; for the classic methods the configured base rate, exactly);
  * compares the per-step `fwd`/`bwd` counts with 1 forward + PyTorch's probe count (FindPLR's
    trials included) and 1 backward per step, exactly;
  * checks the adaptive methods' own logged columns (hypergrad, l_min, L±/δ0, ā/l_probe, the
    five f values) against the spec's update rules at every step, within the CSV's 9-digit
    rounding — this still holds where the trajectories have decorrelated.
One line per check: measured max difference, the tolerance, PASS/FAIL. Last line:
"torch_crosscheck: N passed, M failed". Exit 0 all passed, 1 a check failed, 77 when torch,
the binary or the data are missing (nothing could be compared). -v prints per-10-step maxima.

Tolerances (TOL below) were set from measurements on this machine (PyTorch 1.13 from Debian,
OpenBLAS, AVX-512; the measured values are next to each) at about 5-10x the measured maximum,
never below 1e-6. The two implementations round differently (GEMM blocking, FMA use, the order
of the optimizer arithmetic), so they differ by float32 rounding from the first step, and each
method propagates that difference its own way. Where a method amplifies it, K and the
tolerance were chosen with a second measurement: PyTorch against PyTorch with the initial
vector perturbed by one ulp in half its entries, which shows how fast rounding-level
differences grow for that method and configuration.

Sensitivity, verified by hand: a build with deliberate bugs — sgd's lr 1% too large; Adam's
and RMSProp's ε inside the square root; HGD stepping with α before its update; L4GD using
L_min after the κ increase; LQA not carrying δ into the next δ0; QLABGrad's FindPLR only before
step 1; newton-lr applying the updated η in the same step — failed 30 checks, at least one for
each bug (newton-lr's by 2.3x its tolerance on logreg, 12x on the MLP's first 20 steps).
"""
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------------------------------------
# The experiments: batch 64, one seed, learning rates at which no run diverges in the window.

BATCH = 64
SEED = 1

TORCH_OPTIM = {  # the classic methods through torch.optim (foreach=False: single-tensor path)
    "sgd": lambda p, lr: torch.optim.SGD(p, lr=lr, foreach=False),
    "sgd-m": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, foreach=False),
    "sgd-nag": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, foreach=False),
    "adagrad": lambda p, lr: torch.optim.Adagrad(p, lr=lr, foreach=False),
    "rmsprop": lambda p, lr: torch.optim.RMSprop(p, lr=lr, foreach=False),
    "adam": lambda p, lr: torch.optim.Adam(p, lr=lr, foreach=False),
}
CLASSIC = list(TORCH_OPTIM)
ADAPTIVE = ["hgd", "l4gd", "lqa", "qlabgrad", "newton-lr"]  # paper variants, default settings

EXPERIMENTS = [
    # 100 steps per epoch: the run crosses an epoch boundary (reshuffle, QLABGrad's FindPLR).
    dict(model="logreg", train_limit=6400, steps=200,
         lr={"sgd": 0.1, "sgd-m": 0.05, "sgd-nag": 0.01, "adagrad": 0.01, "rmsprop": 0.001,
             "adam": 0.001, "hgd": 0.1, "l4gd": 0.1, "lqa": 0.1, "newton-lr": 0.1,
             # ā starts at 8: FindPLR halves it to 2 before step 1 (the loss is convex, so A ≥ 0
             # and the doubling loop never runs). From ā = 0.1 (kept by FindPLR) α/ā reaches ~15
             # and the extrapolation amplifies float32 rounding to 2.5e-4 over 200 steps.
             "qlabgrad": 8.0}),
    # 64 steps per epoch: ~2 epochs.
    dict(model="mlp", train_limit=4096, steps=120,
         lr={"sgd": 0.1, "sgd-m": 0.05, "sgd-nag": 0.01, "adagrad": 0.01,
             # RMSProp's first step moves every weight by ±10·lr; at 0.001 the loss jumps to 8 at
             # step 3 and, from step 11, both lqabench-vs-PyTorch and PyTorch-vs-PyTorch with the
             # init perturbed by one ulp decorrelate (5e-3 by step 20, ~0.1 later).
             "rmsprop": 1e-4,
             "adam": 0.001, "hgd": 0.1, "l4gd": 0.1, "lqa": 0.1, "newton-lr": 0.1,
             # ā = 1: FindPLR keeps 1 at step 1 and halves to 0.25 at the second epoch's start
             # (ā = 8 diverges within the first epoch).
             "qlabgrad": 1.0}),
]

# ---------------------------------------------------------------------------------------------
# Tolerances on the max over steps of |c − t| / max(|t|, 1e-12), per (model, method, column):
# (K, tight, full): steps 1..K must agree within `tight`; when K is smaller than the run, the
# whole run must agree within `full` (None: not compared after K, the trajectories decorrelate).
# K = None: the whole run within `tight`. The measured maxima (this machine: PyTorch 1.13 from
# Debian, OpenBLAS, AVX-512) are in the comments. No tolerance is below 1e-6 (about 8 float32
# ulps), so a different summation order cannot fail a method that follows float32 rounding.
TOL = {
    # logistic regression, 200 steps: every method stays within float32 rounding for the whole
    # run (a 1-ulp perturbation of the init, PyTorch against PyTorch, gives the same sizes).
    ("logreg", "sgd", "loss"): (None, 1e-6, None),          # measured 9.8e-8
    ("logreg", "sgd-m", "loss"): (None, 2e-6, None),        # 2.2e-7
    ("logreg", "sgd-nag", "loss"): (None, 1e-6, None),      # 8.8e-8
    ("logreg", "adagrad", "loss"): (None, 1e-6, None),      # 7.3e-8
    ("logreg", "rmsprop", "loss"): (None, 1e-6, None),      # 8.4e-8
    ("logreg", "adam", "loss"): (None, 1e-6, None),         # 5.3e-8
    ("logreg", "hgd", "loss"): (None, 1e-6, None),          # 1.1e-7
    ("logreg", "hgd", "lr"): (None, 1e-6, None),            # 6.0e-9
    ("logreg", "l4gd", "loss"): (None, 1e-6, None),         # 4.5e-8
    ("logreg", "l4gd", "lr"): (None, 2e-6, None),           # 2.5e-7
    # LQA's δ* divides by the second difference L+ + L− − 2L0: rounding grows ~10×.
    ("logreg", "lqa", "loss"): (None, 1e-5, None),          # 1.2e-6
    ("logreg", "lqa", "lr"): (None, 2e-5, None),            # 3.1e-6
    ("logreg", "qlabgrad", "loss"): (None, 5e-6, None),     # 5.4e-7
    ("logreg", "qlabgrad", "lr"): (None, 1e-5, None),       # 1.7e-6
    # newton-lr: with ε = 1e-5 the second difference f(η+2ε) + f(η−2ε) − 2f(η) (true size
    # ~1e-10) is float32 rounding of the loss (~1e-8) against δ = 1e-6, so each step's η update
    # carries ~1% noise from the first step on (lr differs by 7.5e-4 at step 2). PyTorch against
    # PyTorch with a 1-ulp init perturbation: loss 3.5e-4, lr 1.0e-3. A tight window adds nothing.
    ("logreg", "newton-lr", "loss"): (None, 1e-3, None),    # 2.1e-4
    ("logreg", "newton-lr", "lr"): (None, 5e-3, None),      # 7.5e-4
    # MLP, 120 steps.
    ("mlp", "sgd", "loss"): (None, 1e-6, None),             # 5.4e-8
    ("mlp", "sgd-m", "loss"): (None, 1e-6, None),           # 1.7e-7
    ("mlp", "sgd-nag", "loss"): (None, 1e-6, None),         # 5.8e-8
    ("mlp", "adagrad", "loss"): (None, 5e-6, None),         # 5.4e-7
    ("mlp", "rmsprop", "loss"): (None, 1e-6, None),         # 1.0e-7 (lr 1e-4, see above)
    ("mlp", "adam", "loss"): (None, 2e-6, None),            # 2.5e-7
    ("mlp", "hgd", "loss"): (None, 1e-6, None),             # 6.5e-8
    ("mlp", "hgd", "lr"): (None, 1e-6, None),               # 2.4e-8
    # L4GD: η = α(L − γL_min)/‖g‖² agrees to 6e-8 up to step 26; at step 27 the losses agree
    # to 7e-10 but η, hence ‖g‖², differs by 6e-5 (a discrete change of g, most likely a ReLU
    # pre-activation within rounding of 0), and the trajectories then differ at that level.
    ("mlp", "l4gd", "loss"): (20, 1e-6, 1e-4),              # 1-20: 4.2e-9; whole: 1.5e-5
    ("mlp", "l4gd", "lr"): (20, 1e-6, 5e-3),                # 1-20: 2.8e-8; whole: 6.6e-4
    # LQA's greedy step (δ = 8.9 at step 1, loss 13.5 at step 3) amplifies rounding fast: lr
    # 1e-4 apart by step 10, 1e-3 by step 14, decorrelated after (0.26 in the loss, the lr off
    # by up to 4.7×). PyTorch against PyTorch with a 1-ulp init perturbation is 1e-2 apart by
    # step 10, so only steps 1-10 can be compared; the rules above hold at every step.
    ("mlp", "lqa", "loss"): (10, 3e-4, None),               # 1-10: 3.0e-5
    ("mlp", "lqa", "lr"): (10, 1e-3, None),                 # 1-10: 1.0e-4
    ("mlp", "qlabgrad", "loss"): (None, 5e-6, None),        # 5.0e-7
    ("mlp", "qlabgrad", "lr"): (None, 5e-6, None),          # 7.8e-7
    # newton-lr: the noise above, smaller on the MLP at first, growing with the steps.
    ("mlp", "newton-lr", "loss"): (20, 1e-5, 3e-3),         # 1-20: 1.1e-6; whole: 4.4e-4
    ("mlp", "newton-lr", "lr"): (20, 3e-4, 5e-3),           # 1-20: 3.2e-5; whole: 7.4e-4
}


# ---------------------------------------------------------------------------------------------
# The model in PyTorch.

def build_model(name):
    return torch_models.build(name, 1, 28, 28)


def batch_loss(model, x, y):
    """Mean softmax cross-entropy, float32 logits, the reduction in float64."""
    return torch.nn.functional.cross_entropy(model(x).double(), y)


def flat_params(model):
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()


def flat_grad(model):
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()]).detach().clone()


def set_flat(model, vec):
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(vec, model.parameters())


def dot64(a, b):
    return float(torch.dot(a.double(), b.double()))


class Prober:
    """Loss of the current batch at a trial vector θ + c·v, in a second model instance, so θ
    and the training model are never touched. One forward, no autograd."""

    def __init__(self, name):
        self.model = build_model(name)
        self.count = 0

    def __call__(self, theta, c, v, x, y):
        trial = theta.add(v, alpha=c)  # float32 trial vector
        set_flat(self.model, trial)
        self.count += 1
        with torch.no_grad():
            return float(batch_loss(self.model, x, y))


# ---------------------------------------------------------------------------------------------
# The adaptive methods, from spec/optimizers.md (paper variants, default hyperparameters).
# Each step(theta, g, L0, probe, step, steps_per_epoch) returns (new theta, applied lr).

class HGD:  # SGD-HD: h = g·d_prev; α ← α + βh; θ ← θ − αg; d_prev ← g
    def __init__(self, lr, beta=1e-3):
        self.alpha, self.beta, self.d_prev = lr, beta, None

    def step(self, theta, g, L0, probe, t, spe):
        h = 0.0 if self.d_prev is None else dot64(g, self.d_prev)
        self.alpha += self.beta * h
        self.d_prev = g.clone()
        return theta.add(g, alpha=-self.alpha), self.alpha


class L4GD:  # η = α(L − γ L_min)/(‖g‖² + ε), L_min before the κ increase
    def __init__(self, lr, alpha=0.15, gamma=0.9, gamma0=0.75, tau=1000.0, eps=1e-12):
        self.alpha, self.gamma, self.gamma0, self.eps = alpha, gamma, gamma0, eps
        self.kappa = 1 + 1 / tau
        self.l_min = None

    def step(self, theta, g, L0, probe, t, spe):
        self.l_min = self.gamma0 * L0 if self.l_min is None else min(self.l_min, L0)
        eta = self.alpha * (L0 - self.gamma * self.l_min) / (dot64(g, g) + self.eps)
        self.l_min *= self.kappa
        return theta.add(g, alpha=-eta), eta


class LQA:  # δ* = δ0(L+ − L−)/(2(L+ + L− − 2L0)), fallback δ0; next δ0 = max(δ, 1e-6)
    def __init__(self, lr, delta0_min=1e-6):
        self.delta0, self.dmin = lr, delta0_min

    def step(self, theta, g, L0, probe, t, spe):
        d0 = self.delta0
        lp, lm = probe(theta, d0, g), probe(theta, -d0, g)
        curv = lp + lm - 2.0 * L0
        dstar = d0 * (lp - lm) / (2.0 * curv) if curv != 0 else float("inf")
        delta = dstar if (curv > 0 and np.isfinite(dstar) and dstar > 0) else d0
        self.delta0 = max(delta, self.dmin)
        return theta.add(g, alpha=-delta), delta


class QLABGrad:  # α* = G ā² / (2 (Lp − L0 + G ā)); FindPLR before step 1 and every epoch
    def __init__(self, lr):
        self.abar = lr

    def findplr(self, theta, g, L0, G, probe):
        a = self.abar
        lp = probe(theta, -a, g)
        for _ in range(40):
            if (lp - L0 + a * G) / (a * a) >= 0:
                break
            a *= 2.0
            lp = probe(theta, -a, g)
        for _ in range(60):
            if not lp > L0:
                break
            a *= 0.5
            lp = probe(theta, -a, g)
        self.abar = a

    def step(self, theta, g, L0, probe, t, spe):
        G = dot64(g, g)
        if t % spe == 0:  # step 0 is the first step, and the start of every epoch
            self.findplr(theta, g, L0, G, probe)
        a = self.abar
        lp = probe(theta, -a, g)
        A = (lp - L0 + a * G) / (a * a)
        astar = G / (2.0 * A) if A != 0 else float("inf")
        alpha = astar if (A > 0 and np.isfinite(astar)) else a
        return theta.add(g, alpha=-alpha), alpha


class NewtonLR:
    """θ ← θ − ηg with the current η; then, with f(x) = L(θ − x·g) probed at the
    pre-update θ: η ← max(η − 2ε(f(η+ε) − f(η−ε))/(f(η+2ε) + f(η−2ε) − 2f(η) + δ), δ)."""

    def __init__(self, lr, eps=1e-5, delta=1e-6):
        self.eta, self.eps, self.delta = lr, eps, delta

    def step(self, theta, g, L0, probe, t, spe):
        eta, e = self.eta, self.eps
        fp, fm = probe(theta, -(eta + e), g), probe(theta, -(eta - e), g)
        fp2, fm2 = probe(theta, -(eta + 2 * e), g), probe(theta, -(eta - 2 * e), g)
        f0 = probe(theta, -eta, g)
        nxt = eta - 2 * e * (fp - fm) / (fp2 + fm2 - 2 * f0 + self.delta)
        self.eta = max(nxt, self.delta)
        return theta.add(g, alpha=-eta), eta


ADAPTIVE_IMPL = {"hgd": HGD, "l4gd": L4GD, "lqa": LQA, "qlabgrad": QLABGrad, "newton-lr": NewtonLR}


# ---------------------------------------------------------------------------------------------
# Replaying a run in PyTorch.

def replay(exp, method, lr, x_all, y_all, init, batches):
    """Per-step losses, applied lrs and probe counts of the PyTorch trajectory."""
    model = build_model(exp["model"])
    set_flat(model, torch.from_numpy(init).clone())  # the optimizers update it in place
    spe = exp["train_limit"] // BATCH
    losses, lrs, probes = [], [], []
    if method in TORCH_OPTIM:
        opt = TORCH_OPTIM[method](model.parameters(), lr)
        for idx in batches:
            x, y = x_all[idx], y_all[idx]
            opt.zero_grad(set_to_none=True)
            loss = batch_loss(model, x, y)
            loss.backward()
            opt.step()
            losses.append(float(loss))
            lrs.append(opt.param_groups[0]["lr"])
            probes.append(0)
        return losses, lrs, probes
    impl = ADAPTIVE_IMPL[method](lr)
    prober = Prober(exp["model"])
    theta = flat_params(model)
    for t, idx in enumerate(batches):
        x, y = x_all[idx], y_all[idx]
        set_flat(model, theta)
        model.zero_grad(set_to_none=True)
        loss = batch_loss(model, x, y)
        loss.backward()
        g = flat_grad(model)
        L0 = float(loss)
        before = prober.count
        theta, step_lr = impl.step(theta, g, L0, lambda th, c, v: prober(th, c, v, x, y), t, spe)
        losses.append(L0)
        lrs.append(step_lr)
        probes.append(prober.count - before)
        if not (np.isfinite(L0) and np.isfinite(step_lr)):
            break
    return losses, lrs, probes


# ---------------------------------------------------------------------------------------------
# The C run's own logged columns against the spec's rules, at every step (no PyTorch involved:
# this holds after the trajectories have decorrelated). The CSV prints 9 significant digits, so
# each logged value carries a relative rounding error below 5e-9; a rule holds when the two sides
# agree within the bound that this rounding allows, with U = 1e-8 per value (a factor 2 margin).
# The reported number is |lhs − rhs| / bound: the check passes at ≤ 1.

U = 1e-8


def col(rows, name):
    return np.array([float(r[name]) if r[name] not in ("", None) else np.nan for r in rows])


def within_rounding(lhs, rhs, bound):
    return np.abs(lhs - rhs) / np.maximum(bound, 1e-300)


def logged_rules(method, lr0, rows, spe):
    """[(rule, normalised errors, tol)] for the method's own logged quantities."""
    L0, lr = col(rows, "loss"), col(rows, "lr")
    prev = np.concatenate([[lr0], lr[:-1]])
    a = np.abs
    out = []
    if method == "hgd":  # α_t = α_{t−1} + β·h_t (β = 1e-3, α_0 = the sweep's lr)
        bh = 1e-3 * col(rows, "hypergrad")
        out.append(("a_t = a_{t-1} + beta*h_t",
                    within_rounding(lr, prev + bh, U * (a(lr) + a(prev) + a(bh))), 1.0))
    elif method == "l4gd":  # L_min: γ0·L_1, then min(κ·L_min, L_t); logged before ×κ
        lmin = col(rows, "l_min")
        want = np.concatenate([[0.75 * L0[0]], np.minimum(lmin[:-1] * 1.001, L0[1:])])
        out.append(("L_min = min(1.001*L_min, L)",
                    within_rounding(lmin, want, U * (a(lmin) + a(want))), 1.0))
    elif method == "lqa":
        lp, lm, d0 = col(rows, "l_plus"), col(rows, "l_minus"), col(rows, "delta0")
        out.append(("delta0_t = max(delta_{t-1}, 1e-6)",
                    within_rounding(d0, np.maximum(prev, 1e-6), U * (a(d0) + a(prev))), 1.0))
        num, curv = lp - lm, lp + lm - 2 * L0
        with np.errstate(divide="ignore", invalid="ignore"):
            dstar = d0 * num / (2 * curv)
            ok = (curv > 0) & np.isfinite(dstar) & (dstar > 0)
            rel = U * (a(lp) + a(lm)) / a(num) + U * (a(lp) + a(lm) + 2 * a(L0)) / a(curv) + 2 * U
            want = np.where(ok, dstar, d0)
            bound = np.where(ok, a(dstar) * rel, U * a(d0)) + U * a(lr)
        out.append(("delta = delta0 (L+ - L-) / (2 (L+ + L- - 2 L0))",
                    within_rounding(lr, want, bound), 1.0))
        fb = np.array([r["fallback"] == "lqa_curvature" for r in rows])
        out.append(("fallback iff not (b > 0 and delta* > 0)", (fb == ok).astype(float), 0.0))
    elif method == "qlabgrad":
        abar, lp = col(rows, "abar"), col(rows, "l_probe")
        findplr = np.arange(len(rows)) % spe == 0  # before step 1 and at each epoch's start
        changed = np.concatenate([[False], abar[1:] != abar[:-1]])
        out.append(("abar fixed between FindPLR calls", (changed & ~findplr).astype(float), 0.0))
        # Algorithm 2 leaves ā with L(θ − ā·g) ≤ L0, and the step probes at that ā
        out.append(("L(theta - abar g) <= L0 after FindPLR",
                    ((lp > L0) & findplr).astype(float), 0.0))
    elif method == "newton-lr":
        fp, fm, fp2, fm2, f0 = (col(rows, k)
                                for k in ("f_plus", "f_minus", "f_plus2", "f_minus2", "f0"))
        eps, delta = 1e-5, 1e-6
        d1, d2 = fp - fm, fp2 + fm2 - 2 * f0 + delta
        corr = 2 * eps * d1 / d2
        want = np.maximum(lr - corr, delta)
        bound = U * (a(lr) + a(want)) + a(corr) * (U * (a(fp) + a(fm)) / a(d1) +
                                                   U * (a(fp2) + a(fm2) + 2 * a(f0)) / a(d2))
        out.append(("eta_{t+1} = max(eta_t - 2 eps D1/(D2 + delta), delta)",
                    np.concatenate([[0.0], within_rounding(lr[1:], want[:-1], bound[:-1])]), 1.0))
    return out


# ---------------------------------------------------------------------------------------------
# Running lqabench.

def run_label(name):
    return name.replace("-", "_")


def write_config(tmp, exp):
    opts = [dict(name=n, lr=exp["lr"][n], label=run_label(n)) for n in CLASSIC + ADAPTIVE]
    for o in opts:  # NewtonLR above is the "always" reading of δ (the default is conditional)
        if o["name"] == "newton-lr":
            o["delta_mode"] = "always"
    cfg = dict(name="xcheck_" + exp["model"], model=exp["model"], dataset="mnist",
               batch_size=BATCH, steps=exp["steps"], seeds=[SEED], init="default",
               normalize="unit", train_limit=exp["train_limit"], shuffle=True, drop_last=True,
               eval_train=False, eval_test=False, dump_init=True, dump_batches=True,
               output_dir=os.path.join(tmp, exp["model"]), optimizers=opts)
    path = os.path.join(tmp, exp["model"] + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path, cfg["output_dir"]


def start_lqabench(binary, config, env):
    return subprocess.Popen([binary, "--config", config, "--threads", "1", "--quiet",
                             "--no-timing"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def read_run(outdir, run_id, n_params):
    with open(os.path.join(outdir, run_id + ".steps.csv")) as f:
        rows = list(csv.DictReader(f))
    init = np.fromfile(os.path.join(outdir, run_id + ".init.f32"), dtype=np.float32)
    if init.size != n_params:
        raise ValueError(f"{run_id}.init.f32: {init.size} floats, expected {n_params}")
    b = np.fromfile(os.path.join(outdir, run_id + ".batches.i32"), dtype=np.int32)
    if b.size != len(rows) * BATCH:
        raise ValueError(f"{run_id}.batches.i32: {b.size} indices for {len(rows)} steps of {BATCH}")
    batches = [torch.from_numpy(r.astype(np.int64)) for r in b.reshape(len(rows), BATCH)]
    return rows, init, batches


def rel_diffs(c, t):
    c, t = np.asarray(c, dtype=np.float64), np.asarray(t, dtype=np.float64)
    return np.abs(c - t) / np.maximum(np.abs(t), 1e-12)


# ---------------------------------------------------------------------------------------------

class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def fail(self, label, why):
        self.failed += 1
        print(f"FAIL {label}: {why}", flush=True)

    def check(self, label, diffs, tol, first=1):
        """Pass when every value of diffs (steps first, first+1, ...) is ≤ tol."""
        d = np.asarray(diffs, dtype=np.float64)
        if len(d) == 0:
            return self.fail(label, "nothing to compare")
        bad = ~(d <= tol)  # NaN fails
        worst = float(np.nanmax(d)) if np.isfinite(d).any() else float("nan")
        at = int(np.nanargmax(d)) + first if np.isfinite(d).any() else first
        ok = not bad.any()
        self.passed += ok
        self.failed += not ok
        span = f"steps {first}-{first + len(d) - 1}"
        over = f", first over at step {int(np.argmax(bad)) + first}" if not ok else ""
        print(f"{'PASS' if ok else 'FAIL'} {label:<46} {span:<13} max {worst:.3g} (step {at}), "
              f"tol {tol:.3g}{over}", flush=True)


def compare(checks, exp, method, lr, rows, t_loss, t_lr, t_probes, verbose):
    m, steps = exp["model"], exp["steps"]
    name = f"{m}/{method}"
    if len(rows) != steps or len(t_loss) != steps:
        checks.fail(name, f"lqabench ran {len(rows)} steps, PyTorch {len(t_loss)}, "
                    f"expected {steps} "
                    "(a run diverged)")
    n = min(len(rows), len(t_loss))
    c_loss, c_lr = col(rows, "loss")[:n], col(rows, "lr")[:n]
    diffs = {"loss": rel_diffs(c_loss, t_loss[:n]), "lr": rel_diffs(c_lr, t_lr[:n])}
    if verbose:
        for k, d in diffs.items():
            print(f"    {name} {k}: max per 10 steps " +
                  " ".join(f"{d[j:j + 10].max():.0e}" for j in range(0, n, 10)))
    for column in ("loss", "lr"):
        if method in TORCH_OPTIM and column == "lr":  # the base rate: exact
            checks.check(f"{name} lr (the configured rate)", diffs["lr"], 0.0)
            continue
        k, tight, full = TOL[(m, method, column)]
        what = "loss vs PyTorch" if column == "loss" else "applied lr vs PyTorch"
        checks.check(f"{name} {what}", diffs[column][:k] if k else diffs[column], tight)
        if k and k < n and full is not None:
            checks.check(f"{name} {what} (whole run)", diffs[column], full)
    # forward/backward counts: 1 forward + the probes (FindPLR trials included), 1 backward
    fwd, bwd = col(rows, "fwd")[:n], col(rows, "bwd")[:n]
    k = TOL.get((m, method, "counts"), n)
    want = np.cumsum(1 + np.asarray(t_probes[:n], dtype=np.float64))
    checks.check(f"{name} fwd/bwd counts vs PyTorch's probes",
                  (np.abs(fwd - want) + np.abs(bwd - np.arange(1, n + 1)))[:k], 0.0)
    for rule, d, tol in logged_rules(method, lr, rows[:n], exp["train_limit"] // BATCH):
        checks.check(f"{name} csv: {rule}", d, tol)


def main():
    global torch, np, torch_models
    try:
        import numpy as np
        import torch
        sys.path.insert(0, os.path.join(ROOT, "scripts"))
        import torch_models
    except ImportError as e:
        print(f"torch_crosscheck: cannot import torch/numpy ({e}); run with /usr/bin/python3")
        print("torch_crosscheck: 0 passed, 0 failed")
        return 77
    verbose = "-v" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "-v"]
    binary = os.path.abspath(args[0] if args else os.environ.get("LQA_BIN") or
                             os.path.join(ROOT, "lqabench"))
    data_root = os.path.abspath(os.environ.get("LQA_DATA_DIR") or os.path.join(ROOT, "data"))
    data_dir = os.path.join(data_root, "mnist")
    if not os.access(binary, os.X_OK):
        print(f"torch_crosscheck: {binary} not found or not executable (make lqabench)")
        print("torch_crosscheck: 0 passed, 0 failed")
        return 77
    if not any(os.path.exists(os.path.join(data_dir, "train-images-idx3-ubyte" + s))
               for s in ("", ".gz")):
        print(f"torch_crosscheck: no MNIST in {data_dir} (make data, or set LQA_DATA_DIR)")
        print("torch_crosscheck: 0 passed, 0 failed")
        return 77
    torch.set_num_threads(1)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", LQA_DATA_DIR=data_root)
    t_start = time.time()
    checks = Checks()

    with tempfile.TemporaryDirectory(prefix="lqa_xcheck_") as tmp:
        jobs = [(exp,) + write_config(tmp, exp) for exp in EXPERIMENTS]
        # lqabench runs the next sweep (one thread) while PyTorch replays the previous one.
        proc = start_lqabench(binary, jobs[0][1], env)
        for i, (exp, cfg, outdir) in enumerate(jobs):
            out, _ = proc.communicate()
            rc = proc.returncode
            if i + 1 < len(jobs):
                proc = start_lqabench(binary, jobs[i + 1][1], env)
            m = exp["model"]
            if rc != 0:
                checks.fail(f"lqabench {m} sweep", f"exit status {rc}\n{out}")
            x_all, y_all = torch_models.load_mnist(data_dir, exp["train_limit"])
            n_params = sum(p.numel() for p in build_model(m).parameters())
            for method in CLASSIC + ADAPTIVE:
                lr = exp["lr"][method]
                run_id = f"{run_label(method)}_lr{lr:g}_s{SEED}"
                try:
                    rows, init, batches = read_run(outdir, run_id, n_params)
                except (OSError, ValueError) as e:
                    checks.fail(f"{m}/{method}", str(e))
                    continue
                t0 = time.time()
                t_loss, t_lr, t_probes = replay(exp, method, lr, x_all, y_all, init, batches)
                if verbose:
                    print(f"    {m}/{method}: PyTorch replay {time.time() - t0:.1f}s")
                compare(checks, exp, method, lr, rows, t_loss, t_lr, t_probes, verbose)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"torch_crosscheck: {time.time() - t_start:.0f}s")
    print(f"torch_crosscheck: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
