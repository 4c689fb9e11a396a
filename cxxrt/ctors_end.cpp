// SPDX-License-Identifier: GPL-2.0
// End marker of the module's .init_array; must be the last object linked.
#include <forkscope/cxxrt.h>

extern "C" __attribute__((section(".init_array"), used, aligned(8)))
fs_ctor_fn const fs_cxxrt_ctors_end[0] = {};
