build-native/src/conv.o: src/conv.c src/conv.h src/blas.h src/common.h \
 src/conv_internal.h src/parallel.h
src/conv.h:
src/blas.h:
src/common.h:
src/conv_internal.h:
src/parallel.h:
