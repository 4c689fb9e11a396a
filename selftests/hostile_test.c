// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile input: over 10^5 random, malformed and concurrent writes to control
 * and filter, writes to the module's parameters, and loads with bad parameters.
 * Every write is either rejected (EINVAL, or EFAULT for a bad buffer) with the
 * state unchanged, or accepted with its documented meaning; nothing crashes.
 */
#include "forkscope_test.h"

#include "fs_harness.h"

#define SERIAL_WRITES 50000
#define CONCURRENT_WRITERS 4
#define CONCURRENT_WRITES 15000 /* per writer */

static const char *const words[] = {
	"enable", "disable", "reset", "sample", "clear", "pid=", "tgid=", "comm=", "kind=",
	"fork", "vfork", "thread", "clone", "clone3", "kthread", "io_worker", "umh", "exec",
	"0", "1", "-1", "7", "1000000", "1000001", "4194304", "4194305", "4294967296",
	"99999999999999999999", "0x10", "+5", " ", "\t", "\n", "=", "==", "\x01", "\xff",
	"sh", "a_very_long_command_name", "pid=1", "kind=fork", "sample 10",
};

static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

static unsigned int rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned int)(rng_state >> 11);
}

/* A hostile write: word salad, binary, oversized, or a valid command. */
static size_t make_input(char *buf, size_t size, int *known_valid)
{
	size_t len = 0, want;
	unsigned int i, n;

	*known_valid = 0;
	switch (rnd() % 8) {
	case 0: /* random bytes, NULs included */
		want = rnd() % 300;
		for (len = 0; len < want && len < size; len++)
			buf[len] = (char)rnd();
		return len;
	case 1: /* oversized: up to a page and beyond */
		want = 257 + rnd() % 8000;
		if (want > size)
			want = size;
		memset(buf, rnd() % 2 ? 'a' : ' ', want);
		memcpy(buf, "sample 5", 8);
		return want;
	case 2: /* a valid control command */
		*known_valid = 1;
		n = rnd() % 4;
		if (n == 0)
			return snprintf(buf, size, "enable\n");
		if (n == 1)
			return snprintf(buf, size, "disable");
		return snprintf(buf, size, " sample %u \n", 1 + rnd() % 1000000);
	case 3: /* a valid filter */
		*known_valid = 2;
		return snprintf(buf, size, "pid=%u kind=%s comm=c%u", 1 + rnd() % 4194304,
				rnd() % 2 ? "fork" : "thread", rnd() % 1000);
	default: /* word salad */
		n = 1 + rnd() % 6;
		for (i = 0; i < n; i++) {
			const char *w = words[rnd() % ARRAY_SIZE(words)];
			size_t wl = strlen(w);

			if (len + wl + 1 >= size)
				break;
			memcpy(buf + len, w, wl);
			len += wl;
			if (rnd() % 2)
				buf[len++] = ' ';
		}
		return len;
	}
}

static void read_state(const char *name, char *buf, size_t size)
{
	char path[128];

	snprintf(path, sizeof(path), FS_DEBUGFS "/%s", name);
	if (fs_read_file(path, buf, size) < 0)
		buf[0] = '\0';
}

/* control reads "enabled|disabled sample N\n"; N in 1..1000000. */
static int control_is_canonical(const char *text)
{
	unsigned long n;
	char state[16];

	if (sscanf(text, "%15s sample %lu", state, &n) != 2)
		return 0;
	return (!strcmp(state, "enabled") || !strcmp(state, "disabled")) && n >= 1 &&
	       n <= 1000000;
}

FIXTURE(loaded) {
	long long writes;
};

FIXTURE_SETUP(loaded)
{
	ASSERT_EQ(0, fs_unload_if_loaded());
	ASSERT_EQ(0, fs_load("ring_size=64"));
	self->writes = 0;
}

FIXTURE_TEARDOWN(loaded)
{
	EXPECT_EQ(0, fs_unload());
}

TEST_F_TIMEOUT(loaded, serial_writes_are_rejected_unchanged_or_mean_what_they_say, 900)
{
	static char input[9000];
	char before_c[256], before_f[512], after_c[256], after_f[512], expect[300];
	long long accepted = 0, rejected = 0, faulted = 0;
	int i, checked;
	long long rewrites = 0;
	/* volatile: the compiler must not see (and warn about) the bad address. */
	const void *volatile unreadable = (const void *)8;

	for (i = 0; i < SERIAL_WRITES; i++) {
		const char *file = rnd() % 2 ? "control" : "filter";
		int known_valid;
		size_t len = make_input(input, sizeof(input), &known_valid);
		ssize_t ret;

		if (known_valid == 1)
			file = "control";
		else if (known_valid == 2)
			file = "filter";
		/* Reading the state costs more than writing: check one write in 8. */
		checked = known_valid || i % 8 == 0;
		if (checked) {
			read_state("control", before_c, sizeof(before_c));
			read_state("filter", before_f, sizeof(before_f));
		}
		if (i % 997 == 0) {
			/* A buffer the kernel cannot read. */
			ret = fs_write_debugfs(file, unreadable, 16);
			ASSERT_EQ(-1, ret);
			ASSERT_EQ(EFAULT, errno);
			faulted++;
		} else {
			ret = fs_write_debugfs(file, input, len);
		}
		if (ret < 0 && errno != EINVAL && errno != EFAULT)
			ASSERT_EQ(EINVAL, errno) TH_LOG("write %d: errno %d", i, errno);
		if (!checked) {
			if (ret < 0)
				rejected++;
			else
				accepted++;
			continue;
		}
		read_state("control", after_c, sizeof(after_c));
		read_state("filter", after_f, sizeof(after_f));
		ASSERT_TRUE(control_is_canonical(after_c)) TH_LOG("control reads '%s'", after_c);
		if (ret < 0) {
			ASSERT_STREQ(before_c, after_c) TH_LOG("rejected write %d changed control", i);
			ASSERT_STREQ(before_f, after_f) TH_LOG("rejected write %d changed filter", i);
			rejected++;
			continue;
		}
		ASSERT_EQ((ssize_t)len, ret);
		accepted++;
		rewrites++;
		/* Re-writing what the filter file reads must leave it as it is. */
		ASSERT_EQ((ssize_t)strlen(after_f), fs_write_debugfs("filter", after_f, strlen(after_f)));
		read_state("filter", before_f, sizeof(before_f));
		ASSERT_STREQ(after_f, before_f);
		if (known_valid == 2) {
			/* Canonical order: pid, tgid, comm, kinds. */
			unsigned int pid;
			char kind[16], comm[16];

			ASSERT_EQ(3, sscanf(input, "pid=%u kind=%15s comm=%15s", &pid, kind, comm));
			snprintf(expect, sizeof(expect), "pid=%u comm=%s kind=%s\n", pid, comm, kind);
			ASSERT_STREQ(expect, after_f);
		} else if (known_valid == 1) {
			unsigned int n;

			if (sscanf(input, " sample %u", &n) == 1) {
				ASSERT_EQ(n, strtoul(strstr(after_c, "sample ") + 7, NULL, 10));
			} else {
				ASSERT_EQ(input[0] == 'e', !strncmp(after_c, "enabled", 7));
			}
		}
	}
	self->writes = SERIAL_WRITES + rewrites;
	TH_LOG("%lld writes: %lld accepted, %lld rejected (%lld bad buffers), %lld re-writes",
	       self->writes, accepted, rejected, faulted, rewrites);
	EXPECT_LT(1000, accepted);
	EXPECT_LT(1000, rejected);
}

