// SPDX-License-Identifier: GPL-2.0
/*
 * forkscope's verdict against the real kernel: a seeded random explorer of
 * clone flag combinations (clone3 and legacy clone) whose records must pair
 * one to one with the calls that reached kernel_clone and never say
 * "mismatch"; one case per refusal rule of the model, each refused with the
 * predicted errno; and the sharing the verdict observes for fork, vfork,
 * threads, CLONE_PARENT and new namespaces.
 */
#include "forkscope_test.h"
#include "fs_json.h"

#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <time.h>

#include "fs_harness.h"

#ifndef __x86_64__
#error "verdict_test's raw clone wrappers are written for x86-64"
#endif

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080ULL
#endif
#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#define VT_CSIGNAL 0xffULL
#define VT_LEGACY_FLAGS 0xffffffffULL
#define VT_ARGS_SIZE_VER0 64
#define VT_ARGS_SIZE_VER1 80
#define VT_ARGS_SIZE_VER2 88
#define VT_NSIG 64		/* the kernel's _NSIG: valid_signal() */
#define VT_MAX_PID_NS_LEVEL 32
#define VT_ERESTARTNOINTR 513

#define VT_COMM "fs_verdict"
#define VT_NOBODY 65534
#define VT_DEFAULT_SEED 0x5eedf02cULL
#define VT_DEFAULT_CALLS 3000
#define VT_BATCH 200

/* The clone3 argument block, VER2 (linux/sched.h's struct clone_args). */
struct vt_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

_Static_assert(sizeof(struct vt_clone_args) == VT_ARGS_SIZE_VER2, "clone_args VER2");

/*
 * Raw clone3/clone/fork/vfork. The child (rax == 0) executes exit (60) at
 * once, touching neither the stack nor TLS, so CLONE_VM without a stack,
 * CLONE_THREAD, CLONE_VFORK and CLONE_SETTLS are all safe. The parent gets
 * the pid or -errno.
 */
#define VT_CHILD_EXITS			\
	"syscall\n\t"			\
	"test %%rax, %%rax\n\t"		\
	"jnz 1f\n\t"			\
	"mov $60, %%eax\n\t"		\
	"xor %%edi, %%edi\n\t"		\
	"syscall\n"			\
	"1:\n\t"

static long vt_raw_clone3(struct vt_clone_args *args, unsigned long size)
{
	long ret;

	asm volatile(VT_CHILD_EXITS
		     : "=a"(ret)
		     : "0"((long)SYS_clone3), "D"(args), "S"(size)
		     : "rcx", "r11", "memory");
	return ret;
}

/* x86-64's clone(flags, newsp, parent_tid, child_tid, tls). */
static long vt_raw_clone(unsigned long flags, int *parent_tid, int *child_tid, unsigned long tls)
{
	register long r10 asm("r10") = (long)child_tid;
	register long r8 asm("r8") = (long)tls;
	long ret;

	asm volatile(VT_CHILD_EXITS
		     : "=a"(ret)
		     : "0"((long)SYS_clone), "D"(flags), "S"(0L), "d"(parent_tid),
		       "r"(r10), "r"(r8)
		     : "rcx", "r11", "memory");
	return ret;
}

static long vt_raw_fork(long nr)
{
	long ret;

	asm volatile(VT_CHILD_EXITS
		     : "=a"(ret)
		     : "0"(nr)
		     : "rcx", "r11", "memory");
	return ret;
}

/* Messages of the test process and of the explorer: flushed at once. */
static void vt_note(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	printf("# ");
	vprintf(fmt, args);
	va_end(args);
	fflush(stdout);
}

/* ---- One creation: what was asked, what kernel_clone saw, the result ---- */

enum vt_api { VT_CLONE3, VT_CLONE, VT_FORK, VT_VFORK };

struct vt_call {
	enum vt_api api;
	uint64_t flags;		/* clone3's args.flags; clone's flags (with the signal) */
	uint64_t exit_signal;	/* clone3's args.exit_signal */
	unsigned int size;	/* clone3's size argument */
	int shared_ptr;		/* clone3: parent_tid == pidfd */
	int set_tid;		/* clone3: set_tid = { 1 }, set_tid_size 1 */
	int set_tid_size_only;	/* clone3: set_tid_size 1, no set_tid */
	int stack_size_only;	/* clone3: stack_size without a stack */
	int bad_cgroup;		/* clone3: cgroup > INT_MAX */
	/* Derived: the errno clone3 returns before kernel_clone, else 0. */
	int early_errno;
	uint64_t kflags;	/* kernel_clone_args.flags */
	uint64_t kexit;		/* kernel_clone_args.exit_signal */
	long ret;		/* the syscall's: pid or -errno */
};

/* Valid pointers for the clone3 fields and clone's arguments. */
static int vt_pidfd_slot = -1, vt_ptid_slot = -1, vt_ctid_slot = -1;
static int vt_set_tid[1] = { 1 };
static char vt_tls_area[256] __attribute__((aligned(64)));
static int vt_cgroup_fd = -1;

static void vt_fill_args(const struct vt_call *c, struct vt_clone_args *args)
{
	memset(args, 0, sizeof(*args));
	args->flags = c->flags;
	args->exit_signal = c->exit_signal;
	args->pidfd = (uintptr_t)&vt_pidfd_slot;
	args->parent_tid = (uintptr_t)(c->shared_ptr ? &vt_pidfd_slot : &vt_ptid_slot);
	args->child_tid = (uintptr_t)&vt_ctid_slot;
	args->tls = (uintptr_t)vt_tls_area;
	if (c->set_tid) {
		args->set_tid = (uintptr_t)vt_set_tid;
		args->set_tid_size = 1;
	}
	if (c->set_tid_size_only)
		args->set_tid_size = 1;
	if (c->stack_size_only)
		args->stack_size = 4096;
	args->cgroup = c->bad_cgroup ? (uint64_t)INT_MAX + 1 : (uint64_t)(vt_cgroup_fd < 0 ? 0 : vt_cgroup_fd);
}

/*
 * What 6.1's copy_clone_args_from_user and clone3_args_valid refuse (those
 * calls never reach kernel_clone, so forkscope has no record of them).
 */
static int vt_clone3_early_errno(const struct vt_clone_args *in, unsigned int size)
{
	struct vt_clone_args a;

	if (size > 4096)
		return E2BIG;
	if (size < VT_ARGS_SIZE_VER0)
		return EINVAL;
	/* copy_struct_from_user: what the caller did not pass reads as zero. */
	memset(&a, 0, sizeof(a));
	memcpy(&a, in, size < sizeof(a) ? size : sizeof(a));
	if (a.set_tid_size > VT_MAX_PID_NS_LEVEL)
		return EINVAL;
	if (!a.set_tid && a.set_tid_size > 0)
		return EINVAL;
	if (a.set_tid && a.set_tid_size == 0)
		return EINVAL;
	if ((a.exit_signal & ~VT_CSIGNAL) || a.exit_signal > VT_NSIG)
		return EINVAL;
	if ((a.flags & CLONE_INTO_CGROUP) && (a.cgroup > INT_MAX || size < VT_ARGS_SIZE_VER2))
		return EINVAL;
	/* clone3_args_valid */
	if (a.flags & ~(VT_LEGACY_FLAGS | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP))
		return EINVAL;
	if (a.flags & (CLONE_DETACHED | (VT_CSIGNAL & ~CLONE_NEWTIME)))
		return EINVAL;
	if ((a.flags & (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND)) ==
	    (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND))
		return EINVAL;
	if ((a.flags & (CLONE_THREAD | CLONE_PARENT)) && a.exit_signal)
		return EINVAL;
	if (a.stack == 0 && a.stack_size > 0)
		return EINVAL;
	return 0;
}

/* kernel_clone's flags and exit signal, and clone3's early refusal. */
static void vt_derive(struct vt_call *c)
{
	struct vt_clone_args args;

	c->early_errno = 0;
	switch (c->api) {
	case VT_CLONE3:
		vt_fill_args(c, &args);
		c->early_errno = vt_clone3_early_errno(&args, c->size);
		c->kflags = c->flags;
		c->kexit = c->exit_signal;
		break;
	case VT_CLONE:
		c->kflags = (c->flags & VT_LEGACY_FLAGS) & ~VT_CSIGNAL;
		c->kexit = c->flags & VT_CSIGNAL;
		break;
	case VT_FORK:
		c->kflags = 0;
		c->kexit = SIGCHLD;
		break;
	case VT_VFORK:
		c->kflags = CLONE_VM | CLONE_VFORK;
		c->kexit = SIGCHLD;
		break;
	}
}

static void vt_do(struct vt_call *c)
{
	struct vt_clone_args args;

	vt_derive(c);
	vt_pidfd_slot = -1;
	vt_ptid_slot = -1;
	switch (c->api) {
	case VT_CLONE3:
		vt_fill_args(c, &args);
		c->ret = vt_raw_clone3(&args, c->size);
		if (c->ret > 0 && (c->flags & CLONE_PIDFD) && vt_pidfd_slot >= 0)
			close(vt_pidfd_slot);
		break;
	case VT_CLONE:
		/* Legacy clone returns the pidfd through parent_tid. */
		c->ret = vt_raw_clone(c->flags, &vt_ptid_slot, &vt_ctid_slot,
				      (uintptr_t)vt_tls_area);
		if (c->ret > 0 && (c->kflags & CLONE_PIDFD) && vt_ptid_slot >= 0)
			close(vt_ptid_slot);
		break;
	case VT_FORK:
		c->ret = vt_raw_fork(SYS_fork);
		break;
	case VT_VFORK:
		c->ret = vt_raw_fork(SYS_vfork);
		break;
	}
}

static const struct {
	uint64_t flag;
	const char *name;
} vt_flag_names[] = {
	{ CLONE_NEWTIME, "CLONE_NEWTIME" }, { CLONE_VM, "CLONE_VM" },
	{ CLONE_FS, "CLONE_FS" }, { CLONE_FILES, "CLONE_FILES" },
	{ CLONE_SIGHAND, "CLONE_SIGHAND" }, { CLONE_PIDFD, "CLONE_PIDFD" },
	{ CLONE_PTRACE, "CLONE_PTRACE" }, { CLONE_VFORK, "CLONE_VFORK" },
	{ CLONE_PARENT, "CLONE_PARENT" }, { CLONE_THREAD, "CLONE_THREAD" },
	{ CLONE_NEWNS, "CLONE_NEWNS" }, { CLONE_SYSVSEM, "CLONE_SYSVSEM" },
	{ CLONE_SETTLS, "CLONE_SETTLS" }, { CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID" },
	{ CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID" }, { CLONE_DETACHED, "CLONE_DETACHED" },
	{ CLONE_UNTRACED, "CLONE_UNTRACED" }, { CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID" },
	{ CLONE_NEWCGROUP, "CLONE_NEWCGROUP" }, { CLONE_NEWUTS, "CLONE_NEWUTS" },
	{ CLONE_NEWIPC, "CLONE_NEWIPC" }, { CLONE_NEWUSER, "CLONE_NEWUSER" },
	{ CLONE_NEWPID, "CLONE_NEWPID" }, { CLONE_NEWNET, "CLONE_NEWNET" },
	{ CLONE_IO, "CLONE_IO" }, { CLONE_CLEAR_SIGHAND, "CLONE_CLEAR_SIGHAND" },
	{ CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP" },
};

static void vt_flags_text(uint64_t flags, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(vt_flag_names) / sizeof(vt_flag_names[0]); i++) {
		if (!(flags & vt_flag_names[i].flag))
			continue;
		len += snprintf(buf + len, len < size ? size - len : 0, "%s%s",
				len ? "|" : "", vt_flag_names[i].name);
		flags &= ~vt_flag_names[i].flag;
	}
	if (flags)
		len += snprintf(buf + len, len < size ? size - len : 0, "%s0x%llx",
				len ? "|" : "", (unsigned long long)flags);
	if (!len)
		snprintf(buf, size, "0");
}

/* The call, as it can be replayed: "clone3(flags=... exit_signal=...) = ret". */
static void vt_describe(const struct vt_call *c, char *buf, size_t size)
{
	char flags[640];

	switch (c->api) {
	case VT_CLONE3:
		vt_flags_text(c->flags, flags, sizeof(flags));
		snprintf(buf, size,
			 "clone3(flags=%s (0x%llx) exit_signal=%llu size=%u%s%s%s%s%s) = %ld",
			 flags, (unsigned long long)c->flags,
			 (unsigned long long)c->exit_signal, c->size,
			 c->shared_ptr ? " pidfd==parent_tid" : "",
			 c->set_tid ? " set_tid={1}" : "",
			 c->set_tid_size_only ? " set_tid_size=1 set_tid=NULL" : "",
			 c->stack_size_only ? " stack=NULL stack_size=4096" : "",
			 c->bad_cgroup ? " cgroup=INT_MAX+1" : "", c->ret);
		break;
	case VT_CLONE:
		vt_flags_text(c->kflags, flags, sizeof(flags));
		snprintf(buf, size, "clone(0x%llx: flags=%s exit_signal=%llu) = %ld",
			 (unsigned long long)c->flags, flags,
			 (unsigned long long)c->kexit, c->ret);
		break;
	case VT_FORK:
		snprintf(buf, size, "fork() = %ld", c->ret);
		break;
	case VT_VFORK:
		snprintf(buf, size, "vfork() = %ld", c->ret);
		break;
	}
}

/* ---- Records ---- */

struct vt_rec {
	const char *line;
	struct fs_order order;
	long long flags_raw, exit_signal, parent_pid, ret, child_pid, predicted_errno;
	char verdict[16];
	char reason[160];
	char observed[1024];
};

/*
 * 0; 1 if the line is not a creation's ("event" other than "fork"); -1 if
 * it does not parse; -2 if it lacks the verdict fields.
 */
static int vt_parse(const char *line, struct vt_rec *r)
{
	struct fs_record fr;
	char event[16];

	memset(r, 0, sizeof(*r));
	r->line = line;
	if (fs_json_str(line, "event", event, sizeof(event)) < 0)
		return -1;
	if (strcmp(event, "fork"))
		return 1;
	if (fs_record_parse(line, &fr))
		return -1;
	r->order = fr.order;
	r->flags_raw = fr.flags_raw;
	r->exit_signal = fr.exit_signal;
	r->parent_pid = fr.parent_pid;
	r->ret = fr.ret;
	r->child_pid = fr.child_pid;
	if (fs_json_str(line, "verdict", r->verdict, sizeof(r->verdict)) < 0 ||
	    fs_json_int(line, "predicted_errno", &r->predicted_errno))
		return -2;
	/* Optional: null when there is none. */
	if (fs_json_str(line, "verdict_reason", r->reason, sizeof(r->reason)) < 0)
		r->reason[0] = '\0';
	if (fs_json_str(line, "observed", r->observed, sizeof(r->observed)) < 0)
		r->observed[0] = '\0';
	return 0;
}

/* Completion order: a process's creations finish in the order it made them. */
static int vt_by_order(const void *a, const void *b)
{
	const struct vt_rec *x = a, *y = b;

	return fs_order_cmp(&x->order, &y->order);
}

/* "key=value" as a whole word of the observed/predicted string. */
static int vt_has_word(const char *text, const char *word)
{
	size_t len = strlen(word);
	const char *p = text;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == text || p[-1] == ' ') && (p[len] == '\0' || p[len] == ' '))
			return 1;
		p++;
	}
	return 0;
}

