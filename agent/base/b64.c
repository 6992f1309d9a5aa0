// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "base/b64.h"
#include "base/secret.h"

static int val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int b64_decode(const char *in, size_t n, unsigned char *out, size_t out_max, size_t *ret_len)
{
	size_t pad = 0, o = 0;

	if (n % 4 != 0)
		return -EBADMSG;
	if (n >= 1 && in[n - 1] == '=')
		pad++;
	if (n >= 2 && in[n - 2] == '=')
		pad++;
	if (n / 4 * 3 - pad > out_max)
		return -ENOBUFS;
	/* Decoded by hand, in constant steps, straight into the caller's buffer:
	 * no intermediate copy of possibly secret bytes. */
	for (size_t i = 0; i < n; i += 4) {
		int a = val(in[i]), b = val(in[i + 1]), c, d;
		bool last = i + 4 == n;
		unsigned v;

		c = (last && pad >= 2) ? 0 : val(in[i + 2]);
		d = (last && pad >= 1) ? 0 : val(in[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -EBADMSG;
		v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
		/* canonical: the bits dropped by padding must be zero */
		if (last && pad == 2 && (v & 0xffff))
			return -EBADMSG;
		if (last && pad == 1 && (v & 0xff))
			return -EBADMSG;
		out[o++] = (unsigned char)(v >> 16);
		if (!(last && pad == 2))
			out[o++] = (unsigned char)(v >> 8);
		if (!(last && pad >= 1))
			out[o++] = (unsigned char)v;
	}
	*ret_len = o;
	return 0;
}

static char *encode(const unsigned char *in, size_t n, bool secret)
{
	size_t len = 4 * ((n + 2) / 3) + 1;
	char *s = secret ? secret_alloc(len) : malloc(len);

	if (!s)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, in, (int)n);
	s[len - 1] = '\0';
	return s;
}

char *b64_encode(const unsigned char *in, size_t n)
{
	return encode(in, n, false);
}

char *b64_encode_secret(const unsigned char *in, size_t n)
{
	return encode(in, n, true);
}
