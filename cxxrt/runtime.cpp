// SPDX-License-Identifier: GPL-2.0
// Module-only C++ runtime: __cxa_pure_virtual, __cxa_atexit, __dso_handle
// and the .init_array runner (the host gets these from libstdc++ and libc).
#include <forkscope/cxxrt.h>
#include <ktl/atomic.h>
#include <ktl/new.h>

#include "internal.h"

// Bracketing arrays from cxxrt/ctors_begin.cpp and ctors_end.cpp, linked
// first and last so the linker's input order puts every .init_array entry
// of the module's objects between them.
extern "C" forkscope_ctor_fn const forkscope_cxxrt_ctors_begin[];
extern "C" forkscope_ctor_fn const forkscope_cxxrt_ctors_end[];

namespace {

struct AtexitEntry {
  void (*fn)(void*);
  void* arg;
};

constexpr int kMaxAtexit = 64;
AtexitEntry g_atexit[kMaxAtexit];
int g_atexit_count;  // only touched at init and exit, which never overlap

}  // namespace

namespace std {
const nothrow_t nothrow{};
}  // namespace std

extern "C" {

void* __dso_handle = &__dso_handle;

int __cxa_atexit(void (*fn)(void*), void* arg, void* /*dso*/) {
  if (g_atexit_count == kMaxAtexit) {
    forkscope_platform_warn("cxxrt: too many static destructors");
    return -1;
  }
  g_atexit[g_atexit_count++] = {fn, arg};
  forkscope::cxxrt::note_dtor_registered();
  return 0;
}

void __cxa_pure_virtual() { forkscope::cxxrt::note_pure_virtual_call(); }

int forkscope_cxxrt_init(int run_ctors) {
  if (run_ctors)
    forkscope_cxxrt_run_ctors(forkscope_cxxrt_ctors_begin, forkscope_cxxrt_ctors_end);
  else
    forkscope::cxxrt::note_ctors_by_kernel();
  return 0;
}

void forkscope_cxxrt_exit(void) {
  while (g_atexit_count > 0) {
    AtexitEntry entry = g_atexit[--g_atexit_count];
    entry.fn(entry.arg);
  }
}

}  // extern "C"
