/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The AWS KMS client: JSON 1.1 over HTTPS through libcurl, signed with SigV4
 * by volkey (sigv4.c), credentials from aws_creds, connections and TLS
 * sessions shared by every client of the process (kms_share.c), retries as the
 * SDKs' standard mode (full jitter, bounded attempts, a total deadline), and a
 * list of regions tried in order for multi-Region keys, failing over at once
 * when a region is unreachable. */
#pragma once

#include "keys/backend.h"
#include "keys/kms_parse.h"

struct kms_client;

int kms_client_new(const struct volkey_config *cfg, struct kms_client **ret);

/* Process-wide switches, set before the first client is made. share: whether
 * clients share kept-alive connections and TLS sessions per endpoint (on by
 * default; the boot-storm benchmark turns it off so each simulated instance has
 * its own). jitter: full jitter on retry delays (on by default; off only to show
 * what a fleet without jitter does). */
void kms_client_share(bool on);
void kms_client_jitter(bool on);
void kms_client_free(struct kms_client *k);

/* What to send: the body is built per region (key ARNs differ between regions).
 * plaintext (secret) is sent base64 in "Plaintext" for Encrypt. */
struct kms_request {
	enum kms_op op;
	const struct key_uri *key;         /* the key the call is addressed to */
	const struct key_uri *dest_key;    /* ReEncrypt destination (may equal key) */
	const struct binding *binding;     /* EncryptionContext (both sides for ReEncrypt) */
	const unsigned char *blob;         /* CiphertextBlob for Decrypt/ReEncrypt */
	size_t blob_len;
	const unsigned char *plaintext;    /* Encrypt */
	size_t plaintext_len;
	int number_of_bytes;               /* GenerateDataKey */
};

/* 0 with *ret filled; -errno with the reason in the context's error text.
 * info gets the region that answered and the credential source. */
int kms_call(struct kctx *c, struct kms_client *k, const struct kms_request *req, struct kms_answer *ret);
