// SPDX-License-Identifier: GPL-2.0
// Counted allocation over the platform allocator, the AllocChecker, and the
// fault latch. Built into the module and into the host tests.
#include <forkscope/cxxrt.h>
#include <ktl/alloc_checker.h>
#include <ktl/atomic.h>
#include <ktl/utility.h>

#include "internal.h"

namespace {

// Every block carries this header just before the pointer handed out, so
// frees are checked and live bytes are exact even for unsized delete.
struct alignas(16) AllocHeader {
  ktl::u64 size;
  ktl::u64 footprint;  // what the platform allocator holds for the block
  ktl::u32 magic;
  ktl::u32 offset;  // from the platform pointer to the user pointer
};
static_assert(sizeof(AllocHeader) == 32, "header keeps 16-byte alignment");

constexpr ktl::u32 kLiveMagic = 0xf0c5a11c;
constexpr ktl::u32 kFreedMagic = 0xf0c5dead;

struct Accounting {
  ktl::Atomic<ktl::u64> allocs;
  ktl::Atomic<ktl::u64> alloc_failures;
  ktl::Atomic<ktl::u64> live_allocs;
  ktl::Atomic<ktl::u64> live_bytes;
  ktl::Atomic<ktl::u64> live_footprint_bytes;
  ktl::Atomic<ktl::u64> bad_frees;
  ktl::Atomic<ktl::u64> unchecked_allocs;
  ktl::Atomic<ktl::u64> pure_virtual_calls;
  ktl::Atomic<ktl::u64> ctors_run;
  ktl::Atomic<ktl::u64> dtors_registered;
  ktl::Atomic<ktl::u64> ctors_by_kernel;
  ktl::Atomic<int> faulted;
};

// Constant-initialized: usable before any constructor has run.
constinit Accounting g_accounting;

void raise_fault(const char* what) {
  g_accounting.faulted.store(1);
  forkscope_platform_warn(what);
}

}  // namespace

extern "C" void* forkscope_cxxrt_alloc(forkscope_size_t size, forkscope_size_t align) {
  if (align < alignof(AllocHeader)) align = alignof(AllocHeader);
  if ((align & (align - 1)) != 0 || size > (forkscope_size_t{1} << 40)) {
    g_accounting.alloc_failures.fetch_add(1);
    return nullptr;
  }
  // Room for the header plus worst-case padding up to the alignment.
  forkscope_size_t extra = sizeof(AllocHeader) + (align > 16 ? align - 16 : 0);
  forkscope_size_t raw_size = size + extra;
  auto* raw = static_cast<char*>(forkscope_platform_alloc(raw_size));
  if (raw == nullptr) {
    g_accounting.alloc_failures.fetch_add(1);
    return nullptr;
  }
  auto first = reinterpret_cast<ktl::uintptr_t>(raw) + sizeof(AllocHeader);
  auto user = (first + align - 1) & ~(static_cast<ktl::uintptr_t>(align) - 1);
  auto* header = reinterpret_cast<AllocHeader*>(user) - 1;
  header->size = size;
  header->footprint = forkscope_platform_footprint(raw, raw_size);
  header->magic = kLiveMagic;
  header->offset = static_cast<ktl::u32>(user - reinterpret_cast<ktl::uintptr_t>(raw));
  g_accounting.allocs.fetch_add(1);
  g_accounting.live_allocs.fetch_add(1);
  g_accounting.live_bytes.fetch_add(size);
  g_accounting.live_footprint_bytes.fetch_add(header->footprint);
  return reinterpret_cast<void*>(user);
}

extern "C" void forkscope_cxxrt_free(void* ptr) {
  if (ptr == nullptr) return;
  auto* header = static_cast<AllocHeader*>(ptr) - 1;
  if (header->magic != kLiveMagic) {
    // A double free or a foreign pointer: leaking is safer than freeing.
    g_accounting.bad_frees.fetch_add(1);
    raise_fault("cxxrt: free of a pointer that is not a live allocation");
    return;
  }
  header->magic = kFreedMagic;
  g_accounting.live_allocs.fetch_sub(1);
  g_accounting.live_bytes.fetch_sub(header->size);
  g_accounting.live_footprint_bytes.fetch_sub(header->footprint);
  forkscope_platform_free(static_cast<char*>(ptr) - header->offset);
}

