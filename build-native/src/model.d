build-native/src/model.o: src/model.c src/model.h src/rng.h src/common.h \
 models/registry.h
src/model.h:
src/rng.h:
src/common.h:
models/registry.h:
