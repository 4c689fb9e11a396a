// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/forkscope/: root-only files. Reads render a snapshot
 * taken at open (one consistent view); control and filter take one command
 * per write; trace_pipe consumes records and blocks until there are some.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/kprobes.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/wait.h>
#include <generated/utsrelease.h>

#include <forkscope/core.h>

#include "glue.h"

#define FS_MAX_PROBES 64
#define FS_WRITE_MAX 256
#define FS_PIPE_BUFFER (16 * 1024)

static struct dentry *fs_dir;
static DEFINE_MUTEX(fs_write_lock);	/* control and filter writers */
static DEFINE_MUTEX(fs_pipe_lock);	/* trace_pipe consumers */
static DECLARE_WAIT_QUEUE_HEAD(fs_pipe_wait);

static void fs_pipe_wake(struct irq_work *work)
{
	wake_up_interruptible(&fs_pipe_wait);
}
static DEFINE_IRQ_WORK(fs_pipe_work, fs_pipe_wake);

/* platform.h: called from probe handlers, so the wake-up is deferred. */
void fs_platform_notify_readers(void)
{
	irq_work_queue(&fs_pipe_work);
}
NOKPROBE_SYMBOL(fs_platform_notify_readers);

static int fs_render(enum fs_file file, struct fs_text *text)
{
	struct fs_build_info info = {
		.kernel_release = utsname()->release,
		.built_for = UTS_RELEASE,
		.compiler = CONFIG_CC_VERSION_TEXT,
	};
	struct fs_probe_health *probes;
	unsigned int n;
	int err;

	probes = kcalloc(FS_MAX_PROBES, sizeof(*probes), GFP_KERNEL);
	if (!probes)
		return -ENOMEM;
	n = fs_probes_health(probes, FS_MAX_PROBES);
	err = fs_core_render(file, &info, probes, n, text);
	kfree(probes);
	return err;
}

static int fs_snapshot_open(struct inode *inode, struct file *file)
{
	struct fs_text *text;
	int err;

	text = kzalloc(sizeof(*text), GFP_KERNEL);
	if (!text)
		return -ENOMEM;
	err = fs_render((enum fs_file)(uintptr_t)inode->i_private, text);
	if (err) {
		kfree(text);
		return err;
	}
	file->private_data = text;
	return 0;
}

static ssize_t fs_snapshot_read(struct file *file, char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct fs_text *text = file->private_data;

	if (!text)	/* opened for writing only */
		return -EINVAL;
	return simple_read_from_buffer(ubuf, count, ppos, text->data,
				       text->length);
}

static int fs_snapshot_release(struct inode *inode, struct file *file)
{
	struct fs_text *text = file->private_data;

	if (text) {
		fs_core_text_free(text);
		kfree(text);
	}
	return 0;
}

static const struct file_operations fs_snapshot_fops = {
	.owner = THIS_MODULE,
	.open = fs_snapshot_open,
	.read = fs_snapshot_read,
	.llseek = default_llseek,
	.release = fs_snapshot_release,
};

/* control and filter: a snapshot when opened for reading, commands written. */
static int fs_command_open(struct inode *inode, struct file *file)
{
	if (!(file->f_mode & FMODE_READ))
		return 0;
	return fs_snapshot_open(inode, file);
}

static ssize_t fs_command_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	enum fs_file which = (enum fs_file)(uintptr_t)file_inode(file)->i_private;
	const char *name = which == FS_FILE_CONTROL ? "control" : "filter";
	const char *why = NULL;
	char buf[FS_WRITE_MAX + 1];
	int err;

	if (*ppos != 0) {
		pr_warn("%s: rejected: write at offset %lld: one command per write, from offset 0\n",
			name, *ppos);
		return -EINVAL;
	}
	if (count > FS_WRITE_MAX) {
		pr_warn("%s: rejected: write of %zu bytes is longer than %d\n", name,
			count, FS_WRITE_MAX);
		return -EINVAL;
	}
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	mutex_lock(&fs_write_lock);
	if (which == FS_FILE_CONTROL)
		err = fs_core_control(buf, count, &why);
	else
		err = fs_core_set_filter(buf, count, &why);
	mutex_unlock(&fs_write_lock);
	if (err) {
		pr_warn("%s: rejected: %s\n", name, why ?: "invalid input");
		return err;
	}
	return count;
}

static const struct file_operations fs_command_fops = {
	.owner = THIS_MODULE,
	.open = fs_command_open,
	.read = fs_snapshot_read,
	.write = fs_command_write,
	.llseek = default_llseek,
	.release = fs_snapshot_release,
};

/* trace_pipe: whole lines consumed into a per-open buffer, then copied out. */
struct fs_pipe {
	size_t start, end;
	char data[FS_PIPE_BUFFER];
};

static int fs_pipe_open(struct inode *inode, struct file *file)
{
	file->private_data = kvzalloc(sizeof(struct fs_pipe), GFP_KERNEL);
	if (!file->private_data)
		return -ENOMEM;
	return stream_open(inode, file);
}

static ssize_t fs_pipe_read(struct file *file, char __user *ubuf, size_t count,
			    loff_t *ppos)
{
	struct fs_pipe *pipe = file->private_data;
	size_t n;
	s64 got;
	int err;

	while (pipe->start == pipe->end) {
		mutex_lock(&fs_pipe_lock);
		got = fs_core_consume(pipe->data, sizeof(pipe->data));
		mutex_unlock(&fs_pipe_lock);
		if (got < 0)
			return got;
		if (got > 0) {
			pipe->start = 0;
			pipe->end = got;
			break;
		}
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		fs_core_set_reader_waiting(1);
		/* The timeout is a backstop for a wake-up raced away. */
		err = wait_event_interruptible_timeout(fs_pipe_wait,
						       fs_core_has_unconsumed(),
						       HZ / 5);
		if (err < 0)
			return err;
	}
	n = min(count, pipe->end - pipe->start);
	if (copy_to_user(ubuf, pipe->data + pipe->start, n))
		return -EFAULT;
	pipe->start += n;
	return n;
}

static __poll_t fs_pipe_poll(struct file *file, poll_table *wait)
{
	struct fs_pipe *pipe = file->private_data;

	fs_core_set_reader_waiting(1);
	poll_wait(file, &fs_pipe_wait, wait);
	if (pipe->start != pipe->end || fs_core_has_unconsumed())
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static int fs_pipe_release(struct inode *inode, struct file *file)
{
	kvfree(file->private_data);
	return 0;
}

static const struct file_operations fs_pipe_fops = {
	.owner = THIS_MODULE,
	.open = fs_pipe_open,
	.read = fs_pipe_read,
	.poll = fs_pipe_poll,
	.llseek = no_llseek,
	.release = fs_pipe_release,
};

static void fs_add(const char *name, umode_t mode, enum fs_file file,
		   const struct file_operations *fops)
{
	debugfs_create_file(name, mode, fs_dir, (void *)(uintptr_t)file, fops);
}

int fs_debugfs_create(void)
{
	fs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	if (IS_ERR(fs_dir)) {
		pr_err("cannot create debugfs directory: %ld\n",
		       PTR_ERR(fs_dir));
		return PTR_ERR(fs_dir);
	}
	fs_add("version", 0400, FS_FILE_VERSION, &fs_snapshot_fops);
	fs_add("counters", 0400, FS_FILE_COUNTERS, &fs_snapshot_fops);
	fs_add("stages", 0400, FS_FILE_STAGES, &fs_snapshot_fops);
	fs_add("stats", 0400, FS_FILE_STATS, &fs_snapshot_fops);
	fs_add("hist", 0400, FS_FILE_HIST, &fs_snapshot_fops);
	fs_add("trace", 0400, FS_FILE_TRACE, &fs_snapshot_fops);
	fs_add("records", 0400, FS_FILE_RECORDS, &fs_snapshot_fops);
	fs_add("slowest", 0400, FS_FILE_SLOWEST, &fs_snapshot_fops);
	fs_add("verdicts", 0400, FS_FILE_VERDICTS, &fs_snapshot_fops);
	fs_add("spawns", 0400, FS_FILE_SPAWNS, &fs_snapshot_fops);
	fs_add("control", 0600, FS_FILE_CONTROL, &fs_command_fops);
	fs_add("filter", 0600, FS_FILE_FILTER, &fs_command_fops);
	fs_add("trace_pipe", 0400, FS_FILE_TRACE, &fs_pipe_fops);
	return 0;
}

void fs_debugfs_remove(void)
{
	debugfs_remove(fs_dir);
	fs_dir = NULL;
	irq_work_sync(&fs_pipe_work);
}
