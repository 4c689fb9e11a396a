// SPDX-License-Identifier: GPL-2.0
/*
 * Calibration: at load and on "calibrate", forkscope measures every hook
 * mechanism on its own known-cost target; the longer target read through the
 * hooks, net of the measured bias, matches its inline-timed cost.
 */
#include "forkscope_test.h"

#include <limits.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

#include "fs_harness.h"

static char text[16384];

/* Reads the calibration: done once insmod returns (the load calibrates in init). */
static int read_calibration(void)
{
	if (fs_read_file(FS_DEBUGFS "/calibration", text, sizeof(text)) <= 0)
		return -1;
	return strncmp(text, "calibration at_ns ", 18) ? -1 : 0;
}

struct check {
	long long inline_ns, raw, net, error, tolerance, added, predicted;
	char verdict[8];
};

static int parse_check(const char *name, struct check *c)
{
	char needle[64];
	const char *p;

	snprintf(needle, sizeof(needle), "\ncheck %s ", name);
	p = strstr(text, needle);
	if (!p)
		return -1;
	p += strlen(needle);
	return sscanf(p, "inline_ns %lld raw_ns %lld net_ns %lld error_ns %lld tolerance_ns %lld %7s added_ns %lld predicted_ns %lld",
		      &c->inline_ns, &c->raw, &c->net, &c->error, &c->tolerance, c->verdict,
		      &c->added, &c->predicted) == 8 ? 0 : -1;
}

static int hook_line(const char *name, long long *pre, long long *post)
{
	char needle[64];
	long long pre_iqr, post_iqr;
	const char *p;

	snprintf(needle, sizeof(needle), "\nhook %s pre ", name);
	p = strstr(text, needle);
	if (!p)
		return -1;
	return sscanf(p + strlen(needle), "%lld %lld post %lld %lld", pre, &pre_iqr, post,
		      &post_iqr) == 4 ? 0 : -1;
}

static long long llabs_(long long v)
{
	return v < 0 ? -v : v;
}

/*
 * The check of one mechanism pair: net within 10% of inline, or one spread
 * (the IQRs and how far the inline cost drifted during the check).
 */
static void expect_check(struct __test_metadata *_metadata, const char *name)
{
	struct check c;

	ASSERT_EQ(parse_check(name, &c), 0) TH_LOG("no check %s in:\n%s", name, text);
	TH_LOG("%s: inline %lld ns, raw %lld ns, net %lld ns (tolerance %lld), added %lld ns, predicted %lld ns",
	       name, c.inline_ns, c.raw, c.net, c.tolerance, c.added, c.predicted);
	ASSERT_GT(c.inline_ns, 0);
	/* The bias is real: the hooks put time between their stamps. */
	EXPECT_GT(c.raw, c.net);
	EXPECT_EQ(c.error, c.net - c.inline_ns);
	EXPECT_GE(c.tolerance, c.inline_ns / 10);
	EXPECT_LE(llabs_(c.net - c.inline_ns), c.tolerance)
		TH_LOG("%s net %lld vs inline %lld:\n%s", name, c.net, c.inline_ns, text);
	EXPECT_STREQ(c.verdict, "ok");
}

TEST(calibration_at_load_corrects_the_known_cost_target)
{
	long long pre, post;
	const char *const hooks[] = {
		"ftrace entry", "kprobe entry", "callsite return", "kretprobe entry",
		"kretprobe return",
	};
	unsigned int i;

	ASSERT_EQ(fs_unload_if_loaded(), 0);
	ASSERT_EQ(fs_load(""), 0);
	ASSERT_EQ(read_calibration(), 0) TH_LOG("%s", text);
	TH_LOG("%s", text);
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		ASSERT_EQ(hook_line(hooks[i], &pre, &post), 0) TH_LOG("no %s in:\n%s", hooks[i], text);
		/*
		 * Measured without subtracting the inline cost: an entry's
		 * trap or trampoline before its stamp, a return's handler
		 * after its stamp, each at least a clock read.
		 */
		if (strstr(hooks[i], "entry")) {
			EXPECT_GT(pre, 0) TH_LOG("%s", hooks[i]);
		} else {
			EXPECT_GT(post, 0) TH_LOG("%s", hooks[i]);
		}
	}
	/* The plan's anchors with their hooks and the cost their hits predict. */
	EXPECT_NE(strstr(text, "\nanchor copy_process entry kretprobe return kretprobe "), NULL)
		TH_LOG("%s", text);
	EXPECT_NE(strstr(text, "\npredicted_overhead_ns "), NULL);
	expect_check(_metadata, "ftrace+callsite");
	expect_check(_metadata, "kretprobe");
	EXPECT_EQ(fs_unload(), 0);
}

