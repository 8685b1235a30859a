build-native/src/conv_winograd.o: src/conv_winograd.c src/blas.h \
 src/common.h src/conv_internal.h src/conv.h src/parallel.h
src/blas.h:
src/common.h:
src/conv_internal.h:
src/conv.h:
src/parallel.h:
