#!/usr/bin/env python3
"""analysis.py — learning-rate sensitivity, time-to-target and performance profiles of sweeps,
each as a CSV and a gnuplot figure (PNG + PDF).

    python3 scripts/analysis.py DIR [--out OUT] [--name NAME] [--target LOSS | --target-acc ACC]
                                    [--window W]
    python3 scripts/analysis.py profile OUT [NAME=]DIR [[NAME=]DIR ...]

DIR is a sweep's output_dir (its summary.csv, the per-run CSVs and .json files it lists); NAME
(default: DIR's last component) prefixes every file; OUT defaults to DIR/figures. A run group is
one label with one lr (and one value of every other hyperparameter its .json records), all its
seeds; runs with status done or diverged count, failed runs do not. Every "mean ± CI" is the mean
over seeds with its two-sided 95 % Student-t interval (scripts/seedstats.py); n counts the seeds.

Sensitivity (NAME_sensitivity.csv, .png, .pdf): per run group, the final value of each metric —
the last row of the run's per-epoch CSV — or, when the sweep has a validation split (val_loss
values), the row of the epoch with the lowest val_loss (the column "selection" says which:
"final" or "best val_loss"). Metrics: train_loss (the full training set; "batch_loss_ma", the
moving average of the batch loss at the last step, when the sweep did not evaluate it),
test_loss, test_acc. Figure: one panel per metric against lr (log axis), one curve per label,
mean ± 95 % CI as error bars. A diverged seed does not enter the mean (its last evaluation
predates the divergence); the CSV's "diverged" column counts them (k/n) and the figure marks a
group with a diverged seed with an x (at the top of the panel when every seed diverged).
Hyperparameters of a method's own (δ0, ā0, η0, ε, beta, ...): when labels of one optimizer differ
in exactly one other numeric hyperparameter of their run .json (e.g. hgd-b1e-3 and hgd-b1e-2 at
beta 0.001 and 0.01), the same against that knob: rows with knob=<key> in the CSV and the figure
NAME_sensitivity_<optimizer>_<key>.

Time to target (NAME_time_to_target.csv, .md, .png, .pdf): per run group, the step at which each
seed first reaches the target, the forward + backward passes (fwd + bwd of the per-step CSV) and
the training seconds (its seconds column, evaluation excluded) up to that step; mean ± CI over the
seeds that reached it, and how many did (k/n). A loss target applies to the trailing moving
average of the batch loss over W steps (default W = max(5, min(200, steps/30)), the window of the
loss figures; --window W); the default target is 1.1 × the lowest final moving average (mean over
seeds) of any run group without a diverged seed; --target LOSS sets it. --target-acc ACC (a
fraction, 0.9 = 90 %) uses test_acc of the per-epoch evaluations instead (resolution: one
evaluation). The .md table and the figure show each label's best lr: most seeds reaching the
target, then fewest passes.

Performance profile (OUT/performance_profile.csv, performance_ratios.csv, .png, .pdf): the
Dolan–Moré profile over the sweeps (problems). A method's (label's) performance on a problem is
its best-lr final loss: the lowest, over its run groups without a diverged seed, of the mean over
seeds of the final train_loss (batch_loss_ma when not evaluated); every group diverged = failure.
ratio = performance / the best method's on that problem; rho(tau) = the fraction of the problems
the method was run on with ratio <= tau. performance_ratios.csv: problem,method,lr,final_loss,
ratio; performance_profile.csv: method,problems,tau,fraction (rho at each breakpoint).

Environment: LQA_FIGURES_SCALE (multiply pixel sizes), LQA_FIGURES_PALETTE=0 (keep RGB PNGs).
Missing or malformed files are errors naming the file (exit 1; 2 for a bad command line). Python 3
standard library and gnuplot.
"""
import csv
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agg_seeds  # noqa: E402
import seedstats  # noqa: E402

PROG = "analysis.py"
HERE = os.path.dirname(os.path.abspath(__file__))
STEPS_COLS = ["step", "loss", "fwd", "bwd", "seconds"]
METRICS = ["train_loss", "test_loss", "test_acc"]
MNAME = {"train_loss": "training loss (full training set)",
         "batch_loss_ma": "training loss (batch, moving average)",
         "test_loss": "test loss", "test_acc": "test accuracy"}
SENS_HEADER = ["sweep", "knob", "value", "curve", "label", "optimizer", "lr", "metric",
               "selection", "n", "mean", "sd", "ci_lo", "ci_hi", "diverged", "failed"]
