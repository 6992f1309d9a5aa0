// SPDX-License-Identifier: GPL-2.0-or-later
/* The volkey LUKS2 token: round trip, and the parser's refusals (each with its
 * reason), since its input is whatever is on a disk. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "volume/luks_token.h"
#include "unit.h"

#define UUID "6b2d237d-2aa4-400d-ac36-d583efc0b07c"
#define GOOD                                                                                              \
	"{\"type\":\"volkey\",\"keyslots\":[\"3\"],\"volkey_version\":1,\"key_uri\":\"aws-kms:alias/vol\","  \
	"\"key_ref\":\"arn:aws:kms:eu-west-1:1:key/k\",\"wrapped\":\"AAECAw==\",\"binding\":{\"volkey:luks-" \
	"uuid\":\"" UUID "\",\"app\":\"db\"},\"created\":\"2026-11-23T12:00:00Z\",\"generation\":4}"

static int parse(const char *json, char *why, size_t n)
{
	struct volkey_token t = { 0 };
	int r = volkey_token_parse(json, strlen(json), &t, why, n);
	volkey_token_clear(&t);
	return r;
}

/* GOOD with `from` replaced by `to`. */
static char *mutate(const char *from, const char *to)
{
	const char *p = strstr(GOOD, from);
	char *s;

	if (!p)
		abort();
	s = malloc(strlen(GOOD) + strlen(to) + 1);
	memcpy(s, GOOD, (size_t)(p - GOOD));
	strcpy(s + (p - GOOD), to);
	strcat(s, p + strlen(from));
	return s;
}

TEST(token_parses_all_fields)
{
	struct volkey_token t = { 0 };
	char why[128] = "";

	CHECK_EQ_INT(volkey_token_parse(GOOD, strlen(GOOD), &t, why, sizeof(why)), 0);
	CHECK_EQ_INT(t.version, 1);
	CHECK_EQ_INT(t.keyslot, 3);
	CHECK(!t.has_keyslot2);
	CHECK_STREQ(t.key_uri, "aws-kms:alias/vol");
	CHECK_STREQ(t.key_ref, "arn:aws:kms:eu-west-1:1:key/k");
	CHECK_EQ_INT(t.wrapped.len, 4);
	CHECK(t.wrapped.data && t.wrapped.data[3] == 3);
	CHECK_STREQ(binding_get(t.binding, BINDING_UUID_KEY), UUID);
	CHECK_STREQ(binding_get(t.binding, "app"), "db");
	CHECK_EQ_INT(t.generation, 4);
	CHECK_STREQ(t.created, "2026-11-23T12:00:00Z");
	volkey_token_clear(&t);
}

TEST(token_round_trip)
{
	struct volkey_token t = { 0 }, u = { 0 };
	char *json = NULL, why[128];

	CHECK_EQ_INT(volkey_token_parse(GOOD, strlen(GOOD), &t, why, sizeof(why)), 0);
	CHECK_EQ_INT(volkey_token_format(&t, &json), 0);
	CHECK(json && strstr(json, "\"keyslots\":[\"3\"]"));
	CHECK_EQ_INT(volkey_token_parse(json, strlen(json), &u, why, sizeof(why)), 0);
	CHECK_STREQ(u.key_uri, t.key_uri);
	CHECK_EQ_INT(u.wrapped.len, t.wrapped.len);
	CHECK(memcmp(u.wrapped.data, t.wrapped.data, t.wrapped.len) == 0);
	CHECK_EQ_INT(u.binding->n, 2);
	CHECK_EQ_INT(u.generation, 4);
	CHECK(!u.has_keyslot2);
	free(json);
	/* During a volume-key re-encryption a token also owns the new key's keyslot. */
	t.has_keyslot2 = true;
	t.keyslot2 = 0;
	volkey_token_clear(&u);
	CHECK_EQ_INT(volkey_token_format(&t, &json), 0);
	CHECK(json && strstr(json, "\"keyslots\":[\"3\",\"0\"]"));
	CHECK_EQ_INT(volkey_token_parse(json, strlen(json), &u, why, sizeof(why)), 0);
	CHECK(u.has_keyslot2);
	CHECK_EQ_INT(u.keyslot, 3);
	CHECK_EQ_INT(u.keyslot2, 0);
	free(json);
	t.has_keyslot2 = false;
	t.keyslot = -1; /* a token without its keyslot is not written */
	CHECK_EQ_INT(volkey_token_format(&t, &json), -EINVAL);
	volkey_token_clear(&t);
	volkey_token_clear(&u);
}