TEST(calibrate_command_measures_again_and_extra_words_are_refused)
{
	unsigned long long first, second;

	ASSERT_EQ(fs_unload_if_loaded(), 0);
	ASSERT_EQ(fs_load(""), 0);
	ASSERT_EQ(read_calibration(), 0) TH_LOG("%s", text);
	ASSERT_EQ(sscanf(text, "calibration at_ns %llu", &first), 1);
	EXPECT_EQ(fs_write_debugfs("control", "calibrate now", 13), -1);
	EXPECT_EQ(errno, EINVAL);
	ASSERT_EQ(read_calibration(), 0);
	ASSERT_EQ(sscanf(text, "calibration at_ns %llu", &second), 1);
	EXPECT_EQ(second, first);
	EXPECT_EQ(fs_write_debugfs("control", "calibrate\n", 10), 10);
	ASSERT_EQ(read_calibration(), 0);
	ASSERT_EQ(sscanf(text, "calibration at_ns %llu", &second), 1);
	EXPECT_GT(second, first);
	expect_check(_metadata, "ftrace+callsite");
	EXPECT_EQ(fs_unload(), 0);
}

static char net_text[65536];

/* "key N" inside the creations' sums line. */
static long long sums_value(const char *sums, const char *key)
{
	char needle[64];
	const char *p;

	snprintf(needle, sizeof(needle), " %s ", key);
	p = strstr(sums, needle);
	return p ? strtoll(p + strlen(needle), NULL, 10) : LLONG_MIN;
}

/*
 * After a load (which calibrates) and 100 forks: stats_net exists, every
 * stage's net is at most its raw value (mean and median), so is the span's,
 * the bias taken off is real, and the sums are exact on both sides.
 */
TEST(stats_net_after_100_forks_is_at_or_below_raw_with_exact_sums)
{
	long long count, raw_mean, raw_p50, bias, net_mean, net_p50, spread, within;
	long long records, total_bias = -1, raw_total = -1, net_total = -1;
	char name[64], flag[32];
	const char *p, *end, *sums;
	int rows = 0;

	ASSERT_EQ(fs_unload_if_loaded(), 0);
	ASSERT_EQ(fs_load(""), 0);
	ASSERT_EQ(fs_do_forks(100), 0);
	ASSERT_GT(fs_read_file(FS_DEBUGFS "/stats_net", net_text, sizeof(net_text)), 0);
	TH_LOG("%s", net_text);
	EXPECT_EQ(fs_find_value(net_text, "calibration"), 1) TH_LOG("the load's calibration");
	p = strstr(net_text, "\n== creations: ");
	ASSERT_NE(p, NULL);
	ASSERT_EQ(sscanf(p, "\n== creations: %lld records", &records), 1);
	EXPECT_GE(records, 100);
	end = strstr(p, "\n== execs: ");
	ASSERT_NE(end, NULL);
	p = strchr(p + 1, '\n') + 1;	/* the header */
	ASSERT_EQ(strncmp(p, "stage ", 6), 0);
	for (p = strchr(p, '\n') + 1; p < end && strncmp(p, "sums ", 5); p = strchr(p, '\n') + 1) {
		ASSERT_EQ(sscanf(p, "%63s %lld %lld %lld %lld %lld %lld %lld %lld %31s", name, &count,
				 &raw_mean, &raw_p50, &bias, &net_mean, &net_p50, &spread, &within,
				 flag), 10) TH_LOG("row: %.120s", p);
		EXPECT_LE(net_mean, raw_mean) TH_LOG("%s", name);
		EXPECT_LE(net_p50, raw_p50) TH_LOG("%s", name);
		EXPECT_LE(within, count) TH_LOG("%s", name);
		if (!strcmp(name, "total")) {
			total_bias = bias;
			raw_total = raw_mean;
			net_total = net_mean;
		}
		rows++;
	}
	sums = p;
	ASSERT_EQ(strncmp(sums, "sums ", 5), 0);
	EXPECT_GT(rows, 10);
	ASSERT_GE(total_bias, 0) TH_LOG("no total row");
	/* kernel_clone and copy_process are hooked: the span carries their cost. */
	EXPECT_GT(total_bias, 0);
	EXPECT_LT(net_total, raw_total);
	TH_LOG("total: raw %lld ns, bias %lld ns, net %lld ns (means over %lld forks)",
	       raw_total, total_bias, net_total, records);
	EXPECT_EQ(sums_value(sums, "raw_stages_ns"), sums_value(sums, "raw_total_ns"));
	EXPECT_EQ(sums_value(sums, "net_stages_unclamped_ns"),
		  sums_value(sums, "net_total_unclamped_ns"));
	EXPECT_EQ(sums_value(sums, "net_total_unclamped_ns"),
		  sums_value(sums, "raw_total_ns") - sums_value(sums, "bias_ns"));
	EXPECT_EQ(sums_value(sums, "net_stages_ns"),
		  sums_value(sums, "net_total_unclamped_ns") + sums_value(sums, "clamped_ns"));
	/* records keep raw stage values and add the bias applied to each. */
	ASSERT_GT(fs_read_file(FS_DEBUGFS "/records", net_text, sizeof(net_text)), 0);
	EXPECT_NE(strstr(net_text, "\"bias_ns\":{\"dup_task_struct\":"), NULL);
	EXPECT_NE(strstr(net_text, "\"calibration\":1}"), NULL);
	/* A new calibration is a new table, applied to the records already there. */
	EXPECT_EQ(fs_write_debugfs("control", "calibrate", 9), 9);
	ASSERT_GT(fs_read_file(FS_DEBUGFS "/stats_net", net_text, sizeof(net_text)), 0);
	EXPECT_EQ(fs_find_value(net_text, "calibration"), 2);
	EXPECT_NE(strstr(net_text, "\n== creations: "), NULL);
	EXPECT_EQ(fs_unload(), 0);
}

