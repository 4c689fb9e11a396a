// SPDX-License-Identifier: GPL-2.0
// The detail levels' table: each level's name and the anchors it arms.
#include "detail.h"

namespace forkscope {
namespace {

constexpr ktl::u64 bit(Anchor anchor) { return ktl::u64{1} << static_cast<int>(anchor); }

constexpr ktl::u64 range(Anchor first, Anchor last) {
  ktl::u64 mask = 0;
  for (int a = static_cast<int>(first); a <= static_cast<int>(last); ++a) mask |= ktl::u64{1} << a;
  return mask;
}

// alloc_bprm names the file being executed, which exec and spawn records
// carry at every level.
constexpr ktl::u64 kSummaryAnchors = bit(Anchor::kKernelClone) | bit(Anchor::kCopyProcess) |
                                     bit(Anchor::kWakeUpNewTask) | bit(Anchor::kDoExecveatCommon) |
                                     bit(Anchor::kAllocBprm);
constexpr ktl::u64 kForkAnchors = range(Anchor::kKernelClone, Anchor::kWakeUpNewTask);
constexpr ktl::u64 kExecAnchors = range(Anchor::kDoExecveatCommon, Anchor::kFreeBprm);

struct DetailInfo {
  const char* name;
  ktl::u64 anchors;
};

constexpr DetailInfo kDetails[kDetailCount] = {
    {"summary", kSummaryAnchors},
    {"fork", kSummaryAnchors | kForkAnchors},
    {"exec", kSummaryAnchors | kExecAnchors},
    {"all", kSummaryAnchors | kForkAnchors | kExecAnchors},
};

}  // namespace

const char* detail_name(Detail detail) {
  auto index = static_cast<ktl::size_t>(detail);
  return index < kDetailCount ? kDetails[index].name : "?";
}

ktl::u64 anchors_at(Detail detail) {
  auto index = static_cast<ktl::size_t>(detail);
  return index < kDetailCount ? kDetails[index].anchors : 0;
}

bool parse_detail(const char* text, ktl::size_t length, Detail* out) {
  for (ktl::size_t d = 0; d < kDetailCount; ++d) {
    const char* name = kDetails[d].name;
    ktl::size_t n = 0;
    while (n < length && name[n] != '\0' && name[n] == text[n]) ++n;
    if (n == length && name[n] == '\0') {
      *out = static_cast<Detail>(d);
      return true;
    }
  }
  return false;
}

}  // namespace forkscope
