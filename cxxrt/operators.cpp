// SPDX-License-Identifier: GPL-2.0
// Global operator new/delete (plain, array, sized, aligned, nothrow) over
// cxxrt's counted allocator; built into the module and the host tests alike.
#include <forkscope/cxxrt.h>
#include <ktl/new.h>

// Plain (throwing) new is left undefined in the module, as Fuchsia's
// stub-new does: without exceptions it cannot report failure, so any use of
// it is a bug that must fail at link time. Core code writes `new (ac) T`
// (ktl/alloc_checker.h) so a failure cannot go unchecked. The host build
// keeps them: GoogleTest and libstdc++ allocate through them.
#if defined(FORKSCOPE_HOST)
void* operator new(__SIZE_TYPE__ size) { return forkscope_cxxrt_alloc(size, 16); }
void* operator new[](__SIZE_TYPE__ size) { return forkscope_cxxrt_alloc(size, 16); }
void* operator new(__SIZE_TYPE__ size, std::align_val_t align) {
  return forkscope_cxxrt_alloc(size, static_cast<forkscope_size_t>(align));
}
void* operator new[](__SIZE_TYPE__ size, std::align_val_t align) {
  return forkscope_cxxrt_alloc(size, static_cast<forkscope_size_t>(align));
}
#endif
void* operator new(__SIZE_TYPE__ size, const std::nothrow_t&) noexcept {
  return forkscope_cxxrt_alloc(size, 16);
}
void* operator new[](__SIZE_TYPE__ size, const std::nothrow_t&) noexcept {
  return forkscope_cxxrt_alloc(size, 16);
}
void* operator new(__SIZE_TYPE__ size, std::align_val_t align, const std::nothrow_t&) noexcept {
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
