build-clang/tools/cifar_convert: tools/cifar_convert.c src/common.h \
  data_loaders/dataset.h

src/common.h:

data_loaders/dataset.h:
