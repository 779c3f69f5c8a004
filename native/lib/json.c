/* json.c - nlclient's JSON line for one received message. */
#include <stdio.h>
#include <string.h>

#include "ktnl.h"

/* A bounded writer: counts everything, stores what fits, keeps out NUL-terminated. */
struct writer {
	char *out;
	size_t cap;
	size_t len;
};

static void put(struct writer *w, const char *s, size_t n)
{
	if (w->len < w->cap) {
		size_t room = w->cap - 1 - w->len;
		size_t k = n < room ? n : room;

		memcpy(w->out + w->len, s, k);
		w->out[w->len + k] = '\0';
	}
	w->len += n;
}

static void puts_(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_field(struct writer *w, const char *name, long long value)
{
	char buf[48];
	int n = snprintf(buf, sizeof(buf), "\"%s\":%lld,", name, value);

	put(w, buf, (size_t)n);
}

/* Lossy text (one trailing NUL dropped): printable ASCII as is (JSON-escaped), controls as \u00XX, bytes >= 0x7f as U+FFFD. */
static void put_text(struct writer *w, const uint8_t *data, size_t len)
{
	size_t i;

	if (len > 0 && data[len - 1] == '\0')
		len--; /* a C string's NUL */
	for (i = 0; i < len; i++) {
		uint8_t c = data[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(w, esc, 2);
		} else if (c == '\n') {
			put(w, "\\n", 2);
		} else if (c == '\t') {
			put(w, "\\t", 2);
		} else if (c == '\r') {
			put(w, "\\r", 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, 6);
		} else if (c >= 0x7f) {
			put(w, "\\ufffd", 6);
		} else {
			esc[0] = (char)c;
			put(w, esc, 1);
		}
	}
}

static void put_hex(struct writer *w, const uint8_t *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		char pair[2] = { digits[data[i] >> 4], digits[data[i] & 0xf] };

		put(w, pair, 2);
	}
}

size_t ktnl_json_size(size_t payload_len)
{
	/* 6 chars per byte of text at most, 2 of hex, and the fixed fields. */
	return 8 * payload_len + 256;
}

size_t ktnl_json(const struct ktnl_msg *msg, char *out, size_t cap)
{
	struct writer w = { out, cap, 0 };

	if (cap)
		out[0] = '\0';
	puts_(&w, "{");
	put_field(&w, "seq", msg->seq);
	put_field(&w, "type", msg->type);
	put_field(&w, "flags", msg->flags);
	put_field(&w, "len", msg->len);
	put_field(&w, "pid", msg->pid);
	puts_(&w, "\"payload\":\"");
	put_text(&w, msg->payload, msg->payload_len);
	puts_(&w, "\",\"hex\":\"");
	put_hex(&w, msg->payload, msg->payload_len);
	puts_(&w, "\"");
	if (msg->is_error) {
		char buf[64];
		int n = snprintf(buf, sizeof(buf), ",\"error\":%d,\"errno\":\"%s\"", msg->error,
				 ktnl_errno_name(msg->error));

		put(&w, buf, (size_t)n);
	}
	puts_(&w, "}");
	return w.len;
}
