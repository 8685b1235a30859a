#!/usr/bin/env python3
"""analysis_check.py — the checks of tests/test_analysis.sh (run through it).

scripts/analysis.py, scripts/load_sweep.py and the analysis wiring of scripts/figures.sh on
synthetic sweep directories (CSV files with known values): the sensitivity CSV (final and
best-validation selection, diverged seeds, a method's own knob), the time-to-target numbers
against values computed by hand below, the performance-profile fractions, the PNG/PDF files, the
iteration-axis tics of plot_common.gp, and the errors on bad input.
Prints "test_analysis: N passed, M failed"; exit status 1 when a check failed.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

passed = failed = 0
T12 = 12.7062047361747  # t(0.975, 1)


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what)


def close(a, b, what, rel=1e-7):
    try:
        a = float(a)
    except (TypeError, ValueError):
        check(False, "%s: got %r, expected %r" % (what, a, b))
        return
    check(abs(a - b) <= rel * max(abs(b), 1e-12), "%s: got %r, expected %r" % (what, a, b))


def run(*args, env=None):
    e = dict(os.environ, LQA_FIGURES_SCALE="0.5")
    e.update(env or {})
    p = subprocess.run(list(args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=e)
    return p.returncode, p.stdout, p.stderr


def analysis(*args, **kw):
    return run(sys.executable, "scripts/analysis.py", *args, **kw)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def is_png(path):
    try:
        with open(path, "rb") as f:
            return f.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 1000
    except OSError:
        return False


def is_pdf(path):
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"%PDF-"
    except OSError:
        return False


# ---- a synthetic sweep ----------------------------------------------------------------------

def write_sweep(d, runs):
    """runs: dicts with label, opt, lr, seed, status, loss (batch losses, steps 1..N), pf/pb
    (fwd, bwd per step), sec (seconds per step), epochs ([(epoch, step, train, test_loss,
    test_acc, val_loss)]), knobs (the run .json's optimizer hyperparameters)."""
    os.makedirs(d, exist_ok=True)
    summ = [["run", "model", "dataset", "optimizer", "label", "lr", "seed", "status", "steps",
             "final_loss", "train_loss", "test_loss", "test_acc", "seconds", "sec_per_step",
             "fwd", "bwd", "csv", "epochs_csv"]]
    for r in runs:
        rid = "%s_lr%s_s%d" % (r["label"], r["lr"], r["seed"])
        pf, pb, sec = r.get("pf", 1), r.get("pb", 1), r.get("sec", 0.5)
        with open(os.path.join(d, rid + ".steps.csv"), "w") as f:
            f.write("step,epoch,loss,lr,fwd,bwd,seconds\n")
            for i, l in enumerate(r["loss"], start=1):
                f.write("%d,1,%r,%s,%d,%d,%s\n" % (i, l, r["lr"], pf * i, pb * i,
                                                   "" if sec is None else repr(sec * i)))
        with open(os.path.join(d, rid + ".epochs.csv"), "w") as f:
            f.write("epoch,step,train_loss,test_loss,test_acc,seconds,val_loss,val_acc\n")
            for e in r["epochs"]:
                f.write("%s,%s,%s,%s,%s,0,%s,\n" % tuple("" if x is None else repr(x)
                                                          for x in e))
        if "knobs" in r:
            cfg = {"name": r["opt"], "label": r["label"], "lr": r["lr"]}
            cfg.update(r["knobs"])
            with open(os.path.join(d, rid + ".json"), "w") as f:
                json.dump({"run": rid, "status": r["status"], "config": {"optimizer": cfg}}, f)
        n = len(r["loss"])
        summ.append([rid, "logreg", "mnist", r["opt"], r["label"], str(r["lr"]), str(r["seed"]),
                     r["status"], str(n), repr(r["loss"][-1]), "", "", "", "1", "0.5",
                     str(pf * n), str(pb * n), rid + ".steps.csv", rid + ".epochs.csv"])
    with open(os.path.join(d, "summary.csv"), "w") as f:
        f.write("".join(",".join(r) + "\n" for r in summ))


def ep(final_train, acc=0.5, steps=6):
    """epochs rows: initial evaluation, then the final one."""
    return [(0, 0, 2.0, 2.0, 0.1, None), (1, steps, final_train, final_train + 0.1, acc, None)]


TMP = tempfile.mkdtemp(prefix="analysis_check.")
try:
    # ---- sweep A: sensitivity, time to target ------------------------------------------
    A = os.path.join(TMP, "A")
    L6 = [3.0, 2.0, 1.0, 1.0, 0.4, 0.4]
    write_sweep(A, [
        # sgd lr 0.1: final train 0.5 and 0.7 (mean 0.6, sd sqrt(0.02)); time to target below
        dict(label="sgd", opt="sgd", lr=0.1, seed=1, status="done", loss=L6,
             epochs=ep(0.5, 0.8), pf=2, pb=1),
        dict(label="sgd", opt="sgd", lr=0.1, seed=2, status="done",
             loss=[3.0, 1.0, 1.0, 1.0, 1.0, 1.0], epochs=ep(0.7, 0.9), pf=2, pb=1),
        dict(label="sgd", opt="sgd", lr=0.1, seed=3, status="done", loss=[3.0] * 6,
             epochs=ep(0.6, 0.7), pf=2, pb=1),
        # sgd lr 1: one seed diverged (its final 0.1 must not count)
        dict(label="sgd", opt="sgd", lr=1, seed=1, status="done", loss=[2.0] * 6,
             epochs=ep(0.9)),
        dict(label="sgd", opt="sgd", lr=1, seed=2, status="diverged", loss=[2.0, 50.0],
             epochs=[(0, 0, 0.1, 0.1, 0.1, None)]),
        # a method's own knob: hgd at beta 0.001 and 0.01 (labels differ only in beta)
        dict(label="hgd-a", opt="hgd", lr=0.1, seed=1, status="done", loss=[2.0] * 6,
             epochs=ep(0.8), knobs={"beta": 0.001, "momentum": 0}),
        dict(label="hgd-b", opt="hgd", lr=0.1, seed=1, status="done", loss=[2.0] * 6,
             epochs=ep(0.4), knobs={"beta": 0.01, "momentum": 0}),
    ])
    rc, out, err = analysis(A, "--out", os.path.join(TMP, "outA"), "--target", "1.2",
                            "--window", "2")
    check(rc == 0, "analysis.py A: exit 0 (rc %d: %s)" % (rc, err))
    O = os.path.join(TMP, "outA")
    for stem in ("A_sensitivity", "A_sensitivity_hgd_beta", "A_time_to_target"):
        check(is_png(os.path.join(O, stem + ".png")), "%s.png written" % stem)
        check(is_pdf(os.path.join(O, stem + ".pdf")), "%s.pdf written" % stem)
        check(os.path.join(O, stem + ".png") in out.split("\n"), "%s.png listed on stdout" % stem)
    sens = rows(os.path.join(O, "A_sensitivity.csv"))
    pick = {(r["knob"], r["label"], r["lr"], r["metric"]): r for r in sens}
    r = pick.get(("lr", "sgd", "0.1", "train_loss"), {})
    check(r.get("selection") == "final" and r.get("n") == "3", "sgd@0.1: final, n=3 (%r)" % r)
    close(r.get("mean"), 0.6, "sgd@0.1 train_loss mean")
    close(r.get("sd"), 0.1, "sgd@0.1 train_loss sd")
    h = 4.30265272974946 * 0.1 / 3 ** 0.5
    close(r.get("ci_lo"), 0.6 - h, "sgd@0.1 train_loss ci_lo")
    close(r.get("ci_hi"), 0.6 + h, "sgd@0.1 train_loss ci_hi")
    close(pick.get(("lr", "sgd", "0.1", "test_acc"), {}).get("mean"), 0.8, "sgd@0.1 test_acc")
    close(pick.get(("lr", "sgd", "0.1", "test_loss"), {}).get("mean"), 0.7, "sgd@0.1 test_loss")
    r = pick.get(("lr", "sgd", "1", "train_loss"), {})
    check(r.get("diverged") == "1/2" and r.get("n") == "1" and r.get("sd") == "",
          "sgd@1: diverged 1/2, n=1, no sd (%r)" % r)
    close(r.get("mean"), 0.9, "sgd@1: the diverged seed does not enter the mean")
    r = pick.get(("beta", "hgd-b", "0.1", "train_loss"), {})
    check(r.get("value") == "0.01", "hgd-b on the beta curve at 0.01 (%r)" % r)
    close(r.get("mean"), 0.4, "hgd-b train_loss")
    check(("beta", "sgd", "0.1", "train_loss") not in pick, "sgd has no beta curve")
    check(("momentum", "hgd-a", "0.1", "train_loss") not in pick,
          "an unvaried knob (momentum) gets no curve")

    # time to target 1.2, window 2 (trailing mean of the batch loss over 2 steps):
    #   seed 1: loss 3 2 1 1 .4 .4 -> ma 3 2.5 1.5 1 .7 .4 -> step 4, passes 4*(2+1) = 12, 2.0 s
    #   seed 2: loss 3 1 1 1 1 1   -> ma 3 2 1 1 1 1      -> step 3, passes 9, 1.5 s
    #   seed 3: loss 3 ...         -> never
    ttt = {(r["label"], r["lr"]): r for r in rows(os.path.join(O, "A_time_to_target.csv"))}
    r = ttt.get(("sgd", "0.1"), {})
    check(r.get("reached") == "2" and r.get("seeds") == "3" and r.get("window") == "2",
          "sgd@0.1: 2 of 3 seeds reached, window 2 (%r)" % r)
    close(r.get("target"), 1.2, "target as given")
    for col, a, b in (("steps", 4, 3), ("passes", 12, 9), ("seconds", 2.0, 1.5)):
        m, hw = (a + b) / 2, T12 * abs(a - b) / 2 ** 0.5 / 2 ** 0.5
        close(r.get(col + "_mean"), m, "sgd@0.1 %s mean" % col)
        close(r.get(col + "_ci_lo"), m - hw, "sgd@0.1 %s ci_lo" % col)
        close(r.get(col + "_ci_hi"), m + hw, "sgd@0.1 %s ci_hi" % col)
    check(r.get("best_lr") == "1" and ttt.get(("sgd", "1"), {}).get("best_lr") == "0",
          "sgd's best lr for the target is 0.1")
    check(ttt.get(("sgd", "1"), {}).get("reached") == "0", "sgd@1 never reaches 1.2")
    md = open(os.path.join(O, "A_time_to_target.md")).read()
    check("| SGD | 0.1 | 2/3 | 3.5 ± 6.35 |" in md, "markdown row of sgd:\n" + md)

    # default target: 1.1 x the lowest final moving average (window 2) of a group without a
    # diverged seed: sgd@0.1 seeds end at .4, 1, 3 -> mean 4.4/3; hgd-a, hgd-b end at 2
    rc, out, err = analysis(A, "--out", os.path.join(TMP, "outA2"), "--window", "2")
    ttt = rows(os.path.join(TMP, "outA2", "A_time_to_target.csv"))
    close(ttt[0]["target"] if rc == 0 else None, 1.1 * 4.4 / 3, "default target")
    # the default window: max(5, min(200, steps/30)) = 5 for 6 steps
    rc, out, err = analysis(A, "--out", os.path.join(TMP, "outA3"), "--target-acc", "0.85")
    ttt = {(r["label"], r["lr"]): r for r in rows(os.path.join(TMP, "outA3",
                                                                 "A_time_to_target.csv"))}
    r = ttt.get(("sgd", "0.1"), {})
    # accuracy >= 0.85: only seed 2 (0.9 at step 6: 18 passes, 3 s)
    check(rc == 0 and r.get("target_kind") == "test_acc" and r.get("reached") == "1",
          "accuracy target: 1 seed reached (%r %s)" % (r, err))
    close(r.get("steps_mean"), 6, "accuracy target: steps")
    close(r.get("passes_mean"), 18, "accuracy target: passes")
    close(r.get("seconds_mean"), 3.0, "accuracy target: seconds")

    # ---- validation: the epoch of the lowest val_loss is selected ---------------------
    V = os.path.join(TMP, "V")
    write_sweep(V, [dict(label="adam", opt="adam", lr=0.01, seed=1, status="done",
                         loss=[1.0] * 9,
                         epochs=[(0, 0, 2.0, 2.0, 0.1, 2.0), (1, 3, 1.0, 1.1, 0.6, 0.5),
                                 (2, 6, 0.8, 0.9, 0.8, 0.3), (3, 9, 0.7, 1.2, 0.7, 0.4)])])
    rc, out, err = analysis(V, "--out", os.path.join(TMP, "outV"), "--target", "2")
    sens = {r["metric"]: r for r in rows(os.path.join(TMP, "outV", "V_sensitivity.csv"))}
    check(rc == 0 and sens.get("test_acc", {}).get("selection") == "best val_loss",
          "validation: selection says best val_loss (%s)" % err)
    close(sens.get("test_acc", {}).get("mean"), 0.8, "validation: test_acc at epoch 2")
    close(sens.get("train_loss", {}).get("mean"), 0.8, "validation: train_loss at epoch 2")

    # ---- no training-set evaluation: the moving average of the batch loss ----------------
    B = os.path.join(TMP, "B")
    write_sweep(B, [dict(label="sgd", opt="sgd", lr=0.1, seed=1, status="done",
                         loss=[4.0, 3.0, 2.0, 1.0],
                         epochs=[(0, 0, None, 2.0, 0.1, None), (1, 4, None, 1.0, 0.5, None)])])
    rc, out, err = analysis(B, "--out", os.path.join(TMP, "outB"), "--window", "3")
    sens = {r["metric"]: r for r in rows(os.path.join(TMP, "outB", "B_sensitivity.csv"))}
    close(sens.get("batch_loss_ma", {}).get("mean"), 2.0,
          "no train eval: batch loss moving average (3+2+1)/3")
    check("train_loss" not in sens, "no train eval: no train_loss rows")

    # ---- performance profile -----------------------------------------------------------
    P1, P2 = os.path.join(TMP, "P1"), os.path.join(TMP, "P2")
    write_sweep(P1, [
        dict(label="a", opt="sgd", lr=0.1, seed=1, status="done", loss=[1.0], epochs=ep(1.0)),
        dict(label="b", opt="adam", lr=0.1, seed=1, status="done", loss=[1.0], epochs=ep(2.0)),
        # b's lower loss at lr 1 has a diverged seed: not its best
        dict(label="b", opt="adam", lr=1, seed=1, status="done", loss=[1.0], epochs=ep(0.5)),
        dict(label="b", opt="adam", lr=1, seed=2, status="diverged", loss=[1.0],
             epochs=ep(0.5)),
        dict(label="c", opt="rmsprop", lr=0.1, seed=1, status="done", loss=[1.0],
             epochs=ep(4.0)),
        dict(label="d", opt="hgd", lr=0.1, seed=1, status="done", loss=[1.0], epochs=ep(1.0)),
    ])
    write_sweep(P2, [
        dict(label="a", opt="sgd", lr=0.1, seed=1, status="done", loss=[1.0], epochs=ep(3.0)),
        dict(label="a", opt="sgd", lr=0.1, seed=2, status="done", loss=[1.0], epochs=ep(3.0)),
        dict(label="b", opt="adam", lr=0.1, seed=1, status="done", loss=[1.0], epochs=ep(1.5)),
        dict(label="c", opt="rmsprop", lr=0.1, seed=1, status="diverged", loss=[1.0],
             epochs=ep(0.1)),
    ])
    PO = os.path.join(TMP, "prof")
    rc, out, err = analysis("profile", PO, "one=" + P1, P2)
    check(rc == 0, "profile: exit 0 (%s)" % err)
    rat = {(r["problem"], r["method"]): r for r in rows(os.path.join(PO,
                                                                     "performance_ratios.csv"))}
    for (p, m), (lr, v, q) in {("one", "a"): ("0.1", 1.0, 1.0), ("one", "b"): ("0.1", 2.0, 2.0),
                               ("one", "c"): ("0.1", 4.0, 4.0), ("P2", "a"): ("0.1", 3.0, 2.0),
                               ("P2", "b"): ("0.1", 1.5, 1.0)}.items():
        r = rat.get((p, m), {})
        check(r.get("lr") == lr, "ratio %s/%s: lr %r" % (p, m, r.get("lr")))
        close(r.get("final_loss"), v, "final loss %s/%s" % (p, m))
        close(r.get("ratio"), q, "ratio %s/%s" % (p, m))
    check(rat.get(("P2", "c"), {}).get("ratio") == "inf", "every run of c diverged: ratio inf")
    prof = {}
    for r in rows(os.path.join(PO, "performance_profile.csv")):
        prof[(r["method"], float(r["tau"]))] = (r["problems"], float(r["fraction"]))
    for (m, tau), want in {("a", 1): ("2", 0.5), ("a", 2): ("2", 1.0), ("b", 1): ("2", 0.5),
                           ("b", 2): ("2", 1.0), ("c", 2): ("2", 0.0), ("c", 4): ("2", 0.5),
                           ("d", 1): ("1", 1.0)}.items():
        check(prof.get((m, tau)) == want, "profile %s at tau %g: %r, expected %r"
              % (m, tau, prof.get((m, tau)), want))
    check(is_png(os.path.join(PO, "performance_profile.png"))
          and is_pdf(os.path.join(PO, "performance_profile.pdf")), "profile PNG and PDF")

    # ---- figures.sh: the analysis of every sweep and the profile across them ------------
    cfgs = []
    for n, d in (("P1", P1), ("P2", P2)):
        c = os.path.join(TMP, n + ".json")
        with open(c, "w") as f:
            json.dump({"name": n, "output_dir": d}, f)
        cfgs.append(c)
    FO = os.path.join(TMP, "figs")
    rc, out, err = run("bash", "scripts/figures.sh", "--no-run", "--out", FO, *cfgs)
    check(rc == 0, "figures.sh --no-run on two synthetic sweeps: exit 0 (%s)" % err[-2000:])
    listed = open(os.path.join(FO, "files.txt")).read().split("\n") if rc == 0 else []
    for f in ("P1_sensitivity.png", "P1_time_to_target.csv", "P2_sensitivity.csv",
              "P2_time_to_target.png", "performance_profile.png", "performance_profile.csv"):
        check(os.path.join(FO, f) in listed and os.path.isfile(os.path.join(FO, f)),
              "figures.sh wrote and listed %s" % f)

    # ---- the iteration axis of narrow panels: 0, 10k, 20k, 30k for 30000 iterations ------
    G = os.path.join(TMP, "gp")
    os.makedirs(G)
    open(os.path.join(G, "manifest.gp"), "w").write("XMAX = 30000\n")
    rc, out, err = run("gnuplot", "-e", "scriptdir='scripts'; datadir='%s'; out='%s/x.png'; "
                       "fmt='png'" % (G, G), "-e", "load 'scripts/plot_common.gp'; "
                       "eval iteration_axis; show xtics")
    check(rc == 0 and '"10k"' in err and '"30k"' in err and '"5000"' not in err,
          "iteration axis tics for 30000 iterations: %s" % err[-600:])

    # ---- a sweep run with --no-timing (empty seconds columns): no wall-time statistic -----
    NT = os.path.join(TMP, "NT")
    write_sweep(NT, [dict(label="sgd", opt="sgd", lr=0.1, seed=s, status="done", loss=L6,
                          epochs=ep(0.5), sec=None) for s in (1, 2, 3)])
    rc, out, err = analysis(NT, "--out", os.path.join(TMP, "outNT"), "--target", "1.2",
                            "--window", "2")
    check(rc == 0, "--no-timing sweep: exit 0 (rc %d: %s)" % (rc, err[-300:]))
    if rc == 0:
        r = rows(os.path.join(TMP, "outNT", "NT_time_to_target.csv"))[0]
        check(r.get("steps_mean") not in (None, "") and r.get("seconds_mean") == "",
              "--no-timing sweep: steps to target given, seconds empty (%s)" % r)

    # ---- a knob that is a choice (a string), beside a swept number: named as given ------------
    KS = os.path.join(TMP, "KS")
    write_sweep(KS, [dict(label="nlr-%s%d" % (eb[0], i), opt="newton-lr", lr=0.01, seed=s,
                          status="done", loss=L6, epochs=ep(0.5 + 0.1 * i),
                          knobs={"momentum": m, "eta_batch": eb})
                     for i, m in enumerate((0, 0.9)) for eb in ("train", "validation")
                     for s in (1, 2)])
    rc, out, err = analysis(KS, "--out", os.path.join(TMP, "outKS"))
    check(rc == 0, "string knob beside a numeric one: exit 0 (rc %d: %s)" % (rc, err[-300:]))
    if rc == 0:
        gp = open(os.path.join(TMP, "outKS", "data", "KS-analysis", "KS_sensitivity_newton-lr_momentum",
                               "KS_sensitivity_newton-lr_momentum.gp")).read() \
            if os.path.isdir(os.path.join(TMP, "outKS", "data", "KS-analysis",
                                          "KS_sensitivity_newton-lr_momentum")) else ""
        check("eta_batch=validation" in gp or any("eta_batch=validation" in open(os.path.join(dp, f)).read()
              for dp, _, fs in os.walk(os.path.join(TMP, "outKS")) for f in fs if f.endswith(".gp")),
              "string knob named as given (eta_batch=validation) in a curve title")

    # ---- errors ------------------------------------------------------------------------
    rc, out, err = analysis(os.path.join(TMP, "nowhere"))
    check(rc == 1 and "summary.csv: missing" in err, "missing sweep: exit 1 naming summary.csv "
                                                     "(%d %s)" % (rc, err))
    bad = os.path.join(TMP, "bad")
    shutil.copytree(B, bad)
    with open(os.path.join(bad, "sgd_lr0.1_s1.steps.csv"), "a") as f:
        f.write("5,1,oops,0.1,5,5,2.5\n")
    rc, out, err = analysis(bad, "--out", os.path.join(TMP, "outbad"))
    check(rc == 1 and "sgd_lr0.1_s1.steps.csv:6: column 'loss': not a number" in err,
          "malformed step CSV: exit 1 naming file and line (%d %s)" % (rc, err))
    for args, what in ((["--target", "-1"], "negative target"),
                       (["--target-acc", "5"], "accuracy above 1"),
                       (["--target", "1", "--target-acc", "0.5"], "both targets"),
                       (["--window", "2.5"], "fractional window"), (["--bogus"], "unknown option")):
        rc, out, err = analysis(B, "--out", os.path.join(TMP, "outerr"), *args)
        check(rc == 2 and err.startswith("analysis.py: "), "%s: exit 2 (%d %s)" % (what, rc, err))
    rc, out, err = analysis("profile", os.path.join(TMP, "p0"))
    check(rc == 2, "profile without sweeps: exit 2")

    # ---- load_sweep.py -------------------------------------------------------------------
    import load_sweep  # noqa: E402
    recs = load_sweep.load_long(A, use_pandas=False)
    s1 = [r for r in recs if r["run"] == "sgd_lr0.1_s1"]
    check(len(s1) == 6 and [r["step"] for r in s1] == [1, 2, 3, 4, 5, 6],
          "load_sweep: 6 steps of sgd_lr0.1_s1")
    check(s1[4]["loss"] == 0.4 and s1[4]["lr"] == 0.1 and s1[4]["seed"] == 1
          and s1[4]["label"] == "sgd" and s1[4]["status"] == "done" and s1[4]["fwd"] == 10,
          "load_sweep: a record's fields (%r)" % (s1[4] if len(s1) > 4 else None))
    check(len(recs) == 6 * 3 + 6 + 2 + 6 + 6, "load_sweep: every step of every run (%d)"
          % len(recs))
    ep_recs = load_sweep.load_long(A, kind="epochs", use_pandas=False)
    check(len(ep_recs) == 2 * 6 + 1 and ep_recs[1]["train_loss"] == 0.5,
          "load_sweep: epochs in long format")
    rc, out, err = run(sys.executable, "scripts/load_sweep.py", A, "--csv")
    lines = out.strip().split("\n")
    check(rc == 0 and lines[0].startswith("run,label,optimizer,lr,seed,status,step,")
          and len(lines) == 1 + 38, "load_sweep.py --csv: header and 38 rows (%d %s)"
          % (rc, err))
    rc, out, err = run(sys.executable, "scripts/load_sweep.py", os.path.join(TMP, "nowhere"))
    check(rc == 1 and "summary.csv" in err, "load_sweep.py: a missing sweep is an error")
    # the DataFrame form, with the first interpreter that has pandas (Debian's python3-pandas
    # is installed for /usr/bin/python3, which may not be the python3 on PATH)
    pys = [p for p in (sys.executable, "/usr/bin/python3") if os.path.exists(p)]
    pys = [p for p in pys if subprocess.run([p, "-c", "import pandas"],
                                            stderr=subprocess.DEVNULL).returncode == 0]
    if pys:
        code = ("import sys; sys.path.insert(0, 'scripts'); import load_sweep; "
                "df = load_sweep.load_long(sys.argv[1]); "
                "print(type(df).__name__, ','.join(df.columns[:7]), len(df), "
                "df[df.run == 'sgd_lr0.1_s1'].loss.iloc[4], df.seed.dtype.kind)")
        rc, out, err = run(pys[0], "-c", code, A)
        check(rc == 0 and out.split() == ["DataFrame", "run,label,optimizer,lr,seed,status,step",
                                          "38", "0.4", "i"],
              "load_sweep with pandas: a DataFrame (%s %s)" % (out, err))
    else:
        print("note: pandas not installed (make deps); the DataFrame form is not checked")
finally:
    if not os.environ.get("LQA_KEEP_TMP"):
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print("kept " + TMP)

print("test_analysis: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
