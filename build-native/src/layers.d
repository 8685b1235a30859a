build-native/src/layers.o: src/layers.c src/layers.h src/blas.h
src/layers.h:
src/blas.h:
