/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which URLs the clients may send requests (and credentials) to. The URL is
 * parsed with libcurl's own parser (curl_url), the very parser the transfer
 * uses, and the host compared exactly: no prefix test that
 * "http://127.0.0.1@evil.example/" or "http://localhost.evil.example/" passes.
 * A user or password part is always refused. */
#pragma once

#include <stddef.h>

enum url_rule {
	URL_KMS,          /* https to any host; plain http only to a loopback host */
	URL_CONTAINER,    /* https to any host; plain http to loopback or the ECS/EKS credential addresses */
	URL_IMDS,         /* plain http to loopback or the instance metadata addresses */
};

/* 0, or -EINVAL with a one-line reason in err naming what names the URL (what). */
int url_check(const char *url, enum url_rule rule, const char *what, char *err, size_t n);
