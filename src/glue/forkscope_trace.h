/* SPDX-License-Identifier: GPL-2.0 */
/*
 * forkscope's trace events (forkscope:fork, forkscope:exec, forkscope:spawn),
 * one per published record, with fields named like the JSON keys of the
 * records file; stages[i] is stage i of the stage map (row order of the
 * stages file). Created in events.c, the only file defining CREATE_TRACE_POINTS.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM forkscope

#if !defined(FORKSCOPE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define FORKSCOPE_TRACE_H

#include <linux/string.h>
#include <linux/tracepoint.h>

#include <forkscope/platform.h>

/*
 * Short strings are fixed arrays: hist triggers take them as keys. The
 * stages array is printed with its length field and a literal element
 * size: perf's and trace-cmd's parsers take neither sizeof() nor arithmetic
 * in a print format.
 */
#define FORKSCOPE_TRACE_NAME_LEN 16

TRACE_EVENT(fork,
	TP_PROTO(const struct forkscope_event_view *v),
	TP_ARGS(v),
	TP_STRUCT__entry(
		__field(u64, seq)
		__array(char, kind, FORKSCOPE_TRACE_NAME_LEN)
		__field(int, parent_pid)
		__field(int, parent_tgid)
		__array(char, comm, FORKSCOPE_EVENT_COMM_LEN)
		__field(int, child_pid)
		__field(s64, ret)
		__field(int, errno)
		__field(u64, flags_raw)
		__field(int, exit_signal)
		__array(char, verdict, FORKSCOPE_TRACE_NAME_LEN)
		__field(u64, total_ns)
		__field(u64, copy_process_ns)
		__field(u64, wake_ns)
		__field(u64, vfork_wait_ns)
		__field(u32, nr_stages)
		__dynamic_array(u64, stages, v->nr_stages)
	),
	TP_fast_assign(
		__entry->seq = v->seq;
		strscpy(__entry->kind, v->kind, FORKSCOPE_TRACE_NAME_LEN);
		__entry->parent_pid = v->pid;
		__entry->parent_tgid = v->tgid;
		memcpy(__entry->comm, v->comm, FORKSCOPE_EVENT_COMM_LEN);
		__entry->child_pid = v->child_pid;
		__entry->ret = v->ret;
		__entry->errno = v->errno_value;
		__entry->flags_raw = v->flags_raw;
		__entry->exit_signal = v->exit_signal;
		strscpy(__entry->verdict, v->verdict, FORKSCOPE_TRACE_NAME_LEN);
		__entry->total_ns = v->total_ns;
		__entry->copy_process_ns = v->copy_process_ns;
		__entry->wake_ns = v->wake_ns;
		__entry->vfork_wait_ns = v->vfork_wait_ns;
		__entry->nr_stages = v->nr_stages;
		memcpy(__get_dynamic_array(stages), v->stages_ns,
		       v->nr_stages * sizeof(u64));
	),
	TP_printk("seq=%llu kind=%s parent_pid=%d parent_tgid=%d comm=%s child_pid=%d ret=%lld errno=%d flags_raw=0x%llx exit_signal=%d verdict=%s total_ns=%llu copy_process_ns=%llu wake_ns=%llu vfork_wait_ns=%llu stages=%s",
		  __entry->seq, __entry->kind, __entry->parent_pid,
		  __entry->parent_tgid, __entry->comm, __entry->child_pid,
		  __entry->ret, __entry->errno, __entry->flags_raw,
		  __entry->exit_signal, __entry->verdict, __entry->total_ns,
		  __entry->copy_process_ns, __entry->wake_ns,
		  __entry->vfork_wait_ns,
		  __print_array(__get_dynamic_array(stages),
				__entry->nr_stages, 8))
);

TRACE_EVENT(exec,
	TP_PROTO(const struct forkscope_event_view *v),
	TP_ARGS(v),
	TP_STRUCT__entry(
		__field(u64, seq)
		__field(int, pid)
		__field(int, tgid)
		__array(char, old_comm, FORKSCOPE_EVENT_COMM_LEN)
		__array(char, new_comm, FORKSCOPE_EVENT_COMM_LEN)
		__array(char, filename, FORKSCOPE_EVENT_FILENAME_LEN)
		__field(s64, ret)
		__field(int, errno)
		__field(u64, total_ns)
		__field(u32, nr_stages)
		__dynamic_array(u64, stages, v->nr_stages)
	),
	TP_fast_assign(
		__entry->seq = v->seq;
		__entry->pid = v->pid;
		__entry->tgid = v->tgid;
		memcpy(__entry->old_comm, v->comm, FORKSCOPE_EVENT_COMM_LEN);
		memcpy(__entry->new_comm, v->new_comm, FORKSCOPE_EVENT_COMM_LEN);
		memcpy(__entry->filename, v->filename,
		       FORKSCOPE_EVENT_FILENAME_LEN);
		__entry->ret = v->ret;
		__entry->errno = v->errno_value;
		__entry->total_ns = v->total_ns;
		__entry->nr_stages = v->nr_stages;
		memcpy(__get_dynamic_array(stages), v->stages_ns,
		       v->nr_stages * sizeof(u64));
	),
	TP_printk("seq=%llu pid=%d tgid=%d old_comm=%s new_comm=%s filename=%s ret=%lld errno=%d total_ns=%llu stages=%s",
		  __entry->seq, __entry->pid, __entry->tgid, __entry->old_comm,
		  __entry->new_comm, __entry->filename, __entry->ret,
		  __entry->errno, __entry->total_ns,
		  __print_array(__get_dynamic_array(stages),
				__entry->nr_stages, 8))
);

TRACE_EVENT(spawn,
	TP_PROTO(const struct forkscope_event_view *v),
	TP_ARGS(v),
	TP_STRUCT__entry(
		__field(u64, seq)
		__array(char, kind, FORKSCOPE_TRACE_NAME_LEN)
		__field(int, parent_pid)
		__field(int, parent_tgid)
		__array(char, comm, FORKSCOPE_EVENT_COMM_LEN)
		__field(int, child_pid)
		__field(int, exited)
		__array(char, filename, FORKSCOPE_EVENT_FILENAME_LEN)
		__field(u64, fork_start_ns)
		__field(u64, forked_ns)
		__field(u64, exec_start_ns)
		__field(u64, end_ns)
		__field(u64, total_ns)
	),
	TP_fast_assign(
		__entry->seq = v->seq;
		strscpy(__entry->kind, v->kind, FORKSCOPE_TRACE_NAME_LEN);
		__entry->parent_pid = v->pid;
		__entry->parent_tgid = v->tgid;
		memcpy(__entry->comm, v->comm, FORKSCOPE_EVENT_COMM_LEN);
		__entry->child_pid = v->child_pid;
		__entry->exited = v->exited;
		memcpy(__entry->filename, v->filename,
		       FORKSCOPE_EVENT_FILENAME_LEN);
		__entry->fork_start_ns = v->fork_start_ns;
		__entry->forked_ns = v->forked_ns;
		__entry->exec_start_ns = v->exec_start_ns;
		__entry->end_ns = v->end_ns;
		__entry->total_ns = v->total_ns;
	),
	TP_printk("seq=%llu kind=%s parent_pid=%d parent_tgid=%d comm=%s child_pid=%d exited=%d filename=%s fork_start_ns=%llu forked_ns=%llu exec_start_ns=%llu end_ns=%llu total_ns=%llu",
		  __entry->seq, __entry->kind, __entry->parent_pid,
		  __entry->parent_tgid, __entry->comm, __entry->child_pid,
		  __entry->exited, __entry->filename, __entry->fork_start_ns,
		  __entry->forked_ns, __entry->exec_start_ns, __entry->end_ns,
		  __entry->total_ns)
);

#endif /* FORKSCOPE_TRACE_H */

/* As in samples/trace_events: this directory is on the include path. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#define TRACE_INCLUDE_FILE forkscope_trace
#include <trace/define_trace.h>