TTT_HEADER = ["sweep", "label", "lr", "target_kind", "target", "window", "seeds", "reached",
              "steps_mean", "steps_ci_lo", "steps_ci_hi", "passes_mean", "passes_ci_lo",
              "passes_ci_hi", "seconds_mean", "seconds_ci_lo", "seconds_ci_hi", "best_lr"]
PALETTE = agg_seeds.PALETTE
TAU_TICS = [1, 1.1, 1.2, 1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 1e4, 1e5, 1e6]
POINTS = [7, 5, 9, 11, 13, 15, 1, 3, 4, 6, 8, 10, 12, 14]  # not 2 (x): diverged


InputError = seedstats.InputError
finite, num = seedstats.finite, seedstats.num


def fmt(x):
    return "" if not finite(x) else "%.9g" % x


# ---- reading a sweep ------------------------------------------------------------------------

def load_sweep(res):
    """The run groups of a sweep: a list of dicts (label, optimizer, lr, cfg, runs, failed)
    in summary order; each run: seed, status, steps [(step, loss, passes, seconds)],
    epochs [dict], cfg (the run .json's optimizer block, {} without a .json)."""
    spath = os.path.join(res, "summary.csv")
    _, rows = seedstats.read_csv(spath, seedstats.SUMMARY_COLS + ["optimizer"], "sweep summary")
    if not rows:
        raise InputError("%s: no runs listed (sweep summary)" % spath)
    groups, order = {}, []
    for line, r in rows:
        lr = num(r["lr"], spath, line, "lr")
        if not finite(lr):
            raise InputError("%s:%d: column 'lr': empty" % (spath, line))
        cfg = {}
        jpath = os.path.join(res, r["run"] + ".json")
        if os.path.isfile(jpath):
            try:
                with open(jpath) as f:
                    cfg = json.load(f).get("config", {}).get("optimizer", {}) or {}
            except (OSError, ValueError, AttributeError) as e:
                raise InputError("%s: cannot read (run record): %s" % (jpath, e))
            if not isinstance(cfg, dict):
                raise InputError("%s: config.optimizer is not an object" % jpath)
        knobs = tuple(sorted((k, v) for k, v in cfg.items()
                             if k not in ("label", "lr", "name") and not isinstance(v, (dict, list))))
        key = (r["label"], lr, knobs)
        if key not in groups:
            groups[key] = {"label": r["label"], "optimizer": r["optimizer"], "lr": lr,
                           "lr_text": r["lr"].strip(), "knobs": dict(knobs), "runs": [],
                           "failed": 0}
            order.append(key)
        g = groups[key]
        if r["status"] not in ("done", "diverged"):
            g["failed"] += 1
            continue
        g["runs"].append({"seed": r["seed"], "status": r["status"],
                          **load_steps(os.path.join(res, r["csv"])),
                          "epochs": load_epochs(os.path.join(res, r["epochs_csv"]))})
    return [groups[k] for k in order]


def load_steps(path):
    """{"steps": [(step, loss, fwd+bwd, seconds)], "means": the loss_mean column of a CSV
    logged every N steps, else None}."""
    header, rows = seedstats.read_csv(path, STEPS_COLS, "per-step CSV")
    means = [num(r["loss_mean"], path, line, "loss_mean") for line, r in rows] \
        if "loss_mean" in header else None
    out = []
    for line, r in rows:
        s = num(r["step"], path, line, "step")
        if not finite(s):
            raise InputError("%s:%d: column 'step': empty" % (path, line))
        out.append((s, num(r["loss"], path, line, "loss"),
                    num(r["fwd"], path, line, "fwd") + num(r["bwd"], path, line, "bwd"),
                    num(r["seconds"], path, line, "seconds")))
    return {"steps": out, "means": means}


def load_epochs(path):
    header, rows = seedstats.read_csv(path, ["epoch", "step"], "per-epoch CSV")
    cols = [c for c in ("epoch", "step", "train_loss", "test_loss", "test_acc", "val_loss",
                        "val_acc") if c in header]
    return [{c: num(r[c], path, line, c) for c in cols} for line, r in rows]


def window_of(groups, window):
    if window:
        return window
    n = max((int(r["steps"][-1][0]) for g in groups for r in g["runs"] if r["steps"]), default=0)
    return agg_seeds.ma_window(n)


def run_ma(run, w):
    st = run["steps"]
    return agg_seeds.loss_ma([s[0] for s in st], [s[1] for s in st], run["means"], w)


def final_ma(run, w):
    """The last finite value of the trailing moving average of the batch loss."""
    ma = [m for m in run_ma(run, w) if finite(m)]
    return ma[-1] if ma else math.nan


def uses_val(groups):
    return any(finite(e.get("val_loss")) for g in groups for r in g["runs"] for e in r["epochs"])


def run_metrics(run, w, val):
    """{metric: value} of a run at its final (or best-validation) evaluation."""
    rows = [e for e in run["epochs"] if finite(e.get("epoch"))]
    if val:
        rows = [e for e in rows if finite(e.get("val_loss"))]
        row = min(rows, key=lambda e: e["val_loss"]) if rows else {}
    else:
        row = rows[-1] if rows else {}
    out = {m: row.get(m, math.nan) for m in METRICS}
    if not any(finite(e.get("train_loss")) for e in run["epochs"]):
        out["batch_loss_ma"] = final_ma(run, w)
        del out["train_loss"]
    return out


def group_stats(g, metric, w, val):
    ok = [r for r in g["runs"] if r["status"] == "done"]
    vals = [run_metrics(r, w, val).get(metric, math.nan) for r in ok]
    n, m, sd, lo, hi = seedstats.mean_ci([v for v in vals if finite(v)])
    ndiv = sum(1 for r in g["runs"] if r["status"] == "diverged")
    return {"n": n, "mean": m, "sd": sd, "lo": lo, "hi": hi, "ndiv": ndiv,
            "nseeds": len(g["runs"])}


# ---- sensitivity ----------------------------------------------------------------------------

def nice(label):
    return agg_seeds.NICE.get(label, label)


def knob_text(knobs):
    """'k=v ...' of a run group's hyperparameters: numbers as %g, choices (strings) as given."""
    return " ".join(("%s=%g" if isinstance(v, (int, float)) else "%s=%s") % (k, v)
                    for k, v in sorted(knobs.items()))


def sensitivity_curves(groups):
    """[(knob, curve title, [groups sorted by x], x of a group)]: the lr curves (one per label
    and setting of its other hyperparameters), then each method's own knobs (labels of one
    optimizer that differ in exactly one other numeric hyperparameter)."""
    out = []
    curves, order = {}, []
    for g in groups:
        k = (g["label"], tuple(sorted(g["knobs"].items())))
        if k not in curves:
            curves[k] = []
            order.append(k)
        curves[k].append(g)
    multi = {}
    for label, kn in order:
        multi[label] = multi.get(label, 0) + 1
    for k in order:
        title = nice(k[0]) + (" " + knob_text(dict(k[1])) if multi[k[0]] > 1 else "")
        out.append(("lr", title, sorted(curves[k], key=lambda g: g["lr"]), lambda g: g["lr"]))
    by_opt = {}
    for g in groups:
        by_opt.setdefault(g["optimizer"], []).append(g)
    for opt, gs in by_opt.items():
        keys = sorted({k for g in gs for k in g["knobs"]})
        for key in keys:
            if not all(isinstance(g["knobs"].get(key), (int, float))
                       and not isinstance(g["knobs"].get(key), bool) for g in gs):
                continue
            if len({g["knobs"][key] for g in gs}) < 2:
                continue
            # curves: groups equal in every other knob and lr; at least two labels on a curve
            cur, cord = {}, []
            for g in gs:
                rest = (g["lr"], tuple(sorted((a, b) for a, b in g["knobs"].items() if a != key)))
                if rest not in cur:
                    cur[rest] = []
                    cord.append(rest)
                cur[rest].append(g)
            for rest in cord:
                cg = cur[rest]
                if len({g["knobs"][key] for g in cg}) < 2 or len({g["label"] for g in cg}) < 2:
                    continue
                others = [v for v in {g["knobs"][key] for g in cg}]
                if len(others) != len(cg):
                    continue  # two groups at one knob value: not a one-knob sweep
                title = "%s lr=%g" % (nice(opt), rest[0]) + (
                    " " + knob_text(dict(rest[1])) if len(cord) > 1 else "")
                out.append(("%s:%s" % (opt, key), title,
                            sorted(cg, key=lambda g, k=key: g["knobs"][k]),
                            lambda g, k=key: g["knobs"][k]))
    return out


def sensitivity(name, groups, w, outdir, datadir):
    val = uses_val(groups)
    sel = "best val_loss" if val else "final"
    metrics = [m for m in ("train_loss", "batch_loss_ma", "test_loss", "test_acc")
               if any(finite(run_metrics(r, w, val).get(m, math.nan))
                      for g in groups for r in g["runs"])]
    rows, figs = [], {}
    for knob, title, cg, xof in sensitivity_curves(groups):
        for g in cg:
            for m in metrics:
                s = group_stats(g, m, w, val)
                rows.append([name, knob.split(":")[-1], "%g" % xof(g), title, g["label"],
                             g["optimizer"], g["lr_text"], m, sel, str(s["n"]), fmt(s["mean"]),
                             fmt(s["sd"]), fmt(s["lo"]), fmt(s["hi"]),
                             "%d/%d" % (s["ndiv"], s["nseeds"]), str(g["failed"])])
                figs.setdefault(knob, {}).setdefault(m, []).append((title, xof(g), s))
    path = os.path.join(outdir, name + "_sensitivity.csv")
    write_csv(path, SENS_HEADER, rows)
    written = [path]
    for knob, panels in figs.items():
        xname = "learning rate" if knob == "lr" else knob.split(":")[1]
        stem = name + "_sensitivity" + ("" if knob == "lr" else "_" + agg_seeds.sanitize(
            knob.replace(":", "_")))
        written += sens_figure(stem, name, xname, sel, panels, w, outdir, datadir)
    return written


def sens_figure(stem, name, xname, sel, panels, w, outdir, datadir):
    titles = []
    for m in panels:
        for t, _, _ in panels[m]:
            if t not in titles:
                titles.append(t)
    ddir = os.path.join(datadir, stem)
    os.makedirs(ddir, exist_ok=True)
    gp = []
    np_ = len(panels)
    seeds = sorted({s["nseeds"] for m in panels for _, _, s in panels[m]})
    rmargin = 1.0 - 150.0 / (520 * np_ + 160)  # right of it: the legend
    gp.append('set multiplot layout 1,%d margins 0.06,%.3f,0.13,0.88 spacing 0.07,0.1 '
              'title "%s: %s against %s, %s%s" font ",11"'
              % (np_, rmargin, name, "final value" if sel == "final" else "value at the epoch of "
                 "the lowest validation loss", xname,
                 "mean over seeds with 95 % CI" if seeds != [1] else "one seed",
                 "; x: a seed diverged (at the top: all did)"
                 if any(s["ndiv"] for m in panels for _, _, s in panels[m]) else ""))
    xs = [x for m in panels for _, x, _ in panels[m] if finite(x) and x > 0]
    logx = bool(xs) and min(xs) > 0 and (max(xs) / min(xs) > 5 or xname == "learning rate")
    for m in panels:
        pts = panels[m]
        vals = [v for _, _, s in pts for v in (s["mean"], s["lo"], s["hi"]) if finite(v)]
        pos = [v for v in vals if v > 0]
        logy = m != "test_acc" and pos and len(pos) == len(vals) and max(pos) / min(pos) > 8
        ymin, ymax = (min(vals), max(vals)) if vals else (0.0, 1.0)
        if logy:
            top = ymax * 2.0
            rng = "[%g:%g]" % (ymin / 1.5, top * 1.3)
        else:
            pad = (ymax - ymin) * 0.08 or max(abs(ymax) * 0.1, 0.05)
            top = ymax + pad
            rng = "[%g:%g]" % (ymin - pad, top + pad)
        gp.append("reset; set grid lc rgb '#E0E0E0'; set tics nomirror; set border 3")
        gp.append("set datafile missing NaN")
        last = m == list(panels)[-1]
        # one legend, right of the last panel: it never covers a point
        gp.append("set key outside right top samplen 3 spacing 1 font ',8' noopaque"
                  if last else "unset key")
        gp.append('set title "%s" font ",9"' % MNAME[m] + (
            " . ' (window %d steps)'" % w if m == "batch_loss_ma" else ""))
        gp.append('set xlabel "%s%s"' % (xname, " (log scale)" if logx else ""))
        gp.append('set ylabel "%s"' % MNAME[m].split(" (")[0])
        gp.append("set logscale x" if logx else "unset logscale x")
        gp.append("set format x '%g'")
        if xs:
            lo, hi = min(xs), max(xs)
            gp.append("set xrange [%g:%g]" % ((lo / 2, hi * 2) if logx else
                                               (lo - 0.1 * (hi - lo or 1), hi + 0.1 * (hi - lo or 1))))
            if logx:
                gp.append("set xtics (%s)" % ", ".join('"%g" %g' % (x, x) for x in
                                                        decade_tics(lo / 2, hi * 2, sorted(set(xs)))))
        gp.append("set logscale y" if logy else "unset logscale y")
        gp.append("set format y '%g'")
        gp.append("set yrange " + rng)
        cmds = []
        for i, t in enumerate(titles):
            mine = [(x, s) for tt, x, s in pts if tt == t]
            if not mine:
                continue
            f = os.path.join(ddir, "%s.%d.dat" % (m, i))
            with open(f, "w") as fh:
                fh.write("# x mean ci_lo ci_hi n diverged seeds marker_y  (%s; %s; marker_y: "
                         "the x of a diverged seed, at the mean or the panel's top)\n" % (m, sel))
                for x, s in mine:
                    lo_, hi_ = (s["lo"], s["hi"]) if finite(s["lo"]) else (s["mean"], s["mean"])
                    mark = math.nan if not s["ndiv"] else (s["mean"] if finite(s["mean"]) else top)
                    fh.write("%s %s %s %s %d %d %d %s\n" % (
                        fmt(x) or "NaN", fmt(s["mean"]) or "NaN", fmt(lo_) or "NaN",
                        fmt(hi_) or "NaN", s["n"], s["ndiv"], s["nseeds"], fmt(mark) or "NaN"))
            c = PALETTE[i % len(PALETTE)]
            dt = 1 + (i // len(PALETTE)) + (i % 3)
            style = "lc rgb '%s' dt %d pt %d ps 1 lw 1.5" % (c, dt, POINTS[i % len(POINTS)])
            means = any(finite(s["mean"]) for _, s in mine)
            if means:
                cmds.append("'%s' using 1:2:3:4 with yerrorlines %s title %s"
                            % (f, style, agg_seeds.gp_str(t)))
            # diverged: x at the mean (some seeds) or at the top of the panel (all seeds)
            if any(s["ndiv"] for _, s in mine):
                cmds.append("'%s' using 1:8 with points pt 2 ps 2 "
                            "lw 2 lc rgb '%s' %s" % (f, c, "notitle" if means else
                                                     "title " + agg_seeds.gp_str(t + " (diverged)")))
        gp.append("plot " + ", \\\n     ".join(cmds) if cmds else "plot NaN notitle")
    gp.append("unset multiplot")
    return render(stem, "\n".join(gp) + "\n", 520 * np_ + 160, 480, outdir, ddir)


def decade_tics(lo, hi, xs):
    """Tick positions for a log x axis: the swept values when few, else the decades."""
    if len(xs) <= 7:
        return xs
    out, e = [], math.floor(math.log10(lo))
    while 10 ** e <= hi:
        if 10 ** e >= lo:
            out.append(float("%g" % 10 ** e))
        e += 1
    return out or xs


# ---- time to target -------------------------------------------------------------------------

def first_reach(run, w, target, acc):
    """(step, passes, seconds) at which a run first reaches the target, or None."""
    steps = run["steps"]
    if acc:
        hit = [e for e in run["epochs"] if finite(e.get("test_acc")) and e["test_acc"] >= target]
        if not hit:
            return None
        st = hit[0]["step"]
        if st <= 0:
            return (0.0, 0.0, 0.0)
        row = [s for s in steps if s[0] == st]
        if not row:
            raise InputError("per-step CSV has no step %g (evaluation of epoch %g)"
                             % (st, hit[0]["epoch"]))
        return (st, row[0][2], row[0][3])
    ma = run_ma(run, w)
    for s, m in zip(steps, ma):
        if finite(m) and m <= target:
            return (s[0], s[2], s[3])
    return None


def default_target(groups, w):
    best = math.inf
    for g in groups:
        if any(r["status"] == "diverged" for r in g["runs"]) or not g["runs"]:
            continue
        v = [final_ma(r, w) for r in g["runs"]]
        v = [x for x in v if finite(x)]
        if v:
            best = min(best, math.fsum(v) / len(v))
    if not finite(best):
        raise InputError("no run group without a diverged seed: give --target")
    return 1.1 * best


def time_to_target(name, groups, w, target, acc, outdir, datadir):
    kind = "test_acc" if acc else "loss_ma"
    rows, per = [], []
    for g in groups:
        hits = [first_reach(r, w, target, acc) for r in g["runs"]]
        got = [h for h in hits if h is not None]
        st = [seedstats.mean_ci([h[j] for h in got]) for j in range(3)]
        per.append((g, len(got), len(hits), st))
    best = {}
    for g, k, n, st in per:
        score = (-k, st[1][1] if k else math.inf)
        if g["label"] not in best or score < best[g["label"]][0]:
            best[g["label"]] = (score, id(g))
    for g, k, n, st in per:
        r = [name, g["label"], g["lr_text"], kind, "%.9g" % target, str(w if not acc else ""),
             str(n), str(k)]
        for s in st:
            r += [fmt(s[1]), fmt(s[3]), fmt(s[4])]
        r.append("1" if best[g["label"]][1] == id(g) else "0")
        rows.append(r)
    path = os.path.join(outdir, name + "_time_to_target.csv")
    write_csv(path, TTT_HEADER, rows)
    chosen = [(g, k, n, st) for g, k, n, st in per if best[g["label"]][1] == id(g)]
    what = ("test accuracy >= %g" % target if acc else
            "batch loss (moving average over %d steps) <= %.4g" % (w, target))
    md = ["# %s: time to target" % name, "",
          "Target: %s. Each method at its best lr (most seeds reaching the target, then fewest "
          "passes); mean ± half-width of the 95 %% CI over the seeds that reached it." % what, "",
          "| method | lr | reached | steps | fwd+bwd passes | seconds |",
          "|---|---|---|---|---|---|"]
    for g, k, n, st in chosen:
        cells = ["%s ± %s" % (num_s(s[1]), num_s(s[1] - s[3])) if finite(s[3]) else
                 num_s(s[1]) if k else "not reached" for s in st]
        md.append("| %s | %s | %d/%d | %s |" % (nice(g["label"]), g["lr_text"], k, n,
                                                 " | ".join(cells)))
    mdpath = os.path.join(outdir, name + "_time_to_target.md")
    with open(mdpath, "w") as f:
        f.write("\n".join(md) + "\n")
    return [path, mdpath] + ttt_figure(name, chosen, what, outdir, datadir)


def gp_esc(s):
    """Text for inside a gnuplot double-quoted string."""
    return s.replace("\\", "\\\\").replace('"', '\\"')


def num_s(x):
    if not finite(x):
        return "-"
    return "%.3g" % x if abs(x) < 100 else "%.0f" % x


def ttt_figure(name, chosen, what, outdir, datadir):
    stem = name + "_time_to_target"
    ddir = os.path.join(datadir, stem)
    os.makedirs(ddir, exist_ok=True)
    f = os.path.join(ddir, "ttt.dat")
    with open(f, "w") as fh:
        fh.write("# index steps lo hi passes lo hi seconds lo hi reached seeds\n")
        for i, (g, k, n, st) in enumerate(chosen, start=1):
            vals = []
            for s in st:
                lo, hi = (s[3], s[4]) if finite(s[3]) else (s[1], s[1])
                vals += [fmt(s[1]) or "NaN", fmt(lo) or "NaN", fmt(hi) or "NaN"]
            fh.write("%d %s %d %d\n" % (i, " ".join(vals), k, n))
    tics = ", ".join('"%s\\nlr=%s" %d' % (gp_esc(nice(g["label"])), gp_esc(g["lr_text"]), i)
                     for i, (g, _, _, _) in enumerate(chosen, start=1))
    gp = ['set multiplot layout 1,3 title %s font ",11"' % agg_seeds.gp_str(
        "%s: time to reach %s (best lr per method; mean over the seeds that reached it, "
        "95 %% CI; k/n: seeds that reached it)" % (name, what))]
    cols = [(2, "steps"), (5, "forward + backward passes"), (8, "seconds (training)")]
    for j, (c, lab) in enumerate(cols):
        if not any(st[j][1] is not None and finite(st[j][1]) for _, _, _, st in chosen):
            # nothing measured (seconds of a sweep run with --no-timing): say so, plot nothing
            gp += ["reset", 'set title "%s" font ",9"' % lab, "unset border; unset tics",
                   "set xrange [0:1]; set yrange [0:1]",
                   "set label 1 'not measured (no wall times in the CSVs)' at 0.5,0.5 center",
                   "plot NaN notitle"]
            continue
        gp += ["reset", "set grid lc rgb '#E0E0E0'; set tics nomirror; set border 3",
               "set datafile missing NaN", "unset key",
               'set title "%s" font ",9"' % lab, 'set ylabel "%s"' % lab,
               'set xlabel "method (lr)"', "set xrange [0.4:%g]" % (len(chosen) + 0.6),
               "set xtics (%s) rotate by 30 right font ',8'" % tics if chosen else "",
               "set format y '%g'", "set yrange [0:*]", "set offsets 0,0,graph 0.15,0",
               "set style fill solid 0.5 noborder", "set boxwidth 0.6"]
        gp.append("plot '%s' using 1:%d with boxes lc rgb '#0072B2' notitle, "
                  "'' using 1:%d:%d:%d with yerrorbars pt 7 ps 0.6 lc rgb '#000000' notitle, "
                  "'' using 1:(column(%d) == column(%d) ? column(%d) : column(%d)):"
                  "(sprintf('%%d/%%d', $11, $12)) with labels offset 0,0.8 font ',8' notitle, "
                  "'' using 1:($11 == 0 ? 0 : NaN):('not reached') with labels rotate by 90 offset 0,0.5 "
                  "left font ',8' tc rgb '#C00000' notitle"
                  % (f, c, c, c + 1, c + 2, c, c, c + 2, c))
    gp.append("unset multiplot")
    if not any(k for _, k, _, _ in chosen):
        gp = ['set title %s' % agg_seeds.gp_str("%s: no method reached %s" % (name, what)),
              "unset xtics; unset ytics; set xrange [0:1]; set yrange [0:1]",
              "set label 1 'target not reached by any run' at 0.5,0.5 center",
              "plot NaN notitle"]
    return render(stem, "\n".join(gp) + "\n", 1500, 560, outdir, ddir)


# ---- performance profile --------------------------------------------------------------------

def best_final(groups, w):
    """{label: (best-lr final loss or inf, lr text)} of one sweep."""
    out = {}
    for g in groups:
        lab = g["label"]
        out.setdefault(lab, (math.inf, ""))
        if not g["runs"] or any(r["status"] == "diverged" for r in g["runs"]):
            continue
        vals = []
        for r in g["runs"]:
            m = run_metrics(r, w, False)
            vals.append(m.get("train_loss", m.get("batch_loss_ma", math.nan)))
        vals = [v for v in vals if finite(v)]
        if vals:
            v = math.fsum(vals) / len(vals)
            if v < out[lab][0]:
                out[lab] = (v, g["lr_text"])
    return out


def profile(outdir, specs, window=None):
    ratios, methods = [], []
    for spec in specs:
        name, sep, res = spec.partition("=")
        if not sep:
            res, name = spec, os.path.basename(os.path.normpath(spec))
        groups = load_sweep(res)
        bf = best_final(groups, window_of(groups, window))
        best = min(v for v, _ in bf.values())
        for lab, (v, lr) in bf.items():
            if lab not in methods:
                methods.append(lab)
            if finite(v) and v <= 0:
                raise InputError("%s: %s: final loss %g is not positive (ratios undefined)"
                                 % (res, lab, v))
            ratios.append((name, lab, lr, v, v / best if finite(v) and finite(best) else math.inf))
    os.makedirs(outdir, exist_ok=True)
    rpath = os.path.join(outdir, "performance_ratios.csv")
    write_csv(rpath, ["problem", "method", "lr", "final_loss", "ratio"],
              [[p, m, lr, fmt(v), fmt(r) if finite(r) else "inf"] for p, m, lr, v, r in ratios])
    prows, curves = [], {}
    taus = sorted({r for *_, r in ratios if finite(r)} | {1.0})
    for m in methods:
        rs = [r for _, mm, _, _, r in ratios if mm == m]
        pts = [(t, sum(1 for r in rs if r <= t) / len(rs)) for t in taus]
        curves[m] = (len(rs), pts)
        prows += [[m, str(len(rs)), "%.9g" % t, "%.9g" % f] for t, f in pts]
    ppath = os.path.join(outdir, "performance_profile.csv")
    write_csv(ppath, ["method", "problems", "tau", "fraction"], prows)
    ddir = os.path.join(outdir, "data", "performance_profile")
    os.makedirs(ddir, exist_ok=True)
    tmax = max(taus) * 1.5 if max(taus) > 1 else 2.0
    cmds = []
    for i, m in enumerate(methods):
        f = os.path.join(ddir, "%d.dat" % i)
        n, pts = curves[m]
        with open(f, "w") as fh:
            fh.write("# tau fraction  (%s, %d problems)\n" % (m, n))
            for t, fr in pts:
                fh.write("%.9g %.9g\n" % (t, fr))
            fh.write("%.9g %.9g\n" % (tmax, pts[-1][1]))
        c = PALETTE[i % len(PALETTE)]
        dt = 1 + (i // len(PALETTE)) + (i % 4)
        cmds.append("'%s' using 1:2 with steps lw 2 lc rgb '%s' dt %d title %s"
                    % (f, c, dt, agg_seeds.gp_str("%s (%d sweep%s)" % (nice(m), n,
                                                                        "" if n == 1 else "s"))))
    gp = ['set title %s font ",11"' % agg_seeds.gp_str(
        "performance profile over %d sweeps: fraction of the sweeps on which a method's "
        "best-lr final loss is within a factor tau of the best method's" % len(specs)),
          "set grid lc rgb '#E0E0E0'; set tics nomirror; set border 3",
          "set logscale x", "set format x '%g'", "set xrange [1:%g]" % tmax,
          "set xtics (%s)" % ", ".join('"%g" %g' % (t, t) for t in TAU_TICS if t <= tmax),
          "set yrange [-0.03:1.05]", 'set xlabel "tau (ratio to the best final loss, log scale)"',
          'set ylabel "fraction of sweeps"',
          "set key outside right top samplen 4 spacing 1.1 font ',8' noopaque",
          "plot " + ", \\\n     ".join(cmds)]
    return [rpath, ppath] + render("performance_profile", "\n".join(gp) + "\n", 1300, 600,
                                   outdir, ddir)


# ---- output ---------------------------------------------------------------------------------

def write_csv(path, header, rows):
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)


def render(stem, script, w, h, outdir, ddir):
    """Run a gnuplot script into OUT/stem.png and .pdf; returns the paths."""
    scale = float(os.environ.get("LQA_FIGURES_SCALE", "1") or 1)
    w, h = int(w * scale), int(h * scale)
    gpfile = os.path.join(ddir, stem + ".gp")
    with open(gpfile, "w") as f:
        f.write(script)
    out = []
    for fmt_ in ("png", "pdf"):
        path = os.path.join(outdir, stem + "." + fmt_)
        if fmt_ == "pdf":
            term = 'set terminal pdfcairo size %g,%g font "Sans,7" noenhanced linewidth 1' % (
                w / 100.0, h / 100.0)
        else:
            term = 'set terminal pngcairo size %d,%d font "Sans,9" noenhanced linewidth 1' % (w, h)
        if os.path.exists(path):
            os.unlink(path)
        try:
            p = subprocess.run(["gnuplot", "-e", "%s; set output '%s'" % (term, path), gpfile],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True)
        except OSError as e:
            raise InputError("gnuplot: cannot run (make deps): %s" % e)
        if p.returncode != 0 or not os.path.isfile(path) or os.path.getsize(path) == 0:
            raise InputError("%s: gnuplot failed (script %s):\n%s" % (path, gpfile, p.stdout))
        if p.stdout.strip():
            sys.stderr.write("".join("%s: %s: gnuplot: %s\n" % (PROG, path, l)
                                     for l in p.stdout.strip().splitlines()))
        if fmt_ == "png" and os.environ.get("LQA_FIGURES_PALETTE", "1") != "0":
            q = subprocess.run([sys.executable, os.path.join(HERE, "png_palette.py"), path])
            if q.returncode != 0:
                raise InputError("%s: png_palette.py failed" % path)
        out.append(path)
    return out


def usage(msg):
    sys.stderr.write("%s: %s\nusage: analysis.py DIR [--out OUT] [--name NAME] [--target LOSS | "
                     "--target-acc ACC] [--window W]\n       analysis.py profile OUT "
                     "[NAME=]DIR ... (see --help)\n" % (PROG, msg))
    return 2


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    opts, pos = {}, []
    it = iter(argv)
    for a in it:
        if a in ("--out", "--name", "--target", "--target-acc", "--window"):
            v = next(it, None)
            if v is None:
                return usage("%s needs a value" % a)
            opts[a[2:]] = v
        elif a.startswith("--"):
            return usage("unknown option '%s'" % a)
        else:
            pos.append(a)
    vals = {}
    for k in ("target", "target-acc", "window"):
        if k in opts:
            try:
                vals[k] = float(opts[k])
            except ValueError:
                return usage("--%s: '%s' is not a number" % (k, opts[k]))
            if not finite(vals[k]) or vals[k] <= 0:
                return usage("--%s: '%s' must be a positive number" % (k, opts[k]))
    if "window" in vals and vals["window"] != int(vals["window"]):
        return usage("--window: '%s' is not a whole number of steps" % opts["window"])
    if "target" in vals and "target-acc" in vals:
        return usage("--target and --target-acc exclude each other")
    if "target-acc" in vals and vals["target-acc"] > 1:
        return usage("--target-acc: '%s' is above 1 (a fraction: 0.9 = 90 %%)" % opts["target-acc"])
    window = int(vals["window"]) if "window" in vals else None
    try:
        if pos and pos[0] == "profile":
            if len(pos) < 3 or set(opts) - {"window"}:
                return usage("profile needs OUT and at least one sweep directory")
            files = profile(pos[1], pos[2:], window)
        elif len(pos) == 1:
            res = pos[0]
            name = opts.get("name") or os.path.basename(os.path.normpath(os.path.abspath(res)))
            outdir = opts.get("out") or os.path.join(res, "figures")
            groups = load_sweep(res)
            if not any(g["runs"] for g in groups):
                raise InputError("%s: no run finished (every run failed)"
                                 % os.path.join(res, "summary.csv"))
            w = window_of(groups, window)
            os.makedirs(outdir, exist_ok=True)
            datadir = os.path.join(outdir, "data", name + "-analysis")
            os.makedirs(datadir, exist_ok=True)
            files = sensitivity(name, groups, w, outdir, datadir)
            if "target-acc" in vals:
                target, acc = vals["target-acc"], True
            else:
                target, acc = vals.get("target") or default_target(groups, w), False
            files += time_to_target(name, groups, w, target, acc, outdir, datadir)
        else:
            return usage("bad command line: %s" % " ".join(argv))
    except InputError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    except OSError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    print("\n".join(files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
