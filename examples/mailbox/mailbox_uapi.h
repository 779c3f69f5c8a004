/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* mailbox: the user-space interface of /dev/mailbox, shared by the module and its test program. */
#ifndef MAILBOX_UAPI_H
#define MAILBOX_UAPI_H

#include <linux/types.h>
#ifdef __KERNEL__
#include <linux/ioctl.h>
#else
#include <sys/ioctl.h> /* _IO, _IOR and ioctl() from the C library (musl's own macros, glibc's from linux/) */
#endif

#define MAILBOX_DEVICE "/dev/mailbox"

/* The box's states: EMPTY -write-> FULL -read-> EMPTY; SEAL from either -> SEALED; RESET -> EMPTY. */
#define MAILBOX_EMPTY 0
#define MAILBOX_FULL 1
#define MAILBOX_SEALED 2

/* MAILBOX_IOC_SEAL's argument: 0 keeps a pending message readable, MAILBOX_SEAL_DROP drops it. */
#define MAILBOX_SEAL_DROP 1

struct mailbox_status {
	__u32 state;
	__u32 len;      /* bytes of the pending message, 0 when none */
	__u32 capacity; /* the capacity module parameter */
	__u32 openers;  /* open file descriptions right now */
};

#define MAILBOX_IOC_MAGIC 'm'
#define MAILBOX_IOC_STATUS _IOR(MAILBOX_IOC_MAGIC, 1, struct mailbox_status)
#define MAILBOX_IOC_SEAL _IO(MAILBOX_IOC_MAGIC, 2)
#define MAILBOX_IOC_RESET _IO(MAILBOX_IOC_MAGIC, 3)

#endif
