// SPDX-License-Identifier: GPL-2.0
// PerCpu<T>: one cache-line-aligned T per possible CPU, allocated once at
// init; the owner CPU writes its slot without locks, readers sum all slots.
#ifndef FORKSCOPE_CORE_PER_CPU_H
#define FORKSCOPE_CORE_PER_CPU_H

#include <forkscope/platform.h>
#include <ktl/alloc_checker.h>
#include <ktl/types.h>
#include <ktl/unique_ptr.h>

namespace forkscope {

template <typename T>
class PerCpu {
 public:
  PerCpu() = default;
  PerCpu(const PerCpu&) = delete;
  PerCpu& operator=(const PerCpu&) = delete;

  // May sleep. Returns 0 or -FORKSCOPE_ENOMEM.
  [[nodiscard]] int init(unsigned int nr_cpus) {
    int err = slots_.init(nr_cpus);
    nr_cpus_ = err == 0 ? nr_cpus : 0;
    return err;
  }

  // The calling CPU's slot, or nullptr for an id beyond the table (which
  // the caller counts; nr_cpu_ids makes it impossible in the module).
  __attribute__((always_inline)) T* this_cpu() {
    unsigned int cpu = forkscope_platform_cpu();
    return cpu < nr_cpus_ ? &slots_[cpu].value : nullptr;
  }
  T& at(unsigned int cpu) { return slots_[cpu].value; }
  const T& at(unsigned int cpu) const { return slots_[cpu].value; }
  unsigned int size() const { return nr_cpus_; }

 private:
  struct alignas(ktl::kCacheLine) Slot {
    T value;
  };
  ktl::Array<Slot> slots_;
  unsigned int nr_cpus_ = 0;
};

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_PER_CPU_H
