#!/usr/bin/python3
"""torch_nlr_val_check.py — newton-lr's validation-batch variant ("eta_batch": "validation")
against an independent PyTorch replay.

Run with Debian's interpreter, which has python3-torch:
    /usr/bin/python3 tests/torch_nlr_val_check.py [path/to/lqabench]
MNIST from $LQA_DATA_DIR/mnist (else data/mnist). Exit 0 all passed, 1 a check failed, 77 when
torch, the binary or the data are missing.

lqabench runs logistic regression on the first 400 MNIST training images (the last 100 held out
as the validation split), batch 32, 12 steps, newton-lr with eta_batch validation, --threads 1,
dumping the initial vector and the training batches. The replay here rebuilds the model as
torch.nn.Linear, takes each step's training batch from the dump and the held-out batch from
the documented rule (step t, 0-based: validation samples (t·32 + j) mod 100, j < 32; the
validation split is the last 100 of the 400), and checks at every step:
  * the loss column: the training-batch loss at θ_t (float64 reduction of float32 logits);
  * the five f columns: the held-out batch's loss at θ_t − x·g_t for x = η ± ε, η ± 2ε, η,
    with g_t the training gradient and η the logged lr — so the probes' batch, their trial
    points and their direction are checked, not only the η trajectory;
  * the η rule from the logged values: η_{t+1} = η_t − 2ε(f+ − f−)/(f+2 + f−2 − 2f0 + δ)
    (delta_mode always), floored at δ, within the error that the CSV's 9-digit rounding of the
    f values and of η allows (the ratio to that bound must be ≤ 1).
θ follows lqabench's logged η (θ_{t+1} = θ_t − η_t·g_t in float32), so the replay does not
drift with the η trajectory's own rounding noise. A replay that used the training batch for
the probes instead (the default eta_batch) fails the f checks by orders of magnitude (checked
by setting USE_TRAIN_BATCH = True).
"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT, VAL, BATCH, STEPS, EPS, DELTA, LR = 400, 100, 32, 12, 1e-5, 1e-6, 0.05
USE_TRAIN_BATCH = False  # sensitivity: True must make the f checks fail
U = 2.0 ** -29  # the CSV's %.9g rounding, relative


def h_of(v):
    """Half a unit of the 9th significant digit of v (the CSV's %.9g rounding)."""
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(v))) - 8) if v else 0.0


def main():
    global np, torch
    try:
        import numpy as np
        import torch
        sys.path.insert(0, os.path.join(ROOT, "scripts"))
        import torch_models
    except ImportError:
        print("torch_nlr_val_check: skipped (no torch/numpy; run with /usr/bin/python3)")
        return 77
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("LQA_BIN", os.path.join(ROOT, "lqabench"))
    data = os.path.join(os.environ.get("LQA_DATA_DIR", os.path.join(ROOT, "data")), "mnist")
    if not os.path.exists(binary) or not any(os.path.exists(os.path.join(data, "train-images-idx3-ubyte") + s)
                                             for s in ("", ".gz")):
        print("torch_nlr_val_check: skipped (binary or MNIST missing)")
        return 77
    torch.set_num_threads(1)
    x, y = torch_models.load_mnist(data, LIMIT)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dict(name="nlrval", model="logreg", dataset="mnist", data_dir=data, batch_size=BATCH,
                   steps=STEPS, seeds=[1], init="default", normalize="unit", train_limit=LIMIT,
                   validation=VAL, eval_train=False, eval_test=False, dump_init=True,
                   dump_batches=True, output_dir=os.path.join(tmp, "o"),
                   optimizers=[dict(name="newton-lr", lr=LR, delta_mode="always",
                                    eta_batch="validation")])
        with open(os.path.join(tmp, "c.json"), "w") as f:
            json.dump(cfg, f)
        subprocess.run([binary, "--config", os.path.join(tmp, "c.json"), "--threads", "1", "--quiet",
                        "--no-timing"], check=True)
        out = cfg["output_dir"]
        run = [f[:-10] for f in os.listdir(out) if f.endswith(".steps.csv")][0]
        with open(os.path.join(out, run + ".steps.csv")) as f:
            rows = list(csv.DictReader(f))
        theta = torch.from_numpy(np.fromfile(os.path.join(out, run + ".init.f32"), dtype=np.float32))
        batches = np.fromfile(os.path.join(out, run + ".batches.i32"), dtype=np.int32).reshape(-1, BATCH)

    model = torch.nn.Linear(784, 10)
    params = list(model.parameters())

    def set_flat(v):
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(v, params)

    def loss(v, xb, yb, grad=False):
        set_flat(v)
        for p in params:
            p.grad = None
        if not grad:
            with torch.no_grad():
                return float(torch.nn.functional.cross_entropy(model(xb).double(), yb)), None
        l = torch.nn.functional.cross_entropy(model(xb).double(), yb)
        l.backward()
        return float(l), torch.cat([p.grad.reshape(-1) for p in params]).detach().float().clone()

    n_train = LIMIT - VAL
    worst = {"loss": 0.0, "f": 0.0, "eta": 0.0}
    fails = 0
    for t, r in enumerate(rows):
        idx = torch.from_numpy(batches[t].astype(np.int64))
        assert int(idx.max()) < n_train, "a training batch reached into the validation split"
        L0, g = loss(theta, x[idx], y[idx], grad=True)
        worst["loss"] = max(worst["loss"], abs(L0 - float(r["loss"])) / abs(L0))
        vidx = torch.tensor([n_train + (t * BATCH + j) % VAL for j in range(BATCH)])
        if USE_TRAIN_BATCH:
            vidx = idx
        eta = float(r["lr"])
        for col, xo in (("f_plus", EPS), ("f_minus", -EPS), ("f_plus2", 2 * EPS), ("f_minus2", -2 * EPS),
                        ("f0", 0.0)):
            want, _ = loss(theta.add(g, alpha=-(eta + xo)), x[vidx], y[vidx])
            worst["f"] = max(worst["f"], abs(want - float(r[col])) / abs(want))
        if t + 1 < len(rows):
            f = [float(r[k]) for k in ("f_plus", "f_minus", "f_plus2", "f_minus2", "f0")]
            d1, d2 = f[0] - f[1], f[2] + f[3] - 2 * f[4] + DELTA
            nxt = max(eta - 2 * EPS * d1 / d2, DELTA)
            # the f columns are rounded to 9 significant digits: half a unit of the 9th digit
            h = [0.5 * 10.0 ** (math.floor(math.log10(abs(v))) - 8) for v in f]
            dd1, dd2 = h[0] + h[1], h[2] + h[3] + 2 * h[4]
            bound = 2 * EPS * (dd1 / d2 + abs(d1) * dd2 / d2 ** 2) + 2 * U * (abs(eta) + abs(nxt)) + h_of(eta)
            err = abs(float(rows[t + 1]["lr"]) - nxt) / max(bound, 1e-300)
            worst["eta"] = max(worst["eta"], err)
        theta = theta.add(g, alpha=-eta)
    tol = {"loss": 1e-6, "f": 1e-6, "eta": 1.0}
    passed = 0
    for k in ("loss", "f", "eta"):
        ok = worst[k] <= tol[k]
        passed += ok
        fails += not ok
        print(f"{'PASS' if ok else 'FAIL'} newton-lr eta_batch validation: {k:<5} max {worst[k]:.3g}, tol {tol[k]:.3g}")
    print(f"torch_nlr_val_check: {passed} passed, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
