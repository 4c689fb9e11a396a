// SPDX-License-Identifier: GPL-2.0
/*
 * forkscope's control, filter and trace_pipe files: enable/disable, reset
 * and sampling with exact accounting, filters by pid/tgid/comm/kind with a
 * canonical read-back, malformed writes refused with a reason and no state
 * change, root-only access, a blocking and pollable trace_pipe, and ring
 * overwrites counted so that no record goes unaccounted.
 */
#include "forkscope_test.h"
#include "fs_json.h"

#include <poll.h>
#include <sys/prctl.h>
#include <time.h>

#include "fs_harness.h"

#define COMM "fs_control"

struct ctr {
	long long creations, recorded, filtered, sampled_out, disabled, untracked;
	long long records, recorded_failures, clone_failures, ring_overwritten, consumed;
	long long exec_recorded, spawns;
	long long enabled, sample_every;
};

/*
 * One counters snapshot in which every creation has its decision and every
 * tracked creation, exec and spawn its record: retried while a creation is
 * between copy_process and kernel_clone's return. -1 if that never holds.
 */
static int read_ctr(struct ctr *c)
{
	static char buf[65536];
	int tries;

	for (tries = 0; tries < 100; tries++) {
		if (fs_read_file(FS_DEBUGFS "/counters", buf, sizeof(buf)) <= 0)
			return -1;
		c->creations = fs_find_value(buf, "creations");
		c->recorded = fs_find_value(buf, "recorded");
		c->filtered = fs_find_value(buf, "filtered");
		c->sampled_out = fs_find_value(buf, "sampled_out");
		c->disabled = fs_find_value(buf, "disabled");
		c->untracked = fs_find_value(buf, "untracked");
		c->records = fs_find_value(buf, "records");
		c->recorded_failures = fs_find_value(buf, "recorded_failures");
		c->clone_failures = fs_find_value(buf, "clone_failures");
		c->ring_overwritten = fs_find_value(buf, "ring_overwritten");
		c->consumed = fs_find_value(buf, "consumed");
		c->exec_recorded = fs_find_value(buf, "exec_recorded");
		c->spawns = fs_find_value(buf, "spawns");
		c->enabled = fs_find_value(buf, "enabled");
		c->sample_every = fs_find_value(buf, "sample_every");
		/* Rings hold creations (done or failed), execs and spawns. */
		if (c->creations == c->recorded + c->filtered + c->sampled_out + c->disabled +
		    c->untracked && c->records == c->recorded + c->recorded_failures +
		    c->exec_recorded + c->spawns)
			return 0;
		usleep(1000);
	}
	return -1;
}

static ssize_t put(const char *file, const void *data, size_t len)
{
	return fs_write_debugfs(file, data, len);
}

