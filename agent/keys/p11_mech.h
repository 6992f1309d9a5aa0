/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wrapping mechanisms the pkcs11 backend knows by name (docs/pkcs11.md has
 * the table). A mechanism is a CKM_ number plus, for RSA-OAEP, its hash; both
 * are stored in the blob so that unwrapping never depends on configuration. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum p11_mech_param {
	P11_PARAM_NONE = 0,
	P11_PARAM_OAEP_SHA1 = 1,   /* CKM_SHA_1, CKG_MGF1_SHA1, no label */
	P11_PARAM_OAEP_SHA256 = 2, /* CKM_SHA256, CKG_MGF1_SHA256, no label */
};

struct p11_mech {
	const char *name;          /* table name, or NULL for a bare number */
	unsigned long type;        /* CKM_ value, fits 32 bits */
	enum p11_mech_param param;
	bool rsa;                  /* wrap with the public key, unwrap with the private key */
};

/* A table name or a number ("0x2109" or decimal). A number that is in the table
 * means that entry; any other number is a parameterless mechanism whose wrapping
 * key is a secret key. -EINVAL for anything else. */
int p11_mech_parse(const char *s, struct p11_mech *ret);
/* The mechanism recorded in a blob; -EBADMSG when the pair makes no sense. */
int p11_mech_from_blob(unsigned long type, unsigned param, struct p11_mech *ret);
/* "aes-key-wrap, aes-key-wrap-pad, ..." for error messages. */
const char *p11_mech_names(void);
/* "aes-key-wrap (0x2109)" or "mechanism 0x80001234". */
void p11_mech_format(const struct p11_mech *m, char *buf, size_t size);
