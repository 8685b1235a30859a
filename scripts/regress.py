#!/usr/bin/env python3
"""regress.py - loss-curve regression against the committed reference curves.

  python3 scripts/regress.py                 rerun configs/regress/*.json, compare (make regress)
  python3 scripts/regress.py --compare DIR   compare an existing output tree DIR/<stem>/, no rerun
  python3 scripts/regress.py --update        after an intended change: regenerate the references
                                             and re-measure the tolerances (several minutes)
  python3 scripts/regress.py --update --no-calibrate   regenerate the references only

Compare. Every config configs/regress/<stem>.json is run with
`lqabench --threads 1 --no-timing --force --quiet` into <tmp>/<stem>/, and every
CSV of results/reference/<stem>/ (<run>.steps.csv and <run>.epochs.csv) is
compared with the new one, using the run's entry in
results/reference/tolerances.json:
  - the headers must be equal (a missing or an extra column fails), except that
    a column of APPENDED (val_loss, val_acc: later additions to the per-epoch
    CSV) may follow the reference's columns when every one of its cells is
    empty (the configs hold out no validation split);
  - only rows with step <= the run's "horizon" are compared (no horizon: all
    rows); their number must be equal;
  - columns listed under "exact" (step, epoch, fwd, bwd) and every non-numeric
    cell (fallback names, "nan", "inf", empty cells) must be equal as strings;
  - other numeric cells must satisfy |new - ref| <= atol + rtol*|ref|, with the
    run's (atol, rtol) for that column;
  - columns under "exclude" (the wall-clock "seconds") are not compared;
  - a reference run missing from the new output, a new run without a
    reference, a config without a reference and a reference without a config
    all fail.
Each failure is one line: config/file (the run), column, the first differing
row (its step, or epoch), both values, the tolerance, and how many rows of that
column differ. Exit status: 0 all within tolerance, 1 a difference, 2 a usage
error or lqabench failed.

Update and calibrate. The references are the threads-1 run of ./lqabench. The
same configs are also run as "variants" that must not count as changes: 2
threads, the sanitizer build (build-asan/lqabench, if built) with 1 and 2
threads, and the other OpenBLAS kernels (OPENBLAS_CORETYPE=Prescott, Sandybridge,
Haswell, SkylakeX, where the CPU has the instructions) - a machine with another
CPU gets another kernel. For each run and each cell the difference from the
reference is measured relative to max(|ref|, 1% of the largest |ref| of that
column so far in the run). A run's horizon is the last step before any variant
differs by more than --threshold (default 1e-4) in any cell, or by any string,
row count, step/fwd/bwd count: past it, rounding has been amplified (chaotic
methods, deep batch-norm nets) and the trajectories are no longer comparable.
Within the horizon each column gets rtol = --factor (10) x the largest relative
difference measured (at least 1e-6) and atol = rtol x 1% of the column's
largest |ref|. tolerances.json gets the numbers, TOLERANCES.md the measurement.
Python 3 standard library only.
"""
import argparse
import re
import csv
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DIR = os.path.join(ROOT, "configs", "regress")
REF_DIR = os.path.join(ROOT, "results", "reference")
EXCLUDE = ["seconds"]
EXACT = ["step", "epoch", "fwd", "bwd"]
HORIZON_COLS = ["loss", "train_loss", "test_loss"]  # the curves: they set a run's horizon
SUFFIXES = (".steps.csv", ".epochs.csv")
APPENDED = ["val_loss", "val_acc"]  # appended to epochs.csv after some references were made


def die(msg):
    print("regress: error: " + msg, file=sys.stderr)
    sys.exit(2)


def say(msg):
    print("regress: " + msg, file=sys.stderr, flush=True)


# ---- running ------------------------------------------------------------------

def config_stems(config_dir, only):
    stems = sorted(f[:-5] for f in os.listdir(config_dir) if f.endswith(".json"))
    if only:
        unknown = [s for s in only if s not in stems]
        if unknown:
            die("no config %s in %s" % (", ".join(unknown), config_dir))
        stems = [s for s in stems if s in only]
    return stems


def run_all(binary, config_dir, stems, out_root, threads, jobs, env=None, verbose=False):
    """Run each config into out_root/<stem>; return the list of failures."""
    full_env = dict(os.environ)
    full_env.update(env or {})

    def one(stem):
        out = os.path.join(out_root, stem)
        cmd = [binary, "--config", os.path.join(config_dir, stem + ".json"), "--output-dir", out,
               "--threads", str(threads), "--no-timing", "--force", "--quiet"]
        t0 = time.time()
        p = subprocess.run(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        if verbose:
            say("ran %s in %.1f s" % (stem, time.time() - t0))
        if p.returncode != 0:
            return "%s: %s exited %d:\n%s" % (stem, " ".join(cmd), p.returncode, p.stdout[-2000:])
        return None

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        return [e for e in ex.map(one, stems) if e]


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def variants(binary, asan_binary):
    """(name, binary, threads, env) of every variant; the first is the reference."""
    v = [("threads1", binary, 1, {}), ("threads2", binary, 2, {})]
    if asan_binary and os.access(asan_binary, os.X_OK):
        v += [("asan-threads1", asan_binary, 1, {}), ("asan-threads2", asan_binary, 2, {})]
    flags = cpu_flags()
    own = ""  # the kernel the reference uses (lqabench --version names it), not repeated
    out = ""
    try:
        out = subprocess.run([binary, "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True).stdout
        if "OpenBLAS core: " in out:
            own = out.split("OpenBLAS core: ", 1)[1].split(")")[0].strip().lower()
    except OSError:
        pass
    for core, need in (("Prescott", "pni"), ("Sandybridge", "avx"), ("Haswell", "avx2"),
                       ("Zen", "avx2"), ("SkylakeX", "avx512f")):
        if need in flags and core.lower() != own:
            v.append(("openblas-%s" % core, binary, 1, {"OPENBLAS_CORETYPE": core}))
    # the instruction-set paths of lqabench's own kernels below the one this CPU picks
    # (kernels: avx512 > avx2 > baseline), and the baseline path with the SSE3 kernel
    # of OpenBLAS, as an old CPU runs it
    paths = ["avx512", "avx2", "baseline"]
    mine = out.split("kernels: ", 1)[1].split(";")[0].strip() if "kernels: " in out else ""
    if mine in paths:
        for p in paths[paths.index(mine) + 1:]:
            v.append(("kernels-%s" % p, binary, 1, {"LQA_KERNEL": p}))
        if mine != "baseline":
            v.append(("kernels-baseline-Prescott", binary, 1,
                      {"LQA_KERNEL": "baseline", "OPENBLAS_CORETYPE": "Prescott"}))
    return v


# ---- CSV helpers ----------------------------------------------------------------

def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return [], []
    return rows[0], rows[1:]


def csv_files(d):
    if not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if f.endswith(SUFFIXES))


def run_of(fname):
    for s in SUFFIXES:
        if fname.endswith(s):
            return fname[:-len(s)]
    return fname


def finite(s):
    """A finite float, or None for anything else (empty, nan, inf, text)."""
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def row_step(header, row):
    """The step a row belongs to (steps.csv and epochs.csv both have a step column)."""
    try:
        return int(float(row[header.index("step")]))
    except (ValueError, IndexError):
        return None


# ---- tolerances -----------------------------------------------------------------

def load_tolerances(path):
    try:
        with open(path) as f:
            t = json.load(f)
    except (OSError, ValueError) as e:
        die("%s: %s" % (path, e))
    for key in ("default", "runs", "exclude", "exact"):
        if key not in t:
            die("%s: no \"%s\"" % (path, key))
    return t


# ---- comparison -------------------------------------------------------------------

def compare_file(ref_path, new_path, entry, tols, label):
    """Report lines for one CSV pair under one run's tolerance entry."""
    rh, rrows = read_csv(ref_path)
    nh, nrows = read_csv(new_path)
    out = []
    missing = [c for c in rh if c not in nh]
    extra = [c for c in nh if c not in rh]
    appended = [c for c in extra if c in APPENDED and nh.index(c) >= len(rh)
                and all(nh.index(c) >= len(r) or r[nh.index(c)] == "" for r in nrows)]
    extra = [c for c in extra if c not in appended]
    for c in missing:
        out.append("%s: missing column %s (in the reference, not in the new output)" % (label, c))
    for c in extra:
        out.append("%s: extra column %s (in the new output, not in the reference)" % (label, c))
    if not missing and not extra and rh != [c for c in nh if c not in appended]:
        out.append("%s: columns in another order: reference %s, new %s"
                   % (label, ",".join(rh), ",".join(nh)))
    if not rh:
        return out
    horizon = entry.get("horizon")
    if horizon is not None and "step" in rh and "step" in nh:
        rrows = [r for r in rrows if (row_step(rh, r) or 0) <= horizon]
        nrows = [r for r in nrows if (row_step(nh, r) or 0) <= horizon]
    key = rh[0]
    upto = "" if horizon is None else " up to step %d (the run's horizon)" % horizon
    if len(rrows) != len(nrows):
        n = min(len(rrows), len(nrows))
        longer, which = (rrows, "reference") if len(rrows) > len(nrows) else (nrows, "new output")
        out.append("%s: %d rows%s in the reference, %d in the new output (first unmatched: "
                   "%s %s, in the %s)" % (label, len(rrows), upto, len(nrows), key,
                                          longer[n][0] if longer[n] else "?", which))
    ni = {c: i for i, c in enumerate(nh)}
    for ci, col in enumerate(rh):
        if col in tols["exclude"] or col not in ni:
            continue
        exact = col in tols["exact"]
        atol, rtol = (0.0, 0.0) if exact else (entry["tol"].get(col) or tols["default"].get(col)
                                                or tols["default"]["*"])
        first, count = None, 0
        for rr, nr in zip(rrows, nrows):
            rv = rr[ci] if ci < len(rr) else ""
            nv = nr[ni[col]] if ni[col] < len(nr) else ""
            if rv == nv:
                continue
            a, b = finite(rv), finite(nv)
            if not exact and a is not None and b is not None:
                if abs(b - a) <= atol + rtol * abs(a):
                    continue
                why = "|diff| %.3g > tolerance %.3g = atol %.3g + rtol %.3g*|ref|" % (
                    abs(b - a), atol + rtol * abs(a), atol, rtol)
            elif exact:
                why = "must be equal"
            else:
                why = "not both finite numbers: must be equal"
            count += 1
            if first is None:
                first = (rr[0] if rr else "?", rv, nv, why)
        if first:
            k, rv, nv, why = first
            out.append("%s: column %s first differs at %s %s: reference %s, new %s (%s); "
                       "%d of %d rows%s differ" % (label, col, key, k, rv or "(empty)",
                                                   nv or "(empty)", why, count,
                                                   min(len(rrows), len(nrows)), upto))
    return out


def compare_tree(ref_root, new_root, config_dir, stems, tols):
    """Compare new_root/<stem>/ with ref_root/<stem>/; return (report lines, files, runs)."""
    out, nfiles, runs = [], 0, set()
    if os.path.isdir(ref_root):
        for d in sorted(os.listdir(ref_root)):
            if os.path.isdir(os.path.join(ref_root, d)) and \
                    not os.path.exists(os.path.join(config_dir, d + ".json")):
                out.append("%s: reference directory without a config %s/%s.json"
                           % (d, config_dir, d))
    for stem in stems:
        rd, nd = os.path.join(ref_root, stem), os.path.join(new_root, stem)
        rf, nf = csv_files(rd), csv_files(nd)
        if not rf:
            out.append("%s: no reference in %s (scripts/regress.py --update)" % (stem, rd))
            continue
        for f in rf:
            label = "%s/%s" % (stem, f)
            run = "%s/%s" % (stem, run_of(f))
            runs.add(run)
            if f not in nf:
                out.append("%s: missing run %s: no %s in the new output" % (label, run_of(f), f))
                continue
            entry = tols["runs"].get(run)
            if entry is None:
                out.append("%s: no tolerance entry for run %s in tolerances.json "
                           "(scripts/regress.py --update)" % (label, run))
                continue
            out.extend(compare_file(os.path.join(rd, f), os.path.join(nd, f), entry, tols, label))
            nfiles += 1
        for f in nf:
            if f not in rf:
                out.append("%s/%s: run %s without a reference (not in %s)"
                           % (stem, f, run_of(f), rd))
    return out, nfiles, len(runs)


# ---- calibration --------------------------------------------------------------------

class RunStats:
    """Per-run measurement: events (step, rel, what) and per-column cell differences."""

    def __init__(self):
        self.events = []          # (step, rel, description)
        self.cells = []           # (col, step, rel, variant)
        self.colmax = {}          # col -> max |ref| by step: list of (step, running max)


def measure_pair(ref_path, var_path, variant, st, exact, exclude):
    rh, rrows = read_csv(ref_path)
    if not os.path.exists(var_path):
        st.events.append((0, math.inf, "%s: no %s" % (variant, os.path.basename(var_path))))
        return
    vh, vrows = read_csv(var_path)
    if (len(vh) > len(rh) and vh[:len(rh)] == rh and all(c in APPENDED for c in vh[len(rh):])
            and all(not x for r in vrows for x in r[len(rh):])):
        # columns appended since the reference was made, empty here: as in compare_file
        vh, vrows = rh, [r[:len(rh)] for r in vrows]
    if rh != vh:
        st.events.append((0, math.inf, "%s: header differs" % variant))
        return
    fname = os.path.basename(ref_path)
    running = {}
    for i in range(max(len(rrows), len(vrows))):
        if i >= len(rrows) or i >= len(vrows):
            row = rrows[i] if i < len(rrows) else vrows[i]
            st.events.append((row_step(rh, row) or 0, math.inf,
                              "%s: %s has %d rows, reference %d" % (variant, fname, len(vrows),
                                                                    len(rrows))))
            break
        rr, vr = rrows[i], vrows[i]
        step = row_step(rh, rr)
        worst, what = 0.0, ""
        for ci, col in enumerate(rh):
            if col in exclude:
                continue
            a_s, b_s = rr[ci], vr[ci]
            a, b = finite(a_s), finite(b_s)
            if a is not None:
                running[col] = max(running.get(col, 0.0), abs(a))
            if a_s == b_s:
                if a is not None:
                    st.cells.append((col, step, 0.0, variant, running[col]))
                continue
            if col in exact or a is None or b is None:
                rel = math.inf
            else:
                rel = abs(b - a) / max(abs(a), 0.01 * running[col], 1e-30)
                st.cells.append((col, step, rel, variant, running[col]))
                if col not in HORIZON_COLS:
                    continue
            if rel > worst:
                worst, what = rel, "%s: %s %s %s vs %s" % (variant, fname, col, a_s, b_s)
        st.events.append((step, worst, what))


def calibrate(ref_root, var_roots, stems, factor, threshold, thresholds, rtol_min, atol_min):
    """Return (tolerances dict, per-run report rows, per-variant maxima)."""
    runs, report, per_variant = {}, [], {}
    for stem in stems:
        thr = thresholds.get(stem, threshold)
        for f in csv_files(os.path.join(ref_root, stem)):
            if not f.endswith(".steps.csv"):
                continue
            run = run_of(f)
            st = RunStats()
            for vname, vroot in var_roots:
                for suf in SUFFIXES:
                    rp = os.path.join(ref_root, stem, run + suf)
                    if os.path.exists(rp):
                        measure_pair(rp, os.path.join(vroot, stem, run + suf), vname, st,
                                     EXACT, EXCLUDE)
            bad = sorted((e for e in st.events if e[1] > thr), key=lambda e: e[0])
            h, rows = read_csv(os.path.join(ref_root, stem, f))
            last = (row_step(h, rows[-1]) or 0) if rows else 0
            horizon = bad[0][0] - 1 if bad else None
            inside = [c for c in st.cells if horizon is None or (c[1] or 0) <= horizon]
            tol, colinfo = {}, {}
            for col, step, rel, variant, scale in inside:
                ci = colinfo.setdefault(col, {"rel": 0.0, "scale": 0.0, "variant": "", "step": 0})
                ci["scale"] = max(ci["scale"], scale)
                if rel > ci["rel"]:
                    ci.update(rel=rel, variant=variant, step=step)
                pv = per_variant.setdefault(variant, {})
                pv[col] = max(pv.get(col, 0.0), rel)
            for col, ci in sorted(colinfo.items()):
                rtol = max(rtol_min, factor * ci["rel"])
                atol = max(atol_min, rtol * 0.01 * ci["scale"])
                tol[col] = [float("%.3g" % atol), float("%.3g" % rtol)]
            key = "%s/%s" % (stem, run)
            runs[key] = {"horizon": horizon, "tol": tol}
            report.append({"run": key, "steps": last, "horizon": horizon, "threshold": thr,
                           "first_bad": bad[0] if bad else None,
                           "loss": colinfo.get("loss", {"rel": 0.0, "variant": "", "step": 0}),
                           "worst": max(colinfo.items(), key=lambda kv: kv[1]["rel"])
                           if colinfo else None,
                           "tol_loss": tol.get("loss")})
    tols = {
        "comment": "Generated by scripts/regress.py --update (see TOLERANCES.md for the "
                   "measurement). Per run: horizon (last step compared; null: all) and, per "
                   "column, [atol, rtol]: |new - ref| <= atol + rtol*|ref|.",
        "exclude": EXCLUDE, "exact": EXACT,
        "factor": factor, "threshold": threshold, "thresholds": thresholds,
        "rtol_min": rtol_min, "atol_min": atol_min,
        "default": {"*": [atol_min, rtol_min]},
        "runs": runs,
    }
    return tols, report, per_variant


def git_rev():
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def blas_core(tree, stems):
    for stem in stems:
        d = os.path.join(tree, stem)
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if f.endswith(".json"):
                try:
                    with open(os.path.join(d, f)) as fh:
                        env = json.load(fh).get("environment", {})
                    blas = env.get("openblas", "?")
                    if env.get("openblas_core"):
                        blas += " (kernel used: %s)" % env["openblas_core"]
                    return blas, env.get("cpu", "?"), env.get("git", "?")
                except (OSError, ValueError):
                    pass
    return "?", "?", "?"


def write_report(path, tols, report, per_variant, var_list, stems, ref_tree, timings,
                 intro=None):
    blas, cpu, rev = blas_core(ref_tree, stems)
    L = []
    L.append("# Tolerances of the loss-curve regression: the measurement" +
             (" on CPU \"%s\"" % blas_core(ref_tree, stems)[1] if intro else ""))
    L.append("")
    L.append("Generated by `python3 scripts/regress.py %s` on %s (lqabench built from "
             "git %s; tree %s), CPU \"%s\", %s. Do not edit by hand; see README.md in this "
             "directory and docs/regression.md."
             % ("--add-machine" if intro else "--update", datetime.date.today().isoformat(), rev,
                git_rev(), cpu, blas))
    L.append("")
    L.append((intro + " " if intro else "The reference is variant `threads1`. ") +
             "Every variant below ran the same configs "
             "(`--no-timing`); the difference of each cell from the reference is measured "
             "relative to max(|ref|, 1% of the largest |ref| of its column so far in the run).")
    L.append("")
    L.append("| variant | lqabench | threads | environment | seconds |")
    L.append("|---|---|---|---|---|")
    for name, binary, threads, env in var_list:
        shown = os.path.relpath(binary, ROOT)
        if shown.startswith(".."):
            shown = binary
        L.append("| %s | %s | %d | %s | %s |" % (name, shown, threads,
                                                " ".join("%s=%s" % kv for kv in env.items())
                                                or "-", timings.get(name, "-")))
    L.append("")
    L.append("Rule: a run's **horizon** is the last step before any variant differs by more than "
             "the threshold (relative; %g%s) in a loss column (loss, train_loss, test_loss), or "
             "differs at all in a string, step/epoch/fwd/bwd count or row count; rows past it are "
             "not compared. Within the horizon each column gets rtol = %g x the largest relative "
             "difference measured (at least %g) and atol = rtol x 1%% of the column's largest "
             "|ref| (at least %g)."
             % (tols["threshold"],
                "".join(", %s: %g" % kv for kv in sorted(tols["thresholds"].items())),
                tols["factor"], tols["rtol_min"], tols["atol_min"]))
    L.append("")
    L.append("## Largest relative difference per column and variant (within the horizons)")
    L.append("")
    cols = sorted({c for v in per_variant.values() for c in v})
    L.append("| column | " + " | ".join(n for n, *_ in var_list[1:]) + " |")
    L.append("|---|" + "---|" * (len(var_list) - 1))
    for c in cols:
        L.append("| %s | " % c + " | ".join("%.2g" % per_variant.get(n, {}).get(c, 0.0)
                                            for n, *_ in var_list[1:]) + " |")
    L.append("")
    L.append("## Per run")
    L.append("")
    L.append("`horizon`: last step compared (all: every step). `first beyond`: the first cell "
             "past the threshold, which sets the horizon. `loss diff`: the largest relative "
             "difference of the loss within the horizon (variant, step); `loss rtol`: the "
             "tolerance set from it. `worst column`: the column with the largest relative "
             "difference within the horizon.")
    L.append("")
    L.append("| run | steps | horizon | first beyond | loss diff | loss rtol | worst column |")
    L.append("|---|---|---|---|---|---|---|")
    for r in report:
        fb = r["first_bad"]
        fbs = "-" if not fb else "step %d: %s (%s)" % (fb[0], fb[2].replace("|", "/"),
                                                       "%.2g" % fb[1] if math.isfinite(fb[1])
                                                       else "discrete")
        lo = r["loss"]
        w = r["worst"]
        ws = "-" if not w or not w[1]["rel"] else "%s %.2g (%s, step %s)" % (
            w[0], w[1]["rel"], w[1]["variant"], w[1]["step"])
        L.append("| %s | %d | %s | %s | %s | %s | %s |" % (
            r["run"], r["steps"], "all" if r["horizon"] is None else r["horizon"], fbs,
            "0" if not lo["rel"] else "%.2g (%s, step %s)" % (lo["rel"], lo["variant"],
                                                               lo["step"]),
            "%.3g" % r["tol_loss"][1] if r["tol_loss"] else "-", ws))
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


# ---- main ---------------------------------------------------------------------------

def merge_tolerances(old, new):
    """Per run: the smaller horizon (None = all steps), per column the larger atol and rtol."""
    runs = dict(old["runs"])
    for key, e in new["runs"].items():
        o = runs.get(key)
        if o is None:
            runs[key] = e
            continue
        hs = [h for h in (o["horizon"], e["horizon"]) if h is not None]
        tol = dict(o["tol"])
        for col, (at, rt) in e["tol"].items():
            oat, ort = tol.get(col, [0.0, 0.0])
            tol[col] = [max(oat, at), max(ort, rt)]
        runs[key] = {"horizon": min(hs) if hs else None, "tol": dict(sorted(tol.items()))}
    out = dict(old)
    out["runs"] = dict(sorted(runs.items()))
    return out


def add_machine(a, binary, config_dir, stems, ref_root, tol_path):
    """--add-machine: every variant of this machine against the committed references."""
    if not os.access(binary, os.X_OK):
        die("%s: not an executable (run make, or pass --bin)" % binary)
    old = load_tolerances(tol_path)
    var_list = variants(binary, os.path.abspath(a.asan_bin))
    keep = a.from_runs or a.keep  # --from-runs DIR: reuse the variants already in DIR
    root = os.path.abspath(keep) if keep else tempfile.mkdtemp(prefix="lqa_regress.")
    try:
        timings = {}
        for name, vbin, threads, env in var_list:
            if a.from_runs and os.path.isdir(os.path.join(root, name)):
                continue
            t0 = time.time()
            say("variant %s (%s, %d thread%s%s)" % (
                name, os.path.relpath(vbin, ROOT), threads, "" if threads == 1 else "s",
                "".join(", %s=%s" % kv for kv in env.items())))
            errs = run_all(vbin, config_dir, stems, os.path.join(root, name), threads, a.jobs,
                           env, a.verbose)
            if errs:
                for e in errs:
                    say(e)
                die("lqabench failed (variant %s)" % name)
            timings[name] = "%.0f" % (time.time() - t0)
        tols, report, per_variant = calibrate(
            ref_root, [(n, os.path.join(root, n)) for n, *_ in var_list], stems,
            old["factor"], old["threshold"], old["thresholds"], old["rtol_min"], old["atol_min"])
        merged = merge_tolerances(old, tols)
        cpu = blas_core(os.path.join(root, var_list[0][0]), stems)[1]
        machines = [m for m in old.get("machines", []) if m != cpu] + [cpu]
        merged["machines"] = machines
        with open(tol_path, "w") as f:
            json.dump(merged, f, indent=1, sort_keys=False)
            f.write("\n")
        md = os.path.join(os.path.dirname(tol_path), "TOLERANCES.md")
        section = os.path.join(os.path.dirname(tol_path), "TOLERANCES-%s.md" % re.sub(
            r"[^A-Za-z0-9]+", "-", cpu).strip("-").lower())
        write_report(section, tols, report, per_variant, var_list, stems,
                     os.path.join(root, var_list[0][0]), timings,
                     "Measured by `python3 scripts/regress.py --add-machine`: every variant "
                     "below against the committed references (made on another machine); "
                     "tolerances.json takes, per run, the smaller horizon and the larger "
                     "tolerances of this measurement and the earlier ones (%s)."
                     % os.path.basename(md))
        say("wrote %s and %s" % (os.path.relpath(tol_path, ROOT), os.path.relpath(section, ROOT)))
        return 0
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def main():
    global CONFIG_DIR
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See docs/regression.md.")
    ap.add_argument("--bin", default=os.environ.get("LQA_BIN", os.path.join(ROOT, "lqabench")),
                    help="lqabench binary (default: $LQA_BIN or ./lqabench)")
    ap.add_argument("--asan-bin", default=os.path.join(ROOT, "build-asan", "lqabench"),
                    help="sanitizer build used as a calibration variant")
    ap.add_argument("--threads", type=int, default=1,
                    help="--threads for the compared run (default 1, as the references)")
    ap.add_argument("-j", "--jobs", type=int, default=min(os.cpu_count() or 1, 4),
                    help="configs run concurrently (default: CPUs, at most 4)")
    ap.add_argument("--configs", default=CONFIG_DIR, help="config directory")
    ap.add_argument("--reference", default=REF_DIR, help="reference directory")
    ap.add_argument("--tolerances", default=None,
                    help="tolerance file (default: <reference>/tolerances.json)")
    ap.add_argument("--only", action="append", default=[], metavar="STEM",
                    help="only this config (repeatable), e.g. --only mlp_mnist")
    ap.add_argument("--keep", metavar="DIR", help="run into DIR (kept) instead of a temp dir")
    ap.add_argument("--compare", metavar="DIR", help="compare DIR/<stem>/ without rerunning")
    ap.add_argument("--update", action="store_true",
                    help="regenerate the references (and tolerances, unless --no-calibrate)")
    ap.add_argument("--no-calibrate", action="store_true",
                    help="with --update: keep tolerances.json, run only the reference variant")
    ap.add_argument("--from-runs", metavar="DIR",
                    help="with --update: reuse DIR/<variant>/<stem>/ from an earlier --keep")
    ap.add_argument("--add-machine", action="store_true",
                    help="keep the references; run every variant on this machine (its CPU, "
                         "every OpenBLAS kernel and kernel path it has), measure them against "
                         "the references and loosen tolerances.json where they need it "
                         "(horizons only shrink, tolerances only grow)")
    ap.add_argument("--factor", type=float, default=10.0)
    ap.add_argument("--threshold", action="append", default=[], metavar="[STEM=]X",
                    help="horizon threshold (default 1e-4), or for one config: STEM=X; per-config "
                         "values already in tolerances.json are kept unless given again")
    ap.add_argument("--rtol-min", type=float, default=1e-6)
    ap.add_argument("--atol-min", type=float, default=1e-9)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    CONFIG_DIR = os.path.abspath(a.configs)
    if not os.path.isdir(CONFIG_DIR):
        die("no config directory %s" % CONFIG_DIR)
    stems = config_stems(CONFIG_DIR, a.only)
    if not stems:
        die("no configs in %s" % CONFIG_DIR)
    ref_root = os.path.abspath(a.reference)
    tol_path = a.tolerances or os.path.join(ref_root, "tolerances.json")
    binary = os.path.abspath(a.bin)

    tmp = None
    try:
        if a.update:
            var_list = variants(binary, None if a.no_calibrate else os.path.abspath(a.asan_bin))
            if a.no_calibrate:
                var_list = var_list[:1]
            if a.from_runs:
                root = os.path.abspath(a.from_runs)
                var_list = [v for v in var_list if os.path.isdir(os.path.join(root, v[0]))]
            else:
                if a.keep:
                    root = os.path.abspath(a.keep)
                else:
                    tmp = root = tempfile.mkdtemp(prefix="lqa_regress.")
                if not os.access(binary, os.X_OK):
                    die("%s: not an executable (run make, or pass --bin)" % binary)
            timings = {}
            for name, vbin, threads, env in var_list:
                if a.from_runs:
                    continue
                t0 = time.time()
                say("variant %s (%s, %d thread%s%s)" % (
                    name, os.path.relpath(vbin, ROOT), threads, "" if threads == 1 else "s",
                    "".join(", %s=%s" % kv for kv in env.items())))
                errs = run_all(vbin, CONFIG_DIR, stems, os.path.join(root, name), threads,
                               a.jobs, env, a.verbose)
                if errs:
                    for e in errs:
                        say(e)
                    die("lqabench failed (variant %s)" % name)
                timings[name] = "%.0f" % (time.time() - t0)
            ref_tree = os.path.join(root, var_list[0][0])
            for stem in stems:
                rd = os.path.join(ref_root, stem)
                shutil.rmtree(rd, ignore_errors=True)
                os.makedirs(rd)
                for f in csv_files(os.path.join(ref_tree, stem)):
                    shutil.copy(os.path.join(ref_tree, stem, f), os.path.join(rd, f))
                say("updated %s (%d files)" % (os.path.relpath(rd, ROOT), len(csv_files(rd))))
            if a.no_calibrate:
                say("tolerances.json kept; runs without an entry there will fail: "
                    "run --update without --no-calibrate to re-measure")
                return 0
            if len(var_list) < 2:
                die("no variant to calibrate against")
            threshold, thresholds = 1e-4, {}
            if os.path.exists(tol_path):
                old = load_tolerances(tol_path)
                threshold = old.get("threshold", threshold)
                thresholds = dict(old.get("thresholds", {}))
            for t in a.threshold:
                try:
                    if "=" in t:
                        k, v = t.split("=", 1)
                        thresholds[k] = float(v)
                    else:
                        threshold = float(t)
                except ValueError:
                    die("--threshold %s: expected X or STEM=X" % t)
            tols, report, per_variant = calibrate(
                ref_root, [(n, os.path.join(root, n)) for n, *_ in var_list[1:]], stems,
                a.factor, threshold, thresholds, a.rtol_min, a.atol_min)
            if a.only and os.path.exists(tol_path):  # keep the other configs' entries
                old = load_tolerances(tol_path)
                keep = {k: v for k, v in old["runs"].items() if k.split("/")[0] not in stems}
                keep.update(tols["runs"])
                tols["runs"] = dict(sorted(keep.items()))
                if "machines" in old:
                    tols["machines"] = old["machines"]
            with open(tol_path, "w") as f:
                json.dump(tols, f, indent=1, sort_keys=False)
                f.write("\n")
            # the full report is TOLERANCES.md; a measurement of some configs only goes into
            # its own file, so that it does not replace the report of the others
            md = os.path.join(os.path.dirname(tol_path), "TOLERANCES.md" if not a.only else
                              "TOLERANCES-%s.md" % "-".join(sorted(stems)))
            write_report(md, tols, report, per_variant, var_list, stems, ref_tree, timings)
            say("wrote %s and %s" % (os.path.relpath(tol_path, ROOT), os.path.relpath(md, ROOT)))
            return 0

        if a.add_machine:
            return add_machine(a, binary, CONFIG_DIR, stems, ref_root, tol_path)

        if a.compare:
            new_root = os.path.abspath(a.compare)
        else:
            if not os.access(binary, os.X_OK):
                die("%s: not an executable (run make, or pass --bin)" % binary)
            if a.keep:
                new_root = os.path.abspath(a.keep)
            else:
                tmp = new_root = tempfile.mkdtemp(prefix="lqa_regress.")
            t0 = time.time()
            errs = run_all(binary, CONFIG_DIR, stems, new_root, a.threads, a.jobs, None,
                           a.verbose)
            if errs:
                for e in errs:
                    say(e)
                die("lqabench failed")
            say("%d configs ran in %.0f s (%s, %d thread%s)" % (
                len(stems), time.time() - t0, os.path.relpath(binary, ROOT), a.threads,
                "" if a.threads == 1 else "s"))
        tols = load_tolerances(tol_path)
        report, nfiles, nruns = compare_tree(ref_root, new_root, CONFIG_DIR, stems, tols)
        for line in report:
            print("FAIL " + line)
        if report:
            print("regress: %d failure%s (%d files of %d runs in %d config%s compared with %s)"
                  % (len(report), "" if len(report) == 1 else "s", nfiles, nruns, len(stems),
                     "" if len(stems) == 1 else "s", os.path.relpath(ref_root, ROOT)))
            print("regress: docs/regression.md explains how to read this, and how to update "
                  "the references after an intended change")
            return 1
        print("regress: ok: %d files of %d runs in %d config%s match %s within tolerance"
              % (nfiles, nruns, len(stems), "" if len(stems) == 1 else "s",
                 os.path.relpath(ref_root, ROOT)))
        return 0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
