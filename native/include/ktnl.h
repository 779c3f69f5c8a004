/* ktnl.h - netlink framing and the client transaction, shared by nlclient, the node addon and the fuzzer. */
#ifndef KTNL_H
#define KTNL_H

#include <stddef.h>
#include <stdint.h>

#include "ktnl_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Netlink header length (16). */
#define KTNL_HDRLEN 16
/* Receive buffer: holds a 16 KiB ECHO reply or a dump chunk (larger datagrams fail with EMSGSIZE). */
#define KTNL_RECV_BUF 65536
/* Largest payload the library builds (the socket's send buffer limits it further). */
#define KTNL_MAX_PAYLOAD (1024 * 1024)

/* ---- building messages ---- */

/* A message to build. Every header field is taken as given, so malformed or spoofed messages can be made. */
struct ktnl_spec {
	uint16_t type;
	uint16_t flags;
	uint32_t seq;
	uint32_t pid;
	/* Nonzero: write `len` into nlmsg_len instead of the real length (the datagram stays real). */
	int len_set;
	uint32_t len;
	const void *payload;
	size_t payload_len;
};

/* Bytes ktnl_encode writes for a payload: header + payload, unpadded. */
size_t ktnl_encoded_size(size_t payload_len);

/* Writes the message into buf. Returns its length, -ENOBUFS when cap is too small, -EMSGSIZE past KTNL_MAX_PAYLOAD. */
long ktnl_encode(const struct ktnl_spec *spec, void *buf, size_t cap);

/* ---- walking received messages (hostile input: every length is checked) ---- */

/* One decoded message; payload points into the walked buffer. */
struct ktnl_msg {
	uint32_t len;
	uint16_t type;
	uint16_t flags;
	uint32_t seq;
	uint32_t pid;
	const uint8_t *payload;
	size_t payload_len;
	/* NLMSG_ERROR: is_error is 1 and error its code (0: an ack, else a negative errno). */
	int is_error;
	int error;
};

struct ktnl_iter {
	const uint8_t *buf;
	size_t len;
	size_t off;
};

void ktnl_iter_init(struct ktnl_iter *it, const void *buf, size_t len);

/*
 * Next message of the buffer: 1 and *msg filled, 0 at the end, -EBADMSG when the rest is malformed
 * (a header cut short, nlmsg_len below 16 or past the end, an NLMSG_ERROR without its code);
 * after -EBADMSG the iterator stays at the end.
 */
int ktnl_iter_next(struct ktnl_iter *it, struct ktnl_msg *msg);

/* ---- text ---- */

/* Errno name of err (sign ignored): "EMSGSIZE"; "OK" for 0; "EUNKNOWN" when not known. */
const char *ktnl_errno_name(int err);

/* Errno number of a name ("EMSGSIZE" -> 90), or 0 when not known. */
int ktnl_errno_value(const char *name);

/* Lowercase hex of data into out (2*len+1 bytes needed). Returns chars written, or 0 if cap is too small. */
size_t ktnl_hex_encode(const void *data, size_t len, char *out, size_t cap);

/* Bytes of an even-length hex string into out. Returns the byte count, -EINVAL for bad hex, -ENOBUFS. */
long ktnl_hex_decode(const char *hex, size_t hexlen, void *out, size_t cap);

/* Buffer size that ktnl_json always fits in, for a payload of payload_len bytes. */
size_t ktnl_json_size(size_t payload_len);

/*
 * nlclient's JSON line for msg (no newline):
 * {"seq":1,"type":16,"flags":0,"len":31,"pid":0,"payload":"hello users!!!","hex":"68..00"}
 * plus "error":-90,"errno":"EMSGSIZE" for NLMSG_ERROR (error 0, errno "OK": an ack).
 * "payload" is lossy text (a trailing NUL dropped, bytes >= 0x7f as U+FFFD); "hex" is exact.
 * Returns the length of the full line like snprintf; out is always NUL-terminated when cap > 0.
 */
size_t ktnl_json(const struct ktnl_msg *msg, char *out, size_t cap);

/* ---- sockets ---- */

struct ktnl_sock {
	int fd;
	/* Port id the kernel bound the socket to. */
	uint32_t portid;
};

/* Opens and binds a netlink socket for proto, joined to the multicast groups bitmask. 0 or -errno. */
int ktnl_open(struct ktnl_sock *s, int proto, uint32_t groups);

/* Sends one datagram to the kernel (port id 0). 0 or -errno. */
int ktnl_send(struct ktnl_sock *s, const void *buf, size_t len);

/*
 * Waits up to timeout_ms (< 0: forever) for one datagram from the kernel (datagrams from user
 * space are dropped). Returns its length, -ETIMEDOUT, -EMSGSIZE if it did not fit, or -errno.
 */
long ktnl_recv(struct ktnl_sock *s, void *buf, size_t cap, int timeout_ms);

void ktnl_close(struct ktnl_sock *s);

/* ---- the client transaction (nlclient's semantics) ---- */

/* Exit statuses, as nlclient's exit codes. */
enum ktnl_status {
	KTNL_OK = 0,
	KTNL_USAGE = 2,
	KTNL_SOCKET = 3,
	KTNL_TIMEOUT = 4,
	KTNL_KERNEL = 5,
};

/* Defaults of nlclient and the host client. */
#define KTNL_DEFAULT_FLAGS NLM_F_REQUEST
#define KTNL_DEFAULT_SEQ 1
#define KTNL_DEFAULT_TIMEOUT_MS 2000

struct ktnl_call {
	/* First message; the i-th message (from 0) has seq msg.seq + i. */
	struct ktnl_spec msg;
	/* Messages to send, one after the other, each waiting for its answer (>= 1). */
	unsigned count;
	/* Nonzero: send only, do not wait. */
	int no_recv;
	/* How long to wait for each message's answer (< 0: forever). */
	int timeout_ms;
	/*
	 * Optional: called right before (after = 0) and right after (after = 1) each message's send, e.g.
	 * to arm fault injection around exactly the kernel's handling of that send.
	 */
	void (*around_send)(void *hook_ctx, int after);
	void *hook_ctx;
};

struct ktnl_outcome {
	int status;
	/* Negative errno of the failure (0 when status is KTNL_OK). */
	int err;
	/* One line, errno name first: "ETIMEDOUT: no answer to seq 1 within 2000 ms". */
	char message[192];
};

/* Called for every message received, in order; a nonzero return stops the transaction (status 3). */
typedef int (*ktnl_msg_fn)(void *ctx, const struct ktnl_msg *msg);

/*
 * Sends call->count messages on s; after each, reads until its answer: an NLMSG_ERROR with its seq
 * (error: stop, KTNL_KERNEL), NLMSG_DONE with its seq, or (without NLM_F_ACK in the request) the
 * first other message with its seq that is not NLM_F_MULTI. Messages with other seqs are passed to
 * fn too. Stops at the first failure. Returns out->status.
 */
int ktnl_transact(struct ktnl_sock *s, const struct ktnl_call *call, ktnl_msg_fn fn, void *ctx,
		  struct ktnl_outcome *out);

/*
 * ktnl_open for a transaction: clears out, and on failure describes it there as every transaction
 * failure is ("EPROTONOSUPPORT: netlink socket for protocol 30: ..."). KTNL_OK or KTNL_SOCKET.
 */
int ktnl_open_for(struct ktnl_sock *s, int proto, uint32_t groups, struct ktnl_outcome *out);

/* ktnl_open_for + ktnl_transact + ktnl_close. */
int ktnl_run(int proto, uint32_t groups, const struct ktnl_call *call, ktnl_msg_fn fn, void *ctx,
	     struct ktnl_outcome *out);

#ifdef __cplusplus
}
#endif

#endif /* KTNL_H */
