build-native/models/resnet18.o: models/resnet18.c src/common.h src/conv.h \
 src/layers.h src/model.h src/rng.h
src/common.h:
src/conv.h:
src/layers.h:
src/model.h:
src/rng.h:
