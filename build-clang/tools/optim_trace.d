build-clang/tools/optim_trace: tools/optim_trace.c \
  /usr/include/cjson/cJSON.h src/common.h src/optim.h src/schedule.h

/usr/include/cjson/cJSON.h:

src/common.h:

src/optim.h:

src/schedule.h:
