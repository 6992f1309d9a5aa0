/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AWS Signature Version 4 for one JSON-protocol POST (the KMS call). volkey
 * signs itself rather than hand the AWS secret key to libcurl: a connection
 * libcurl keeps alive would keep the credentials it was opened with in its heap
 * for as long as it lives. Here the secret key and every derived signing key
 * stay in the secret allocator; only the signature (good for this one request)
 * leaves. */
#pragma once

#include <stddef.h>
#include <time.h>

struct sigv4_request {
	const char *host;         /* the Host header exactly as sent: host or host:port */
	const char *path;         /* absolute path of the URL ("/" for KMS) */
	const char *region, *service;
	const char *content_type; /* signed */
	const char *target;       /* X-Amz-Target value, signed */
	const char *token;        /* X-Amz-Security-Token value, signed; NULL for long-term keys */
	const void *body;
	size_t body_len;
	time_t now;
};

/* Fills ret_date (X-Amz-Date, 17 bytes with the NUL) and ret_auth (the
 * Authorization value). 0, or -EINVAL for a path that needs escaping the
 * signer does not do, -ENOBUFS when ret_auth is too small, -ENOMEM. */
int sigv4_sign(const struct sigv4_request *q, const char *akid, const char *secret, char ret_date[17],
	       char *ret_auth, size_t auth_n);
