# lqabench — build, test, run, bench.
# Dependencies are found with pkg-config; `make deps` installs them on Debian.

CC      ?= cc
PKGS    := openblas libcjson zlib libpng
BUILD   ?= build
# The default binary runs on any x86-64-v2 CPU: the hot kernels (KERNEL_SRC) are
# compiled for three instruction sets and chosen at start-up (src/nn/kernel_dispatch.c).
# NATIVE=1 compiles everything once for this machine's CPU (-march=native).
NATIVE  ?= 0
ifeq ($(NATIVE),1)
MARCH   := native
else
MARCH   := x86-64-v2 -mtune=generic
endif
OPT     ?= -O3 -march=$(MARCH)
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -fno-math-errno -ffp-contract=off -Wall -Wextra -Werror=implicit-function-declaration \
           -D_POSIX_C_SOURCE=200809L -Isrc -Isrc/nn -Idata_loaders -Imodels -MMD -MP
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS  += $(PKG_LIBS) -lm
CFLAGS  += $(PKG_CFLAGS)

# Everything is rebuilt when the compiler, the flags or the libraries pkg-config
# finds change (e.g. after `make deps` installed them): $(BUILD)/.flags holds
# the last set. Without the libraries the build stops and says so, instead of
# compiling against whatever other cblas.h the system has.
FLAGS_SIG := NATIVE=$(NATIVE) $(CC) $(CFLAGS) | $(LDFLAGS) $(LDLIBS)
FLAGS     := $(BUILD)/.flags

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c src/nn/*.c src/optim/*.c models/*.c data_loaders/*.c))
KERNEL_SRC := src/nn/conv.c src/nn/conv_direct.c src/nn/conv_winograd.c src/nn/conv_winograd2.c \
              src/nn/conv_winograd4.c src/nn/bn_pool.c
ifeq ($(NATIVE),1)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CFLAGS   += -DLQA_NATIVE
else
KERNEL_LEVELS := v4 v3 v2
LIB_OBJ  := $(filter-out $(KERNEL_SRC:%.c=$(BUILD)/%.o),$(LIB_SRC:%.c=$(BUILD)/%.o)) \
            $(KERNEL_LEVELS:%=$(BUILD)/kernels-%.o)
endif
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(BUILD)/tools/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: FORCE all deps data run test test-unit test-asan test-clang test-torch fuzz fuzz-bins bench clean help

all: lqabench $(TOOL_BIN)

lqabench: $(BUILD)/lqabench
	cp $< $@.new && mv -f $@.new $@

$(BUILD)/lqabench: $(BUILD)/src/main.o $(BUILD)/liblqa.a
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDFLAGS) $(LDLIBS)

$(BUILD)/liblqa.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FLAGS): FORCE
	@pkg-config --exists $(PKGS) || { echo "make: libraries not found by pkg-config ($(PKGS)); run 'make deps' first" >&2; exit 1; }
	@mkdir -p $(BUILD)
	@echo '$(FLAGS_SIG)' | cmp -s - $@ || echo '$(FLAGS_SIG)' >$@

$(BUILD)/%.o: %.c $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# One copy of the kernels per instruction set: compiled with -march=x86-64-<level>,
# linked into one object, every global symbol they define renamed <name>_<level>.
# (-Wno-psabi: 64-byte vectors pass only between static functions of one file.)
define KERNEL_LEVEL_RULE
$$(BUILD)/k-$(1)/%.o: %.c $$(FLAGS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -march=x86-64-$(1) -Wno-psabi -c -o $$@ $$<
endef
$(foreach l,$(KERNEL_LEVELS),$(eval $(call KERNEL_LEVEL_RULE,$(l))))
$(BUILD)/kernels-%.o: $(foreach f,$(KERNEL_SRC),$(BUILD)/k-%/$(f:.c=.o))
	ld -r -o $@.tmp $^
	nm --defined-only -g $@.tmp | awk '{print $$3, $$3 "_$*"}' >$@.syms
	objcopy --redefine-syms=$@.syms $@.tmp $@
	@rm -f $@.tmp

$(BUILD)/tests/%: tests/%.c $(BUILD)/liblqa.a $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/liblqa.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/tools/%: tools/%.c $(BUILD)/liblqa.a $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/liblqa.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/liblqa.a $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(BUILD)/liblqa.a $(LDFLAGS) $(LDLIBS)

deps:
	@bash scripts/setup.sh

# Every data set the shipped configs use: MNIST, Fashion-MNIST, CIFAR-10, Boston Housing.
data: deps
	@bash scripts/fetch_data.sh
	@bash scripts/fetch_data.sh cifar10
	@bash scripts/fetch_data.sh boston

# The main job: the embedded default sweep (six optimizers, MNIST, one epoch).
run: data
	@$(MAKE) --no-print-directory all
	./lqabench --config configs/default.json

# Everything: unit tests, sanitizer build of the unit tests, PyTorch cross-checks.
test: data
	@bash scripts/setup.sh testtools
	@$(MAKE) --no-print-directory all unit-bins
	@$(MAKE) --no-print-directory test-asan
	@LQA_TEST="$(T)" bash scripts/run_tests.sh

unit-bins: $(TEST_BIN)

# T=NAME (make test T=NAME, make test-unit T=NAME): only the unit test NAME
# (build/tests/test_* --list names them).
test-unit: all unit-bins
	@LQA_TEST="$(T)" LQA_SKIP_TORCH=1 LQA_SKIP_ASAN=1 bash scripts/run_tests.sh

test-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" LDFLAGS="-fsanitize=address,undefined" unit-bins build-asan/lqabench

# The unit and command-line tests built with clang (CI runs them beside the gcc build).
test-clang: data
	@bash scripts/setup.sh testtools
	@$(MAKE) --no-print-directory BUILD=build-clang CC=clang unit-bins build-clang/lqabench
	@LQA_BUILD=build-clang LQA_BIN=build-clang/lqabench LQA_SKIP_TORCH=1 LQA_SKIP_ASAN=1 \
		bash scripts/run_tests.sh

# libFuzzer harnesses (tests/fuzz/: config parser, idx and CIFAR-10 loaders) built with
# clang, ASan and UBSan in build-fuzz/, each run for FUZZ_SECONDS from its seed corpus;
# fails on any crash, leak or sanitizer report (docs/fuzzing.md).
FUZZ_SECONDS ?= 60
fuzz-bins: $(FUZZ_BIN)

fuzz:
	@bash scripts/setup.sh base fuzz
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang NATIVE=1 \
		OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" fuzz-bins
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

bench: data
	@$(MAKE) --no-print-directory all
	@bash scripts/bench.sh

clean:
	rm -rf build build-asan build-clang build-fuzz lqabench

help:
	@echo "make run | test | regress | bench | figures-quick | figures | deps | data | clean"
	@echo "     test-unit | test-asan | test-clang | fuzz [FUZZ_SECONDS=60] | NATIVE=1 (build for this CPU only)"

# The git revision goes into each run's metadata.
GIT_REV := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/src/runmeta.o: CFLAGS += -DLQA_GIT_REV=\"$(GIT_REV)\"
$(BUILD)/src/runmeta.o: $(wildcard .git/HEAD .git/index)

# Reproduction figures and tables (scripts/figures.sh): run whatever sweeps are missing
# (lqabench resumes complete runs), then regenerate every figure (PNG + PDF) and table.
# figures: the full configs into results/figures-full/ (ResNet-18 sweeps take days here);
# figures-quick: the configs/*_quick.json sweeps into results/figures/.
# The sweeps use $(BUILD)/lqabench (LQA_BIN overrides), so that a rebuild does not have to
# overwrite a ./lqabench that a running sweep is executing.
.PHONY: figures figures-quick
figures: data $(BUILD)/lqabench
	@LQA_BIN=$${LQA_BIN:-$(BUILD)/lqabench} bash scripts/figures.sh --full

figures-quick: data $(BUILD)/lqabench
	@LQA_BIN=$${LQA_BIN:-$(BUILD)/lqabench} bash scripts/figures.sh --quick

# Loss-curve regression (docs/regression.md): rerun configs/regress/*.json (1 thread,
# --no-timing) and compare every per-step/per-epoch CSV with results/reference/.
.PHONY: regress
regress: data
	@$(MAKE) --no-print-directory all
	@python3 scripts/regress.py

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
