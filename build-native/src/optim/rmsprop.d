build-native/src/optim/rmsprop.o: src/optim/rmsprop.c src/optim/classic.h \
 src/common.h src/optim.h src/parallel.h
src/optim/classic.h:
src/common.h:
src/optim.h:
src/parallel.h:
