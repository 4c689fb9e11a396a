// SPDX-License-Identifier: GPL-2.0
// One process creation as forkscope records it: who asked for what, when
// each boundary was crossed, and how it ended.
#ifndef FORKSCOPE_CORE_RECORD_H
#define FORKSCOPE_CORE_RECORD_H

#include <ktl/types.h>

#include "creation.h"
#include "stage_model.h"
#include "verdict.h"

namespace forkscope {

inline constexpr ktl::size_t kCommLength = 16;

struct Record {
  ktl::u64 seq = 0;  // global order of completion, from 1
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

  bool vfork() const { return (request.flags & clone_flag::kVfork) != 0; }
  bool succeeded() const { return ret > 0; }
};

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_RECORD_H
