build-native/data_loaders/cifar_png.o: data_loaders/cifar_png.c \
 data_loaders/dataset.h src/common.h /usr/include/cjson/cJSON.h \
 /usr/include/libpng16/png.h /usr/include/libpng16/pnglibconf.h \
 /usr/include/libpng16/pngconf.h
data_loaders/dataset.h:
src/common.h:
/usr/include/cjson/cJSON.h:
/usr/include/libpng16/png.h:
/usr/include/libpng16/pnglibconf.h:
/usr/include/libpng16/pngconf.h:
