build-native/src/bn_pool.o: src/bn_pool.c src/common.h \
 src/conv_internal.h src/conv.h src/parallel.h
src/common.h:
src/conv_internal.h:
src/conv.h:
src/parallel.h:
