// SPDX-License-Identifier: GPL-2.0
// How forkscope handles one creation or exec, decided when it starts.
#ifndef FORKSCOPE_CORE_DECISION_H
#define FORKSCOPE_CORE_DECISION_H

#include <ktl/types.h>

namespace forkscope {

enum class Decision : ktl::u8 {
  kRecorded,    // followed stage by stage into a record
  kFiltered,    // the filter excluded it
  kSampledOut,  // "sample N" skipped it
  kDisabled,    // forkscope was disabled
  kUntracked,   // no room in the in-flight table (counted, not followed)
  kCount,
};
inline constexpr ktl::size_t kDecisionCount = static_cast<ktl::size_t>(Decision::kCount);

// "recorded", "filtered", "sampled_out", "disabled", "untracked".
const char* decision_name(Decision decision);

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_DECISION_H
