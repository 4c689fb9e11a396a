// SPDX-License-Identifier: GPL-2.0
// The stage engine's probe-context half: what the handlers run for every
// anchor crossing, and what a finished creation, exec or spawn feeds.
// Everything here is in .kprobes.text (FORKSCOPE_PROBE_CONTEXT).
#include <ktl/utility.h>

#include "engine_state.h"
#include "event_view.h"
#include "probe_context.h"

namespace forkscope {

// The calling CPU's state, reset lazily by its owner after a reset request
// so no handler ever races with a reset.
FORKSCOPE_PROBE_CONTEXT Engine::CpuState* Engine::cpu_state() {
  CpuState* cpu = cpus_->this_cpu();
  if (cpu == nullptr) {
    unattributed_.fetch_add(1, ktl::MemoryOrder::kRelaxed);
    return nullptr;
  }
  ktl::u64 generation = reset_generation_.load(ktl::MemoryOrder::kAcquire);
  if (cpu->generation != generation) {
    cpu->reset_data();
    __atomic_store_n(&cpu->generation, generation, __ATOMIC_RELEASE);
  }
  return cpu;
}

FORKSCOPE_PROBE_CONTEXT Decision Engine::decide(const CreationArgs& args, Kind kind,
                                                CpuState* cpu) {
  if (!enabled_.load(ktl::MemoryOrder::kRelaxed)) return Decision::kDisabled;
  bool contended = false;
  Filter filter = read_filter(&contended);
  if (contended) cpu->counters.filter_contended.add(1);
  if (filter.active && !filter.matches(args.pid, args.tgid, args.comm, kind)) {
    return Decision::kFiltered;
  }
  ktl::u32 every = sample_every_.load(ktl::MemoryOrder::kRelaxed);
  if (every > 1) {
    ktl::u32 tick = cpu->sample_tick++;
    if (tick % every != 0) return Decision::kSampledOut;
  }
  return Decision::kRecorded;
}

// The calling task's in-flight slot for a new creation or exec; a slot it
// still owns from one that never finished is reused (and counted).
FORKSCOPE_PROBE_CONTEXT InflightSlot* Engine::claim_slot(const void* task, CpuState* cpu) {
  bool leftover = false;
  InflightSlot* slot = inflight_->find_or_claim(reinterpret_cast<ktl::uintptr_t>(task), &leftover);
  if (leftover) cpu->counters.stale_slots.add(1);
  return slot;
}

namespace {

// The fields every record starts with: who, which kind, where it began.
FORKSCOPE_PROBE_CONTEXT void begin_record(Record& record, EventType event, Kind kind, ktl::s32 pid,
                                          ktl::s32 tgid, const char* comm, const char* reason) {
  record.event = event;
  record.kind = kind;
  record.present = 0;
  record.parent_pid = pid;
  record.parent_tgid = tgid;
  ktl::copy_bytes(record.comm, comm, kCommLength);
  record.comm[kCommLength - 1] = '\0';
  record.ret = 0;
  record.child_pid = 0;
  record.cpu_start = static_cast<ktl::u16>(forkscope_platform_cpu());
  record.repeated_boundaries = 0;
  record.verdict = Verdict{};
  record.verdict.reason = reason;
  record.exec.event_count = 0;
  record.exec.events_dropped = 0;
  record.exec.filename[0] = '\0';
  record.exec.new_comm[0] = '\0';
}

}  // namespace

FORKSCOPE_PROBE_CONTEXT int Engine::begin_creation(Anchor anchor, const void* task, ProbeData* data,
                                                   const CreationArgs& args, ktl::u64 now,
                                                   CpuState* cpu) {
  Kind kind = classify(args.request);
  data->began_here = true;
  data->slot = nullptr;
  data->decision = decide(args, kind, cpu);
  if (data->decision == Decision::kRecorded) {
    InflightSlot* slot = claim_slot(task, cpu);
    if (slot == nullptr) {
      data->decision = Decision::kUntracked;
    } else {
      Record& record = slot->record;
      begin_record(record, EventType::kFork, kind, args.pid, args.tgid, args.comm,
                   "creation did not reach copy_process");
      record.request = args.request;
      predict(args.request, args.caller, &record.prediction);
      record.observation = Observation{};
      data->slot = slot;
      mark(slot, hot_[static_cast<ktl::size_t>(anchor)].entry, now);
    }
  }
  // kernel_clone's return is needed to finish a recorded creation or to
  // count the outcome of any other: keep the return probe.
  return 0;
}

FORKSCOPE_PROBE_CONTEXT int Engine::on_entry(Anchor anchor, const void* task, ProbeData* data,
                                             const CreationArgs* args, ktl::u64 now) {
  auto index = static_cast<ktl::size_t>(anchor);
  const AnchorHot& hot = hot_[index];
  const AnchorRole role = hot.role;
  // Without args the caller (entry_inline, step_entry_slow) has tried the
  // tracked-step path already: do not look the slot up twice on a miss.
  if (args != nullptr && enter_tracked_step(hot, task, data, now)) return 0;
  CpuState* cpu = cpu_state();
  if (cpu == nullptr) return 1;
  if (role == AnchorRole::kCreationStart) {
    cpu->counters.anchor_tracked[index].add(1);
    return begin_creation(anchor, task, data, *args, now, cpu);
  }
  if (role == AnchorRole::kExecStart) {
    cpu->counters.anchor_tracked[index].add(1);
    return begin_exec(task, data, *args, now, cpu);
  }
  if (role == AnchorRole::kExit) {
    finish_spawn(task, nullptr, now, cpu);
    return 1;  // do_exit never returns
  }
  InflightSlot* slot = find_slot(task);
  data->slot = slot;
  data->began_here = false;
  data->decision = slot != nullptr ? Decision::kRecorded : Decision::kUntracked;
  if (role == AnchorRole::kCopyProcess && slot == nullptr && args != nullptr &&
      args->request.io_thread) {
    // create_io_thread calls copy_process without kernel_clone.
    cpu->counters.anchor_tracked[index].add(1);
    return begin_creation(anchor, task, data, *args, now, cpu);
  }
  if (slot == nullptr) {
    cpu->counters.anchor_other[index].add(1);
    // copy_process's return counts every creation, recorded or not.
    return role == AnchorRole::kCopyProcess ? 0 : 1;
  }
  cpu->counters.anchor_tracked[index].add(1);
  if (slot->record.is_exec()) {
    if (role == AnchorRole::kExecFilename && args != nullptr && args->filename != nullptr) {
      char* name = slot->record.exec.filename;
      ktl::size_t n = 0;
      while (n + 1 < kFilenameLength && args->filename[n] != '\0') {
        name[n] = args->filename[n];
        ++n;
      }
      name[n] = '\0';
    }
    log_exec(slot, anchor, false, now, cpu);
    return 0;
  }
  mark(slot, hot.entry, now);
  return 0;
}

FORKSCOPE_PROBE_CONTEXT void Engine::on_step_entry(Anchor anchor, const void* task, ktl::u64 now) {
  step_entry_inline(anchor, task, now);
}

FORKSCOPE_PROBE_CONTEXT void Engine::step_entry_slow(Anchor anchor, const void* task,
                                                     ktl::u64 now) {
  ProbeData unused;  // no return handler reads it
  on_entry(anchor, task, &unused, nullptr, now);
}

FORKSCOPE_PROBE_CONTEXT int Engine::begin_exec(const void* task, ProbeData* data,
                                               const CreationArgs& args, ktl::u64 now,
                                               CpuState* cpu) {
  data->began_here = true;
  data->slot = nullptr;
  data->decision = decide(args, Kind::kExec, cpu);
  if (data->decision != Decision::kRecorded) return 0;  // the return still counts it
  InflightSlot* slot = claim_slot(task, cpu);
  if (slot == nullptr) {
    data->decision = Decision::kUntracked;
    return 0;
  }
  Record& record = slot->record;
  begin_record(record, EventType::kExec, Kind::kExec, args.pid, args.tgid, args.comm,
               "not a creation");
  record.request = CloneRequest{};
  record.exec.start_ns = now;
  data->slot = slot;
  log_exec(slot, Anchor::kDoExecveatCommon, false, now, cpu);
  return 0;
}

FORKSCOPE_PROBE_CONTEXT void Engine::log_exec(InflightSlot* slot, Anchor anchor, bool is_return,
                                              ktl::u64 now, CpuState* cpu) {
  ExecFacts& exec = slot->record.exec;
  // Keep the last slot for the exec's own return so the span always closes.
  bool closing = is_return && anchor == Anchor::kDoExecveatCommon;
  ktl::size_t needed = exec.event_count + (closing ? 1u : 2u);
  if (needed > kMaxExecEvents) {
    ++exec.events_dropped;
    cpu->counters.exec_events_dropped.add(1);
    return;
  }
  ktl::u64 offset = now - exec.start_ns;
  ExecEvent& event = exec.events[exec.event_count++];
  event.offset_ns = offset > 0xffffffffULL ? 0xffffffffU : static_cast<ktl::u32>(offset);
  event.anchor = anchor;
  event.is_return = is_return;
}

FORKSCOPE_PROBE_CONTEXT void Engine::count_outcome(Decision decision, bool ok, CpuState* cpu) {
  auto index = static_cast<ktl::size_t>(decision);
  if (ok) {
    cpu->counters.by_decision[index].add(1);
  } else {
    cpu->counters.clone_failures.add(1);
    cpu->counters.failures_by_decision[index].add(1);
  }
}

FORKSCOPE_PROBE_CONTEXT void Engine::on_return(Anchor anchor, ProbeData* data,
                                               const ReturnFacts& facts, ktl::u64 now) {
  CpuState* cpu = cpu_state();
  if (cpu == nullptr) return;
  const AnchorHot& hot = hot_[static_cast<ktl::size_t>(anchor)];
  const AnchorRole role = hot.role;
  InflightSlot* slot = data->slot;
  ktl::s64 retval = facts.retval;
  if (role == AnchorRole::kExecStart) {
    cpu->counters.execs.add(1);
    if (retval != 0) cpu->counters.exec_failures.add(1);
    cpu->counters.exec_by_decision[static_cast<ktl::size_t>(data->decision)].add(1);
    if (slot != nullptr) finish_exec(slot, facts, now, cpu);
    return;
  }
  if (slot != nullptr && slot->record.is_exec()) {
    log_exec(slot, anchor, true, now, cpu);
    return;
  }
  if (role == AnchorRole::kCopyProcess) {
    if (retval == 0) {
      if (!creations_at_newtask_.load(ktl::MemoryOrder::kRelaxed)) cpu->counters.creations.add(1);
    } else {
      cpu->counters.copy_process_failures.add(1);
    }
    if (slot != nullptr) {
      mark(slot, hot.ret, now);
      Record& record = slot->record;
      record.child_pid = facts.child_pid;
      if (facts.observation != nullptr) record.observation = *facts.observation;
      record.verdict = judge(record.prediction, retval, record.observation);
      // Before the child can run: it may exec before its parent returns (vfork).
      if (retval == 0 && facts.child_task != nullptr) {
        begin_spawn(record, facts.child_task, now, cpu);
      }
    }
    if (!data->began_here) return;
    // An io worker: its creation ends with copy_process.
    ktl::s64 ret = retval == 0 ? facts.child_pid : retval;
    count_outcome(data->decision, retval == 0, cpu);
    if (slot != nullptr) finish_creation(slot, ret, now, cpu);
    return;
  }
  if (role == AnchorRole::kCreationStart) {
    count_outcome(data->decision, retval > 0, cpu);
    if (slot != nullptr) {
      mark(slot, hot.ret, now);
      finish_creation(slot, retval, now, cpu);
    }
    return;
  }
  if (slot != nullptr) mark(slot, hot.ret, now);
}

FORKSCOPE_PROBE_CONTEXT void Engine::on_step_return(Anchor anchor, ProbeData* data, ktl::u64 now) {
  const AnchorHot& hot = hot_[static_cast<ktl::size_t>(anchor)];
  InflightSlot* slot = data->slot;
  if (hot.role == AnchorRole::kStep && slot != nullptr && !slot->record.is_exec()) {
    mark(slot, hot.ret, now);
    return;
  }
  ReturnFacts facts;
  on_return(anchor, data, facts, now);
}

FORKSCOPE_PROBE_CONTEXT void Engine::on_new_task(bool bucketed_at_return) {
  if (!creations_at_newtask_.load(ktl::MemoryOrder::kRelaxed)) return;
  CpuState* cpu = cpu_state();
  if (cpu == nullptr) return;
  cpu->counters.creations.add(1);
  // No return will bucket it: kernel_clone was disarmed at its entry
  // (disabled, or not yet re-armed), or an io worker's copy_process was.
  if (!bucketed_at_return)
    cpu->counters.by_decision[static_cast<ktl::size_t>(Decision::kDisabled)].add(1);
}

FORKSCOPE_PROBE_CONTEXT void Engine::on_unseen_exec() {
  if (!execs_at_exec_tp_.load(ktl::MemoryOrder::kRelaxed)) return;
  CpuState* cpu = cpu_state();
  if (cpu == nullptr) return;
  cpu->counters.execs.add(1);
  cpu->counters.exec_by_decision[static_cast<ktl::size_t>(Decision::kDisabled)].add(1);
}

FORKSCOPE_PROBE_CONTEXT bool Engine::buckets_at_return(Anchor anchor, const ProbeData& data) {
  // kernel_clone's return always counts its outcome; copy_process's only
  // for a creation that began there (an io worker).
  const AnchorRole role = anchor_info(anchor).role;
  return role == AnchorRole::kCreationStart ||
         (role == AnchorRole::kCopyProcess && data.began_here);
}

FORKSCOPE_PROBE_CONTEXT void Engine::on_site_return(Anchor anchor, const void* task, ktl::u64 now) {
  site_return_inline(anchor, task, now);
}

// An exec's crossing, or a return whose entry this creation did not see.
FORKSCOPE_PROBE_CONTEXT void Engine::site_return_slow(InflightSlot* slot, Anchor anchor,
                                                      ktl::u64 now) {
  CpuState* cpu = cpu_state();
  if (cpu == nullptr) return;
  if (slot->record.is_exec()) {
    log_exec(slot, anchor, true, now, cpu);
  } else {
    cpu->counters.unpaired_returns.add(1);
  }
}

FORKSCOPE_PROBE_CONTEXT void Engine::finish_exec(InflightSlot* slot, const ReturnFacts& facts,
                                                 ktl::u64 now, CpuState* cpu) {
  log_exec(slot, Anchor::kDoExecveatCommon, true, now, cpu);
  Record& record = slot->record;
  record.ret = facts.retval;
  if (facts.comm != nullptr) {
    ktl::copy_bytes(record.exec.new_comm, facts.comm, kCommLength);
    record.exec.new_comm[kCommLength - 1] = '\0';
  }
  record.cpu_end = static_cast<ktl::u16>(forkscope_platform_cpu());
  stamp(record, now, cpu);
  Partition partition;
  compute_exec_partition(record.exec.events, record.exec.event_count, &partition);
  if (partition.dropped_boundaries != 0) {
    cpu->counters.dropped_boundaries.add(partition.dropped_boundaries);
  }
  publish(record, partition, facts.retval == 0, cpu);
  // After the exec's own record: the same end_ns, the next count.
  if (facts.retval == 0) {
    finish_spawn(reinterpret_cast<const void*>(slot->owner.load(ktl::MemoryOrder::kRelaxed)),
                 &record, now, cpu);
  }
  TaskTable<InflightSlot>::release(slot);
}

FORKSCOPE_PROBE_CONTEXT void Engine::begin_spawn(const Record& record, const void* child_task,
                                                 ktl::u64 now, CpuState* cpu) {
  // Threads share the parent's program; kernel threads never exec.
  if ((record.request.flags & clone_flag::kThread) || record.kind == Kind::kKthread) return;
  // A leftover entry for a reused task pointer (its exit went unseen) is replaced.
  bool leftover = false;
  SpawnSlot* slot = spawns_->find_or_claim(reinterpret_cast<ktl::uintptr_t>(child_task), &leftover);
  if (slot == nullptr) {
    cpu->counters.spawn_untracked.add(1);
    return;
  }
  slot->pid = record.child_pid;
  slot->parent_pid = record.parent_pid;
  slot->parent_tgid = record.parent_tgid;
  ktl::copy_bytes(slot->comm, record.comm, kCommLength);
  bool from_clone = record.present & (ktl::u64{1} << kKernelCloneEntry);
  slot->fork_start_ns = record.boundary_ns[from_clone ? kKernelCloneEntry : kCopyProcessEntry];
  slot->forked_ns = now;
  slot->kind = record.kind;
}

FORKSCOPE_PROBE_CONTEXT void Engine::finish_spawn(const void* task, const Record* exec,
                                                  ktl::u64 now, CpuState* cpu) {
  SpawnSlot* slot = spawns_->find(reinterpret_cast<ktl::uintptr_t>(task));
  if (slot == nullptr) return;
  Record& record = cpu->scratch;
  begin_record(record, EventType::kSpawn, slot->kind, slot->parent_pid, slot->parent_tgid,
               slot->comm, "not a creation");
  record.request = CloneRequest{};
  record.child_pid = slot->pid;
  record.ret = slot->pid;
  record.cpu_end = record.cpu_start;
  SpawnFacts& spawn = record.spawn;
  spawn.fork_start_ns = slot->fork_start_ns;
  spawn.forked_ns = slot->forked_ns;
  spawn.exec_start_ns = exec != nullptr ? exec->exec.start_ns : 0;
  spawn.end_ns = now;
  spawn.exited = exec == nullptr;
  spawn.fork_kind = slot->kind;
  if (exec != nullptr) {
    ktl::copy_bytes(record.exec.filename, exec->exec.filename, kFilenameLength);
    ktl::copy_bytes(record.exec.new_comm, exec->exec.new_comm, kCommLength);
  }
  TaskTable<SpawnSlot>::release(slot);
  stamp(record, now, cpu);
  cpu->counters.spawns.add(1);
  if (spawn.exited) cpu->counters.spawns_exited.add(1);
  Partition partition;
  compute_record_partition(record, &partition);
  publish(record, partition, true, cpu);
}

// A finished record's id and completion time: this CPU's next count, no
// write shared with any other CPU.
FORKSCOPE_PROBE_CONTEXT void Engine::stamp(Record& record, ktl::u64 now, CpuState* cpu) {
  record.end_ns = now;
  record.seq = make_seq(++cpu->finished, cpu->id);
}

// What mark() left in the record, into this CPU's counters.
FORKSCOPE_PROBE_CONTEXT void Engine::count_step_entries(const Record& record, CpuState* cpu) {
  cpu->counters.repeated_boundaries.add(record.repeated_boundaries);
  // kernel_clone's and copy_process's entries are counted as they happen.
  ktl::u64 steps = record.present & step_entry_boundaries();
  while (steps != 0) {
    auto b = static_cast<Boundary>(__builtin_ctzll(steps));
    steps &= steps - 1;
    cpu->counters.anchor_tracked[static_cast<ktl::size_t>(boundary_anchor_[b])].add(1);
  }
}

FORKSCOPE_PROBE_CONTEXT void Engine::finish_creation(InflightSlot* slot, ktl::s64 ret, ktl::u64 now,
                                                     CpuState* cpu) {
  Record& record = slot->record;
  record.ret = ret;
  record.cpu_end = static_cast<ktl::u16>(forkscope_platform_cpu());
  count_step_entries(record, cpu);
  stamp(record, now, cpu);
  Partition partition;
  compute_partition(record.boundary_ns, record.present, record.vfork(), &partition);
  if (partition.dropped_boundaries != 0) {
    cpu->counters.dropped_boundaries.add(partition.dropped_boundaries);
  }
  if ((record.present & (ktl::u64{1} << kCopyProcessReturn)) == 0 && ret < 0) {
    // Refused before copy_process (kernel_clone's own check).
    record.verdict = judge(record.prediction, ret, record.observation);
  }
  cpu->counters.verdicts[static_cast<ktl::size_t>(record.verdict.kind)].add(1);
  if (record.verdict.kind == VerdictKind::kMismatch) cpu->mismatches.push(record);
  // Statistics describe successful creations; failures are in the records.
  publish(record, partition, record.succeeded(), cpu);
  TaskTable<InflightSlot>::release(slot);
}

FORKSCOPE_PROBE_CONTEXT void Engine::publish(Record& record, const Partition& partition,
                                             bool with_stats, CpuState* cpu) {
  if (with_stats) {
    if (record.event == EventType::kSpawn) {
      cpu->histogram(kRowSpawn, record.kind).add(partition.total_ns);
    } else {
      // Rows of one kind are kKindCount apart: walk the stages that ran only.
      Histogram* row0 = &cpu->histogram(0, record.kind);
      for (ktl::u64 ran = partition.ran_mask; ran != 0; ran &= ran - 1) {
        unsigned stage = static_cast<unsigned>(__builtin_ctzll(ran));
        row0[stage * kKindCount].add(partition.stage_ns[stage]);
      }
      if (partition.copy_process_ns != 0) {
        row0[kRowCopyProcess * kKindCount].add(partition.copy_process_ns);
      }
      row0[kRowTotal * kKindCount].add(partition.total_ns);
    }
    // The slowest list: while full, only a record slower than its fastest
    // entry (kept as slowest_victim) enters; the scan runs on a change only.
    ktl::u64 key = slowness(partition);
    ktl::u32 victim = cpu->slowest_used;
    if (victim == config_.top_n) {
      victim = cpu->slowest_victim;
      if (cpu->slowest_key[victim] >= key) victim = config_.top_n;
    } else {
      ++cpu->slowest_used;
    }
    if (victim < config_.top_n) {
      cpu->slowest_key[victim] = key;
      cpu->slowest[victim].write(record, ++cpu->slowest_writes);
      if (cpu->slowest_used == config_.top_n) {
        ktl::u32 fastest = 0;
        for (ktl::u32 i = 1; i < config_.top_n; ++i) {
          if (cpu->slowest_key[i] < cpu->slowest_key[fastest]) fastest = i;
        }
        cpu->slowest_victim = fastest;
      }
    }
  }
  cpu->ring.push(record);
  cpu->counters.records.add(1);
  if (forkscope_platform_events_enabled()) emit_event(record, partition);
  if (reader_waiting_.load(ktl::MemoryOrder::kRelaxed)) forkscope_platform_notify_readers();
}

FORKSCOPE_PROBE_CONTEXT void compute_record_partition(const Record& record, Partition* out) {
  switch (record.event) {
    case EventType::kFork:
      compute_partition(record.boundary_ns, record.present, record.vfork(), out);
      return;
    case EventType::kExec:
      compute_exec_partition(record.exec.events, record.exec.event_count, out);
      return;
    case EventType::kSpawn:
      *out = Partition{};
      out->total_ns = record.spawn.end_ns - record.spawn.fork_start_ns;
      return;
  }
}

FORKSCOPE_PROBE_CONTEXT ktl::u64 Engine::slowness(const Partition& partition) {
  return partition.total_ns - partition.stage_ns[static_cast<ktl::size_t>(Stage::kVforkWait)];
}

namespace {
// Filter is copied word by word with once-accesses: a racing writer makes
// the copy stale, never undefined, and the sequence check throws it away.
static_assert(sizeof(Filter) % 8 == 0, "Filter is copied in whole words");
constexpr ktl::size_t kFilterWords = sizeof(Filter) / 8;
union FilterWords {
  Filter filter;
  ktl::u64 words[kFilterWords];
  FilterWords() : words{} {}
};
// A handler gives up waiting after this many tries and lets the creation
// through unfiltered (counted as filter_contended): bounded, never lost.
constexpr int kFilterReadTries = 1024;
}  // namespace

FORKSCOPE_PROBE_CONTEXT Filter Engine::read_filter(bool* contended) const {
  const auto* shared = reinterpret_cast<const ktl::u64*>(&filter_);
  for (int tries = 0; tries < kFilterReadTries; ++tries) {
    ktl::u32 seq = filter_seq_.read_begin();
    if (ktl::SeqCount::writing(seq)) continue;
    FilterWords copy;
    for (ktl::size_t i = 0; i < kFilterWords; ++i) copy.words[i] = ktl::read_once(shared[i]);
    if (!filter_seq_.read_retry(seq)) return copy.filter;
  }
  *contended = true;
  return Filter{};
}

}  // namespace forkscope
