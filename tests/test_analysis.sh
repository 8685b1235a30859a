#!/usr/bin/env bash
# test_analysis.sh — scripts/analysis.py (learning-rate sensitivity, time to target, performance
# profile), scripts/load_sweep.py and their wiring in scripts/figures.sh, on synthetic sweep
# directories with values computed by hand. The checks are in tests/analysis_check.py.
# Needs gnuplot and python3. Ends with "test_analysis: N passed, M failed".
set -u
cd "$(dirname "$0")/.."
exec python3 tests/analysis_check.py
