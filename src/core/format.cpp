// SPDX-License-Identifier: GPL-2.0
// Renders records, statistics and the stage map as text and JSON Lines.
#include "format.h"

#include <ktl/utility.h>

#include "histogram.h"

namespace forkscope {
namespace {

constexpr Stage kOuterStages[] = {Stage::kClonePrologue, Stage::kClonePublish,
                                  Stage::kWakeUpNewTask, Stage::kVforkWait, Stage::kCloneReturn};

const char* origin_name(Origin origin) {
  switch (origin) {
    case Origin::kSysFork:
      return "fork";
    case Origin::kSysVfork:
      return "vfork";
    case Origin::kSysClone:
      return "clone";
    case Origin::kSysClone3:
      return "clone3";
    case Origin::kKernel:
      return "kernel";
    case Origin::kUnknown:
      break;
  }
  return "unknown";
}

ktl::u64 stage_ns(const Partition& partition, Stage stage) {
  return partition.stage_ns[static_cast<ktl::size_t>(stage)];
}

bool stage_ran(const Partition& partition, Stage stage) {
  return (partition.ran_mask & (ktl::u64{1} << static_cast<int>(stage))) != 0;
}

void append_result(ktl::StringBuilder& out, const Record& record) {
  if (record.ret > 0) {
    out.append_s64(record.ret);
  } else {
    out.append_char('-');
    append_errno_name(out, -record.ret);
  }
}

void append_task(ktl::StringBuilder& out, const Record& record) {
  out.append(record.comm).append_char('[').append_s64(record.parent_pid).append_char('/');
  out.append_s64(record.parent_tgid).append_char(']');
}

}  // namespace

void append_errno_name(ktl::StringBuilder& out, ktl::s64 error) {
  struct Name {
    ktl::s64 value;
    const char* name;
  };
  static constexpr Name kNames[] = {
      {1, "EPERM"},    {2, "ENOENT"},        {4, "EINTR"},
      {7, "E2BIG"},    {8, "ENOEXEC"},       {11, "EAGAIN"},
      {12, "ENOMEM"},  {20, "ENOTDIR"},      {21, "EISDIR"},
      {26, "ETXTBSY"}, {36, "ENAMETOOLONG"}, {40, "ELOOP"},
      {13, "EACCES"},  {14, "EFAULT"},       {16, "EBUSY"},
      {17, "EEXIST"},  {22, "EINVAL"},       {24, "EMFILE"},
      {28, "ENOSPC"},  {87, "EUSERS"},       {513, "ERESTARTNOINTR"},
  };
  for (const Name& name : kNames) {
    if (name.value == error) {
      out.append(name.name);
      return;
    }
  }
  out.append_s64(error);
}

namespace {

// Exec stages first (pipeline order), then fork anchors exec called.
Stage exec_display_order(ktl::size_t i) {
  ktl::size_t exec_count = kStageCount - static_cast<ktl::size_t>(kExecFirst);
  if (i < exec_count) return static_cast<Stage>(static_cast<ktl::size_t>(kExecFirst) + i);
  return static_cast<Stage>(i - exec_count);
}

void append_exec_trace_line(ktl::StringBuilder& out, const Record& record) {
  Partition partition;
  compute_record_partition(record, &partition);
  out.append_char('#').append_u64(record.seq).append(" exec ");
  append_task(out, record);
  out.append(" file=").append(record.exec.filename);
  if (record.exec.new_comm[0] != '\0' && record.ret == 0) {
    out.append(" comm=").append(record.exec.new_comm);
  }
  out.append(" -> ");
  if (record.ret == 0) {
    out.append("ok");
  } else {
    out.append_char('-');
    append_errno_name(out, -record.ret);
  }
  out.append(" cpu").append_u64(record.cpu_start).append("->").append_u64(record.cpu_end);
  out.append(" total=");
  append_duration(out, partition.total_ns);
  if (record.exec.events_dropped != 0) {
    out.append(" events_dropped=").append_u64(record.exec.events_dropped);
  }
  out.append(" |");
  for (ktl::size_t i = 0; i < kStageCount; ++i) {
    Stage stage = exec_display_order(i);
    if (!stage_ran(partition, stage)) continue;
    out.append_char(' ').append(stage_info(stage).name).append_char('=');
    append_duration(out, stage_ns(partition, stage));
  }
  out.append_char('\n');
}

void append_spawn_trace_line(ktl::StringBuilder& out, const Record& record) {
  const SpawnFacts& spawn = record.spawn;
  out.append_char('#').append_u64(record.seq).append(" spawn ");
  append_task(out, record);
  out.append(" -> ").append_s64(record.child_pid).append_char(' ');
  out.append(kind_name(spawn.fork_kind));
  if (spawn.exited) {
    out.append(" exited without exec");
  } else {
    out.append(" exec ").append(record.exec.filename);
  }
  out.append(" total=");
  append_duration(out, spawn.end_ns - spawn.fork_start_ns);
  out.append(" fork=");
  append_duration(out, spawn.forked_ns - spawn.fork_start_ns);
  if (!spawn.exited) {
    out.append(" before_exec=");
    append_duration(out, spawn.exec_start_ns - spawn.forked_ns);
    out.append(" exec=");
    append_duration(out, spawn.end_ns - spawn.exec_start_ns);
  } else {
    out.append(" ran=");
    append_duration(out, spawn.end_ns - spawn.forked_ns);
  }
  out.append_char('\n');
}

void append_exec_json_line(ktl::StringBuilder& out, const Record& record) {
  Partition partition;
  compute_record_partition(record, &partition);
  out.append("{\"seq\":").append_u64(record.seq);
  out.append(",\"event\":\"exec\",\"kind\":\"exec\",\"pid\":").append_s64(record.parent_pid);
  out.append(",\"tgid\":").append_s64(record.parent_tgid);
  out.append(",\"comm\":\"").append_json_escaped(record.comm);
  out.append("\",\"old_comm\":\"").append_json_escaped(record.comm);
  out.append("\",\"new_comm\":\"").append_json_escaped(record.ret == 0 ? record.exec.new_comm : "");
  out.append("\",\"filename\":\"").append_json_escaped(record.exec.filename);
  out.append("\",\"ret\":").append_s64(record.ret);
  out.append(",\"errno\":");
  if (record.ret < 0) {
    out.append_char('"');
    append_errno_name(out, -record.ret);
    out.append_char('"');
  } else {
    out.append("null");
  }
  out.append(",\"cpu_start\":").append_u64(record.cpu_start);
  out.append(",\"cpu_end\":").append_u64(record.cpu_end);
  out.append(",\"start_ns\":").append_u64(record.exec.start_ns);
  out.append(",\"stages\":{");
  bool first = true;
  for (ktl::size_t i = 0; i < kStageCount; ++i) {
    Stage stage = exec_display_order(i);
    if (!stage_ran(partition, stage)) continue;
    if (!first) out.append_char(',');
    first = false;
    out.append_char('"').append(stage_info(stage).name).append("\":");
    out.append_u64(stage_ns(partition, stage));
  }
  out.append("},\"total_ns\":").append_u64(partition.total_ns);
  out.append(",\"events\":").append_u64(record.exec.event_count);
  out.append(",\"events_dropped\":").append_u64(record.exec.events_dropped);
  out.append(",\"anomalies\":").append_u64(partition.dropped_boundaries);
  out.append("}\n");
}

void append_spawn_json_line(ktl::StringBuilder& out, const Record& record) {
  const SpawnFacts& spawn = record.spawn;
  out.append("{\"seq\":").append_u64(record.seq);
  out.append(",\"event\":\"spawn\",\"kind\":\"").append(kind_name(spawn.fork_kind));
  out.append("\",\"parent_pid\":").append_s64(record.parent_pid);
  out.append(",\"parent_tgid\":").append_s64(record.parent_tgid);
  out.append(",\"comm\":\"").append_json_escaped(record.comm);
  out.append("\",\"child_pid\":").append_s64(record.child_pid);
  out.append(",\"exited\":").append(spawn.exited ? "true" : "false");
  out.append(",\"filename\":\"").append_json_escaped(record.exec.filename);
  out.append("\",\"fork_start_ns\":").append_u64(spawn.fork_start_ns);
  out.append(",\"forked_ns\":").append_u64(spawn.forked_ns);
  out.append(",\"exec_start_ns\":").append_u64(spawn.exec_start_ns);
  out.append(",\"end_ns\":").append_u64(spawn.end_ns);
  out.append(",\"total_ns\":").append_u64(spawn.end_ns - spawn.fork_start_ns);
  out.append("}\n");
}

}  // namespace

void append_trace_line(ktl::StringBuilder& out, const Record& record) {
  if (record.event == EventType::kExec) return append_exec_trace_line(out, record);
  if (record.event == EventType::kSpawn) return append_spawn_trace_line(out, record);
  Partition partition;
  compute_partition(record.boundary_ns, record.present, record.vfork(), &partition);
  out.append_char('#').append_u64(record.seq).append_char(' ').append(kind_name(record.kind));
  out.append_char(' ');
  append_task(out, record);
  out.append(" -> ");
  append_result(out, record);
  out.append(" cpu").append_u64(record.cpu_start).append("->").append_u64(record.cpu_end);
  out.append(" flags=");
  append_clone_flags(out, record.request.flags, record.request.exit_signal);
  if (record.verdict.kind == VerdictKind::kMismatch) {
    // News: a kernel change or a bug in the model. Shout.
    out.append(" VERDICT=MISMATCH(").append(record.verdict.reason).append_char(')');
  } else {
    out.append(" verdict=").append(verdict_name(record.verdict.kind));
  }
  out.append(" total=");
  append_duration(out, partition.total_ns);
  if (partition.copy_process_ns != 0) {
    out.append(" copy_process=");
    append_duration(out, partition.copy_process_ns);
  }
  for (Stage stage : kOuterStages) {
    if (!stage_ran(partition, stage) || stage == Stage::kClonePrologue ||
        stage == Stage::kCloneReturn) {
      continue;
    }
    out.append_char(' ').append(stage_info(stage).name).append_char('=');
    append_duration(out, stage_ns(partition, stage));
  }
  out.append(" |");
  for (ktl::size_t s = 0; s <= static_cast<ktl::size_t>(kCopyProcessLast); ++s) {
    auto stage = static_cast<Stage>(s);
    if (!stage_ran(partition, stage)) continue;
    out.append_char(' ').append(stage_info(stage).name).append_char('=');
    append_duration(out, stage_ns(partition, stage));
  }
  out.append_char('\n');
}

void append_json_line(ktl::StringBuilder& out, const Record& record) {
  if (record.event == EventType::kExec) return append_exec_json_line(out, record);
  if (record.event == EventType::kSpawn) return append_spawn_json_line(out, record);
  Partition partition;
  compute_partition(record.boundary_ns, record.present, record.vfork(), &partition);
  out.append("{\"seq\":").append_u64(record.seq);
  out.append(",\"event\":\"fork\",\"kind\":\"").append(kind_name(record.kind));
  out.append("\",\"origin\":\"").append(origin_name(record.request.origin));
  out.append("\",\"flags\":\"");
  append_clone_flags(out, record.request.flags, record.request.exit_signal);
  out.append("\",\"flags_raw\":").append_u64(record.request.flags);
  out.append(",\"exit_signal\":").append_u64(record.request.exit_signal);
  out.append(",\"parent_pid\":").append_s64(record.parent_pid);
  out.append(",\"parent_tgid\":").append_s64(record.parent_tgid);
  out.append(",\"comm\":\"").append_json_escaped(record.comm);
  out.append("\",\"child_pid\":").append_s64(record.ret > 0 ? record.child_pid : 0);
  out.append(",\"ret\":").append_s64(record.ret);
  out.append(",\"errno\":");
  if (record.ret < 0) {
    out.append_char('"');
    append_errno_name(out, -record.ret);
    out.append_char('"');
  } else {
    out.append("null");
  }
  out.append(",\"cpu_start\":").append_u64(record.cpu_start);
  out.append(",\"cpu_end\":").append_u64(record.cpu_end);
  out.append(",\"start_ns\":");
  ktl::u64 start = 0;
  for (int b = 0; b < kBoundaryCount; ++b) {
    if (record.present & (ktl::u64{1} << b)) {
      start = record.boundary_ns[b];
      break;
    }
  }
  out.append_u64(start);
  out.append(",\"stages\":{");
  bool first = true;
  for (ktl::size_t s = 0; s <= static_cast<ktl::size_t>(kCopyProcessLast); ++s) {
    auto stage = static_cast<Stage>(s);
    if (!stage_ran(partition, stage)) continue;
    if (!first) out.append_char(',');
    first = false;
    out.append_char('"').append(stage_info(stage).name).append("\":");
    out.append_u64(stage_ns(partition, stage));
  }
  out.append("},\"copy_process_ns\":").append_u64(partition.copy_process_ns);
  out.append(",\"clone_prologue_ns\":").append_u64(stage_ns(partition, Stage::kClonePrologue));
  out.append(",\"clone_publish_ns\":").append_u64(stage_ns(partition, Stage::kClonePublish));
  out.append(",\"wake_ns\":").append_u64(stage_ns(partition, Stage::kWakeUpNewTask));
  out.append(",\"vfork_wait_ns\":").append_u64(stage_ns(partition, Stage::kVforkWait));
  out.append(",\"clone_return_ns\":").append_u64(stage_ns(partition, Stage::kCloneReturn));
  out.append(",\"total_ns\":").append_u64(partition.total_ns);
  out.append(",\"anomalies\":")
      .append_u64(record.repeated_boundaries + partition.dropped_boundaries);
  out.append(",\"verdict\":\"").append(verdict_name(record.verdict.kind));
  out.append("\",\"verdict_reason\":");
  if (record.verdict.reason != nullptr) {
    out.append_char('"').append_json_escaped(record.verdict.reason).append_char('"');
  } else {
    out.append("null");
  }
  out.append(",\"predicted_errno\":").append_s64(record.prediction.error);
  out.append(",\"predicted\":\"");
  append_prediction(out, record.prediction);
  out.append("\",\"observed\":\"");
  if (record.ret > 0) append_observation(out, record.observation);
  out.append("\"}\n");
}

namespace {

const char* row_name(ktl::size_t row, bool exec) {
  if (row == kRowCopyProcess) return "copy_process (all stages)";
  if (row == kRowTotal) return exec ? "total (execve)" : "total (kernel_clone)";
  if (row == kRowSpawn) return "spawn (fork to first exec)";
  return stage_info(static_cast<Stage>(row)).name;
}

// Rows in display order. Creations: copy_process stages, the copy_process
// total, kernel_clone's outer stages, the total, spawns. Execs: every
// stage that ran (exec stages, and fork anchors exec calls such as
// mm_init), then the total.
void for_each_row(bool exec, void (*fn)(ktl::size_t row, void* ctx), void* ctx) {
  if (exec) {
    for (ktl::size_t s = static_cast<ktl::size_t>(kExecFirst); s < kStageCount; ++s) fn(s, ctx);
    for (ktl::size_t s = 0; s < static_cast<ktl::size_t>(kExecFirst); ++s) fn(s, ctx);
    fn(kRowTotal, ctx);
    return;
  }
  for (ktl::size_t s = 0; s <= static_cast<ktl::size_t>(kCopyProcessLast); ++s) fn(s, ctx);
  fn(kRowCopyProcess, ctx);
  for (Stage stage : kOuterStages) fn(static_cast<ktl::size_t>(stage), ctx);
  fn(kRowTotal, ctx);
  fn(kRowSpawn, ctx);
}

// All creation kinds together (execs are not creations).
void merge_kinds(const StatsSnapshot& stats, ktl::size_t row, HistogramSnapshot* out) {
  *out = HistogramSnapshot{};
  for (ktl::size_t kind = 0; kind < kKindCount; ++kind) {
    if (kind == static_cast<ktl::size_t>(Kind::kExec)) continue;
    const HistogramSnapshot& h = stats.rows[row][kind];
    for (ktl::size_t b = 0; b < Histogram::kBuckets; ++b) out->counts[b] += h.counts[b];
    out->count += h.count;
    out->sum += h.sum;
    out->min = ktl::min(out->min, h.min);
    out->max = ktl::max(out->max, h.max);
  }
}

struct StatsTableContext {
  ktl::StringBuilder* out;
  const StatsSnapshot* stats;
  int kind;  // -1: all creation kinds
  HistogramSnapshot* scratch;
};

bool is_exec_kind(int kind) { return kind == static_cast<int>(Kind::kExec); }

void append_stats_row(ktl::size_t row, void* raw) {
  auto* ctx = static_cast<StatsTableContext*>(raw);
  const HistogramSnapshot* h;
  if (ctx->kind < 0) {
    merge_kinds(*ctx->stats, row, ctx->scratch);
    h = ctx->scratch;
  } else {
    h = &ctx->stats->rows[row][ctx->kind];
  }
  if (h->count == 0) return;
  ktl::StringBuilder& out = *ctx->out;
  out.append_padded(row_name(row, is_exec_kind(ctx->kind)), 27);
  out.append_u64_padded(h->count, 9);
  out.append_u64_padded(h->min, 12);
  out.append_u64_padded(h->mean(), 12);
  out.append_u64_padded(h->percentile(500), 12);
  out.append_u64_padded(h->percentile(900), 12);
  out.append_u64_padded(h->percentile(990), 12);
  out.append_u64_padded(h->max, 12);
  out.append_char('\n');
}

void append_stats_table(ktl::StringBuilder& out, const StatsSnapshot& stats, int kind,
                        HistogramSnapshot* scratch) {
  out.append_padded("stage", 27);
  out.append("    count      min_ns     mean_ns      p50_ns      p90_ns      p99_ns      max_ns\n");
  StatsTableContext ctx{&out, &stats, kind, scratch};
  for_each_row(is_exec_kind(kind), append_stats_row, &ctx);
}

}  // namespace

void append_stats(ktl::StringBuilder& out, const StatsSnapshot& stats, HistogramSnapshot* scratch) {
  out.append("# forkscope stats: successful creations and execs since reset, per stage, in ns.\n");
  out.append("# Percentiles are log-linear bucket midpoints (within 3.2%). Times under QEMU TCG\n");
  out.append("# are not real-hardware times: compare configurations, not absolute values.\n");
  merge_kinds(stats, kRowTotal, scratch);
  out.append("\n== all kinds: ").append_u64(scratch->count).append(" creations\n");
  append_stats_table(out, stats, -1, scratch);
  for (ktl::size_t kind = 0; kind < kKindCount; ++kind) {
    ktl::u64 count = stats.rows[kRowTotal][kind].count;
    if (count == 0) continue;
    bool exec = is_exec_kind(static_cast<int>(kind));
    out.append("\n== kind ").append(kind_name(static_cast<Kind>(kind))).append(": ");
    out.append_u64(count).append(exec ? " execs\n" : " creations\n");
    append_stats_table(out, stats, static_cast<int>(kind), scratch);
  }
}

namespace {

struct HistContext {
  ktl::StringBuilder* out;
  const StatsSnapshot* stats;
  HistogramSnapshot* scratch;
  bool exec;
};

void append_hist_row(ktl::size_t row, void* raw) {
  auto* ctx = static_cast<HistContext*>(raw);
  if (ctx->exec) {
    *ctx->scratch = ctx->stats->rows[row][static_cast<int>(Kind::kExec)];
  } else {
    merge_kinds(*ctx->stats, row, ctx->scratch);
  }
  if (ctx->scratch->count == 0) return;
  ctx->out->append("@").append(row_name(row, ctx->exec)).append(" (ns, ");
  ctx->out->append_u64(ctx->scratch->count);
  ctx->out->append(ctx->exec ? " execs):\n" : " creations, all kinds):\n");
  render_histogram(*ctx->out, *ctx->scratch);
  ctx->out->append_char('\n');
}

}  // namespace

void append_histograms(ktl::StringBuilder& out, const StatsSnapshot& stats,
                       HistogramSnapshot* scratch) {
  out.append("# forkscope per-stage latency histograms (ns) since reset: successful creations,\n");
  out.append("# then execs. QEMU TCG times are not real-hardware times.\n\n");
  HistContext ctx{&out, &stats, scratch, false};
  for_each_row(false, append_hist_row, &ctx);
  HistContext exec_ctx{&out, &stats, scratch, true};
  for_each_row(true, append_hist_row, &exec_ctx);
}

void append_spawns(ktl::StringBuilder& out, const Record* records, ktl::size_t count) {
  out.append("# forkscope spawns: each child from its parent's fork start to its first exec\n");
  out.append("# (or its exit, if it never execs): fork, time before exec, exec.\n");
  for (ktl::size_t i = 0; i < count; ++i) {
    if (records[i].event == EventType::kSpawn) append_trace_line(out, records[i]);
  }
}

void append_verdicts(ktl::StringBuilder& out, const EngineCounters& counters,
                     const Record* mismatches, ktl::size_t count) {
  out.append("# forkscope verdicts: each recorded creation's flags predicted what copy_process\n");
  out.append("# would refuse, share, copy or create; the new task was then observed.\n");
  out.append("checked ").append_u64(counters.verdicts[0] + counters.verdicts[1]).append_char('\n');
  out.append("matched ").append_u64(counters.verdicts[0]).append_char('\n');
  out.append("mismatched ").append_u64(counters.verdicts[1]).append_char('\n');
  out.append("unchecked ").append_u64(counters.verdicts[2]).append_char('\n');
  if (count == 0) {
    out.append("\nno mismatches\n");
    return;
  }
  out.append("\n!!! ").append_u64(count);
  out.append(" recent MISMATCHES: a kernel change or a bug in forkscope's model !!!\n");
  for (ktl::size_t i = 0; i < count; ++i) {
    const Record& record = mismatches[i];
    out.append("\n");
    append_trace_line(out, record);
    out.append("  reason:    ").append(record.verdict.reason).append_char('\n');
    out.append("  predicted: errno=").append_s64(record.prediction.error);
    if (record.prediction.rule != nullptr)
      out.append(" (").append(record.prediction.rule).append_char(')');
    out.append_char(' ');
    append_prediction(out, record.prediction);
    out.append("\n  observed:  ret=").append_s64(record.ret).append_char(' ');
    if (record.ret > 0) append_observation(out, record.observation);
    out.append_char('\n');
  }
}

void append_slowest(ktl::StringBuilder& out, const Record* records, ktl::size_t count) {
  out.append("# forkscope: the ").append_u64(count);
  out.append(" slowest creations, execs and spawns since reset (by total time without\n");
  out.append("# the vfork wait)\n");
  for (ktl::size_t i = 0; i < count; ++i) {
    const Record& record = records[i];
    Partition partition;
    compute_record_partition(record, &partition);
    out.append("\n");
    append_trace_line(out, record);
    for (ktl::size_t s = 0; s < kStageCount; ++s) {
      auto stage = static_cast<Stage>(s);
      if (!stage_ran(partition, stage)) continue;
      ktl::u64 ns = stage_ns(partition, stage);
      out.append("  ").append_padded(stage_info(stage).name, 24);
      out.append_u64_padded(ns, 14).append(" ns ");
      ktl::u64 permille = partition.total_ns == 0 ? 0 : ns * 1000 / partition.total_ns;
      out.append_u64_padded(permille / 10, 4).append_char('.').append_u64(permille % 10);
      out.append("%\n");
    }
  }
}

namespace {

const char* type_name(StageType type) {
  switch (type) {
    case StageType::kDirect:
      return "direct";
    case StageType::kGap:
      return "gap";
    case StageType::kOuter:
      return "outer";
    case StageType::kExec:
      return "exec";
  }
  return "?";
}

}  // namespace

void append_stage_map(ktl::StringBuilder& out, const EngineCounters& counters,
                      const forkscope_probe_health* probes, ktl::size_t nr_probes,
                      ktl::u64 available_anchors) {
  out.append("# forkscope stage map: copy_process's stages (they sum exactly to copy_process),\n");
  out.append("# then kernel_clone's steps around it. A gap stage is code the compiler inlined\n");
  out.append("# between two anchors; when an anchor is missing, its stage merges into the one\n");
  out.append("# before it. When an anchor does not fire (e.g. dup_fd with CLONE_FILES), the\n");
  out.append("# gap before it runs on to the next anchor that fires.\n\n");
  out.append_padded("stage", 24).append_padded("type", 8).append_padded("status", 28);
  out.append("contains\n");
  for (ktl::size_t s = 0; s < kStageCount; ++s) {
    auto stage = static_cast<Stage>(s);
    const StageInfo& info = stage_info(stage);
    out.append_padded(info.name, 24).append_padded(type_name(info.type), 8);
    Stage into = merged_into(stage, available_anchors);
    char status[64];
    ktl::StringBuilder status_text(status, sizeof(status));
    if (into == stage) {
      status_text.append("measured");
    } else {
      status_text.append("merged into ").append(stage_info(into).name);
    }
    out.append_padded(status, 28).append(info.contains).append_char('\n');
  }
  out.append("\n");
  out.append_padded("anchor", 24).append_padded("symbol", 26).append_padded("registered", 11);
  out.append("      tracked        other       missed  what\n");
  for (ktl::size_t a = 0; a < kAnchorCount; ++a) {
    const AnchorInfo& info = anchor_info(static_cast<Anchor>(a));
    const forkscope_probe_health* probe = a < nr_probes ? &probes[a] : nullptr;
    out.append_padded(info.names[0], 24);
    out.append_padded(probe != nullptr && probe->symbol != nullptr ? probe->symbol : "-", 26);
    out.append_padded(probe != nullptr && probe->registered ? "yes" : "no", 11);
    out.append_u64_padded(counters.anchor_tracked[a], 13);
    out.append_u64_padded(counters.anchor_other[a], 13);
    out.append_u64_padded(probe != nullptr ? probe->missed : 0, 13);
    out.append("  ").append(info.what).append_char('\n');
  }
}

void append_counters(ktl::StringBuilder& out, const EngineCounters& counters,
                     const forkscope_probe_health* probes, ktl::size_t nr_probes, bool enabled,
                     ktl::u32 sample_every, const Filter& filter) {
  auto line = [&out](const char* key, ktl::u64 value) {
    out.append(key).append_char(' ').append_u64(value).append_char('\n');
  };
  line("creations", counters.creations);
  line("copy_process_failures", counters.copy_process_failures);
  line("clone_failures", counters.clone_failures);
  for (ktl::size_t d = 0; d < kDecisionCount; ++d) {
    line(decision_name(static_cast<Decision>(d)), counters.by_decision[d]);
  }
  for (ktl::size_t d = 0; d < kDecisionCount; ++d) {
    out.append(decision_name(static_cast<Decision>(d))).append("_failures ");
    out.append_u64(counters.failures_by_decision[d]).append_char('\n');
  }
  line("records", counters.records);
  line("ring_overwritten", counters.ring_overwritten);
  line("consumed", counters.consumed);
  line("repeated_boundaries", counters.repeated_boundaries);
  line("dropped_boundaries", counters.dropped_boundaries);
  line("stale_slots", counters.stale_slots);
  line("filter_contended", counters.filter_contended);
  line("verdict_checked", counters.verdicts[0] + counters.verdicts[1]);
  line("verdict_matched", counters.verdicts[0]);
  line("verdict_mismatched", counters.verdicts[1]);
  line("verdict_unchecked", counters.verdicts[2]);
  line("execs", counters.execs);
  line("exec_failures", counters.exec_failures);
  for (ktl::size_t d = 0; d < kDecisionCount; ++d) {
    out.append("exec_").append(decision_name(static_cast<Decision>(d))).append_char(' ');
    out.append_u64(counters.exec_by_decision[d]).append_char('\n');
  }
  line("exec_events_dropped", counters.exec_events_dropped);
  line("spawns", counters.spawns);
  line("spawns_exited", counters.spawns_exited);
  line("spawn_untracked", counters.spawn_untracked);
  line("unattributed", counters.unattributed);
  ktl::u64 missed = 0;
  for (ktl::size_t i = 0; i < nr_probes; ++i) missed += probes[i].missed;
  line("probes_missed", missed);
  line("enabled", enabled ? 1 : 0);
  line("sample_every", sample_every);
  out.append("filter ");
  append_filter(out, filter);
  out.append_char('\n');
  for (ktl::size_t i = 0; i < nr_probes; ++i) {
    const forkscope_probe_health& probe = probes[i];
    out.append("probe ").append(probe.symbol != nullptr ? probe.symbol : "-");
    out.append(" registered ").append_u64(probe.registered ? 1 : 0);
    out.append(" hits ").append_u64(probe.hits);
    out.append(" missed ").append_u64(probe.missed).append_char('\n');
  }
}

}  // namespace forkscope
