#!/usr/bin/env python3
"""load_sweep.py — a sweep's summary.csv and per-run CSVs in long format (one row per run and
step), as a pandas DataFrame when pandas is installed, else as a list of dicts.

    import sys; sys.path.insert(0, "scripts")
    import load_sweep
    df = load_sweep.load_long("results/lqa_fig1_logreg_mnist_quick")        # per-step rows
    ep = load_sweep.load_long("results/lqa_fig1_logreg_mnist_quick", kind="epochs")

    python3 scripts/load_sweep.py DIR [--epochs] [--csv]

Columns: run, label, optimizer, lr, seed, status (from summary.csv), the summary's columns of
swept hyperparameters and model options if the sweep has grids (e.g. beta2, width; named
hp_<name> where a per-run CSV has a column of the same name), then every column of the
run's <run>.steps.csv (step, epoch, loss, loss_mean when the sweep logs every N steps
(steps_every), lr_applied — the step CSV's lr column, the step size actually applied —, fwd,
bwd, seconds, and the optimizer's own columns) or, with kind="epochs",
of its <run>.epochs.csv (epoch, step, train_loss, test_loss, test_acc, ...). Numbers are floats
(integers where the text is one); empty cells are None (NaN in pandas). Runs of every status are
included (failed runs with the step CSV they left, if any). From the command line: a summary (runs
and rows) or, with --csv, the long table as CSV on standard output.

A missing or malformed file is an error naming it (exit status 1).
"""
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seedstats  # noqa: E402

PROG = "load_sweep.py"
RUN_COLS = ["run", "label", "optimizer", "lr", "seed", "status"]


InputError = seedstats.InputError


def _value(text):
    t = text.strip()
    if t == "":
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def load_long(sweep_dir, kind="steps", use_pandas=True):
    """The sweep in long format: a pandas DataFrame (use_pandas and pandas importable) or a
    list of dicts. kind: "steps" (the per-step CSVs) or "epochs" (the per-epoch CSVs)."""
    if kind not in ("steps", "epochs"):
        raise ValueError("kind must be 'steps' or 'epochs', got %r" % (kind,))
    spath = os.path.join(sweep_dir, "summary.csv")
    col = "csv" if kind == "steps" else "epochs_csv"
    header, runs = seedstats.read_csv(spath, RUN_COLS + [col], "sweep summary")
    grid = header[header.index("epochs_csv") + 1:] if "epochs_csv" in header else []
    loaded, columns = [], list(RUN_COLS)
    for _, r in runs:
        path = os.path.join(sweep_dir, r[col])
        if not r[col].strip() or (r["status"] not in ("done", "diverged")
                                  and not os.path.isfile(path)):
            continue  # a failed run that left no CSV
        what = "per-step CSV" if kind == "steps" else "per-epoch CSV"
        if not os.path.isfile(path):
            raise InputError("%s: missing (%s of run %s)" % (path, what, r["run"]))
        h, rows = seedstats.read_csv(path, [], what)
        h = ["lr_applied" if c == "lr" else c for c in h]
        loaded.append((r, rows))
        for c in h:
            if c not in columns:
                columns.append(c)
    # the grid columns, after the run columns; hp_<name> where a CSV column has the name
    names = [("hp_" + c if c in columns else c, c) for c in grid]
    columns[len(RUN_COLS):len(RUN_COLS)] = [n for n, _ in names]
    records = []
    for r, rows in loaded:
        base = {c: _value(r[c]) if c in ("lr", "seed") else r[c] for c in RUN_COLS}
        for n, c in names:
            base[n] = _value(r[c])
        for _, row in rows:
            rec = dict(base)
            for c, v in row.items():
                rec["lr_applied" if c == "lr" else c] = _value(v)
            records.append(rec)
    if use_pandas:
        try:
            import pandas as pd
        except ImportError:
            return records
        return pd.DataFrame.from_records(records, columns=columns)
    return records


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    opts = [a for a in argv if a.startswith("--")]
    if any(o in ("-h", "--help") for o in argv):
        print(__doc__)
        return 0
    bad = [o for o in opts if o not in ("--epochs", "--csv")]
    if len(args) != 1 or bad:
        sys.stderr.write("%s: usage: load_sweep.py DIR [--epochs] [--csv]%s\n"
                         % (PROG, " (unknown option %s)" % bad[0] if bad else ""))
        return 2
    kind = "epochs" if "--epochs" in opts else "steps"
    try:
        recs = load_long(args[0], kind=kind, use_pandas=False)
    except InputError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    cols = []
    for r in recs:
        for c in r:
            if c not in cols:
                cols.append(c)
    if "--csv" in opts:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(cols)
        for r in recs:
            w.writerow(["" if r.get(c) is None else r[c] for c in cols])
    else:
        print("%s: %d runs, %d rows (%s); columns: %s"
              % (args[0], len({r["run"] for r in recs}), len(recs), kind, ", ".join(cols)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
