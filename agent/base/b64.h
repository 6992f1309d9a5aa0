/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Strict standard base64 (RFC 4648, padded), as KMS and LUKS tokens use it. */
#pragma once

#include <stddef.h>

/* Bytes needed to decode n characters (upper bound). */
static inline size_t b64_decoded_max(size_t n)
{
	return n / 4 * 3;
}
/* Decodes into out (caller's buffer, may be secret memory). -EBADMSG on anything
 * but canonical padded base64; -ENOBUFS when out is too small. */
int b64_decode(const char *in, size_t n, unsigned char *out, size_t out_max, size_t *ret_len);
/* malloc'ed NUL-terminated encoding. */
char *b64_encode(const unsigned char *in, size_t n);
/* Encoding into a secret buffer (for plaintext going to KMS Encrypt). */
char *b64_encode_secret(const unsigned char *in, size_t n);
