// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/aead.h"

int random_bytes(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -EIO;
}

int aead_seal(const unsigned char *key, const unsigned char *aad, size_t aad_len, const unsigned char *pt,
	      size_t len, unsigned char *out)
{
	EVP_CIPHER_CTX *x;
	int n, r = -EIO;

	if (random_bytes(out, AEAD_NONCE_BYTES) < 0)
		return -EIO;
	x = EVP_CIPHER_CTX_new();
	if (!x)
		return -ENOMEM;
	if (EVP_EncryptInit_ex(x, EVP_aes_256_gcm(), NULL, key, out) == 1 &&
	    (aad_len == 0 || EVP_EncryptUpdate(x, NULL, &n, aad, (int)aad_len) == 1) &&
	    EVP_EncryptUpdate(x, out + AEAD_NONCE_BYTES, &n, pt, (int)len) == 1 &&
	    EVP_EncryptFinal_ex(x, out + AEAD_NONCE_BYTES + n, &n) == 1 &&
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, AEAD_TAG_BYTES, out + AEAD_NONCE_BYTES + len) == 1)
		r = 0;
	EVP_CIPHER_CTX_free(x); /* cleanses the key schedule */
	return r;
}

int aead_open(const unsigned char *key, const unsigned char *aad, size_t aad_len, const unsigned char *in,
	      size_t len, unsigned char *pt)
{
	EVP_CIPHER_CTX *x;
	size_t ct_len;
	int n, r = -EIO;

	if (len < AEAD_OVERHEAD)
		return -EBADMSG;
	ct_len = len - AEAD_OVERHEAD;
	x = EVP_CIPHER_CTX_new();
	if (!x)
		return -ENOMEM;
	if (EVP_DecryptInit_ex(x, EVP_aes_256_gcm(), NULL, key, in) == 1 &&
	    (aad_len == 0 || EVP_DecryptUpdate(x, NULL, &n, aad, (int)aad_len) == 1) &&
	    EVP_DecryptUpdate(x, pt, &n, in + AEAD_NONCE_BYTES, (int)ct_len) == 1 &&
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, AEAD_TAG_BYTES,
				(void *)(in + AEAD_NONCE_BYTES + ct_len)) == 1) {
		r = EVP_DecryptFinal_ex(x, pt + n, &n) == 1 ? 0 : -EBADMSG;
	}
	EVP_CIPHER_CTX_free(x);
	if (r < 0)
		OPENSSL_cleanse(pt, ct_len);
	return r;
}
