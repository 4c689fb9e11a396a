// SPDX-License-Identifier: GPL-2.0
/*
 * forkscope's classification of creations: fork, vfork, thread, clone,
 * clone3, kthread, io_worker and umh, each made for real and found in the
 * records with its origin and decoded flags; failing clones (EINVAL combos,
 * EAGAIN under RLIMIT_NPROC) are records with their errno but no statistics.
 */
#include "forkscope_test.h"
#include "fs_json.h"

#include <dirent.h>
#include <linux/io_uring.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "fs_harness.h"

#define COMM "fs_kinds"

extern char **environ;

struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

static pid_t sys_clone3(uint64_t flags, uint64_t exit_signal)
{
	struct clone3_args args = { .flags = flags, .exit_signal = exit_signal };

	return syscall(__NR_clone3, &args, sizeof(args));
}

static int reap(pid_t pid)
{
	int status;

	return waitpid(pid, &status, __WALL) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The records file and its creation records, parsed. */
struct recs {
	struct fs_records file;
	struct fs_record *r;
	int n;
};

static void recs_free(struct recs *recs)
{
	free(recs->r);
	recs->r = NULL;
	fs_records_free(&recs->file);
}

/* Creation ("fork" event) records only; every line must parse. */
static void recs_read(struct __test_metadata *_metadata, struct recs *recs)
{
	int i, ret;

	ASSERT_EQ(0, fs_records_read(FS_DEBUGFS "/records", &recs->file));
	recs->n = 0;
	recs->r = calloc(recs->file.count + 1, sizeof(*recs->r));
	ASSERT_NE(NULL, recs->r);
	for (i = 0; i < recs->file.count; i++) {
		ret = fs_record_parse(recs->file.lines[i], &recs->r[recs->n]);
		EXPECT_LE(0, ret) TH_LOG("unparsable record: %s", recs->file.lines[i]);
		recs->n += ret == 0;
	}
}

/* The record of a successful creation of pid; NULL if none or several. */
static const struct fs_record *by_child(const struct recs *recs, pid_t pid)
{
	const struct fs_record *found = NULL;
	int i;

	for (i = 0; i < recs->n; i++) {
		if (recs->r[i].ret > 0 && recs->r[i].child_pid == pid) {
			if (found)
				return NULL;
			found = &recs->r[i];
		}
	}
	return found;
}

/* Checks the record of child pid: kind, origin, flags, parent. */
static void expect_kind(struct __test_metadata *_metadata, const struct recs *recs, pid_t pid,
			const char *kind, const char *origin, const char *flags)
{
	const struct fs_record *r = by_child(recs, pid);

	ASSERT_NE(NULL, r) TH_LOG("no single record of child %d (want %s)", pid, kind);
	EXPECT_STREQ(kind, r->kind) TH_LOG("record: %s", r->line);
	EXPECT_STREQ(origin, r->origin) TH_LOG("record: %s", r->line);
	if (flags)
		EXPECT_STREQ(flags, r->flags) TH_LOG("record: %s", r->line);
	EXPECT_EQ(getpid(), r->parent_tgid);
	EXPECT_STREQ(COMM, r->comm);
	EXPECT_EQ(pid, r->ret);
	EXPECT_STREQ("", r->err);
}

/* The last creation finished so far (completion order, not seq: seq is per CPU). */
static struct fs_order last_order(struct __test_metadata *_metadata)
{
	struct fs_order last = { 0, 0 };
	struct recs recs;
	int i;

	recs_read(_metadata, &recs);
	for (i = 0; i < recs.n; i++)
		fs_order_max(&last, &recs.r[i].order);
	recs_free(&recs);
	return last;
}


FIXTURE(loaded) {
	int unused;
};

FIXTURE_SETUP(loaded)
{
	ASSERT_EQ(0, fs_unload_if_loaded());
	ASSERT_EQ(0, fs_load(NULL));
	ASSERT_EQ(0, prctl(PR_SET_NAME, COMM, 0, 0, 0));
}

FIXTURE_TEARDOWN(loaded)
{
	fs_unload();
}

TEST_F(loaded, fork_syscall_and_glibc_fork_are_fork)
{
	struct recs recs;
	pid_t sys, libc, raw;

	sys = syscall(SYS_fork);
	if (sys == 0)
		_exit(0);
	ASSERT_LT(0, sys);
	libc = fork();
	if (libc == 0)
		_exit(0);
	ASSERT_LT(0, libc);
	/* clone(2) with only SIGCHLD is a fork too. */
	raw = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (raw == 0)
		_exit(0);
	ASSERT_LT(0, raw);
	EXPECT_EQ(0, reap(sys));
	EXPECT_EQ(0, reap(libc));
	EXPECT_EQ(0, reap(raw));
	recs_read(_metadata, &recs);
	expect_kind(_metadata, &recs, sys, "fork", "fork", "SIGCHLD");
	expect_kind(_metadata, &recs, libc, "fork", "clone",
		    "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD");
	expect_kind(_metadata, &recs, raw, "fork", "clone", "SIGCHLD");
	recs_free(&recs);
}

TEST_F(loaded, vfork_and_posix_spawn_are_vfork)
{
	char *const argv[] = { "sh", "-c", "exit 0", NULL };
	const struct fs_record *r;
	struct recs recs;
	pid_t vf, spawned;

	vf = vfork();
	if (vf == 0)
		_exit(0);
	ASSERT_LT(0, vf);
	EXPECT_EQ(0, reap(vf));
	ASSERT_EQ(0, posix_spawn(&spawned, "/bin/sh", NULL, NULL, argv, environ));
	EXPECT_EQ(0, reap(spawned));
	recs_read(_metadata, &recs);
	expect_kind(_metadata, &recs, vf, "vfork", "vfork", "CLONE_VM|CLONE_VFORK|SIGCHLD");
	/* glibc's posix_spawn: CLONE_VM|CLONE_VFORK through clone3 or clone. */
	r = by_child(&recs, spawned);
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("vfork", r->kind) TH_LOG("record: %s", r->line);
	EXPECT_EQ(CLONE_VM | CLONE_VFORK, r->flags_raw & (CLONE_VM | CLONE_VFORK));
	EXPECT_TRUE(!strcmp(r->origin, "clone3") || !strcmp(r->origin, "clone"))
		TH_LOG("record: %s", r->line);
	EXPECT_LT(0, r->vfork_wait_ns);
	recs_free(&recs);
}

static void *thread_tid(void *arg)
{
	*(pid_t *)arg = gettid();
	return NULL;
}

TEST_F(loaded, pthread_is_thread)
{
	const struct fs_record *r;
	struct recs recs;
	pthread_t thread;
	pid_t tid = 0;

	ASSERT_EQ(0, pthread_create(&thread, NULL, thread_tid, &tid));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_LT(0, tid);
	recs_read(_metadata, &recs);
	r = by_child(&recs, tid);
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("thread", r->kind) TH_LOG("record: %s", r->line);
	EXPECT_EQ(getpid(), r->parent_pid);
	EXPECT_TRUE(r->flags_raw & CLONE_THREAD);
	EXPECT_NE(NULL, strstr(r->flags, "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD"))
		TH_LOG("record: %s", r->line);
	EXPECT_EQ(0, r->exit_signal);
	recs_free(&recs);
}

static int clone_child(void *arg)
{
	return 0;
}

TEST_F(loaded, raw_clone_is_clone)
{
	static char stack[2][64 * 1024] __attribute__((aligned(16)));
	struct recs recs;
	pid_t vm, uts, nosig;

	/* Shared VM without a thread: glibc's clone(), a stack of our own. */
	vm = clone(clone_child, stack[0] + sizeof(stack[0]), CLONE_VM | SIGCHLD, NULL);
	ASSERT_LT(0, vm);
	uts = clone(clone_child, stack[1] + sizeof(stack[1]), CLONE_NEWUTS | SIGCHLD, NULL);
	ASSERT_LT(0, uts) TH_LOG("clone(CLONE_NEWUTS): %s", strerror(errno));
	/* A fork-like clone(2) with no exit signal is not a fork. */
	nosig = syscall(SYS_clone, 0, 0, 0, 0, 0);
	if (nosig == 0)
		_exit(0);
	ASSERT_LT(0, nosig);
	EXPECT_EQ(0, reap(vm));
	EXPECT_EQ(0, reap(uts));
	EXPECT_EQ(0, reap(nosig));
	recs_read(_metadata, &recs);
	expect_kind(_metadata, &recs, vm, "clone", "clone", "CLONE_VM|SIGCHLD");
	expect_kind(_metadata, &recs, uts, "clone", "clone", "CLONE_NEWUTS|SIGCHLD");
	expect_kind(_metadata, &recs, nosig, "clone", "clone", "0");
	recs_free(&recs);
}

TEST_F(loaded, clone3_is_clone3)
{
	struct recs recs;
	pid_t uts, pidns, plain;

	uts = sys_clone3(CLONE_NEWUTS, SIGCHLD);
	if (uts == 0)
		_exit(0);
	ASSERT_LT(0, uts) TH_LOG("clone3(CLONE_NEWUTS): %s", strerror(errno));
	pidns = sys_clone3(CLONE_NEWPID, SIGCHLD);
	if (pidns == 0)
		_exit(0);
	ASSERT_LT(0, pidns) TH_LOG("clone3(CLONE_NEWPID): %s", strerror(errno));
	plain = sys_clone3(0, SIGCHLD);
	if (plain == 0)
		_exit(0);
	ASSERT_LT(0, plain);
	EXPECT_EQ(0, reap(uts));
	EXPECT_EQ(0, reap(pidns));
	EXPECT_EQ(0, reap(plain));
	recs_read(_metadata, &recs);
	expect_kind(_metadata, &recs, uts, "clone3", "clone3", "CLONE_NEWUTS|SIGCHLD");
	expect_kind(_metadata, &recs, pidns, "clone3", "clone3", "CLONE_NEWPID|SIGCHLD");
	expect_kind(_metadata, &recs, plain, "clone3", "clone3", "SIGCHLD");
	recs_free(&recs);
}

#define THP "/sys/kernel/mm/transparent_hugepage/enabled"

static int write_str(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Pid of the task whose comm is name, 0 if none. */
/* A task named name other than skip (0: any), or 0. */
static pid_t find_comm(const char *name, pid_t skip)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	while (dir && (de = readdir(dir))) {
		char path[300], comm[32];

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (fs_read_file(path, comm, sizeof(comm)) > 0 &&
		    !strncmp(comm, name, strlen(name)) && comm[strlen(name)] == '\n' &&
		    atoi(de->d_name) != skip) {
			found = atoi(de->d_name);
			break;
		}
	}
	if (dir)
		closedir(dir);
	return found;
}

TEST_F(loaded, kthreadd_creations_are_kthread)
{
	const struct fs_record *r = NULL;
	char mode[128], *open_br, *close_br;
	struct recs recs;
	pid_t khugepaged, old;
	int i, tries, from_kthreadd = 0;

	if (fs_read_file(THP, mode, sizeof(mode)) <= 0)
		SKIP(return, "no %s to restart khugepaged with", THP);
	open_br = strchr(mode, '[');
	close_br = open_br ? strchr(open_br, ']') : NULL;
	ASSERT_NE(NULL, close_br);
	*close_br = '\0';
	/* never stops khugepaged, always starts a new one with kthread_run(). */
	old = find_comm("khugepaged", 0);
	ASSERT_EQ(0, write_str(THP, "never"));
	ASSERT_EQ(0, write_str(THP, "always"));
	/* (The stopped one can linger in /proc for a moment: not that one.) */
	for (tries = 0; tries < 100; tries++) {
		khugepaged = find_comm("khugepaged", old);
		if (khugepaged > 0)
			break;
		usleep(10000);
	}
	EXPECT_EQ(0, write_str(THP, open_br + 1));
	ASSERT_LT(0, khugepaged);
	/* kthreadd's kernel_clone returns after the new thread is running. */
	for (tries = 0; tries < 100; tries++) {
		recs_read(_metadata, &recs);
		r = by_child(&recs, khugepaged);
		if (r)
			break;
		recs_free(&recs);
		usleep(20000);
	}
	ASSERT_NE(NULL, r) TH_LOG("no record of the new khugepaged (pid %d)", khugepaged);
	EXPECT_STREQ("kthread", r->kind) TH_LOG("record: %s", r->line);
	EXPECT_STREQ("kthreadd", r->comm);
	EXPECT_STREQ("kernel", r->origin);
	EXPECT_EQ(2, r->parent_pid);
	EXPECT_TRUE(r->flags_raw & CLONE_VM);
	EXPECT_TRUE(r->flags_raw & CLONE_UNTRACED);
	for (i = 0; i < recs.n; i++) {
		if (strcmp(recs.r[i].comm, "kthreadd"))
			continue;
		from_kthreadd++;
		EXPECT_STREQ("kthread", recs.r[i].kind) TH_LOG("record: %s", recs.r[i].line);
	}
	EXPECT_LE(1, from_kthreadd);
	recs_free(&recs);
}

TEST_F(loaded, io_uring_worker_is_io_worker)
{
	struct io_uring_params p;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned int *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, index;
	const struct fs_record *r = NULL;
	size_t sq_size, cq_size;
	char *sq, *cq, path[96], comm[32];
	struct recs recs;
	int fd, i, workers = 0;

	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0 && (errno == ENOSYS || errno == EPERM || errno == EACCES))
		SKIP(return, "io_uring unavailable: %s", strerror(errno));
	ASSERT_LE(0, fd) TH_LOG("io_uring_setup: %s", strerror(errno));
	sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		  IORING_OFF_SQ_RING);
	ASSERT_NE(MAP_FAILED, sq);
	cq = mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		  IORING_OFF_CQ_RING);
	ASSERT_NE(MAP_FAILED, cq);
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	ASSERT_NE(MAP_FAILED, sqes);
	sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	sq_array = (unsigned int *)(sq + p.sq_off.array);
	cq_head = (unsigned int *)(cq + p.cq_off.head);
	cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);

	/* A NOP forced to io-wq: the first async work creates a worker. */
	index = *sq_tail & *sq_mask;
	memset(&sqes[index], 0, sizeof(sqes[index]));
	sqes[index].opcode = IORING_OP_NOP;
	sqes[index].flags = IOSQE_ASYNC;
	sqes[index].user_data = 0x666f726b;
	sq_array[index] = index;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	ASSERT_EQ(1, syscall(__NR_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0))
		TH_LOG("io_uring_enter: %s", strerror(errno));
	ASSERT_NE(__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE), *cq_head);
	EXPECT_EQ(0x666f726b, cqes[*cq_head & (p.cq_entries - 1)].user_data);
	EXPECT_EQ(0, cqes[*cq_head & (p.cq_entries - 1)].res);

	recs_read(_metadata, &recs);
	for (i = 0; i < recs.n; i++) {
		if (strcmp(recs.r[i].kind, "io_worker"))
			continue;
		workers++;
		if (recs.r[i].parent_tgid == getpid())
			r = &recs.r[i];
	}
	ASSERT_NE(NULL, r) TH_LOG("no io_worker record among %d records", recs.n);
	EXPECT_EQ(1, workers);
	EXPECT_STREQ(COMM, r->comm);
	EXPECT_EQ(getpid(), r->parent_pid);
	EXPECT_LT(0, r->ret);
	EXPECT_EQ(r->ret, r->child_pid);
	EXPECT_TRUE(r->flags_raw & CLONE_IO) TH_LOG("record: %s", r->line);
	EXPECT_TRUE(r->flags_raw & CLONE_THREAD);
	/* Created by copy_process alone: no kernel_clone steps around it. */
	EXPECT_EQ(r->copy_process_ns, r->total_ns);
	EXPECT_EQ(0, r->clone_prologue_ns);
	EXPECT_EQ(0, r->wake_ns);
	/* The child is the io-wq worker thread in our thread group. */
	snprintf(path, sizeof(path), "/proc/%d/task/%lld/comm", getpid(), r->child_pid);
	ASSERT_LT(0, fs_read_file(path, comm, sizeof(comm)));
	EXPECT_EQ(0, strncmp(comm, "iou-wrk-", 8)) TH_LOG("comm %s", comm);
	recs_free(&recs);
	close(fd);
}

