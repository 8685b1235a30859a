build-native/src/optim/l4gd.o: src/optim/l4gd.c src/blas.h src/common.h \
 src/optim.h
src/blas.h:
src/common.h:
src/optim.h:
