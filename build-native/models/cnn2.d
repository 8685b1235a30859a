build-native/models/cnn2.o: models/cnn2.c models/lenet.h src/model.h \
 src/rng.h
models/lenet.h:
src/model.h:
src/rng.h:
