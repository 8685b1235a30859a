build-native/data_loaders/cifar10.o: data_loaders/cifar10.c \
 data_loaders/dataset.h src/common.h data_loaders/gzfile.h
data_loaders/dataset.h:
src/common.h:
data_loaders/gzfile.h:
