// SPDX-License-Identifier: GPL-2.0
/*
 * mailbox: a one-message box as a misc character device (/dev/mailbox).
 *
 * A write puts one message in the box (blocking while it is full), a read takes it out whole (blocking
 * while it is empty), poll says which of the two would block. Three ioctls: STATUS reports the state,
 * SEAL closes the box to writers (readers drain it, then read end of file), RESET empties it again.
 * Module parameters: capacity (largest message) and max_openers (0: no limit).
 */
#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "mailbox_uapi.h"

static unsigned int capacity = 256;
module_param(capacity, uint, 0444);
MODULE_PARM_DESC(capacity, "largest message in bytes, 1..65536 (default 256)");

static unsigned int max_openers;
module_param(max_openers, uint, 0444);
MODULE_PARM_DESC(max_openers, "most open file descriptions at once, 0 for no limit (default 0)");

static struct {
	struct mutex lock; /* state, buf, len, openers */
	wait_queue_head_t readq;
	wait_queue_head_t writeq;
	u32 state;
	char *buf;
	size_t len;
	unsigned int openers;
	atomic_t sleeping_readers;
} box;

static bool box_readable(void)
{
	return READ_ONCE(box.len) > 0 || READ_ONCE(box.state) == MAILBOX_SEALED;
}

static bool box_writable(void)
{
	return READ_ONCE(box.state) != MAILBOX_FULL;
}

static int mailbox_open(struct inode *inode, struct file *file)
{
	int ret = 0;

	mutex_lock(&box.lock);
	if (max_openers && box.openers >= max_openers)
		ret = -EBUSY;
	else
		box.openers++;
	mutex_unlock(&box.lock);
	return ret ? ret : stream_open(inode, file);
}

static int mailbox_release(struct inode *inode, struct file *file)
{
	mutex_lock(&box.lock);
	box.openers--;
	mutex_unlock(&box.lock);
	return 0;
}

static ssize_t mailbox_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	ssize_t ret;

	if (mutex_lock_interruptible(&box.lock))
		return -ERESTARTSYS;
	while (box.len == 0 && box.state != MAILBOX_SEALED) {
		mutex_unlock(&box.lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		atomic_inc(&box.sleeping_readers);
		ret = wait_event_interruptible(box.readq, box_readable());
		atomic_dec(&box.sleeping_readers);
		if (ret)
			return ret;
		if (mutex_lock_interruptible(&box.lock))
			return -ERESTARTSYS;
	}
	if (box.len == 0) {
		ret = 0; /* sealed and drained: end of file */
	} else if (count < box.len) {
		ret = -EMSGSIZE; /* messages are taken whole */
	} else if (copy_to_user(ubuf, box.buf, box.len)) {
		ret = -EFAULT;
	} else {
		ret = box.len;
		box.len = 0;
		if (box.state == MAILBOX_FULL)
			box.state = MAILBOX_EMPTY;
		wake_up_interruptible(&box.writeq);
	}
	mutex_unlock(&box.lock);
	return ret;
}

static ssize_t mailbox_write(struct file *file, const char __user *ubuf, size_t count, loff_t *ppos)
{
	ssize_t ret;

	if (count > capacity)
		return -EMSGSIZE;
	if (count == 0)
		return 0;
	if (mutex_lock_interruptible(&box.lock))
		return -ERESTARTSYS;
	while (box.state == MAILBOX_FULL) {
		mutex_unlock(&box.lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(box.writeq, box_writable()))
			return -ERESTARTSYS;
		if (mutex_lock_interruptible(&box.lock))
			return -ERESTARTSYS;
	}
	if (box.state == MAILBOX_SEALED) {
		ret = -EPIPE;
	} else if (copy_from_user(box.buf, ubuf, count)) {
		ret = -EFAULT;
	} else {
		box.len = count;
		box.state = MAILBOX_FULL;
		ret = count;
		wake_up_interruptible(&box.readq);
	}
	mutex_unlock(&box.lock);
	return ret;
}

static __poll_t mailbox_poll(struct file *file, poll_table *wait)
{
	__poll_t mask = 0;

	poll_wait(file, &box.readq, wait);
	poll_wait(file, &box.writeq, wait);
	if (box_readable())
		mask |= EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(box.state) == MAILBOX_EMPTY)
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

static long mailbox_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mailbox_status st;

	switch (cmd) {
	case MAILBOX_IOC_STATUS:
		mutex_lock(&box.lock);
		st = (struct mailbox_status){ .state = box.state, .len = box.len, .capacity = capacity, .openers = box.openers };
		mutex_unlock(&box.lock);
		return copy_to_user((void __user *)arg, &st, sizeof(st)) ? -EFAULT : 0;
	case MAILBOX_IOC_SEAL:
		if (arg & ~(unsigned long)MAILBOX_SEAL_DROP)
			return -EINVAL;
		mutex_lock(&box.lock);
		if (arg & MAILBOX_SEAL_DROP)
			box.len = 0;
		box.state = MAILBOX_SEALED;
		mutex_unlock(&box.lock);
		wake_up_interruptible(&box.readq);
		wake_up_interruptible(&box.writeq);
		return 0;
	case MAILBOX_IOC_RESET:
		/* Readers asleep on an emptied box is the caller's bug: say so once, then reset anyway. */
		WARN_ONCE(atomic_read(&box.sleeping_readers) > 0, "mailbox: reset while %d readers sleep\n",
			  atomic_read(&box.sleeping_readers));
		mutex_lock(&box.lock);
		box.len = 0;
		box.state = MAILBOX_EMPTY;
		mutex_unlock(&box.lock);
		wake_up_interruptible(&box.writeq);
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations mailbox_fops = {
	.owner = THIS_MODULE, /* an open /dev/mailbox pins the module: rmmod is refused */
	.open = mailbox_open,
	.release = mailbox_release,
	.read = mailbox_read,
	.write = mailbox_write,
	.poll = mailbox_poll,
	.unlocked_ioctl = mailbox_ioctl,
};

static struct miscdevice mailbox_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "mailbox",
	.fops = &mailbox_fops,
	.mode = 0666,
};

static int __init mailbox_init(void)
{
	int ret;

	if (capacity < 1 || capacity > 65536) {
		pr_err("mailbox: capacity=%u is outside 1..65536\n", capacity);
		return -EINVAL;
	}
	mutex_init(&box.lock);
	init_waitqueue_head(&box.readq);
	init_waitqueue_head(&box.writeq);
	box.state = MAILBOX_EMPTY;
	box.buf = kmalloc(capacity, GFP_KERNEL);
	if (!box.buf)
		return -ENOMEM;
	ret = misc_register(&mailbox_dev);
	if (ret) {
		kfree(box.buf);
		return ret;
	}
	pr_info("mailbox: ready, capacity %u, max_openers %u\n", capacity, max_openers);
	return 0;
}

static void __exit mailbox_exit(void)
{
	misc_deregister(&mailbox_dev);
	kfree(box.buf);
	pr_info("mailbox: gone\n");
}

module_init(mailbox_init);
module_exit(mailbox_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A one-message box as a misc character device (ktest-rig example)");
