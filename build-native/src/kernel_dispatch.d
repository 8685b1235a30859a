build-native/src/kernel_dispatch.o: src/kernel_dispatch.c src/conv.h \
 src/kernel_dispatch.h
src/conv.h:
src/kernel_dispatch.h:
