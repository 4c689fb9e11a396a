// SPDX-License-Identifier: GPL-2.0
/*
 * fs_workload: creates processes in a chosen way, N times, and reaps them;
 * the workload for make demo, make bench and users' own experiments.
 * Usage: fs_workload KIND COUNT, KIND = fork | vfork | thread | fork-exec
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *thread_body(void *arg)
{
	return arg;
}

static int reap(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? 0 : -1;
}

static int one(const char *kind, const char *self)
{
	pthread_t thread;
	pid_t pid;

	if (!strcmp(kind, "fork")) {
		pid = fork();
		if (pid == 0)
			_exit(0);
		return pid < 0 ? -1 : reap(pid);
	}
	if (!strcmp(kind, "vfork")) {
		pid = vfork();
		if (pid == 0)
			_exit(0);
		return pid < 0 ? -1 : reap(pid);
	}
	if (!strcmp(kind, "thread")) {
		if (pthread_create(&thread, NULL, thread_body, NULL))
			return -1;
		return pthread_join(thread, NULL) ? -1 : 0;
	}
	if (!strcmp(kind, "fork-exec")) {
		pid = fork();
		if (pid == 0) {
			execl(self, self, "exit", NULL);
			_exit(127);
		}
		return pid < 0 ? -1 : reap(pid);
	}
	return -2;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	long i, count;
	double ns;

	if (argc == 2 && !strcmp(argv[1], "exit"))
		return 0;
	if (argc != 3 || (count = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: %s fork|vfork|thread|fork-exec COUNT\n", argv[0]);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < count; i++) {
		int err = one(argv[1], argv[0]);

		if (err == -2) {
			fprintf(stderr, "unknown kind '%s'\n", argv[1]);
			return 2;
		}
		if (err) {
			perror(argv[1]);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("%s x%ld: %.0f ns each (wall time in this VM; TCG is not real hardware)\n",
	       argv[1], count, ns / count);
	return 0;
}
