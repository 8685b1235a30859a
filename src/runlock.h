/* runlock.h — the lock of a run in an output directory (<run>.lock, holding
 * its owner's identity, afile.h) and the temporary files of dead owners. */
#ifndef LQA_RUNLOCK_H
#define LQA_RUNLOCK_H

#include <stdbool.h>

#include "config.h"

#define RUNLOCK_STALE_SECONDS 600 /* a lock from another host not refreshed for this long is stale */
/* output_dir is at most CFG_PATH_LEN - 1 characters (config.c, main.c) and a
 * run id at most sizeof RunSpec.id - 1: every run path fits this. */
#define RUNLOCK_PATH_BUF (CFG_PATH_LEN + 256)

/* Claim the lock at path. 1: claimed by us, 0: held by a live process, -1: error. */
int runlock_claim(const char *path, char *err);
/* Remove the lock at path if it is stale (its owner is gone). 1: removed or
 * gone, 0: not removed (held, or another process is breaking it), -1: error. */
int runlock_break(const char *path, char *err);
/* Remove the temporary files (<file>.tmp.<owner tag>, exact names) in dir of
 * run `id`, or of summary.csv when id is NULL: those of dead owners, or every
 * one when any_owner (the caller holds the run's lock). */
void runlock_clean_temps(const char *dir, const char *id, bool any_owner);

#endif
