build-clang/tests/test_data: tests/test_data.c src/common.h \
  data_loaders/dataset.h tests/test.h /usr/include/cjson/cJSON.h \
  /usr/include/libpng16/png.h /usr/include/libpng16/pnglibconf.h \
  /usr/include/libpng16/pngconf.h

src/common.h:

data_loaders/dataset.h:

tests/test.h:

/usr/include/cjson/cJSON.h:

/usr/include/libpng16/png.h:

/usr/include/libpng16/pnglibconf.h:

/usr/include/libpng16/pngconf.h:
