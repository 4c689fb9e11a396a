// SPDX-License-Identifier: GPL-2.0
/*
 * forkscope module entry: brings up the C++ runtime and core, resolves
 * symbols, arms probes and publishes debugfs; tears down in reverse.
 */
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/utsname.h>

#include <forkscope/core.h>
#include <forkscope/cxxrt.h>

#include "compat.h"
#include "glue.h"

#define FORKSCOPE_MAX_INFLIGHT_LIMIT 65536
/* A record is about 1.2 KiB, per CPU: 65536 of them are 80 MiB per CPU. */
#define FORKSCOPE_RING_SIZE_LIMIT 65536

static char *deny_symbols = "";
module_param(deny_symbols, charp, 0444);
MODULE_PARM_DESC(deny_symbols,
		 "Comma-separated kernel symbols to treat as absent (testing degraded kernels)");

static int max_inflight = 512;
module_param(max_inflight, int, 0444);
MODULE_PARM_DESC(max_inflight,
		 "Calls in flight per probed function (kretprobe maxactive), 1..65536; excess are counted as missed");

static int ring_size = 1024;
module_param(ring_size, int, 0444);
MODULE_PARM_DESC(ring_size,
		 "Records kept per CPU for trace, records and trace_pipe, 16..65536 (about 1.2 KiB each)");

static int top_n = 16;
module_param(top_n, int, 0444);
MODULE_PARM_DESC(top_n, "Length of the slowest list, 1..1024");

static char *probe_mode = "full";
module_param(probe_mode, charp, 0444);
MODULE_PARM_DESC(probe_mode,
		 "full (default), or floor: the same kretprobes with empty handlers, which record nothing (benchmark of the probes' own cost)");
static bool forkscope_probe_floor;

static char *mechanism = "auto";
module_param(mechanism, charp, 0444);
MODULE_PARM_DESC(mechanism,
		 "auto (default: the cheapest hook per anchor), kprobe (entries by kprobe, not ftrace) or kretprobe (a kretprobe on every anchor); for tests and benchmarks");
static enum forkscope_mechanism forkscope_mechanism;

static char *detail = "all";
module_param(detail, charp, 0444);
MODULE_PARM_DESC(detail,
		 "summary, fork, exec or all (default): which stages are timed; the others merge into their neighbours");

static int forkscope_check_range(const char *name, int value, int min, int max)
{
	if (value >= min && value <= max)
		return 0;
	pr_warn("%s=%d is out of range %d..%d\n", name, value, min, max);
	return -EINVAL;
}

static const char *const forkscope_probe_modes[] = { "full", "floor" };
static const char *const forkscope_mechanisms[] = {
	[FORKSCOPE_MECH_AUTO] = "auto",
	[FORKSCOPE_MECH_KPROBE] = "kprobe",
	[FORKSCOPE_MECH_KRETPROBE] = "kretprobe",
};

/* The index of value in choices, or -EINVAL with a log line naming them. */
static int forkscope_check_choice(const char *name, const char *value,
				  const char *const *choices, size_t n, const char *expected)
{
	int i = match_string(choices, n, value);

	if (i < 0)
		pr_warn("%s=%.32s is not %s\n", name, value, expected);
	return i;
}

static int forkscope_check_params(void)
{
	int mode, mech;

	if (forkscope_check_range("max_inflight", max_inflight, 1, FORKSCOPE_MAX_INFLIGHT_LIMIT) ||
	    forkscope_check_range("ring_size", ring_size, 16, FORKSCOPE_RING_SIZE_LIMIT) ||
	    forkscope_check_range("top_n", top_n, 1, 1024))
		return -EINVAL;
	mode = forkscope_check_choice("probe_mode", probe_mode, forkscope_probe_modes,
				      ARRAY_SIZE(forkscope_probe_modes), "full or floor");
	mech = forkscope_check_choice("mechanism", mechanism, forkscope_mechanisms,
				      ARRAY_SIZE(forkscope_mechanisms), "auto, kprobe or kretprobe");
	if (mode < 0 || mech < 0)
		return -EINVAL;
	forkscope_probe_floor = mode == 1;
	forkscope_mechanism = mech;
	if (strlen(deny_symbols) > 4096) {
		pr_warn("deny_symbols is longer than 4096 characters\n");
		return -EINVAL;
	}
	return 0;
}

