// SPDX-License-Identifier: LGPL-2.1-or-later
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#include "base/memhooks.h"

static void wipe_free(void *p)
{
	if (!p)
		return;
	/* explicit_bzero, not OPENSSL_cleanse: glibc's is a vectorised memset, where
	 * OpenSSL's goes byte by byte, and this runs on every free of both libraries. */
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* realloc that never leaves the old contents behind in freed memory. */
static void *wipe_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (!p)
		return malloc(n);
	if (n == 0) {
		wipe_free(p);
		return NULL;
	}
	old = malloc_usable_size(p);
	if (n <= old)
		return p; /* shrinking in place: the tail stays ours and is wiped at free */
	q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old);
	wipe_free(p);
	return q;
}

static char *wipe_strdup(const char *s)
{
	return strdup(s);
}

static void *c_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return malloc(n);
}

static void *c_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return wipe_realloc(p, n);
}

static void c_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	wipe_free(p);
}

bool memhooks_setup(void)
{
	static bool done, ok;

	if (done)
		return ok;
	done = true;
	ok = CRYPTO_set_mem_functions(c_malloc, c_realloc, c_free) == 1;
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wipe_free, wipe_realloc, wipe_strdup, calloc);
	return ok;
}
