// SPDX-License-Identifier: GPL-2.0
// The stage engine: follows every creation through the anchors, keeps its
// boundary times in a per-task in-flight slot, and on completion turns it
// into stage times, per-CPU statistics, a slowest-N entry and a ring record.
#ifndef FORKSCOPE_CORE_ENGINE_H
#define FORKSCOPE_CORE_ENGINE_H

#include <forkscope/platform.h>
#include <ktl/atomic.h>
#include <ktl/types.h>

#include "control.h"
#include "creation.h"
#include "histogram.h"
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

// How a creation is handled, decided when it starts.
enum class Decision : ktl::u8 { kTracked, kFiltered, kSampledOut, kDisabled, kUntracked, kCount };
inline constexpr ktl::size_t kDecisionCount = static_cast<ktl::size_t>(Decision::kCount);
const char* decision_name(Decision decision);

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
inline constexpr ktl::size_t kRowSpawn =
    kStageCount + 2;  // fork start to first exec (per fork kind)
inline constexpr ktl::size_t kStatRows = kStageCount + 3;
inline constexpr ktl::size_t kKindCount = static_cast<ktl::size_t>(Kind::kCount);

struct EngineCounters {
  ktl::u64 creations = 0;              // successful copy_process returns (== /proc/stat processes)
  ktl::u64 copy_process_failures = 0;  // copy_process returned an error
  ktl::u64 clone_failures = 0;  // failed creation attempts at their end (kernel_clone -errno)
  ktl::u64 by_decision[kDecisionCount] = {};           // successful creations by decision
  ktl::u64 failures_by_decision[kDecisionCount] = {};  // failed attempts by decision
  ktl::u64 records = 0;                                // records emitted into the rings
  ktl::u64 ring_overwritten = 0;     // emitted, then overwritten before trace_pipe read them
  ktl::u64 consumed = 0;             // read through trace_pipe
  ktl::u64 repeated_boundaries = 0;  // an anchor fired twice in one creation (later ignored)
  ktl::u64 dropped_boundaries = 0;   // out-of-order boundary ignored by the partition
  ktl::u64 stale_slots = 0;          // a task began a creation while one was still open
  ktl::u64 filter_contended = 0;     // passed unfiltered: a filter write was in progress
  ktl::u64 unattributed = 0;         // events on a CPU id beyond the table
  ktl::u64 verdicts[3] = {};         // by VerdictKind, for recorded creations
  ktl::u64 execs = 0;                // do_execveat_common returns
  ktl::u64 exec_failures = 0;        // ...with an error
  ktl::u64 exec_by_decision[kDecisionCount] = {};  // every exec, by decision
  ktl::u64 exec_events_dropped = 0;                // exec crossings beyond the event log
  ktl::u64 spawns = 0;                             // spawn records (first exec or exit)
  ktl::u64 spawns_exited = 0;                      // ...ended by exit without exec
  ktl::u64 spawn_untracked = 0;                    // children the spawn table had no room for
  ktl::u64 anchor_tracked[kAnchorCount] = {};      // entries inside a tracked creation
  ktl::u64 anchor_other[kAnchorCount] = {};        // entries outside one (other callers, untracked)
};

struct StatsSnapshot {
  HistogramSnapshot rows[kStatRows][kKindCount];
};

class Engine {
 public:
  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();

  int init(const EngineConfig& config);  // may sleep; 0 or -FORKSCOPE_ENOMEM / -FORKSCOPE_EINVAL
  const EngineConfig& config() const { return config_; }

  // Probe context. Returns 1 when the return probe is not needed.
  int on_entry(Anchor anchor, const void* task, ProbeData* data, const CreationArgs* args,
               ktl::u64 now);
  // Probe context.
  void on_return(Anchor anchor, ProbeData* data, const ReturnFacts& facts, ktl::u64 now);
  void on_return(Anchor anchor, ProbeData* data, ktl::s64 retval, ktl::s32 child_pid,
                 const Observation* observation, ktl::u64 now) {
    ReturnFacts facts;
    facts.retval = retval;
    facts.child_pid = child_pid;
    facts.observation = observation;
    on_return(anchor, data, facts, now);
  }

  // Control; process context, serialized by the caller.
  void set_enabled(bool enabled) { enabled_.store(enabled); }
  bool enabled() const { return enabled_.load(); }
  void set_sample_every(ktl::u32 every) { sample_every_.store(every == 0 ? 1 : every); }
  ktl::u32 sample_every() const { return sample_every_.load(); }
  void request_reset();
  // Publishes a new filter; waits until no handler still reads the old one.
  void set_filter(const Filter& filter);
  Filter filter() const;
  void set_available_anchors(ktl::u64 mask) { available_anchors_ = mask; }
  ktl::u64 available_anchors() const { return available_anchors_; }

  // Readers; process context.
  EngineCounters counters() const;
  // Up to max finished records still in the rings, oldest first.
  ktl::size_t collect_records(Record* out, ktl::size_t max) const;
  // Up to max recent verdict mismatches, oldest first.
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
  static ktl::u64 slowness(const Record& record);

 private:
  struct CpuState;
  template <typename Slot>
  struct TaskTable;
  struct SpawnSlot;

  CpuState* cpu_state();
  Decision decide(const CreationArgs& args, Kind kind, CpuState* cpu);
  int begin(Anchor anchor, const void* task, ProbeData* data, const CreationArgs& args,
            ktl::u64 now, CpuState* cpu);
  void mark(InflightSlot* slot, Boundary boundary, ktl::u64 now, CpuState* cpu);
  void finish(InflightSlot* slot, ktl::s64 ret, CpuState* cpu);
  int begin_exec(const void* task, ProbeData* data, const CreationArgs& args, ktl::u64 now,
                 CpuState* cpu);
  void log_exec(InflightSlot* slot, Anchor anchor, bool is_return, ktl::u64 now, CpuState* cpu);
  void finish_exec(InflightSlot* slot, const ReturnFacts& facts, ktl::u64 now, CpuState* cpu);
  void spawn_begin(const Record& record, const void* child_task, ktl::u64 now, CpuState* cpu);
  void spawn_end(const void* task, const Record* exec, ktl::u64 now, CpuState* cpu);
  // Statistics, slowest, ring: everything a finished record feeds.
  void publish(Record& record, const Partition& partition, bool with_stats, CpuState* cpu);
  void count_outcome(Decision decision, bool ok, CpuState* cpu);
  bool cpu_is_current(const CpuState& cpu) const;
  ktl::size_t collect_ring(RecordRing CpuState::*ring, Record* out, ktl::size_t max) const;

  EngineConfig config_;
  PerCpu<CpuState>* cpus_ = nullptr;
  TaskTable<InflightSlot>* inflight_ = nullptr;
  TaskTable<SpawnSlot>* spawns_ = nullptr;
  ktl::Atomic<bool> enabled_{true};
  ktl::Atomic<ktl::u32> sample_every_{1};
  ktl::Atomic<ktl::u64> reset_generation_{1};
  ktl::Atomic<ktl::u64> seq_;
  ktl::Atomic<ktl::u64> unattributed_;
  ktl::Atomic<bool> reader_waiting_;
  // The filter is a seqlock: a write never waits for a grace period, and a
  // handler copies it in a few loads. The writer holds filter_lock_ with
  // IRQs off, so a handler spins for at most one 40-byte copy.
  Filter read_filter(bool* contended) const;
  alignas(8) Filter filter_;
  ktl::Atomic<ktl::u32> filter_seq_;
  forkscope_spinlock* filter_lock_ = nullptr;
  ktl::u64 available_anchors_ = ~ktl::u64{0};
  // trace_pipe cursor per CPU (consumer only).
  ktl::u64* consumer_next_ = nullptr;
  ktl::u64 consumer_generation_ = 0;
  ktl::u64 consumer_lost_ = 0;
  ktl::u64 consumed_ = 0;
  Record scratch_;  // consumer's second candidate (no big stack frames)
};

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_ENGINE_H
