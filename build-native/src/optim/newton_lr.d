build-native/src/optim/newton_lr.o: src/optim/newton_lr.c src/blas.h \
 src/common.h src/optim.h
src/blas.h:
src/common.h:
src/optim.h:
