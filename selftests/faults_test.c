// SPDX-License-Identifier: GPL-2.0
/*
 * The fail-nth sweep (debug kernel with fault injection): fails the 1st, 2nd,
 * ... slab or page allocation of fork, vfork, a thread clone, clone3 into new
 * namespaces, clone3 with a pidfd, and execve of an ELF and of a #! script,
 * until the call succeeds with no fault left. Every failed call must be one
 * forkscope record with its errno, ending in the stage of the fault's stack.
 */
#include "forkscope_test.h"

#include <linux/futex.h>
#include <linux/sched.h>
#include <sys/syscall.h>

#include "fs_harness.h"
#include "fs_json.h"

#define MAX_NTH 3000
#define SCRIPT "/tmp/faults_script.sh"

enum call_kind { K_FORK, K_VFORK, K_THREAD, K_CLONE3_NS, K_CLONE3_PIDFD, K_EXEC_ELF,
		 K_EXEC_SCRIPT, K_COUNT };
static const char *const kind_names[K_COUNT] = {
	"fork", "vfork", "clone_thread", "clone3_ns", "clone3_pidfd", "exec_elf", "exec_script",
};

struct tally {
	int points;	/* N at which a fault was injected */
	int failed;	/* ...and the call failed */
	int matched;	/* ...with a record that checked out */
	int unlocated;	/* ...whose stack named no stage of the record */
	int mismatches;
};

static char self_exe[256];
static char trace_buf[1 << 16];
/* Kernel log lines read (and cleared) that are not fault dumps: logged again at the end. */
static char kept_buf[1 << 20];
static size_t kept_used;

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* Arms the N-th fault of this task; the fd stays open for read-back. */
static int fail_nth_set(int fd, int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	return pwrite(fd, buf, len, 0) == len ? 0 : -1;
}

static int fail_nth_left(int fd)
{
	char buf[16] = "";

	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return -1;
	return atoi(buf);
}

/*
 * Reads and clears the kernel log: the fault dumps (FAULT_INJECTION and the
 * allocator's own warnings, with their stacks) are kept in trace_buf, every
 * other line goes back into the log, so that the guest-log scan still sees
 * any real problem.
 */
static void drain_klog(void)
{
	static char buf[1 << 20];
	int n = klogctl(4 /* SYSLOG_ACTION_READ_CLEAR */, buf, sizeof(buf) - 1);
	size_t used = 0;
	int in_dump = 0;
	char *line, *save;

	trace_buf[0] = '\0';
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *text = strchr(line, ']');

		text = text ? text + 1 : line;
		while (*text == ' ')
			text++;
		if (strstr(text, "FAULT_INJECTION: forcing a failure") ||
		    strstr(text, "page allocation failure:") || strstr(text, "vmalloc error:"))
			in_dump = 1;
		if (in_dump) {
			size_t len = strlen(text);

			if (used + len + 2 < sizeof(trace_buf)) {
				memcpy(trace_buf + used, text, len);
				trace_buf[used + len] = '\n';
				used += len + 1;
				trace_buf[used] = '\0';
			}
			if (strstr(text, "</TASK>"))
				in_dump = 0;
		} else {
			size_t len = strlen(text);

			if (kept_used + len + 2 >= sizeof(kept_buf))
				len = 0; /* full: the rest is lost, and said so below */
			memcpy(kept_buf + kept_used, text, len);
			kept_used += len;
			kept_buf[kept_used++] = '\n';
			kept_buf[kept_used] = '\0';
		}
	}
}

/* The kept lines, back into the kernel log (once, at the end). */
static void relog_kept(void)
{
	int kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	char *line, *save;

	if (kmsg < 0)
		return;
	for (line = strtok_r(kept_buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		dprintf(kmsg, "<4>faults_test: kept: %.900s\n", line);
	if (kept_used + 2 >= sizeof(kept_buf))
		dprintf(kmsg, "<4>faults_test: kept lines overflowed\n");
	close(kmsg);
	kept_used = 0;
	kept_buf[0] = '\0';
}

/* Function names of the first FAULT_INJECTION stack, innermost first. */
static int fault_frames(char frames[][64], int max)
{
	const char *p = strstr(trace_buf, "FAULT_INJECTION: forcing a failure");
	int n = 0;

	if (!p || !(p = strstr(p, "Call Trace:")))
		return 0;
	while ((p = strchr(p, '\n')) && n < max) {
		char name[64];
		size_t len;

		p++;
		if (!strncmp(p, "</TASK>", 7))
			break;
		if (*p == '?' || *p == '<')
			continue;
		len = strcspn(p, "+\n");
		if (len == 0 || len >= sizeof(name))
			continue;
		memcpy(name, p, len);
		name[len] = '\0';
		/* foo.isra.0, foo.constprop.0, foo.cold: foo */
		name[strcspn(name, ".")] = '\0';
		snprintf(frames[n++], 64, "%s", name);
	}
	return n;
}

/* A mismatch's evidence: where the fault was injected, innermost first. */
static void print_fault_stack(const char *kind, int nth, char frames[][64], int nframes)
{
	char line[512] = "";
	size_t used = 0;
	int i;

	for (i = 0; i < nframes && i < 16 && used + 70 < sizeof(line); i++)
		used += snprintf(line + used, sizeof(line) - used, "%s%s", i ? " < " : "",
				 frames[i]);
	printf("# %s nth %d: fault stack: %s\n", kind, nth, nframes ? line : "(none logged)");
}

/* The calls. Each returns 0, or -errno as the syscall returned it. */
static long clone3_call(struct clone_args *args)
{
	return syscall(SYS_clone3, args, sizeof(*args));
}

static int reap(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid ? 0 : -1;
}

static int thread_fn(void *arg)
{
	return 0;
}

static pid_t call_fork(int kind, int fd, int nth)
{
	static char stack[65536] __attribute__((aligned(16)));
	static volatile pid_t ctid;
	struct clone_args args = { .exit_signal = SIGCHLD };
	int pidfd = -1;
	long ret;

	switch (kind) {
	case K_FORK:
		fail_nth_set(fd, nth);
		ret = syscall(SYS_fork);
		if (ret == 0)
			_exit(0);
		break;
	case K_VFORK:
		fail_nth_set(fd, nth);
		ret = vfork();
		if (ret == 0)
			_exit(0);
		break;
	case K_THREAD:
		ctid = 1;
		fail_nth_set(fd, nth);
		ret = clone(thread_fn, stack + sizeof(stack),
			    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			    CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID,
			    NULL, (pid_t *)&ctid, NULL, (pid_t *)&ctid);
		if (ret > 0) {
			while (ctid)
				syscall(SYS_futex, &ctid, FUTEX_WAIT, ctid, NULL, NULL, 0);
			return ret;
		}
		ctid = 0;
		return ret < 0 ? -errno : ret;
	case K_CLONE3_NS:
		args.flags = CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNS;
		fail_nth_set(fd, nth);
		ret = clone3_call(&args);
		if (ret == 0)
			_exit(0);
		break;
	default: /* K_CLONE3_PIDFD */
		args.flags = CLONE_PIDFD;
		args.pidfd = (unsigned long)&pidfd;
		fail_nth_set(fd, nth);
		ret = clone3_call(&args);
		if (ret == 0)
			_exit(0);
		if (ret > 0)
			close(pidfd);
		break;
	}
	if (ret < 0)
		return -errno;
	reap(ret);
	return ret;
}

/*
 * execve in a child armed with fail-nth. Reports through a pipe: the
 * child's pid, exec's -errno (0 if it succeeded) and what was left of nth.
 * After a successful exec, this binary runs as the helper (--left) and
 * reports from there.
 */
struct exec_report {
	int err;
	int left;
};

static int call_exec(int kind, int nth, pid_t *child, int *left, int *signaled)
{
	int pfd[2], status;
	struct exec_report rep = { .err = 0, .left = -1 };
	pid_t pid;

	if (pipe(pfd))
		return -1000;
	pid = fork();
	if (pid == 0) {
		char *elf_argv[] = { self_exe, "--left", NULL };
		char *script_argv[] = { SCRIPT, NULL };
		int fd;

		close(pfd[0]);
		if (pfd[1] != 3 && (dup2(pfd[1], 3) != 3 || close(pfd[1])))
			_exit(3);
		pfd[1] = 3;
		fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
		fail_nth_set(fd, nth);
		if (kind == K_EXEC_ELF)
			execv(self_exe, elf_argv);
		else
			execv(SCRIPT, script_argv);
		rep.err = -errno;
		rep.left = fail_nth_left(fd);
		if (write(pfd[1], &rep, sizeof(rep)) != sizeof(rep))
			_exit(2);
		_exit(1);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return -1000;
	}
	*child = pid;
	if (read(pfd[0], &rep, sizeof(rep)) != sizeof(rep))
		rep.err = 1; /* no report: see below */
	close(pfd[0]);
	waitpid(pid, &status, 0);
	*signaled = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (rep.err == 1) {
		/*
		 * Killed: exec failed after its point of no return. Exited
		 * without a report: exec succeeded, and the fault hit the new
		 * program's start-up (its loader's mprotect, say).
		 */
		rep.err = *signaled ? -1001 : 0;
		rep.left = 0;
	}
	*left = rep.left;
	return rep.err;
}

/* The records finished after a mark, of this call; how many matched. */
struct found {
	int n;
	struct fs_order last; /* the last record finished: the next call's mark */
	long long ret;
	char err[32], verdict[32], reason[128], last_stage[64];
	char stages[40][64];
	int nstages;
	char line[600];
};

static void find_records(int exec, pid_t who, const struct fs_order *after, struct found *f)
{
	struct fs_records recs;
	int i;

	memset(f, 0, sizeof(*f));
	f->last = *after;
	if (fs_records_read(FS_DEBUGFS "/records", &recs))
		return;
	for (i = 0; i < recs.count; i++) {
		const char *line = recs.lines[i];
		char event[16] = "";
		long long pid = 0, ret = 0;
		struct fs_order o;
		struct fs_json_iter it;
		long long ns;

		if (fs_order_of(line, &o) || fs_json_str(line, "event", event, 16) <= 0)
			continue;
		fs_order_max(&f->last, &o);
		if (fs_order_cmp(&o, after) <= 0 || strcmp(event, exec ? "exec" : "fork"))
			continue;
		if (fs_json_int(line, exec ? "pid" : "parent_pid", &pid) || pid != who)
			continue;
		if (fs_json_int(line, "ret", &ret) || ret >= 0)
			continue;
		f->n++;
		f->ret = ret;
		snprintf(f->line, sizeof(f->line), "%s", line);
		if (fs_json_is_null(line, "errno") || fs_json_str(line, "errno", f->err, 32) <= 0)
			f->err[0] = '\0';
		if (exec) {
			snprintf(f->verdict, sizeof(f->verdict), "unchecked");
			snprintf(f->reason, sizeof(f->reason), "exec");
		} else {
			if (fs_json_str(line, "verdict", f->verdict, 32) <= 0)
				f->verdict[0] = '\0';
			if (fs_json_is_null(line, "verdict_reason") ||
			    fs_json_str(line, "verdict_reason", f->reason, 128) <= 0)
				f->reason[0] = '\0';
		}
		f->nstages = 0;
		if (!fs_json_object(line, "stages", &it)) {
			while (f->nstages < 40 &&
			       fs_json_next_int(&it, f->stages[f->nstages], 64, &ns) == 1)
				f->nstages++;
		}
		snprintf(f->last_stage, sizeof(f->last_stage), "%s",
			 f->nstages ? f->stages[f->nstages - 1] : "");
	}
	fs_records_free(&recs);
}

static int in_flight_settles(void)
{
	int tries;

	for (tries = 0; tries < 50; tries++) {
		if (fs_counter("in_flight") == 0)
			return 1;
		usleep(20000);
	}
	return 0;
}

FIXTURE(sweep) {
	int fd;
};

FIXTURE_SETUP(sweep)
{
	static const char *const knobs[][2] = {
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/failslab/verbose", "2" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
		/* Not user pages: a COW fault after the call must not take the fault. */
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "Y" },
		{ "/sys/kernel/debug/fail_page_alloc/min-order", "0" },
		{ "/sys/kernel/debug/fail_page_alloc/verbose", "2" },
	};
	unsigned int i;
	ssize_t n;

	self->fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "no /proc/thread-self/fail-nth (kernel without CONFIG_FAULT_INJECTION)");
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		const char *knob = knobs[i][0];

		ASSERT_EQ(0, write_str(knob, knobs[i][1])) TH_LOG("cannot write %s", knob);
	}
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	ASSERT_LT(0, n);
	self_exe[n] = '\0';
	{
		int sfd = open(SCRIPT, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

		ASSERT_LE(0, sfd);
		dprintf(sfd, "#!%s --script\n", self_exe);
		close(sfd);
	}
	ASSERT_EQ(0, fs_unload_if_loaded());
	ASSERT_EQ(0, fs_load("ring_size=256"));
}

FIXTURE_TEARDOWN(sweep)
{
	if (self->fd >= 0) {
		fail_nth_set(self->fd, 0);
		close(self->fd);
	}
	EXPECT_EQ(0, fs_unload_if_loaded());
	drain_klog();
	relog_kept();
}

static int stage_in_record(const struct found *f, const char *name)
{
	int i;

	for (i = 0; i < f->nstages; i++)
		if (!strcmp(f->stages[i], name))
			return i + 1;
	return 0;
}

/* The stages file's "direct" stages (time inside one anchor function). */
static char direct_stages[64][32];
static int nr_direct;

static void read_direct_stages(void)
{
	static char text[65536];
	char *line, *save;

	nr_direct = 0;
	if (fs_read_file(FS_DEBUGFS "/stages", text, sizeof(text)) <= 0)
		return;
	for (line = strtok_r(text, "\n", &save); line && nr_direct < 64;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[32], type[16];

		if (sscanf(line, "%31s %15s", name, type) == 2 && !strcmp(type, "direct"))
			snprintf(direct_stages[nr_direct++], 32, "%s", name);
	}
}

static int is_direct(const char *name)
{
	int i;

	for (i = 0; i < nr_direct; i++)
		if (!strcmp(direct_stages[i], name))
			return 1;
	return 0;
}

