/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AES-256-GCM through OpenSSL for the local envelope (file and PKCS#11 backends):
 * out = nonce(12) || ciphertext || tag(16). */
#pragma once

#include <stddef.h>

#define AEAD_KEY_BYTES 32
#define AEAD_NONCE_BYTES 12
#define AEAD_TAG_BYTES 16
#define AEAD_OVERHEAD (AEAD_NONCE_BYTES + AEAD_TAG_BYTES)

/* out must hold len + AEAD_OVERHEAD bytes. */
int aead_seal(const unsigned char *key, const unsigned char *aad, size_t aad_len,
	      const unsigned char *pt, size_t len, unsigned char *out);
/* pt (secret memory, caller's) must hold len - AEAD_OVERHEAD bytes. -EBADMSG when the
 * tag does not verify (wrong key, wrong associated data, or tampering). */
int aead_open(const unsigned char *key, const unsigned char *aad, size_t aad_len,
	      const unsigned char *in, size_t len, unsigned char *pt);
/* Cryptographically random bytes (OpenSSL's DRBG seeded from getrandom). */
int random_bytes(void *buf, size_t n);
