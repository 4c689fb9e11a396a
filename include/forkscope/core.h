/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The core's C interface, called by the kernel glue: lifecycle, probe events
 * and debugfs text. Implemented in C++ (src/core/core_api.cpp).
 */
#ifndef FORKSCOPE_CORE_H
#define FORKSCOPE_CORE_H

#include <forkscope/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FS_VERSION "0.1.0"

/* Health of one kernel probe, as the glue sees it. */
struct fs_probe_health {
	const char *symbol;   /* kernel function probed */
	fs_u64 hits;          /* handler invocations */
	fs_u64 missed;        /* kprobe/kretprobe nmissed */
	int registered;       /* 1 if armed */
};

/* Build and environment facts shown in the version file. */
struct fs_build_info {
	const char *kernel_release;  /* utsname()->release of the running kernel */
	const char *built_for;       /* UTS_RELEASE the module was built against */
	const char *compiler;        /* CONFIG_CC_VERSION_TEXT */
};

/* Creates the core's state. May sleep. 0 or -errno (with a log line saying why). */
int fs_core_init(void);
/* Frees everything fs_core_init made; probes must already be gone. May sleep. */
void fs_core_exit(void);

/* kernel_clone returned ret (child pid, or -errno). Probe context. */
void fs_core_on_clone_return(fs_s64 ret);

/*
 * debugfs text into buf (NUL-terminated); returns the length, or -FS_ENOSPC
 * if buf was too small (the caller retries with a larger one). May sleep.
 */
fs_s64 fs_core_format_version(char *buf, fs_size_t size, const struct fs_build_info *info);
fs_s64 fs_core_format_counters(char *buf, fs_size_t size, const struct fs_probe_health *probes,
			       unsigned int nr_probes);

#ifdef __cplusplus
}
#endif

#endif /* FORKSCOPE_CORE_H */