extern "C" forkscope_u64 forkscope_cxxrt_run_ctors(forkscope_ctor_fn const* begin,
                                                   forkscope_ctor_fn const* end) {
  forkscope_u64 ran = 0;
  for (forkscope_ctor_fn const* ctor = begin; ctor < end; ++ctor) {
    if (*ctor == nullptr) continue;
    (*ctor)();
    ++ran;
  }
  g_accounting.ctors_run.fetch_add(ran);
  return ran;
}

extern "C" void forkscope_cxxrt_get_stats(struct forkscope_cxxrt_stats* out) {
  out->ctors_run = g_accounting.ctors_run.load();
  out->ctors_by_kernel = g_accounting.ctors_by_kernel.load();
  out->dtors_registered = g_accounting.dtors_registered.load();
  out->allocs = g_accounting.allocs.load();
  out->alloc_failures = g_accounting.alloc_failures.load();
  out->live_allocs = g_accounting.live_allocs.load();
  out->live_bytes = g_accounting.live_bytes.load();
  out->live_footprint_bytes = g_accounting.live_footprint_bytes.load();
  out->bad_frees = g_accounting.bad_frees.load();
  out->unchecked_allocs = g_accounting.unchecked_allocs.load();
  out->pure_virtual_calls = g_accounting.pure_virtual_calls.load();
}

extern "C" int forkscope_cxxrt_faulted(void) { return g_accounting.faulted.load(); }

// Shared with runtime.cpp (module only).
namespace forkscope::cxxrt {
void note_pure_virtual_call() {
  g_accounting.pure_virtual_calls.fetch_add(1);
  raise_fault("cxxrt: pure virtual function called");
}
void note_dtor_registered() { g_accounting.dtors_registered.fetch_add(1); }

void note_ctors_by_kernel() { g_accounting.ctors_by_kernel.store(1); }
}  // namespace forkscope::cxxrt

namespace ktl {

AllocChecker::~AllocChecker() {
  if (state_ == State::kArmedSucceeded || state_ == State::kArmedFailed) {
    g_accounting.unchecked_allocs.fetch_add(1);
    raise_fault("cxxrt: AllocChecker result never checked");
  }
}

void AllocChecker::arm(size_t, bool succeeded) {
  if (state_ == State::kArmedSucceeded || state_ == State::kArmedFailed) {
    g_accounting.unchecked_allocs.fetch_add(1);
    raise_fault("cxxrt: AllocChecker re-armed before check");
  }
  state_ = succeeded ? State::kArmedSucceeded : State::kArmedFailed;
}

bool AllocChecker::check() {
  bool ok = state_ == State::kArmedSucceeded;
  state_ = State::kChecked;
  return ok;
}

}  // namespace ktl

void* operator new(__SIZE_TYPE__ size, ktl::AllocChecker& ac) noexcept {
  void* ptr = forkscope_cxxrt_alloc(size, 16);
  ac.arm(size, ptr != nullptr);
  return ptr;
}

void* operator new[](__SIZE_TYPE__ size, ktl::AllocChecker& ac) noexcept {
  void* ptr = forkscope_cxxrt_alloc(size, 16);
  ac.arm(size, ptr != nullptr);
  return ptr;
}

void* operator new(__SIZE_TYPE__ size, std::align_val_t align, ktl::AllocChecker& ac) noexcept {
  void* ptr = forkscope_cxxrt_alloc(size, static_cast<forkscope_size_t>(align));
  ac.arm(size, ptr != nullptr);
  return ptr;
}

void* operator new[](__SIZE_TYPE__ size, std::align_val_t align, ktl::AllocChecker& ac) noexcept {
  void* ptr = forkscope_cxxrt_alloc(size, static_cast<forkscope_size_t>(align));
  ac.arm(size, ptr != nullptr);
  return ptr;
}
