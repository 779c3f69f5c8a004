/* hex.c - hex encoding of payloads (nlclient --hex, the "hex" field of replies). */
#include <errno.h>

#include "ktnl.h"

size_t ktnl_hex_encode(const void *data, size_t len, char *out, size_t cap)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *bytes = data;
	size_t i;

	if (cap == 0 || len > (cap - 1) / 2) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	for (i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	out[2 * len] = '\0';
	return 2 * len;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long ktnl_hex_decode(const char *hex, size_t hexlen, void *out, size_t cap)
{
	uint8_t *bytes = out;
	size_t i;

	if (hexlen % 2)
		return -EINVAL;
	if (hexlen / 2 > cap)
		return -ENOBUFS;
	for (i = 0; i < hexlen; i += 2) {
		int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		bytes[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(hexlen / 2);
}
