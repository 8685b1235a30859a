"""testfn_plot.py — the figures of a sweep on a two-dimensional test function (models/testfn.c:
booth, eggholder, himmelblau; the QLABGrad paper's Fig. 2), for scripts/agg_seeds.py.

Writes into the data directory, beside agg_seeds.py's files:

  <series>.traj.dat   step iteration x y f gap   (one row per step of the series' first seed:
                      the point before the step's update; gap = f - f*, NaN where <= 0)
  grid.dat            x y f on a 201 x 201 grid over the plotted box (gnuplot draws the contour
                      lines from it), blank line between rows
  and the TF_* definitions of manifest.gp (panels = one per optimizer label, its lrs inside)

and adds two figures: <sweep>_loss (f - f* against the step, log-log; one panel per method)
and <sweep>_trajectories (the path of each run on the contour map; start, end and minima
marked). The runs of these sweeps are deterministic, so a series is its first seed.
Python 3 standard library only.
"""
import csv
import json
import math
import os


def _booth(x, y):
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def _himmelblau(x, y):
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


def _eggholder(x, y):
    w = y + 47
    return -w * math.sin(math.sqrt(abs(x / 2 + w))) - x * math.sin(math.sqrt(abs(x - w)))


# f: the formula (as models/testfn.c); fmin: f* of the minimum a run converges to; minima: the
# points marked; other: points marked differently (x, y, legend); levels: contour spacing
MODELS = {
    "booth": dict(f=_booth, fmin=0.0, minima=[(1.0, 3.0)], other=[], levels="log"),
    "himmelblau": dict(f=_himmelblau, fmin=0.0,
                       minima=[(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186),
                               (3.584428, -1.848126)], other=[], levels="log"),
    # the local minimum past the box edge (f* computed to 1e-10); the box [-512, 512]^2 has
    # its minimum on its edge, not a stationary point (see configs/qlab_fig2_eggholder.json)
    "eggholder": dict(f=_eggholder, fmin=-976.9110009971896,
                      minima=[(522.1605287, 413.3157982)],
                      other=[(512.0, 404.2319, "box [-512, 512]^2 minimum -959.64 (on its edge)")],
                      levels="lin"),
}


def is_testfn(model):
    return model in MODELS


def _num(s):
    try:
        return float(s)
    except ValueError:
        return math.nan


def _fmt(x):
    return "NaN" if not math.isfinite(x) else f"{x:.9g}"


def _short(x):
    """a number for a legend: 3 significant digits, exponent only when large or tiny"""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e5 or x == 0 else f"{x:.1e}"


def _read_run(res, row, err):
    """(rows [(step, f, x, y)], stop_loss or None, steps of the config)"""
    path = os.path.join(res, row["csv"])
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise err(f"{path}: cannot read ({e.strerror})")
    if rows and not {"x", "y"} <= set(rows[0]):
        raise err(f"{path}: no x,y columns (not a test-function run)")
    pts = []
    for i, r in enumerate(rows, start=2):
        st, fv, x, y = (_num(r[k]) for k in ("step", "loss", "x", "y"))
        if not math.isfinite(st):
            raise err(f"{path}:{i}: column 'step': not a number")
        pts.append((int(st), fv, x, y))
    meta = os.path.join(res, row["run"] + ".json")
    try:
        with open(meta) as f:
            cfg = json.load(f)["config"]
    except (OSError, ValueError, KeyError) as e:
        raise err(f"{meta}: cannot read the run's config ({e})")
    return pts, cfg.get("stop_loss"), cfg.get("steps")


def write(res, out, summary, series, m, figs, gp_str, gp_array, palette, err):
    """Data files, manifest lines (appended to m) and figures (appended to figs) of a
    test-function sweep. series: agg_seeds.py's series (id, label, lr, optimizer, nice)."""
    model = summary[0]["model"]
    spec = MODELS[model]
    fstar = spec["fmin"]
    first = {}
    for r in summary:
        if r["status"] in ("done", "diverged"):
            first.setdefault((r["label"], r["lr"]), r)
    labels = []
    for s in series:
        if s["label"] not in labels:
            labels.append(s["label"])
    pts_all, stop, nsteps = [], None, 0
    info = []
    for s in series:
        row = first[(s["label"], s["lr"])]
        pts, stop_s, steps = _read_run(res, row, err)
        stop = stop_s if stop_s is not None else stop
        nsteps = max(nsteps, steps or 0, len(pts))
        with open(os.path.join(out, s["id"] + ".traj.dat"), "w") as f:
            f.write("# step iteration x y f gap  (gap = f - f*, f* = %s; NaN where <= 0)\n"
                    % _fmt(fstar))
            for st, fv, x, y in pts:
                gap = fv - fstar
                f.write(" ".join(_fmt(v) for v in (st, st - 1, x, y, fv,
                                                   gap if gap > 0 else math.nan)) + "\n")
        reached = None
        if stop_s is not None:
            reached = next((st - 1 for st, fv, _, _ in pts if fv <= stop_s), None)
        last = pts[-1] if pts else (0, math.nan, math.nan, math.nan)
        lrname = "\u0101" if s["optimizer"] == "qlabgrad" else "lr"
        if row["status"] == "diverged":
            what = f"diverged at step {last[0]}"
        elif reached is not None:
            what = f"converged in {reached} iterations"
            pts_all += [(x, y) for _, _, x, y in pts]
        else:
            what = f"not converged in {last[0]} steps, ends at f = {_short(last[1])}"
        info.append(dict(s=s, title=f"{lrname} = {s['lr']}: {what}", reached=reached,
                         end=last, col=palette[[t["lr"] for t in series
                                                if t["label"] == s["label"]].index(s["lr"])
                                               % len(palette)]))
    # the box: the start, the minimum the runs aim at and every converged path, padded 20 %
    st = [(p[2], p[3]) for i in info for p in [_first_point(i["s"], out)] if p]
    xs = [p[0] for p in pts_all + st + spec["minima"][:1] if math.isfinite(p[0])]
    ys = [p[1] for p in pts_all + st + spec["minima"][:1] if math.isfinite(p[1])]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    span = max(x1 - x0, y1 - y0, 1e-6)
    x0, x1 = x0 - 0.2 * span, x1 + 0.2 * span
    y0, y1 = y0 - 0.2 * span, y1 + 0.2 * span
    n = 201
    zs = []
    with open(os.path.join(out, "grid.dat"), "w") as f:
        for i in range(n):
            x = x0 + (x1 - x0) * i / (n - 1)
            for j in range(n):
                y = y0 + (y1 - y0) * j / (n - 1)
                z = spec["f"](x, y)
                zs.append(z)
                f.write(f"{_fmt(x)} {_fmt(y)} {_fmt(z)}\n")
            f.write("\n")
    if spec["levels"] == "log":
        zmax = max(zs)
        lv = [fstar + c * 10.0 ** k for k in range(-2, 7) for c in (1, 3)
              if fstar + c * 10.0 ** k < zmax]
        levels_note = "contours at f - f* = 0.01, 0.03, 0.1, 0.3, 1, 3, ..."
    else:
        step = 50.0
        lo = math.ceil(min(zs) / step) * step
        lv = [lo + step * k for k in range(int((max(zs) - lo) / step) + 1)]
        levels_note = "contours every %g in f" % step
    gaps = [fv - fstar for i in info for _, fv, _, _ in _points(i["s"], out)
            if math.isfinite(fv) and fv - fstar > 0]
    g0 = [p[5] for i in info for p in [_first_point(i["s"], out)] if p and math.isfinite(p[5])]
    ylo = min(gaps + ([stop - fstar] if stop is not None and stop > fstar else [])) / 5
    yhi = max(g0) * 30 if g0 else max(gaps) * 2
    m.append(f"TF_ylo = {_fmt(ylo)}\nTF_yhi = {_fmt(yhi)}\n")
    m.append(f"TF_model = {gp_str(model)}\nTF_fstar = {_fmt(fstar)}\n")
    m.append(f"TF_stop = {_fmt(stop - fstar) if stop is not None else 'NaN'}\n")
    m.append(f"TF_box = {gp_str(' '.join(_fmt(v) for v in (x0, x1, y0, y1)))}\n")
    m.append(f"TF_levels = {gp_str(','.join(_fmt(v) for v in lv))}\n")
    m.append(f"TF_levnote = {gp_str(levels_note)}\n")
    m.append(f"TF_steps = {nsteps}\n")
    m.append(gp_array("TF_title", [i["title"] for i in info]))
    m.append(gp_array("TF_color", [i["col"] for i in info]))
    # within a panel the first lr is drawn widest, so that paths that coincide stay visible
    pos = [[t["lr"] for t in series if t["label"] == i["s"]["label"]].index(i["s"]["lr"])
           for i in info]
    m.append(gp_array("TF_lw", [max(1.0, 4.5 - 1.5 * k) for k in pos]))
    m.append(gp_array("TF_reached", [float(i["reached"] is not None) for i in info]))
    m.append(gp_array("TF_ends", [float(i["end"][0]) for i in info]))
    m.append(gp_array("TF_endg", [i["end"][1] - fstar for i in info]))
    m.append(gp_array("TF_endx", [i["end"][2] for i in info]))
    m.append(gp_array("TF_endy", [i["end"][3] for i in info]))
    m.append(gp_array("TF_minx", [p[0] for p in spec["minima"]]))
    m.append(gp_array("TF_miny", [p[1] for p in spec["minima"]]))
    other = spec["other"] or [(math.nan, math.nan, "")]
    m.append(gp_array("TF_othx", [p[0] for p in other]))
    m.append(gp_array("TF_othy", [p[1] for p in other]))
    m.append(gp_array("TF_othtitle", [p[2] for p in other]))
    idx = {id(s): k + 1 for k, s in enumerate(series)}
    groups = [[s for s in series if s["label"] == lab] for lab in labels]
    m.append(f"TF_N = {len(groups)}\n")
    m.append(gp_array("TF_ptitle", [g[0]["nice"] for g in groups]))
    m.append(gp_array("TF_pseries", [" ".join(str(idx[id(s)]) for s in g) for g in groups]))
    c = len(groups)
    figs.append(("loss", "plot_testfn_loss.gp", 560 * c, 580))
    figs.append(("trajectories", "plot_testfn_traj.gp", 560 * c, 640))


def _points(s, out):
    """(step, f, x, y) of a series' .traj.dat"""
    with open(os.path.join(out, s["id"] + ".traj.dat")) as f:
        rows = [[float(x) for x in line.split()] for line in f if not line.startswith("#")]
    return [(int(r[0]), r[4], r[2], r[3]) for r in rows]


def _first_point(s, out):
    with open(os.path.join(out, s["id"] + ".traj.dat")) as f:
        for line in f:
            if not line.startswith("#"):
                v = [float(x) for x in line.split()]
                return v
    return None
