// SPDX-License-Identifier: GPL-2.0-or-later
/* PKCS#11 mechanism names and numbers, their round trip through the blob's
 * (type, parameter) pair, and CK_RV to -errno. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/exitcode.h"
#include "base/macro.h"
#include "keys/p11_mech.h"
#include "keys/p11_rv.h"
#include "unit.h"

TEST(names_map_to_numbers)
{
	static const struct {
		const char *name;
		unsigned long type;
		enum p11_mech_param param;
		bool rsa;
	} want[] = {
		{ "aes-key-wrap", 0x2109, P11_PARAM_NONE, false },
		{ "aes-key-wrap-pad", 0x210A, P11_PARAM_NONE, false },
		{ "rsa-pkcs-oaep", 0x9, P11_PARAM_OAEP_SHA1, true },
		{ "rsa-pkcs-oaep-sha256", 0x9, P11_PARAM_OAEP_SHA256, true },
		{ "rsa-pkcs", 0x1, P11_PARAM_NONE, true },
		{ "cloudhsm-aes-key-wrap-no-pad", 0x80002109, P11_PARAM_NONE, false },
		{ "cloudhsm-aes-key-wrap-pkcs5-pad", 0x8000210A, P11_PARAM_NONE, false },
		{ "cloudhsm-aes-key-wrap-zero-pad", 0x8000216F, P11_PARAM_NONE, false },
	};
	struct p11_mech m;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK_EQ_INT(p11_mech_parse(want[i].name, &m), 0);
		CHECK_STREQ(m.name, want[i].name);
		CHECK_EQ_INT(m.type, want[i].type);
		CHECK_EQ_INT(m.param, want[i].param);
		CHECK_EQ_INT(m.rsa, want[i].rsa);
		/* every name is in the list the error message gives */
		CHECK(strstr(p11_mech_names(), want[i].name) != NULL);
	}
}

TEST(numbers)
{
	struct p11_mech m;

	CHECK_EQ_INT(p11_mech_parse("0x2109", &m), 0);
	CHECK_STREQ(m.name, "aes-key-wrap");
	CHECK_EQ_INT(p11_mech_parse("8458", &m), 0); /* 0x210A */
	CHECK_STREQ(m.name, "aes-key-wrap-pad");
	CHECK_EQ_INT(p11_mech_parse("0X8000216f", &m), 0);
	CHECK_STREQ(m.name, "cloudhsm-aes-key-wrap-zero-pad");
	CHECK_EQ_INT(p11_mech_parse("0x80001234", &m), 0);
	CHECK(m.name == NULL);
	CHECK_EQ_INT(m.type, 0x80001234);
	CHECK_EQ_INT(m.param, P11_PARAM_NONE);
	CHECK(!m.rsa);
	/* 9 is OAEP: the named entry (SHA-1), since OAEP needs parameters */
	CHECK_EQ_INT(p11_mech_parse("9", &m), 0);
	CHECK_STREQ(m.name, "rsa-pkcs-oaep");
}

TEST(bad_names)
{
	static const char *bad[] = { "", "AES-KEY-WRAP", "aes-key-wrap ", "0x", "0x1g", "-1", "+5", " 5",
				     "0x100000000", "99999999999", "12abc", "des" };
	struct p11_mech m;

	CHECK_EQ_INT(p11_mech_parse(NULL, &m), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(p11_mech_parse(bad[i], &m), -EINVAL);
}

TEST(blob_round_trip)
{
	static const char *names[] = { "aes-key-wrap", "aes-key-wrap-pad", "rsa-pkcs-oaep", "rsa-pkcs-oaep-sha256",
				       "rsa-pkcs", "cloudhsm-aes-key-wrap-no-pad", "0x80001234" };
	struct p11_mech a, b;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		CHECK_EQ_INT(p11_mech_parse(names[i], &a), 0);
		CHECK_EQ_INT(p11_mech_from_blob(a.type, a.param, &b), 0);
		CHECK_EQ_INT(b.type, a.type);
		CHECK_EQ_INT(b.param, a.param);
		CHECK_EQ_INT(b.rsa, a.rsa);
		CHECK(streq_ptr(a.name, b.name));
	}
	/* OAEP always carries its hash; parameters only on OAEP; no unknown parameter */
	CHECK_EQ_INT(p11_mech_from_blob(0x9, P11_PARAM_NONE, &b), -EBADMSG);
	CHECK_EQ_INT(p11_mech_from_blob(0x2109, P11_PARAM_OAEP_SHA1, &b), -EBADMSG);
	CHECK_EQ_INT(p11_mech_from_blob(0x9, 3, &b), -EBADMSG);
}

TEST(format)
{
	struct p11_mech m;
	char buf[96];

	p11_mech_parse("cloudhsm-aes-key-wrap-no-pad", &m);
	p11_mech_format(&m, buf, sizeof(buf));
	CHECK_STREQ(buf, "cloudhsm-aes-key-wrap-no-pad (0x80002109)");
	p11_mech_parse("0x80001234", &m);
	p11_mech_format(&m, buf, sizeof(buf));
	CHECK_STREQ(buf, "mechanism 0x80001234");
}

TEST(return_values)
{
	CHECK_EQ_INT(p11_rv_to_errno(CKR_OK), 0);
	CHECK_EQ_INT(exit_code_from_errno(p11_rv_to_errno(CKR_PIN_INCORRECT)), EXIT_DENIED);
	CHECK_EQ_INT(exit_code_from_errno(p11_rv_to_errno(CKR_PIN_LOCKED)), EXIT_DENIED);
	CHECK_EQ_INT(exit_code_from_errno(p11_rv_to_errno(CKR_KEY_FUNCTION_NOT_PERMITTED)), EXIT_DENIED);
	CHECK_EQ_INT(exit_code_from_errno(p11_rv_to_errno(CKR_MECHANISM_INVALID)), EXIT_UNSUPPORTED);
	CHECK_EQ_INT(exit_code_from_errno(p11_rv_to_errno(CKR_TOKEN_NOT_PRESENT)), EXIT_DEVICE);
	CHECK_EQ_INT(exit_code_from_errno(p11_rv_to_errno(CKR_DEVICE_MEMORY)), EXIT_NOMEM);
	CHECK_EQ_INT(exit_code_from_errno(p11_rv_to_errno(CKR_SESSION_COUNT)), EXIT_UNAVAILABLE);
	CHECK_EQ_INT(exit_code_from_errno(p11_rv_to_errno(CKR_WRAPPED_KEY_INVALID)), EXIT_DATA);
	CHECK_EQ_INT(exit_code_from_errno(p11_rv_to_errno(CKR_TEMPLATE_INCONSISTENT)), EXIT_USAGE);
	CHECK_EQ_INT(p11_rv_to_errno(0x80000123UL), -EIO);
	CHECK_STREQ(p11_rv_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
	CHECK_STREQ(p11_rv_words(CKR_PIN_INCORRECT), "wrong PIN");
	CHECK_STREQ(p11_rv_name(0x80000123UL), "vendor CKR 0x80000123");
	CHECK_STREQ(p11_rv_name(0x7777UL), "CKR 0x7777");
	CHECK_STREQ(p11_rv_words(0x7777UL), "token error");
}
