/* runlock.c — run locks and the temporary files of their owners (see runlock.h).
 * Runs claim a <run>.lock file so that several processes can share one
 * output_dir; a lock left by a dead process is taken over. */
#define _DEFAULT_SOURCE
#include "runlock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "afile.h"
#include "common.h"

/* 1: the lock at path is stale (its owner is gone, or is this process), 0:
 * held by a live process (or being written), -1: no lock there any more.
 * Owners are told apart by host, boot id, PID namespace, PID and nonce
 * (afile.h); a lock that does not parse is honoured for 5 seconds only (being
 * written: a lock whose write failed is not honoured). */
static int lock_stale(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[700] = "";
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fclose(f);
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    return owner_of_line(line, st.st_mtime, RUNLOCK_STALE_SECONDS) == OWNER_ALIVE ? 0 : 1;
}

/* Remove the lock at path if it is stale. It is removed only while holding
 * <run>.lock.break (O_EXCL) and after re-checking it under that guard:
 * otherwise two processes that both saw the same stale lock could both take it
 * over, the second deleting the first one's fresh lock (and then its temporary
 * files) and running the run twice. 1: removed or gone, 0: not removed (held,
 * or another process is breaking it), -1: error. */
int runlock_break(const char *path, char *err)
{
    int stale = lock_stale(path);
    if (stale != 1) return stale < 0 ? 1 : 0;
    size_t len = strlen(path);
    char *brk = malloc(len + sizeof ".break");
    if (!brk) return lqa_errf(err, "out of memory");
    memcpy(brk, path, len);
    memcpy(brk + len, ".break", sizeof ".break");
    const char *delay = getenv("LQA_TEST_LOCK_DELAY_MS"); /* test seam: widen the race window */
    if (delay) nanosleep(&(struct timespec){0, atol(delay) % 1000 * 1000000L}, NULL);
    int rc = 0, b = open(brk, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (b < 0) {
        if (errno != EEXIST) {
            rc = lqa_errf(err, "%.400s: cannot create: %s", brk, strerror(errno));
        } else {
            struct stat st; /* another process is breaking the lock; a guard this old is a dead one's */
            if (stat(brk, &st) == 0 && difftime(time(NULL), st.st_mtime) > 10) unlink(brk);
            else nanosleep(&(struct timespec){0, 5000000}, NULL);
        }
    } else {
        close(b);
        if (lock_stale(path) == 1) unlink(path); /* stale: its owner died */
        unlink(brk);
    }
    free(brk);
    return rc;
}

/* 1: claimed by us, 0: held by a live process, -1: error. */
int runlock_claim(const char *path, char *err)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            char line[700];
            int len = snprintf(line, sizeof line, "%s\n", owner_line());
            ssize_t w = write(fd, line, (size_t)len);
            int e = errno;
            if (close(fd) != 0 && w == len) w = -1, e = errno;
            if (w == len) return 1;
            unlink(path); /* a lock that says nobody is no lock */
            return lqa_errf(err, "%.400s: cannot write lock: %s", path,
                            w < 0 ? strerror(e) : "short write");
        }
        if (errno != EEXIST) return lqa_errf(err, "%.400s: cannot create lock: %s", path, strerror(errno));
        int stale = lock_stale(path);
        if (stale == 0) return 0;
        if (stale < 0) continue; /* released meanwhile: try again */
        if (runlock_break(path, err) < 0) return -1;
    }
    return 0;
}

void runlock_clean_temps(const char *dir, const char *id, bool any_owner)
{
    DIR *d = opendir(dir);
    if (!d) return;
    static const char *const SUMMARY[] = {"summary.csv", NULL};
    static const char *const RUN_FILES[] = {".steps.csv", ".epochs.csv", ".init.f32",
                                            ".batches.i32", ".json", ".ckpt", NULL};
    const char *const *names = id ? RUN_FILES : SUMMARY;
    size_t idlen = id ? strlen(id) : 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *nm = e->d_name;
        if (id && strncmp(nm, id, idlen) != 0) continue;
        for (int i = 0; names[i]; i++) {
            size_t sl = strlen(names[i]);
            const char *rest = nm + idlen;
            if (strncmp(rest, names[i], sl) != 0 || strncmp(rest + sl, ".tmp.", 5) != 0) continue;
            char p[RUNLOCK_PATH_BUF];
            int len = snprintf(p, sizeof p, "%s/%s", dir, nm);
            LQA_CHECK(len >= 0 && (size_t)len < sizeof p);
            struct stat st;
            OwnerState o;
            if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
                owner_of_tag(rest + sl + 5, st.st_mtime, RUNLOCK_STALE_SECONDS, &o) &&
                (any_owner || o == OWNER_DEAD))
                unlink(p);
        }
    }
    closedir(d);
}
