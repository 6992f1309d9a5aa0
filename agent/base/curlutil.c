// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdlib.h>
#include <string.h>

#include "base/curlutil.h"
#include "base/macro.h"
#include "base/secret.h"

int curl_buf_new(bool secret, struct curl_buf **ret)
{
	struct curl_buf *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->secret = secret;
	*ret = b;
	return 0;
}

void curl_buf_free(struct curl_buf *b)
{
	if (!b)
		return;
	if (b->secret)
		secret_free(b->data);
	else
		free(b->data);
	free(b);
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct curl_buf *b = userdata;
	size_t n = size * nmemb;

	if (n > b->max - b->len) {
		b->overflow = true;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *d;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (b->secret) {
			d = secret_alloc(cap);
			if (d && b->data)
				memcpy(d, b->data, b->len);
			if (d)
				secret_free(b->data);
		} else {
			d = realloc(b->data, cap);
		}
		if (!d)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

void curl_buf_attach(CURL *c, struct curl_buf *b, size_t max)
{
	b->max = max;
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
}

char *curl_buf_steal_string(struct curl_buf *b)
{
	if (b->secret)
		return NULL;
	if (!b->data)
		return strdup("");
	return TAKE_PTR(b->data);
}

int curl_code_to_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
		/* the handshake did not complete (the peer closed or reset the
		 * connection mid-way): a connection failure, worth a retry; a
		 * certificate that does not verify is CURLE_PEER_FAILED_VERIFICATION */
		return -ECONNRESET;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return -EKEYREJECTED;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	case CURLE_WRITE_ERROR:
		return -EFBIG;
	default:
		return -EIO;
	}
}
