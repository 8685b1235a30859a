/* gzfile.h — reading data files that may be raw or gzip (zlib's gzread reads
 * both), with errors that name the file. Shared by the idx and CIFAR-10 loaders. */
#ifndef LQA_GZFILE_H
#define LQA_GZFILE_H

#include <stddef.h>
#include <zlib.h>

/* Open path for reading (256 KiB buffer). NULL with err set:
 * "<path>: cannot open: <reason>". */
gzFile gzfile_open(const char *path, char *err);

/* Read up to n bytes; returns the number read (< n only at end of data), or
 * -1 with err set on a read/decompression error ("<path>: read error: ..."). */
long long gzfile_read_upto(gzFile f, void *buf, size_t n, const char *path, char *err);

/* Close f (read to its end). A gzip stream that ends early (no trailer, so its
 * checksum was never checked) is an error: -1 with err "<path>: gzip data ends
 * early ..."; so are bytes after the last gzip member (zlib skips them
 * silently; a second pass over the compressed bytes finds them). */
int gzfile_close(gzFile f, const char *path, char *err);

/* An upper bound on the bytes f can yield, from the file's size: the size
 * itself for a raw file, 1032 times it for gzip (deflate's largest ratio).
 * Call after a first read. -1 if the size is unknown. */
long long gzfile_max_bytes(gzFile f, const char *path);

#endif
