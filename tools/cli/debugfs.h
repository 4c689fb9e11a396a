// SPDX-License-Identifier: GPL-2.0
// forkscope CLI: the debugfs files as data. Parsers take the files' text
// (host-testable); Debugfs reads them, after checking that debugfs is
// mounted, forkscope is loaded and the caller may read them.
#ifndef FORKSCOPE_CLI_DEBUGFS_H
#define FORKSCOPE_CLI_DEBUGFS_H

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace forkscope::cli {

inline constexpr const char* kDefaultDebugfs = "/sys/kernel/debug/forkscope";

// "key value" lines (counters, version); the first word is the key, the
// rest of the line the value. "probe NAME ..." lines are kept apart.
struct KeyValues {
  std::map<std::string, std::string> values;
  std::vector<std::string> order;                      // keys as they came
  std::vector<std::string> probe_lines;                // "probe ..." lines, without "probe "
  std::uint64_t number(const std::string& key) const;  // 0 if absent
  std::string text(const std::string& key) const;      // "" if absent
  bool has(const std::string& key) const { return values.count(key) != 0; }
};
KeyValues parse_key_values(const std::string& text);

// One row of a stats table.
struct StatsRow {
  std::string name;
  std::uint64_t count = 0, min = 0, mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};
// "== all kinds: N creations", "== kind fork: N creations", "== kind exec: N execs".
struct StatsSection {
  std::string kind;  // "all" for all kinds
  std::uint64_t count = 0;
  std::vector<StatsRow> rows;
  const StatsRow* row(const std::string& name) const;
};
std::vector<StatsSection> parse_stats(const std::string& text);

// A histogram block of the hist file: "@NAME (ns, N creations, all kinds):".
struct HistBlock {
  std::string stage;
  std::string title;  // the whole "@..." line
  std::vector<std::string> lines;
};
std::vector<HistBlock> parse_hist(const std::string& text);

// The stage map (stages file): stages and anchors.
struct StageMapEntry {
  std::string name, type, status, contains;
  bool measured() const { return status == "measured"; }
};
struct AnchorEntry {
  std::string name, symbol;
  bool registered = false, armed = false;
  std::string entry, ret;  // hook kinds: ftrace, callsite, kprobe, kretprobe, tracepoint, -
  std::uint64_t sites = 0, optimized = 0, hits = 0, returns = 0, foreign = 0;
  std::uint64_t tracked = 0, other = 0, missed = 0;
};
struct StageMap {
  std::vector<StageMapEntry> stages;
  std::vector<AnchorEntry> anchors;
};
StageMap parse_stage_map(const std::string& text);

// "enabled sample N" / "disabled sample N" (the control file).
struct ControlState {
  bool enabled = false;
  unsigned sample = 1;
};
ControlState parse_control(const std::string& text);

// The live files. Every read throws Error with one clear line when
// debugfs is not mounted, forkscope is not loaded or the caller is not root.
class Debugfs {
 public:
  explicit Debugfs(std::string dir = kDefaultDebugfs) : dir_(std::move(dir)) {}
  // Throws Error unless the directory is readable.
  void check() const;
  std::string read(const std::string& file) const;
  void write(const std::string& file, const std::string& text) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace forkscope::cli

#endif  // FORKSCOPE_CLI_DEBUGFS_H
