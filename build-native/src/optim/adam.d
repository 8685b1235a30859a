build-native/src/optim/adam.o: src/optim/adam.c src/optim/classic.h \
 src/common.h src/optim.h src/parallel.h
src/optim/classic.h:
src/common.h:
src/optim.h:
src/parallel.h:
