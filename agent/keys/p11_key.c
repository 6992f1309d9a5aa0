// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <p11-kit/uri.h>

#include "base/macro.h"
#include "base/secret.h"
#include "keys/p11_key.h"
#include "keys/p11_rv.h"

#define FIND_MAX 16

struct key_name {
	char label[128]; /* printable copy of the URI's object=, or "" */
	char id[80];     /* hex of the URI's id=, or "" */
	char what[256];  /* "labelled 'kek' (id 01)" */
};

static void name_from_uri(const struct key_uri *u, struct key_name *n)
{
	CK_ATTRIBUTE *a;
	size_t len;

	memset(n, 0, sizeof(*n));
	a = p11_kit_uri_get_attribute(u->p11, CKA_LABEL);
	if (a && a->pValue) {
		len = a->ulValueLen < sizeof(n->label) - 1 ? a->ulValueLen : sizeof(n->label) - 1;
		for (size_t i = 0; i < len; i++) {
			unsigned char ch = ((const unsigned char *)a->pValue)[i];
			n->label[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
	}
	a = p11_kit_uri_get_attribute(u->p11, CKA_ID);
	if (a && a->pValue)
		for (size_t i = 0; i < a->ulValueLen && 2 * i + 2 < sizeof(n->id); i++)
			sprintf(n->id + 2 * i, "%02x", ((const unsigned char *)a->pValue)[i]);
	if (n->label[0] && n->id[0])
		snprintf(n->what, sizeof(n->what), "labelled '%s' with id %s", n->label, n->id);
	else if (n->label[0])
		snprintf(n->what, sizeof(n->what), "labelled '%s'", n->label);
	else
		snprintf(n->what, sizeof(n->what), "with id %s", n->id);
}

static const char *class_word(CK_OBJECT_CLASS cls)
{
	switch (cls) {
	case CKO_SECRET_KEY:
		return "secret key";
	case CKO_PUBLIC_KEY:
		return "public key";
	case CKO_PRIVATE_KEY:
		return "private key";
	}
	return "object";
}

static int fail_rv(struct kctx *c, struct p11_token *t, CK_RV rv, const char *what)
{
	t->last_rv = rv;
	return kctx_fail(c, p11_rv_to_errno(rv), "token '%s': %s failed: %s (%s)", t->label, what, p11_rv_words(rv),
			 p11_rv_name(rv));
}

static int key_find(struct kctx *c, struct p11_token *t, const struct key_uri *u, CK_OBJECT_CLASS cls,
		    CK_OBJECT_HANDLE *ret)
{
	CK_ATTRIBUTE tmpl[3] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE found[FIND_MAX];
	CK_ULONG n = 1, count = 0;
	CK_ATTRIBUTE *a;
	struct key_name kn;
	CK_RV rv;

	a = p11_kit_uri_get_attribute(u->p11, CKA_LABEL);
	if (a && a->ulValueLen > 0)
		tmpl[n++] = *a;
	a = p11_kit_uri_get_attribute(u->p11, CKA_ID);
	if (a && a->ulValueLen > 0)
		tmpl[n++] = *a;
	if (n == 1)
		return kctx_fail(c, -EINVAL,
				 "the pkcs11 URI names no key: add object=LABEL (and id= when labels repeat)");
	rv = t->f->C_FindObjectsInit(t->session, tmpl, n);
	if (rv != CKR_OK)
		return fail_rv(c, t, rv, "C_FindObjectsInit");
	rv = t->f->C_FindObjects(t->session, found, FIND_MAX, &count);
	t->f->C_FindObjectsFinal(t->session);
	if (rv != CKR_OK)
		return fail_rv(c, t, rv, "C_FindObjects");
	name_from_uri(u, &kn);
	if (count == 0)
		return kctx_fail(c, -ENOKEY, "no %s %s on token '%s'", class_word(cls), kn.what, t->label);
	if (count > 1)
		return kctx_fail(c, -ENOTUNIQ, "%s%lu %ss %s on token '%s': give id= in the URI",
				 count == FIND_MAX ? "at least " : "", (unsigned long)count, class_word(cls), kn.what,
				 t->label);
	*ret = found[0];
	return 0;
}

static void mech_build(const struct p11_mech *m, CK_MECHANISM *ck, CK_RSA_PKCS_OAEP_PARAMS *oaep)
{
	memset(ck, 0, sizeof(*ck));
	memset(oaep, 0, sizeof(*oaep));
	ck->mechanism = m->type;
	if (m->param == P11_PARAM_NONE)
		return;
	oaep->hashAlg = m->param == P11_PARAM_OAEP_SHA256 ? CKM_SHA256 : CKM_SHA_1;
	oaep->mgf = m->param == P11_PARAM_OAEP_SHA256 ? CKG_MGF1_SHA256 : CKG_MGF1_SHA1;
	oaep->source = CKZ_DATA_SPECIFIED;
	ck->pParameter = oaep;
	ck->ulParameterLen = sizeof(*oaep);
}

static int mech_fail(struct kctx *c, struct p11_token *t, CK_RV rv, const struct p11_mech *m, const char *verb)
{
	char mn[96];

	bool unsupported = rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID ||
			   (rv == CKR_ARGUMENTS_BAD && m->param != P11_PARAM_NONE); /* SoftHSM: OAEP hash */

	if (!unsupported && rv != CKR_KEY_TYPE_INCONSISTENT && rv != CKR_WRAPPING_KEY_TYPE_INCONSISTENT &&
	    rv != CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)
		return 0;
	t->last_rv = rv;
	p11_mech_format(m, mn, sizeof(mn));
	return kctx_fail(c, unsupported ? -EOPNOTSUPP : -EINVAL,
			 "token '%s' cannot %s with %s: %s (%s); choose another with x-mechanism= in the URI or "
			 "[pkcs11] mechanism (docs/pkcs11.md lists what CloudHSM and SoftHSM support)",
			 t->label, verb, mn, unsupported ? "the token does not support this mechanism or its parameters"
			 : p11_rv_words(rv), p11_rv_name(rv));
}

int p11_key_wrap(struct kctx *c, struct p11_token *t, const struct key_uri *u, const struct p11_mech *m,
		 const unsigned char *data_key, unsigned char **ret_wrapped, size_t *ret_len)
{
	CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &sk, sizeof(sk) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_VALUE, (void *)data_key, P11_DATA_KEY_BYTES },
	};
	_cleanup_free_ unsigned char *out = NULL;
	CK_OBJECT_HANDLE wkey, obj = CK_INVALID_HANDLE;
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	CK_MECHANISM ck;
	CK_ULONG len = 0;
	CK_RV rv;
	int r;

	r = key_find(c, t, u, m->rsa ? CKO_PUBLIC_KEY : CKO_SECRET_KEY, &wkey);
	if (r < 0)
		return r;
	rv = t->f->C_CreateObject(t->session, tmpl, ARRAY_SIZE(tmpl), &obj);
	if (rv != CKR_OK)
		return fail_rv(c, t, rv, "creating the session key to wrap (C_CreateObject)");
	mech_build(m, &ck, &oaep);
	rv = t->f->C_WrapKey(t->session, &ck, wkey, obj, NULL, &len);
	if (rv == CKR_OK) {
		if (len == 0 || len > P11_WRAPPED_MAX) {
			t->f->C_DestroyObject(t->session, obj);
			return kctx_fail(c, -EBADMSG, "token '%s' announces a wrapped key of %lu bytes", t->label,
					 (unsigned long)len);
		}
		out = malloc(len);
		if (!out) {
			t->f->C_DestroyObject(t->session, obj);
			return -ENOMEM;
		}
		rv = t->f->C_WrapKey(t->session, &ck, wkey, obj, out, &len);
	}
	/* A session object disappears with the session anyway; a failed destroy is harmless. */
	t->f->C_DestroyObject(t->session, obj);
	if (rv != CKR_OK) {
		r = mech_fail(c, t, rv, m, "wrap");
		return r < 0 ? r : fail_rv(c, t, rv, "C_WrapKey");
	}
	*ret_wrapped = TAKE_PTR(out);
	*ret_len = len;
	return 0;
}

int p11_key_unwrap(struct kctx *c, struct p11_token *t, const struct key_uri *u, const struct p11_mech *m,
		   const unsigned char *wrapped, size_t len, unsigned char **ret_data_key)
{
	CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG vlen = P11_DATA_KEY_BYTES;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &sk, sizeof(sk) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_VALUE_LEN, &vlen, sizeof(vlen) }, /* keep last */
	};
	_cleanup_secret_ unsigned char *key = NULL;
	CK_ATTRIBUTE get = { CKA_VALUE, NULL, 0 };
	CK_OBJECT_HANDLE ukey, obj = CK_INVALID_HANDLE;
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	CK_MECHANISM ck;
	struct key_name kn;
	CK_RV rv;
	int r;

	r = key_find(c, t, u, m->rsa ? CKO_PRIVATE_KEY : CKO_SECRET_KEY, &ukey);
	if (r < 0)
		return r;
	mech_build(m, &ck, &oaep);
	/* Tokens disagree on CKA_VALUE_LEN here: SoftHSM refuses it (read-only), others
	 * need it (CKR_TEMPLATE_INCOMPLETE). Ask without it first, then with it. */
	rv = t->f->C_UnwrapKey(t->session, &ck, ukey, (CK_BYTE *)wrapped, len, tmpl, ARRAY_SIZE(tmpl) - 1, &obj);
	if (rv == CKR_TEMPLATE_INCOMPLETE)
		rv = t->f->C_UnwrapKey(t->session, &ck, ukey, (CK_BYTE *)wrapped, len, tmpl, ARRAY_SIZE(tmpl), &obj);
	if (rv != CKR_OK) {
		r = mech_fail(c, t, rv, m, "unwrap");
		if (r < 0)
			return r;
		/* The key was found and takes the mechanism, so a refusal to unwrap means the data
		 * does not decrypt under it. SoftHSM says so with CKR_GENERAL_ERROR (AES key wrap's
		 * integrity check) or CKR_FUNCTION_FAILED; the name goes into the message. */
		if (rv == CKR_WRAPPED_KEY_INVALID || rv == CKR_WRAPPED_KEY_LEN_RANGE ||
		    rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE || rv == CKR_DATA_INVALID ||
		    rv == CKR_DATA_LEN_RANGE || rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED) {
			t->last_rv = rv;
			name_from_uri(u, &kn);
			return kctx_fail(c, -ENOKEY, "wrong key: the key %s on token '%s' does not unwrap this secret "
					 "(%s); it was wrapped by another key, or the blob is damaged",
					 kn.what, t->label, p11_rv_name(rv));
		}
		return fail_rv(c, t, rv, "C_UnwrapKey");
	}
	rv = t->f->C_GetAttributeValue(t->session, obj, &get, 1);
	if (rv == CKR_OK && get.ulValueLen != P11_DATA_KEY_BYTES) {
		t->f->C_DestroyObject(t->session, obj);
		name_from_uri(u, &kn);
		return kctx_fail(c, -ENOKEY, "wrong key: the key %s on token '%s' unwrapped %lu bytes, not the %d of "
				 "a volkey data key", kn.what, t->label, (unsigned long)get.ulValueLen,
				 P11_DATA_KEY_BYTES);
	}
	if (rv == CKR_OK) {
		key = secret_alloc(P11_DATA_KEY_BYTES);
		if (!key) {
			t->f->C_DestroyObject(t->session, obj);
			return kctx_fail(c, -ENOMEM, "cannot allocate locked memory for the data key");
		}
		get.pValue = key;
		rv = t->f->C_GetAttributeValue(t->session, obj, &get, 1);
	}
	t->f->C_DestroyObject(t->session, obj);
	if (rv != CKR_OK)
		return fail_rv(c, t, rv, "reading the unwrapped data key (C_GetAttributeValue)");
	*ret_data_key = TAKE_PTR(key);
	return 0;
}

char *p11_key_ref(const struct p11_token *t, const struct key_uri *u)
{
	P11KitUri *ref = p11_kit_uri_new();
	CK_TOKEN_INFO *ti;
	CK_ATTRIBUTE *a;
	char *s = NULL;
	size_t n = strlen(t->label);

	if (!ref)
		return NULL;
	ti = p11_kit_uri_get_token_info(ref);
	memset(ti->label, ' ', sizeof(ti->label));
	memcpy(ti->label, t->label, n < sizeof(ti->label) ? n : sizeof(ti->label));
	a = p11_kit_uri_get_attribute(u->p11, CKA_LABEL);
	if (a)
		p11_kit_uri_set_attribute(ref, a);
	a = p11_kit_uri_get_attribute(u->p11, CKA_ID);
	if (a)
		p11_kit_uri_set_attribute(ref, a);
	if (p11_kit_uri_format(ref, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &s) != P11_KIT_URI_OK)
		s = NULL;
	p11_kit_uri_free(ref);
	return s;
}

static const char *key_type_word(CK_KEY_TYPE kt)
{
	switch (kt) {
	case CKK_AES:
		return "AES";
	case CKK_RSA:
		return "RSA";
	case CKK_GENERIC_SECRET:
		return "generic secret";
	case CKK_DES3:
		return "DES3";
	case CKK_EC:
		return "EC";
	}
	return "unknown type";
}

