build-native/src/optim.o: src/optim.c src/optim.h src/common.h \
 src/optim/registry.h
src/optim.h:
src/common.h:
src/optim/registry.h:
