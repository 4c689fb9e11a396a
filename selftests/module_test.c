// SPDX-License-Identifier: GPL-2.0
/*
 * forkscope module lifecycle: load/unload leave nothing behind, static C++
 * constructors ran, bad parameters and missing symbols refuse the load with
 * a reason, and debugfs files are root-only and survive hostile I/O.
 */
#include "forkscope_test.h"

#include <sys/utsname.h>

#include "fs_harness.h"

static void ensure_unloaded(struct __test_metadata *_metadata)
{
	if (fs_is_loaded())
		ASSERT_EQ(0, fs_unload());
}

TEST(load_unload_twice)
{
	char buf[4096];
	struct utsname uts;
	int round;

	ensure_unloaded(_metadata);
	ASSERT_EQ(0, uname(&uts));
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, fs_load(NULL));
		ASSERT_TRUE(fs_is_loaded());
		ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/version", buf, sizeof(buf)));
		EXPECT_EQ(0, strncmp(buf, "forkscope ", 10));
		EXPECT_NE(NULL, strstr(buf, uts.release));
		/*
		 * .init_array ran exactly once: by cxxrt, or by the module
		 * loader on CONFIG_CONSTRUCTORS kernels (KASAN selects it).
		 */
		EXPECT_NE(NULL, strstr(buf, "cxxrt_static_init ok\n"));
		EXPECT_EQ(1, fs_find_value(buf, "cxxrt_static_init_runs"));
		if (strstr(buf, "cxxrt_ctors_by kernel\n")) {
			EXPECT_EQ(0, fs_find_value(buf, "cxxrt_ctors_run"));
		} else {
			EXPECT_NE(NULL, strstr(buf, "cxxrt_ctors_by cxxrt\n"));
			EXPECT_LE(1, fs_find_value(buf, "cxxrt_ctors_run"));
		}
		EXPECT_EQ(0, fs_find_value(buf, "cxxrt_faulted"));
		ASSERT_EQ(0, fs_unload());
		EXPECT_FALSE(fs_is_loaded());
		EXPECT_EQ(-1, access(FS_DEBUGFS, F_OK));
		EXPECT_EQ(ENOENT, errno);
	}
	EXPECT_FALSE(fs_klog_contains("still live at unload"));
}

/*
 * Nothing the load started (its calibration registers kprobes on module
 * text, which pins the module) outlives init: an immediate non-blocking
 * unload succeeds at its first try, with no retry.
 */
TEST(unload_at_once_after_load)
{
	int round;

	ensure_unloaded(_metadata);
	for (round = 0; round < 5; round++) {
		ASSERT_EQ(0, fs_load(NULL));
		ASSERT_EQ(0, syscall(SYS_delete_module, "forkscope", O_NONBLOCK))
			TH_LOG("round %d: %s", round, strerror(errno));
	}
	EXPECT_FALSE(fs_is_loaded());
}

TEST(second_load_is_refused_and_first_keeps_working)
{
	ensure_unloaded(_metadata);
	ASSERT_EQ(0, fs_load(NULL));
	EXPECT_EQ(-EEXIST, fs_load(NULL));
	EXPECT_LE(0, fs_counter("creations"));
	ASSERT_EQ(0, fs_unload());
}

TEST(missing_required_symbol_refuses_load_and_names_it)
{
	ensure_unloaded(_metadata);
	EXPECT_EQ(-ENOENT, fs_load("deny_symbols=kernel_clone,_do_fork"));
	EXPECT_FALSE(fs_is_loaded());
	EXPECT_TRUE(fs_klog_contains("required kernel symbol kernel_clone not found"));
	EXPECT_EQ(-1, access(FS_DEBUGFS, F_OK));
	/* Denying an unrelated name changes nothing. */
	ASSERT_EQ(0, fs_load("deny_symbols=no_such_function"));
	ASSERT_EQ(0, fs_unload());
}

TEST(bad_parameters_refuse_load)
{
	static const char *const bad[] = {
		"max_inflight=0", "max_inflight=-5", "max_inflight=65537",
		"max_inflight=abc", "max_inflight=99999999999999999999",
		"max_inflight=", "max_inflight=1x",
	};
	unsigned int i;

	ensure_unloaded(_metadata);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = fs_load(bad[i]);

		EXPECT_NE(0, err) TH_LOG("%s was accepted", bad[i]);
		EXPECT_FALSE(fs_is_loaded());
		if (fs_is_loaded())
			fs_unload();
	}
	EXPECT_TRUE(fs_klog_contains("max_inflight=0 is out of range"));
	ASSERT_EQ(0, fs_load("max_inflight=1"));
	ASSERT_EQ(0, fs_unload());
	/* The kernel itself skips unknown parameters, with a notice. */
	ASSERT_EQ(0, fs_load("no_such_param=1"));
	EXPECT_TRUE(fs_klog_contains("unknown parameter 'no_such_param' ignored"));
	ASSERT_EQ(0, fs_unload());
}

TEST(files_are_root_only)
{
	struct stat st;
	pid_t pid;
	int status;

	ensure_unloaded(_metadata);
	ASSERT_EQ(0, fs_load(NULL));
	ASSERT_EQ(0, stat(FS_DEBUGFS "/counters", &st));
	EXPECT_EQ(0400, st.st_mode & 0777);
	EXPECT_EQ(0, st.st_uid);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char buf[64];

		if (setgid(65534) || setuid(65534))
			_exit(2);
		/* Non-root: neither the file nor the version may be read. */
		_exit(fs_read_file(FS_DEBUGFS "/counters", buf, sizeof(buf)) < 0 &&
		      fs_read_file(FS_DEBUGFS "/version", buf, sizeof(buf)) < 0 ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, fs_unload());
}

TEST(hostile_io_on_files)
{
	static const char *const files[] = { "version", "counters" };
	char whole[4096], piece[4096], path[128];
	unsigned int i;

	ensure_unloaded(_metadata);
	ASSERT_EQ(0, fs_load(NULL));
	for (i = 0; i < 2; i++) {
		ssize_t len, got = 0;
		int fd;

		snprintf(path, sizeof(path), FS_DEBUGFS "/%s", files[i]);
		/* Writes are refused, whatever they carry. */
		fd = open(path, O_WRONLY);
		if (fd >= 0) {
			EXPECT_GT(0, write(fd, "reset\n", 6));
			EXPECT_GT(0, write(fd, "\0\xff\x01", 3));
			close(fd);
		}
		/* One-byte reads reassemble the same snapshot as one big read. */
		fd = open(path, O_RDONLY);
		ASSERT_LE(0, fd);
		len = read(fd, whole, sizeof(whole));
		ASSERT_LT(0, len);
		ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
		while (got < len && read(fd, piece + got, 1) == 1)
			got++;
		EXPECT_EQ(len, got);
		EXPECT_EQ(0, memcmp(whole, piece, len));
		/* Past the end: EOF, not garbage. */
		EXPECT_EQ(0, pread(fd, piece, sizeof(piece), len + 1000000));
		EXPECT_EQ(0, pread(fd, piece, 0, 0));
		EXPECT_GT(0, lseek(fd, -5, SEEK_SET));
		close(fd);
	}
	ASSERT_EQ(0, fs_unload());
}

TEST(unload_while_a_reader_holds_a_file_open)
{
	char buf[256];
	int fd;

	ensure_unloaded(_metadata);
	ASSERT_EQ(0, fs_load(NULL));
	fd = open(FS_DEBUGFS "/counters", O_RDONLY);
	ASSERT_LE(0, fd);
	/* The open file pins the module; unload is refused, not a crash. */
	EXPECT_NE(0, syscall(SYS_delete_module, "forkscope", O_NONBLOCK));
	EXPECT_LT(0, read(fd, buf, sizeof(buf)));
	close(fd);
	ASSERT_EQ(0, fs_unload());
}

TEST(load_unload_under_fork_load)
{
	pid_t child;
	int round, status;

	const char *accel = getenv("fs_accel");

	/*
	 * Loading and unloading live-patches kernel text (ftrace call sites)
	 * while other vCPUs run it. QEMU's multi-threaded TCG does not keep
	 * that coherent: the kernel's own kprobe events, cycled the same way
	 * without forkscope, oops there too (RIP 0 after copy_process's call
	 * sites) or spin at a stale int3. scripts/vm passes fs_accel= on the
	 * kernel command line; make check and scripts/storm run it coherent.
	 */
	if (accel && !strcmp(accel, "tcg"))
		SKIP(return, "multi-threaded TCG corrupts live-patched kernel text; scripts/storm reloads under tcg,thread=single");
	child = fork();

	ensure_unloaded(_metadata);
	ASSERT_LE(0, child);
	if (child == 0) {
		for (;;)
			fs_do_forks(1);
	}
	for (round = 0; round < 10; round++) {
		ASSERT_EQ(0, fs_load(NULL));
		usleep(20000);
		EXPECT_LT(0, fs_counter("creations"));
		ASSERT_EQ(0, fs_unload());
	}
	kill(child, SIGKILL);
	ASSERT_EQ(child, waitpid(child, &status, 0));
}

TEST_HARNESS_MAIN
