build-native/src/sweep.o: src/sweep.c src/sweep.h src/config.h \
 data_loaders/dataset.h src/model.h src/rng.h src/optim.h src/schedule.h \
 /usr/include/cjson/cJSON.h /usr/include/libpng16/png.h \
 /usr/include/libpng16/pnglibconf.h /usr/include/libpng16/pngconf.h \
 src/afile.h src/blas.h src/kernel_dispatch.h src/common.h src/probe.h
src/sweep.h:
src/config.h:
data_loaders/dataset.h:
src/model.h:
src/rng.h:
src/optim.h:
src/schedule.h:
/usr/include/cjson/cJSON.h:
/usr/include/libpng16/png.h:
/usr/include/libpng16/pnglibconf.h:
/usr/include/libpng16/pngconf.h:
src/afile.h:
src/blas.h:
src/kernel_dispatch.h:
src/common.h:
src/probe.h:
