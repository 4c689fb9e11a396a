/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tiny reader for forkscope's own JSON Lines (the debugfs "records" file):
 * one flat object per line, at most one nested object ("stages"). Gets an
 * integer or a string by key and walks the members of the nested object;
 * fs_record_parse() fills the fields of a creation ("event":"fork") record.
 * It checks the syntax it walks over but is not a general JSON parser.
 */
#ifndef FS_JSON_H
#define FS_JSON_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <forkscope/core.h> /* FORKSCOPE_SEQ_CPU_BITS */

/* A line ends at '\n' or NUL; nothing is read past it. */
static inline int fs_json_end(char c)
{
	return c == '\0' || c == '\n';
}

static inline const char *fs_json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

/* p at '"': returns just past the closing quote, NULL if unterminated. */
static inline const char *fs_json_skip_string(const char *p)
{
	if (*p != '"')
		return NULL;
	for (p++; !fs_json_end(*p); p++) {
		if (*p == '\\') {
			p++;
			if (fs_json_end(*p))
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* Skips one value (string, number, literal, object, array); NULL if bad. */
static inline const char *fs_json_skip_value(const char *p)
{
	int depth = 0;

	p = fs_json_ws(p);
	if (*p == '"')
		return fs_json_skip_string(p);
	if (*p != '{' && *p != '[') {
		const char *start = p;

		while (!fs_json_end(*p) && !strchr(",}] \t", *p))
			p++;
		return p == start ? NULL : p;
	}
	for (; !fs_json_end(*p); p++) {
		if (*p == '"') {
			p = fs_json_skip_string(p);
			if (!p)
				return NULL;
			p--;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (--depth == 0)
				return p + 1;
		}
	}
	return NULL;
}

/*
 * Iterates the members of the object at *p ('{' on the first call, then
 * the cursor this function left). On success stores the key (raw, without
 * quotes; keys in our format have no escapes) and the value's start, and
 * returns 1; returns 0 at the closing brace and -1 on a syntax error.
 */
static inline int fs_json_member(const char **p, int *first, const char **key,
				 size_t *key_len, const char **value)
{
	const char *q = fs_json_ws(*p);
	const char *end;

	if (*first) {
		if (*q != '{')
			return -1;
		q = fs_json_ws(q + 1);
		if (*q == '}') {
			*p = q + 1;
			return 0;
		}
		*first = 0;
	} else {
		if (*q == '}') {
			*p = q + 1;
			return 0;
		}
		if (*q != ',')
			return -1;
		q = fs_json_ws(q + 1);
	}
	end = fs_json_skip_string(q);
	if (!end)
		return -1;
	*key = q + 1;
	*key_len = end - q - 2;
	q = fs_json_ws(end);
	if (*q != ':')
		return -1;
	*value = fs_json_ws(q + 1);
	end = fs_json_skip_value(*value);
	if (!end)
		return -1;
	*p = end;
	return 1;
}

/* Start of the value of top-level key in the object line; NULL if absent. */
static inline const char *fs_json_find(const char *line, const char *key)
{
	const char *p = line, *k, *v;
	size_t klen, want = strlen(key);
	int first = 1;

	while (fs_json_member(&p, &first, &k, &klen, &v) == 1) {
		if (klen == want && !strncmp(k, key, want))
			return v;
	}
	return NULL;
}

/* Parses a JSON integer at p; 0 on success. */
static inline int fs_json_parse_int(const char *p, long long *out)
{
	char *end;

	if (*p != '-' && (*p < '0' || *p > '9'))
		return -1;
	errno = 0;
	*out = strtoll(p, &end, 10);
	if (errno || end == p || (!fs_json_end(*end) && !strchr(",}] \t", *end)))
		return -1;
	return 0;
}

/* Integer value of key; 0 on success, -1 if absent or not an integer. */
static inline int fs_json_int(const char *line, const char *key, long long *out)
{
	const char *v = fs_json_find(line, key);

	return v ? fs_json_parse_int(v, out) : -1;
}

/* 1 if the value of key is the literal null. */
static inline int fs_json_is_null(const char *line, const char *key)
{
	const char *v = fs_json_find(line, key);

	return v && !strncmp(v, "null", 4) &&
	       (fs_json_end(v[4]) || strchr(",}] \t", v[4]));
}

/*
 * String value of key, unescaped into buf (NUL-terminated, truncated to
 * size); returns its length, or -1 if absent, not a string or malformed.
 */
static inline int fs_json_str(const char *line, const char *key, char *buf, size_t size)
{
	const char *v = fs_json_find(line, key);
	const char *end;
	size_t n = 0;

	if (!v || *v != '"' || size == 0)
		return -1;
	end = fs_json_skip_string(v);
	if (!end)
		return -1;
	end--;	/* the closing quote */
	for (v++; v < end; v++) {
		char c = *v;

		if (c == '\\') {
			static const char from[] = "ntrbf", to[] = "\n\t\r\b\f";
			const char *esc;

			c = *++v;
			if (c == 'u') {
				char hex[5] = { 0 };

				if (end - v < 5)
					return -1;
				memcpy(hex, v + 1, 4);
				c = (char)strtol(hex, NULL, 16);
				v += 4;
			} else if ((esc = strchr(from, c)) && c) {
				c = to[esc - from];
			}
			/* else '"', '\\' and '/' stand for themselves */
		}
		if (n + 1 < size)
			buf[n] = c;
		n++;
	}
	buf[n + 1 < size ? n : size - 1] = '\0';
	return (int)n;
}

/* Walks the nested object of key (for us: "stages"), member by member. */
struct fs_json_iter {
	const char *p;
	int first;
};

/* 0 if key holds an object, -1 otherwise. */
static inline int fs_json_object(const char *line, const char *key, struct fs_json_iter *it)
{
	const char *v = fs_json_find(line, key);

	if (!v || *v != '{')
		return -1;
	it->p = v;
	it->first = 1;
	return 0;
}

/*
 * Next member with an integer value: copies its name into name (truncated
 * to size) and its value; 1 per member, 0 at the end, -1 on a syntax error
 * or a value that is not an integer.
 */
static inline int fs_json_next_int(struct fs_json_iter *it, char *name, size_t size,
				   long long *value)
{
	const char *k, *v;
	size_t klen;
	int ret = it->p ? fs_json_member(&it->p, &it->first, &k, &klen, &v) : -1;

	if (ret != 1)
		return ret;
	if (size) {
		size_t n = klen < size - 1 ? klen : size - 1;

		memcpy(name, k, n);
		name[n] = '\0';
	}
	return fs_json_parse_int(v, value) ? -1 : 1;
}

/*
 * A record's place in completion order: end_ns, then the CPU, then that
 * CPU's count (seq = count << FORKSCOPE_SEQ_CPU_BITS | cpu). seq is an id,
 * unique but not ordered across CPUs.
 */
struct fs_order {
	long long end_ns, seq;
};

/* The order of any records line (fork, exec, spawn); 0, or -1 if it has none. */
static inline int fs_order_of(const char *line, struct fs_order *o)
{
	return fs_json_int(line, "seq", &o->seq) || fs_json_int(line, "end_ns", &o->end_ns) ? -1 : 0;
}

/* <0, 0 or >0: a finished before, is, or finished after b. */
static inline int fs_order_cmp(const struct fs_order *a, const struct fs_order *b)
{
	const long long cpu_mask = (1LL << FORKSCOPE_SEQ_CPU_BITS) - 1;

	if (a->end_ns != b->end_ns)
		return a->end_ns < b->end_ns ? -1 : 1;
	if ((a->seq & cpu_mask) != (b->seq & cpu_mask))
		return (a->seq & cpu_mask) < (b->seq & cpu_mask) ? -1 : 1;
	return (a->seq >> FORKSCOPE_SEQ_CPU_BITS) < (b->seq >> FORKSCOPE_SEQ_CPU_BITS) ? -1 :
	       (a->seq >> FORKSCOPE_SEQ_CPU_BITS) > (b->seq >> FORKSCOPE_SEQ_CPU_BITS);
}

/* Keeps in *last the later of *last and *o. */
static inline void fs_order_max(struct fs_order *last, const struct fs_order *o)
{
	if (fs_order_cmp(o, last) > 0)
		*last = *o;
}

/* One record line, the fields the tests look at. */
struct fs_record {
	const char *line;
	struct fs_order order; /* its seq (id) and end_ns */
	long long flags_raw, exit_signal, parent_pid, parent_tgid, child_pid, ret;
	long long cpu_start, cpu_end, start_ns;
	long long copy_process_ns, clone_prologue_ns, clone_publish_ns, wake_ns;
	long long vfork_wait_ns, clone_return_ns, total_ns, anomalies;
	char kind[16], origin[16], comm[32], err[32], flags[512];
};

/*
 * Parses one line of the records file: 0 for a creation ("event":"fork"),
 * 1 for another well-formed event (exec, spawn: only its order and event
 * are read), -1 if a field is missing or malformed.
 */
static inline int fs_record_parse(const char *line, struct fs_record *r)
{
	static const struct { const char *key; size_t off; } ints[] = {
#define FS_REC_INT(f) { #f, offsetof(struct fs_record, f) }
		FS_REC_INT(flags_raw), FS_REC_INT(exit_signal),
		FS_REC_INT(parent_pid), FS_REC_INT(parent_tgid), FS_REC_INT(child_pid),
		FS_REC_INT(ret), FS_REC_INT(cpu_start), FS_REC_INT(cpu_end),
		FS_REC_INT(start_ns), FS_REC_INT(copy_process_ns),
		FS_REC_INT(clone_prologue_ns), FS_REC_INT(clone_publish_ns),
		FS_REC_INT(wake_ns), FS_REC_INT(vfork_wait_ns),
		FS_REC_INT(clone_return_ns), FS_REC_INT(total_ns), FS_REC_INT(anomalies),
#undef FS_REC_INT
	};
	char event[16];
	size_t i;

	memset(r, 0, sizeof(*r));
	r->line = line;
	if (fs_order_of(line, &r->order) ||
	    fs_json_str(line, "event", event, sizeof(event)) <= 0)
		return -1;
	if (strcmp(event, "fork"))
		return 1;
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (fs_json_int(line, ints[i].key, (long long *)((char *)r + ints[i].off)))
			return -1;
	}
	if (fs_json_str(line, "kind", r->kind, sizeof(r->kind)) < 0 ||
	    fs_json_str(line, "origin", r->origin, sizeof(r->origin)) < 0 ||
	    fs_json_str(line, "comm", r->comm, sizeof(r->comm)) < 0 ||
	    fs_json_str(line, "flags", r->flags, sizeof(r->flags)) < 0)
		return -1;
	if (fs_json_is_null(line, "errno"))
		r->err[0] = '\0';
	else if (fs_json_str(line, "errno", r->err, sizeof(r->err)) <= 0)
		return -1;
	return 0;
}

/* Value of one stage of the record, -1 if the stage did not run. */
static inline long long fs_record_stage(const struct fs_record *r, const char *stage)
{
	struct fs_json_iter it;
	char name[64];
	long long ns;

	if (fs_json_object(r->line, "stages", &it))
		return -1;
	while (fs_json_next_int(&it, name, sizeof(name), &ns) == 1) {
		if (!strcmp(name, stage))
			return ns;
	}
	return -1;
}

/* All lines of a records file, split in place. */
struct fs_records {
	char *text;
	char **lines;
	int count;
};

static inline void fs_records_free(struct fs_records *recs)
{
	free(recs->text);
	free(recs->lines);
	memset(recs, 0, sizeof(*recs));
}

/* Reads a JSON Lines file whole; 0 or -errno. */
static inline int fs_records_read(const char *path, struct fs_records *recs)
{
	size_t size = 1 << 20, len = 0;
	int fd, n = 0;
	char *p;

	memset(recs, 0, sizeof(*recs));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	recs->text = malloc(size);
	while (recs->text) {
		ssize_t got;

		if (len + 1 == size) {
			char *bigger = realloc(recs->text, size * 2);

			if (!bigger)
				break;
			recs->text = bigger;
			size *= 2;
		}
		got = read(fd, recs->text + len, size - 1 - len);
		if (got < 0) {
			int err = errno;

			close(fd);
			fs_records_free(recs);
			return -err;
		}
		if (got == 0)
			break;
		len += got;
	}
	close(fd);
	if (!recs->text || len + 1 == size) {
		fs_records_free(recs);
		return -ENOMEM;
	}
	recs->text[len] = '\0';
	for (p = recs->text; *p; p++)
		n += *p == '\n';
	recs->lines = calloc(n + 1, sizeof(char *));
	if (!recs->lines) {
		fs_records_free(recs);
		return -ENOMEM;
	}
	for (p = recs->text; *p; ) {
		char *nl = strchr(p, '\n');

		recs->lines[recs->count++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	return 0;
}

#endif /* FS_JSON_H */