/* The creations' stats_net row of stage name: its count, raw and net means; 0 if found. */
static int net_row(const char *text, const char *name, long long *count, long long *raw_mean,
		   long long *net_mean)
{
	long long raw_p50, bias;
	const char *p = strstr(text, "\n== creations: ");
	const char *end = p ? strstr(p, "\n== execs: ") : NULL;
	size_t len = strlen(name);

	for (; p && end && p < end; p = strchr(p + 1, '\n')) {
		if (strncmp(p + 1, name, len) || p[1 + len] != ' ')
			continue;
		return sscanf(p + 1 + len, "%lld %lld %lld %lld %lld", count, raw_mean, &raw_p50,
			      &bias, net_mean) == 5 ? 0 : -1;
	}
	return -1;
}

/* The kernel's audit state (AUDIT_GET over netlink): 1 on, 0 off, -1 unknown. */
static int audit_state(void)
{
	struct {
		struct nlmsghdr nh;
		struct audit_status st;
	} req = { 0 }, resp;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	int state = -1, tries;

	if (fd < 0)
		return -1;
	req.nh.nlmsg_len = NLMSG_LENGTH(0);
	req.nh.nlmsg_type = AUDIT_GET;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		goto out;
	for (tries = 0; tries < 4; tries++) {
		ssize_t n = recv(fd, &resp, sizeof(resp), 0);

		if (n < (ssize_t)NLMSG_LENGTH(sizeof(resp.st)))
			continue;	/* an ack or an error */
		if (resp.nh.nlmsg_type == AUDIT_GET) {
			state = resp.st.enabled != 0;
			break;
		}
	}
out:
	close(fd);
	return state;
}

/*
 * Near-empty stages read near zero net: copy_semundo without CLONE_SYSVSEM
 * and audit_alloc with audit off return almost at once, so what they read
 * raw is nearly all forkscope's own (the calibration now measures the real
 * handlers' path). After a load and 200 plain forks each one's net mean is
 * below 10% of its raw mean. Instruction time (icount) makes the costs exact.
 */
TEST(near_empty_stages_read_near_zero_net)
{
	const char *const stages[] = { "copy_semundo", "audit_alloc" };
	long long count, raw, net;
	unsigned int i, checked = 0;
	int audit = audit_state();

	ASSERT_EQ(fs_unload_if_loaded(), 0);
	ASSERT_EQ(fs_load(""), 0);
	ASSERT_EQ(fs_do_forks(200), 0);
	ASSERT_GT(fs_read_file(FS_DEBUGFS "/stats_net", net_text, sizeof(net_text)), 0);
	EXPECT_EQ(fs_unload(), 0);
	for (i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
		if (net_row(net_text, stages[i], &count, &raw, &net)) {
			TH_LOG("%s: no stats_net row (inlined on this kernel?)", stages[i]);
			continue;
		}
		if (!strcmp(stages[i], "audit_alloc") && audit != 0) {
			TH_LOG("audit_alloc: audit is %s, not an empty stage",
			       audit > 0 ? "on" : "unknown");
			continue;
		}
		TH_LOG("%s: %lld forks, raw mean %lld ns, net mean %lld ns", stages[i], count, raw,
		       net);
		EXPECT_GE(count, 200);
		EXPECT_GT(raw, 0);
		EXPECT_GE(net, 0);
		EXPECT_LT(10 * net, raw) TH_LOG("%s net %lld of raw %lld:\n%s", stages[i], net, raw,
					       net_text);
		checked++;
	}
	if (!checked)
		SKIP(return, "neither copy_semundo nor audit_alloc is an empty stage here");
}

