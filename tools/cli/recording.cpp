// SPDX-License-Identifier: GPL-2.0
// forkscope CLI: records and recordings (see recording.h).
#include "recording.h"

#include <fmt/format.h>

#include <istream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

namespace forkscope::cli {
namespace {

using Json = nlohmann::ordered_json;

std::uint64_t u64(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  return it->get<std::uint64_t>();
}

std::int64_t s64(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  return it->get<std::int64_t>();
}

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

void require(const Json& j, std::initializer_list<const char*> keys, const std::string& event) {
  for (const char* key : keys) {
    if (!j.contains(key)) throw Error(fmt::format("{} record without \"{}\"", event, key));
  }
}

}  // namespace

std::pair<std::string, std::uint64_t> Record::dominant_stage() const {
  std::pair<std::string, std::uint64_t> best;
  for (const auto& stage : stages) {
    if (stage.second > best.second || best.first.empty()) best = stage;
  }
  for (const auto& stage : outer_stages(*this)) {
    if (stage.second > best.second) best = stage;
  }
  return best;
}

std::vector<std::pair<std::string, std::uint64_t>> outer_stages(const Record& r) {
  if (!r.is_fork()) return {};
  return {{"clone_prologue", r.clone_prologue_ns},
          {"clone_publish", r.clone_publish_ns},
          {"wake_up_new_task", r.wake_ns},
          {"vfork_wait", r.vfork_wait_ns},
          {"clone_return", r.clone_return_ns}};
}

Record parse_record(const std::string& line) {
  Json j = Json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error("not a JSON object");
  Record r;
  require(j, {"seq", "event"}, "a");
  r.event = str(j, "event");
  r.seq = u64(j, "seq");
  if (r.event == "fork") {
    require(j,
            {"kind", "parent_pid", "parent_tgid", "comm", "child_pid", "ret", "start_ns", "stages",
             "copy_process_ns", "total_ns"},
            r.event);
    r.kind = str(j, "kind");
    r.pid = s64(j, "parent_pid");
    r.tgid = s64(j, "parent_tgid");
    r.comm = str(j, "comm");
    r.child_pid = s64(j, "child_pid");
    r.verdict = str(j, "verdict");
    r.flags = str(j, "flags");
    r.copy_process_ns = u64(j, "copy_process_ns");
    r.clone_prologue_ns = u64(j, "clone_prologue_ns");
    r.clone_publish_ns = u64(j, "clone_publish_ns");
    r.wake_ns = u64(j, "wake_ns");
    r.vfork_wait_ns = u64(j, "vfork_wait_ns");
    r.clone_return_ns = u64(j, "clone_return_ns");
  } else if (r.event == "exec") {
    require(j, {"pid", "tgid", "old_comm", "filename", "ret", "start_ns", "stages", "total_ns"},
            r.event);
    r.kind = "exec";
    r.pid = s64(j, "pid");
    r.tgid = s64(j, "tgid");
    r.comm = str(j, "old_comm");
    r.new_comm = str(j, "new_comm");
    r.filename = str(j, "filename");
  } else if (r.event == "spawn") {
    require(j,
            {"kind", "parent_pid", "parent_tgid", "comm", "child_pid", "fork_start_ns", "end_ns",
             "total_ns"},
            r.event);
    r.kind = str(j, "kind");
    r.pid = s64(j, "parent_pid");
    r.tgid = s64(j, "parent_tgid");
    r.comm = str(j, "comm");
    r.child_pid = s64(j, "child_pid");
    r.filename = str(j, "filename");
    r.exited = j.value("exited", false);
    r.forked_ns = u64(j, "forked_ns");
    r.exec_start_ns = u64(j, "exec_start_ns");
    r.end_ns = u64(j, "end_ns");
  } else {
    throw Error(fmt::format("unknown event \"{}\"", r.event));
  }
  r.ret = s64(j, "ret");
  r.errno_name = str(j, "errno");
  r.start_ns = r.is_spawn() ? u64(j, "fork_start_ns") : u64(j, "start_ns");
  r.total_ns = u64(j, "total_ns");
  // Recordings made before forks and execs had end_ns: their last boundary.
  if (!r.is_spawn()) r.end_ns = j.contains("end_ns") ? u64(j, "end_ns") : r.start_ns + r.total_ns;
  if (auto it = j.find("stages"); it != j.end()) {
    if (!it->is_object()) throw Error("\"stages\" is not an object");
    for (const auto& [name, value] : it->items()) {
      if (!value.is_number_unsigned()) throw Error(fmt::format("stage {} is not a number", name));
      r.stages.emplace_back(name, value.get<std::uint64_t>());
    }
  }
  return r;
}

std::vector<Record> parse_records(const std::string& text) {
  std::vector<Record> out;
  std::istringstream in(text);
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      out.push_back(parse_record(line));
    } catch (const Error& e) {
      throw Error(fmt::format("records line {}: {}", number, e.what()));
    }
  }
  return out;
}

Recording read_recording(std::istream& in, const std::string& name) {
  Recording rec;
  std::string line;
  if (!std::getline(in, line) || line.empty()) throw Error(fmt::format("{}: empty file", name));
  Json head = Json::parse(line, nullptr, false);
  if (head.is_discarded() || !head.is_object() || !head.contains("forkscope_recording")) {
    throw Error(fmt::format("{}: not a forkscope recording (no header line)", name));
  }
  rec.header.format = head.value("forkscope_recording", 0);
  rec.header.version = head.value("version", std::string("?"));
  if (rec.header.format != kRecordingFormat) {
    throw Error(fmt::format(
        "{}: written by forkscope {} in recording format {}; this forkscope {} reads format {}",
        name, rec.header.version, rec.header.format, kCliVersion, kRecordingFormat));
  }
  rec.header.kernel = head.value("kernel", std::string());
  rec.header.command = head.value("command", std::string());
  rec.header.duration_s = head.value("duration_s", 0.0);
  std::size_t number = 1;
  bool ended = false;
  while (std::getline(in, line)) {
    ++number;
    bool complete = !in.eof();  // getline stopped at a newline
    if (line.empty()) continue;
    if (ended) throw Error(fmt::format("{}: line {} after the end line", name, number));
    Json j = Json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("forkscope_recording_end")) {
      std::uint64_t count = j.value("forkscope_recording_end", std::uint64_t{0});
      if (count != rec.records.size()) {
        throw Error(fmt::format("{}: truncated recording: {} records of {}", name,
                                rec.records.size(), count));
      }
      rec.lost = j.value("lost", std::uint64_t{0});
      ended = true;
      continue;
    }
    try {
      if (!complete) throw Error("partial line");
      rec.records.push_back(parse_record(line));
    } catch (const Error& e) {
      throw Error(fmt::format("{}: truncated recording: line {}: {} (after {} records)", name,
                              number, e.what(), rec.records.size()));
    }
  }
  if (!ended) {
    throw Error(fmt::format("{}: truncated recording: no end line after {} records", name,
                            rec.records.size()));
  }
  return rec;
}

void write_recording(std::ostream& out, const RecordingHeader& header,
                     const std::vector<std::string>& record_lines, std::uint64_t lost) {
  Json head;
  head["forkscope_recording"] = header.format;
  head["version"] = header.version;
  head["kernel"] = header.kernel;
  head["command"] = header.command;
  head["duration_s"] = header.duration_s;
  out << head.dump() << '\n';
  for (const std::string& line : record_lines) out << line << '\n';
  Json end;
  end["forkscope_recording_end"] = record_lines.size();
  end["lost"] = lost;
  out << end.dump() << '\n';
}

std::vector<std::size_t> descendant_records(const std::vector<Record>& records, std::int64_t root) {
  // A child can exec (or fork) before its parent's fork record completes
  // (vfork, or the child running first): grow the tree to a fixed point.
  std::set<std::int64_t> tree{root};
  for (bool grew = true; grew;) {
    grew = false;
    for (const Record& r : records) {
      if (r.is_fork() && r.child_pid > 0 && (tree.count(r.tgid) || tree.count(r.pid)) &&
          tree.insert(r.child_pid).second) {
        grew = true;
      }
    }
  }
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    bool in = r.is_exec() ? (tree.count(r.pid) || tree.count(r.tgid))
                          : (tree.count(r.tgid) || tree.count(r.pid));
    if (in) out.push_back(i);
  }
  return out;
}

}  // namespace forkscope::cli
