/* sock.c - a netlink socket to the kernel: open/bind, send, receive with a timeout, close. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ktnl.h"

int ktnl_open(struct ktnl_sock *s, int proto, uint32_t groups)
{
	struct sockaddr_nl addr;
	socklen_t alen = sizeof(addr);
	int one = 1;

	s->fd = -1;
	s->portid = 0;
	if (proto < 0 || proto >= MAX_LINKS)
		return -EPROTONOSUPPORT;
	s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (s->fd < 0)
		return -errno;
	memset(&addr, 0, sizeof(addr));
	addr.nl_family = AF_NETLINK;
	addr.nl_groups = groups;
	if (bind(s->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&addr, &alen) < 0) {
		int err = -errno;

		ktnl_close(s);
		return err;
	}
	s->portid = addr.nl_pid;
	/* Errors without a copy of the request (kernels >= 4.3; older ones ignore it). */
	(void)setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return 0;
}

int ktnl_send(struct ktnl_sock *s, const void *buf, size_t len)
{
	struct sockaddr_nl to;
	ssize_t n;

	memset(&to, 0, sizeof(to));
	to.nl_family = AF_NETLINK;
	do
		n = sendto(s->fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long ktnl_recv(struct ktnl_sock *s, void *buf, size_t cap, int timeout_ms)
{
	long long deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);

	for (;;) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		struct sockaddr_nl from;
		socklen_t flen = sizeof(from);
		int wait = -1, r;
		ssize_t n;

		if (timeout_ms >= 0) {
			long long left = deadline - now_ms();

			wait = left > 0 ? (int)left : 0;
		}
		r = poll(&pfd, 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recvfrom(s->fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (from.nl_pid != 0)
			continue; /* not from the kernel */
		if ((size_t)n > cap)
			return -EMSGSIZE;
		return (long)n;
	}
}

void ktnl_close(struct ktnl_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
