#include "afile.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

int afile_open(AFile *a, const char *path, char *err)
{
    snprintf(a->path, sizeof a->path, "%s", path);
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", path, (long)getpid());
    a->f = fopen(a->tmp, "wb");
    if (!a->f) return lqa_errf(err, "%s: cannot create: %s", a->tmp, strerror(errno));
    return 0;
}

int afile_commit(AFile *a, char *err)
{
    if (!a->f) return lqa_errf(err, "%s: not open", a->path);
    int bad = ferror(a->f);
    if (fclose(a->f) != 0) bad = 1;
    a->f = NULL;
    if (bad) {
        unlink(a->tmp);
        return lqa_errf(err, "%s: write failed", a->tmp);
    }
    if (rename(a->tmp, a->path) != 0) {
        int e = errno;
        unlink(a->tmp);
        return lqa_errf(err, "%s: cannot rename into place: %s", a->path, strerror(e));
    }
    return 0;
}

void afile_abort(AFile *a)
{
    if (a->f) fclose(a->f);
    a->f = NULL;
    unlink(a->tmp);
}

int afile_write_all(const char *path, const void *buf, size_t n, char *err)
{
    AFile a;
    if (afile_open(&a, path, err)) return -1;
    if (fwrite(buf, 1, n, a.f) != n) {
        afile_abort(&a);
        return lqa_errf(err, "%s: write failed", path);
    }
    return afile_commit(&a, err);
}

int mkdir_p(const char *path, char *err)
{
    char buf[1100];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return lqa_errf(err, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return lqa_errf(err, "%s: cannot create directory: %s", buf, strerror(errno));
    return 0;
}
