build-clang/src/rng.o: src/rng.c src/rng.h

src/rng.h:
