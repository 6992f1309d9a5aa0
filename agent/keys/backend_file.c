// SPDX-License-Identifier: LGPL-2.1-or-later
/* file:<path>: a local 256-bit key-encryption key (KEK), AES-256-GCM.
 * Blob: "VKF1" | KEK id (8 bytes) | nonce | ciphertext | tag, with the 12-byte
 * header and the binding as associated data. The KEK id is the first 8 bytes of
 * SHA-256("volkey-kek-id" || KEK): it names the key without revealing it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>

#include "base/aead.h"
#include "base/macro.h"
#include "base/secret.h"
#include "keys/backend.h"

#define FILE_MAGIC "VKF1"
#define FILE_HDR (4 + 8)

/* The KEK id: the first 8 bytes of SHA-256("volkey-kek-id" || KEK). */
static int kek_id(const unsigned char *kek, unsigned char id[8])
{
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int dlen;
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	if (!m)
		return -ENOMEM;
	if (EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(m, "volkey-kek-id", 13) != 1 ||
	    EVP_DigestUpdate(m, kek, AEAD_KEY_BYTES) != 1 || EVP_DigestFinal_ex(m, dig, &dlen) != 1) {
		EVP_MD_CTX_free(m);
		return -EIO;
	}
	EVP_MD_CTX_free(m);
	memcpy(id, dig, 8);
	return 0;
}

/* Reads the KEK into secret memory; its id too when id is not NULL. */
static int kek_load(struct kctx *c, const char *path, unsigned char **ret_kek, unsigned char id[8])
{
	_cleanup_close_ int fd = -1;
	_cleanup_secret_ unsigned char *kek = NULL;
	struct stat st;
	ssize_t k;
	char extra;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK); /* a FIFO must not hang us */
	if (fd < 0)
		return kctx_fail(c, negative_errno(), "key file %s: %m", path);
	if (fstat(fd, &st) < 0)
		return kctx_fail(c, negative_errno(), "key file %s: %m", path);
	if (!S_ISREG(st.st_mode))
		return kctx_fail(c, -EINVAL, "key file %s is not a regular file", path);
	if (st.st_uid != 0)
		return kctx_fail(c, -EPERM, "key file %s is not owned by root (uid %u)", path, (unsigned)st.st_uid);
	if (st.st_mode & 077)
		return kctx_fail(c, -EPERM, "key file %s has mode %04o: must not be readable by group or others (chmod 600)",
				 path, (unsigned)(st.st_mode & 07777));
	if (st.st_size != AEAD_KEY_BYTES)
		return kctx_fail(c, -EINVAL, "key file %s holds %lld bytes, expected %d random bytes", path,
				 (long long)st.st_size, AEAD_KEY_BYTES);
	kek = secret_alloc(AEAD_KEY_BYTES);
	if (!kek)
		return kctx_fail(c, -ENOMEM, "cannot allocate locked memory for the key");
	k = read(fd, kek, AEAD_KEY_BYTES);
	if (k != AEAD_KEY_BYTES || read(fd, &extra, 1) != 0)
		return kctx_fail(c, -EIO, "key file %s: short or changing read", path);
	if (id) {
		r = kek_id(kek, id);
		if (r < 0)
			return r;
	}
	*ret_kek = TAKE_PTR(kek);
	return 0;
}

static char *id_hex(const unsigned char id[8])
{
	char *s = malloc(7 + 16 + 1);
	if (s) {
		strcpy(s, "sha256:");
		for (int i = 0; i < 8; i++)
			sprintf(s + 7 + 2 * i, "%02x", id[i]);
	}
	return s;
}

static int file_wrap_secret(struct kctx *c, const struct key_uri *u, const struct binding *b, const void *secret,
			    size_t len, struct wrapped *ret)
{
	_cleanup_secret_ unsigned char *kek = NULL;
	_cleanup_free_ unsigned char *aad = NULL, *blob = NULL;
	unsigned char id[8];
	size_t aad_len;
	int r;

	r = kek_load(c, u->path, &kek, id);
	if (r < 0)
		return r;
	blob = malloc(FILE_HDR + len + AEAD_OVERHEAD);
	if (!blob)
		return -ENOMEM;
	memcpy(blob, FILE_MAGIC, 4);
	memcpy(blob + 4, id, 8);
	r = binding_aad_prefixed(blob, FILE_HDR, b, &aad, &aad_len);
	if (r < 0)
		return kctx_fail(c, r, "cannot encode the binding");
	r = aead_seal(kek, aad, aad_len, secret, len, blob + FILE_HDR);
	if (r < 0)
		return kctx_fail(c, r, "AES-256-GCM encryption failed");
	ret->key_ref = id_hex(id);
	if (!ret->key_ref)
		return -ENOMEM;
	ret->data = TAKE_PTR(blob);
	ret->len = FILE_HDR + len + AEAD_OVERHEAD;
	snprintf(kctx_last_info(c)->key_ref, sizeof(kctx_last_info(c)->key_ref), "%s", ret->key_ref);
	snprintf(kctx_last_info(c)->cred_source, sizeof(kctx_last_info(c)->cred_source), "file");
	return 0;
}

/* The blob is opened first and the KEK's id computed only when it does not
 * open, to say why: the id's SHA-256 would be the process's first use of a
 * digest in OpenSSL's default library context, which costs a third of a
 * millisecond and 40 KiB (every digest of the provider is set up). After a
 * successful open the header's id is the key's: the header is authenticated
 * data, written by whoever held the key. */
static int file_unwrap(struct kctx *c, const struct key_uri *u, const struct binding *b, const struct wrapped *w,
		       void **ret_secret, size_t *ret_len)
{
	_cleanup_secret_ unsigned char *kek = NULL, *pt = NULL;
	_cleanup_free_ unsigned char *aad = NULL;
	_cleanup_free_ char *want = NULL, *have = NULL;
	const unsigned char *id = w->data + 4;
	unsigned char kid[8];
	size_t aad_len, len;
	int r;

	if (w->len < FILE_HDR + AEAD_OVERHEAD + 1 || memcmp(w->data, FILE_MAGIC, 4) != 0)
		return kctx_fail(c, -EBADMSG, "wrapped secret is not a volkey file-key blob");
	r = kek_load(c, u->path, &kek, NULL);
	if (r < 0)
		return r;
	r = binding_aad_prefixed(w->data, FILE_HDR, b, &aad, &aad_len);
	if (r < 0)
		return r;
	len = w->len - FILE_HDR - AEAD_OVERHEAD;
	pt = secret_alloc(len);
	if (!pt)
		return kctx_fail(c, -ENOMEM, "cannot allocate locked memory for the secret");
	r = aead_open(kek, aad, aad_len, w->data + FILE_HDR, w->len - FILE_HDR, pt);
	if (r < 0) {
		r = kek_id(kek, kid);
		if (r < 0)
			return r;
		if (memcmp(kid, id, 8) != 0) {
			want = id_hex(id);
			have = id_hex(kid);
			return kctx_fail(c, -ENOKEY, "wrong key: the secret was wrapped by key %s, %s holds key %s",
					 strna(want), u->path, strna(have));
		}
		return kctx_fail(c, -ENOKEY, "wrong volume binding or wrong key: the wrapped secret does not "
				 "authenticate under %s with this volume's binding", u->path);
	}
	snprintf(kctx_last_info(c)->key_ref, sizeof(kctx_last_info(c)->key_ref), "sha256:%02x%02x%02x%02x%02x%02x%02x%02x",
		 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]);
	snprintf(kctx_last_info(c)->cred_source, sizeof(kctx_last_info(c)->cred_source), "file");
	*ret_secret = TAKE_PTR(pt);
	*ret_len = len;
	return 0;
}

static int file_describe(struct kctx *c, const struct key_uri *u, struct key_info *ret)
{
	_cleanup_secret_ unsigned char *kek = NULL;
	_cleanup_free_ char *hex = NULL;
	unsigned char id[8];
	int r = kek_load(c, u->path, &kek, id);

	if (r < 0)
		return r;
	hex = id_hex(id);
	snprintf(ret->key_ref, sizeof(ret->key_ref), "%s", strna(hex));
	snprintf(ret->state, sizeof(ret->state), "present");
	snprintf(ret->cred_source, sizeof(ret->cred_source), "file");
	snprintf(ret->detail, sizeof(ret->detail), "AES-256-GCM, key file %s", u->path);
	return 0;
}

const struct backend_ops backend_file_ops = {
	.kind = KEY_FILE,
	.wrap_new = NULL, /* random secret + wrap_secret (backend.c) */
	.wrap_secret = file_wrap_secret,
	.unwrap = file_unwrap,
	.rewrap = NULL,
	.describe = file_describe,
};
