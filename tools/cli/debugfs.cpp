// SPDX-License-Identifier: GPL-2.0
// forkscope CLI: the debugfs files as data (see debugfs.h).
#include "debugfs.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "recording.h"

namespace forkscope::cli {
namespace {

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

bool is_number(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

std::uint64_t to_u64(const std::string& s) { return is_number(s) ? std::stoull(s) : 0; }

std::string trim(const std::string& s) {
  std::size_t a = s.find_first_not_of(' ');
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(' ') - a + 1);
}

}  // namespace

std::uint64_t KeyValues::number(const std::string& key) const {
  auto it = values.find(key);
  return it == values.end() ? 0 : to_u64(it->second);
}

std::string KeyValues::text(const std::string& key) const {
  auto it = values.find(key);
  return it == values.end() ? "" : it->second;
}

KeyValues parse_key_values(const std::string& text) {
  KeyValues out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::size_t space = line.find(' ');
    std::string key = line.substr(0, space);
    std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    if (key == "probe") {
      out.probe_lines.push_back(value);
      continue;
    }
    if (!out.values.count(key)) out.order.push_back(key);
    out.values[key] = value;
  }
  return out;
}

const StatsRow* StatsSection::row(const std::string& name) const {
  for (const StatsRow& r : rows) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::vector<StatsSection> parse_stats(const std::string& text) {
  std::vector<StatsSection> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("== ", 0) == 0) {
      // "== all kinds: 34 creations" or "== kind fork: 20 creations"
      StatsSection section;
      std::string head = line.substr(3);
      std::size_t colon = head.find(':');
      std::string what = head.substr(0, colon);
      section.kind = what == "all kinds" ? "all" : what.substr(what.find(' ') + 1);
      if (colon != std::string::npos) {
        std::vector<std::string> rest = words(head.substr(colon + 1));
        if (!rest.empty()) section.count = to_u64(rest[0]);
      }
      out.push_back(section);
      continue;
    }
    if (out.empty() || line.empty() || line[0] == '#' || line.rfind("stage ", 0) == 0) continue;
    std::vector<std::string> w = words(line);
    if (w.size() < 8) continue;
    std::size_t n = w.size();
    bool numbers = true;
    for (std::size_t i = n - 7; i < n; ++i) numbers = numbers && is_number(w[i]);
    if (!numbers) continue;
    StatsRow row;
    for (std::size_t i = 0; i + 7 < n; ++i) row.name += (i ? " " : "") + w[i];
    row.count = to_u64(w[n - 7]);
    row.min = to_u64(w[n - 6]);
    row.mean = to_u64(w[n - 5]);
    row.p50 = to_u64(w[n - 4]);
    row.p90 = to_u64(w[n - 3]);
    row.p99 = to_u64(w[n - 2]);
    row.max = to_u64(w[n - 1]);
    out.back().rows.push_back(row);
  }
  return out;
}

std::vector<HistBlock> parse_hist(const std::string& text) {
  std::vector<HistBlock> out;
  std::istringstream in(text);
  std::string line;
  bool in_block = false;
  while (std::getline(in, line)) {
    if (line.rfind("@", 0) == 0) {
      HistBlock block;
      block.title = line;
      block.stage = line.substr(1, line.find(" (") - 1);
      out.push_back(block);
      in_block = true;
      continue;
    }
    if (line.empty()) {
      in_block = false;
      continue;
    }
    if (in_block) out.back().lines.push_back(line);
  }
  return out;
}

StageMap parse_stage_map(const std::string& text) {
  StageMap out;
  std::istringstream in(text);
  std::string line;
  enum { kNone, kStages, kAnchors } part = kNone;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("stage ", 0) == 0) {
      part = kStages;
      continue;
    }
    if (line.rfind("anchor ", 0) == 0) {
      part = kAnchors;
      continue;
    }
    if (part == kStages && line.size() >= 60) {
      // Fixed columns: name 24, type 8, status 28, then what it contains.
      StageMapEntry e;
      e.name = trim(line.substr(0, 24));
      e.type = trim(line.substr(24, 8));
      e.status = trim(line.substr(32, 28));
      e.contains = line.substr(60);
      out.stages.push_back(e);
    } else if (part == kAnchors) {
      // anchor symbol registered armed entry return sites opt hits returns
      // foreign tracked other missed what...
      std::vector<std::string> w = words(line);
      if (w.size() < 14) continue;
      AnchorEntry a;
      a.name = w[0];
      a.symbol = w[1];
      a.registered = w[2] == "yes";
      a.armed = w[3] == "yes";
      a.entry = w[4];
      a.ret = w[5];
      a.sites = to_u64(w[6]);
      a.optimized = to_u64(w[7]);
      a.hits = to_u64(w[8]);
      a.returns = to_u64(w[9]);
      a.foreign = to_u64(w[10]);
      a.tracked = to_u64(w[11]);
      a.other = to_u64(w[12]);
      a.missed = to_u64(w[13]);
      out.anchors.push_back(a);
    }
  }
  return out;
}

ControlState parse_control(const std::string& text) {
  ControlState state;
  std::vector<std::string> w = words(text.substr(0, text.find('\n')));
  state.enabled = !w.empty() && w[0] == "enabled";
  if (w.size() >= 3 && w[1] == "sample") state.sample = static_cast<unsigned>(to_u64(w[2]));
  return state;
}

void Debugfs::check() const {
  if (access(dir_.c_str(), F_OK) == 0) {
    if (access((dir_ + "/version").c_str(), R_OK) != 0) {
      throw Error(fmt::format("cannot read {}: {} (forkscope's files are root-only: run as root)",
                              dir_, std::strerror(errno)));
    }
    return;
  }
  if (dir_ != kDefaultDebugfs) throw Error(fmt::format("{} does not exist", dir_));
  if (geteuid() != 0) {
    throw Error("not root: forkscope's debugfs files are root-only (run as root)");
  }
  bool mounted = false;
  std::ifstream mounts("/proc/mounts");
  std::string dev, path, type;
  while (mounts >> dev >> path >> type) {
    if (path == "/sys/kernel/debug" && type == "debugfs") mounted = true;
    mounts.ignore(4096, '\n');
  }
  if (!mounted) {
    throw Error(
        "debugfs is not mounted at /sys/kernel/debug (mount -t debugfs none /sys/kernel/debug)");
  }
  throw Error("forkscope is not loaded (no " + dir_ + "; insmod forkscope.ko)");
}

std::string Debugfs::read(const std::string& file) const {
  check();
  std::string path = dir_ + "/" + file;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      int err = errno;
      close(fd);
      throw Error(fmt::format("cannot read {}: {}", path, std::strerror(err)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return out;
}

void Debugfs::write(const std::string& file, const std::string& text) const {
  check();
  std::string path = dir_ + "/" + file;
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    throw Error(fmt::format("writing '{}' to {} failed: {}", text, path, std::strerror(err)));
  }
}

}  // namespace forkscope::cli
