build-native/src/probe.o: src/probe.c src/probe.h src/model.h src/rng.h
src/probe.h:
src/model.h:
src/rng.h:
