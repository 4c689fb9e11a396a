// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel side of include/forkscope/platform.h: the only place the C++ core's
 * requests turn into kernel calls.
 */
#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/kern_levels.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include <forkscope/platform.h>

#include "glue.h"

/*
 * Beyond a page, vmalloc: kvmalloc's first try, kmalloc, rounds a large
 * block up to a power of two (a 1.2 MiB ring held 2 MiB of slab).
 */
void *forkscope_platform_alloc(forkscope_size_t size)
{
	might_sleep();
	if (size > PAGE_SIZE)
		return vmalloc(size);
	return kmalloc(size, GFP_KERNEL);
}

void forkscope_platform_free(void *ptr)
{
	kvfree(ptr);
}

forkscope_size_t forkscope_platform_footprint(const void *ptr, forkscope_size_t size)
{
	return is_vmalloc_addr(ptr) ? PAGE_ALIGN(size) : kmalloc_size_roundup(size);
}

forkscope_u64 forkscope_platform_now_ns(void)
{
	return ktime_get_mono_fast_ns();
}
NOKPROBE_SYMBOL(forkscope_platform_now_ns);

/* smp_processor_id(): CONFIG_DEBUG_PREEMPT checks that preemption is off. */
unsigned int forkscope_platform_cpu(void)
{
	return smp_processor_id();
}
NOKPROBE_SYMBOL(forkscope_platform_cpu);

unsigned int forkscope_platform_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

/* The contract's constants are the kernel's. */
static void __maybe_unused forkscope_platform_check_constants(void)
{
	BUILD_BUG_ON(FORKSCOPE_EPERM != EPERM);
	BUILD_BUG_ON(FORKSCOPE_ENOENT != ENOENT);
	BUILD_BUG_ON(FORKSCOPE_EINTR != EINTR);
	BUILD_BUG_ON(FORKSCOPE_E2BIG != E2BIG);
	BUILD_BUG_ON(FORKSCOPE_ENOEXEC != ENOEXEC);
	BUILD_BUG_ON(FORKSCOPE_EBADF != EBADF);
	BUILD_BUG_ON(FORKSCOPE_EAGAIN != EAGAIN);
	BUILD_BUG_ON(FORKSCOPE_ENOMEM != ENOMEM);
	BUILD_BUG_ON(FORKSCOPE_EACCES != EACCES);
	BUILD_BUG_ON(FORKSCOPE_EFAULT != EFAULT);
	BUILD_BUG_ON(FORKSCOPE_EBUSY != EBUSY);
	BUILD_BUG_ON(FORKSCOPE_EEXIST != EEXIST);
	BUILD_BUG_ON(FORKSCOPE_ENOTDIR != ENOTDIR);
	BUILD_BUG_ON(FORKSCOPE_EISDIR != EISDIR);
	BUILD_BUG_ON(FORKSCOPE_EINVAL != EINVAL);
	BUILD_BUG_ON(FORKSCOPE_EMFILE != EMFILE);
	BUILD_BUG_ON(FORKSCOPE_ETXTBSY != ETXTBSY);
	BUILD_BUG_ON(FORKSCOPE_ENOSPC != ENOSPC);
	BUILD_BUG_ON(FORKSCOPE_ERANGE != ERANGE);
	BUILD_BUG_ON(FORKSCOPE_ENAMETOOLONG != ENAMETOOLONG);
	BUILD_BUG_ON(FORKSCOPE_ELOOP != ELOOP);
	BUILD_BUG_ON(FORKSCOPE_EUSERS != EUSERS);
	BUILD_BUG_ON(FORKSCOPE_EOPNOTSUPP != EOPNOTSUPP);
	BUILD_BUG_ON(FORKSCOPE_ERESTARTNOINTR != ERESTARTNOINTR);
	BUILD_BUG_ON(FORKSCOPE_LOG_ERR != LOGLEVEL_ERR);
	BUILD_BUG_ON(FORKSCOPE_LOG_WARNING != LOGLEVEL_WARNING);
	BUILD_BUG_ON(FORKSCOPE_LOG_NOTICE != LOGLEVEL_NOTICE);
	BUILD_BUG_ON(FORKSCOPE_LOG_INFO != LOGLEVEL_INFO);
	BUILD_BUG_ON(FORKSCOPE_LOG_DEBUG != LOGLEVEL_DEBUG);
}

void forkscope_platform_log(enum forkscope_log_level level, const char *text)
{
	switch (level) {
	case FORKSCOPE_LOG_ERR:
		pr_err("%s\n", text);
		break;
	case FORKSCOPE_LOG_WARNING:
		pr_warn("%s\n", text);
		break;
	case FORKSCOPE_LOG_NOTICE:
		pr_notice("%s\n", text);
		break;
	case FORKSCOPE_LOG_INFO:
		pr_info("%s\n", text);
		break;
	default:
		pr_debug("%s\n", text);
		break;
	}
}

void forkscope_platform_warn(const char *what)
{
	WARN(1, KBUILD_MODNAME ": %s\n", what);
}

/* Raw: probe handlers take it, and on PREEMPT_RT a spinlock_t sleeps. */
struct forkscope_spinlock {
	raw_spinlock_t lock;
};

struct forkscope_spinlock *forkscope_platform_spinlock_create(void)
{
	struct forkscope_spinlock *lock = kmalloc(sizeof(*lock), GFP_KERNEL);

	if (lock)
		raw_spin_lock_init(&lock->lock);
	return lock;
}

void forkscope_platform_spinlock_destroy(struct forkscope_spinlock *lock)
{
	kfree(lock);
}

unsigned long forkscope_platform_spin_lock_irqsave(struct forkscope_spinlock *lock)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&lock->lock, flags);
	return flags;
}
NOKPROBE_SYMBOL(forkscope_platform_spin_lock_irqsave);

void forkscope_platform_spin_unlock_irqrestore(struct forkscope_spinlock *lock,
					unsigned long flags)
{
	raw_spin_unlock_irqrestore(&lock->lock, flags);
}
NOKPROBE_SYMBOL(forkscope_platform_spin_unlock_irqrestore);