TEST_F(loaded, usermode_helper_is_umh)
{
	static const char magic[16] = "\x01\x02\x03\x04\x05\x06\x07\x08";
	char modprobe[256], path[] = "/tmp/fs_umh_XXXXXX";
	const struct fs_record *r = NULL;
	struct recs recs;
	struct fs_order last;
	int fd, i, tries;
	pid_t pid;

	if (fs_read_file("/proc/sys/kernel/modprobe", modprobe, sizeof(modprobe)) <= 1)
		SKIP(return, "/proc/sys/kernel/modprobe is empty: no usermode helper");
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(magic), write(fd, magic, sizeof(magic)));
	ASSERT_EQ(0, fchmod(fd, 0755));
	close(fd);
	last = last_order(_metadata);
	/* Unknown, non-printable magic: exec asks request_module("binfmt-0403"). */
	pid = fork();
	if (pid == 0) {
		char *argv[] = { path, NULL };

		execve(path, argv, environ);
		_exit(errno == ENOEXEC ? 0 : 1);
	}
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, reap(pid)) TH_LOG("exec of the bad binary did not fail with ENOEXEC");
	unlink(path);
	for (tries = 0; tries < 100 && !r; tries++) {
		recs_read(_metadata, &recs);
		for (i = 0; i < recs.n; i++) {
			if (fs_order_cmp(&recs.r[i].order, &last) > 0 &&
			    !strcmp(recs.r[i].kind, "umh")) {
				r = &recs.r[i];
				break;
			}
		}
		if (!r) {
			recs_free(&recs);
			usleep(20000);
		}
	}
	ASSERT_NE(NULL, r) TH_LOG("no umh record although modprobe is %s", modprobe);
	EXPECT_STREQ("kernel", r->origin) TH_LOG("record: %s", r->line);
	EXPECT_EQ(0, strncmp(r->comm, "kworker/", 8)) TH_LOG("record: %s", r->line);
	EXPECT_TRUE(r->flags_raw & CLONE_VM);
	EXPECT_EQ(SIGCHLD, r->exit_signal);
	EXPECT_LT(0, r->ret);
	recs_free(&recs);
}

/* Failing clones: the record of each, with errno and decoded flags. */
TEST_F(loaded, einval_clones_are_failure_records)
{
	static const struct {
		int clone3;
		unsigned long flags;
		int exit_signal;
		const char *kind, *decoded;
	} cases[] = {
		{ 0, CLONE_SIGHAND, SIGCHLD, "clone", "CLONE_SIGHAND|SIGCHLD" },
		{ 0, CLONE_VM | CLONE_THREAD, 0, "thread", "CLONE_VM|CLONE_THREAD" },
		{ 0, CLONE_NEWNS | CLONE_FS, SIGCHLD, "clone", "CLONE_FS|CLONE_NEWNS|SIGCHLD" },
		{ 1, CLONE_NEWNS | CLONE_FS, SIGCHLD, "clone3", "CLONE_FS|CLONE_NEWNS|SIGCHLD" },
	};
	long long failures = fs_counter("clone_failures");
	long long recorded_failures = fs_counter("recorded_failures");
	struct recs recs;
	unsigned int c;
	int i, found;
	long ret;

	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		if (cases[c].clone3)
			ret = sys_clone3(cases[c].flags, cases[c].exit_signal);
		else
			ret = syscall(SYS_clone, cases[c].flags | cases[c].exit_signal, 0, 0, 0, 0);
		if (ret == 0)
			_exit(0);
		EXPECT_EQ(-1, ret) TH_LOG("case %u created a task", c);
		EXPECT_EQ(EINVAL, errno);
	}
	/* clone3 that fails before kernel_clone (bad exit signal): no record. */
	ret = sys_clone3(0, 0xffff);
	if (ret == 0)
		_exit(0);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EINVAL, errno);

	EXPECT_EQ(failures + ARRAY_SIZE(cases), fs_counter("clone_failures"));
	EXPECT_EQ(recorded_failures + ARRAY_SIZE(cases), fs_counter("recorded_failures"));
	recs_read(_metadata, &recs);
	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		found = 0;
		for (i = 0; i < recs.n; i++) {
			const struct fs_record *r = &recs.r[i];

			if (r->parent_pid != getpid() || r->ret > 0 ||
			    r->flags_raw != (long long)cases[c].flags ||
			    strcmp(r->kind, cases[c].kind))
				continue;
			found++;
			EXPECT_EQ(-EINVAL, r->ret);
			EXPECT_STREQ("EINVAL", r->err);
			EXPECT_EQ(0, r->child_pid);
			EXPECT_EQ(cases[c].exit_signal, r->exit_signal);
			EXPECT_STREQ(cases[c].decoded, r->flags) TH_LOG("record: %s", r->line);
			EXPECT_STREQ(cases[c].clone3 ? "clone3" : "clone", r->origin);
			EXPECT_STREQ(COMM, r->comm);
			/* Refused by the first checks: copy_process is one stage. */
			EXPECT_EQ(r->copy_process_ns, fs_record_stage(r, "dup_task_struct"))
				TH_LOG("record: %s", r->line);
		}
		EXPECT_EQ(1, found) TH_LOG("case %u (%s)", c, cases[c].decoded);
	}
	/* The only failures are the ones above. */
	found = 0;
	for (i = 0; i < recs.n; i++)
		found += recs.r[i].ret < 0;
	EXPECT_EQ(ARRAY_SIZE(cases), found);
	recs_free(&recs);
}

/* Tasks whose real uid is uid (what RLIMIT_NPROC counts). */
static int count_tasks_of(uid_t uid)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	int count = 0;

	while (dir && (de = readdir(dir))) {
		char path[300], status[4096], *line;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if (fs_read_file(path, status, sizeof(status)) <= 0)
			continue;
		line = strstr(status, "\nUid:\t");
		if (!line || (uid_t)atoi(line + 6) != uid)
			continue;
		line = strstr(status, "\nThreads:\t");
		count += line ? atoi(line + 10) : 1;
	}
	if (dir)
		closedir(dir);
	return count;
}

TEST_F(loaded, rlimit_nproc_fork_fails_with_eagain)
{
	const struct fs_record *r = NULL;
	struct recs recs;
	int i, status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rlimit lim;
		pid_t child;

		if (prctl(PR_SET_NAME, "fs_nproc", 0, 0, 0) || setgid(65534) || setuid(65534))
			_exit(10);
		lim.rlim_cur = lim.rlim_max = count_tasks_of(65534);
		if (lim.rlim_cur < 1 || setrlimit(RLIMIT_NPROC, &lim))
			_exit(11);
		child = fork();
		if (child == 0)
			_exit(0);
		if (child > 0) {
			waitpid(child, NULL, 0);
			_exit(12);
		}
		_exit(errno == EAGAIN ? 0 : 13);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("10: no setuid, 11: no rlimit, 12: fork worked");

	recs_read(_metadata, &recs);
	for (i = 0; i < recs.n; i++) {
		if (recs.r[i].parent_pid == pid && recs.r[i].ret < 0) {
			EXPECT_EQ(NULL, r) TH_LOG("two failure records");
			r = &recs.r[i];
		}
	}
	ASSERT_NE(NULL, r) TH_LOG("no failure record from pid %d", pid);
	EXPECT_EQ(-EAGAIN, r->ret);
	EXPECT_STREQ("EAGAIN", r->err);
	EXPECT_STREQ("fs_nproc", r->comm);
	EXPECT_STREQ("fork", r->kind);
	EXPECT_EQ(0, r->child_pid);
	/* Refused after copy_creds, in the RLIMIT_NPROC check of task_init. */
	EXPECT_LE(0, fs_record_stage(r, "copy_creds")) TH_LOG("record: %s", r->line);
	EXPECT_LE(0, fs_record_stage(r, "task_init")) TH_LOG("record: %s", r->line);
	EXPECT_EQ(-1, fs_record_stage(r, "sched_fork")) TH_LOG("record: %s", r->line);
	recs_free(&recs);
}

/* Sum of the stats file's per-kind "== kind K: N creations" headers. */
static long long stats_creations(const char *stats)
{
	const char *p = stats;
	long long sum = 0;
	char unit[16];
	long long n;

	while ((p = strstr(p, "\n== kind "))) {
		p = strchr(p, ':');
		if (!p || sscanf(p + 1, "%lld %15s", &n, unit) != 2)
			return -1;
		if (!strcmp(unit, "creations"))
			sum += n;
	}
	return sum;
}

TEST_F(loaded, failures_are_not_in_stats)
{
	static char stats[65536], slowest[262144];
	long long recorded = -1, count = -1, failures;
	int i, tries;

	for (i = 0; i < 20; i++) {
		long ret = syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0);

		if (ret == 0)
			_exit(0);
		ASSERT_EQ(-1, ret);
	}
	ASSERT_EQ(0, fs_do_forks(3));
	/* A consistent pair: recorded does not move while stats is read. */
	for (tries = 0; tries < 20; tries++) {
		recorded = fs_counter("recorded");
		ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/stats", stats, sizeof(stats)));
		ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/slowest", slowest, sizeof(slowest)));
		if (fs_counter("recorded") == recorded)
			break;
	}
	failures = fs_counter("recorded_failures");
	EXPECT_LE(20, failures);
	count = stats_creations(stats);
	EXPECT_EQ(recorded, count) TH_LOG("stats count %lld, recorded %lld, failures %lld",
					  count, recorded, failures);
	/* No kind-clone creation succeeded: its failures have no section. */
	EXPECT_EQ(NULL, strstr(stats, "== kind clone:"));
	EXPECT_NE(NULL, strstr(stats, "== kind fork:"));
	EXPECT_EQ(NULL, strstr(slowest, "-> -EINVAL"));
	EXPECT_NE(NULL, strstr(slowest, " fork " COMM "["));
}

TEST_HARNESS_MAIN
