// SPDX-License-Identifier: GPL-2.0
// Builds the trace-event view of a record: the same facts, under the same
// names, as its line in the records file (format.cpp).
#include "event_view.h"

#include <ktl/utility.h>

#include "creation.h"
#include "probe_context.h"
#include "verdict.h"

namespace forkscope {
namespace {

FORKSCOPE_PROBE_CONTEXT void copy_text(char* to, const char* from, ktl::size_t size) {
  ktl::size_t n = 0;
  while (n + 1 < size && from[n] != '\0') {
    to[n] = from[n];
    ++n;
  }
  for (; n < size; ++n) to[n] = '\0';
}

FORKSCOPE_PROBE_CONTEXT void copy_stages(const Partition& partition, forkscope_event_view* out) {
  out->nr_stages = static_cast<unsigned int>(kStageCount);
  for (ktl::size_t s = 0; s < kStageCount; ++s) {
    bool ran = (partition.ran_mask & (ktl::u64{1} << s)) != 0;
    out->stages_ns[s] = ran ? partition.stage_ns[s] : 0;
  }
}

}  // namespace

FORKSCOPE_PROBE_CONTEXT void build_event_view(const Record& record, const Partition& partition,
                                              forkscope_event_view* out) {
  out->seq = record.seq;
  out->pid = record.parent_pid;
  out->tgid = record.parent_tgid;
  out->ret = record.ret;
  out->errno_value = record.ret < 0 ? static_cast<int>(-record.ret) : 0;
  out->total_ns = partition.total_ns;
  out->verdict = verdict_name(record.verdict.kind);
  out->child_pid = 0;
  out->exit_signal = 0;
  out->flags_raw = 0;
  out->exited = 0;
  out->copy_process_ns = 0;
  out->wake_ns = 0;
  out->vfork_wait_ns = 0;
  out->fork_start_ns = 0;
  out->forked_ns = 0;
  out->exec_start_ns = 0;
  out->end_ns = 0;
  out->nr_stages = 0;
  copy_text(out->comm, record.comm, sizeof(out->comm));
  copy_text(out->new_comm, "", sizeof(out->new_comm));
  copy_text(out->filename, "", sizeof(out->filename));
  switch (record.event) {
    case EventType::kFork:
      out->event = FORKSCOPE_EVENT_FORK;
      out->kind = kind_name(record.kind);
      out->child_pid = record.succeeded() ? record.child_pid : 0;
      out->exit_signal = record.request.exit_signal;
      out->flags_raw = record.request.flags;
      out->copy_process_ns = partition.copy_process_ns;
      out->wake_ns = partition.stage_ns[static_cast<ktl::size_t>(Stage::kWakeUpNewTask)];
      out->vfork_wait_ns = partition.stage_ns[static_cast<ktl::size_t>(Stage::kVforkWait)];
      copy_stages(partition, out);
      return;
    case EventType::kExec:
      out->event = FORKSCOPE_EVENT_EXEC;
      out->kind = kind_name(Kind::kExec);
      if (record.ret == 0) copy_text(out->new_comm, record.exec.new_comm, sizeof(out->new_comm));
      copy_text(out->filename, record.exec.filename, sizeof(out->filename));
      copy_stages(partition, out);
      return;
    case EventType::kSpawn: {
      const SpawnFacts& spawn = record.spawn;
      out->event = FORKSCOPE_EVENT_SPAWN;
      out->kind = kind_name(spawn.fork_kind);
      out->child_pid = record.child_pid;
      out->exited = spawn.exited ? 1 : 0;
      out->fork_start_ns = spawn.fork_start_ns;
      out->forked_ns = spawn.forked_ns;
      out->exec_start_ns = spawn.exec_start_ns;
      out->end_ns = spawn.end_ns;
      out->total_ns = spawn.end_ns - spawn.fork_start_ns;
      copy_text(out->filename, record.exec.filename, sizeof(out->filename));
      return;
    }
  }
}

FORKSCOPE_PROBE_CONTEXT void emit_event(const Record& record, const Partition& partition) {
  forkscope_event_view view;
  build_event_view(record, partition, &view);
  forkscope_platform_emit(&view);
}

}  // namespace forkscope
