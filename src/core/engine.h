// SPDX-License-Identifier: GPL-2.0
// The stage engine: follows every creation through the anchors, keeps its
// boundary times in a per-task in-flight slot, and on completion turns it
// into stage times, per-CPU statistics, a slowest-N entry and a ring record.
// Its probe-context half is engine_probe.cpp, its read side engine_read.cpp.
#ifndef FORKSCOPE_CORE_ENGINE_H
#define FORKSCOPE_CORE_ENGINE_H

#include <forkscope/platform.h>
#include <ktl/atomic.h>
#include <ktl/seq_count.h>
#include <ktl/types.h>
#include <ktl/unique_ptr.h>

#include "control.h"
#include "counters.h"
#include "creation.h"
#include "decision.h"
#include "detail.h"
#include "histogram.h"
#include "net.h"
#include "per_cpu.h"
#include "record.h"
#include "record_ring.h"
#include "stage_model.h"

namespace forkscope {

struct EngineConfig {
  ktl::u32 nr_cpus = 1;
  ktl::u32 inflight_slots = 1024;  // power of two
  ktl::u32 ring_records = 1024;    // per CPU
  ktl::u32 top_n = 16;             // per CPU, merged on read
  ktl::u32 spawn_slots = 1024;     // children waiting for their first exec; power of two
};

struct InflightSlot;

// Kept by the glue in each kretprobe instance (kretprobe.data_size).
struct ProbeData {
  InflightSlot* slot;
  Decision decision;
  bool began_here;  // this anchor's entry started the creation
};

// Facts the glue reads at kernel_clone/copy_process entry.
struct CreationArgs {
  CloneRequest request;
  ktl::s32 pid = 0;
  ktl::s32 tgid = 0;
  char comm[kCommLength] = {};
  CallerContext caller;
  const char* filename = nullptr;  // alloc_bprm: the file being executed
};

// What a return handler read.
struct ReturnFacts {
  ktl::s64 retval = 0;                       // kernel_clone's pid_t, an -errno, or exec's result
  ktl::s32 child_pid = 0;                    // copy_process: the new task's pid
  const void* child_task = nullptr;          // copy_process: the new task
  const Observation* observation = nullptr;  // copy_process success
  const char* comm = nullptr;                // do_execveat_common: the comm after exec
};

// Statistics rows: one per stage, then these three.
inline constexpr ktl::size_t kRowCopyProcess = kStageCount;
inline constexpr ktl::size_t kRowTotal = kStageCount + 1;  // a creation's or an exec's span
inline constexpr ktl::size_t kRowSpawn = kStageCount + 2;  // fork start to first exec (per kind)
inline constexpr ktl::size_t kStatRows = kStageCount + 3;
inline constexpr ktl::size_t kKindCount = static_cast<ktl::size_t>(Kind::kCount);

struct StatsSnapshot {
  HistogramSnapshot rows[kStatRows][kKindCount];
};

class Engine {
 public:
  Engine();  // out of line: its members own types defined in engine_state.h
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();

  [[nodiscard]] int init(const EngineConfig& config);  // may sleep; 0, -FORKSCOPE_ENOMEM/EINVAL
  // What init(config) allocates, in bytes (load_budget.cpp).
  static ktl::u64 bytes_for(const EngineConfig& config);
  const EngineConfig& config() const { return config_; }

  // ---- Probe context (engine_probe.cpp) ----
  // Returns 1 when the return probe is not needed. Without args it takes
  // the tracked-step path as tried already (entry_inline, step_entry_slow).
  int on_entry(Anchor anchor, const void* task, ProbeData* data, const CreationArgs* args,
               ktl::u64 now);
  // The entry of a step anchor seen without per-call data (ftrace, a plain
  // kprobe): the hot case, a step of a tracked creation, marks its slot only.
  void on_step_entry(Anchor anchor, const void* task, ktl::u64 now);
  // The same, inlined into the C entry point (engine_state.h).
  inline void step_entry_inline(Anchor anchor, const void* task, ktl::u64 now);
  // on_entry without arguments (a kretprobe's entry), its step case inlined.
  inline int entry_inline(Anchor anchor, const void* task, ProbeData* data, ktl::u64 now);
  void on_return(Anchor anchor, ProbeData* data, const ReturnFacts& facts, ktl::u64 now);
  // A step anchor's return with its entry's data: no facts to read.
  void on_step_return(Anchor anchor, ProbeData* data, ktl::u64 now);
  // A return seen at its call site (the instruction after the call): no
  // per-call data, so the calling task's slot is looked up.
  void on_site_return(Anchor anchor, const void* task, ktl::u64 now);
  inline void site_return_inline(Anchor anchor, const void* task, ktl::u64 now);
  // The task_newtask tracepoint (end of a successful copy_process): counts
  // the creation when creations_at_newtask is set, and puts it in the
  // disabled bucket unless a kretprobe's return will bucket it
  // (bucketed_at_return: the glue found kernel_clone's pending instance, or
  // copy_process's of an io worker, buckets_at_return).
  void on_new_task(bool bucketed_at_return);
  // The sched_process_exec tracepoint (a successful exec) when no
  // do_execveat_common instance is pending: counted here, disabled bucket.
  void on_unseen_exec();
  // Will the return of this instance put its creation in a decision bucket?
  static bool buckets_at_return(Anchor anchor, const ProbeData& data);
  void on_return(Anchor anchor, ProbeData* data, ktl::s64 retval, ktl::s32 child_pid,
                 const Observation* observation, ktl::u64 now) {
    ReturnFacts facts;
    facts.retval = retval;
    facts.child_pid = child_pid;
    facts.observation = observation;
    on_return(anchor, data, facts, now);
  }

