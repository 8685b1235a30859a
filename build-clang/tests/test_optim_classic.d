build-clang/tests/test_optim_classic: tests/test_optim_classic.c \
  /usr/include/cjson/cJSON.h src/common.h src/optim.h \
  src/optim/classic.h src/parallel.h src/rng.h src/schedule.h \
  tests/test.h

/usr/include/cjson/cJSON.h:

src/common.h:

src/optim.h:

src/optim/classic.h:

src/parallel.h:

src/rng.h:

src/schedule.h:

tests/test.h:
