build-clang/src/layers.o: src/layers.c src/layers.h src/blas.h \
  src/common.h

src/layers.h:

src/blas.h:

src/common.h:
