// SPDX-License-Identifier: GPL-2.0
/* ktest.c - netlink test module: answers HELLO, ECHO and SILENT messages on a kernel netlink socket. */

#include <linux/errno.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/netlink.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/version.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "ktest_uapi.h"

/*
 * Protocol (see ktest_uapi.h), one reply per request, always to the real sender
 * (NETLINK_CB(skb).portid, never the spoofable nlmsg_pid) and with the request's seq:
 *   HELLO  -> HELLO reply "hello users!!!" (NUL included)
 *   ECHO   -> ECHO reply carrying the payload byte for byte
 *   SILENT -> nothing (an ack if NLM_F_ACK is set)
 *   other type                       -> NLMSG_ERROR -EOPNOTSUPP
 *   payload > KTEST_MAX_PAYLOAD      -> NLMSG_ERROR -EMSGSIZE
 * netlink_rcv_skb() walks every message of a datagram, drops a message whose nlmsg_len is shorter
 * than a header or longer than what is left (and the rest of that datagram, silently), skips
 * messages without NLM_F_REQUEST and control types (< 0x10), and sends the NLMSG_ERROR acks.
 *
 * Test-only faults, compiled in only with a -D define (used by test/fixtures/kmods/):
 *   KTEST_FAULT_WRONG_REPLY   HELLO answers "hello world"
 *   KTEST_FAULT_INIT_FAILS    init returns -ENODEV
 *   KTEST_FAULT_OOPS_ON_ACK   NULL dereference when a request carries NLM_F_ACK
 */

#if LINUX_VERSION_CODE >= KERNEL_VERSION(3, 7, 0)
#define KTEST_SENDER(skb) (NETLINK_CB(skb).portid)
#else
#define KTEST_SENDER(skb) (NETLINK_CB(skb).pid)
#endif

/* Escaped log copy: 4 characters per byte at most, plus NUL. */
#define KTEST_LOG_BUF (KTEST_LOG_MAX * 4 + 1)

static int proto = KTEST_NETLINK_PROTO;
module_param(proto, int, 0444);
MODULE_PARM_DESC(proto, "netlink protocol number to serve (default 30)");

static struct sock *ktest_sock;

#ifdef KTEST_FAULT_WRONG_REPLY
static const char ktest_hello[] = "hello world";
#else
static const char ktest_hello[] = KTEST_HELLO_REPLY;
#endif

/* Writes data as text into out (KTEST_LOG_BUF bytes): printable ASCII as is, other bytes as \xHH. */
static void ktest_escape(const u8 *data, int len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	int i, o = 0;

	for (i = 0; i < len; i++) {
		u8 c = data[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[o++] = c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	out[o] = '\0';
}

/* Logs "kernel recv from user: <message>", at most KTEST_LOG_MAX bytes, a C string's NUL dropped. */
static void ktest_log_message(const u8 *data, int len)
{
	int shown;
	char *buf;

	if (len > 0 && data[len - 1] == '\0')
		len--;
	shown = len < KTEST_LOG_MAX ? len : KTEST_LOG_MAX;
	buf = kmalloc(KTEST_LOG_BUF, GFP_KERNEL);
	if (!buf) {
		printk(KERN_INFO KTEST_LOG_PREFIX "(%d bytes, not shown)\n", len);
		return;
	}
	ktest_escape(data, shown, buf);
	printk(KERN_INFO KTEST_LOG_PREFIX "%s%s\n", buf, shown < len ? "..." : "");
	kfree(buf);
}

/* Sends one message of `type` carrying data to the sender of `in`, with the request's seq. */
static int ktest_reply(struct sk_buff *in, const struct nlmsghdr *req, u16 type,
		       const void *data, int len)
{
	struct nlmsghdr *nlh;
	struct sk_buff *skb;
	int err;

	skb = nlmsg_new(len, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	nlh = nlmsg_put(skb, 0, req->nlmsg_seq, type, len, 0);
	if (!nlh) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	memcpy(nlmsg_data(nlh), data, len);
	/* netlink_unicast() consumes skb, also on error. */
	err = netlink_unicast(ktest_sock, skb, KTEST_SENDER(in), MSG_DONTWAIT);
	return err < 0 ? err : 0;
}

#ifdef KTEST_FAULT_OOPS_ON_ACK
/* Test fault: a NULL dereference in the sender's process context (stable oops title). */
static noinline void ktest_fault_oops_on_ack(void)
{
	int *volatile ptr = NULL;

	pr_info("ktest: NLM_F_ACK seen, dereferencing NULL (KTEST_FAULT_OOPS_ON_ACK)\n");
	*ptr = 0x6b;	/* @fault oops_on_ack */
}
#endif

/* Handles one request; a negative return becomes an NLMSG_ERROR reply (netlink_rcv_skb). */
static int ktest_handle(struct sk_buff *skb, struct nlmsghdr *nlh)
{
	const u8 *data = nlmsg_data(nlh);
	int len = nlmsg_len(nlh);

	ktest_log_message(data, len);
	if (len > KTEST_MAX_PAYLOAD)
		return -EMSGSIZE;
#ifdef KTEST_FAULT_OOPS_ON_ACK
	if (nlh->nlmsg_flags & NLM_F_ACK)
		ktest_fault_oops_on_ack();
#endif
	switch (nlh->nlmsg_type) {
	case KTEST_MSG_HELLO:
		return ktest_reply(skb, nlh, KTEST_MSG_HELLO, ktest_hello, sizeof(ktest_hello));
	case KTEST_MSG_ECHO:
		return ktest_reply(skb, nlh, KTEST_MSG_ECHO, data, len);
	case KTEST_MSG_SILENT:
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(4, 12, 0)
static int ktest_rcv_msg(struct sk_buff *skb, struct nlmsghdr *nlh, struct netlink_ext_ack *extack)
{
	int err = ktest_handle(skb, nlh);

	if (err == -EOPNOTSUPP)
		NL_SET_ERR_MSG(extack, "ktest: unknown message type");
	else if (err == -EMSGSIZE)
		NL_SET_ERR_MSG(extack, "ktest: payload larger than KTEST_MAX_PAYLOAD");
	return err;
}
#else
static int ktest_rcv_msg(struct sk_buff *skb, struct nlmsghdr *nlh)
{
	return ktest_handle(skb, nlh);
}
#endif

/* Input callback: runs in the sending process's context, once per datagram. */
static void ktest_input(struct sk_buff *skb)
{
	netlink_rcv_skb(skb, ktest_rcv_msg);
}

static struct sock *ktest_create_socket(int unit)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(3, 6, 0)
	struct netlink_kernel_cfg cfg = {
		.input = ktest_input,
	};
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(3, 7, 0)
	return netlink_kernel_create(&init_net, unit, &cfg);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(3, 6, 0)
	return netlink_kernel_create(&init_net, unit, THIS_MODULE, &cfg);
#else
	return netlink_kernel_create(&init_net, unit, 0, ktest_input, NULL, THIS_MODULE);
#endif
}

/* Test fault: init fails (KTEST_FAULT_INIT_FAILS); 0 in the real module. */
static int ktest_fault_init(void)
{
#ifdef KTEST_FAULT_INIT_FAILS
	pr_err("ktest: init fails on purpose (KTEST_FAULT_INIT_FAILS)\n");
	return -ENODEV;
#else
	return 0;
#endif
}

static int __init ktest_init(void)
{
	int err = ktest_fault_init();

	if (err)
		return err;
	if (proto < 0 || proto >= MAX_LINKS) {
		pr_err("ktest: proto=%d out of range 0..%d\n", proto, MAX_LINKS - 1);
		return -EINVAL;
	}
	ktest_sock = ktest_create_socket(proto);
	if (!ktest_sock) {
		pr_err("ktest: cannot create netlink socket for protocol %d (in use?)\n", proto);
		return -EBUSY;
	}
	pr_info("ktest: netlink protocol %d ready\n", proto);
	return 0;
}

static void __exit ktest_exit(void)
{
	/* The only release: the socket belongs to netlink, not to a struct socket of ours. */
	netlink_kernel_release(ktest_sock);
	ktest_sock = NULL;
	pr_info("ktest: netlink protocol %d released\n", proto);
}

module_init(ktest_init);
module_exit(ktest_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ktest: netlink test module for ktest-rig");
MODULE_AUTHOR("ktest-rig");
