#!/usr/bin/env python3
"""verdicts.py — evaluate every claim of claims/claims.json against the sweeps' results.

    python3 scripts/verdicts.py [--full | --quick] [--claims FILE] [--results DIR] [--bench FILE]
                                [--out DIR] [--update-doc FILE]

--full (default) evaluates each claim on its full-size sweep, --quick on its _quick sweep (a claim
whose paper number needs the full-size run has no quick sweep: verdict "not run"). A sweep's
results are read from the config's output_dir (default results/<name>), or DIR/<name> with
--results DIR: summary.csv, the per-epoch and per-step CSVs it lists; aggregate.csv is written
there if missing (scripts/seedstats.py). Cost claims read the per-step cost of each optimizer
measured by `make bench`: --bench FILE (raw.jsonl or a bench.md), default results/bench/raw.jsonl
if present, else docs/bench.md (the committed report).

Writes DIR/verdicts.md and DIR/verdicts.csv with --out DIR (each under a temporary name, then
renamed), else prints the Markdown table. --update-doc FILE replaces the text between the lines
<!-- verdicts:begin --> and <!-- verdicts:end --> of FILE with the table (with --quick: between
<!-- verdicts-quick:begin --> and <!-- verdicts-quick:end -->).

A sweep still running, or stopped part-way, is read as far as it goes: a claim is "not run"
(why: "sweep incomplete", with the counts) when a label it reads has fewer complete runs than
the config makes of it (lrs × grid × model option lists × seeds); claims whose labels are
complete are evaluated. On a sweep logged every N steps (steps_every), the extremes of a
per-step column (min, max, range, ratio, rise_fall) are inconclusive.

Verdicts: reproduced, not reproduced, inconclusive, not run — each with the reason. How a
predicate is decided (see claims/README.md for the claims file's format):
  compare  the paired per-seed difference A − B (seeds paired by number) with its 95 % Student-t
           interval: "a_lower" holds when the interval lies below 0, fails when above 0, and is
           inconclusive when it straddles 0 or n < 2. A diverged run has no value: for a metric
           with a better direction it counts as the worst value, and a difference with such a
           seed is decided by the exact sign test over the seeds (p < 0.05) instead.
  value    our mean over seeds with its 95 % t-interval against the paper's number: holds when
           the interval lies inside [paper − tol, paper + tol] (or on the claimed side of a
           bound), fails when it lies wholly outside, inconclusive otherwise.
  cost     one `make bench` measurement (median ms/step over the timed steps), no interval:
           decided on the value.
A claim marked "deterministic": true (a sweep without randomness, e.g. a test function) is
decided on the exact value instead of an interval, once the seeds present are checked to give
identical values (one seed is enough; seeds that differ: inconclusive, said why).
"Best lr" of an optimizer is chosen on the validation loss at the last epoch when the runs have
a validation split, else on the training loss (said so in the table), never on the test set.
When runs of the optimizer ended early at the config's stop_loss, the best lr is the one that
reached it first (fewest epochs); lrs that did not reach it rank after them, by training loss.

Errors in the claims file name the claim and key, exit status 2; unreadable results name the
file, exit status 1. Python 3 standard library only.
"""
import csv
import json
import math
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seedstats  # noqa: E402

PROG = "verdicts.py"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The generated blocks of a document: one per mode, so that a document can hold both tables.
MARKERS = {"full": ("<!-- verdicts:begin -->", "<!-- verdicts:end -->"),
           "quick": ("<!-- verdicts-quick:begin -->", "<!-- verdicts-quick:end -->")}
VERDICTS = ["reproduced", "not reproduced", "inconclusive", "not run"]
CSV_HEADER = ["id", "paper", "where", "sweep", "quote", "paper_value", "ours", "n", "verdict",
              "why"]
EPOCH_METRICS = ["train_loss", "test_loss", "test_acc", "val_loss", "val_acc", "select_loss"]
DERIVED = ["epochs_to_reach", "epoch_increases", "test_acc_best_val", "best_val_epoch"]
STATS = ["mean", "median", "min", "max", "first", "last", "range", "ratio", "last_over_first",
         "rel_noise", "per_step", "rise_fall"]
EXPECT_CMP = ["a_lower", "a_higher", "similar", "a_not_lower", "a_not_higher"]
COST_FIELDS = ["ratio", "forwards"]
HIGHER_BETTER = {"test_acc", "val_acc", "test_acc_best_val"}
NEUTRAL_STEP_COLS = {"lr", "abar", "fwd", "bwd"}


class ClaimError(Exception):
    """A malformed claims file (exit 2)."""


InputError = seedstats.InputError  # unreadable results (exit 1)


# ---- small helpers ---------------------------------------------------------------------------

def g(x):
    """A number for the table: 3 significant digits, no exponent for ordinary magnitudes."""
    if x is None:
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    a = abs(x)
    if 1e-3 <= a < 1e5:
        s = "%.3g" % x
        return s.replace("-", "−")
    return ("%.2e" % x).replace("-", "−")


def pm(mean, lo, hi, n, unit=""):
    if mean is None:
        return "no value"
    if lo is None:
        return "%s%s (n=%d)" % (g(mean), unit, n)
    return "%s ± %s%s (n=%d)" % (g(mean), g((hi - lo) / 2), unit, n)


def sign_test_p(k_pos, k_neg):
    """Two-sided exact binomial (sign) test p-value of k_pos vs k_neg, p = 1/2."""
    n = k_pos + k_neg
    if n == 0:
        return 1.0
    k = min(k_pos, k_neg)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2 * tail)


def per_mode(v, mode):
    """A claim parameter may be {"full": x, "quick": y}."""
    if isinstance(v, dict) and set(v) <= {"full", "quick"} and v:
        return v.get(mode)
    return v


# ---- the claims file -------------------------------------------------------------------------

def _need(d, key, types, where):
    if key not in d:
        raise ClaimError("%s: missing key '%s'" % (where, key))
    if not isinstance(d[key], types):
        raise ClaimError("%s: key '%s' has the wrong type (%s)" % (where, key,
                                                                   type(d[key]).__name__))
    return d[key]


def _keys(d, allowed, where):
    bad = sorted(set(d) - set(allowed))
    if bad:
        raise ClaimError("%s: unknown key(s) %s" % (where, ", ".join(bad)))


def _num_or_mode(v, where, key, allow_str=()):
    for x in (v.values() if isinstance(v, dict) else [v]):
        if x is None and isinstance(v, dict):
            continue
        if isinstance(x, bool) or not (isinstance(x, (int, float)) or x in allow_str):
            raise ClaimError("%s: key '%s': %r is not a number%s" % (
                where, key, x, (" or " + "/".join(allow_str)) if allow_str else ""))


def check_group(grp, where, configs, sweep_names):
    if not isinstance(grp, dict):
        raise ClaimError("%s: a run group is an object {\"label\": ..., \"lr\": ...}" % where)
    _keys(grp, ["label", "lr", "sweep"], where)
    label = _need(grp, "label", str, where)
    lr = grp.get("lr")
    if lr is not None and lr not in ("best", "others") and (isinstance(lr, bool) or
                                                           not isinstance(lr, (int, float))):
        raise ClaimError("%s: key 'lr': %r is not a number, \"best\" or \"others\"" % (where, lr))
    names = sweep_names
    if "sweep" in grp:
        s = _need(grp, "sweep", dict, where)
        names = [x for x in (s.get("full"), s.get("quick")) if x]
    for name in names:
        labels = configs.get(name)
        if labels is None:
            raise ClaimError("%s: sweep '%s': no such config (configs/%s.json)" % (where, name,
                                                                                   name))
        if label not in labels:
            raise ClaimError("%s: label '%s' is not an optimizer label of configs/%s.json (%s)"
                             % (where, label, name, ", ".join(sorted(labels))))


def check_metric(t, where):
    m = _need(t, "metric", str, where)
    if m.startswith("steps:"):
        if not re.fullmatch(r"steps:[a-z_0-9]+", m):
            raise ClaimError("%s: key 'metric': '%s' is not steps:<column>" % (where, m))
        st = _need(t, "stat", str, where)
        if st not in STATS:
            raise ClaimError("%s: key 'stat': '%s' is not one of %s" % (where, st,
                                                                       ", ".join(STATS)))
        if "steps" in t:
            w = _need(t, "steps", dict, where)
            _keys(w, ["from", "to", "from_frac", "to_frac"], where + ".steps")
            for k, v in w.items():
                _num_or_mode(v, where + ".steps", k)
    elif m in EPOCH_METRICS or m in DERIVED:
        if m == "epochs_to_reach":
            _need(t, "column", str, where)
            _num_or_mode(_need(t, "threshold", (int, float), where), where, "threshold")
    else:
        raise ClaimError("%s: key 'metric': '%s' is not one of %s or steps:<column>"
                         % (where, m, ", ".join(EPOCH_METRICS + DERIVED)))
    if "epoch" in t:
        _num_or_mode(t["epoch"], where, "epoch", ("final",))
    if "epochs" in t:
        e = _need(t, "epochs", dict, where)
        _keys(e, ["from", "to"], where + ".epochs")
        _num_or_mode(_need(e, "from", (int, float, dict), where + ".epochs"), where, "from")
        _num_or_mode(_need(e, "to", (int, float, str, dict), where + ".epochs"), where, "to",
                     ("final",))


def check_expect(e, kinds, where):
    if isinstance(e, str):
        if e not in kinds:
            raise ClaimError("%s: key 'expect': '%s' is not one of %s" % (where, e,
                                                                         ", ".join(kinds)))
        return
    if not isinstance(e, dict):
        raise ClaimError("%s: key 'expect' must be a string or an object" % where)
    _keys(e, ["value", "tol", "rel_tol", "at_most", "at_least"], where + ".expect")
    forms = [k for k in ("value", "at_most", "at_least") if k in e]
    if len(forms) != 1:
        raise ClaimError("%s: key 'expect' needs exactly one of value, at_most, at_least" % where)
    for k, v in e.items():
        _num_or_mode(v, where + ".expect", k)
    if "value" in e and not ("tol" in e or "rel_tol" in e):
        raise ClaimError("%s: key 'expect': a value needs tol or rel_tol" % where)


NOT_GRID = ("name", "label", "grid", "schedule", "lr")


def sanitize_label(s):
    """A label as lqabench writes it into run ids and summary.csv: characters outside
    [A-Za-z0-9._-] become '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", s)


def expected_runs(c):
    """{label: the number of runs the config makes of it}: each entry's lrs times its grid
    (product of its lists, or one per element with "grid": "zip"), times the top-level model
    option lists (width, dropout), times the seeds."""
    seeds = c.get("seeds") if isinstance(c.get("seeds"), list) else [1]
    mult = len(seeds)
    for k in ("width", "dropout"):
        if isinstance(c.get(k), list):
            mult *= len(c[k])
    out = {}
    for o in c.get("optimizers") or []:
        if not isinstance(o, dict):
            continue
        lists = [len(v) for k, v in o.items() if isinstance(v, list) and k not in NOT_GRID]
        nlr = len(o["lr"]) if isinstance(o.get("lr"), list) else 1
        if o.get("grid") == "zip":
            n = max(lists + [nlr])
        else:
            n = nlr
            for x in lists:
                n *= x
        lab = sanitize_label(str(o.get("label") or o.get("name")))
        out[lab] = out.get(lab, 0) + n * mult
    return out


def load_configs(cfgdir):
    """{config name: set of optimizer labels}, {name: output_dir}, {name: {label: the
    number of runs of the label}} and {name: the config file}."""
    labels, outdirs, expected, files = {}, {}, {}, {}
    for fn in sorted(os.listdir(cfgdir)):
        if not fn.endswith(".json"):
            continue
        p = os.path.join(cfgdir, fn)
        try:
            c = json.load(open(p))
        except (OSError, ValueError) as e:
            raise ClaimError("%s: not valid JSON: %s" % (p, e))
        if not isinstance(c, dict):
            continue
        name = c.get("name") or fn[:-5]
        opts = c.get("optimizers") or []
        labels[name] = {o.get("label") or o.get("name") for o in opts if isinstance(o, dict)}
        outdirs[name] = c.get("output_dir") or os.path.join("results", name)
        expected[name] = expected_runs(c)
        files[name] = os.path.relpath(p, ROOT) if not os.path.relpath(p, ROOT).startswith("..") \
            else p
    return labels, outdirs, expected, files


def load_claims(path, configs):
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        raise ClaimError("%s: cannot read: %s" % (path, e))
    except ValueError as e:
        raise ClaimError("%s: not valid JSON: %s" % (path, e))
    if not isinstance(doc, dict):
        raise ClaimError("%s: the top level must be an object" % path)
    papers = _need(doc, "papers", dict, path)
    claims = _need(doc, "claims", list, path)
    seen = set()
    for i, c in enumerate(claims):
        where = "%s: claims[%d]" % (path, i)
        if not isinstance(c, dict):
            raise ClaimError("%s: not an object" % where)
        cid = _need(c, "id", str, where)
        where = "%s: claim '%s'" % (path, cid)
        if cid in seen:
            raise ClaimError("%s: duplicate id" % where)
        seen.add(cid)
        _keys(c, ["id", "paper", "where", "quote", "paper_value", "sweep", "test", "note",
                  "deterministic"], where)
        if not isinstance(c.get("deterministic", False), bool):
            raise ClaimError("%s: key 'deterministic' must be true or false" % where)
        if c.get("deterministic") and c.get("test", {}).get("type") == "cost":
            raise ClaimError("%s: key 'deterministic': only for compare and value claims" % where)
        if _need(c, "paper", str, where) not in papers:
            raise ClaimError("%s: key 'paper': '%s' is not in \"papers\"" % (where, c["paper"]))
        _need(c, "where", str, where)
        _need(c, "quote", str, where)
        _need(c, "paper_value", str, where)
        t = _need(c, "test", dict, where)
        typ = _need(t, "type", str, where + ".test")
        tw = where + ".test"
        names = []
        if typ != "cost":
            s = _need(c, "sweep", dict, where)
            _keys(s, ["full", "quick", "not_run_note"], where + ".sweep")
            _need(s, "full", str, where + ".sweep")
            for k in ("quick", "not_run_note"):
                if s.get(k) is not None and not isinstance(s[k], str):
                    raise ClaimError("%s.sweep: key '%s' must be a string or null" % (where, k))
            names = [x for x in (s["full"], s.get("quick")) if x]
        if typ == "compare":
            _keys(t, ["type", "a", "b", "metric", "stat", "steps", "epoch", "epochs", "column",
                      "threshold", "expect", "margin", "rel_margin", "b_scale", "scale"], tw)
            check_group(_need(t, "a", dict, tw), tw + ".a", configs, names)
            bs = t.get("b")
            for j, b in enumerate(bs if isinstance(bs, list) else [bs]):
                check_group(b, "%s.b[%d]" % (tw, j), configs, names)
            check_metric(t, tw)
            check_expect(_need(t, "expect", str, tw), EXPECT_CMP, tw)
            if t["expect"] in ("similar", "a_not_lower", "a_not_higher") and not (
                    "margin" in t or "rel_margin" in t):
                raise ClaimError("%s: expect '%s' needs margin or rel_margin" % (tw, t["expect"]))
        elif typ == "value":
            _keys(t, ["type", "a", "metric", "stat", "steps", "epoch", "column", "threshold",
                      "expect", "scale"], tw)
            check_group(_need(t, "a", dict, tw), tw + ".a", configs, names)
            check_metric(t, tw)
            check_expect(_need(t, "expect", dict, tw), [], tw)
        elif typ == "cost":
            _keys(t, ["type", "optimizer", "field", "expect"], tw)
            _need(t, "optimizer", str, tw)
            if _need(t, "field", str, tw) not in COST_FIELDS:
                raise ClaimError("%s: key 'field': '%s' is not one of %s" % (
                    tw, t["field"], ", ".join(COST_FIELDS)))
            check_expect(_need(t, "expect", dict, tw), [], tw)
        else:
            raise ClaimError("%s: key 'type': '%s' is not compare, value or cost" % (tw, typ))
    return doc


# ---- a sweep's results -----------------------------------------------------------------------

class Sweep:
    """The runs of one results directory, read lazily; per-run files cached."""

    def __init__(self, res):
        self.res = res
        self.groups = seedstats.load_groups(res)
        self._ep, self._st = {}, {}
        self.has_val = any(self.epochs(r)[1].get("val_loss") for r in self.all_runs())
        self.has_train = any(self.epochs(r)[1].get("train_loss") for r in self.all_runs())
        eps = set()
        for r in self.all_runs():
            eps |= set(self.epochs(r)[0])
        self.epoch_list = sorted(eps)
        self.final = self.epoch_list[-1] if self.epoch_list else None
        if not os.path.isfile(os.path.join(res, "aggregate.csv")):
            seedstats.write_aggregate(res)

    def all_runs(self):
        return [r for _, _, runs in self.groups for r in seedstats.counted(runs)]

    def epochs(self, run):
        """({epoch: {metric: value}}, {metric: True if any value})."""
        k = run["run"]
        if k not in self._ep:
            e, have = seedstats.load_epochs(self.res, run)
            table = {ep: vals for ep, (_, vals) in e.items()}
            anyv = {m: any(v.get(m) is not None for v in table.values()) for m in have}
            self._ep[k] = (table, anyv)
        return self._ep[k]

    def _step_csv(self, run):
        """(path, header, rows) of the run's per-step CSV, read once."""
        key = (run["run"], "#csv")
        if key not in self._st:
            path = os.path.join(self.res, run["csv"])
            header, rows = seedstats.read_csv(path, ["step"], "per-step CSV")
            self._st[key] = (path, header, rows)
        return self._st[key]

    def steps(self, run, col):
        key = (run["run"], col)
        if key not in self._st:
            path, header, rows = self._step_csv(run)
            if col not in header:
                raise InputError("%s: malformed (per-step CSV): missing column(s) %s"
                                 % (path, col))
            self._st[key] = [(seedstats.cell(r["step"], path, ln, "step"),
                              seedstats.cell(r[col], path, ln, col)) for ln, r in rows]
        return self._st[key]

    def step_means(self, run):
        """A per-step CSV logged every N steps (steps_every): its (step, loss_mean, steps in
        the block) rows, or None when the CSV has every step (no loss_mean column)."""
        key = (run["run"], "#loss_mean")
        if key not in self._st:
            path, header, rows = self._step_csv(run)
            if "loss_mean" not in header:
                self._st[key] = None
            else:
                out, prev = [], 0
                for ln, r in rows:
                    st = seedstats.cell(r["step"], path, ln, "step")
                    out.append((st, seedstats.cell(r["loss_mean"], path, ln, "loss_mean"),
                                st - prev))
                    prev = st
                self._st[key] = out
        return self._st[key]

    def thinned(self):
        """True when the sweep's per-step CSVs are logged every N steps (steps_every)."""
        runs = self.all_runs()
        return bool(runs) and self.step_means(runs[0]) is not None

    def summary_rows(self):
        return [r for _, _, runs in self.groups for r in runs]

    def labels(self):
        return {lab for lab, _, _ in self.groups}


def resolve_epoch(v, sweep):
    if v == "final":
        return sweep.final
    return float(v)


def window_bounds(series, t, mode):
    """The first and last step of the window t['steps'] (default: the whole run) over a
    per-step series whose last row is the run's last step."""
    w = t.get("steps") or {}
    last = series[-1][0]
    lo, hi = 1, last
    if "from" in w and per_mode(w["from"], mode) is not None:
        f = per_mode(w["from"], mode)
        lo = last + f + 1 if f < 0 else f
    if "to" in w and per_mode(w["to"], mode) is not None:
        h = per_mode(w["to"], mode)
        hi = last + h + 1 if h < 0 else h
    if "from_frac" in w:
        lo = math.floor(per_mode(w["from_frac"], mode) * last) + 1
    if "to_frac" in w:
        hi = math.ceil(per_mode(w["to_frac"], mode) * last)
    return lo, hi


def step_window(series, t, mode):
    """The (step, value) rows of the window t['steps'] (default: all)."""
    if not series:
        return []
    lo, hi = window_bounds(series, t, mode)
    return [row for row in series if lo <= row[0] <= hi]


# statistics a per-step CSV logged every N steps cannot give: the extremes of the steps
# it leaves out are unknown (a verdict on them would lean one way)
EXTREME_STATS = ("min", "max", "range", "ratio", "rise_fall")


def thinned_stat(series, means, t, mode):
    """mean and rel_noise of the batch loss from a CSV logged every N steps (means: its
    (step, loss_mean, steps in the block) rows). The mean over the window is exact (each
    block weighted by its steps inside the window); rel_noise compares each logged batch loss
    in the window with the mean of the steps s-49..s, taken from the blocks the same way."""
    if not means:
        return None
    lo, hi = window_bounds(means, t, mode)
    if t["stat"] == "mean":
        return seedstats.block_mean(means, lo, hi)
    out, j = [], 0
    for i, (s, v) in enumerate(series):
        if not lo <= s <= hi or v is None or not math.isfinite(v):
            continue
        while j < i and means[j][0] < s - 49:
            j += 1
        ma = seedstats.block_mean(means[j:i + 1], s - 49, s)
        if ma is not None and ma > 0:
            out.append(abs(v - ma) / ma)
    return statistics.fmean(out) if out else None


def step_stat(series, t, mode):
    """A statistic of a per-step column over a window; None when the window has no value."""
    st = t["stat"]
    win = step_window(series, t, mode)
    vals = [v for _, v in win if v is not None and math.isfinite(v)]
    if st == "rel_noise":  # mean |x - trailing mean of 50| / trailing mean, over the window
        allv = [v for _, v in series]
        idx = {s: i for i, (s, _) in enumerate(series)}
        out = []
        for s, v in win:
            i = idx[s]
            prev = [x for x in allv[max(0, i - 49):i + 1] if x is not None and math.isfinite(x)]
            if v is None or not math.isfinite(v) or not prev:
                continue
            ma = statistics.fmean(prev)
            if ma > 0:
                out.append(abs(v - ma) / ma)
        return statistics.fmean(out) if out else None
    if not vals:
        return None
    if st == "mean":
        return statistics.fmean(vals)
    if st == "median":
        return statistics.median(vals)
    if st == "min":
        return min(vals)
    if st == "max":
        return max(vals)
    if st == "first":
        return vals[0]
    if st == "last":
        return vals[-1]
    if st == "range":
        return max(vals) - min(vals)
    if st == "ratio":
        return max(vals) / min(vals) if min(vals) > 0 else None
    if st == "per_step":
        return vals[-1] / win[-1][0]
    first = next((v for _, v in series if v is not None and math.isfinite(v)), None)
    if st == "last_over_first":
        return statistics.median(vals) / first if first else None
    if st == "rise_fall":  # min(peak / first value of the run, peak / median of the window)
        peak = max(v for _, v in series if v is not None and math.isfinite(v))
        med = statistics.median(vals)
        return min(peak / first, peak / med) if first and med > 0 else None
    raise AssertionError(st)


def better(t):
    """+1: higher is better, -1: lower is better, 0: neither (a diverged run has no value)."""
    m = t["metric"]
    if m in HIGHER_BETTER:
        return 1
    if m == "epochs_to_reach" or m.endswith("_loss") or m == "epoch_increases":
        return -1
    if m.startswith("steps:"):
        col = m[6:]
        if col == "loss" and t["stat"] not in ("rel_noise", "ratio", "range",
                                               "last_over_first", "rise_fall"):
            return -1
    return 0


class Censored(float):
    """Not reached within the run: the true value exceeds `horizon` (stored as +inf)."""

    def __new__(cls, horizon):
        obj = float.__new__(cls, math.inf)
        obj.horizon = horizon
        return obj


def run_value(sweep, run, t, mode, epoch=None, notes=None):
    """One seed's value of the claim's metric: a float, ±inf (diverged: the worst value;
    Censored: not reached within the run), or None (no value)."""
    m = t["metric"]
    diverged = run["status"] == "diverged"
    worst = -math.inf if better(t) > 0 else math.inf if better(t) < 0 else None
    if m.startswith("steps:"):
        col = m[6:]
        means = sweep.step_means(run)  # None: the CSV has every step
        if means is not None and col == "loss" and t["stat"] in ("mean", "rel_noise"):
            v = thinned_stat(sweep.steps(run, col), means, t, mode)
        else:
            v = step_stat(sweep.steps(run, col), t, mode)
            if means is not None and notes is not None:
                notes.add("per-step CSV logged every few steps (steps_every): %s over the "
                          "logged steps" % t["stat"])
        if diverged and (col == "loss" or v is None):
            return worst
        return v
    table, _ = sweep.epochs(run)
    eps = sorted(table)
    if m == "select_loss":
        m = "val_loss" if sweep.has_val else "train_loss"
    if m in ("train_loss", "test_loss", "test_acc", "val_loss", "val_acc"):
        e = resolve_epoch(epoch if epoch is not None else per_mode(t.get("epoch", "final"), mode),
                          sweep)
        v = table.get(e, {}).get(m)
        if v is None or not math.isfinite(v):
            return worst if diverged or (v is not None) else None
        return v
    if m == "epochs_to_reach":
        col, thr = t["column"], per_mode(t["threshold"], mode)
        up = col in HIGHER_BETTER
        for e in eps:
            v = table[e].get(col)
            if e >= 1 and v is not None and (v >= thr if up else v <= thr):
                return e
        return math.inf if diverged else Censored(eps[-1] if eps else 0)
    if m == "epoch_increases":
        rng = t.get("epochs") or {}
        lo = per_mode(rng.get("from", 1), mode)
        hi = resolve_epoch(per_mode(rng.get("to", "final"), mode), sweep)
        vals = [table[e].get("train_loss") for e in eps if lo - 1 <= e <= hi]
        vals = [v for v in vals if v is not None]
        if diverged:
            return worst
        return float(sum(1 for a, b in zip(vals, vals[1:]) if b > a)) if len(vals) > 1 else None
    if m in ("test_acc_best_val", "best_val_epoch"):
        cand = [(e, table[e]) for e in eps if e >= 1]
        if not sweep.has_val:
            if notes is not None:
                notes.add("no validation split: final epoch" if m == "test_acc_best_val"
                          else "no validation split")
            if m == "best_val_epoch":
                return None
            v = table.get(sweep.final, {}).get("test_acc")
            return worst if v is None and diverged else v
        key = "val_acc" if m == "test_acc_best_val" else "val_loss"
        cand = [(e, r) for e, r in cand if r.get(key) is not None and math.isfinite(r[key])]
        if not cand:
            return worst
        pick = (max if key == "val_acc" else min)(cand, key=lambda er: er[1][key])
        if m == "best_val_epoch":
            return Censored(pick[0]) if pick[0] >= sweep.final else pick[0]
        return pick[1].get("test_acc")
    raise AssertionError(m)


def group_values(sweep, grp, t, mode, epoch=None, notes=None):
    """{seed: value} of one run group's counted runs."""
    runs = seedstats.counted(grp[2])
    sc = t.get("scale", 1)
    out = {}
    for r in runs:
        v = run_value(sweep, r, t, mode, epoch, notes)
        if v is not None and not math.isinf(v):
            v *= sc
        out[r["seed"]] = v
    return out


def select_best(sweep, label, t, mode, notes):
    """The run group of `label` with the lowest mean selection loss at the last epoch."""
    cand = [grp for grp in sweep.groups if grp[0] == label]
    if len(cand) == 1:
        return cand[0]
    if sweep.has_val:
        sel, why = {"metric": "val_loss"}, "val_loss"
    elif sweep.has_train:
        sel, why = {"metric": "train_loss"}, "train loss (no validation split)"
    else:
        sel = {"metric": "steps:loss", "stat": "mean", "steps": {"from_frac": 0.95}}
        why = "final batch loss (no validation split, no train_loss)"
    # runs that ended early (status done before the sweep's last epoch: the config's stop_loss)
    # reached the target: the lr that reached it first is best; the others rank after them
    early = {}
    for grp in cand:
        runs = seedstats.counted(grp[2])
        ends = [max(sweep.epochs(r)[0], default=0) for r in runs]
        if runs and all(r["status"] == "done" and e < sweep.final for r, e in zip(runs, ends)):
            early[id(grp)] = statistics.fmean(ends)
    if early:
        why = "fewest epochs to the config's stop_loss"
    best, bestv = None, None
    for grp in cand:
        if id(grp) in early:
            mv = (0, early[id(grp)])
        else:
            vals = [v for v in group_values(sweep, grp, sel, mode).values() if v is not None]
            mv = (1, statistics.fmean(vals) if vals and not any(math.isinf(v) for v in vals)
                  else math.inf) if vals else None
        if mv is not None and (bestv is None or mv < bestv):
            best, bestv = grp, mv
    if best is None:
        return None
    notes.add("best lr of %s %s selected on %s" % (label, best[1], why))
    return best


def find_groups(sweep, spec, t, mode, notes, other_than=None):
    """The run groups a spec names ("lr": number, "best", "others" or absent)."""
    label, lr = spec["label"], spec.get("lr")
    cand = [grp for grp in sweep.groups if grp[0] == label]
    if not cand:
        return None
    if lr == "best":
        b = select_best(sweep, label, t, mode, notes)
        return [b] if b else None
    if lr == "others":
        return [grp for grp in cand if other_than is None or
                float(grp[1]) != float(other_than[1])]
    if lr is None:
        if len(cand) > 1:
            raise InputError("%s: label '%s' has several lrs (%s): the claim must name one"
                             % (sweep.res, label, ", ".join(grp[1] for grp in cand)))
        return cand
    got = [grp for grp in cand if float(grp[1]) == float(lr)]
    return got or None


# ---- deciding --------------------------------------------------------------------------------

def decide_interval(expect, n, lo, hi, margin):
    """holds / fails / None (inconclusive) for an interval of A − B."""
    if n < 2 or lo is None:
        return None
    if expect == "a_lower":
        return True if hi < 0 else False if lo > 0 else None
    if expect == "a_higher":
        return True if lo > 0 else False if hi < 0 else None
    if expect == "similar":
        return True if -margin < lo and hi < margin else (
            False if hi < -margin or lo > margin else None)
    if expect == "a_not_lower":
        return True if lo > -margin else False if hi < -margin else None
    if expect == "a_not_higher":
        return True if hi < margin else False if lo > margin else None
    raise AssertionError(expect)


def gx(x):
    """An exact value for the table (a deterministic sweep): integers in full, else 6 digits."""
    if x is None or math.isinf(x):
        return g(x)
    return ("%d" % x if x == int(x) and abs(x) < 1e15 else "%.6g" % x).replace("-", "−")


def det_spread(*groups):
    """None when every group's values are identical over its seeds (a deterministic sweep),
    else a message naming the group whose seeds differ."""
    for name, vals in groups:
        got = {repr(v) for v in vals.values() if v is not None}
        if len(got) > 1:
            return "marked deterministic, but the seeds of %s differ (%s)" % (
                name, ", ".join("s%s %s" % (k, gx(v)) for k, v in sorted(
                    vals.items(), key=lambda kv: float(kv[0])) if v is not None))
    return None


def compare_one(va, vb, expect, margin_spec, b_scale, better_sign, det=False):
    """One paired comparison. Returns (state, ours, why, support). det: a deterministic sweep,
    decided on the exact difference (the seeds checked to agree)."""
    diffs, unpaired, ninf = [], [], 0
    bmeans = [v for v in vb.values() if v is not None and math.isfinite(v)]
    for s in sorted(set(va) | set(vb), key=float):
        a, b = va.get(s), vb.get(s)
        if a is None or b is None:
            unpaired.append(s)
            continue
        d = a - b_scale * b
        if math.isnan(d):  # both diverged
            unpaired.append(s)
            continue
        ninf += math.isinf(d)
        diffs.append(d)
    margin = margin_spec[0] if margin_spec[0] is not None else (
        margin_spec[1] * abs(statistics.fmean(bmeans)) if margin_spec[1] is not None and bmeans
        else None)
    if margin_spec[1] is not None and margin is None:
        margin = math.nan
    extra = " (seeds without a pair: %s)" % " ".join(unpaired) if unpaired else ""
    n = len(diffs)
    if n == 0:
        return None, "no paired seeds", "no seed has a value in both groups" + extra, -math.inf
    if det:
        spread = det_spread(("A", va), ("B", vb))
        if spread:
            return None, "A − B varies over %d seeds" % n, spread + extra, -math.inf
        d = diffs[0]
        side = [x for x, v in (("A", va), ("B", vb)) if any(
            w is not None and math.isinf(w) for w in v.values())]
        ours = "A − B = %s (exact, n=%d)" % (gx(d), n) + (
            " (%s: diverged or not reached within the run)" % " and ".join(side) if side else "")
        state = decide_interval(expect, 2, d, d, margin)
        if expect in ("a_lower", "a_higher") and state is None:  # d == 0: neither is lower
            state = False
        sup = {"a_lower": -d, "a_higher": d}.get(expect, math.inf if state else -math.inf)
        return state, ours, "deterministic: exact value" + extra, sup
    if ninf:
        kp, kn = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
        p = sign_test_p(kp, kn)
        ours = "%d/%d seeds with one side diverged; A − B > 0 in %d, < 0 in %d" % (ninf, n, kp, kn)
        if ninf == n and (kp == n or kn == n):
            # the same side diverged in every seed, the other in none: an event, not a sample
            side = "A" if (kp == n) == (better_sign < 0) else "B"
            ours = "%s diverged in %d/%d seeds, the other side in none" % (side, n, n)
            why = "a diverged run counts as the worst value" + extra
            sgn = 1 if kp == n else -1
            state = False if expect == "similar" else (
                sgn < 0 if expect in ("a_lower", "a_not_higher") else sgn > 0)
            return state, ours, why, n
        if p >= 0.05:
            return (None, ours, "sign test p = %.3g at n = %d (a diverged seed has no interval)"
                    % (p, n) + extra, -p)
        sgn = 1 if kp > kn else -1
        if expect in ("similar",):
            state = False
        elif expect in ("a_lower", "a_not_higher"):
            state = sgn < 0
        else:
            state = sgn > 0
        return state, ours, "sign test p = %.3g at n = %d" % (p, n) + extra, 1 - p
    n, mean, _, lo, hi = seedstats.mean_ci(diffs)
    ours = "A − B = " + pm(mean, lo, hi, n)
    state = decide_interval(expect, n, lo, hi, margin)
    if lo is None:
        return None, ours, "n = %d: no interval" % n + extra, -math.inf
    if expect == "a_lower":
        support = -hi
    elif expect == "a_higher":
        support = lo
    elif expect == "similar":
        support = min(margin - hi, lo + margin)
    elif expect == "a_not_lower":
        support = lo + margin
    else:
        support = margin - hi
    iv = "[%s, %s]" % (g(lo), g(hi))
    if expect in ("a_lower", "a_higher"):
        why = {True: "interval %s excludes 0" % iv, False: "interval %s on the other side of 0" % iv,
               None: "interval %s straddles 0 at n = %d" % (iv, n)}[state]
    else:
        band = {"similar": "±%s", "a_not_lower": "above −%s", "a_not_higher": "below %s"}[expect] \
            % g(margin)
        why = {True: "interval %s within %s" % (iv, band),
               False: "interval %s wholly outside %s" % (iv, band),
               None: "interval %s not decided against %s at n = %d" % (iv, band, n)}[state]
    return state, ours, why + extra, support


def decide_value(vals, expect, mode, unit, det=False):
    """(state, ours, why) of a group's values against the paper's number or a bound. det: a
    deterministic sweep, decided on the exact value (the seeds checked to agree)."""
    vs = [v for v in vals.values() if v is not None]
    missing = [s for s, v in vals.items() if v is None]
    extra = " (seeds without a value: %s)" % " ".join(missing) if missing else ""
    if not vs:
        return None, "no value", "no seed has a value" + extra, 0
    x = per_mode(expect.get("value"), mode)
    tol = per_mode(expect.get("tol"), mode)
    if tol is None and expect.get("rel_tol") is not None:
        tol = per_mode(expect["rel_tol"], mode) * abs(x)
    amax, amin = per_mode(expect.get("at_most"), mode), per_mode(expect.get("at_least"), mode)
    lo_ok = x - tol if x is not None else amin
    hi_ok = x + tol if x is not None else amax
    infs = [v for v in vs if math.isinf(v)]
    if infs:
        k = len(infs)
        cens = [v for v in infs if isinstance(v, Censored)]
        if k < len(vs):
            return None, "%d/%d seeds without a finite value" % (k, len(vs)), (
                "%d of %d seeds diverged or did not reach it: no interval" % (k, len(vs))) + extra, k
        if cens and all(isinstance(v, Censored) for v in infs):
            h = min(v.horizon for v in cens)
            ours = "not reached within %s (n=%d)" % (g(h), len(vs))
            if hi_ok is not None and h >= hi_ok:
                return False, ours, "above %s in every seed" % g(hi_ok) + extra, k
            if hi_ok is None and lo_ok is not None and h >= lo_ok:
                return True, ours, "above %s in every seed" % g(lo_ok) + extra, k
            return None, ours, "the runs end at %s, before the claim can be decided" % g(h) \
                + extra, k
        sgn = infs[0] > 0
        ours = "diverged in %d/%d seeds" % (k, len(vs))
        if sgn:
            state = hi_ok is None
        else:
            state = lo_ok is None
        return state, ours, "every seed diverged (its value counts as the worst)" + extra, k
    if det:
        spread = det_spread(("the group", vals))
        if spread:
            return None, "varies over %d seeds" % len(vs), spread + extra, len(vs)
        v, n = vs[0], len(vs)
        ours = "%s%s (exact, n=%d)" % (gx(v), unit, n)
        if x is not None:
            ok = x - tol <= v <= x + tol
            why = "%s %s %s ± %s" % (gx(v), "inside" if ok else "outside", g(x), g(tol))
        elif amax is not None:
            ok = v <= amax
            why = "%s %s %s" % (gx(v), "≤" if ok else ">", g(amax))
        else:
            ok = v >= amin
            why = "%s %s %s" % (gx(v), "≥" if ok else "<", g(amin))
        return ok, ours, "deterministic: exact value, " + why + extra, n
    n, mean, _, lo, hi = seedstats.mean_ci(vs)
    ours = pm(mean, lo, hi, n, unit)
    if lo is None:
        return None, ours, "n = %d: no interval" % n + extra, n
    iv = "[%s, %s]" % (g(lo), g(hi))
    if x is not None:
        band = "%s ± %s" % (g(x), g(tol))
        if x - tol <= lo and hi <= x + tol:
            return True, ours, "interval %s inside %s" % (iv, band) + extra, n
        if hi < x - tol or lo > x + tol:
            return False, ours, "interval %s outside %s" % (iv, band) + extra, n
        return None, ours, "interval %s overlaps the edge of %s at n = %d" % (iv, band, n) \
            + extra, n
    if amax is not None:
        if hi <= amax:
            return True, ours, "interval %s ≤ %s" % (iv, g(amax)) + extra, n
        if lo > amax:
            return False, ours, "interval %s > %s" % (iv, g(amax)) + extra, n
        return None, ours, "interval %s straddles %s at n = %d" % (iv, g(amax), n) + extra, n
    if lo >= amin:
        return True, ours, "interval %s ≥ %s" % (iv, g(amin)) + extra, n
    if hi < amin:
        return False, ours, "interval %s < %s" % (iv, g(amin)) + extra, n
    return None, ours, "interval %s straddles %s at n = %d" % (iv, g(amin), n) + extra, n


STATE = {True: "reproduced", False: "not reproduced", None: "inconclusive"}


def claim_labels(t, mode):
    """{sweep name, None for the claim's own sweep: the labels of it the test reads}."""
    specs = [t["a"]] if isinstance(t.get("a"), dict) else []
    b = t.get("b")
    specs += b if isinstance(b, list) else [b] if isinstance(b, dict) else []
    out = {}
    for sp in specs:
        if "label" not in sp:
            continue
        other = sp["sweep"].get(mode) if isinstance(sp.get("sweep"), dict) else None
        if isinstance(sp.get("sweep"), dict) and not other:
            continue
        out.setdefault(other, set()).add(sp["label"])
    return out