TEST_F_TIMEOUT(loaded, concurrent_writers_leave_a_consistent_state, 900)
{
	char control[256], filter[512];
	pid_t pids[CONCURRENT_WRITERS];
	int w, status, failures = 0;

	for (w = 0; w < CONCURRENT_WRITERS; w++) {
		pids[w] = fork();
		ASSERT_LE(0, pids[w]);
		if (pids[w] == 0) {
			static char input[9000];
			int i, bad = 0;

			rng_state += 7919ULL * (w + 1);
			for (i = 0; i < CONCURRENT_WRITES; i++) {
				int known_valid;
				size_t len = make_input(input, sizeof(input), &known_valid);
				const char *file = known_valid == 1 ? "control" :
						   known_valid == 2 ? "filter" :
						   rnd() % 2 ? "control" : "filter";
				ssize_t ret = fs_write_debugfs(file, input, len);

				if (ret < 0 && errno != EINVAL)
					bad++;
				if (ret >= 0 && ret != (ssize_t)len)
					bad++;
				if (known_valid && ret < 0)
					bad++;
			}
			_exit(bad ? 1 : 0);
		}
	}
	for (w = 0; w < CONCURRENT_WRITERS; w++) {
		ASSERT_EQ(pids[w], waitpid(pids[w], &status, 0));
		failures += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	EXPECT_EQ(0, failures);
	read_state("control", control, sizeof(control));
	EXPECT_TRUE(control_is_canonical(control)) TH_LOG("control reads '%s'", control);
	/* The last accepted filter is a whole one: it re-parses to itself. */
	read_state("filter", filter, sizeof(filter));
	EXPECT_EQ((ssize_t)strlen(filter), fs_write_debugfs("filter", filter, strlen(filter)));
	/* And the known commands still mean what they say. */
	ASSERT_EQ(9, fs_write_debugfs("control", "sample 42", 9));
	ASSERT_EQ(6, fs_write_debugfs("control", "enable", 6));
	ASSERT_EQ(5, fs_write_debugfs("filter", "clear", 5));
	EXPECT_EQ(42, fs_counter("sample_every"));
	EXPECT_EQ(1, fs_counter("enabled"));
	ASSERT_EQ(0, fs_do_forks(20));
	read_state("filter", filter, sizeof(filter));
	EXPECT_STREQ("clear\n", filter);
	EXPECT_EQ(fs_counter("creations"),
		  fs_counter("recorded") + fs_counter("filtered") + fs_counter("sampled_out") +
			  fs_counter("disabled") + fs_counter("untracked"));
	TH_LOG("%d writes from %d concurrent writers", CONCURRENT_WRITERS * CONCURRENT_WRITES,
	       CONCURRENT_WRITERS);
}

TEST_F(loaded, parameters_are_read_only_once_loaded)
{
	static const char *const params[] = { "ring_size", "top_n", "max_inflight",
					      "deny_symbols" };
	unsigned int i, round;

	for (round = 0; round < 250; round++) {
		for (i = 0; i < ARRAY_SIZE(params); i++) {
			char path[128], before[4200], after[4200];
			int fd;

			snprintf(path, sizeof(path), "/sys/module/forkscope/parameters/%s",
				 params[i]);
			ASSERT_LE(0, fs_read_file(path, before, sizeof(before)));
			fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd >= 0) {
				EXPECT_EQ(-1, write(fd, "1", 1)) TH_LOG("%s accepted a write", path);
				close(fd);
			} else {
				EXPECT_TRUE(errno == EACCES || errno == EPERM) TH_LOG("errno %d", errno);
			}
			ASSERT_LE(0, fs_read_file(path, after, sizeof(after)));
			ASSERT_STREQ(before, after);
		}
	}
	{
		char ring[32];

		ASSERT_LT(0, fs_read_file("/sys/module/forkscope/parameters/ring_size", ring,
					  sizeof(ring)));
		EXPECT_STREQ("64\n", ring);
	}
}

/* A fixture only for its timeout: ~130 loads take minutes on a debug kernel. */
FIXTURE(unloaded) {
	int unused;
};
FIXTURE_SETUP(unloaded)
{
	ASSERT_EQ(0, fs_unload_if_loaded());
}
FIXTURE_TEARDOWN(unloaded)
{
	fs_unload_if_loaded();
}

/*
 * Loads params, which must be refused for the load budget: returns the
 * largest ring_size the refusal says fits (0: none), -1 if it loaded or
 * said nothing.
 */
