// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel side of include/forkscope/platform.h: the only place the C++ core's
 * requests turn into kernel calls.
 */
#include <linux/bug.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>

#include <forkscope/platform.h>

#include "glue.h"

void *forkscope_platform_alloc(forkscope_size_t size)
{
	might_sleep();
	return kvmalloc(size, GFP_KERNEL);
}

void forkscope_platform_free(void *ptr)
{
	kvfree(ptr);
}

forkscope_u64 forkscope_platform_now_ns(void)
{
	return ktime_get_mono_fast_ns();
}
NOKPROBE_SYMBOL(forkscope_platform_now_ns);

unsigned int forkscope_platform_cpu(void)
{
	return raw_smp_processor_id();
}
NOKPROBE_SYMBOL(forkscope_platform_cpu);

unsigned int forkscope_platform_nr_cpu_ids(void)
{
	return nr_cpu_ids;
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

void forkscope_platform_synchronize_probes(void)
{
	synchronize_rcu();
}

struct forkscope_spinlock {
	spinlock_t lock;
};

struct forkscope_spinlock *forkscope_platform_spinlock_create(void)
{
	struct forkscope_spinlock *lock = kmalloc(sizeof(*lock), GFP_KERNEL);

	if (lock)
		spin_lock_init(&lock->lock);
	return lock;
}

void forkscope_platform_spinlock_destroy(struct forkscope_spinlock *lock)
{
	kfree(lock);
}

unsigned long forkscope_platform_spin_lock_irqsave(struct forkscope_spinlock *lock)
{
	unsigned long flags;

	spin_lock_irqsave(&lock->lock, flags);
	return flags;
}
NOKPROBE_SYMBOL(forkscope_platform_spin_lock_irqsave);

void forkscope_platform_spin_unlock_irqrestore(struct forkscope_spinlock *lock,
					unsigned long flags)
{
	spin_unlock_irqrestore(&lock->lock, flags);
}
NOKPROBE_SYMBOL(forkscope_platform_spin_unlock_irqrestore);
