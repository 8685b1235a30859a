/* kernel_dispatch.h — the instruction-set path of the hot kernels
 * (kernel_dispatch.c): "avx512", "avx2" or "baseline" in the default build,
 * chosen from the CPU or $LQA_KERNEL; "native" in a `make NATIVE=1` build. */
#ifndef LQA_KERNEL_DISPATCH_H
#define LQA_KERNEL_DISPATCH_H

const char *kernel_path(void);

#endif
