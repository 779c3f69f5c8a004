/* ktest_uapi.h - the ktest netlink protocol: message types and limits, shared by kernel and user space. */
#ifndef KTEST_UAPI_H
#define KTEST_UAPI_H

/*
 * Plain #defines only, no types and no includes: this header is included by the kernel module,
 * by the static guest client (musl, no kernel headers) and by the host library and addon.
 */

/* Default netlink protocol number (module parameter `proto`, nlclient --proto). */
#define KTEST_NETLINK_PROTO 30

/* Message types (nlmsg_type). Types below 0x10 are netlink control messages (NLMSG_MIN_TYPE). */
#define KTEST_MSG_HELLO 0x10  /* reply KTEST_HELLO_REPLY (NUL included), type HELLO */
#define KTEST_MSG_ECHO 0x11   /* reply the payload byte for byte, type ECHO */
#define KTEST_MSG_SILENT 0x12 /* log only; no reply, except an ack when NLM_F_ACK is set */

/* Largest accepted payload; a larger one is answered with NLMSG_ERROR -EMSGSIZE. */
#define KTEST_MAX_PAYLOAD 16384

/* Error for a type the module does not know (NLMSG_ERROR). */
#define KTEST_UNKNOWN_TYPE_ERRNO_NAME "EOPNOTSUPP"

/* At most this many payload bytes are copied (escaped, \xHH for non-printable) into the kernel log line. */
#define KTEST_LOG_MAX 200

/* The HELLO reply, sent with its terminating NUL (15 bytes: nlmsg_len 31). */
#define KTEST_HELLO_REPLY "hello users!!!"

/* Prefix of the kernel log line written for every message received. */
#define KTEST_LOG_PREFIX "kernel recv from user: "

#endif /* KTEST_UAPI_H */
