build-clang/tools/dump_model: tools/dump_model.c src/blas.h src/common.h \
  src/model.h src/rng.h

src/blas.h:

src/common.h:

src/model.h:

src/rng.h:
