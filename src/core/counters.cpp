// SPDX-License-Identifier: GPL-2.0
// The counter list's reset, sum and text, all generated from FORKSCOPE_COUNTERS.
#include "counters.h"

#include <ktl/utility.h>

#include "probe_context.h"

namespace forkscope {

const char* decision_label(ktl::size_t index) {
  return decision_name(static_cast<Decision>(index < kDecisionCount ? index : kDecisionCount));
}

const char* verdict_label(ktl::size_t index) {
  static constexpr const char* kLabels[] = {"matched", "mismatched", "unchecked"};
  static_assert(ktl::size(kLabels) == kVerdictKindCount, "a label for every verdict kind");
  return index < kVerdictKindCount ? kLabels[index] : "?";
}

// On the owner CPU, in probe context (the lazy reset of Engine::cpu_state).
FORKSCOPE_PROBE_CONTEXT void CpuCounters::reset() {
#define FORKSCOPE_RESET(name, what) name.reset();
#define FORKSCOPE_RESET_ARRAY(name, count, label, prefix, suffix, what) \
  for (auto& counter : name) counter.reset();
#define FORKSCOPE_SKIP(name, what)
  FORKSCOPE_COUNTERS(FORKSCOPE_RESET, FORKSCOPE_RESET_ARRAY, FORKSCOPE_SKIP)
#undef FORKSCOPE_RESET
#undef FORKSCOPE_RESET_ARRAY
}

void CpuCounters::add_to(EngineCounters* sum) const {
#define FORKSCOPE_ADD(name, what) sum->name += name.read();
#define FORKSCOPE_ADD_ARRAY(name, count, label, prefix, suffix, what) \
  for (ktl::size_t i = 0; i < (count); ++i) sum->name[i] += name[i].read();
  FORKSCOPE_COUNTERS(FORKSCOPE_ADD, FORKSCOPE_ADD_ARRAY, FORKSCOPE_SKIP)
#undef FORKSCOPE_ADD
#undef FORKSCOPE_ADD_ARRAY
#undef FORKSCOPE_SKIP
}

namespace {

void append_line(ktl::StringBuilder& out, const char* prefix, const char* label, const char* suffix,
                 ktl::u64 value) {
  out.append(prefix).append(label).append(suffix).append_char(' ').append_u64(value);
  out.append_char('\n');
}

template <typename Label>
void append_array(ktl::StringBuilder& out, const ktl::u64* values, ktl::size_t count, Label label,
                  const char* prefix, const char* suffix) {
  for (ktl::size_t i = 0; i < count; ++i) append_line(out, prefix, label(i), suffix, values[i]);
}

// Arrays without a label are shown elsewhere (the stages file).
void append_array(ktl::StringBuilder&, const ktl::u64*, ktl::size_t, ktl::nullptr_t, const char*,
                  const char*) {}

}  // namespace

void EngineCounters::append_to(ktl::StringBuilder& out) const {
#define FORKSCOPE_PRINT(name, what) append_line(out, "", #name, "", name);
#define FORKSCOPE_PRINT_ARRAY(name, count, label, prefix, suffix, what) \
  append_array(out, name, count, label, prefix, suffix);
  FORKSCOPE_COUNTERS(FORKSCOPE_PRINT, FORKSCOPE_PRINT_ARRAY, FORKSCOPE_PRINT)
#undef FORKSCOPE_PRINT
#undef FORKSCOPE_PRINT_ARRAY
  append_line(out, "", "verdict_checked", "", verdicts_checked());
}

}  // namespace forkscope
