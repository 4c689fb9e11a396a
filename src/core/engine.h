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
};

// Statistics rows: one per stage, then these two.
inline constexpr ktl::size_t kRowCopyProcess = kStageCount;
inline constexpr ktl::size_t kRowTotal = kStageCount + 1;
inline constexpr ktl::size_t kStatRows = kStageCount + 2;
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
  ktl::u64 unattributed = 0;         // events on a CPU id beyond the table
  ktl::u64 verdicts[3] = {};         // by VerdictKind, for recorded creations
  ktl::u64 anchor_tracked[kAnchorCount] = {};  // entries inside a tracked creation
  ktl::u64 anchor_other[kAnchorCount] = {};    // entries outside one (other callers, untracked)
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

  int init(const EngineConfig& config);  // may sleep; 0 or -FS_ENOMEM / -FS_EINVAL
  const EngineConfig& config() const { return config_; }

  // Probe context. Returns 1 when the return probe is not needed.
  int on_entry(Anchor anchor, const void* task, ProbeData* data, const CreationArgs* args,
               ktl::u64 now);
  // Probe context. retval: kernel_clone's pid_t or copy_process's -errno
  // (0 on success); child_pid: copy_process's new task pid, else 0.
  void on_return(Anchor anchor, ProbeData* data, ktl::s64 retval, ktl::s32 child_pid,
                 const Observation* observation, ktl::u64 now);

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
  // fs_platform_notify_readers().
  void set_reader_waiting(bool waiting) { reader_waiting_.store(waiting); }

  // The key slowest-N orders by: the creation's time without the vfork wait.
  static ktl::u64 slowness(const Record& record);

 private:
  struct CpuState;
  struct InflightTable;

  CpuState* cpu_state();
  Decision decide(const CreationArgs& args, Kind kind, CpuState* cpu);
  int begin(Anchor anchor, const void* task, ProbeData* data, const CreationArgs& args,
            ktl::u64 now, CpuState* cpu);
  void mark(InflightSlot* slot, Boundary boundary, ktl::u64 now, CpuState* cpu);
  void finish(InflightSlot* slot, ktl::s64 ret, CpuState* cpu);
  void count_outcome(Decision decision, bool ok, CpuState* cpu);
  bool cpu_is_current(const CpuState& cpu) const;

  EngineConfig config_;
  PerCpu<CpuState>* cpus_ = nullptr;
  InflightTable* inflight_ = nullptr;
  ktl::Atomic<bool> enabled_{true};
  ktl::Atomic<ktl::u32> sample_every_{1};
  ktl::Atomic<ktl::u64> reset_generation_{1};
  ktl::Atomic<ktl::u64> seq_;
  ktl::Atomic<ktl::u64> unattributed_;
  ktl::Atomic<bool> reader_waiting_;
  Filter filters_[2];
  ktl::Atomic<ktl::u32> active_filter_;
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
