build-native/data_loaders/idx.o: data_loaders/idx.c \
 data_loaders/dataset.h src/common.h data_loaders/gzfile.h
data_loaders/dataset.h:
src/common.h:
data_loaders/gzfile.h:
