// SPDX-License-Identifier: LGPL-2.1-or-later
/* aws-kms: keys in AWS KMS. wrap_new is GenerateDataKey (KMS makes the secret),
 * wrap_secret Encrypt, unwrap Decrypt with KeyId, rewrap ReEncrypt (the plaintext
 * never reaches this host), describe DescribeKey. The binding is the
 * EncryptionContext. The wrapped blob is KMS's CiphertextBlob as is. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "base/secret.h"
#include "keys/backend.h"
#include "keys/kms_client.h"

static void kms_free_state(void *s)
{
	kms_client_free(s);
}

static int client(struct kctx *c, struct kms_client **ret)
{
	struct kms_client *k = kctx_state(c, KEY_AWS_KMS);
	int r;

	if (!k) {
		r = kms_client_new(kctx_config(c), &k);
		if (r < 0)
			return kctx_fail(c, r, "cannot create the KMS client");
		kctx_set_state(c, KEY_AWS_KMS, k, kms_free_state);
	}
	*ret = k;
	return 0;
}

/* The context's KMS client (created on first use), then the call. */
static int call(struct kctx *c, const struct kms_request *q, struct kms_answer *a)
{
	struct kms_client *k = NULL;
	int r = client(c, &k);

	if (r < 0)
		return r;
	return kms_call(c, k, q, a);
}

static int take_blob(struct kms_answer *a, struct wrapped *w)
{
	w->key_ref = strdup(a->key_id);
	if (!w->key_ref)
		return -ENOMEM;
	w->data = TAKE_PTR(a->blob);
	w->len = a->blob_len;
	return 0;
}

static int kms_wrap_new(struct kctx *c, const struct key_uri *u, const struct binding *b, size_t len,
			void **ret_secret, struct wrapped *ret)
{
	struct kms_request q = { .op = KMS_GENERATE_DATA_KEY, .key = u, .binding = b, .number_of_bytes = (int)len };
	struct kms_answer a = { 0 };
	int r;

	r = call(c, &q, &a);
	if (r < 0)
		return r;
	if (a.plaintext_len != len) {
		kms_answer_clear(&a);
		return kctx_fail(c, -EBADMSG, "KMS returned a %zu-byte data key, asked for %zu", a.plaintext_len, len);
	}
	r = take_blob(&a, ret);
	if (r >= 0)
		*ret_secret = TAKE_PTR(a.plaintext);
	kms_answer_clear(&a);
	return r;
}

static int kms_wrap_secret(struct kctx *c, const struct key_uri *u, const struct binding *b, const void *secret,
			   size_t len, struct wrapped *ret)
{
	struct kms_request q = { .op = KMS_ENCRYPT, .key = u, .binding = b, .plaintext = secret, .plaintext_len = len };
	struct kms_answer a = { 0 };
	int r;

	r = call(c, &q, &a);
	if (r < 0)
		return r;
	r = take_blob(&a, ret);
	kms_answer_clear(&a);
	return r;
}

static int kms_unwrap(struct kctx *c, const struct key_uri *u, const struct binding *b, const struct wrapped *w,
		      void **ret_secret, size_t *ret_len)
{
	struct kms_request q = { .op = KMS_DECRYPT, .key = u, .binding = b, .blob = w->data, .blob_len = w->len };
	struct kms_answer a = { 0 };
	int r;

	r = call(c, &q, &a);
	if (r < 0)
		return r;
	*ret_len = a.plaintext_len;
	*ret_secret = TAKE_PTR(a.plaintext);
	kms_answer_clear(&a);
	return 0;
}

static int kms_rewrap(struct kctx *c, const struct key_uri *from, const struct key_uri *to, const struct binding *b,
		      const struct wrapped *in, struct wrapped *ret)
{
	struct kms_request q = { .op = KMS_REENCRYPT, .key = from, .dest_key = to, .binding = b,
				 .blob = in->data, .blob_len = in->len };
	struct kms_answer a = { 0 };
	int r;

	r = call(c, &q, &a);
	if (r < 0)
		return r;
	r = take_blob(&a, ret);
	kms_answer_clear(&a);
	return r;
}

static int kms_describe(struct kctx *c, const struct key_uri *u, struct key_info *ret)
{
	struct kms_request q = { .op = KMS_DESCRIBE_KEY, .key = u };
	struct kms_answer a = { 0 };
	int r;

	r = call(c, &q, &a);
	if (r < 0)
		return r;
	*ret = *kctx_last_info(c);
	snprintf(ret->key_ref, sizeof(ret->key_ref), "%s", a.key_id);
	snprintf(ret->state, sizeof(ret->state), "%s", a.key_state);
	snprintf(ret->detail, sizeof(ret->detail), "%s %s%s", a.key_spec[0] ? a.key_spec : "?",
		 a.key_usage[0] ? a.key_usage : "?", a.multi_region ? ", multi-Region" : "");
	kms_answer_clear(&a);
	return 0;
}

const struct backend_ops backend_kms_ops = {
	.kind = KEY_AWS_KMS,
	.wrap_new = kms_wrap_new,
	.wrap_secret = kms_wrap_secret,
	.unwrap = kms_unwrap,
	.rewrap = kms_rewrap,
	.describe = kms_describe,
};
