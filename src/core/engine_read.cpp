// SPDX-License-Identifier: GPL-2.0
// The stage engine's process-context half: set-up, control, and the readers
// (counters, records, mismatches, slowest, statistics, trace_pipe).
#include <ktl/alloc_checker.h>
#include <ktl/spin_guard.h>
#include <ktl/utility.h>

#include "engine_state.h"
#include "probe_context.h"

namespace forkscope {

namespace {
// A trace_pipe cursor that must restart at its ring's oldest record without
// counting anything as lost (after a reset).
constexpr ktl::u64 kResync = ktl::kU64Max;

bool is_power_of_two(ktl::u32 value) { return value != 0 && (value & (value - 1)) == 0; }
}  // namespace

const char* decision_name(Decision decision) {
  // Indexed by Decision; "recorded" is what the counters file has always said.
  static constexpr const char* kNames[] = {"recorded", "filtered", "sampled_out", "disabled",
                                           "untracked"};
  static_assert(ktl::size(kNames) == kDecisionCount, "a name for every decision");
  auto index = static_cast<ktl::size_t>(decision);
  return index < kDecisionCount ? kNames[index] : "?";
}

Engine::Engine() {
  for (ktl::size_t a = 0; a < kAnchorCount; ++a) {
    auto anchor = static_cast<Anchor>(a);
    hot_[a] = AnchorHot{anchor_info(anchor).role, entry_boundary(anchor), return_boundary(anchor)};
  }
  for (ktl::size_t b = 0; b < kBoundaryCount; ++b) {
    boundary_anchor_[b] = boundary_anchor(static_cast<Boundary>(b));
  }
}
Engine::~Engine() {
  forkscope_platform_spinlock_destroy(filter_lock_);
  forkscope_platform_spinlock_destroy(bias_lock_);
  forkscope_platform_spinlock_destroy(pause_lock_);
}

int Engine::init(const EngineConfig& config) {
  if (config.nr_cpus == 0 || !is_power_of_two(config.inflight_slots) || config.ring_records == 0 ||
      config.top_n == 0 || !is_power_of_two(config.spawn_slots) || config.nr_cpus > kMaxCpus) {
    return -FORKSCOPE_EINVAL;
  }
  config_ = config;
  filter_lock_ = forkscope_platform_spinlock_create();
  bias_lock_ = forkscope_platform_spinlock_create();
  pause_lock_ = forkscope_platform_spinlock_create();
  if (filter_lock_ == nullptr || bias_lock_ == nullptr || pause_lock_ == nullptr) {
    return -FORKSCOPE_ENOMEM;
  }
  int err = cpus_.make();
  if (err == 0) err = cpus_->init(config.nr_cpus);
  for (ktl::u32 cpu = 0; err == 0 && cpu < config.nr_cpus; ++cpu) {
    CpuState& state = cpus_->at(cpu);
    state.generation = reset_generation_.load();
    state.id = cpu;
    err = state.ring.init(config.ring_records);
    if (err == 0) err = state.mismatches.init(kMismatchRing);
    if (err == 0) err = state.histograms.init(kStatRows * kKindCount);
    if (err == 0) err = state.slowest.init(config.top_n);
    if (err == 0) err = state.slowest_key.init(config.top_n);
  }
  if (err == 0) err = inflight_.make();
  if (err == 0) err = inflight_->init(config.inflight_slots);
  if (err == 0) err = spawns_.make();
  if (err == 0) err = spawns_->init(config.spawn_slots);
  if (err == 0) err = consumer_next_.init(config.nr_cpus);
  consumer_generation_ = reset_generation_.load();
  return err;
}

void Engine::request_reset() {
  reset_generation_.fetch_add(1);
  // The pauses since the reset: an open one counts from now.
  ktl::SpinGuard guard(pause_lock_);
  pauses_ = paused_ ? 1 : 0;
  paused_ns_ = 0;
  paused_since_ = forkscope_platform_now_ns();
}

void Engine::set_failures_paused(bool paused, ktl::u64 now) {
  ktl::SpinGuard guard(pause_lock_);
  if (paused == paused_) return;
  paused_ = paused;
  if (paused) {
    ++pauses_;
    paused_since_ = now;
  } else if (now > paused_since_) {
    paused_ns_ += now - paused_since_;
  }
}

void Engine::set_filter(const Filter& filter) {
  union {
    Filter filter;
    ktl::u64 words[sizeof(Filter) / 8];
  } next{};
  next.filter = filter;
  auto* shared = reinterpret_cast<ktl::u64*>(&filter_);
  ktl::SpinGuard guard(filter_lock_);
  filter_seq_.begin_write();
  for (ktl::size_t i = 0; i < sizeof(Filter) / 8; ++i) ktl::write_once(shared[i], next.words[i]);
  filter_seq_.end_write();
}

void Engine::set_bias(const BiasTable& table) {
  ktl::SpinGuard guard(bias_lock_);
  bias_ = table;
}

void Engine::bias(BiasTable* out) const {
  ktl::SpinGuard guard(bias_lock_);
  *out = bias_;
}

ktl::u64 Engine::bias_generation() const {
  ktl::SpinGuard guard(bias_lock_);
  return bias_.generation;
}

Filter Engine::filter() const {
  bool contended = false;
  return read_filter(&contended);
}

bool Engine::cpu_is_current(const CpuState& cpu) const {
  return __atomic_load_n(&cpu.generation, __ATOMIC_ACQUIRE) ==
         reset_generation_.load(ktl::MemoryOrder::kAcquire);
}

EngineCounters Engine::counters() const {
  EngineCounters sum;
  for (ktl::u32 i = 0; i < cpus_->size(); ++i) {
    const CpuState& cpu = cpus_->at(i);
    if (!cpu_is_current(cpu)) continue;  // reset requested, not yet applied: zero
    cpu.counters.add_to(&sum);
    // Records the consumer has not reached and that are already gone.
    ktl::u64 oldest = cpu.ring.oldest();
    if (consumer_generation_ == reset_generation_.load() && consumer_next_[i] != kResync &&
        consumer_next_[i] < oldest) {
      sum.ring_overwritten += oldest - consumer_next_[i];
    }
  }
  sum.ring_overwritten += consumer_lost_;
  sum.consumed = consumed_;
  sum.unattributed = unattributed_.load();
  {
    ktl::SpinGuard guard(pause_lock_);
    ktl::u64 now = forkscope_platform_now_ns();
    sum.failures_paused = paused_;
    sum.failures_pauses = pauses_;
    sum.failures_paused_ns =
        paused_ns_ + (paused_ && now > paused_since_ ? now - paused_since_ : 0);
  }
  // Slots held: every creation or exec begun and not yet finished.
  for (const InflightSlot& slot : inflight_->slots) {
    sum.in_flight += slot.owner.load(ktl::MemoryOrder::kRelaxed) != 0;
  }
  return sum;
}

namespace {

void sort_by(Record* records, ktl::size_t n, bool (*before)(const Record&, const Record&)) {
  // Insertion sort on a nearly sorted merge of per-CPU runs; n is bounded
  // by the ring sizes and this runs in process context.
  for (ktl::size_t i = 1; i < n; ++i) {
    Record moving = records[i];
    ktl::size_t j = i;
    while (j > 0 && before(moving, records[j - 1])) {
      records[j] = records[j - 1];
      --j;
    }
    records[j] = moving;
  }
}

}  // namespace

ktl::size_t Engine::collect_ring(RecordRing CpuState::*ring, Record* out, ktl::size_t max) const {
  ktl::size_t n = 0;
  for (ktl::u32 i = 0; i < cpus_->size() && n < max; ++i) {
    const CpuState& cpu = cpus_->at(i);
    if (!cpu_is_current(cpu)) continue;
    const RecordRing& records = cpu.*ring;
    ktl::u64 end = records.written();
    for (ktl::u64 index = records.oldest(); index < end && n < max; ++index) {
      if (records.read(index, &out[n])) ++n;
    }
  }
  sort_by(out, n, completed_before);
  return n;
}

ktl::size_t Engine::collect_records(Record* out, ktl::size_t max) const {
  return collect_ring(&CpuState::ring, out, max);
}

ktl::size_t Engine::collect_mismatches(Record* out, ktl::size_t max) const {
  return collect_ring(&CpuState::mismatches, out, max);
}

ktl::u64 Engine::slowness(const Record& record) {
  Partition partition;
  compute_record_partition(record, &partition);
  return slowness(partition);
}

ktl::size_t Engine::collect_slowest(Record* out, ktl::size_t max) const {
  ktl::size_t n = 0;
  for (ktl::u32 i = 0; i < cpus_->size() && n < max; ++i) {
    const CpuState& cpu = cpus_->at(i);
    if (!cpu_is_current(cpu)) continue;
    for (const RecordSlot& entry : cpu.slowest) {
      if (n == max) break;
      ktl::u64 index = entry.stored_index();
      if (index == ktl::kU64Max) continue;
      if (entry.read(index, &out[n])) ++n;
    }
  }
  // Ties in completion order, so the list does not depend on the CPUs' order.
  sort_by(out, n, [](const Record& a, const Record& b) {
    ktl::u64 sa = slowness(a), sb = slowness(b);
    return sa != sb ? sa > sb : completed_before(a, b);
  });
  return n < config_.top_n ? n : config_.top_n;
}

void Engine::collect_stats(StatsSnapshot* out) const {
  *out = StatsSnapshot{};
  for (ktl::u32 i = 0; i < cpus_->size(); ++i) {
    const CpuState& cpu = cpus_->at(i);
    if (!cpu_is_current(cpu)) continue;
    for (ktl::size_t row = 0; row < kStatRows; ++row) {
      for (ktl::size_t kind = 0; kind < kKindCount; ++kind) {
        cpu.histogram(row, kind).merge_into(out->rows[row][kind]);
      }
    }
  }
}

bool Engine::consume_next(Record* out) {
  ktl::u64 generation = reset_generation_.load();
  if (consumer_generation_ != generation) {
    for (ktl::u64& next : consumer_next_) next = kResync;
    consumer_generation_ = generation;
  }
  int best = -1;
  for (ktl::u32 i = 0; i < cpus_->size(); ++i) {
    const CpuState& cpu = cpus_->at(i);
    if (!cpu_is_current(cpu)) continue;
    ktl::u64 oldest = cpu.ring.oldest();
    if (consumer_next_[i] == kResync) consumer_next_[i] = oldest;
    if (consumer_next_[i] < oldest) {
      consumer_lost_ += oldest - consumer_next_[i];
      consumer_next_[i] = oldest;
    }
    // Each ring is in completion order; the oldest head among them is next.
    while (consumer_next_[i] < cpu.ring.written()) {
      Record* candidate = best < 0 ? out : &scratch_;
      if (!cpu.ring.read(consumer_next_[i], candidate)) {
        ++consumer_lost_;  // overwritten while being read
        ++consumer_next_[i];
        continue;
      }
      if (best < 0 || completed_before(*candidate, *out)) {
        if (candidate != out) *out = *candidate;
        best = static_cast<int>(i);
      }
      break;
    }
  }
  if (best < 0) return false;
  ++consumer_next_[best];
  ++consumed_;
  return true;
}

bool Engine::has_unconsumed() const {
  for (ktl::u32 i = 0; i < cpus_->size(); ++i) {
    const CpuState& cpu = cpus_->at(i);
    if (!cpu_is_current(cpu)) continue;
    ktl::u64 next = consumer_next_[i] == kResync ? cpu.ring.oldest() : consumer_next_[i];
    if (next < cpu.ring.written()) return true;
  }
  return false;
}

}  // namespace forkscope
