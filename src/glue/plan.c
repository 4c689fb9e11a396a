// SPDX-License-Identifier: GPL-2.0
/*
 * The probe plan: for every anchor of the core's table, the cheapest hook
 * the running kernel offers, armed only for the anchors the core wants.
 * Entries: one shared ftrace_ops (no int3, no rethook). Returns: a kprobe on
 * the instruction after each call to the anchor in the modelled callers
 * (call sites), which OPTPROBES can turn into a jump. kretprobes only where
 * neither works (the creation and exec spans, indirect calls); those of the
 * spans stay armed while disabled, so every creation is still counted once.
 * Exits come from the sched_process_exit tracepoint. Nothing here sleeps,
 * allocates or locks in a handler.
 */
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/fdtable.h>
#include <linux/fs_struct.h>
#include <linux/ftrace.h>
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
	bool entry_has_endbr;		/* calls may target addr + 4 */
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
static bool forkscope_ftrace_registered;
static bool forkscope_floor;
static bool forkscope_settling;	/* sites armed alone to see which OPTPROBES optimizes */
static struct tracepoint *forkscope_tp_exit;
static bool forkscope_exit_registered;
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
static __always_inline struct forkscope_hook *forkscope_ftrace_hook_at(unsigned long ip)
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
static void forkscope_plain_entry(struct forkscope_hook *hook, struct pt_regs *regs,
				  unsigned long parent_ip, u64 now)
{
	u64 data[4];
	struct forkscope_creation_args args;
	const struct filename *name;

	this_cpu_inc(hook->stats->hits);
	if (hook->ret == FORKSCOPE_HOOK_CALLSITE && !forkscope_from_site(hook, parent_ip)) {
		this_cpu_inc(hook->stats->foreign);
		return;
	}
	switch (hook->role) {
	case FORKSCOPE_ROLE_EXEC_FILENAME:
		/* alloc_bprm(int fd, struct filename *filename) */
		memset(&args, 0, sizeof(args));
		name = (const struct filename *)regs_get_kernel_argument(regs, 1);
		args.filename = name ? name->name : NULL;
		forkscope_core_on_entry(hook->anchor, current, data, &args, now);
		return;
	case FORKSCOPE_ROLE_STEP:
	case FORKSCOPE_ROLE_EXIT:
		forkscope_core_on_entry(hook->anchor, current, data, NULL, now);
		return;
	default:
		/* Starts and copy_process always use kretprobes. */
		return;
	}
}
NOKPROBE_SYMBOL(forkscope_plain_entry);

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

static int forkscope_rp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct forkscope_hook *hook = container_of(get_kretprobe(ri), struct forkscope_hook, rp);
	struct forkscope_creation_args args;
	const struct kernel_clone_args *clone_args;
	const struct filename *name;

	if (forkscope_floor)
		return 0;	/* keep the return armed, as the real handler does */
	this_cpu_inc(hook->stats->hits);
	/* Creations and execs run in task context; anything else is not ours. */
	if (!in_task())
		return 1;
	switch (hook->role) {
	case FORKSCOPE_ROLE_STEP:
	case FORKSCOPE_ROLE_EXIT:
		return forkscope_core_on_entry(hook->anchor, current, ri->data, NULL, now);
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
	}
	forkscope_read_creation_args(&args, clone_args);
	return forkscope_core_on_entry(hook->anchor, current, ri->data, &args, now);
}
NOKPROBE_SYMBOL(forkscope_rp_entry);

static int forkscope_rp_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct forkscope_hook *hook = container_of(get_kretprobe(ri), struct forkscope_hook, rp);
	unsigned long value = regs_return_value(regs);
	struct forkscope_observation seen;
	struct forkscope_return_facts facts = { 0 };
	struct task_struct *child;

	if (forkscope_floor)
		return 0;
	this_cpu_inc(hook->stats->returns);
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
	case FORKSCOPE_ROLE_STEP:
	case FORKSCOPE_ROLE_EXEC_FILENAME:
	case FORKSCOPE_ROLE_EXIT:
		break;
	}
	forkscope_core_on_return(hook->anchor, ri->data, &facts, now);
	return 0;
}
NOKPROBE_SYMBOL(forkscope_rp_return);

/* sched_process_exit: the task's do_exit, which ends a spawn that never exec'd. */
static void forkscope_on_exit(void *data, struct task_struct *task)
{
	struct forkscope_hook *hook = data;
	u64 scratch[4];

	if (forkscope_floor)
		return;
	this_cpu_inc(hook->stats->hits);
	forkscope_core_on_entry(hook->anchor, task, scratch, NULL, ktime_get_mono_fast_ns());
}
NOKPROBE_SYMBOL(forkscope_on_exit);

static void forkscope_find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_exit"))
		forkscope_tp_exit = tp;
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
	return target == hook->addr || (hook->entry_has_endbr && target == hook->addr + 4);
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

/*
 * OPTPROBES turns an armed site's int3 into a jump a few jiffies later,
 * where the code around it allows. A site left an int3 costs two traps per
 * return (the hit and its single-step), more than a kretprobe's rethook, so
 * its anchor takes a kretprobe instead. The sites are armed alone for this
 * (their handler ignores hits meanwhile), until nothing changes for 200 ms
 * (at most 800 ms: a load stays quick; a site the optimizer had not reached
 * by then costs a kretprobe, never a wrong time).
 */
static void forkscope_settle_sites(int max_inflight, u64 wanted)
{
	unsigned int h, s, pending, last = UINT_MAX, stable = 0, tries, nk = 0;
	struct kprobe **kps;

	forkscope_settling = true;
	for (h = 0; h < forkscope_nr_hooks; h++) {
		struct forkscope_hook *hook = &forkscope_hooks[h];

		for (s = 0; hook->ret == FORKSCOPE_HOOK_CALLSITE && s < hook->nr_sites; s++)
			enable_kprobe(&hook->sites[s].kp);
	}
	for (tries = 0; tries < 40; tries++) {
		pending = forkscope_sites_unoptimized();
		stable = pending == last ? stable + 1 : 0;
		last = pending;
		if (!pending || (tries >= 10 && stable >= 10))
			break;
		msleep(20);
	}
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
	u8 endbr[4];
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
		hook->entry_has_endbr = hook->addr &&
			!copy_from_kernel_nofault(endbr, (void *)hook->addr, sizeof(endbr)) &&
			!memcmp(endbr, "\xf3\x0f\x1e\xfa", sizeof(endbr));
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
	sort(forkscope_ftrace_index, forkscope_nr_ftrace, sizeof(*forkscope_ftrace_index),
	     forkscope_ftrace_index_cmp, NULL);
	forkscope_core_set_available_anchors(available);
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
	if (forkscope_exit_registered)
		tracepoint_synchronize_unregister();
	forkscope_exit_registered = false;
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
	if (nr)
		unregister_kretprobes(rps, nr);
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
	vfree(forkscope_scan_buf);
	forkscope_scan_buf = NULL;
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
