build-clang/tests/test_optim_adaptive: tests/test_optim_adaptive.c \
  src/blas.h src/common.h src/optim.h src/rng.h tests/test.h

src/blas.h:

src/common.h:

src/optim.h:

src/rng.h:

tests/test.h:
