build-native/data_loaders/batcher.o: data_loaders/batcher.c \
 data_loaders/dataset.h src/common.h src/rng.h
data_loaders/dataset.h:
src/common.h:
src/rng.h:
