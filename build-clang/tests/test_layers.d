build-clang/tests/test_layers: tests/test_layers.c src/blas.h \
  src/common.h src/layers.h src/model.h src/rng.h src/parallel.h \
  tests/test.h

src/blas.h:

src/common.h:

src/layers.h:

src/model.h:

src/rng.h:

src/parallel.h:

tests/test.h:
