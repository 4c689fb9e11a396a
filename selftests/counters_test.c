// SPDX-License-Identifier: GPL-2.0
/*
 * forkscope's creations counter against the kernel's own count of created
 * tasks (/proc/stat "processes"): equal for forks, vforks, threads and
 * failing clones, with no probe misses.
 */
#include "forkscope_test.h"

#include "fs_harness.h"

#define ROUNDS 200

FIXTURE(loaded) {
	long long creations, processes, failures;
};

FIXTURE_SETUP(loaded)
{
	if (fs_is_loaded())
		ASSERT_EQ(0, fs_unload());
	ASSERT_EQ(0, fs_load(NULL));
	ASSERT_EQ(0, fs_snapshot_creations(&self->creations, &self->processes));
	self->failures = fs_counter("clone_failures");
}

FIXTURE_TEARDOWN(loaded)
{
	fs_unload();
}

/* Both counters moved by the same amount, at least `made`. */
static void expect_same_growth(struct __test_metadata *_metadata,
			       FIXTURE_DATA(loaded) *self, long long made)
{
	long long creations, processes;

	ASSERT_EQ(0, fs_snapshot_creations(&creations, &processes));
	EXPECT_EQ(processes - self->processes, creations - self->creations);
	EXPECT_LE(made, creations - self->creations);
}

TEST_F(loaded, forks_match_proc_stat)
{
	ASSERT_EQ(0, fs_do_forks(ROUNDS));
	expect_same_growth(_metadata, self, ROUNDS);
}

TEST_F(loaded, vforks_match_proc_stat)
{
	ASSERT_EQ(0, fs_do_vforks(ROUNDS));
	expect_same_growth(_metadata, self, ROUNDS);
}

TEST_F(loaded, threads_match_proc_stat)
{
	ASSERT_EQ(0, fs_do_threads(ROUNDS));
	expect_same_growth(_metadata, self, ROUNDS);
}

TEST_F(loaded, failing_clones_are_failures_not_creations)
{
	int i;

	for (i = 0; i < 50; i++) {
		/* CLONE_SIGHAND without CLONE_VM: copy_process refuses with EINVAL. */
		long ret = syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0);

		if (ret == 0)
			_exit(0);
		ASSERT_EQ(-1, ret);
		ASSERT_EQ(EINVAL, errno);
	}
	expect_same_growth(_metadata, self, 0);
	EXPECT_EQ(self->failures + 50, fs_counter("clone_failures"));
}

TEST_F(loaded, no_probe_misses_and_all_returns_classified)
{
	char buf[4096];
	char *line;

	ASSERT_EQ(0, fs_do_forks(50));
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", buf, sizeof(buf)));
	/* Every successful creation lands in exactly one accounting bucket. */
	EXPECT_EQ(fs_find_value(buf, "creations"),
		  fs_find_value(buf, "recorded") + fs_find_value(buf, "filtered") +
		  fs_find_value(buf, "sampled_out") + fs_find_value(buf, "disabled") +
		  fs_find_value(buf, "untracked"));
	EXPECT_EQ(0, fs_find_value(buf, "untracked"));
	EXPECT_EQ(0, fs_find_value(buf, "unattributed"));
	EXPECT_EQ(0, fs_find_value(buf, "probes_missed"));
	line = strstr(buf, "probe kernel_clone registered 1 hits ");
	ASSERT_NE(NULL, line);
	EXPECT_NE(NULL, strstr(line, " missed 0\n"));
	EXPECT_LE(fs_find_value(buf, "recorded"),
		  strtoll(line + strlen("probe kernel_clone registered 1 hits "), NULL, 10));
}

TEST_HARNESS_MAIN
