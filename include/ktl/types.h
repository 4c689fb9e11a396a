// SPDX-License-Identifier: GPL-2.0
// Fixed-width types for the freestanding core, from the compiler's own macros
// (no libc or kernel headers), identical in the module and host builds.
#ifndef KTL_TYPES_H
#define KTL_TYPES_H

#include <forkscope/platform.h>

namespace ktl {

using u8 = __UINT8_TYPE__;
using u16 = __UINT16_TYPE__;
using u32 = __UINT32_TYPE__;
using u64 = forkscope_u64;
using s32 = __INT32_TYPE__;
using s64 = forkscope_s64;
using size_t = __SIZE_TYPE__;
using uintptr_t = __UINTPTR_TYPE__;
using nullptr_t = decltype(nullptr);

inline constexpr u64 kU64Max = ~u64{0};
inline constexpr size_t kCacheLine = 64;

}  // namespace ktl

#endif  // KTL_TYPES_H
