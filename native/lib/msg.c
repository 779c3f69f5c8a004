/* msg.c - builds netlink messages and walks received ones, checking every length. */
#include <errno.h>
#include <string.h>

#include "ktnl.h"

size_t ktnl_encoded_size(size_t payload_len)
{
	return KTNL_HDRLEN + payload_len;
}

long ktnl_encode(const struct ktnl_spec *spec, void *buf, size_t cap)
{
	struct nlmsghdr hdr;
	size_t total;

	if (spec->payload_len > KTNL_MAX_PAYLOAD)
		return -EMSGSIZE;
	total = ktnl_encoded_size(spec->payload_len);
	if (cap < total)
		return -ENOBUFS;
	hdr.nlmsg_len = spec->len_set ? spec->len : (uint32_t)total;
	hdr.nlmsg_type = spec->type;
	hdr.nlmsg_flags = spec->flags;
	hdr.nlmsg_seq = spec->seq;
	hdr.nlmsg_pid = spec->pid;
	memcpy(buf, &hdr, KTNL_HDRLEN);
	if (spec->payload_len)
		memcpy((uint8_t *)buf + KTNL_HDRLEN, spec->payload, spec->payload_len);
	return (long)total;
}

void ktnl_iter_init(struct ktnl_iter *it, const void *buf, size_t len)
{
	it->buf = buf;
	it->len = buf ? len : 0;
	it->off = 0;
}

static int iter_fail(struct ktnl_iter *it)
{
	it->off = it->len;
	return -EBADMSG;
}

int ktnl_iter_next(struct ktnl_iter *it, struct ktnl_msg *msg)
{
	struct nlmsghdr hdr;
	size_t left = it->len - it->off, step;
	const uint8_t *at = it->buf + it->off;

	if (left == 0)
		return 0;
	if (left < KTNL_HDRLEN)
		return iter_fail(it);
	memcpy(&hdr, at, KTNL_HDRLEN); /* the buffer may be unaligned */
	if (hdr.nlmsg_len < KTNL_HDRLEN || hdr.nlmsg_len > left)
		return iter_fail(it);

	memset(msg, 0, sizeof(*msg));
	msg->len = hdr.nlmsg_len;
	msg->type = hdr.nlmsg_type;
	msg->flags = hdr.nlmsg_flags;
	msg->seq = hdr.nlmsg_seq;
	msg->pid = hdr.nlmsg_pid;
	msg->payload = at + KTNL_HDRLEN;
	msg->payload_len = hdr.nlmsg_len - KTNL_HDRLEN;
	if (msg->type == NLMSG_ERROR) {
		int32_t error;

		if (msg->payload_len < sizeof(error))
			return iter_fail(it);
		memcpy(&error, msg->payload, sizeof(error));
		msg->is_error = 1;
		msg->error = error;
	}

	/* Messages are 4-byte aligned; the last one of a datagram may lack its padding. */
	step = NLMSG_ALIGN((size_t)hdr.nlmsg_len);
	it->off += step < left ? step : left;
	return 1;
}
