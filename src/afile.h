/* afile.h — output files written under a temporary name and renamed into
 * place when complete, so a reader never sees a half-written file; and the
 * identity of this process as the owner of lock and temporary files. */
#ifndef LQA_AFILE_H
#define LQA_AFILE_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

typedef struct AFile {
    FILE *f;
    char *path; /* allocated: paths of any length */
    char *tmp;  /* path + ".tmp." + owner_tag() */
} AFile;

int afile_open(AFile *a, const char *path, char *err);
/* Flush, close and rename into place. */
int afile_commit(AFile *a, char *err);
/* Close and delete the temporary file. */
void afile_abort(AFile *a);
/* Delete the temporaries of every AFile open now (async-signal-safe: for a
 * handler that exits at once). */
void afile_unlink_open(void);
/* Write a whole buffer atomically. */
int afile_write_all(const char *path, const void *buf, size_t n, char *err);
/* mkdir -p */
int mkdir_p(const char *path, char *err);

/* Owner identity. A process is named by host name, boot id
 * (/proc/sys/kernel/random/boot_id), PID namespace, PID and a random 64-bit
 * nonce drawn at start: two processes with the same PID in separate
 * containers or on separate hosts never share an identity, nor does a later
 * process that got a dead one's PID.
 *
 * owner_line(): "<pid> <host> <boot_id> <pidns> <nonce>", the content of a lock.
 * owner_tag():  "<pid>.<machine>.<nonce>", the suffix of temporary files, where
 *               <machine> is 8 hex digits hashing host, boot id and PID namespace. */
const char *owner_line(void);
const char *owner_tag(void);

typedef enum { OWNER_OURS, OWNER_ALIVE, OWNER_DEAD } OwnerState;
/* State of the owner recorded in a lock line (see owner_line) whose file was
 * last modified at mtime. An owner on this machine (same host, boot id and PID
 * namespace) is alive while its PID is, unless the PID is ours and the nonce is
 * not; an owner elsewhere is alive while the file was modified less than
 * stale_s seconds ago; a line that does not parse (being written, or a write
 * that failed) for 5 seconds. */
OwnerState owner_of_line(const char *line, time_t mtime, double stale_s);
/* The same for the suffix of a temporary file (see owner_tag). false when
 * `tag` is not an owner tag at all. */
bool owner_of_tag(const char *tag, time_t mtime, double stale_s, OwnerState *state);

#endif
