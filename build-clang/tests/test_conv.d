build-clang/tests/test_conv: tests/test_conv.c src/blas.h src/common.h \
  src/conv.h src/parallel.h src/layers.h src/model.h src/rng.h \
  tests/test.h

src/blas.h:

src/common.h:

src/conv.h:

src/parallel.h:

src/layers.h:

src/model.h:

src/rng.h:

tests/test.h:
