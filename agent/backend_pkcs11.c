// SPDX-License-Identifier: LGPL-2.1-or-later
/* Placeholder until the PKCS#11 backend lands: every call says so. */
#include <errno.h>
#include "backend.h"

static int p11_unsupported(struct kctx *c)
{
	return kctx_fail(c, -EOPNOTSUPP, "the pkcs11 backend is not built yet");
}
static int p11_wrap_new(struct kctx *c, const struct key_uri *u, const struct binding *b, size_t len, void **s,
			struct wrapped *w)
{
	(void)u; (void)b; (void)len; (void)s; (void)w;
	return p11_unsupported(c);
}
static int p11_wrap_secret(struct kctx *c, const struct key_uri *u, const struct binding *b, const void *s,
			   size_t len, struct wrapped *w)
{
	(void)u; (void)b; (void)len; (void)s; (void)w;
	return p11_unsupported(c);
}
static int p11_unwrap(struct kctx *c, const struct key_uri *u, const struct binding *b, const struct wrapped *w,
		      void **s, size_t *len)
{
	(void)u; (void)b; (void)len; (void)s; (void)w;
	return p11_unsupported(c);
}
static int p11_describe(struct kctx *c, const struct key_uri *u, struct key_info *i)
{
	(void)u; (void)i;
	return p11_unsupported(c);
}
static void p11_free_state(void *s)
{
	(void)s;
}
const struct backend_ops backend_pkcs11_ops = {
	.kind = KEY_PKCS11, .wrap_new = p11_wrap_new, .wrap_secret = p11_wrap_secret, .unwrap = p11_unwrap,
	.describe = p11_describe, .free_state = p11_free_state,
};
