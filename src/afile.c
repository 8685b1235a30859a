/* afile.c — atomic output files and the owner identity (see afile.h). */
#define _DEFAULT_SOURCE
#include "afile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static char *str_cat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

/* The temporaries open now, for afile_unlink_open (a signal handler): a slot
 * is filled before the file is created and emptied once it is renamed or
 * deleted. */
#define AFILE_LIVE_MAX 16
static char *volatile live[AFILE_LIVE_MAX];

static void live_set(char *from, char *to)
{
    for (int i = 0; i < AFILE_LIVE_MAX; i++)
        if (live[i] == from) {
            live[i] = to;
            return;
        }
}

void afile_unlink_open(void)
{
    for (int i = 0; i < AFILE_LIVE_MAX; i++) {
        char *p = live[i];
        if (p) unlink(p);
    }
}

static void afile_release(AFile *a)
{
    live_set(a->tmp, NULL);
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
}

int afile_open(AFile *a, const char *path, char *err)
{
    memset(a, 0, sizeof *a);
    char suffix[96];
    snprintf(suffix, sizeof suffix, ".tmp.%s", owner_tag());
    a->path = str_cat(path, "");
    a->tmp = str_cat(path, suffix);
    if (!a->path || !a->tmp) {
        afile_release(a);
        return lqa_errf(err, "%.400s: out of memory", path);
    }
    live_set(NULL, a->tmp);
    a->f = fopen(a->tmp, "wb");
    if (!a->f) {
        lqa_errf(err, "%.400s: cannot create: %s", a->tmp, strerror(errno));
        afile_release(a);
        return -1;
    }
    return 0;
}

int afile_commit(AFile *a, char *err)
{
    if (!a->f) return lqa_errf(err, "%.400s: not open", a->path ? a->path : "(null)");
    /* A failed buffered write leaves its data in the buffer: fflush retries it
     * and sets errno (ENOSPC on a full disk). */
    errno = 0;
    int bad = fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0; /* on disk before the rename */
    int e = errno;
    if (fclose(a->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    a->f = NULL;
    int rc = 0;
    if (bad) {
        unlink(a->tmp);
        rc = lqa_errf(err, "%.400s: write failed: %s", a->tmp, e ? strerror(e) : "I/O error");
    } else if (rename(a->tmp, a->path) != 0) {
        e = errno;
        unlink(a->tmp);
        rc = lqa_errf(err, "%.400s: cannot rename into place: %s", a->path, strerror(e));
    }
    afile_release(a);
    return rc;
}

void afile_abort(AFile *a)
{
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp) unlink(a->tmp);
    afile_release(a);
}

int afile_write_all(const char *path, const void *buf, size_t n, char *err)
{
    AFile a;
    if (afile_open(&a, path, err)) return -1;
    if (fwrite(buf, 1, n, a.f) != n) {
        int e = errno;
        lqa_errf(err, "%.400s: write failed: %s", path, strerror(e));
        afile_abort(&a);
        return -1;
    }
    return afile_commit(&a, err);
}

int mkdir_p(const char *path, char *err)
{
    char *buf = str_cat(path, "");
    if (!buf) return lqa_errf(err, "%.400s: out of memory", path);
    int rc = 0;
    for (char *p = buf + 1; *p && !rc; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            rc = lqa_errf(err, "%.400s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (!rc && mkdir(buf, 0777) != 0 && errno != EEXIST)
        rc = lqa_errf(err, "%.400s: cannot create directory: %s", buf, strerror(errno));
    struct stat st;
    if (!rc && stat(buf, &st) == 0 && !S_ISDIR(st.st_mode))
        rc = lqa_errf(err, "%.400s: not a directory", buf);
    free(buf);
    return rc;
}

/* ---- owner identity ------------------------------------------------------ */

static struct {
    bool init;
    long pid;
    char host[256], boot[64], pidns[64];
    uint64_t nonce;
    uint32_t machine;
    char line[512], tag[64];
} me;

static uint32_t fnv32(const char *s, uint32_t h)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return (h ^ ' ') * 16777619u;
}

static uint32_t machine_hash(const char *host, const char *boot, const char *pidns)
{
    return fnv32(pidns, fnv32(boot, fnv32(host, 2166136261u)));
}

/* Replace characters that would split a line into fields. */
static void one_word(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f) *s = '_';
}

static void owner_init(void)
{
    if (me.init && me.pid == (long)getpid()) return;
    me.pid = (long)getpid();
    if (gethostname(me.host, sizeof me.host) != 0 || !me.host[0]) snprintf(me.host, sizeof me.host, "unknown");
    me.host[sizeof me.host - 1] = 0;
    snprintf(me.boot, sizeof me.boot, "unknown");
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(me.boot, sizeof me.boot, f)) snprintf(me.boot, sizeof me.boot, "unknown");
        me.boot[strcspn(me.boot, "\n")] = 0;
        fclose(f);
    }
    struct stat st;
    if (stat("/proc/self/ns/pid", &st) == 0)
        snprintf(me.pidns, sizeof me.pidns, "%llu", (unsigned long long)st.st_ino);
    else
        snprintf(me.pidns, sizeof me.pidns, "0");
    one_word(me.host);
    one_word(me.boot);
    if (getrandom(&me.nonce, sizeof me.nonce, 0) != (ssize_t)sizeof me.nonce) {
        /* no entropy source: time, address and pid still differ between processes */
        me.nonce = (uint64_t)(lqa_now() * 1e9) ^ ((uint64_t)(uintptr_t)&me << 16) ^ (uint64_t)me.pid;
    }
    me.machine = machine_hash(me.host, me.boot, me.pidns);
    snprintf(me.line, sizeof me.line, "%ld %s %s %s %016llx", me.pid, me.host, me.boot, me.pidns,
             (unsigned long long)me.nonce);
    snprintf(me.tag, sizeof me.tag, "%ld.%08x.%016llx", me.pid, me.machine,
             (unsigned long long)me.nonce);
    me.init = true;
}