static int vt_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int vt_control(const char *command)
{
	return vt_write_file(FS_DEBUGFS "/control", command);
}

/* Reaps every child (and every orphan reparented to us) until ECHILD. */
static void vt_reap_all(pid_t watch, int *watch_status)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, __WALL);

		if (pid > 0) {
			if (pid == watch && watch_status)
				*watch_status = status;
			continue;
		}
		if (errno == EINTR)
			continue;
		break;
	}
}

/* Exit signals children are created with; the test ignores them all. */
static const int vt_exit_signals[] = { SIGUSR1, SIGUSR2, SIGWINCH, SIGURG, SIGCONT, 34, 40, 64 };

static void vt_ignore_exit_signals(void)
{
	static const int ignored[] = { SIGUSR1, SIGUSR2, 34, 40, 64 };
	struct sigaction sa = { .sa_handler = SIG_IGN };
	size_t i;

	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		sigaction(ignored[i], &sa, NULL);
}

/* ---- The explorer ---- */

static uint64_t vt_rng_state;

static uint64_t vt_rng(void)
{
	/* xorshift64* */
	vt_rng_state ^= vt_rng_state >> 12;
	vt_rng_state ^= vt_rng_state << 25;
	vt_rng_state ^= vt_rng_state >> 27;
	return vt_rng_state * 0x2545f4914f6cdd1dULL;
}

static unsigned int vt_below(unsigned int n)
{
	return (unsigned int)((vt_rng() >> 32) % n);
}

static int vt_chance(unsigned int permille)
{
	return vt_below(1000) < permille;
}

/* Odds per flag, in permille; namespaces are slow under TCG, so rare. */
static const struct {
	uint64_t flag;
	unsigned int permille;
} vt_flag_odds[] = {
	{ CLONE_VM, 250 }, { CLONE_FS, 200 }, { CLONE_FILES, 200 }, { CLONE_SIGHAND, 150 },
	{ CLONE_PIDFD, 120 }, { CLONE_PTRACE, 60 }, { CLONE_VFORK, 100 }, { CLONE_PARENT, 100 },
	{ CLONE_THREAD, 100 }, { CLONE_SYSVSEM, 120 }, { CLONE_SETTLS, 100 },
	{ CLONE_PARENT_SETTID, 120 }, { CLONE_CHILD_CLEARTID, 100 }, { CLONE_DETACHED, 30 },
	{ CLONE_UNTRACED, 60 }, { CLONE_CHILD_SETTID, 100 }, { CLONE_IO, 60 },
	{ CLONE_NEWUTS, 25 }, { CLONE_NEWIPC, 25 }, { CLONE_NEWCGROUP, 20 },
	{ CLONE_NEWTIME, 20 }, { CLONE_NEWPID, 20 }, { CLONE_NEWUSER, 20 }, { CLONE_NEWNS, 12 },
	{ CLONE_NEWNET, 3 }, { CLONE_CLEAR_SIGHAND, 40 }, { CLONE_INTO_CGROUP, 12 },
};

/* Common shapes, so that a good share of the combinations succeed. */
static const uint64_t vt_shapes[] = {
	CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM,
	CLONE_VM | CLONE_VFORK,
	CLONE_VM | CLONE_SIGHAND,
	CLONE_VM,
	0, 0, 0, 0,
};

static uint64_t vt_exit_signal(int clone3, uint64_t flags)
{
	unsigned int r = vt_below(100);

	if (clone3 && (flags & (CLONE_THREAD | CLONE_PARENT)) && r < 85)
		return 0;
	if (r < 55)
		return SIGCHLD;
	if (r < 75)
		return 0;
	if (r < 96)
		return vt_exit_signals[vt_below(sizeof(vt_exit_signals) / sizeof(vt_exit_signals[0]))];
	/* Not a valid signal: clone3 refuses it, legacy clone takes any byte. */
	if (!clone3)
		return VT_NSIG + 1 + vt_below(255 - VT_NSIG);
	switch (vt_below(3)) {
	case 0:
		return VT_NSIG + 1;
	case 1:
		return 255;
	default:
		return (1ULL << 32) | SIGCHLD;
	}
}

