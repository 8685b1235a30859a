build-native/src/conv_direct.o: src/conv_direct.c src/common.h \
 src/conv_internal.h src/conv.h src/parallel.h
src/common.h:
src/conv_internal.h:
src/conv.h:
src/parallel.h:
