/* afile.h — output files written under a temporary name and renamed into
 * place when complete, so a reader never sees a half-written file. */
#ifndef LQA_AFILE_H
#define LQA_AFILE_H

#include <stdio.h>

typedef struct AFile {
    FILE *f;
    char path[1100];
    char tmp[1200];
} AFile;

int afile_open(AFile *a, const char *path, char *err);
/* Flush, close and rename into place. */
int afile_commit(AFile *a, char *err);
/* Close and delete the temporary file. */
void afile_abort(AFile *a);
/* Write a whole buffer atomically. */
int afile_write_all(const char *path, const void *buf, size_t n, char *err);
/* mkdir -p */
int mkdir_p(const char *path, char *err);

#endif
