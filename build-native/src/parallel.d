build-native/src/parallel.o: src/parallel.c src/parallel.h src/blas.h
src/parallel.h:
src/blas.h:
