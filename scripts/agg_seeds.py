#!/usr/bin/env python3
"""agg_seeds.py — turn one sweep's CSVs into aggregate.csv and the data files the gnuplot
scripts read.

    python3 scripts/agg_seeds.py RESULTS_DIR                 aggregate.csv only
    python3 scripts/agg_seeds.py RESULTS_DIR DATA_DIR [--name NAME] [--kind KIND] [--band BAND]

RESULTS_DIR/aggregate.csv (both forms): label,lr,epoch,metric,n,mean,sd,ci_lo,ci_hi — per run
group (label, lr) x epoch x metric (train_loss, test_loss, test_acc, val_loss, val_acc, those
with a value), the mean over the n seeds with a finite value, the sample standard deviation and
the two-sided 95 % Student-t interval of the mean; sd and the interval empty when n < 2
(scripts/seedstats.py computes it; see there).

RESULTS_DIR holds a sweep's summary.csv and the per-run <run>.steps.csv and
<run>.epochs.csv it lists. The runs are grouped by (label, lr); the seeds of a
group are aggregated step by step (and epoch by epoch) into the mean and a band
(lo, hi) around it, so the plots can draw the mean with its band. BAND (default
ci): the two-sided 95 % Student-t interval of the mean over the seeds (lo = hi =
mean with one seed), its lower edge cut at half the curve's smallest mean when the
curve is positive (an interval reaching 0 would vanish from a log axis; aggregate.csv
keeps the uncut interval); minmax: the smallest and largest seed. Written to DATA_DIR:

  <series>.steps.dat   step fwdbwd loss_mean loss_lo loss_hi ma_mean ma_lo ma_hi
                       lr_mean lr_lo lr_hi abar_mean nseeds
                       (ma = trailing moving average of the batch loss over W steps,
                       taken per seed, then aggregated; fwdbwd = fwd+bwd, mean over seeds)
  <series>.epochs.dat  epoch step train_mean train_lo train_hi acc_mean nseeds
  manifest.gp          gnuplot definitions: the series (file, title, colour, whether it
                       diverged and where) and the panels of each figure of KIND
  lr_stats.csv         per series: start lr, median/min/max lr over the last 10% of steps
  figures.txt          one line per figure of KIND: name (without extension), the
                       gnuplot script that draws it, width and height in pixels

KIND (default: testfn when the sweep's model is a test function, else from NAME): lqa (NAME
starts with lqa_), findplr (contains findplr), qlab (starts with qlab_), newton (starts with
newton_), generic otherwise. testfn: f - f* against the step and the trajectories on the
function's contour map (scripts/testfn_plot.py writes their data), and the lr traces.

Diverged runs (status "diverged") end where their CSVs end; their titles say
"diverged at step N" and the manifest gives their last finite point for a marker.
Any missing file, missing column or malformed number is an error naming the file
(and line); exit status 1. Python 3 standard library only.
"""
import csv
import math
import os
import re
import statistics
import sys

import seedstats
import testfn_plot

PROG = "agg_seeds.py"

SUMMARY_COLS = ["run", "model", "dataset", "optimizer", "label", "lr", "seed", "status",
                "steps", "final_loss", "train_loss", "test_acc", "sec_per_step", "csv",
                "epochs_csv"]
STEPS_COLS = ["step", "epoch", "loss", "lr", "fwd", "bwd"]
EPOCHS_COLS = ["epoch", "step", "train_loss"]
ADAPTIVE = ("hgd", "l4gd", "lqa", "qlabgrad", "newton-lr")
LQA_COMPETITORS = ["sgd", "sgd-m", "sgd-nag", "adagrad", "rmsprop", "adam"]
NICE = {"sgd": "SGD", "sgd-m": "SGD-M", "sgd-nag": "SGD-NAG", "adagrad": "AdaGrad",
        "rmsprop": "RMSProp", "adam": "Adam", "hgd": "HGD", "l4gd": "L4GD",
        "lqa": "LQA", "lqa-paper": "LQA (paper)", "lqa-reference": "LQA (reference)",
        "qlabgrad": "QLABGrad", "qlabgrad-paper": "QLABGrad (paper)",
        "qlabgrad-reference": "QLABGrad (reference)", "newton-lr": "Newton-lr",
        "sgd-ssdecay": "SGD SS-decay", "sgd-edecay": "SGD E-decay",
        "sgd-cadecay": "SGD CA-decay", "qlabgrad-nofindplr": "QLABGrad without FindPLR"}
# colour-blind-friendly-ish palette; lr curves of one competitor take the first three
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#A08C00",
           "#7F7F7F", "#8C564B", "#9467BD"]


InputError = seedstats.InputError
finite, num = seedstats.finite, seedstats.num


def die(msg):
    sys.stderr.write(f"{PROG}: {msg}\n")
    sys.exit(1)


def read_csv(path, required, what):
    """Header-checked rows of a CSV file as dicts (seedstats.read_csv); errors name the file."""
    return [r for _, r in seedstats.read_csv(path, required, what)[1]]


def fmt(x):
    return "NaN" if not finite(x) else f"{x:.9g}"


def gp_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gp_array(name, values):
    vals = ", ".join(gp_str(v) if isinstance(v, str) else fmt(v) for v in values)
    if not values:
        return f"array {name}[1] = [{gp_str('')}]\n"
    return f"array {name}[{len(values)}] = [{vals}]\n"


def ma_window(nsteps):
    return max(5, min(200, nsteps // 30))


def moving_average(values, w):
    out, acc, q = [], 0.0, []
    for v in values:
        if finite(v):
            q.append(v)
            acc += v
            if len(q) > w:
                acc -= q.pop(0)
            out.append(acc / len(q))
        else:
            out.append(math.nan)
    return out


def block_moving_average(steps, means, w):
    """The trailing moving average over w steps of a CSV logged every N steps (steps_every):
    at each logged step s, the mean batch loss of steps s-w+1..s from the blocks' loss_mean
    (each block weighted by its steps in that range)."""
    blocks = [(s, m, s - (steps[k - 1] if k > 0 else 0)) for k, (s, m) in enumerate(zip(steps, means))]
    out, j = [], 0
    for i, s in enumerate(steps):
        while j < i and blocks[j][0] < s - w + 1:
            j += 1
        v = seedstats.block_mean(blocks[j:i + 1], s - w + 1, s)
        out.append(math.nan if v is None else v)
    return out


def loss_ma(steps, losses, means, w):
    """The trailing moving average of the batch loss over w steps: of every step's loss, or
    for a CSV logged every N steps (means: its loss_mean column) of the blocks' means."""
    return moving_average(losses, w) if means is None else block_moving_average(steps, means, w)


def load_steps(path):
    """The rows (step, loss, lr, fwd+bwd, abar) and, for a CSV logged every N steps, its
    loss_mean column (else None)."""
    rows = read_csv(path, STEPS_COLS, "per-step CSV")
    data = []
    has_abar = bool(rows) and "abar" in rows[0]
    means = [num(r["loss_mean"], path, i, "loss_mean") for i, r in enumerate(rows, start=2)] \
        if rows and "loss_mean" in rows[0] else None
    for i, r in enumerate(rows, start=2):
        step = num(r["step"], path, i, "step")
        if not finite(step):
            raise InputError(f"{path}:{i}: column 'step': empty")
        data.append((int(step), num(r["loss"], path, i, "loss"), num(r["lr"], path, i, "lr"),
                     num(r["fwd"], path, i, "fwd") + num(r["bwd"], path, i, "bwd"),
                     num(r["abar"], path, i, "abar") if has_abar else math.nan))
    return data, means


def load_epochs(path):
    rows = read_csv(path, EPOCHS_COLS, "per-epoch CSV")
    data = []
    for i, r in enumerate(rows, start=2):
        acc = num(r["test_acc"], path, i, "test_acc") if "test_acc" in r else math.nan
        data.append((num(r["epoch"], path, i, "epoch"), num(r["step"], path, i, "step"),
                     num(r["train_loss"], path, i, "train_loss"), acc))
    return data


BANDNOTE = {"ci": "95% CI band", "minmax": "min-max band"}
BAND = "ci"  # --band: the band around the mean, "ci" or "minmax"


def agg(vals):
    """(mean, lo, hi) of the finite values: lo/hi the band (BAND) around the mean."""
    v = [x for x in vals if finite(x)]
    if not v:
        return math.nan, math.nan, math.nan
    n = len(v)
    m = sum(v) / n
    if BAND == "minmax":
        return m, min(v), max(v)
    if n < 2:
        return m, m, m
    h = seedstats.t_ppf(0.975, n - 1) * math.sqrt(sum((x - m) ** 2 for x in v) / (n - 1) / n)
    return m, m - h, m + h


def clip_band(recs, cols):
    """For a positive curve (every mean at column c > 0), cut the lower edge of its band
    (column c + 1) at half the curve's smallest mean: a t-interval reaching 0 or below would
    vanish from a log axis (and stretch a linear one below 0) instead of reaching the bottom."""
    recs = [list(r) for r in recs]
    for c in cols:
        means = [r[c] for r in recs if finite(r[c])]
        if not means or min(means) <= 0:
            continue
        floor = min(means) / 2
        for r in recs:
            if finite(r[c + 1]) and r[c + 1] < floor:
                r[c + 1] = floor
    return [tuple(r) for r in recs]


def sanitize(s):
    return re.sub(r"[^A-Za-z0-9._+-]", "_", s)


def kind_of(name):
    if "findplr" in name:
        return "findplr"
    for k in ("lqa", "qlab", "newton"):
        if name.startswith(k + "_"):
            return k
    return "generic"


def main(argv):
    global BAND
    args, name, kind = [], None, None
    it = iter(argv)
    for a in it:
        if a == "--band":
            BAND = next(it, None)
            if BAND not in ("ci", "minmax"):
                die(f"--band: expected ci or minmax, got {BAND!r}")
        elif a == "--name":
            name = next(it, None)
        elif a == "--kind":
            kind = next(it, None)
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            args.append(a)
    if len(args) not in (1, 2):
        die("usage: agg_seeds.py RESULTS_DIR [DATA_DIR [--name NAME] [--kind KIND] [--band BAND]]")
    if len(args) == 1:
        try:
            seedstats.write_aggregate(args[0])
        except InputError as e:
            die(str(e))
        return 0
    res, out = args
    name = name or os.path.basename(os.path.normpath(res))
    if kind not in (None, "lqa", "qlab", "findplr", "newton", "generic", "testfn"):
        die(f"unknown kind '{kind}'")
    try:
        build(res, out, name, kind)
        seedstats.write_aggregate(res)
    except InputError as e:
        die(str(e))
    return 0


def build(res, out, name, kind):
    summary_path = os.path.join(res, "summary.csv")
    summary = read_csv(summary_path, SUMMARY_COLS, "sweep summary")
    if not summary:
        raise InputError(f"{summary_path}: no runs listed (sweep summary)")
    # group by (label, lr), in file order
    groups, order = {}, []
    for i, r in enumerate(summary, start=2):
        for c in ("lr", "seed", "steps"):
            num(r[c], summary_path, i, c)
        key = (r["label"], r["lr"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)

    os.makedirs(out, exist_ok=True)
    series = []
    for key in order:
        label, lr = key
        runs = groups[key]
        ok = [r for r in runs if r["status"] in ("done", "diverged")]
        failed = [r for r in runs if r not in ok]
        if not ok:
            sys.stderr.write(f"{PROG}: {name}: {label} lr={lr}: every run failed; left out\n")
            continue
        steps_per_seed, means_per_seed, epochs_per_seed = [], [], []
        for r in ok:
            st, mn = load_steps(os.path.join(res, r["csv"]))
            steps_per_seed.append(st)
            means_per_seed.append(mn)
            epochs_per_seed.append(load_epochs(os.path.join(res, r["epochs_csv"])))
        nsteps = max((s[-1][0] for s in steps_per_seed if s), default=0)  # the run's steps
        w = ma_window(max(int(float(r["steps"])) for r in ok) if ok else nsteps)
        # per-step aggregation over seeds
        by_step = {}
        for s, mn in zip(steps_per_seed, means_per_seed):
            ma = loss_ma([row[0] for row in s], [row[1] for row in s], mn, w)
            for row, m in zip(s, ma):
                by_step.setdefault(row[0], []).append(row + (m,))
        sid = sanitize(f"{label}_lr{lr}")
        recs = []  # step fwdbwd loss(mean,min,max) ma(mean,min,max) lr(mean,min,max) abar n
        last_ma = (math.nan, math.nan, math.nan)  # step, ma, fwdbwd of the last finite point
        for step in sorted(by_step):
            rows = by_step[step]
            lm = agg([r[1] for r in rows])
            mm = agg([r[5] for r in rows])
            lrs = agg([r[2] for r in rows])
            fb = agg([r[3] for r in rows])[0]
            ab = agg([r[4] for r in rows])[0]
            n = sum(1 for r in rows if finite(r[1]))
            if not finite(lm[0]) and not finite(lrs[0]):
                continue
            recs.append((step, fb) + lm + mm + lrs + (ab, n))
            if finite(mm[0]):
                last_ma = (step, mm[0], fb)
        recs = clip_band(recs, (2, 5, 8))
        with open(os.path.join(out, sid + ".steps.dat"), "w") as f:
            f.write("# step fwdbwd loss_mean loss_lo loss_hi ma_mean ma_lo ma_hi "
                    "lr_mean lr_lo lr_hi abar_mean nseeds  (moving average: %d steps; band: %s)\n"
                    % (w, BAND))
            f.write("".join(" ".join(fmt(x) for x in r) + "\n" for r in recs))
        # per-epoch aggregation
        by_ep = {}
        for e in epochs_per_seed:
            for row in e:
                by_ep.setdefault(row[0], []).append(row)
        erecs, last_ep = [], (math.nan, math.nan)
        for ep in sorted(by_ep):
            rows = by_ep[ep]
            tl = agg([r[2] for r in rows])
            if not finite(tl[0]):
                continue
            st = agg([r[1] for r in rows])[0]
            acc = agg([r[3] for r in rows])[0]
            n = sum(1 for r in rows if finite(r[2]))
            erecs.append((ep, st) + tl + (acc, n))
            last_ep = (ep, tl[0])
        erecs = clip_band(erecs, (2,))
        with open(os.path.join(out, sid + ".epochs.dat"), "w") as f:
            f.write("# epoch step train_mean train_lo train_hi acc_mean nseeds  (band: %s)\n"
                    % BAND)
            f.write("".join(" ".join(fmt(x) for x in r) + "\n" for r in erecs))
        # lr statistics over the last 10% of steps (mean over seeds per step)
        lr_vals = [r[8] for r in recs if finite(r[8])]
        ma_vals = [r[5] for r in recs if finite(r[5])]
        tail = lr_vals[len(lr_vals) - max(1, len(lr_vals) // 10):] if lr_vals else []
        div = [r for r in ok if r["status"] == "diverged"]
        seeds = len(ok)
        nice = NICE.get(label, label)
        note = ""
        if div:
            at = ", ".join(str(int(float(r["steps"]))) for r in div)
            if seeds == 1:
                note = f" - diverged at step {at}"
            else:
                note = f" - {len(div)}/{seeds} seeds diverged (step {at})"
        if failed:
            note += f" - {len(failed)} run(s) failed"
        # the best final loss decides the lr shown in the passes plot
        fl = [float(r["train_loss"]) if r["train_loss"].strip() else float(r["final_loss"] or "nan")
              for r in ok]
        fl = [x if finite(x) else math.inf for x in fl]
        series.append(dict(
            id=sid, label=label, lr=lr, optimizer=ok[0]["optimizer"], nice=nice, note=note,
            diverged=1 if div else 0, nsteps=nsteps, seeds=seeds, window=w,
            has_epochs=1 if erecs else 0,
            ep_vals=[r[j] for r in erecs for j in (2, 3, 4)],
            last_ep=last_ep, last_ma=last_ma,
            score=math.inf if div else (sum(fl) / len(fl)),
            lr_start=float(lr), lr_tail=(statistics.median(tail) if tail else math.nan,
                                         min(tail) if tail else math.nan,
                                         max(tail) if tail else math.nan),
            lr_pos=all(x > 0 for x in lr_vals) if lr_vals else False,
            lr_span=(max(lr_vals) / min(lr_vals)) if lr_vals and min(lr_vals) > 0 else 0.0,
            has_abar=any(finite(r[11]) for r in recs),
            ma_min=min(ma_vals, default=math.nan), ma_max=max(ma_vals, default=math.nan),
            first_loss=recs[0][2] if recs else math.nan,
            last_step=recs[-1][0] if recs else 0))

    if not series:
        raise InputError(f"{summary_path}: no complete runs to plot")
    extra = None
    if kind is None:
        kind = ("testfn" if all(testfn_plot.is_testfn(r["model"]) for r in summary)
                else kind_of(name))
    if kind == "testfn":
        def extra(m, figs):
            testfn_plot.write(res, out, summary, series, m, figs, gp_str, gp_array, PALETTE,
                              InputError)
    write_manifest(out, name, kind, series, extra)
    with open(os.path.join(out, "lr_stats.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["sweep", "label", "optimizer", "lr", "steps", "lr_tail_median",
                    "lr_tail_min", "lr_tail_max", "status"])
        for s in series:
            w.writerow([name, s["label"], s["optimizer"], s["lr"], s["nsteps"]]
                       + [fmt(x) for x in s["lr_tail"]]
                       + ["diverged" if s["diverged"] else "done"])


def assign_colors(series, kind):
    """LQA layout: the i-th lr of a competitor gets palette colour i; LQA black/red.
    Otherwise one colour per label, in order."""
    labels = []
    for s in series:
        if s["label"] not in labels:
            labels.append(s["label"])
    lrs_of = {}
    for s in series:
        lrs_of.setdefault(s["label"], []).append(s["lr"])
    for s in series:
        s["dt"] = 1
        if s["optimizer"] == "lqa" and kind == "lqa":
            ref = "reference" in s["label"]
            s["color"] = "#C00000" if ref else "#000000"
            s["dt"] = 2 if ref else 1
        elif kind == "lqa":
            s["color"] = PALETTE[lrs_of[s["label"]].index(s["lr"]) % len(PALETTE)]
        else:
            k = labels.index(s["label"])
            # past the palette, the colours repeat dashed; several lrs of one label: dashes too
            s["dt"] = 1 + k // len(PALETTE) + lrs_of[s["label"]].index(s["lr"])
            s["color"] = PALETTE[k % len(PALETTE)]
        # the passes plot shows one lr per label: one colour per label there
        if s["optimizer"] == "lqa" and kind == "lqa":
            s["pcolor"] = s["color"]
        else:
            s["pcolor"] = PALETTE[labels.index(s["label"]) % len(PALETTE)]


def write_manifest(out, name, kind, series, extra=None):
    assign_colors(series, kind)
    labels = []
    for s in series:
        if s["label"] not in labels:
            labels.append(s["label"])
    multi_lr = {l: sum(1 for s in series if s["label"] == l) > 1 for l in labels}
    nseeds = sorted({s["seeds"] for s in series})
    seednote = ""
    if nseeds != [1]:
        if len(nseeds) == 1:
            seednote = f" (mean of {nseeds[0]} seeds, {BANDNOTE[BAND]})"
        else:
            seednote = f" (mean over seeds, {BANDNOTE[BAND]})"
            for s in series:
                s["note"] += f" [{s['seeds']} seeds]"
    for s in series:
        s["title"] = (s["nice"] + (f" lr={s['lr']}" if multi_lr[s["label"]] or kind == "lqa"
                                   and s["optimizer"] != "lqa" else "")
                      + s["note"])
        s["lrtitle"] = s["title"]
    idx = {id(s): i + 1 for i, s in enumerate(series)}
    figs = []
    m = []
    m.append(f"# generated by scripts/agg_seeds.py from {name}; do not edit\n")
    m.append(f"cfg = {gp_str(name)}\nkind = {gp_str(kind)}\nNS = {len(series)}\n")
    m.append(f"SEEDNOTE = {gp_str(seednote)}\n")
    m.append("set datafile missing NaN\n")
    m.append(gp_array("S_id", [s["id"] for s in series]))
    m.append(gp_array("S_title", [s["title"] for s in series]))
    m.append(gp_array("S_color", [s["color"] for s in series]))
    m.append(gp_array("S_dt", [float(s["dt"]) for s in series]))
    m.append(gp_array("S_div", [float(s["diverged"]) for s in series]))
    m.append(gp_array("S_ns", [float(s["seeds"]) for s in series]))
    m.append(gp_array("S_epx", [s["last_ep"][0] for s in series]))
    m.append(gp_array("S_epy", [s["last_ep"][1] for s in series]))
    m.append(gp_array("S_stx", [s["last_ma"][0] for s in series]))
    m.append(gp_array("S_sty", [s["last_ma"][1] for s in series]))
    m.append(gp_array("S_fbx", [s["last_ma"][2] for s in series]))
    m.append(f"MAW = {series[0]['window']}\n")
    # the last iteration of any series: plot_common.gp's iteration axis spaces its tics by it
    m.append(f"XMAX = {fmt(max((s['last_step'] for s in series), default=0))}\n")
    first = [s["first_loss"] for s in series if finite(s["first_loss"])]
    mamin = [s["ma_min"] for s in series if finite(s["ma_min"]) and s["ma_min"] > 0]
    mamax = [s["ma_max"] for s in series if finite(s["ma_max"])]
    ylo = min(mamin) / 2 if mamin else 1e-3
    yhi = max(mamax + first) * 1.5 if (mamax or first) else 10
    if first:
        yhi = min(yhi, 2 * max(first))
    # losses above YCAP (twice the largest initial loss) are off the scale of every loss plot:
    # an exploding run leaves the top of the panel instead of flattening the other curves
    ycap = 2 * max(first) if first else math.inf
    m.append(f"YLO = {fmt(ylo)}\nYHI = {fmt(yhi)}\nYCAP = {fmt(ycap) if finite(ycap) else '1e300'}\n")

    def panels(prefix, plist, cols=None):
        """plist: [(title, [series...], logy)]; the layout (cols x rows) goes along."""
        n = len(plist)
        cols = cols or (n if n <= 3 else math.ceil(math.sqrt(n)))
        rows = math.ceil(n / cols)
        m.append(f"{prefix}N = {n}\n{prefix}cols = {cols}\n{prefix}rows = {rows}\n")
        m.append(gp_array(prefix + "title", [p[0] for p in plist]))
        m.append(gp_array(prefix + "series",
                          [" ".join(str(idx[id(s)]) for s in p[1]) for p in plist]))
        m.append(gp_array(prefix + "logy", [float(p[2]) for p in plist]))

    adaptive = [s for s in series if s["optimizer"] in ADAPTIVE]

    def yscale(span):
        return 0 if span <= 8 else (2 if span <= 100 else 1)

    def span_logy(group, key):
        """y axis of a panel: 0 linear; log when its curves span more than a factor 8,
        2 with 1-2-5 tics when they span at most a factor 100, 1 with decade tics above"""
        v = []
        for s in group:
            v += [min(x, ycap) for x in (s["ep_vals"] if key == "ep" else [s["ma_min"], s["ma_max"]])
                  if finite(x) and x > 0]
        return yscale(max(v) / min(v) if v else 1)

    def lr_logy(group):
        return all(s["lr_pos"] for s in group) and \
            max((s["lr_span"] for s in group), default=0) > 30

    if kind == "lqa":
        comps = [l for l in LQA_COMPETITORS if l in labels]
        comps += [l for l in labels if l not in comps and
                  not any(s["optimizer"] == "lqa" for s in series if s["label"] == l)]
        lqa = [s for s in series if s["optimizer"] == "lqa"]
        use_steps = not all(s["has_epochs"] for s in series)
        plist = [(NICE.get(c, c), [s for s in series if s["label"] == c] + lqa)
                 for c in comps] or [("LQA", lqa)]
        plist = [(t, g, span_logy(g, "ma" if use_steps else "ep")) for t, g in plist]
        panels("LQ_", plist, min(3, len(plist)))
        c = min(3, len(plist))
        figs.append(("loss", "plot_lqa.gp", 500 * c, 60 + 460 * math.ceil(len(plist) / c)))
        m.append(f"LQ_use_steps = {1 if use_steps else 0}\n")
    if kind in ("qlab", "generic"):
        ref = [s for s in series if s["label"] in ("qlabgrad-paper", "qlabgrad")]
        m.append(f"QL_ref = {idx[id(ref[0])] if ref else 0}\n")
        panels("QL_", [(s["title"], [s], yscale(yhi / ylo)) for s in series])
        c = len(series) if len(series) <= 3 else math.ceil(math.sqrt(len(series)))
        figs.append(("loss", "plot_qlab.gp", 320 * c, 60 + 250 * math.ceil(len(series) / c)))
    if kind == "testfn":
        extra(m, figs)
    if kind in ("lqa", "qlab", "generic", "testfn") and adaptive:
        panels("LR_", [(s["title"], [s], lr_logy([s])) for s in adaptive])
        c = len(adaptive) if len(adaptive) <= 3 else math.ceil(math.sqrt(len(adaptive)))
        figs.append(("lr", "plot_lr.gp", 450 * c, 60 + 320 * math.ceil(len(adaptive) / c)))
    if kind == "findplr":
        # (a) QLABGrad's lr and abar, its batch loss; with competitors in the sweep, (b) the
        # common and (c) the recent methods, each at its lr with the lowest final moving
        # average of the batch loss, against QLABGrad with FindPLR (the label "qlabgrad")
        qlab = [s for s in series if s["optimizer"] == "qlabgrad"] or series
        ref = [s for s in qlab if s["label"] == "qlabgrad"] or qlab

        def best_of(opts):
            out = []
            for l in labels:
                g = [s for s in series if s["label"] == l and s["optimizer"] in opts]
                if g:
                    out.append(min(g, key=lambda s: math.inf if s["diverged"] or
                                   not finite(s["last_ma"][1]) else s["last_ma"][1]))
            return out
        plist = [("(a) learning rate (solid) and pre-learning rate abar (dashed)",
                  qlab, lr_logy(qlab) or any(s["has_abar"] for s in qlab)),
                 ("batch loss (thin) and its moving average", qlab, span_logy(qlab, "ma"))]
        for title, opts in (("(b) common methods (best lr) and QLABGrad: batch loss",
                             ("sgd", "sgd-m", "sgd-nag", "rmsprop", "adagrad", "adam")),
                            ("(c) recent methods and QLABGrad: batch loss",
                             ("hgd", "l4gd", "lqa", "newton-lr"))):
            g = best_of(opts)
            if g:
                plist.append((title, g + ref, span_logy(g + ref, "ma")))
        panels("FP_", plist, 2)
        figs.append(("findplr", "plot_findplr.gp", 1400, 560 if len(plist) <= 2 else 1060))
    if kind == "newton":
        newton = [s for s in series if s["optimizer"] == "newton-lr"]
        panels("NW_", [("eta of newton-lr", newton or series, lr_logy(newton or series)),
                       ("batch loss, moving average", series, span_logy(series, "ma"))])
        figs.append(("eta", "plot_newton.gp", 1400, 560))
    # passes: with several lrs per label, the best lr of each label (by final loss)
    best = []
    for l in labels:
        g = [s for s in series if s["label"] == l]
        b = min(g, key=lambda s: s["score"])
        best.append(b)
    for s in series:
        s["ptitle"] = s["title"] + (" (best lr)" if multi_lr[s["label"]] else "")
    m.append(gp_array("S_ptitle", [s["ptitle"] for s in series]))
    m.append(gp_array("S_pcolor", [s["pcolor"] for s in series]))
    panels("PS_", [("batch loss (moving average) vs forward+backward passes", best,
                    span_logy(best, "ma"))])
    if kind != "testfn":  # one sample, one pass per step: nothing to compare
        figs.append(("passes", "plot_passes.gp", 1100, 650))
    with open(os.path.join(out, "manifest.gp"), "w") as f:
        f.write("".join(m))
    with open(os.path.join(out, "figures.txt"), "w") as f:
        f.write("".join(f"{name}_{x} {gp} {w} {h}\n" for x, gp, w, h in figs))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
