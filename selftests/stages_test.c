// SPDX-License-Identifier: GPL-2.0
/*
 * forkscope's stage partition, record by record: stage times sum exactly to
 * copy_process and the outer steps to the total, stages come in pipeline
 * order and appear only when their clone flags make them run, each child is
 * recorded once under the right parent (also with concurrent forkers), and
 * a missing anchor merges its stage into its neighbour.
 */
#include "forkscope_test.h"
#include "fs_json.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <time.h>

#include "fs_harness.h"

/*
 * The stage a stage is timed in when the running kernel's series inlines
 * its function (forkscope's kernel profile for 6.12: dup_mmap into dup_mm,
 * __pidfd_prepare into task_setup), or NULL when it is measured.
 */
static const char *inlined_into(const char *stage)
{
	struct utsname u;

	if (uname(&u) || strncmp(u.release, "6.12.", 5))
		return NULL;
	if (!strcmp(stage, "dup_mmap"))
		return "dup_mm";
	if (!strcmp(stage, "pidfd_prepare"))
		return "task_setup";
	return NULL;
}

#define COMM "fs_stages"
#define NEW_NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | \
		      CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME)

/* copy_process's stages in the order of stage_model.h's enum Stage. */
static const char *const cp_stages[] = {
	"dup_task_struct", "copy_creds", "task_init", "sched_fork",
	"perf_event_init_task", "audit_alloc", "security_task_alloc",
	"copy_semundo", "copy_files", "dup_fd", "copy_fs", "copy_fs_struct",
	"copy_sighand_signal", "mm_init", "pgd_alloc", "dup_mm", "dup_mmap",
	"copy_namespaces", "create_new_namespaces", "copy_io", "copy_thread",
	"alloc_pid", "task_setup", "pidfd_prepare", "cgroup_can_fork",
	"sched_cgroup_fork", "attach_publish", "sched_post_fork",
	"cgroup_post_fork", "post_fork", "between_calls",
};

/* kernel_clone's steps around copy_process, listed after them in stages. */
static const char *const outer_stages[] = {
	"clone_prologue", "clone_publish", "wake_up_new_task", "vfork_wait",
	"clone_return",
};

struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

static pid_t sys_clone3(uint64_t flags, int *pidfd)
{
	struct clone3_args args = {
		.flags = flags,
		.pidfd = (uintptr_t)pidfd,
		.exit_signal = SIGCHLD,
	};

	return syscall(__NR_clone3, &args, sizeof(args));
}

static int reap(pid_t pid)
{
	int status;

	return waitpid(pid, &status, __WALL) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int stage_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cp_stages); i++) {
		if (!strcmp(cp_stages[i], name))
			return i;
	}
	return -1;
}

/*
 * Reads the records file; every line must parse. Returns the creation
 * ("fork" event) records in *out, in file order; exec and spawn records
 * are not this file's subject.
 */
static int read_records(struct __test_metadata *_metadata, struct fs_records *recs,
			struct fs_record **out)
{
	int i, n = 0, ret;

	ASSERT_EQ(0, fs_records_read(FS_DEBUGFS "/records", recs));
	*out = calloc(recs->count + 1, sizeof(**out));
	ASSERT_NE(NULL, *out);
	for (i = 0; i < recs->count; i++) {
		ret = fs_record_parse(recs->lines[i], &(*out)[n]);
		EXPECT_LE(0, ret) TH_LOG("unparsable record: %s", recs->lines[i]);
		n += ret == 0;
	}
	return n;
}

/* Every record: stage sums, the outer sum, pipeline order, flag rules. */
static void check_partition(struct __test_metadata *_metadata, const struct fs_record *r)
{
	struct fs_json_iter it;
	long long ns, sum = 0, outer;
	char name[64];
	int last = -1, idx, ret, ok = 1;

	ASSERT_EQ(0, fs_json_object(r->line, "stages", &it));
	while ((ret = fs_json_next_int(&it, name, sizeof(name), &ns)) == 1) {
		idx = stage_index(name);
		if (idx < 0 || idx <= last || ns < 0) {
			ok = 0;
			TH_LOG("stage %s out of pipeline order or unknown (after #%d)", name, last);
		}
		last = idx;
		sum += ns;
	}
	EXPECT_EQ(0, ret);
	EXPECT_TRUE(ok) TH_LOG("record: %s", r->line);
	EXPECT_EQ(r->copy_process_ns, sum) TH_LOG("stages do not sum to copy_process: %s", r->line);
	if (!strcmp(r->kind, "io_worker")) {
		/* Created by copy_process alone, without kernel_clone around it. */
		EXPECT_EQ(r->copy_process_ns, r->total_ns) TH_LOG("record: %s", r->line);
	} else {
		outer = r->clone_prologue_ns + r->copy_process_ns + r->clone_publish_ns +
			r->wake_ns + r->vfork_wait_ns + r->clone_return_ns;
		EXPECT_EQ(r->total_ns, outer) TH_LOG("outer steps do not sum to total: %s", r->line);
	}
	EXPECT_LT(0, r->copy_process_ns) TH_LOG("record: %s", r->line);
	EXPECT_EQ(0, r->anomalies) TH_LOG("record: %s", r->line);
	/* vfork_wait only for CLONE_VFORK, and always for a successful one. */
	if (r->vfork_wait_ns > 0)
		EXPECT_TRUE(r->flags_raw & CLONE_VFORK) TH_LOG("record: %s", r->line);
	if (r->ret <= 0)
		return;
	if (r->flags_raw & CLONE_VFORK)
		EXPECT_LT(0, r->vfork_wait_ns) TH_LOG("record: %s", r->line);
	/* The optional stages run exactly when their flags ask for them. */
	if (strcmp(r->origin, "kernel")) {
		/* (A kernel thread parent may lack an mm or a file table.) */
		if (!inlined_into("dup_mmap"))
			EXPECT_EQ(!(r->flags_raw & CLONE_VM), fs_record_stage(r, "dup_mmap") >= 0)
				TH_LOG("dup_mmap vs CLONE_VM: %s", r->line);
		EXPECT_EQ(!(r->flags_raw & CLONE_VM), fs_record_stage(r, "mm_init") >= 0)
			TH_LOG("mm_init vs CLONE_VM: %s", r->line);
		EXPECT_EQ(!(r->flags_raw & CLONE_FILES), fs_record_stage(r, "dup_fd") >= 0)
			TH_LOG("dup_fd vs CLONE_FILES: %s", r->line);
		EXPECT_EQ(!(r->flags_raw & CLONE_FS), fs_record_stage(r, "copy_fs_struct") >= 0)
			TH_LOG("copy_fs_struct vs CLONE_FS: %s", r->line);
	}
	EXPECT_EQ(!!(r->flags_raw & NEW_NS_FLAGS), fs_record_stage(r, "create_new_namespaces") >= 0)
		TH_LOG("create_new_namespaces vs CLONE_NEW*: %s", r->line);
	if (!inlined_into("pidfd_prepare"))
		EXPECT_EQ(!!(r->flags_raw & CLONE_PIDFD), fs_record_stage(r, "pidfd_prepare") >= 0)
			TH_LOG("pidfd_prepare vs CLONE_PIDFD: %s", r->line);
}

/* What the mixed workload made, to find each creation's record. */
enum made_kind { M_FORK, M_SYSFORK, M_VFORK, M_THREAD, M_NEWUTS, M_PIDFD, M_FORK_EXEC,
		 M_CLONE_FS, M_CLONE_FILES, M_FAIL, M_COUNT };

struct made {
	pid_t pid[M_COUNT];	/* child pid (tid for the thread); 0 for the failure */
};

static void *thread_tid(void *arg)
{
	*(pid_t *)arg = gettid();
	return NULL;
}

/* Child side of raw clones: nothing but _exit. */
#define CHILD_EXITS(pid) do { if ((pid) == 0) _exit(0); } while (0)

static void mixed_workload(struct __test_metadata *_metadata, struct made *made)
{
	pthread_t thread;
	pid_t pid;
	int pidfd = -1;
	long ret;

	ASSERT_EQ(0, prctl(PR_SET_NAME, COMM, 0, 0, 0));
	memset(made, 0, sizeof(*made));

	pid = fork();
	CHILD_EXITS(pid);
	ASSERT_LT(0, pid);
	made->pid[M_FORK] = pid;

	pid = syscall(SYS_fork);
	CHILD_EXITS(pid);
	ASSERT_LT(0, pid);
	made->pid[M_SYSFORK] = pid;

	pid = vfork();
	CHILD_EXITS(pid);
	ASSERT_LT(0, pid);
	made->pid[M_VFORK] = pid;

	ASSERT_EQ(0, pthread_create(&thread, NULL, thread_tid, &made->pid[M_THREAD]));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_LT(0, made->pid[M_THREAD]);

	pid = sys_clone3(CLONE_NEWUTS, NULL);
	CHILD_EXITS(pid);
	ASSERT_LT(0, pid) TH_LOG("clone3(CLONE_NEWUTS): %s", strerror(errno));
	made->pid[M_NEWUTS] = pid;

	pid = sys_clone3(CLONE_PIDFD, &pidfd);
	CHILD_EXITS(pid);
	ASSERT_LT(0, pid) TH_LOG("clone3(CLONE_PIDFD): %s", strerror(errno));
	EXPECT_LE(0, pidfd);
	close(pidfd);
	made->pid[M_PIDFD] = pid;

	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exit 0", (char *)NULL);
		_exit(127);
	}
	ASSERT_LT(0, pid);
	made->pid[M_FORK_EXEC] = pid;

	pid = syscall(SYS_clone, CLONE_FS | SIGCHLD, 0, 0, 0, 0);
	CHILD_EXITS(pid);
	ASSERT_LT(0, pid);
	made->pid[M_CLONE_FS] = pid;

	pid = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
	CHILD_EXITS(pid);
	ASSERT_LT(0, pid);
	made->pid[M_CLONE_FILES] = pid;

	/* CLONE_SIGHAND without CLONE_VM: copy_process says EINVAL. */
	ret = syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0);
	CHILD_EXITS(ret);
	ASSERT_EQ(-1, ret);
	ASSERT_EQ(EINVAL, errno);

	for (int i = 0; i < M_COUNT; i++) {
		if (i != M_THREAD && i != M_FAIL)
			EXPECT_EQ(0, reap(made->pid[i])) TH_LOG("child %d", i);
	}
}

/* The one record of child pid, or NULL; counts how many there are. */
static const struct fs_record *find_child(const struct fs_record *recs, int n, pid_t pid,
					  int *count)
{
	const struct fs_record *found = NULL;
	int i;

	*count = 0;
	for (i = 0; i < n; i++) {
		if (recs[i].ret > 0 && recs[i].child_pid == pid) {
			found = &recs[i];
			(*count)++;
		}
	}
	return found;
}


FIXTURE(loaded) {
	int unused;
};

FIXTURE_SETUP(loaded)
{
	ASSERT_EQ(0, fs_unload_if_loaded());
	ASSERT_EQ(0, fs_load(NULL));
}

FIXTURE_TEARDOWN(loaded)
{
	fs_unload();
}

TEST_F(loaded, every_record_partitions_exactly)
{
	struct fs_records recs;
	struct fs_record *r;
	struct made made;
	int i, n, ours = 0;

	mixed_workload(_metadata, &made);
	n = read_records(_metadata, &recs, &r);
	for (i = 0; i < n; i++) {
		check_partition(_metadata, &r[i]);
		ours += r[i].parent_tgid == getpid();
	}
	/* Nine creations, one failure; each one is a record. */
	EXPECT_EQ(M_COUNT, ours);
	free(r);
	fs_records_free(&recs);
}

TEST_F(loaded, own_children_appear_once_with_parent_and_comm)
{
	struct fs_records recs;
	struct fs_record *r;
	const struct fs_record *c;
	struct made made;
	int i, n, count, failures = 0;

	mixed_workload(_metadata, &made);
	n = read_records(_metadata, &recs, &r);
	for (i = 0; i < M_COUNT; i++) {
		if (i == M_FAIL)
			continue;
		c = find_child(r, n, made.pid[i], &count);
		EXPECT_EQ(1, count) TH_LOG("child %d (workload step %d)", made.pid[i], i);
		if (!c)
			continue;
		EXPECT_EQ(getpid(), c->parent_pid) TH_LOG("record: %s", c->line);
		EXPECT_EQ(getpid(), c->parent_tgid) TH_LOG("record: %s", c->line);
		EXPECT_STREQ(COMM, c->comm);
		EXPECT_EQ(made.pid[i], c->ret);
		EXPECT_STREQ("", c->err);
	}
	for (i = 0; i < n; i++) {
		if (r[i].parent_tgid != getpid() || r[i].ret > 0)
			continue;
		failures++;
		EXPECT_EQ(-EINVAL, r[i].ret);
		EXPECT_STREQ("EINVAL", r[i].err);
		EXPECT_EQ(0, r[i].child_pid);
		EXPECT_EQ(CLONE_SIGHAND, r[i].flags_raw);
		EXPECT_STREQ("CLONE_SIGHAND|SIGCHLD", r[i].flags);
		EXPECT_STREQ(COMM, r[i].comm);
	}
	EXPECT_EQ(1, failures);
	free(r);
	fs_records_free(&recs);
}

TEST_F(loaded, optional_stages_follow_clone_flags)
{
	static const struct {
		int step;
		const char *present[4];
		const char *absent[6];
	} rules[] = {
		{ M_FORK, { "dup_mmap", "dup_fd", "copy_fs_struct", "mm_init" },
		  { "create_new_namespaces", "pidfd_prepare" } },
		{ M_SYSFORK, { "dup_mmap", "dup_fd", "copy_fs_struct", "pgd_alloc" },
		  { "create_new_namespaces", "pidfd_prepare" } },
		{ M_VFORK, { "dup_fd", "copy_fs_struct" },
		  { "dup_mmap", "mm_init", "pgd_alloc", "dup_mm", "create_new_namespaces" } },
		{ M_THREAD, { "copy_files", "copy_namespaces" },
		  { "dup_mmap", "dup_fd", "copy_fs_struct", "mm_init", "pidfd_prepare",
		    "create_new_namespaces" } },
		{ M_NEWUTS, { "create_new_namespaces", "dup_mmap", "dup_fd" },
		  { "pidfd_prepare" } },
		{ M_PIDFD, { "pidfd_prepare", "dup_mmap" },
		  { "create_new_namespaces" } },
		{ M_FORK_EXEC, { "dup_mmap", "dup_fd", "copy_fs_struct" },
		  { "create_new_namespaces", "pidfd_prepare" } },
		{ M_CLONE_FS, { "dup_fd", "dup_mmap" },
		  { "copy_fs_struct", "create_new_namespaces" } },
		{ M_CLONE_FILES, { "copy_fs_struct", "dup_mmap" },
		  { "dup_fd", "create_new_namespaces" } },
	};
	struct fs_records recs;
	struct fs_record *r;
	const struct fs_record *c;
	struct made made;
	unsigned int i, j;
	int n, count;

	mixed_workload(_metadata, &made);
	n = read_records(_metadata, &recs, &r);
	for (i = 0; i < ARRAY_SIZE(rules); i++) {
		c = find_child(r, n, made.pid[rules[i].step], &count);
		ASSERT_NE(NULL, c) TH_LOG("no record of workload step %d", rules[i].step);
		for (j = 0; j < ARRAY_SIZE(rules[i].present) && rules[i].present[j]; j++)
			if (!inlined_into(rules[i].present[j]))
				EXPECT_LE(0, fs_record_stage(c, rules[i].present[j]))
					TH_LOG("%s missing: %s", rules[i].present[j], c->line);
		for (j = 0; j < ARRAY_SIZE(rules[i].absent) && rules[i].absent[j]; j++)
			EXPECT_EQ(-1, fs_record_stage(c, rules[i].absent[j]))
				TH_LOG("%s unexpected: %s", rules[i].absent[j], c->line);
		EXPECT_EQ(rules[i].step == M_VFORK, c->vfork_wait_ns > 0);
	}
	free(r);
	fs_records_free(&recs);
}

TEST_F(loaded, vfork_wait_covers_the_child_sleep)
{
	const long long sleep_ns = 50 * 1000 * 1000;
	struct timespec nap = { 0, sleep_ns };
	struct fs_records recs;
	struct fs_record *r;
	const struct fs_record *c;
	int n, count;
	pid_t pid;

	ASSERT_EQ(0, prctl(PR_SET_NAME, COMM, 0, 0, 0));
	pid = vfork();
	if (pid == 0) {
		/* Only raw syscalls in the vfork child: it runs on our stack. */
		syscall(SYS_nanosleep, &nap, NULL);
		_exit(0);
	}
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, reap(pid));
	n = read_records(_metadata, &recs, &r);
	c = find_child(r, n, pid, &count);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(1, count);
	EXPECT_STREQ("vfork", c->kind);
	EXPECT_LE(sleep_ns, c->vfork_wait_ns) TH_LOG("record: %s", c->line);
	/* The parent's wait, not the copy, holds the child's sleep. */
	EXPECT_GT(sleep_ns / 2, c->copy_process_ns) TH_LOG("record: %s", c->line);
	EXPECT_GT(c->vfork_wait_ns, 2 * c->copy_process_ns);
	EXPECT_EQ(0, c->clone_return_ns);
	check_partition(_metadata, c);
	free(r);
	fs_records_free(&recs);
}

#define WORKERS 4
#define WORKER_FORKS 50

struct worker_result {
	pid_t pid;
	int cpu;
	int failed;
	pid_t child[WORKER_FORKS];
};

static void worker(struct worker_result *res, int index, int cpu, int start_fd)
{
	char comm[16], go;
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	snprintf(comm, sizeof(comm), "fs_worker_%d", index);
	if (sched_setaffinity(0, sizeof(set), &set) || prctl(PR_SET_NAME, comm, 0, 0, 0))
		_exit(2);
	/* Everyone starts together: the start pipe closes. */
	if (read(start_fd, &go, 1) != 0)
		_exit(3);
	for (i = 0; i < WORKER_FORKS; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid < 0 || reap(pid))
			res->failed = 1;
		res->child[i] = pid;
	}
	_exit(0);
}

TEST_F(loaded, concurrent_workers_are_attributed)
{
	struct worker_result *res;
	struct fs_records recs;
	struct fs_record *r;
	const struct fs_record *c;
	int start[2], i, j, k, n, count, ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char buf[65536];

	if (ncpu < 2)
		SKIP(return, "needs at least 2 CPUs, have %d", ncpu);
	res = mmap(NULL, WORKERS * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	ASSERT_EQ(0, pipe(start));
	for (i = 0; i < WORKERS; i++) {
		pid_t pid;

		res[i].cpu = i % ncpu;
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			close(start[1]);
			worker(&res[i], i, res[i].cpu, start[0]);
		}
		res[i].pid = pid;
	}
	close(start[0]);
	close(start[1]);
	for (i = 0; i < WORKERS; i++) {
		EXPECT_EQ(0, reap(res[i].pid)) TH_LOG("worker %d", i);
		EXPECT_EQ(0, res[i].failed);
	}

	n = read_records(_metadata, &recs, &r);
	for (i = 0; i < WORKERS; i++) {
		char comm[16];
		int mine = 0;

		snprintf(comm, sizeof(comm), "fs_worker_%d", i);
		for (j = 0; j < WORKER_FORKS; j++) {
			c = find_child(r, n, res[i].child[j], &count);
			EXPECT_EQ(1, count) TH_LOG("worker %d child %d", i, res[i].child[j]);
			if (!c)
				continue;
			EXPECT_EQ(res[i].pid, c->parent_pid) TH_LOG("record: %s", c->line);
			EXPECT_EQ(res[i].pid, c->parent_tgid);
			EXPECT_STREQ(comm, c->comm);
			EXPECT_STREQ("fork", c->kind);
			EXPECT_EQ(res[i].cpu, c->cpu_start) TH_LOG("record: %s", c->line);
			EXPECT_EQ(res[i].cpu, c->cpu_end) TH_LOG("record: %s", c->line);
			EXPECT_EQ(0, c->anomalies);
			check_partition(_metadata, c);
		}
		/* Nothing else is attributed to this worker. */
		for (k = 0; k < n; k++)
			mine += r[k].parent_pid == res[i].pid;
		EXPECT_EQ(WORKER_FORKS, mine) TH_LOG("worker %d", i);
	}
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", buf, sizeof(buf)));
	EXPECT_EQ(0, fs_find_value(buf, "untracked"));
	EXPECT_EQ(0, fs_find_value(buf, "untracked_failures"));
	EXPECT_EQ(0, fs_find_value(buf, "stale_slots"));
	EXPECT_EQ(0, fs_find_value(buf, "repeated_boundaries"));
	EXPECT_EQ(0, fs_find_value(buf, "dropped_boundaries"));
	EXPECT_EQ(0, fs_find_value(buf, "unattributed"));
	EXPECT_EQ(0, fs_find_value(buf, "probes_missed"));
	free(r);
	fs_records_free(&recs);
	munmap(res, WORKERS * sizeof(*res));
}

