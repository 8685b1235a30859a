build-native/data_loaders/dataset.o: data_loaders/dataset.c \
 data_loaders/dataset.h src/common.h
data_loaders/dataset.h:
src/common.h:
