// SPDX-License-Identifier: GPL-2.0
/*
 * The probe plan: for every anchor of the core's table, the cheapest hook
 * the running kernel offers, armed only for the anchors the core wants.
 * Entries: one shared ftrace_ops (no int3, no rethook). Returns: a kprobe on
 * the instruction after each call to the anchor in the modelled callers
 * (call sites), which OPTPROBES can turn into a jump. kretprobes only where
 * neither works (the creation and exec spans, indirect calls). Creations
 * are counted at the task_newtask tracepoint, and successful execs the
 * exec kretprobe does not see at sched_process_exec: while disabled no
 * kprobe is armed, only tracepoints. Exits come from the sched_process_exit
 * tracepoint. Nothing here sleeps, allocates or locks in a handler.
 */
#include <linux/binfmts.h>
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/fdtable.h>
#include <linux/fs_struct.h>
#include <linux/ftrace.h>
#include <linux/hash.h>
#include <linux/iocontext.h>
#include <linux/ioprio.h>
#include <linux/ipc_namespace.h>
#include <linux/kallsyms.h>
#include <linux/delay.h>
#include <linux/kprobes.h>
#include <linux/mutex.h>
#include <linux/nsproxy.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/time_namespace.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/trace_recursion.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include <forkscope/core.h>

#include "compat.h"
#include "glue.h"

/* Call sites hooked per anchor; more, and its return falls back to a kretprobe. */
#define FORKSCOPE_MAX_SITES 8
/* Bytes of one caller's text scanned for calls (copy_process is ~7 KiB). */
#define FORKSCOPE_MAX_SCAN (64 * 1024)
/* An endbr64 (or the NOP that seals one): ftrace's call site may sit past it. */
#define FORKSCOPE_ENDBR_SIZE 4

struct forkscope_hook_stats {
	unsigned long hits;
	unsigned long returns;
	unsigned long foreign;
	unsigned long missed;
};

struct forkscope_site {
	struct kprobe kp;
	unsigned int anchor;
};

struct forkscope_hook {
	unsigned int anchor;
	enum forkscope_anchor_role role;
	unsigned long addr;
	enum forkscope_hook_kind entry, ret;
	struct kretprobe rp;		/* entry == ret == KRETPROBE */
	struct kprobe entry_kp;		/* entry == KPROBE */
	struct forkscope_site sites[FORKSCOPE_MAX_SITES];
	unsigned long site_addr[FORKSCOPE_MAX_SITES];	/* return addresses: the sites */
	unsigned int nr_sites;
	bool too_many_sites;		/* more calls than FORKSCOPE_MAX_SITES */
	bool entry_has_endbr;		/* calls may target addr + FORKSCOPE_ENDBR_SIZE */
	bool required;
	bool in_filter;			/* in the ftrace filter */
	bool int3_site;			/* a site OPTPROBES left an int3 */
	bool registered, armed;
	struct forkscope_hook_stats __percpu *stats;
};

/* Entry addresses of the ftrace-hooked anchors, sorted, for the callback. */
struct forkscope_ftrace_entry {
	unsigned long addr;
	struct forkscope_hook *hook;
};

static struct forkscope_hook *forkscope_hooks;
static unsigned int forkscope_nr_hooks;
static struct forkscope_ftrace_entry *forkscope_ftrace_index;
static unsigned int forkscope_nr_ftrace;
/*
 * The same entries by exact ftrace ip (the function's address, or past its
 * endbr), open addressing. The seed is chosen at build so that every entry,
 * the calibration target's too, sits in its home slot: each lookup then costs
 * the same, so the target's calibrated entry cost is every anchor's (with
 * KASLR a fixed hash put some anchors one or more probes further, a bias no
 * calibration saw).
 */
#define FORKSCOPE_FTRACE_HASH_BITS 9
#define FORKSCOPE_FTRACE_HASH (1U << FORKSCOPE_FTRACE_HASH_BITS)
#define FORKSCOPE_FTRACE_SEEDS 4096
static struct forkscope_ftrace_entry forkscope_ftrace_hash[FORKSCOPE_FTRACE_HASH];
static u64 forkscope_ftrace_seed;
static bool forkscope_ftrace_registered;
static bool forkscope_floor;
static bool forkscope_settling;	/* sites armed alone to see which OPTPROBES optimizes */
static struct tracepoint *forkscope_tp_exit;
static bool forkscope_exit_registered;
static struct tracepoint *forkscope_tp_newtask;
static bool forkscope_newtask_registered;
static struct tracepoint *forkscope_tp_exec;
static bool forkscope_exec_registered;
/* The span kretprobes, whose pending instances the tracepoints look for. */
static struct forkscope_hook *forkscope_clone_hook, *forkscope_copy_hook, *forkscope_execve_hook;
static struct forkscope_hook *forkscope_exit_hook;
/* Serializes arming: control writers and the delayed disarm. */
static DEFINE_MUTEX(forkscope_plan_lock);
/*
 * Disarming waits this long, so a disable soon undone by an enable patches
 * no text (a disabled engine records nothing meanwhile: it only costs time).
 */
#define FORKSCOPE_DISARM_DELAY (HZ / 10)

/* What the verdict's rules need to know about the calling task. */
static void forkscope_read_caller(struct forkscope_caller_context *out,
			   const struct kernel_clone_args *args)
{
	struct nsproxy *ns = current->nsproxy;
	struct io_context *ioc = current->io_context;
	const int *userns_clone = forkscope_unprivileged_userns_clone();

	out->unkillable = !!(current->signal->flags & SIGNAL_UNKILLABLE);
	out->pid_ns_differs = ns && task_active_pid_ns(current) != ns->pid_ns_for_children;
#ifdef CONFIG_TIME_NS
	out->time_ns_differs = ns && ns->time_ns != ns->time_ns_for_children;
#else
	out->time_ns_differs = 0;
#endif
	/*
	 * The effective set, without asking LSMs (not safe in a probe):
	 * ns_capable() in the caller's user ns, and capable() when that is
	 * the initial one.
	 */
	out->cap_sys_admin = cap_raised(current_cred()->cap_effective, CAP_SYS_ADMIN);
	out->cap_sys_admin_init_ns = out->cap_sys_admin &&
				     current_user_ns() == &init_user_ns;
	out->unprivileged_userns = userns_clone ? READ_ONCE(*userns_clone) : 1;
	out->pidfd_is_parent_tid = args->pidfd == args->parent_tid;
	out->has_mm = current->mm != NULL;
	out->has_io_context = ioc != NULL;
	out->io_context_prio_valid = ioc && ioprio_valid(ioc->ioprio);
	out->group_leader_exit_signal = current->group_leader->exit_signal;
}
NOKPROBE_SYMBOL(forkscope_read_caller);

static __always_inline void forkscope_compare(struct forkscope_observation *out, int bit,
				       const void *child, const void *parent)
{
	if (child == parent)
		out->same_mask |= 1U << bit;
	if (!child)
		out->child_null_mask |= 1U << bit;
}

/*
 * The new task p, at copy_process's return: not yet woken, so its fields
 * are still the ones copy_process set. The real_parent pointers are only
 * compared, never followed: rcu_access_pointer, no read-side section needed.
 */
static void forkscope_observe(struct forkscope_observation *out, struct task_struct *p)
{
	struct nsproxy *cns = p->nsproxy, *pns = current->nsproxy;
	struct task_struct *parent = rcu_access_pointer(p->real_parent);

	memset(out, 0, sizeof(*out));
	forkscope_compare(out, FORKSCOPE_RES_MM, p->mm, current->mm);
	forkscope_compare(out, FORKSCOPE_RES_FILES, p->files, current->files);
	forkscope_compare(out, FORKSCOPE_RES_FS, p->fs, current->fs);
	forkscope_compare(out, FORKSCOPE_RES_SIGHAND, p->sighand, current->sighand);
	forkscope_compare(out, FORKSCOPE_RES_SIGNAL, p->signal, current->signal);
#ifdef CONFIG_SYSVIPC
	forkscope_compare(out, FORKSCOPE_RES_SYSVSEM, p->sysvsem.undo_list,
		   current->sysvsem.undo_list);
#else
	forkscope_compare(out, FORKSCOPE_RES_SYSVSEM, NULL, NULL);
#endif
	forkscope_compare(out, FORKSCOPE_RES_IO, p->io_context, current->io_context);
	forkscope_compare(out, FORKSCOPE_RES_NSPROXY, cns, pns);
	if (cns && pns) {
		forkscope_compare(out, FORKSCOPE_RES_UTS, cns->uts_ns, pns->uts_ns);
		forkscope_compare(out, FORKSCOPE_RES_IPC, cns->ipc_ns, pns->ipc_ns);
		forkscope_compare(out, FORKSCOPE_RES_MNT, cns->mnt_ns, pns->mnt_ns);
		forkscope_compare(out, FORKSCOPE_RES_PID_FOR_CHILDREN, cns->pid_ns_for_children,
			   pns->pid_ns_for_children);
		forkscope_compare(out, FORKSCOPE_RES_NET, cns->net_ns, pns->net_ns);
		forkscope_compare(out, FORKSCOPE_RES_CGROUP, cns->cgroup_ns, pns->cgroup_ns);
#ifdef CONFIG_TIME_NS
		forkscope_compare(out, FORKSCOPE_RES_TIME_FOR_CHILDREN,
			   cns->time_ns_for_children, pns->time_ns_for_children);
#else
		forkscope_compare(out, FORKSCOPE_RES_TIME_FOR_CHILDREN, NULL, NULL);
#endif
	}
	out->same_thread_group = p->tgid == current->tgid;
	out->parent_is_caller = parent == current;
	out->parent_is_callers_parent = parent == rcu_access_pointer(current->real_parent);
	out->exit_signal = p->exit_signal;
}
NOKPROBE_SYMBOL(forkscope_observe);

/* kernel_clone_args of kernel_clone (1st argument) or copy_process (4th). */
static void forkscope_read_creation_args(struct forkscope_creation_args *out,
				  const struct kernel_clone_args *args)
{
	out->flags = args->flags;
	out->exit_signal = args->exit_signal;
	out->kthread = args->kthread;
	out->io_thread = args->io_thread;
	out->has_fn = args->fn != NULL;
	out->origin = forkscope_current_origin();
	out->pid = current->pid;
	out->tgid = current->tgid;
	/* As tracers do: a racy copy of comm, always NUL-terminated. */
	memcpy(out->comm, current->comm, FORKSCOPE_COMM_LEN);
	out->comm[FORKSCOPE_COMM_LEN - 1] = '\0';
	forkscope_read_caller(&out->caller, args);
}
NOKPROBE_SYMBOL(forkscope_read_creation_args);

/* The calling task, for an exec. */
static void forkscope_read_task(struct forkscope_creation_args *out)
{
	memset(out, 0, sizeof(*out));
	out->pid = current->pid;
	out->tgid = current->tgid;
	memcpy(out->comm, current->comm, FORKSCOPE_COMM_LEN);
	out->comm[FORKSCOPE_COMM_LEN - 1] = '\0';
}
NOKPROBE_SYMBOL(forkscope_read_task);


/* The hook of the anchor entered at ip (the ftrace call site, addr or past an endbr). */
static __always_inline struct forkscope_hook *forkscope_ftrace_hook_search(unsigned long ip)
{
	unsigned int lo = 0, hi = forkscope_nr_ftrace;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		const struct forkscope_ftrace_entry *e = &forkscope_ftrace_index[mid];

		if (ip >= e->addr && ip - e->addr < 16)
			return e->hook;
		if (ip < e->addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Where ip's entry sits under seed when nothing displaced it: its home slot. */
static __always_inline unsigned int forkscope_ftrace_home(unsigned long ip, u64 seed)
{
	return hash_64(ip ^ seed, FORKSCOPE_FTRACE_HASH_BITS);
}

static __always_inline unsigned int forkscope_ftrace_slot(unsigned long ip)
{
	return forkscope_ftrace_home(ip, forkscope_ftrace_seed);
}

static __always_inline struct forkscope_hook *forkscope_ftrace_hook_at(unsigned long ip)
{
	unsigned int i = forkscope_ftrace_slot(ip), n;

	for (n = 0; n < FORKSCOPE_FTRACE_HASH; n++) {
		const struct forkscope_ftrace_entry *e = &forkscope_ftrace_hash[i];

		if (e->addr == ip)
			return e->hook;
		if (!e->addr)
			break;
		i = (i + 1) & (FORKSCOPE_FTRACE_HASH - 1);
	}
	/* Another offset into a hooked function than the two hashed. */
	return forkscope_ftrace_hook_search(ip);
}

static void forkscope_ftrace_hash_add(unsigned long ip, struct forkscope_hook *hook)
{
	unsigned int i = forkscope_ftrace_slot(ip), n;

	for (n = 0; n < FORKSCOPE_FTRACE_HASH; n++) {
		if (!forkscope_ftrace_hash[i].addr) {
			forkscope_ftrace_hash[i].hook = hook;
			forkscope_ftrace_hash[i].addr = ip;
			return;
		}
		i = (i + 1) & (FORKSCOPE_FTRACE_HASH - 1);
	}
}

static __always_inline bool forkscope_from_site(const struct forkscope_hook *hook,
						 unsigned long parent_ip)
{
	unsigned int i;

	for (i = 0; i < hook->nr_sites; i++)
		if (hook->site_addr[i] == parent_ip)
			return true;
	return false;
}

/*
 * An entry seen by ftrace or a plain kprobe: no per-call data survives it.
 * parent_ip is the return address; an anchor whose return is seen at its
 * call sites only counts calls from those sites (others are foreign).
 * in_task: the caller checked the context. An int3 kprobe's handler runs
 * as an NMI (irqentry_nmi_enter), so in_task() is false there even when
 * the probed code runs in a task; the anchors never run in interrupts.
 */
/* alloc_bprm(int fd, struct filename *filename): names the exec's file. */
static noinline void forkscope_filename_entry(struct forkscope_hook *hook, struct pt_regs *regs,
					      u64 now)
{
	u64 data[4];
	struct forkscope_creation_args args;
	const struct filename *name;

	memset(&args, 0, sizeof(args));
	name = (const struct filename *)regs_get_kernel_argument(regs, 1);
	args.filename = name ? name->name : NULL;
	forkscope_core_on_entry(hook->anchor, current, data, &args, now);
}
NOKPROBE_SYMBOL(forkscope_filename_entry);

static __always_inline void forkscope_plain_entry(struct forkscope_hook *hook,
						  struct pt_regs *regs,
						  unsigned long parent_ip, u64 now)
{
	this_cpu_inc(hook->stats->hits);
	if (hook->ret == FORKSCOPE_HOOK_CALLSITE && !forkscope_from_site(hook, parent_ip)) {
		this_cpu_inc(hook->stats->foreign);
		return;
	}
	switch (hook->role) {
	case FORKSCOPE_ROLE_EXEC_FILENAME:
		forkscope_filename_entry(hook, regs, now);
		return;
	case FORKSCOPE_ROLE_STEP:
	case FORKSCOPE_ROLE_EXIT:
		/* No per-call data: nothing on the stack to clear. */
		forkscope_core_on_step_entry(hook->anchor, current, now);
		return;
	default:
		/* Starts and copy_process always use kretprobes. */
		return;
	}
}

static void notrace forkscope_ftrace_entry(unsigned long ip, unsigned long parent_ip,
					   struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct forkscope_hook *hook;
	int bit;

	if (forkscope_floor)
		return;
	hook = forkscope_ftrace_hook_at(ip);
	if (!hook)
		return;
	bit = ftrace_test_recursion_trylock(ip, parent_ip);
	if (bit < 0) {
		this_cpu_inc(hook->stats->missed);
		return;
	}
	if (in_task())
		forkscope_plain_entry(hook, forkscope_ftrace_pt_regs(fregs), parent_ip, now);
	ftrace_test_recursion_unlock(bit);
}
NOKPROBE_SYMBOL(forkscope_ftrace_entry);

static struct ftrace_ops forkscope_ftrace_ops = {
	.func = forkscope_ftrace_entry,
};

static int forkscope_kprobe_entry(struct kprobe *kp, struct pt_regs *regs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct forkscope_hook *hook = container_of(kp, struct forkscope_hook, entry_kp);

	if (forkscope_floor)
		return 0;
	/* At a function's first instruction the return address is on top. */
	forkscope_plain_entry(hook, regs, regs_get_kernel_stack_nth(regs, 0), now);
	return 0;
}
NOKPROBE_SYMBOL(forkscope_kprobe_entry);

/* A kprobe on the instruction after a call to the anchor: its return. */
static int forkscope_site_return(struct kprobe *kp, struct pt_regs *regs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct forkscope_site *site = container_of(kp, struct forkscope_site, kp);

	if (forkscope_floor || forkscope_settling)
		return 0;
	this_cpu_inc(forkscope_hooks[site->anchor].stats->returns);
	/* Task context even as an int3 "NMI": the calling anchors never run in irqs. */
	forkscope_core_on_site_return(site->anchor, current, now);
	return 0;
}
NOKPROBE_SYMBOL(forkscope_site_return);

/* The entries that read arguments: out of line, so a step's entry clears no args on its stack. */
static noinline int forkscope_rp_entry_args(struct forkscope_hook *hook,
					    struct kretprobe_instance *ri,
					    struct pt_regs *regs, u64 now)
{
	struct forkscope_creation_args args;
	const struct kernel_clone_args *clone_args;
	const struct filename *name;

	switch (hook->role) {
	case FORKSCOPE_ROLE_EXEC_START:
		forkscope_read_task(&args);
		return forkscope_core_on_entry(hook->anchor, current, ri->data, &args, now);
	case FORKSCOPE_ROLE_EXEC_FILENAME:
		memset(&args, 0, sizeof(args));
		name = (const struct filename *)regs_get_kernel_argument(regs, 1);
		args.filename = name ? name->name : NULL;
		return forkscope_core_on_entry(hook->anchor, current, ri->data, &args, now);
	case FORKSCOPE_ROLE_CREATION_START:
		/* kernel_clone(struct kernel_clone_args *args) */
		clone_args = (const void *)regs_get_kernel_argument(regs, 0);
		break;
	case FORKSCOPE_ROLE_COPY_PROCESS:
		/* copy_process(pid, trace, node, args) needs them only for io workers. */
		clone_args = (const void *)regs_get_kernel_argument(regs, 3);
		if (!clone_args->io_thread)
			return forkscope_core_on_entry(hook->anchor, current, ri->data,
						       NULL, now);
		break;
	default:
		return forkscope_core_on_entry(hook->anchor, current, ri->data, NULL, now);
	}
	forkscope_read_creation_args(&args, clone_args);
	return forkscope_core_on_entry(hook->anchor, current, ri->data, &args, now);
}
NOKPROBE_SYMBOL(forkscope_rp_entry_args);

static int forkscope_rp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct forkscope_hook *hook = container_of(get_kretprobe(ri), struct forkscope_hook, rp);

	if (forkscope_floor)
		return 0;	/* keep the return armed, as the real handler does */
	this_cpu_inc(hook->stats->hits);
	/* Creations and execs run in task context; anything else is not ours. */
	if (!in_task())
		return 1;
	if (hook->role == FORKSCOPE_ROLE_STEP || hook->role == FORKSCOPE_ROLE_EXIT)
		return forkscope_core_on_entry(hook->anchor, current, ri->data, NULL, now);
	return forkscope_rp_entry_args(hook, ri, regs, now);
}
NOKPROBE_SYMBOL(forkscope_rp_entry);

/* The returns that read results: out of line, so a step's return clears no facts on its stack. */
static noinline void forkscope_rp_return_facts(struct forkscope_hook *hook,
					       struct kretprobe_instance *ri,
					       unsigned long value, u64 now)
{
	struct forkscope_observation seen;
	struct forkscope_return_facts facts = { 0 };
	struct task_struct *child;

	switch (hook->role) {
	case FORKSCOPE_ROLE_CREATION_START:
		/* kernel_clone returns pid_t: only eax is defined. */
		facts.retval = (pid_t)value;
		break;
	case FORKSCOPE_ROLE_COPY_PROCESS:
		if (IS_ERR((void *)value)) {
			facts.retval = PTR_ERR((void *)value);
			break;
		}
		/* Not yet woken: the new task cannot exit under us. */
		child = (struct task_struct *)value;
		facts.child_pid = child->pid;
		facts.child_task = child;
		forkscope_observe(&seen, child);
		facts.observation = &seen;
		break;
	case FORKSCOPE_ROLE_EXEC_START:
		facts.retval = (int)value;
		facts.comm = current->comm;
		break;
	default:
		break;
	}
	forkscope_core_on_return(hook->anchor, ri->data, &facts, now);
}
NOKPROBE_SYMBOL(forkscope_rp_return_facts);

static int forkscope_rp_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct forkscope_hook *hook = container_of(get_kretprobe(ri), struct forkscope_hook, rp);

	if (forkscope_floor)
		return 0;
	this_cpu_inc(hook->stats->returns);
	if (hook->role == FORKSCOPE_ROLE_STEP)
		forkscope_core_on_step_return(hook->anchor, ri->data, now);
	else
		forkscope_rp_return_facts(hook, ri, regs_return_value(regs), now);
	return 0;
}
NOKPROBE_SYMBOL(forkscope_rp_return);

/* sched_process_exit: the task's do_exit, which ends a spawn that never exec'd. */
static void forkscope_on_exit(void *data, struct task_struct *task)
{
	struct forkscope_hook *hook = data;

	if (forkscope_floor)
		return;
	this_cpu_inc(hook->stats->hits);
	forkscope_core_on_step_entry(hook->anchor, task, ktime_get_mono_fast_ns());
}
NOKPROBE_SYMBOL(forkscope_on_exit);

/*
 * The calling task's pending instance of hook's kretprobe (its return is
 * still to fire), or NULL. The list is the task's own: only it (and
 * interrupts on its stack, which pop what they push) changes it.
 */
static struct kretprobe_instance *forkscope_pending(const struct forkscope_hook *hook)
{
	struct llist_node *node;

	if (!hook || hook->entry != FORKSCOPE_HOOK_KRETPROBE)
		return NULL;
#ifdef CONFIG_KRETPROBE_ON_RETHOOK
	for (node = READ_ONCE(current->rethooks.first); node; node = READ_ONCE(node->next)) {
		struct rethook_node *rn = container_of(node, struct rethook_node, llist);

		if (rn->rethook == hook->rp.rh)
			return container_of(rn, struct kretprobe_instance, node);
	}
#else
	for (node = READ_ONCE(current->kretprobe_instances.first); node;
	     node = READ_ONCE(node->next)) {
		struct kretprobe_instance *ri = container_of(node, struct kretprobe_instance, llist);

		if (ri->rph == hook->rp.rph)
			return ri;
	}
#endif
	return NULL;
}
NOKPROBE_SYMBOL(forkscope_pending);

/* Will a pending kretprobe return of the calling task bucket this creation? */
static bool forkscope_bucketed_at_return(void)
{
	struct kretprobe_instance *ri = forkscope_pending(forkscope_clone_hook);

	if (ri)
		return forkscope_core_buckets_at_return(forkscope_clone_hook->anchor, ri->data);
	ri = forkscope_pending(forkscope_copy_hook);
	return ri && forkscope_core_buckets_at_return(forkscope_copy_hook->anchor, ri->data);
}
NOKPROBE_SYMBOL(forkscope_bucketed_at_return);

/*
 * task_newtask: the end of a successful copy_process, every creation once.
 * One that no armed kretprobe saw begin goes in the disabled bucket here.
 */
static void forkscope_on_newtask(void *data, struct task_struct *task, unsigned long clone_flags)
{
	if (forkscope_floor)
		return;
	forkscope_core_on_new_task(forkscope_bucketed_at_return());
}
NOKPROBE_SYMBOL(forkscope_on_newtask);

/* sched_process_exec: a successful exec; counted here if its kretprobe missed it. */
static void forkscope_on_exec(void *data, struct task_struct *p, pid_t old_pid,
			      struct linux_binprm *bprm)
{
	if (forkscope_floor || forkscope_pending(forkscope_execve_hook))
		return;
	forkscope_core_on_unseen_exec();
}
NOKPROBE_SYMBOL(forkscope_on_exec);

static void forkscope_find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_exit"))
		forkscope_tp_exit = tp;
	else if (!strcmp(tp->name, "task_newtask"))
		forkscope_tp_newtask = tp;
	else if (!strcmp(tp->name, "sched_process_exec"))
		forkscope_tp_exec = tp;
}

/* A function's size, from kallsyms' "name+0x0/0xsize" (0 if unknown). */
static unsigned long forkscope_function_size(unsigned long addr)
{
	char buf[KSYM_SYMBOL_LEN];
	char *slash;
	unsigned long size;

	sprint_symbol(buf, addr);
	slash = strchr(buf, '/');
	if (!slash)
		return 0;
	slash[strcspn(slash, " ")] = '\0';
	if (kstrtoul(slash + 1, 0, &size))
		return 0;
	return size;
}

/* Does a call to target enter the anchor (at addr, or past its endbr)? */
static bool forkscope_calls(const struct forkscope_hook *hook, unsigned long target)
{
	return target == hook->addr ||
	       (hook->entry_has_endbr && target == hook->addr + FORKSCOPE_ENDBR_SIZE);
}

static u8 *forkscope_scan_buf;

/* Every direct call in [start, start+size) to a hooked anchor becomes a site. */
static void forkscope_scan_caller(unsigned long start, unsigned long size)
{
	unsigned long i;
	unsigned int h, s;

	size = min_t(unsigned long, size, FORKSCOPE_MAX_SCAN);
	if (size < 5 || copy_from_kernel_nofault(forkscope_scan_buf, (void *)start, size))
		return;
	for (i = 0; i + 5 <= size; i++) {
		unsigned long target, site;
		s32 rel;

		if (forkscope_scan_buf[i] != 0xe8)	/* call rel32 */
			continue;
		memcpy(&rel, forkscope_scan_buf + i + 1, sizeof(rel));
		target = start + i + 5 + (long)rel;
		site = start + i + 5;
		for (h = 0; h < forkscope_nr_hooks; h++) {
			struct forkscope_hook *hook = &forkscope_hooks[h];

			if (!hook->addr || !forkscope_calls(hook, target))
				continue;
			for (s = 0; s < hook->nr_sites; s++)
				if (hook->site_addr[s] == site)
					break;
			if (s < hook->nr_sites)
				continue;
			if (hook->nr_sites == FORKSCOPE_MAX_SITES) {
				hook->too_many_sites = true;
				continue;
			}
			hook->site_addr[hook->nr_sites++] = site;
		}
	}
}

static void forkscope_scan_callers(void)
{
	char name[KSYM_NAME_LEN + 8];
	unsigned int h;

	for (h = 0; h < forkscope_nr_hooks; h++) {
		unsigned long cold;

		if (!forkscope_hooks[h].addr)
			continue;
		forkscope_scan_caller(forkscope_hooks[h].addr,
				      forkscope_function_size(forkscope_hooks[h].addr));
		/* GCC's unlikely half of a function, e.g. copy_process.cold. */
		snprintf(name, sizeof(name), "%s.cold", forkscope_symbol_name(h));
		cold = forkscope_symbol_lookup(name);
		if (cold)
			forkscope_scan_caller(cold, forkscope_function_size(cold));
	}
}

/* Anchors whose whole span is a record, or reached only indirectly: kretprobe. */
static bool forkscope_needs_kretprobe(const struct forkscope_hook *hook, bool force)
{
	switch (hook->role) {
	case FORKSCOPE_ROLE_CREATION_START:
	case FORKSCOPE_ROLE_COPY_PROCESS:
	case FORKSCOPE_ROLE_EXEC_START:
		return true;
	case FORKSCOPE_ROLE_EXIT:
		return false;
	default:
		return force || !hook->nr_sites || hook->too_many_sites;
	}
}

static int forkscope_register_kretprobe(struct forkscope_hook *hook, int max_inflight)
{
	hook->rp.kp.addr = (kprobe_opcode_t *)hook->addr;
	hook->rp.kp.flags = KPROBE_FLAG_DISABLED;
	hook->rp.entry_handler = forkscope_rp_entry;
	hook->rp.handler = forkscope_rp_return;
	hook->rp.data_size = forkscope_core_probe_data_size();
	hook->rp.maxactive = max_inflight;
	hook->entry = hook->ret = FORKSCOPE_HOOK_KRETPROBE;
	hook->nr_sites = 0;
	return register_kretprobe(&hook->rp);
}

static void forkscope_unregister_sites(struct forkscope_hook *hook, unsigned int n)
{
	while (n--)
		unregister_kprobe(&hook->sites[n].kp);
}

/* Returns at call sites, entry by ftrace (or a kprobe); 0 or -errno. */
static int forkscope_register_split(struct forkscope_hook *hook, bool ftrace_entries)
{
	unsigned int s;
	int err;

	for (s = 0; s < hook->nr_sites; s++) {
		struct forkscope_site *site = &hook->sites[s];

		site->anchor = hook->anchor;
		site->kp.addr = (kprobe_opcode_t *)hook->site_addr[s];
		site->kp.flags = KPROBE_FLAG_DISABLED;
		site->kp.pre_handler = forkscope_site_return;
		err = register_kprobe(&site->kp);
		if (err) {
			pr_notice("%s: call site %pS not probeable (%d); using a kretprobe\n",
				  forkscope_symbol_name(hook->anchor),
				  (void *)hook->site_addr[s], err);
			forkscope_unregister_sites(hook, s);
			return err;
		}
	}
	hook->ret = FORKSCOPE_HOOK_CALLSITE;
	if (ftrace_entries && !ftrace_set_filter_ip(&forkscope_ftrace_ops, hook->addr, 0, 0)) {
		hook->entry = FORKSCOPE_HOOK_FTRACE;
		hook->in_filter = true;
		return 0;
	}
	hook->entry_kp.addr = (kprobe_opcode_t *)hook->addr;
	hook->entry_kp.flags = KPROBE_FLAG_DISABLED;
	hook->entry_kp.pre_handler = forkscope_kprobe_entry;
	err = register_kprobe(&hook->entry_kp);
	if (err) {
		forkscope_unregister_sites(hook, hook->nr_sites);
		hook->ret = FORKSCOPE_HOOK_NONE;
		return err;
	}
	hook->entry = FORKSCOPE_HOOK_KPROBE;
	return 0;
}

static int forkscope_register_exit(struct forkscope_hook *hook)
{
	int err;

	if (forkscope_tp_exit) {
		err = tracepoint_probe_register(forkscope_tp_exit, forkscope_on_exit, hook);
		if (!err) {
			forkscope_exit_registered = true;
			forkscope_exit_hook = hook;
			hook->entry = FORKSCOPE_HOOK_TRACEPOINT;
			return 0;
		}
	}
	/* No tracepoint: a kprobe on do_exit, armed like any other. */
	hook->entry_kp.addr = (kprobe_opcode_t *)hook->addr;
	hook->entry_kp.pre_handler = forkscope_kprobe_entry;
	err = register_kprobe(&hook->entry_kp);
	if (!err)
		hook->entry = FORKSCOPE_HOOK_KPROBE;
	return err;
}

/*
 * An endbr64 at addr, or the NOP 6.12 seals an unused one with at boot
 * (osp nopl (%rax), gen_endbr_poison; even without CPU IBT): ftrace's call
 * site is past it either way. Missing the sealed form sent every ftrace
 * entry of a sealed function to the sorted index (~65 instructions a hit).
 */
static bool forkscope_has_endbr(unsigned long addr)
{
	u8 b[FORKSCOPE_ENDBR_SIZE];

	return addr && !copy_from_kernel_nofault(b, (void *)addr, sizeof(b)) &&
	       (!memcmp(b, "\xf3\x0f\x1e\xfa", sizeof(b)) ||
		!memcmp(b, "\x66\x0f\x1f\x00", sizeof(b)));
}

/* How many of the ftrace entries' ips (and the calibration target's) miss their home slot under seed. */
static unsigned int forkscope_ftrace_displaced(u64 seed, unsigned long *used)
{
	unsigned long target = forkscope_calib_target_ip();
	unsigned int i, k, displaced = 0;

	bitmap_zero(used, FORKSCOPE_FTRACE_HASH);
	for (i = 0; i <= forkscope_nr_ftrace; i++) {
		unsigned long addr = i < forkscope_nr_ftrace ? forkscope_ftrace_index[i].addr : target;
		bool endbr = i < forkscope_nr_ftrace ? forkscope_ftrace_index[i].hook->entry_has_endbr :
						       forkscope_has_endbr(target);

		for (k = 0; k <= endbr; k++) {
			unsigned int slot = forkscope_ftrace_home(addr + k * FORKSCOPE_ENDBR_SIZE, seed);

			if (__test_and_set_bit(slot, used))
				displaced++;
		}
	}
	return displaced;
}

/* The first seed that leaves no entry displaced, else the one that displaces fewest. */
static void forkscope_ftrace_choose_seed(void)
{
	DECLARE_BITMAP(used, FORKSCOPE_FTRACE_HASH);
	unsigned int best = UINT_MAX, displaced;
	u64 seed, best_seed = 0;

	for (seed = 0; seed < FORKSCOPE_FTRACE_SEEDS && best; seed++) {
		displaced = forkscope_ftrace_displaced(seed, used);
		if (displaced < best) {
			best = displaced;
			best_seed = seed;
		}
	}
	forkscope_ftrace_seed = best_seed;
	if (best)
		pr_info("forkscope: %u of the ftrace entry lookups take more than one probe (no seed of %u places all %u hooks): their entry bias is a little above the calibrated one\n",
			best, FORKSCOPE_FTRACE_SEEDS, forkscope_nr_ftrace + 1);
}

static int forkscope_ftrace_index_cmp(const void *a, const void *b)
{
	const struct forkscope_ftrace_entry *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static bool forkscope_wanted(const struct forkscope_hook *hook, u64 wanted)
{
	return wanted & (1ULL << hook->anchor);
}

/* OPTPROBES replaced the int3 with a jump: the first byte is jmp rel32. */
static bool forkscope_site_optimized(const struct forkscope_site *site)
{
	u8 byte;

	return !copy_from_kernel_nofault(&byte, site->kp.addr, 1) && byte == 0xe9;
}

static unsigned int forkscope_sites_unoptimized(void)
{
	unsigned int h, s, n = 0;

	for (h = 0; h < forkscope_nr_hooks; h++) {
		const struct forkscope_hook *hook = &forkscope_hooks[h];

		for (s = 0; hook->ret == FORKSCOPE_HOOK_CALLSITE && s < hook->nr_sites; s++)
			n += !forkscope_site_optimized(&hook->sites[s]);
	}
	return n;
}

/* Its sites already unregistered: the hook becomes a kretprobe. */
static void forkscope_callsite_to_kretprobe(struct forkscope_hook *hook, int max_inflight)
{
	pr_info("%s: a call site stays an int3 (OPTPROBES cannot jump there); using a kretprobe\n",
		forkscope_symbol_name(hook->anchor));
	if (hook->entry == FORKSCOPE_HOOK_FTRACE && hook->in_filter)
		ftrace_set_filter_ip(&forkscope_ftrace_ops, hook->addr, 1, 0);
	hook->in_filter = false;
	if (forkscope_register_kretprobe(hook, max_inflight)) {
		pr_notice("cannot probe %s: its stage merges into its neighbour\n",
			  forkscope_symbol_name(hook->anchor));
		hook->entry = hook->ret = FORKSCOPE_HOOK_NONE;
		hook->registered = false;
	}
}

/* Sites still in the optimizer's queue (only meaningful with aggr_pre_handler). */
static unsigned int forkscope_sites_queued(unsigned long aggr_pre_handler)
{
	unsigned int h, s, n = 0;

	for (h = 0; h < forkscope_nr_hooks; h++) {
		const struct forkscope_hook *hook = &forkscope_hooks[h];

		for (s = 0; hook->ret == FORKSCOPE_HOOK_CALLSITE && s < hook->nr_sites; s++)
			n += forkscope_kprobe_opt_state(&hook->sites[s].kp, aggr_pre_handler) ==
			     FORKSCOPE_OPT_QUEUED;
	}
	return n;
}

/*
 * OPTPROBES turns an armed site's int3 into a jump some jiffies later, where
 * the code around it allows, after an RCU-tasks grace period (seconds under
 * fork load on PREEMPT_RT in TCG). A site left an int3 costs two traps per
 * return (the hit and its single-step), more than a kretprobe's rethook, so
 * its anchor takes a kretprobe instead. The sites are armed alone for this
 * (their handler ignores hits meanwhile) until the optimizer has none of
 * them queued, at most FORKSCOPE_SETTLE_MAX_MS. Without aggr_pre_handler to
 * read the queue, until nothing changes for 200 ms (at most 800 ms). A site
 * the optimizer has not reached by then costs a kretprobe, never a wrong time.
 */
#define FORKSCOPE_SETTLE_POLL_MS 20
#define FORKSCOPE_SETTLE_MAX_MS 15000
static void forkscope_settle_sites(int max_inflight, u64 wanted)
{
	unsigned int h, s, pending, queued, last = UINT_MAX, stable = 0, tries, nk = 0;
	unsigned long aggr = forkscope_symbol_lookup("aggr_pre_handler");
	unsigned long start = jiffies;
	struct kprobe **kps;

	forkscope_settling = true;
	for (h = 0; h < forkscope_nr_hooks; h++) {
		struct forkscope_hook *hook = &forkscope_hooks[h];

		for (s = 0; hook->ret == FORKSCOPE_HOOK_CALLSITE && s < hook->nr_sites; s++)
			enable_kprobe(&hook->sites[s].kp);
	}
	for (tries = 0; tries < FORKSCOPE_SETTLE_MAX_MS / FORKSCOPE_SETTLE_POLL_MS; tries++) {
		pending = forkscope_sites_unoptimized();
		if (!pending)
			break;
		if (aggr) {
			if (!forkscope_sites_queued(aggr))
				break;
		} else {
			stable = pending == last ? stable + 1 : 0;
			last = pending;
			if ((tries >= 10 && stable >= 10) || tries >= 40)
				break;
		}
		msleep(FORKSCOPE_SETTLE_POLL_MS);
	}
	queued = aggr ? forkscope_sites_queued(aggr) : 0;
	if (queued)
		pr_notice("OPTPROBES still had %u call sites queued after %u ms: their anchors take kretprobes\n",
			  queued, jiffies_to_msecs(jiffies - start));
	else
		pr_debug("call sites settled in %u ms%s\n", jiffies_to_msecs(jiffies - start),
			 aggr ? "" : " (optimizer queue unreadable: waited for a plateau)");
	/* One batch of unregistrations: one RCU grace period for all. */
	kps = kcalloc(forkscope_nr_hooks * (FORKSCOPE_MAX_SITES + 1), sizeof(*kps), GFP_KERNEL);
	for (h = 0; h < forkscope_nr_hooks; h++) {
		struct forkscope_hook *hook = &forkscope_hooks[h];
		bool jumps = true;

		hook->int3_site = false;
		if (hook->ret != FORKSCOPE_HOOK_CALLSITE)
			continue;
		for (s = 0; s < hook->nr_sites; s++)
			jumps &= forkscope_site_optimized(&hook->sites[s]);
		/*
		 * Optimized sites the plan is about to arm stay armed (no
		 * second round of text patching); their hits are ignored
		 * until the entries are armed too (forkscope_settling).
		 */
		if (jumps && hook->entry == FORKSCOPE_HOOK_FTRACE && forkscope_wanted(hook, wanted)) {
			hook->armed = true;
			continue;
		}
		for (s = 0; s < hook->nr_sites; s++)
			disable_kprobe(&hook->sites[s].kp);
		if (jumps || !kps)
			continue;
		hook->int3_site = true;
		for (s = 0; s < hook->nr_sites; s++)
			kps[nk++] = &hook->sites[s].kp;
		if (hook->entry == FORKSCOPE_HOOK_KPROBE)
			kps[nk++] = &hook->entry_kp;
	}
	if (nk)
		unregister_kprobes(kps, nk);
	kfree(kps);
	for (h = 0; h < forkscope_nr_hooks; h++)
		if (forkscope_hooks[h].int3_site)
			forkscope_callsite_to_kretprobe(&forkscope_hooks[h], max_inflight);
}

int forkscope_plan_build(int max_inflight, bool floor, enum forkscope_mechanism mechanism)
{
	unsigned int i;
	u64 available = 0;
	int err = 0;

	BUILD_BUG_ON(FORKSCOPE_ANCHOR_COUNT > 64);	/* "available" is a u64 */
	BUILD_BUG_ON(FORKSCOPE_COMM_LEN != TASK_COMM_LEN);
	if (forkscope_core_probe_data_size() > 4 * sizeof(u64)) {
		pr_err("probe data of %zu bytes does not fit the handlers' scratch\n",
		       (size_t)forkscope_core_probe_data_size());
		return -EINVAL;
	}
	forkscope_floor = floor;
	forkscope_nr_hooks = forkscope_core_anchor_count();
	forkscope_hooks = kcalloc(forkscope_nr_hooks, sizeof(*forkscope_hooks), GFP_KERNEL);
	forkscope_ftrace_index = kcalloc(forkscope_nr_hooks, sizeof(*forkscope_ftrace_index),
					 GFP_KERNEL);
	forkscope_scan_buf = vmalloc(FORKSCOPE_MAX_SCAN);
	if (!forkscope_hooks || !forkscope_ftrace_index || !forkscope_scan_buf) {
		err = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < forkscope_nr_hooks; i++) {
		struct forkscope_hook *hook = &forkscope_hooks[i];
		struct forkscope_anchor_desc desc;

		forkscope_core_anchor_describe(i, &desc);
		hook->anchor = i;
		hook->role = desc.role;
		hook->required = desc.required;
		hook->addr = forkscope_symbol_address(i);
		hook->stats = alloc_percpu(struct forkscope_hook_stats);
		if (!hook->stats) {
			err = -ENOMEM;
			goto fail;
		}
		hook->entry_has_endbr = forkscope_has_endbr(hook->addr);
	}
	/* Scan before registering anything, so no probe of ours is in the text. */
	forkscope_scan_callers();
	vfree(forkscope_scan_buf);
	forkscope_scan_buf = NULL;
	for_each_kernel_tracepoint(forkscope_find_tracepoint, NULL);

	for (i = 0; i < forkscope_nr_hooks; i++) {
		struct forkscope_hook *hook = &forkscope_hooks[i];

		if (!hook->addr)
			continue;
		if (hook->role == FORKSCOPE_ROLE_EXIT)
			err = forkscope_register_exit(hook);
		else if (forkscope_needs_kretprobe(hook, mechanism == FORKSCOPE_MECH_KRETPROBE))
			err = forkscope_register_kretprobe(hook, max_inflight);
		else if (forkscope_register_split(hook, mechanism == FORKSCOPE_MECH_AUTO))
			err = forkscope_register_kretprobe(hook, max_inflight);
		else
			err = 0;
		if (err) {
			hook->entry = hook->ret = FORKSCOPE_HOOK_NONE;
			if (hook->required) {
				pr_err("cannot probe required %s: %d; refusing to load\n",
				       forkscope_symbol_name(i), err);
				goto fail;
			}
			pr_notice("cannot probe %s (%d): its stage merges into its neighbour\n",
				  forkscope_symbol_name(i), err);
			err = 0;
			continue;
		}
		hook->registered = true;
		if (hook->entry == FORKSCOPE_HOOK_KRETPROBE && hook->role == FORKSCOPE_ROLE_CREATION_START)
			forkscope_clone_hook = hook;
		if (hook->entry == FORKSCOPE_HOOK_KRETPROBE && hook->role == FORKSCOPE_ROLE_COPY_PROCESS)
			forkscope_copy_hook = hook;
		if (hook->entry == FORKSCOPE_HOOK_KRETPROBE && hook->role == FORKSCOPE_ROLE_EXEC_START)
			forkscope_execve_hook = hook;
		/* do_exit's hook ends spawns whatever the detail: always armed. */
		hook->armed = hook->role == FORKSCOPE_ROLE_EXIT;
	}
	forkscope_settle_sites(max_inflight, forkscope_core_wanted_anchors());
	for (i = 0; i < forkscope_nr_hooks; i++) {
		struct forkscope_hook *hook = &forkscope_hooks[i];

		if (!hook->registered)
			continue;
		available |= 1ULL << i;
		if (hook->entry == FORKSCOPE_HOOK_FTRACE) {
			forkscope_ftrace_index[forkscope_nr_ftrace].addr = hook->addr;
			forkscope_ftrace_index[forkscope_nr_ftrace].hook = hook;
			forkscope_nr_ftrace++;
		}
	}
	forkscope_ftrace_choose_seed();
	for (i = 0; i < forkscope_nr_ftrace; i++) {
		struct forkscope_hook *hook = forkscope_ftrace_index[i].hook;

		forkscope_ftrace_hash_add(hook->addr, hook);
		if (hook->entry_has_endbr)
			forkscope_ftrace_hash_add(hook->addr + FORKSCOPE_ENDBR_SIZE, hook);
	}
	sort(forkscope_ftrace_index, forkscope_nr_ftrace, sizeof(*forkscope_ftrace_index),
	     forkscope_ftrace_index_cmp, NULL);
	forkscope_core_set_available_anchors(available);
	/*
	 * Nothing is armed yet: the tracepoints take over counting creations
	 * and execs, so while disabled no kprobe stays armed.
	 */
	if (forkscope_tp_newtask &&
	    !tracepoint_probe_register(forkscope_tp_newtask, forkscope_on_newtask, NULL)) {
		forkscope_newtask_registered = true;
		forkscope_core_set_creations_at_newtask(1);
	} else {
		pr_notice("no task_newtask tracepoint: the creation kretprobes stay armed while disabled\n");
	}
	if (forkscope_execve_hook && forkscope_tp_exec &&
	    !tracepoint_probe_register(forkscope_tp_exec, forkscope_on_exec, NULL)) {
		forkscope_exec_registered = true;
		forkscope_core_set_execs_at_exec_tp(1);
	} else {
		pr_notice("no sched_process_exec tracepoint: do_execveat_common stays armed while disabled\n");
	}
	err = forkscope_plan_sync();
	/* Entries are armed now: the sites left armed by the settling count. */
	forkscope_settling = false;
	if (err)
		goto fail;
	return 0;

fail:
	forkscope_plan_destroy();
	return err;
}

static int forkscope_arm_kprobe(struct kprobe *kp, bool arm)
{
	return arm ? enable_kprobe(kp) : disable_kprobe(kp);
}

/* Arms or disarms the kprobes of one hook; ftrace entries are done together. */
static int forkscope_hook_arm(struct forkscope_hook *hook, bool arm)
{
	unsigned int s;
	int err = 0;

	if (hook->entry == FORKSCOPE_HOOK_KRETPROBE)
		return forkscope_arm_kprobe(&hook->rp.kp, arm);
	/* Entries first when arming, returns first when disarming: never a lone return. */
	if (arm && hook->entry == FORKSCOPE_HOOK_KPROBE)
		err = forkscope_arm_kprobe(&hook->entry_kp, true);
	for (s = 0; s < hook->nr_sites && !err; s++)
		err = forkscope_arm_kprobe(&hook->sites[s].kp, arm);
	if (!arm && hook->entry == FORKSCOPE_HOOK_KPROBE && !err)
		err = forkscope_arm_kprobe(&hook->entry_kp, false);
	return err;
}

/*
 * The ftrace filter holds the wanted ftrace entries and, always, a parking
 * function that is never called: an empty filter would trace every
 * function, and unregistering the ops instead would wait for RCU-tasks
 * grace periods on every disable. Additions go before removals.
 */
static int forkscope_ftrace_sync(u64 wanted)
{
	unsigned long parking = (unsigned long)forkscope_ftrace_parking;
	unsigned int i;
	int err;

	if (!forkscope_nr_ftrace)
		return 0;
	if (!forkscope_ftrace_registered) {
		err = ftrace_set_filter_ip(&forkscope_ftrace_ops, parking, 0, 0);
		if (err)
			return err;
	}
	for (i = 0; i < forkscope_nr_ftrace; i++) {
		struct forkscope_hook *hook = forkscope_ftrace_index[i].hook;

		if (forkscope_wanted(hook, wanted) && !hook->in_filter) {
			err = ftrace_set_filter_ip(&forkscope_ftrace_ops, hook->addr, 0, 0);
			if (err)
				return err;
			hook->in_filter = true;
		}
	}
	for (i = 0; i < forkscope_nr_ftrace; i++) {
		struct forkscope_hook *hook = forkscope_ftrace_index[i].hook;

		if (!forkscope_wanted(hook, wanted) && hook->in_filter) {
			err = ftrace_set_filter_ip(&forkscope_ftrace_ops, hook->addr, 1, 0);
			if (err)
				return err;
			hook->in_filter = false;
		}
	}
	if (!forkscope_ftrace_registered) {
		err = register_ftrace_function(&forkscope_ftrace_ops);
		if (err)
			return err;
		forkscope_ftrace_registered = true;
	}
	return 0;
}

/*
 * The span kretprobes alone see failures. disarming: is one armed and not
 * wanted (about to be disarmed)? Otherwise: is one unarmed?
 */
static bool forkscope_spans_off(u64 wanted, bool disarming)
{
	const struct forkscope_hook *spans[] = {
		forkscope_clone_hook, forkscope_copy_hook, forkscope_execve_hook,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(spans); i++) {
		if (!spans[i])
			continue;
		if (disarming ? spans[i]->armed && !forkscope_wanted(spans[i], wanted)
			      : !spans[i]->armed)
			return true;
	}
	return false;
}

/*
 * Arms what the core wants (forkscope_core_wanted_anchors), disarms the
 * rest: returns are disarmed before entries and armed after them, so a
 * return never fires for a call whose entry was not hooked.
 */
static int forkscope_plan_sync_locked(void)
{
	u64 wanted = forkscope_core_wanted_anchors();
	unsigned int i;
	int err;

	lockdep_assert_held(&forkscope_plan_lock);
	/* Paused before a span is disarmed, resumed once all are armed again. */
	if (forkscope_spans_off(wanted, true))
		forkscope_core_set_failures_paused(1);
	for (i = 0; i < forkscope_nr_hooks; i++) {
		struct forkscope_hook *hook = &forkscope_hooks[i];

		if (!hook->registered || hook->role == FORKSCOPE_ROLE_EXIT)
			continue;
		if (hook->armed && !forkscope_wanted(hook, wanted)) {
			err = forkscope_hook_arm(hook, false);
			if (err)
				goto fail;
			hook->armed = false;
		}
	}
	err = forkscope_ftrace_sync(wanted);
	if (err)
		goto fail;
	for (i = 0; i < forkscope_nr_hooks; i++) {
		struct forkscope_hook *hook = &forkscope_hooks[i];

		if (!hook->registered || hook->role == FORKSCOPE_ROLE_EXIT)
			continue;
		if (!hook->armed && forkscope_wanted(hook, wanted)) {
			err = forkscope_hook_arm(hook, true);
			if (err)
				goto fail;
			hook->armed = true;
		}
	}
	forkscope_core_set_failures_paused(forkscope_spans_off(wanted, false));
	return 0;
fail:
	pr_warn("arming the probe plan failed: %d\n", err);
	return err;
}

int forkscope_plan_sync(void)
{
	int err;

	mutex_lock(&forkscope_plan_lock);
	err = forkscope_hooks ? forkscope_plan_sync_locked() : 0;
	mutex_unlock(&forkscope_plan_lock);
	return err;
}

static void forkscope_disarm_work_fn(struct work_struct *work)
{
	forkscope_plan_sync();
}

static DECLARE_DELAYED_WORK(forkscope_disarm_work, forkscope_disarm_work_fn);

/* Bit per anchor whose hooks are armed now. */
static u64 forkscope_armed_anchors(void)
{
	u64 armed = 0;
	unsigned int i;

	for (i = 0; i < forkscope_nr_hooks; i++)
		if (forkscope_hooks[i].armed && forkscope_hooks[i].role != FORKSCOPE_ROLE_EXIT)
			armed |= 1ULL << i;
	return armed;
}

int forkscope_plan_follow(void)
{
	u64 wanted = forkscope_core_wanted_anchors(), armed;

	mutex_lock(&forkscope_plan_lock);
	armed = forkscope_hooks ? forkscope_armed_anchors() : wanted;
	mutex_unlock(&forkscope_plan_lock);
	if (wanted & ~armed)
		return forkscope_plan_sync();
	if (armed & ~wanted)
		mod_delayed_work(system_wq, &forkscope_disarm_work, FORKSCOPE_DISARM_DELAY);
	return 0;
}

/*
 * kretprobe instances freed per batch. Unregistering a kretprobe frees all
 * its instances in one RCU callback, in softirq: 37 kretprobes of 65536 held
 * a CPU for over 20 s on the debug kernel. Batches of at most this many, each
 * freed (rcu_barrier) before the next is unregistered, keep every stint short.
 */
#define FORKSCOPE_FREE_BATCH 16384

static void forkscope_unregister_kretprobes(struct kretprobe **rps, unsigned int nr)
{
	unsigned int i = 0, n;
	long instances;

	while (i < nr) {
		instances = 0;
		for (n = 0; i + n < nr && (n == 0 || instances + rps[i + n]->maxactive <=
						     FORKSCOPE_FREE_BATCH); n++)
			instances += rps[i + n]->maxactive;
		unregister_kretprobes(rps + i, n);
		i += n;
		if (i < nr) {
			rcu_barrier();
			cond_resched();
		}
	}
}

void forkscope_plan_destroy(void)
{
	struct kprobe **kps = NULL;
	struct kretprobe **rps = NULL;
	unsigned int i, s, nk = 0, nr = 0;

	cancel_delayed_work_sync(&forkscope_disarm_work);
	forkscope_settling = false;
	if (!forkscope_hooks)
		goto out;
	if (forkscope_ftrace_registered)
		unregister_ftrace_function(&forkscope_ftrace_ops);
	forkscope_ftrace_registered = false;
	ftrace_free_filter(&forkscope_ftrace_ops);
	if (forkscope_exit_registered)
		tracepoint_probe_unregister(forkscope_tp_exit, forkscope_on_exit,
					    forkscope_exit_hook);
	if (forkscope_newtask_registered)
		tracepoint_probe_unregister(forkscope_tp_newtask, forkscope_on_newtask, NULL);
	if (forkscope_exec_registered)
		tracepoint_probe_unregister(forkscope_tp_exec, forkscope_on_exec, NULL);
	if (forkscope_exit_registered || forkscope_newtask_registered || forkscope_exec_registered)
		tracepoint_synchronize_unregister();
	forkscope_exit_registered = false;
	forkscope_newtask_registered = false;
	forkscope_exec_registered = false;
	forkscope_clone_hook = forkscope_copy_hook = forkscope_execve_hook = NULL;
	/* Batches: one RCU grace period for all, not one per probe. */
	kps = kcalloc(forkscope_nr_hooks * (FORKSCOPE_MAX_SITES + 1), sizeof(*kps), GFP_KERNEL);
	rps = kcalloc(forkscope_nr_hooks, sizeof(*rps), GFP_KERNEL);
	for (i = 0; i < forkscope_nr_hooks; i++) {
		struct forkscope_hook *hook = &forkscope_hooks[i];

		if (!hook->registered)
			continue;
		hook->registered = false;
		if (hook->entry == FORKSCOPE_HOOK_KRETPROBE) {
			if (rps)
				rps[nr++] = &hook->rp;
			else
				unregister_kretprobe(&hook->rp);
			continue;
		}
		if (hook->entry == FORKSCOPE_HOOK_KPROBE) {
			if (kps)
				kps[nk++] = &hook->entry_kp;
			else
				unregister_kprobe(&hook->entry_kp);
		}
		for (s = 0; s < hook->nr_sites && hook->ret == FORKSCOPE_HOOK_CALLSITE; s++) {
			if (kps)
				kps[nk++] = &hook->sites[s].kp;
			else
				unregister_kprobe(&hook->sites[s].kp);
		}
	}
	if (nk)
		unregister_kprobes(kps, nk);
	forkscope_unregister_kretprobes(rps, nr);
	kfree(kps);
	kfree(rps);
	for (i = 0; i < forkscope_nr_hooks; i++)
		free_percpu(forkscope_hooks[i].stats);
out:
	kfree(forkscope_hooks);
	forkscope_hooks = NULL;
	kfree(forkscope_ftrace_index);
	forkscope_ftrace_index = NULL;
	forkscope_nr_ftrace = 0;
	memset(forkscope_ftrace_hash, 0, sizeof(forkscope_ftrace_hash));
	vfree(forkscope_scan_buf);
	forkscope_scan_buf = NULL;
}

/*
 * What the plan holds while loaded, computed from what it allocated: every
 * registered kretprobe's maxactive instances (each as its slab stores it),
 * and its own tables (the hooks with their kprobes, the ftrace index, the
 * per-CPU hit counters). The kernel's own kprobe pages are not counted.
 */
void forkscope_plan_memory(u64 *kretprobe_bytes, u64 *plan_bytes)
{
	u64 instance = forkscope_kretprobe_instance_bytes(forkscope_core_probe_data_size());
	unsigned int i;

	*kretprobe_bytes = 0;
	*plan_bytes = 0;
	if (!forkscope_hooks)
		return;
	for (i = 0; i < forkscope_nr_hooks; i++) {
		const struct forkscope_hook *hook = &forkscope_hooks[i];

		if (hook->registered && hook->entry == FORKSCOPE_HOOK_KRETPROBE)
			*kretprobe_bytes += (u64)hook->rp.maxactive * instance;
	}
	*plan_bytes = kmalloc_size_roundup(forkscope_nr_hooks * sizeof(*forkscope_hooks)) +
		      kmalloc_size_roundup(forkscope_nr_hooks * sizeof(*forkscope_ftrace_index)) +
		      (u64)forkscope_nr_hooks * num_possible_cpus() *
		      sizeof(struct forkscope_hook_stats);
}

unsigned int forkscope_plan_health(struct forkscope_probe_health *out, unsigned int max)
{
	unsigned int i, s, n = min(max, forkscope_nr_hooks);
	int cpu;

	for (i = 0; i < n; i++) {
		const struct forkscope_hook *hook = &forkscope_hooks[i];
		struct forkscope_probe_health *h = &out[i];

		memset(h, 0, sizeof(*h));
		h->symbol = forkscope_symbol_name(i);
		h->registered = hook->registered;
		h->armed = hook->registered && hook->armed;
		h->entry = hook->registered ? hook->entry : FORKSCOPE_HOOK_NONE;
		h->ret = hook->registered ? hook->ret : FORKSCOPE_HOOK_NONE;
		for_each_possible_cpu(cpu) {
			const struct forkscope_hook_stats *st = per_cpu_ptr(hook->stats, cpu);

			h->hits += st->hits;
			h->return_hits += st->returns;
			h->foreign += st->foreign;
			h->missed += st->missed;
		}
		if (!hook->registered)
			continue;
		if (hook->entry == FORKSCOPE_HOOK_KRETPROBE)
			h->missed += hook->rp.nmissed + hook->rp.kp.nmissed;
		if (hook->entry == FORKSCOPE_HOOK_KPROBE)
			h->missed += hook->entry_kp.nmissed;
		if (hook->ret != FORKSCOPE_HOOK_CALLSITE)
			continue;
		h->sites = hook->nr_sites;
		for (s = 0; s < hook->nr_sites; s++) {
			h->missed += hook->sites[s].kp.nmissed;
			h->optimized += forkscope_site_optimized(&hook->sites[s]);
		}
	}
	return n;
}

/*
 * The calibration's hook (calibrate.c): a hook of its own on the
 * calibration target, for a fork step anchor of the core's, whose hits run
 * the real handlers (forkscope_ftrace_entry, forkscope_kprobe_entry,
 * forkscope_rp_entry, forkscope_rp_return and the core behind them) on the
 * calibration's own in-flight record. The target is in the ftrace hash
 * while the hook exists, so the ftrace callback finds it as it finds an
 * anchor. Only the call site differs: it finds its hook by its kprobe, not
 * in forkscope_hooks[] (whose counters it must not touch).
 */
static struct forkscope_hook *forkscope_calib_hook;
/* The hash slots the target took (-1: none), cleared when the hook goes. */
static int forkscope_calib_hash_slot[2] = { -1, -1 };

static int forkscope_calib_site_return(struct kprobe *kp, struct pt_regs *regs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct forkscope_site *site = container_of(kp, struct forkscope_site, kp);
	struct forkscope_hook *hook = container_of(site, struct forkscope_hook, sites[0]);

	if (forkscope_floor || forkscope_settling)
		return 0;
	this_cpu_inc(hook->stats->returns);
	forkscope_core_on_site_return(site->anchor, current, now);
	return 0;
}
NOKPROBE_SYMBOL(forkscope_calib_site_return);

int forkscope_plan_calib_rp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return forkscope_rp_entry(ri, regs);
}
NOKPROBE_SYMBOL(forkscope_plan_calib_rp_entry);

forkscope_ftrace_cb forkscope_plan_calib_ftrace_func(void)
{
	return forkscope_ftrace_entry;
}

/*
 * Into the first free slot of ip's probe sequence: the plan's entries were
 * all added before (at build), so none depends on this slot being taken
 * and clearing it later breaks no chain. Readers see hook before addr.
 */
static int forkscope_calib_hash_add(unsigned long ip, struct forkscope_hook *hook)
{
	unsigned int i = forkscope_ftrace_slot(ip), n;

	for (n = 0; n < FORKSCOPE_FTRACE_HASH; n++) {
		if (!forkscope_ftrace_hash[i].addr) {
			WRITE_ONCE(forkscope_ftrace_hash[i].hook, hook);
			smp_wmb();	/* a callback that sees the address sees the hook */
			WRITE_ONCE(forkscope_ftrace_hash[i].addr, ip);
			return i;
		}
		i = (i + 1) & (FORKSCOPE_FTRACE_HASH - 1);
	}
	return -1;
}

/* anchor: from forkscope_core_calib_begin; site: the instruction after the target's call. */
int forkscope_plan_calib_hook_new(unsigned int anchor, unsigned long target, unsigned long site,
				  struct forkscope_calib_probes *out)
{
	struct forkscope_hook *hook = kzalloc(sizeof(*hook), GFP_KERNEL);

	if (!hook)
		return -ENOMEM;
	hook->stats = alloc_percpu(struct forkscope_hook_stats);
	if (!hook->stats) {
		kfree(hook);
		return -ENOMEM;
	}
	hook->anchor = anchor;
	hook->role = FORKSCOPE_ROLE_STEP;
	hook->addr = target;
	hook->entry = FORKSCOPE_HOOK_FTRACE;
	hook->ret = FORKSCOPE_HOOK_CALLSITE;
	hook->site_addr[0] = site;
	hook->nr_sites = site ? 1 : 0;
	hook->sites[0].anchor = anchor;
	hook->sites[0].kp.addr = (kprobe_opcode_t *)site;
	hook->sites[0].kp.pre_handler = forkscope_calib_site_return;
	hook->entry_kp.addr = (kprobe_opcode_t *)target;
	hook->entry_kp.pre_handler = forkscope_kprobe_entry;
	hook->rp.kp.addr = (kprobe_opcode_t *)target;
	hook->rp.entry_handler = forkscope_rp_entry;
	hook->rp.handler = forkscope_rp_return;
	hook->rp.data_size = forkscope_core_probe_data_size();
	hook->rp.maxactive = 4;
	hook->entry_has_endbr = forkscope_has_endbr(target);
	forkscope_calib_hash_slot[0] = forkscope_calib_hash_add(target, hook);
	if (hook->entry_has_endbr)
		forkscope_calib_hash_slot[1] = forkscope_calib_hash_add(target + FORKSCOPE_ENDBR_SIZE,
									hook);
	out->entry_kp = &hook->entry_kp;
	out->site_kp = site ? &hook->sites[0].kp : NULL;
	out->rp = &hook->rp;
	forkscope_calib_hook = hook;
	return 0;
}

/* After every probe of it is unregistered (no callback can still see it). */
void forkscope_plan_calib_hook_free(void)
{
	struct forkscope_hook *hook = forkscope_calib_hook;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(forkscope_calib_hash_slot); i++) {
		int slot = forkscope_calib_hash_slot[i];

		if (slot >= 0)
			WRITE_ONCE(forkscope_ftrace_hash[slot].addr, 0);
		forkscope_calib_hash_slot[i] = -1;
	}
	forkscope_calib_hook = NULL;
	if (!hook)
		return;
	free_percpu(hook->stats);
	kfree(hook);
}
