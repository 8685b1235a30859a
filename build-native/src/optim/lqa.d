build-native/src/optim/lqa.o: src/optim/lqa.c src/blas.h src/common.h \
 src/optim.h
src/blas.h:
src/common.h:
src/optim.h:
