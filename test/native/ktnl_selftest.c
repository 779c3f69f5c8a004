/* ktnl_selftest.c - unit checks of the ktnl C library (built and run by ktnl.test.ts); prints TAP. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ktnl.h"

static int failures, count;

static void ok(int cond, const char *what)
{
	count++;
	if (!cond)
		failures++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", count, what);
}

static size_t put_msg(uint8_t *buf, uint32_t len, uint16_t type, uint16_t flags, uint32_t seq, const void *payload,
		      size_t plen)
{
	struct ktnl_spec spec = { type, flags, seq, 0, 1, len, payload, plen };

	return (size_t)ktnl_encode(&spec, buf, 4096);
}

static void test_encode(void)
{
	uint8_t buf[64];
	struct ktnl_spec spec = { 0x11, NLM_F_REQUEST | NLM_F_ACK, 7, 99, 0, 0, "abc", 3 };
	long n = ktnl_encode(&spec, buf, sizeof(buf));
	uint32_t len;

	ok(n == 19, "encode: header + payload, unpadded");
	memcpy(&len, buf, 4);
	ok(len == 19 && buf[4] == 0x11 && buf[6] == 5 && buf[8] == 7 && buf[12] == 99, "encode: header fields as given");
	spec.len_set = 1;
	spec.len = 1000;
	ktnl_encode(&spec, buf, sizeof(buf));
	memcpy(&len, buf, 4);
	ok(len == 1000, "encode: nlmsg_len override");
	ok(ktnl_encode(&spec, buf, 18) == -ENOBUFS, "encode: too small a buffer");
	spec.payload_len = KTNL_MAX_PAYLOAD + 1;
	ok(ktnl_encode(&spec, buf, sizeof(buf)) == -EMSGSIZE, "encode: payload over the limit");
}

static void test_walk(void)
{
	uint8_t buf[256];
	struct ktnl_iter it;
	struct ktnl_msg m;
	int32_t err = -90;
	size_t off = 0;

	off += put_msg(buf + off, 21, 16, NLM_F_MULTI, 1, "hello", 5);
	off = NLMSG_ALIGN(off);
	off += put_msg(buf + off, 20, NLMSG_ERROR, 0, 2, &err, 4);
	off += put_msg(buf + off, 16, NLMSG_DONE, 0, 3, NULL, 0);
	ktnl_iter_init(&it, buf, off);
	ok(ktnl_iter_next(&it, &m) == 1 && m.type == 16 && m.payload_len == 5 && memcmp(m.payload, "hello", 5) == 0,
	   "walk: first message (padded)");
	ok(ktnl_iter_next(&it, &m) == 1 && m.is_error && m.error == -90 && m.seq == 2, "walk: error message decoded");
	ok(ktnl_iter_next(&it, &m) == 1 && m.type == NLMSG_DONE && m.payload_len == 0, "walk: empty payload");
	ok(ktnl_iter_next(&it, &m) == 0, "walk: end");

	put_msg(buf, 200, 16, 0, 1, "abc", 3);
	ktnl_iter_init(&it, buf, 19);
	ok(ktnl_iter_next(&it, &m) == -EBADMSG && ktnl_iter_next(&it, &m) == 0, "walk: nlmsg_len past the end");
	put_msg(buf, 8, 16, 0, 1, "abc", 3);
	ktnl_iter_init(&it, buf, 19);
	ok(ktnl_iter_next(&it, &m) == -EBADMSG, "walk: nlmsg_len below a header");
	ktnl_iter_init(&it, buf, 10);
	ok(ktnl_iter_next(&it, &m) == -EBADMSG, "walk: header cut short");
	put_msg(buf, 18, NLMSG_ERROR, 0, 1, "ab", 2);
	ktnl_iter_init(&it, buf, 18);
	ok(ktnl_iter_next(&it, &m) == -EBADMSG, "walk: NLMSG_ERROR without its code");
	ktnl_iter_init(&it, NULL, 100);
	ok(ktnl_iter_next(&it, &m) == 0, "walk: NULL buffer is empty");
}

static void test_text(void)
{
	char out[256];
	uint8_t bytes[4];
	struct ktnl_msg m = { 31, 16, 0, 1, 0, (const uint8_t *)"hello users!!!", 15, 0, 0 };
	static const uint8_t odd[] = { '"', '\\', '\n', 1, 0xff, 'a', 0 };

	ok(strcmp(ktnl_errno_name(-90), "EMSGSIZE") == 0 && strcmp(ktnl_errno_name(90), "EMSGSIZE") == 0,
	   "errno name, either sign");
	ok(strcmp(ktnl_errno_name(0), "OK") == 0 && strcmp(ktnl_errno_name(-524), "ENOTSUPP") == 0 &&
		   strcmp(ktnl_errno_name(-4000), "EUNKNOWN") == 0 && strcmp(ktnl_errno_name(-2147483647 - 1), "EUNKNOWN") == 0,
	   "errno name: OK, kernel-internal, unknown");
	ok(ktnl_errno_value("EPROTONOSUPPORT") == 93 && ktnl_errno_value("ENOPE") == 0, "errno value");
	ok(ktnl_hex_encode("\x00\xab", 2, out, sizeof(out)) == 4 && strcmp(out, "00ab") == 0, "hex encode");
	ok(ktnl_hex_encode("ab", 2, out, 4) == 0, "hex encode: too small");
	ok(ktnl_hex_decode("00aBff", 6, bytes, 4) == 3 && bytes[1] == 0xab && bytes[2] == 0xff, "hex decode");
	ok(ktnl_hex_decode("abc", 3, bytes, 4) == -EINVAL && ktnl_hex_decode("zz", 2, bytes, 4) == -EINVAL,
	   "hex decode: odd length, bad digit");
	ok(ktnl_hex_decode("0102030405", 10, bytes, 4) == -ENOBUFS, "hex decode: too small");
	ktnl_json(&m, out, sizeof(out));
	ok(strcmp(out, "{\"seq\":1,\"type\":16,\"flags\":0,\"len\":31,\"pid\":0,\"payload\":\"hello users!!!\","
		       "\"hex\":\"68656c6c6f20757365727321212100\"}") == 0,
	   "json: a HELLO reply, NUL dropped from the text only");
	m.payload = odd;
	m.payload_len = sizeof(odd);
	m.is_error = 1;
	m.error = -90;
	ktnl_json(&m, out, sizeof(out));
	ok(strstr(out, "\"payload\":\"\\\"\\\\\\n\\u0001\\ufffda\"") != NULL, "json: escapes and lossy bytes");
	ok(strstr(out, "\"error\":-90,\"errno\":\"EMSGSIZE\"}") != NULL, "json: error fields");
	ok(ktnl_json(&m, out, 10) > 10 && strlen(out) == 9, "json: truncates, stays terminated");
}

int main(void)
{
	test_encode();
	test_walk();
	test_text();
	printf("1..%d\n", count);
	return failures ? 1 : 0;
}
