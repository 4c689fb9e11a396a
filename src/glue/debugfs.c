// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/forkscope/: root-only files whose text the C++ core
 * formats into a snapshot taken at open, so a reader sees one consistent view.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <generated/utsrelease.h>
#include <linux/slab.h>
#include <linux/utsname.h>

#include <forkscope/core.h>

#include "glue.h"

#define FS_MAX_PROBES 64
#define FS_SNAPSHOT_MIN (4 * 1024)
#define FS_SNAPSHOT_MAX (16 * 1024 * 1024)

struct fs_snapshot {
	size_t length;
	char text[];
};

typedef s64 (*fs_format_fn)(char *buf, size_t size);

static struct dentry *fs_dir;

static s64 fs_format_version(char *buf, size_t size)
{
	struct fs_build_info info = {
		.kernel_release = utsname()->release,
		.built_for = UTS_RELEASE,
		.compiler = CONFIG_CC_VERSION_TEXT,
	};

	return fs_core_format_version(buf, size, &info);
}

static s64 fs_format_counters(char *buf, size_t size)
{
	struct fs_probe_health *probes;
	unsigned int n;
	s64 len;

	probes = kcalloc(FS_MAX_PROBES, sizeof(*probes), GFP_KERNEL);
	if (!probes)
		return -ENOMEM;
	n = fs_probes_health(probes, FS_MAX_PROBES);
	len = fs_core_format_counters(buf, size, probes, n);
	kfree(probes);
	return len;
}

/* Formats into a buffer that doubles until the text fits. */
static int fs_snapshot_open(struct inode *inode, struct file *file)
{
	fs_format_fn format = inode->i_private;
	size_t size = FS_SNAPSHOT_MIN;
	struct fs_snapshot *snap;
	s64 len;

	for (;;) {
		snap = kvmalloc(sizeof(*snap) + size, GFP_KERNEL);
		if (!snap)
			return -ENOMEM;
		len = format(snap->text, size);
		if (len >= 0)
			break;
		kvfree(snap);
		if (len != -ENOSPC || size >= FS_SNAPSHOT_MAX)
			return len == -ENOSPC ? -EFBIG : (int)len;
		size *= 2;
	}
	snap->length = len;
	file->private_data = snap;
	return 0;
}

static ssize_t fs_snapshot_read(struct file *file, char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct fs_snapshot *snap = file->private_data;

	return simple_read_from_buffer(ubuf, count, ppos, snap->text,
				       snap->length);
}

static int fs_snapshot_release(struct inode *inode, struct file *file)
{
	kvfree(file->private_data);
	return 0;
}

static const struct file_operations fs_snapshot_fops = {
	.owner = THIS_MODULE,
	.open = fs_snapshot_open,
	.read = fs_snapshot_read,
	.llseek = default_llseek,
	.release = fs_snapshot_release,
};

int fs_debugfs_create(void)
{
	fs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	if (IS_ERR(fs_dir)) {
		pr_err("cannot create debugfs directory: %ld\n",
		       PTR_ERR(fs_dir));
		return PTR_ERR(fs_dir);
	}
	debugfs_create_file("version", 0400, fs_dir, fs_format_version,
			    &fs_snapshot_fops);
	debugfs_create_file("counters", 0400, fs_dir, fs_format_counters,
			    &fs_snapshot_fops);
	return 0;
}

void fs_debugfs_remove(void)
{
	debugfs_remove(fs_dir);
	fs_dir = NULL;
}