const char *owner_line(void)
{
    owner_init();
    return me.line;
}

const char *owner_tag(void)
{
    owner_init();
    return me.tag;
}

static OwnerState by_age(time_t mtime, double stale_s)
{
    return difftime(time(NULL), mtime) < stale_s ? OWNER_ALIVE : OWNER_DEAD;
}

/* An owner on this machine: pid and nonce decide. */
static OwnerState local_owner(long pid, unsigned long long nonce)
{
    if (pid == me.pid) return nonce == me.nonce ? OWNER_OURS : OWNER_DEAD;
    if (pid <= 0) return OWNER_DEAD;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM ? OWNER_ALIVE : OWNER_DEAD;
}

OwnerState owner_of_line(const char *line, time_t mtime, double stale_s)
{
    owner_init();
    long pid = 0;
    char host[256], boot[64], pidns[64];
    unsigned long long nonce = 0;
    int end = 0;
    if (sscanf(line, "%ld %255s %63s %63s %llx%n", &pid, host, boot, pidns, &nonce, &end) != 5 ||
        (line[end] && line[end] != '\n'))
        return by_age(mtime, 5); /* being written (or a write that failed) */
    if (strcmp(host, me.host) != 0 || strcmp(boot, me.boot) != 0 || strcmp(pidns, me.pidns) != 0)
        return by_age(mtime, stale_s);
    return local_owner(pid, nonce);
}

/* Reads exactly `digits` hex digits (0: one or more decimal digits) at *p. */
static bool take_num(const char **p, int digits, unsigned long long *v)
{
    const char *q = *p;
    *v = 0;
    int n = 0;
    for (;; q++, n++) {
        int d;
        if (*q >= '0' && *q <= '9') d = *q - '0';
        else if (digits && *q >= 'a' && *q <= 'f') d = *q - 'a' + 10;
        else break;
        if (n >= (digits ? digits : 18)) return false;
        *v = *v * (digits ? 16u : 10u) + (unsigned)d;
    }
    *p = q;
    return digits ? n == digits : n > 0;
}

bool owner_of_tag(const char *tag, time_t mtime, double stale_s, OwnerState *state)
{
    owner_init();
    unsigned long long pid, machine, nonce;
    const char *p = tag;
    if (!take_num(&p, 0, &pid) || *p++ != '.' || !take_num(&p, 8, &machine) || *p++ != '.' ||
        !take_num(&p, 16, &nonce) || *p || pid == 0)
        return false;
    *state = machine == me.machine ? local_owner((long)pid, nonce) : by_age(mtime, stale_s);
    return true;
}