TEST(token_refusals_name_the_cause)
{
	static const struct {
		const char *from, *to, *why;
		int r;
	} cases[] = {
		{ "\"type\":\"volkey\"", "\"type\":\"clevis\"", "type", -EBADMSG },
		{ "\"volkey_version\":1", "\"volkey_version\":2", "token version 2", -EPROTONOSUPPORT },
		{ "\"volkey_version\":1", "\"volkey_version\":\"1\"", "volkey_version", -EBADMSG },
		{ "[\"3\"]", "[\"3\",\"4\",\"5\"]", "keyslots", -EBADMSG },
		{ "[\"3\"]", "[\"3\",\"3\"]", "keyslots", -EBADMSG },
		{ "[\"3\"]", "[\"3\",4]", "keyslots", -EBADMSG },
		{ "[\"3\"]", "[\"03\"]", "keyslots", -EBADMSG },
		{ "[\"3\"]", "[\"-1\"]", "keyslots", -EBADMSG },
		{ "[\"3\"]", "[\"32\"]", "keyslots", -EBADMSG },
		{ "[\"3\"]", "[3]", "keyslots", -EBADMSG },
		{ "\"AAECAw==\"", "\"AAECAw\"", "base64", -EBADMSG },
		{ "\"AAECAw==\"", "\"\"", "wrapped", -EBADMSG },
		{ "\"generation\":4", "\"generation\":0", "generation", -EBADMSG },
		{ "\"generation\":4", "\"generation\":4.5", "generation", -EBADMSG },
		{ "\"volkey:luks-uuid\":\"" UUID "\",", "", "luks-uuid", -EBADMSG },
		{ UUID, "not-a-uuid", "UUID", -EBADMSG },
		{ "\"app\":\"db\"", "\"app\":7", "binding value", -EBADMSG },
		{ "\"app\":\"db\"", "\"volkey:x\":\"db\"", "not allowed", -EBADMSG },
		{ "\"aws-kms:alias/vol\"", "\"\"", "key_uri", -EBADMSG },
		{ "\"2026-11-23T12:00:00Z\"", "\"x\"", "created", -EBADMSG },
		{ "}", "}}", "JSON", -EBADMSG },
		{ "aws-kms:alias/vol", "aws-kms:alias/\\u001b[31mvol", "key_uri", -EBADMSG },
		{ "\"app\":\"db\"", "\"app\":\"d\\nb\"", "plain string", -EBADMSG },
		{ "2026-11-23T12:00:00Z", "2026-13-23T12:00:00Z", "created", -EBADMSG },
		{ "2026-11-23T12:00:00Z", "2026-11-23T12:00:00Zjunk", "created", -EBADMSG },
		{ "2026-11-23T12:00:00Z", "2026-02-31T12:00:00Z", "created", -EBADMSG },
		{ "2026-11-23T12:00:00Z", "2026- 1-23T12:00:00Z", "created", -EBADMSG },
		{ "[\"3\"]", "[\" 3\"]", "keyslots", -EBADMSG },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char why[160] = "";
		char *json = mutate(cases[i].from, cases[i].to);
		int r = parse(json, why, sizeof(why));
		if (r != cases[i].r || !strstr(why, cases[i].why)) {
			char m[400];
			snprintf(m, sizeof(m), "case %zu: r=%d why='%s' (want %d '%s')", i, r, why, cases[i].r,
				 cases[i].why);
			unit_fail(__FILE__, __LINE__, m);
		}
		free(json);
	}
}

TEST(token_rejects_non_objects_and_embedded_nul)
{
	char why[64];
	struct volkey_token t = { 0 };
	static const char nul[] = "{\"type\":\"volkey\"\0}";

	CHECK_EQ_INT(parse("[]", why, sizeof(why)), -EBADMSG);
	CHECK_EQ_INT(parse("", why, sizeof(why)), -EBADMSG);
	CHECK_EQ_INT(volkey_token_parse(nul, sizeof(nul) - 1, &t, why, sizeof(why)), -EBADMSG);
	CHECK_EQ_INT(t.key_uri == NULL, 1); /* untouched on failure */
}

TEST(token_removed_keyslot_is_minus_one)
{
	struct volkey_token t = { 0 };
	char why[64], *json = mutate("[\"3\"]", "[]");

	CHECK_EQ_INT(volkey_token_parse(json, strlen(json), &t, why, sizeof(why)), 0);
	CHECK_EQ_INT(t.keyslot, -1);
	volkey_token_clear(&t);
	free(json);
}

TEST(recovery_token)
{
	char *json = NULL;
	int k = -1;

	CHECK_EQ_INT(volkey_recovery_token_format(7, "2026-11-23T12:00:00Z", &json), 0);
	CHECK_EQ_INT(volkey_recovery_token_parse(json, &k), 0);
	CHECK_EQ_INT(k, 7);
	CHECK_EQ_INT(volkey_recovery_token_parse(GOOD, &k), -EBADMSG);
	free(json);
}

TEST(image_marker_round_trip_and_refusals)
{
	struct image_marker m = { .state = IMAGE_TEMPLATE, .created = "2026-11-23T12:00:00Z" }, back;
	char *json = NULL;

	CHECK_EQ_INT(volkey_image_token_format(&m, &json), 0);
	CHECK_STREQ(json, "{\"keyslots\":[],\"type\":\"volkey-image\",\"created\":\"2026-11-23T12:00:00Z\","
			  "\"state\":\"template\"}");
	CHECK_EQ_INT(volkey_image_token_parse(json, &back), 0);
	CHECK_EQ_INT(back.state, IMAGE_TEMPLATE);
	CHECK_STREQ(back.created, m.created);
	free(json);
	/* From new-secrets on, both UUIDs are required, well-formed and different. */
	m.state = IMAGE_NEW_SECRETS;
	CHECK_EQ_INT(volkey_image_token_format(&m, &json), -EINVAL);
	snprintf(m.old_uuid, sizeof(m.old_uuid), "%s", "f9f6a20e-4a4d-4f61-b2ea-7c031168ea09");
	snprintf(m.new_uuid, sizeof(m.new_uuid), "%s", m.old_uuid);
	CHECK_EQ_INT(volkey_image_token_format(&m, &json), -EINVAL);
	m.new_uuid[0] = '0';
	CHECK_EQ_INT(volkey_image_token_format(&m, &json), 0);
	CHECK_EQ_INT(volkey_image_token_parse(json, &back), 0);
	CHECK_EQ_INT(back.state, IMAGE_NEW_SECRETS);
	CHECK_STREQ(back.new_uuid, m.new_uuid);
	CHECK_STREQ(back.old_uuid, m.old_uuid);
	free(json);
	CHECK_EQ_INT(volkey_image_token_parse("{\"type\":\"volkey-image\",\"keyslots\":[],\"created\":"
					      "\"2026-11-23T12:00:00Z\",\"state\":\"done\"}", &back), -EBADMSG);
	CHECK_EQ_INT(volkey_image_token_parse("{\"type\":\"volkey-image\",\"keyslots\":[\"0\"],\"created\":"
					      "\"2026-11-23T12:00:00Z\",\"state\":\"template\"}", &back), -EBADMSG);
	CHECK_EQ_INT(volkey_image_token_parse("{\"type\":\"volkey-image\",\"keyslots\":[],\"created\":"
					      "\"yesterday\",\"state\":\"template\"}", &back), -EBADMSG);
	CHECK_EQ_INT(volkey_image_token_parse("{\"type\":\"volkey-image\",\"keyslots\":[],\"created\":"
					      "\"2026-11-23T12:00:00Z\",\"state\":\"uuid-switched\",\"old_uuid\":\"x\","
					      "\"new_uuid\":\"y\"}", &back), -EBADMSG);
	CHECK_EQ_INT(volkey_image_token_parse(GOOD, &back), -EBADMSG);
	CHECK_EQ_INT(volkey_image_state_parse("reencrypting"), IMAGE_REENCRYPTING);
	CHECK_STREQ(volkey_image_state_name(IMAGE_UUID_SWITCHED), "uuid-switched");
}
