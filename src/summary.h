/* summary.h — a sweep's summary.csv, one row per complete or failed run,
 * rebuilt from the runs' .json files, and the table printed after a sweep. */
#ifndef LQA_SUMMARY_H
#define LQA_SUMMARY_H

#include <stdbool.h>

#include "config.h"

/* Rebuild <output_dir>/summary.csv (and print the table when print_table).
 * *n_complete receives the number of complete runs, *n_stale that of complete
 * runs made with another config (left out, named on stderr). Returns 0 or -1
 * (I/O error, err filled). */
int summary_write(const SweepConfig *c, bool print_table, int *n_complete, int *n_stale,
                  char *err);

#endif
