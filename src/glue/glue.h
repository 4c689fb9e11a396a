/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared by the kernel glue files (not seen by the C++ core).
 */
#ifndef FORKSCOPE_GLUE_H
#define FORKSCOPE_GLUE_H

#undef pr_fmt
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/types.h>

struct fs_probe_health;

/* symbols.c: the kernel symbols forkscope needs, resolved once at load. */
enum fs_symbol_id {
	FS_SYM_KERNEL_CLONE,
	FS_SYM_COUNT,
};

int fs_symbols_resolve(const char *deny_list);
unsigned long fs_symbol_address(enum fs_symbol_id id);
const char *fs_symbol_name(enum fs_symbol_id id);

/* probes.c: arming and disarming the kernel probes. */
int fs_probes_register(int max_inflight);
void fs_probes_unregister(void);
unsigned int fs_probes_health(struct fs_probe_health *out, unsigned int max);

/* debugfs.c */
int fs_debugfs_create(void);
void fs_debugfs_remove(void);

#endif /* FORKSCOPE_GLUE_H */
