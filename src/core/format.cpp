// SPDX-License-Identifier: GPL-2.0
// Renders records, statistics and the stage map as text and JSON Lines.
#include "format.h"

#include <forkscope/cxxrt.h>
#include <ktl/alloc_checker.h>
#include <ktl/unique_ptr.h>
#include <ktl/utility.h>

#include "histogram.h"
#include "json_writer.h"
#include "kernel_profile.h"

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
  if (record.succeeded()) {
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
      {FORKSCOPE_EPERM, "EPERM"},
      {FORKSCOPE_ENOENT, "ENOENT"},
      {FORKSCOPE_EINTR, "EINTR"},
      {FORKSCOPE_E2BIG, "E2BIG"},
      {FORKSCOPE_ENOEXEC, "ENOEXEC"},
      {FORKSCOPE_EBADF, "EBADF"},
      {FORKSCOPE_EAGAIN, "EAGAIN"},
      {FORKSCOPE_ENOMEM, "ENOMEM"},
      {FORKSCOPE_EACCES, "EACCES"},
      {FORKSCOPE_EFAULT, "EFAULT"},
      {FORKSCOPE_EBUSY, "EBUSY"},
      {FORKSCOPE_EEXIST, "EEXIST"},
      {FORKSCOPE_ENOTDIR, "ENOTDIR"},
      {FORKSCOPE_EISDIR, "EISDIR"},
      {FORKSCOPE_EINVAL, "EINVAL"},
      {FORKSCOPE_EMFILE, "EMFILE"},
      {FORKSCOPE_ETXTBSY, "ETXTBSY"},
      {FORKSCOPE_ENOSPC, "ENOSPC"},
      {FORKSCOPE_ENAMETOOLONG, "ENAMETOOLONG"},
      {FORKSCOPE_ELOOP, "ELOOP"},
      {FORKSCOPE_EUSERS, "EUSERS"},
      {FORKSCOPE_EOPNOTSUPP, "EOPNOTSUPP"},
      {FORKSCOPE_ERESTARTNOINTR, "ERESTARTNOINTR"},
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

// " | bias_ns name=ns ... total=ns": what net values take off each stage
// that ran (the record keeps its raw values). Calibrated tables only.
template <typename Order>
[[gnu::noinline]] void append_bias_text(ktl::StringBuilder& out, const Record& record,
                                        const BiasTable* bias, ktl::size_t count, Order order) {
  if (bias == nullptr || !bias->calibrated()) return;
  NetPartition net;
  compute_net(record, *bias, &net);
  out.append(" | bias_ns");
  for (ktl::size_t i = 0; i < count; ++i) {
    Stage stage = order(i);
    if (!stage_ran(net.raw, stage)) continue;
    out.append_char(' ').append(stage_info(stage).name).append_char('=');
    out.append_u64(net.bias_ns[static_cast<ktl::size_t>(stage)]);
  }
  out.append(" total=").append_u64(net.total_bias_ns);
}

// "bias_ns":{"name":ns,...} per stage that ran, "total_bias_ns" (the span's),
// "calibration" (which table; 0: none yet, every bias 0).
template <typename Order>
[[gnu::noinline]] void bias_fields(JsonObject& json, const Record& record, const BiasTable* bias,
                                   ktl::size_t count, Order order) {
  if (bias == nullptr) return;
  NetPartition net;
  compute_net(record, *bias, &net);
  JsonObject stages(json.object_field("bias_ns"));
  for (ktl::size_t i = 0; i < count; ++i) {
    Stage stage = order(i);
    if (stage_ran(net.raw, stage))
      stages.field(stage_info(stage).name, net.bias_ns[static_cast<ktl::size_t>(stage)]);
  }
  stages.close();
  json.field("total_bias_ns", net.total_bias_ns);
  json.field("calibration", bias->generation);
}

// Fork records: copy_process's stages, then kernel_clone's around it.
Stage fork_display_order(ktl::size_t i) {
  constexpr ktl::size_t kInner = static_cast<ktl::size_t>(kCopyProcessLast) + 1;
  return i < kInner ? static_cast<Stage>(i) : kOuterStages[i - kInner];
}
constexpr ktl::size_t kForkDisplayCount =
    static_cast<ktl::size_t>(kCopyProcessLast) + 1 + ktl::size(kOuterStages);

void append_exec_trace_line(ktl::StringBuilder& out, const Record& record, const BiasTable* bias) {
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
  append_bias_text(out, record, bias, kStageCount, exec_display_order);
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

// errno as its name for a negative result, else null.
void errno_field(JsonObject& json, const char* name, ktl::s64 ret) {
  if (ret >= 0) {
    json.null_field(name);
    return;
  }
  ktl::StringBuilder& out = json.raw_field(name);
  out.append_char('"');
  append_errno_name(out, -ret);
  out.append_char('"');
}

// "stages":{"name":ns,...} for the stages that ran, in display order.
template <typename Order>
void stages_field(JsonObject& json, const Partition& partition, ktl::size_t count, Order order) {
  JsonObject stages(json.object_field("stages"));
  for (ktl::size_t i = 0; i < count; ++i) {
    Stage stage = order(i);
    if (stage_ran(partition, stage))
      stages.field(stage_info(stage).name, stage_ns(partition, stage));
  }
  stages.close();
}

void append_exec_json_line(ktl::StringBuilder& out, const Record& record, const BiasTable* bias) {
  Partition partition;
  compute_record_partition(record, &partition);
  JsonObject json(out);
  json.field("seq", record.seq).field("event", "exec").field("kind", "exec");
  json.field("pid", record.parent_pid).field("tgid", record.parent_tgid);
  json.field("comm", record.comm).field("old_comm", record.comm);
  json.field("new_comm", record.ret == 0 ? record.exec.new_comm : "");
  json.field("filename", record.exec.filename).field("ret", record.ret);
  errno_field(json, "errno", record.ret);
  json.field("cpu_start", ktl::u64{record.cpu_start}).field("cpu_end", ktl::u64{record.cpu_end});
  json.field("start_ns", record.exec.start_ns).field("end_ns", record.end_ns);
  stages_field(json, partition, kStageCount, exec_display_order);
  json.field("total_ns", partition.total_ns);
  json.field("events", ktl::u64{record.exec.event_count});
  json.field("events_dropped", ktl::u64{record.exec.events_dropped});
  json.field("anomalies", ktl::u64{partition.dropped_boundaries});
  bias_fields(json, record, bias, kStageCount, exec_display_order);
  json.close(true);
}

void append_spawn_json_line(ktl::StringBuilder& out, const Record& record) {
  const SpawnFacts& spawn = record.spawn;
  JsonObject json(out);
  json.field("seq", record.seq).field("event", "spawn").field("kind", kind_name(spawn.fork_kind));
  json.field("parent_pid", record.parent_pid).field("parent_tgid", record.parent_tgid);
  json.field("comm", record.comm).field("child_pid", record.child_pid);
  json.field("exited", spawn.exited).field("filename", record.exec.filename);
  json.field("fork_start_ns", spawn.fork_start_ns).field("forked_ns", spawn.forked_ns);
  json.field("exec_start_ns", spawn.exec_start_ns).field("end_ns", spawn.end_ns);
  json.field("total_ns", spawn.end_ns - spawn.fork_start_ns);
  json.close(true);
}

}  // namespace

void append_trace_line(ktl::StringBuilder& out, const Record& record, const BiasTable* bias) {
  if (record.event == EventType::kExec) return append_exec_trace_line(out, record, bias);
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
  append_bias_text(out, record, bias, kForkDisplayCount, fork_display_order);
  out.append_char('\n');
}

void append_json_line(ktl::StringBuilder& out, const Record& record, const BiasTable* bias) {
  if (record.event == EventType::kExec) return append_exec_json_line(out, record, bias);
  if (record.event == EventType::kSpawn) return append_spawn_json_line(out, record);
  Partition partition;
  compute_partition(record.boundary_ns, record.present, record.vfork(), &partition);
  JsonObject json(out);
  json.field("seq", record.seq).field("event", "fork").field("kind", kind_name(record.kind));
  json.field("origin", origin_name(record.request.origin));
  {
    ktl::StringBuilder& flags = json.raw_field("flags");
    flags.append_char('"');
    append_clone_flags(flags, record.request.flags, record.request.exit_signal);
    flags.append_char('"');
  }
  json.field("flags_raw", record.request.flags).field("exit_signal", record.request.exit_signal);
  json.field("parent_pid", record.parent_pid).field("parent_tgid", record.parent_tgid);
  json.field("comm", record.comm);
  json.field("child_pid", record.succeeded() ? record.child_pid : 0).field("ret", record.ret);
  errno_field(json, "errno", record.ret);
  json.field("cpu_start", ktl::u64{record.cpu_start}).field("cpu_end", ktl::u64{record.cpu_end});
  ktl::u64 start = 0;
  for (int b = 0; b < kBoundaryCount; ++b) {
    if (record.present & (ktl::u64{1} << b)) {
      start = record.boundary_ns[b];
      break;
    }
  }
  json.field("start_ns", start).field("end_ns", record.end_ns);
  stages_field(json, partition, static_cast<ktl::size_t>(kCopyProcessLast) + 1,
               [](ktl::size_t i) { return static_cast<Stage>(i); });
  json.field("copy_process_ns", partition.copy_process_ns);
  json.field("clone_prologue_ns", stage_ns(partition, Stage::kClonePrologue));
  json.field("clone_publish_ns", stage_ns(partition, Stage::kClonePublish));
  json.field("wake_ns", stage_ns(partition, Stage::kWakeUpNewTask));
  json.field("vfork_wait_ns", stage_ns(partition, Stage::kVforkWait));
  json.field("clone_return_ns", stage_ns(partition, Stage::kCloneReturn));
  json.field("total_ns", partition.total_ns);
  json.field("anomalies", ktl::u64{record.repeated_boundaries} + partition.dropped_boundaries);
  json.field("verdict", verdict_name(record.verdict.kind));
  json.field("verdict_reason", record.verdict.reason);
  json.field("predicted_errno", ktl::s64{record.prediction.error});
  {
    ktl::StringBuilder& predicted = json.raw_field("predicted");
    predicted.append_char('"');
    append_prediction(predicted, record.prediction);
    predicted.append_char('"');
  }
  {
    ktl::StringBuilder& observed = json.raw_field("observed");
    observed.append_char('"');
    if (record.succeeded()) append_observation(observed, record.observation);
    observed.append_char('"');
  }
  bias_fields(json, record, bias, kForkDisplayCount, fork_display_order);
  json.close(true);
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
template <typename Fn>
void for_each_row(bool exec, Fn fn) {
  if (exec) {
    for (ktl::size_t s = static_cast<ktl::size_t>(kExecFirst); s < kStageCount; ++s) fn(s);
    for (ktl::size_t s = 0; s < static_cast<ktl::size_t>(kExecFirst); ++s) fn(s);
    fn(kRowTotal);
    return;
  }
  for (ktl::size_t s = 0; s <= static_cast<ktl::size_t>(kCopyProcessLast); ++s) fn(s);
  fn(kRowCopyProcess);
  for (Stage stage : kOuterStages) fn(static_cast<ktl::size_t>(stage));
  fn(kRowTotal);
  fn(kRowSpawn);
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

bool is_exec_kind(int kind) { return kind == static_cast<int>(Kind::kExec); }

// kind: a Kind, or -1 for all creation kinds.
void append_stats_table(ktl::StringBuilder& out, const StatsSnapshot& stats, int kind,
                        HistogramSnapshot* scratch) {
  out.append_padded("stage", 27);
  out.append("    count      min_ns     mean_ns      p50_ns      p90_ns      p99_ns      max_ns\n");
  bool exec = is_exec_kind(kind);
  for_each_row(exec, [&](ktl::size_t row) {
    const HistogramSnapshot* h = &stats.rows[row][kind < 0 ? 0 : kind];
    if (kind < 0) {
      merge_kinds(stats, row, scratch);
      h = scratch;
    }
    if (h->count == 0) return;
    out.append_padded(row_name(row, exec), 27);
    out.append_u64_padded(h->count, 9);
    out.append_u64_padded(h->min, 12);
    out.append_u64_padded(h->mean(), 12);
    out.append_u64_padded(h->percentile(500), 12);
    out.append_u64_padded(h->percentile(900), 12);
    out.append_u64_padded(h->percentile(990), 12);
    out.append_u64_padded(h->max, 12);
    out.append_char('\n');
  });
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

void append_histograms(ktl::StringBuilder& out, const StatsSnapshot& stats,
                       HistogramSnapshot* scratch) {
  out.append("# forkscope per-stage latency histograms (ns) since reset: successful creations,\n");
  out.append("# then execs. QEMU TCG times are not real-hardware times.\n\n");
  constexpr bool kPasses[] = {false, true};  // creations, then execs
  for (bool exec : kPasses) {
    for_each_row(exec, [&](ktl::size_t row) {
      if (exec) {
        *scratch = stats.rows[row][static_cast<int>(Kind::kExec)];
      } else {
        merge_kinds(stats, row, scratch);
      }
      if (scratch->count == 0) return;
      out.append("@").append(row_name(row, exec)).append(" (ns, ").append_u64(scratch->count);
      out.append(exec ? " execs):\n" : " creations, all kinds):\n");
      render_histogram(out, *scratch);
      out.append_char('\n');
    });
  }
}

namespace {

static_assert(kNetRowCopyProcess == kRowCopyProcess && kNetRowTotal == kRowTotal,
              "stats_net rows are stats rows");

void append_net_section(ktl::StringBuilder& out, const NetStats& stats, bool exec) {
  out.append_padded("stage", 24);
  out.append("    count raw_mean_ns  raw_p50_ns     bias_ns net_mean_ns  net_p50_ns   spread_ns");
  out.append("   within  flag\n");
  for_each_row(exec, [&](ktl::size_t row) {
    if (row >= kNetRows) return;  // spawns: no stages, no bias
    const NetRow& r = stats.rows[row];
    if (r.raw.count == 0) return;
    const char* name = row == kRowCopyProcess ? "copy_process"
                       : row == kRowTotal     ? "total"
                                              : stage_info(static_cast<Stage>(row)).name;
    out.append_padded(name, 24).append_u64_padded(r.raw.count, 9);
    out.append_u64_padded(r.raw.mean(), 12).append_u64_padded(r.raw.percentile(500), 12);
    out.append_u64_padded(r.bias_sum / r.raw.count, 12);
    out.append_u64_padded(r.net.mean(), 12).append_u64_padded(r.net.percentile(500), 12);
    out.append_u64_padded(r.spread_sum / r.raw.count, 12);
    out.append_u64_padded(r.within_spread, 9);
    out.append(stats.row_within_spread(row) ? "  within_spread\n" : "  -\n");
  });
  // The sums, over every record of the section: exact on both sides.
  ktl::u64 raw_stages = 0, net_stages = 0;
  ktl::s64 unclamped_stages = 0;
  for (ktl::size_t s = 0; s < kStageCount; ++s) {
    raw_stages += stats.rows[s].raw.sum;
    net_stages += stats.rows[s].net.sum;
    unclamped_stages += stats.rows[s].unclamped_sum;
  }
  const NetRow& total = stats.rows[kNetRowTotal];
  out.append("sums raw_stages_ns ").append_u64(raw_stages);
  out.append(" raw_total_ns ").append_u64(total.raw.sum);
  out.append(" bias_ns ").append_u64(total.bias_sum);
  out.append(" net_stages_unclamped_ns ").append_s64(unclamped_stages);
  out.append(" net_total_unclamped_ns ").append_s64(total.unclamped_sum);
  out.append(" net_stages_ns ").append_u64(net_stages);
  out.append(" clamped_ns ").append_u64(stats.clamped_sum).append_char('\n');
}

}  // namespace

void append_stats_net(ktl::StringBuilder& out, const Record* records, ktl::size_t count,
                      const BiasTable& bias, NetStats* scratch) {
  out.append("# forkscope stats_net: stage times net of forkscope's own probe effect (ns), over\n");
  out.append("# the successful creations and execs still in the rings (the latest ring_size per\n");
  out.append(
      "# CPU). bias: the calibrated part of the hooks that bracket the stage (the opening\n");
  out.append("# hook's after its timestamp, the closing hook's before it), mean per record;\n");
  out.append("# net = raw - bias per record, clamped at 0. spread: the bias's own (IQRs);\n");
  out.append("# within: records whose net was within it; flag within_spread: the net median is.\n");
  out.append("# total: the span less every boundary inside it. Sums: raw stages = raw total;\n");
  out.append("# unclamped net stages = unclamped net total = raw total - bias; clamping adds\n");
  out.append("# clamped_ns (net_stages_ns = net_total_unclamped_ns + clamped_ns). Medians are\n");
  out.append(
      "# bucket midpoints as in stats (within 3.2%): a smaller bias shows in the mean only.\n");
  if (bias.calibrated()) {
    out.append("calibration ").append_u64(bias.generation).append_char('\n');
  } else {
    out.append("calibration none: no bias yet, net = raw\n");
  }
  constexpr bool kPasses[] = {false, true};  // creations, then execs
  for (bool exec : kPasses) {
    *scratch = NetStats{};
    for (ktl::size_t i = 0; i < count; ++i) {
      const Record& record = records[i];
      bool ok = exec ? record.event == EventType::kExec && record.ret == 0
                     : record.event == EventType::kFork && record.succeeded();
      if (!ok) continue;
      NetPartition net;
      compute_net(record, bias, &net);
      scratch->add(net);
    }
    out.append(exec ? "\n== execs: " : "\n== creations: ").append_u64(scratch->records);
    out.append(" records\n");
    if (scratch->records != 0) append_net_section(out, *scratch, exec);
  }
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
  out.append("checked ").append_u64(counters.verdicts_checked()).append_char('\n');
  for (ktl::size_t kind = 0; kind < kVerdictKindCount; ++kind) {
    out.append(verdict_label(kind)).append_char(' ').append_u64(counters.verdicts[kind]);
    out.append_char('\n');
  }
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
    if (record.succeeded()) append_observation(out, record.observation);
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

// A stage whose only opening anchor this kernel's series inlines (the
// profile says so, and the kernel indeed lacks it).
bool inlined_stage(const KernelProfile& profile, Stage stage, ktl::u64 available_anchors) {
  for (ktl::size_t a = 0; a < kAnchorCount; ++a) {
    auto anchor = static_cast<Anchor>(a);
    if (!profile_inlines(profile, anchor) || ((available_anchors >> a) & 1)) continue;
    Boundary entry = entry_boundary(anchor);
    if (entry < kBoundaryCount && boundary_info(entry).stage_after == stage) return true;
  }
  return false;
}

}  // namespace

namespace {

constexpr const char* kHookNames[] = {"-",        "tracepoint", "ftrace",
                                      "callsite", "kprobe",     "kretprobe"};
static_assert(ktl::size(kHookNames) == FORKSCOPE_HOOK_COUNT, "a name per enum forkscope_hook_kind");

const char* hook_name(forkscope_hook_kind kind) {
  auto index = static_cast<ktl::size_t>(kind);
  return index < ktl::size(kHookNames) ? kHookNames[index] : "?";
}

}  // namespace

void append_stage_map(ktl::StringBuilder& out, const EngineCounters& counters,
                      const forkscope_probe_health* probes, ktl::size_t nr_probes,
                      ktl::u64 registered_anchors, ktl::u64 measured_anchors) {
  out.append("# forkscope stage map: copy_process's stages (they sum exactly to copy_process),\n");
  out.append("# then kernel_clone's steps around it. A gap stage is code the compiler inlined\n");
  out.append("# between two anchors; when an anchor is missing, its stage merges into the one\n");
  out.append("# before it. When an anchor does not fire (e.g. dup_fd with CLONE_FILES), the\n");
  out.append("# gap before it runs on to the next anchor that fires.\n");
  const KernelProfile& profile = active_profile();
  out.append("# kernel ");
  append_profile_summary(out, profile, active_profile_exact(), active_release(),
                         registered_anchors);
  out.append(".\n# tables: ").append(profile.source).append("\n\n");
  out.append_padded("stage", 24).append_padded("type", 8).append_padded("status", 28);
  out.append("contains\n");
  for (ktl::size_t s = 0; s < kStageCount; ++s) {
    auto stage = static_cast<Stage>(s);
    const StageInfo& info = stage_info(stage);
    out.append_padded(info.name, 24).append_padded(type_name(info.type), 8);
    Stage into = merged_into(stage, measured_anchors);
    char status[64];
    ktl::StringBuilder status_text(status, sizeof(status));
    if (into == stage) {
      status_text.append("measured");
    } else if (inlined_stage(profile, stage, registered_anchors)) {
      status_text.append("inlined into ").append(stage_info(into).name);
    } else {
      status_text.append("merged into ").append(stage_info(into).name);
    }
    out.append_padded(status, 28).append(profile_stage_contains(profile, stage));
    out.append_char('\n');
  }
  out.append("\n");
  out.append("# Hooks, cheapest first: tracepoint, ftrace (entry), callsite (return: a kprobe\n");
  out.append("# after each call to the anchor; opt = of which OPTPROBES made a jump), kprobe,\n");
  out.append("# kretprobe. foreign = entries from callers outside the model, ignored.\n");
  out.append_padded("anchor", 24).append_padded("symbol", 26).append_padded("registered", 11);
  out.append_padded("armed", 6).append_padded("entry", 11).append_padded("return", 11);
  out.append("sites  opt         hits      returns      foreign      tracked        other");
  out.append("       missed  what\n");
  for (ktl::size_t a = 0; a < kAnchorCount; ++a) {
    const AnchorInfo& info = anchor_info(static_cast<Anchor>(a));
    const forkscope_probe_health* probe = a < nr_probes ? &probes[a] : nullptr;
    forkscope_probe_health none{};
    if (probe == nullptr) probe = &none;
    out.append_padded(info.names[0], 24);
    out.append_padded(probe->symbol != nullptr ? probe->symbol : "-", 26);
    out.append_padded(probe->registered ? "yes" : "no", 11);
    out.append_padded(probe->armed ? "yes" : "no", 6);
    out.append_padded(hook_name(probe->entry), 11).append_padded(hook_name(probe->ret), 11);
    out.append_u64_padded(probe->sites, 5).append_u64_padded(probe->optimized, 5);
    out.append_u64_padded(probe->hits, 13).append_u64_padded(probe->return_hits, 13);
    out.append_u64_padded(probe->foreign, 13);
    out.append_u64_padded(counters.anchor_tracked[a], 13);
    out.append_u64_padded(counters.anchor_other[a], 13);
    out.append_u64_padded(probe->missed, 13);
    out.append("  ").append(info.what).append_char('\n');
  }
}

void append_stage_bias(ktl::StringBuilder& out, const BiasTable& bias,
                       const forkscope_probe_health* probes, ktl::size_t nr_probes) {
  out.append("\n# Calibration (see calibration): each hook's cost in ns, median (IQR), before\n");
  out.append("# its timestamp (pre: in the interval it closes) and after it (post: in the one\n");
  out.append("# it opens); stats_net subtracts them.");
  if (!bias.calibrated()) {
    out.append(" Not calibrated: no bias applied.\n");
    return;
  }
  out.append(" Calibration ").append_u64(bias.generation).append(".\n");
  out.append_padded("bias_of", 24).append_padded("entry", 11).append_padded("entry_pre", 14);
  out.append_padded("entry_post", 14).append_padded("return", 11).append_padded("return_pre", 14);
  out.append("return_post\n");
  auto cell = [&](ktl::u32 median, ktl::u32 spread, bool last) {
    char text[32];
    ktl::StringBuilder b(text, sizeof(text));
    b.append_u64(median).append_char('(').append_u64(spread).append_char(')');
    if (last) {
      out.append(text);
    } else {
      out.append_padded(text, 14);
    }
  };
  for (ktl::size_t a = 0; a < kAnchorCount && a < nr_probes; ++a) {
    const forkscope_probe_health& probe = probes[a];
    if (!probe.registered) continue;
    out.append_padded(anchor_info(static_cast<Anchor>(a)).names[0], 24);
    out.append_padded(hook_name(probe.entry), 11);
    cell(bias.entry[a].pre_ns, bias.entry[a].pre_spread_ns, false);
    cell(bias.entry[a].post_ns, bias.entry[a].post_spread_ns, false);
    out.append_padded(hook_name(probe.ret), 11);
    cell(bias.ret[a].pre_ns, bias.ret[a].pre_spread_ns, false);
    cell(bias.ret[a].post_ns, bias.ret[a].post_spread_ns, true);
    out.append_char('\n');
  }
}

void append_counters(ktl::StringBuilder& out, const EngineCounters& counters,
                     const forkscope_probe_health* probes, ktl::size_t nr_probes, bool enabled,
                     ktl::u32 sample_every, const Filter& filter, Detail detail) {
  counters.append_to(out);
  ktl::u64 missed = 0;
  for (ktl::size_t i = 0; i < nr_probes; ++i) missed += probes[i].missed;
  out.append("probes_missed ").append_u64(missed).append_char('\n');
  out.append("enabled ").append_u64(enabled ? 1 : 0).append_char('\n');
  out.append("detail ").append(detail_name(detail)).append_char('\n');
  out.append("sample_every ").append_u64(sample_every).append_char('\n');
  out.append("filter ");
  append_filter(out, filter);
  out.append_char('\n');
  for (ktl::size_t i = 0; i < nr_probes; ++i) {
    const forkscope_probe_health& probe = probes[i];
    if (probe.symbol == nullptr) continue;
    out.append("probe ").append(probe.symbol);
    out.append(" registered ").append_u64(probe.registered ? 1 : 0);
    out.append(" hits ").append_u64(probe.hits);
    out.append(" armed ").append_u64(probe.armed ? 1 : 0);
    out.append(" entry ").append(hook_name(probe.entry));
    out.append(" return ").append(hook_name(probe.ret));
    out.append(" sites ").append_u64(probe.sites);
    out.append(" optimized ").append_u64(probe.optimized);
    out.append(" return_hits ").append_u64(probe.return_hits);
    out.append(" foreign ").append_u64(probe.foreign);
    out.append(" missed ").append_u64(probe.missed).append_char('\n');
  }
}

namespace {

// Growable output: sized up front from the content, doubled and
// re-rendered in the rare case the estimate was short.
template <typename RenderFn>
int render_into(forkscope_text* out, ktl::size_t estimate, RenderFn render) {
  for (ktl::size_t size = estimate; size <= (ktl::size_t{256} << 20); size *= 2) {
    ktl::AllocChecker ac;
    char* buffer = new (ac) char[size];
    if (!ac.check()) return -FORKSCOPE_ENOMEM;
    ktl::StringBuilder builder(buffer, size);
    render(builder);
    if (!builder.truncated()) {
      out->data = buffer;
      out->length = builder.length();
      return 0;
    }
    delete[] buffer;
  }
  return -FORKSCOPE_ENOSPC;
}

void append_version(ktl::StringBuilder& out, const RenderSources& sources) {
  struct forkscope_cxxrt_stats rt;
  forkscope_cxxrt_get_stats(&rt);
  auto line = [&out](const char* key, const char* value) {
    out.append(key).append_char(' ').append(value).append_char('\n');
  };
  auto number = [&out](const char* key, ktl::u64 value) {
    out.append(key).append_char(' ').append_u64(value).append_char('\n');
  };
  out.append("forkscope ").append(FORKSCOPE_VERSION).append_char('\n');
  const forkscope_build_info* info = sources.info;
  line("kernel", info != nullptr ? info->kernel_release : "?");
  line("built_for", info != nullptr ? info->built_for : "?");
  line("compiler", info != nullptr ? info->compiler : "?");
  number("cxx_standard", __cplusplus);
  number("cxxrt_ctors_run", rt.ctors_run);
  line("cxxrt_ctors_by", rt.ctors_by_kernel ? "kernel" : "cxxrt");
  number("cxxrt_static_init_runs", static_cast<ktl::u64>(sources.static_init_runs));
  line("cxxrt_static_init", sources.static_init_ok ? "ok" : "missing");
  number("cxxrt_live_allocs", rt.live_allocs);
  number("cxxrt_live_bytes", rt.live_bytes);
  number("cxxrt_alloc_failures", rt.alloc_failures);
  number("cxxrt_faulted", forkscope_cxxrt_faulted() ? 1 : 0);
  // Everything the load holds: the core's heap as the allocator holds it
  // (cxxrt's footprint), the glue's kretprobe instances and its plan tables.
  ktl::u64 kretprobes = info != nullptr ? info->kretprobe_bytes : 0;
  ktl::u64 plan = info != nullptr ? info->plan_bytes : 0;
  number("memory_bytes", rt.live_footprint_bytes + kretprobes + plan);
  number("memory_heap_bytes", rt.live_footprint_bytes);
  number("memory_kretprobe_bytes", kretprobes);
  number("memory_plan_bytes", plan);
  const EngineConfig& config = sources.engine.config();
  number("cpus", config.nr_cpus);
  number("inflight_slots", config.inflight_slots);
  number("ring_records_per_cpu", config.ring_records);
  number("top_n", config.top_n);
  line("detail", detail_name(sources.engine.detail()));
}

using Renderer = int (*)(const RenderSources& sources, forkscope_text* out);

int render_version(const RenderSources& sources, forkscope_text* out) {
  return render_into(out, 2048, [&](ktl::StringBuilder& b) { append_version(b, sources); });
}

int render_counters(const RenderSources& sources, forkscope_text* out) {
  const Engine& engine = sources.engine;
  EngineCounters counters = engine.counters();
  return render_into(out, 4096 + sources.nr_probes * 128, [&](ktl::StringBuilder& b) {
    append_counters(b, counters, sources.probes, sources.nr_probes, engine.enabled(),
                    engine.sample_every(), engine.filter(), engine.detail());
  });
}

int render_stages(const RenderSources& sources, forkscope_text* out) {
  EngineCounters counters = sources.engine.counters();
  ktl::UniquePtr<BiasTable> bias;
  if (bias.make() != 0) return -FORKSCOPE_ENOMEM;
  sources.engine.bias(bias.get());
  return render_into(out, 16384 + kAnchorCount * 96, [&](ktl::StringBuilder& b) {
    b.append("# detail ").append(detail_name(sources.engine.detail())).append_char('\n');
    append_stage_map(b, counters, sources.probes, sources.nr_probes,
                     sources.engine.available_anchors(), sources.engine.measured_anchors());
    append_stage_bias(b, *bias, sources.probes, sources.nr_probes);
  });
}

// stats and hist: one statistics snapshot, drawn as a table or histograms.
template <void (*kAppend)(ktl::StringBuilder&, const StatsSnapshot&, HistogramSnapshot*)>
int render_statistics(const RenderSources& sources, forkscope_text* out) {
  ktl::UniquePtr<StatsSnapshot> stats;
  ktl::UniquePtr<HistogramSnapshot> scratch;
  if (stats.make() != 0 || scratch.make() != 0) return -FORKSCOPE_ENOMEM;
  sources.engine.collect_stats(stats.get());
  return render_into(out, 64 * 1024,
                     [&](ktl::StringBuilder& b) { kAppend(b, *stats, scratch.get()); });
}

// Records still in the rings: trace lines, JSON Lines, or the spawns among them.
enum class RecordsAs : ktl::u8 { kTrace, kJson, kSpawns };

template <RecordsAs kAs>
int render_records(const RenderSources& sources, forkscope_text* out) {
  ktl::Array<Record> records;
  if (records.init(sources.engine.ring_capacity_total()) != 0) return -FORKSCOPE_ENOMEM;
  ktl::size_t n = sources.engine.collect_records(records.data(), records.size());
  ktl::size_t line_max = kAs == RecordsAs::kJson ? kJsonLineMax : kTraceLineMax;
  ktl::UniquePtr<BiasTable> bias;
  if (bias.make() != 0) return -FORKSCOPE_ENOMEM;
  sources.engine.bias(bias.get());
  return render_into(out, 512 + n * line_max, [&](ktl::StringBuilder& b) {
    if (kAs == RecordsAs::kSpawns) return append_spawns(b, records.data(), n);
    for (ktl::size_t i = 0; i < n; ++i) {
      if (kAs == RecordsAs::kJson) {
        append_json_line(b, records[i], bias.get());
      } else {
        append_trace_line(b, records[i], bias.get());
      }
    }
  });
}

int render_stats_net(const RenderSources& sources, forkscope_text* out) {
  ktl::Array<Record> records;
  ktl::UniquePtr<NetStats> scratch;
  if (records.init(sources.engine.ring_capacity_total()) != 0 || scratch.make() != 0) {
    return -FORKSCOPE_ENOMEM;
  }
  ktl::size_t n = sources.engine.collect_records(records.data(), records.size());
  ktl::UniquePtr<BiasTable> bias;
  if (bias.make() != 0) return -FORKSCOPE_ENOMEM;
  sources.engine.bias(bias.get());
  return render_into(out, kStatsNetTextEstimate, [&](ktl::StringBuilder& b) {
    append_stats_net(b, records.data(), n, *bias, scratch.get());
  });
}

int render_slowest(const RenderSources& sources, forkscope_text* out) {
  const EngineConfig& config = sources.engine.config();
  ktl::Array<Record> records;
  if (records.init(static_cast<ktl::size_t>(config.top_n) * config.nr_cpus) != 0) {
    return -FORKSCOPE_ENOMEM;
  }
  ktl::size_t n = sources.engine.collect_slowest(records.data(), records.size());
  return render_into(out, 512 + n * (kTraceLineMax + kStageCount * 64),
                     [&](ktl::StringBuilder& b) { append_slowest(b, records.data(), n); });
}

int render_verdicts(const RenderSources& sources, forkscope_text* out) {
  EngineCounters counters = sources.engine.counters();
  ktl::Array<Record> records;
  if (records.init(sources.engine.mismatch_capacity_total()) != 0) return -FORKSCOPE_ENOMEM;
  ktl::size_t n = sources.engine.collect_mismatches(records.data(), records.size());
  return render_into(out, 1024 + n * (kTraceLineMax + 1024), [&](ktl::StringBuilder& b) {
    append_verdicts(b, counters, records.data(), n);
  });
}

int render_control(const RenderSources& sources, forkscope_text* out) {
  return render_into(out, 256, [&](ktl::StringBuilder& b) {
    b.append(sources.engine.enabled() ? "enabled" : "disabled");
    b.append(" sample ").append_u64(sources.engine.sample_every()).append_char('\n');
    b.append("# write: enable | disable | reset | sample N\n");
  });
}

int render_filter(const RenderSources& sources, forkscope_text* out) {
  return render_into(out, 256, [&](ktl::StringBuilder& b) {
    append_filter(b, sources.engine.filter());
    b.append_char('\n');
  });
}

struct FileRenderer {
  forkscope_file file;
  Renderer render;
};

constexpr FileRenderer kRenderers[] = {
    {FORKSCOPE_FILE_VERSION, render_version},
    {FORKSCOPE_FILE_COUNTERS, render_counters},
    {FORKSCOPE_FILE_STAGES, render_stages},
    {FORKSCOPE_FILE_STATS, render_statistics<append_stats>},
    {FORKSCOPE_FILE_HIST, render_statistics<append_histograms>},
    {FORKSCOPE_FILE_TRACE, render_records<RecordsAs::kTrace>},
    {FORKSCOPE_FILE_RECORDS, render_records<RecordsAs::kJson>},
    {FORKSCOPE_FILE_SLOWEST, render_slowest},
    {FORKSCOPE_FILE_CONTROL, render_control},
    {FORKSCOPE_FILE_FILTER, render_filter},
    {FORKSCOPE_FILE_VERDICTS, render_verdicts},
    {FORKSCOPE_FILE_SPAWNS, render_records<RecordsAs::kSpawns>},
    {FORKSCOPE_FILE_STATS_NET, render_stats_net},
};

}  // namespace

int render_file(forkscope_file file, const RenderSources& sources, forkscope_text* out) {
  for (const FileRenderer& renderer : kRenderers) {
    if (renderer.file == file) return renderer.render(sources, out);
  }
  return -FORKSCOPE_EINVAL;
}

}  // namespace forkscope
