// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "base/curlutil.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/secret.h"
#include "base/urlcheck.h"
#include "keys/imds.h"

#define IMDS_TOKEN_MAX 256
#define IMDS_BODY_MAX (64 * 1024)

struct imds {
	CURL *curl;
	char endpoint[256];
	long timeout_ms;
	char *token; /* secret memory: the token opens the instance's metadata, credentials included */
};

bool imds_disabled_by_env(void)
{
	const char *e = getenv("AWS_EC2_METADATA_DISABLED");
	return e && strcasecmp(e, "true") == 0;
}

bool imds_endpoint_from_env(void)
{
	const char *e = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	return e && *e;
}

int imds_new(const char *endpoint, long timeout_ms, struct imds **ret)
{
	struct imds *m;
	size_t n;

	if (!endpoint)
		endpoint = imds_endpoint_from_env() ? getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT") : IMDS_DEFAULT_ENDPOINT;
	/* IMDS is plain http on a link-local or loopback address by design. */
	{
		char why[256];
		int r = url_check(endpoint, URL_IMDS, "instance metadata endpoint", why, sizeof(why));
		if (r < 0)
			return r == -ELIBACC ? r : -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	snprintf(m->endpoint, sizeof(m->endpoint), "%s", endpoint);
	n = strlen(m->endpoint);
	while (n > 7 && m->endpoint[n - 1] == '/')
		m->endpoint[--n] = '\0';
	m->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
	m->curl = curl_easy_init();
	if (!m->curl) {
		int r = errno == ELIBACC ? -ELIBACC : -ENOMEM; /* base/dlib.h */
		free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void imds_free(struct imds *m)
{
	if (!m)
		return;
	curl_easy_cleanup(m->curl);
	secret_free(m->token);
	free(m);
}

const char *imds_endpoint(const struct imds *m)
{
	return m->endpoint;
}

static int imds_request(struct imds *m, const char *method, const char *path, struct curl_slist *hdrs,
			struct curl_buf *body, long *ret_status)
{
	char url[512];
	CURLcode cc;

	snprintf(url, sizeof(url), "%s%s", m->endpoint, path);
	curl_easy_reset(m->curl);
	curl_easy_setopt(m->curl, CURLOPT_URL, url);
	curl_easy_setopt(m->curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(m->curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(m->curl, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(m->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(m->curl, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(m->curl, CURLOPT_NOPROXY, "*"); /* IMDS is never reached through a proxy */
	curl_easy_setopt(m->curl, CURLOPT_CONNECTTIMEOUT_MS, m->timeout_ms);
	curl_easy_setopt(m->curl, CURLOPT_TIMEOUT_MS, 2 * m->timeout_ms);
	curl_easy_setopt(m->curl, CURLOPT_NOSIGNAL, 1L);
	curl_buf_attach(m->curl, body, IMDS_BODY_MAX);
	cc = curl_easy_perform(m->curl);
	if (cc != CURLE_OK)
		return log_debug_errno(curl_code_to_errno(cc), "IMDS %s %s: %s", method, url, curl_easy_strerror(cc));
	curl_easy_getinfo(m->curl, CURLINFO_RESPONSE_CODE, ret_status);
	return 0;
}

static int imds_fetch_token(struct imds *m)
{
	_cleanup_(curl_buf_freep) struct curl_buf *body = NULL;
	struct curl_slist *h = NULL;
	long status = 0;
	int r;

	/* The token is as sensitive as what it opens: keep the answer in secret memory. */
	r = curl_buf_new(true, &body);
	if (r < 0)
		return r;
	h = curl_slist_append(h, "X-aws-ec2-metadata-token-ttl-seconds: 21600");
	if (!h)
		return -ENOMEM;
	r = imds_request(m, "PUT", "/latest/api/token", h, body, &status);
	curl_slist_free_all(h);
	if (r < 0)
		return r;
	if (status == 403)
		return -EPERM; /* IMDS turned off for this instance */
	if (status != 200 || body->len == 0 || body->len >= IMDS_TOKEN_MAX)
		return log_debug_errno(-EPROTO, "IMDS token request: HTTP %ld, %zu bytes", status, body->len);
	secret_free(m->token);
	m->token = secret_dup(body->data, body->len + 1);
	if (!m->token)
		return -ENOMEM;
	m->token[body->len] = '\0';
	return 0;
}

static int imds_get_internal(struct imds *m, const char *path, bool secret, char **ret_body)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		_cleanup_(curl_buf_freep) struct curl_buf *body = NULL;
		_cleanup_secret_ char *hdr = NULL;
		struct curl_slist *h;
		char p[256];
		long status = 0;
		int r;

		if (!m->token) {
			r = imds_fetch_token(m);
			if (r < 0)
				return r;
		}
		hdr = secret_alloc(IMDS_TOKEN_MAX + 64);
		if (!hdr)
			return -ENOMEM;
		snprintf(hdr, IMDS_TOKEN_MAX + 64, "X-aws-ec2-metadata-token: %s", m->token);
		h = curl_slist_append(NULL, hdr);
		if (!h)
			return -ENOMEM;
		snprintf(p, sizeof(p), "/latest/%s", path);
		r = curl_buf_new(secret, &body);
		if (r >= 0)
			r = imds_request(m, "GET", p, h, body, &status);
		curl_slist_free_all(h);
		if (r < 0)
			return r;
		switch (status) {
		case 200:
			if (secret) {
				*ret_body = body->data ? TAKE_PTR(body->data) : secret_dup("", 1);
				return *ret_body ? 0 : -ENOMEM;
			}
			*ret_body = curl_buf_steal_string(body);
			return *ret_body ? 0 : -ENOMEM;
		case 401: /* token expired or unknown: fetch a new one, once */
			secret_free(m->token);
			m->token = NULL;
			continue;
		case 403:
			return -EPERM;
		case 404:
			return -ENOENT;
		default:
			return log_debug_errno(-EPROTO, "IMDS GET %s: HTTP %ld", p, status);
		}
	}
	return -EACCES;
}

int imds_get(struct imds *m, const char *path, char **ret_body)
{
	return imds_get_internal(m, path, false, ret_body);
}

int imds_get_secret(struct imds *m, const char *path, char **ret_body)
{
	return imds_get_internal(m, path, true, ret_body);
}

int ec2_dmi_probe(const char *root, struct ec2_dmi *ret)
{
	_cleanup_free_ char *vendor = NULL, *uuid = NULL, *hv = NULL, *tag = NULL;
	struct ec2_dmi d = { 0 };

	(void)read_first_line(root, "/sys/class/dmi/id/sys_vendor", &vendor);
	(void)read_first_line(root, "/sys/class/dmi/id/product_uuid", &uuid); /* root-only on most systems */
	(void)read_first_line(root, "/sys/hypervisor/uuid", &hv);
	(void)read_first_line(root, "/sys/class/dmi/id/board_asset_tag", &tag);
	snprintf(d.vendor, sizeof(d.vendor), "%s", vendor ? vendor : "unknown");
	if (vendor && strcmp(vendor, "Amazon EC2") == 0)
		d.ec2 = true;
	if (uuid && strncasecmp(uuid, "ec2", 3) == 0)
		d.ec2 = true;
	if (hv && strncasecmp(hv, "ec2", 3) == 0)
		d.ec2 = true;
	if (tag && strncmp(tag, "i-", 2) == 0)
		snprintf(d.asset_tag, sizeof(d.asset_tag), "%s", tag);
	*ret = d;
	return 0;
}
