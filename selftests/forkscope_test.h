/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by forkscope's in-guest kselftests: module load/unload by
 * syscall, debugfs reads, the kernel's /proc/stat creation counter, and
 * small workloads. Built static so the busybox guest needs no libraries.
 */
#ifndef FORKSCOPE_TEST_H
#define FORKSCOPE_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define FS_MODULE_PATH "/opt/forkscope/forkscope.ko"
#define FS_DEBUGFS "/sys/kernel/debug/forkscope"

/* Loads forkscope.ko with params; 0 or -errno from finit_module. */
static inline int fs_load(const char *params)
{
	int fd = open(FS_MODULE_PATH, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, params ? params : "", 0) != 0)
		err = -errno;
	close(fd);
	return err;
}

/* Unloads forkscope; 0, or -errno (-ENOENT if it was not loaded). */
static inline int fs_unload(void)
{
	int tries;

	/* The module may be briefly busy while a debugfs reader closes. */
	for (tries = 0; tries < 100; tries++) {
		if (syscall(SYS_delete_module, "forkscope", O_NONBLOCK) == 0)
			return 0;
		if (errno != EAGAIN && errno != EBUSY)
			return -errno;
		usleep(10000);
	}
	return -EBUSY;
}

static inline int fs_is_loaded(void)
{
	return access("/sys/module/forkscope", F_OK) == 0;
}

/*
 * Leaves forkscope unloaded, also when an earlier test was killed while
 * loading or unloading it: -ENOENT means someone else's unload finished.
 * A load in progress cannot be interrupted; on a debug kernel it can take
 * many seconds, so this waits up to a minute for it to finish.
 */
static inline int fs_unload_if_loaded(void)
{
	int tries, err;

	for (tries = 0; tries < 600 && fs_is_loaded(); tries++) {
		err = fs_unload();
		if (err && err != -ENOENT && err != -EBUSY)
			return err;
		if (err)
			usleep(100000);
	}
	return fs_is_loaded() ? -EBUSY : 0;
}

/* Reads a whole file into buf (NUL-terminated); returns length or -errno. */
static inline ssize_t fs_read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0) {
			int err = errno;

			close(fd);
			return -err;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	close(fd);
	return len;
}

/*
 * One write() of len bytes to a forkscope debugfs file (control, filter):
 * its result, with errno kept from the write, not from close.
 */
static inline ssize_t fs_write_debugfs(const char *name, const void *data, size_t len)
{
	char path[128];
	ssize_t ret;
	int fd, err;

	snprintf(path, sizeof(path), FS_DEBUGFS "/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = write(fd, data, len);
	err = errno;
	close(fd);
	errno = err;
	return ret;
}

/* Value of "key N" at the start of a line in text; -1 if absent. */
static inline long long fs_find_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* A counter from forkscope's counters file; -1 if unreadable. */
static inline long long fs_counter(const char *key)
{
	static char buf[65536];

	if (fs_read_file(FS_DEBUGFS "/counters", buf, sizeof(buf)) < 0)
		return -1;
	return fs_find_value(buf, key);
}

/* The kernel's own count of created tasks (total_forks), /proc/stat "processes". */
static inline long long fs_proc_stat_processes(void)
{
	static char buf[65536];

	if (fs_read_file("/proc/stat", buf, sizeof(buf)) < 0)
		return -1;
	return fs_find_value(buf, "processes");
}

/*
 * Reads forkscope's creations and the kernel's processes counter as one
 * consistent pair: retries while a background creation lands in between.
 */
static inline int fs_snapshot_creations(long long *creations, long long *processes)
{
	int tries;

	for (tries = 0; tries < 50; tries++) {
		long long c0 = fs_counter("creations");
		long long p = fs_proc_stat_processes();
		long long c1 = fs_counter("creations");

		if (c0 < 0 || p < 0)
			return -1;
		if (c0 == c1 && fs_proc_stat_processes() == p) {
			*creations = c0;
			*processes = p;
			return 0;
		}
	}
	return -1;
}

/* Kernel log text containing needle, read with klogctl; 1 if found. */
static inline int fs_klog_contains(const char *needle)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	int n, found;

	if (size <= 0)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	found = strstr(buf, needle) != NULL;
	free(buf);
	return found;
}

/* Workloads: each creates exactly n tasks and reaps them; 0 on success. */
static inline int fs_do_forks(int n)
{
	int i, status;

	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return -1;
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			return -1;
	}
	return 0;
}

static inline int fs_do_vforks(int n)
{
	volatile int i;	/* vfork: the child runs on our stack */
	int status;

	for (i = 0; i < n; i++) {
		pid_t pid = vfork();

		if (pid < 0)
			return -1;
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			return -1;
	}
	return 0;
}

static void *fs_thread_body(void *arg)
{
	return arg;
}

static inline int fs_do_threads(int n)
{
	int i;

	for (i = 0; i < n; i++) {
		pthread_t thread;

		if (pthread_create(&thread, NULL, fs_thread_body, NULL) != 0)
			return -1;
		if (pthread_join(thread, NULL) != 0)
			return -1;
	}
	return 0;
}

#endif /* FORKSCOPE_TEST_H */
