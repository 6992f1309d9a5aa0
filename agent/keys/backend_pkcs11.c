// SPDX-License-Identifier: LGPL-2.1-or-later
/* pkcs11:<RFC 7512 URI>: a key in an HSM (AWS CloudHSM, SoftHSM2, any PKCS#11
 * module), used through an envelope so that the volume binding is enforced even
 * though AES key wrap has no associated data:
 *   a random 32-byte data key K seals the secret with AES-256-GCM (aead.h) and the
 *   HSM wraps K with the configured mechanism (p11_key.c).
 * Blob (all integers big-endian):
 *   "VKP1" | version (1 byte, 1) | mechanism CKM_ number (4) | mechanism parameter (1:
 *   0 none, 1 OAEP SHA-1, 2 OAEP SHA-256) | length of the wrapped K (2) | wrapped K |
 *   nonce (12) | ciphertext | tag (16)
 * The associated data is everything up to and including the wrapped K, followed by
 * binding_aad(). Unwrapping uses the blob's mechanism, never the configuration's. */
#include <string.h>

#include "base/aead.h"
#include "base/macro.h"
#include "base/secret.h"
#include "keys/backend.h"
#include "keys/p11_key.h"
#include "keys/p11_mech.h"
#include "keys/p11_session.h"

#define P11_MAGIC "VKP1"
#define P11_VERSION 1
#define P11_FIXED_HDR (4 + 1 + 4 + 1 + 2)

static int mech_configured(struct kctx *c, const struct key_uri *u, struct p11_mech *ret)
{
	const char *name = u->mechanism && *u->mechanism ? u->mechanism : kctx_config(c)->p11_mechanism;

	if (p11_mech_parse(name, ret) < 0)
		return kctx_fail(c, -EINVAL, "unknown PKCS#11 mechanism '%s' (%s): use one of %s", name,
				 u->mechanism && *u->mechanism ? "x-mechanism in the URI" : "[pkcs11] mechanism",
				 p11_mech_names());
	return 0;
}

static void put_be(unsigned char *p, unsigned long v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static unsigned long get_be(const unsigned char *p, int bytes)
{
	unsigned long v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

/* Runs one HSM operation; when a cached session turns out to be dead (HSM
 * connection lost, token reinserted), reconnects and tries once more. */
struct p11_op {
	int (*run)(struct kctx *c, struct p11_token *t, const struct key_uri *u, struct p11_op *op);
	const struct p11_mech *mech;
	const unsigned char *in;
	size_t in_len;
	unsigned char *out;
	size_t out_len;
	struct key_info *info;
	char *ref;
};

static int with_token(struct kctx *c, const struct key_uri *u, struct p11_op *op)
{
	struct p11_token *t;
	int r;

	for (int attempt = 0;; attempt++) {
		r = p11_token_get(c, u, &t);
		if (r < 0)
			return r;
		t->last_rv = CKR_OK;
		r = op->run(c, t, u, op);
		if (r >= 0) {
			free(op->ref);
			op->ref = p11_key_ref(t, u);
			return r;
		}
		if (attempt > 0 || t->uses < 2 || !p11_rv_session_lost(t->last_rv))
			return r;
		p11_token_drop(c, t);
	}
}

static int op_wrap(struct kctx *c, struct p11_token *t, const struct key_uri *u, struct p11_op *op)
{
	return p11_key_wrap(c, t, u, op->mech, op->in, &op->out, &op->out_len);
}

static int op_unwrap(struct kctx *c, struct p11_token *t, const struct key_uri *u, struct p11_op *op)
{
	return p11_key_unwrap(c, t, u, op->mech, op->in, op->in_len, &op->out);
}

static int op_describe(struct kctx *c, struct p11_token *t, const struct key_uri *u, struct p11_op *op)
{
	return p11_key_describe(c, t, u, op->mech, op->info);
}

static void set_last_info(struct kctx *c, const char *ref)
{
	struct key_info *i = kctx_last_info(c);

	snprintf(i->key_ref, sizeof(i->key_ref), "%s", strna(ref));
	snprintf(i->cred_source, sizeof(i->cred_source), "pin-source");
}

static int p11_wrap_secret(struct kctx *c, const struct key_uri *u, const struct binding *b, const void *secret,
			   size_t len, struct wrapped *ret)
{
	_cleanup_secret_ unsigned char *dk = NULL;
	_cleanup_free_ unsigned char *aad = NULL, *blob = NULL;
	struct p11_mech m;
	struct p11_op op = { .run = op_wrap, .mech = &m };
	size_t hdr_len, aad_len;
	int r;

	r = mech_configured(c, u, &m);
	if (r < 0)
		return r;
	dk = secret_alloc(P11_DATA_KEY_BYTES);
	if (!dk)
		return kctx_fail(c, -ENOMEM, "cannot allocate locked memory for the data key");
	r = random_bytes(dk, P11_DATA_KEY_BYTES);
	if (r < 0)
		return kctx_fail(c, r, "random number generator failed");
	op.in = dk;
	op.in_len = P11_DATA_KEY_BYTES;
	r = with_token(c, u, &op);
	if (r < 0)
		goto out;
	hdr_len = P11_FIXED_HDR + op.out_len;
	blob = malloc(hdr_len + len + AEAD_OVERHEAD);
	if (!blob) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(blob, P11_MAGIC, 4);
	blob[4] = P11_VERSION;
	put_be(blob + 5, m.type, 4);
	blob[9] = (unsigned char)m.param;
	put_be(blob + 10, op.out_len, 2);
	memcpy(blob + P11_FIXED_HDR, op.out, op.out_len);
	r = binding_aad_prefixed(blob, hdr_len, b, &aad, &aad_len);
	if (r < 0) {
		r = kctx_fail(c, r, "cannot encode the binding");
		goto out;
	}
	r = aead_seal(dk, aad, aad_len, secret, len, blob + hdr_len);
	if (r < 0) {
		r = kctx_fail(c, r, "AES-256-GCM encryption failed");
		goto out;
	}
	ret->key_ref = op.ref ? strdup(op.ref) : NULL;
	if (!ret->key_ref) {
		r = -ENOMEM;
		goto out;
	}
	ret->data = TAKE_PTR(blob);
	ret->len = hdr_len + len + AEAD_OVERHEAD;
	set_last_info(c, op.ref);
	r = 0;
out:
	free(op.out);
	free(op.ref);
	return r;
}

static int p11_unwrap(struct kctx *c, const struct key_uri *u, const struct binding *b, const struct wrapped *w,
		      void **ret_secret, size_t *ret_len)
{
	_cleanup_secret_ unsigned char *pt = NULL, *dk = NULL;
	_cleanup_free_ unsigned char *aad = NULL;
	_cleanup_free_ char *ref = NULL;
	struct p11_mech m;
	struct p11_op op = { .run = op_unwrap, .mech = &m };
	size_t wlen, hdr_len, aad_len, len;
	int r;

	if (w->len < P11_FIXED_HDR || memcmp(w->data, P11_MAGIC, 4) != 0)
		return kctx_fail(c, -EBADMSG, "wrapped secret is not a volkey PKCS#11 blob");
	if (w->data[4] != P11_VERSION)
		return kctx_fail(c, -EBADMSG, "PKCS#11 blob version %u is not supported (this volkey reads %d)",
				 w->data[4], P11_VERSION);
	wlen = get_be(w->data + 10, 2);
	hdr_len = P11_FIXED_HDR + wlen;
	if (wlen == 0 || w->len < hdr_len + AEAD_OVERHEAD + 1)
		return kctx_fail(c, -EBADMSG, "PKCS#11 blob is truncated");
	if (p11_mech_from_blob(get_be(w->data + 5, 4), w->data[9], &m) < 0)
		return kctx_fail(c, -EBADMSG, "PKCS#11 blob names an impossible mechanism 0x%lx/%u",
				 get_be(w->data + 5, 4), w->data[9]);
	op.in = w->data + P11_FIXED_HDR;
	op.in_len = wlen;
	r = with_token(c, u, &op);
	if (r < 0)
		return r;
	dk = op.out;
	ref = op.ref;
	r = binding_aad_prefixed(w->data, hdr_len, b, &aad, &aad_len);
	if (r < 0)
		return kctx_fail(c, r, "cannot encode the binding");
	len = w->len - hdr_len - AEAD_OVERHEAD;
	pt = secret_alloc(len);
	if (!pt)
		return kctx_fail(c, -ENOMEM, "cannot allocate locked memory for the secret");
	r = aead_open(dk, aad, aad_len, w->data + hdr_len, w->len - hdr_len, pt);
	if (r < 0)
		return kctx_fail(c, -ENOKEY, "wrong volume binding or wrong key: the secret does not authenticate "
				 "with this volume's binding (data key unwrapped by %s)", strna(ref));
	set_last_info(c, ref);
	*ret_secret = TAKE_PTR(pt);
	*ret_len = len;
	return 0;
}

static int p11_describe(struct kctx *c, const struct key_uri *u, struct key_info *ret)
{
	struct p11_mech m;
	struct p11_op op = { .run = op_describe, .mech = &m, .info = ret };
	int r;

	r = mech_configured(c, u, &m);
	if (r < 0)
		return r;
	r = with_token(c, u, &op);
	free(op.ref);
	return r;
}

const struct backend_ops backend_pkcs11_ops = {
	.kind = KEY_PKCS11,
	.wrap_new = NULL, /* random secret + wrap_secret (backend.c) */
	.wrap_secret = p11_wrap_secret,
	.unwrap = p11_unwrap,
	.rewrap = NULL,
	.describe = p11_describe,
};
