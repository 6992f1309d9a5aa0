// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "base/secret.h"
#include "keys/sigv4.h"

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(p, n, md);
	hex(md, sizeof(md), out);
}

static int hmac(const void *key, size_t key_len, const void *data, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	return HMAC(EVP_sha256(), key, (int)key_len, data, n, out, &len) ? 0 : -ENOMEM;
}

/* SigV4's canonical URI is the path with every byte but the unreserved ones
 * and '/' percent-encoded; KMS endpoints have "/" and nothing else needs it. */
static bool path_plain(const char *p)
{
	if (p[0] != '/')
		return false;
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("-._~/", *p)))
			return false;
	return true;
}

static bool header_value_ok(const char *v)
{
	for (; v && *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	return true;
}

int sigv4_sign(const struct sigv4_request *q, const char *akid, const char *secret, char ret_date[17],
	       char *ret_auth, size_t auth_n)
{
	static const char alg[] = "AWS4-HMAC-SHA256";
	char date[17], day[9], scope[160], body_hash[65], creq_hash[65], sig_hex[65], signed_headers[96];
	char creq[8192], sts[512];
	unsigned char sig[32];
	_cleanup_secret_ unsigned char *k = NULL;
	unsigned char *a, *b;
	size_t slen;
	struct tm tm;
	int n, r;

	if (!path_plain(q->path) || !header_value_ok(q->host) || !header_value_ok(q->target) ||
	    !header_value_ok(q->content_type) || !header_value_ok(q->token) || !header_value_ok(akid))
		return -EINVAL;
	if (!gmtime_r(&q->now, &tm) || strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm) != 16)
		return -EINVAL;
	memcpy(day, date, 8);
	day[8] = '\0';
	n = snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", day, q->region, q->service);
	if (n < 0 || (size_t)n >= sizeof(scope))
		return -EINVAL;
	sha256_hex(q->body, q->body_len, body_hash);
	snprintf(signed_headers, sizeof(signed_headers), "content-type;host;x-amz-date;%sx-amz-target",
		 q->token ? "x-amz-security-token;" : "");
	/* The canonical request carries the session token, which is a credential
	 * too: it is built on the stack and wiped. */
	n = snprintf(creq, sizeof(creq),
		     "POST\n%s\n\ncontent-type:%s\nhost:%s\nx-amz-date:%s\n%s%s%sx-amz-target:%s\n\n%s\n%s",
		     q->path, q->content_type, q->host, date, q->token ? "x-amz-security-token:" : "",
		     q->token ? q->token : "", q->token ? "\n" : "", q->target, signed_headers, body_hash);
	if (n < 0 || (size_t)n >= sizeof(creq)) {
		secret_wipe(creq, sizeof(creq));
		return -ENOBUFS;
	}
	sha256_hex(creq, (size_t)n, creq_hash);
	secret_wipe(creq, sizeof(creq));
	n = snprintf(sts, sizeof(sts), "%s\n%s\n%s\n%s", alg, date, scope, creq_hash);
	if (n < 0 || (size_t)n >= sizeof(sts))
		return -EINVAL;

	/* kSecret = "AWS4" + secret, then kDate, kRegion, kService, kSigning: all
	 * in one secret buffer, each derived into the other half of its tail. */
	slen = strlen(secret);
	k = secret_alloc(slen + 4 + 64);
	if (!k)
		return -ENOMEM;
	a = k + slen + 4;
	b = a + 32;
	memcpy(k, "AWS4", 4);
	memcpy(k + 4, secret, slen);
	r = hmac(k, slen + 4, day, 8, a);
	if (r == 0)
		r = hmac(a, 32, q->region, strlen(q->region), b);
	if (r == 0)
		r = hmac(b, 32, q->service, strlen(q->service), a);
	if (r == 0)
		r = hmac(a, 32, "aws4_request", 12, b);
	if (r == 0)
		r = hmac(b, 32, sts, (size_t)n, sig);
	if (r < 0)
		return r;
	hex(sig, sizeof(sig), sig_hex);
	n = snprintf(ret_auth, auth_n, "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s", alg, akid, scope,
		     signed_headers, sig_hex);
	if (n < 0 || (size_t)n >= auth_n)
		return -ENOBUFS;
	memcpy(ret_date, date, sizeof(date));
	return 0;
}
