// SPDX-License-Identifier: GPL-2.0
// forkscope CLI: statistics of records (see analysis.h).
#include "analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace forkscope::cli {

std::uint64_t StageStat::percentile(unsigned permille) const {
  if (values.empty()) return 0;
  std::size_t rank = (values.size() * permille + 999) / 1000;  // ceil(n * p)
  if (rank == 0) rank = 1;
  return values[std::min(rank, values.size()) - 1];
}

const StageStat* Summary::row(const std::string& name) const {
  for (const StageStat& s : rows) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::string> kinds_of(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const Record& r : records) {
    if (r.is_fork() && std::find(out.begin(), out.end(), r.kind) == out.end()) {
      out.push_back(r.kind);
    }
  }
  return out;
}

Summary summarize(const std::vector<Record>& records, const std::string& group) {
  Summary out;
  out.group = group;
  std::map<std::string, std::size_t> index;
  auto add = [&](const std::string& name, std::uint64_t ns) {
    auto [it, fresh] = index.emplace(name, out.rows.size());
    if (fresh) out.rows.push_back(StageStat{name, {}, 0});
    StageStat& s = out.rows[it->second];
    s.values.push_back(ns);
    s.sum += ns;
  };
  bool exec = group == "exec";
  // Stages first (in the order records list them), then the summary rows.
  std::vector<const Record*> chosen;
  for (const Record& r : records) {
    if (exec ? !r.is_exec() : !r.is_fork()) continue;
    if (!exec && group != "all" && r.kind != group) continue;
    ++out.records;
    if (!r.succeeded()) {
      ++out.failed;
      continue;
    }
    chosen.push_back(&r);
    for (const auto& [name, ns] : r.stages) add(name, ns);
  }
  for (const Record* r : chosen) {
    if (r->copy_process_ns != 0) add("copy_process", r->copy_process_ns);
  }
  for (const Record* r : chosen) {
    for (const auto& [name, ns] : outer_stages(*r)) {
      if (ns != 0 || name == "clone_prologue") add(name, ns);
    }
  }
  for (const Record* r : chosen) add("total", r->total_ns);
  for (StageStat& s : out.rows) std::sort(s.values.begin(), s.values.end());
  return out;
}

double change_percent(std::uint64_t a, std::uint64_t b) {
  if (a == 0) return 0;
  return (static_cast<double>(b) - static_cast<double>(a)) * 100.0 / static_cast<double>(a);
}

std::string format_summary(const Summary& s) {
  std::string out = fmt::format("== {}: {} records ({} failed, not in the table)\n", s.group,
                                s.records, s.failed);
  out += fmt::format("{:<26} {:>8} {:>11} {:>11} {:>11} {:>11} {:>11} {:>6}\n", "stage", "count",
                     "mean_ns", "p50_ns", "p90_ns", "p99_ns", "max_ns", "share");
  const StageStat* total = s.row("total");
  for (const StageStat& r : s.rows) {
    double share = total != nullptr && total->sum != 0 && r.name != "copy_process"
                       ? 100.0 * static_cast<double>(r.sum) / static_cast<double>(total->sum)
                       : 0;
    std::string share_text = r.name == "copy_process" ? "" : fmt::format("{:5.1f}%", share);
    out += fmt::format("{:<26} {:>8} {:>11} {:>11} {:>11} {:>11} {:>11} {:>6}\n", r.name, r.count(),
                       r.mean(), r.percentile(500), r.percentile(900), r.percentile(990), r.max(),
                       share_text);
  }
  return out;
}

std::string format_diff(const Summary& a, const Summary& b, const std::string& name_a,
                        const std::string& name_b) {
  std::string out = fmt::format("== {}: A = {} ({} records), B = {} ({} records)\n", a.group,
                                name_a, a.records, name_b, b.records);
  out +=
      fmt::format("{:<26} {:>8} {:>8} {:>11} {:>11} {:>9} {:>11} {:>11} {:>9}\n", "stage",
                  "count_A", "count_B", "mean_A", "mean_B", "change", "p50_A", "p50_B", "change");
  std::vector<std::string> names;
  for (const StageStat& r : a.rows) names.push_back(r.name);
  for (const StageStat& r : b.rows) {
    if (std::find(names.begin(), names.end(), r.name) == names.end()) names.push_back(r.name);
  }
  // "total" last, wherever B's extra stages went.
  std::stable_partition(names.begin(), names.end(),
                        [](const std::string& n) { return n != "total"; });
  static const StageStat kEmpty;
  for (const std::string& name : names) {
    const StageStat* ra = a.row(name);
    const StageStat* rb = b.row(name);
    if (ra == nullptr) ra = &kEmpty;
    if (rb == nullptr) rb = &kEmpty;
    auto pct = [](const StageStat& x, const StageStat& y, std::uint64_t vx, std::uint64_t vy) {
      if (x.count() == 0 || y.count() == 0) return std::string("-");
      return fmt::format("{:+.1f}%", change_percent(vx, vy));
    };
    out +=
        fmt::format("{:<26} {:>8} {:>8} {:>11} {:>11} {:>9} {:>11} {:>11} {:>9}\n", name,
                    ra->count(), rb->count(), ra->mean(), rb->mean(),
                    pct(*ra, *rb, ra->mean(), rb->mean()), ra->percentile(500), rb->percentile(500),
                    pct(*ra, *rb, ra->percentile(500), rb->percentile(500)));
  }
  return out;
}

}  // namespace forkscope::cli
