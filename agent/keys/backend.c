// SPDX-License-Identifier: LGPL-2.1-or-later
/* The dispatcher: each key operation checked, then handed to the backend of
 * the URI's kind (backend_file.c, backend_kms.c, backend_pkcs11.c). The
 * backends reach only the context (kctx.c), never back into this file. */
#include <stdio.h>
#include <string.h>

#include "base/aead.h"
#include "base/cslock.h"
#include "base/macro.h"
#include "base/secret.h"
#include "keys/backend.h"

static const struct backend_ops *ops_for(enum key_kind k)
{
	switch (k) {
	case KEY_FILE:
		return &backend_file_ops;
	case KEY_AWS_KMS:
		return &backend_kms_ops;
	case KEY_PKCS11:
		return &backend_pkcs11_ops;
	}
	return NULL;
}

/* For backends without their own generator: a local random secret, then wrap it. */
static int wrap_random(struct kctx *c, const struct backend_ops *o, const struct key_uri *u, const struct binding *b,
		       size_t len, void **ret_secret, struct wrapped *ret)
{
	_cleanup_secret_ void *s = secret_alloc(len);
	int r;

	if (!s)
		return kctx_fail(c, -ENOMEM, "cannot allocate locked memory for the secret");
	r = random_bytes(s, len);
	if (r < 0)
		return kctx_fail(c, r, "random number generator failed");
	r = o->wrap_secret(c, u, b, s, len, ret);
	if (r < 0)
		return r;
	*ret_secret = TAKE_PTR(s);
	return 0;
}

/* Each entry below talks to a backend (KMS over the network, an HSM, a file):
 * never while holding the libcryptsetup lock, so unwraps stay parallel. */
int key_wrap_new(struct kctx *c, const struct key_uri *u, const struct binding *b, size_t len, void **ret_secret,
		 struct wrapped *ret)
{
	CS_SUSPENDED;
	const struct backend_ops *o = ops_for(u->kind);

	kctx_begin(c);
	if (len == 0 || len > 512)
		return kctx_fail(c, -EINVAL, "secret size %zu out of range", len);
	if (!o->wrap_new)
		return wrap_random(c, o, u, b, len, ret_secret, ret);
	return o->wrap_new(c, u, b, len, ret_secret, ret);
}

int key_wrap_secret(struct kctx *c, const struct key_uri *u, const struct binding *b, const void *secret, size_t len,
		    struct wrapped *ret)
{
	CS_SUSPENDED;
	kctx_begin(c);
	if (len == 0 || len > 512)
		return kctx_fail(c, -EINVAL, "secret size %zu out of range", len);
	return ops_for(u->kind)->wrap_secret(c, u, b, secret, len, ret);
}

int key_unwrap(struct kctx *c, const struct key_uri *u, const struct binding *b, const struct wrapped *w,
	       void **ret_secret, size_t *ret_len)
{
	CS_SUSPENDED;
	kctx_begin(c);
	if (!w->data || w->len == 0 || w->len > WRAPPED_MAX)
		return kctx_fail(c, -EBADMSG, "wrapped secret is empty or too large (%zu bytes)", w->len);
	return ops_for(u->kind)->unwrap(c, u, b, w, ret_secret, ret_len);
}

int key_rewrap(struct kctx *c, const struct key_uri *from, const struct key_uri *to, const struct binding *b,
	       const struct wrapped *in, struct wrapped *ret)
{
	CS_SUSPENDED;
	const struct backend_ops *o;
	void *secret = NULL;
	size_t len = 0;
	int r;

	kctx_begin(c);
	if (!to)
		to = from;
	o = ops_for(from->kind);
	if (from->kind == to->kind && o->rewrap)
		return o->rewrap(c, from, to, b, in, ret);
	/* Across backends the plaintext passes through this host, in secret memory only. */
	r = key_unwrap(c, from, b, in, &secret, &len);
	if (r < 0)
		return r;
	r = key_wrap_secret(c, to, b, secret, len, ret);
	secret_free(secret);
	return r;
}

int key_describe(struct kctx *c, const struct key_uri *u, struct key_info *ret)
{
	CS_SUSPENDED;
	kctx_begin(c);
	memset(ret, 0, sizeof(*ret));
	return ops_for(u->kind)->describe(c, u, ret);
}
