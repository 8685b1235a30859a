build-native/src/optim/hgd.o: src/optim/hgd.c src/blas.h src/common.h \
 src/optim.h
src/blas.h:
src/common.h:
src/optim.h:
