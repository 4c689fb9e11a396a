// SPDX-License-Identifier: GPL-2.0
/*
 * Calibration: what each hook mechanism of the probe plan costs on this
 * machine, measured on a known-cost target of our own, so stage times can be
 * read net of forkscope's own probe effect. Shown in debugfs "calibration".
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/ftrace.h>
#include <linux/irqflags.h>
#include <linux/kprobes.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>
#include <linux/trace_recursion.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include <forkscope/core.h>
#include <forkscope/platform.h>

#include "compat.h"
#include "glue.h"

/* Loop iterations of the target: calibration (A) and the check (B, 8x longer). */
#define FORKSCOPE_CALIB_LOOPS_A 500
#define FORKSCOPE_CALIB_LOOPS_B 4000
/* Samples per configuration, the first few dropped (cold caches, first trap). */
#define FORKSCOPE_CALIB_SAMPLES 301
#define FORKSCOPE_CALIB_WARMUP 8
/* Measuring time per configuration at most (registration not counted). */
#define FORKSCOPE_CALIB_BUDGET_NS (25 * NSEC_PER_MSEC)
/* Rounds at most, while the machine is too unsteady (see forkscope_calibrate). */
#define FORKSCOPE_CALIB_ROUNDS 3
/* How long a call-site kprobe may take to become a jump (OPTPROBES). */
#define FORKSCOPE_CALIB_OPT_WAIT_MS 15000

enum forkscope_calib_boundary {
	FORKSCOPE_CALIB_FTRACE_ENTRY,
	FORKSCOPE_CALIB_KPROBE_ENTRY,
	FORKSCOPE_CALIB_CALLSITE_RETURN,
	FORKSCOPE_CALIB_KRETPROBE_ENTRY,
	FORKSCOPE_CALIB_KRETPROBE_RETURN,
	FORKSCOPE_CALIB_NR,
};

static const char *const forkscope_calib_names[FORKSCOPE_CALIB_NR] = {
	"ftrace entry", "kprobe entry", "callsite return", "kretprobe entry", "kretprobe return",
};
/* The mechanism alone, as the stages file names hooks. */
static const char *const forkscope_calib_mechs[FORKSCOPE_CALIB_NR] = {
	"ftrace", "kprobe", "callsite", "kretprobe", "kretprobe",
};

/* A median and its interquartile range, ns (may be negative: noise). */
struct forkscope_calib_value {
	s64 p25, p50, p75;
};

struct forkscope_calib_check {
	bool done;
	struct forkscope_calib_value raw;	/* entry stamp to return stamp */
	struct forkscope_calib_value inline_ns;	/* measured just before the hooks were attached */
	struct forkscope_calib_value added;	/* inline-timed with hooks less inline_ns */
	s64 net;				/* raw p50 - the bias inside */
	s64 added_predicted;			/* all four parts of both hooks */
	s64 spread;				/* the IQRs, and the drift */
	s64 drift;				/* inline before against after */
};

struct forkscope_calib_result {
	bool valid;
	int err;
	unsigned int rounds;		/* the round kept */
	unsigned int rounds_run;
	u64 at_ns;
	u64 measure_ns;			/* time spent sampling */
	unsigned int samples;
	bool site_optimized;
	struct forkscope_calib_value inline_a, inline_b;
	/*
	 * Two stamps back to back: the clock read the inline time holds besides
	 * the target (half taken as before its call, half after its return).
	 */
	struct forkscope_calib_value clock;
	bool have[FORKSCOPE_CALIB_NR];
	struct forkscope_calib_value pre[FORKSCOPE_CALIB_NR];	/* hook start to its stamp */
	struct forkscope_calib_value post[FORKSCOPE_CALIB_NR];	/* its stamp to hook end */
	/* Paired with its return (entry boundaries): the pair's cost between the stamps. */
	struct forkscope_calib_value inside[FORKSCOPE_CALIB_NR];
	bool paired[FORKSCOPE_CALIB_NR];	/* measured in a pair, as the plan uses it */
	struct forkscope_calib_check check_split;	/* ftrace entry + callsite return */
	struct forkscope_calib_check check_kretprobe;
};

static DEFINE_MUTEX(forkscope_calib_lock);	/* one calibration at a time; the result */
static struct forkscope_calib_result forkscope_calib;

/* The kretprobe entry handler's end in the current sample (one at a time, irqs off). */
static u64 forkscope_calib_entry_end_ns;

/*
 * The known-cost target: traceable (not notrace), never inlined or cloned,
 * a fixed-iteration loop the compiler cannot shorten.
 */
static noinline __noclone void forkscope_calib_target(unsigned int loops)
{
	unsigned int i;

	for (i = 0; i < loops; i++)
		barrier();
}

/* The target's address, for the plan's ftrace table to keep it a home slot. */
unsigned long forkscope_calib_target_ip(void)
{
	return (unsigned long)forkscope_calib_target;
}

/* Its caller, a module path like an anchor's: inline-timed with the probes' clock. */
static noinline __noclone notrace u64 forkscope_calib_call(unsigned int loops, u64 *t0)
{
	u64 start = ktime_get_mono_fast_ns();

	forkscope_calib_target(loops);
	*t0 = start;
	return ktime_get_mono_fast_ns();
}

/*
 * The hooks on the target are the calibration hook's (plan.c): the real
 * handlers, which take their timestamp and do forkscope's work after it on
 * the calibration's own in-flight record (forkscope_core_calib_begin); the
 * stamps are read back from that record after each sample.
 */
static struct ftrace_ops forkscope_calib_ftrace_ops;	/* .func: the plan's callback */

static struct forkscope_calib_probes forkscope_calib_probes;

/* The real kretprobe entry, then a second stamp: where its part after its stamp ends. */
static int notrace forkscope_calib_rp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	int ret = forkscope_plan_calib_rp_entry(ri, regs);

	WRITE_ONCE(forkscope_calib_entry_end_ns, ktime_get_mono_fast_ns());
	return ret;
}
NOKPROBE_SYMBOL(forkscope_calib_rp_entry);

/*
 * One sample's stamps: t0, entry, entry handler end, return, t1; ref: the
 * target's own duration (the inline time less its clock read).
 */
struct forkscope_calib_sample {
	u64 t0, entry, entry_end, ret, t1, ref;
};

static int forkscope_calib_cmp(const void *a, const void *b)
{
	s64 x = *(const s64 *)a, y = *(const s64 *)b;

	return x < y ? -1 : x > y;
}

static struct forkscope_calib_value forkscope_calib_quartiles(s64 *v, unsigned int n)
{
	struct forkscope_calib_value q = { 0 };

	if (!n)
		return q;
	sort(v, n, sizeof(*v), forkscope_calib_cmp, NULL);
	q.p25 = v[n / 4];
	q.p50 = v[n / 2];
	q.p75 = v[(3 * n) / 4];
	return q;
}

static s64 forkscope_calib_iqr(const struct forkscope_calib_value *v)
{
	return v->p75 - v->p25;
}

/*
 * Runs the target n times with interrupts off around each call; keeps the
 * samples where every wanted stamp was taken. Returns how many were kept.
 * Each sample carries the inline cost last measured with no hook (ref).
 */
static unsigned int forkscope_calib_run(struct forkscope_calib_sample *s, unsigned int loops,
					bool want_entry, bool want_ret)
{
	u64 start = ktime_get_ns();
	unsigned int i, kept = 0;
	unsigned long flags;

	for (i = 0; i < FORKSCOPE_CALIB_SAMPLES + FORKSCOPE_CALIB_WARMUP; i++) {
		struct forkscope_calib_sample one;

		/* A return alone is paired with an entry the record says was crossed. */
		forkscope_core_calib_rearm(current, want_ret && !want_entry);
		WRITE_ONCE(forkscope_calib_entry_end_ns, 0);
		local_irq_save(flags);
		one.ref = (loops == FORKSCOPE_CALIB_LOOPS_A ? forkscope_calib.inline_a.p50 :
			   forkscope_calib.inline_b.p50) - forkscope_calib.clock.p50;
		one.t1 = forkscope_calib_call(loops, &one.t0);
		local_irq_restore(flags);
		forkscope_core_calib_stamps(current, &one.entry, &one.ret);
		one.entry_end = READ_ONCE(forkscope_calib_entry_end_ns);
		if (i >= FORKSCOPE_CALIB_WARMUP && (!want_entry || one.entry) &&
		    (!want_ret || one.ret))
			s[kept++] = one;
		if (ktime_get_ns() - start > FORKSCOPE_CALIB_BUDGET_NS)
			break;
		cond_resched();
	}
	forkscope_calib.measure_ns += ktime_get_ns() - start;
	forkscope_calib.samples = max(forkscope_calib.samples, kept);
	return kept;
}

/* The instruction after the caller's call to the target: where its return is seen. */
static unsigned long forkscope_calib_find_site(void)
{
	const u8 *p = (const u8 *)forkscope_calib_call;
	unsigned long target = (unsigned long)forkscope_calib_target;
	unsigned int i;

	for (i = 0; i + 5 <= 256; i++) {
		unsigned long next = (unsigned long)p + i + 5;
		unsigned long dest;
		s32 rel;

		if (p[i] != 0xe8)
			continue;
		memcpy(&rel, p + i + 1, sizeof(rel));
		dest = next + (long)rel;
		/* A call may skip an endbr, or go through a call-depth thunk before it. */
		if (dest + 16 >= target && dest <= target + 16)
			return next;
	}
	return 0;
}

static bool forkscope_calib_site_is_jump(void)
{
	u8 byte;

	return !copy_from_kernel_nofault(&byte, forkscope_calib_probes.site_kp->addr, 1) &&
	       byte == 0xe9;
}

static int forkscope_calib_register_site(void)
{
	unsigned long aggr;
	unsigned int waited;
	int err;

	if (!forkscope_calib_probes.site_kp)
		return -ENOENT;
	err = register_kprobe(forkscope_calib_probes.site_kp);
	if (err)
		return err;
	/*
	 * The plan keeps only sites OPTPROBES made jumps: measure one too. It
	 * waits while the optimizer has the site queued (or, unreadable, 1 s).
	 */
	aggr = forkscope_symbol_lookup("aggr_pre_handler");
	for (waited = 0; waited < FORKSCOPE_CALIB_OPT_WAIT_MS && !forkscope_calib_site_is_jump();
	     waited += 20) {
		if (aggr && forkscope_kprobe_opt_state(forkscope_calib_probes.site_kp, aggr) !=
			    FORKSCOPE_OPT_QUEUED)
			break;
		if (!aggr && waited >= 1000)
			break;
		msleep(20);
	}
	forkscope_calib.site_optimized = forkscope_calib_site_is_jump();
	return 0;
}

/*
 * The filter is set once and freed at unload only: ftrace_free_filter frees
 * the hashes without clearing them, so the ops must not be filtered again.
 */
static bool forkscope_calib_filter_set;

static int forkscope_calib_register_ftrace(void)
{
	int err;

	forkscope_calib_ftrace_ops.func = forkscope_plan_calib_ftrace_func();
	if (!forkscope_calib_filter_set) {
		err = ftrace_set_filter_ip(&forkscope_calib_ftrace_ops,
					   (unsigned long)forkscope_calib_target, 0, 1);
		if (err)
			return err;
		forkscope_calib_filter_set = true;
	}
	return register_ftrace_function(&forkscope_calib_ftrace_ops);
}

static void forkscope_calib_unregister_ftrace(void)
{
	unregister_ftrace_function(&forkscope_calib_ftrace_ops);
}

/* The inline clock read's part before the target's call, and after its return. */
static s64 forkscope_calib_clock_before(void)
{
	return forkscope_calib.clock.p50 / 2;
}

static s64 forkscope_calib_clock_after(void)
{
	return forkscope_calib.clock.p50 - forkscope_calib_clock_before();
}

/* Two clock reads as the target's caller makes them, with nothing between. */
static noinline __noclone notrace u64 forkscope_calib_clock_pair(u64 *t0)
{
	u64 start = ktime_get_mono_fast_ns();

	barrier();
	*t0 = start;
	return ktime_get_mono_fast_ns();
}

static void forkscope_calib_clock(s64 *v)
{
	u64 start = ktime_get_ns();
	unsigned int i, n = 0;
	unsigned long flags;

	for (i = 0; i < FORKSCOPE_CALIB_SAMPLES + FORKSCOPE_CALIB_WARMUP; i++) {
		u64 t0, t1;

		local_irq_save(flags);
		t1 = forkscope_calib_clock_pair(&t0);
		local_irq_restore(flags);
		if (i >= FORKSCOPE_CALIB_WARMUP)
			v[n++] = t1 - t0;
		if (ktime_get_ns() - start > FORKSCOPE_CALIB_BUDGET_NS)
			break;
	}
	forkscope_calib.clock = forkscope_calib_quartiles(v, n);
}

/*
 * Entry-only: pre = t0 to stamp less the clock read's part before the call;
 * post = stamp to t1 less the target and the clock read's part after it.
 */
static void forkscope_calib_entry_parts(struct forkscope_calib_sample *s, unsigned int n,
					s64 *v, enum forkscope_calib_boundary b)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		v[i] = (s64)(s[i].entry - s[i].t0) - forkscope_calib_clock_before();
	forkscope_calib.pre[b] = forkscope_calib_quartiles(v, n);
	for (i = 0; i < n; i++)
		v[i] = (s64)(s[i].t1 - s[i].entry) - (s64)s[i].ref - forkscope_calib_clock_after();
	forkscope_calib.post[b] = forkscope_calib_quartiles(v, n);
	forkscope_calib.have[b] = n > 0;
}

/* No hook: the inline costs, measured again before each hook is attached (they drift). */
static void forkscope_calib_inlines(struct forkscope_calib_sample *s, s64 *v)
{
	struct forkscope_calib_result *k = &forkscope_calib;
	unsigned int i, n;

	forkscope_calib_clock(v);
	n = forkscope_calib_run(s, FORKSCOPE_CALIB_LOOPS_A, false, false);
	for (i = 0; i < n; i++)
		v[i] = s[i].t1 - s[i].t0;
	k->inline_a = forkscope_calib_quartiles(v, n);
	n = forkscope_calib_run(s, FORKSCOPE_CALIB_LOOPS_B, false, false);
	for (i = 0; i < n; i++)
		v[i] = s[i].t1 - s[i].t0;
	k->inline_b = forkscope_calib_quartiles(v, n);
}

/*
 * An entry and a return hook attached together, as the plan pairs them, on
 * the calibration target: the entry's part before its stamp and the
 * return's part after its stamp come directly; what lies between the
 * stamps beyond the inline cost is split at entry_post (measured alone, or
 * by a second stamp for kretprobes), the rest being the return's part
 * before its stamp.
 */
static void forkscope_calib_pair(struct forkscope_calib_sample *s, unsigned int n, s64 *v,
				 enum forkscope_calib_boundary e,
				 enum forkscope_calib_boundary r, bool second_stamp)
{
	struct forkscope_calib_result *k = &forkscope_calib;
	s64 split = k->post[e].p50;
	unsigned int i;

	if (!n)
		return;
	for (i = 0; i < n; i++)
		v[i] = (s64)(s[i].entry - s[i].t0) - forkscope_calib_clock_before();
	k->pre[e] = forkscope_calib_quartiles(v, n);
	for (i = 0; i < n; i++)
		v[i] = (s64)(s[i].t1 - s[i].ret) - forkscope_calib_clock_after();
	k->post[r] = forkscope_calib_quartiles(v, n);
	if (second_stamp) {
		for (i = 0; i < n; i++)
			v[i] = s[i].entry_end - s[i].entry;
		k->post[e] = forkscope_calib_quartiles(v, n);
		split = k->post[e].p50;
	}
	for (i = 0; i < n; i++)
		v[i] = (s64)(s[i].ret - s[i].entry) - (s64)s[i].ref;
	k->inside[e] = forkscope_calib_quartiles(v, n);
	split = clamp_t(s64, split, 0, max_t(s64, k->inside[e].p50, 0));
	if (!second_stamp) {
		k->post[e].p25 += split - k->post[e].p50;
		k->post[e].p75 += split - k->post[e].p50;
		k->post[e].p50 = split;
	}
	for (i = 0; i < n; i++)
		v[i] -= split;
	k->pre[r] = forkscope_calib_quartiles(v, n);
	k->have[e] = k->have[r] = true;
	k->paired[e] = k->paired[r] = true;
}

/* The longer target through the same pair: net of the bias measured on the short one. */
static void forkscope_calib_check(struct forkscope_calib_check *c, struct forkscope_calib_sample *s,
				  unsigned int n, s64 *v, enum forkscope_calib_boundary e,
				  enum forkscope_calib_boundary r)
{
	const struct forkscope_calib_result *k = &forkscope_calib;
	unsigned int i;

	if (!n || !k->paired[e] || !k->paired[r])
		return;
	for (i = 0; i < n; i++)
		v[i] = s[i].ret - s[i].entry;
	c->raw = forkscope_calib_quartiles(v, n);
	for (i = 0; i < n; i++)
		v[i] = (s64)(s[i].t1 - s[i].t0) - (s64)s[i].ref - k->clock.p50;
	c->added = forkscope_calib_quartiles(v, n);
	/* The target's own duration: what the hooks' stamps should read net. */
	c->inline_ns = k->inline_b;
	c->inline_ns.p25 -= k->clock.p50;
	c->inline_ns.p50 -= k->clock.p50;
	c->inline_ns.p75 -= k->clock.p50;
	c->net = c->raw.p50 - k->post[e].p50 - k->pre[r].p50;
	c->added_predicted = k->pre[e].p50 + k->post[e].p50 + k->pre[r].p50 + k->post[r].p50;
	c->spread = forkscope_calib_iqr(&k->inside[e]) + forkscope_calib_iqr(&c->inline_ns);
	c->done = true;
}

/*
 * After the check's hooks are gone: the inline cost again. The reference is
 * the mean of before and after; how far they differ joins the spread.
 */
static void forkscope_calib_drift(struct forkscope_calib_check *c, struct forkscope_calib_sample *s,
				  s64 *v)
{
	s64 before = c->inline_ns.p50, after;

	forkscope_calib_inlines(s, v);
	if (!c->done)
		return;
	after = forkscope_calib.inline_b.p50 - forkscope_calib.clock.p50;
	c->drift = abs(after - before);
	c->inline_ns.p50 = (before + after) / 2;
	c->spread += c->drift;
}

static int forkscope_calib_measure_hooks(struct forkscope_calib_sample *s, s64 *v)
{
	struct forkscope_calib_result *k = &forkscope_calib;
	unsigned int i, n;
	int err;

	forkscope_calib_inlines(s, v);

	/* ftrace entry alone: where its stamp splits its cost. */
	err = forkscope_calib_register_ftrace();
	if (err)
		pr_notice("calibration: no ftrace entry (%d)\n", err);
	if (!err) {
		n = forkscope_calib_run(s, FORKSCOPE_CALIB_LOOPS_A, true, false);
		forkscope_calib_entry_parts(s, n, v, FORKSCOPE_CALIB_FTRACE_ENTRY);
		forkscope_calib_unregister_ftrace();
	}

	/* The call site: alone, then paired with the ftrace entry as the plan arms them. */
	forkscope_calib_inlines(s, v);
	err = forkscope_calib_register_site();
	if (err) {
		pr_notice("calibration: no call-site kprobe (%d)\n", err);
	} else {
		n = forkscope_calib_run(s, FORKSCOPE_CALIB_LOOPS_A, false, true);
		for (i = 0; i < n; i++)
			v[i] = (s64)(s[i].ret - s[i].t0) - (s64)s[i].ref -
			       forkscope_calib_clock_before();
		k->pre[FORKSCOPE_CALIB_CALLSITE_RETURN] = forkscope_calib_quartiles(v, n);
		for (i = 0; i < n; i++)
			v[i] = (s64)(s[i].t1 - s[i].ret) - forkscope_calib_clock_after();
		k->post[FORKSCOPE_CALIB_CALLSITE_RETURN] = forkscope_calib_quartiles(v, n);
		k->have[FORKSCOPE_CALIB_CALLSITE_RETURN] = n > 0;
		if (k->have[FORKSCOPE_CALIB_FTRACE_ENTRY] && !forkscope_calib_register_ftrace()) {
			n = forkscope_calib_run(s, FORKSCOPE_CALIB_LOOPS_A, true, true);
			forkscope_calib_pair(s, n, v, FORKSCOPE_CALIB_FTRACE_ENTRY,
					     FORKSCOPE_CALIB_CALLSITE_RETURN, false);
			n = forkscope_calib_run(s, FORKSCOPE_CALIB_LOOPS_B, true, true);
			forkscope_calib_check(&k->check_split, s, n, v,
					      FORKSCOPE_CALIB_FTRACE_ENTRY,
					      FORKSCOPE_CALIB_CALLSITE_RETURN);
			forkscope_calib_unregister_ftrace();
		}
		unregister_kprobe(forkscope_calib_probes.site_kp);
		forkscope_calib_drift(&k->check_split, s, v);
	}

	/* A kprobe entry (mechanism=kprobe), alone. */
	forkscope_calib_inlines(s, v);
	err = register_kprobe(forkscope_calib_probes.entry_kp);
	if (err) {
		pr_notice("calibration: no kprobe entry (%d)\n", err);
	} else {
		n = forkscope_calib_run(s, FORKSCOPE_CALIB_LOOPS_A, true, false);
		if (!n)
			pr_notice("calibration: the kprobe entry never fired (%lu missed)\n",
				  forkscope_calib_probes.entry_kp->nmissed);
		forkscope_calib_entry_parts(s, n, v, FORKSCOPE_CALIB_KPROBE_ENTRY);
		unregister_kprobe(forkscope_calib_probes.entry_kp);
	}

	/*
	 * A kretprobe: its entry's part after the stamp is taken as the rest of
	 * the entry handler (a second stamp); the rest of the bracketed cost
	 * (the rethook trampoline up to the return stamp) is the return's.
	 */
	forkscope_calib_probes.rp->entry_handler = forkscope_calib_rp_entry;
	forkscope_calib_inlines(s, v);
	err = register_kretprobe(forkscope_calib_probes.rp);
	if (err) {
		pr_notice("calibration: no kretprobe (%d)\n", err);
		return 0;
	}
	n = forkscope_calib_run(s, FORKSCOPE_CALIB_LOOPS_A, true, true);
	forkscope_calib_pair(s, n, v, FORKSCOPE_CALIB_KRETPROBE_ENTRY,
			     FORKSCOPE_CALIB_KRETPROBE_RETURN, true);
	n = forkscope_calib_run(s, FORKSCOPE_CALIB_LOOPS_B, true, true);
	forkscope_calib_check(&k->check_kretprobe, s, n, v, FORKSCOPE_CALIB_KRETPROBE_ENTRY,
			      FORKSCOPE_CALIB_KRETPROBE_RETURN);
	unregister_kretprobe(forkscope_calib_probes.rp);
	forkscope_calib_drift(&k->check_kretprobe, s, v);
	return 0;
}

/*
 * One round: the calibration's own in-flight record and hook, fresh (a
 * kprobe is registered once per struct), freed once every probe is gone.
 */
static int forkscope_calib_measure(struct forkscope_calib_sample *s, s64 *v)
{
	int anchor = forkscope_core_calib_begin(current);
	int err;

	if (anchor < 0) {
		pr_notice("calibration: no in-flight record of its own (%d)\n", anchor);
		return anchor;	/* FORKSCOPE_E* are the kernel's errno values */
	}
	err = forkscope_plan_calib_hook_new(anchor, (unsigned long)forkscope_calib_target,
					    forkscope_calib_find_site(), &forkscope_calib_probes);
	if (!err)
		err = forkscope_calib_measure_hooks(s, v);
	forkscope_plan_calib_hook_free();
	forkscope_core_calib_end(current);
	return err;
}

/* Measures every mechanism afresh. May sleep (registers and waits for probes). */
/* How far the inline cost moved during the checks, in per mille of it (worst check). */
static s64 forkscope_calib_instability(const struct forkscope_calib_result *k)
{
	const struct forkscope_calib_check *checks[] = { &k->check_split, &k->check_kretprobe };
	s64 worst = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(checks); i++)
		if (checks[i]->done && checks[i]->inline_ns.p50 > 0)
			worst = max(worst, div64_s64(1000 * checks[i]->drift,
						     checks[i]->inline_ns.p50));
	return worst;
}

static struct forkscope_calib_result forkscope_calib_best;
static void forkscope_calib_publish_bias(void);

/*
 * Measures every mechanism afresh, in up to FORKSCOPE_CALIB_ROUNDS rounds:
 * again while the inline cost drifted by more than 10% during a check (a
 * loaded machine), keeping the steadiest round. May sleep.
 */
int forkscope_calibrate(void)
{
	struct forkscope_calib_sample *s;
	unsigned int round;
	s64 best = S64_MAX;
	s64 *v;
	int err = 0;

	s = kcalloc(FORKSCOPE_CALIB_SAMPLES + FORKSCOPE_CALIB_WARMUP, sizeof(*s), GFP_KERNEL);
	v = kcalloc(FORKSCOPE_CALIB_SAMPLES + FORKSCOPE_CALIB_WARMUP, sizeof(*v), GFP_KERNEL);
	mutex_lock(&forkscope_calib_lock);
	for (round = 1; round <= FORKSCOPE_CALIB_ROUNDS; round++) {
		s64 drift;

		memset(&forkscope_calib, 0, sizeof(forkscope_calib));
		err = s && v ? forkscope_calib_measure(s, v) : -ENOMEM;
		if (err)
			break;
		drift = forkscope_calib_instability(&forkscope_calib);
		if (drift < best) {
			best = drift;
			forkscope_calib_best = forkscope_calib;
			forkscope_calib_best.rounds = round;
		}
		if (drift <= 100)
			break;
	}
	if (!err)
		forkscope_calib = forkscope_calib_best;
	forkscope_calib.rounds_run = min(round, FORKSCOPE_CALIB_ROUNDS);
	forkscope_calib.err = err;
	forkscope_calib.valid = !err;
	forkscope_calib.at_ns = ktime_get_mono_fast_ns();
	if (!err)
		forkscope_calib_publish_bias();
	mutex_unlock(&forkscope_calib_lock);
	kfree(s);
	kfree(v);
	if (err)
		pr_warn("calibration failed: %d\n", err);
	return err;
}

/* platform.h: control's "calibrate". */
int forkscope_platform_calibrate(void)
{
	return forkscope_calibrate();
}

