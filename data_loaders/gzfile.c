/* gzfile.c — raw-or-gzip file reading for the loaders (see gzfile.h). */
#include "gzfile.h"

#include "common.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

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
            size_t pl = strlen(path); /* zlib's message starts with the path: name it once */
            if (strncmp(msg, path, pl) == 0 && strncmp(msg + pl, ": ", 2) == 0) msg += pl + 2;
            return lqa_errf(err, "%s: read error: %s", path,
                            zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long long)got;
}

int gzfile_close(gzFile f, const char *path, char *err)
{
    int rc = gzclose(f);
    if (rc == Z_OK) return 0;
    if (rc == Z_BUF_ERROR)
        return lqa_errf(err, "%s: gzip data ends early (truncated: no gzip trailer, so its "
                        "checksum could not be checked)", path);
    return lqa_errf(err, "%s: error closing the file (zlib error %d%s%s)", path, rc,
                    rc == Z_ERRNO ? ": " : "", rc == Z_ERRNO ? strerror(errno) : "");
}

long long gzfile_max_bytes(gzFile f, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    long long size = (long long)st.st_size;
    if (gzdirect(f)) return size;
    return size > (1LL << 50) ? -1 : size * 1032 + 1024;
}
