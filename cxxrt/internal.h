// SPDX-License-Identifier: GPL-2.0
// Declarations shared by the cxxrt sources only (alloc.cpp counts what
// runtime.cpp reports), and the ABI entry points the compiler calls.
#ifndef FORKSCOPE_CXXRT_INTERNAL_H
#define FORKSCOPE_CXXRT_INTERNAL_H

namespace forkscope::cxxrt {
void note_pure_virtual_call();
void note_dtor_registered();
void note_ctors_by_kernel();
}  // namespace forkscope::cxxrt

// Called by compiler-generated code: static destructors, pure virtual slots.
extern "C" int __cxa_atexit(void (*fn)(void*), void* arg, void* dso);
extern "C" void __cxa_pure_virtual();

#endif  // FORKSCOPE_CXXRT_INTERNAL_H
