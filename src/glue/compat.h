/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Architecture and kernel-version specifics of the glue, in one place: how
 * a probe handler learns which syscall started a creation, how an ftrace
 * callback reaches the registers, and what changed between the supported
 * series (6.1, 6.12).
 */
#ifndef FORKSCOPE_COMPAT_H
#define FORKSCOPE_COMPAT_H

#include <linux/ftrace.h>
#include <linux/kprobes.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/task_stack.h>
#include <asm/syscall.h>

#include <forkscope/core.h>

#ifdef CONFIG_X86_64
#include <asm/compat.h>
#define FORKSCOPE_NR_FORK 57
#define FORKSCOPE_NR_VFORK 58
#define FORKSCOPE_NR_CLONE 56
#define FORKSCOPE_NR_CLONE3 435
#define FORKSCOPE_NR32_FORK 2
#define FORKSCOPE_NR32_VFORK 190
#define FORKSCOPE_NR32_CLONE 120
#define FORKSCOPE_NR32_CLONE3 435
#else
#error "forkscope's syscall-origin table knows x86-64 only"
#endif

/*
 * Unseekable files need no shim: 6.12 removed no_llseek, but on 6.1 too a
 * NULL .llseek clears FMODE_LSEEK at open (do_dentry_open), and
 * stream_open() clears it as well, so lseek fails with -ESPIPE on both.
 * debugfs.c's trace_pipe therefore leaves .llseek unset.
 */

/* Which syscall the calling task is in (enum forkscope_origin). Probe context. */
static __always_inline int forkscope_current_origin(void)
{
	long nr;
	bool compat = false;

	if (current->flags & PF_KTHREAD)
		return FORKSCOPE_ORIGIN_KERNEL;
	nr = syscall_get_nr(current, task_pt_regs(current));
#ifdef CONFIG_IA32_EMULATION
	compat = in_ia32_syscall();
#endif
	if (compat) {
		switch (nr) {
		case FORKSCOPE_NR32_FORK: return FORKSCOPE_ORIGIN_FORK;
		case FORKSCOPE_NR32_VFORK: return FORKSCOPE_ORIGIN_VFORK;
		case FORKSCOPE_NR32_CLONE: return FORKSCOPE_ORIGIN_CLONE;
		case FORKSCOPE_NR32_CLONE3: return FORKSCOPE_ORIGIN_CLONE3;
		}
		return FORKSCOPE_ORIGIN_UNKNOWN;
	}
	switch (nr) {
	case FORKSCOPE_NR_FORK: return FORKSCOPE_ORIGIN_FORK;
	case FORKSCOPE_NR_VFORK: return FORKSCOPE_ORIGIN_VFORK;
	case FORKSCOPE_NR_CLONE: return FORKSCOPE_ORIGIN_CLONE;
	case FORKSCOPE_NR_CLONE3: return FORKSCOPE_ORIGIN_CLONE3;
	}
	return FORKSCOPE_ORIGIN_UNKNOWN;
}

/*
 * The argument registers an ftrace callback sees (DYNAMIC_FTRACE_WITH_ARGS):
 * struct ftrace_regs wraps pt_regs; from 6.8 it is opaque behind
 * arch_ftrace_regs(), whose arrival also brought ftrace_regs_size().
 */
#ifdef ftrace_regs_size
#define forkscope_ftrace_pt_regs(fregs) (&arch_ftrace_regs(fregs)->regs)
#else
#define forkscope_ftrace_pt_regs(fregs) (&(fregs)->regs)
#endif

/* The machine's RAM in bytes (the load budget's share is of this). */
static inline u64 forkscope_totalram_bytes(void)
{
	return (u64)totalram_pages() << PAGE_SHIFT;
}

/*
 * One kretprobe instance as the slab stores it: kzalloc'ed one by one
 * (6.1), so rounded up to its kmalloc cache.
 */
static inline u64 forkscope_kretprobe_instance_bytes(size_t data_size)
{
	return kmalloc_size_roundup(sizeof(struct kretprobe_instance) + data_size);
}

/*
 * Where OPTPROBES stands with a registered kprobe. An optimizable kprobe is
 * the child of an aggregate (an optimized_kprobe, found by its pre-handler,
 * kernel/kprobes.c's aggr_pre_handler); KPROBE_FLAG_OPTIMIZED is set when it
 * is queued, and the queue entry (op->list) is dropped once the jump is in
 * place. Lock-free reads of kprobes' own state: a hint for how long to wait,
 * never the verdict (the text is: a jmp rel32 or not).
 */
enum forkscope_opt_state {
	FORKSCOPE_OPT_UNKNOWN,	/* no aggr_pre_handler to tell */
	FORKSCOPE_OPT_NEVER,	/* not queued: stays an int3 */
	FORKSCOPE_OPT_QUEUED,	/* the optimizer has it still */
	FORKSCOPE_OPT_DONE,
};

static inline enum forkscope_opt_state forkscope_kprobe_opt_state(const struct kprobe *kp,
								  unsigned long aggr_pre_handler)
{
#ifdef CONFIG_OPTPROBES
	const struct list_head *node = READ_ONCE(kp->list.next);
	const struct optimized_kprobe *op;
	const struct kprobe *ap;
	unsigned int steps;

	if (!aggr_pre_handler)
		return FORKSCOPE_OPT_UNKNOWN;
	/* The aggregate's list head is among its children's ring (few). */
	for (steps = 0; node && node != &kp->list && steps < 8; steps++) {
		ap = container_of(node, struct kprobe, list);
		if ((unsigned long)READ_ONCE(ap->pre_handler) == aggr_pre_handler) {
			op = container_of(ap, struct optimized_kprobe, kp);
			if (!(READ_ONCE(ap->flags) & KPROBE_FLAG_OPTIMIZED))
				return FORKSCOPE_OPT_NEVER;
			return list_empty_careful(&op->list) ? FORKSCOPE_OPT_DONE :
							       FORKSCOPE_OPT_QUEUED;
		}
		node = READ_ONCE(node->next);
	}
	return FORKSCOPE_OPT_NEVER;	/* no aggregate: not optimizable */
#else
	return FORKSCOPE_OPT_NEVER;
#endif
}

#endif /* FORKSCOPE_COMPAT_H */
