build-native/src/main.o: src/main.c src/blas.h src/kernel_dispatch.h \
 src/common.h src/config.h data_loaders/dataset.h src/model.h src/rng.h \
 src/optim.h src/schedule.h src/sweep.h
src/blas.h:
src/kernel_dispatch.h:
src/common.h:
src/config.h:
data_loaders/dataset.h:
src/model.h:
src/rng.h:
src/optim.h:
src/schedule.h:
src/sweep.h:
