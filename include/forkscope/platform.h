/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one door between the C++ core and the kernel: every kernel service the
 * core uses is a function here, implemented by the glue (src/glue/platform.c,
 * src/glue/debugfs.c for forkscope_platform_notify_readers, src/glue/calibrate.c
 * for forkscope_platform_calibrate) in the module
 * and by tests/host/platform_host.cpp in the host test binary.
 *
 * Contexts: "may sleep" = process context only, never from a probe handler;
 * "probe" = safe in kprobe/kretprobe handlers (preemption disabled, no
 * sleeping); "any" = also safe with interrupts disabled.
 * Functions that can fail return 0 or a negative errno.
 */
#ifndef FORKSCOPE_PLATFORM_H
#define FORKSCOPE_PLATFORM_H

#ifdef __cplusplus
extern "C" {
#endif

typedef unsigned long long forkscope_u64; /* the kernel's u64 */
typedef __UINT32_TYPE__ forkscope_u32;
typedef long long forkscope_s64;
typedef __SIZE_TYPE__ forkscope_size_t;

/*
 * Errno values the core returns or recognizes; equal to the kernel's
 * (asm-generic/errno-base.h, errno.h, linux/errno.h), checked by the glue.
 */
enum forkscope_errno {
	FORKSCOPE_EPERM = 1,
	FORKSCOPE_ENOENT = 2,
	FORKSCOPE_EINTR = 4,
	FORKSCOPE_E2BIG = 7,
	FORKSCOPE_ENOEXEC = 8,
	FORKSCOPE_EBADF = 9,
	FORKSCOPE_EAGAIN = 11,
	FORKSCOPE_ENOMEM = 12,
	FORKSCOPE_EACCES = 13,
	FORKSCOPE_EFAULT = 14,
	FORKSCOPE_EBUSY = 16,
	FORKSCOPE_EEXIST = 17,
	FORKSCOPE_ENOTDIR = 20,
	FORKSCOPE_EISDIR = 21,
	FORKSCOPE_EINVAL = 22,
	FORKSCOPE_EMFILE = 24,
	FORKSCOPE_ETXTBSY = 26,
	FORKSCOPE_ENOSPC = 28,
	FORKSCOPE_ERANGE = 34,
	FORKSCOPE_ENAMETOOLONG = 36,
	FORKSCOPE_ELOOP = 40,
	FORKSCOPE_EUSERS = 87,
	FORKSCOPE_EOPNOTSUPP = 95,
	FORKSCOPE_ERESTARTNOINTR = 513,
};

/* printk levels, equal to the kernel's. */
enum forkscope_log_level {
	FORKSCOPE_LOG_ERR = 3,
	FORKSCOPE_LOG_WARNING = 4,
	FORKSCOPE_LOG_NOTICE = 5,
	FORKSCOPE_LOG_INFO = 6,
	FORKSCOPE_LOG_DEBUG = 7,
};

/*
 * Memory. May sleep. Returns NULL on failure (never panics); the result is
 * aligned to at least 16 bytes and may come from kmalloc or vmalloc.
 * forkscope_platform_free(NULL) does nothing.
 */
void *forkscope_platform_alloc(forkscope_size_t size);
void forkscope_platform_free(void *ptr);
/* Bytes the allocator holds for ptr, a live forkscope_platform_alloc(size). */
forkscope_size_t forkscope_platform_footprint(const void *ptr, forkscope_size_t size);

/* Monotonic nanoseconds, one clock for all CPUs (ktime_get_mono_fast_ns). Any. */
forkscope_u64 forkscope_platform_now_ns(void);

/* Id of the CPU running the caller; stable only while preemption is off. Probe. */
unsigned int forkscope_platform_cpu(void);

/* One more than the highest possible CPU id (nr_cpu_ids). Any. */
unsigned int forkscope_platform_nr_cpu_ids(void);

/* One line to the kernel log, prefixed "forkscope: "; text needs no newline. Any. */
void forkscope_platform_log(enum forkscope_log_level level, const char *text);

/*
 * Something that must never happen did (a pure virtual call, a broken
 * invariant): WARN with a backtrace, once per call site in the kernel.
 * The core then latches itself into a faulted state. Any.
 */
void forkscope_platform_warn(const char *what);

/*
 * Wakes trace_pipe readers (deferred through irq_work, so it takes no lock
 * in the caller's context). Probe.
 */
void forkscope_platform_notify_readers(void);

/*
 * Measures every hook mechanism's cost afresh (src/glue/calibrate.c; the
 * debugfs file "calibration" shows it): 0 or a negative errno. May sleep:
 * control writes only.
 */
int forkscope_platform_calibrate(void);

/*
 * Raw spin locks (they never sleep, even on PREEMPT_RT) with interrupts
 * saved and disabled, for state shared between probe handlers and
 * writers. The lock object is opaque to the core.
 * create: may sleep, returns NULL on failure. lock/unlock: any.
 */
struct forkscope_spinlock;
struct forkscope_spinlock *forkscope_platform_spinlock_create(void);
void forkscope_platform_spinlock_destroy(struct forkscope_spinlock *lock);
unsigned long forkscope_platform_spin_lock_irqsave(struct forkscope_spinlock *lock);
void forkscope_platform_spin_unlock_irqrestore(struct forkscope_spinlock *lock, unsigned long flags);

/*
 * Trace events (forkscope:fork, forkscope:exec, forkscope:spawn): one per
 * published record, in plain data. Field names are the JSON keys of the
 * records file. stages_ns[i] is the duration of stage i of the stage map
 * (the row order of the stages file), 0 for stages that did not run.
 */
enum forkscope_event_type {
	FORKSCOPE_EVENT_FORK = 0,
	FORKSCOPE_EVENT_EXEC = 1,
	FORKSCOPE_EVENT_SPAWN = 2,
};

#define FORKSCOPE_EVENT_MAX_STAGES 64
#define FORKSCOPE_EVENT_COMM_LEN 16
#define FORKSCOPE_EVENT_FILENAME_LEN 64

struct forkscope_event_view {
	enum forkscope_event_type event;
	forkscope_u64 seq;
	const char *kind;		/* kind name, as in records */
	const char *verdict;		/* fork: match, mismatch, unchecked */
	forkscope_s64 ret;		/* fork: child pid or -errno; exec: 0 or -errno */
	int errno_value;		/* -ret when ret < 0, else 0 */
	int pid;			/* fork, spawn: parent_pid; exec: pid */
	int tgid;			/* fork, spawn: parent_tgid; exec: tgid */
	int child_pid;			/* fork, spawn */
	int exit_signal;		/* fork */
	forkscope_u64 flags_raw;	/* fork: clone flags */
	int exited;			/* spawn: ended by exit, not exec */
	char comm[FORKSCOPE_EVENT_COMM_LEN];	/* exec: old_comm */
	char new_comm[FORKSCOPE_EVENT_COMM_LEN];	/* exec */
	char filename[FORKSCOPE_EVENT_FILENAME_LEN];	/* exec, spawn */
	forkscope_u64 total_ns;
	forkscope_u64 copy_process_ns;	/* fork */
	forkscope_u64 wake_ns;		/* fork */
	forkscope_u64 vfork_wait_ns;	/* fork */
	forkscope_u64 fork_start_ns;	/* spawn */
	forkscope_u64 forked_ns;	/* spawn */
	forkscope_u64 exec_start_ns;	/* spawn */
	forkscope_u64 end_ns;		/* spawn */
	unsigned int nr_stages;		/* fork, exec: entries of stages_ns */
	forkscope_u64 stages_ns[FORKSCOPE_EVENT_MAX_STAGES];
};

/* Is any forkscope trace event enabled? A static-key test. Any. */
int forkscope_platform_events_enabled(void);

/* Emits the view as the trace event of its type (if that one is enabled). Probe. */
void forkscope_platform_emit(const struct forkscope_event_view *view);

#ifdef __cplusplus
}
#endif

#endif /* FORKSCOPE_PLATFORM_H */
