build-native/src/optim/sgd.o: src/optim/sgd.c src/optim/classic.h \
 src/common.h src/optim.h src/parallel.h
src/optim/classic.h:
src/common.h:
src/optim.h:
src/parallel.h:
