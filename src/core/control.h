// SPDX-License-Identifier: GPL-2.0
// Parsers for what root writes to the control and filter files. Pure
// functions: nothing changes until a whole write parses; errors say why.
#ifndef FORKSCOPE_CORE_CONTROL_H
#define FORKSCOPE_CORE_CONTROL_H

#include <ktl/string_builder.h>
#include <ktl/types.h>

#include "creation.h"
#include "detail.h"

namespace forkscope {

// control: exactly one command per write, optional trailing newline,
// surrounding blanks ignored: "enable", "disable", "reset", "sample N"
// (1 <= N <= 1000000; 1 = every creation), "detail LEVEL" (a detail_name()).
struct ControlCommand {
  enum class Op : ktl::u8 { kEnable, kDisable, kReset, kSample, kDetail, kCalibrate };
  Op op = Op::kEnable;
  ktl::u32 sample_every = 1;
  Detail detail = Detail::kAll;
};

// filter: one write replaces the whole filter. Clauses separated by blanks,
// each "pid=N", "tgid=N" (1 <= N <= 4194304), "comm=NAME" (1..15 bytes,
// printable ASCII, no blanks or '='), "kind=NAME" (a kind_name(), may repeat:
// kinds are OR-ed). Each key other than kind at most once. Clauses are AND-ed.
// "clear" (alone) or an empty write removes the filter.
struct Filter {
  bool active = false;     // false: everything passes
  ktl::s32 pid = 0;        // 0 = any
  ktl::s32 tgid = 0;       // 0 = any
  char comm[16] = {};      // "" = any; compared exactly against the task's comm
  ktl::u32 kind_mask = 0;  // bit (1 << Kind); 0 = any

  bool matches(ktl::s32 task_pid, ktl::s32 task_tgid, const char* task_comm, Kind kind) const;
};

// Writes the filter back in the syntax above ("clear" when inactive).
void append_filter(ktl::StringBuilder& out, const Filter& filter);

// Parse results: 0, or -FORKSCOPE_EINVAL with *why set to a static message that
// says what was wrong (for the pr_warn). input need not be NUL-terminated;
// length may be 0. Inputs longer than 256 bytes are rejected.
[[nodiscard]] int parse_control(const char* input, ktl::size_t length, ControlCommand* out,
                                const char** why);
[[nodiscard]] int parse_filter(const char* input, ktl::size_t length, Filter* out,
                               const char** why);

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_CONTROL_H
