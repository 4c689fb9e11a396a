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
/* Debian's kernel.unprivileged_userns_clone, or NULL if this kernel lacks it. */
const int *forkscope_unprivileged_userns_clone(void);

/*
 * probes.c: one kretprobe per resolved anchor; floor: empty handlers (the
 * probes' own cost, for the benchmark).
 */
int forkscope_probes_register(int max_inflight, bool floor);
void forkscope_probes_unregister(void);
/* Fills out[anchor] for every anchor; returns the count. */
unsigned int forkscope_probes_health(struct forkscope_probe_health *out, unsigned int max);

/* debugfs.c */
int forkscope_debugfs_create(void);
void forkscope_debugfs_remove(void);
void forkscope_debugfs_wake_readers(void);

#endif /* FORKSCOPE_GLUE_H */