/* Status of one stage in the stages file: "measured", "merged into X" or "inlined into X". */
static int stage_status(const char *text, const char *stage, char *status, size_t size)
{
	size_t len = strlen(stage);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, stage, len) && p[len] == ' ') {
			char type[16], word[64], into[64];

			if (sscanf(p + len, "%15s %63s", type, word) != 2)
				return -1;
			if (!strcmp(word, "merged") || !strcmp(word, "inlined")) {
				int merged = !strcmp(word, "merged");
				const char *w = strstr(p + len, merged ? " merged " : " inlined ");

				if (!w || sscanf(w, merged ? " merged into %63s" : " inlined into %63s",
						 into) != 1)
					return -1;
				snprintf(status, size, "%s into %.63s", merged ? "merged" : "inlined", into);
			} else {
				snprintf(status, size, "%s", word);
			}
			return 0;
		}
		if (!strncmp(p, "anchor ", 7))
			break;	/* the stage table is over */
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* The anchor table's row of anchor: its symbol and "yes"/"no". */
static int anchor_row(const char *text, const char *anchor, char *symbol, char *registered)
{
	const char *p = strstr(text, "\nanchor ");
	size_t len = strlen(anchor);

	while (p && *p) {
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
		if (!strncmp(p, anchor, len) && p[len] == ' ')
			return sscanf(p + len, "%63s %7s", symbol, registered) == 2 ? 0 : -1;
	}
	return -1;
}

TEST_F(loaded, stages_file_lists_every_stage_measured)
{
	static const char *const anchors[] = {
		"kernel_clone", "copy_process", "copy_creds", "sched_fork",
		"perf_event_init_task", "audit_alloc", "security_task_alloc",
		"copy_semundo", "dup_fd", "copy_fs_struct", "mm_init", "pgd_alloc",
		"dup_mmap", "copy_namespaces", "create_new_namespaces", "copy_thread",
		"alloc_pid", "__pidfd_prepare", "cgroup_can_fork", "sched_cgroup_fork",
		"sched_post_fork", "cgroup_post_fork", "wake_up_new_task",
	};
	static char text[65536];
	char status[96];
	unsigned int i;

	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/stages", text, sizeof(text)));
	for (i = 0; i < ARRAY_SIZE(cp_stages) + ARRAY_SIZE(outer_stages); i++) {
		const char *stage = i < ARRAY_SIZE(cp_stages) ? cp_stages[i] :
				    outer_stages[i - ARRAY_SIZE(cp_stages)];

		char want[96] = "measured";

		ASSERT_EQ(0, stage_status(text, stage, status, sizeof(status)))
			TH_LOG("stage %s not listed", stage);
		if (inlined_into(stage))
			snprintf(want, sizeof(want), "inlined into %s", inlined_into(stage));
		EXPECT_STREQ(want, status) TH_LOG("stage %s", stage);
	}
	/* And every anchor's probe is registered, but those of inlined stages. */
	for (i = 0; i < ARRAY_SIZE(anchors); i++) {
		char symbol[64], registered[8];
		const char *stage = strcmp(anchors[i], "__pidfd_prepare") ? anchors[i] : "pidfd_prepare";

		ASSERT_EQ(0, anchor_row(text, anchors[i], symbol, registered))
			TH_LOG("anchor %s not listed", anchors[i]);
		EXPECT_STREQ(inlined_into(stage) ? "no" : "yes", registered)
			TH_LOG("anchor %s (%s)", anchors[i], symbol);
	}
	/* The kernel profile of the running kernel's series, confirmed. */
	EXPECT_NE(NULL, strstr(text, "confirmed by symbol resolution")) TH_LOG("%.400s", text);
	EXPECT_NE(NULL, strstr(text, inlined_into("dup_mmap") ? "# kernel profile 6.12 for " :
					       "# kernel profile 6.1 for "));
	/* The load calibrated (in init): each registered anchor's bias is shown. */
	{
		const char *bias = strstr(text, "stats_net subtracts them. Calibration ");
		const char *row = bias ? strstr(bias, "\ncopy_creds ") : NULL;
		unsigned int pre, pre_iqr;
		char entry[16];

		ASSERT_NE(NULL, bias) TH_LOG("no calibration in stages");
		ASSERT_NE(NULL, row) TH_LOG("no bias row for copy_creds");
		ASSERT_EQ(3, sscanf(row + 12, "%15s %u(%u)", entry, &pre, &pre_iqr)) TH_LOG("%.200s", row);
		EXPECT_STREQ("ftrace", entry);
	}
}

TEST(denied_dup_mmap_merges_into_dup_mm)
{
	static char text[65536];
	struct fs_records recs;
	struct fs_record *r;
	char status[96], symbol[64], registered[8];
	int i, n, forks = 0;

	ASSERT_EQ(0, fs_unload_if_loaded());
	ASSERT_EQ(0, fs_load("deny_symbols=dup_mmap"));
	EXPECT_TRUE(fs_klog_contains("kernel symbol dup_mmap not found"));
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/stages", text, sizeof(text)));
	ASSERT_EQ(0, stage_status(text, "dup_mmap", status, sizeof(status)));
	/* (6.12 inlines dup_mmap: the profile says so whether denied or not.) */
	EXPECT_STREQ(inlined_into("dup_mmap") ? "inlined into dup_mm" : "merged into dup_mm", status);
	ASSERT_EQ(0, stage_status(text, "dup_mm", status, sizeof(status)));
	EXPECT_STREQ("measured", status);
	/* The anchor row: no symbol, not registered. */
	ASSERT_EQ(0, anchor_row(text, "dup_mmap", symbol, registered));
	EXPECT_STREQ("-", symbol);
	EXPECT_STREQ("no", registered);
	ASSERT_EQ(0, anchor_row(text, "mm_init", symbol, registered));
	EXPECT_STREQ("yes", registered);

	ASSERT_EQ(0, prctl(PR_SET_NAME, COMM, 0, 0, 0));
	ASSERT_EQ(0, fs_do_forks(10));
	ASSERT_EQ(0, fs_do_threads(2));
	n = read_records(_metadata, &recs, &r);
	for (i = 0; i < n; i++) {
		struct fs_json_iter it;
		char name[64];
		long long ns, sum = 0;

		EXPECT_EQ(-1, fs_record_stage(&r[i], "dup_mmap")) TH_LOG("record: %s", r[i].line);
		EXPECT_EQ(NULL, strstr(r[i].line, "\"dup_mmap\""));
		ASSERT_EQ(0, fs_json_object(r[i].line, "stages", &it));
		while (fs_json_next_int(&it, name, sizeof(name), &ns) == 1)
			sum += ns;
		EXPECT_EQ(r[i].copy_process_ns, sum) TH_LOG("record: %s", r[i].line);
		EXPECT_EQ(r[i].total_ns, r[i].clone_prologue_ns + r[i].copy_process_ns +
			  r[i].clone_publish_ns + r[i].wake_ns + r[i].vfork_wait_ns +
			  r[i].clone_return_ns);
		if (r[i].parent_pid == getpid() && !strcmp(r[i].kind, "fork")) {
			forks++;
			/* dup_mmap's time is now inside dup_mm. */
			EXPECT_LT(0, fs_record_stage(&r[i], "dup_mm")) TH_LOG("record: %s", r[i].line);
		}
	}
	EXPECT_EQ(10, forks);
	free(r);
	fs_records_free(&recs);
	ASSERT_EQ(0, fs_unload());
}

TEST(denied_copy_process_refuses_load)
{
	ASSERT_EQ(0, fs_unload_if_loaded());
	EXPECT_EQ(-ENOENT, fs_load("deny_symbols=copy_process"));
	EXPECT_FALSE(fs_is_loaded());
	EXPECT_TRUE(fs_klog_contains("required kernel symbol copy_process not found"));
	EXPECT_EQ(-1, access(FS_DEBUGFS, F_OK));
	if (fs_is_loaded())
		fs_unload();
}

TEST_HARNESS_MAIN
