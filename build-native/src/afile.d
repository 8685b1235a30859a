build-native/src/afile.o: src/afile.c src/afile.h src/common.h
src/afile.h:
src/common.h:
