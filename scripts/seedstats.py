#!/usr/bin/env python3
"""seedstats.py — statistics over the seeds of a sweep: aggregate.csv, paired comparisons, events.

    python3 scripts/seedstats.py aggregate RESULTS_DIR
    python3 scripts/seedstats.py compare RESULTS_DIR A B --metric M --epoch E
    python3 scripts/seedstats.py events RESULTS_DIR

RESULTS_DIR is a sweep's output_dir: summary.csv and the per-run CSVs it lists. A run group is
one (label, lr) of the sweep, all its seeds; runs with status done or diverged count (failed runs
do not). Every interval is the two-sided 95 % Student-t interval of a mean over n seeds,
mean ± t(0.975, n−1)·sd/√n with sd the sample standard deviation (n − 1 in the denominator).

aggregate  writes RESULTS_DIR/aggregate.csv: label,lr,epoch,metric,n,mean,sd,ci_lo,ci_hi, one row
           per run group × epoch × metric (train_loss, test_loss, test_acc, val_loss, val_acc,
           those with a value), in summary order, epochs ascending. n counts the seeds with a
           finite value at that epoch (a diverged run stops contributing where its CSV ends);
           sd, ci_lo, ci_hi are empty when n < 2. (scripts/agg_seeds.py writes the same file.)
compare    the paired per-seed difference A − B of a metric at one epoch (the row of each
           per-epoch CSV whose epoch equals E), over the seeds that both groups have a finite
           value for. A and B are run groups, LABEL or LABEL@LR (the lr may be left out when the
           label has one). Prints one CSV row under a header:
           a,b,metric,epoch,n,mean_diff,sd,ci_lo,ci_hi,verdict,unpaired
           verdict: "A lower" (the interval lies below 0), "B lower" (above 0), or
           "no difference detectable at n = k" (it contains 0, or n < 2). unpaired names the
           seeds left out and why (e.g. "B:3 (no value)"); they are not silently dropped.
events     divergence counts per run group from summary.csv's status:
           label,lr,n,diverged,diverged_seeds,failed_seeds — diverged as k/n, seeds space-separated.

Errors (a missing or malformed file, an unknown group or metric) name the file or the argument;
exit status 1 (2 for a bad command line). Python 3 standard library only.
"""
import csv
import functools
import io
import math
import os
import statistics
import sys

PROG = "seedstats.py"
METRICS = ["train_loss", "test_loss", "test_acc", "val_loss", "val_acc"]
AGG_HEADER = ["label", "lr", "epoch", "metric", "n", "mean", "sd", "ci_lo", "ci_hi"]
CMP_HEADER = ["a", "b", "metric", "epoch", "n", "mean_diff", "sd", "ci_lo", "ci_hi", "verdict",
              "unpaired"]
EVT_HEADER = ["label", "lr", "n", "diverged", "diverged_seeds", "failed_seeds"]
SUMMARY_COLS = ["run", "label", "lr", "seed", "status", "epochs_csv"]


class InputError(Exception):
    pass


# ---- the Student t distribution --------------------------------------------------------

def _betacf(a, b, x):
    """Continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            return h
    raise ArithmeticError("incomplete beta: no convergence (a=%g, b=%g, x=%g)" % (a, b, x))


def betainc(a, b, x):
    """Regularized incomplete beta function I_x(a, b), 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
           + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t, df):
    """P(T <= t) for Student's t with df > 0 degrees of freedom (df = inf: the normal)."""
    if math.isinf(df):
        return statistics.NormalDist().cdf(t)
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


@functools.lru_cache(maxsize=None)
def t_ppf(p, df):
    """The p-quantile of Student's t (0 < p < 1), by bisection on t_cdf to ~1e-13 relative."""
    if not 0.0 < p < 1.0:
        raise ValueError("t_ppf: p must be in (0, 1), got %r" % p)
    if math.isinf(df):
        return statistics.NormalDist().inv_cdf(p)
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return 0.5 * (lo + hi)


