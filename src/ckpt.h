/* ckpt.h — mid-run checkpoints: <run>.ckpt, everything a run carries from one
 * step to the next (TrainState: counters, batcher position, divergence window,
 * training time; the model's parameters and buffers; the optimizer's state
 * blocks), the result so far and the bytes of the run's output files so far.
 *
 * Layout: "LQACKPT1", payload length (u64), FNV-1a 64 of the payload (u64),
 * payload. The payload begins with the identity string (code version and
 * config hash, see run_ckpt_ident) and the sizes of every block, so that a
 * checkpoint of another config, another code version, or a damaged one is
 * never used. Written to a temporary, fsynced, renamed into place. */
#ifndef LQA_CKPT_H
#define LQA_CKPT_H

#include <stddef.h>

#include "afile.h"
#include "train.h"

#define CKPT_MAX_FILES 3

/* Save s, res and the contents so far of files[nf] (NULL entries: none)
 * to path under identity ident. 0, or -1 with err. */
int ckpt_save(const char *path, const char *ident, TrainState *s, const RunResult *res,
              AFile *const *files, int nf, char *err);
/* Restore from path into s (made by train_begin for the same run), res, and
 * append the saved file contents to files[nf] (freshly opened).
 * 1: restored; 0: no checkpoint; -1: not usable (why says why). All or
 * nothing: every block is checked before anything changes, the files are
 * written next (and emptied again if that fails), the state last (copies that
 * cannot fail), so on -1 s, res and the files are as they were. -2: as -1, but
 * a file could not be emptied again (its AFile's f is NULL): the run cannot go on. */
int ckpt_load(const char *path, const char *ident, TrainState *s, RunResult *res,
              AFile *const *files, int nf, char *why, size_t n);

#endif
