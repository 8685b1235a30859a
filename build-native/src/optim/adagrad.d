build-native/src/optim/adagrad.o: src/optim/adagrad.c src/optim/classic.h \
 src/common.h src/optim.h src/parallel.h
src/optim/classic.h:
src/common.h:
src/optim.h:
src/parallel.h:
