#!/usr/bin/env python3
"""tables.py — the reproduction's tables, from the sweeps' summary.csv files, as Markdown
and CSV.

    python3 scripts/tables.py KIND OUTPREFIX INPUT [INPUT ...]

writes OUTPREFIX.md and OUTPREFIX.csv. INPUT is [NAME=]PATH: a sweep's summary.csv
(NAME, the sweep's name, defaults to the name of the directory holding it), or for
KIND lrtraces an lr_stats.csv written by scripts/agg_seeds.py.

KIND
  accuracy  test accuracy (%) of each method at the end of training, one row per sweep
            (the QLABGrad paper's Table 2): mean over seeds of test_acc of the runs that
            finished ± the half-width of its 95 % Student-t interval, and n, e.g.
            "90.50 ± 6.35 (n=2)"; "diverged" when every run of the method diverged.
  overhead  wall time per iteration relative to SGD (the QLABGrad paper's time-overhead
            analysis): mean sec_per_step of each method over its runs (all lrs and seeds
            that finished) divided by that of the method labelled "sgd" in the same sweep.
  passes    forward + backward passes per iteration of each method ((fwd+bwd)/steps).
  bestlr    per sweep and method, the learning rate with the lowest final training loss
            (train_loss: full training set; final_loss, the last batch loss, when the sweep
            did not evaluate it), mean over seeds (the best one ± the half-width of its 95 %
            Student-t interval, and n); runs that diverged cannot be best.
  sweeps    per sweep: runs done / diverged / failed, total steps and the summed training
            wall time (evaluation excluded) — how long each sweep took.
  lrtraces  per adaptive run: its start lr and the median, min and max of the lr it applied
            over the last 10% of its steps.

Methods are the summary's labels, as columns in a fixed order (sgd, its decay schedules,
sgd-m, sgd-nag, adagrad, rmsprop, adam, hgd, l4gd, lqa, qlabgrad, newton-lr), other labels
after them; a label run at several lrs becomes one column per lr ("label lr=X") in the
accuracy table. Rows follow the order of the inputs. Missing or
malformed inputs are errors naming the file; exit status 1. Python 3 standard library only.
"""
import csv
import math
import os
import sys

import seedstats

PROG = "tables.py"
NEED = {
    "summary": ["run", "model", "dataset", "optimizer", "label", "lr", "seed", "status",
                "steps", "final_loss", "train_loss", "test_acc", "seconds", "sec_per_step",
                "fwd", "bwd"],
    "lrstats": ["sweep", "label", "optimizer", "lr", "steps", "lr_tail_median",
                "lr_tail_min", "lr_tail_max", "status"],
}
NUMERIC = {"lr", "seed", "steps", "final_loss", "train_loss", "test_acc", "seconds",
           "sec_per_step", "fwd", "bwd", "lr_tail_median", "lr_tail_min", "lr_tail_max"}
ADAPTIVE = ("hgd", "l4gd", "lqa", "qlabgrad", "newton-lr")


class InputError(Exception):
    pass


def read(spec, what):
    name, sep, path = spec.partition("=")
    if not sep:
        path, name = spec, os.path.basename(os.path.dirname(os.path.abspath(spec)))
    if not os.path.isfile(path):
        raise InputError(f"{path}: missing ({'sweep summary' if what == 'summary' else what})")
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: cannot read: {e}")
    if not rows:
        raise InputError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in NEED[what] if c not in header]
    if missing:
        raise InputError(f"{path}: malformed: missing column(s) {', '.join(missing)}")
    out = []
    for i, r in enumerate(rows[1:], start=2):
        if not r:
            continue
        if len(r) != len(header):
            raise InputError(f"{path}:{i}: malformed: {len(r)} fields, header has {len(header)}")
        d = dict(zip(header, r))
        for c in NEED[what]:
            if c in NUMERIC:
                t = d[c].strip()
                try:
                    d["_" + c] = float(t) if t else math.nan
                except ValueError:
                    raise InputError(f"{path}:{i}: column '{c}': not a number ({t!r})")
        out.append(d)
    return name, out


def finite(x):
    return x == x and not math.isinf(x)


def mean(xs):
    xs = [x for x in xs if finite(x)]
    return sum(xs) / len(xs) if xs else math.nan


def pm(xs, scale, spec):
    """mean ± half-width of its 95 % Student-t interval over the finite values, and n:
    "90.50 ± 6.35 (n=2)"; one value: "95.12 (n=1)"; none: "n/a"."""
    n, m, _, lo, _ = seedstats.mean_ci([x for x in xs if finite(x)])
    if n == 0:
        return "n/a"
    if n < 2:
        return f"{format(scale * m, spec)} (n=1)"
    return f"{format(scale * m, spec)} ± {format(scale * (m - lo), spec)} (n={n})"


def g4(x):
    return f"{x:.4g}" if finite(x) else "-"


def ordered(rows, key):
    seen = []
    for r in rows:
        k = key(r)
        if k not in seen:
            seen.append(k)
    return seen


def done_or_all(runs):
    d = [r for r in runs if r["status"] == "done"]
    return d if d else [r for r in runs if r["status"] == "diverged"]


def write(prefix, title, header, rows, notes, align=None):
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    align = align or ["---"] * len(header)
    md = [f"# {title}", "", "| " + " | ".join(header) + " |",
          "|" + "|".join(align) + "|"]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    if notes:
        md += [""] + notes
    with open(prefix + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    with open(prefix + ".csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


# the papers' methods in a fixed column order; other labels follow in order of appearance
ORDER = ["sgd", "sgd-ssdecay", "sgd-edecay", "sgd-cadecay", "sgd-m", "sgd-nag", "adagrad",
         "rmsprop", "adam", "hgd", "l4gd", "lqa", "lqa-paper", "lqa-reference", "qlabgrad",
         "qlabgrad-paper", "qlabgrad-reference", "qlabgrad-nofindplr", "newton-lr"]


def sweep_cols(sweeps, per_lr):
    """Column keys: labels in ORDER, then the others in order of first appearance; a
    label's lrs in order of appearance."""
    cols, base = [], []
    for _, rows in sweeps:
        nlr = {}
        for r in rows:
            nlr.setdefault(r["label"], set()).add(r["lr"])
        for r in rows:
            k = f"{r['label']} lr={r['lr']}" if per_lr and len(nlr[r["label"]]) > 1 else r["label"]
            if k not in cols:
                cols.append(k)
                base.append(r["label"])
    rank = {l: (ORDER.index(l) if l in ORDER else len(ORDER) + base.index(l)) for l in base}
    return [c for _, c in sorted(zip(base, cols), key=lambda p: rank[p[0]])]


def col_of(r, rows, per_lr):
    lrs = {x["lr"] for x in rows if x["label"] == r["label"]}
    return f"{r['label']} lr={r['lr']}" if per_lr and len(lrs) > 1 else r["label"]


def t_accuracy(prefix, sweeps):
    cols = sweep_cols(sweeps, True)
    out = []
    multi = False
    for name, rows in sweeps:
        cells = []
        for c in cols:
            runs = [r for r in rows if col_of(r, rows, True) == c]
            if len(runs) > 1:
                multi = True
            if not runs:
                cells.append("-")
                continue
            done = [r for r in runs if r["status"] == "done"]
            if not done:
                cells.append("diverged" if any(r["status"] == "diverged" for r in runs)
                             else "failed")
                continue
            cells.append(pm([r["_test_acc"] for r in done], 100, ".2f"))
        out.append([name, rows[0]["model"], rows[0]["dataset"]] + cells)
    notes = ["test_acc of summary.csv (end of training), in %"
             + ("; mean over the seeds that finished ± the half-width of its 95 % Student-t "
                "interval, and the number of seeds n." if multi else ", and the number of seeds n.")]
    write(prefix, "Test accuracy (%) at the end of training",
          ["sweep", "model", "dataset"] + cols, out, notes,
          ["---"] * 3 + ["---:"] * len(cols))


def t_overhead(prefix, sweeps):
    cols = sweep_cols(sweeps, False)
    out, nobase = [], []
    for name, rows in sweeps:
        base = mean([r["_sec_per_step"] for r in done_or_all(
            [r for r in rows if r["label"] == "sgd"])])
        cells = []
        for c in cols:
            runs = done_or_all([r for r in rows if r["label"] == c])
            v = mean([r["_sec_per_step"] for r in runs])
            cells.append(f"{v / base:.2f}" if finite(v) and finite(base) and base > 0
                         else "-")
        if not finite(base):
            nobase.append(name)
        out.append([name, rows[0]["model"], f"{1000 * base:.3g}" if finite(base) else "-"]
                   + cells)
    notes = ["sec_per_step of each method (mean over its finished runs) / that of sgd in the "
             "same sweep. Wall-clock times on a shared machine: treat differences under "
             "~10% as noise."]
    if nobase:
        notes.append("No run labelled sgd in: " + ", ".join(nobase) + ".")
    write(prefix, "Time per iteration relative to SGD",
          ["sweep", "model", "sgd ms/step"] + cols, out, notes,
          ["---"] * 2 + ["---:"] * (1 + len(cols)))


def t_passes(prefix, sweeps):
    cols = sweep_cols(sweeps, False)
    out = []
    for name, rows in sweeps:
        cells = []
        for c in cols:
            runs = done_or_all([r for r in rows if r["label"] == c])
            v = mean([(r["_fwd"] + r["_bwd"]) / r["_steps"] for r in runs if r["_steps"] > 0])
            cells.append(f"{v:.3g}" if finite(v) else "-")
        out.append([name, rows[0]["model"]] + cells)
    write(prefix, "Forward + backward passes per iteration",
          ["sweep", "model"] + cols, out,
          ["(fwd+bwd)/steps of summary.csv, mean over finished runs: probes, line-search "
           "trials and FindPLR trials included."],
          ["---"] * 2 + ["---:"] * len(cols))


def t_bestlr(prefix, sweeps):
    out = []
    fallback = []
    for name, rows in sweeps:
        for label in ordered(rows, lambda r: r["label"]):
            per = []
            for lr in ordered([r for r in rows if r["label"] == label], lambda r: r["lr"]):
                runs = [r for r in rows if r["label"] == label and r["lr"] == lr]
                if any(r["status"] != "done" for r in runs):
                    st = "diverged" if any(r["status"] == "diverged" for r in runs) else "failed"
                    per.append((lr, math.inf, st, []))
                    continue
                losses = [r["_train_loss"] if finite(r["_train_loss"]) else r["_final_loss"]
                          for r in runs]
                if not all(finite(r["_train_loss"]) for r in runs):
                    fallback.append(f"{name}/{label}")
                per.append((lr, mean(losses), "done", losses))
            ok = [p for p in per if p[2] == "done" and finite(p[1])]
            best = min(ok, key=lambda p: p[1]) if ok else None
            alll = "; ".join(f"{lr}: {g4(v) if st == 'done' else st}" for lr, v, st, _ in per)
            out.append([name, label, best[0] if best else "-",
                        pm(best[3], 1, ".4g") if best else ("diverged" if any(p[2] == "diverged"
                                                                     for p in per) else "-"),
                        alll])
    notes = ["Final training loss: train_loss of summary.csv (full training set at the end), "
             "mean over seeds ± the half-width of its 95 % Student-t interval, and the number "
             "of seeds n (loss at each lr: the means); a learning rate with a diverged run "
             "cannot be best."]
    if fallback:
        notes.append("No full-training-set loss for " + ", ".join(sorted(set(fallback)))
                     + ": the final batch loss is used.")
    write(prefix, "Best learning rate per method and the loss it reached",
          ["sweep", "method", "best lr", "final train loss", "loss at each lr"], out, notes,
          ["---", "---", "---:", "---:", "---"])


def t_sweeps(prefix, sweeps):
    out = []
    for name, rows in sweeps:
        n = {s: sum(1 for r in rows if r["status"] == s) for s in ("done", "diverged", "failed")}
        secs = sum(r["_seconds"] for r in rows if finite(r["_seconds"]))
        steps = sum(int(r["_steps"]) for r in rows if finite(r["_steps"]))
        out.append([name, rows[0]["model"], rows[0]["dataset"], str(len(rows)), str(n["done"]),
                    str(n["diverged"]), str(n["failed"]), str(steps), f"{secs:.1f}",
                    f"{secs / 60:.1f}"])
    write(prefix, "Sweeps: runs and training time",
          ["sweep", "model", "dataset", "runs", "done", "diverged", "failed", "steps",
           "training s", "training min"], out,
          ["Training time: the sum of the runs' seconds column of summary.csv (evaluation "
           "passes excluded; wall time of the whole sweep is longer)."],
          ["---"] * 3 + ["---:"] * 7)


def t_lrtraces(prefix, tables):
    out = []
    for _, rows in tables:
        for r in rows:
            if r["optimizer"] not in ADAPTIVE:
                continue
            out.append([r["sweep"], r["label"], r["lr"], str(int(r["_steps"])),
                        g4(r["_lr_tail_median"]), g4(r["_lr_tail_min"]), g4(r["_lr_tail_max"]),
                        r["status"]])
    write(prefix, "Learning rates the adaptive methods settled on",
          ["sweep", "method", "start lr", "steps", "median lr (last 10%)", "min", "max",
           "status"], out,
          ["The lr column of the per-step CSVs (mean over seeds per step), over the last 10% "
           "of each run's steps."],
          ["---", "---", "---:", "---:", "---:", "---:", "---:", "---"])


KINDS = {"accuracy": t_accuracy, "overhead": t_overhead, "passes": t_passes,
         "bestlr": t_bestlr, "sweeps": t_sweeps, "lrtraces": t_lrtraces}


def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(argv) < 3 or argv[0] not in KINDS:
        sys.stderr.write(f"{PROG}: usage: tables.py {{{'|'.join(KINDS)}}} OUTPREFIX "
                         "[NAME=]FILE...\n")
        return 2
    kind, prefix, inputs = argv[0], argv[1], argv[2:]
    try:
        what = "lrstats" if kind == "lrtraces" else "summary"
        tables = [read(s, what) for s in inputs]
        empty = [s for s, (_, rows) in zip(inputs, tables) if not rows]
        if empty and what == "summary":
            raise InputError(f"{empty[0].partition('=')[2] or empty[0]}: no runs listed")
        KINDS[kind](prefix, [t for t in tables if t[1]])
    except InputError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