class Evaluator:
    def __init__(self, mode, results, outdirs, bench, expected=None, files=None):
        self.mode, self.results, self.outdirs, self.bench_path = mode, results, outdirs, bench
        self.expected, self.files = expected or {}, files or {}
        self._sweeps, self._bench = {}, None

    def incomplete(self, name, sw, labels):
        """Why the claim's labels are not all complete in sweep `name` (a run the config makes
        is missing: the sweep is still running, or was stopped), or None. A label without any
        run is left to the claim ("has no runs of"); a grid point's label (e.g.
        adam_beta2-0.99) is complete when the whole sweep is."""
        want = self.expected.get(name, {})
        have = {}
        for r in sw.summary_rows():
            if r["status"] in ("done", "diverged"):
                have[r["label"]] = have.get(r["label"], 0) + 1
        short = []
        for lab in sorted(labels):
            key = sanitize_label(lab)
            if key in want:
                if have.get(key) and have[key] < want[key]:
                    short.append("%s %d of %d" % (key, have[key], want[key]))
            elif sum(have.values()) < sum(want.values()):
                short.append("the sweep %d of %d" % (sum(have.values()), sum(want.values())))
        if not short:
            return None
        return ("%s incomplete (runs complete: %s); resume it with lqabench --config %s"
                % (name, ", ".join(short), self.files.get(name, name)))

    def res_dir(self, name):
        if self.results:
            return os.path.join(self.results, os.path.basename(self.outdirs.get(name, name)))
        d = self.outdirs.get(name, os.path.join("results", name))
        return d if os.path.isabs(d) else os.path.join(ROOT, d)

    def sweep(self, name):
        if name not in self._sweeps:
            res = self.res_dir(name)
            if not os.path.isfile(os.path.join(res, "summary.csv")):
                self._sweeps[name] = res  # a path: not run
            else:
                self._sweeps[name] = Sweep(res)
        return self._sweeps[name]

    def rel(self, path):
        r = os.path.relpath(path, ROOT)
        return path if r.startswith("..") else r

    # a row: dict with CSV_HEADER keys
    def evaluate(self, c):
        t = c["test"]
        row = {"id": c["id"], "paper": c["paper"], "where": c["where"], "quote": c["quote"],
               "paper_value": c["paper_value"], "sweep": "", "ours": "", "n": "", "why": ""}
        if t["type"] == "cost":
            return self.eval_cost(c, row)
        name = c["sweep"]["full"] if self.mode == "full" else c["sweep"].get("quick")
        if not name:
            row.update(verdict="not run", why="no quick variant: the paper's number needs the "
                       "full-size sweep (%s)" % c["sweep"]["full"])
            return row
        row["sweep"] = name
        sw = self.sweep(name)
        if not isinstance(sw, Sweep):
            why = "no results in %s" % self.rel(sw)
            if c["sweep"].get("not_run_note") and self.mode == "full":
                why = "not run at full size: %s (%s)" % (c["sweep"]["not_run_note"], why)
            row.update(verdict="not run", why=why)
            return row
        why = None
        for other, labs in claim_labels(t, self.mode).items():
            o = sw if other is None else self.sweep(other)
            if isinstance(o, Sweep):
                why = why or self.incomplete(other or name, o, labs)
        if not why and t.get("metric", "").startswith("steps:") and t.get("stat") in EXTREME_STATS \
                and sw.thinned():
            why = ("%s logs its per-step CSV every few steps (steps_every): the %s of %s over "
                   "a window needs every step" % (name, t["stat"], t["metric"][6:]))
            row.update(verdict="inconclusive", why=why)
            return row
        if why:
            row.update(verdict="not run", why=why)
            return row
        try:
            return self.eval_sweep(c, t, sw, row)
        except InputError as e:
            raise InputError("claim '%s': %s" % (c["id"], e))

    def other_sweep(self, spec, sw):
        if "sweep" not in spec:
            return sw
        name = spec["sweep"].get(self.mode)
        o = self.sweep(name) if name else None
        return o

    def eval_sweep(self, c, t, sw, row):
        mode, notes = self.mode, set()
        ga = find_groups(sw, t["a"], t, mode, notes)
        if ga is None:
            row.update(verdict="not run", why="%s has no runs of '%s'%s" % (
                self.rel(sw.res), t["a"]["label"],
                " at lr %s" % t["a"]["lr"] if isinstance(t["a"].get("lr"), (int, float)) else ""))
            return row
        ga = ga[0]
        unit = " %" if t.get("scale") == 100 else ""
        if t["type"] == "value":
            vals = group_values(sw, ga, t, mode, notes=notes)
            state, ours, why, _ = decide_value(vals, t["expect"], mode, unit,
                                               c.get("deterministic", False))
            row.update(ours="%s@%s: %s" % (ga[0], ga[1], ours),
                       n=str(sum(v is not None for v in vals.values())), verdict=STATE[state],
                       why=why + "".join("; " + x for x in sorted(notes)))
            return row
        # compare
        bspecs = t["b"] if isinstance(t["b"], list) else [t["b"]]
        if "epochs" in t and t["metric"] != "epoch_increases":
            e0 = per_mode(t["epochs"]["from"], mode)
            e1 = resolve_epoch(per_mode(t["epochs"]["to"], mode), sw)
            epochs = [e for e in sw.epoch_list if e0 <= e <= e1]
        else:
            epochs = [None]
        margin = (per_mode(t.get("margin"), mode), per_mode(t.get("rel_margin"), mode))
        subs = []
        for bs in bspecs:
            swb = self.other_sweep(bs, sw)
            if not isinstance(swb, Sweep):
                row.update(verdict="not run", why="no results for '%s' in %s" % (
                    bs["label"], self.rel(swb) if isinstance(swb, str) else "its sweep"))
                return row
            gbs = find_groups(swb, bs, t, mode, notes, other_than=ga)
            if not gbs:
                row.update(verdict="not run", why="%s has no runs of '%s'%s" % (
                    self.rel(swb.res), bs["label"],
                    " other than lr %s" % ga[1] if bs.get("lr") == "others" else ""))
                return row
            for gb in gbs:
                for e in epochs:
                    va = group_values(sw, ga, t, mode, e, notes)
                    vb = group_values(swb, gb, t, mode, e, notes)
                    st, ours, why, sup = compare_one(va, vb, t["expect"], margin,
                                                     t.get("b_scale", 1), better(t),
                                                     c.get("deterministic", False))
                    tag = "%s@%s vs %s@%s" % (ga[0], ga[1], gb[0], gb[1])
                    if e is not None:
                        tag += ", epoch %s" % g(e)
                    subs.append((st, tag, ours, why, sup, va, vb))
        fails = [s for s in subs if s[0] is False]
        undec = [s for s in subs if s[0] is None]
        if fails:
            pick, verdict = fails[0], "not reproduced"
            lead = ("fails in %d of %d comparisons; first: " % (len(fails), len(subs))
                    if len(subs) > 1 else "")
        elif undec:
            pick, verdict = min(undec, key=lambda s: s[4]), "inconclusive"
            lead = ("undecided in %d of %d comparisons; e.g. " % (len(undec), len(subs))
                    if len(subs) > 1 else "")
        else:
            pick, verdict = min(subs, key=lambda s: s[4]), "reproduced"
            lead = "holds in all %d comparisons; weakest: " % len(subs) if len(subs) > 1 else ""
        n = sum(1 for s in set(pick[5]) & set(pick[6])
                if pick[5][s] is not None and pick[6][s] is not None)
        row.update(ours="%s: %s" % (pick[1], pick[2]), n=str(n), verdict=verdict,
                   why=lead + pick[3] + "".join("; " + x for x in sorted(notes)))
        return row

    def bench(self):
        if self._bench is None:
            self._bench = read_bench(self.bench_path)
        return self._bench

    def eval_cost(self, c, row):
        t = c["test"]
        path, rows = self.bench()
        row["sweep"] = "make bench"
        if rows is None:
            row.update(verdict="not run", why="no make bench results (%s)" % path)
            return row
        opt = t["optimizer"]
        r, base = rows.get(opt), rows.get("sgd")
        if r is None or (t["field"] == "ratio" and base is None):
            row.update(verdict="not run", why="%s has no per-step cost of %s" % (
                self.rel(path), opt if r is None else "sgd"))
            return row
        if t["field"] == "ratio":
            v, what = r["step_ms"] / base["step_ms"], "%s× sgd (%s / %s ms)" % (
                g(r["step_ms"] / base["step_ms"]), g(r["step_ms"]), g(base["step_ms"]))
        else:
            v, what = r["fwd"], "%s forwards/step" % g(r["fwd"])
        e = t["expect"]
        x, tol = e.get("value"), e.get("tol")
        if tol is None and e.get("rel_tol") is not None:
            tol = e["rel_tol"] * abs(x)
        if x is not None:
            ok = abs(v - x) <= tol + 1e-12
            why = "%s %s %s ± %s" % (gx(v), "within" if ok else "outside", g(x), g(tol))
        elif e.get("at_most") is not None:
            ok = v <= e["at_most"]
            why = "%s %s %s" % (gx(v), "≤" if ok else ">", g(e["at_most"]))
        else:
            ok = v >= e["at_least"]
            why = "%s %s %s" % (gx(v), "≥" if ok else "<", g(e["at_least"]))
        row.update(ours=what, n="bench", verdict=STATE[ok],
                   why=why + "; one make bench measurement (median over the timed steps), "
                   "decided on the value (no interval); from " + self.rel(path))
        return row


def read_bench(path):
    """(path, {optimizer: {"step_ms", "fwd"}}) from make bench's raw.jsonl or its Markdown report;
    rows None when the file does not exist."""
    if not os.path.isfile(path):
        return path, None
    out = {}
    if path.endswith(".jsonl"):
        per = {}
        with open(path) as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except ValueError as e:
                    raise InputError("%s:%d: not JSON: %s" % (path, i, e))
                if r.get("tag") == "cost" and r.get("kind") == "step" and r.get("step_ms"):
                    per.setdefault(r["optimizer"], []).append(r)
        for k, rs in per.items():
            out[k] = {"step_ms": statistics.median(x["step_ms"] for x in rs),
                      "fwd": rs[0].get("fwd_per_step")}
        return path, out
    with open(path) as f:
        lines = f.read().splitlines()
    hdr = None
    for i, line in enumerate(lines, 1):
        cells = [x.strip() for x in line.strip().strip("|").split("|")]
        if line.startswith("| optimizer | ms/step"):
            hdr = cells
            continue
        if hdr is None:
            continue
        if not line.startswith("|"):
            if out:
                break
            continue
        if set(line) <= set("|-: "):
            continue
        d = dict(zip(hdr, cells))
        try:
            out[d["optimizer"]] = {"step_ms": float(d["ms/step"]),
                                   "fwd": float(d["forwards/step"])}
        except (KeyError, ValueError):
            raise InputError("%s:%d: malformed cost row: %s" % (path, i, line))
    if hdr is None:
        raise InputError("%s: no '| optimizer | ms/step |' table (make bench report)" % path)
    return path, out


# ---- output ----------------------------------------------------------------------------------

def short(q, n=110):
    q = " ".join(q.split())
    return q if len(q) <= n else q[:n - 1].rstrip() + "…"


def md_cell(s):
    return s.replace("|", "\\|").replace("\n", " ")


def render_md(rows, mode, papers):
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    out = ["Verdicts, %s-size sweeps (generated by `python3 scripts/verdicts.py --%s`; do not "
           "edit by hand): %s." % (mode, mode, ", ".join("%d %s" % (counts[v], v)
                                                           for v in VERDICTS)),
           "",
           "| claim | paper, where | quote | paper | ours: mean ± 95 % CI half-width (n) | verdict "
           "| why |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append("| %s |" % " | ".join(md_cell(x) for x in [
            "`%s`" % r["id"], "%s, %s" % (papers[r["paper"]]["short"], r["where"]),
            "“%s”" % short(r["quote"]), r["paper_value"],
            r["ours"] or "–", "**%s**" % r["verdict"],
            ("%s: " % r["sweep"] if r["sweep"] else "") + r["why"]]))
    return "\n".join(out) + "\n"


def render_csv(rows):
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for r in rows:
        w.writerow([r[h] for h in CSV_HEADER])
    return buf.getvalue()


def update_doc(path, table, mode):
    BEGIN, END = MARKERS[mode]
    try:
        text = open(path).read()
    except OSError as e:
        raise InputError("%s: cannot read: %s" % (path, e))
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise InputError("%s: needs exactly one '%s' line followed by one '%s' line"
                         % (path, BEGIN, END))
    a = text.index(BEGIN) + len(BEGIN)
    b = text.index(END)
    seedstats.write_atomic(path, text[:a] + "\n" + table + text[b:])


def usage(msg):
    sys.stderr.write("%s: %s\nusage: verdicts.py [--full|--quick] [--claims FILE] [--results DIR]"
                     " [--bench FILE] [--out DIR] [--update-doc FILE] (see --help)\n" % (PROG, msg))
    return 2


def main(argv):
    opts = {"mode": "full", "claims": os.path.join(ROOT, "claims", "claims.json"),
            "results": None, "bench": None, "out": None, "doc": None,
            "configs": os.path.join(ROOT, "configs")}
    it = iter(argv)
    for a in it:
        if a in ("-h", "--help"):
            print(__doc__)
            return 0
        if a in ("--full", "--quick"):
            opts["mode"] = a[2:]
        elif a in ("--claims", "--results", "--bench", "--out", "--update-doc", "--configs"):
            v = next(it, None)
            if v is None:
                return usage("%s needs a value" % a)
            opts[{"--update-doc": "doc"}.get(a, a[2:])] = v
        else:
            return usage("unknown argument '%s'" % a)
    bench = opts["bench"]
    if bench is None:
        raw = os.path.join(ROOT, "results", "bench", "raw.jsonl")
        bench = raw if os.path.isfile(raw) else os.path.join(ROOT, "docs", "bench.md")
    try:
        labels, outdirs, expected, files = load_configs(opts["configs"])
        doc = load_claims(opts["claims"], labels)
    except ClaimError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 2
    except OSError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 2
    papers = doc["papers"]
    for k, p in papers.items():
        if not isinstance(p, dict) or not isinstance(p.get("short"), str):
            sys.stderr.write("%s: %s: papers.%s needs a \"short\" name\n" % (PROG, opts["claims"],
                                                                             k))
            return 2
    ev = Evaluator(opts["mode"], opts["results"], outdirs, bench, expected, files)
    try:
        rows = [ev.evaluate(c) for c in doc["claims"]]
        md = render_md(rows, opts["mode"], papers)
        if opts["out"]:
            os.makedirs(opts["out"], exist_ok=True)
            seedstats.write_atomic(os.path.join(opts["out"], "verdicts.md"), md)
            seedstats.write_atomic(os.path.join(opts["out"], "verdicts.csv"), render_csv(rows))
        if opts["doc"]:
            update_doc(opts["doc"], md, opts["mode"])
        if not opts["out"] and not opts["doc"]:
            sys.stdout.write(md)
    except InputError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    sys.stderr.write("%s: %d claims (%s): %s\n" % (PROG, len(rows), opts["mode"], ", ".join(
        "%d %s" % (counts[v], v) for v in VERDICTS)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
