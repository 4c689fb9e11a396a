// SPDX-License-Identifier: GPL-2.0
/*
 * forkscope benchmark workloads (static, run in the guest).
 *
 *   fs_bench run WORKLOAD ITERS REPS WORKERS
 *     WORKLOAD: fork vfork spawn thread clone3_newuts forkexec
 *     WORKERS processes each do ITERS operations, REPS times; for each rep
 *     prints "rep N ns_per_op X": wall time from a common start to the last
 *     worker's end, divided by ITERS (per-worker time per operation).
 *   fs_bench scale rss MIB ITERS | scale vmas COUNT ITERS
 *     builds the parent (MIB of touched 4 KiB anonymous pages, or COUNT
 *     separate one-page mappings that cannot merge), then for each of fork,
 *     vfork and clone(CLONE_VM): resets forkscope, filters on its own tgid,
 *     does ITERS creations and prints forkscope's stats file between markers.
 *
 * The program spawned/exec'd is FS_TRUE (default /opt/forkscope/add/fs_true).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static const char *fs_true = "/opt/forkscope/add/fs_true";
#define FS_DIR "/sys/kernel/debug/forkscope/"

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void reap(pid_t pid)
{
	int status;

	if (pid < 0)
		die("create");
	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "child failed: status %#x\n", status);
		exit(2);
	}
}

static void *thread_fn(void *arg)
{
	return arg;
}

static int clone_vm_child(void *arg)
{
	(void)arg;
	return 0;
}

static void op_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	reap(pid);
}

static void op_vfork(void)
{
	pid_t pid = vfork();

	if (pid == 0)
		_exit(0);
	reap(pid);
}

static void op_spawn(void)
{
	char *argv[] = { (char *)fs_true, NULL };
	pid_t pid;
	int err = posix_spawn(&pid, fs_true, NULL, NULL, argv, environ);

	if (err) {
		errno = err;
		die("posix_spawn");
	}
	reap(pid);
}

static void op_thread(void)
{
	pthread_t t;
	int err = pthread_create(&t, NULL, thread_fn, NULL);

	if (err) {
		errno = err;
		die("pthread_create");
	}
	pthread_join(t, NULL);
}

static void op_clone3_newuts(void)
{
	struct clone_args args;
	long pid;

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_NEWUTS;
	args.exit_signal = SIGCHLD;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		syscall(SYS_exit, 0);
	reap((pid_t)pid);
}

static void op_forkexec(void)
{
	char *argv[] = { (char *)fs_true, NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execve(fs_true, argv, environ);
		_exit(127);
	}
	reap(pid);
}

static char clone_stack[64 * 1024] __attribute__((aligned(16)));

static void op_clone_vm(void)
{
	/* CLONE_VM only: a new thread group sharing the mm (no CLONE_VFORK). */
	reap(clone(clone_vm_child, clone_stack + sizeof(clone_stack),
		   CLONE_VM | SIGCHLD, NULL));
}

struct workload {
	const char *name;
	void (*op)(void);
};

static const struct workload workloads[] = {
	{ "fork", op_fork },
	{ "vfork", op_vfork },
	{ "spawn", op_spawn },
	{ "thread", op_thread },
	{ "clone3_newuts", op_clone3_newuts },
	{ "forkexec", op_forkexec },
	{ "clone_vm", op_clone_vm },
};

static const struct workload *find_workload(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (!strcmp(workloads[i].name, name))
			return &workloads[i];
	fprintf(stderr, "unknown workload %s\n", name);
	exit(2);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int run(const char *name, long iters, int reps, int workers)
{
	const struct workload *w = find_workload(name);
	uint64_t *per_op = calloc(reps, sizeof(*per_op));
	int go[2], done[2], r;

	if (!per_op)
		die("calloc");
	for (r = 0; r < reps; r++) {
		uint64_t start, end;
		int i;
		char c = 'g';

		if (workers == 1) {
			w->op(); /* warm-up */
			start = now_ns();
			for (long n = 0; n < iters; n++)
				w->op();
			end = now_ns();
			per_op[r] = (end - start) / iters;
			printf("rep %d ns_per_op %llu\n", r, (unsigned long long)per_op[r]);
			continue;
		}
		if (pipe(go) || pipe(done))
			die("pipe");
		for (i = 0; i < workers; i++) {
			pid_t pid = fork();

			if (pid < 0)
				die("fork worker");
			if (pid == 0) {
				close(go[1]);
				w->op();
				if (read(go[0], &c, 1) != 0)
					_exit(3);
				for (long n = 0; n < iters; n++)
					w->op();
				_exit(0);
			}
		}
		close(go[0]);
		close(done[0]);
		close(done[1]);
		usleep(100000);
		start = now_ns();
		close(go[1]); /* all workers start on EOF */
		for (i = 0; i < workers; i++) {
			int status;

			if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
				die("worker");
		}
		end = now_ns();
		per_op[r] = (end - start) / iters;
		printf("rep %d ns_per_op %llu\n", r, (unsigned long long)per_op[r]);
	}
	qsort(per_op, reps, sizeof(*per_op), cmp_u64);
	printf("median ns_per_op %llu\n", (unsigned long long)per_op[reps / 2]);
	free(per_op);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(path);
	close(fd);
}

static void cat_file(const char *path)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		die(path);
	fflush(stdout);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(1, buf, n) != n)
			die("write");
	close(fd);
}

static long rss_kib(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/status", "r");
	long v = -1;

	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "VmRSS: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static long count_vmas(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;

	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		n++;
	fclose(f);
	return n;
}

static int scale(const char *what, long size, long iters)
{
	static const char *kinds[] = { "fork", "vfork", "clone_vm" };
	long page = sysconf(_SC_PAGESIZE);
	char filter[64];
	size_t k;

	if (!strcmp(what, "rss")) {
		size_t len = (size_t)size << 20;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			die("mmap");
		/* 4 KiB pages: what fork copies page-table entry by entry. */
		madvise(p, len, MADV_NOHUGEPAGE);
		for (size_t off = 0; off < len; off += page)
			p[off] = 1;
	} else if (!strcmp(what, "vmas")) {
		size_t len = (size_t)size * page;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			die("mmap");
		/* Alternating protections: neighbours never merge. */
		for (long i = 0; i < size; i++) {
			if (i % 2 && mprotect(p + i * page, page, PROT_READ))
				die("mprotect");
			if (i % 2)
				(void)*(volatile char *)(p + i * page);
			else
				p[i * page] = 1;
		}
	} else {
		fprintf(stderr, "scale rss|vmas\n");
		return 2;
	}
	printf("@@scale %s %ld rss_kib %ld vmas %ld\n", what, size, rss_kib(), count_vmas());
	snprintf(filter, sizeof(filter), "tgid=%d", getpid());
	write_file(FS_DIR "filter", filter);
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct workload *w = find_workload(kinds[k]);
		uint64_t start, end;

		write_file(FS_DIR "control", "reset");
		start = now_ns();
		for (long n = 0; n < iters; n++)
			w->op();
		end = now_ns();
		printf("@@stats-begin %s %s %ld wall_ns_per_op %llu\n", what, kinds[k], size,
		       (unsigned long long)((end - start) / iters));
		cat_file(FS_DIR "stats");
		printf("@@stats-end\n");
		fflush(stdout);
	}
	write_file(FS_DIR "filter", "clear");
	return 0;
}

int main(int argc, char **argv)
{
	const char *t = getenv("FS_TRUE");

	if (t)
		fs_true = t;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && !strcmp(argv[1], "run"))
		return run(argv[2], atol(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (argc == 5 && !strcmp(argv[1], "scale"))
		return scale(argv[2], atol(argv[3]), atol(argv[4]));
	fprintf(stderr,
		"usage: fs_bench run WORKLOAD ITERS REPS WORKERS\n"
		"       fs_bench scale rss|vmas SIZE ITERS\n");
	return 2;
}
