// SPDX-License-Identifier: GPL-2.0-or-later
/* Key URIs, bindings, base64, config and the KMS answer parser. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/awsname.h"
#include "base/b64.h"
#include "base/json_secret.h"
#include "base/macro.h"
#include "base/secret.h"
#include "base/urlcheck.h"
#include "conf/config.h"
#include "keys/binding.h"
#include "keys/keyuri.h"
#include "keys/kms_parse.h"
#include "unit.h"

#define UUID "6b2d237d-2aa4-400d-ac36-d583efc0b07c"

TEST(kms_uris_parse)
{
	struct key_uri *u = NULL;
	char *s;

	CHECK_EQ_INT(key_uri_parse("aws-kms:alias/vol", &u), 0);
	CHECK(u && u->kind == KEY_AWS_KMS && u->is_alias && !u->arn_region);
	key_uri_free(u);
	CHECK_EQ_INT(key_uri_parse("aws-kms:arn:aws:kms:eu-west-1:111122223333:key/mrk-0a1b", &u), 0);
	CHECK_STREQ(u->arn_region, "eu-west-1");
	CHECK_STREQ(u->arn_account, "111122223333");
	s = key_uri_arn_for_region(u, "us-east-2");
	CHECK_STREQ(s, "arn:aws:kms:us-east-2:111122223333:key/mrk-0a1b");
	free(s);
	key_uri_free(u);
	CHECK_EQ_INT(key_uri_parse("aws-kms:1234abcd-12ab-34cd-56ef-1234567890ab", &u), 0);
	key_uri_free(u);
	/* other partitions; a multi-Region replica is never looked for in another partition */
	CHECK_EQ_INT(key_uri_parse("aws-kms:arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-0a1b", &u), 0);
	CHECK_STREQ(u->arn_partition, "aws-cn");
	s = key_uri_arn_for_region(u, "cn-northwest-1");
	CHECK_STREQ(s, "arn:aws-cn:kms:cn-northwest-1:111122223333:key/mrk-0a1b");
	free(s);
	CHECK(key_uri_arn_for_region(u, "eu-west-1") == NULL);
	key_uri_free(u);
	CHECK_EQ_INT(key_uri_parse("aws-kms:arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/app/vol_1", &u), 0);
	CHECK(u->is_alias);
	key_uri_free(u);
}

TEST(aws_names_and_kms_endpoints)
{
	char b[128];

	CHECK(aws_region_valid("us-east-1") && aws_region_valid("us-isob-east-1") && aws_region_valid("cn-north-1"));
	CHECK(!aws_region_valid("x@127.0.0.1#") && !aws_region_valid("evil.example") && !aws_region_valid("us-east-") &&
	      !aws_region_valid("us--east-1") && !aws_region_valid("useast1") && !aws_region_valid(""));
	CHECK(aws_account_valid("111122223333") && !aws_account_valid("11112222333") && !aws_account_valid("1111x2223333"));
	CHECK_EQ_INT(aws_kms_endpoint("eu-west-1", false, b, sizeof(b)), 0);
	CHECK_STREQ(b, "https://kms.eu-west-1.amazonaws.com");
	CHECK_EQ_INT(aws_kms_endpoint("cn-north-1", false, b, sizeof(b)), 0);
	CHECK_STREQ(b, "https://kms.cn-north-1.amazonaws.com.cn");
	CHECK_EQ_INT(aws_kms_endpoint("us-gov-west-1", false, b, sizeof(b)), 0);
	CHECK_STREQ(b, "https://kms.us-gov-west-1.amazonaws.com");
	CHECK_EQ_INT(aws_kms_endpoint("us-gov-west-1", true, b, sizeof(b)), 0);
	CHECK_STREQ(b, "https://kms-fips.us-gov-west-1.amazonaws.com");
	CHECK_EQ_INT(aws_kms_endpoint("us-east-2", true, b, sizeof(b)), 0);
	CHECK_STREQ(b, "https://kms-fips.us-east-2.amazonaws.com");
	CHECK_EQ_INT(aws_kms_endpoint("us-iso-east-1", false, b, sizeof(b)), 0);
	CHECK_STREQ(b, "https://kms.us-iso-east-1.c2s.ic.gov");
	CHECK_EQ_INT(aws_kms_endpoint("cn-north-1", true, b, sizeof(b)), -EOPNOTSUPP);
	CHECK_EQ_INT(aws_kms_endpoint("x@127.0.0.1#", false, b, sizeof(b)), -EINVAL);
	CHECK_STREQ(aws_partition_of_region("us-isob-east-1"), "aws-iso-b");
}

TEST(endpoint_urls_are_parsed_not_prefixed)
{
	static const struct {
		const char *url;
		enum url_rule rule;
		bool ok;
	} t[] = {
		{ "http://127.0.0.1:8080", URL_KMS, true },
		{ "http://127.1.2.3/", URL_KMS, true },
		{ "http://localhost:9", URL_KMS, true },
		{ "http://[::1]:9/", URL_KMS, true },
		{ "https://kms.example.internal/", URL_KMS, true },
		{ "http://127.0.0.1@evil.example/", URL_KMS, false },
		{ "http://localhost.evil.example/", URL_KMS, false },
		{ "http://127.0.0.1.evil.example/", URL_KMS, false },
		{ "http://[::1].evil.example/", URL_KMS, false },
		{ "https://user:pw@kms.example/", URL_KMS, false },
		{ "http://evil.example/", URL_KMS, false },
		{ "ftp://127.0.0.1/", URL_KMS, false },
		{ "not a url", URL_KMS, false },
		{ "http://169.254.170.2/v2/creds", URL_CONTAINER, true },
		{ "http://169.254.170.23/v1/credentials", URL_CONTAINER, true },
		{ "http://[fd00:ec2::23]/v1/credentials", URL_CONTAINER, true },
		{ "http://127.0.0.1:8/creds", URL_CONTAINER, true },
		{ "http://169.254.170.2.evil.example/", URL_CONTAINER, false },
		{ "http://169.254.170.23@evil.example/", URL_CONTAINER, false },
		{ "http://localhost@evil.example/", URL_CONTAINER, false },
		{ "http://169.254.169.254", URL_IMDS, true },
		{ "http://[fd00:ec2::254]", URL_IMDS, true },
		{ "http://169.254.169.254.evil.example", URL_IMDS, false },
		{ "https://169.254.169.254", URL_IMDS, false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char why[256] = "";
		int r = url_check(t[i].url, t[i].rule, "endpoint", why, sizeof(why));
		if ((r == 0) != t[i].ok) {
			fprintf(stderr, "  %s: %s (%s)\n", t[i].url, r == 0 ? "accepted" : "refused", why);
			CHECK(!"URL check wrong");
		}
		CHECK(r == 0 || strstr(why, "refused"));
	}
}

/* Found by tests/fuzz/fuzz_key_uri.c: the rewrite looked for the account's text
 * anywhere in the ARN and found "a" in "arn:", giving
 * "arn:aws:kms:us-east-2:arn:aws:kms:usrn:a:alias/volkey". Should ARN validation come
 * to refuse this URI, refusing it is as good: what must not happen is a wrong ARN. */
TEST(arn_for_region_rewrites_the_region_only)
{
	struct key_uri *u = NULL;
	char *s;

	if (key_uri_parse("aws-kms:arn:aws:kms:usrn:a:alias/volkey", &u) == 0) {
		s = key_uri_arn_for_region(u, "us-east-2");
		CHECK_STREQ(s, "arn:aws:kms:us-east-2:a:alias/volkey");
		free(s);
		key_uri_free(u);
	}
	CHECK_EQ_INT(key_uri_parse("aws-kms:arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/vol", &u), 0);
	s = key_uri_arn_for_region(u, "us-gov-east-1");
	CHECK_STREQ(s, "arn:aws-us-gov:kms:us-gov-east-1:111122223333:alias/vol");
	free(s);
	key_uri_free(u);
}

TEST(bad_uris_are_refused)
{
	static const char *const bad[] = {
		"aws-kms:", "aws-kms:alias/", "aws-kms:arn:aws:s3:eu-west-1:1:key/x", "aws-kms:arn:aws:kms::1:key/x",
		"aws-kms:key with space", "file:relative/path", "file:", "gcp-kms:x", "", "pkcs11:object=a;;;=",
		"aws-kms:arn:aws:kms:eu-west-1:1:bucket/x",
		/* a disk must not choose where traffic goes: region, partition, account are checked */
		"aws-kms:arn:aws:kms:x@127.0.0.1#:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"aws-kms:arn:aws:kms:evil.example#:111122223333:key/1234abcd",
		"aws-kms:arn:aws:kms:eu-west-1.evil.example:111122223333:key/1234abcd",
		"aws-kms:arn:aws:kms:EU-WEST-1:111122223333:key/1234abcd",
		"aws-kms:arn:aws:kms:eu-west-1:11112222333:key/1234abcd",
		"aws-kms:arn:aws:kms:eu-west-1:1111222233334:key/1234abcd",
		"aws-kms:arn:aws:kms:eu-west-1:11112222333a:key/1234abcd",
		"aws-kms:arn:evil:kms:eu-west-1:111122223333:key/1234abcd",
		"aws-kms:arn:aws:kms:cn-north-1:111122223333:key/1234abcd", /* region outside its partition */
		"aws-kms:arn:aws-cn:kms:eu-west-1:111122223333:key/1234abcd",
		"aws-kms:arn:aws:kms:eu-west-1:111122223333:key/12#@x", "aws-kms:arn:aws:kms:eu-west-1:111122223333:key/",
		"aws-kms:arn:aws:kms:eu-west-1:111122223333:key/a:b", "aws-kms:arn:aws:kms:eu-west-1::111122223333:key/a",
		"aws-kms:alias/a@b", "aws-kms:1234abcd@evil", "aws-kms:arn:aws:kms:eu--west-1:111122223333:key/a",
		/* empty fields are fields: strtok_r used to skip them and accept these */
		"aws-kms:arn:aws:kms::eu-west-1:111122223333:key/x", "aws-kms:arn:aws:kms:eu-west-1:111122223333::key/x",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct key_uri *u = NULL;
		int r = key_uri_parse(bad[i], &u);
		if (r != -EINVAL) {
			fprintf(stderr, "  accepted: %s\n", bad[i]);
			CHECK(!"bad URI accepted");
		}
		key_uri_free(u);
	}
}

TEST(pkcs11_uri_attributes)
{
	struct key_uri *u = NULL;

	CHECK_EQ_INT(key_uri_parse("pkcs11:token=hsm;object=volkey-kek?module-path=/usr/lib/softhsm/libsofthsm2.so"
				   "&pin-source=/etc/volkey/pin&x-mechanism=aes-key-wrap-pad", &u), 0);
	if (!u)
		return;
	CHECK(u->kind == KEY_PKCS11);
	CHECK_STREQ(u->module_path, "/usr/lib/softhsm/libsofthsm2.so");
	CHECK_STREQ(u->pin_source, "/etc/volkey/pin");
	CHECK_STREQ(u->mechanism, "aes-key-wrap-pad");
	key_uri_free(u);
}

TEST(binding_with_uuid_keeps_the_other_pairs)
{
	static const char other[] = "0f6f1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b";
	struct binding *a = NULL, *b = NULL;

	CHECK_EQ_INT(binding_new(UUID, &a), 0);
	CHECK_EQ_INT(binding_add_kv(a, "app=db"), 0);
	CHECK_EQ_INT(binding_with_uuid(a, "not-a-uuid", &b), -EINVAL);
	CHECK(b == NULL);
	CHECK_EQ_INT(binding_with_uuid(a, other, &b), 0);
	CHECK_STREQ(binding_get(b, BINDING_UUID_KEY), other);
	CHECK_STREQ(binding_get(b, "app"), "db");
	CHECK_STREQ(binding_get(a, BINDING_UUID_KEY), UUID); /* the original is untouched */
	CHECK_EQ_INT((int)b->n, 2);
	binding_free(a);
	binding_free(b);
}

TEST(binding_is_canonical_and_strict)
{
	struct binding *a = NULL, *b = NULL;
	unsigned char *x = NULL, *y = NULL;
	size_t xn = 0, yn = 0;

	CHECK_EQ_INT(binding_new("not-a-uuid", &a), -EINVAL);
	CHECK_EQ_INT(binding_new(UUID, &a), 0);
	CHECK_EQ_INT(binding_new(UUID, &b), 0);
	CHECK_EQ_INT(binding_add_kv(a, "zone=eu"), 0);
	CHECK_EQ_INT(binding_add_kv(a, "app=db"), 0);
	CHECK_EQ_INT(binding_add_kv(b, "app=db"), 0);
	CHECK_EQ_INT(binding_add_kv(b, "zone=eu"), 0);
	CHECK_EQ_INT(binding_add_kv(b, "app=web"), -EEXIST);
	CHECK_EQ_INT(binding_add_kv(b, "volkey:luks-uuid=x"), -EINVAL);
	CHECK_EQ_INT(binding_add_kv(b, "aws:x=y"), -EINVAL);
	CHECK_EQ_INT(binding_add_kv(b, "=v"), -EINVAL);
	CHECK_EQ_INT(binding_add_kv(b, "novalue"), -EINVAL);
	CHECK_STREQ(binding_get(a, BINDING_UUID_KEY), UUID);
	CHECK_EQ_INT(binding_aad(a, &x, &xn), 0);
	CHECK_EQ_INT(binding_aad(b, &y, &yn), 0);
	CHECK(xn == yn && memcmp(x, y, xn) == 0); /* order of adding does not matter */
	/* "a=bc" and "ab=c" must not encode alike */
	free(x);
	free(y);
	binding_free(a);
	binding_free(b);
	CHECK_EQ_INT(binding_new(UUID, &a), 0);
	CHECK_EQ_INT(binding_new(UUID, &b), 0);
	binding_add(a, "a", "bc");
	binding_add(b, "ab", "c");
	binding_aad(a, &x, &xn);
	binding_aad(b, &y, &yn);
	CHECK(xn != yn || memcmp(x, y, xn) != 0);
	free(x);
	free(y);
	binding_free(a);
	binding_free(b);
}

TEST(base64_is_strict)
{
	unsigned char out[16];
	size_t n = 0;

	CHECK_EQ_INT(b64_decode("AAECAw==", 8, out, sizeof(out), &n), 0);
	CHECK_EQ_INT(n, 4);
	CHECK(out[3] == 3);
	CHECK_EQ_INT(b64_decode("AAECAw=", 7, out, sizeof(out), &n), -EBADMSG);
	CHECK_EQ_INT(b64_decode("AAECAx==", 8, out, sizeof(out), &n), -EBADMSG); /* non-canonical bits */
	CHECK_EQ_INT(b64_decode("AA=CAw==", 8, out, sizeof(out), &n), -EBADMSG);
	CHECK_EQ_INT(b64_decode("AA\nCAw==", 8, out, sizeof(out), &n), -EBADMSG);
	CHECK_EQ_INT(b64_decode("AAECAwQFBgcICQoLDA0ODw==", 24, out, 8, &n), -ENOBUFS);
}

static int parse(enum kms_op op, const char *json, struct kms_answer *a)
{
	char *buf = secret_dup(json, strlen(json) + 1);
	int r = kms_parse_answer(op, buf, strlen(json), a);
	if (r == 0 && a->plaintext) /* the plaintext left the buffer */
		CHECK(strstr(buf, "AAAAAAAA") != NULL);
	secret_free(buf);
	return r;
}

TEST(kms_answers_parse)
{
	struct kms_answer a = { 0 };

	CHECK_EQ_INT(parse(KMS_GENERATE_DATA_KEY,
			   "{\"CiphertextBlob\":\"AQIDBA==\",\"KeyId\":\"arn:k\",\"Plaintext\":\"AAECAwQFBgcICQoLDA0ODw==\","
			   "\"NewField\":{\"x\":[1,2,{\"Plaintext\":\"zz\"}]}}", &a), 0);
	CHECK_EQ_INT(a.plaintext_len, 16);
	CHECK(a.plaintext && a.plaintext[15] == 15);
	CHECK_EQ_INT(a.blob_len, 4);
	CHECK_STREQ(a.key_id, "arn:k");
	kms_answer_clear(&a);
	CHECK_EQ_INT(parse(KMS_DESCRIBE_KEY, "{\"KeyMetadata\":{\"Arn\":\"arn:x\",\"KeyState\":\"Disabled\","
			   "\"MultiRegion\":true,\"Unknown\":5}}", &a), 0);
	CHECK_STREQ(a.key_state, "Disabled");
	CHECK(a.multi_region);
	kms_answer_clear(&a);
}

TEST(bad_kms_answers_are_rejected)
{
	static const char *const bad[] = {
		"", "{", "{not json", "[]", "null",
		"{\"KeyId\":\"arn:k\"}",                                     /* no Plaintext */
		"{\"KeyId\":\"arn:k\",\"Plaintext\":5}",                     /* wrong type */
		"{\"KeyId\":\"arn:k\",\"Plaintext\":\"AAEC\",\"Plaintext\":\"AAEC\"}", /* repeated */
		"{\"KeyId\":\"arn:k\",\"Plaintext\":\"!!!!\"}",              /* not base64 */
		"{\"KeyId\":\"arn:k\",\"Plaintext\":\"AAEC\"} trailing",
		"{\"KeyId\":7,\"Plaintext\":\"AAEC\"}",
		"{\"KeyId\":\"arn:k\",\"Plaintext\":\"AAEC\"", /* truncated */
		"{\"X\":\"\\\"Plaintext\\\":\\\"AAEC\\\"\",\"KeyId\":\"arn:k\"}", /* a decoy inside a string */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct kms_answer a = { 0 };
		if (parse(KMS_DECRYPT, bad[i], &a) != -EBADMSG) {
			fprintf(stderr, "  accepted: %s\n", bad[i]);
			CHECK(!"bad answer accepted");
		}
		kms_answer_clear(&a);
	}
}

TEST(kms_errors_parse)
{
	const char *e = "{\"__type\":\"com.amazonaws.kms#NotFoundException\",\"Message\":\"gone\"}";
	char t[64], m[128];

	CHECK_EQ_INT(kms_parse_error(e, strlen(e), t, sizeof(t), m, sizeof(m)), 0);
	CHECK_STREQ(t, "NotFoundException");
	CHECK_STREQ(m, "gone");
	CHECK_EQ_INT(kms_parse_error("{\"message\":\"x\"}", 15, t, sizeof(t), m, sizeof(m)), -EBADMSG);
}

TEST(secret_json_members)
{
	char body[] = "{\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"t\"}";
	char *s = NULL;

	CHECK_EQ_INT(json_take_secret_string(body, strlen(body), "SecretAccessKey", &s), 0);
	CHECK_STREQ(s, "s3cr3t");
	CHECK(strstr(body, "s3cr3t") == NULL);
	secret_free(s);
}

TEST(config_parses_and_reports_bad_lines)
{
	char path[] = "/tmp/volkey-unit-conf.XXXXXX";
	struct volkey_config c;
	int fd = mkstemp(path), line = 0;
	FILE *f = fdopen(fd, "w");

	fprintf(f, "[kms]\nregion = eu-west-1\nregions = eu-west-1, us-east-1\n[kms:us-east-1]\nendpoint = http://127.0.0.1:9\n"
		   "deadline_ms = nope\n");
	fclose(f);
	CHECK_EQ_INT(config_load(path, &c, &line), -EINVAL);
	CHECK_EQ_INT(line, 6);
	f = fopen(path, "w");
	fprintf(f, "[kms]\nregion = eu-west-1\nregions = eu-west-1, us-east-1\n[kms:us-east-1]\nendpoint = http://127.0.0.1:9\n");
	fclose(f);
	CHECK_EQ_INT(config_load(path, &c, &line), 0);
	CHECK_STREQ(c.kms_region, "eu-west-1");
	CHECK_EQ_INT(c.kms_nregions, 2);
	CHECK_STREQ(c.kms_regions[1], "us-east-1");
	CHECK_STREQ(c.kms_region_endpoints[0].endpoint, "http://127.0.0.1:9");
	CHECK_EQ_INT(c.kms_max_attempts, 3);
	CHECK_EQ_INT(c.initramfs_wait_s, 60); /* [initramfs] defaults */
	CHECK_STREQ(c.initramfs_fallback, "passphrase");
	CHECK_STREQ(c.path, path);
	f = fopen(path, "w");
	fprintf(f, "[initramfs]\nwait = 0\ninterval = 2\nfallback = retry\n");
	fclose(f);
	CHECK_EQ_INT(config_load(path, &c, &line), 0);
	CHECK_EQ_INT(c.initramfs_wait_s, 0);
	CHECK_EQ_INT(c.initramfs_interval_s, 2);
	CHECK_STREQ(c.initramfs_fallback, "retry");
	f = fopen(path, "w");
	fprintf(f, "[initramfs]\nfallback = sometimes\n");
	fclose(f);
	CHECK_EQ_INT(config_load(path, &c, &line), -EINVAL);
	CHECK_EQ_INT(line, 2);
	CHECK_STREQ(c.path, path); /* a bad file is named in the error */
	f = fopen(path, "w");
	fprintf(f, "[initramfs]\ninterval = 0\n");
	fclose(f);
	CHECK_EQ_INT(config_load(path, &c, &line), -EINVAL);
	unlink(path);
	CHECK_EQ_INT(config_load("/nonexistent/volkey.conf", &c, &line), -ENOENT);
}
