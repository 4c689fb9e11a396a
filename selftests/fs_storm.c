// SPDX-License-Identifier: GPL-2.0
/*
 * Storm helpers for scripts/storm-guest.sh: exact-count creation loops that
 * stress-ng does not cover (clone3 into new namespaces, clones that fail) and a
 * fork-free snapshot of forkscope's accounting next to /proc/stat.
 */
#include "forkscope_test.h"

#include <linux/sched.h>
#include <grp.h>
#include <stdint.h>

static long clone3_call(struct clone_args *args)
{
	return syscall(SYS_clone3, args, sizeof(*args));
}

/* n children, each in new UTS, IPC, PID and mount namespaces; 0 if all ran. */
static int clone3_namespaces(long n)
{
	long i;

	for (i = 0; i < n; i++) {
		struct clone_args args = {
			.flags = CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNS,
			.exit_signal = SIGCHLD,
		};
		long pid = clone3_call(&args);
		int status;

		if (pid == 0)
			_exit(0);
		if (pid < 0 || waitpid(pid, &status, 0) != pid)
			return 1;
	}
	return 0;
}

/* n clones that copy_process (or clone3's checks) must refuse; 0 if all did. */
static int failing_clones(long n)
{
	long i;

	for (i = 0; i < n; i++) {
		struct clone_args bad_args = { .flags = CLONE_NEWUSER | CLONE_FS,
					       .exit_signal = SIGCHLD };
		long ret;

		switch (i % 3) {
		case 0: /* CLONE_SIGHAND without CLONE_VM */
			ret = syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0);
			break;
		case 1: /* a new user namespace cannot share fs */
			ret = clone3_call(&bad_args);
			break;
		default: /* CLONE_THREAD without CLONE_SIGHAND */
			ret = syscall(SYS_clone, CLONE_THREAD | CLONE_VM | SIGCHLD, 0, 0, 0, 0);
			break;
		}
		if (ret == 0)
			_exit(0);
		if (ret != -1 || errno != EINVAL)
			return 1;
	}
	return 0;
}

/* One consistent line of forkscope's accounting and the kernel's counter. */
static int snapshot(void)
{
	static char buf[65536];
	long long creations, processes;

	if (fs_snapshot_creations(&creations, &processes))
		return 1;
	if (fs_read_file(FS_DEBUGFS "/counters", buf, sizeof(buf)) < 0)
		return 1;
	printf("processes=%lld creations=%lld recorded=%lld filtered=%lld sampled_out=%lld "
	       "disabled=%lld untracked=%lld probes_missed=%lld records=%lld "
	       "ring_overwritten=%lld filter_contended=%lld clone_failures=%lld "
	       "verdict_mismatched=%lld execs=%lld spawns=%lld\n",
	       processes, creations, fs_find_value(buf, "recorded"),
	       fs_find_value(buf, "filtered"), fs_find_value(buf, "sampled_out"),
	       fs_find_value(buf, "disabled"), fs_find_value(buf, "untracked"),
	       fs_find_value(buf, "probes_missed"), fs_find_value(buf, "records"),
	       fs_find_value(buf, "ring_overwritten"), fs_find_value(buf, "filter_contended"),
	       fs_find_value(buf, "clone_failures"), fs_find_value(buf, "verdict_mismatched"),
	       fs_find_value(buf, "execs"), fs_find_value(buf, "spawns"));
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 0;

	if (argc == 2 && !strcmp(argv[1], "snapshot"))
		return snapshot();
	if (argc == 3 && !strcmp(argv[1], "clone3-ns"))
		return clone3_namespaces(n);
	if (argc == 3 && !strcmp(argv[1], "failing"))
		return failing_clones(n);
	if (argc > 2 && !strcmp(argv[1], "as-nobody")) {
		/* busybox has no chpst here; stress-ng's exec stressor refuses root. */
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			return 1;
		execvp(argv[2], argv + 2);
		return 127;
	}
	fprintf(stderr, "usage: %s snapshot | clone3-ns N | failing N | as-nobody CMD...\n",
		argv[0]);
	return 2;
}
