// SPDX-License-Identifier: GPL-2.0
// The stage engine's hot path (probe handlers) and its read side.
#include "engine.h"

#include <ktl/alloc_checker.h>
#include <ktl/utility.h>

#include "probe_context.h"

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
// and claims are O(1) in the worst case, and a full window is counted.
template <typename Slot>
struct Engine::TaskTable {
  static constexpr ktl::u32 kWindow = 16;
  Slot* slots = nullptr;
  ktl::u32 mask = 0;

  ~TaskTable() { delete[] slots; }
  ktl::u32 home(ktl::uintptr_t task) const {
    return static_cast<ktl::u32>(((task >> 6) * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
  }
  Slot* find(ktl::uintptr_t task) {
    ktl::u32 at = home(task);
    for (ktl::u32 i = 0; i < kWindow; ++i) {
      Slot* slot = &slots[(at + i) & mask];
      if (slot->owner.load(ktl::MemoryOrder::kRelaxed) == task) return slot;
    }
    return nullptr;
  }
  Slot* claim(ktl::uintptr_t task) {
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
  ktl::OwnedCounter creations;
  ktl::OwnedCounter copy_process_failures;
  ktl::OwnedCounter clone_failures;
  ktl::OwnedCounter by_decision[kDecisionCount];
  ktl::OwnedCounter failures_by_decision[kDecisionCount];
  ktl::OwnedCounter records;
  ktl::OwnedCounter repeated_boundaries;
  ktl::OwnedCounter dropped_boundaries;
  ktl::OwnedCounter stale_slots;
  ktl::OwnedCounter filter_contended;
  ktl::OwnedCounter verdicts[3];
  ktl::OwnedCounter execs;
  ktl::OwnedCounter exec_failures;
  ktl::OwnedCounter exec_by_decision[kDecisionCount];
  ktl::OwnedCounter exec_events_dropped;
  ktl::OwnedCounter spawns;
  ktl::OwnedCounter spawns_exited;
  ktl::OwnedCounter spawn_untracked;
  ktl::OwnedCounter anchor_tracked[kAnchorCount];
  ktl::OwnedCounter anchor_other[kAnchorCount];
  ktl::u32 sample_tick = 0;
  RecordRing ring;
  RecordRing mismatches;
  Histogram* histograms = nullptr;  // [kStatRows][kKindCount]
  RecordSlot* slowest = nullptr;    // top_n entries
  ktl::u64* slowest_key = nullptr;  // owner's copy of each entry's slowness
  ktl::u32 slowest_used = 0;
  ktl::u64 slowest_writes = 0;
  Record scratch;  // spawn records are built here: too big for a kernel stack

  ~CpuState() {
    delete[] histograms;
    delete[] slowest;
    delete[] slowest_key;
  }

  Histogram& histogram(ktl::size_t row, Kind kind) {
    return histograms[row * kKindCount + static_cast<ktl::size_t>(kind)];
  }

  void reset_data(ktl::u32 top_n) {
    creations.reset();
    copy_process_failures.reset();
    clone_failures.reset();
    for (auto& c : by_decision) c.reset();
    for (auto& c : failures_by_decision) c.reset();
    records.reset();
    repeated_boundaries.reset();
    dropped_boundaries.reset();
    stale_slots.reset();
    filter_contended.reset();
    for (auto& c : verdicts) c.reset();
    execs.reset();
    exec_failures.reset();
    for (auto& c : exec_by_decision) c.reset();
    exec_events_dropped.reset();
    spawns.reset();
    spawns_exited.reset();
    spawn_untracked.reset();
    mismatches.reset();
    for (auto& c : anchor_tracked) c.reset();
    for (auto& c : anchor_other) c.reset();
    ring.reset();
    for (ktl::size_t i = 0; i < kStatRows * kKindCount; ++i) histograms[i].reset();
    for (ktl::u32 i = 0; i < top_n; ++i) slowest[i].clear();
    slowest_used = 0;
  }
};

namespace {
// A trace_pipe cursor that must restart at its ring's oldest record without
// counting anything as lost (after a reset).
constexpr ktl::u64 kResync = ktl::kU64Max;
}  // namespace

const char* decision_name(Decision decision) {
  switch (decision) {
    case Decision::kTracked:
      return "recorded";
    case Decision::kFiltered:
      return "filtered";
    case Decision::kSampledOut:
      return "sampled_out";
    case Decision::kDisabled:
      return "disabled";
    case Decision::kUntracked:
      return "untracked";
    case Decision::kCount:
      break;
  }
  return "?";
}

Engine::~Engine() {
  delete cpus_;
  delete inflight_;
  delete spawns_;
  delete[] consumer_next_;
  forkscope_platform_spinlock_destroy(filter_lock_);
}

int Engine::init(const EngineConfig& config) {
  if (config.nr_cpus == 0 || config.inflight_slots == 0 ||
      (config.inflight_slots & (config.inflight_slots - 1)) != 0 || config.ring_records == 0 ||
      config.top_n == 0 || config.spawn_slots == 0 ||
      (config.spawn_slots & (config.spawn_slots - 1)) != 0) {
    return -FORKSCOPE_EINVAL;
  }
  config_ = config;
  filter_lock_ = forkscope_platform_spinlock_create();
  if (filter_lock_ == nullptr) return -FORKSCOPE_ENOMEM;
  ktl::AllocChecker ac_cpus;
  cpus_ = new (ac_cpus) PerCpu<CpuState>;
  if (!ac_cpus.check()) return -FORKSCOPE_ENOMEM;
  int err = cpus_->init(config.nr_cpus);
  if (err != 0) return err;
  for (ktl::u32 cpu = 0; cpu < config.nr_cpus; ++cpu) {
    CpuState& state = cpus_->at(cpu);
    state.generation = reset_generation_.load();
    err = state.ring.init(config.ring_records);
    if (err != 0) return err;
    err = state.mismatches.init(kMismatchRing);
    if (err != 0) return err;
    ktl::AllocChecker ac_hist;
    state.histograms = new (ac_hist) Histogram[kStatRows * kKindCount];
    if (!ac_hist.check()) return -FORKSCOPE_ENOMEM;
    ktl::AllocChecker ac_slowest;
    state.slowest = new (ac_slowest) RecordSlot[config.top_n];
    if (!ac_slowest.check()) return -FORKSCOPE_ENOMEM;
    ktl::AllocChecker ac_keys;
    state.slowest_key = new (ac_keys) ktl::u64[config.top_n]();
    if (!ac_keys.check()) return -FORKSCOPE_ENOMEM;
  }
  ktl::AllocChecker ac_table;
  inflight_ = new (ac_table) TaskTable<InflightSlot>;
  if (!ac_table.check()) return -FORKSCOPE_ENOMEM;
  ktl::AllocChecker ac_slots;
  inflight_->slots = new (ac_slots) InflightSlot[config.inflight_slots];
  if (!ac_slots.check()) return -FORKSCOPE_ENOMEM;
  inflight_->mask = config.inflight_slots - 1;
  ktl::AllocChecker ac_spawn_table;
  spawns_ = new (ac_spawn_table) TaskTable<SpawnSlot>;
  if (!ac_spawn_table.check()) return -FORKSCOPE_ENOMEM;
  ktl::AllocChecker ac_spawn_slots;
  spawns_->slots = new (ac_spawn_slots) SpawnSlot[config.spawn_slots];
  if (!ac_spawn_slots.check()) return -FORKSCOPE_ENOMEM;
  spawns_->mask = config.spawn_slots - 1;
  ktl::AllocChecker ac_cursor;
  consumer_next_ = new (ac_cursor) ktl::u64[config.nr_cpus]();
  if (!ac_cursor.check()) return -FORKSCOPE_ENOMEM;
  consumer_generation_ = reset_generation_.load();
  return 0;
}

bool Engine::cpu_is_current(const CpuState& cpu) const {
  return __atomic_load_n(&cpu.generation, __ATOMIC_ACQUIRE) ==
         reset_generation_.load(ktl::MemoryOrder::kAcquire);
}

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
    cpu->reset_data(config_.top_n);
    __atomic_store_n(&cpu->generation, generation, __ATOMIC_RELEASE);
  }
  return cpu;
}

FORKSCOPE_PROBE_CONTEXT Decision Engine::decide(const CreationArgs& args, Kind kind,
                                                CpuState* cpu) {
  if (!enabled_.load(ktl::MemoryOrder::kRelaxed)) return Decision::kDisabled;
  bool contended = false;
  Filter filter = read_filter(&contended);
  if (contended) cpu->filter_contended.add(1);
  if (filter.active && !filter.matches(args.pid, args.tgid, args.comm, kind)) {
    return Decision::kFiltered;
  }
  ktl::u32 every = sample_every_.load(ktl::MemoryOrder::kRelaxed);
  if (every > 1) {
    ktl::u32 tick = cpu->sample_tick++;
    if (tick % every != 0) return Decision::kSampledOut;
  }
  return Decision::kTracked;
}

FORKSCOPE_PROBE_CONTEXT int Engine::begin(Anchor anchor, const void* task, ProbeData* data,
                                          const CreationArgs& args, ktl::u64 now, CpuState* cpu) {
  Kind kind = classify(args.request);
  data->began_here = true;
  data->slot = nullptr;
  data->decision = decide(args, kind, cpu);
  auto key = reinterpret_cast<ktl::uintptr_t>(task);
  if (data->decision == Decision::kTracked) {
    InflightSlot* slot = inflight_->find(key);
    if (slot != nullptr) {
      cpu->stale_slots.add(1);  // a creation that never finished: reuse its slot
    } else {
      slot = inflight_->claim(key);
    }
    if (slot == nullptr) {
      data->decision = Decision::kUntracked;
    } else {
      Record& record = slot->record;
      record.event = EventType::kFork;
      record.present = 0;
      record.request = args.request;
      record.kind = kind;
      record.parent_pid = args.pid;
      record.parent_tgid = args.tgid;
      ktl::copy_bytes(record.comm, args.comm, kCommLength);
      record.comm[kCommLength - 1] = '\0';
      record.ret = 0;
      record.child_pid = 0;
      record.cpu_start = static_cast<ktl::u16>(forkscope_platform_cpu());
      record.repeated_boundaries = 0;
      predict(args.request, args.caller, &record.prediction);
      record.observation = Observation{};
      record.verdict = Verdict{};
      record.verdict.reason = "creation did not reach copy_process";
      data->slot = slot;
      mark(slot, entry_boundary(anchor), now, cpu);
    }
  }
  // kernel_clone's return is only needed to finish a tracked record or to
  // count the outcome; both need it, so keep the return probe.
  return 0;
}

FORKSCOPE_PROBE_CONTEXT void Engine::mark(InflightSlot* slot, Boundary boundary, ktl::u64 now,
                                          CpuState* cpu) {
  Record& record = slot->record;
  if (boundary >= kBoundaryCount) return;  // not a fork anchor
  ktl::u64 bit = ktl::u64{1} << boundary;
  if (record.present & bit) {
    ++record.repeated_boundaries;
    cpu->repeated_boundaries.add(1);
    return;
  }
  record.present |= bit;
  record.boundary_ns[boundary] = now;
}

FORKSCOPE_PROBE_CONTEXT int Engine::on_entry(Anchor anchor, const void* task, ProbeData* data,
                                             const CreationArgs* args, ktl::u64 now) {
  CpuState* cpu = cpu_state();
  if (cpu == nullptr) return 1;
  auto index = static_cast<ktl::size_t>(anchor);
  const AnchorRole role = anchor_info(anchor).role;
  if (role == AnchorRole::kCreationStart) {
    cpu->anchor_tracked[index].add(1);
    return begin(anchor, task, data, *args, now, cpu);
  }
  if (role == AnchorRole::kExecStart) {
    cpu->anchor_tracked[index].add(1);
    return begin_exec(task, data, *args, now, cpu);
  }
  if (role == AnchorRole::kExit) {
    spawn_end(task, nullptr, now, cpu);
    return 1;  // do_exit never returns
  }
  InflightSlot* slot = inflight_->find(reinterpret_cast<ktl::uintptr_t>(task));
  data->slot = slot;
  data->began_here = false;
  data->decision = slot != nullptr ? Decision::kTracked : Decision::kUntracked;
  if (role == AnchorRole::kCopyProcess && slot == nullptr && args != nullptr &&
      args->request.io_thread) {
    // create_io_thread calls copy_process without kernel_clone.
    cpu->anchor_tracked[index].add(1);
    return begin(anchor, task, data, *args, now, cpu);
  }
  if (slot == nullptr) {
    cpu->anchor_other[index].add(1);
    // copy_process's return counts every creation, tracked or not.
    return role == AnchorRole::kCopyProcess ? 0 : 1;
  }
  cpu->anchor_tracked[index].add(1);
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
  mark(slot, entry_boundary(anchor), now, cpu);
  return 0;
}

FORKSCOPE_PROBE_CONTEXT int Engine::begin_exec(const void* task, ProbeData* data,
                                               const CreationArgs& args, ktl::u64 now,
                                               CpuState* cpu) {
  data->began_here = true;
  data->slot = nullptr;
  data->decision = decide(args, Kind::kExec, cpu);
  if (data->decision != Decision::kTracked) return 0;  // the return still counts it
  auto key = reinterpret_cast<ktl::uintptr_t>(task);
  InflightSlot* slot = inflight_->find(key);
  if (slot != nullptr) {
    cpu->stale_slots.add(1);
  } else {
    slot = inflight_->claim(key);
  }
  if (slot == nullptr) {
    data->decision = Decision::kUntracked;
    return 0;
  }
  Record& record = slot->record;
  record.event = EventType::kExec;
  record.kind = Kind::kExec;
  record.present = 0;
  record.request = CloneRequest{};
  record.parent_pid = args.pid;
  record.parent_tgid = args.tgid;
  ktl::copy_bytes(record.comm, args.comm, kCommLength);
  record.comm[kCommLength - 1] = '\0';
  record.ret = 0;
  record.child_pid = 0;
  record.cpu_start = static_cast<ktl::u16>(forkscope_platform_cpu());
  record.repeated_boundaries = 0;
  record.verdict = Verdict{};
  record.verdict.reason = "not a creation";
  record.exec.event_count = 0;
  record.exec.events_dropped = 0;
  record.exec.filename[0] = '\0';
  record.exec.new_comm[0] = '\0';
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
    cpu->exec_events_dropped.add(1);
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
    cpu->by_decision[index].add(1);
  } else {
    cpu->clone_failures.add(1);
    cpu->failures_by_decision[index].add(1);
  }
}

FORKSCOPE_PROBE_CONTEXT void Engine::on_return(Anchor anchor, ProbeData* data,
                                               const ReturnFacts& facts, ktl::u64 now) {
  CpuState* cpu = cpu_state();
  if (cpu == nullptr) return;
  const AnchorRole role = anchor_info(anchor).role;
  InflightSlot* slot = data->slot;
  ktl::s64 retval = facts.retval;
  if (role == AnchorRole::kExecStart) {
    cpu->execs.add(1);
    if (retval != 0) cpu->exec_failures.add(1);
    cpu->exec_by_decision[static_cast<ktl::size_t>(data->decision)].add(1);
    if (slot != nullptr) finish_exec(slot, facts, now, cpu);
    return;
  }
  if (slot != nullptr && slot->record.is_exec()) {
    log_exec(slot, anchor, true, now, cpu);
    return;
  }
  if (role == AnchorRole::kCopyProcess) {
    if (retval == 0) {
      cpu->creations.add(1);
    } else {
      cpu->copy_process_failures.add(1);
    }
    if (slot != nullptr) {
      mark(slot, return_boundary(anchor), now, cpu);
      Record& record = slot->record;
      record.child_pid = facts.child_pid;
      if (facts.observation != nullptr) record.observation = *facts.observation;
      record.verdict = judge(record.prediction, retval, record.observation);
      // Before the child can run: it may exec before its parent returns (vfork).
      if (retval == 0 && facts.child_task != nullptr) {
        spawn_begin(record, facts.child_task, now, cpu);
      }
    }
    if (!data->began_here) return;
    // An io worker: its creation ends with copy_process.
    ktl::s64 ret = retval == 0 ? facts.child_pid : retval;
    count_outcome(data->decision, retval == 0, cpu);
    if (slot != nullptr) finish(slot, ret, cpu);
    return;
  }
  if (role == AnchorRole::kCreationStart) {
    count_outcome(data->decision, retval > 0, cpu);
    if (slot != nullptr) {
      mark(slot, return_boundary(anchor), now, cpu);
      finish(slot, retval, cpu);
    }
    return;
  }
  if (slot != nullptr) mark(slot, return_boundary(anchor), now, cpu);
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
  record.seq = seq_.fetch_add(1, ktl::MemoryOrder::kRelaxed) + 1;
  Partition partition;
  compute_exec_partition(record.exec.events, record.exec.event_count, &partition);
  if (partition.dropped_boundaries != 0) cpu->dropped_boundaries.add(partition.dropped_boundaries);
  publish(record, partition, facts.retval == 0, cpu);
  // After the exec's own record, so each CPU's ring stays in seq order.
  if (facts.retval == 0) {
    spawn_end(reinterpret_cast<const void*>(slot->owner.load(ktl::MemoryOrder::kRelaxed)), &record,
              now, cpu);
  }
  TaskTable<InflightSlot>::release(slot);
}

