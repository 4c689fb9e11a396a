// SPDX-License-Identifier: GPL-2.0
// End marker of the module's .init_array; must be the last object linked.
#include <forkscope/cxxrt.h>

extern "C" __attribute__((section(".init_array"), used, aligned(8)))
forkscope_ctor_fn const forkscope_cxxrt_ctors_end[0] = {};