int p11_key_describe(struct kctx *c, struct p11_token *t, const struct key_uri *u, const struct p11_mech *m,
		     struct key_info *info)
{
	CK_OBJECT_CLASS cls = m->rsa ? CKO_PRIVATE_KEY : CKO_SECRET_KEY;
	CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
	CK_ULONG vlen = 0;
	CK_BBOOL can_unwrap = CK_FALSE;
	CK_ATTRIBUTE attrs[] = {
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_UNWRAP, &can_unwrap, sizeof(can_unwrap) },
		/* secret keys: CKA_VALUE_LEN; RSA private keys: the modulus' size only (pValue NULL) */
		{ m->rsa ? CKA_MODULUS : CKA_VALUE_LEN, m->rsa ? NULL : &vlen, m->rsa ? 0 : sizeof(vlen) },
	};
	_cleanup_free_ char *ref = NULL;
	CK_OBJECT_HANDLE h;
	char mn[96], size[32] = "";
	CK_RV rv;
	int r;

	r = key_find(c, t, u, cls, &h);
	if (r < 0)
		return r;
	/* Attributes a token does not have come back as CK_UNAVAILABLE_INFORMATION with
	 * CKR_ATTRIBUTE_TYPE_INVALID or _SENSITIVE; the rest is still filled. */
	rv = t->f->C_GetAttributeValue(t->session, h, attrs, ARRAY_SIZE(attrs));
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
		return fail_rv(c, t, rv, "C_GetAttributeValue");
	if (m->rsa && attrs[2].ulValueLen != CK_UNAVAILABLE_INFORMATION && attrs[2].ulValueLen > 0)
		snprintf(size, sizeof(size), "-%lu", (unsigned long)attrs[2].ulValueLen * 8);
	else if (!m->rsa && attrs[2].ulValueLen == sizeof(vlen) && vlen > 0)
		snprintf(size, sizeof(size), "-%lu", (unsigned long)vlen * 8);
	ref = p11_key_ref(t, u);
	p11_mech_format(m, mn, sizeof(mn));
	snprintf(info->key_ref, sizeof(info->key_ref), "%s", strna(ref));
	snprintf(info->state, sizeof(info->state), "present");
	snprintf(info->cred_source, sizeof(info->cred_source), "pin-source");
	snprintf(info->detail, sizeof(info->detail), "%s%s %s%s, mechanism %s, token '%s' (%s %s)",
		 attrs[0].ulValueLen == sizeof(kt) ? key_type_word(kt) : "unknown type", size, class_word(cls),
		 attrs[1].ulValueLen == sizeof(can_unwrap) && !can_unwrap ? " WITHOUT CKA_UNWRAP" : "", mn, t->label,
		 t->manufacturer, t->model);
	return 0;
}
