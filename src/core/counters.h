// SPDX-License-Identifier: GPL-2.0
// The one list of everything the engine counts. Each entry is declared,
// reset, summed over CPUs and printed from FORKSCOPE_COUNTERS alone.
#ifndef FORKSCOPE_CORE_COUNTERS_H
#define FORKSCOPE_CORE_COUNTERS_H

#include <ktl/atomic.h>
#include <ktl/string_builder.h>
#include <ktl/types.h>

#include "decision.h"
#include "stage_model.h"
#include "verdict.h"

namespace forkscope {

// PER_CPU(name, what): one per-CPU counter, printed as "name N".
// PER_CPU_ARRAY(name, count, label, prefix, suffix, what): per-CPU, one per
//   index, printed as "<prefix><label(i)><suffix> N"; label null: not printed
//   in the counters file (the stages file shows it).
// READER(name, what): computed by the reader (no per-CPU part), printed.
#define FORKSCOPE_COUNTERS(PER_CPU, PER_CPU_ARRAY, READER)                                   \
  PER_CPU(creations, "successful copy_process returns (== /proc/stat processes)")            \
  PER_CPU(copy_process_failures, "copy_process returned an error (while it is armed)")       \
  PER_CPU(clone_failures, "failed creation attempts at their end (kernel_clone -errno)")     \
  READER(failures_paused, "1 while disabled: the span kretprobes that see failures are off") \
  READER(failures_pauses, "times failure counting was paused (disable) since reset")         \
  READER(failures_paused_ns, "time it was paused since reset: failures then are uncounted")  \
  PER_CPU_ARRAY(by_decision, kDecisionCount, decision_label, "", "",                         \
                "successful creations by how they were handled")                             \
  PER_CPU_ARRAY(failures_by_decision, kDecisionCount, decision_label, "", "_failures",       \
                "failed creation attempts by how they were handled")                         \
  PER_CPU(records, "records emitted into the rings")                                         \
  READER(ring_overwritten, "emitted, then overwritten before trace_pipe read them")          \
  READER(consumed, "records read through trace_pipe")                                        \
  PER_CPU(repeated_boundaries, "an anchor fired twice in one creation (later ones ignored)") \
  PER_CPU(unpaired_returns, "a call-site return whose call the creation did not enter")      \
  PER_CPU(dropped_boundaries, "out-of-order boundaries ignored by the partition")            \
  PER_CPU(stale_slots, "a task began a creation while one of its own was still open")        \
  PER_CPU(filter_contended, "passed unfiltered: a filter write was in progress")             \
  PER_CPU_ARRAY(verdicts, kVerdictKindCount, verdict_label, "verdict_", "",                  \
                "recorded creations by verdict")                                             \
  PER_CPU(execs, "do_execveat_common returns; while disabled, sched_process_exec")           \
  PER_CPU(exec_failures, "...with an error")                                                 \
  PER_CPU_ARRAY(exec_by_decision, kDecisionCount, decision_label, "exec_", "",               \
                "every exec by how it was handled")                                          \
  PER_CPU(exec_events_dropped, "exec crossings beyond the event log")                        \
  PER_CPU(spawns, "spawn records (first exec or exit)")                                      \
  PER_CPU(spawns_exited, "...ended by exit without exec")                                    \
  PER_CPU(spawn_untracked, "children the spawn table had no room for")                       \
  READER(unattributed, "events on a CPU id beyond the per-CPU table")                        \
  READER(in_flight, "creations and execs begun, not yet ended (slots held)")                 \
  PER_CPU_ARRAY(anchor_tracked, kAnchorCount, nullptr, "", "",                               \
                "anchor entries inside a tracked creation or exec")                          \
  PER_CPU_ARRAY(anchor_other, kAnchorCount, nullptr, "", "",                                 \
                "anchor entries outside one (other callers, untracked)")

// Labels of the arrays' entries, by index.
const char* decision_label(ktl::size_t index);  // "recorded", "filtered", ...
const char* verdict_label(ktl::size_t index);   // "matched", "mismatched", "unchecked"

// The sum over CPUs, as readers see it.
struct EngineCounters {
#define FORKSCOPE_DECLARE_SUM(name, what) ktl::u64 name = 0;
#define FORKSCOPE_DECLARE_SUM_ARRAY(name, count, label, prefix, suffix, what) \
  ktl::u64 name[count] = {};
  FORKSCOPE_COUNTERS(FORKSCOPE_DECLARE_SUM, FORKSCOPE_DECLARE_SUM_ARRAY, FORKSCOPE_DECLARE_SUM)
#undef FORKSCOPE_DECLARE_SUM
#undef FORKSCOPE_DECLARE_SUM_ARRAY

  ktl::u64 verdicts_checked() const {
    return verdicts[static_cast<ktl::size_t>(VerdictKind::kMatch)] +
           verdicts[static_cast<ktl::size_t>(VerdictKind::kMismatch)];
  }
  // "name N" for every printed counter, in list order.
  void append_to(ktl::StringBuilder& out) const;
};

// One CPU's counters: written only by that CPU (preemption off), read by anyone.
struct CpuCounters {
#define FORKSCOPE_DECLARE_CPU(name, what) ktl::OwnedCounter name;
#define FORKSCOPE_DECLARE_CPU_ARRAY(name, count, label, prefix, suffix, what) \
  ktl::OwnedCounter name[count];
#define FORKSCOPE_DECLARE_NONE(name, what)
  FORKSCOPE_COUNTERS(FORKSCOPE_DECLARE_CPU, FORKSCOPE_DECLARE_CPU_ARRAY, FORKSCOPE_DECLARE_NONE)
#undef FORKSCOPE_DECLARE_CPU
#undef FORKSCOPE_DECLARE_CPU_ARRAY

  void reset();
  void add_to(EngineCounters* sum) const;
};

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_COUNTERS_H
