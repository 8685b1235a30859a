/* cifar_convert — PNG form of CIFAR-10 to a standard binary batch.
 * Usage: cifar_convert IN.png LABELS.json OFFSET OUT.bin */
#include "common.h"
#include "dataset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s IN.png LABELS.json OFFSET OUT.bin\n", argv[0]);
        return 1;
    }
    char *end;
    errno = 0;
    long off = strtol(argv[3], &end, 10);
    if (errno || *end || end == argv[3] || off < 0 || off > INT_MAX) {
        fprintf(stderr, "cifar_convert: bad OFFSET \"%s\" (a non-negative integer)\n", argv[3]);
        return 1;
    }
    char err[LQA_ERR_LEN];
    if (cifar_png_convert(argv[1], argv[2], (int)off, argv[4], err) != 0) {
        fprintf(stderr, "cifar_convert: %s\n", err);
        return 1;
    }
    return 0;
}
