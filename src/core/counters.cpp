// SPDX-License-Identifier: GPL-2.0
// Creation counters: hot-path updates and read-side sums.
#include "counters.h"

#include "probe_context.h"

namespace forkscope {

FS_PROBE_CONTEXT void Counters::on_clone_return(ktl::s64 ret) {
  Slot* slot = per_cpu_.this_cpu();
  if (slot == nullptr) {
    unattributed_.fetch_add(1, ktl::MemoryOrder::kRelaxed);
    return;
  }
  slot->clone_returns.add(1);
  if (ret > 0) {
    slot->creations.add(1);
  } else {
    slot->clone_failures.add(1);
  }
}

CounterTotals Counters::totals() const {
  CounterTotals sum;
  for (unsigned int cpu = 0; cpu < per_cpu_.size(); ++cpu) {
    const Slot& slot = per_cpu_.at(cpu);
    sum.clone_returns += slot.clone_returns.read();
    sum.creations += slot.creations.read();
    sum.clone_failures += slot.clone_failures.read();
  }
  sum.unattributed = unattributed_.load(ktl::MemoryOrder::kRelaxed);
  return sum;
}

}  // namespace forkscope