static int put_str(const char *file, const char *text)
{
	return put(file, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
}

static void get(const char *file, char *buf, size_t size)
{
	char path[128];

	snprintf(path, sizeof(path), FS_DEBUGFS "/%s", file);
	if (fs_read_file(path, buf, size) < 0)
		buf[0] = '\0';
}

/* Occurrences of needle in the kernel log. */
static int klog_count(const char *needle)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	int n, count = 0;
	char *buf, *p;

	if (size <= 0)
		return -1;
	buf = malloc(size + 1);
	if (!buf)
		return -1;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	buf[n > 0 ? n : 0] = '\0';
	for (p = buf; (p = strstr(p, needle)); p++)
		count++;
	free(buf);
	return count;
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

static int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
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

TEST_F(loaded, disable_counts_creations_as_disabled)
{
	long long creations0, processes0, creations1, processes1;
	struct ctr c0, c1, c2;
	char text[256];
	struct recs recs;
	int i, mine = 0;

	ASSERT_EQ(0, put_str("control", "disable\n"));
	get("control", text, sizeof(text));
	EXPECT_EQ(0, strncmp(text, "disabled sample 1\n", 18)) TH_LOG("control: %s", text);
	ASSERT_EQ(0, read_ctr(&c0));
	EXPECT_EQ(0, c0.enabled);
	ASSERT_EQ(0, fs_snapshot_creations(&creations0, &processes0));
	ASSERT_EQ(0, fs_do_forks(30));
	ASSERT_EQ(0, fs_do_vforks(5));
	ASSERT_EQ(0, fs_do_threads(5));
	ASSERT_EQ(0, fs_snapshot_creations(&creations1, &processes1));
	ASSERT_EQ(0, read_ctr(&c1));
	EXPECT_EQ(processes1 - processes0, creations1 - creations0);
	EXPECT_LE(40, c1.creations - c0.creations);
	/* Every creation while disabled is counted as such, and only that. */
	EXPECT_EQ(c1.creations - c0.creations, c1.disabled - c0.disabled);
	EXPECT_EQ(c0.recorded, c1.recorded);
	EXPECT_EQ(c0.records, c1.records);
	recs_read(_metadata, &recs);
	for (i = 0; i < recs.n; i++)
		EXPECT_NE(getpid(), recs.r[i].parent_pid) TH_LOG("record: %s", recs.r[i].line);
	recs_free(&recs);

	ASSERT_EQ(0, put_str("control", "enable"));
	get("control", text, sizeof(text));
	EXPECT_EQ(0, strncmp(text, "enabled sample 1\n", 17)) TH_LOG("control: %s", text);
	ASSERT_EQ(0, fs_do_forks(5));
	ASSERT_EQ(0, read_ctr(&c2));
	EXPECT_EQ(1, c2.enabled);
	/*
	 * None of our 5 forks is counted as disabled. Others' creations may be:
	 * arming on enable can start a kworker before the engine is enabled.
	 */
	EXPECT_LE(c2.disabled - c1.disabled, c2.creations - c1.creations - 5);
	EXPECT_LE(5, c2.recorded - c1.recorded);
	recs_read(_metadata, &recs);
	for (i = 0; i < recs.n; i++)
		mine += recs.r[i].parent_pid == getpid();
	EXPECT_EQ(5, mine);
	recs_free(&recs);
}

/* Lines of trace, or entries of slowest: lines starting with "#<digit>". */
static int entry_lines(const char *text)
{
	const char *p = text;
	int n = 0;

	while (p && *p) {
		n += p[0] == '#' && p[1] >= '0' && p[1] <= '9';
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

/* "== all kinds: N creations" of the stats file; -1 if absent. */
static long long stats_count(const char *stats)
{
	const char *p = strstr(stats, "== all kinds: ");

	return p ? strtoll(p + 14, NULL, 10) : -1;
}

TEST_F(loaded, reset_empties_records_trace_stats_slowest)
{
	static char records[1 << 20], trace[1 << 20], stats[65536], slowest[1 << 18];
	char control0[256], control1[256];
	struct ctr c;
	struct recs recs;
	int tries, i, mine = 0;

	ASSERT_EQ(0, fs_do_forks(5));
	get("trace", trace, sizeof(trace));
	get("stats", stats, sizeof(stats));
	get("slowest", slowest, sizeof(slowest));
	get("records", records, sizeof(records));
	EXPECT_LE(5, entry_lines(trace));
	EXPECT_LE(5, stats_count(stats));
	EXPECT_LE(5, entry_lines(slowest));
	EXPECT_LT(0, strlen(records));
	get("control", control0, sizeof(control0));

	/* Retried only if a background creation lands right after the reset. */
	for (tries = 0; tries < 10; tries++) {
		ASSERT_EQ(0, put_str("control", "reset\n"));
		get("records", records, sizeof(records));
		get("trace", trace, sizeof(trace));
		get("stats", stats, sizeof(stats));
		get("slowest", slowest, sizeof(slowest));
		ASSERT_EQ(0, read_ctr(&c));
		if (c.creations == 0 && c.records == 0 && c.clone_failures == 0)
			break;
	}
	ASSERT_GT(10, tries);
	EXPECT_STREQ("", records);
	EXPECT_STREQ("", trace);
	EXPECT_EQ(0, stats_count(stats)) TH_LOG("stats: %s", stats);
	EXPECT_EQ(0, entry_lines(slowest)) TH_LOG("slowest: %s", slowest);
	EXPECT_EQ(0, c.recorded);
	EXPECT_EQ(0, c.disabled);
	EXPECT_EQ(0, c.recorded_failures);
	EXPECT_EQ(0, c.ring_overwritten);
	/* Reset clears data, not settings. */
	get("control", control1, sizeof(control1));
	EXPECT_STREQ(control0, control1);

	/* Counting restarts from zero. */
	ASSERT_EQ(0, fs_do_forks(3));
	ASSERT_EQ(0, read_ctr(&c));
	EXPECT_LE(3, c.creations);
	EXPECT_LE(3, c.recorded);
	recs_read(_metadata, &recs);
	EXPECT_EQ(c.records, recs.file.count);
	for (i = 0; i < recs.n; i++)
		mine += recs.r[i].parent_pid == getpid();
	EXPECT_EQ(3, mine);
	recs_free(&recs);
}

TEST_F(loaded, sample_10_records_one_in_ten)
{
	struct ctr c0, c1;
	char text[256];
	struct recs recs;
	int i, mine = 0;

	ASSERT_EQ(0, pin_to_cpu(0));
	ASSERT_EQ(0, put_str("control", "sample 10"));
	get("control", text, sizeof(text));
	EXPECT_EQ(0, strncmp(text, "enabled sample 10\n", 18)) TH_LOG("control: %s", text);
	ASSERT_EQ(0, read_ctr(&c0));
	EXPECT_EQ(10, c0.sample_every);
	ASSERT_EQ(0, fs_do_forks(200));
	ASSERT_EQ(0, read_ctr(&c1));
	recs_read(_metadata, &recs);
	for (i = 0; i < recs.n; i++)
		mine += recs.r[i].parent_pid == getpid() && recs.r[i].ret > 0;
	recs_free(&recs);
	/* Every 10th creation on this CPU; others on it may shift it by one. */
	EXPECT_LE(18, mine);
	EXPECT_GE(22, mine);
	EXPECT_LE(200, c1.creations - c0.creations);
	EXPECT_EQ(c1.creations - c0.creations,
		  (c1.recorded - c0.recorded) + (c1.sampled_out - c0.sampled_out));
	EXPECT_LE(178, c1.sampled_out - c0.sampled_out);
	EXPECT_EQ(c0.filtered, c1.filtered);
	EXPECT_EQ(c0.disabled, c1.disabled);
}

/*
 * A forker for the filter tests: waits for a byte on go, then forks `forks`
 * times, then starts one thread that forks `forks` times.
 */
struct forker {
	pid_t pid;
	int go;
};

static void *forker_thread(void *arg)
{
	return (void *)(long)fs_do_forks((int)(long)arg);
}

static int forker_start(struct forker *f, const char *comm, int forks)
{
	int pipefd[2];
	char byte;

	if (pipe(pipefd))
		return -1;
	f->pid = fork();
	if (f->pid < 0)
		return -1;
	if (f->pid == 0) {
		pthread_t thread;
		void *ret;

		close(pipefd[1]);
		if (prctl(PR_SET_NAME, comm, 0, 0, 0) || read(pipefd[0], &byte, 1) != 1)
			_exit(2);
		if (fs_do_forks(forks))
			_exit(3);
		if (pthread_create(&thread, NULL, forker_thread, (void *)(long)forks) ||
		    pthread_join(thread, &ret) || ret)
			_exit(4);
		_exit(0);
	}
	close(pipefd[0]);
	f->go = pipefd[1];
	return 0;
}

static int forker_run(struct forker *f)
{
	int status;

	if (write(f->go, "g", 1) != 1)
		return -1;
	close(f->go);
	if (waitpid(f->pid, &status, 0) != f->pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

enum match { BY_PID, BY_TGID, BY_COMM };

/*
 * Sets filter (with "%d" for the forker's pid), runs the forker and our own
 * forks, and checks that exactly the forker's matching creations were
 * recorded and the rest counted as filtered.
 */
static void check_filter(struct __test_metadata *_metadata, const char *filter_fmt,
			 enum match match, int expected)
{
	const int forks = 4;
	char filter[64], text[256], counters[65536];
	struct forker f;
	struct ctr c0, c1;
	struct recs recs;
	struct fs_order last;
	int i, n = 0;

	ASSERT_EQ(0, forker_start(&f, "fs_filtered", forks));
	snprintf(filter, sizeof(filter), filter_fmt, f.pid);
	ASSERT_EQ(0, put_str("filter", filter));
	get("filter", text, sizeof(text));
	EXPECT_EQ(0, strncmp(text, filter, strlen(filter))) TH_LOG("filter reads %s", text);
	EXPECT_EQ('\n', text[strlen(filter)]);
	get("counters", counters, sizeof(counters));
	EXPECT_NE(NULL, strstr(counters, "\nfilter ")) TH_LOG("no filter line in counters");
	EXPECT_EQ(0, strncmp(strstr(counters, "\nfilter ") + 8, filter, strlen(filter)));
	last = last_order(_metadata);
	ASSERT_EQ(0, read_ctr(&c0));
	ASSERT_EQ(0, forker_run(&f));
	ASSERT_EQ(0, fs_do_forks(forks));
	ASSERT_EQ(0, read_ctr(&c1));

	recs_read(_metadata, &recs);
	for (i = 0; i < recs.n; i++) {
		const struct fs_record *r = &recs.r[i];

		if (fs_order_cmp(&r->order, &last) <= 0)
			continue;
		n++;
		if (match == BY_PID)
			EXPECT_EQ(f.pid, r->parent_pid) TH_LOG("record: %s", r->line);
		if (match == BY_TGID)
			EXPECT_EQ(f.pid, r->parent_tgid) TH_LOG("record: %s", r->line);
		if (match == BY_COMM)
			EXPECT_STREQ("fs_filtered", r->comm);
	}
	recs_free(&recs);
	EXPECT_EQ(expected, n) TH_LOG("filter %s", filter);
	EXPECT_EQ(expected, c1.recorded - c0.recorded);
	/* The other ones (of 3 * forks + 1, with ours) are filtered, not lost. */
	EXPECT_LE(3 * forks + 1 - expected, c1.filtered - c0.filtered);
	EXPECT_EQ(c1.creations - c0.creations,
		  (c1.recorded - c0.recorded) + (c1.filtered - c0.filtered));
}

/* The forker makes 4 forks, 1 thread, then 4 forks from that thread. */
TEST_F(loaded, filter_by_pid)
{
	check_filter(_metadata, "pid=%d", BY_PID, 4 + 1);
}

TEST_F(loaded, filter_by_tgid)
{
	check_filter(_metadata, "tgid=%d", BY_TGID, 4 + 1 + 4);
}

TEST_F(loaded, filter_by_comm)
{
	check_filter(_metadata, "comm=fs_filtered", BY_COMM, 4 + 1 + 4);
}

TEST_F(loaded, filter_by_kind)
{
	struct ctr c0, c1;
	char text[256];
	struct recs recs;
	struct fs_order last;
	int i, vforks = 0, threads = 0;

	ASSERT_EQ(0, put_str("filter", "kind=thread kind=vfork\n"));
	get("filter", text, sizeof(text));
	EXPECT_STREQ("kind=vfork kind=thread\n", text);
	last = last_order(_metadata);
	ASSERT_EQ(0, read_ctr(&c0));
	ASSERT_EQ(0, fs_do_forks(4));
	ASSERT_EQ(0, fs_do_vforks(3));
	ASSERT_EQ(0, fs_do_threads(2));
	ASSERT_EQ(0, read_ctr(&c1));
	recs_read(_metadata, &recs);
	for (i = 0; i < recs.n; i++) {
		const struct fs_record *r = &recs.r[i];

		if (fs_order_cmp(&r->order, &last) <= 0)
			continue;
		EXPECT_TRUE(!strcmp(r->kind, "vfork") || !strcmp(r->kind, "thread"))
			TH_LOG("record: %s", r->line);
		if (r->parent_tgid == getpid()) {
			vforks += !strcmp(r->kind, "vfork");
			threads += !strcmp(r->kind, "thread");
		}
	}
	recs_free(&recs);
	EXPECT_EQ(3, vforks);
	EXPECT_EQ(2, threads);
	EXPECT_LE(4, c1.filtered - c0.filtered);
	EXPECT_EQ(c1.creations - c0.creations,
		  (c1.recorded - c0.recorded) + (c1.filtered - c0.filtered));
}

TEST_F(loaded, filter_reads_back_canonical)
{
	static const struct {
		const char *write, *read;
	} cases[] = {
		{ "  kind=thread\tcomm=abc   kind=vfork pid=7 \n", "pid=7 comm=abc kind=vfork kind=thread\n" },
		{ "tgid=9 kind=fork", "tgid=9 kind=fork\n" },
		{ "kind=umh kind=io_worker kind=kthread kind=clone3 kind=clone",
		  "kind=clone kind=clone3 kind=kthread kind=io_worker kind=umh\n" },
		{ "kind=fork kind=fork", "kind=fork\n" },
		{ "comm=a.b-c_d:1", "comm=a.b-c_d:1\n" },
		{ "pid=4194304 tgid=1", "pid=4194304 tgid=1\n" },
		{ "clear", "clear\n" },
		{ "pid=3", "pid=3\n" },
		{ "", "clear\n" },
		{ "pid=3", "pid=3\n" },
		{ "\n", "clear\n" },
		{ "clear clear", "clear\n" },
	};
	char text[256], counters[65536], *line;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ASSERT_EQ(strlen(cases[i].write), put("filter", cases[i].write,
						      strlen(cases[i].write)))
			TH_LOG("'%s': %s", cases[i].write, strerror(errno));
		get("filter", text, sizeof(text));
		EXPECT_STREQ(cases[i].read, text);
		get("counters", counters, sizeof(counters));
		line = strstr(counters, "\nfilter ");
		ASSERT_NE(NULL, line);
		EXPECT_EQ(0, strncmp(line + 8, cases[i].read, strlen(cases[i].read)));
	}
}

/* One malformed write and the reason the kernel log must give for it. */
struct bad_write {
	const char *file;
	const char *data;
	size_t len;
	off_t offset;
	const char *why;
};

#define BAD(file, text, why) { file, text, sizeof(text) - 1, 0, why }
#define CTL_WHY(why) "forkscope: control: rejected: " why
#define FLT_WHY(why) "forkscope: filter: rejected: " why

static const char long_text[300] = "enable";	/* then NULs: 300 bytes */

static const struct bad_write bad_writes[] = {
	BAD("control", "bogus\n", CTL_WHY("unknown command")),
	BAD("control", "", CTL_WHY("empty command")),
	BAD("control", "\n", CTL_WHY("empty command")),
	BAD("control", " \t \n", CTL_WHY("empty command")),
	BAD("control", "sample 0", CTL_WHY("sample needs a number from 1 to 1000000")),
	BAD("control", "sample -1", CTL_WHY("number must be plain decimal digits")),
	BAD("control", "sample 99999999999999999999", CTL_WHY("sample needs a number from 1")),
	BAD("control", "sample", CTL_WHY("sample needs a number from 1")),
	BAD("control", "sample 1000001\n", CTL_WHY("sample needs a number from 1")),
	BAD("control", "sample 010", CTL_WHY("number with a leading zero")),
	BAD("control", "sample 0x10", CTL_WHY("number must be plain decimal digits")),
	BAD("control", "sample 1.5", CTL_WHY("number must be plain decimal digits")),
	BAD("control", "sample 5 5", CTL_WHY("unexpected text after the command")),
	BAD("control", "enable disable", CTL_WHY("unexpected text after the command")),
	BAD("control", "reset now\n", CTL_WHY("unexpected text after the command")),
	BAD("control", "enable\nenable\n", CTL_WHY("newline before the end")),
	BAD("control", "ENABLE", CTL_WHY("unknown command")),
	BAD("control", "\x00\xff\x01", CTL_WHY("embedded NUL byte")),
	BAD("control", "enable\0", CTL_WHY("embedded NUL byte")),
	BAD("control", "\xff\xfe", CTL_WHY("non-printable byte")),
	BAD("control", "\x1b[31menable", CTL_WHY("non-printable byte")),
	{ "control", long_text, 300, 0, "forkscope: control: rejected: write of 300 bytes is longer than 256" },
	{ "control", "enable", 6, 5, "forkscope: control: rejected: write at offset 5" },
	BAD("filter", "pid=abc", FLT_WHY("number must be plain decimal digits")),
	BAD("filter", "pid=-1", FLT_WHY("number must be plain decimal digits")),
	BAD("filter", "pid=0", FLT_WHY("pid and tgid need a number from 1 to 4194304")),
	BAD("filter", "pid=4194305", FLT_WHY("pid and tgid need a number")),
	BAD("filter", "pid=99999999999999999999", FLT_WHY("pid and tgid need a number")),
	BAD("filter", "tgid=", FLT_WHY("empty number")),
	BAD("filter", "pid=1 pid=2", FLT_WHY("duplicate pid clause")),
	BAD("filter", "tgid=1 tgid=1", FLT_WHY("duplicate tgid clause")),
	BAD("filter", "comm=x comm=y", FLT_WHY("duplicate comm clause")),
	BAD("filter", "kind=nonsense", FLT_WHY("unknown kind")),
	BAD("filter", "kind=FORK", FLT_WHY("unknown kind")),
	BAD("filter", "kind=", FLT_WHY("unknown kind")),
	BAD("filter", "comm=0123456789abcdef", FLT_WHY("comm longer than 15 bytes")),
	BAD("filter", "comm=", FLT_WHY("empty comm")),
	BAD("filter", "comm=a=b", FLT_WHY("comm must not contain '='")),
	BAD("filter", "clear pid=1", FLT_WHY("clear must be alone")),
	BAD("filter", "pid=1 clear", FLT_WHY("clear must be alone")),
	BAD("filter", "foo=1", FLT_WHY("unknown filter key")),
	BAD("filter", "pid", FLT_WHY("clause must be key=value")),
	BAD("filter", "\x7f", FLT_WHY("non-printable byte")),
	BAD("filter", "comm=\xc3\xa9t\xc3\xa9", FLT_WHY("non-printable byte")),
	BAD("filter", "pid=1\0", FLT_WHY("embedded NUL byte")),
	{ "filter", long_text, 300, 0, "forkscope: filter: rejected: write of 300 bytes is longer than 256" },
	{ "filter", "clear", 5, 1, "forkscope: filter: rejected: write at offset 1" },
};

TEST_F(loaded, malformed_writes_are_rejected_with_a_reason)
{
	char control0[256], filter0[256], control1[256], filter1[256];
	unsigned int i;

	/* A state that a half-applied write would visibly change. */
	ASSERT_EQ(0, put_str("control", "sample 3"));
	ASSERT_EQ(0, put_str("filter", "comm=keepme kind=fork"));
	get("control", control0, sizeof(control0));
	get("filter", filter0, sizeof(filter0));
	EXPECT_EQ(0, strncmp(control0, "enabled sample 3\n", 17));
	EXPECT_STREQ("comm=keepme kind=fork\n", filter0);
	ASSERT_LE(25, ARRAY_SIZE(bad_writes));

	for (i = 0; i < ARRAY_SIZE(bad_writes); i++) {
		const struct bad_write *b = &bad_writes[i];
		int logged = klog_count(b->why);
		char path[128];
		ssize_t ret;
		int fd, err;

		snprintf(path, sizeof(path), FS_DEBUGFS "/%s", b->file);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		ASSERT_LE(0, fd);
		if (b->offset)
			ret = pwrite(fd, b->data, b->len, b->offset);
		else
			ret = write(fd, b->data, b->len);
		err = errno;
		close(fd);
		EXPECT_EQ(-1, ret) TH_LOG("case %u (%s) was accepted", i, b->why);
		EXPECT_EQ(EINVAL, err) TH_LOG("case %u (%s)", i, b->why);
		get("control", control1, sizeof(control1));
		get("filter", filter1, sizeof(filter1));
		EXPECT_STREQ(control0, control1) TH_LOG("case %u changed control", i);
		EXPECT_STREQ(filter0, filter1) TH_LOG("case %u changed the filter", i);
		EXPECT_EQ(logged + 1, klog_count(b->why)) TH_LOG("case %u: no '%s' in the log",
								  i, b->why);
	}
	EXPECT_EQ(3, fs_counter("sample_every"));
	EXPECT_EQ(1, fs_counter("enabled"));
}

TEST_F(loaded, longest_write_is_accepted)
{
	char text[257], control[256];

	/* 256 bytes is the limit: a command padded with blanks to it is fine. */
	memset(text, ' ', sizeof(text));
	memcpy(text, "sample 7", 8);
	ASSERT_EQ(256, put("control", text, 256));
	get("control", control, sizeof(control));
	EXPECT_EQ(0, strncmp(control, "enabled sample 7\n", 17));
	EXPECT_EQ(-1, put("control", text, 257));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(loaded, root_only_files_refuse_other_users)
{
	static const struct {
		const char *file;
		mode_t mode;
		int flags;
	} files[] = {
		{ "control", 0600, O_WRONLY }, { "filter", 0600, O_WRONLY },
		{ "control", 0600, O_RDONLY }, { "trace", 0400, O_RDONLY },
		{ "records", 0400, O_RDONLY }, { "trace_pipe", 0400, O_RDONLY },
	};
	unsigned int i;
	int status;
	pid_t pid;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		char path[128];
		struct stat st;

		snprintf(path, sizeof(path), FS_DEBUGFS "/%s", files[i].file);
		ASSERT_EQ(0, stat(path, &st));
		EXPECT_EQ(files[i].mode, st.st_mode & 0777) TH_LOG("%s", files[i].file);
		EXPECT_EQ(0, st.st_uid);
	}
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int opened = 0;

		if (setgid(65534) || setuid(65534))
			_exit(255);
		for (i = 0; i < ARRAY_SIZE(files); i++) {
			char path[128];
			int fd;

			snprintf(path, sizeof(path), FS_DEBUGFS "/%s", files[i].file);
			fd = open(path, files[i].flags | O_NONBLOCK);
			if (fd >= 0 || errno != EACCES)
				opened |= 1 << i;
			if (fd >= 0)
				close(fd);
		}
		_exit(opened);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("bit i: files[i] opened (or not EACCES)");
	/* And nothing changed. */
	EXPECT_EQ(1, fs_counter("enabled"));
}

/* Reads everything trace_pipe has now (non-blocking); returns lines read. */
static int drain(int fd, char *all, size_t size)
{
	size_t len = 0;
	int lines = 0;
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
		if (all && len + n < size) {
			memcpy(all + len, buf, n);
			len += n;
		}
	}
	if (all)
		all[len] = '\0';
	return n < 0 && errno == EAGAIN ? lines : -1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static pid_t late_child;

static void *fork_later(void *arg)
{
	int status;

	usleep(300 * 1000);
	late_child = fork();
	if (late_child == 0)
		_exit(0);
	waitpid(late_child, &status, 0);
	return arg;
}

TEST_F(loaded, trace_pipe_blocks_polls_and_consumes)
{
	static char all[1 << 20];
	struct pollfd pfd;
	char buf[65536], needle[32];
	int nb, fd, lines, tries, ret, consumed = 0;
	long long t0, t1;
	pthread_t thread;
	ssize_t n;
	pid_t pid;

	nb = open(FS_DEBUGFS "/trace_pipe", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, nb);
	fd = open(FS_DEBUGFS "/trace_pipe", O_RDONLY);
	ASSERT_LE(0, fd);
	/* What was recorded since the load: our two forks at least. */
	ASSERT_EQ(0, fs_do_forks(2));
	lines = drain(nb, all, sizeof(all));
	ASSERT_LE(2, lines);
	consumed += lines;
	EXPECT_EQ(consumed, fs_counter("consumed"));
	EXPECT_EQ(-1, read(nb, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);

	/* Idle: poll times out (retried if a background creation lands). */
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (tries = 0; tries < 5; tries++) {
		ret = poll(&pfd, 1, 300);
		if (ret == 0)
			break;
		lines = drain(nb, NULL, 0);
		ASSERT_LE(0, lines);
		consumed += lines;
	}
	EXPECT_EQ(0, ret);

	/* A fork wakes the poller; the line names the child. */
	pid = fork();
	if (pid == 0)
		_exit(0);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	EXPECT_TRUE(pfd.revents & POLLIN);
	n = read(fd, buf, sizeof(buf) - 1);
	ASSERT_LT(0, n);
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		consumed += buf[i] == '\n';
	snprintf(needle, sizeof(needle), " -> %d ", pid);
	EXPECT_NE(NULL, strstr(buf, needle)) TH_LOG("trace_pipe gave: %s", buf);
	EXPECT_NE(NULL, strstr(buf, " fork " COMM "["));

	/*
	 * A blocking read sleeps until the next creation: a thread forks
	 * 300 ms from now (its own creation's line is drained first).
	 */
	ASSERT_EQ(0, pthread_create(&thread, NULL, fork_later, NULL));
	lines = drain(nb, NULL, 0);
	ASSERT_LE(0, lines);
	consumed += lines;
	t0 = now_ms();
	n = read(fd, buf, sizeof(buf) - 1);
	t1 = now_ms();
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_LT(0, n);
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		consumed += buf[i] == '\n';
	EXPECT_LE(200, t1 - t0) TH_LOG("read returned after %lld ms", t1 - t0);
	snprintf(needle, sizeof(needle), " -> %d ", late_child);
	EXPECT_NE(NULL, strstr(buf, needle)) TH_LOG("read: %s", buf);
	lines = drain(nb, NULL, 0);
	ASSERT_LE(0, lines);
	consumed += lines;

	/* Empty again: non-blocking reads say so; consumed counts every line. */
	EXPECT_EQ(-1, read(nb, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(consumed, fs_counter("consumed"));
	close(fd);
	close(nb);
}

TEST(small_ring_overwrites_are_accounted)
{
	static char all[1 << 20];
	char version[4096];
	struct ctr c0, c1;
	struct recs recs;
	int nb, lines, ncpu = sysconf(_SC_NPROCESSORS_CONF);

	ASSERT_EQ(0, fs_unload_if_loaded());
	ASSERT_EQ(0, fs_load("ring_size=16"));
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/version", version, sizeof(version)));
	EXPECT_EQ(16, fs_find_value(version, "ring_records_per_cpu"));
	ASSERT_EQ(0, pin_to_cpu(0));
	ASSERT_EQ(0, fs_do_forks(100));

	ASSERT_EQ(0, read_ctr(&c0));
	recs_read(_metadata, &recs);
	EXPECT_LE(100, c0.records);
	EXPECT_GE(16 * ncpu, recs.file.count);
	EXPECT_LE(100 - 16 * ncpu, c0.ring_overwritten);
	/* Nothing consumed yet: a record is either still held or overwritten. */
	EXPECT_EQ(0, c0.consumed);
	EXPECT_EQ(c0.records, c0.ring_overwritten + recs.file.count)
		TH_LOG("records %lld, overwritten %lld, held %d", c0.records,
		       c0.ring_overwritten, recs.file.count);
	recs_free(&recs);

	nb = open(FS_DEBUGFS "/trace_pipe", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, nb);
	lines = drain(nb, all, sizeof(all));
	close(nb);
	ASSERT_LE(1, lines);
	EXPECT_GE(16 * ncpu, lines);
	ASSERT_EQ(0, read_ctr(&c1));
	EXPECT_EQ(lines, c1.consumed);
	/* Drained: every record was read or overwritten, none lost otherwise. */
	EXPECT_EQ(c1.records, c1.consumed + c1.ring_overwritten)
		TH_LOG("records %lld, consumed %lld, overwritten %lld", c1.records,
		       c1.consumed, c1.ring_overwritten);
	EXPECT_EQ(c1.records, c1.recorded + c1.recorded_failures + c1.exec_recorded + c1.spawns);
	ASSERT_EQ(0, fs_unload());
}

TEST_HARNESS_MAIN
