#!/usr/bin/python3
"""bench_torch.py — the PyTorch side of `make bench` (run with /usr/bin/python3,
Debian's python3-torch).

    bench_torch.py [--threads T] [--json FILE] CONFIG [CONFIG ...]

CONFIG is MODEL:BATCH:CxHxW[:STEPS[:WARMUP[:FWD_REPS]]], e.g. mlp:64:1x28x28:100:5.
Models (definitions as in spec/experiments.md): logreg, mlp, lenet5 (pad 2 on
28×28 inputs, none on 32×32), cnn2 (lenet5 with average pooling), resnet18
(CIFAR form).

Each CONFIG runs in a fresh subprocess of this script (`--child`), so its peak
resident memory (ru_maxrss) is that of one model alone; the parent prints one
JSON line per config (and appends it to --json FILE). In the child:
torch.set_num_threads(T), with OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS
= T set before torch is imported; random inputs U(0,1) and uniform labels,
two batches used alternately (as tools/bench does); each step is
zero_grad → forward (train mode) → cross-entropy → backward → SGD step (lr 0.01),
timed with perf_counter; WARMUP untimed steps first. Then forward-only timings
under torch.no_grad(): eval mode (the FWD_EVAL analogue) and train mode (batch
statistics: the FWD_PROBE analogue). base_rss_mib is the resident size after
`import torch`, before the model exists.

--omp-wait passive runs the child with OMP_WAIT_POLICY=PASSIVE. Debian's torch
runs its own OpenMP pool next to OpenBLAS's thread pool (its Linear layers call
OpenBLAS); with libgomp's default policy the idle OpenMP workers spin and take
the cores from OpenBLAS's workers, which on 2 cores can cost PyTorch many times
its step time. Passive is PyTorch given a fair chance; make bench reports both.
"""
import argparse
import json
import os
import subprocess
import sys


def _rss_now_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def build_model(name, in_c, in_h, in_w, n_classes=10):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_models
    try:
        return torch_models.build(name, in_c, in_h, in_w, classes=n_classes)
    except ValueError:
        raise SystemExit(f"bench_torch.py: unknown model {name!r}")


def median(v):
    s = sorted(v)
    n = len(s)
    if n == 0:
        return None
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def parse_config(text):
    parts = text.split(":")
    if len(parts) < 3:
        raise SystemExit(f"bench_torch.py: bad config {text!r} (MODEL:BATCH:CxHxW[:STEPS[:WARMUP[:FWD_REPS]]])")
    c, h, w = (int(t) for t in parts[2].split("x"))
    steps = int(parts[3]) if len(parts) > 3 else 20
    warmup = int(parts[4]) if len(parts) > 4 else 2
    fwd_reps = int(parts[5]) if len(parts) > 5 else min(steps, 50)
    return dict(model=parts[0], batch=int(parts[1]), c=c, h=h, w=w, steps=steps,
                warmup=warmup, fwd_reps=fwd_reps)


def child(cfg, threads, lr):
    import resource
    import time

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    base_rss = _rss_now_mib()
    torch.manual_seed(1)
    B, c, h, w = cfg["batch"], cfg["c"], cfg["h"], cfg["w"]
    model = build_model(cfg["model"], c, h, w)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    xs = [torch.rand(B, c, h, w) for _ in range(2)]
    ys = [torch.randint(0, 10, (B,)) for _ in range(2)]

    model.train()
    times, fwd_t, bwd_t, opt_t = [], [], [], []
    k = 0
    loss = None
    for i in range(cfg["warmup"] + cfg["steps"]):
        x, y = xs[k % 2], ys[k % 2]
        k += 1
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if i >= cfg["warmup"]:
            times.append((t3 - t0) * 1e3)
            fwd_t.append((t1 - t0) * 1e3)
            bwd_t.append((t2 - t1) * 1e3)
            opt_t.append((t3 - t2) * 1e3)

    def time_fwd(train_mode):
        model.train(train_mode)
        out = []
        with torch.no_grad():
            F.cross_entropy(model(xs[0]), ys[0])  # warm
            for _ in range(cfg["fwd_reps"]):
                t0 = time.perf_counter()
                F.cross_entropy(model(xs[0]), ys[0]).item()
                out.append((time.perf_counter() - t0) * 1e3)
        return median(out)

    fwd_eval = time_fwd(False) if cfg["fwd_reps"] > 0 else None
    fwd_probe = time_fwd(True) if cfg["fwd_reps"] > 0 else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {
        "kind": "torch_step", "model": cfg["model"], "batch": B, "input": f"{c}x{h}x{w}",
        "optimizer": "sgd", "threads": threads, "torch_threads": torch.get_num_threads(),
        "steps": cfg["steps"], "warmup": cfg["warmup"], "n_params": n_params,
        "step_ms": median(times), "step_ms_mean": sum(times) / len(times) if times else None,
        "step_ms_min": min(times) if times else None,
        "fwd_train_ms": median(fwd_t), "bwd_ms": median(bwd_t), "opt_ms": median(opt_t),
        "fwd_eval_ms": fwd_eval, "fwd_probe_ms": fwd_probe,
        "peak_rss_mib": peak, "base_rss_mib": base_rss,
        "final_loss": float(loss.item()) if loss is not None else None,
        "torch": torch.__version__,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("configs", nargs="+", help="MODEL:BATCH:CxHxW[:STEPS[:WARMUP[:FWD_REPS]]]")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--json", help="append the JSON lines to this file")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per config")
    ap.add_argument("--omp-wait", choices=("default", "passive"), default="default",
                    help="libgomp wait policy for the child: default (spin, then sleep) or passive "
                         "(OMP_WAIT_POLICY=PASSIVE: torch's OpenMP workers stop spinning, leaving the "
                         "cores to OpenBLAS's own threads)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        res = child(parse_config(args.configs[0]), args.threads, args.lr)
        res["omp_wait"] = args.omp_wait
        print(json.dumps(res), flush=True)
        return 0

    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(args.threads)
    if args.omp_wait == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    rc = 0
    for text in args.configs:
        parse_config(text)  # validate before spawning
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--threads", str(args.threads),
               "--lr", str(args.lr), "--omp-wait", args.omp_wait, text]
        try:
            p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, timeout=args.timeout, text=True)
        except subprocess.TimeoutExpired:
            res = {"kind": "torch_step", "config": text, "omp_wait": args.omp_wait,
                   "error": f"timed out after {args.timeout:g} s"}
        else:
            lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
            if p.returncode != 0 or not lines:
                res = {"kind": "torch_step", "config": text, "omp_wait": args.omp_wait,
                       "error": f"exit status {p.returncode}"}
            else:
                res = json.loads(lines[-1])
        if "error" in res:
            rc = 1
            print(f"bench_torch.py: {text}: {res['error']}", file=sys.stderr)
        else:
            print(f"torch {res['model']:<8} B={res['batch']} {res['input']} T={res['threads']} "
                  f"omp_wait={res['omp_wait']}: "
                  f"step {res['step_ms']:.3f} ms (fwd {res['fwd_train_ms']:.3f}, bwd {res['bwd_ms']:.3f}, "
                  f"opt {res['opt_ms']:.3f})  eval fwd {res['fwd_eval_ms'] or float('nan'):.3f} ms  "
                  f"peak RSS {res['peak_rss_mib']:.1f} MiB", file=sys.stderr)
        line = json.dumps(res)
        print(line, flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(line + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