static int budget_refusal(const char *params)
{
	static char klog[1 << 20];
	char needle[160];
	const char *p, *hit = NULL;
	int n, fit;

	if (fs_load(params) == 0) {
		fs_unload();
		return -1;
	}
	if (fs_is_loaded())
		return -1;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, klog, sizeof(klog) - 1);
	if (n <= 0)
		return -1;
	klog[n] = '\0';
	/* The message starts with the values as the module sees them. */
	snprintf(needle, sizeof(needle), "ring_size=%d top_n=%d max_inflight=%d on ",
		 strstr(params, "ring_size=") ? atoi(strstr(params, "ring_size=") + 10) : 1024,
		 strstr(params, "top_n=") ? atoi(strstr(params, "top_n=") + 6) : 16,
		 strstr(params, "max_inflight=") ? atoi(strstr(params, "max_inflight=") + 13) : 512);
	for (p = klog; (p = strstr(p, needle)); p++)
		hit = p;
	if (!hit || !strstr(hit, " bytes (engine ") || !strstr(hit, "over the limit of "))
		return -1;
	hit = strstr(hit, "ring_size up to ");
	if (!hit || sscanf(hit, "ring_size up to %d fits", &fit) != 1)
		return -1;
	return fit;
}

/* Module parameters at load: every bad value refuses the load; good ones load. */
TEST_F_TIMEOUT(unloaded, bad_parameters_refuse_to_load, 900)
{
	static char long_deny[5000];
	static const char *const bad[] = {
		"ring_size=0",        "ring_size=15",      "ring_size=-1",
		"ring_size=65537",  "ring_size=abc",     "ring_size=99999999999999",
		"ring_size=",         "top_n=0",           "top_n=1025",
		"top_n=-7",           "top_n=0x",          "max_inflight=0",
		"max_inflight=65537", "max_inflight=-1",   "max_inflight=1e3",
		"ring_size=16 top_n=0",
		"deny_symbols=kernel_clone", "deny_symbols=copy_process",
		"deny_symbols=kernel_clone,_do_fork", "probe_mode=fast", "probe_mode=",
		"mechanism=ftrace", "mechanism=", "detail=everything", "detail=",
	};
	unsigned int i, round;
	char buf[6000];
	int fit;

	ASSERT_EQ(0, fs_unload_if_loaded());
	memset(long_deny, 'x', sizeof(long_deny) - 1);
	memcpy(long_deny, "deny_symbols=", 13);
	for (round = 0; round < 5; round++) {
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			int err = fs_load(bad[i]);

			EXPECT_NE(0, err) TH_LOG("'%s' loaded", bad[i]);
			EXPECT_FALSE(fs_is_loaded()) TH_LOG("'%s' left the module loaded", bad[i]);
			if (!err)
				fs_unload();
		}
		EXPECT_NE(0, fs_load(long_deny));
		EXPECT_FALSE(fs_is_loaded());
	}
	/* The kernel ignores unknown parameters, with a warning. */
	ASSERT_EQ(0, fs_load("no_such_param=1"));
	EXPECT_TRUE(fs_klog_contains("unknown parameter 'no_such_param' ignored"));
	ASSERT_EQ(0, fs_unload());
	/* The edges of each range are fine. */
	ASSERT_EQ(0, fs_load("ring_size=16 top_n=1 max_inflight=1"));
	ASSERT_EQ(0, fs_do_forks(10));
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", buf, sizeof(buf)));
	EXPECT_LE(10, fs_find_value(buf, "creations"));
	ASSERT_EQ(0, fs_unload());
	/*
	 * In range, but beyond the load budget (min(256 MiB, RAM/8)): refused
	 * with the values, the bytes and the limit; the largest ring it names
	 * loads and unloads, one record more per CPU does not.
	 */
	fit = budget_refusal("ring_size=65536 top_n=1024 max_inflight=4096");
	ASSERT_LT(16, fit);
	ASSERT_GT(65536, fit);
	snprintf(buf, sizeof(buf), "ring_size=%d top_n=1024 max_inflight=4096", fit + 1);
	EXPECT_EQ(fit, budget_refusal(buf));
	snprintf(buf, sizeof(buf), "ring_size=%d top_n=1024 max_inflight=4096", fit);
	ASSERT_EQ(0, fs_load(buf));
	ASSERT_EQ(0, fs_do_forks(10));
	ASSERT_EQ(0, fs_unload());
	/* kretprobe instances alone over the limit: no ring fits. */
	EXPECT_EQ(0, budget_refusal("ring_size=16 max_inflight=65536"));
}

TEST_HARNESS_MAIN