/*
 * In init, synchronously: registering a kprobe on module text holds a
 * reference on the module, so a calibration still running after init would
 * make an rmmod fail with EAGAIN. May sleep.
 */
void forkscope_calibrate_at_load(void)
{
	u64 start = ktime_get_ns();
	int err = forkscope_calibrate();

	pr_info("calibration %s in %llu ms\n", err ? "failed" : "done",
		div_u64(ktime_get_ns() - start, NSEC_PER_MSEC));
}

/* A control write's calibration holds the module: none runs at unload. */
void forkscope_calibrate_stop(void)
{
	if (forkscope_calib_filter_set)
		ftrace_free_filter(&forkscope_calib_ftrace_ops);
	forkscope_calib_filter_set = false;
}

static void forkscope_calib_show_value(struct seq_file *m, const struct forkscope_calib_value *v)
{
	seq_printf(m, " %lld %lld", v->p50, forkscope_calib_iqr(v));
}

static void forkscope_calib_show_check(struct seq_file *m, const char *name,
				       const struct forkscope_calib_check *c)
{
	s64 inline_ns = c->inline_ns.p50, tol;

	if (!c->done)
		return;
	tol = max(inline_ns / 10, c->spread);
	seq_printf(m, "check %s inline_ns %lld raw_ns %lld net_ns %lld error_ns %lld tolerance_ns %lld %s",
		   name, inline_ns, c->raw.p50, c->net, c->net - inline_ns, tol,
		   abs(c->net - inline_ns) <= tol ? "ok" : "off");
	seq_printf(m, " added_ns %lld predicted_ns %lld drift_ns %lld\n", c->added.p50,
		   c->added_predicted, c->drift);
}

/* The calibrated boundary of a hook kind, as entry or return; -1 if not calibrated. */
static int forkscope_calib_boundary_of(enum forkscope_hook_kind kind, bool entry)
{
	switch (kind) {
	case FORKSCOPE_HOOK_FTRACE:
		return entry ? FORKSCOPE_CALIB_FTRACE_ENTRY : -1;
	case FORKSCOPE_HOOK_KPROBE:
		return entry ? FORKSCOPE_CALIB_KPROBE_ENTRY : -1;
	case FORKSCOPE_HOOK_CALLSITE:
		return entry ? -1 : FORKSCOPE_CALIB_CALLSITE_RETURN;
	case FORKSCOPE_HOOK_KRETPROBE:
		return entry ? FORKSCOPE_CALIB_KRETPROBE_ENTRY : FORKSCOPE_CALIB_KRETPROBE_RETURN;
	default:
		return -1;
	}
}

/* One crossing's bias from calibrated boundary b (-1 or not measured: none). */
static void forkscope_calib_crossing(int b, struct forkscope_crossing_bias *out)
{
	const struct forkscope_calib_result *k = &forkscope_calib;

	if (b < 0 || !k->have[b])
		return;
	out->pre_ns = k->pre[b].p50;
	out->post_ns = k->post[b].p50;
	out->pre_spread_ns = forkscope_calib_iqr(&k->pre[b]);
	out->post_spread_ns = forkscope_calib_iqr(&k->post[b]);
}

/*
 * After a calibration, under forkscope_calib_lock: each registered anchor's
 * entry and return bias, by the mechanism the plan hooked it with, into the
 * core (stats_net and the records' bias are computed from it when read).
 */
static void forkscope_calib_publish_bias(void)
{
	struct forkscope_probe_health *probes;
	struct forkscope_boundary_bias *bias;
	unsigned int i, n;
	int err;

	BUILD_BUG_ON(sizeof(struct forkscope_crossing_bias) != 4 * sizeof(s64));
	BUILD_BUG_ON(ARRAY_SIZE(bias->entry) != FORKSCOPE_ANCHOR_COUNT ||
		     ARRAY_SIZE(bias->ret) != FORKSCOPE_ANCHOR_COUNT);
	probes = kcalloc(FORKSCOPE_ANCHOR_COUNT, sizeof(*probes), GFP_KERNEL);
	bias = kzalloc(sizeof(*bias), GFP_KERNEL);
	err = probes && bias ? 0 : -ENOMEM;
	if (!err) {
		n = forkscope_plan_health(probes, FORKSCOPE_ANCHOR_COUNT);
		for (i = 0; i < n; i++) {
			if (!probes[i].registered)
				continue;
			forkscope_calib_crossing(forkscope_calib_boundary_of(probes[i].entry, true),
						 &bias->entry[i]);
			forkscope_calib_crossing(forkscope_calib_boundary_of(probes[i].ret, false),
						 &bias->ret[i]);
		}
		err = forkscope_core_set_boundary_bias(bias, sizeof(*bias));
	}
	if (err)
		pr_warn("calibration: the bias did not reach the core (%d)\n", err);
	kfree(bias);
	kfree(probes);
}

/* A hit's whole cost at a boundary, or 0 (not calibrated). */
static s64 forkscope_calib_hit_cost(int b)
{
	const struct forkscope_calib_result *k = &forkscope_calib;

	return b >= 0 && k->have[b] ? k->pre[b].p50 + k->post[b].p50 : 0;
}

/*
 * Per registered anchor: its hooks, the bias of its direct stage (the
 * entry's part after its stamp and the return's part before its), the cost
 * of one hit at each boundary, and the cost its hits so far predict.
 */
static void forkscope_calib_show_anchors(struct seq_file *m)
{
	const struct forkscope_calib_result *k = &forkscope_calib;
	struct forkscope_probe_health *probes;
	s64 total = 0;
	unsigned int i, n;

	probes = kcalloc(FORKSCOPE_ANCHOR_COUNT, sizeof(*probes), GFP_KERNEL);
	if (!probes)
		return;
	n = forkscope_plan_health(probes, FORKSCOPE_ANCHOR_COUNT);
	for (i = 0; i < n; i++) {
		const struct forkscope_probe_health *h = &probes[i];
		int e = forkscope_calib_boundary_of(h->entry, true);
		int r = forkscope_calib_boundary_of(h->ret, false);
		s64 direct, cost;

		if (!h->registered || !h->symbol)
			continue;
		direct = (e >= 0 && k->have[e] ? k->post[e].p50 : 0) +
			 (r >= 0 && k->have[r] ? k->pre[r].p50 : 0);
		cost = (s64)h->hits * forkscope_calib_hit_cost(e) +
		       (s64)h->return_hits * forkscope_calib_hit_cost(r);
		total += cost;
		seq_printf(m, "anchor %s entry %s return %s direct_bias_ns %lld entry_hit_ns %lld return_hit_ns %lld hits %llu returns %llu predicted_ns %lld\n",
			   h->symbol, e >= 0 ? forkscope_calib_mechs[e] : "-",
			   r >= 0 ? forkscope_calib_mechs[r] : "-", direct,
			   forkscope_calib_hit_cost(e), forkscope_calib_hit_cost(r), h->hits,
			   h->return_hits, cost);
	}
	seq_printf(m, "predicted_overhead_ns %lld\n", total);
	kfree(probes);
}

static int forkscope_calib_show(struct seq_file *m, void *unused)
{
	const struct forkscope_calib_result *k = &forkscope_calib;
	unsigned int b;

	mutex_lock(&forkscope_calib_lock);
	if (!k->valid) {
		seq_printf(m, "calibration %s\n", k->err ? "failed" : "pending");
		goto out;
	}
	seq_printf(m, "calibration at_ns %llu samples %u measured_ns %llu clock ktime_get_mono_fast_ns site %s round %u of %u\n",
		   k->at_ns, k->samples, k->measure_ns,
		   k->site_optimized ? "optimized" : "int3", k->rounds, k->rounds_run);
	seq_puts(m, "# value: median_ns iqr_ns; pre: hook start to its stamp, post: stamp to hook end\n");
	seq_printf(m, "inline loops %u", FORKSCOPE_CALIB_LOOPS_A);
	forkscope_calib_show_value(m, &k->inline_a);
	seq_printf(m, "\ninline loops %u", FORKSCOPE_CALIB_LOOPS_B);
	forkscope_calib_show_value(m, &k->inline_b);
	seq_puts(m, "\nclock_read");
	forkscope_calib_show_value(m, &k->clock);
	seq_puts(m, "\n");
	for (b = 0; b < FORKSCOPE_CALIB_NR; b++) {
		if (!k->have[b])
			continue;
		seq_printf(m, "hook %s pre", forkscope_calib_names[b]);
		forkscope_calib_show_value(m, &k->pre[b]);
		seq_puts(m, " post");
		forkscope_calib_show_value(m, &k->post[b]);
		seq_puts(m, "\n");
	}
	forkscope_calib_show_check(m, "ftrace+callsite", &k->check_split);
	forkscope_calib_show_check(m, "kretprobe", &k->check_kretprobe);
	forkscope_calib_show_anchors(m);
out:
	mutex_unlock(&forkscope_calib_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(forkscope_calib);

void forkscope_calibrate_debugfs(struct dentry *dir)
{
	debugfs_create_file("calibration", 0400, dir, NULL, &forkscope_calib_fops);
}
