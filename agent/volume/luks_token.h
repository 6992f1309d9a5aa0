/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The `volkey` LUKS2 token: what a volume carries so that it can be unlocked
 * anywhere its key is reachable. One token per key URI, bound to one keyslot
 * whose passphrase is the token's secret, wrapped by the key's backend.
 * Schema: docs/token-schema.json (version 1), described in docs/format.md.
 * This parser sees bytes from disk: it is strict and has a libFuzzer target. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "keys/backend.h"
#include "keys/binding.h"

#define VOLKEY_TOKEN_TYPE "volkey"
#define VOLKEY_RECOVERY_TOKEN_TYPE "volkey-recovery"
#define VOLKEY_TOKEN_VERSION 1
#define VOLKEY_TOKEN_JSON_MAX 16384

struct volkey_token {
	int version;
	int keyslot;          /* the keyslot this token opens; -1 when it was removed */
	bool has_keyslot2;    /* during a volume-key re-encryption: keyslot2 is the new key's keyslot (same secret) */
	int keyslot2;
	char *key_uri;        /* as given to format/bind */
	char *key_ref;        /* what wrapped it (key ARN, KEK fingerprint, token:label), may be NULL */
	struct wrapped wrapped;
	struct binding *binding; /* includes volkey:luks-uuid */
	char created[32];     /* RFC 3339 UTC: when this secret was made */
	char rewrapped[32];   /* RFC 3339 UTC: the last rewrap of it, "" if never (optional field) */
	unsigned long generation;
};

void volkey_token_clear(struct volkey_token *t);

/* Parses a token's JSON. -EBADMSG: not JSON, wrong type, a field missing or of the
 * wrong shape; -EPROTONOSUPPORT: a version this volkey does not know. ret_why
 * (may be NULL) gets a short reason for the message. ret is untouched on failure. */
int volkey_token_parse(const char *json, size_t len, struct volkey_token *ret, char *ret_why, size_t why_len);

/* Serializes t (type volkey, keyslots [t->keyslot]); malloc'ed JSON into *ret. */
int volkey_token_format(const struct volkey_token *t, char **ret);

/* The recovery marker token: type volkey-recovery, keyslots [slot], created. No secret. */
int volkey_recovery_token_format(int keyslot, const char *created, char **ret);
/* Keyslot of a volkey-recovery token, -EBADMSG if malformed. */
int volkey_recovery_token_parse(const char *json, int *ret_keyslot);

/* The image marker (docs/format.md#the-volkey-image-token): a volume written
 * as a template for a machine image, not yet given its own identity (volkey
 * rekey). No keyslot, no secret; its state records the re-key's progress. */
#define VOLKEY_IMAGE_TOKEN_TYPE "volkey-image"
enum image_state {
	IMAGE_TEMPLATE,      /* not re-keyed yet */
	IMAGE_REENCRYPTING,  /* the volume-key re-encryption started (or is about to) */
	IMAGE_NEW_SECRETS,   /* data done; new tokens bound to new_uuid being added */
	IMAGE_UUID_SWITCHED, /* header UUID is new_uuid; the old tokens being retired */
};
struct image_marker {
	enum image_state state;
	char created[32];  /* when the volume was marked */
	char old_uuid[40]; /* from IMAGE_NEW_SECRETS on: the image's UUID */
	char new_uuid[40]; /* and this volume's own */
};
/* Strict parse of a volkey-image token: -EBADMSG for anything off. */
int volkey_image_token_parse(const char *json, struct image_marker *ret);
int volkey_image_token_format(const struct image_marker *m, char **ret);
/* "template", "reencrypting", "new-secrets", "uuid-switched"; parse: -EBADMSG if none. */
const char *volkey_image_state_name(enum image_state s);
int volkey_image_state_parse(const char *s);

/* Current time as RFC 3339 UTC ("2026-11-23T12:00:00Z"). */
void rfc3339_now(char *buf, size_t n);
