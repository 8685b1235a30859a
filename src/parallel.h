/* parallel.h — the process-wide worker pool for the library's own loops
 * (convolution transforms, batch norm, pooling, optimizer updates, vector
 * reductions). The GEMMs run on OpenBLAS's own threads.
 *
 * par_for splits [0, n) into T contiguous shares (T = par_threads(), capped by
 * n) and runs fn on each, the calling thread taking share 0. Callers make each
 * output element depend only on its own index, and reductions combine fixed
 * blocks in a fixed order (see vec_dot), so results never depend on T.
 *
 * One job at a time: par_for is not reentrant (no par_for inside a range
 * function) and must be called from one thread only (the training thread). */
#ifndef LQA_PARALLEL_H
#define LQA_PARALLEL_H

#include <stddef.h>

typedef void (*ParFn)(void *arg, size_t lo, size_t hi);

/* Below this many element operations a loop stays on the calling thread.
 * 2^15 rather than 2^17: with the workers polling between jobs a dispatch costs
 * about a microsecond, and LeNet-5's 25k–100k-element passes (second pooling,
 * ReLUs, the update) then use both cores: step −6 % on MNIST, −3 % on CIFAR-10
 * (2 threads); 2^13 made logreg's step slower. */
#define PAR_MIN_WORK ((size_t)1 << 15)

/* Threads for par_for. 0 (default): follow blas_get_threads(). */
void par_set_threads(int n);
int par_threads(void);

/* fn(arg, lo, hi) over [0, n) in contiguous shares; `work` is the total number
 * of element operations (below PAR_MIN_WORK the loop runs on the caller). */
void par_for(size_t n, size_t work, ParFn fn, void *arg);

/* Idle workers stop polling for the next job and sleep (until it comes):
 * called before a multi-threaded OpenBLAS call, whose threads need the cores. */
void par_quiet(void);

/* fn over [0, n) in contiguous shares, as par_for, on up to T threads (capped
 * by the pool and by n) whatever the work: for jobs that split their work
 * themselves, e.g. n = T items, item t owning a slice of scratch memory
 * (fn gets [lo, hi) and must handle several items when fewer threads run). */
void par_run(int T, size_t n, ParFn fn, void *arg);

#endif