static void vt_generate(struct vt_call *c)
{
	uint64_t flags = vt_shapes[vt_below(sizeof(vt_shapes) / sizeof(vt_shapes[0]))];
	unsigned int r;
	size_t i;

	memset(c, 0, sizeof(*c));
	c->api = vt_chance(700) ? VT_CLONE3 : VT_CLONE;
	for (i = 0; i < sizeof(vt_flag_odds) / sizeof(vt_flag_odds[0]); i++) {
		if (vt_chance(vt_flag_odds[i].permille))
			flags |= vt_flag_odds[i].flag;
	}
	/* Bits clone3 does not know (legacy clone drops the high ones). */
	if (vt_chance(10))
		flags |= 1ULL << (34 + vt_below(30));
	if (c->api == VT_CLONE3) {
		if (vt_chance(10))
			flags |= 1ULL << vt_below(7);	/* CSIGNAL bits but CLONE_NEWTIME */
		c->flags = flags;
		c->exit_signal = vt_exit_signal(1, flags);
		r = vt_below(100);
		c->size = r < 95 ? VT_ARGS_SIZE_VER2 : r < 97 ? VT_ARGS_SIZE_VER1 :
			  r < 99 ? VT_ARGS_SIZE_VER0 : 32;
		if ((flags & (CLONE_PIDFD | CLONE_PARENT_SETTID)) ==
		    (CLONE_PIDFD | CLONE_PARENT_SETTID))
			c->shared_ptr = vt_chance(300);
		c->set_tid = vt_chance(10);
		c->set_tid_size_only = !c->set_tid && vt_chance(5);
		c->stack_size_only = vt_chance(5);
		c->bad_cgroup = (flags & CLONE_INTO_CGROUP) && vt_chance(200);
	} else {
		/* The low byte is the exit signal (CLONE_NEWTIME cannot be asked). */
		flags &= ~VT_CSIGNAL;
		c->flags = flags | vt_exit_signal(0, flags);
	}
}

struct vt_totals {
	long calls, clone3_calls, early, records, created, refused, unchecked, restarts;
	long checked_sum, matched_sum, unchecked_sum;
	long refused_by_errno[135], unchecked_by_errno[135];
	long early_by_errno[135];
	int failures;
	int fatal;
};

static void vt_count(long *by_errno, long err)
{
	by_errno[err > 0 && err < 134 ? err : 134]++;
}

static void vt_fail(struct vt_totals *t, const struct vt_call *c, const char *why,
		    const char *line)
{
	char desc[1024];

	if (++t->failures > 40)
		return;
	if (c) {
		vt_describe(c, desc, sizeof(desc));
		vt_note("FAIL %s: %s\n", why, desc);
	} else {
		vt_note("FAIL %s\n", why);
	}
	if (line)
		vt_note("  record: %s\n", line);
}

/* Pairs a batch's calls with the explorer's records, in order. */
static void vt_check_batch(const struct vt_call *calls, int n, pid_t self, struct vt_totals *t)
{
	static char verdicts[1 << 18];
	struct fs_records file;
	struct vt_rec *recs;
	int i, j, nrecs = 0, err;

	err = fs_records_read(FS_DEBUGFS "/records", &file);
	if (err) {
		vt_fail(t, NULL, "cannot read records", NULL);
		return;
	}
	recs = calloc(file.count + 1, sizeof(*recs));
	if (!recs) {
		vt_fail(t, NULL, "out of memory", NULL);
		fs_records_free(&file);
		return;
	}
	for (i = 0; i < file.count; i++) {
		struct vt_rec *r = &recs[nrecs];

		err = vt_parse(file.lines[i], r);
		if (err == -1) {
			vt_fail(t, NULL, "unparsable record", file.lines[i]);
			continue;
		}
		if (err == -2) {
			/* Nothing can be judged: say so once and stop. */
			vt_fail(t, NULL, "record without \"verdict\"/\"predicted_errno\"",
				file.lines[i]);
			t->fatal = 1;
			break;
		}
		if (err == 1)
			continue;	/* not a creation (exec, spawn) */
		/* (d): no mismatch anywhere; ours are reported with their call. */
		if (r->parent_pid == self)
			nrecs++;
		else if (!strcmp(r->verdict, "mismatch"))
			vt_fail(t, NULL, "(d) verdict mismatch (another process's creation)",
				file.lines[i]);
	}
	if (t->fatal) {
		free(recs);
		fs_records_free(&file);
		return;
	}
	qsort(recs, nrecs, sizeof(*recs), vt_by_order);

	for (i = 0, j = 0; i < n; i++) {
		const struct vt_call *c = &calls[i];
		const struct vt_rec *r;

		t->calls++;
		t->clone3_calls += c->api == VT_CLONE3;
		if (c->early_errno) {
			/* Refused before kernel_clone: no record, the errno we derived. */
			t->early++;
			vt_count(t->early_by_errno, c->early_errno);
			/* (A record for it would put the pairing out of step.) */
			if (c->ret != -c->early_errno)
				vt_fail(t, c, "clone3 argument checks: expected -errno", NULL);
			continue;
		}
		/* A restart (ERESTARTNOINTR) is a second kernel_clone: no verdict. */
		while (j < nrecs && recs[j].ret == -VT_ERESTARTNOINTR &&
		       recs[j].flags_raw == (long long)c->kflags) {
			t->restarts++;
			if (strcmp(recs[j].verdict, "unchecked"))
				vt_fail(t, c, "restarted attempt not unchecked", recs[j].line);
			j++;
		}
		if (j >= nrecs) {
			vt_fail(t, c, "(a) no record for a call that reached kernel_clone", NULL);
			continue;
		}
		r = &recs[j++];
		t->records++;
		if (r->flags_raw != (long long)c->kflags || r->exit_signal != (long long)c->kexit) {
			char why[160];

			snprintf(why, sizeof(why),
				 "(a) record out of step: flags_raw 0x%llx exit_signal %lld, want 0x%llx %llu",
				 (unsigned long long)r->flags_raw, r->exit_signal,
				 (unsigned long long)c->kflags, (unsigned long long)c->kexit);
			vt_fail(t, c, why, r->line);
			continue;
		}
		if (r->ret != c->ret)
			vt_fail(t, c, "record's ret differs from the syscall's", r->line);
		if (!strcmp(r->verdict, "mismatch")) {
			vt_fail(t, c, "(d) verdict mismatch", r->line);
			continue;
		}
		if (c->ret > 0) {
			t->created++;
			if (strcmp(r->verdict, "match"))
				vt_fail(t, c, "(b) creation's verdict is not \"match\"", r->line);
			if (r->child_pid != c->ret)
				vt_fail(t, c, "record's child_pid differs", r->line);
		} else if (!strcmp(r->verdict, "unchecked")) {
			long e = -c->ret > 0 && -c->ret < 134 ? -c->ret : 134;

			t->unchecked++;
			/* Not a failure; the first two per errno, for the report. */
			if (t->unchecked_by_errno[e] < 2) {
				char desc[1024];

				vt_describe(c, desc, sizeof(desc));
				vt_note("unchecked: %s (%s)\n", desc, r->reason);
			}
			vt_count(t->unchecked_by_errno, -c->ret);
		} else {
			t->refused++;
			vt_count(t->refused_by_errno, -c->ret);
			if (strcmp(r->verdict, "match") || r->predicted_errno != c->ret)
				vt_fail(t, c, "(c) refusal: want verdict match, predicted_errno == -errno",
					r->line);
		}
	}
	for (; j < nrecs; j++)
		vt_fail(t, NULL, "(a) a record no call accounts for", recs[j].line);

	/* The batch's totals (a reset precedes each batch). */
	if (fs_read_file(FS_DEBUGFS "/verdicts", verdicts, sizeof(verdicts)) < 0) {
		vt_fail(t, NULL, "cannot read verdicts", NULL);
	} else {
		if (fs_find_value(verdicts, "mismatched") != 0)
			vt_fail(t, NULL, "verdicts file reports mismatches", verdicts);
		t->checked_sum += fs_find_value(verdicts, "checked");
		t->matched_sum += fs_find_value(verdicts, "matched");
		t->unchecked_sum += fs_find_value(verdicts, "unchecked");
	}
	free(recs);
	fs_records_free(&file);
}

static void vt_errno_list(const long *by_errno, char *buf, size_t size)
{
	size_t len = 0;
	int e;

	buf[0] = '\0';
	for (e = 1; e < 135; e++) {
		if (!by_errno[e])
			continue;
		len += snprintf(buf + len, len < size ? size - len : 0, "%s%s %ld",
				len ? ", " : "", e == 134 ? "other" : strerrorname_np(e) ?: "?",
				by_errno[e]);
	}
	if (!len)
		snprintf(buf, size, "none");
}

/* The explorer (a middle process); returns its failures. */
static int vt_explore(uint64_t seed, int ncalls)
{
	struct vt_call *calls = calloc(VT_BATCH, sizeof(*calls));
	struct vt_totals t;
	char a[512], b[512], e[512];
	struct timespec start, end;
	pid_t self = getpid();
	int done, i;

	clock_gettime(CLOCK_MONOTONIC, &start);
	memset(&t, 0, sizeof(t));
	if (!calls)
		return 1;
	vt_rng_state = seed ? seed : 1;
	prctl(PR_SET_NAME, "fs_explorer", 0, 0, 0);
	for (done = 0; done < ncalls; done += VT_BATCH) {
		int n = ncalls - done < VT_BATCH ? ncalls - done : VT_BATCH;

		if (vt_control("reset\n")) {
			vt_fail(&t, NULL, "cannot reset", NULL);
			break;
		}
		for (i = 0; i < n; i++) {
			vt_generate(&calls[i]);
			vt_do(&calls[i]);
		}
		/* Our own children; CLONE_PARENT ones are the top process's. */
		while (waitpid(-1, NULL, __WALL | WNOHANG) > 0)
			;
		vt_check_batch(calls, n, self, &t);
		if (t.failures > 40 || t.fatal)
			break;
	}
	vt_errno_list(t.refused_by_errno, a, sizeof(a));
	vt_errno_list(t.unchecked_by_errno, b, sizeof(b));
	vt_errno_list(t.early_by_errno, e, sizeof(e));
	clock_gettime(CLOCK_MONOTONIC, &end);
	vt_note("explorer: seed 0x%llx, %ld calls (%ld clone3, %ld clone) in %.1f s\n",
		(unsigned long long)seed, t.calls, t.clone3_calls, t.calls - t.clone3_calls,
		(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
	vt_note("explorer: %ld refused by clone3's argument checks, no record (%s)\n",
		t.early, e);
	vt_note("explorer: %ld records: %ld created (verdict match), %ld refused as predicted (%s), %ld unchecked (%s), %ld restarts\n",
		t.records, t.created, t.refused, a, t.unchecked, b, t.restarts);
	vt_note("explorer: verdicts files summed over batches: checked %ld, matched %ld, unchecked %ld\n",
		t.checked_sum, t.matched_sum, t.unchecked_sum);
	if (!t.fatal && (t.created == 0 || t.refused == 0))
		vt_fail(&t, NULL, "the explorer should both create and be refused", NULL);
	if (t.failures)
		vt_note("explorer: %d failures%s\n", t.failures,
			t.failures > 40 ? " (stopped after 40)" : "");
	free(calls);
	return t.failures;
}

static uint64_t vt_env(const char *name, uint64_t fallback)
{
	const char *value = getenv(name);

	return value && *value ? strtoull(value, NULL, 0) : fallback;
}

/* ---- Targeted cases: one creation by a fresh caller process ---- */

enum vt_setup {
	VT_AS_ROOT,
	VT_AS_NOBODY,			/* setgid/setuid(65534) */
	VT_AFTER_UNSHARE_NEWPID,	/* pid_ns_for_children differs */
	VT_AFTER_UNSHARE_NEWTIME,	/* time_ns_for_children differs */
	VT_AS_PIDNS_INIT,		/* init of a new pid namespace: SIGNAL_UNKILLABLE */
	VT_WITH_EXIT_SIGUSR1,		/* the caller's own exit_signal is SIGUSR1 */
};

struct vt_result {
	long ret;		/* the syscall's */
	pid_t caller;		/* as we see it */
	int nrecords;		/* the caller's records */
	char line[8192];
	struct vt_rec rec;
};

#define VT_SETUP_FAILED (-100000L)

static int vt_apply_setup(enum vt_setup setup)
{
	switch (setup) {
	case VT_AS_NOBODY:
		return setgroups(0, NULL) || setgid(VT_NOBODY) || setuid(VT_NOBODY) ? -1 : 0;
	case VT_AFTER_UNSHARE_NEWPID:
		return unshare(CLONE_NEWPID);
	case VT_AFTER_UNSHARE_NEWTIME:
		return unshare(CLONE_NEWTIME);
	case VT_AS_PIDNS_INIT:
		return getpid() == 1 ? 0 : -1;
	default:
		return 0;
	}
}

/*
 * A fresh caller process applies setup and makes the call; its result comes
 * back through a pipe, everything is reaped, and the caller's records read.
 */
static void vt_run_case(struct __test_metadata *_metadata, enum vt_setup setup,
			struct vt_call *call, struct vt_result *res)
{
	struct fs_records file;
	int fds[2], i;
	pid_t caller;

	memset(res, 0, sizeof(*res));
	vt_derive(call);
	ASSERT_EQ(0, vt_control("reset\n"));
	ASSERT_EQ(0, pipe(fds));
	fflush(stdout);
	fflush(stderr);
	if (setup == VT_AS_PIDNS_INIT || setup == VT_WITH_EXIT_SIGUSR1) {
		struct vt_clone_args args = {
			.flags = setup == VT_AS_PIDNS_INIT ? CLONE_NEWPID : 0,
			.exit_signal = setup == VT_AS_PIDNS_INIT ? SIGCHLD : SIGUSR1,
		};

		caller = syscall(SYS_clone3, &args, sizeof(args));
	} else {
		caller = fork();
	}
	ASSERT_LE(0, caller);
	if (caller == 0) {
		long ret;

		close(fds[0]);
		if (vt_apply_setup(setup) == 0) {
			vt_do(call);
			ret = call->ret;
		} else {
			ret = VT_SETUP_FAILED - errno;
		}
		if (write(fds[1], &ret, sizeof(ret)) != sizeof(ret))
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	res->caller = caller;
	ASSERT_EQ(sizeof(res->ret), read(fds[0], &res->ret, sizeof(res->ret)));
	close(fds[0]);
	vt_reap_all(0, NULL);
	ASSERT_LT(VT_SETUP_FAILED + 1, res->ret)
		TH_LOG("caller setup %d failed: %s", setup,
		       strerror((int)(VT_SETUP_FAILED - res->ret)));

	ASSERT_EQ(0, fs_records_read(FS_DEBUGFS "/records", &file));
	for (i = 0; i < file.count; i++) {
		struct vt_rec r;
		int err = vt_parse(file.lines[i], &r);

		ASSERT_NE(-1, err) TH_LOG("unparsable record: %s", file.lines[i]);
		ASSERT_NE(-2, err) TH_LOG("record without \"verdict\"/\"predicted_errno\": %s",
					  file.lines[i]);
		if (err == 1)
			continue;	/* not a creation (exec, spawn) */
		EXPECT_STRNE("mismatch", r.verdict) TH_LOG("record: %s", file.lines[i]);
		if (r.parent_pid != caller)
			continue;
		res->nrecords++;
		snprintf(res->line, sizeof(res->line), "%s", file.lines[i]);
	}
	fs_records_free(&file);
	if (res->nrecords)
		ASSERT_EQ(0, vt_parse(res->line, &res->rec));
}

static void vt_expect_refused(struct __test_metadata *_metadata, enum vt_setup setup,
			      struct vt_call call, int err)
{
	struct vt_result res;
	char desc[1024];

	call.size = call.size ? call.size : VT_ARGS_SIZE_VER2;
	vt_run_case(_metadata, setup, &call, &res);
	vt_describe(&call, desc, sizeof(desc));
	ASSERT_EQ(0, call.early_errno) TH_LOG("%s never reaches kernel_clone", desc);
	EXPECT_EQ(-err, res.ret) TH_LOG("%s", desc);
	ASSERT_EQ(1, res.nrecords) TH_LOG("%s: records of caller %d", desc, res.caller);
	EXPECT_EQ((long long)call.kflags, res.rec.flags_raw) TH_LOG("record: %s", res.line);
	EXPECT_EQ(res.ret, res.rec.ret) TH_LOG("record: %s", res.line);
	EXPECT_STREQ("match", res.rec.verdict) TH_LOG("%s; record: %s", desc, res.line);
	EXPECT_EQ(-err, res.rec.predicted_errno) TH_LOG("%s; record: %s", desc, res.line);
}

/* words: "key=value" words the observed string must contain; NULL-ended. */
static void vt_expect_created(struct __test_metadata *_metadata, enum vt_setup setup,
			      struct vt_call call, const char *const *words)
{
	struct vt_result res;
	char desc[1024];

	call.size = call.size ? call.size : VT_ARGS_SIZE_VER2;
	vt_run_case(_metadata, setup, &call, &res);
	vt_describe(&call, desc, sizeof(desc));
	ASSERT_LT(0, res.ret) TH_LOG("%s: %s", desc, strerror((int)-res.ret));
	ASSERT_EQ(1, res.nrecords) TH_LOG("%s: records of caller %d", desc, res.caller);
	EXPECT_EQ((long long)call.kflags, res.rec.flags_raw) TH_LOG("record: %s", res.line);
	EXPECT_EQ((long long)call.kexit, res.rec.exit_signal) TH_LOG("record: %s", res.line);
	EXPECT_STREQ("match", res.rec.verdict) TH_LOG("%s; record: %s", desc, res.line);
	EXPECT_EQ(0, res.rec.predicted_errno) TH_LOG("record: %s", res.line);
	if (setup != VT_AS_PIDNS_INIT) {
		EXPECT_EQ(res.ret, res.rec.ret) TH_LOG("record: %s", res.line);
		EXPECT_EQ(res.ret, res.rec.child_pid) TH_LOG("record: %s", res.line);
	}
	for (; *words; words++)
		EXPECT_TRUE(vt_has_word(res.rec.observed, *words))
			TH_LOG("%s: want %s in observed \"%s\"", desc, *words, res.rec.observed);
}

static struct vt_call vt_clone3_call(uint64_t flags, uint64_t exit_signal)
{
	struct vt_call c = { .api = VT_CLONE3, .flags = flags, .exit_signal = exit_signal,
			     .size = VT_ARGS_SIZE_VER2 };

	return c;
}

static struct vt_call vt_clone_call(uint64_t flags)
{
	struct vt_call c = { .api = VT_CLONE, .flags = flags };

	return c;
}

#define VT_THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | \
			 CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | \
			 CLONE_CHILD_CLEARTID)
#define VT_WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

#define VT_USERNS_CLONE "/proc/sys/kernel/unprivileged_userns_clone"
static char vt_userns_clone_saved[16];

FIXTURE(vt) {
	int unused;
};

/*
 * forkscope is loaded once, by the first test, and unloaded when the test
 * runner exits (loading takes about a second under TCG): every test resets
 * it before it creates anything.
 */
static pid_t vt_runner;

static void __attribute__((constructor)) vt_runner_start(void)
{
	vt_runner = getpid();
	if (fs_is_loaded())
		fs_unload();
}

static void __attribute__((destructor)) vt_runner_end(void)
{
	if (getpid() == vt_runner && fs_is_loaded())
		fs_unload();
}

FIXTURE_SETUP(vt)
{
	char ring_size[32];

	if (fs_is_loaded() &&
	    (fs_read_file("/sys/module/forkscope/parameters/ring_size", ring_size,
			  sizeof(ring_size)) <= 0 || atoi(ring_size) != 4096))
		ASSERT_EQ(0, fs_unload());
	if (!fs_is_loaded())
		ASSERT_EQ(0, fs_load("ring_size=4096"));
	ASSERT_EQ(0, prctl(PR_SET_NAME, VT_COMM, 0, 0, 0));
	/* Orphans and CLONE_PARENT children come to us: we reap them all. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	vt_ignore_exit_signals();
	if (vt_cgroup_fd < 0)
		vt_cgroup_fd = open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

FIXTURE_TEARDOWN(vt)
{
	if (vt_userns_clone_saved[0]) {
		EXPECT_EQ(0, vt_write_file(VT_USERNS_CLONE, vt_userns_clone_saved));
		vt_userns_clone_saved[0] = '\0';
	}
}

/* ---- 1. The explorer ---- */

TEST_F_TIMEOUT(vt, explorer_never_mismatches, 900)
{
	static char buf[1 << 18];
	uint64_t seed = vt_env("FORKSCOPE_VERDICT_SEED", VT_DEFAULT_SEED);
	int ncalls = (int)vt_env("FORKSCOPE_VERDICT_CALLS", VT_DEFAULT_CALLS);
	int status = -1;
	pid_t middle;

	vt_note("explorer: seed 0x%llx, %d calls in batches of %d (FORKSCOPE_VERDICT_SEED/_CALLS)\n",
		(unsigned long long)seed, ncalls, VT_BATCH);
	fflush(stderr);
	middle = fork();
	ASSERT_LE(0, middle);
	if (middle == 0) {
		int failures = vt_explore(seed, ncalls);

		fflush(stdout);
		fflush(stderr);
		_exit(failures ? 1 : 0);
	}
	/* Until ECHILD: the middle, CLONE_PARENT children, the middle's orphans. */
	vt_reap_all(middle, &status);
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("explorer status 0x%x", status);
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("the explorer failed (see above)");

	/* 3. The last batch's verdicts, and the counters agree with them. */
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/verdicts", buf, sizeof(buf)));
	EXPECT_EQ(0, fs_find_value(buf, "mismatched")) TH_LOG("%s", buf);
	EXPECT_LT(0, fs_find_value(buf, "checked")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "\nno mismatches\n")) TH_LOG("%s", buf);
	ASSERT_LT(0, fs_read_file(FS_DEBUGFS "/counters", buf, sizeof(buf)));
	EXPECT_EQ(fs_find_value(buf, "verdict_checked"),
		  fs_find_value(buf, "verdict_matched") + fs_find_value(buf, "verdict_mismatched"))
		TH_LOG("%s", buf);
	EXPECT_EQ(0, fs_find_value(buf, "verdict_mismatched"));
	EXPECT_LT(0, fs_find_value(buf, "verdict_checked"));
}

/* ---- 2. Each refusal rule ---- */

TEST_F(vt, refuses_sighand_without_vm)
{
	vt_expect_refused(_metadata, VT_AS_ROOT, vt_clone3_call(CLONE_SIGHAND, SIGCHLD), EINVAL);
	vt_expect_refused(_metadata, VT_AS_ROOT, vt_clone_call(CLONE_SIGHAND | SIGCHLD), EINVAL);
}

TEST_F(vt, refuses_thread_without_sighand)
{
	vt_expect_refused(_metadata, VT_AS_ROOT, vt_clone3_call(CLONE_THREAD | CLONE_VM, 0),
			  EINVAL);
}

TEST_F(vt, refuses_newns_with_fs)
{
	vt_expect_refused(_metadata, VT_AS_ROOT, vt_clone3_call(CLONE_NEWNS | CLONE_FS, SIGCHLD),
			  EINVAL);
}

TEST_F(vt, refuses_newuser_with_fs)
{
	vt_expect_refused(_metadata, VT_AS_ROOT,
			  vt_clone3_call(CLONE_NEWUSER | CLONE_FS, SIGCHLD), EINVAL);
}

TEST_F(vt, refuses_newuser_when_unprivileged_userns_clone_is_off)
{
	if (fs_read_file(VT_USERNS_CLONE, vt_userns_clone_saved,
			 sizeof(vt_userns_clone_saved)) <= 0) {
		vt_userns_clone_saved[0] = '\0';
		SKIP(return, "no %s: not a Debian kernel", VT_USERNS_CLONE);
	}
	ASSERT_EQ(0, vt_write_file(VT_USERNS_CLONE, "0\n"));
	vt_expect_refused(_metadata, VT_AS_NOBODY, vt_clone3_call(CLONE_NEWUSER, SIGCHLD), EPERM);
	/* Root may, whatever the sysctl says. */
	vt_expect_created(_metadata, VT_AS_ROOT, vt_clone3_call(CLONE_NEWUSER, SIGCHLD),
			  VT_WORDS("nsproxy=shared", "parent=caller"));
	/* The teardown puts the sysctl back. */
}

TEST_F(vt, refuses_parent_from_pid_namespace_init)
{
	vt_expect_refused(_metadata, VT_AS_PIDNS_INIT, vt_clone3_call(CLONE_PARENT, 0), EINVAL);
}

TEST_F(vt, refuses_thread_with_newuser)
{
	vt_expect_refused(_metadata, VT_AS_ROOT,
			  vt_clone3_call(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWUSER, 0),
			  EINVAL);
}

TEST_F(vt, refuses_thread_with_newpid)
{
	vt_expect_refused(_metadata, VT_AS_ROOT,
			  vt_clone3_call(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWPID, 0),
			  EINVAL);
}

TEST_F(vt, refuses_thread_after_unshare_newpid)
{
	vt_expect_refused(_metadata, VT_AFTER_UNSHARE_NEWPID,
			  vt_clone3_call(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0), EINVAL);
}

TEST_F(vt, refuses_newpid_after_unshare_newpid)
{
	vt_expect_refused(_metadata, VT_AFTER_UNSHARE_NEWPID,
			  vt_clone3_call(CLONE_NEWPID, SIGCHLD), EINVAL);
}

/*
 * Rules that differ between series (forkscope's kernel profiles): 6.1's
 * copy_process refuses CLONE_VM or CLONE_THREAD once time_ns_for_children
 * differs, and CLONE_PIDFD with CLONE_THREAD; 6.12 creates both (a thread
 * pidfd, and a child sharing the caller's nsproxy: copy_namespaces' fast
 * path takes CLONE_VM).
 */
static int vt_series_6_12(void)
{
	struct utsname u;

	return !uname(&u) && !strncmp(u.release, "6.12.", 5);
}

TEST_F(vt, vm_and_thread_after_unshare_newtime)
{
	if (vt_series_6_12()) {
		vt_expect_created(_metadata, VT_AFTER_UNSHARE_NEWTIME,
				  vt_clone3_call(CLONE_VM, SIGCHLD),
				  VT_WORDS("mm=shared", "nsproxy=shared", "tgid=new"));
		vt_expect_created(_metadata, VT_AFTER_UNSHARE_NEWTIME,
				  vt_clone3_call(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0),
				  VT_WORDS("nsproxy=shared", "tgid=same"));
		return;
	}
	vt_expect_refused(_metadata, VT_AFTER_UNSHARE_NEWTIME, vt_clone3_call(CLONE_VM, SIGCHLD),
			  EINVAL);
	vt_expect_refused(_metadata, VT_AFTER_UNSHARE_NEWTIME,
			  vt_clone3_call(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0), EINVAL);
}

TEST_F(vt, pidfd_with_thread)
{
	struct vt_call call = vt_clone3_call(CLONE_PIDFD | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0);

	if (vt_series_6_12())
		vt_expect_created(_metadata, VT_AS_ROOT, call, VT_WORDS("tgid=same", "mm=shared"));
	else
		vt_expect_refused(_metadata, VT_AS_ROOT, call, EINVAL);
}

TEST_F(vt, refuses_pidfd_with_detached)
{
	/* Only legacy clone can ask: clone3 refuses CLONE_DETACHED itself. */
	vt_expect_refused(_metadata, VT_AS_ROOT,
			  vt_clone_call(CLONE_PIDFD | CLONE_DETACHED | SIGCHLD), EINVAL);
}

TEST_F(vt, refuses_pidfd_and_parent_settid_sharing_a_pointer)
{
	struct vt_call call = vt_clone3_call(CLONE_PIDFD | CLONE_PARENT_SETTID, SIGCHLD);

	call.shared_ptr = 1;
	vt_expect_refused(_metadata, VT_AS_ROOT, call, EINVAL);
	/* Legacy clone returns the pidfd through parent_tid: always shared. */
	vt_expect_refused(_metadata, VT_AS_ROOT,
			  vt_clone_call(CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD), EINVAL);
	/* Two pointers: fine. */
	call.shared_ptr = 0;
	vt_expect_created(_metadata, VT_AS_ROOT, call, VT_WORDS("parent=caller"));
}

TEST_F(vt, refuses_new_namespace_without_cap_sys_admin)
{
	vt_expect_refused(_metadata, VT_AS_NOBODY, vt_clone3_call(CLONE_NEWUTS, SIGCHLD), EPERM);
	vt_expect_refused(_metadata, VT_AS_NOBODY, vt_clone_call(CLONE_NEWIPC | SIGCHLD), EPERM);
}

TEST_F(vt, refuses_newipc_with_sysvsem)
{
	vt_expect_refused(_metadata, VT_AS_ROOT,
			  vt_clone3_call(CLONE_NEWIPC | CLONE_SYSVSEM, SIGCHLD), EINVAL);
}

/* ---- 2. What is shared ---- */

TEST_F(vt, fork_copies_and_shares_namespaces)
{
	struct vt_call call = { .api = VT_FORK };

	vt_expect_created(_metadata, VT_AS_ROOT, call,
			  VT_WORDS("mm=copied", "files=copied", "fs=copied", "sighand=copied",
				   "signal=copied", "sysvsem=none", "nsproxy=shared",
				   "tgid=new", "parent=caller", "exit_signal=17"));
}

TEST_F(vt, vfork_shares_mm)
{
	struct vt_call call = { .api = VT_VFORK };

	vt_expect_created(_metadata, VT_AS_ROOT, call,
			  VT_WORDS("mm=shared", "files=copied", "sighand=copied", "tgid=new",
				   "parent=caller", "exit_signal=17"));
}

TEST_F(vt, thread_shares_everything)
{
	vt_expect_created(_metadata, VT_AS_ROOT, vt_clone3_call(VT_THREAD_FLAGS, 0),
			  VT_WORDS("mm=shared", "files=shared", "fs=shared", "sighand=shared",
				   "signal=shared", "sysvsem=shared", "nsproxy=shared",
				   "tgid=same", "parent=callers_parent", "exit_signal=-1"));
	vt_expect_created(_metadata, VT_AS_ROOT, vt_clone_call(VT_THREAD_FLAGS),
			  VT_WORDS("mm=shared", "signal=shared", "tgid=same",
				   "exit_signal=-1"));
}

TEST_F(vt, newuts_newpid_get_new_namespaces)
{
	vt_expect_created(_metadata, VT_AS_ROOT,
			  vt_clone3_call(CLONE_NEWUTS | CLONE_NEWPID, SIGCHLD),
			  VT_WORDS("nsproxy=copied", "uts_ns=copied", "pid_ns_for_children=copied",
				   "ipc_ns=shared", "mnt_ns=shared", "net_ns=shared",
				   "cgroup_ns=shared", "time_ns_for_children=shared",
				   "mm=copied", "parent=caller"));
}

TEST_F(vt, newtime_renews_time_ns_for_children)
{
	vt_expect_created(_metadata, VT_AS_ROOT, vt_clone3_call(CLONE_NEWTIME, SIGCHLD),
			  VT_WORDS("nsproxy=copied", "time_ns_for_children=copied",
				   "uts_ns=shared", "pid_ns_for_children=shared"));
}

TEST_F(vt, fork_after_unshare_newtime_gets_a_new_nsproxy)
{
	struct vt_call call = { .api = VT_FORK };

	vt_expect_created(_metadata, VT_AFTER_UNSHARE_NEWTIME, call,
			  VT_WORDS("nsproxy=copied", "time_ns_for_children=shared",
				   "uts_ns=shared"));
}

TEST_F(vt, fork_after_unshare_newpid_shares_nsproxy)
{
	struct vt_call call = { .api = VT_FORK };

	vt_expect_created(_metadata, VT_AFTER_UNSHARE_NEWPID, call,
			  VT_WORDS("nsproxy=shared", "pid_ns_for_children=shared"));
}

TEST_F(vt, newuser_as_nobody_allows_new_namespaces)
{
	vt_expect_created(_metadata, VT_AS_NOBODY,
			  vt_clone3_call(CLONE_NEWUSER | CLONE_NEWUTS, SIGCHLD),
			  VT_WORDS("nsproxy=copied", "uts_ns=copied", "ipc_ns=shared"));
}

TEST_F(vt, clear_sighand_copies_handlers)
{
	vt_expect_created(_metadata, VT_AS_ROOT, vt_clone3_call(CLONE_CLEAR_SIGHAND, SIGCHLD),
			  VT_WORDS("sighand=copied", "mm=copied", "exit_signal=17"));
	vt_expect_created(_metadata, VT_AS_ROOT,
			  vt_clone3_call(CLONE_CLEAR_SIGHAND | CLONE_VM | CLONE_VFORK, SIGCHLD),
			  VT_WORDS("sighand=copied", "mm=shared"));
}

TEST_F(vt, sysvsem_shares_the_undo_list)
{
	vt_expect_created(_metadata, VT_AS_ROOT, vt_clone3_call(CLONE_SYSVSEM, SIGCHLD),
			  VT_WORDS("sysvsem=shared", "mm=copied"));
}

TEST_F(vt, parent_makes_a_sibling_with_the_callers_exit_signal)
{
	/* The caller was created with exit_signal SIGUSR1: so is its sibling. */
	vt_expect_created(_metadata, VT_WITH_EXIT_SIGUSR1, vt_clone3_call(CLONE_PARENT, 0),
			  VT_WORDS("parent=callers_parent", "tgid=new", "exit_signal=10"));
	vt_expect_created(_metadata, VT_AS_ROOT, vt_clone_call(CLONE_PARENT | SIGUSR2),
			  VT_WORDS("parent=callers_parent", "exit_signal=17"));
}

TEST_F(vt, exit_signals_are_the_requested_ones)
{
	vt_expect_created(_metadata, VT_AS_ROOT, vt_clone3_call(0, 0),
			  VT_WORDS("exit_signal=0", "parent=caller"));
	vt_expect_created(_metadata, VT_AS_ROOT, vt_clone3_call(CLONE_VM, 64),
			  VT_WORDS("exit_signal=64", "mm=shared"));
	/* Legacy clone does not check the signal byte. */
	vt_expect_created(_metadata, VT_AS_ROOT, vt_clone_call(200),
			  VT_WORDS("exit_signal=200"));
}

TEST_HARNESS_MAIN