def mean_ci(values, level=0.95):
    """(n, mean, sd, ci_lo, ci_hi) of a sample; sd and the interval are None when n < 2,
    the mean None when n = 0, and all four None when a value is not finite (not measured)."""
    v = list(values)
    n = len(v)
    if n == 0:
        return 0, None, None, None, None
    m = math.fsum(v) / n
    if n < 2:
        return n, m, None, None, None
    if not all(math.isfinite(x) for x in v):
        return n, None, None, None, None  # an unmeasured value (e.g. no wall time): no statistic
    sd = statistics.stdev(v)
    h = t_ppf(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
    return n, m, sd, m - h, m + h


def verdict(n, lo, hi):
    if n >= 2 and hi < 0:
        return "A lower"
    if n >= 2 and lo > 0:
        return "B lower"
    return "no difference detectable at n = %d" % n


# ---- reading a sweep ------------------------------------------------------------------------

def read_csv(path, required, what):
    """Header-checked rows of a CSV file as dicts, with their line numbers; errors name the file."""
    if not os.path.isfile(path):
        raise InputError("%s: missing (%s)" % (path, what))
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError("%s: cannot read (%s): %s" % (path, what, e))
    if not rows:
        raise InputError("%s: empty file (%s)" % (path, what))
    header = [h.strip() for h in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError("%s: malformed (%s): missing column(s) %s" % (path, what,
                                                                       ", ".join(missing)))
    out = []
    for i, r in enumerate(rows[1:], start=2):
        if not r:
            continue
        if len(r) != len(header):
            raise InputError("%s:%d: malformed (%s): %d fields, header has %d"
                             % (path, i, what, len(r), len(header)))
        out.append((i, dict(zip(header, r))))
    return header, out


def cell(text, path, line, col):
    """A numeric cell: None when empty (not measured); unparsable text is an error."""
    t = text.strip()
    if t == "":
        return None
    try:
        return float(t)
    except ValueError:
        raise InputError("%s:%d: column '%s': not a number (%r)" % (path, line, col, t))


def load_groups(res):
    """[(label, lr, [summary rows])] in summary order; every run of the sweep, any status.
    In a sweep with grids (columns after epochs_csv: the swept hyperparameters and model
    options) each grid point is a group of its own, labelled e.g. "adam_beta2-0.99"."""
    path = os.path.join(res, "summary.csv")
    header, rows = read_csv(path, SUMMARY_COLS, "sweep summary")
    grid = header[header.index("epochs_csv") + 1:]
    if not rows:
        raise InputError("%s: no runs listed (sweep summary)" % path)
    groups, order = {}, []
    for line, r in rows:
        for c in ("lr", "seed"):
            if cell(r[c], path, line, c) is None:
                raise InputError("%s:%d: column '%s': empty" % (path, line, c))
        key = (r["label"] + "".join("_%s-%s" % (c, r[c].strip()) for c in grid if r[c].strip()),
               r["lr"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    return [(k[0], k[1], groups[k]) for k in order]


def load_epochs(res, run):
    """{epoch value: (epoch text, {metric: value or None})} and the metrics the file has."""
    path = os.path.join(res, run["epochs_csv"])
    header, rows = read_csv(path, ["epoch"], "per-epoch CSV")
    have = [m for m in METRICS if m in header]
    out = {}
    for line, r in rows:
        e = cell(r["epoch"], path, line, "epoch")
        if e is None:
            raise InputError("%s:%d: column 'epoch': empty" % (path, line))
        out[e] = (r["epoch"].strip(), {m: cell(r[m], path, line, m) for m in have})
    return out, have


def num(text, path, line, col):
    """A numeric cell as float: empty (or None) means not measured (NaN); unparsable text is an
    error naming the file, line and column."""
    t = (text or "").strip()
    if t == "":
        return math.nan
    try:
        return float(t)
    except ValueError:
        raise InputError("%s:%d: column '%s': not a number (%r)" % (path, line, col, t))


def finite(x):
    return x is not None and x == x and not math.isinf(x)


def write_atomic(path, text):
    """path ← text, written under a temporary name and renamed: never half-written."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError("%s: cannot write: %s" % (path, e))


def block_mean(blocks, lo, hi):
    """The mean over steps lo..hi of a per-step quantity known by blocks: (last step, mean over
    the block, steps in the block) rows in step order, as a per-step CSV logged every N steps
    gives them (loss_mean). Each block counts with the number of its steps inside lo..hi;
    blocks with a non-finite mean are left out. None when nothing remains."""
    acc = tot = 0.0
    for end, m, n in blocks:
        first = end - n + 1
        if end < lo or first > hi or m is None or not math.isfinite(m):
            continue
        w = min(end, hi) - max(first, lo) + 1
        acc += m * w
        tot += w
    return acc / tot if tot > 0 else None


def counted(runs):
    return [r for r in runs if r["status"] in ("done", "diverged")]


def fmt(x):
    return "" if x is None else "%.9g" % x


# ---- aggregate.csv --------------------------------------------------------------------------

def aggregate_rows(res):
    rows = []
    for label, lr, runs in load_groups(res):
        per_seed = [load_epochs(res, r)[0] for r in counted(runs)]
        epochs = {}
        for e in per_seed:
            for k, (text, _) in e.items():
                epochs.setdefault(k, text)
        for k in sorted(epochs):
            for m in METRICS:
                vals = [e[k][1].get(m) for e in per_seed if k in e]
                vals = [v for v in vals if v is not None and math.isfinite(v)]
                if not vals:
                    continue
                n, mean, sd, lo, hi = mean_ci(vals)
                rows.append([label, lr, epochs[k], m, str(n), fmt(mean), fmt(sd), fmt(lo),
                             fmt(hi)])
    return rows


def write_aggregate(res):
    """Write res/aggregate.csv (under a temporary name, then renamed); returns its path."""
    rows = aggregate_rows(res)
    path = os.path.join(res, "aggregate.csv")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(AGG_HEADER)
    w.writerows(rows)
    write_atomic(path, buf.getvalue())
    return path


# ---- paired comparison and events ---------------------------------------------------------

def find_group(groups, spec, res):
    label, _, lr = spec.partition("@")
    cand = [g for g in groups if g[0] == label]
    if not cand:
        raise InputError("%s: no run group labelled '%s' (labels: %s)"
                         % (os.path.join(res, "summary.csv"), label,
                            ", ".join(sorted({g[0] for g in groups}))))
    if lr:
        try:
            want = float(lr)
        except ValueError:
            raise InputError("'%s': lr '%s' is not a number" % (spec, lr))
        cand = [g for g in cand if float(g[1]) == want]
        if not cand:
            raise InputError("%s: label '%s' has no lr %s (its lrs: %s)"
                             % (os.path.join(res, "summary.csv"), label, lr,
                                ", ".join(g[1] for g in groups if g[0] == label)))
    elif len(cand) > 1:
        raise InputError("'%s' has several lrs (%s): name one as %s@LR"
                         % (label, ", ".join(g[1] for g in cand), label))
    return cand[0]


def seed_values(res, group, metric, epoch):
    """{seed: value or None (no finite value at that epoch)} of the counted runs of a group."""
    out = {}
    for r in counted(group[2]):
        e, have = load_epochs(res, r)
        if metric not in have:
            raise InputError("%s: no column '%s'" % (os.path.join(res, r["epochs_csv"]), metric))
        v = e.get(epoch, (None, {}))[1].get(metric)
        out[r["seed"]] = v if v is not None and math.isfinite(v) else None
    return out


def compare(res, a_spec, b_spec, metric, epoch):
    """The paired comparison: a dict with the CMP_HEADER fields."""
    if metric not in METRICS:
        raise InputError("--metric: '%s' is not one of %s" % (metric, ", ".join(METRICS)))
    groups = load_groups(res)
    ga, gb = find_group(groups, a_spec, res), find_group(groups, b_spec, res)
    va, vb = seed_values(res, ga, metric, epoch), seed_values(res, gb, metric, epoch)
    status = {g: {r["seed"]: r["status"] for r in grp[2]} for g, grp in (("A", ga), ("B", gb))}
    diffs, unpaired = [], []
    for s in sorted(set(va) | set(vb) | set(status["A"]) | set(status["B"]), key=float):
        a, b = va.get(s), vb.get(s)
        if a is not None and b is not None:
            diffs.append(a - b)
            continue
        for g, v, vals in (("A", a, va), ("B", b, vb)):
            if v is None:
                st = status[g].get(s)
                why = ("no run" if st is None else "failed" if s not in vals
                       else "diverged, no value" if st == "diverged" else "no value")
                unpaired.append("%s:%s (%s)" % (g, s, why))
    n, m, sd, lo, hi = mean_ci(diffs)
    return {"a": "%s@%s" % ga[:2], "b": "%s@%s" % gb[:2], "metric": metric, "epoch": "%g" % epoch,
            "n": str(n), "mean_diff": fmt(m), "sd": fmt(sd), "ci_lo": fmt(lo), "ci_hi": fmt(hi),
            "verdict": verdict(n, lo, hi), "unpaired": " ".join(unpaired)}


def events(res):
    out = []
    for label, lr, runs in load_groups(res):
        div = [r["seed"] for r in runs if r["status"] == "diverged"]
        fail = [r["seed"] for r in runs if r["status"] not in ("done", "diverged")]
        n = len(counted(runs))
        out.append({"label": label, "lr": lr, "n": str(n), "diverged": "%d/%d" % (len(div), n),
                    "diverged_seeds": " ".join(div), "failed_seeds": " ".join(fail)})
    return out


def write_rows(header, dicts):
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(header)
    for d in dicts:
        w.writerow([d[h] for h in header])


def usage(msg):
    sys.stderr.write("%s: %s\nusage: seedstats.py aggregate DIR | compare DIR A B --metric M "
                     "--epoch E | events DIR (see --help)\n" % (PROG, msg))
    return 2


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    opts, pos = {}, []
    it = iter(rest)
    for a in it:
        if a in ("--metric", "--epoch"):
            v = next(it, None)
            if v is None:
                return usage("%s needs a value" % a)
            opts[a[2:]] = v
        elif a.startswith("--"):
            return usage("unknown option '%s'" % a)
        else:
            pos.append(a)
    try:
        if cmd == "aggregate" and len(pos) == 1 and not opts:
            print(write_aggregate(pos[0]))
        elif cmd == "compare" and len(pos) == 3:
            if "metric" not in opts or "epoch" not in opts:
                return usage("compare needs --metric and --epoch")
            try:
                epoch = float(opts["epoch"])
            except ValueError:
                return usage("--epoch: '%s' is not a number" % opts["epoch"])
            write_rows(CMP_HEADER, [compare(pos[0], pos[1], pos[2], opts["metric"], epoch)])
        elif cmd == "events" and len(pos) == 1 and not opts:
            write_rows(EVT_HEADER, events(pos[0]))
        else:
            return usage("bad command line: %s" % " ".join(argv))
    except InputError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
