// SPDX-License-Identifier: GPL-2.0
// One process creation, exec or spawn as forkscope records it: who asked
// for what, when each boundary was crossed, and how it ended.
#ifndef FORKSCOPE_CORE_RECORD_H
#define FORKSCOPE_CORE_RECORD_H

#include <forkscope/core.h>
#include <ktl/types.h>

#include "creation.h"
#include "stage_model.h"
#include "verdict.h"

namespace forkscope {

inline constexpr ktl::size_t kCommLength = 16;
inline constexpr ktl::size_t kFilenameLength = 64;

// Record ids (FORKSCOPE_SEQ_CPU_BITS): the CPU in the low bits, as wide as
// the records' u16 cpu fields, so every CPU the core supports fits.
inline constexpr unsigned kSeqCpuBits = FORKSCOPE_SEQ_CPU_BITS;
inline constexpr ktl::u32 kMaxCpus = ktl::u32{1} << kSeqCpuBits;
static_assert(kMaxCpus - 1 == static_cast<ktl::u16>(~ktl::u16{0}), "a CPU id fits in cpu_end");
constexpr ktl::u64 make_seq(ktl::u64 count, ktl::u32 cpu) { return count << kSeqCpuBits | cpu; }
constexpr ktl::u32 seq_cpu(ktl::u64 seq) { return static_cast<ktl::u32>(seq & (kMaxCpus - 1)); }
constexpr ktl::u64 seq_count(ktl::u64 seq) { return seq >> kSeqCpuBits; }

enum class EventType : ktl::u8 {
  kFork,   // a process creation (kernel_clone or copy_process)
  kExec,   // an execve: the exec facts
  kSpawn,  // a child's fork start to its first exec (or exit): the spawn facts
};

// For EventType::kExec (and the file a spawn exec'd).
struct ExecFacts {
  ExecEvent events[kMaxExecEvents];
  ktl::u16 event_count = 0;
  ktl::u16 events_dropped = 0;  // more crossings than fit (counted, never silent)
  char filename[kFilenameLength] = {};
  char new_comm[kCommLength] = {};
  ktl::u64 start_ns = 0;
};

// For EventType::kSpawn.
struct SpawnFacts {
  ktl::u64 fork_start_ns = 0;  // the parent entered kernel_clone
  ktl::u64 forked_ns = 0;      // copy_process returned
  ktl::u64 exec_start_ns = 0;  // the child entered execve (0 if it exited)
  ktl::u64 end_ns = 0;         // its first exec returned, or it exited
  bool exited = false;         // ended by exit, not exec
  Kind fork_kind = Kind::kFork;
};

// A fork record; exec and spawn records use the same type (event says
// which): parent_pid/tgid/comm are then the task's own, ret the result.
struct Record {
  ktl::u64 seq = 0;     // unique id: make_seq(its CPU's count of records, from 1; that CPU)
  ktl::u64 end_ns = 0;  // when it finished: the order readers sort by
  EventType event = EventType::kFork;
  ktl::u64 boundary_ns[kBoundaryCount] = {};
  ktl::u64 present = 0;  // bit per Boundary crossed
  CloneRequest request;
  Kind kind = Kind::kFork;
  ktl::s32 parent_pid = 0;
  ktl::s32 parent_tgid = 0;
  char comm[kCommLength] = {};
  ktl::s64 ret = 0;        // kernel_clone's return (child pid in the caller's namespace) or -errno
  ktl::s32 child_pid = 0;  // global pid of the child (0 if copy_process failed)
  ktl::u16 cpu_start = 0;
  ktl::u16 cpu_end = 0;
  ktl::u16 repeated_boundaries = 0;  // a boundary crossed twice: later crossings ignored
  Prediction prediction;             // from the flags and the caller, at the start
  Observation observation;           // at copy_process's successful return
  Verdict verdict;
  ExecFacts exec;
  SpawnFacts spawn;

  bool vfork() const { return (request.flags & clone_flag::kVfork) != 0; }
  bool is_exec() const { return event == EventType::kExec; }
  bool succeeded() const { return ret > 0; }
};

// Completion order: end_ns, then the CPU, then that CPU's count (a total
// order; within one CPU it is the order the records were finished in).
inline bool completed_before(const Record& a, const Record& b) {
  if (a.end_ns != b.end_ns) return a.end_ns < b.end_ns;
  if (seq_cpu(a.seq) != seq_cpu(b.seq)) return seq_cpu(a.seq) < seq_cpu(b.seq);
  return seq_count(a.seq) < seq_count(b.seq);
}

// Stage times of any record: a fork's boundaries, an exec's event log; a
// spawn has only its total.
void compute_record_partition(const Record& record, Partition* out);

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_RECORD_H
