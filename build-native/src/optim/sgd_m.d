build-native/src/optim/sgd_m.o: src/optim/sgd_m.c src/optim/classic.h \
 src/common.h src/optim.h src/parallel.h
src/optim/classic.h:
src/common.h:
src/optim.h:
src/parallel.h:
