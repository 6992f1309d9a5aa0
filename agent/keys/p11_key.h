/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HSM's part of the pkcs11 envelope: wrap and unwrap the 32-byte data key
 * under the token key named by the URI, and describe that key.
 *   wrap:   C_CreateObject (session object, CKA_TOKEN false, extractable) with the
 *           data key, C_WrapKey, C_DestroyObject;
 *   unwrap: C_UnwrapKey into a session object, C_GetAttributeValue(CKA_VALUE)
 *           straight into secret memory, C_DestroyObject.
 * Keys are looked up by the URI's object (CKA_LABEL) and/or id (CKA_ID) on each
 * call, since handles are per session: a secret key for AES mechanisms, the
 * public key (wrap) or private key (unwrap) for RSA. On failure t->last_rv holds
 * the token's answer. */
#pragma once

#include <stddef.h>
#include "keys/kctx.h"
#include "keys/p11_mech.h"
#include "keys/p11_session.h"

#define P11_DATA_KEY_BYTES 32
#define P11_WRAPPED_MAX 2048

/* *ret_wrapped is malloc'ed (not secret: it is ciphertext). */
int p11_key_wrap(struct kctx *c, struct p11_token *t, const struct key_uri *u, const struct p11_mech *m,
		 const unsigned char *data_key, unsigned char **ret_wrapped, size_t *ret_len);
/* *ret_data_key is P11_DATA_KEY_BYTES of secret memory. -ENOKEY when the token's key
 * does not unwrap it (wrong key or damaged blob). */
int p11_key_unwrap(struct kctx *c, struct p11_token *t, const struct key_uri *u, const struct p11_mech *m,
		   const unsigned char *wrapped, size_t len, unsigned char **ret_data_key);
/* Fills info->key_ref and info->detail for the key that unwraps under m. */
int p11_key_describe(struct kctx *c, struct p11_token *t, const struct key_uri *u, const struct p11_mech *m,
		     struct key_info *info);
/* "pkcs11:token=...;object=...;id=..." (malloc'ed): names the key without module or PIN. */
char *p11_key_ref(const struct p11_token *t, const struct key_uri *u);
