// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel probes on the process-creation path; each handler forwards one
 * event to the C++ core and does nothing else.
 */
#include <linux/kprobes.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>

#include <forkscope/core.h>

#include "glue.h"

static DEFINE_PER_CPU(unsigned long, fs_clone_return_hits);

static int fs_clone_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	this_cpu_inc(fs_clone_return_hits);
	/* kernel_clone returns pid_t: only eax is defined, not all of rax. */
	fs_core_on_clone_return((pid_t)regs_return_value(regs));
	return 0;
}
NOKPROBE_SYMBOL(fs_clone_return);

static struct kretprobe fs_clone_kretprobe = {
	.handler = fs_clone_return,
};
static bool fs_clone_registered;

int fs_probes_register(int max_inflight)
{
	int err;

	fs_clone_kretprobe.kp.addr =
		(kprobe_opcode_t *)fs_symbol_address(FS_SYM_KERNEL_CLONE);
	fs_clone_kretprobe.maxactive = max_inflight;
	err = register_kretprobe(&fs_clone_kretprobe);
	if (err) {
		pr_err("cannot probe %s: %d\n",
		       fs_symbol_name(FS_SYM_KERNEL_CLONE), err);
		return err;
	}
	fs_clone_registered = true;
	return 0;
}

void fs_probes_unregister(void)
{
	if (fs_clone_registered)
		unregister_kretprobe(&fs_clone_kretprobe);
	fs_clone_registered = false;
}

static unsigned long fs_sum_percpu(unsigned long __percpu *counter)
{
	unsigned long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *per_cpu_ptr(counter, cpu);
	return sum;
}

unsigned int fs_probes_health(struct fs_probe_health *out, unsigned int max)
{
	if (max < 1)
		return 0;
	out[0].symbol = fs_symbol_name(FS_SYM_KERNEL_CLONE);
	out[0].registered = fs_clone_registered;
	out[0].hits = fs_sum_percpu(&fs_clone_return_hits);
	out[0].missed = fs_clone_kretprobe.nmissed +
			fs_clone_kretprobe.kp.nmissed;
	return 1;
}
