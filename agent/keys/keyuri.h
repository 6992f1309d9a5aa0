/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Key URIs: the one way to name a key everywhere.
 *   aws-kms:<key id | alias/NAME | key ARN | alias ARN>
 *   pkcs11:<RFC 7512 URI>   (module-path=, pin-source= and the vendor query
 *                            attribute x-mechanism= in the query; parsed by p11-kit)
 *   file:<absolute path>    (a local 256-bit key-encryption key) */
#pragma once

#include <stdbool.h>

enum key_kind {
	KEY_FILE,
	KEY_AWS_KMS,
	KEY_PKCS11,
};

struct key_uri {
	enum key_kind kind;
	char *text;        /* the URI as given (what a LUKS token stores) */
	/* file: */
	char *path;
	/* aws-kms: */
	char *key_id;      /* what follows "aws-kms:" */
	char *arn_region;  /* region when key_id is an ARN, else NULL */
	char *arn_partition;
	char *arn_account;
	bool is_alias;
	/* pkcs11: owned P11KitUri (void * keeps p11-kit out of this header) */
	void *p11;
	const char *module_path; /* borrowed from p11 */
	const char *pin_source;  /* borrowed from p11 */
	const char *mechanism;   /* borrowed from p11 (x-mechanism), may be NULL */
};

/* -EINVAL for a malformed URI or unknown scheme (the caller names the URI in its
 * message), -ENOMEM, -ELIBACC when a pkcs11: URI finds p11-kit unusable. */
int key_uri_parse(const char *s, struct key_uri **ret);
/* What key_uri_parse's r says of the URI, to follow "key URI [X] ": "is
 * malformed", "cannot be read: out of memory", "cannot be read:
 * libp11-kit.so.0 could not be loaded". */
const char *key_uri_parse_error(int r);
void key_uri_free(struct key_uri *u);
static inline void key_uri_freep(struct key_uri **u)
{
	key_uri_free(*u);
}
const char *key_kind_to_string(enum key_kind k);
/* The key ARN rewritten for another region (multi-Region keys), malloc'ed; NULL if not an ARN
 * or if the region is invalid or in another partition. */
char *key_uri_arn_for_region(const struct key_uri *u, const char *region);
