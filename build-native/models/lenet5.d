build-native/models/lenet5.o: models/lenet5.c src/common.h src/conv.h \
 src/layers.h models/lenet.h src/model.h src/rng.h
src/common.h:
src/conv.h:
src/layers.h:
models/lenet.h:
src/model.h:
src/rng.h:
