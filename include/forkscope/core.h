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

#define FS_VERSION "0.2.0"
#define FS_COMM_LEN 16
#define FS_ANCHOR_NAMES 3

/* What a probe handler does for an anchor (see src/core/stage_model.h). */
enum fs_anchor_role {
	FS_ROLE_CREATION_START = 0,	/* kernel_clone */
	FS_ROLE_COPY_PROCESS = 1,	/* copy_process */
	FS_ROLE_STEP = 2,		/* a step inside a creation or an exec */
	FS_ROLE_EXEC_START = 3,		/* do_execveat_common */
	FS_ROLE_EXEC_FILENAME = 4,	/* alloc_bprm: also names the file */
	FS_ROLE_EXIT = 5,		/* do_exit: entry only */
};

/* One kernel function forkscope probes; the table is the core's. */
struct fs_anchor_desc {
	const char *names[FS_ANCHOR_NAMES];	/* newest name first; NULL-terminated */
	int required;				/* refuse to load without it */
	int role;				/* enum fs_anchor_role */
};

/* How a creation entered the kernel. */
enum fs_origin {
	FS_ORIGIN_UNKNOWN = 0,
	FS_ORIGIN_FORK = 1,
	FS_ORIGIN_VFORK = 2,
	FS_ORIGIN_CLONE = 3,
	FS_ORIGIN_CLONE3 = 4,
	FS_ORIGIN_KERNEL = 5,
};

/* Facts about the caller the verdict's refusal and sharing rules need. */
struct fs_caller_context {
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
struct fs_creation_args {
	fs_u64 flags;		/* kernel_clone_args.flags */
	fs_u32 exit_signal;	/* kernel_clone_args.exit_signal */
	int origin;		/* enum fs_origin */
	int kthread;		/* kernel_clone_args.kthread */
	int io_thread;		/* kernel_clone_args.io_thread */
	int has_fn;		/* kernel_clone_args.fn != NULL */
	int pid;		/* the calling task */
	int tgid;
	char comm[FS_COMM_LEN];
	struct fs_caller_context caller;
	const char *filename;	/* FS_ROLE_EXEC_FILENAME: the file's name */
};

/*
 * What copy_process did, read by the glue at its successful return: bit
 * per resource (the core's Resource order: mm, files, fs, sighand, signal,
 * sysvsem, io, nsproxy, uts, ipc, mnt, pid_for_children, net, cgroup,
 * time_for_children).
 */
struct fs_observation {
	fs_u32 same_mask;		/* child's pointer == parent's */
	fs_u32 child_null_mask;		/* child's pointer is NULL */
	int same_thread_group;		/* child tgid == caller tgid */
	int parent_is_caller;		/* child real_parent == current */
	int parent_is_callers_parent;	/* child real_parent == current->real_parent */
	int exit_signal;		/* child exit_signal */
};

/* Health of one kernel probe, as the glue sees it; indexed by anchor. */
struct fs_probe_health {
	const char *symbol;	/* resolved kernel symbol, NULL if absent */
	fs_u64 hits;		/* entry handler invocations */
	fs_u64 missed;		/* kretprobe nmissed */
	int registered;		/* 1 if armed */
};

/* Build and environment facts shown in the version file. */
struct fs_build_info {
	const char *kernel_release;	/* utsname()->release of the running kernel */
	const char *built_for;		/* UTS_RELEASE the module was built against */
	const char *compiler;		/* CONFIG_CC_VERSION_TEXT */
};

struct fs_core_config {
	unsigned int inflight_slots;	/* creations tracked at once; power of two */
	unsigned int ring_records;	/* records kept per CPU */
	unsigned int top_n;		/* size of the slowest list */
	unsigned int spawn_slots;	/* children awaiting their first exec; power of two */
};

/* The anchor table. Any context. */
unsigned int fs_core_anchor_count(void);
void fs_core_anchor_describe(unsigned int anchor, struct fs_anchor_desc *out);
/* Bytes of per-instance data each kretprobe must carry (kretprobe.data_size). */
fs_size_t fs_core_probe_data_size(void);

/* Creates the core's state. May sleep. 0 or -errno (with a log line saying why). */
int fs_core_init(const struct fs_core_config *config);
/* Frees everything; probes must already be unregistered. May sleep. */
void fs_core_exit(void);
/* Bit per anchor whose probe is registered (for the stage map). May sleep. */
void fs_core_set_available_anchors(fs_u64 mask);

/*
 * Probe context. task: the calling task (opaque); data: the kretprobe
 * instance's data; args: for creation-start and copy_process anchors, else
 * NULL. Returns 1 when the return probe is not needed for this call.
 */
int fs_core_on_entry(unsigned int anchor, const void *task, void *data,
		     const struct fs_creation_args *args, fs_u64 now);
/* What a return handler read. */
struct fs_return_facts {
	fs_s64 retval;		/* kernel_clone's pid_t; copy_process's -errno or 0; exec's result */
	int child_pid;		/* copy_process: the new task's pid */
	const void *child_task;	/* copy_process: the new task */
	const struct fs_observation *observation;	/* copy_process success, else NULL */
	const char *comm;	/* do_execveat_common: current->comm afterwards */
};

/* Probe context. */
void fs_core_on_return(unsigned int anchor, void *data,
		       const struct fs_return_facts *facts, fs_u64 now);

/* The text of one debugfs file. */
enum fs_file {
	FS_FILE_VERSION,
	FS_FILE_COUNTERS,
	FS_FILE_STAGES,
	FS_FILE_STATS,
	FS_FILE_HIST,
	FS_FILE_TRACE,
	FS_FILE_RECORDS,
	FS_FILE_SLOWEST,
	FS_FILE_CONTROL,
	FS_FILE_FILTER,
	FS_FILE_VERDICTS,
	FS_FILE_SPAWNS,
};

struct fs_text {
	char *data;
	fs_size_t length;
};

/*
 * Renders a file into memory the core allocates (free with fs_core_text_free).
 * probes: indexed by anchor, nr_probes = fs_core_anchor_count(). May sleep.
 */
int fs_core_render(enum fs_file file, const struct fs_build_info *info,
		   const struct fs_probe_health *probes, unsigned int nr_probes,
		   struct fs_text *out);
void fs_core_text_free(struct fs_text *text);

/*
 * Applies a control or filter write; 0, or -FS_EINVAL with *why saying what
 * was wrong (state unchanged). Callers serialize writes. May sleep.
 */
int fs_core_control(const char *input, fs_size_t length, const char **why);
int fs_core_set_filter(const char *input, fs_size_t length, const char **why);

/*
 * trace_pipe: formats whole trace lines of unread records into buf, oldest
 * first; returns bytes (0 if none is waiting). Callers serialize. May sleep.
 */
fs_s64 fs_core_consume(char *buf, fs_size_t size);
int fs_core_has_unconsumed(void);
void fs_core_set_reader_waiting(int waiting);

#ifdef __cplusplus
}
#endif

#endif /* FORKSCOPE_CORE_H */
