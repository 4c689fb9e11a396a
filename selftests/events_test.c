// SPDX-License-Identifier: GPL-2.0
/*
 * forkscope's trace events (forkscope:fork, :exec, :spawn): they exist with
 * their fields; with them on, a workload gives exactly one event per record
 * with the record's values; a hist trigger's per-kind totals equal
 * forkscope's stats; off, they add nothing to the trace buffer.
 */
#include "forkscope_test.h"

#include "fs_json.h"
#include "fs_harness.h"

#define TRACING "/sys/kernel/tracing"
#define EVENTS TRACING "/events/forkscope"
#define WORKLOAD "/opt/forkscope/selftests/fs_workload"
#define HIST_TRIGGER "hist:keys=kind:vals=total_ns if ret > 0"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static int control(const char *word)
{
	return fs_write_debugfs("control", word, strlen(word)) < 0 ? -errno : 0;
}

/* Runs fs_workload KIND COUNT and waits; 0 if it succeeded. */
static int workload(const char *kind, const char *count)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execl(WORKLOAD, WORKLOAD, kind, count, NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Reads a whole (possibly large) file; caller frees. NULL on error. */
static char *slurp(const char *path)
{
	struct fs_records recs;
	char *text;

	if (fs_records_read(path, &recs))
		return NULL;
	/* fs_records_read split the lines: join them back. */
	for (int i = 0; i + 1 < recs.count; i++)
		recs.lines[i][strlen(recs.lines[i])] = '\n';
	text = recs.text;
	free(recs.lines);
	return text;
}

/* In a trace line's "key=value" list: the value's start, or NULL. */
static const char *field(const char *line, const char *key)
{
	size_t n = strlen(key);
	const char *p = line;

	while ((p = strstr(p, key))) {
		if ((p == line || p[-1] == ' ') && p[n] == '=')
			return p + n + 1;
		p += n;
	}
	return NULL;
}

static long long field_int(const char *line, const char *key)
{
	const char *v = field(line, key);

	return v ? strtoll(v, NULL, 0) : -999999;
}

/* The value up to the next blank, into buf. */
static const char *field_str(const char *line, const char *key, char *buf, size_t size)
{
	const char *v = field(line, key);
	size_t n = 0;

	buf[0] = '\0';
	if (!v)
		return buf;
	while (v[n] && v[n] != ' ' && v[n] != '\n' && n + 1 < size) {
		buf[n] = v[n];
		n++;
	}
	buf[n] = '\0';
	return buf;
}

/* Stage names in stage-map order (the rows of the stages file). */
static int stage_names(char names[][32], int max)
{
	static char buf[65536];
	char *line, *save = NULL;
	int n = 0, in_table = 0;

	if (fs_read_file(FS_DEBUGFS "/stages", buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "stage ", 6)) {
			in_table = 1;
			continue;
		}
		if (!strncmp(line, "anchor ", 7))
			break;
		if (in_table && n < max && sscanf(line, "%31s", names[n]) == 1)
			n++;
	}
	return n;
}

/* Stage i's value in a "stages={0x..,0x..}" field; -1 if absent. */
static long long stage_value(const char *line, int index)
{
	const char *p = field(line, "stages");
	int i;

	if (!p || *p != '{')
		return -1;
	p++;
	for (i = 0; i < index; i++) {
		p = strchr(p, ',');
		if (!p)
			return -1;
		p++;
	}
	return strtoll(p, NULL, 0);
}

/* The trace line of the event with this seq, or NULL. */
static const char *event_line(char **lines, int count, const char *name, long long seq)
{
	char tag[32];

	snprintf(tag, sizeof(tag), ": %s: ", name);
	for (int i = 0; i < count; i++) {
		if (strstr(lines[i], tag) && field_int(lines[i], "seq") == seq)
			return lines[i];
	}
	return NULL;
}

static int split(char *text, char **lines, int max)
{
	int n = 0;
	char *p = text;

	while (*p && n < max) {
		char *nl = strchr(p, '\n');

		lines[n++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	return n;
}

static int count_events(char **lines, int n)
{
	int i, c = 0;

	for (i = 0; i < n; i++)
		c += lines[i][0] != '#' && (strstr(lines[i], ": fork: ") ||
					     strstr(lines[i], ": exec: ") ||
					     strstr(lines[i], ": spawn: "));
	return c;
}

FIXTURE(events) {
	int dummy;
};

FIXTURE_SETUP(events)
{
	ASSERT_EQ(0, fs_unload_if_loaded());
	ASSERT_EQ(0, fs_load(NULL));
	write_file(TRACING "/tracing_on", "1");
}

FIXTURE_TEARDOWN(events)
{
	write_file(EVENTS "/enable", "0");
	write_file(EVENTS "/fork/trigger", "!" HIST_TRIGGER);
	write_file(TRACING "/trace", "");
	fs_unload();
}

TEST_F(events, exist_with_their_fields)
{
	static const char *const fields[][8] = {
		{ "fork", "seq", "kind", "parent_pid", "child_pid", "total_ns", "stages", "verdict" },
		{ "exec", "seq", "pid", "old_comm", "new_comm", "filename", "total_ns", "stages" },
		{ "spawn", "seq", "kind", "child_pid", "exited", "fork_start_ns", "end_ns", "total_ns" },
	};
	char path[128], buf[8192], want[64];

	for (int e = 0; e < 3; e++) {
		snprintf(path, sizeof(path), EVENTS "/%s/format", fields[e][0]);
		ASSERT_LT(0, fs_read_file(path, buf, sizeof(buf))) TH_LOG("%s", path);
		for (int f = 1; f < 8; f++) {
			snprintf(want, sizeof(want), " %s;", fields[e][f]);
			if (!strstr(buf, want))
				snprintf(want, sizeof(want), " %s[", fields[e][f]);
			EXPECT_NE(NULL, strstr(buf, want)) TH_LOG("%s: no field %s", path, fields[e][f]);
		}
	}
	/* The stages array is dynamic (__data_loc). */
	ASSERT_LT(0, fs_read_file(EVENTS "/fork/format", buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "__data_loc u64[] stages"));
}

TEST_F(events, one_event_per_record_with_its_values)
{
	static char names[64][32];
	int nstages = stage_names(names, 64);
	int n_lines, n_recs, checked = 0, stages_checked = 0, kinds = 0;
	struct fs_records recs;
	char **lines, *trace, buf[128];

	ASSERT_LT(30, nstages);
	ASSERT_EQ(0, control("disable"));
	ASSERT_EQ(0, write_file(TRACING "/trace", ""));
	/* Off: forkscope records, the trace buffer stays empty. */
	ASSERT_EQ(0, control("reset"));
	ASSERT_EQ(0, control("enable"));
	ASSERT_EQ(0, workload("fork", "5"));
	ASSERT_EQ(0, control("disable"));
	trace = slurp(TRACING "/trace");
	ASSERT_NE(NULL, trace);
	lines = calloc(1 << 16, sizeof(*lines));
	ASSERT_NE(NULL, lines);
	n_lines = split(trace, lines, 1 << 16);
	EXPECT_EQ(0, count_events(lines, n_lines));
	free(trace);

	/* On. In-flight creations finish before the reset. */
	ASSERT_EQ(0, write_file(EVENTS "/enable", "1"));
	usleep(200000);
	ASSERT_EQ(0, control("reset"));
	ASSERT_EQ(0, write_file(TRACING "/trace", ""));
	ASSERT_EQ(0, control("enable"));
	ASSERT_EQ(0, workload("fork", "20"));
	ASSERT_EQ(0, workload("vfork", "10"));
	ASSERT_EQ(0, workload("thread", "10"));
	ASSERT_EQ(0, workload("fork-exec", "10"));
	ASSERT_EQ(0, control("disable"));
	usleep(200000);
	ASSERT_EQ(0, write_file(EVENTS "/enable", "0"));

	ASSERT_EQ(0, fs_records_read(FS_DEBUGFS "/records", &recs));
	trace = slurp(TRACING "/trace");
	ASSERT_NE(NULL, trace);
	n_lines = split(trace, lines, 1 << 16);
	n_recs = recs.count;
	if (n_recs > 0 && recs.lines[n_recs - 1][0] == '\0')
		n_recs--;
	ASSERT_LE(20 + 10 + 10 + 10 * 3, n_recs);
	EXPECT_EQ(n_recs, count_events(lines, n_lines));
	EXPECT_EQ(0, fs_counter("ring_overwritten"));

	for (int i = 0; i < n_recs; i++) {
		const char *rec = recs.lines[i], *ev;
		char event[16], s[80];
		long long seq = -1, v;
		struct fs_json_iter it;
		char stage[64];

		ASSERT_EQ(0, fs_json_int(rec, "seq", &seq));
		ASSERT_LT(0, fs_json_str(rec, "event", event, sizeof(event)));
		ev = event_line(lines, n_lines, event, seq);
		ASSERT_NE(NULL, ev) TH_LOG("no %s event for record seq %lld", event, seq);
#define SAME_INT(key) do { \
		ASSERT_EQ(0, fs_json_int(rec, key, &v)); \
		EXPECT_EQ(v, field_int(ev, key)) TH_LOG("seq %lld %s", seq, key); \
	} while (0)
#define SAME_STR(jkey, tkey) do { \
		ASSERT_LE(0, fs_json_str(rec, jkey, s, sizeof(s))); \
		EXPECT_STREQ(s, field_str(ev, tkey, buf, sizeof(buf))) TH_LOG("seq %lld %s", seq, jkey); \
	} while (0)
		SAME_INT("total_ns");
		if (!strcmp(event, "fork")) {
			SAME_INT("parent_pid");
			SAME_INT("parent_tgid");
			SAME_INT("child_pid");
			SAME_INT("ret");
			SAME_INT("flags_raw");
			SAME_INT("exit_signal");
			SAME_INT("copy_process_ns");
			SAME_INT("wake_ns");
			SAME_INT("vfork_wait_ns");
			SAME_STR("kind", "kind");
			SAME_STR("comm", "comm");
			SAME_STR("verdict", "verdict");
			kinds++;
		} else if (!strcmp(event, "exec")) {
			SAME_INT("pid");
			SAME_INT("tgid");
			SAME_INT("ret");
			SAME_STR("old_comm", "old_comm");
			SAME_STR("filename", "filename");
		} else {
			SAME_INT("parent_pid");
			SAME_INT("child_pid");
			SAME_INT("fork_start_ns");
			SAME_INT("end_ns");
			SAME_STR("kind", "kind");
		}
		/* Every stage of the record, at its stage-map index. */
		if (strcmp(event, "spawn") && !fs_json_object(rec, "stages", &it)) {
			while (fs_json_next_int(&it, stage, sizeof(stage), &v) == 1) {
				int idx;

				for (idx = 0; idx < nstages && strcmp(names[idx], stage); idx++)
					;
				ASSERT_LT(idx, nstages) TH_LOG("stage %s not in the stage map", stage);
				EXPECT_EQ(v, stage_value(ev, idx)) TH_LOG("seq %lld stage %s", seq, stage);
				stages_checked++;
			}
		}
		checked++;
#undef SAME_INT
#undef SAME_STR
	}
	EXPECT_EQ(n_recs, checked);
	EXPECT_LT(0, kinds);
	EXPECT_LT(checked, stages_checked);
	TH_LOG("%d records, %d events, %d stage values compared", n_recs, count_events(lines, n_lines),
	       stages_checked);
	fs_records_free(&recs);
	free(lines);
	free(trace);
}

