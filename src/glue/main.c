// SPDX-License-Identifier: GPL-2.0
/*
 * forkscope module entry: brings up the C++ runtime and core, resolves
 * symbols, arms probes and publishes debugfs; tears down in reverse.
 */
#include <linux/kernel.h>
#include <linux/module.h>

#include <forkscope/core.h>
#include <forkscope/cxxrt.h>

#include "glue.h"

#define FS_MAX_INFLIGHT_LIMIT 65536

static char *deny_symbols = "";
module_param(deny_symbols, charp, 0444);
MODULE_PARM_DESC(deny_symbols,
		 "Comma-separated kernel symbols to treat as absent (testing degraded kernels)");

static int max_inflight = 512;
module_param(max_inflight, int, 0444);
MODULE_PARM_DESC(max_inflight,
		 "Creations tracked in flight at once (kretprobe maxactive), 1..65536; excess are counted as missed");

static int fs_check_params(void)
{
	if (max_inflight < 1 || max_inflight > FS_MAX_INFLIGHT_LIMIT) {
		pr_warn("max_inflight=%d is out of range 1..%d\n", max_inflight,
			FS_MAX_INFLIGHT_LIMIT);
		return -EINVAL;
	}
	if (strlen(deny_symbols) > 4096) {
		pr_warn("deny_symbols is longer than 4096 characters\n");
		return -EINVAL;
	}
	return 0;
}

static int __init fs_init(void)
{
	int err;

	err = fs_check_params();
	if (err)
		return err;
	/* With CONFIG_CONSTRUCTORS the module loader has run them already. */
	err = fs_cxxrt_init(!IS_ENABLED(CONFIG_CONSTRUCTORS));
	if (err)
		return err;
	err = fs_core_init();
	if (err)
		goto err_cxxrt;
	err = fs_symbols_resolve(deny_symbols);
	if (err)
		goto err_core;
	err = fs_debugfs_create();
	if (err)
		goto err_core;
	err = fs_probes_register(max_inflight);
	if (err)
		goto err_debugfs;
	pr_info("loaded (version %s)\n", FS_VERSION);
	return 0;

err_debugfs:
	fs_debugfs_remove();
err_core:
	fs_core_exit();
err_cxxrt:
	fs_cxxrt_exit();
	return err;
}

static void __exit fs_exit(void)
{
	struct fs_cxxrt_stats rt;

	fs_probes_unregister();
	fs_debugfs_remove();
	fs_core_exit();
	fs_cxxrt_exit();
	fs_cxxrt_get_stats(&rt);
	if (rt.live_allocs)
		pr_warn("%llu allocations (%llu bytes) still live at unload\n",
			rt.live_allocs, rt.live_bytes);
	pr_info("unloaded\n");
}

module_init(fs_init);
module_exit(fs_exit);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("forkscope developers");
MODULE_DESCRIPTION("Stage-by-stage timing of Linux process creation");
MODULE_VERSION(FS_VERSION);
