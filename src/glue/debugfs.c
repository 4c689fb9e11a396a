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

#define FORKSCOPE_WRITE_MAX 256
#define FORKSCOPE_PIPE_BUFFER (16 * 1024)

static struct dentry *forkscope_dir;
static DEFINE_MUTEX(forkscope_write_lock);	/* control and filter writers */
static DEFINE_MUTEX(forkscope_pipe_lock);	/* trace_pipe consumers */
static DECLARE_WAIT_QUEUE_HEAD(forkscope_pipe_wait);

static void forkscope_pipe_wake(struct irq_work *work)
{
	wake_up_interruptible(&forkscope_pipe_wait);
}
static DEFINE_IRQ_WORK(forkscope_pipe_work, forkscope_pipe_wake);

/* platform.h: called from probe handlers, so the wake-up is deferred. */
void forkscope_platform_notify_readers(void)
{
	irq_work_queue(&forkscope_pipe_work);
}
NOKPROBE_SYMBOL(forkscope_platform_notify_readers);

static int forkscope_render(enum forkscope_file file, struct forkscope_text *text)
{
	struct forkscope_build_info info = {
		.kernel_release = utsname()->release,
		.built_for = UTS_RELEASE,
		.compiler = CONFIG_CC_VERSION_TEXT,
	};
	struct forkscope_probe_health *probes;
	unsigned int n;
	int err;

	probes = kcalloc(FORKSCOPE_ANCHOR_COUNT, sizeof(*probes), GFP_KERNEL);
	if (!probes)
		return -ENOMEM;
	n = forkscope_plan_health(probes, FORKSCOPE_ANCHOR_COUNT);
	forkscope_plan_memory(&info.kretprobe_bytes, &info.plan_bytes);
	err = forkscope_core_render(file, &info, probes, n, text);
	kfree(probes);
	return err;
}

static int forkscope_snapshot_open(struct inode *inode, struct file *file)
{
	struct forkscope_text *text;
	int err;

	text = kzalloc(sizeof(*text), GFP_KERNEL);
	if (!text)
		return -ENOMEM;
	err = forkscope_render((enum forkscope_file)(uintptr_t)inode->i_private, text);
	if (err) {
		kfree(text);
		return err;
	}
	file->private_data = text;
	return 0;
}

static ssize_t forkscope_snapshot_read(struct file *file, char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct forkscope_text *text = file->private_data;

	if (!text)	/* opened for writing only */
		return -EINVAL;
	return simple_read_from_buffer(ubuf, count, ppos, text->data,
				       text->length);
}

static int forkscope_snapshot_release(struct inode *inode, struct file *file)
{
	struct forkscope_text *text = file->private_data;

	if (text) {
		forkscope_core_text_free(text);
		kfree(text);
	}
	return 0;
}

static const struct file_operations forkscope_snapshot_fops = {
	.owner = THIS_MODULE,
	.open = forkscope_snapshot_open,
	.read = forkscope_snapshot_read,
	.llseek = default_llseek,
	.release = forkscope_snapshot_release,
};

/* control and filter: a snapshot when opened for reading, commands written. */
static int forkscope_command_open(struct inode *inode, struct file *file)
{
	if (!(file->f_mode & FMODE_READ))
		return 0;
	return forkscope_snapshot_open(inode, file);
}

static ssize_t forkscope_command_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	enum forkscope_file which = (enum forkscope_file)(uintptr_t)file_inode(file)->i_private;
	const char *name = which == FORKSCOPE_FILE_CONTROL ? "control" : "filter";
	const char *why = NULL;
	char buf[FORKSCOPE_WRITE_MAX + 1];
	int err;

	if (*ppos != 0) {
		pr_warn("%s: rejected: write at offset %lld: one command per write, from offset 0\n",
			name, *ppos);
		return -EINVAL;
	}
	if (count > FORKSCOPE_WRITE_MAX) {
		pr_warn("%s: rejected: write of %zu bytes is longer than %d\n", name,
			count, FORKSCOPE_WRITE_MAX);
		return -EINVAL;
	}
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	mutex_lock(&forkscope_write_lock);
	if (which == FORKSCOPE_FILE_CONTROL) {
		err = forkscope_core_control(buf, count, &why);
		/* enable, disable and detail change what the plan arms. */
		if (!err && forkscope_plan_follow())
			pr_warn("control: the probe plan did not follow (see stages)\n");
	} else
		err = forkscope_core_set_filter(buf, count, &why);
	mutex_unlock(&forkscope_write_lock);
	if (err) {
		pr_warn("%s: rejected: %s\n", name, why ?: "invalid input");
		return err;
	}
	return count;
}

static const struct file_operations forkscope_command_fops = {
	.owner = THIS_MODULE,
	.open = forkscope_command_open,
	.read = forkscope_snapshot_read,
	.write = forkscope_command_write,
	.llseek = default_llseek,
	.release = forkscope_snapshot_release,
};

/* trace_pipe: whole lines consumed into a per-open buffer, then copied out. */
struct forkscope_pipe {
	size_t start, end;
	char data[FORKSCOPE_PIPE_BUFFER];
};

static int forkscope_pipe_open(struct inode *inode, struct file *file)
{
	file->private_data = kvzalloc(sizeof(struct forkscope_pipe), GFP_KERNEL);
	if (!file->private_data)
		return -ENOMEM;
	return stream_open(inode, file);
}

static ssize_t forkscope_pipe_read(struct file *file, char __user *ubuf, size_t count,
			    loff_t *ppos)
{
	struct forkscope_pipe *pipe = file->private_data;
	size_t n;
	s64 got;
	int err;

	while (pipe->start == pipe->end) {
		mutex_lock(&forkscope_pipe_lock);
		got = forkscope_core_consume(pipe->data, sizeof(pipe->data));
		mutex_unlock(&forkscope_pipe_lock);
		if (got < 0)
			return got;
		if (got > 0) {
			pipe->start = 0;
			pipe->end = got;
			break;
		}
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		forkscope_core_set_reader_waiting(1);
		/* The timeout is a backstop for a wake-up raced away. */
		err = wait_event_interruptible_timeout(forkscope_pipe_wait,
						       forkscope_core_has_unconsumed(),
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

static __poll_t forkscope_pipe_poll(struct file *file, poll_table *wait)
{
	struct forkscope_pipe *pipe = file->private_data;

	forkscope_core_set_reader_waiting(1);
	poll_wait(file, &forkscope_pipe_wait, wait);
	if (pipe->start != pipe->end || forkscope_core_has_unconsumed())
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static int forkscope_pipe_release(struct inode *inode, struct file *file)
{
	kvfree(file->private_data);
	return 0;
}

static const struct file_operations forkscope_pipe_fops = {
	.owner = THIS_MODULE,
	.open = forkscope_pipe_open,
	.read = forkscope_pipe_read,
	.poll = forkscope_pipe_poll,
	.release = forkscope_pipe_release,
};

static void forkscope_add(const char *name, umode_t mode, enum forkscope_file file,
		   const struct file_operations *fops)
{
	debugfs_create_file(name, mode, forkscope_dir, (void *)(uintptr_t)file, fops);
}

int forkscope_debugfs_create(void)
{
	forkscope_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	if (IS_ERR(forkscope_dir)) {
		pr_err("cannot create debugfs directory: %ld\n",
		       PTR_ERR(forkscope_dir));
		return PTR_ERR(forkscope_dir);
	}
	forkscope_add("version", 0400, FORKSCOPE_FILE_VERSION, &forkscope_snapshot_fops);
	forkscope_add("counters", 0400, FORKSCOPE_FILE_COUNTERS, &forkscope_snapshot_fops);
	forkscope_add("stages", 0400, FORKSCOPE_FILE_STAGES, &forkscope_snapshot_fops);
	forkscope_add("stats", 0400, FORKSCOPE_FILE_STATS, &forkscope_snapshot_fops);
	forkscope_add("stats_net", 0400, FORKSCOPE_FILE_STATS_NET, &forkscope_snapshot_fops);
	forkscope_add("hist", 0400, FORKSCOPE_FILE_HIST, &forkscope_snapshot_fops);
	forkscope_add("trace", 0400, FORKSCOPE_FILE_TRACE, &forkscope_snapshot_fops);
	forkscope_add("records", 0400, FORKSCOPE_FILE_RECORDS, &forkscope_snapshot_fops);
	forkscope_add("slowest", 0400, FORKSCOPE_FILE_SLOWEST, &forkscope_snapshot_fops);
	forkscope_add("verdicts", 0400, FORKSCOPE_FILE_VERDICTS, &forkscope_snapshot_fops);
	forkscope_add("spawns", 0400, FORKSCOPE_FILE_SPAWNS, &forkscope_snapshot_fops);
	forkscope_add("control", 0600, FORKSCOPE_FILE_CONTROL, &forkscope_command_fops);
	forkscope_add("filter", 0600, FORKSCOPE_FILE_FILTER, &forkscope_command_fops);
	forkscope_add("trace_pipe", 0400, FORKSCOPE_FILE_TRACE, &forkscope_pipe_fops);
	forkscope_calibrate_debugfs(forkscope_dir);
	return 0;
}

void forkscope_debugfs_remove(void)
{
	debugfs_remove(forkscope_dir);
	forkscope_dir = NULL;
	irq_work_sync(&forkscope_pipe_work);
}
