// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "base/b64.h"
#include "base/json_secret.h"
#include "base/macro.h"
#include "base/secret.h"
#include "keys/kms_parse.h"

const char *kms_op_name(enum kms_op op)
{
	static const char *const n[] = {
		[KMS_ENCRYPT] = "Encrypt", [KMS_DECRYPT] = "Decrypt", [KMS_GENERATE_DATA_KEY] = "GenerateDataKey",
		[KMS_REENCRYPT] = "ReEncrypt", [KMS_DESCRIBE_KEY] = "DescribeKey",
	};
	return n[op];
}

void kms_answer_clear(struct kms_answer *a)
{
	free(a->blob);
	secret_free(a->plaintext);
	memset(a, 0, sizeof(*a));
}

/* --- json-c helpers --- */

static void put_tokener(struct json_tokener **t)
{
	if (*t)
		json_tokener_free(*t);
}

static void put_object(json_object **o)
{
	if (*o)
		json_object_put(*o);
}

static int parse_object(const char *body, size_t len, json_object **ret)
{
	_cleanup_(put_tokener) struct json_tokener *t = json_tokener_new_ex(16);
	json_object *o;

	if (!t)
		return -ENOMEM;
	if (len > KMS_ANSWER_MAX || strlen(body) != len)
		return -EBADMSG; /* oversized, or a NUL inside */
	o = json_tokener_parse_ex(t, body, (int)len);
	if (!o || json_tokener_get_error(t) != json_tokener_success ||
	    json_tokener_get_parse_end(t) != len) {
		/* trailing whitespace is fine */
		size_t end = json_tokener_get_parse_end(t);
		if (o && json_tokener_get_error(t) == json_tokener_success && json_skip_ws(body, end, len) == len)
			goto ok;
		if (o)
			json_object_put(o);
		return -EBADMSG;
	}
ok:
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EBADMSG;
	}
	*ret = o;
	return 0;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int copy_str(json_object *o, const char *key, char *dst, size_t n, bool required)
{
	const char *s = get_str(o, key);
	json_object *v;

	if (!s) {
		if (!required && !json_object_object_get_ex(o, key, &v))
			return 0;
		return -EBADMSG;
	}
	if (strlen(s) >= n || !*s)
		return -EBADMSG;
	snprintf(dst, n, "%s", s);
	return 0;
}

static int decode_blob(json_object *o, struct kms_answer *a)
{
	const char *s = get_str(o, "CiphertextBlob");
	size_t n, max;
	int r;

	if (!s)
		return -EBADMSG;
	n = strlen(s);
	max = b64_decoded_max(n);
	if (n == 0 || max > KMS_BLOB_MAX + 3)
		return -EBADMSG;
	a->blob = malloc(max ? max : 1);
	if (!a->blob)
		return -ENOMEM;
	r = b64_decode(s, n, a->blob, max, &a->blob_len);
	if (r < 0 || a->blob_len == 0 || a->blob_len > KMS_BLOB_MAX)
		return -EBADMSG;
	return 0;
}

static int take_plaintext(char *body, size_t len, struct kms_answer *a)
{
	size_t off = 0, n = 0, max;
	int r = json_find_member(body, len, "Plaintext", &off, &n);

	if (r < 0)
		return r == -ENOENT ? -EBADMSG : r;
	max = b64_decoded_max(n);
	if (n == 0 || max > 4096 + 3)
		return -EBADMSG;
	a->plaintext = secret_alloc(max);
	if (!a->plaintext)
		return -ENOMEM;
	r = b64_decode(body + off, n, a->plaintext, max, &a->plaintext_len);
	if (r < 0 || a->plaintext_len == 0)
		return -EBADMSG;
	json_blank(body + off, n); /* json-c must never hold the secret */
	return 0;
}

int kms_parse_answer(enum kms_op op, char *body, size_t len, struct kms_answer *ret)
{
	_cleanup_(put_object) json_object *o = NULL;
	struct kms_answer a = { 0 };
	size_t off = 0, n = 0;
	bool want_pt = op == KMS_DECRYPT || op == KMS_GENERATE_DATA_KEY;
	int r;

	if (!body || len == 0 || len > KMS_ANSWER_MAX)
		return -EBADMSG;
	if (want_pt) {
		r = take_plaintext(body, len, &a);
		if (r < 0)
			goto fail;
		(void)json_find_member(body, len, "Plaintext", &off, &n);
	}
	r = parse_object(body, len, &o);
	if (r < 0)
		goto fail;
	/* The scanner and json-c must agree on where the Plaintext was. */
	if (want_pt && !json_is_blanked(get_str(o, "Plaintext"), n)) {
		r = -EBADMSG;
		goto fail;
	}
	switch (op) {
	case KMS_ENCRYPT:
	case KMS_GENERATE_DATA_KEY:
		r = decode_blob(o, &a);
		if (r >= 0)
			r = copy_str(o, "KeyId", a.key_id, sizeof(a.key_id), true);
		break;
	case KMS_DECRYPT:
		r = copy_str(o, "KeyId", a.key_id, sizeof(a.key_id), true);
		break;
	case KMS_REENCRYPT:
		r = decode_blob(o, &a);
		if (r >= 0)
			r = copy_str(o, "KeyId", a.key_id, sizeof(a.key_id), true);
		if (r >= 0)
			r = copy_str(o, "SourceKeyId", a.source_key_id, sizeof(a.source_key_id), false);
		break;
	case KMS_DESCRIBE_KEY: {
		json_object *m, *mr;
		if (!json_object_object_get_ex(o, "KeyMetadata", &m) || !json_object_is_type(m, json_type_object)) {
			r = -EBADMSG;
			break;
		}
		r = copy_str(m, "Arn", a.key_id, sizeof(a.key_id), true);
		if (r >= 0)
			r = copy_str(m, "KeyState", a.key_state, sizeof(a.key_state), true);
		if (r >= 0)
			r = copy_str(m, "KeySpec", a.key_spec, sizeof(a.key_spec), false);
		if (r >= 0)
			r = copy_str(m, "KeyUsage", a.key_usage, sizeof(a.key_usage), false);
		if (r >= 0 && json_object_object_get_ex(m, "MultiRegion", &mr)) {
			if (!json_object_is_type(mr, json_type_boolean))
				r = -EBADMSG;
			else
				a.multi_region = json_object_get_boolean(mr);
		}
		break;
	}
	}
	if (r < 0)
		goto fail;
	*ret = a;
	return 0;
fail:
	kms_answer_clear(&a);
	return r == -ENOMEM ? r : -EBADMSG;
}

int kms_parse_error(const char *body, size_t len, char *type, size_t type_n, char *msg, size_t msg_n)
{
	_cleanup_(put_object) json_object *o = NULL;
	const char *t, *m, *hash;
	int r;

	if (!body || len == 0 || len > KMS_ANSWER_MAX)
		return -EBADMSG;
	r = parse_object(body, len, &o);
	if (r < 0)
		return r;
	t = get_str(o, "__type");
	if (!t || !*t)
		return -EBADMSG;
	hash = strrchr(t, '#');
	if (hash)
		t = hash + 1;
	if (!*t || strlen(t) >= type_n)
		return -EBADMSG;
	snprintf(type, type_n, "%s", t);
	m = get_str(o, "message");
	if (!m)
		m = get_str(o, "Message");
	snprintf(msg, msg_n, "%s", m ? m : "");
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return 0;
}
