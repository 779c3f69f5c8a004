/* fuzz_decode.c - libFuzzer target: the message walker, JSON line, errno names and hex codec on hostile bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktnl.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "check failed: %s (%s:%d)\n", #cond,   \
				__FILE__, __LINE__);                           \
			abort();                                               \
		}                                                              \
	} while (0)

/* Every message's JSON line fits ktnl_json_size, and a small buffer truncates safely. */
static void walk(const uint8_t *data, size_t size)
{
	struct ktnl_iter it;
	struct ktnl_msg msg;
	size_t seen = 0;
	int r;

	ktnl_iter_init(&it, data, size);
	while ((r = ktnl_iter_next(&it, &msg)) == 1) {
		size_t cap = ktnl_json_size(msg.payload_len), n;
		char *line = malloc(cap);
		char small[24];

		CHECK(line != NULL);
		CHECK(msg.payload >= data && msg.payload + msg.payload_len <= data + size);
		n = ktnl_json(&msg, line, cap);
		CHECK(n < cap && strlen(line) == n);
		CHECK(ktnl_json(&msg, small, sizeof(small)) == n);
		CHECK(strlen(small) < sizeof(small));
		CHECK(ktnl_errno_name(msg.error) != NULL);
		free(line);
		seen++;
		CHECK(seen <= size / KTNL_HDRLEN);
	}
	CHECK(r == 0 || r == -EBADMSG);
	CHECK(ktnl_iter_next(&it, &msg) == 0); /* stays at the end */
}

/* encode -> walk gives back the same header and payload (the first 12 bytes pick the header). */
static void round_trip(const uint8_t *data, size_t size)
{
	struct ktnl_spec spec;
	struct ktnl_iter it;
	struct ktnl_msg msg;
	uint8_t *buf;
	long n;

	if (size < 12 || size - 12 > KTNL_MAX_PAYLOAD)
		return;
	memset(&spec, 0, sizeof(spec));
	memcpy(&spec.type, data, 2);
	memcpy(&spec.flags, data + 2, 2);
	memcpy(&spec.seq, data + 4, 4);
	memcpy(&spec.pid, data + 8, 4);
	if (spec.type == NLMSG_ERROR)
		spec.type = NLMSG_DONE; /* an error needs its code: not a round trip */
	spec.payload = data + 12;
	spec.payload_len = size - 12;
	buf = malloc(ktnl_encoded_size(spec.payload_len));
	CHECK(buf != NULL);
	n = ktnl_encode(&spec, buf, ktnl_encoded_size(spec.payload_len));
	CHECK(n == (long)ktnl_encoded_size(spec.payload_len));
	CHECK(ktnl_encode(&spec, buf, (size_t)n - 1) == -ENOBUFS);
	ktnl_iter_init(&it, buf, (size_t)n);
	CHECK(ktnl_iter_next(&it, &msg) == 1);
	CHECK(msg.type == spec.type && msg.flags == spec.flags && msg.seq == spec.seq && msg.pid == spec.pid);
	CHECK(msg.payload_len == spec.payload_len && memcmp(msg.payload, spec.payload, spec.payload_len) == 0);
	CHECK(ktnl_iter_next(&it, &msg) == 0);
	free(buf);
}

/* hex decode of the input as text never overflows; encode -> decode is the identity. */
static void hex(const uint8_t *data, size_t size)
{
	char *text = malloc(2 * size + 1);
	uint8_t *back = malloc(size + 1);
	long n;

	CHECK(text && back);
	(void)ktnl_hex_decode((const char *)data, size, back, size / 2);
	CHECK(ktnl_hex_encode(data, size, text, 2 * size + 1) == 2 * size);
	n = ktnl_hex_decode(text, 2 * size, back, size);
	CHECK(n == (long)size && memcmp(back, data, size) == 0);
	free(text);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	walk(data, size);
	round_trip(data, size);
	hex(data, size);
	if (size >= 4) {
		int err;

		memcpy(&err, data, sizeof(err));
		CHECK(ktnl_errno_name(err) != NULL);
	}
	return 0;
}