/*
 * The record stops where the fault hit: the fault's function is one of its
 * stages and, for a creation, no later stage is a function's own (what
 * follows is the unwinding, timed as the gap after it). An exec's stages
 * are its event log: the function must be in it.
 */
static int ends_at(const struct found *f, const char *fault, int exec, const char **after)
{
	int at = stage_in_record(f, fault), i;

	*after = NULL;
	if (!at)
		return 0;
	for (i = at; i < f->nstages && !exec; i++) {
		if (is_direct(f->stages[i])) {
			*after = f->stages[i];
			return 0;
		}
	}
	return 1;
}

TEST_F_TIMEOUT(sweep, every_failed_allocation_is_one_record_where_it_failed, 3600)
{
	struct tally t[K_COUNT] = {};
	struct fs_order mark = { 0, 0 };
	int kind, total_mismatches = 0;

	if (self->fd < 0) /* a SKIP in the fixture's setup does not stop the test */
		SKIP(return, "no /proc/thread-self/fail-nth");
	drain_klog();
	read_direct_stages();
	ASSERT_LT(5, nr_direct) TH_LOG("the stages file lists %d direct stages", nr_direct);
	for (kind = 0; kind < K_COUNT; kind++) {
		int exec = kind >= K_EXEC_ELF;
		int nth, done = 0;

		for (nth = 1; nth <= MAX_NTH && !done; nth++) {
			long long c0, p0, c1, p1, cpf0, cf0, ef0;
			char frames[64][64];
			int nframes, left = -1, signaled = 0, ok = 1, i;
			const char *fault_stage = NULL;
			pid_t who = getpid();
			struct found f;
			long ret;

			ASSERT_EQ(0, fs_snapshot_creations(&c0, &p0));
			cpf0 = fs_counter("copy_process_failures");
			cf0 = fs_counter("clone_failures");
			ef0 = fs_counter("exec_failures");
			if (exec) {
				ret = call_exec(kind, nth, &who, &left, &signaled);
			} else {
				ret = call_fork(kind, self->fd, nth);
				left = fail_nth_left(self->fd);
				fail_nth_set(self->fd, 0);
			}
			drain_klog();
			/*
			 * Killed, but the fault's stack is not exec's: exec
			 * succeeded and the new program's start-up took the
			 * fault (a page table in a page fault, say).
			 */
			if (ret == -1001 && !strstr(trace_buf, "do_execveat_common") &&
			    !strstr(trace_buf, "bprm_execve"))
				ret = 0;
			if (ret >= 0 && left > 0) {
				done = 1; /* the call ran out of fault sites */
				break;
			}
			if (ret < 0 && left > 0) {
				t[kind].mismatches++;
				printf("# %s nth %d: failed (%ld) with no fault injected\n",
				       kind_names[kind], nth, ret);
				continue;
			}
			if (ret >= 0) {
				/* A fault the call survived, or one after a successful exec. */
				t[kind].points++;
				find_records(exec, who, &mark, &f);
				mark = f.last;
				if (f.n) {
					t[kind].mismatches++;
					printf("# %s nth %d: call succeeded, %d failure records: %s\n",
					       kind_names[kind], nth, f.n, f.line);
				}
				continue;
			}
			t[kind].points++;
			t[kind].failed++;
			find_records(exec, who, &mark, &f);
			mark = f.last;
			nframes = fault_frames(frames, 64);
			for (i = 0; i < nframes && !fault_stage; i++)
				if (stage_in_record(&f, frames[i]))
					fault_stage = frames[i];
			if (f.n != 1) {
				ok = 0;
				printf("# %s nth %d: ret %ld (signal %d), %d records\n", kind_names[kind],
				       nth, ret, signaled, f.n);
			} else {
				if (ret > -1000 && f.ret != ret) {
					ok = 0;
					printf("# %s nth %d: ret %ld, record ret %lld\n",
					       kind_names[kind], nth, ret, f.ret);
				}
				if (strcmp(f.verdict, "unchecked") || !f.reason[0]) {
					ok = 0;
					printf("# %s nth %d: verdict '%s' reason '%s'\n",
					       kind_names[kind], nth, f.verdict, f.reason);
				}
				const char *after;

				if (!fault_stage) {
					t[kind].unlocated++;
				} else if (!ends_at(&f, fault_stage, exec, &after)) {
					ok = 0;
					printf("# %s nth %d: fault in %s, record goes on to %s: %.300s\n",
					       kind_names[kind], nth, fault_stage,
					       after ? after : "?", f.line);
				}
			}
			ASSERT_EQ(0, fs_snapshot_creations(&c1, &p1));
			if (c1 - c0 != p1 - p0) {
				ok = 0;
				printf("# %s nth %d: creations +%lld, processes +%lld\n",
				       kind_names[kind], nth, c1 - c0, p1 - p0);
			}
			if (exec) {
				if (fs_counter("exec_failures") - ef0 != 1) {
					ok = 0;
					printf("# %s nth %d: exec_failures +%lld\n", kind_names[kind],
					       nth, fs_counter("exec_failures") - ef0);
				}
			} else if (fs_counter("clone_failures") - cf0 != 1 ||
				   fs_counter("copy_process_failures") - cpf0 > 1) {
				ok = 0;
				printf("# %s nth %d: clone_failures +%lld copy_process_failures +%lld\n",
				       kind_names[kind], nth, fs_counter("clone_failures") - cf0,
				       fs_counter("copy_process_failures") - cpf0);
			}
			if (!in_flight_settles()) {
				ok = 0;
				printf("# %s nth %d: in_flight %lld\n", kind_names[kind], nth,
				       fs_counter("in_flight"));
			}
			if (ok) {
				t[kind].matched++;
			} else {
				t[kind].mismatches++;
				print_fault_stack(kind_names[kind], nth, frames, nframes);
			}
		}
		EXPECT_TRUE(done) TH_LOG("%s: still failing at nth %d", kind_names[kind], MAX_NTH);
		EXPECT_LT(0, t[kind].failed) TH_LOG("%s: no fault made the call fail",
						    kind_names[kind]);
	}
	printf("# %-13s %8s %7s %8s %10s %10s\n", "kind", "points", "failed", "matched",
	       "unlocated", "mismatches");
	for (kind = 0; kind < K_COUNT; kind++) {
		printf("# %-13s %8d %7d %8d %10d %10d\n", kind_names[kind], t[kind].points,
		       t[kind].failed, t[kind].matched, t[kind].unlocated, t[kind].mismatches);
		total_mismatches += t[kind].mismatches;
	}
	EXPECT_EQ(0, total_mismatches);
}

/*
 * fail_function: the fork and exec functions this kernel lets fail directly
 * (ALLOW_ERROR_INJECTION). Each fails a fork once with -ENOMEM; the record
 * must stop at that function's stage.
 */
TEST_F_TIMEOUT(sweep, fail_function_stops_the_record_at_that_function, 900)
{
	static char injectable[1 << 16], stages[1 << 16];
	int tried = 0, bad = 0, i;
	struct fs_order mark = { 0, 0 };
	struct found f;

	if (self->fd < 0)
		SKIP(return, "no /proc/thread-self/fail-nth");
	if (fs_read_file("/sys/kernel/debug/fail_function/injectable", injectable,
			 sizeof(injectable)) < 0)
		SKIP(return, "no fail_function (kernel without CONFIG_FAIL_FUNCTION)");
	read_direct_stages();
	ASSERT_LT(5, nr_direct);
	if (fs_read_file(FS_DEBUGFS "/stages", stages, sizeof(stages)) <= 0)
		stages[0] = '\0';
	find_records(0, getpid(), &mark, &f);
	mark = f.last;
	for (i = 0; i < nr_direct; i++) {
		const char *fn = direct_stages[i], *after;
		char path[160], needle[48];
		long ret;

		snprintf(needle, sizeof(needle), "\n%.31s\t", fn); /* direct_stages[] holds 31 */
		if (!strstr(injectable, needle) && strncmp(injectable, needle + 1, strlen(fn) + 1))
			continue;
		tried++;
		ASSERT_EQ(0, write_str("/sys/kernel/debug/fail_function/inject", fn));
		snprintf(path, sizeof(path), "/sys/kernel/debug/fail_function/%s/retval", fn);
		ASSERT_EQ(0, write_str(path, "-12"));
		ASSERT_EQ(0, write_str("/sys/kernel/debug/fail_function/task-filter", "Y"));
		ASSERT_EQ(0, write_str("/sys/kernel/debug/fail_function/probability", "100"));
		ASSERT_EQ(0, write_str("/sys/kernel/debug/fail_function/times", "1"));
		ASSERT_EQ(0, write_str("/proc/self/make-it-fail", "1"));
		ret = call_fork(K_FORK, self->fd, 0);
		write_str("/proc/self/make-it-fail", "0");
		write_str("/sys/kernel/debug/fail_function/inject", "");
		drain_klog();
		find_records(0, getpid(), &mark, &f);
		mark = f.last;
		if (ret >= 0 || f.n != 1 || f.ret != ret || !ends_at(&f, fn, 0, &after)) {
			bad++;
			printf("# fail_function %s: fork %ld, %d records, last stage %s\n", fn, ret,
			       f.n, f.last_stage);
		}
	}
	printf("# fail_function: %d of %d fork stages injectable, %d mismatches\n", tried,
	       nr_direct, bad);
	EXPECT_EQ(0, bad);
	if (!tried)
		SKIP(return, "none of the %d fork functions is in fail_function/injectable", nr_direct);
}

int main(int argc, char **argv)
{
	/* After a successful exec: report what was left of fail-nth. */
	if (argc >= 2 && (!strcmp(argv[1], "--left") || !strcmp(argv[1], "--script"))) {
		int fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
		struct exec_report rep = { .err = 0, .left = fd >= 0 ? fail_nth_left(fd) : -1 };

		if (fd >= 0)
			fail_nth_set(fd, 0);
		if (write(3, &rep, sizeof(rep)) != sizeof(rep))
			return 2;
		return 0;
	}
	return test_harness_run(argc, argv);
}
