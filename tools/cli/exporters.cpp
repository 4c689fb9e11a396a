// SPDX-License-Identifier: GPL-2.0
// forkscope CLI: Perfetto, folded-stack and SVG exports (see exporters.h).
#include "exporters.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "analysis.h"

namespace forkscope::cli {
namespace {

using Json = nlohmann::ordered_json;

// Lays out children one after another from `start`, cut at `end`.
class Layout {
 public:
  Layout(std::vector<Slice>& out, const Slice& parent, std::size_t* clamped)
      : out_(out), parent_(parent), cursor_(parent.ts_ns), clamped_(clamped) {}
  // Appends a child of dur ns at the cursor; returns it (index in out).
  std::size_t add(const std::string& name, std::uint64_t dur) {
    Slice s = parent_;
    s.name = name;
    s.category = "stage";
    s.depth = parent_.depth + 1;
    s.ts_ns = cursor_;
    std::uint64_t end = parent_.ts_ns + parent_.dur_ns;
    if (s.ts_ns + dur > end) {
      if (clamped_ != nullptr) ++*clamped_;
      dur = end > s.ts_ns ? end - s.ts_ns : 0;
    }
    s.dur_ns = dur;
    cursor_ += dur;
    out_.push_back(s);
    return out_.size() - 1;
  }
  void skip(std::uint64_t ns) { cursor_ += ns; }

 private:
  std::vector<Slice>& out_;
  Slice parent_;
  std::uint64_t cursor_;
  std::size_t* clamped_;
};

std::uint64_t first_ns(const std::vector<Record>& records) {
  std::uint64_t t0 = std::numeric_limits<std::uint64_t>::max();
  for (const Record& r : records) t0 = std::min(t0, r.start_ns);
  return records.empty() ? 0 : t0;
}

std::string short_name(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::vector<Slice> perfetto_slices(const std::vector<Record>& records, std::size_t* clamped) {
  std::vector<Slice> out;
  std::uint64_t t0 = first_ns(records);
  for (const Record& r : records) {
    if (r.start_ns == 0 && !r.is_spawn()) continue;
    Slice top;
    top.seq = r.seq;
    top.ts_ns = r.start_ns - t0;
    top.dur_ns = r.total_ns;
    if (r.is_fork()) {
      top.pid = r.tgid;
      top.tid = r.pid;
      top.category = "fork";
      top.name = r.succeeded() ? fmt::format("{} -> {}", r.kind, r.child_pid)
                               : fmt::format("{} -> -{}", r.kind, r.errno_name);
      out.push_back(top);
      Layout outer(out, top, clamped);
      if (r.clone_prologue_ns) outer.add("clone_prologue", r.clone_prologue_ns);
      if (r.copy_process_ns) {
        std::size_t cp = outer.add("copy_process", r.copy_process_ns);
        Slice copy = out[cp];
        Layout inner(out, copy, clamped);
        for (const auto& [name, ns] : r.stages) inner.add(name, ns);
      }
      for (const auto& [name, ns] : outer_stages(r)) {
        if (name != "clone_prologue" && ns != 0) outer.add(name, ns);
      }
    } else if (r.is_exec()) {
      top.pid = r.tgid;
      top.tid = r.pid;
      top.category = "exec";
      top.name = fmt::format("exec {}", short_name(r.filename));
      out.push_back(top);
      Layout inner(out, top, clamped);
      for (const auto& [name, ns] : r.stages) inner.add(name, ns);
    } else {
      // The child's track: the spawn, its fork and its time before exec
      // (the exec itself is the exec record's slice).
      top.pid = r.child_pid;
      top.tid = r.child_pid;
      top.category = "spawn";
      top.name = r.exited ? fmt::format("spawn {} (exited)", r.child_pid)
                          : fmt::format("spawn {} -> {}", r.child_pid, short_name(r.filename));
      top.dur_ns = r.end_ns >= r.start_ns ? r.end_ns - r.start_ns : 0;
      out.push_back(top);
      Layout inner(out, top, clamped);
      if (r.forked_ns >= r.start_ns) inner.add("fork", r.forked_ns - r.start_ns);
      if (!r.exited && r.exec_start_ns >= r.forked_ns) {
        inner.add("before_exec", r.exec_start_ns - r.forked_ns);
      } else if (r.exited && r.end_ns >= r.forked_ns) {
        inner.add("ran", r.end_ns - r.forked_ns);
      }
    }
  }
  return out;
}

std::size_t overlapping_slices(const std::vector<Slice>& slices) {
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<const Slice*>> tracks;
  for (const Slice& s : slices) tracks[{s.pid, s.tid}].push_back(&s);
  std::size_t bad = 0;
  for (auto& [track, list] : tracks) {
    std::stable_sort(list.begin(), list.end(), [](const Slice* a, const Slice* b) {
      if (a->ts_ns != b->ts_ns) return a->ts_ns < b->ts_ns;
      return a->dur_ns > b->dur_ns;
    });
    std::vector<std::uint64_t> open;  // ends of enclosing slices
    for (const Slice* s : list) {
      while (!open.empty() && open.back() <= s->ts_ns) open.pop_back();
      if (!open.empty() && s->ts_ns + s->dur_ns > open.back()) ++bad;
      open.push_back(s->ts_ns + s->dur_ns);
    }
  }
  return bad;
}

std::string perfetto_json(const std::vector<Record>& records) {
  Json events = Json::array();
  std::set<std::pair<std::int64_t, std::int64_t>> named;
  auto name_track = [&](std::int64_t pid, std::int64_t tid, const std::string& name) {
    if (!named.insert({pid, tid}).second) return;
    events.push_back({{"ph", "M"},
                      {"name", "thread_name"},
                      {"pid", pid},
                      {"tid", tid},
                      {"args", {{"name", fmt::format("{} {}", name, tid)}}}});
  };
  for (const Record& r : records) {
    if (r.is_fork()) name_track(r.tgid, r.pid, r.comm);
    if (r.is_exec()) name_track(r.tgid, r.pid, r.new_comm.empty() ? r.comm : r.new_comm);
  }
  for (const Record& r : records) {
    if (r.is_spawn()) name_track(r.child_pid, r.child_pid, "child of " + r.comm);
  }
  for (const Slice& s : perfetto_slices(records)) {
    Json e = {{"ph", "X"},
              {"name", s.name},
              {"cat", s.category},
              {"pid", s.pid},
              {"tid", s.tid},
              {"ts", static_cast<double>(s.ts_ns) / 1000.0},
              {"dur", static_cast<double>(s.dur_ns) / 1000.0}};
    if (s.depth == 0) e["args"] = {{"seq", s.seq}, {"dur_ns", s.dur_ns}};
    events.push_back(e);
  }
  Json doc = {{"traceEvents", events},
              {"displayTimeUnit", "ns"},
              {"otherData", {{"producer", fmt::format("forkscope {}", kCliVersion)}}}};
  return doc.dump() + "\n";
}

std::string folded_stacks(const std::vector<Record>& records) {
  std::vector<std::string> order;
  std::map<std::string, std::uint64_t> sums;
  auto add = [&](const std::string& stack, std::uint64_t ns) {
    if (ns == 0) return;
    if (sums.emplace(stack, 0).second) order.push_back(stack);
    sums[stack] += ns;
  };
  auto frame = [](std::string s) {
    for (char& c : s) {
      if (c == ';' || c == ' ') c = '_';
    }
    return s.empty() ? std::string("?") : s;
  };
  for (const Record& r : records) {
    if (r.is_fork()) {
      std::string base = frame(r.comm) + ";" + frame(r.kind) + ";kernel_clone";
      std::uint64_t stages = 0;
      for (const auto& [name, ns] : r.stages) {
        add(base + ";copy_process;" + name, ns);
        stages += ns;
      }
      std::uint64_t copy = std::max(r.copy_process_ns, stages);
      add(base + ";copy_process", copy - stages);
      std::uint64_t outer = copy;
      for (const auto& [name, ns] : outer_stages(r)) {
        add(base + ";" + name, ns);
        outer += ns;
      }
      if (r.total_ns > outer) add(base, r.total_ns - outer);
    } else if (r.is_exec()) {
      std::string base = frame(r.comm) + ";exec;do_execveat_common";
      std::uint64_t stages = 0;
      for (const auto& [name, ns] : r.stages) {
        add(base + ";" + name, ns);
        stages += ns;
      }
      if (r.total_ns > stages) add(base, r.total_ns - stages);
    }
  }
  std::string out;
  for (const std::string& stack : order) out += fmt::format("{} {}\n", stack, sums[stack]);
  return out;
}

namespace {

const char* const kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                               "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string plot_svg(const std::vector<Record>& records, const std::string& title) {
  // Groups: every creation kind, then exec. Stages: the 9 with the most
  // time over all groups, the rest as "other".
  std::vector<std::string> groups = kinds_of(records);
  bool any_exec =
      std::any_of(records.begin(), records.end(), [](const Record& r) { return r.is_exec(); });
  if (any_exec) groups.push_back("exec");
  std::vector<Summary> sums;
  std::map<std::string, std::uint64_t> weight;
  for (const std::string& g : groups) {
    sums.push_back(summarize(records, g));
    for (const StageStat& s : sums.back().rows) {
      if (s.name == "total" || s.name == "copy_process") continue;
      weight[s.name] += s.sum;
    }
  }
  std::vector<std::pair<std::string, std::uint64_t>> ranked(weight.begin(), weight.end());
  std::sort(ranked.begin(), ranked.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < ranked.size() && i < 9; ++i) shown.push_back(ranked[i].first);
  auto color_of = [&](const std::string& stage) {
    auto it = std::find(shown.begin(), shown.end(), stage);
    return kColors[it == shown.end() ? 9 : it - shown.begin()];
  };
  std::uint64_t max_mean = 1;
  for (const Summary& s : sums) {
    if (const StageStat* t = s.row("total")) max_mean = std::max(max_mean, t->mean());
  }
  const int width = 900, left = 110, bar_w = 560, bar_h = 22, gap = 10;
  int chart1_h = 40 + static_cast<int>(groups.size()) * (bar_h + gap);
  int legend_h = 20 * static_cast<int>(shown.size() + 1);
  int chart1_total = std::max(chart1_h, 40 + legend_h);
  const int hist_h = 220;
  int height = chart1_total + hist_h + 90;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
      "fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"15\">{}: mean time per stage "
      "(successful records)</text>\n",
      width, height, escape(title));
  for (std::size_t g = 0; g < groups.size(); ++g) {
    int y = 40 + static_cast<int>(g) * (bar_h + gap);
    svg += fmt::format("<text x=\"10\" y=\"{}\">{} ({})</text>\n", y + 15, escape(groups[g]),
                       sums[g].records - sums[g].failed);
    double x = left;
    std::uint64_t other = 0;
    for (const StageStat& s : sums[g].rows) {
      if (s.name == "total" || s.name == "copy_process") continue;
      if (s.count() == 0) continue;
      // Mean over the group's records: the bars' lengths are mean totals.
      double ns = static_cast<double>(s.sum) /
                  static_cast<double>(std::max<std::uint64_t>(1, sums[g].records - sums[g].failed));
      if (std::find(shown.begin(), shown.end(), s.name) == shown.end()) {
        other += static_cast<std::uint64_t>(ns);
        continue;
      }
      double w = ns * bar_w / static_cast<double>(max_mean);
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{}: "
          "{:.0f} "
          "ns</title></rect>\n",
          x, y, w, bar_h, color_of(s.name), escape(s.name), ns);
      x += w;
    }
    double w = static_cast<double>(other) * bar_w / static_cast<double>(max_mean);
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>other: {} "
        "ns</title></rect>\n",
        x, y, w, bar_h, kColors[9], other);
    if (const StageStat* t = sums[g].row("total")) {
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\">{:.1f} µs</text>\n", x + w + 5, y + 15,
                         static_cast<double>(t->mean()) / 1000.0);
    }
  }
  for (std::size_t i = 0; i <= shown.size(); ++i) {
    int y = 40 + static_cast<int>(i) * 20;
    const char* color = i < shown.size() ? color_of(shown[i]) : kColors[9];
    std::string name = i < shown.size() ? shown[i] : "other";
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" "
        "y=\"{}\">{}</text>\n",
        left + bar_w + 70, y, color, left + bar_w + 88, y + 11, escape(name));
  }
  // Histogram of creation totals, log2 buckets.
  std::map<int, std::uint64_t> buckets;
  for (const Record& r : records) {
    if (!r.is_fork() || !r.succeeded() || r.total_ns == 0) continue;
    buckets[static_cast<int>(std::log2(static_cast<double>(r.total_ns)))]++;
  }
  int top = chart1_total + 30;
  svg += fmt::format(
      "<text x=\"10\" y=\"{}\" font-size=\"15\">creation latency (total_ns, log2 "
      "buckets)</text>\n",
      top);
  if (!buckets.empty()) {
    int lo = buckets.begin()->first, hi = buckets.rbegin()->first;
    std::uint64_t most = 1;
    for (const auto& [b, n] : buckets) most = std::max(most, n);
    int n = hi - lo + 1;
    double col = std::min(60.0, (width - left - 40.0) / n);
    int base = top + hist_h;
    for (int b = lo; b <= hi; ++b) {
      std::uint64_t count = buckets.count(b) ? buckets[b] : 0;
      double h = static_cast<double>(count) * (hist_h - 40) / static_cast<double>(most);
      double x = left + (b - lo) * col;
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
          "fill=\"#4e79a7\"><title>[2^{}, 2^{}) ns: {}</title></rect>\n",
          x, base - h, col - 2, h, b, b + 1, count);
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\">{}</text>\n", x,
                         base - h - 3, count);
      double us = std::ldexp(1.0, b) / 1000.0;
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"10\">{}</text>\n", x, base + 14,
                         us < 10 ? fmt::format("{:.1f}µs", us) : fmt::format("{:.0f}µs", us));
    }
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace forkscope::cli
