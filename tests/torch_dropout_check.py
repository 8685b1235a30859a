#!/usr/bin/python3
"""torch_dropout_check.py — the models' dropout against PyTorch, with the same masks injected.

Run with Debian's interpreter, which has python3-torch (the pyenv python3 on PATH has none):
    /usr/bin/python3 tests/torch_dropout_check.py [path/to/dump_model]
The tool is argv[1], else $LQA_DUMP_MODEL, else build/tools/dump_model under the repository root.

tools/dump_model --dropout P --step S creates the model with the dropout option, runs one training
forward and backward at step S and writes, besides what torch_models_check.py compares, the
masks drop<l>.f32 ([B][units], 0 or 1/(1 − P)) of the step. This script builds the PyTorch model
of torch_models_check.py with the dropout layers where lqabench puts them — lenet5:
fc3(d1·relu(fc2(d0·relu(fc1(x))))); resnet18: fc(d0·gap(x)) — multiplies by the injected masks
(inverted dropout: F.dropout(x, P) is x·mask with mask ∈ {0, 1/(1 − P)}), and compares the loss,
every parameter gradient and the losses of 2-3 plain SGD steps on the same batch (the same step:
the same masks), with torch_models_check.py's tolerances (float64 PyTorch as the reference,
max(floor, 5 × PyTorch float32's own error)). It also checks the masks themselves: only the
values 0 and PyTorch's own keep scale (what F.dropout multiplies kept units by, in float32), a
dropped fraction within 5 σ of P, and that the loss without the masks differs (they are used).
Last line "torch_dropout_check: N passed, M failed"; exit 1 on failure, 77 when torch or the tool
is missing.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import torch_models_check as tm
except ImportError as e:  # pragma: no cover
    print(f"torch_dropout_check: cannot import torch/numpy ({e}); skipped")
    sys.exit(77)

# (model, C, H, W, batch, width, p, step, SGD steps compared)
# The toy ResNet's one-batch SGD trajectory (loss 3.1 → 1.2 in 3 steps at lr 0.05) amplifies
# rounding: at θ3 the float32 computations (C, and PyTorch's own) drift from float64 by 3e-4 to
# 1.5e-2 depending on the step's masks and the OpenBLAS kernel (measured, Prescott vs Haswell),
# so the ResNet case compares θ0..θ2 (errors ≤ 7e-6 there); LeNet-5 compares θ0..θ3 (≤ 4e-9).
CASES = [
    ("lenet5", 3, 32, 32, 16, 0, 0.5, 0, 3),
    ("lenet5", 1, 28, 28, 8, 0, 0.3, 7, 3),
    ("resnet18", 3, 8, 8, 8, 4, 0.5, 2, 2),
]
LR = 0.05


def masked_forward(net, model, x, masks):
    """the tm model's forward with the dropout masks multiplied in"""
    if model == "lenet5":
        x = net.pool(tm.relu(net.conv1(x)), 2)
        x = net.pool(tm.relu(net.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = tm.relu(net.fc1(x)) * masks[0]
        x = tm.relu(net.fc2(x)) * masks[1]
        return net.fc3(x)
    x = tm.relu(net.bn1(net.conv1(x)))
    x = net.layer4(net.layer3(net.layer2(net.layer1(x))))
    x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1) * masks[0]
    return net.fc(x)


def run_case(ck, tool, tmp, model, c, h, w, batch, width, p, step, sgd_steps):
    tag = f"{model} {c}x{h}x{w} b{batch}" + (f" w{width}" if width else "") + f" p{p} step{step}"
    got = tm.run_dump(ck, tool, tmp, tag, model, c, h, w, batch, width, sgd_steps,
                      ["--dropout", str(p), "--step", str(step)])
    if got is None:
        return
    meta, sgd, rd = got
    params, grads, state0 = rd("params.f32"), rd("grads.f32"), rd("state0.f32")
    x = torch.from_numpy(rd("input.f32").reshape(batch, c, h, w))
    y = torch.from_numpy(rd("labels.i32", np.int32).astype(np.int64))
    n_layers = 2 if model == "lenet5" else 1
    masks = [rd(f"drop{l}.f32").reshape(batch, -1) for l in range(n_layers)]

    # the masks: PyTorch's values, the rate
    keep = F.dropout(torch.ones(1000, dtype=torch.float32), p, training=True)
    keep = float(keep[keep != 0][0])
    vals = np.unique(np.concatenate([m.ravel() for m in masks]))
    ck.check(f"{tag}: mask values {vals.tolist()} = {{0, PyTorch's keep scale {keep!r}}}",
             0.0 if len(vals) == 2 and vals[0] == 0 and vals[1] == np.float32(keep) else 1.0, 0)
    allm = np.concatenate([m.ravel() for m in masks])
    rate, sd = float(np.mean(allm == 0)), (p * (1 - p) / allm.size) ** 0.5
    ck.check(f"{tag}: dropped fraction {rate:.4f} vs p {p} ({allm.size} units, sd {sd:.4f}), in sd",
             abs(rate - p) / sd, 5.0)

    def torch_run(dtype, use_masks=True):
        torch.manual_seed(0)
        net = tm.build(model, c, h, w, width).to(dtype)
        plist, blist = list(net.parameters()), tm.state_buffers(net)
        tm.load_flat(plist, params)
        with torch.no_grad():
            tm.load_flat(blist, state0)
        net.train()
        mk = [torch.from_numpy(m).to(dtype) if use_masks else torch.ones(m.shape, dtype=dtype)
              for m in masks]
        loss = F.cross_entropy(masked_forward(net, model, x.to(dtype), mk), y)
        loss.backward()
        g = [(n, q.grad.reshape(-1).double().numpy().copy()) for n, q in net.named_parameters()]
        tm.load_flat(plist, params)
        with torch.no_grad():
            tm.load_flat(blist, state0)
        opt = torch.optim.SGD(net.parameters(), lr=LR)
        losses = []
        for k in range(sgd_steps + 1):
            opt.zero_grad()
            lk = F.cross_entropy(masked_forward(net, model, x.to(dtype), mk), y)
            losses.append(lk.item())
            if k < sgd_steps:
                lk.backward()
                opt.step()
        return loss.item(), g, losses

    t32, t64 = torch_run(torch.float32), torch_run(torch.float64)
    nomask = torch_run(torch.float64, use_masks=False)[0]
    ck.check(f"{tag}: the masks matter (loss without them {nomask:.6f} vs {t64[0]:.6f}; "
             "measured: 1/|difference|)", 1.0 / max(abs(nomask - t64[0]), 1e-300), 1e4)

    tm.compare_loss_grads(ck, tag, meta, grads, t32, t64)
    for k in range(sgd_steps + 1):
        tm.compare(ck, tag, f"SGD loss at θ{k} (same step, same masks): {sgd[k]:.6f} vs torch "
                   f"{t32[2][k]:.6f}", "sgd" if k else "loss", [sgd[k]], [t32[2][k]], [t64[2][k]])


def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "LQA_DUMP_MODEL", os.path.join(tm.ROOT, "build", "tools", "dump_model"))
    if not os.access(tool, os.X_OK):
        print(f"torch_dropout_check: {tool} not found (make all); skipped")
        return 77
    torch.set_num_threads(2)
    ck = tm.Checker()
    with tempfile.TemporaryDirectory(prefix="lqa_dropout_") as tmp:
        for case in CASES:
            run_case(ck, tool, tmp, *case)
    print(f"torch_dropout_check: {ck.passed} passed, {ck.failed} failed")
    return 0 if ck.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
