// SPDX-License-Identifier: GPL-2.0
// The engine's internal state, shared by its probe-context half
// (engine_probe.cpp) and its read side (engine_read.cpp); not a public API.
#ifndef FORKSCOPE_CORE_ENGINE_STATE_H
#define FORKSCOPE_CORE_ENGINE_STATE_H

#include <ktl/atomic.h>
#include <ktl/unique_ptr.h>

#include "engine.h"

namespace forkscope {

// One creation in progress, owned by the task that runs it.
struct InflightSlot {
  ktl::Atomic<ktl::uintptr_t> owner;  // task pointer; 0 = free
  Record record;
};

// A child that has been forked and has not yet exec'd or exited.
struct Engine::SpawnSlot {
  ktl::Atomic<ktl::uintptr_t> owner;  // the child's task pointer; 0 = free
  ktl::s32 pid;
  ktl::s32 parent_pid;
  ktl::s32 parent_tgid;
  char comm[kCommLength];
  ktl::u64 fork_start_ns;
  ktl::u64 forked_ns;
  Kind kind;
};

// Open addressing keyed by task pointer, probing a bounded window: lookups
// and claims are O(1) in the worst case, and a full window is the caller's
// to count.
template <typename Slot>
struct Engine::TaskTable {
  static constexpr ktl::u32 kWindow = 16;
  ktl::Array<Slot> slots;
  ktl::u32 mask = 0;

  [[nodiscard]] int init(ktl::u32 size) {  // size: a power of two
    mask = size - 1;
    return slots.init(size);
  }
  ktl::u32 home(ktl::uintptr_t task) const {
    return static_cast<ktl::u32>(((task >> 6) * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
  }
  [[gnu::always_inline]] Slot* find(ktl::uintptr_t task) {
    ktl::u32 at = home(task);
    for (ktl::u32 i = 0; i < kWindow; ++i) {
      Slot* slot = &slots[(at + i) & mask];
      if (slot->owner.load(ktl::MemoryOrder::kRelaxed) == task) return slot;
    }
    return nullptr;
  }
  // The task's slot: the one it already owns (*already_owned set: a
  // leftover), else a newly claimed one; nullptr if the window is full.
  Slot* find_or_claim(ktl::uintptr_t task, bool* already_owned) {
    *already_owned = false;
    if (Slot* slot = find(task)) {
      *already_owned = true;
      return slot;
    }
    ktl::u32 at = home(task);
    for (ktl::u32 i = 0; i < kWindow; ++i) {
      Slot* slot = &slots[(at + i) & mask];
      ktl::uintptr_t expected = 0;
      if (slot->owner.compare_exchange(expected, task, ktl::MemoryOrder::kAcquire)) return slot;
    }
    return nullptr;
  }
  static void release(Slot* slot) { slot->owner.store(0, ktl::MemoryOrder::kRelease); }
};

struct alignas(ktl::kCacheLine) Engine::CpuState {
  ktl::u64 generation = 0;  // reset generation this CPU's data belongs to
  ktl::u32 id = 0;          // this CPU's number: the low bits of its records' seq
  // Records this CPU finished: their seq's count. Only its owner touches it
  // (preemption off), so a plain increment; never reset, so ids stay unique.
  ktl::u64 finished = 0;
  CpuCounters counters;
  ktl::u32 sample_tick = 0;
  RecordRing ring;
  RecordRing mismatches;
  ktl::Array<Histogram> histograms;  // [kStatRows][kKindCount]
  ktl::Array<RecordSlot> slowest;    // top_n entries
  ktl::Array<ktl::u64> slowest_key;  // owner's copy of each entry's slowness
  ktl::u32 slowest_used = 0;
  ktl::u32 slowest_victim = 0;  // index of the smallest key once full
  ktl::u64 slowest_writes = 0;
  Record scratch;  // spawn records are built here: too big for a kernel stack

  Histogram& histogram(ktl::size_t row, Kind kind) {
    return histograms[row * kKindCount + static_cast<ktl::size_t>(kind)];
  }
  const Histogram& histogram(ktl::size_t row, ktl::size_t kind) const {
    return histograms[row * kKindCount + kind];
  }

  void reset_data() {
    counters.reset();
    ring.reset();
    mismatches.reset();
    for (Histogram& h : histograms) h.reset();
    for (RecordSlot& entry : slowest) entry.clear();
    slowest_used = 0;
  }
};

// Inlined into the handlers (so into .kprobes.text): the per-crossing work.
[[gnu::always_inline]] inline InflightSlot* Engine::find_slot(const void* task) {
  return inflight_->find(reinterpret_cast<ktl::uintptr_t>(task));
}

// No per-CPU state here: a step's boundary touches only its creation's
// slot; the record's repeats and step entries are counted when it ends.
[[gnu::always_inline]] inline void Engine::mark(InflightSlot* slot, Boundary boundary,
                                                ktl::u64 now) {
  Record& record = slot->record;
  if (boundary >= kBoundaryCount) return;  // not a fork anchor
  ktl::u64 bit = ktl::u64{1} << boundary;
  if (record.present & bit) {
    if (record.repeated_boundaries != 0xffff) ++record.repeated_boundaries;
    return;
  }
  record.present |= bit;
  record.boundary_ns[boundary] = now;
}

// The hot case, a step inside a tracked creation: its slot, or nullptr.
[[gnu::always_inline]] inline InflightSlot* Engine::tracked_step(const AnchorHot& hot,
                                                                 const void* task) {
  if (hot.role != AnchorRole::kStep) return nullptr;
  InflightSlot* slot = find_slot(task);
  return slot != nullptr && !slot->record.is_exec() ? slot : nullptr;
}

// The tracked-step path with per-call data: true when it took the entry.
[[gnu::always_inline]] inline bool Engine::enter_tracked_step(const AnchorHot& hot,
                                                              const void* task, ProbeData* data,
                                                              ktl::u64 now) {
  InflightSlot* slot = tracked_step(hot, task);
  if (slot == nullptr) return false;
  data->slot = slot;
  data->began_here = false;
  data->decision = Decision::kRecorded;
  mark(slot, hot.entry, now);
  return true;
}

[[gnu::always_inline]] inline void Engine::step_entry_inline(Anchor anchor, const void* task,
                                                             ktl::u64 now) {
  const AnchorHot& hot = hot_[static_cast<ktl::size_t>(anchor)];
  if (InflightSlot* slot = tracked_step(hot, task)) {
    mark(slot, hot.entry, now);
    return;
  }
  step_entry_slow(anchor, task, now);
}

[[gnu::always_inline]] inline int Engine::entry_inline(Anchor anchor, const void* task,
                                                       ProbeData* data, ktl::u64 now) {
  const AnchorHot& hot = hot_[static_cast<ktl::size_t>(anchor)];
  if (enter_tracked_step(hot, task, data, now)) return 0;
  return on_entry(anchor, task, data, nullptr, now);
}

[[gnu::always_inline]] inline void Engine::site_return_inline(Anchor anchor, const void* task,
                                                              ktl::u64 now) {
  InflightSlot* slot = find_slot(task);
  if (slot == nullptr) return;  // its entry was counted as other
  const AnchorHot& hot = hot_[static_cast<ktl::size_t>(anchor)];
  // A jump can land on the instruction after a call without making it:
  // only a call this creation entered has a return.
  if (!slot->record.is_exec() && hot.entry < kBoundaryCount &&
      (slot->record.present & (ktl::u64{1} << hot.entry)) != 0) {
    mark(slot, hot.ret, now);
    return;
  }
  site_return_slow(slot, anchor, now);
}

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_ENGINE_STATE_H
