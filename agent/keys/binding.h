/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A wrapped secret's binding to its volume: string pairs that always include
 * the LUKS UUID ("volkey:luks-uuid"), plus any the user adds. KMS gets them as
 * the EncryptionContext; the file and PKCS#11 backends as AES-GCM associated
 * data in a canonical encoding. Unwrapping with a different binding fails. */
#pragma once

#include <stddef.h>

#define BINDING_UUID_KEY "volkey:luks-uuid"
#define BINDING_MAX_PAIRS 32

struct binding_pair {
	char *key;
	char *value;
};

struct binding {
	size_t n;
	struct binding_pair pairs[BINDING_MAX_PAIRS]; /* sorted by key, keys unique */
};

/* New binding for a LUKS UUID (must look like a UUID). */
int binding_new(const char *luks_uuid, struct binding **ret);
void binding_free(struct binding *b);
static inline void binding_freep(struct binding **b)
{
	binding_free(*b);
}
/* Adds a user pair. -EINVAL: empty key, key with the reserved "volkey:" or "aws:" prefix,
 * control characters; -EEXIST: key already present; -E2BIG: too many pairs. */
int binding_add(struct binding *b, const char *key, const char *value);
/* "K=V" form, as given on a command line. */
int binding_add_kv(struct binding *b, const char *kv);
/* A copy of b bound to another LUKS UUID (every other pair kept as it is): a
 * volume's new identity (volkey rekey). */
int binding_with_uuid(const struct binding *b, const char *luks_uuid, struct binding **ret);
const char *binding_get(const struct binding *b, const char *key);
/* Canonical AAD: "volkey-binding-v1" NUL, then per sorted pair a 4-byte big-endian
 * length and the key, a 4-byte length and the value. malloc'ed into *ret. */
int binding_aad(const struct binding *b, unsigned char **ret, size_t *ret_len);
/* hdr (a blob's header, authenticated too) followed by binding_aad(b). */
int binding_aad_prefixed(const unsigned char *hdr, size_t hdr_len, const struct binding *b, unsigned char **ret,
			 size_t *ret_len);
