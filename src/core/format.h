// SPDX-License-Identifier: GPL-2.0
// Text for the debugfs files: one trace line or JSON object per record, the
// stats table, histograms, the slowest list, the stage map and counters.
#ifndef FORKSCOPE_CORE_FORMAT_H
#define FORKSCOPE_CORE_FORMAT_H

#include <forkscope/core.h>
#include <ktl/string_builder.h>

#include "engine.h"
#include "net.h"
#include "record.h"

namespace forkscope {

// Upper bounds of one record's text, for sizing buffers.
inline constexpr ktl::size_t kTraceLineMax = 2560;
inline constexpr ktl::size_t kJsonLineMax = 4096;

// "#12 fork sh[123/123] -> 456 cpu0->1 flags=SIGCHLD total=1.23ms ... | stage=... ...\n"
// bias: with a calibrated table, " | bias_ns stage=N ... total=N" (the
// bias net values take off; the record's values stay raw).
void append_trace_line(ktl::StringBuilder& out, const Record& record,
                       const BiasTable* bias = nullptr);
// One JSON object and a newline (JSON Lines); bias: adds bias_ns per stage,
// total_bias_ns and calibration.
void append_json_line(ktl::StringBuilder& out, const Record& record,
                      const BiasTable* bias = nullptr);
// "EINVAL" for known errnos, else the number; value is positive.
void append_errno_name(ktl::StringBuilder& out, ktl::s64 error);

// scratch: caller-provided (too big for a kernel stack frame).
void append_stats(ktl::StringBuilder& out, const StatsSnapshot& stats, HistogramSnapshot* scratch);
void append_histograms(ktl::StringBuilder& out, const StatsSnapshot& stats,
                       HistogramSnapshot* scratch);
// Verdict totals, then every recent mismatch in full.
void append_verdicts(ktl::StringBuilder& out, const EngineCounters& counters,
                     const Record* mismatches, ktl::size_t count);
// stats_net: per stage, raw and net (of the bias) values of the successful
// creations and execs among records. scratch: caller-provided (large).
void append_stats_net(ktl::StringBuilder& out, const Record* records, ktl::size_t count,
                      const BiasTable& bias, NetStats* scratch);
// What stats_net's text takes at most, with room to spare (two sections).
inline constexpr ktl::size_t kStatsNetTextEstimate = 48 * 1024;
// The spawn records among records (fork start to first exec or exit).
void append_spawns(ktl::StringBuilder& out, const Record* records, ktl::size_t count);
void append_slowest(ktl::StringBuilder& out, const Record* records, ktl::size_t count);
// probes: the glue's view of each anchor, indexed by Anchor. registered:
// anchors with hooks (checked against the kernel profile); measured: those
// the detail level arms (the others' stages merge).
void append_stage_map(ktl::StringBuilder& out, const EngineCounters& counters,
                      const forkscope_probe_health* probes, ktl::size_t nr_probes,
                      ktl::u64 registered_anchors, ktl::u64 measured_anchors);
// The calibration's bias per registered anchor crossing (stats_net's input).
void append_stage_bias(ktl::StringBuilder& out, const BiasTable& bias,
                       const forkscope_probe_health* probes, ktl::size_t nr_probes);
void append_counters(ktl::StringBuilder& out, const EngineCounters& counters,
                     const forkscope_probe_health* probes, ktl::size_t nr_probes, bool enabled,
                     ktl::u32 sample_every, const Filter& filter, Detail detail);

// What the debugfs files are rendered from.
struct RenderSources {
  const Engine& engine;
  const forkscope_build_info* info;      // only the version file needs it
  const forkscope_probe_health* probes;  // indexed by anchor
  ktl::size_t nr_probes;
  int static_init_runs;  // the core's proof that .init_array ran once
  bool static_init_ok;
};

// Renders one debugfs file into memory allocated here (delete[] out->data).
// May sleep. 0, -FORKSCOPE_ENOMEM, -FORKSCOPE_ENOSPC or -FORKSCOPE_EINVAL.
[[nodiscard]] int render_file(forkscope_file file, const RenderSources& sources,
                              forkscope_text* out);

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_FORMAT_H
