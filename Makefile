# SPDX-License-Identifier: GPL-2.0
# forkscope top-level Makefile: the module (via ./Kbuild against Debian's 6.1
# headers), host unit tests, in-guest selftests, demo and check.
# make demo / make check do all set-up themselves (scripts/setup, as root).
KVER ?= $(shell cat build/kver 2>/dev/null || ls /lib/modules 2>/dev/null | grep -- '-amd64$$' | sort -V | tail -n 1)
KDIR ?= /lib/modules/$(KVER)/build
KSRC ?= $(CURDIR)/build/linux-source-6.1

.PHONY: all setup check-all module module-for module-clean dkms-install dkms-check host-tests selftests check demo clean fuzz storm check-debug debug-kernel bench \
	cli cli-tests
all: module cli

setup:
	scripts/setup

# Module BTF (6.12: CONFIG_DEBUG_INFO_BTF_MODULES and a vmlinux in the
# headers): pahole 1.24 cannot encode the C++ core's DWARF (templates,
# references) and fails the link; with --lang_exclude=c++14 it still warns
# about every template. forkscope.ko is built without .BTF (it loads the
# same: only BPF programs attached to forkscope's own functions would use it).
MODULE_BTF_FLAGS := CONFIG_DEBUG_INFO_BTF_MODULES=

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(MODULE_BTF_FLAGS) modules

# The module for another kernel, built in a copy of the module sources so the
# in-tree objects (default kernel) stay: build/mod/$(KVER)/forkscope.ko.
MODULE_FILES := Kbuild sources.mk include src cxxrt
MODDIR = $(CURDIR)/build/mod/$(KVER)
module-for:
	mkdir -p $(MODDIR)
	tar -c --exclude='*.o' --exclude='.*.cmd' --exclude='*.o.d' --exclude='*.ko' \
		--exclude='*.mod*' $(MODULE_FILES) | tar -x -C $(MODDIR)
	$(MAKE) -C $(KDIR) M=$(MODDIR) $(MODULE_BTF_FLAGS) modules

# DKMS (dkms.conf): install for the running kernel, or build against every
# installed set of headers in a private DKMS tree (build only, never loaded).
dkms-install:
	scripts/dkms install
dkms-check:
	scripts/dkms check

host-tests:
	cmake -S tests/host -B build/host -DCMAKE_BUILD_TYPE=Debug
	cmake --build build/host -j$$(nproc)
	build/host/forkscope_host_tests

selftests:
	$(MAKE) -C selftests KSRC=$(KSRC)

