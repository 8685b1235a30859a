/* parallel.c — a tiny condition-variable worker pool (see parallel.h).
 * Workers are started on first use and live for the process. */
#include "parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define POOL_MAX 16

static struct {
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    int n_workers;   /* started so far (thread ids 1..n_workers) */
    unsigned gen;    /* job generation */
    unsigned start_gen[POOL_MAX]; /* gen when worker id was created (it waits for the next) */
    int pending;     /* workers still running the current job */
    ParFn fn;
    void *arg;
    size_t n;
    int parts;
    int quiet;       /* par_quiet: pollers stop polling (until the next job) */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
         .start = PTHREAD_COND_INITIALIZER,
         .done = PTHREAD_COND_INITIALIZER};

static void part_range(size_t n, int parts, int id, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)id / (size_t)parts;
    *hi = n * (size_t)(id + 1) / (size_t)parts;
}

/* Before sleeping on a condition variable, a thread polls for the event for
 * about SPIN_NS: jobs often come back to back (a training step of LeNet-5 makes
 * ~40 calls, between which the caller runs small single-threaded GEMMs), and a
 * futex wake-up costs more than the job's own work there. Polling would take
 * the cores from OpenBLAS's own threads, so blas_sgemm calls par_quiet before
 * every multi-threaded GEMM and the pollers sleep at once.
 * Measured (2 threads): polling 30 µs instead of none, LeNet-5 step −11–13 %,
 * MLP −2.5 %; 200 µs with par_quiet instead of 30 µs, LeNet-5 −7 % and −5 %
 * (MNIST, CIFAR-10); without par_quiet the MLP's forward lost 10–15 %. */
#define SPIN_NS 200000

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* poll *v (atomic loads) until it differs from `from`, for up to SPIN_NS or
 * until par_quiet */
static void spin_while_equal(const unsigned *v, unsigned from)
{
    const int64_t t0 = now_ns();
    for (int i = 1; __atomic_load_n(v, __ATOMIC_ACQUIRE) == from; i++)
        if (i % 64 == 0) {
            if (now_ns() - t0 > SPIN_NS || __atomic_load_n(&pool.quiet, __ATOMIC_RELAXED)) return;
        } else
            cpu_relax();
}

/* poll *v until it is 0, for up to SPIN_NS */
static void spin_until_zero(const int *v)
{
    const int64_t t0 = now_ns();
    for (int i = 1; __atomic_load_n(v, __ATOMIC_ACQUIRE) != 0; i++)
        if (i % 64 == 0) {
            if (now_ns() - t0 > SPIN_NS) return;
        } else
            cpu_relax();
}

static void *pool_worker(void *p)
{
    const int id = (int)(intptr_t)p;
    pthread_mutex_lock(&pool.mu);
    unsigned seen = pool.start_gen[id];
    for (;;) {
        if (pool.gen == seen) {
            pthread_mutex_unlock(&pool.mu);
            spin_while_equal(&pool.gen, seen);
            pthread_mutex_lock(&pool.mu);
        }
        while (pool.gen == seen) pthread_cond_wait(&pool.start, &pool.mu);
        seen = pool.gen;
        ParFn fn = pool.fn;
        void *arg = pool.arg;
        size_t n = pool.n;
        int parts = pool.parts;
        pthread_mutex_unlock(&pool.mu);
        if (id < parts) {
            size_t lo, hi;
            part_range(n, parts, id, &lo, &hi);
            if (lo < hi) fn(arg, lo, hi);
        }
        pthread_mutex_lock(&pool.mu);
        if (__atomic_sub_fetch(&pool.pending, 1, __ATOMIC_RELEASE) == 0)
            pthread_cond_signal(&pool.done);
    }
    return NULL;
}

void par_quiet(void) { __atomic_store_n(&pool.quiet, 1, __ATOMIC_RELAXED); }

static int g_threads; /* par_set_threads; 0: follow OpenBLAS's thread count (blas_get_threads();
                        * asked of OpenBLAS directly: blas.c builds on this pool, not the reverse) */

void par_set_threads(int n) { g_threads = n < 0 ? 0 : n; }

int par_threads(void)
{
    int T = g_threads > 0 ? g_threads : openblas_get_num_threads();
    return T > POOL_MAX ? POOL_MAX : T < 1 ? 1 : T;
}

static void run_parts(int T, size_t n, ParFn fn, void *arg);

void par_for(size_t n, size_t work, ParFn fn, void *arg)
{
    int T = par_threads();
    if ((size_t)T > n) T = (int)n;
    if (T <= 1 || work < PAR_MIN_WORK) {
        if (n) fn(arg, 0, n);
        return;
    }
    run_parts(T, n, fn, arg);
}

void par_run(int T, size_t n, ParFn fn, void *arg)
{
    if (T > POOL_MAX) T = POOL_MAX;
    if ((size_t)T > n) T = (int)n;
    if (T <= 1) {
        if (n) fn(arg, 0, n);
        return;
    }
    run_parts(T, n, fn, arg);
}

/* T ≥ 2 shares of [0, n) on the pool, share 0 on the caller */
static void run_parts(int T, size_t n, ParFn fn, void *arg)
{
    pthread_mutex_lock(&pool.mu);
    while (pool.n_workers < T - 1) {
        pthread_t th;
        pool.start_gen[pool.n_workers + 1] = pool.gen;
        if (pthread_create(&th, NULL, pool_worker, (void *)(intptr_t)(pool.n_workers + 1)) != 0)
            break;
        pthread_detach(th);
        pool.n_workers++;
    }
    if (pool.n_workers < T - 1) T = pool.n_workers + 1;
    if (T <= 1) {
        pthread_mutex_unlock(&pool.mu);
        fn(arg, 0, n);
        return;
    }
    pool.fn = fn;
    pool.arg = arg;
    pool.n = n;
    pool.parts = T;
    pool.pending = pool.n_workers;
    __atomic_store_n(&pool.quiet, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&pool.gen, pool.gen + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool.start);
    pthread_mutex_unlock(&pool.mu);
    size_t lo, hi;
    part_range(n, T, 0, &lo, &hi);
    if (lo < hi) fn(arg, lo, hi);
    spin_until_zero(&pool.pending);
    pthread_mutex_lock(&pool.mu);
    while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}
