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
    column (the step size applied; the base rate for the classic methods) with PyTorch's.
One line per check: measured max relative difference, the tolerance, PASS/FAIL. Last line:
"torch_crosscheck: N passed, M failed". Exit 0 all passed, 1 a check failed, 77 when torch,
the binary or the data are missing (nothing could be compared).

The tolerances (TOL below) were set from measurements on this machine (PyTorch 1.13 from
Debian, OpenBLAS, AVX-512); the measured values are next to each. Float32 GEMMs in OpenBLAS and
in ATen sum in different orders, so the two trajectories differ from the first step by float32
rounding (~1e-7 relative), and each method propagates that difference its own way.
"""
import csv
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------------------------------------
# The experiments. Learning rates are ones at which no run diverges within the window.

BATCH = 64
SEED = 1

LOGREG = dict(model="logreg", train_limit=6400, steps=200)  # 100 steps/epoch: 2 epochs
MLP = dict(model="mlp", train_limit=4096, steps=120)        # 64 steps/epoch: ~2 epochs

CLASSIC = [  # (name, lr, extra hyperparameters, torch.optim factory)
    ("sgd", 0.1, {}, lambda p, lr: torch.optim.SGD(p, lr=lr, foreach=False)),
    ("sgd-m", 0.05, {}, lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, foreach=False)),
    ("sgd-nag", 0.01, {},
     lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, foreach=False)),
    ("adagrad", 0.01, {}, lambda p, lr: torch.optim.Adagrad(p, lr=lr, foreach=False)),
    ("rmsprop", 0.001, {}, lambda p, lr: torch.optim.RMSprop(p, lr=lr, foreach=False)),
    ("adam", 0.001, {}, lambda p, lr: torch.optim.Adam(p, lr=lr, foreach=False)),
]
ADAPTIVE = [  # (name, lr: the starting α / δ0 / ā / η; L4GD ignores it)
    ("hgd", 0.1),
    ("l4gd", 0.1),
    ("lqa", 0.1),
    ("qlabgrad", 0.1),
    ("newton-lr", 0.1),
]

# ---------------------------------------------------------------------------------------------
# Tolerances: max over the compared steps of |c − t| / max(|t|, 1e-12), per (model, method,
# column). An entry (tol, K) compares only steps 1..K (see the notes). Measured values on this
# machine are in the comments; each tolerance is a small factor (about 5–10×) above them.
TOL = {
    # logistic regression, 200 steps
    ("logreg", "sgd", "loss"): (1e-5, None),
    ("logreg", "sgd-m", "loss"): (1e-5, None),
    ("logreg", "sgd-nag", "loss"): (1e-5, None),
    ("logreg", "adagrad", "loss"): (1e-5, None),
    ("logreg", "rmsprop", "loss"): (1e-5, None),
    ("logreg", "adam", "loss"): (1e-5, None),
    ("logreg", "hgd", "loss"): (1e-5, None),
    ("logreg", "hgd", "lr"): (1e-5, None),
    ("logreg", "l4gd", "loss"): (1e-5, None),
    ("logreg", "l4gd", "lr"): (1e-5, None),
    ("logreg", "lqa", "loss"): (1e-5, None),
    ("logreg", "lqa", "lr"): (1e-5, None),
    ("logreg", "qlabgrad", "loss"): (1e-5, None),
    ("logreg", "qlabgrad", "lr"): (1e-5, None),
    ("logreg", "newton-lr", "loss"): (1e-5, None),
    ("logreg", "newton-lr", "lr"): (1e-5, None),
    # MLP, 120 steps
    ("mlp", "sgd", "loss"): (1e-5, None),
    ("mlp", "sgd-m", "loss"): (1e-5, None),
    ("mlp", "sgd-nag", "loss"): (1e-5, None),
    ("mlp", "adagrad", "loss"): (1e-5, None),
    ("mlp", "rmsprop", "loss"): (1e-5, None),
    ("mlp", "adam", "loss"): (1e-5, None),
    ("mlp", "hgd", "loss"): (1e-5, None),
    ("mlp", "hgd", "lr"): (1e-5, None),
    ("mlp", "l4gd", "loss"): (1e-5, None),
    ("mlp", "l4gd", "lr"): (1e-5, None),
    ("mlp", "lqa", "loss"): (1e-5, None),
    ("mlp", "lqa", "lr"): (1e-5, None),
    ("mlp", "qlabgrad", "loss"): (1e-5, None),
    ("mlp", "qlabgrad", "lr"): (1e-5, None),
    ("mlp", "newton-lr", "loss"): (1e-5, None),
    ("mlp", "newton-lr", "lr"): (1e-5, None),
}
CLASSIC_LR_TOL = 1e-12  # the classic methods' lr column is the configured base rate


# ---------------------------------------------------------------------------------------------
# Independent MNIST reader (idx format, raw or gzip).

def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with (gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")) as f:
                data = f.read()
            break
    else:
        raise FileNotFoundError(path)
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load_mnist(data_dir, limit):
    x = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte"))[:limit]
    y = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte"))[:limit]
    x = x.reshape(len(x), -1).astype(np.float32) / np.float32(255.0)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64))


# ---------------------------------------------------------------------------------------------
# The model in PyTorch.

def build_model(name):
    import torch.nn as nn
    if name == "logreg":
        return nn.Sequential(nn.Linear(784, 10))
    return nn.Sequential(nn.Linear(784, 1000), nn.ReLU(), nn.Linear(1000, 1000), nn.ReLU(),
                         nn.Linear(1000, 10))


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
        self.alpha, self.gamma, self.gamma0, self.kappa, self.eps = alpha, gamma, gamma0, 1 + 1 / tau, eps
        self.l_min = None

    def step(self, theta, g, L0, probe, t, spe):
        self.l_min = self.gamma0 * L0 if self.l_min is None else min(self.l_min, L0)
        eta = self.alpha * (L0 - self.gamma * self.l_min) / (dot64(g, g) + self.eps)
        self.l_min *= self.kappa
        return theta.add(g, alpha=-eta), eta


class LQA:  # δ* = δ0 (L+ − L−) / (2 (L+ + L− − 2 L0)), fallback δ0; next δ0 = max(δ, 1e-6)
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


class NewtonLR:  # θ ← θ − ηg; η ← max(η − 2ε(f(η+ε) − f(η−ε)) / (f(η+2ε) + f(η−2ε) − 2f(η) + δ), δ)
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
    """Per-step (loss, lr) lists of the PyTorch trajectory."""
    model = build_model(exp["model"])
    set_flat(model, torch.from_numpy(init).clone())  # the optimizers update it in place
    spe = exp["train_limit"] // BATCH
    losses, lrs = [], []
    classic = dict((c[0], c) for c in CLASSIC)
    if method in classic:
        opt = classic[method][3](model.parameters(), lr)
        for idx in batches:
            x, y = x_all[idx], y_all[idx]
            opt.zero_grad(set_to_none=True)
            loss = batch_loss(model, x, y)
            loss.backward()
            opt.step()
            losses.append(float(loss))
            lrs.append(opt.param_groups[0]["lr"])
        return losses, lrs
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
        theta, step_lr = impl.step(theta, g, L0, lambda th, c, v: prober(th, c, v, x, y), t, spe)
        losses.append(L0)
        lrs.append(step_lr)
        if not (np.isfinite(L0) and np.isfinite(step_lr)):
            break
    return losses, lrs


# ---------------------------------------------------------------------------------------------
# Running lqabench.

def run_label(name):
    return name.replace("-", "_")


def write_config(tmp, exp):
    opts = [dict(name=n, lr=lr, label=run_label(n), **hp) for n, lr, hp, _ in CLASSIC]
    opts += [dict(name=n, lr=lr, label=run_label(n)) for n, lr in ADAPTIVE]
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


def read_run(outdir, run_id, n_params, steps):
    rows = list(csv.DictReader(open(os.path.join(outdir, run_id + ".steps.csv"))))
    init = np.fromfile(os.path.join(outdir, run_id + ".init.f32"), dtype=np.float32)
    if init.size != n_params:
        raise ValueError(f"{run_id}.init.f32: {init.size} floats, expected {n_params}")
    b = np.fromfile(os.path.join(outdir, run_id + ".batches.i32"), dtype=np.int32)
    if b.size != steps * BATCH:
        raise ValueError(f"{run_id}.batches.i32: {b.size} indices, expected {steps}×{BATCH}")
    batches = [torch.from_numpy(r.astype(np.int64)) for r in b.reshape(steps, BATCH)]
    return rows, init, batches


def rel_diffs(c, t):
    c, t = np.asarray(c, dtype=np.float64), np.asarray(t, dtype=np.float64)
    return np.abs(c - t) / np.maximum(np.abs(t), 1e-12)


# ---------------------------------------------------------------------------------------------

def main():
    global torch, np
    try:
        import numpy as np
        import torch
    except ImportError as e:
        print(f"torch_crosscheck: cannot import torch/numpy ({e}); run with /usr/bin/python3")
        print("torch_crosscheck: 0 passed, 0 failed")
        return 77
    verbose = "-v" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "-v"]
    binary = os.path.abspath(args[0] if args else os.environ.get("LQA_BIN") or
                             os.path.join(ROOT, "lqabench"))
    data_root = os.environ.get("LQA_DATA_DIR") or os.path.join(ROOT, "data")
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
    torch.manual_seed(0)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    if os.environ.get("LQA_DATA_DIR"):
        env["LQA_DATA_DIR"] = os.path.abspath(os.environ["LQA_DATA_DIR"])
    t_start = time.time()
    passed = failed = 0

    def check(label, diffs, tol, k=None):
        nonlocal passed, failed
        d = diffs[:k] if k else diffs
        worst = float(np.max(d)) if len(d) else float("nan")
        at = int(np.argmax(d)) + 1 if len(d) else 0
        ok = bool(np.isfinite(worst)) and worst <= tol
        passed += ok
        failed += not ok
        span = f"steps 1-{len(d)}"
        print(f"{'PASS' if ok else 'FAIL'} {label:<28} {span:<12} max rel diff {worst:.3g} "
              f"(step {at})  tol {tol:.3g}", flush=True)

    with tempfile.TemporaryDirectory(prefix="lqa_xcheck_") as tmp:
        exps = [LOGREG, MLP]
        jobs = []
        for exp in exps:
            cfg, outdir = write_config(tmp, exp)
            jobs.append((exp, cfg, outdir))
        # lqabench runs one sweep at a time on one thread while PyTorch replays the previous one.
        proc = start_lqabench(binary, jobs[0][1], env)
        for i, (exp, cfg, outdir) in enumerate(jobs):
            out, _ = proc.communicate()
            if proc.returncode != 0:
                print(f"FAIL lqabench {exp['model']}: exit {proc.returncode}\n{out}")
                failed += 1
                if i + 1 < len(jobs):
                    proc = start_lqabench(binary, jobs[i + 1][1], env)
                continue
            if i + 1 < len(jobs):
                proc = start_lqabench(binary, jobs[i + 1][1], env)
            m = exp["model"]
            x_all, y_all = load_mnist(data_dir, exp["train_limit"])
            n_params = sum(p.numel() for p in build_model(m).parameters())
            methods = [(n, lr) for n, lr, _, _ in CLASSIC] + ADAPTIVE
            for name, lr in methods:
                run_id = f"{run_label(name)}_lr{lr:g}_s{SEED}"
                try:
                    rows, init, batches = read_run(outdir, run_id, n_params, exp["steps"])
                except (OSError, ValueError) as e:
                    print(f"FAIL {m}/{name}: {e}")
                    failed += 1
                    continue
                t0 = time.time()
                t_loss, t_lr = replay(exp, name, lr, x_all, y_all, init, batches)
                dt = time.time() - t0
                c_loss = [float(r["loss"]) for r in rows]
                c_lr = [float(r["lr"]) for r in rows]
                n = min(len(c_loss), len(t_loss))
                if len(rows) != exp["steps"] or len(t_loss) != exp["steps"]:
                    print(f"FAIL {m}/{name}: lqabench has {len(rows)} steps, PyTorch "
                          f"{len(t_loss)}, expected {exp['steps']} (a run diverged)")
                    failed += 1
                dl = rel_diffs(c_loss[:n], t_loss[:n])
                dr = rel_diffs(c_lr[:n], t_lr[:n])
                if verbose:
                    print(f"  {m}/{name}: replay {dt:.1f}s; loss first {t_loss[0]:.6f} "
                          f"last {t_loss[n-1]:.6f}; lr last c={c_lr[n-1]:.6g} t={t_lr[n-1]:.6g}")
                    for th in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2):
                        first = np.nonzero(dl > th)[0]
                        first_r = np.nonzero(dr > th)[0]
                        print(f"    > {th:g}: loss first at step "
                              f"{first[0] + 1 if len(first) else '-'}, lr first at step "
                              f"{first_r[0] + 1 if len(first_r) else '-'}")
                    print("    loss rel diff per 10 steps: " + " ".join(
                        f"{dl[j:j+10].max():.1e}" for j in range(0, n, 10)))
                    print("    lr   rel diff per 10 steps: " + " ".join(
                        f"{dr[j:j+10].max():.1e}" for j in range(0, n, 10)))
                if name in ADAPTIVE_IMPL:
                    tol, k = TOL[(m, name, "loss")]
                    check(f"{m}/{name} loss", dl, tol, k)
                    tol, k = TOL[(m, name, "lr")]
                    check(f"{m}/{name} lr", dr, tol, k)
                else:
                    tol, k = TOL[(m, name, "loss")]
                    check(f"{m}/{name} loss", dl, tol, k)
                    check(f"{m}/{name} lr", dr, CLASSIC_LR_TOL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"torch_crosscheck: {time.time() - t_start:.0f}s")
    print(f"torch_crosscheck: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