/*
 * What the load allocates at most (the engine, one reader's buffers, and a
 * kretprobe's instances on every anchor that may take one) must stay under
 * min(256 MiB, 1/8 of RAM): a permitted value must not exhaust memory, nor
 * stall the kernel freeing it at unload.
 */
static int forkscope_check_budget(const struct forkscope_core_config *config)
{
	struct forkscope_load_cost cost;
	u64 probes = (u64)(FORKSCOPE_ANCHOR_COUNT - 1) * max_inflight *
		forkscope_kretprobe_instance_bytes(forkscope_core_probe_data_size());

	if (!forkscope_core_load_cost(config, probes, forkscope_totalram_bytes(), 16,
				      FORKSCOPE_RING_SIZE_LIMIT, &cost))
		return 0;
	pr_warn("ring_size=%d top_n=%d max_inflight=%d on %u CPUs: %llu bytes (engine %llu, reading %llu, kretprobe instances %llu), over the limit of %llu bytes (256 MiB or 1/8 of RAM); ring_size up to %u fits with these values\n",
		ring_size, top_n, max_inflight, cost.nr_cpus, cost.total_bytes, cost.engine_bytes,
		cost.reading_bytes, cost.probe_bytes, cost.limit_bytes, cost.fitting_ring);
	return -EINVAL;
}

/* detail= goes through the control parser: one grammar, one error message. */
static int forkscope_apply_detail(void)
{
	char command[48];
	const char *why = NULL;
	int len;

	len = snprintf(command, sizeof(command), "detail %s", detail);
	if (len >= sizeof(command) || forkscope_core_control(command, len, &why)) {
		pr_warn("detail=%.32s: %s\n", detail, why ?: "too long");
		return -EINVAL;
	}
	return 0;
}

static int __init forkscope_init(void)
{
	struct forkscope_core_config config;
	struct forkscope_cxxrt_stats rt;
	int err;

	err = forkscope_check_params();
	if (err)
		return err;
	/* With CONFIG_CONSTRUCTORS the module loader has run them already. */
	err = forkscope_cxxrt_init(!IS_ENABLED(CONFIG_CONSTRUCTORS));
	if (err)
		return err;
	/* Room for every probe's calls in flight, at most half full. */
	config.inflight_slots = roundup_pow_of_two(2 * max_inflight);
	config.ring_records = ring_size;
	config.top_n = top_n;
	config.spawn_slots = 4096;
	config.kernel_release = utsname()->release;
	err = forkscope_check_budget(&config);
	if (err)
		goto err_cxxrt;
	err = forkscope_core_init(&config);
	if (err)
		goto err_cxxrt;
	err = forkscope_apply_detail();
	if (err)
		goto err_core;
	err = forkscope_symbols_resolve(deny_symbols);
	if (err)
		goto err_core;
	err = forkscope_plan_build(max_inflight, forkscope_probe_floor, forkscope_mechanism);
	if (err)
		goto err_symbols;
	err = forkscope_debugfs_create();
	if (err)
		goto err_probes;
	forkscope_calibrate_at_load();
	forkscope_cxxrt_get_stats(&rt);
	pr_info("loaded (version %s, detail %s, mechanism %s%s): %llu bytes in %llu allocations\n",
		FORKSCOPE_VERSION, detail, mechanism,
		forkscope_probe_floor ? ", probe_mode=floor" : "", rt.live_bytes, rt.live_allocs);
	return 0;

err_probes:
	forkscope_plan_destroy();
err_symbols:
	forkscope_symbols_release();
err_core:
	forkscope_core_exit();
err_cxxrt:
	forkscope_cxxrt_exit();
	return err;
}

static void __exit forkscope_exit(void)
{
	struct forkscope_cxxrt_stats rt;

	forkscope_calibrate_stop();
	forkscope_debugfs_remove();
	forkscope_plan_destroy();
	forkscope_symbols_release();
	forkscope_core_exit();
	forkscope_cxxrt_exit();
	forkscope_cxxrt_get_stats(&rt);
	/* A leak is a bug: make it loud (make check fails on any WARNING). */
	WARN(rt.live_allocs, KBUILD_MODNAME ": %llu allocations (%llu bytes) still live at unload\n",
	     rt.live_allocs, rt.live_bytes);
	pr_info("unloaded\n");
}

module_init(forkscope_init);
module_exit(forkscope_exit);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("forkscope developers");
MODULE_DESCRIPTION("Stage-by-stage timing of Linux process creation");
MODULE_VERSION(FORKSCOPE_VERSION);
