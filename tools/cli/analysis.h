// SPDX-License-Identifier: GPL-2.0
// forkscope CLI: statistics of a recording's records (report, diff, top):
// per stage count, mean, exact percentiles and max, by kind.
#ifndef FORKSCOPE_CLI_ANALYSIS_H
#define FORKSCOPE_CLI_ANALYSIS_H

#include <cstdint>
#include <string>
#include <vector>

#include "recording.h"

namespace forkscope::cli {

struct StageStat {
  std::string name;
  std::vector<std::uint64_t> values;  // sorted after summarize()
  std::uint64_t sum = 0;
  std::uint64_t count() const { return values.size(); }
  std::uint64_t mean() const { return values.empty() ? 0 : sum / values.size(); }
  std::uint64_t min() const { return values.empty() ? 0 : values.front(); }
  std::uint64_t max() const { return values.empty() ? 0 : values.back(); }
  // Nearest-rank percentile (permille: 500 = p50).
  std::uint64_t percentile(unsigned permille) const;
};

// Rows of one group: every stage that ran (stage-map order as the records
// list them), for creations then "copy_process" and kernel_clone's outer
// steps, then "total". Counts successful records only, as forkscope's stats do.
struct Summary {
  std::string group;  // a kind, "all" (all creation kinds) or "exec"
  std::uint64_t records = 0;
  std::uint64_t failed = 0;
  std::vector<StageStat> rows;
  const StageStat* row(const std::string& name) const;
};

// group: a kind name, "all" for every creation kind, "exec" for execs.
Summary summarize(const std::vector<Record>& records, const std::string& group);

// The kinds present among the fork records, in first-seen order.
std::vector<std::string> kinds_of(const std::vector<Record>& records);

// Text tables (fmt): one summary; and a side-by-side diff of two.
std::string format_summary(const Summary& summary);
std::string format_diff(const Summary& a, const Summary& b, const std::string& name_a,
                        const std::string& name_b);

// Change of b against a in percent (0 when a is 0).
double change_percent(std::uint64_t a, std::uint64_t b);

}  // namespace forkscope::cli

#endif  // FORKSCOPE_CLI_ANALYSIS_H
