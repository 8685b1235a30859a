build-native/data_loaders/gzfile.o: data_loaders/gzfile.c \
 data_loaders/gzfile.h src/common.h
data_loaders/gzfile.h:
src/common.h:
