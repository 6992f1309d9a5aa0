// SPDX-License-Identifier: LGPL-2.1-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "base/curlutil.h"
#include "base/macro.h"
#include "base/urlcheck.h"

/* host as curl_url returns it: IPv4 normalised to dotted quad, IPv6 in brackets. */
static bool loopback(const char *host)
{
	struct in_addr a4;

	if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]"))
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

static bool one_of(const char *host, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(host, list[i]))
			return true;
	return false;
}

int url_check(const char *url, enum url_rule rule, const char *what, char *err, size_t n)
{
	/* ECS task role, EKS Pod Identity (IPv4 and IPv6), as the AWS SDKs accept them */
	static const char *const container[] = { "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]" };
	static const char *const imds[] = { "169.254.169.254", "[fd00:ec2::254]" };
	_cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
	_cleanup_(curl_freep) char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
	bool https, http_ok;

	if (!u) {
		/* errno ELIBACC: libcurl could not be loaded (base/dlib.h; logged already) */
		int r = errno == ELIBACC ? -ELIBACC : -ENOMEM;
		snprintf(err, n, "%s %s cannot be checked: %s", what, url ? url : "(none)",
			 r == -ELIBACC ? "libcurl.so.4 could not be loaded" : "out of memory");
		return r;
	}
	if (!url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		snprintf(err, n, "%s %s refused: not a valid URL", what, url ? url : "(none)");
		return -EINVAL;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
		snprintf(err, n, "%s %s refused: a user or password part is not allowed", what, url);
		return -EINVAL;
	}
	https = !strcasecmp(scheme, "https");
	if (!https && strcasecmp(scheme, "http")) {
		snprintf(err, n, "%s %s refused: only http or https", what, url);
		return -EINVAL;
	}
	switch (rule) {
	case URL_KMS:
		http_ok = loopback(host);
		break;
	case URL_CONTAINER:
		http_ok = loopback(host) || one_of(host, container, ARRAY_SIZE(container));
		break;
	case URL_IMDS:
		http_ok = loopback(host) || one_of(host, imds, ARRAY_SIZE(imds));
		if (https) {
			snprintf(err, n, "%s %s refused: the instance metadata service is plain http", what, url);
			return -EINVAL;
		}
		break;
	default:
		http_ok = false;
	}
	if (!https && !http_ok) {
		snprintf(err, n, "%s %s refused: plain http only to %s", what, url,
			 rule == URL_KMS ? "a loopback host" :
			 rule == URL_CONTAINER ? "a loopback host or the ECS/EKS credential address" :
						 "a loopback host or the instance metadata address");
		return -EINVAL;
	}
	return 0;
}
