build-native/models/mlp.o: models/mlp.c src/common.h src/layers.h \
 src/model.h src/rng.h
src/common.h:
src/layers.h:
src/model.h:
src/rng.h:
