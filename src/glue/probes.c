// SPDX-License-Identifier: GPL-2.0
/*
 * One kretprobe per anchor of the core's table; each handler takes the
 * timestamp first, reads the few arguments its anchor needs, and hands the
 * event to the C++ core. Nothing here sleeps, allocates or locks.
 */
#include <linux/err.h>
#include <linux/kprobes.h>
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

struct fs_anchor_probe {
	struct kretprobe rp;
	unsigned int anchor;
	int role;
	bool registered;
	unsigned long __percpu *hits;
};

static struct fs_anchor_probe *fs_probes;
static unsigned int fs_nr_probes;

static __always_inline struct fs_anchor_probe *
fs_probe_of(struct kretprobe_instance *ri)
{
	return container_of(get_kretprobe(ri), struct fs_anchor_probe, rp);
}

/* kernel_clone_args of kernel_clone (1st argument) or copy_process (4th). */
static void fs_read_creation_args(struct fs_creation_args *out,
				  const struct kernel_clone_args *args)
{
	out->flags = args->flags;
	out->exit_signal = args->exit_signal;
	out->kthread = args->kthread;
	out->io_thread = args->io_thread;
	out->has_fn = args->fn != NULL;
	out->origin = fs_current_origin();
	out->pid = current->pid;
	out->tgid = current->tgid;
	/* As tracers do: a racy copy of comm, always NUL-terminated. */
	memcpy(out->comm, current->comm, FS_COMM_LEN);
	out->comm[FS_COMM_LEN - 1] = '\0';
}
NOKPROBE_SYMBOL(fs_read_creation_args);

static int fs_entry_handler(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct fs_anchor_probe *probe = fs_probe_of(ri);
	struct fs_creation_args args;
	const struct kernel_clone_args *clone_args;

	this_cpu_inc(*probe->hits);
	/* Creations run in task context; anything else is not ours. */
	if (!in_task())
		return 1;
	if (probe->role == FS_ROLE_STEP)
		return fs_core_on_entry(probe->anchor, current, ri->data, NULL, now);
	clone_args = (const struct kernel_clone_args *)regs_get_kernel_argument(
		regs, probe->role == FS_ROLE_CREATION_START ? 0 : 3);
	fs_read_creation_args(&args, clone_args);
	return fs_core_on_entry(probe->anchor, current, ri->data, &args, now);
}
NOKPROBE_SYMBOL(fs_entry_handler);

static int fs_return_handler(struct kretprobe_instance *ri,
			     struct pt_regs *regs)
{
	u64 now = ktime_get_mono_fast_ns();
	struct fs_anchor_probe *probe = fs_probe_of(ri);
	unsigned long value = regs_return_value(regs);
	s64 ret = 0;
	int child_pid = 0;

	if (probe->role == FS_ROLE_CREATION_START) {
		/* kernel_clone returns pid_t: only eax is defined. */
		ret = (pid_t)value;
	} else if (probe->role == FS_ROLE_COPY_PROCESS) {
		if (IS_ERR((void *)value))
			ret = PTR_ERR((void *)value);
		else
			/* Not yet woken: the new task cannot exit under us. */
			child_pid = ((struct task_struct *)value)->pid;
	}
	fs_core_on_return(probe->anchor, ri->data, ret, child_pid, now);
	return 0;
}
NOKPROBE_SYMBOL(fs_return_handler);

int fs_probes_register(int max_inflight)
{
	unsigned int i;
	u64 available = 0;
	int err;

	fs_nr_probes = fs_core_anchor_count();
	fs_probes = kcalloc(fs_nr_probes, sizeof(*fs_probes), GFP_KERNEL);
	if (!fs_probes)
		return -ENOMEM;
	for (i = 0; i < fs_nr_probes; i++) {
		struct fs_anchor_probe *probe = &fs_probes[i];
		struct fs_anchor_desc desc;

		fs_core_anchor_describe(i, &desc);
		probe->anchor = i;
		probe->role = desc.role;
		probe->hits = alloc_percpu(unsigned long);
		if (!probe->hits) {
			err = -ENOMEM;
			goto fail;
		}
		if (!fs_symbol_address(i))
			continue;
		probe->rp.kp.addr = (kprobe_opcode_t *)fs_symbol_address(i);
		probe->rp.entry_handler = fs_entry_handler;
		probe->rp.handler = fs_return_handler;
		probe->rp.data_size = fs_core_probe_data_size();
		probe->rp.maxactive = max_inflight;
		err = register_kretprobe(&probe->rp);
		if (err) {
			if (desc.required) {
				pr_err("cannot probe required %s: %d; refusing to load\n",
				       fs_symbol_name(i), err);
				goto fail;
			}
			pr_notice("cannot probe %s (%d): its stage merges into its neighbour\n",
				  fs_symbol_name(i), err);
			continue;
		}
		probe->registered = true;
		available |= 1ULL << i;
	}
	fs_core_set_available_anchors(available);
	return 0;

fail:
	fs_probes_unregister();
	return err;
}

void fs_probes_unregister(void)
{
	unsigned int i;

	if (!fs_probes)
		return;
	for (i = 0; i < fs_nr_probes; i++) {
		if (fs_probes[i].registered)
			unregister_kretprobe(&fs_probes[i].rp);
		fs_probes[i].registered = false;
	}
	for (i = 0; i < fs_nr_probes; i++)
		free_percpu(fs_probes[i].hits);
	kfree(fs_probes);
	fs_probes = NULL;
}

unsigned int fs_probes_health(struct fs_probe_health *out, unsigned int max)
{
	unsigned int i, n = min(max, fs_nr_probes);
	int cpu;

	for (i = 0; i < n; i++) {
		const struct fs_anchor_probe *probe = &fs_probes[i];

		out[i].symbol = fs_symbol_name(i);
		out[i].registered = probe->registered;
		out[i].hits = 0;
		for_each_possible_cpu(cpu)
			out[i].hits += *per_cpu_ptr(probe->hits, cpu);
		out[i].missed = probe->rp.nmissed + probe->rp.kp.nmissed;
	}
	return n;
}
