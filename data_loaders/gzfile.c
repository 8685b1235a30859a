/* gzfile.c — raw-or-gzip file reading for the loaders (see gzfile.h). */
#include "gzfile.h"

#include "common.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Whether the gzip file at path is gzip members and nothing after them (zlib's
 * gzread skips whatever follows the last member without a word, as gzip(1)
 * warns "trailing garbage ignored"). An independent pass over the compressed
 * bytes: each member is inflated (output discarded) to find where it ends.
 * 0, or -1 with err. */
static int gz_members_only(const char *path, char *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lqa_errf(err, "%s: cannot open it again: %s", path, strerror(errno));
    enum { CHUNK = 1 << 16 };
    unsigned char *in = malloc(CHUNK), *out = malloc(CHUNK);
    z_stream z;
    memset(&z, 0, sizeof z);
    int rc = 0;
    if (!in || !out || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        rc = lqa_errf(err, "%s: out of memory checking the gzip data (%d bytes)", path, 2 * CHUNK);
        goto out;
    }
    long long members = 0, used = 0, end = 0; /* complete members; bytes inflated; where the last member ends */
    bool in_member = true;
    for (;;) {
        if (z.avail_in == 0) {
            size_t n = fread(in, 1, CHUNK, f);
            if (n == 0) break;
            z.next_in = in;
            z.avail_in = (uInt)n;
        }
        if (!in_member) { /* another member must start here */
            inflateReset(&z);
            in_member = true;
        }
        uInt before = z.avail_in;
        z.next_out = out;
        z.avail_out = CHUNK;
        int r = inflate(&z, Z_NO_FLUSH);
        used += before - z.avail_in;
        if (r == Z_STREAM_END) {
            members++;
            end = used;
            in_member = false;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            if (members > 0 && in_member) break; /* not a gzip member: trailing bytes */
            rc = lqa_errf(err, "%s: bad gzip data: %s", path, z.msg ? z.msg : "inflate error");
            goto out;
        }
    }
    if (ferror(f)) {
        rc = lqa_errf(err, "%s: read error: %s", path, strerror(errno));
    } else if (in_member && members > 0) {
        struct stat st;
        long long junk = stat(path, &st) == 0 ? (long long)st.st_size - end : -1;
        rc = lqa_errf(err, "%s: bytes after the gzip data (not another gzip member; %lld "
                      "trailing byte%s): a damaged or wrongly concatenated file", path, junk,
                      junk == 1 ? "" : "s");
    } else if (in_member) {
        rc = lqa_errf(err, "%s: gzip data ends early (truncated: no gzip trailer, so its "
                      "checksum could not be checked)", path);
    }
out:
    inflateEnd(&z);
    free(in);
    free(out);
    fclose(f);
    return rc;
}

int gzfile_close(gzFile f, const char *path, char *err)
{
    bool gz = !gzdirect(f);
    int rc = gzclose(f);
    if (rc == Z_OK) return gz ? gz_members_only(path, err) : 0;
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
