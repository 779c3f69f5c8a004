/* transact.c - the client transaction: send N messages, wait for each one's answer (nlclient's semantics). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktnl.h"

static int fail(struct ktnl_outcome *out, int status, int err, const char *fmt, ...)
{
	int n;
	va_list ap;

	out->status = status;
	out->err = err;
	n = snprintf(out->message, sizeof(out->message), "%s: ", ktnl_errno_name(err));
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(out->message))
		vsnprintf(out->message + n, sizeof(out->message) - (size_t)n, fmt, ap);
	va_end(ap);
	return status;
}

/* Whether msg answers the request with seq, given the request's flags (see ktnl_transact). */
static int is_answer(const struct ktnl_msg *msg, uint32_t seq, uint16_t req_flags)
{
	if (msg->seq != seq)
		return 0;
	if (msg->is_error || msg->type == NLMSG_DONE)
		return 1;
	if (msg->flags & NLM_F_MULTI)
		return 0;
	return !(req_flags & NLM_F_ACK);
}

/* Reads datagrams until the answer to seq. Returns a status; fills out on failure. */
static int await_answer(struct ktnl_sock *s, uint8_t *buf, const struct ktnl_call *call, uint32_t seq,
			ktnl_msg_fn fn, void *ctx, struct ktnl_outcome *out)
{
	for (;;) {
		struct ktnl_iter it;
		struct ktnl_msg msg;
		int answered = 0, kernel_err = 0, r;
		long n = ktnl_recv(s, buf, KTNL_RECV_BUF, call->timeout_ms);

		if (n == -ETIMEDOUT)
			return fail(out, KTNL_TIMEOUT, -ETIMEDOUT, "no answer to seq %u within %d ms", seq,
				    call->timeout_ms);
		if (n < 0)
			return fail(out, KTNL_SOCKET, (int)n, "recv failed: %s", strerror((int)-n));
		ktnl_iter_init(&it, buf, (size_t)n);
		while ((r = ktnl_iter_next(&it, &msg)) == 1) {
			if (fn && fn(ctx, &msg))
				return fail(out, KTNL_SOCKET, -ECANCELED, "stopped by the reply callback");
			if (!answered && is_answer(&msg, seq, call->msg.flags)) {
				answered = 1;
				kernel_err = msg.is_error ? msg.error : 0;
			}
		}
		if (r < 0)
			return fail(out, KTNL_SOCKET, -EBADMSG, "malformed datagram from the kernel (%ld bytes)", n);
		if (kernel_err)
			return fail(out, KTNL_KERNEL, kernel_err < 0 ? kernel_err : -kernel_err,
				    "kernel answered seq %u with error %d", seq, kernel_err);
		if (answered)
			return KTNL_OK;
	}
}

int ktnl_transact(struct ktnl_sock *s, const struct ktnl_call *call, ktnl_msg_fn fn, void *ctx,
		  struct ktnl_outcome *out)
{
	size_t size = ktnl_encoded_size(call->msg.payload_len);
	uint8_t *req, *buf;
	unsigned i;
	int status = KTNL_OK;

	memset(out, 0, sizeof(*out));
	if (call->count < 1)
		return fail(out, KTNL_USAGE, -EINVAL, "count must be at least 1");
	if (call->msg.payload_len > KTNL_MAX_PAYLOAD)
		return fail(out, KTNL_USAGE, -EMSGSIZE, "payload of %zu bytes is over %d", call->msg.payload_len,
			    KTNL_MAX_PAYLOAD);
	req = malloc(size);
	buf = malloc(KTNL_RECV_BUF);
	if (!req || !buf) {
		free(req);
		free(buf);
		return fail(out, KTNL_SOCKET, -ENOMEM, "out of memory");
	}
	for (i = 0; i < call->count && status == KTNL_OK; i++) {
		struct ktnl_spec spec = call->msg;
		int err;

		spec.seq = call->msg.seq + i;
		ktnl_encode(&spec, req, size);
		if (call->around_send)
			call->around_send(call->hook_ctx, 0);
		err = ktnl_send(s, req, size);
		if (call->around_send)
			call->around_send(call->hook_ctx, 1);
		if (err)
			status = fail(out, KTNL_SOCKET, err, "send of seq %u failed: %s", spec.seq, strerror(-err));
		else if (!call->no_recv)
			status = await_answer(s, buf, call, spec.seq, fn, ctx, out);
	}
	free(req);
	free(buf);
	return status;
}

int ktnl_open_for(struct ktnl_sock *s, int proto, uint32_t groups, struct ktnl_outcome *out)
{
	int err = ktnl_open(s, proto, groups);

	memset(out, 0, sizeof(*out));
	if (err)
		return fail(out, KTNL_SOCKET, err, "netlink socket for protocol %d: %s", proto, strerror(-err));
	return KTNL_OK;
}

int ktnl_run(int proto, uint32_t groups, const struct ktnl_call *call, ktnl_msg_fn fn, void *ctx,
	     struct ktnl_outcome *out)
{
	struct ktnl_sock s;
	int status = ktnl_open_for(&s, proto, groups, out);

	if (status != KTNL_OK)
		return status;
	status = ktnl_transact(&s, call, fn, ctx, out);
	ktnl_close(&s);
	return status;
}
