// SPDX-License-Identifier: GPL-2.0
// Declarations the compiler needs for placement, nothrow and aligned new.
// align_val_t and nothrow_t must live in namespace std for the C++ ABI; they
// are the only names of std the core may use (see ktl/poison.h).
#ifndef KTL_NEW_H
#define KTL_NEW_H

#include <ktl/types.h>

#if defined(FORKSCOPE_HOST)
#include <new>  // the host build links the real libstdc++ declarations
#else
namespace std {
enum class align_val_t : __SIZE_TYPE__ {};
struct nothrow_t {
  explicit nothrow_t() = default;
};
extern const nothrow_t nothrow;
}  // namespace std

void* operator new(__SIZE_TYPE__ size, const std::nothrow_t&) noexcept;
void* operator new[](__SIZE_TYPE__ size, const std::nothrow_t&) noexcept;
void* operator new(__SIZE_TYPE__ size, std::align_val_t align, const std::nothrow_t&) noexcept;
void* operator new[](__SIZE_TYPE__ size, std::align_val_t align, const std::nothrow_t&) noexcept;
void operator delete(void* ptr) noexcept;
void operator delete[](void* ptr) noexcept;
void operator delete(void* ptr, __SIZE_TYPE__ size) noexcept;
void operator delete[](void* ptr, __SIZE_TYPE__ size) noexcept;
void operator delete(void* ptr, std::align_val_t align) noexcept;
void operator delete(void* ptr, __SIZE_TYPE__ size, std::align_val_t align) noexcept;
void operator delete[](void* ptr, std::align_val_t align) noexcept;
void operator delete[](void* ptr, __SIZE_TYPE__ size, std::align_val_t align) noexcept;

inline void* operator new(__SIZE_TYPE__, void* where) noexcept { return where; }
inline void* operator new[](__SIZE_TYPE__, void* where) noexcept { return where; }
inline void operator delete(void*, void*) noexcept {}
#endif

#endif  // KTL_NEW_H
