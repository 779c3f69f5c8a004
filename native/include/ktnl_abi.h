/* ktnl_abi.h - the netlink ABI ktnl needs: from <linux/netlink.h> when present, else the stable uapi values. */
#ifndef KTNL_ABI_H
#define KTNL_ABI_H

#include <stdint.h>
#include <sys/socket.h>

/*
 * musl-gcc (the static guest client) has no kernel uapi headers on its include path; the netlink
 * ABI below is frozen (include/uapi/linux/netlink.h), so the client does not need them.
 */
#if defined(__has_include)
#if __has_include(<linux/netlink.h>)
#include <linux/netlink.h>
#define KTNL_HAVE_LINUX_NETLINK 1
#endif
#endif

#ifndef KTNL_HAVE_LINUX_NETLINK
struct sockaddr_nl {
	sa_family_t nl_family;
	unsigned short nl_pad;
	uint32_t nl_pid;
	uint32_t nl_groups;
};

struct nlmsghdr {
	uint32_t nlmsg_len;
	uint16_t nlmsg_type;
	uint16_t nlmsg_flags;
	uint32_t nlmsg_seq;
	uint32_t nlmsg_pid;
};

struct nlmsgerr {
	int error;
	struct nlmsghdr msg;
};

#define NLM_F_REQUEST 0x01
#define NLM_F_MULTI 0x02
#define NLM_F_ACK 0x04
#define NLM_F_ECHO 0x08
#define NLM_F_ROOT 0x100
#define NLM_F_MATCH 0x200
#define NLM_F_DUMP (NLM_F_ROOT | NLM_F_MATCH)

#define NLMSG_ALIGNTO 4U
#define NLMSG_ALIGN(len) (((len) + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1))
#define NLMSG_HDRLEN ((int)NLMSG_ALIGN(sizeof(struct nlmsghdr)))

#define NLMSG_NOOP 0x1
#define NLMSG_ERROR 0x2
#define NLMSG_DONE 0x3
#define NLMSG_OVERRUN 0x4
#define NLMSG_MIN_TYPE 0x10

#define NETLINK_ADD_MEMBERSHIP 1
#define NETLINK_CAP_ACK 10
#define NETLINK_EXT_ACK 11
#define MAX_LINKS 32
#endif

#ifndef AF_NETLINK
#define AF_NETLINK 16
#endif
#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

#endif /* KTNL_ABI_H */
