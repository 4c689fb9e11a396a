// SPDX-License-Identifier: GPL-2.0
// What a load may allocate (the engine's tables and rings, one reader's
// buffers, the glue's kretprobe instances) and the bound it must stay under.
#ifndef FORKSCOPE_CORE_LOAD_BUDGET_H
#define FORKSCOPE_CORE_LOAD_BUDGET_H

#include <ktl/types.h>

#include "engine.h"

namespace forkscope {

// A load allocates at most the smaller of an absolute size and a share of RAM.
inline constexpr ktl::u64 kLoadBytesCap = ktl::u64{256} << 20;
inline constexpr ktl::u64 kLoadRamShare = 8;  // at most 1/8 of RAM

constexpr ktl::u64 saturating_add(ktl::u64 a, ktl::u64 b) {
  return a + b < a ? ktl::kU64Max : a + b;
}
constexpr ktl::u64 saturating_mul(ktl::u64 a, ktl::u64 b) {
  return a != 0 && b > ktl::kU64Max / a ? ktl::kU64Max : a * b;
}
constexpr ktl::u64 load_limit(ktl::u64 ram_bytes) {
  ktl::u64 share = ram_bytes / kLoadRamShare;
  return share < kLoadBytesCap ? share : kLoadBytesCap;
}

struct LoadCost {
  ktl::u64 engine = 0;   // Engine::init's allocations
  ktl::u64 reading = 0;  // the largest debugfs read's buffers (per reader)
  ktl::u64 probes = 0;   // the glue's kretprobe instances
  ktl::u64 total() const { return saturating_add(saturating_add(engine, reading), probes); }
};

LoadCost load_cost(const EngineConfig& config, ktl::u64 probe_bytes);
// The largest ring_records in [lo, hi] whose load fits limit (the other
// values as in config), or 0 if none does.
ktl::u32 largest_fitting_ring(EngineConfig config, ktl::u64 probe_bytes, ktl::u64 limit,
                              ktl::u32 lo, ktl::u32 hi);

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_LOAD_BUDGET_H
