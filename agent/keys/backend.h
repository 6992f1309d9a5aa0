/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key backends behind one interface: wrap a fresh random secret, unwrap,
 * rewrap to another key, describe a key. Secrets come back in secret memory
 * (secret.h). Functions return 0 or -errno and never print; on failure the
 * context holds a one-line explanation in plain words (kctx_error()). */
#pragma once

#include <stddef.h>
#include <stdbool.h>
#include "keys/binding.h"
#include "keys/kctx.h"
#include "keys/keyuri.h"

/* The secret size volkey uses for keyslot passphrases. */
#define VOLUME_SECRET_BYTES 32
#define WRAPPED_MAX 8192

struct wrapped {
	unsigned char *data; /* opaque to callers, backend-specific (malloc'ed) */
	size_t len;
	char *key_ref;       /* the key that wrapped it: KMS key ARN, file KEK fingerprint, PKCS#11 label */
};
void wrapped_clear(struct wrapped *w);

/* A fresh random secret of len bytes wrapped under uri for binding b. */
int key_wrap_new(struct kctx *c, const struct key_uri *uri, const struct binding *b, size_t len,
		 void **ret_secret, struct wrapped *ret);
/* Wrap a given secret (rewrap across backends, recovery). */
int key_wrap_secret(struct kctx *c, const struct key_uri *uri, const struct binding *b, const void *secret,
		    size_t len, struct wrapped *ret);
int key_unwrap(struct kctx *c, const struct key_uri *uri, const struct binding *b, const struct wrapped *w,
	       void **ret_secret, size_t *ret_len);
/* Re-wrap under `to` (or the newest version of `from` when to == NULL). KMS to KMS
 * uses ReEncrypt, so the plaintext never reaches this host. */
int key_rewrap(struct kctx *c, const struct key_uri *from, const struct key_uri *to, const struct binding *b,
	       const struct wrapped *in, struct wrapped *ret);
int key_describe(struct kctx *c, const struct key_uri *uri, struct key_info *ret);

/* One backend's operations (backend_file.c, backend_kms.c, backend_pkcs11.c). */
struct backend_ops {
	enum key_kind kind;
	/* NULL: backend.c draws a random secret locally and calls wrap_secret. */
	int (*wrap_new)(struct kctx *c, const struct key_uri *u, const struct binding *b, size_t len,
			void **ret_secret, struct wrapped *ret);
	int (*wrap_secret)(struct kctx *c, const struct key_uri *u, const struct binding *b, const void *secret,
			   size_t len, struct wrapped *ret);
	int (*unwrap)(struct kctx *c, const struct key_uri *u, const struct binding *b, const struct wrapped *w,
		      void **ret_secret, size_t *ret_len);
	/* Optional: rewrap within the backend without exposing the plaintext. */
	int (*rewrap)(struct kctx *c, const struct key_uri *from, const struct key_uri *to, const struct binding *b,
		      const struct wrapped *in, struct wrapped *ret);
	int (*describe)(struct kctx *c, const struct key_uri *u, struct key_info *ret);
};
extern const struct backend_ops backend_file_ops;
extern const struct backend_ops backend_kms_ops;
extern const struct backend_ops backend_pkcs11_ops;
