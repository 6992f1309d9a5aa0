// SPDX-License-Identifier: LGPL-2.1-or-later
/* libcurl, loaded on first use (base/dlib.h): every curl_* function volkey
 * calls, under its own name, forwarded to libcurl.so.4. Only KMS, IMDS, the
 * credential sources and `volkey doctor` use it; with a file key or PKCS#11
 * the library and its tree (OpenSSL's libssl, GnuTLS through librtmp,
 * Kerberos, LDAP, libssh2, nghttp2, ...) are never mapped.
 *
 * The variadic setters forward their one argument by its type, which curl
 * encodes in the option number: curl_easy_setopt by CURLOPTTYPE_* (long,
 * object pointer, function pointer, curl_off_t, blob pointer), curl_easy_getinfo
 * always a pointer, curl_share_setopt an int (SHARE, UNSHARE), a function
 * pointer (LOCKFUNC, UNLOCKFUNC) or a pointer (USERDATA).
 *
 * curl_global_init_mem (memhooks_setup, first thing in main) does not load the
 * library: its arguments are kept and handed to libcurl when it is loaded,
 * before any other call, which is what libcurl requires. */
#define CURL_DISABLE_TYPECHECK
#include <stdarg.h>
#include <stdlib.h>
#include <curl/curl.h>

#include "base/dlib.h"

static struct {
	CURLcode (*global_init_mem)(long, curl_malloc_callback, curl_free_callback, curl_realloc_callback,
				    curl_strdup_callback, curl_calloc_callback);
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	char *(*version)(void);
	curl_version_info_data *(*version_info)(CURLversion);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURL *(*easy_duphandle)(CURL *);
	void (*easy_reset)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	CURLSH *(*share_init)(void);
	CURLSHcode (*share_setopt)(CURLSH *, CURLSHoption, ...);
	CURLSHcode (*share_cleanup)(CURLSH *);
	const char *(*share_strerror)(CURLSHcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	void (*free)(void *);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *);
	CURLUcode (*url_get)(const CURLU *, CURLUPart, char **, unsigned int);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
} f;

static const struct dlib_sym syms[] = {
	DLIB_SYM("curl_global_init_mem", f.global_init_mem),
	DLIB_SYM("curl_global_init", f.global_init),
	DLIB_SYM("curl_global_cleanup", f.global_cleanup),
	DLIB_SYM("curl_version", f.version),
	DLIB_SYM("curl_version_info", f.version_info),
	DLIB_SYM("curl_easy_init", f.easy_init),
	DLIB_SYM("curl_easy_setopt", f.easy_setopt),
	DLIB_SYM("curl_easy_perform", f.easy_perform),
	DLIB_SYM("curl_easy_cleanup", f.easy_cleanup),
	DLIB_SYM("curl_easy_getinfo", f.easy_getinfo),
	DLIB_SYM("curl_easy_duphandle", f.easy_duphandle),
	DLIB_SYM("curl_easy_reset", f.easy_reset),
	DLIB_SYM("curl_easy_strerror", f.easy_strerror),
	DLIB_SYM("curl_share_init", f.share_init),
	DLIB_SYM("curl_share_setopt", f.share_setopt),
	DLIB_SYM("curl_share_cleanup", f.share_cleanup),
	DLIB_SYM("curl_share_strerror", f.share_strerror),
	DLIB_SYM("curl_slist_append", f.slist_append),
	DLIB_SYM("curl_slist_free_all", f.slist_free_all),
	DLIB_SYM("curl_free", f.free),
	DLIB_SYM("curl_url", f.url),
	DLIB_SYM("curl_url_cleanup", f.url_cleanup),
	DLIB_SYM("curl_url_get", f.url_get),
	DLIB_SYM("curl_url_set", f.url_set),
};

/* curl_global_init_mem's arguments until the library is there. */
static struct {
	bool set;
	long flags;
	curl_malloc_callback m;
	curl_free_callback f;
	curl_realloc_callback r;
	curl_strdup_callback s;
	curl_calloc_callback c;
} global;

static void loaded(void)
{
	/* Under the loader's lock, before any other call can reach libcurl. */
	if (global.set)
		f.global_init_mem(global.flags, global.m, global.f, global.r, global.s, global.c);
}

static struct dlib curl = {
	.soname = "libcurl.so.4",
	.what = "AWS KMS, IMDS and credential requests",
	.syms = syms,
	.nsyms = sizeof(syms) / sizeof(syms[0]),
	.loaded = loaded,
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

static bool load(void)
{
	return dlib_load(&curl);
}

void dl_curl_setup(void)
{
	setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
}

CURLcode curl_global_init_mem(long flags, curl_malloc_callback m, curl_free_callback fr, curl_realloc_callback r,
			      curl_strdup_callback s, curl_calloc_callback c)
{
	if (dlib_loaded(&curl))
		return f.global_init_mem(flags, m, fr, r, s, c);
	global.flags = flags;
	global.m = m;
	global.f = fr;
	global.r = r;
	global.s = s;
	global.c = c;
	global.set = true;
	return CURLE_OK;
}

CURLcode curl_global_init(long flags)
{
	return load() ? f.global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
	if (dlib_loaded(&curl))
		f.global_cleanup();
}

char *curl_version(void)
{
	return load() ? f.version() : (char *)"libcurl (not loaded)";
}

curl_version_info_data *curl_version_info(CURLversion v)
{
	return load() ? f.version_info(v) : NULL;
}

CURL *curl_easy_init(void)
{
	return load() ? f.easy_init() : NULL;
}

CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	CURLcode r;
	va_list ap;

	if (!h || !load())
		return CURLE_BAD_FUNCTION_ARGUMENT;
	va_start(ap, opt);
	switch (opt / 10000 * 10000) {
	case CURLOPTTYPE_LONG:
		r = f.easy_setopt(h, opt, va_arg(ap, long));
		break;
	case CURLOPTTYPE_OBJECTPOINT: /* also STRINGPOINT, SLISTPOINT, CBPOINT */
		r = f.easy_setopt(h, opt, va_arg(ap, void *));
		break;
	case CURLOPTTYPE_FUNCTIONPOINT:
		r = f.easy_setopt(h, opt, va_arg(ap, void (*)(void)));
		break;
	case CURLOPTTYPE_OFF_T:
		r = f.easy_setopt(h, opt, va_arg(ap, curl_off_t));
		break;
#ifdef CURLOPTTYPE_BLOB
	case CURLOPTTYPE_BLOB:
		r = f.easy_setopt(h, opt, va_arg(ap, struct curl_blob *));
		break;
#endif
	default:
		r = CURLE_UNKNOWN_OPTION;
		break;
	}
	va_end(ap);
	return r;
}

CURLcode curl_easy_perform(CURL *h)
{
	return h && load() ? f.easy_perform(h) : CURLE_BAD_FUNCTION_ARGUMENT;
}

void curl_easy_cleanup(CURL *h)
{
	if (h && load())
		f.easy_cleanup(h);
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	CURLcode r;
	va_list ap;

	if (!h || !load())
		return CURLE_BAD_FUNCTION_ARGUMENT;
	va_start(ap, info);
	r = f.easy_getinfo(h, info, va_arg(ap, void *)); /* every CURLINFO_* type is passed by pointer */
	va_end(ap);
	return r;
}

CURL *curl_easy_duphandle(CURL *h)
{
	return h && load() ? f.easy_duphandle(h) : NULL;
}

void curl_easy_reset(CURL *h)
{
	if (h && load())
		f.easy_reset(h);
}

const char *curl_easy_strerror(CURLcode c)
{
	/* Also when loading failed: the error then comes from this shim. */
	return load() ? f.easy_strerror(c) : "libcurl.so.4 could not be loaded";
}

CURLSH *curl_share_init(void)
{
	return load() ? f.share_init() : NULL;
}

CURLSHcode curl_share_setopt(CURLSH *s, CURLSHoption opt, ...)
{
	CURLSHcode r;
	va_list ap;

	if (!s || !load())
		return CURLSHE_INVALID;
	va_start(ap, opt);
	switch (opt) {
	case CURLSHOPT_SHARE:
	case CURLSHOPT_UNSHARE:
		r = f.share_setopt(s, opt, va_arg(ap, int));
		break;
	case CURLSHOPT_LOCKFUNC:
	case CURLSHOPT_UNLOCKFUNC:
		r = f.share_setopt(s, opt, va_arg(ap, void (*)(void)));
		break;
	case CURLSHOPT_USERDATA:
		r = f.share_setopt(s, opt, va_arg(ap, void *));
		break;
	default:
		r = CURLSHE_BAD_OPTION;
		break;
	}
	va_end(ap);
	return r;
}

CURLSHcode curl_share_cleanup(CURLSH *s)
{
	return s && load() ? f.share_cleanup(s) : CURLSHE_INVALID;
}

const char *curl_share_strerror(CURLSHcode c)
{
	return load() ? f.share_strerror(c) : "libcurl.so.4 could not be loaded";
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	return load() ? f.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (l && load())
		f.slist_free_all(l);
}

void curl_free(void *p)
{
	if (p && load())
		f.free(p);
}

CURLU *curl_url(void)
{
	return load() ? f.url() : NULL;
}

void curl_url_cleanup(CURLU *u)
{
	if (u && load())
		f.url_cleanup(u);
}

/* curl 8 made the handle const; the symbol is the same either way, so the
 * definition takes its own name and the library's symbol (asm label). */
CURLUcode dl_curl_url_get(const CURLU *u, CURLUPart what, char **part, unsigned int flags) __asm__("curl_url_get");
CURLUcode dl_curl_url_get(const CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
	if (!u)
		return CURLUE_BAD_HANDLE;
	return load() ? f.url_get(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	if (!u)
		return CURLUE_BAD_HANDLE;
	return load() ? f.url_set(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}
