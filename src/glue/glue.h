/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared by the kernel glue files (not seen by the C++ core).
 */
#ifndef FORKSCOPE_GLUE_H
#define FORKSCOPE_GLUE_H

#undef pr_fmt
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/types.h>

struct forkscope_probe_health;

/* symbols.c: every anchor's kernel symbol, resolved once at load. */
int forkscope_symbols_resolve(const char *deny_list);
void forkscope_symbols_release(void);
unsigned long forkscope_symbol_address(unsigned int anchor);
const char *forkscope_symbol_name(unsigned int anchor);	/* NULL if absent */
/* Any kernel symbol's address (0 if absent); only after forkscope_symbols_resolve. */
unsigned long forkscope_symbol_lookup(const char *name);
/* Never called: keeps the probe plan's ftrace filter from ever being empty. */
void forkscope_ftrace_parking(void);
/* Debian's kernel.unprivileged_userns_clone, or NULL if this kernel lacks it. */
const int *forkscope_unprivileged_userns_clone(void);

/* Which hooks the plan may use (module parameter mechanism=). */
enum forkscope_mechanism {
	FORKSCOPE_MECH_AUTO,		/* the cheapest per anchor */
	FORKSCOPE_MECH_KPROBE,		/* entries by kprobe instead of ftrace */
	FORKSCOPE_MECH_KRETPROBE,	/* a kretprobe on every anchor (the old plan) */
};

/*
 * plan.c: the probe plan. build: chooses and registers every anchor's hooks
 * (disarmed), then arms what the core wants; floor: empty handlers (the
 * hooks' own cost, for the benchmark). sync: arms and disarms to match
 * forkscope_core_wanted_anchors(); call after every control write. May sleep.
 */
int forkscope_plan_build(int max_inflight, bool floor, enum forkscope_mechanism mechanism);
int forkscope_plan_sync(void);
/*
 * After a control write: arms at once what is newly wanted, disarms what is
 * no longer wanted a little later (coalescing quick toggles). May sleep.
 */
int forkscope_plan_follow(void);
void forkscope_plan_destroy(void);
/* Fills out[anchor] for every anchor; returns the count. */
unsigned int forkscope_plan_health(struct forkscope_probe_health *out, unsigned int max);
void forkscope_plan_memory(u64 *kretprobe_bytes, u64 *plan_bytes);

/*
 * plan.c, for calibrate.c: a hook of the calibration's own on its target
 * (anchor: forkscope_core_calib_begin's), whose probes run the real
 * handlers; registered and unregistered by the calibration, freed after.
 */
struct ftrace_ops;
struct ftrace_regs;
struct kprobe;
struct kretprobe;
struct kretprobe_instance;
struct pt_regs;
struct forkscope_calib_probes {
	struct kprobe *entry_kp;	/* entry by kprobe */
	struct kprobe *site_kp;		/* the call site (NULL: none found) */
	struct kretprobe *rp;
};
unsigned long forkscope_calib_target_ip(void);
int forkscope_plan_calib_hook_new(unsigned int anchor, unsigned long target, unsigned long site,
				  struct forkscope_calib_probes *out);
void forkscope_plan_calib_hook_free(void);
/* The plan's own ftrace callback, for the calibration's ftrace_ops. */
typedef void (*forkscope_ftrace_cb)(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *op, struct ftrace_regs *fregs);
forkscope_ftrace_cb forkscope_plan_calib_ftrace_func(void);
/* The real kretprobe entry handler, for a wrapper that stamps its end. */
int forkscope_plan_calib_rp_entry(struct kretprobe_instance *ri, struct pt_regs *regs);

/*
 * calibrate.c: each hook mechanism's cost on a known-cost target of our own.
 * forkscope_calibrate measures afresh (may sleep; registers and unregisters
 * its own probes); at_load queues one in the background; stop waits for it.
 */
struct dentry;
int forkscope_calibrate(void);
void forkscope_calibrate_at_load(void);
void forkscope_calibrate_stop(void);
void forkscope_calibrate_debugfs(struct dentry *dir);

/* debugfs.c */
int forkscope_debugfs_create(void);
void forkscope_debugfs_remove(void);
void forkscope_debugfs_wake_readers(void);

#endif /* FORKSCOPE_GLUE_H */
