build-native/src/optim/sgd_nag.o: src/optim/sgd_nag.c src/optim/classic.h \
 src/common.h src/optim.h src/parallel.h
src/optim/classic.h:
src/common.h:
src/optim.h:
src/parallel.h:
