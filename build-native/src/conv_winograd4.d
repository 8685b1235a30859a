build-native/src/conv_winograd4.o: src/conv_winograd4.c src/common.h \
 src/conv_internal.h src/conv.h src/parallel.h
src/common.h:
src/conv_internal.h:
src/conv.h:
src/parallel.h:
