#!/usr/bin/env bash
# test_stats.sh — scripts/seedstats.py and aggregate.csv (scripts/agg_seeds.py): the Student-t
# quantile against printed tables and closed forms, aggregate.csv of a synthetic sweep directory
# against hand-computed means, standard deviations and 95 % intervals, and errors on bad input.
# The checks are in tests/stats_check.py. Ends with "test_stats: N passed, M failed".
set -u
cd "$(dirname "$0")/.."
exec python3 tests/stats_check.py
