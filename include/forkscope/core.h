/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The core's C interface, called by the kernel glue: the anchor table, probe
 * events, control, and debugfs text. Implemented in C++ (src/core/core_api.cpp).
 */
#ifndef FORKSCOPE_CORE_H
#define FORKSCOPE_CORE_H

#include <forkscope/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The caller must look at the result (init, control and parse results). */
#define FORKSCOPE_MUST_CHECK __attribute__((warn_unused_result))

#define FORKSCOPE_VERSION "0.2.0"
#define FORKSCOPE_COMM_LEN 16
/*
 * A record's seq (its id, unique): (n << FORKSCOPE_SEQ_CPU_BITS) | cpu, the
 * n-th record the CPU that finished it finished. Readers order records by
 * end_ns, then cpu, then n: no global counter is written per creation.
 */
#define FORKSCOPE_SEQ_CPU_BITS 16
#define FORKSCOPE_ANCHOR_NAMES 3
/* Anchors in the core's table (src/core/stage_model.h Anchor::kCount). */
#define FORKSCOPE_ANCHOR_COUNT 38

/* What a probe handler does for an anchor (see src/core/stage_model.h). */
enum forkscope_anchor_role {
	FORKSCOPE_ROLE_CREATION_START = 0,	/* kernel_clone */
	FORKSCOPE_ROLE_COPY_PROCESS = 1,	/* copy_process */
	FORKSCOPE_ROLE_STEP = 2,		/* a step inside a creation or an exec */
	FORKSCOPE_ROLE_EXEC_START = 3,		/* do_execveat_common */
	FORKSCOPE_ROLE_EXEC_FILENAME = 4,	/* alloc_bprm: also names the file */
	FORKSCOPE_ROLE_EXIT = 5,		/* do_exit: entry only */
};

/* One kernel function forkscope probes; the table is the core's. */
struct forkscope_anchor_desc {
	const char *names[FORKSCOPE_ANCHOR_NAMES];	/* newest name first; NULL-terminated */
	int required;				/* refuse to load without it */
	enum forkscope_anchor_role role;
};

/* How a creation entered the kernel. */
enum forkscope_origin {
	FORKSCOPE_ORIGIN_UNKNOWN = 0,
	FORKSCOPE_ORIGIN_FORK = 1,
	FORKSCOPE_ORIGIN_VFORK = 2,
	FORKSCOPE_ORIGIN_CLONE = 3,
	FORKSCOPE_ORIGIN_CLONE3 = 4,
	FORKSCOPE_ORIGIN_KERNEL = 5,
};

/* Facts about the caller the verdict's refusal and sharing rules need. */
struct forkscope_caller_context {
	int unkillable;			/* current->signal->flags & SIGNAL_UNKILLABLE */
	int pid_ns_differs;		/* active pid ns != pid_ns_for_children */
	int time_ns_differs;		/* time_ns != time_ns_for_children */
	int cap_sys_admin;		/* CAP_SYS_ADMIN in the caller's user ns */
	int cap_sys_admin_init_ns;	/* ...and that user ns is the initial one */
	int unprivileged_userns;	/* kernel.unprivileged_userns_clone */
	int pidfd_is_parent_tid;	/* args->pidfd == args->parent_tid */
	int has_mm;			/* current->mm != NULL */
	int has_io_context;		/* current->io_context != NULL */
	int io_context_prio_valid;	/* ...with a valid ioprio */
	int group_leader_exit_signal;	/* current->group_leader->exit_signal */
};

/* Read by the glue at kernel_clone and copy_process entry. */
struct forkscope_creation_args {
	forkscope_u64 flags;		/* kernel_clone_args.flags */
	forkscope_u32 exit_signal;	/* kernel_clone_args.exit_signal */
	enum forkscope_origin origin;
	int kthread;		/* kernel_clone_args.kthread */
	int io_thread;		/* kernel_clone_args.io_thread */
	int has_fn;		/* kernel_clone_args.fn != NULL */
	int pid;		/* the calling task */
	int tgid;
	char comm[FORKSCOPE_COMM_LEN];
	struct forkscope_caller_context caller;
	const char *filename;	/* FORKSCOPE_ROLE_EXEC_FILENAME: the file's name */
};

/* Bits of forkscope_observation's masks, in the core's Resource order. */
enum forkscope_resource_bit {
	FORKSCOPE_RES_MM,
	FORKSCOPE_RES_FILES,
	FORKSCOPE_RES_FS,
	FORKSCOPE_RES_SIGHAND,
	FORKSCOPE_RES_SIGNAL,
	FORKSCOPE_RES_SYSVSEM,
	FORKSCOPE_RES_IO,
	FORKSCOPE_RES_NSPROXY,
	FORKSCOPE_RES_UTS,
	FORKSCOPE_RES_IPC,
	FORKSCOPE_RES_MNT,
	FORKSCOPE_RES_PID_FOR_CHILDREN,
	FORKSCOPE_RES_NET,
	FORKSCOPE_RES_CGROUP,
	FORKSCOPE_RES_TIME_FOR_CHILDREN,
	FORKSCOPE_RES_COUNT,
};

/* What copy_process did, read by the glue at its successful return. */
struct forkscope_observation {
	forkscope_u32 same_mask;		/* bit per resource: child's pointer == parent's */
	forkscope_u32 child_null_mask;		/* bit per resource: child's pointer is NULL */
	int same_thread_group;		/* child tgid == caller tgid */
	int parent_is_caller;		/* child real_parent == current */
	int parent_is_callers_parent;	/* child real_parent == current->real_parent */
	int exit_signal;		/* child exit_signal */
};

/* How a boundary is hooked (the probe plan's choice per anchor, cheapest first). */
enum forkscope_hook_kind {
	FORKSCOPE_HOOK_NONE = 0,	/* not hooked */
	FORKSCOPE_HOOK_TRACEPOINT = 1,	/* a kernel tracepoint */
	FORKSCOPE_HOOK_FTRACE = 2,	/* entry: an ftrace callback, no int3 */
	FORKSCOPE_HOOK_CALLSITE = 3,	/* return: a kprobe after each call to the anchor */
	FORKSCOPE_HOOK_KPROBE = 4,	/* entry: a kprobe */
	FORKSCOPE_HOOK_KRETPROBE = 5,	/* entry and return: a kretprobe */
	FORKSCOPE_HOOK_COUNT = 6,
};

/* Health of one anchor's hooks, as the glue sees it; indexed by anchor. */
struct forkscope_probe_health {
	const char *symbol;	/* resolved kernel symbol, NULL if absent */
	forkscope_u64 hits;		/* entries seen (all callers) */
	forkscope_u64 return_hits;	/* returns seen */
	forkscope_u64 foreign;		/* entries from callers outside the model, ignored */
	forkscope_u64 missed;		/* kprobe/kretprobe nmissed, ftrace recursion */
	enum forkscope_hook_kind entry;	/* how the entry is hooked */
	enum forkscope_hook_kind ret;	/* how the return is hooked */
	unsigned int sites;		/* call sites hooked for the return */
	unsigned int optimized;		/* ...of which OPTPROBES made a jump */
	int registered;		/* 1 if the hooks exist */
	int armed;		/* 1 if they fire now */
};
/* Build and environment facts shown in the version file. */
struct forkscope_build_info {
	const char *kernel_release;	/* utsname()->release of the running kernel */
	const char *built_for;		/* UTS_RELEASE the module was built against */
	const char *compiler;		/* CONFIG_CC_VERSION_TEXT */
	forkscope_u64 kretprobe_bytes;	/* the plan's kretprobe instances (maxactive x size) */
	forkscope_u64 plan_bytes;	/* the plan's own tables */
};

struct forkscope_core_config {
	unsigned int inflight_slots;	/* creations tracked at once; power of two */
	unsigned int ring_records;	/* records kept per CPU */
	unsigned int top_n;		/* size of the slowest list */
	unsigned int spawn_slots;	/* children awaiting their first exec; power of two */
	const char *kernel_release;	/* utsname()->release: chooses the kernel profile */
};

/* The anchor table. Any context. */
unsigned int forkscope_core_anchor_count(void);
void forkscope_core_anchor_describe(unsigned int anchor, struct forkscope_anchor_desc *out);
/* Bytes of per-instance data each kretprobe must carry (kretprobe.data_size). */
forkscope_size_t forkscope_core_probe_data_size(void);

/* Creates the core's state. May sleep. 0 or -errno (with a log line saying why). */
/* What a load with config allocates at most, and the bound it must stay under. */
struct forkscope_load_cost {
	forkscope_u64 engine_bytes;	/* the engine's tables and rings */
	forkscope_u64 reading_bytes;	/* the largest debugfs read's buffers, per reader */
	forkscope_u64 probe_bytes;	/* the glue's kretprobe instances, as given */
	forkscope_u64 total_bytes;
	forkscope_u64 limit_bytes;	/* min(256 MiB, 1/8 of RAM) */
	unsigned int nr_cpus;
	unsigned int fitting_ring;	/* largest ring_records in [ring_min, ring_max] that fits; 0: none */
};

/*
 * Before forkscope_core_init: 0 if the load fits the bound, else
 * -FORKSCOPE_EINVAL; out is filled either way. Pure arithmetic.
 */
FORKSCOPE_MUST_CHECK int forkscope_core_load_cost(const struct forkscope_core_config *config,
						  forkscope_u64 probe_bytes,
						  forkscope_u64 ram_bytes,
						  unsigned int ring_min, unsigned int ring_max,
						  struct forkscope_load_cost *out);

FORKSCOPE_MUST_CHECK int forkscope_core_init(const struct forkscope_core_config *config);
/* Frees everything; probes must already be unregistered. May sleep. */
void forkscope_core_exit(void);
/* Bit per anchor whose probe is registered (for the stage map). May sleep. */
void forkscope_core_set_available_anchors(forkscope_u64 mask);

/*
 * Probe context. task: the calling task (opaque); data: the kretprobe
 * instance's data; args: for creation-start and copy_process anchors, else
 * NULL. Returns 1 when the return probe is not needed for this call.
 */
int forkscope_core_on_entry(unsigned int anchor, const void *task, void *data,
		     const struct forkscope_creation_args *args, forkscope_u64 now);
/*
 * Probe context: the entry of a step or exit anchor seen without per-call
 * data (ftrace, a plain kprobe, a tracepoint): no return handler follows.
 */
void forkscope_core_on_step_entry(unsigned int anchor, const void *task, forkscope_u64 now);
/* What a return handler read. */
struct forkscope_return_facts {
	forkscope_s64 retval;		/* kernel_clone's pid_t; copy_process's -errno or 0; exec's result */
	int child_pid;		/* copy_process: the new task's pid */
	const void *child_task;	/* copy_process: the new task */
	const struct forkscope_observation *observation;	/* copy_process success, else NULL */
	const char *comm;	/* do_execveat_common: current->comm afterwards */
};

/* Probe context. */
void forkscope_core_on_return(unsigned int anchor, void *data,
		       const struct forkscope_return_facts *facts, forkscope_u64 now);
/* Probe context: a step anchor's kretprobe return (it reads no facts). */
void forkscope_core_on_step_return(unsigned int anchor, void *data, forkscope_u64 now);

/*
 * Probe context: the return of a call to `anchor` by `task`, seen at the
 * instruction after the call.
 */
void forkscope_core_on_site_return(unsigned int anchor, const void *task, forkscope_u64 now);
/*
 * Probe context: the task_newtask tracepoint, a successful copy_process.
 * Counts the creation once forkscope_core_set_creations_at_newtask(1) was
 * called, in the disabled bucket unless bucketed_at_return (a pending
 * kretprobe instance of the calling task for which
 * forkscope_core_buckets_at_return is true will bucket it).
 */
void forkscope_core_on_new_task(int bucketed_at_return);
/*
 * Probe context: the sched_process_exec tracepoint (a successful exec) with
 * no do_execveat_common instance pending: counted once
 * forkscope_core_set_execs_at_exec_tp(1) was called.
 */
void forkscope_core_on_unseen_exec(void);
/* Probe context: will the return of the instance with this data bucket its creation? */
int forkscope_core_buckets_at_return(unsigned int anchor, const void *data);
/* Creations counted at task_newtask (1) or copy_process's return (0). May sleep. */
void forkscope_core_set_creations_at_newtask(int on);
/* Execs the exec kretprobe does not see counted at sched_process_exec (1). May sleep. */
void forkscope_core_set_execs_at_exec_tp(int on);
/*
 * The span kretprobes (kernel_clone, copy_process, do_execveat_common) are
 * being disarmed (1) or are all armed again (0): failures go uncounted
 * meanwhile, which the counters show (failures_paused...). Process context.
 */
void forkscope_core_set_failures_paused(int paused);
/* Bit per anchor whose hooks should be armed now (none or the spans when disabled). Any. */
forkscope_u64 forkscope_core_wanted_anchors(void);

/*
 * The probe effect of one hook crossing (an anchor's entry or its return),
 * from the calibration: medians and interquartile ranges, ns. pre: hook
 * start to its timestamp (inside the interval the crossing closes); post:
 * timestamp to hook end (inside the interval it opens). 0 where the hook is
 * absent or its mechanism was not calibrated; a negative median (noise) is
 * taken as 0.
 */
struct forkscope_crossing_bias {
	forkscope_s64 pre_ns;
	forkscope_s64 post_ns;
	forkscope_s64 pre_spread_ns;
	forkscope_s64 post_spread_ns;
};

/*
 * Every boundary's bias, indexed by anchor: a fork boundary (the core's
 * Boundary) and an exec event are both an anchor's entry or return.
 */
struct forkscope_boundary_bias {
	struct forkscope_crossing_bias entry[FORKSCOPE_ANCHOR_COUNT];
	struct forkscope_crossing_bias ret[FORKSCOPE_ANCHOR_COUNT];
};

/*
 * After every calibration (load, "calibrate" written to control): the
 * table stats_net and the records' bias are computed from when read (probe
 * handlers never read it). size: sizeof(*bias). May sleep. 0, or
 * -FORKSCOPE_EINVAL (no core, a size or a value out of range) or
 * -FORKSCOPE_ENOMEM; on an error the table stays as it was.
 */
FORKSCOPE_MUST_CHECK int forkscope_core_set_boundary_bias(const struct forkscope_boundary_bias *bias,
							  forkscope_size_t size);

/*
 * Calibration only (calibrate.c; process context, one at a time): a fork
 * record of task's own in an in-flight slot, so the calibration's hooks run
 * the real handlers' path (find the slot, mark a boundary) on one of the
 * core's fork step anchors. Never finished, published or counted.
 * begin: the anchor to hook (>= 0), or -FORKSCOPE_EINVAL (no core),
 * -FORKSCOPE_EBUSY (task is in a creation) or -FORKSCOPE_ENOMEM (no free
 * slot). rearm, before each sample: the anchor's boundaries not crossed (a
 * crossing then takes the first-crossing path), or its entry crossed only
 * (entered: a return alone is paired). stamps: the timestamps the handlers
 * gave the anchor's entry and return since the rearm, 0 where not crossed.
 * end: frees the slot.
 */
int forkscope_core_calib_begin(const void *task);
void forkscope_core_calib_rearm(const void *task, int entered);
void forkscope_core_calib_stamps(const void *task, forkscope_u64 *entry, forkscope_u64 *ret);
void forkscope_core_calib_end(const void *task);

/* The text of one debugfs file. */
enum forkscope_file {
	FORKSCOPE_FILE_VERSION,
	FORKSCOPE_FILE_COUNTERS,
	FORKSCOPE_FILE_STAGES,
	FORKSCOPE_FILE_STATS,
	FORKSCOPE_FILE_HIST,
	FORKSCOPE_FILE_TRACE,
	FORKSCOPE_FILE_RECORDS,
	FORKSCOPE_FILE_SLOWEST,
	FORKSCOPE_FILE_CONTROL,
	FORKSCOPE_FILE_FILTER,
	FORKSCOPE_FILE_VERDICTS,
	FORKSCOPE_FILE_SPAWNS,
	FORKSCOPE_FILE_STATS_NET,
};

struct forkscope_text {
	char *data;
	forkscope_size_t length;
};

/*
 * Renders a file into memory the core allocates (free with forkscope_core_text_free).
 * probes: indexed by anchor, nr_probes = forkscope_core_anchor_count(). May sleep.
 */
FORKSCOPE_MUST_CHECK int forkscope_core_render(enum forkscope_file file,
						const struct forkscope_build_info *info,
						const struct forkscope_probe_health *probes,
						unsigned int nr_probes, struct forkscope_text *out);
void forkscope_core_text_free(struct forkscope_text *text);

/*
 * Applies a control or filter write; 0, or -FORKSCOPE_EINVAL with *why saying what
 * was wrong (state unchanged). Callers serialize writes. May sleep.
 */
FORKSCOPE_MUST_CHECK int forkscope_core_control(const char *input, forkscope_size_t length,
					   const char **why);
FORKSCOPE_MUST_CHECK int forkscope_core_set_filter(const char *input, forkscope_size_t length,
					      const char **why);

/*
 * trace_pipe: formats whole trace lines of unread records into buf, oldest
 * first; returns bytes (0 if none is waiting). Callers serialize. May sleep.
 */
forkscope_s64 forkscope_core_consume(char *buf, forkscope_size_t size);
int forkscope_core_has_unconsumed(void);
void forkscope_core_set_reader_waiting(int waiting);

#ifdef __cplusplus
}
#endif

#endif /* FORKSCOPE_CORE_H */