#define SLOPE_FEW 100
#define SLOPE_MANY 3000
#define SLOPE_FORKS 15

/* n one-page anonymous regions, PROT_READ and PROT_NONE in turn so that no two merge. */
static void **map_vmas(int n)
{
	void **v = calloc(n, sizeof(*v));
	int i;

	for (i = 0; v && i < n; i++) {
		v[i] = mmap(NULL, 4096, i % 2 ? PROT_NONE : PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (v[i] == MAP_FAILED)
			return NULL;
	}
	return v;
}

static void unmap_vmas(void **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		munmap(v[i], 4096);
	free(v);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * SLOPE_FORKS forks timed in the parent around fork(); each child waits on a
 * pipe until the parent has its end stamp (its exit, which unmaps every VMA,
 * stays out of the time). The median, ns; -1 on an error.
 */
static long long fork_median_ns(void)
{
	long long t[SLOPE_FORKS];
	int i, status, p[2];

	for (i = 0; i < SLOPE_FORKS; i++) {
		long long t0, t1;
		pid_t pid;
		char c = 0;

		if (pipe(p))
			return -1;
		t0 = now_ns();
		pid = fork();
		if (pid == 0) {
			if (read(p[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
		t1 = now_ns();
		if (pid < 0 || write(p[1], &c, 1) != 1 || waitpid(pid, &status, 0) != pid)
			return -1;
		close(p[0]);
		close(p[1]);
		t[i] = t1 - t0;
	}
	qsort(t, SLOPE_FORKS, sizeof(t[0]), cmp_ll);
	return t[SLOPE_FORKS / 2];
}

/* forkscope's net dup_mmap mean over forks with n more VMAs, since a reset; -1 on an error. */
static long long dup_mmap_net_ns(int n, long long *forks)
{
	void **v = map_vmas(n);
	long long raw, net = -1;

	if (!v)
		return -1;
	if (fs_write_debugfs("control", "reset", 5) == 5 && fork_median_ns() >= 0 &&
	    fs_read_file(FS_DEBUGFS "/stats_net", net_text, sizeof(net_text)) > 0 &&
	    net_row(net_text, "dup_mmap", forks, &raw, &net))
		net = -1;
	unmap_vmas(v, n);
	return net;
}

/* The end-to-end fork time's median with n more VMAs (module not loaded); -1 on an error. */
static long long fork_ns_with(int n)
{
	void **v = map_vmas(n);
	long long t;

	if (!v)
		return -1;
	t = fork_median_ns();
	unmap_vmas(v, n);
	return t;
}

static int kernel_has_symbol(const char *name)
{
	char line[256], sym[128];
	FILE *f = fopen("/proc/kallsyms", "re");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %127s", sym) == 1 && !strcmp(sym, name);
	fclose(f);
	return found;
}

/*
 * The probe effect cancels in slopes: forkscope's dup_mmap per VMA (forks
 * of a parent with 100 and with 3000 extra VMAs) is within 10% of the slope
 * of the end-to-end fork time with the module not loaded, same boot.
 */
TEST(dup_mmap_slope_per_vma_matches_unprobed_fork_time)
{
	long long few, many, fs_few, fs_many, n_few = 0, n_many = 0;
	double slope, fs_slope;

	if (!kernel_has_symbol("dup_mmap"))
		SKIP(return, "dup_mmap is inlined on this kernel (no symbol): no stage to compare");
	ASSERT_EQ(fs_unload_if_loaded(), 0);
	few = fork_ns_with(SLOPE_FEW);
	many = fork_ns_with(SLOPE_MANY);
	ASSERT_GT(few, 0);
	ASSERT_GT(many, few);
	ASSERT_EQ(fs_load(""), 0);
	fs_few = dup_mmap_net_ns(SLOPE_FEW, &n_few);
	fs_many = dup_mmap_net_ns(SLOPE_MANY, &n_many);
	EXPECT_EQ(fs_unload(), 0);
	ASSERT_GT(fs_few, 0);
	ASSERT_GT(fs_many, fs_few);
	EXPECT_GE(n_few, SLOPE_FORKS);
	EXPECT_GE(n_many, SLOPE_FORKS);
	slope = (double)(many - few) / (SLOPE_MANY - SLOPE_FEW);
	fs_slope = (double)(fs_many - fs_few) / (SLOPE_MANY - SLOPE_FEW);
	TH_LOG("per VMA: fork end to end %.1f ns (%lld -> %lld ns, no module), dup_mmap net %.1f ns (%lld -> %lld ns, %lld and %lld forks)",
	       slope, few, many, fs_slope, fs_few, fs_many, n_few, n_many);
	EXPECT_LE(fs_slope, slope * 1.1);
	EXPECT_GE(fs_slope, slope * 0.9);
}

TEST_HARNESS_MAIN
