// SPDX-License-Identifier: LGPL-2.1-or-later
/* p11-kit, loaded on first use (base/dlib.h): the PKCS#11 URI functions volkey
 * calls, under their own names, forwarded to libp11-kit.so.0. Only pkcs11: key
 * URIs use them (volkey loads the PKCS#11 module itself, with dlopen, in
 * keys/p11_session.c). Every function but p11_kit_uri_new and
 * p11_kit_uri_parse takes a P11KitUri, which only p11_kit_uri_new makes: when
 * one exists, the library is loaded. */
#include <p11-kit/uri.h>

#include "base/dlib.h"

static struct {
	P11KitUri *(*uri_new)(void);
	void (*uri_free)(P11KitUri *);
	int (*uri_parse)(const char *, P11KitUriType, P11KitUri *);
	int (*uri_format)(P11KitUri *, P11KitUriType, char **);
	const char *(*uri_message)(int);
	CK_ATTRIBUTE_PTR (*uri_get_attribute)(P11KitUri *, CK_ATTRIBUTE_TYPE);
	int (*uri_set_attribute)(P11KitUri *, CK_ATTRIBUTE_PTR);
	const char *(*uri_get_module_path)(const P11KitUri *);
	const char *(*uri_get_pin_source)(const P11KitUri *);
	const char *(*uri_get_pin_value)(const P11KitUri *);
	const char *(*uri_get_vendor_query)(const P11KitUri *, const char *);
	CK_SLOT_ID (*uri_get_slot_id)(P11KitUri *);
	CK_TOKEN_INFO_PTR (*uri_get_token_info)(P11KitUri *);
	int (*uri_match_module_info)(const P11KitUri *, const CK_INFO *);
	int (*uri_match_slot_info)(const P11KitUri *, const CK_SLOT_INFO *);
	int (*uri_match_token_info)(const P11KitUri *, const CK_TOKEN_INFO *);
} f;

static const struct dlib_sym syms[] = {
	DLIB_SYM("p11_kit_uri_new", f.uri_new),
	DLIB_SYM("p11_kit_uri_free", f.uri_free),
	DLIB_SYM("p11_kit_uri_parse", f.uri_parse),
	DLIB_SYM("p11_kit_uri_format", f.uri_format),
	DLIB_SYM("p11_kit_uri_message", f.uri_message),
	DLIB_SYM("p11_kit_uri_get_attribute", f.uri_get_attribute),
	DLIB_SYM("p11_kit_uri_set_attribute", f.uri_set_attribute),
	DLIB_SYM("p11_kit_uri_get_module_path", f.uri_get_module_path),
	DLIB_SYM("p11_kit_uri_get_pin_source", f.uri_get_pin_source),
	DLIB_SYM("p11_kit_uri_get_pin_value", f.uri_get_pin_value),
	DLIB_SYM("p11_kit_uri_get_vendor_query", f.uri_get_vendor_query),
	DLIB_SYM("p11_kit_uri_get_slot_id", f.uri_get_slot_id),
	DLIB_SYM("p11_kit_uri_get_token_info", f.uri_get_token_info),
	DLIB_SYM("p11_kit_uri_match_module_info", f.uri_match_module_info),
	DLIB_SYM("p11_kit_uri_match_slot_info", f.uri_match_slot_info),
	DLIB_SYM("p11_kit_uri_match_token_info", f.uri_match_token_info),
};

static struct dlib p11kit = {
	.soname = "libp11-kit.so.0",
	.what = "pkcs11: key URIs",
	.syms = syms,
	.nsyms = sizeof(syms) / sizeof(syms[0]),
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

/* A P11KitUri exists only once the library is loaded. */
#define LOADED (dlib_loaded(&p11kit))

P11KitUri *p11_kit_uri_new(void)
{
	return dlib_load(&p11kit) ? f.uri_new() : NULL;
}

void p11_kit_uri_free(P11KitUri *u)
{
	if (u && LOADED)
		f.uri_free(u);
}

int p11_kit_uri_parse(const char *s, P11KitUriType type, P11KitUri *u)
{
	return u && LOADED ? f.uri_parse(s, type, u) : P11_KIT_URI_NO_MEMORY;
}

int p11_kit_uri_format(P11KitUri *u, P11KitUriType type, char **ret)
{
	return u && LOADED ? f.uri_format(u, type, ret) : P11_KIT_URI_NO_MEMORY;
}

const char *p11_kit_uri_message(int code)
{
	return dlib_load(&p11kit) ? f.uri_message(code) : "libp11-kit.so.0 could not be loaded";
}

CK_ATTRIBUTE_PTR p11_kit_uri_get_attribute(P11KitUri *u, CK_ATTRIBUTE_TYPE type)
{
	return u && LOADED ? f.uri_get_attribute(u, type) : NULL;
}

int p11_kit_uri_set_attribute(P11KitUri *u, CK_ATTRIBUTE_PTR a)
{
	return u && LOADED ? f.uri_set_attribute(u, a) : P11_KIT_URI_NO_MEMORY;
}

const char *p11_kit_uri_get_module_path(const P11KitUri *u)
{
	return u && LOADED ? f.uri_get_module_path(u) : NULL;
}

const char *p11_kit_uri_get_pin_source(const P11KitUri *u)
{
	return u && LOADED ? f.uri_get_pin_source(u) : NULL;
}

const char *p11_kit_uri_get_pin_value(const P11KitUri *u)
{
	return u && LOADED ? f.uri_get_pin_value(u) : NULL;
}

const char *p11_kit_uri_get_vendor_query(const P11KitUri *u, const char *name)
{
	return u && LOADED ? f.uri_get_vendor_query(u, name) : NULL;
}

CK_SLOT_ID p11_kit_uri_get_slot_id(P11KitUri *u)
{
	return u && LOADED ? f.uri_get_slot_id(u) : (CK_SLOT_ID)-1;
}

CK_TOKEN_INFO_PTR p11_kit_uri_get_token_info(P11KitUri *u)
{
	return u && LOADED ? f.uri_get_token_info(u) : NULL;
}

int p11_kit_uri_match_module_info(const P11KitUri *u, const CK_INFO *info)
{
	return u && LOADED ? f.uri_match_module_info(u, info) : 0;
}

int p11_kit_uri_match_slot_info(const P11KitUri *u, const CK_SLOT_INFO *info)
{
	return u && LOADED ? f.uri_match_slot_info(u, info) : 0;
}

int p11_kit_uri_match_token_info(const P11KitUri *u, const CK_TOKEN_INFO *info)
{
	return u && LOADED ? f.uri_match_token_info(u, info) : 0;
}