  // ---- Control: process context, serialized by the caller ----
  void set_enabled(bool enabled) { enabled_.store(enabled); }
  void set_detail(Detail detail) { detail_ = detail; }
  Detail detail() const { return detail_; }
  // Bit per anchor the probes should have armed now: the level's, or when
  // disabled only the spans no tracepoint replaces (disabled_anchors).
  ktl::u64 wanted_anchors() const {
    if (enabled()) return anchors_at(detail_);
    return disabled_anchors(creations_at_newtask_.load(), execs_at_exec_tp_.load());
  }
  // Creations are counted at the task_newtask tracepoint, not at
  // copy_process's return (set by the plan before anything is armed).
  void set_creations_at_newtask(bool on) { creations_at_newtask_.store(on); }
  // Successful execs its kretprobe does not see are counted at
  // sched_process_exec (set by the plan before anything is armed).
  void set_execs_at_exec_tp(bool on) { execs_at_exec_tp_.store(on); }
  // The glue disarmed (true) or re-armed every (false) span kretprobe:
  // failures (clone, copy_process, exec) go uncounted meanwhile; the
  // counters show the pauses and their time. Any context but probes.
  void set_failures_paused(bool paused, ktl::u64 now);
  // Anchors that are registered and wanted at the current detail level:
  // the stage map merges the others (whatever enabled says).
  ktl::u64 measured_anchors() const { return available_anchors_ & anchors_at(detail_); }
  bool enabled() const { return enabled_.load(); }
  void set_sample_every(ktl::u32 every) { sample_every_.store(every == 0 ? 1 : every); }
  ktl::u32 sample_every() const { return sample_every_.load(); }
  void request_reset();
  // Publishes a new filter under the filter's sequence count: a handler
  // never waits for it beyond one short copy.
  void set_filter(const Filter& filter);
  Filter filter() const;
  void set_available_anchors(ktl::u64 mask) { available_anchors_ = mask; }
  // The calibration's bias per crossing (read side only: stats_net, records).
  void set_bias(const BiasTable& table);
  void bias(BiasTable* out) const;
  ktl::u64 bias_generation() const;

  // ---- Calibration (calibration.cpp): process context, one at a time ----
  // The anchor the calibration's hooks stand for (a fork step).
  static constexpr Anchor kCalibrationAnchor = Anchor::kCopySemundo;
  // A fork record of task's own for the real handlers' path, never
  // published: 0, -FORKSCOPE_EBUSY (task has a slot) or -FORKSCOPE_ENOMEM.
  int calibration_begin(const void* task);
  // Clears the anchor's crossings before a sample (entered: its entry crossed).
  void calibration_rearm(const void* task, bool entered);
  // The anchor's entry and return stamps since the rearm, 0 where not crossed.
  void calibration_stamps(const void* task, ktl::u64* entry, ktl::u64* ret);
  void calibration_end(const void* task);
  ktl::u64 available_anchors() const { return available_anchors_; }

  // ---- Read side: process context (engine_read.cpp) ----
  EngineCounters counters() const;
  // Up to max finished records still in the rings, in completion order
  // (completed_before).
  ktl::size_t collect_records(Record* out, ktl::size_t max) const;
  // Up to max recent verdict mismatches, in completion order.
  ktl::size_t collect_mismatches(Record* out, ktl::size_t max) const;
  ktl::size_t mismatch_capacity_total() const {
    return static_cast<ktl::size_t>(kMismatchRing) * config_.nr_cpus;
  }
  static constexpr ktl::u32 kMismatchRing = 32;  // per CPU
  // Up to max slowest records since reset, slowest first.
  ktl::size_t collect_slowest(Record* out, ktl::size_t max) const;
  void collect_stats(StatsSnapshot* out) const;
  ktl::size_t ring_capacity_total() const {
    return static_cast<ktl::size_t>(config_.ring_records) * config_.nr_cpus;
  }
  // trace_pipe (one consumer at a time, serialized by the caller): the next
  // unread record in completion order; false if none.
  bool consume_next(Record* out);
  bool has_unconsumed() const;
  // Set while a trace_pipe reader sleeps; completions then call
  // forkscope_platform_notify_readers().
  void set_reader_waiting(bool waiting) { reader_waiting_.store(waiting); }

  // The key slowest-N orders by: the span without the vfork wait.
  static ktl::u64 slowness(const Partition& partition);
  static ktl::u64 slowness(const Record& record);

 private:
  struct CpuState;
  template <typename Slot>
  struct TaskTable;
  struct SpawnSlot;

  // What the handlers look up per crossing, copied from the stage model's
  // tables at construction so the hot path reads it in one load.
  struct AnchorHot {
    AnchorRole role;
    Boundary entry;
    Boundary ret;
  };

  // Probe context.
  // A step crossing inside a tracked fork: its slot (the one fast path).
  inline InflightSlot* tracked_step(const AnchorHot& hot, const void* task);
  inline bool enter_tracked_step(const AnchorHot& hot, const void* task, ProbeData* data,
                                 ktl::u64 now);
  // What the inline fast paths leave to the general handlers.
  void step_entry_slow(Anchor anchor, const void* task, ktl::u64 now);
  void site_return_slow(InflightSlot* slot, Anchor anchor, ktl::u64 now);
  CpuState* cpu_state();
  Decision decide(const CreationArgs& args, Kind kind, CpuState* cpu);
  InflightSlot* claim_slot(const void* task, CpuState* cpu);
  inline InflightSlot* find_slot(const void* task);
  int begin_creation(Anchor anchor, const void* task, ProbeData* data, const CreationArgs& args,
                     ktl::u64 now, CpuState* cpu);
  void finish_creation(InflightSlot* slot, ktl::s64 ret, ktl::u64 now, CpuState* cpu);
  void stamp(Record& record, ktl::u64 now, CpuState* cpu);
  static inline void mark(InflightSlot* slot, Boundary boundary, ktl::u64 now);
  void count_step_entries(const Record& record, CpuState* cpu);
  int begin_exec(const void* task, ProbeData* data, const CreationArgs& args, ktl::u64 now,
                 CpuState* cpu);
  void log_exec(InflightSlot* slot, Anchor anchor, bool is_return, ktl::u64 now, CpuState* cpu);
  void finish_exec(InflightSlot* slot, const ReturnFacts& facts, ktl::u64 now, CpuState* cpu);
  void begin_spawn(const Record& record, const void* child_task, ktl::u64 now, CpuState* cpu);
  void finish_spawn(const void* task, const Record* exec, ktl::u64 now, CpuState* cpu);
  // Statistics, slowest, ring: everything a finished record feeds.
  void publish(Record& record, const Partition& partition, bool with_stats, CpuState* cpu);
  void count_outcome(Decision decision, bool ok, CpuState* cpu);
  Filter read_filter(bool* contended) const;

  // Read side.
  bool cpu_is_current(const CpuState& cpu) const;
  ktl::size_t collect_ring(RecordRing CpuState::*ring, Record* out, ktl::size_t max) const;

  EngineConfig config_;
  AnchorHot hot_[kAnchorCount];
  Anchor boundary_anchor_[kBoundaryCount];
  ktl::UniquePtr<PerCpu<CpuState>> cpus_;
  ktl::UniquePtr<TaskTable<InflightSlot>> inflight_;
  ktl::UniquePtr<TaskTable<SpawnSlot>> spawns_;
  ktl::Atomic<bool> enabled_{true};
  ktl::Atomic<bool> creations_at_newtask_{false};
  ktl::Atomic<bool> execs_at_exec_tp_{false};
  ktl::Atomic<ktl::u32> sample_every_{1};
  ktl::Atomic<ktl::u64> reset_generation_{1};
  // The one shared atomic a handler writes, and only for a CPU id beyond
  // the per-CPU table (which has no CpuState to count it in): never with
  // nr_cpu_ids. The others are read in handlers, written by control.
  ktl::Atomic<ktl::u64> unattributed_;
  ktl::Atomic<bool> reader_waiting_;
  // The filter: writers take filter_lock_ (IRQs off) and bump filter_seq_;
  // a handler copies it in a few loads and retries a bounded number of times.
  alignas(8) Filter filter_;
  ktl::SeqCount filter_seq_;
  forkscope_spinlock* filter_lock_ = nullptr;
  ktl::u64 available_anchors_ = ~ktl::u64{0};
  // Written after each calibration, copied by readers, both under bias_lock_.
  BiasTable bias_;
  forkscope_spinlock* bias_lock_ = nullptr;
  // Failure counting paused (set_failures_paused), under pause_lock_;
  // since reset: pauses begun, their time, the open one's start.
  forkscope_spinlock* pause_lock_ = nullptr;
  bool paused_ = false;
  ktl::u64 pauses_ = 0;
  ktl::u64 paused_ns_ = 0;
  ktl::u64 paused_since_ = 0;
  Detail detail_ = Detail::kAll;
  // trace_pipe cursor per CPU (consumer only).
  ktl::Array<ktl::u64> consumer_next_;
  ktl::u64 consumer_generation_ = 0;
  ktl::u64 consumer_lost_ = 0;
  ktl::u64 consumed_ = 0;
  Record scratch_;  // consumer's second candidate (no big stack frames)
};

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_ENGINE_H
