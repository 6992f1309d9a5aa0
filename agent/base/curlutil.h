/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libcurl glue shared by the IMDS and KMS clients: a bounded response buffer
 * (optionally in secret memory) and CURLcode to -errno. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>

struct curl_buf {
	char *data;
	size_t len, cap, max;
	bool secret; /* data lives in the secret allocator */
	bool overflow;
};

int curl_buf_new(bool secret, struct curl_buf **ret);
void curl_buf_free(struct curl_buf *b);
static inline void curl_buf_freep(struct curl_buf **b)
{
	curl_buf_free(*b);
}
/* Points curl's write callback at b; answers longer than max fail the transfer. */
void curl_buf_attach(CURL *c, struct curl_buf *b, size_t max);
/* A malloc'ed NUL-terminated copy (not for secret buffers). */
char *curl_buf_steal_string(struct curl_buf *b);
int curl_code_to_errno(CURLcode cc);

static inline void curl_url_cleanupp(CURLU **u)
{
	curl_url_cleanup(*u);
}

static inline void curl_freep(char **p)
{
	curl_free(*p);
}
