build-native/tools/bench: tools/bench.c src/blas.h src/common.h \
 src/model.h src/rng.h src/optim.h src/parallel.h src/probe.h src/model.h \
 src/rng.h
src/blas.h:
src/common.h:
src/model.h:
src/rng.h:
src/optim.h:
src/parallel.h:
src/probe.h:
src/model.h:
src/rng.h:
