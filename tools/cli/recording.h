// SPDX-License-Identifier: GPL-2.0
// forkscope CLI: records (the debugfs "records" JSON Lines) parsed into
// structs, and recordings (a header line, the records, an end line) read
// and written; no I/O beyond the streams it is given.
#ifndef FORKSCOPE_CLI_RECORDING_H
#define FORKSCOPE_CLI_RECORDING_H

#include <forkscope/core.h>  // FORKSCOPE_VERSION

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace forkscope::cli {

// The recording file format this CLI writes and reads.
inline constexpr int kRecordingFormat = 1;
inline constexpr const char* kCliVersion = FORKSCOPE_VERSION;  // the module's version

// A problem the user must hear about in one line (exit status 1).
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One line of records: a fork (creation), an exec or a spawn.
struct Record {
  std::string event;      // "fork", "exec", "spawn"
  std::uint64_t seq = 0;  // the record's id: unique, not an order (see order_key)
  std::string kind;       // fork kind; "exec" for execs; the fork kind for spawns
  std::string comm;       // fork, spawn: the parent's; exec: old_comm
  std::string new_comm;   // exec
  std::string filename;   // exec, spawn
  std::string verdict;    // fork
  std::string flags;      // fork, decoded
  std::string errno_name;
  std::int64_t pid = 0;   // fork, spawn: parent_pid; exec: pid
  std::int64_t tgid = 0;  // fork, spawn: parent_tgid; exec: tgid
  std::int64_t child_pid = 0;
  std::int64_t ret = 0;
  std::uint64_t start_ns = 0;  // fork, exec: first boundary; spawn: fork_start_ns
  std::uint64_t total_ns = 0;
  std::uint64_t copy_process_ns = 0;
  std::uint64_t clone_prologue_ns = 0, clone_publish_ns = 0, wake_ns = 0, vfork_wait_ns = 0,
                clone_return_ns = 0;
  std::uint64_t forked_ns = 0, exec_start_ns = 0;  // spawn
  std::uint64_t end_ns = 0;                        // when it finished (every event)
  bool exited = false;                             // spawn
  // Stages in the stage map's order, as in the record's "stages" object.
  std::vector<std::pair<std::string, std::uint64_t>> stages;

  // Completion order, as the module sorts: end_ns, then the CPU, then that
  // CPU's count (seq is count << FORKSCOPE_SEQ_CPU_BITS | cpu).
  auto order_key() const {
    constexpr std::uint64_t kCpuMask = (std::uint64_t{1} << FORKSCOPE_SEQ_CPU_BITS) - 1;
    return std::tuple(end_ns, seq & kCpuMask, seq >> FORKSCOPE_SEQ_CPU_BITS);
  }
  bool is_fork() const { return event == "fork"; }
  bool is_exec() const { return event == "exec"; }
  bool is_spawn() const { return event == "spawn"; }
  bool succeeded() const { return is_exec() ? ret == 0 : ret > 0; }
  // The stage with the most time (fork: copy_process stages and the outer
  // steps; exec: its stages); empty if none.
  std::pair<std::string, std::uint64_t> dominant_stage() const;
};

// kernel_clone's steps around copy_process, as (stage name, ns), in order.
std::vector<std::pair<std::string, std::uint64_t>> outer_stages(const Record& record);

// Parses one records line; throws Error naming what is wrong.
Record parse_record(const std::string& line);

struct RecordingHeader {
  int format = kRecordingFormat;
  std::string version = kCliVersion;  // forkscope version that wrote it
  std::string kernel;
  std::string command;  // what was recorded ("" for --duration)
  double duration_s = 0;
};

struct Recording {
  RecordingHeader header;
  std::vector<Record> records;
  std::uint64_t lost = 0;  // records the ring overwrote before they were read
};

// Parses records text (the debugfs file: no header or end line); a line
// that is not a record throws Error.
std::vector<Record> parse_records(const std::string& text);

// Reads a recording. Throws Error for another format version, a file that
// is not a recording, or one that is truncated (no end line, a partial
// last line, or fewer records than the end line says). name is for messages.
Recording read_recording(std::istream& in, const std::string& name);

// Writes header, records (their original JSON lines) and the end line.
void write_recording(std::ostream& out, const RecordingHeader& header,
                     const std::vector<std::string>& record_lines, std::uint64_t lost);

// The records of a command and its descendants: forks and spawns whose
// parent is in the tree, execs of tasks in it. root: the command's pid.
std::vector<std::size_t> descendant_records(const std::vector<Record>& records, std::int64_t root);

}  // namespace forkscope::cli

#endif  // FORKSCOPE_CLI_RECORDING_H
