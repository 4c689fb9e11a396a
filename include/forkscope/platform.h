/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one door between the C++ core and the kernel: every kernel service the
 * core uses is a function here, implemented by src/glue/platform.c in the
 * module and by tests/host/platform_host.cpp in the host test binary.
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

typedef unsigned long long fs_u64; /* the kernel's u64 */
typedef __UINT32_TYPE__ fs_u32;
typedef long long fs_s64;
typedef __SIZE_TYPE__ fs_size_t;

/* Errno values the core returns; equal to the kernel's (uapi/asm-generic/errno-base.h). */
enum fs_errno {
	FS_EPERM = 1,
	FS_ENOENT = 2,
	FS_EAGAIN = 11,
	FS_ENOMEM = 12,
	FS_EACCES = 13,
	FS_EBUSY = 16,
	FS_EINVAL = 22,
	FS_ENOSPC = 28,
	FS_ERANGE = 34,
};

/* printk levels, equal to the kernel's. */
enum fs_log_level {
	FS_LOG_ERR = 3,
	FS_LOG_WARNING = 4,
	FS_LOG_NOTICE = 5,
	FS_LOG_INFO = 6,
	FS_LOG_DEBUG = 7,
};

/*
 * Memory. May sleep. Returns NULL on failure (never panics); the result is
 * aligned to at least 16 bytes and may come from kmalloc or vmalloc.
 * fs_platform_free(NULL) does nothing.
 */
void *fs_platform_alloc(fs_size_t size);
void fs_platform_free(void *ptr);

/* Monotonic nanoseconds, one clock for all CPUs (ktime_get_mono_fast_ns). Any. */
fs_u64 fs_platform_now_ns(void);

/* Id of the CPU running the caller; stable only while preemption is off. Probe. */
unsigned int fs_platform_cpu(void);

/* One more than the highest possible CPU id (nr_cpu_ids). Any. */
unsigned int fs_platform_nr_cpu_ids(void);

/* One line to the kernel log, prefixed "forkscope: "; text needs no newline. Any. */
void fs_platform_log(enum fs_log_level level, const char *text);

/*
 * Something that must never happen did (a pure virtual call, a broken
 * invariant): WARN with a backtrace, once per call site in the kernel.
 * The core then latches itself into a faulted state. Any.
 */
void fs_platform_warn(const char *what);

/*
 * Waits until every probe handler that was running when it was called has
 * returned (synchronize_rcu: handlers run with preemption disabled).
 * May sleep.
 */
void fs_platform_synchronize_probes(void);

/*
 * Wakes trace_pipe readers (deferred through irq_work, so it takes no lock
 * in the caller's context). Probe.
 */
void fs_platform_notify_readers(void);

/*
 * Spin locks with interrupts saved and disabled, for state shared between
 * probe handlers and readers. The lock object is opaque to the core.
 * create: may sleep, returns NULL on failure. lock/unlock: any.
 */
struct fs_spinlock;
struct fs_spinlock *fs_platform_spinlock_create(void);
void fs_platform_spinlock_destroy(struct fs_spinlock *lock);
unsigned long fs_platform_spin_lock_irqsave(struct fs_spinlock *lock);
void fs_platform_spin_unlock_irqrestore(struct fs_spinlock *lock, unsigned long flags);

#ifdef __cplusplus
}
#endif

#endif /* FORKSCOPE_PLATFORM_H */
