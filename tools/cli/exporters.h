// SPDX-License-Identifier: GPL-2.0
// forkscope CLI: a recording's records as Chrome Trace Event JSON (for
// ui.perfetto.dev and chrome://tracing), as folded stacks (flame graphs,
// speedscope) and as an SVG plot. Pure functions of the records.
#ifndef FORKSCOPE_CLI_EXPORTERS_H
#define FORKSCOPE_CLI_EXPORTERS_H

#include <cstdint>
#include <string>
#include <vector>

#include "recording.h"

namespace forkscope::cli {

// One complete ("ph":"X") slice, in ns relative to the first record.
struct Slice {
  std::int64_t pid = 0, tid = 0;
  std::string name;
  std::string category;  // "fork", "exec", "spawn", "stage"
  std::uint64_t ts_ns = 0, dur_ns = 0;
  int depth = 0;  // 0 for a record, 1 for its stages, 2 inside copy_process
  std::uint64_t seq = 0;
};

// Creations on the parent's track (pid = parent tgid, tid = parent pid)
// with their stages nested: kernel_clone's steps, and copy_process's
// stages inside copy_process. Execs on the exec'ing task's track, spawns on
// the child's track (fork and time before exec nested). Never overlapping
// on one track: a slice that would cross its enclosing slice's end is cut
// there (counted in *clamped if given).
std::vector<Slice> perfetto_slices(const std::vector<Record>& records,
                                   std::size_t* clamped = nullptr);

// Number of pairs of slices on one track that overlap without nesting.
std::size_t overlapping_slices(const std::vector<Slice>& slices);

// The JSON document: {"traceEvents":[...]} with thread names and ts/dur in µs.
std::string perfetto_json(const std::vector<Record>& records);

// Folded stacks, one "frame;frame;... ns" line per distinct stack, summed:
// comm;kind;kernel_clone;copy_process;STAGE for creations, comm;exec;
// do_execveat_common;STAGE for execs; time not in any stage is the self
// time of the enclosing frame. The lines sum to the records' total_ns.
std::string folded_stacks(const std::vector<Record>& records);

// SVG: mean time per stage of each kind as stacked bars, and a latency
// histogram of creation totals.
std::string plot_svg(const std::vector<Record>& records, const std::string& title);

}  // namespace forkscope::cli

#endif  // FORKSCOPE_CLI_EXPORTERS_H
