#!/usr/bin/python3
"""torch_models_check.py — the convolutional models against PyTorch, from identical weights and batch.

Run with Debian's interpreter, which has python3-torch (the pyenv python3 on PATH has none):
    /usr/bin/python3 tests/torch_models_check.py [path/to/dump_model]
The tool is argv[1], else $LQA_DUMP_MODEL, else build/tools/dump_model under the repository root.

For each case, tools/dump_model creates the model (default init, seed 1), draws an input batch and
labels, runs one FWD_TRAIN forward and backward and writes params, BN state before/after, input,
labels, loss and gradients (raw float32/int32), then runs plain SGD (lr 0.05) for 3 steps on the
same batch and records the loss at θ0..θ3 (each a training forward, so BN running statistics
move 4 times). This script builds the same architecture in PyTorch (written here; no torchvision),
copies the flat parameter vector and the BN buffers in model.parameters()/buffers() order, and
compares, each against PyTorch in float64 with a tolerance tied to PyTorch float32's own error
(see "Tolerances" below):
  * the loss;
  * every parameter tensor's gradient, as  max|g_c − g_t| / max|g_t|  (per tensor);
  * the BN running statistics after the step (running_mean, running_var of each BN);
  * the 4 losses of the SGD trajectory (torch.optim.SGD, lr 0.05) and the final BN statistics.
One line per check with the measured values and the tolerance. Last line
"torch_models_check: N passed, M failed"; exit 1 on failure, 77 when torch or the tool is missing.
Environment: LQA_MODELS_SEED (default 1) and LQA_MODELS_ONLY (a model name) for re-measuring.

The ResNet-18 cases: a toy (width 4, below Winograd's 16 channels), width 16 on 16×16 inputs
(Winograd on every 3×3 stride-1 layer), the same with the opt-in "conv_algo": "winograd4", and
the full model. winograd4 is checked only at width 16: on the full model (seed 1) it exceeds the
tolerances below on 43 of 69 quantities (gradients up to 3e-2 from float64 where PyTorch float32
is at 1e-6; F(4×4, 3×3) rounds ~10× worse and one ReLU at 4e-9 of the max switches), which is why
it is not the default. At width 16 its worst gradient error is 9.1e-6 (ratio 4.7 to PyTorch
float32's; winograd2: 2.6e-6, ratio 1.9).
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import torch_models
except ImportError as e:  # pragma: no cover
    print(f"torch_models_check: cannot import torch/numpy ({e}); skipped")
    sys.exit(77)

# (model, C, H, W, batch, width[, conv_algo])
CASES = [
    ("lenet5", 1, 28, 28, 16, 0),
    ("lenet5", 3, 32, 32, 16, 0),
    ("cnn2", 1, 28, 28, 16, 0),
    ("cnn2", 3, 32, 32, 16, 0),
    ("resnet18", 3, 8, 8, 8, 4),
    ("resnet18", 3, 32, 32, 8, 0),
    ("resnet18", 3, 16, 16, 4, 16),
    ("resnet18", 3, 16, 16, 4, 16, "winograd4"),
]
SGD_STEPS = 3
LR = 0.05
SEED = int(os.environ.get("LQA_MODELS_SEED", "1"))  # other seeds: for re-measuring tolerances
ONLY = os.environ.get("LQA_MODELS_ONLY")  # e.g. "resnet18": run only that model's cases

# Tolerances. Every quantity is compared with PyTorch in float64 (the same float32 weights and
# batch, computed in double), and the C error  e_C = max|c − t64| / max|t64|  must satisfy
#     e_C ≤ max(FLOOR[kind], K_TORCH32 · e_32),   e_32 = max|t32 − t64| / max|t64|,
# i.e. lqabench is never more than K_TORCH32 times less accurate than PyTorch's own float32
# computation of the same quantity, and always passes below the floor. (C − t32 is printed too.)
# Why not a fixed tolerance against float32 PyTorch: some ResNet-18 gradients are ill-conditioned
# sums (a BN bias gradient is Σ over N = B·H·W of a gradient whose per-channel mean the next BN's
# backward has just removed): float32 PyTorch itself is off by up to 8e-3 there (measured:
# layer2.0.conv2.weight, batch 8, seed 1) where lqabench is at 1e-6, and vice versa on other
# tensors; and the SGD trajectory on one batch of 8 (loss 2.31 → 0.016 in 3 steps) amplifies
# rounding to ~1e-2 by θ3. Measured on this machine, seeds 1 and 2 (LQA_MODELS_SEED):
#   loss at θ0: e_C ≤ 4e-7                                        → floor 5e-6
#   grads: e_C ≤ 1.8e-5 where PyTorch float32 is accurate (toy ResNet); on the ill-conditioned
#          full-width tensors e_C ≤ 2.8e-3 with e_32 ≥ 1.1e-3 on the same tensor (ratio ≤ 2.5)
#                                                                 → floor 1e-4, K_TORCH32 = 5
#   BN running stats after one step: e_C ≤ 1.2e-7                 → floor 2e-6
#   SGD losses at θ1..θ3: e_C ≤ 1.1e-5 where e_32 is 1.7e-6; BN stats after 4 forwards e_C ≤ 8e-3
#          with e_32 ≥ 4e-3                                       → floor 1e-4
# A ReLU that switches between the two computations (a pre-activation within float32 rounding of
# 0) is a genuine non-differentiable point, not an error: with seed 3, one stem activation of
# 1.8e-8 (float64) comes out −4.9e-8 in lqabench and the stem gradients then differ by 2e-2.
# The script prints the smallest |pre-ReLU| / max over the float64 forward so such a case is
# recognisable; with the default seed 1 it does not occur.
FLOOR = {"loss": 5e-6, "grad": 1e-4, "bn": 2e-6, "sgd": 1e-4}
K_TORCH32 = 5.0

_RELU_NEAR = []  # min |x|/max|x| of each relu() input while recording (the float64 forward)
_RELU_NEAR_ON = [False]


def relu(x):
    if _RELU_NEAR_ON[0]:
        a = x.detach().abs()
        _RELU_NEAR.append(float(a.min() / a.max().clamp_min(1e-300)))
    return F.relu(x)


def build(model, c, h, w, width):
    return torch_models.build(model, c, h, w, width, act=relu)


def state_buffers(net):
    return [b for n, b in net.named_buffers() if not n.endswith("num_batches_tracked")]


def load_flat(tensors, flat):
    off = 0
    for t in tensors:
        n = t.numel()
        t.data.copy_(torch.from_numpy(flat[off:off + n].copy()).view_as(t))
        off += n
    return off


def flat_of(tensors):
    if not tensors:
        return np.zeros(0, np.float32)
    return torch.cat([t.detach().reshape(-1) for t in tensors]).numpy()


def rel_max(c, t):
    c = np.asarray(c, np.float64)
    t = np.asarray(t, np.float64)
    scale = np.max(np.abs(t)) if t.size else 0.0
    diff = np.max(np.abs(c - t)) if t.size else 0.0
    return diff / scale if scale > 0 else diff


class Checker:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, what, measured, tol):
        ok = bool(measured <= tol)  # NaN fails
        self.passed += ok
        self.failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {what}: {measured:.3e} (tol {tol:.0e})")


def compare(ck, tag, what, kind, c_val, v32, v64):
    """C against float64 PyTorch, tolerance max(floor, K × PyTorch-float32's own error)"""
    e_c, e_32, e_ct = rel_max(c_val, v64), rel_max(v32, v64), rel_max(c_val, v32)
    tol = max(FLOOR[kind], K_TORCH32 * e_32)
    ck.check(f"{tag}: {what} [C-t64 {e_c:.1e}, t32-t64 {e_32:.1e}, C-t32 {e_ct:.1e}]", e_c, tol)


def compare_loss_grads(ck, tag, meta, grads, t32, t64):
    """The dump's loss and every parameter's gradient against PyTorch's; t32, t64: the float32
    and float64 runs, (loss, [(name, gradient)], ...)."""
    compare(ck, tag, f"loss {float(meta['loss']):.7f} vs torch {t32[0]:.7f}", "loss",
            [float(meta["loss"])], [t32[0]], [t64[0]])
    off = 0
    for (name, g32), (_, g64) in zip(t32[1], t64[1]):
        n = g64.size
        compare(ck, tag, f"grad {name}", "grad", grads[off:off + n], g32, g64)
        off += n


def run_dump(ck, tool, tmp, tag, model, c, h, w, batch, width, sgd_steps, extra):
    """Run dump_model for one case (extra: more arguments); (meta, sgd rows, reader of its
    files: rd(name, dtype)), or None after a failed check when the tool failed."""
    out = os.path.join(tmp, tag.replace(" ", "_"))
    cmd = [tool, "--model", model, "--shape", f"{c},{h},{w}", "--batch", str(batch), "--out", out,
           "--seed", str(SEED), "--sgd-steps", str(sgd_steps), "--lr", str(LR), "--threads", "2"]
    if width:
        cmd += ["--width", str(width)]
    r = subprocess.run(cmd + extra, capture_output=True, text=True)
    if r.returncode != 0:
        ck.check(f"{tag}: dump_model ran (rc {r.returncode}: {r.stderr.strip()})", float("inf"), 0)
        return None
    meta, sgd = torch_models.read_dump_meta(out)
    return meta, sgd, lambda name, dt=np.float32: np.fromfile(os.path.join(out, name), dtype=dt)


def run_case(ck, tool, tmp, model, c, h, w, batch, width, conv_algo="winograd2"):
    tag = (f"{model} {c}x{h}x{w} b{batch}" + (f" w{width}" if width else "")
           + (f" {conv_algo}" if conv_algo != "winograd2" else ""))
    got = run_dump(ck, tool, tmp, tag, model, c, h, w, batch, width, SGD_STEPS,
                   ["--conv-algo", conv_algo] if conv_algo != "winograd2" else [])
    if got is None:
        return
    meta, sgd, rd = got
    params, grads = rd("params.f32"), rd("grads.f32")
    state0, state1 = rd("state0.f32"), rd("state1.f32")
    x = torch.from_numpy(rd("input.f32").reshape(batch, c, h, w))
    y = torch.from_numpy(rd("labels.i32", np.int32).astype(np.int64))

    def torch_run(dtype):
        """loss, per-tensor grads, state after the step, SGD losses, final state"""
        torch.manual_seed(0)
        net = build(model, c, h, w, width).to(dtype)
        plist, blist = list(net.parameters()), state_buffers(net)
        load_flat(plist, params)
        with torch.no_grad():
            load_flat(blist, state0)
        net.train()
        _RELU_NEAR.clear()
        _RELU_NEAR_ON[0] = dtype == torch.float64
        loss = F.cross_entropy(net(x.to(dtype)), y)
        _RELU_NEAR_ON[0] = False
        near = min(_RELU_NEAR) if _RELU_NEAR else 1.0
        loss.backward()
        grads_t = [(n, p.grad.reshape(-1).double().numpy().copy())
                   for n, p in net.named_parameters()]
        st1 = flat_of(blist).astype(np.float64)
        load_flat(plist, params)
        with torch.no_grad():
            load_flat(blist, state0)
        opt = torch.optim.SGD(net.parameters(), lr=LR)
        losses = []
        for k in range(SGD_STEPS + 1):
            opt.zero_grad()
            lk = F.cross_entropy(net(x.to(dtype)), y)
            losses.append(lk.item())
            if k < SGD_STEPS:
                lk.backward()
                opt.step()
        return loss.item(), grads_t, st1, losses, flat_of(blist).astype(np.float64), near

    # layout: sizes must agree before anything is compared
    net = build(model, c, h, w, width)
    n_p = sum(p.numel() for p in net.parameters())
    n_s = sum(b.numel() for b in state_buffers(net))
    ok = n_p == len(params) == int(meta["n_params"]) and n_s == len(state0)
    ck.check(f"{tag}: layout sizes (params {len(params)} vs torch {n_p}, state {len(state0)} vs "
             f"{n_s})", 0.0 if ok else float("inf"), 0)
    if not ok:
        return
    t32, t64 = torch_run(torch.float32), torch_run(torch.float64)
    print(f"info {tag}: smallest |pre-ReLU|/max in the float64 forward: {t64[5]:.1e}"
          + (" (below float32 rounding: a ReLU may switch)" if t64[5] < 1e-6 else ""))

    compare_loss_grads(ck, tag, meta, grads, t32, t64)
    if n_s:
        compare(ck, tag, "BN running stats after the step", "bn", state1, t32[2], t64[2])
    for k in range(SGD_STEPS + 1):
        compare(ck, tag, f"SGD loss at θ{k}: {sgd[k]:.6f} vs torch {t32[3][k]:.6f}",
                "sgd" if k else "loss", [sgd[k]], [t32[3][k]], [t64[3][k]])
    if n_s:
        compare(ck, tag, f"BN running stats after {SGD_STEPS + 1} training forwards", "sgd",
                rd("statefinal.f32"), t32[4], t64[4])


def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "LQA_DUMP_MODEL", os.path.join(ROOT, "build", "tools", "dump_model"))
    if not os.access(tool, os.X_OK):
        print(f"torch_models_check: {tool} not found (make all); skipped")
        return 77
    torch.set_num_threads(2)
    ck = Checker()
    with tempfile.TemporaryDirectory(prefix="lqa_models_") as tmp:
        for case in CASES:
            if ONLY and case[0] != ONLY:
                continue
            run_case(ck, tool, tmp, *case)
    print(f"torch_models_check: {ck.passed} passed, {ck.failed} failed")
    return 0 if ck.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
