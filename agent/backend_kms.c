// SPDX-License-Identifier: LGPL-2.1-or-later
/* Placeholder until the KMS backend lands: every call says so. */
#include <errno.h>
#include "backend.h"

static int kms_unsupported(struct kctx *c)
{
	return kctx_fail(c, -EOPNOTSUPP, "the kms backend is not built yet");
}
static int kms_wrap_new(struct kctx *c, const struct key_uri *u, const struct binding *b, size_t len, void **s,
			struct wrapped *w)
{
	(void)u; (void)b; (void)len; (void)s; (void)w;
	return kms_unsupported(c);
}
static int kms_wrap_secret(struct kctx *c, const struct key_uri *u, const struct binding *b, const void *s,
			   size_t len, struct wrapped *w)
{
	(void)u; (void)b; (void)len; (void)s; (void)w;
	return kms_unsupported(c);
}
static int kms_unwrap(struct kctx *c, const struct key_uri *u, const struct binding *b, const struct wrapped *w,
		      void **s, size_t *len)
{
	(void)u; (void)b; (void)len; (void)s; (void)w;
	return kms_unsupported(c);
}
static int kms_describe(struct kctx *c, const struct key_uri *u, struct key_info *i)
{
	(void)u; (void)i;
	return kms_unsupported(c);
}
static void kms_free_state(void *s)
{
	(void)s;
}
const struct backend_ops backend_kms_ops = {
	.kind = KEY_AWS_KMS, .wrap_new = kms_wrap_new, .wrap_secret = kms_wrap_secret, .unwrap = kms_unwrap,
	.describe = kms_describe, .free_state = kms_free_state,
};
