# SPDX-License-Identifier: GPL-2.0
# The one list of the C++ sources: read by Kbuild (the module), by
# tests/host/CMakeLists.txt (host tests) and by the Makefile (libFuzzer).

# The freestanding core, built into the module and the host binaries alike.
FORKSCOPE_CORE_SOURCES := \
	src/ktl/string_builder.cpp \
	cxxrt/alloc.cpp \
	cxxrt/operators.cpp \
	src/core/histogram.cpp \
	src/core/creation.cpp \
	src/core/stage_model.cpp \
	src/core/net.cpp \
	src/core/kernel_profile.cpp \
	src/core/record_ring.cpp \
	src/core/counters.cpp \
	src/core/engine_probe.cpp \
	src/core/engine_read.cpp \
	src/core/calibration.cpp \
	src/core/load_budget.cpp \
	src/core/event_view.cpp \
	src/core/format.cpp \
	src/core/control.cpp \
	src/core/detail.cpp \
	src/core/verdict.cpp \
	src/core/core_api.cpp

# Module only: __cxa_* and the .init_array runner (libstdc++ has them on the host).
FORKSCOPE_MODULE_SOURCES := \
	cxxrt/runtime.cpp