# The forkscope CLI (tools/cli, C++20 with nlohmann-json, CLI11 and fmt),
# static so it runs in the busybox guest; its host tests (GoogleTest).
CLI_CXX ?= g++
CLI_CXXFLAGS ?= -std=c++20 -O2 -g -Wall -Wextra -Werror -DFMT_HEADER_ONLY -Iinclude
CLI_LIB_SRCS := $(filter-out tools/cli/main.cpp,$(wildcard tools/cli/*.cpp))
CLI_LIB_OBJS := $(patsubst tools/cli/%.cpp,build/cli/%.o,$(CLI_LIB_SRCS))
CLI_TEST_SRCS := $(wildcard tests/cli/*.cpp)
CLI_TEST_OBJS := $(patsubst tests/cli/%.cpp,build/cli/tests/%.o,$(CLI_TEST_SRCS))
cli: build/forkscope
build/cli/%.o: tools/cli/%.cpp $(wildcard tools/cli/*.h) include/forkscope/core.h
	@mkdir -p $(dir $@)
	$(CLI_CXX) $(CLI_CXXFLAGS) -c -o $@ $<
build/cli/tests/%.o: tests/cli/%.cpp $(wildcard tools/cli/*.h) include/forkscope/core.h
	@mkdir -p $(dir $@)
	$(CLI_CXX) $(CLI_CXXFLAGS) -Itools/cli -DFORKSCOPE_CLI_FIXTURES=\"$(CURDIR)/tests/cli/fixtures\" -c -o $@ $<
build/forkscope: build/cli/main.o $(CLI_LIB_OBJS)
	$(CLI_CXX) -static -pthread -s -o $@ $^
build/cli/forkscope_cli_tests: $(CLI_TEST_OBJS) $(CLI_LIB_OBJS)
	$(CLI_CXX) -pthread -o $@ $^ -lgtest -lgtest_main
cli-tests: build/cli/forkscope_cli_tests
	build/cli/forkscope_cli_tests

check:
	scripts/check

# make check on all six kernels (generic, rt, cloud of 6.1 and 6.12).
ALL_KERNELS := 6.1 6.12 6.1-rt 6.12-rt 6.1-cloud 6.12-cloud
check-all:
	KERNELS="$(ALL_KERNELS)" scripts/check

# libFuzzer (clang) on the control/filter parsers and the core behind them.
FUZZ_SECONDS ?= 60
include sources.mk
FUZZ_SRCS := tests/fuzz/fuzz_control.cpp $(FORKSCOPE_CORE_SOURCES) tests/host/platform_host.cpp
build/fuzz/fuzz_control: $(FUZZ_SRCS) $(wildcard include/*/*.h src/core/*.h)
	mkdir -p build/fuzz
	clang++ -std=gnu++20 -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -fno-exceptions -fno-rtti -DFORKSCOPE_HOST=1 \
		-Iinclude -Isrc/core -Itests/host -o $@ $(FUZZ_SRCS)
fuzz: build/fuzz/fuzz_control
	mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_control -max_total_time=$(FUZZ_SECONDS) -max_len=512 \
		-dict=tests/fuzz/control.dict -print_final_stats=1 build/fuzz/corpus

# A KASAN/lockdep/kmemleak/UBSAN 6.1 kernel, and forkscope's tests in it.
# SERIES=6.12 builds the 6.12 one (build/linux-debug-6.12) instead.
SERIES ?= 6.1
debug-kernel:
	scripts/debug-kernel --series $(SERIES)
check-debug:
	scripts/check-debug

# The storm: 4 vCPUs creating tasks every way while forkscope is read and
# toggled, then load/unload cycles under load (STORM_SECONDS per window).
STORM_SECONDS ?= 60
storm: module selftests
	scripts/storm --seconds $(STORM_SECONDS)

# The benchmark: forkscope and its peers side by side in one guest boot, as
# ratios to a baseline; writes BENCHMARKS.md and bench/*.svg
# (BENCH_ROUNDS, BENCH_ITERS, ...: see scripts/bench).
bench: module selftests
	scripts/bench

demo: setup
	$(MAKE) --no-print-directory module KVER=$$(cat build/kver) >build/demo-build.log 2>&1 || { tail -n 30 build/demo-build.log; exit 1; }
	$(MAKE) --no-print-directory selftests >>build/demo-build.log 2>&1 || { tail -n 30 build/demo-build.log; exit 1; }
	$(MAKE) --no-print-directory cli >>build/demo-build.log 2>&1 || { tail -n 30 build/demo-build.log; exit 1; }
	scripts/vm --log build/vm-demo.log --add scripts/demo-guest.sh:/opt/forkscope/demo.sh -- /opt/forkscope/demo.sh

# Not Kbuild's M= clean: it deletes every *.o, *.a and .*.cmd under M, and so
# the kernel trees in build/ (build/linux-debug lost its objects that way).
module-clean:
	rm -f forkscope.ko forkscope.o forkscope.mod forkscope.mod.c forkscope.mod.o \
		Module.symvers modules.order .forkscope.ko.cmd .forkscope.o.cmd .forkscope.mod.cmd \
		.forkscope.mod.o.cmd .Module.symvers.cmd .modules.order.cmd
	find src cxxrt \( -name '*.o' -o -name '.*.cmd' -o -name '*.o.d' \) -delete

clean: module-clean
	rm -rf build/cli build/forkscope build/host build/selftests build/check build/fuzz build/storm build/stress-ng-root \
		build/mod build/dkms
