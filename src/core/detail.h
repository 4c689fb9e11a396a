// SPDX-License-Identifier: GPL-2.0
// Levels of detail: which anchors a level arms. Stages whose anchors are
// not armed merge into their neighbours, so every record still sums exactly.
#ifndef FORKSCOPE_CORE_DETAIL_H
#define FORKSCOPE_CORE_DETAIL_H

#include <ktl/types.h>

#include "stage_model.h"

namespace forkscope {

enum class Detail : ktl::u8 {
  kSummary,  // creation total, copy_process, wake, vfork wait, exec total
  kFork,     // every fork stage, exec total
  kExec,     // every exec stage, the fork summary
  kAll,      // every stage
  kCount,
};
inline constexpr ktl::size_t kDetailCount = static_cast<ktl::size_t>(Detail::kCount);

const char* detail_name(Detail detail);
// kernel_clone, copy_process, do_execveat_common: armed at every level, so
// every creation and exec is counted in one bucket even as the other
// anchors are armed and disarmed under it.
inline constexpr ktl::u64 kCreationSpanAnchors =
    (ktl::u64{1} << static_cast<int>(Anchor::kKernelClone)) |
    (ktl::u64{1} << static_cast<int>(Anchor::kCopyProcess));
inline constexpr ktl::u64 kExecSpanAnchors = ktl::u64{1}
                                             << static_cast<int>(Anchor::kDoExecveatCommon);
inline constexpr ktl::u64 kSpanAnchors = kCreationSpanAnchors | kExecSpanAnchors;
// Armed while disabled: none, when the task_newtask and sched_process_exec
// tracepoints count creations and execs; otherwise the spans they replace.
inline constexpr ktl::u64 disabled_anchors(bool creations_at_newtask, bool execs_at_exec_tp) {
  return (creations_at_newtask ? 0 : kCreationSpanAnchors) |
         (execs_at_exec_tp ? 0 : kExecSpanAnchors);
}
// Bit per Anchor the level needs armed.
ktl::u64 anchors_at(Detail detail);
// The level named by text[0..length), or false.
[[nodiscard]] bool parse_detail(const char* text, ktl::size_t length, Detail* out);

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_DETAIL_H
