build-native/src/rng.o: src/rng.c src/rng.h
src/rng.h:
