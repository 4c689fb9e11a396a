// SPDX-License-Identifier: GPL-2.0
/*
 * The probe plan in the running kernel: at every detail level and with each
 * hook mechanism forced in turn, the stage sums stay exact, creations equal
 * /proc/stat's processes, every creation lands in one bucket, and only the
 * level's anchors are armed; enable/disable/detail toggled under fork load
 * keep the counts exact.
 */
#include "forkscope_test.h"
#include "fs_json.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "fs_harness.h"

#define COMM "fs_plan"

/* One probe line of the counters file, parsed. */
struct probe_line {
	char symbol[64], entry[16], ret[16];
	long long registered, hits, armed, sites, optimized, return_hits, foreign, missed;
};

static int probe_line(const char *text, const char *symbol, struct probe_line *out)
{
	char needle[80];
	const char *p;

	/* "name" or a GCC clone of it ("name.isra.0"). */
	snprintf(needle, sizeof(needle), "\nprobe %s", symbol);
	for (p = strstr(text, needle); p; p = strstr(p + 1, needle))
		if (p[strlen(needle)] == ' ' || p[strlen(needle)] == '.')
			break;
	if (!p)
		return -1;
	return sscanf(p + 1,
		      "probe %63s registered %lld hits %lld armed %lld entry %15s return %15s sites %lld optimized %lld return_hits %lld foreign %lld missed %lld",
		      out->symbol, &out->registered, &out->hits, &out->armed, out->entry, out->ret,
		      &out->sites, &out->optimized, &out->return_hits, &out->foreign,
		      &out->missed) == 11 ? 0 : -1;
}

static int reap(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Forks, vforks, a thread and a fork+exec: every kind of stage boundary. */
static void workload(struct __test_metadata *_metadata, int rounds)
{
	int i;

	for (i = 0; i < rounds; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		ASSERT_EQ(0, reap(pid));
	}
	ASSERT_EQ(0, fs_do_forks(rounds));
	ASSERT_EQ(0, fs_do_vforks(rounds));
	ASSERT_EQ(0, fs_do_threads(rounds));
}

/* Decision buckets of every creation: they add up to creations. */
static long long buckets(const char *text)
{
	return fs_find_value(text, "recorded") + fs_find_value(text, "filtered") +
	       fs_find_value(text, "sampled_out") + fs_find_value(text, "disabled") +
	       fs_find_value(text, "untracked");
}

FIXTURE(plan) {
	char text[65536];
};

FIXTURE_VARIANT(plan) {
	const char *params;
	int fork_stages;	/* the level times every fork stage */
	int exec_stages;	/* ...every exec stage */
	const char *step_entry;	/* copy_creds' entry hook */
	const char *step_return;
};

FIXTURE_VARIANT_ADD(plan, all) {
	.params = "", .fork_stages = 1, .exec_stages = 1,
	.step_entry = "ftrace", .step_return = "callsite",
};
FIXTURE_VARIANT_ADD(plan, summary) {
	.params = "detail=summary", .fork_stages = 0, .exec_stages = 0,
	.step_entry = "ftrace", .step_return = "callsite",
};
FIXTURE_VARIANT_ADD(plan, fork) {
	.params = "detail=fork", .fork_stages = 1, .exec_stages = 0,
	.step_entry = "ftrace", .step_return = "callsite",
};
FIXTURE_VARIANT_ADD(plan, exec) {
	.params = "detail=exec", .fork_stages = 0, .exec_stages = 1,
	.step_entry = "ftrace", .step_return = "callsite",
};
FIXTURE_VARIANT_ADD(plan, kprobe_entries) {
	.params = "mechanism=kprobe", .fork_stages = 1, .exec_stages = 1,
	.step_entry = "kprobe", .step_return = "callsite",
};
FIXTURE_VARIANT_ADD(plan, kretprobes_only) {
	.params = "mechanism=kretprobe", .fork_stages = 1, .exec_stages = 1,
	.step_entry = "kretprobe", .step_return = "kretprobe",
};

FIXTURE_SETUP(plan)
{
	ASSERT_EQ(0, fs_unload_if_loaded());
	ASSERT_EQ(0, fs_load(variant->params)) TH_LOG("params: %s", variant->params);
	ASSERT_EQ(0, prctl(PR_SET_NAME, COMM, 0, 0, 0));
}

FIXTURE_TEARDOWN(plan)
{
	fs_unload();
}

TEST_F(plan, hooks_follow_the_level_and_the_mechanism)
{
	struct probe_line p;

	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", self->text, sizeof(self->text)));
	/* Armed at load: failure counting never paused. */
	EXPECT_EQ(0, fs_find_value(self->text, "failures_paused"));
	EXPECT_EQ(0, fs_find_value(self->text, "failures_pauses"));
	/* Spans are kretprobes, whatever the mechanism. */
	ASSERT_EQ(0, probe_line(self->text, "kernel_clone", &p)) TH_LOG("%s", self->text);
	EXPECT_STREQ("kretprobe", p.entry);
	EXPECT_EQ(1, p.armed);
	ASSERT_EQ(0, probe_line(self->text, "copy_process", &p));
	EXPECT_STREQ("kretprobe", p.entry);
	EXPECT_EQ(1, p.armed);
	/* Exits come from the sched_process_exit tracepoint, always armed. */
	ASSERT_EQ(0, probe_line(self->text, "do_exit", &p));
	EXPECT_STREQ("tracepoint", p.entry);
	EXPECT_EQ(1, p.armed);
	/* A step: its hooks, armed at fork levels only. */
	ASSERT_EQ(0, probe_line(self->text, "copy_creds", &p));
	/* A call site OPTPROBES left an int3 at load makes the anchor a kretprobe. */
	if (strcmp(p.entry, "kretprobe")) {
		EXPECT_STREQ(variant->step_entry, p.entry);
		EXPECT_STREQ(variant->step_return, p.ret);
	} else {
		EXPECT_STREQ("kretprobe", p.ret);
	}
	EXPECT_EQ(variant->fork_stages, p.armed);
	if (!strcmp(p.ret, "callsite"))
		EXPECT_LE(1, p.sites);
	ASSERT_EQ(0, probe_line(self->text, "alloc_pid", &p));	/* dup_mmap: inlined on 6.12 */
	EXPECT_EQ(variant->fork_stages, p.armed);
	ASSERT_EQ(0, probe_line(self->text, "begin_new_exec", &p));
	EXPECT_EQ(variant->exec_stages, p.armed);
	/* Indirectly called (fmt->load_binary): no call site to hook. */
	ASSERT_EQ(0, probe_line(self->text, "load_elf_binary", &p));
	EXPECT_STREQ("kretprobe", p.ret);
	EXPECT_EQ(variant->exec_stages, p.armed);
	/* Summary's anchors are armed at every level. */
	ASSERT_EQ(0, probe_line(self->text, "wake_up_new_task", &p));
	EXPECT_EQ(1, p.armed);
	EXPECT_EQ(0, p.missed);
}

TEST_F(plan, records_sum_exactly_and_counts_match_proc_stat)
{
	long long creations0, processes0, creations1, processes1;
	struct fs_records recs;
	struct fs_record r;
	int i, forks = 0, vforks = 0;

	ASSERT_EQ(0, fs_snapshot_creations(&creations0, &processes0));
	workload(_metadata, 5);
	ASSERT_EQ(0, fs_snapshot_creations(&creations1, &processes1));
	EXPECT_EQ(processes1 - processes0, creations1 - creations0);
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", self->text, sizeof(self->text)));
	EXPECT_EQ(fs_find_value(self->text, "creations"), buckets(self->text));
	EXPECT_EQ(0, fs_find_value(self->text, "untracked"));
	EXPECT_EQ(0, fs_find_value(self->text, "dropped_boundaries"));
	EXPECT_EQ(0, fs_find_value(self->text, "repeated_boundaries"));
	EXPECT_EQ(0, fs_find_value(self->text, "probes_missed"));

	ASSERT_EQ(0, fs_records_read(FS_DEBUGFS "/records", &recs));
	for (i = 0; i < recs.count; i++) {
		struct fs_json_iter it;
		long long ns, sum = 0, outer;
		char name[64];
		int n = 0, ret;

		if (fs_record_parse(recs.lines[i], &r) != 0 || r.parent_tgid != getpid())
			continue;
		ASSERT_EQ(0, fs_json_object(r.line, "stages", &it));
		while ((ret = fs_json_next_int(&it, name, sizeof(name), &ns)) == 1) {
			sum += ns;
			n++;
		}
		EXPECT_EQ(0, ret);
		EXPECT_EQ(r.copy_process_ns, sum) TH_LOG("record: %s", r.line);
		outer = r.clone_prologue_ns + r.copy_process_ns + r.clone_publish_ns + r.wake_ns +
			r.vfork_wait_ns + r.clone_return_ns;
		EXPECT_EQ(r.total_ns, outer) TH_LOG("record: %s", r.line);
		EXPECT_EQ(0, r.anomalies) TH_LOG("record: %s", r.line);
		/* Without the fork stages, copy_process is one merged stage. */
		if (!variant->fork_stages) {
			EXPECT_EQ(1, n) TH_LOG("record: %s", r.line);
		} else {
			EXPECT_LT(10, n) TH_LOG("record: %s", r.line);
		}
		/* The vfork wait is in the summary, at every level. */
		if (r.flags_raw & CLONE_VFORK) {
			EXPECT_LT(0, r.vfork_wait_ns) TH_LOG("record: %s", r.line);
			vforks++;
		}
		forks++;
	}
	EXPECT_EQ(20, forks);	/* 5 fork+exec, 5 forks, 5 vforks, 5 threads */
	EXPECT_EQ(5, vforks);
	fs_records_free(&recs);
}

/* Lines of debugfs kprobes/list not [DISABLED] (armed), each logged; -1 if unreadable. */
static int armed_kprobes(struct __test_metadata *_metadata, const char *must_list, int log)
{
	static char list[65536];
	char *line, *save = NULL;
	int armed = 0, listed = 0;

	memset(list, 0, sizeof(list));
	if (fs_read_file("/sys/kernel/debug/kprobes/list", list, sizeof(list) - 1) < 0)
		return -1;
	for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, must_list))
			listed++;
		if (strstr(line, "[DISABLED]"))
			continue;
		armed++;
		if (log)
			TH_LOG("armed while disabled: %s", line);
	}
	/* Registered and disarmed, not unregistered. */
	return listed ? armed : -1;
}

/* A failing exec (ENOENT) and a failing clone: failures a disabled engine cannot see. */
static void failures(struct __test_metadata *_metadata, int n)
{
	static char *const argv[] = { "fs_plan_none", NULL };
	int i;

	for (i = 0; i < n; i++) {
		ASSERT_EQ(-1, execv("/nonexistent/fs_plan_none", argv));
		ASSERT_EQ(ENOENT, errno);
		/* CLONE_SIGHAND without CLONE_VM: copy_process refuses with EINVAL. */
		ASSERT_EQ(-1, syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0));
		ASSERT_EQ(EINVAL, errno);
	}
}

/*
 * Disabled: no kprobe or kretprobe armed, only tracepoints: task_newtask
 * counts creations (disabled bucket), sched_process_exec successful execs;
 * failures are not counted and the counters say failure counting is paused.
 */
TEST_F(plan, disabled_arms_no_kprobe_and_counts_stay_exact)
{
	static const char *const disarmed[] = {
		"kernel_clone", "copy_process", "do_execveat_common", "copy_creds", "alloc_pid",
		"wake_up_new_task", "begin_new_exec", "load_elf_binary",
	};
	long long creations0, processes0, creations1, processes1, disabled0, execs0, exec_dis0;
	long long clone_failures0, exec_failures0, cp_failures0;
	struct probe_line p;
	int armed = -1, tries;
	size_t i;

	ASSERT_EQ(7, fs_write_debugfs("control", "disable", 7));
	/* Disarming follows 100 ms later; unoptimizing kprobes is slow under TCG. */
	for (tries = 0; tries < 300; tries++) {
		usleep(100000);
		ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", self->text, sizeof(self->text)));
		for (i = 0; i < ARRAY_SIZE(disarmed); i++)
			if (probe_line(self->text, disarmed[i], &p) || p.armed)
				break;
		if (i == ARRAY_SIZE(disarmed) && fs_find_value(self->text, "failures_paused") == 1)
			break;
	}
	for (i = 0; i < ARRAY_SIZE(disarmed); i++) {
		ASSERT_EQ(0, probe_line(self->text, disarmed[i], &p)) TH_LOG("%s", disarmed[i]);
		EXPECT_EQ(0, p.armed) TH_LOG("%s", disarmed[i]);
	}
	EXPECT_EQ(1, fs_find_value(self->text, "failures_paused"));
	EXPECT_LE(1, fs_find_value(self->text, "failures_pauses"));
	/* The kernel's view: every kprobe listed is [DISABLED], ours still registered. */
	for (tries = 0; tries < 300; tries++) {
		/* +0x4 past an endbr (6.12) */
		armed = armed_kprobes(_metadata, " r  kernel_clone+0x", tries == 299);
		if (armed == 0)
			break;
		usleep(100000);	/* the disarming pass may still be running */
	}
	EXPECT_EQ(0, armed);

	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", self->text, sizeof(self->text)));
	disabled0 = fs_find_value(self->text, "disabled");
	execs0 = fs_find_value(self->text, "execs");
	exec_dis0 = fs_find_value(self->text, "exec_disabled");
	clone_failures0 = fs_find_value(self->text, "clone_failures");
	exec_failures0 = fs_find_value(self->text, "exec_failures");
	cp_failures0 = fs_find_value(self->text, "copy_process_failures");
	ASSERT_EQ(0, fs_snapshot_creations(&creations0, &processes0));
	workload(_metadata, 3);
	failures(_metadata, 3);
	ASSERT_EQ(0, fs_snapshot_creations(&creations1, &processes1));
	EXPECT_EQ(processes1 - processes0, creations1 - creations0);
	EXPECT_LE(12, creations1 - creations0);
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", self->text, sizeof(self->text)));
	EXPECT_EQ(fs_find_value(self->text, "creations"), buckets(self->text));
	EXPECT_EQ(creations1 - creations0, fs_find_value(self->text, "disabled") - disabled0);
	/* The 3 successful execs of /bin/true, at sched_process_exec; not the 3 failed ones. */
	EXPECT_EQ(3, fs_find_value(self->text, "execs") - execs0);
	EXPECT_EQ(3, fs_find_value(self->text, "exec_disabled") - exec_dis0);
	/* Paused: the failures went uncounted, as failures_paused says. */
	EXPECT_EQ(exec_failures0, fs_find_value(self->text, "exec_failures"));
	EXPECT_EQ(clone_failures0, fs_find_value(self->text, "clone_failures"));
	EXPECT_EQ(cp_failures0, fs_find_value(self->text, "copy_process_failures"));
	EXPECT_EQ(0, fs_find_value(self->text, "probes_missed"));
	/* Enabled: armed at once, failures counted again, the pause timed. */
	ASSERT_EQ(6, fs_write_debugfs("control", "enable", 6));
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", self->text, sizeof(self->text)));
	EXPECT_EQ(0, fs_find_value(self->text, "failures_paused"));
	EXPECT_LT(0, fs_find_value(self->text, "failures_paused_ns"));
	ASSERT_EQ(0, probe_line(self->text, "kernel_clone", &p));
	EXPECT_EQ(1, p.armed);
	failures(_metadata, 2);
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", self->text, sizeof(self->text)));
	EXPECT_EQ(exec_failures0 + 2, fs_find_value(self->text, "exec_failures"));
	EXPECT_EQ(clone_failures0 + 2, fs_find_value(self->text, "clone_failures"));
	EXPECT_EQ(fs_find_value(self->text, "execs"),
		  fs_find_value(self->text, "exec_recorded") +
		  fs_find_value(self->text, "exec_filtered") +
		  fs_find_value(self->text, "exec_sampled_out") +
		  fs_find_value(self->text, "exec_disabled") +
		  fs_find_value(self->text, "exec_untracked"));
}

