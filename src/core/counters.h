// SPDX-License-Identifier: GPL-2.0
// Creation counters: what the probes saw, per CPU on the hot path, summed on
// read. Every event lands in exactly one counter, so nothing is lost silently.
#ifndef FORKSCOPE_CORE_COUNTERS_H
#define FORKSCOPE_CORE_COUNTERS_H

#include <ktl/atomic.h>
#include <ktl/types.h>

#include "per_cpu.h"

namespace forkscope {

struct CounterTotals {
  ktl::u64 clone_returns = 0;   // kernel_clone returns seen
  ktl::u64 creations = 0;       // of those, successful (child pid > 0)
  ktl::u64 clone_failures = 0;  // of those, -errno
  ktl::u64 unattributed = 0;    // events on a CPU id beyond the table
};

class Counters {
 public:
  int init(unsigned int nr_cpus) { return per_cpu_.init(nr_cpus); }

  // Probe context.
  void on_clone_return(ktl::s64 ret);

  CounterTotals totals() const;

 private:
  struct Slot {
    ktl::OwnedCounter clone_returns;
    ktl::OwnedCounter creations;
    ktl::OwnedCounter clone_failures;
  };
  PerCpu<Slot> per_cpu_;
  ktl::Atomic<ktl::u64> unattributed_;
};

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_COUNTERS_H
