// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <p11-kit/pkcs11.h>

#include "base/macro.h"
#include "keys/p11_mech.h"

/* AWS CloudHSM (Client SDK 5) vendor mechanisms: RFC 3394 without padding, a
 * PKCS#5-padded variant (not RFC 5649), and RFC 5649 zero padding. */
#define CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD 0x80002109UL
#define CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD 0x8000210AUL
#define CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD 0x8000216FUL

static const struct p11_mech table[] = {
	{ "aes-key-wrap", CKM_AES_KEY_WRAP, P11_PARAM_NONE, false },
	{ "aes-key-wrap-pad", CKM_AES_KEY_WRAP_PAD, P11_PARAM_NONE, false },
	{ "rsa-pkcs-oaep", CKM_RSA_PKCS_OAEP, P11_PARAM_OAEP_SHA1, true },
	{ "rsa-pkcs-oaep-sha256", CKM_RSA_PKCS_OAEP, P11_PARAM_OAEP_SHA256, true },
	{ "rsa-pkcs", CKM_RSA_PKCS, P11_PARAM_NONE, true },
	{ "cloudhsm-aes-key-wrap-no-pad", CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD, P11_PARAM_NONE, false },
	{ "cloudhsm-aes-key-wrap-pkcs5-pad", CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD, P11_PARAM_NONE, false },
	{ "cloudhsm-aes-key-wrap-zero-pad", CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD, P11_PARAM_NONE, false },
};

static int parse_number(const char *s, unsigned long *ret)
{
	unsigned long long v;
	char *end;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s || !((*s >= '0' && *s <= '9') || (base == 16 && strchr("abcdefABCDEF", *s))))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno != 0 || *end || v > 0xffffffffULL)
		return -EINVAL;
	*ret = (unsigned long)v;
	return 0;
}

int p11_mech_parse(const char *s, struct p11_mech *ret)
{
	unsigned long type;

	if (!s || !*s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (strcmp(s, table[i].name) == 0) {
			*ret = table[i];
			return 0;
		}
	if (parse_number(s, &type) < 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (table[i].type == type) {
			*ret = table[i];
			return 0;
		}
	*ret = (struct p11_mech){ .name = NULL, .type = type, .param = P11_PARAM_NONE, .rsa = false };
	return 0;
}

int p11_mech_from_blob(unsigned long type, unsigned param, struct p11_mech *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (table[i].type == type && (unsigned)table[i].param == param) {
			*ret = table[i];
			return 0;
		}
	/* Only table entries carry parameters; OAEP always has them. */
	if (param != P11_PARAM_NONE || type == CKM_RSA_PKCS_OAEP)
		return -EBADMSG;
	*ret = (struct p11_mech){ .name = NULL, .type = type, .param = P11_PARAM_NONE, .rsa = false };
	return 0;
}

const char *p11_mech_names(void)
{
	/* Kept in step with table[] by tests/unit/test_p11_mech.c. */
	return "aes-key-wrap, aes-key-wrap-pad, rsa-pkcs-oaep, rsa-pkcs-oaep-sha256, rsa-pkcs, "
	       "cloudhsm-aes-key-wrap-no-pad, cloudhsm-aes-key-wrap-pkcs5-pad, cloudhsm-aes-key-wrap-zero-pad, "
	       "or a CKM_ number such as 0x2109";
}

void p11_mech_format(const struct p11_mech *m, char *buf, size_t size)
{
	if (m->name)
		snprintf(buf, size, "%s (0x%lx)", m->name, m->type);
	else
		snprintf(buf, size, "mechanism 0x%lx", m->type);
}
