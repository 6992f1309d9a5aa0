// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: key URIs (aws-kms: key ids, aliases and ARNs, pkcs11:, file:)
 * as a LUKS token or a command line gives them. What parses must keep its
 * promises: an ARN's fields are the ARN's text, the ARN rewritten for another
 * region of its partition parses back to the same key in that region, and it is
 * never rewritten into another partition. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keyuri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a region of the ARN's own partition, and one of another (multi-Region keys never cross partitions) */
static const char *same_partition_region(const char *partition)
{
	static const char *const map[][2] = {
		{ "aws", "eu-central-2" },	     { "aws-cn", "cn-northwest-1" },	 { "aws-us-gov", "us-gov-east-1" },
		{ "aws-iso", "us-iso-west-1" },	     { "aws-iso-b", "us-isob-east-1" }, { "aws-iso-e", "eu-isoe-west-1" },
		{ "aws-iso-f", "us-isof-south-1" },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i][0], partition))
			return map[i][1];
	abort(); /* a partition the parser should have refused */
}

static void check_arn(const struct key_uri *u)
{
	struct key_uri *v = NULL;
	const char *res = strrchr(u->key_id, ':');
	const char *region = same_partition_region(u->arn_partition);
	char *arn, *uri, want[2200];

	if (!u->arn_partition || !u->arn_account || !res)
		abort();
	/* the fields named are the ones the text has, in their places */
	snprintf(want, sizeof(want), "arn:%s:kms:%s:%s%s", u->arn_partition, u->arn_region, u->arn_account, res);
	if (strcmp(want, u->key_id) != 0)
		abort();
	arn = key_uri_arn_for_region(u, strcmp(u->arn_partition, "aws-cn") ? "cn-north-1" : "eu-west-1");
	if (arn)
		abort(); /* rewritten into another partition */
	arn = key_uri_arn_for_region(u, region);
	if (!arn)
		abort();
	if (asprintf(&uri, "aws-kms:%s", arn) < 0)
		abort();
	if (key_uri_parse(uri, &v) != 0 || !v->arn_region || strcmp(v->arn_region, region) ||
	    strcmp(v->arn_partition, u->arn_partition) || strcmp(v->arn_account, u->arn_account) ||
	    v->is_alias != u->is_alias || strcmp(strrchr(v->key_id, ':'), res))
		abort();
	key_uri_free(v);
	free(uri);
	free(arn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct key_uri *u = NULL;
	char *s;

	if (size > 8192)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (key_uri_parse(s, &u) == 0) {
		if (!u->text || strcmp(u->text, s) || strcmp(key_kind_to_string(u->kind), "unknown") == 0)
			abort();
		switch (u->kind) {
		case KEY_FILE:
			if (!u->path || u->path[0] != '/')
				abort();
			break;
		case KEY_AWS_KMS:
			if (!u->key_id || !u->key_id[0] || strcmp(u->key_id, s + 8))
				abort();
			if (u->arn_region)
				check_arn(u);
			else if (key_uri_arn_for_region(u, "eu-central-2"))
				abort();
			break;
		case KEY_PKCS11:
			if (!u->p11)
				abort();
			break;
		}
		key_uri_free(u);
	}
	free(s);
	return 0;
}
