/* gzfile.c — raw-or-gzip file reading for the loaders (see gzfile.h). */
#include "gzfile.h"

#include "common.h"

#include <errno.h>
#include <string.h>

gzFile gzfile_open(const char *path, char *err)
{
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        lqa_errf(err, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
        return NULL;
    }
    gzbuffer(f, 1u << 18);
    return f;
}

long long gzfile_read_upto(gzFile f, void *buf, size_t n, const char *path, char *err)
{
    size_t got = 0;
    while (got < n) {
        /* gzread takes an unsigned count: read in chunks of at most 1 MiB */
        size_t want = LQA_MIN(n - got, (size_t)1 << 20);
        int r = gzread(f, (unsigned char *)buf + got, (unsigned)want);
        if (r < 0) {
            int zerr = 0;
            const char *msg = gzerror(f, &zerr);
            return lqa_errf(err, "%s: read error: %s", path,
                            zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long long)got;
}
