build-native/src/schedule.o: src/schedule.c src/schedule.h \
 /usr/include/cjson/cJSON.h src/common.h
src/schedule.h:
/usr/include/cjson/cJSON.h:
src/common.h:
