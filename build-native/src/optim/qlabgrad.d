build-native/src/optim/qlabgrad.o: src/optim/qlabgrad.c src/blas.h \
 src/common.h src/optim.h
src/blas.h:
src/common.h:
src/optim.h:
