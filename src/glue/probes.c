// SPDX-License-Identifier: GPL-2.0
/*
 * One kretprobe per anchor of the core's table; each handler takes the
 * timestamp first, reads the few arguments its anchor needs, and hands the
 * event to the C++ core. Nothing here sleeps, allocates or locks.
 */
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/fdtable.h>
#include <linux/fs_struct.h>
#include <linux/iocontext.h>
#include <linux/ioprio.h>
#include <linux/ipc_namespace.h>
#include <linux/kprobes.h>
#include <linux/nsproxy.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/time_namespace.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include <forkscope/core.h>

#include "compat.h"
#include "glue.h"

struct forkscope_anchor_probe {
	struct kretprobe rp;
	unsigned int anchor;
	enum forkscope_anchor_role role;
	bool registered;
	unsigned long __percpu *hits;
};

static struct forkscope_anchor_probe *forkscope_probes;
static unsigned int forkscope_nr_probes;

static __always_inline struct forkscope_anchor_probe *
forkscope_probe_of(struct kretprobe_instance *ri)
{
	return container_of(get_kretprobe(ri), struct forkscope_anchor_probe, rp);
}

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

static int forkscope_entry_handler(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct forkscope_anchor_probe *probe = forkscope_probe_of(ri);
	struct forkscope_creation_args args;
	const struct kernel_clone_args *clone_args;
	const struct filename *name;

	this_cpu_inc(*probe->hits);
	/* Creations and execs run in task context; anything else is not ours. */
	if (!in_task())
		return 1;
	switch (probe->role) {
	case FORKSCOPE_ROLE_STEP:
	case FORKSCOPE_ROLE_EXIT:
		return forkscope_core_on_entry(probe->anchor, current, ri->data, NULL, now);
	case FORKSCOPE_ROLE_EXEC_START:
		forkscope_read_task(&args);
		return forkscope_core_on_entry(probe->anchor, current, ri->data, &args, now);
	case FORKSCOPE_ROLE_EXEC_FILENAME:
		/* alloc_bprm(int fd, struct filename *filename) */
		memset(&args, 0, sizeof(args));
		name = (const struct filename *)regs_get_kernel_argument(regs, 1);
		args.filename = name ? name->name : NULL;
		return forkscope_core_on_entry(probe->anchor, current, ri->data, &args, now);
	case FORKSCOPE_ROLE_CREATION_START:
		/* kernel_clone(struct kernel_clone_args *args) */
		clone_args = (const void *)regs_get_kernel_argument(regs, 0);
		break;
	case FORKSCOPE_ROLE_COPY_PROCESS:
		/* copy_process(pid, trace, node, args) needs them only for io workers. */
		clone_args = (const void *)regs_get_kernel_argument(regs, 3);
		if (!clone_args->io_thread)
			return forkscope_core_on_entry(probe->anchor, current, ri->data,
						       NULL, now);
		break;
	}
	forkscope_read_creation_args(&args, clone_args);
	return forkscope_core_on_entry(probe->anchor, current, ri->data, &args, now);
}
NOKPROBE_SYMBOL(forkscope_entry_handler);

static int forkscope_return_handler(struct kretprobe_instance *ri,
			     struct pt_regs *regs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct forkscope_anchor_probe *probe = forkscope_probe_of(ri);
	unsigned long value = regs_return_value(regs);
	struct forkscope_observation seen;
	struct forkscope_return_facts facts = { 0 };
	struct task_struct *child;

	switch (probe->role) {
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
	forkscope_core_on_return(probe->anchor, ri->data, &facts, now);
	return 0;
}
NOKPROBE_SYMBOL(forkscope_return_handler);

/*
 * probe_mode=floor: the same kretprobes on the same anchors, with handlers
 * that do nothing. The entry handler returns 0 so that the return probe is
 * armed, as the real one does. This is what the probes cost by themselves.
 */
static int forkscope_floor_entry_handler(struct kretprobe_instance *ri,
				  struct pt_regs *regs)
{
	return 0;
}
NOKPROBE_SYMBOL(forkscope_floor_entry_handler);

static int forkscope_floor_return_handler(struct kretprobe_instance *ri,
				   struct pt_regs *regs)
{
	return 0;
}
NOKPROBE_SYMBOL(forkscope_floor_return_handler);

int forkscope_probes_register(int max_inflight, bool floor)
{
	unsigned int i;
	u64 available = 0;
	int err;

	BUILD_BUG_ON(FORKSCOPE_ANCHOR_COUNT > 64);	/* "available" is a u64 */
	BUILD_BUG_ON(FORKSCOPE_COMM_LEN != TASK_COMM_LEN);
	forkscope_nr_probes = forkscope_core_anchor_count();
	forkscope_probes = kcalloc(forkscope_nr_probes, sizeof(*forkscope_probes), GFP_KERNEL);
	if (!forkscope_probes)
		return -ENOMEM;
	for (i = 0; i < forkscope_nr_probes; i++) {
		struct forkscope_anchor_probe *probe = &forkscope_probes[i];
		struct forkscope_anchor_desc desc;

		forkscope_core_anchor_describe(i, &desc);
		probe->anchor = i;
		probe->role = desc.role;
		probe->hits = alloc_percpu(unsigned long);
		if (!probe->hits) {
			err = -ENOMEM;
			goto fail;
		}
		if (!forkscope_symbol_address(i))
			continue;
		probe->rp.kp.addr = (kprobe_opcode_t *)forkscope_symbol_address(i);
		probe->rp.entry_handler = floor ? forkscope_floor_entry_handler : forkscope_entry_handler;
		probe->rp.handler = floor ? forkscope_floor_return_handler : forkscope_return_handler;
		probe->rp.data_size = forkscope_core_probe_data_size();
		probe->rp.maxactive = max_inflight;
		err = register_kretprobe(&probe->rp);
		if (err) {
			if (desc.required) {
				pr_err("cannot probe required %s: %d; refusing to load\n",
				       forkscope_symbol_name(i), err);
				goto fail;
			}
			pr_notice("cannot probe %s (%d): its stage merges into its neighbour\n",
				  forkscope_symbol_name(i), err);
			continue;
		}
		probe->registered = true;
		available |= 1ULL << i;
	}
	forkscope_core_set_available_anchors(available);
	return 0;

fail:
	forkscope_probes_unregister();
	return err;
}

void forkscope_probes_unregister(void)
{
	unsigned int i;
	struct kretprobe **armed;
	unsigned int n = 0;

	if (!forkscope_probes)
		return;
	/* One batch: a single RCU grace period instead of one per probe. */
	armed = kcalloc(forkscope_nr_probes, sizeof(*armed), GFP_KERNEL);
	for (i = 0; i < forkscope_nr_probes; i++) {
		if (!forkscope_probes[i].registered)
			continue;
		if (armed)
			armed[n++] = &forkscope_probes[i].rp;
		else
			unregister_kretprobe(&forkscope_probes[i].rp);
		forkscope_probes[i].registered = false;
	}
	if (n)
		unregister_kretprobes(armed, n);
	kfree(armed);
	for (i = 0; i < forkscope_nr_probes; i++)
		free_percpu(forkscope_probes[i].hits);
	kfree(forkscope_probes);
	forkscope_probes = NULL;
}

unsigned int forkscope_probes_health(struct forkscope_probe_health *out, unsigned int max)
{
	unsigned int i, n = min(max, forkscope_nr_probes);
	int cpu;

	for (i = 0; i < n; i++) {
		const struct forkscope_anchor_probe *probe = &forkscope_probes[i];

		out[i].symbol = forkscope_symbol_name(i);
		out[i].registered = probe->registered;
		out[i].hits = 0;
		for_each_possible_cpu(cpu)
			out[i].hits += *per_cpu_ptr(probe->hits, cpu);
		out[i].missed = probe->rp.nmissed + probe->rp.kp.nmissed;
	}
	return n;
}