/* A child that forks until killed: load for the toggling parent. */
static pid_t fork_load(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			pid_t child = fork();

			if (child == 0)
				_exit(0);
			if (child > 0)
				waitpid(child, NULL, 0);
			usleep(500);	/* load, not a flood: the toggles need the CPU too */
		}
	}
	return pid;
}

/* Once, at the default level: each toggle patches kernel text (slow under TCG). */
TEST(toggled_200_times_under_fork_load_the_counts_stay_exact)
{
	static char text[65536];
	static const char *const commands[] = {
		"disable", "enable", "detail summary", "detail fork", "detail exec", "detail all",
	};
	long long creations0, processes0, creations1, processes1;
	pid_t load;
	int i, tries, disables = 0, paused = 0;

	ASSERT_EQ(0, fs_unload_if_loaded());
	ASSERT_EQ(0, fs_load(NULL));
	ASSERT_EQ(0, fs_snapshot_creations(&creations0, &processes0));
	load = fork_load();
	ASSERT_LT(0, load);
	usleep(100000);
	for (i = 0; i < 200; i++) {
		const char *c = commands[(i * 7 + i / 6) % ARRAY_SIZE(commands)];

		ASSERT_EQ((ssize_t)strlen(c), fs_write_debugfs("control", c, strlen(c)))
			TH_LOG("write %d: %s", i, c);
		/*
		 * Quick toggles patch no text (the disarm is delayed): let some
		 * disables disarm everything, under the load, before the next.
		 */
		if (!strcmp(c, "disable") && ++disables % 4 == 0) {
			for (tries = 0; tries < 100 && fs_counter("failures_paused") != 1; tries++)
				usleep(20000);
			usleep(50000);	/* creations while disarmed */
			paused++;
		}
	}
	ASSERT_EQ(6, fs_write_debugfs("control", "enable", 6));
	kill(load, SIGKILL);
	waitpid(load, NULL, 0);
	ASSERT_EQ(0, fs_snapshot_creations(&creations1, &processes1));
	EXPECT_EQ(processes1 - processes0, creations1 - creations0);
	EXPECT_LT(0, creations1 - creations0);
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", text, sizeof(text)));
	EXPECT_EQ(fs_find_value(text, "creations"), buckets(text));
	EXPECT_LT(0, fs_find_value(text, "recorded"));
	EXPECT_EQ(0, fs_find_value(text, "untracked"));
	EXPECT_EQ(0, fs_find_value(text, "dropped_boundaries"));
	/* The disarmed windows were reached, and creations ran in them. */
	EXPECT_LE(paused, fs_find_value(text, "failures_pauses"));
	EXPECT_LT(0, paused);
	EXPECT_LT(0, fs_find_value(text, "disabled"));
	EXPECT_EQ(0, fs_find_value(text, "failures_paused"));
	TH_LOG("%lld creations while toggling, %lld recorded, %lld disabled; %lld pauses, %lld ms",
	       creations1 - creations0, fs_find_value(text, "recorded"),
	       fs_find_value(text, "disabled"), fs_find_value(text, "failures_pauses"),
	       fs_find_value(text, "failures_paused_ns") / 1000000);
	EXPECT_EQ(0, fs_unload());
}

TEST_HARNESS_MAIN
