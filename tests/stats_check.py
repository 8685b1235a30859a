#!/usr/bin/env python3
"""stats_check.py — the checks of tests/test_stats.sh (run through it).

scripts/seedstats.py and aggregate.csv: the Student-t quantile against printed tables and closed
forms; aggregate.csv of a synthetic sweep directory (CSV files with known values) against means,
standard deviations and 95 % intervals computed by hand below; the errors on bad input.
Prints "test_stats: N passed, M failed"; exit status 1 when a check failed.
"""
import csv
import math
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import seedstats  # noqa: E402

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what)


def close(a, b, rel=1e-7, what=""):
    ok = a is not None and b is not None and abs(a - b) <= rel * max(abs(b), 1e-12)
    check(ok, "%s: got %r, expected %r" % (what, a, b))


def run(*args):
    p = subprocess.run([sys.executable] + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


# ---- the t quantile ------------------------------------------------------------------------

# t(0.975, df) from a printed table (3 decimals), df 1..30, 40, 60, 80, 100, 120, and the normal
TABLE = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
         17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064,
         25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000,
         80: 1.990, 100: 1.984, 120: 1.980, math.inf: 1.960}
for df, t in TABLE.items():
    check(abs(seedstats.t_ppf(0.975, df) - t) <= 5e-4 + 1e-12,
          "t(0.975, %s) = %.6f, table %.3f" % (df, seedstats.t_ppf(0.975, df), t))
# more digits (R's qt(0.975, df))
for df, t in ((1, 12.7062047361747), (2, 4.30265272974946), (3, 3.18244630528371),
              (4, 2.77644510519779), (5, 2.57058183563631), (9, 2.26215716279820),
              (10, 2.22813885198627), (30, 2.04227245630124), (100, 1.98397151852355),
              (math.inf, 1.95996398454005)):
    close(seedstats.t_ppf(0.975, df), t, 1e-10, "t(0.975, %s)" % df)
# closed forms: df 1 is the Cauchy law, t = tan(pi (p - 1/2)); df 2: t = (2p - 1)/sqrt(2p(1 - p))
for p in (0.6, 0.9, 0.975, 0.995, 0.3, 0.01):
    close(seedstats.t_ppf(p, 1), math.tan(math.pi * (p - 0.5)), 1e-10, "t(%g, 1)" % p)
    close(seedstats.t_ppf(p, 2), (2 * p - 1) / math.sqrt(2 * p * (1 - p)), 1e-10, "t(%g, 2)" % p)
for df in (1, 3, 7, 25, 99, 1000):
    for p in (0.01, 0.2, 0.5, 0.8, 0.975):
        close(seedstats.t_cdf(seedstats.t_ppf(p, df), df), p, 1e-11, "cdf(ppf(%g)) df %d" % (p, df))
check(seedstats.t_ppf(0.5, 4) == 0 and seedstats.t_ppf(0.025, 4) == -seedstats.t_ppf(0.975, 4),
      "t quantiles: median 0, symmetric")
qs = [seedstats.t_ppf(0.975, df) for df in range(1, 101)]
check(all(a > b for a, b in zip(qs, qs[1:])) and qs[-1] > seedstats.t_ppf(0.975, math.inf),
      "t(0.975, df) decreases with df towards the normal quantile")

n, m, sd, lo, hi = seedstats.mean_ci([3.0])
check(n == 1 and m == 3.0 and sd is None and lo is None and hi is None, "n = 1: mean only")
check(seedstats.mean_ci([])[0] == 0 and seedstats.mean_ci([])[1] is None, "n = 0: nothing")

# ---- aggregate.csv of a synthetic sweep ---------------------------------------------------------

SUMMARY = ("run,model,dataset,optimizer,label,lr,seed,status,steps,final_loss,train_loss,"
           "test_loss,test_acc,seconds,sec_per_step,fwd,bwd,csv,epochs_csv")
NEW = "epoch,step,train_loss,test_loss,test_acc,seconds,val_loss,val_acc"
OLD = "epoch,step,train_loss,test_loss,test_acc,seconds"   # files written before val_* existed


def sweep(d, runs):
    """runs: (label, lr, seed, status, header, [epoch rows as strings] or None: no file)."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "summary.csv"), "w") as f:
        f.write(SUMMARY + "\n")
        for label, lr, seed, status, header, rows in runs:
            run = "%s_lr%s_s%s" % (label, lr, seed)
            f.write("%s,mlp,mnist,sgd,%s,%s,%s,%s,10,,,,,,,,,%s.steps.csv,%s.epochs.csv\n"
                    % (run, label, lr, seed, status, run, run))
            if rows is not None:
                with open(os.path.join(d, run + ".epochs.csv"), "w") as g:
                    g.write(header + "\n" + "".join(r + "\n" for r in rows))


def read_agg(d):
    with open(os.path.join(d, "aggregate.csv"), newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], {(r[0], r[1], r[2], r[3]): r[4:] for r in rows[1:]}, rows[1:]


tmp = tempfile.mkdtemp()
S = os.path.join(tmp, "sweep")
sweep(S, [
    # sgd@0.1, seeds 1-3: epoch 1 train_loss 1, 2, 4; test_acc 0.90, 0.92, 0.94; val_* filled
    ("sgd", "0.1", 1, "done", NEW, ["0,0,3,3,0.1,,3,0.1", "1,10,1,0.5,0.90,,1.5,0.89"]),
    ("sgd", "0.1", 2, "done", NEW, ["0,0,3,3,0.1,,3,0.1", "1,10,2,0.5,0.92,,1.5,0.91"]),
    ("sgd", "0.1", 3, "done", NEW, ["0,0,3,3,0.1,,3,0.1", "1,10,4,0.5,0.94,,1.5,0.93"]),
    ("sgd", "0.1", 4, "failed", NEW, None),     # failed: no files, not counted
    # adam@0.01, seeds 1-2, old header: epoch 1 train_loss 0.5, 0.7
    ("adam", "0.01", 1, "done", OLD, ["0,0,3,3,0.1,", "1,10,0.5,,,"]),
    ("adam", "0.01", 2, "done", OLD, ["0,0,3,3,0.1,", "1,10,0.7,,,"]),
    # lqa@0.1: one seed
    ("lqa", "0.1", 1, "done", NEW, ["0,0,3,3,0.1,,,", "1,10,0.25,,,,,"]),
    # sgd@1: seed 2 diverged in epoch 1 (its file ends at epoch 0)
    ("sgd", "1", 1, "done", NEW, ["0,0,3,,,,,", "1,10,2.5,,,,,"]),
    ("sgd", "1", 2, "diverged", NEW, ["0,0,3,,,,,"]),
] + [
    # many@0.1, seeds 1-10: epoch 1 train_loss = seed
    ("many", "0.1", s, "done", NEW, ["0,0,3,,,,,", "1,10,%d,,,,," % s]) for s in range(1, 11)
])
rc, out, err = run("scripts/agg_seeds.py", S)
check(rc == 0, "agg_seeds.py DIR exits 0: " + err)
header, agg, rows = read_agg(S)
check(header == ["label", "lr", "epoch", "metric", "n", "mean", "sd", "ci_lo", "ci_hi"],
      "aggregate.csv header: %s" % header)


def row(label, lr, epoch, metric):
    r = agg.get((label, lr, epoch, metric))
    check(r is not None, "row %s@%s epoch %s %s present" % (label, lr, epoch, metric))
    return r or ["", "", "", "", ""]


def expect(label, lr, epoch, metric, n, mean, sd, lo, hi):
    r = row(label, lr, epoch, metric)
    what = "%s@%s epoch %s %s" % (label, lr, epoch, metric)
    check(r[0] == str(n), "%s: n %s, expected %d" % (what, r[0], n))
    got = [float(x) if x else None for x in r[1:]]
    for g, e, k in zip(got, (mean, sd, lo, hi), ("mean", "sd", "ci_lo", "ci_hi")):
        if e is None:
            check(g is None, "%s: %s should be empty, got %r" % (what, k, g))
        else:
            close(g, e, 1e-7, "%s: %s" % (what, k))


# By hand. {1, 2, 4}: mean 7/3; deviations -4/3, -1/3, 5/3, squares sum 42/9, / (n-1) = 7/3,
# sd = sqrt(7/3) = 1.52752523; half-width t(0.975, 2) sd/sqrt(3) = 4.30265273 x 0.88191710
# = 3.79458303 -> [-1.46124970, 6.12791637].
expect("sgd", "0.1", "1", "train_loss", 3, 7 / 3, 1.5275252316519465, -1.4612497002634246,
       6.127916366930092)
# {0.90, 0.92, 0.94}: mean 0.92, sd 0.02, half-width 4.30265273 x 0.02/sqrt(3) = 0.04968275.
expect("sgd", "0.1", "1", "test_acc", 3, 0.92, 0.02, 0.87031725, 0.96968275)
# {0.89, 0.91, 0.93}: the same shape, 0.01 lower.
expect("sgd", "0.1", "1", "val_acc", 3, 0.91, 0.02, 0.86031725, 0.95968275)
# all equal: sd 0, the interval collapses to the mean
expect("sgd", "0.1", "1", "val_loss", 3, 1.5, 0.0, 1.5, 1.5)
expect("sgd", "0.1", "0", "train_loss", 3, 3.0, 0.0, 3.0, 3.0)
# {0.5, 0.7}: mean 0.6, sd sqrt(0.02) = 0.14142136, half-width 12.7062047 x 0.1 = 1.27062047.
expect("adam", "0.01", "1", "train_loss", 2, 0.6, 0.14142135623730948, -0.6706204736174698,
       1.8706204736174699)
# one seed: mean only
expect("lqa", "0.1", "1", "train_loss", 1, 0.25, None, None, None)
# the diverged seed counts where it has values (epoch 0), not after
expect("sgd", "1", "0", "train_loss", 2, 3.0, 0.0, 3.0, 3.0)
expect("sgd", "1", "1", "train_loss", 1, 2.5, None, None, None)
# 1..10: mean 5.5, sd sqrt(82.5/9) = 3.02765035, half-width 2.26215716 x 3.02765035/sqrt(10)
# = 2.16585059 -> [3.33414941, 7.66585059].
expect("many", "0.1", "1", "train_loss", 10, 5.5, 3.0276503540974917, 3.3341494103318357,
       7.665850589668164)

check(not any(k[3].startswith("val_") for k in agg if k[0] == "adam"),
      "old-format files: no val_* rows")
check(not any(k[3].startswith("val_") or k[3].startswith("test_") for k in agg
              if k[:2] == ("sgd", "1")), "empty columns give no rows")
check(("sgd", "0.1", "1", "test_loss") in agg and ("lqa", "0.1", "0", "test_acc") in agg,
      "metrics present are all aggregated")
order = []
for r in rows:
    if (r[0], r[1]) not in order:
        order.append((r[0], r[1]))
check(order == [("sgd", "0.1"), ("adam", "0.01"), ("lqa", "0.1"), ("sgd", "1"), ("many", "0.1")],
      "groups in summary order: %s" % order)
check([r[3] for r in rows if r[:3] == ["sgd", "0.1", "1"]]
      == ["train_loss", "test_loss", "test_acc", "val_loss", "val_acc"], "metric order")
check(len(rows) == len(agg), "one row per group x epoch x metric")

# the seedstats.py aggregate command writes the same file
with open(os.path.join(S, "aggregate.csv")) as f:
    first = f.read()
os.unlink(os.path.join(S, "aggregate.csv"))
rc, out, err = run("scripts/seedstats.py", "aggregate", S)
with open(os.path.join(S, "aggregate.csv")) as f:
    check(rc == 0 and f.read() == first, "seedstats.py aggregate gives the same file")

# errors name the file; nothing half-written
B = os.path.join(tmp, "bad")
sweep(B, [("sgd", "0.1", 1, "done", NEW, ["0,0,3,,,,,", "1,10,x1,,,,,"])])
rc, out, err = run("scripts/agg_seeds.py", B)
check(rc == 1 and "sgd_lr0.1_s1.epochs.csv:3: column 'train_loss': not a number" in err,
      "malformed number named (exit %d): %s" % (rc, err.strip()))
check(not os.path.exists(os.path.join(B, "aggregate.csv")), "no aggregate.csv on error")
B2 = os.path.join(tmp, "bad2")
sweep(B2, [("sgd", "0.1", 1, "done", NEW, None)])
rc, out, err = run("scripts/agg_seeds.py", B2)
check(rc == 1 and "sgd_lr0.1_s1.epochs.csv: missing" in err, "missing per-epoch CSV named: " + err)
rc, out, err = run("scripts/agg_seeds.py", os.path.join(tmp, "nothere"))
check(rc == 1 and "nothere/summary.csv: missing" in err, "missing summary named: " + err)
check(not [f for f in os.listdir(B) if ".tmp." in f], "no temporary files left")

# ---- paired comparison and events ----------------------------------------------------------------

def curve(v2, v1=None):
    """epoch rows 0, 1, 2 with train_loss 3, v1 (default v2 + 1), v2"""
    return ["0,0,3,,,,,", "1,10,%r,,,,," % (v2 + 1 if v1 is None else v1), "2,20,%r,,,,," % v2]


A = [1.0, 2.0, 3.0, 4.0, 5.0]
C = os.path.join(tmp, "cmp")
runs = []
runs += [("a", "0.1", s + 1, "done", NEW, curve(A[s])) for s in range(5)]
runs += [("a", "0.01", s + 1, "done", NEW, curve(9.0)) for s in range(5)]
# b = a + 0.1 (+-0.01): far apart per seed although the groups' spreads overlap
runs += [("b", "0.1", s + 1, "done", NEW, curve(v))
         for s, v in enumerate([1.1, 2.11, 3.09, 4.1, 5.1])]
# c = a + noise straddling 0
runs += [("c", "0.1", s + 1, "done", NEW, curve(A[s] - d))
         for s, d in enumerate([0.3, -0.2, -0.1, 0.2, -0.25])]
# d: seed 3 diverged in epoch 1 (its file ends at epoch 0)
runs += [("d", "0.1", s, "diverged" if s == 3 else "done", NEW,
          ["0,0,3,,,,,"] if s == 3 else curve(A[s - 1] + 1)) for s in range(1, 6)]
# e: one seed; f: seed 5 failed
runs += [("e", "0.1", 1, "done", NEW, curve(0.5))]
runs += [("f", "0.1", s, "failed" if s == 5 else "done", NEW, None if s == 5 else curve(A[s - 1]))
         for s in range(1, 6)]
sweep(C, runs)


def cmp(a, b, metric="train_loss", epoch="2"):
    rc, out, err = run("scripts/seedstats.py", "compare", C, a, b, "--metric", metric,
                       "--epoch", epoch)
    rows = list(csv.reader(out.splitlines()))
    d = dict(zip(rows[0], rows[1])) if rc == 0 and len(rows) == 2 else {}
    return rc, d, err


def expect_cmp(a, b, n, mean, lo, hi, verdict, unpaired="", epoch="2"):
    rc, d, err = cmp(a, b, epoch=epoch)
    what = "compare %s %s at epoch %s" % (a, b, epoch)
    check(rc == 0 and d, "%s: exit %d %s" % (what, rc, err))
    if not d:
        return
    check(d["n"] == str(n), "%s: n %s, expected %d" % (what, d["n"], n))
    check(d["verdict"] == verdict, "%s: verdict %r, expected %r" % (what, d["verdict"], verdict))
    check(d["unpaired"] == unpaired, "%s: unpaired %r, expected %r" % (what, d["unpaired"], unpaired))
    for k, e in (("mean_diff", mean), ("ci_lo", lo), ("ci_hi", hi)):
        if e is None:
            check(d[k] == "", "%s: %s should be empty, got %r" % (what, k, d[k]))
        else:
            close(float(d[k]) if d[k] else None, e, 1e-6, "%s: %s" % (what, k))


# a - b per seed: -0.1, -0.11, -0.09, -0.1, -0.1; mean -0.1, deviations 0, -0.01, 0.01, 0, 0,
# sd sqrt(0.0002/4) = 0.00707107, half-width t(0.975, 4) x 0.00707107/sqrt(5) = 2.77644511 x
# 0.00316228 = 0.00877989 -> [-0.10877989, -0.09122011]: A lower.
expect_cmp("a@0.1", "b", 5, -0.1, -0.10877989, -0.09122011, "A lower")
expect_cmp("b", "a@0.1", 5, 0.1, 0.09122011, 0.10877989, "B lower")
# a - c per seed: 0.3, -0.2, -0.1, 0.2, -0.25; mean -0.01, squares of deviations sum 0.242,
# sd sqrt(0.0605) = 0.24596748, sd/sqrt(5) = sqrt(0.0121) = 0.11, half-width 2.77644511 x 0.11
# = 0.30540896: [-0.31540896, 0.29540896] contains 0.
expect_cmp("a@0.1", "c", 5, -0.01, -0.31540896, 0.29540896, "no difference detectable at n = 5")
# at epoch 1 every group is its epoch-2 value + 1: the same differences
expect_cmp("a@0.1", "b", 5, -0.1, -0.10877989, -0.09122011, "A lower", epoch="1")
# at epoch 0 all equal 3: difference 0 with sd 0 -> interval [0, 0], not below or above 0
expect_cmp("a@0.1", "b", 5, 0.0, 0.0, 0.0, "no difference detectable at n = 5", epoch="0")
# d = a + 1 on seeds 1, 2, 4, 5 (sd 0: the interval is the point -1); seed 3 diverged: left out
# and named
expect_cmp("a@0.1", "d", 4, -1.0, -1.0, -1.0, "A lower",
           unpaired="B:3 (diverged, no value)")
expect_cmp("a@0.1", "e", 1, 0.5, None, None, "no difference detectable at n = 1",
           unpaired="B:2 (no run) B:3 (no run) B:4 (no run) B:5 (no run)")
expect_cmp("f", "a@0.1", 4, 0.0, 0.0, 0.0, "no difference detectable at n = 4",
           unpaired="A:5 (failed)")
rc, d, err = cmp("a@0.1", "b", epoch="7")
check(rc == 0 and d.get("n") == "0" and d.get("verdict") == "no difference detectable at n = 0",
      "an epoch no run reached: n = 0, no verdict: %s" % d)

# bad arguments name what is wrong
for args, want in ((("a", "b"), "'a' has several lrs (0.1, 0.01): name one as a@LR"),
                   (("a@0.5", "b"), "label 'a' has no lr 0.5"),
                   (("zz", "b"), "no run group labelled 'zz'"),
                   (("a@x", "b"), "lr 'x' is not a number")):
    rc, d, err = cmp(*args)
    check(rc == 1 and want in err, "compare %s: exit %d, %r lacks %r" % (args, rc, err, want))
rc, d, err = cmp("a@0.1", "b", metric="loss")
check(rc == 1 and "--metric: 'loss' is not one of" in err, "unknown metric named: " + err)
rc, d, err = cmp("a@0.1", "b", epoch="two")
check(rc == 2 and "--epoch" in err, "bad epoch is a usage error: " + err)
rc, out, err = run("scripts/seedstats.py", "compare", C, "a@0.1", "b", "--metric", "train_loss")
check(rc == 2 and "--epoch" in err, "missing --epoch is a usage error")

# events: diverged k/n with the seeds named; failed runs named apart
rc, out, err = run("scripts/seedstats.py", "events", C)
ev = {(r[0], r[1]): r for r in csv.reader(out.splitlines())}
check(rc == 0 and ev.get(("label", "lr")) ==
      ["label", "lr", "n", "diverged", "diverged_seeds", "failed_seeds"], "events header")
check(ev.get(("d", "0.1")) == ["d", "0.1", "5", "1/5", "3", ""], "events: d 1/5 diverged (seed 3): "
      "%s" % ev.get(("d", "0.1")))
check(ev.get(("f", "0.1")) == ["f", "0.1", "4", "0/4", "", "5"], "events: f seed 5 failed: %s"
      % ev.get(("f", "0.1")))
check(ev.get(("a", "0.1")) == ["a", "0.1", "5", "0/5", "", ""], "events: a none")
check(len(ev) == 8, "events: one row per run group (+ header): %d" % len(ev))

shutil.rmtree(tmp)
print("test_stats: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
