// SPDX-License-Identifier: GPL-2.0
// The load budget's arithmetic: the engine's allocations and one reader's
// buffers for a configuration, and the largest ring that fits a limit.
#include "load_budget.h"

#include "engine_state.h"
#include "format.h"

namespace forkscope {

namespace {
// new T[n] of a type with a destructor stores n in front: one word more.
constexpr ktl::u64 kArrayCookie = 16;

constexpr ktl::u64 array_bytes(ktl::u64 n, ktl::u64 size) {
  return saturating_add(saturating_mul(n, size), kArrayCookie);
}
}  // namespace

// Mirrors init(): the same allocations, in the same order.
ktl::u64 Engine::bytes_for(const EngineConfig& c) {
  ktl::u64 per_cpu = sizeof(CpuState);
  per_cpu = saturating_add(per_cpu, array_bytes(c.ring_records, sizeof(RecordSlot)));
  per_cpu = saturating_add(per_cpu, array_bytes(kMismatchRing, sizeof(RecordSlot)));
  per_cpu = saturating_add(per_cpu, array_bytes(kStatRows * kKindCount, sizeof(Histogram)));
  per_cpu = saturating_add(per_cpu, array_bytes(c.top_n, sizeof(RecordSlot)));
  per_cpu = saturating_add(per_cpu, array_bytes(c.top_n, sizeof(ktl::u64)));
  ktl::u64 total = sizeof(Engine) + sizeof(PerCpu<CpuState>) + kArrayCookie;
  total = saturating_add(total, saturating_mul(c.nr_cpus, per_cpu));
  total = saturating_add(total, sizeof(TaskTable<InflightSlot>));
  total = saturating_add(total, array_bytes(c.inflight_slots, sizeof(InflightSlot)));
  total = saturating_add(total, sizeof(TaskTable<SpawnSlot>));
  total = saturating_add(total, array_bytes(c.spawn_slots, sizeof(SpawnSlot)));
  total = saturating_add(total, array_bytes(c.nr_cpus, sizeof(ktl::u64)));
  return total;
}

LoadCost load_cost(const EngineConfig& config, ktl::u64 probe_bytes) {
  LoadCost cost;
  cost.engine = Engine::bytes_for(config);
  // records (the largest ring reader, but for stats_net with a small ring): a copy of every record,
  // then its text; slowest: a copy of every per-CPU list, then its text.
  ktl::u64 ring = saturating_mul(config.ring_records, config.nr_cpus);
  ktl::u64 records = saturating_add(saturating_mul(ring, sizeof(Record) + kJsonLineMax), 512);
  ktl::u64 slow = saturating_mul(config.top_n, config.nr_cpus);
  ktl::u64 slowest =
      saturating_add(saturating_mul(slow, sizeof(Record) + kTraceLineMax + kStageCount * 64), 512);
  // stats_net: a copy of every record, its aggregation, its text.
  ktl::u64 net = saturating_add(saturating_mul(ring, sizeof(Record)),
                                sizeof(NetStats) + kArrayCookie + kStatsNetTextEstimate);
  cost.reading = records > slowest ? records : slowest;
  cost.reading = cost.reading > net ? cost.reading : net;
  cost.probes = probe_bytes;
  return cost;
}

ktl::u32 largest_fitting_ring(EngineConfig config, ktl::u64 probe_bytes, ktl::u64 limit,
                              ktl::u32 lo, ktl::u32 hi) {
  config.ring_records = lo;
  if (lo > hi || load_cost(config, probe_bytes).total() > limit) return 0;
  while (lo < hi) {  // cost(lo) fits; find the last ring that does
    ktl::u32 mid = lo + (hi - lo + 1) / 2;
    config.ring_records = mid;
    if (load_cost(config, probe_bytes).total() <= limit) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

}  // namespace forkscope
