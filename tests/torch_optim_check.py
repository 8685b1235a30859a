#!/usr/bin/python3
"""torch_optim_check.py — cross-check the classic optimizers against torch.optim.

Run with Debian's interpreter, which has python3-torch:
    /usr/bin/python3 tests/torch_optim_check.py [path/to/optim_trace]

For a fixed random theta0 and gradient sequence (torch.manual_seed(20240521),
n = 50, 20 steps, float32, mixed magnitudes, some exact zeros), every classic
optimizer is run at a couple of learning rates and non-default hyperparameters
with torch.optim (foreach=False: the single-tensor code path, p.grad set to each
gradient in turn) and with build/tools/optim_trace on the same input; theta after
every step is compared. Two schedules are checked against torch.optim.lr_scheduler.

Exit status: 0 all passed, 1 a comparison failed, 77 torch or the tool missing.
The last line is "torch_optim_check: N passed, M failed".
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "tools", "optim_trace")

# Tolerance. Measured (PyTorch 1.13 from Debian, AVX-512 host, the 22 cases below,
# 20 steps each): every theta of every step is bit-identical to torch.optim — max abs
# diff 0, max rel diff 0 — because the C kernels follow ATen's float32 operation order,
# including its FMAs (add(alpha=) and addcmul are fused in ATen's compiled kernels).
# For scale: with addcmul left unfused (a one-rounding difference in v or S) the
# measured deviation grew over 20 steps to max abs 4.8e-7 (rmsprop, lr 0.1), i.e.
# 4.8e-7 relative to max(|theta|, 1), max plain rel 8.8e-6 (adagrad, theta near 0).
# Another ATen build (no FMA, other vector width, torch 2.x's lerp_ in Adam) can
# differ by such roundings, so the check allows |c - t| <= RTOL * max(|t|, 1) with
# RTOL about 4x that one-rounding deviation; any real formula error is far larger.
RTOL = 2e-6

N, STEPS = 50, 20


def main():
    try:
        import torch
    except ImportError as e:
        print(f"torch_optim_check: cannot import torch ({e}); run with /usr/bin/python3")
        print("torch_optim_check: 0 passed, 0 failed")
        return 77
    if not os.access(TOOL, os.X_OK):
        print(f"torch_optim_check: {TOOL} not found (make build/tools/optim_trace)")
        print("torch_optim_check: 0 passed, 0 failed")
        return 77
    torch.set_num_threads(1)
    torch.manual_seed(20240521)
    theta0 = torch.randn(N, dtype=torch.float32)
    # Mixed magnitudes per coordinate (1e-3 .. 10) and per step, mixed signs, zeros.
    scale = 10.0 ** torch.empty(N).uniform_(-3, 1)
    grads = torch.randn(STEPS, N, dtype=torch.float32) * scale
    grads[:, 0] = 0.0                       # a coordinate that never gets a gradient
    grads[3, 5:10] = 0.0                    # zeros mid-run
    grads[0, 10] = 0.0                      # zero at the first step only
    grads = grads.to(torch.float32)

    O = torch.optim
    S = torch.optim.lr_scheduler
    cases = [
        # (name, lr, {our hparams}, torch constructor, schedule json, torch scheduler)
        ("sgd", 0.1, {}, lambda p, lr: O.SGD(p, lr=lr)),
        ("sgd", 0.01, {"weight_decay": 0.01}, lambda p, lr: O.SGD(p, lr=lr, weight_decay=0.01)),
        ("sgd-m", 0.1, {}, lambda p, lr: O.SGD(p, lr=lr, momentum=0.9)),
        ("sgd-m", 0.01, {}, lambda p, lr: O.SGD(p, lr=lr, momentum=0.9)),
        ("sgd-m", 0.05, {"momentum": 0.5, "dampening": 0.3, "weight_decay": 1e-3},
         lambda p, lr: O.SGD(p, lr=lr, momentum=0.5, dampening=0.3, weight_decay=1e-3)),
        ("sgd-m", 0.05, {"momentum": 0.0, "dampening": 0.5},
         lambda p, lr: O.SGD(p, lr=lr, momentum=0.0, dampening=0.5)),
        ("sgd-nag", 0.1, {}, lambda p, lr: O.SGD(p, lr=lr, momentum=0.9, nesterov=True)),
        ("sgd-nag", 0.01, {}, lambda p, lr: O.SGD(p, lr=lr, momentum=0.9, nesterov=True)),
        ("sgd-nag", 0.05, {"momentum": 0.7, "weight_decay": 1e-2},
         lambda p, lr: O.SGD(p, lr=lr, momentum=0.7, nesterov=True, weight_decay=1e-2)),
        ("adagrad", 0.1, {}, lambda p, lr: O.Adagrad(p, lr=lr)),
        ("adagrad", 0.01, {}, lambda p, lr: O.Adagrad(p, lr=lr)),
        ("adagrad", 0.05, {"lr_decay": 0.01, "eps": 1e-6, "weight_decay": 1e-3,
                           "initial_accumulator_value": 0.1},
         lambda p, lr: O.Adagrad(p, lr=lr, lr_decay=0.01, eps=1e-6, weight_decay=1e-3,
                                 initial_accumulator_value=0.1)),
        ("rmsprop", 0.1, {}, lambda p, lr: O.RMSprop(p, lr=lr)),
        ("rmsprop", 0.001, {}, lambda p, lr: O.RMSprop(p, lr=lr)),
        ("rmsprop", 0.01, {"alpha": 0.9, "eps": 1e-6, "weight_decay": 1e-3},
         lambda p, lr: O.RMSprop(p, lr=lr, alpha=0.9, eps=1e-6, weight_decay=1e-3)),
        ("adam", 0.001, {}, lambda p, lr: O.Adam(p, lr=lr)),
        ("adam", 0.1, {}, lambda p, lr: O.Adam(p, lr=lr)),
        ("adam", 0.01, {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 1e-3},
         lambda p, lr: O.Adam(p, lr=lr, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-3)),
        ("adam", 0.01, {"beta1": 0.0, "beta2": 0.5},
         lambda p, lr: O.Adam(p, lr=lr, betas=(0.0, 0.5))),
    ]
    sched_cases = [
        ("sgd", 0.1, {}, lambda p, lr: O.SGD(p, lr=lr),
         '{"type": "step", "every": 6, "gamma": 0.5}', lambda o: S.StepLR(o, step_size=6, gamma=0.5)),
        ("sgd-m", 0.1, {}, lambda p, lr: O.SGD(p, lr=lr, momentum=0.9),
         '{"type": "exp", "every": 1, "gamma": 0.8}', lambda o: S.ExponentialLR(o, gamma=0.8)),
        ("adam", 0.01, {}, lambda p, lr: O.Adam(p, lr=lr),
         '{"type": "cosine", "period": 20, "min": 0.001}',
         lambda o: S.CosineAnnealingLR(o, T_max=20, eta_min=0.001)),
    ]

    text = f"{N} {STEPS}\n" + " ".join(repr(float(x)) for x in theta0) + "\n" + "\n".join(
        " ".join(repr(float(x)) for x in row) for row in grads) + "\n"

    passed = failed = 0
    worst_abs = worst_rel = 0.0
    all_cases = [c + (None, None) for c in cases] + sched_cases
    for name, lr, hp, make, sched_json, make_sched in all_cases:
        p = theta0.clone().requires_grad_(True)
        opt = make([p], lr)
        for group in opt.param_groups:  # force the single-tensor path where offered
            if "foreach" in group:
                group["foreach"] = False
        sched = make_sched(opt) if make_sched else None
        ref = []
        for t in range(STEPS):
            p.grad = grads[t].clone()
            opt.step()
            if sched:
                sched.step()
            ref.append(p.detach().clone())
        ref = torch.stack(ref).double()

        cmd = [TOOL, name, repr(lr)] + [f"{k}={v!r}" for k, v in hp.items()]
        if sched_json:
            cmd += ["--schedule", sched_json]
        label = " ".join(cmd[1:])
        r = subprocess.run(cmd, input=text, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {label}: tool exited {r.returncode}: {r.stderr.strip()}")
            failed += 1
            continue
        rows = [[float(x) for x in line.split()] for line in r.stdout.strip().splitlines()]
        got = torch.tensor(rows, dtype=torch.float64)
        if got.shape != ref.shape:
            print(f"FAIL {label}: output shape {tuple(got.shape)}, expected {tuple(ref.shape)}")
            failed += 1
            continue
        diff = (got - ref).abs()
        max_abs = diff.max().item()
        rel = (diff / ref.abs().clamp(min=1e-30)).masked_fill(diff == 0, 0.0)
        max_rel = rel.max().item()
        scaled = (diff / ref.abs().clamp(min=1.0)).max().item()
        exact = int((diff == 0).sum().item())
        worst_abs, worst_rel = max(worst_abs, max_abs), max(worst_rel, max_rel)
        ok = scaled <= RTOL and torch.isfinite(got).all().item()
        first = next((t for t in range(STEPS) if diff[t].max().item() > 0), None)
        print(f"{'ok  ' if ok else 'FAIL'} {label}: max abs {max_abs:.3g}, max rel {max_rel:.3g}, "
              f"bit-identical {exact}/{diff.numel()}"
              + (f", first differs at step {first + 1}" if first is not None else ""))
        if ok:
            passed += 1
        else:
            failed += 1
    print(f"overall max abs diff {worst_abs:.3g}, max rel diff {worst_rel:.3g} (tolerance {RTOL:g} "
          f"relative to max(|theta|, 1))")
    print(f"torch_optim_check: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