FORKSCOPE_PROBE_CONTEXT void Engine::spawn_begin(const Record& record, const void* child_task,
                                                 ktl::u64 now, CpuState* cpu) {
  // Threads share the parent's program; kernel threads never exec.
  if ((record.request.flags & clone_flag::kThread) || record.kind == Kind::kKthread) return;
  auto key = reinterpret_cast<ktl::uintptr_t>(child_task);
  // A leftover entry for a reused task pointer (its exit went unseen) is replaced.
  SpawnSlot* slot = spawns_->find(key);
  if (slot == nullptr) slot = spawns_->claim(key);
  if (slot == nullptr) {
    cpu->spawn_untracked.add(1);
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

FORKSCOPE_PROBE_CONTEXT void Engine::spawn_end(const void* task, const Record* exec, ktl::u64 now,
                                               CpuState* cpu) {
  SpawnSlot* slot = spawns_->find(reinterpret_cast<ktl::uintptr_t>(task));
  if (slot == nullptr) return;
  Record& record = cpu->scratch;
  record.event = EventType::kSpawn;
  record.kind = slot->kind;
  record.present = 0;
  record.request = CloneRequest{};
  record.parent_pid = slot->parent_pid;
  record.parent_tgid = slot->parent_tgid;
  ktl::copy_bytes(record.comm, slot->comm, kCommLength);
  record.child_pid = slot->pid;
  record.ret = slot->pid;
  record.cpu_start = record.cpu_end = static_cast<ktl::u16>(forkscope_platform_cpu());
  record.verdict = Verdict{};
  record.verdict.reason = "not a creation";
  record.exec.event_count = 0;
  record.exec.filename[0] = '\0';
  record.exec.new_comm[0] = '\0';
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
  record.seq = seq_.fetch_add(1, ktl::MemoryOrder::kRelaxed) + 1;
  cpu->spawns.add(1);
  if (spawn.exited) cpu->spawns_exited.add(1);
  Partition partition;
  compute_record_partition(record, &partition);
  publish(record, partition, true, cpu);
}

void compute_record_partition(const Record& record, Partition* out) {
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

ktl::u64 Engine::slowness(const Record& record) {
  Partition partition;
  compute_record_partition(record, &partition);
  return partition.total_ns - partition.stage_ns[static_cast<ktl::size_t>(Stage::kVforkWait)];
}

FORKSCOPE_PROBE_CONTEXT void Engine::finish(InflightSlot* slot, ktl::s64 ret, CpuState* cpu) {
  Record& record = slot->record;
  record.ret = ret;
  record.cpu_end = static_cast<ktl::u16>(forkscope_platform_cpu());
  record.seq = seq_.fetch_add(1, ktl::MemoryOrder::kRelaxed) + 1;
  Partition partition;
  compute_partition(record.boundary_ns, record.present, record.vfork(), &partition);
  if (partition.dropped_boundaries != 0) cpu->dropped_boundaries.add(partition.dropped_boundaries);
  if ((record.present & (ktl::u64{1} << kCopyProcessReturn)) == 0 && ret < 0) {
    // Refused before copy_process (kernel_clone's own check).
    record.verdict = judge(record.prediction, ret, record.observation);
  }
  cpu->verdicts[static_cast<ktl::size_t>(record.verdict.kind)].add(1);
  if (record.verdict.kind == VerdictKind::kMismatch) cpu->mismatches.push(record);
  // Statistics describe successful creations; failures are in the records.
  publish(record, partition, ret > 0, cpu);
  TaskTable<InflightSlot>::release(slot);
}

FORKSCOPE_PROBE_CONTEXT void Engine::publish(Record& record, const Partition& partition,
                                             bool with_stats, CpuState* cpu) {
  if (with_stats) {
    if (record.event == EventType::kSpawn) {
      cpu->histogram(kRowSpawn, record.kind).add(partition.total_ns);
    } else {
      for (ktl::size_t stage = 0; stage < kStageCount; ++stage) {
        if (partition.ran_mask & (ktl::u64{1} << stage)) {
          cpu->histogram(stage, record.kind).add(partition.stage_ns[stage]);
        }
      }
      if (partition.copy_process_ns != 0) {
        cpu->histogram(kRowCopyProcess, record.kind).add(partition.copy_process_ns);
      }
      cpu->histogram(kRowTotal, record.kind).add(partition.total_ns);
    }
    ktl::u64 key =
        partition.total_ns - partition.stage_ns[static_cast<ktl::size_t>(Stage::kVforkWait)];
    ktl::u32 victim = cpu->slowest_used;
    if (cpu->slowest_used == config_.top_n) {
      victim = 0;
      for (ktl::u32 i = 1; i < config_.top_n; ++i) {
        if (cpu->slowest_key[i] < cpu->slowest_key[victim]) victim = i;
      }
      if (cpu->slowest_key[victim] >= key) victim = config_.top_n;
    } else {
      ++cpu->slowest_used;
    }
    if (victim < config_.top_n) {
      cpu->slowest_key[victim] = key;
      cpu->slowest[victim].write(record, ++cpu->slowest_writes);
    }
  }
  cpu->ring.push(record);
  cpu->records.add(1);
  if (reader_waiting_.load(ktl::MemoryOrder::kRelaxed)) forkscope_platform_notify_readers();
}

void Engine::request_reset() { reset_generation_.fetch_add(1); }

namespace {
// Filter is copied word by word with relaxed atomics: a racing writer makes
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
    ktl::u32 seq = filter_seq_.load(ktl::MemoryOrder::kAcquire);
    if ((seq & 1) != 0) continue;
    FilterWords copy;
    for (ktl::size_t i = 0; i < kFilterWords; ++i) {
      copy.words[i] = __atomic_load_n(&shared[i], __ATOMIC_RELAXED);
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (filter_seq_.load(ktl::MemoryOrder::kRelaxed) == seq) return copy.filter;
  }
  *contended = true;
  return Filter{};
}

void Engine::set_filter(const Filter& filter) {
  FilterWords next;
  next.filter = filter;
  auto* shared = reinterpret_cast<ktl::u64*>(&filter_);
  unsigned long flags = forkscope_platform_spin_lock_irqsave(filter_lock_);
  ktl::u32 seq = filter_seq_.load(ktl::MemoryOrder::kRelaxed);
  filter_seq_.store(seq + 1, ktl::MemoryOrder::kRelaxed);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  for (ktl::size_t i = 0; i < kFilterWords; ++i) {
    __atomic_store_n(&shared[i], next.words[i], __ATOMIC_RELAXED);
  }
  filter_seq_.store(seq + 2, ktl::MemoryOrder::kRelease);
  forkscope_platform_spin_unlock_irqrestore(filter_lock_, flags);
}

Filter Engine::filter() const {
  bool contended = false;
  return read_filter(&contended);
}

EngineCounters Engine::counters() const {
  EngineCounters sum;
  for (ktl::u32 i = 0; i < cpus_->size(); ++i) {
    const CpuState& cpu = cpus_->at(i);
    if (!cpu_is_current(cpu)) continue;  // reset requested, not yet applied: zero
    sum.creations += cpu.creations.read();
    sum.copy_process_failures += cpu.copy_process_failures.read();
    sum.clone_failures += cpu.clone_failures.read();
    for (ktl::size_t d = 0; d < kDecisionCount; ++d) {
      sum.by_decision[d] += cpu.by_decision[d].read();
      sum.failures_by_decision[d] += cpu.failures_by_decision[d].read();
    }
    sum.records += cpu.records.read();
    sum.repeated_boundaries += cpu.repeated_boundaries.read();
    sum.dropped_boundaries += cpu.dropped_boundaries.read();
    sum.stale_slots += cpu.stale_slots.read();
    sum.filter_contended += cpu.filter_contended.read();
    for (ktl::size_t v = 0; v < 3; ++v) sum.verdicts[v] += cpu.verdicts[v].read();
    sum.execs += cpu.execs.read();
    sum.exec_failures += cpu.exec_failures.read();
    for (ktl::size_t d = 0; d < kDecisionCount; ++d) {
      sum.exec_by_decision[d] += cpu.exec_by_decision[d].read();
    }
    sum.exec_events_dropped += cpu.exec_events_dropped.read();
    sum.spawns += cpu.spawns.read();
    sum.spawns_exited += cpu.spawns_exited.read();
    sum.spawn_untracked += cpu.spawn_untracked.read();
    for (ktl::size_t a = 0; a < kAnchorCount; ++a) {
      sum.anchor_tracked[a] += cpu.anchor_tracked[a].read();
      sum.anchor_other[a] += cpu.anchor_other[a].read();
    }
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
  sort_by(out, n, [](const Record& a, const Record& b) { return a.seq < b.seq; });
  return n;
}

ktl::size_t Engine::collect_records(Record* out, ktl::size_t max) const {
  return collect_ring(&CpuState::ring, out, max);
}

ktl::size_t Engine::collect_mismatches(Record* out, ktl::size_t max) const {
  return collect_ring(&CpuState::mismatches, out, max);
}

ktl::size_t Engine::collect_slowest(Record* out, ktl::size_t max) const {
  ktl::size_t n = 0;
  for (ktl::u32 i = 0; i < cpus_->size() && n < max; ++i) {
    const CpuState& cpu = cpus_->at(i);
    if (!cpu_is_current(cpu)) continue;
    for (ktl::u32 k = 0; k < config_.top_n && n < max; ++k) {
      ktl::u64 index = cpu.slowest[k].stored_index();
      if (index == ktl::kU64Max) continue;
      if (cpu.slowest[k].read(index, &out[n])) ++n;
    }
  }
  sort_by(out, n, [](const Record& a, const Record& b) { return slowness(a) > slowness(b); });
  return n < config_.top_n ? n : config_.top_n;
}

void Engine::collect_stats(StatsSnapshot* out) const {
  *out = StatsSnapshot{};
  for (ktl::u32 i = 0; i < cpus_->size(); ++i) {
    const CpuState& cpu = cpus_->at(i);
    if (!cpu_is_current(cpu)) continue;
    for (ktl::size_t row = 0; row < kStatRows; ++row) {
      for (ktl::size_t kind = 0; kind < kKindCount; ++kind) {
        cpu.histograms[row * kKindCount + kind].merge_into(out->rows[row][kind]);
      }
    }
  }
}

bool Engine::consume_next(Record* out) {
  ktl::u64 generation = reset_generation_.load();
  if (consumer_generation_ != generation) {
    for (ktl::u32 i = 0; i < cpus_->size(); ++i) consumer_next_[i] = kResync;
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
      if (best < 0 || candidate->seq < out->seq) {
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
