build-native/src/config.o: src/config.c src/config.h \
 data_loaders/dataset.h src/model.h src/rng.h src/optim.h src/schedule.h \
 /usr/include/cjson/cJSON.h src/common.h
src/config.h:
data_loaders/dataset.h:
src/model.h:
src/rng.h:
src/optim.h:
src/schedule.h:
/usr/include/cjson/cJSON.h:
src/common.h:
