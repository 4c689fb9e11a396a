// SPDX-License-Identifier: GPL-2.0
// Global operator new/delete (plain, array, sized, aligned, nothrow) over
// cxxrt's counted allocator; built into the module and the host tests alike.
#include <forkscope/cxxrt.h>
#include <ktl/new.h>

// Plain new may return null here (there are no exceptions); the module is
// built with -fcheck-new so constructors are skipped on failure. Core code
// uses `new (ac) T` so the failure cannot go unchecked.
void* operator new(__SIZE_TYPE__ size) { return forkscope_cxxrt_alloc(size, 16); }
void* operator new[](__SIZE_TYPE__ size) { return forkscope_cxxrt_alloc(size, 16); }
void* operator new(__SIZE_TYPE__ size, const std::nothrow_t&) noexcept {
  return forkscope_cxxrt_alloc(size, 16);
}
void* operator new[](__SIZE_TYPE__ size, const std::nothrow_t&) noexcept {
  return forkscope_cxxrt_alloc(size, 16);
}
void* operator new(__SIZE_TYPE__ size, std::align_val_t align) {
  return forkscope_cxxrt_alloc(size, static_cast<forkscope_size_t>(align));
}
void* operator new(__SIZE_TYPE__ size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return forkscope_cxxrt_alloc(size, static_cast<forkscope_size_t>(align));
}
void* operator new[](__SIZE_TYPE__ size, std::align_val_t align) {
  return forkscope_cxxrt_alloc(size, static_cast<forkscope_size_t>(align));
}
void* operator new[](__SIZE_TYPE__ size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return forkscope_cxxrt_alloc(size, static_cast<forkscope_size_t>(align));
}
void operator delete(void* ptr) noexcept { forkscope_cxxrt_free(ptr); }
void operator delete[](void* ptr) noexcept { forkscope_cxxrt_free(ptr); }
void operator delete(void* ptr, __SIZE_TYPE__) noexcept { forkscope_cxxrt_free(ptr); }
void operator delete[](void* ptr, __SIZE_TYPE__) noexcept { forkscope_cxxrt_free(ptr); }
void operator delete(void* ptr, std::align_val_t) noexcept { forkscope_cxxrt_free(ptr); }
void operator delete(void* ptr, __SIZE_TYPE__, std::align_val_t) noexcept {
  forkscope_cxxrt_free(ptr);
}
void operator delete[](void* ptr, std::align_val_t) noexcept { forkscope_cxxrt_free(ptr); }
void operator delete[](void* ptr, __SIZE_TYPE__, std::align_val_t) noexcept {
  forkscope_cxxrt_free(ptr);
}