/* "count" and "mean_ns" of the total row of one kind's section in stats. */
static int stats_total(const char *stats, const char *kind, long long *count, long long *mean)
{
	char head[64];
	const char *p, *row;
	long long min;

	snprintf(head, sizeof(head), "\n== kind %s: ", kind);
	p = strstr(stats, head);
	if (!p)
		return -1;
	row = strstr(p, "\ntotal (kernel_clone)");
	if (!row)
		return -1;
	row += strlen("\ntotal (kernel_clone)");
	return sscanf(row, "%lld %lld %lld", count, &min, mean) == 3 ? 0 : -1;
}

TEST_F(events, hist_trigger_totals_equal_stats)
{
	static char hist[65536], stats[65536];
	int entries = 0;
	char *line, *save = NULL;

	ASSERT_EQ(0, control("disable"));
	ASSERT_EQ(0, write_file(EVENTS "/fork/trigger", HIST_TRIGGER));
	usleep(200000);
	ASSERT_EQ(0, control("reset"));
	ASSERT_EQ(0, control("enable"));
	ASSERT_EQ(0, workload("fork", "20"));
	ASSERT_EQ(0, workload("vfork", "10"));
	ASSERT_EQ(0, workload("thread", "10"));
	ASSERT_EQ(0, control("disable"));
	usleep(200000);
	ASSERT_LT(0, fs_read_file(EVENTS "/fork/hist", hist, sizeof(hist)));
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/stats", stats, sizeof(stats)));
	for (line = strtok_r(hist, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char kind[32];
		long long hits, total, count, mean;

		/* { kind: fork            } hitcount:         20  total_ns:    1234 */
		if (sscanf(line, "{ kind: %31s } hitcount: %lld total_ns: %lld", kind, &hits,
			   &total) != 3)
			continue;
		ASSERT_EQ(0, stats_total(stats, kind, &count, &mean)) TH_LOG("no stats for %s", kind);
		EXPECT_EQ(count, hits) TH_LOG("kind %s", kind);
		EXPECT_EQ(mean, total / hits) TH_LOG("kind %s", kind);
		TH_LOG("kind %s: %lld events, mean %lld ns (stats: %lld, %lld ns)", kind, hits,
		       total / hits, count, mean);
		entries++;
	}
	EXPECT_LE(3, entries);	/* fork, vfork, thread */
}

TEST_HARNESS_MAIN
